/**
 * @module The storage contract. A store keeps every upload's bytes and state; it is the only
 * source of truth between requests. Required operations: create, get, append, update. Optional
 * capabilities are optional methods, and what the server advertises is derived from them:
 * `terminate` → tus termination, `concatenate` → concatenation(-unfinished), `expire` →
 * expiration, `read` → downloads and Repr-Digest checks.
 */

import type { Lease } from '../lock/types.ts'
import type { MetadataPair } from '../protocol/codec/tus.ts'
import type { DigestAlgorithm } from '../protocol/constants.ts'
import type { ConcatState, Digest, StoredResponse, UploadInfo } from '../protocol/types.ts'

/** What the server knows about an upload when it creates it. */
export interface NewUpload {
  readonly length?: number
  readonly metadata?: readonly MetadataPair[]
  readonly concat?: ConcatState
  readonly contentType?: string
  readonly filename?: string
  readonly reprDigests?: readonly Digest[]
  readonly wantReprDigest?: readonly DigestAlgorithm[]
  /** tus semantics: the upload is complete as soon as its offset reaches its length. */
  readonly completesAtLength?: boolean
}

/** State changes the server records (each write is atomic). */
export interface UploadChanges {
  readonly length?: number
  readonly complete?: true
  readonly finalResponse?: StoredResponse
  readonly invalid?: string
}

export interface AppendOptions {
  /**
   * Aborted when the server wants the append to stop early (another request asked for the
   * upload, shutdown). The store stops reading, persists what it received and returns.
   */
  readonly signal: AbortSignal
  /**
   * When present, the append is all-or-nothing: the bytes become part of the upload only if
   * `verify()`, called once the body is consumed, resolves true (tus checksum, Content-Digest).
   */
  readonly verify?: () => boolean | Promise<boolean>
  /**
   * Called with a durable offset while a long append runs (at most every `progressIntervalMs`);
   * the server turns it into 104 progress responses. Only synced bytes are reported.
   */
  readonly onProgress?: (durableOffset: number) => void
  readonly progressIntervalMs?: number
  /**
   * The lease of the lock the request holds, when the locker hands one out (distributed
   * lockers). Stores shared by several processes check it before each commit and refuse with
   * ERR_LOCK_LOST when it is gone; they may record `fence` and refuse lower ones.
   */
  readonly lease?: Lease
}

export interface ExpireOptions {
  /**
   * Claims an upload for removal: resolves with a release function, or undefined when the
   * upload is busy (skip it this time).
   */
  readonly claim?: (id: string) => Promise<(() => Promise<void>) | undefined>
}

export interface UpdateOptions {
  /** As in AppendOptions. */
  readonly lease?: Lease
}

export interface UploadStore {
  /** Creates an empty upload with a fresh, unguessable id (at least 128 random bits). */
  create(upload: NewUpload): Promise<UploadInfo>
  /** The upload's state, or undefined if there is no such upload. */
  get(id: string): Promise<UploadInfo | undefined>
  /**
   * Appends `body` at `offset` (which must equal the stored offset) and returns the new
   * durable offset. A body that throws or ends early is not an error: every byte received
   * before it is kept (unless `verify` was given). Bytes are durable when this resolves.
   */
  append(
    id: string,
    offset: number,
    body: AsyncIterable<Uint8Array>,
    options: AppendOptions,
  ): Promise<number>
  /** Records state changes atomically and returns the new state. */
  update(id: string, changes: UploadChanges, options?: UpdateOptions): Promise<UploadInfo>
  /** Removes an upload and its bytes (tus termination, draft cancellation). */
  terminate?(id: string, options?: UpdateOptions): Promise<void>
  /**
   * Makes the final upload `id` (created with `concat.kind === 'final'`) the concatenation of
   * its complete partial uploads, without copying through JavaScript where the OS can avoid it.
   */
  concatenate?(id: string, options?: UpdateOptions): Promise<UploadInfo>
  /** Streams stored bytes; `end` is exclusive. */
  read?(id: string, range?: { start: number; end: number }): AsyncIterable<Uint8Array>
  /**
   * Removes incomplete uploads last changed before `before` (ms); yields their ids. With
   * `claim`, each candidate is claimed first (the server takes its lock, if free) and its state
   * read again under the claim: an upload a request is working on is skipped, never removed
   * under it.
   */
  expire?(before: number, options?: ExpireOptions): AsyncIterable<string>
  /**
   * Checks that the backend answers and can be written (readiness probes: a load balancer
   * sends no uploads to an instance whose store is unreachable); rejects when it cannot.
   */
  ping?(): Promise<void>
  /** Releases resources (open handles, timers). */
  close?(): Promise<void>
}
