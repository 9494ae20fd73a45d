/**
 * @module HTTP/2 client helpers shared by `ferry check` and the tests.
 */
import type http2 from 'node:http2'

/**
 * Writes to a client stream; resolves when the write completed or the stream was reset or
 * closed (Node's client does not always complete a pending write after an RST_STREAM).
 */
export function writeOrReset(stream: http2.ClientHttp2Stream, data: Buffer): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || stream.closed) {
      resolve()
      return
    }
    const done = (): void => {
      stream.off('aborted', done)
      stream.off('close', done)
      resolve()
    }
    stream.once('aborted', done)
    stream.once('close', done)
    stream.write(data, done)
  })
}
