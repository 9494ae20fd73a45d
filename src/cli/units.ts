/**
 * @module Parsing of human-friendly sizes (10MB, 5GiB) and durations (90s, 24h) for the CLI.
 */
import { INTEROP_VERSIONS } from '../protocol/ietf-versions.ts'

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
}

/** Bytes from "1048576", "10MB", "5GiB" (decimal k/M/G, binary KiB/MiB/GiB). */
export function parseSize(text: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$/.exec(text)
  const unit = SIZE_UNITS[(m?.[2] ?? '').toLowerCase()]
  if (m === null || unit === undefined)
    throw new Error(`invalid size "${text}" (examples: 1048576, 10MB, 5GiB)`)
  const bytes = Math.round(Number(m[1]) * unit)
  if (!Number.isSafeInteger(bytes)) throw new Error(`size "${text}" is too large`)
  return bytes
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
}

/** Milliseconds from "500ms", "90s", "15m", "24h", "7d" (a bare number is seconds). */
export function parseDuration(text: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text)
  if (m === null) throw new Error(`invalid duration "${text}" (examples: 90s, 15m, 24h)`)
  return Math.round(Number(m[1]) * (DURATION_UNITS[m[2] ?? 's'] ?? 1000))
}

/** An upload endpoint given on the command line: an http:// or https:// URL. */
export function parseEndpoint(text: string): URL {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new Error(`invalid endpoint URL "${text}"`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error('the endpoint must be http:// or https://')
  }
  return url
}

/** The protocol a client command is told to use. */
export function parseProtocol(text: string | undefined): 'auto' | 'tus' | 'ietf' {
  const protocol = text ?? 'auto'
  if (protocol !== 'auto' && protocol !== 'tus' && protocol !== 'ietf') {
    throw new Error('--protocol must be auto, tus or ietf')
  }
  return protocol
}

/** An interop version of the draft that Ferry speaks (a row of the version table). */
export function parseInterop(text: string): number {
  const versions = [...INTEROP_VERSIONS.keys()].sort((a, b) => a - b)
  const interop = Number(text)
  if (!/^\d+$/.test(text) || !INTEROP_VERSIONS.has(interop)) {
    throw new Error(
      `--interop must be an interop version from ${versions[0]} to ${versions[versions.length - 1]}`,
    )
  }
  return interop
}
