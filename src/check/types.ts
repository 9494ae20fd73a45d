/**
 * @module The shapes of `ferry check`: check definitions, their context, results and the report.
 * The tester knows the specifications on its own (src/check/expectations.ts); it never imports
 * the server's rules, or it would test Ferry's logic against itself.
 */
import type { Client } from './client.ts'

/** BCP 14 strength of the requirement a check proves. */
export type Level = 'MUST' | 'SHOULD'

/** PASS; FAIL (a MUST broken); WARN (a SHOULD not met); SKIP (not applicable, with the reason). */
export type Status = 'PASS' | 'FAIL' | 'WARN' | 'SKIP'

export type Protocol = 'tus' | 'ietf'

/** What discovery learned about the server before any check runs. */
export interface Discovery {
  readonly endpoint: URL
  /** tus 1.0.0, when OPTIONS lists it in Tus-Version. */
  readonly tus?: {
    readonly versions: readonly string[]
    readonly extensions: ReadonlySet<string>
    readonly maxSize?: number
    readonly checksumAlgorithms: readonly string[]
  }
  /** Interop versions of the draft: supported ones, and for the others the reason they are not. */
  readonly ietf: ReadonlyMap<number, { readonly supported: boolean; readonly reason?: string }>
  /** Upload-Limit from OPTIONS (raw value), if any. */
  readonly uploadLimit?: string
  /** The server offers HTTP/2 (ALPN h2 on https, or --h2c prior knowledge accepted). */
  readonly http2: boolean
}

export interface CheckOptions {
  /** Per request, milliseconds. */
  readonly timeoutMs: number
  /** How long expiration checks may wait for an upload to expire; 0 skips them. */
  readonly expireWaitMs: number
  /** Trust this certificate (PEM) for https endpoints. */
  readonly ca?: string | Buffer
  /** Accept any certificate (testing only). */
  readonly insecure?: boolean
}

export interface CheckContext {
  readonly endpoint: URL
  readonly discovery: Discovery
  readonly options: CheckOptions
  /** The interop version an IETF check runs for. */
  readonly interop: number
  readonly client: Client
  /** Adds a line to the trace shown with a failure. */
  note(line: string): void
}

export interface CheckDefinition {
  /** Stable id, e.g. `tus.patch.offset-mismatch`; IETF ids get the version: `ietf8.…`. */
  readonly id: string
  /** The requirement in the spec's words with its section, e.g. "tus 1.0.0 §PATCH: 409 on offset mismatch". */
  readonly title: string | ((interop: number) => string)
  readonly protocol: Protocol
  readonly level: Level
  /** tus: the extension the check needs (skipped when not in Tus-Extension). */
  readonly extension?: string
  /** IETF: the interop versions the check applies to. */
  readonly interop?: readonly number[]
  /** A reason to skip, decided from discovery (e.g. no limits announced). */
  readonly skipUnless?: (discovery: Discovery, interop: number) => string | undefined
  /** Needs HTTP/2 (skipped when the server does not offer it). */
  readonly http2?: boolean
  /**
   * IETF: runs even when the server supports none of the interop versions (e.g. "never a 104
   * without a supported version" holds for every server).
   */
  readonly anyServer?: boolean
  run(ctx: CheckContext): Promise<void>
}

export interface CheckResult {
  readonly id: string
  readonly title: string
  readonly protocol: Protocol
  readonly interop?: number
  readonly level: Level
  readonly status: Status
  /** Why it failed, warned or was skipped. */
  readonly reason?: string
  /** The requests and responses that led to a failure. */
  readonly trace?: readonly string[]
  readonly ms: number
}

export interface Report {
  readonly endpoint: string
  readonly startedAt: string
  readonly discovery: {
    readonly tus: string
    readonly ietf: string
    readonly http2: boolean
  }
  readonly results: readonly CheckResult[]
  readonly summary: Record<Status, number>
  /** No MUST failed. */
  readonly ok: boolean
}

/** Thrown by a check: the requirement is not met. */
export class CheckFailure extends Error {
  override readonly name = 'CheckFailure'
}

/** Thrown by a check: it does not apply to this server (the message says why). */
export class CheckSkip extends Error {
  override readonly name = 'CheckSkip'
}
