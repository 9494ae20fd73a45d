/**
 * @module Request content as the store sees it: pulled chunk by chunk (backpressure), capped at
 * the plan's `maxBytes` whatever Content-Length claimed, held back until `minBytes` arrived,
 * observed for hashing, and ended early when the request is asked to stop. The source iterator
 * is never returned: stopping early must not destroy the connection before the response is
 * written; the adapter drains or closes it afterwards.
 */

export interface BodyStats {
  /** Bytes passed on to the store. */
  bytes: number
  /** The source ended normally (all content was read). */
  ended: boolean
  /** The source had more than `maxBytes`. */
  exceeded: boolean
  /** The source ended before `minBytes` arrived; nothing was passed on. */
  belowMinimum: boolean
  /** The source failed (connection lost, aborted). */
  failed: boolean
}

export interface BoundedBody {
  readonly iterable: AsyncIterable<Uint8Array>
  readonly stats: Readonly<BodyStats>
  /** Aborted when reading stopped early for good (after the grace period). */
  readonly stopped: AbortSignal
}

const STOP = Symbol('stop')

/**
 * When a request is asked to stop (another request for the upload, shutdown), content the
 * client already sent may still sit in socket buffers: it is read for a short grace period —
 * until nothing arrives for `GRACE_IDLE_MS`, at most `GRACE_MAX_MS` — so that "persist what it
 * received" (draft-13 §4.6) includes it, while a takeover still completes well within a second.
 */
export const GRACE_IDLE_MS = 50
export const GRACE_MAX_MS = 300

/**
 * Waits for `pending` (the source's next chunk), or until the request is asked to stop, or —
 * in the grace period — until it stays quiet. The pending read is never duplicated: a source
 * must not see a second next() while one is outstanding.
 */
function race(
  pending: Promise<IteratorResult<Uint8Array>>,
  signal: AbortSignal,
  graceUntil: number | undefined,
): Promise<IteratorResult<Uint8Array> | typeof STOP> {
  return new Promise((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const stop = (): void => resolve(STOP)
    if (graceUntil === undefined) {
      signal.addEventListener('abort', stop, { once: true })
    } else {
      timer = setTimeout(stop, Math.max(0, Math.min(GRACE_IDLE_MS, graceUntil - Date.now())))
    }
    const done = (): void => {
      signal.removeEventListener('abort', stop)
      if (timer !== undefined) clearTimeout(timer)
    }
    pending.then(
      (r) => {
        done()
        resolve(r)
      },
      (e: unknown) => {
        done()
        reject(e)
      },
    )
  })
}

/** Wraps request content with the plan's bounds. */
export function boundBody(
  source: AsyncIterable<Uint8Array>,
  bounds: { readonly maxBytes: number; readonly minBytes: number },
  signal: AbortSignal,
  observe?: (chunk: Uint8Array) => void,
): BoundedBody {
  const stats: BodyStats = {
    bytes: 0,
    ended: false,
    exceeded: false,
    belowMinimum: false,
    failed: false,
  }
  const stopped = new AbortController()
  async function* pull(): AsyncGenerator<Uint8Array> {
    const it = source[Symbol.asyncIterator]()
    let held: Uint8Array[] | undefined = bounds.minBytes > 0 ? [] : undefined
    let seen = 0
    let graceUntil: number | undefined
    let pending: Promise<IteratorResult<Uint8Array>> | undefined
    for (;;) {
      if (signal.aborted && graceUntil === undefined) graceUntil = Date.now() + GRACE_MAX_MS
      let r: IteratorResult<Uint8Array> | typeof STOP
      try {
        pending ??= it.next()
        r = await race(pending, signal, graceUntil)
        if (r !== STOP) pending = undefined
      } catch {
        stats.failed = true
        return
      }
      if (r === STOP) {
        if (graceUntil === undefined) {
          // Asked to stop while waiting: read on for the grace period.
          graceUntil = Date.now() + GRACE_MAX_MS
          continue
        }
        stopped.abort()
        return
      }
      if (r.done === true) {
        if (held !== undefined) {
          // draft-13 §4.1.4 min-append-size: the whole content is below the minimum.
          stats.belowMinimum = true
          stats.ended = true
          return
        }
        stats.ended = true
        return
      }
      let chunk = r.value
      if (chunk.byteLength === 0) continue
      if (seen + chunk.byteLength > bounds.maxBytes) {
        chunk = chunk.subarray(0, bounds.maxBytes - seen)
        stats.exceeded = true
      }
      seen += chunk.byteLength
      if (chunk.byteLength > 0) {
        observe?.(chunk)
        if (held === undefined) {
          stats.bytes += chunk.byteLength
          yield chunk
        } else {
          held.push(chunk)
          if (seen >= bounds.minBytes) {
            const release = held
            held = undefined
            for (const c of release) {
              stats.bytes += c.byteLength
              yield c
            }
          }
        }
      }
      if (stats.exceeded) return
    }
  }
  return { iterable: pull(), stats, stopped: stopped.signal }
}

/** An empty body. */
export async function* emptyBody(): AsyncGenerator<Uint8Array> {}
