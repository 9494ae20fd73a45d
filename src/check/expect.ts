/**
 * @module Assertions for checks: each failure says what the requirement expected and what the
 * server sent, in one line.
 */
import {
  parseBooleanField,
  parseDictionary,
  parseIntegerField,
} from '../protocol/codec/structured-fields.ts'
import type { RawResponse } from './raw-http.ts'
import { CheckFailure, CheckSkip } from './types.ts'

/** Fails the check. */
export function fail(message: string): never {
  throw new CheckFailure(message)
}

/** Skips the check with a reason. */
export function skip(reason: string): never {
  throw new CheckSkip(reason)
}

/** Fails unless `condition` holds. */
export function ensure(condition: boolean, message: string): asserts condition {
  if (!condition) fail(message)
}

/** The response status must be one of `expected`. */
export function expectStatus(
  r: RawResponse,
  expected: number | readonly number[],
  what = 'status',
): void {
  const list = typeof expected === 'number' ? [expected] : expected
  if (!list.includes(r.status)) {
    const body = r.body.length > 0 ? `: ${r.body.toString('utf8', 0, 200).trim()}` : ''
    fail(`${what}: expected ${list.join(' or ')}, got ${r.status}${body}`)
  }
}

/** A 2xx status. */
export function expectSuccess(r: RawResponse, what = 'status'): void {
  if (r.status < 200 || r.status > 299) {
    fail(
      `${what}: expected 2xx, got ${r.status}${r.body.length > 0 ? `: ${r.body.toString('utf8', 0, 200).trim()}` : ''}`,
    )
  }
}

/** A 4xx status. */
export function expectClientError(r: RawResponse, what = 'status'): void {
  if (r.status < 400 || r.status > 499) fail(`${what}: expected 4xx, got ${r.status}`)
}

/** The header must be present (and match `pattern`); returns its value. */
export function expectHeader(r: RawResponse, name: string, pattern?: string | RegExp): string {
  const value = r.headers[name]
  if (value === undefined) fail(`${r.status} response lacks ${name}`)
  if (typeof pattern === 'string' && value !== pattern)
    fail(`${name}: expected "${pattern}", got "${value}"`)
  if (pattern instanceof RegExp && !pattern.test(value))
    fail(`${name}: "${value}" does not match ${pattern}`)
  return value
}

/** The header must be absent. */
export function expectNoHeader(r: RawResponse, name: string, why = ''): void {
  const value = r.headers[name]
  if (value !== undefined)
    fail(
      `${r.status} response must not carry ${name} (got "${value}")${why === '' ? '' : `: ${why}`}`,
    )
}

/** A tus integer header (plain decimal). */
export function tusInteger(r: RawResponse, name: string): number {
  const value = expectHeader(r, name)
  if (!/^[0-9]+$/.test(value)) fail(`${name}: "${value}" is not a non-negative integer`)
  return Number(value)
}

/** A Structured Field Integer header (draft Upload-Offset, Upload-Length). */
export function sfInteger(r: RawResponse, name: string): number {
  const value = expectHeader(r, name)
  const n = parseIntegerField(value)
  if (n === undefined || n < 0) fail(`${name}: "${value}" is not a non-negative sf-integer`)
  return n
}

/** A Structured Field Boolean header (Upload-Complete, Upload-Incomplete). */
export function sfBoolean(r: RawResponse, name: string): boolean {
  const value = expectHeader(r, name)
  const b = parseBooleanField(value)
  if (b === undefined) fail(`${name}: "${value}" is not an sf-boolean (?0 or ?1)`)
  return b
}

/** Upload-Limit: a valid Dictionary whose known keys are Integers; returns the members. */
export function uploadLimit(r: RawResponse): Map<string, number> {
  const value = expectHeader(r, 'upload-limit')
  if (value.trim() === '') fail('Upload-Limit is empty (a server without limits sends min-size=0)')
  const dict = parseDictionary(value)
  if (dict === undefined) fail(`Upload-Limit "${value}" is not a Structured Field Dictionary`)
  const out = new Map<string, number>()
  for (const key of [
    'max-size',
    'min-size',
    'max-append-size',
    'min-append-size',
    'max-age',
    'expires',
  ]) {
    const member = dict.get(key)
    if (member === undefined) continue
    if (member.kind !== 'item' || member.value.type !== 'integer')
      fail(`Upload-Limit ${key} is not an Integer: "${value}"`)
    out.set(key, member.value.value)
  }
  return out
}

/** An RFC 9457 problem body; returns it parsed. */
export function problem(r: RawResponse): Record<string, unknown> {
  const type = r.headers['content-type'] ?? ''
  if (!type.startsWith('application/problem+json'))
    fail(`expected application/problem+json, got "${type}"`)
  try {
    return JSON.parse(r.body.toString('utf8')) as Record<string, unknown>
  } catch {
    return fail('the problem+json body is not JSON')
  }
}
