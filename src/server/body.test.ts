import assert from 'node:assert/strict'
import { test } from 'node:test'
import { boundBody } from './body.ts'

async function* parts(...p: string[]): AsyncGenerator<Uint8Array> {
  for (const s of p) yield new TextEncoder().encode(s)
}
async function collect(it: AsyncIterable<Uint8Array>): Promise<string> {
  let out = ''
  for await (const c of it) out += new TextDecoder().decode(c)
  return out
}
const never = new AbortController().signal

test('body: passes content through when within bounds', async () => {
  const b = boundBody(parts('abc', 'def'), { maxBytes: 6, minBytes: 0 }, never)
  assert.equal(await collect(b.iterable), 'abcdef')
  assert.deepEqual(b.stats, {
    bytes: 6,
    ended: true,
    exceeded: false,
    belowMinimum: false,
    failed: false,
  })
})

test('body: cuts at maxBytes whatever the source claims, and says so', async () => {
  const b = boundBody(parts('abc', 'defgh'), { maxBytes: 5, minBytes: 0 }, never)
  assert.equal(await collect(b.iterable), 'abcde')
  assert.equal(b.stats.exceeded, true)
  assert.equal(b.stats.ended, false)
  const exact = boundBody(parts('abc', 'de'), { maxBytes: 5, minBytes: 0 }, never)
  assert.equal(await collect(exact.iterable), 'abcde')
  assert.equal(exact.stats.exceeded, false)
  const zero = boundBody(parts('a'), { maxBytes: 0, minBytes: 0 }, never)
  assert.equal(await collect(zero.iterable), '')
  assert.equal(zero.stats.exceeded, true)
})

test('body: holds back content until minBytes arrived (draft min-append-size)', async () => {
  const small = boundBody(parts('ab', 'c'), { maxBytes: 100, minBytes: 5 }, never)
  assert.equal(await collect(small.iterable), '')
  assert.equal(small.stats.belowMinimum, true)
  const enough = boundBody(parts('ab', 'cde', 'f'), { maxBytes: 100, minBytes: 5 }, never)
  assert.equal(await collect(enough.iterable), 'abcdef')
  assert.equal(enough.stats.belowMinimum, false)
})

test('body: a failing source ends the content as failed, keeping what came before', async () => {
  async function* broken(): AsyncGenerator<Uint8Array> {
    yield new TextEncoder().encode('abc')
    throw new Error('reset')
  }
  const b = boundBody(broken(), { maxBytes: 100, minBytes: 0 }, never)
  assert.equal(await collect(b.iterable), 'abc')
  assert.equal(b.stats.failed, true)
  assert.equal(b.stats.ended, false)
})

test('body: an abort ends a stalled source at once', async () => {
  const controller = new AbortController()
  const stalled: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({
      next: () => new Promise<IteratorResult<Uint8Array>>(() => {}),
    }),
  }
  const b = boundBody(stalled, { maxBytes: 100, minBytes: 0 }, controller.signal)
  setTimeout(() => controller.abort(), 20)
  assert.equal(await collect(b.iterable), '')
  assert.equal(b.stats.ended, false)
})

test('body: asked to stop before reading, it still takes what the client already sent (grace period)', async () => {
  const controller = new AbortController()
  controller.abort()
  async function* arrived(): AsyncGenerator<Uint8Array> {
    yield new TextEncoder().encode('already ')
    await new Promise((r) => setTimeout(r, 10))
    yield new TextEncoder().encode('here')
    await new Promise((r) => setTimeout(r, 10_000))
    yield new TextEncoder().encode('never')
  }
  const started = Date.now()
  const b = boundBody(arrived(), { maxBytes: 100, minBytes: 0 }, controller.signal)
  assert.equal(await collect(b.iterable), 'already here')
  assert.ok(Date.now() - started < 1000, 'the grace period is short')
  assert.equal(b.stopped.aborted, true)
  assert.equal(b.stats.ended, false, 'not read to the end: the upload must not complete')
})

test('body: a source never sees a second next() while one is pending', async () => {
  let outstanding = 0
  let max = 0
  const controller = new AbortController()
  const source: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({
      next: async () => {
        outstanding++
        max = Math.max(max, outstanding)
        await new Promise((r) => setTimeout(r, 30))
        outstanding--
        return { value: new Uint8Array([1]), done: false }
      },
    }),
  }
  setTimeout(() => controller.abort(), 10)
  const b = boundBody(source, { maxBytes: 1000, minBytes: 0 }, controller.signal)
  await collect(b.iterable)
  assert.equal(max, 1)
})
