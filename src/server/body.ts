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
}

const ABORTED = Symbol('aborted')

function nextOrAbort(
  it: AsyncIterator<Uint8Array>,
  signal: AbortSignal,
): Promise<IteratorResult<Uint8Array> | typeof ABORTED> {
  if (signal.aborted) return Promise.resolve(ABORTED)
  return new Promise((resolve, reject) => {
    const onAbort = (): void => resolve(ABORTED)
    signal.addEventListener('abort', onAbort, { once: true })
    it.next().then(
      (r) => {
        signal.removeEventListener('abort', onAbort)
        resolve(r)
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort)
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
  async function* pull(): AsyncGenerator<Uint8Array> {
    const it = source[Symbol.asyncIterator]()
    let held: Uint8Array[] | undefined = bounds.minBytes > 0 ? [] : undefined
    let seen = 0
    for (;;) {
      let r: IteratorResult<Uint8Array> | typeof ABORTED
      try {
        r = await nextOrAbort(it, signal)
      } catch {
        stats.failed = true
        return
      }
      if (r === ABORTED) return
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
  return { iterable: pull(), stats }
}

/** An empty body. */
export async function* emptyBody(): AsyncGenerator<Uint8Array> {}
