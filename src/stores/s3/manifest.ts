/**
 * @module The manifest: one small JSON object per upload (`<prefix><id>.info`) holding
 * everything the store knows about it, so that an append costs O(1) S3 requests and never a
 * ListParts (peers.md §3 items 1 and 11). Unicode metadata lives here, in the JSON body, never
 * in x-amz-meta-* headers, which are ASCII-only (peers.md §3 item 12).
 */

import { isComplete } from '../../protocol/rules.ts'
import type { UploadInfo } from '../../protocol/types.ts'
import { type PersistedState, persistedFacts, storedDigests } from '../../store/persisted.ts'
import type { NewUpload } from '../../store/types.ts'

/** One uploaded part: [part number, ETag, size]. */
export type PartRecord = readonly [number, string, number]

export interface Manifest extends PersistedState {
  /** Durable (S3-acknowledged) bytes. */
  readonly offset: number
  /** Size of every non-final part of this upload (constant: R2 requires it). */
  readonly partSize: number
  /**
   * Where the bytes are. 'parts': `parts` (each exactly `partSize`) of the multipart upload
   * `uploadId`, then `pendingSize` bytes in the pending object of slot `pendingSlot`.
   * 'object': all `offset` bytes are in the data object `<prefix><id>` (a completed upload, or
   * an incomplete one whose bytes were sealed into the object so they could be read).
   */
  readonly stored: 'parts' | 'object'
  readonly uploadId?: string
  readonly parts: readonly PartRecord[]
  readonly pendingSize: number
  readonly pendingSlot: 0 | 1
  /**
   * The lease fence of the holder that wrote the pending object, which its key carries
   * (`<id>.pending.<fence>.<slot>`); absent for writes without a lease (`<id>.pending.<slot>`).
   * A holder that lost its lock can then never overwrite the object a newer holder's manifest
   * names, not even with a write that was under way when it lost it.
   */
  readonly pendingFence?: number
  /** Set once a pending object was written (so completion knows to delete the slots). */
  readonly pendingUsed?: true
  /** The highest lease fence that committed to this upload. */
  readonly fence: number
}

export function newManifest(
  id: string,
  upload: NewUpload,
  partSize: number,
  now: number,
): Manifest {
  return {
    v: 1,
    id,
    complete: false,
    createdAt: now,
    updatedAt: now,
    ...persistedFacts(upload),
    offset: 0,
    partSize,
    stored: 'parts',
    parts: [],
    pendingSize: 0,
    pendingSlot: 0,
    fence: 0,
  }
}

/** Parses a manifest; undefined when it is not one of this upload. */
export function parseManifest(text: string, id: string): Manifest | undefined {
  try {
    const m = JSON.parse(text) as Manifest
    if (m.v !== 1 || m.id !== id || typeof m.offset !== 'number' || !Array.isArray(m.parts)) {
      return undefined
    }
    return m
  } catch {
    return undefined
  }
}

/** A manifest that cannot be read: draft-13 §4.1.1, lost state deactivates the upload. */
export function damagedManifest(id: string, now: number): Manifest {
  return {
    ...newManifest(id, {}, 0, now),
    invalid: 'the upload state is damaged',
  }
}

/** True when the manifest's upload is complete (explicitly, or tus: offset reached length). */
export function manifestComplete(m: Manifest): boolean {
  return isComplete(m)
}

export function toInfo(m: Manifest): UploadInfo {
  const {
    v: _v,
    reprDigests,
    partSize: _ps,
    stored: _st,
    uploadId: _u,
    parts: _p,
    pendingSize: _pz,
    pendingSlot: _sl,
    pendingFence: _pf,
    pendingUsed: _pu,
    fence: _f,
    ...rest
  } = m
  const info: UploadInfo = { ...rest, complete: isComplete(m) }
  if (reprDigests === undefined) return info
  return {
    ...info,
    reprDigests: storedDigests(reprDigests),
  }
}
