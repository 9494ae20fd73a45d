/** Sources: bytes, Blobs, and the bounded window of stream sources. */
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { describe, test } from 'node:test'
import { blobSource, bytesSource, SourceError, streamSource, toSource } from './sources.ts'
import type { RequestBody } from './transport.ts'

async function bytesOf(body: RequestBody): Promise<number[]> {
  const out: number[] = []
  for await (const piece of body.stream()) out.push(...piece)
  return out
}

const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from }, (_, i) => (from + i) & 0xff)

describe('client sources', () => {
  test('bytes: slices without copying, pieces of the range', async () => {
    const data = Uint8Array.from(range(0, 1000))
    const s = bytesSource(data)
    assert.equal(s.size, 1000)
    const body = await s.slice(100, 300)
    assert.equal(body.length, 200)
    assert.equal(body.bytes?.buffer, data.buffer)
    assert.deepEqual(await bytesOf(body), range(100, 300))
    assert.equal(toSource(data.buffer).size, 1000)
    assert.equal(toSource(new DataView(data.buffer, 10, 20)).size, 20)
  })

  test('Blob and File: lazy slices; Files have a fingerprint', async () => {
    const blob = new Blob([Uint8Array.from(range(0, 500))], { type: 'application/x-test' })
    const s = blobSource(blob)
    assert.equal(s.size, 500)
    assert.equal(s.type, 'application/x-test')
    assert.equal(await s.fingerprint?.('http://e/'), undefined)
    const body = await s.slice(10, 20)
    assert.equal(body.blob?.size, 10)
    assert.deepEqual(await bytesOf(body), range(10, 20))
    const file = new File([blob], 'a.bin', { lastModified: 42, type: 'x/y' })
    const f = toSource(file)
    assert.equal(f.name, 'a.bin')
    assert.equal(
      await f.fingerprint?.('http://e/'),
      ['blob', 'a.bin', 500, 'x/y', 42, 'http://e/'].join('\u0000'),
    )
  })

  test('stream: read() looks one byte ahead to see the end', async () => {
    const pieces = [Uint8Array.from(range(0, 7)), Uint8Array.from(range(7, 10))]
    const s = streamSource(Readable.from(pieces))
    assert.equal(s.size, undefined)
    assert.equal(s.streaming, true)
    assert.deepEqual(await s.read?.(0, 5), { length: 5, eof: false })
    assert.deepEqual(await bytesOf(await s.slice(0, 5)), range(0, 5))
    assert.deepEqual(
      await s.read?.(5, 5),
      { length: 5, eof: true },
      'ends exactly at the chunk end',
    )
    assert.deepEqual(await bytesOf(await s.slice(5, 10)), range(5, 10))
    assert.deepEqual(await s.read?.(10, 5), { length: 0, eof: true })
  })

  test('stream: the window keeps the current request; going back further fails', async () => {
    const s = streamSource(Readable.from([Buffer.from(range(0, 100))]), { size: 100 })
    assert.deepEqual(await bytesOf(await s.slice(0, 40)), range(0, 40))
    // The request was cut; the server has 25 bytes: retransmit from there (inside the window).
    assert.deepEqual(await bytesOf(await s.slice(25, 60)), range(25, 60))
    // The server is ahead of what was sent (a 104 / HEAD offset): skip forward.
    assert.deepEqual(await bytesOf(await s.slice(80, 100)), range(80, 100))
    await assert.rejects(
      s.slice(10, 20),
      (e: Error) => e instanceof SourceError && /cannot go back to byte 10/.test(e.message),
    )
  })

  test('stream: shorter than its given size fails clearly; strings and web streams work', async () => {
    const short = streamSource(Readable.from([Buffer.from('abc')]), { size: 10 })
    await assert.rejects(short.slice(0, 10), /ended at 3 bytes, but its size was given as 10/)
    const strings = streamSource(Readable.from(['hé', 'llo']))
    assert.deepEqual(await strings.read?.(0, 100), { length: 6, eof: true })
    assert.equal(Buffer.from(await bytesOf(await strings.slice(0, 6))).toString(), 'héllo')
    const web = toSource(
      new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(Uint8Array.from([1, 2]))
          c.enqueue(Uint8Array.from([3]))
          c.close()
        },
      }),
    )
    assert.deepEqual(await web.read?.(0, 2), { length: 2, eof: false })
    assert.deepEqual(await web.read?.(2, 2), { length: 1, eof: true })
    assert.deepEqual(await bytesOf(await web.slice(2, 3)), [3])
  })
})
