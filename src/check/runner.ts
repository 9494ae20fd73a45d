/**
 * @module Runs the checks: discovery first, then every applicable check in order (IETF checks
 * once per interop version), each with a time limit. A broken MUST is FAIL, a broken SHOULD is
 * WARN, a check that does not apply is SKIP with its reason.
 */
import { ALL_CHECKS } from './checks/index.ts'
import { Client } from './client.ts'
import { discover } from './discovery.ts'
import { INTEROP_VERSIONS } from './expectations.ts'
import {
  type CheckDefinition,
  CheckFailure,
  type CheckOptions,
  type CheckResult,
  CheckSkip,
  type Discovery,
  type Protocol,
  type Report,
  type Status,
} from './types.ts'

export interface RunOptions extends CheckOptions {
  /** Only this protocol's checks. */
  readonly protocol?: Protocol
  /** Only these interop versions (default 3..10). */
  readonly interop?: readonly number[]
  /** Only checks whose id or title contains this text (or matches it as /regex/). */
  readonly only?: string
  /** Probe HTTP/2 without TLS (prior knowledge) on http:// endpoints. */
  readonly h2c?: boolean
  /** The checks to run (default: all of them). */
  readonly checks?: readonly CheckDefinition[]
  /** Called once discovery is done (progress output). */
  readonly onDiscovery?: (discovery: Report['discovery']) => void
  /** Called after each check (progress output). */
  readonly onResult?: (result: CheckResult) => void
}

interface Planned {
  readonly def: CheckDefinition
  readonly interop: number
  readonly id: string
  readonly title: string
}

function plan(checks: readonly CheckDefinition[], options: RunOptions): Planned[] {
  const versions = options.interop ?? INTEROP_VERSIONS
  const out: Planned[] = []
  for (const def of checks) {
    if (options.protocol !== undefined && def.protocol !== options.protocol) continue
    const applies =
      def.protocol === 'tus'
        ? [0]
        : versions.filter((v) => (def.interop ?? INTEROP_VERSIONS).includes(v))
    for (const interop of applies) {
      const title = typeof def.title === 'function' ? def.title(interop) : def.title
      const id = def.protocol === 'ietf' ? `ietf${interop}.${def.id}` : def.id
      out.push({ def, interop, id, title })
    }
  }
  if (options.only === undefined) return out
  const only = options.only
  const regex = /^\/(.*)\/([a-z]*)$/.exec(only)
  const match =
    regex === null
      ? (s: string) => s.includes(only)
      : (s: string) => new RegExp(regex[1] ?? '', regex[2]).test(s)
  return out.filter((p) => match(p.id) || match(p.title))
}

function skipReason(p: Planned, d: Discovery): string | undefined {
  if (p.def.protocol === 'tus') {
    if (d.tus === undefined)
      return 'the server does not speak tus 1.0.0 (OPTIONS lists no Tus-Version: 1.0.0)'
    if (p.def.extension !== undefined && !d.tus.extensions.has(p.def.extension)) {
      return `extension "${p.def.extension}" is not advertised in Tus-Extension`
    }
  } else if (p.def.anyServer !== true) {
    const support = d.ietf.get(p.interop)
    if (support === undefined || !support.supported)
      return support?.reason ?? `interop ${p.interop} was not probed`
  }
  if (p.def.http2 === true && !d.http2) return 'the server does not offer HTTP/2'
  return p.def.skipUnless?.(d, p.interop)
}

function isRefused(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'ECONNREFUSED'
}

/** Runs `ferry check` against an endpoint and returns the report. */
export async function runChecks(endpoint: string | URL, options: RunOptions): Promise<Report> {
  const base = new URL(String(endpoint))
  const startedAt = new Date().toISOString()
  const versions = options.interop ?? INTEROP_VERSIONS
  const discoveryTrace: string[] = []
  const discovery = await discover(new Client(base, options, (l) => discoveryTrace.push(l)), {
    ...options,
    interop: options.protocol === 'tus' ? [] : versions,
  })
  const supported = [...discovery.ietf].filter(([, s]) => s.supported).map(([v]) => v)
  const found: Report['discovery'] = {
    tus:
      discovery.tus === undefined
        ? 'not offered'
        : `1.0.0 (${[...discovery.tus.extensions].join(', ') || 'no extensions'})`,
    ietf:
      options.protocol === 'tus'
        ? 'not checked'
        : supported.length === 0
          ? 'not offered'
          : `interop ${supported.join(', ')}`,
    http2: discovery.http2,
  }
  options.onDiscovery?.(found)
  const results: CheckResult[] = []
  /** Set once the server stops accepting connections: the id of the check where it happened. */
  let downAfter: string | undefined
  let previous: string | undefined
  for (const p of plan(options.checks ?? ALL_CHECKS, options)) {
    const started = performance.now()
    const common = {
      id: p.id,
      title: p.title,
      protocol: p.def.protocol,
      level: p.def.level,
      ...(p.def.protocol === 'ietf' ? { interop: p.interop } : {}),
    }
    const reason =
      downAfter === undefined
        ? skipReason(p, discovery)
        : `the server stopped accepting connections during or after ${downAfter}`
    let result: CheckResult
    if (reason !== undefined) {
      result = { ...common, status: 'SKIP', reason, ms: 0 }
    } else {
      const trace: string[] = []
      const client = new Client(base, options, (l) => trace.push(l))
      const limit = Math.max(30_000, options.timeoutMs * 4) + options.expireWaitMs
      let timer: ReturnType<typeof setTimeout> | undefined
      try {
        await Promise.race([
          p.def.run({
            endpoint: base,
            discovery,
            options,
            interop: p.interop,
            client,
            note: (l) => trace.push(l),
          }),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new CheckFailure(`timed out after ${limit} ms`)), limit)
          }),
        ])
        result = { ...common, status: 'PASS', ms: performance.now() - started }
      } catch (e) {
        const ms = performance.now() - started
        if (e instanceof CheckSkip) result = { ...common, status: 'SKIP', reason: e.message, ms }
        else if (isRefused(e)) {
          // The server went away (it crashed?): say so once, and skip what cannot run any more.
          downAfter = previous === undefined ? p.id : `${previous} or ${p.id}`
          result = {
            ...common,
            status: 'FAIL',
            reason: `the server stopped accepting connections (did it crash during or after ${downAfter}?)`,
            trace,
            ms,
          }
        } else {
          const message =
            e instanceof CheckFailure
              ? e.message
              : `error: ${e instanceof Error ? e.message : String(e)}`
          const status: Status = p.def.level === 'MUST' ? 'FAIL' : 'WARN'
          result = { ...common, status, reason: message, trace, ms }
        }
      } finally {
        clearTimeout(timer)
      }
    }
    results.push(result)
    options.onResult?.(result)
    if (result.status !== 'SKIP') previous = p.id
  }
  const summary: Record<Status, number> = { PASS: 0, FAIL: 0, WARN: 0, SKIP: 0 }
  for (const r of results) summary[r.status]++
  return {
    endpoint: base.href,
    startedAt,
    discovery: found,
    results,
    summary,
    ok: summary.FAIL === 0,
  }
}
