/**
 * @module The shared store test suite: every store backend runs it (`describeStore`), so the
 * contract in src/store/types.ts is checked the same way for all of them, third-party stores
 * included. Written for node:test.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, test } from 'node:test'
import { isUploadError } from '../protocol/errors.ts'
import type { UploadStore } from '../store/types.ts'

export interface StoreFactory {
  /** A fresh, empty store. */
  create(): Promise<UploadStore> | UploadStore
  /** Cleans up after one store (optional). */
  dispose?(store: UploadStore): Promise<void> | void
}

const never = new AbortController().signal

async function* chunks(...parts: (string | Uint8Array)[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield typeof p === 'string' ? new TextEncoder().encode(p) : p
}

async function* failing(...parts: string[]): AsyncGenerator<Uint8Array> {
  yield* chunks(...parts)
  throw new Error('connection reset')
}

async function readAll(
  store: UploadStore,
  id: string,
  range?: { start: number; end: number },
): Promise<string> {
  assert.ok(store.read !== undefined, 'store.read')
  const parts: Uint8Array[] = []
  for await (const c of store.read(id, range)) parts.push(c)
  return Buffer.concat(parts).toString()
}

/** Registers the contract tests for a store. */
export function describeStore(name: string, factory: StoreFactory): void {
  describe(`store contract: ${name}`, () => {
    const withStore = (title: string, fn: (store: UploadStore) => Promise<void>): void => {
      test(title, async () => {
        const store = await factory.create()
        try {
          await fn(store)
        } finally {
          await factory.dispose?.(store)
        }
      })
    }

    withStore(
      'create: a fresh upload with an unguessable id (128 random bits), offset 0',
      async (store) => {
        const a = await store.create({ length: 10, metadata: [{ key: 'name', value: 'YQ==' }] })
        const b = await store.create({})
        assert.match(a.id, /^[0-9a-f]{32}$/)
        assert.notEqual(a.id, b.id)
        assert.equal(a.offset, 0)
        assert.equal(a.complete, false)
        assert.equal(a.length, 10)
        const got = await store.get(a.id)
        assert.deepEqual(got?.metadata, [{ key: 'name', value: 'YQ==' }])
        assert.equal(got?.length, 10)
        assert.equal(got?.offset, 0)
      },
    )

    withStore('get: unknown ids and ids that could be paths give undefined', async (store) => {
      for (const id of [
        '0123456789abcdef0123456789abcdef',
        '../etc/passwd',
        '..',
        '',
        'a/b',
        '%2e%2e',
      ]) {
        assert.equal(await store.get(id), undefined, id)
      }
    })

    withStore('append: returns the durable offset; bytes read back in order', async (store) => {
      const { id } = await store.create({})
      assert.equal(await store.append(id, 0, chunks('hello', ' '), { signal: never }), 6)
      assert.equal(await store.append(id, 6, chunks('world'), { signal: never }), 11)
      assert.equal((await store.get(id))?.offset, 11)
      if (store.read !== undefined) assert.equal(await readAll(store, id), 'hello world')
    })

    withStore(
      'append: a wrong offset is refused with ERR_MISMATCHED_OFFSET and writes nothing',
      async (store) => {
        const { id } = await store.create({})
        await store.append(id, 0, chunks('abc'), { signal: never })
        await assert.rejects(
          store.append(id, 1, chunks('zz'), { signal: never }),
          (e: unknown) => isUploadError(e) && e.code === 'ERR_MISMATCHED_OFFSET',
        )
        assert.equal((await store.get(id))?.offset, 3)
      },
    )

    withStore(
      'append: a body that fails midway keeps every byte received before',
      async (store) => {
        const { id } = await store.create({})
        assert.equal(await store.append(id, 0, failing('abc', 'def'), { signal: never }), 6)
        assert.equal((await store.get(id))?.offset, 6)
      },
    )

    withStore('append: an aborted signal stops the append and keeps the prefix', async (store) => {
      const { id } = await store.create({})
      const controller = new AbortController()
      async function* slow(): AsyncGenerator<Uint8Array> {
        yield new TextEncoder().encode('abc')
        controller.abort()
        yield new TextEncoder().encode('def')
        yield new TextEncoder().encode('ghi')
      }
      const offset = await store.append(id, 0, slow(), { signal: controller.signal })
      assert.ok(offset >= 3 && offset <= 9, `offset ${offset}`)
      assert.equal((await store.get(id))?.offset, offset)
    })

    withStore('append with verify: all or nothing', async (store) => {
      const { id } = await store.create({})
      assert.equal(
        await store.append(id, 0, chunks('abc'), { signal: never, verify: () => false }),
        0,
      )
      assert.equal((await store.get(id))?.offset, 0)
      assert.equal(
        await store.append(id, 0, chunks('abc', 'def'), {
          signal: never,
          verify: async () => true,
        }),
        6,
      )
      let called = false
      const offset = await store.append(id, 6, failing('xyz'), {
        signal: never,
        verify: () => {
          called = true
          return true
        },
      })
      assert.equal(called, false, 'verify is not called when the body failed')
      assert.equal(offset, 6)
      if (store.read !== undefined) assert.equal(await readAll(store, id), 'abcdef')
    })

    withStore('append: progress reports durable offsets that only grow', async (store) => {
      const { id } = await store.create({})
      const seen: number[] = []
      const big = new Uint8Array(256 * 1024)
      const end = await store.append(id, 0, chunks(...Array.from({ length: 16 }, () => big)), {
        signal: never,
        progressIntervalMs: 0,
        onProgress: (o) => seen.push(o),
      })
      assert.equal(end, 16 * big.byteLength)
      for (let i = 1; i < seen.length; i++) assert.ok((seen[i] as number) > (seen[i - 1] as number))
      assert.ok(seen.every((o) => o <= end))
    })

    withStore(
      'update: length, completion, final response and invalidation persist',
      async (store) => {
        const { id } = await store.create({})
        await store.update(id, { length: 3 })
        assert.equal((await store.get(id))?.length, 3)
        await store.append(id, 0, chunks('abc'), { signal: never })
        const done = await store.update(id, {
          complete: true,
          finalResponse: { status: 201, headers: { location: '/x' } },
        })
        assert.equal(done.complete, true)
        const got = await store.get(id)
        assert.equal(got?.complete, true)
        assert.deepEqual(got?.finalResponse, { status: 201, headers: { location: '/x' } })
        await store.update(id, { invalid: 'test' })
        assert.equal((await store.get(id))?.invalid, 'test')
      },
    )

    withStore(
      'get: a tus upload (completesAtLength) is complete once its offset reaches its length',
      async (store) => {
        const { id } = await store.create({ length: 2, completesAtLength: true })
        await store.append(id, 0, chunks('a'), { signal: never })
        assert.equal((await store.get(id))?.complete, false)
        await store.append(id, 1, chunks('b'), { signal: never })
        assert.equal((await store.get(id))?.complete, true)
      },
    )

    withStore('update/append on an unknown upload: ERR_UPLOAD_NOT_FOUND', async (store) => {
      const missing = '0123456789abcdef0123456789abcdef'
      const notFound = (e: unknown): boolean =>
        isUploadError(e) && e.code === 'ERR_UPLOAD_NOT_FOUND'
      await assert.rejects(store.update(missing, { length: 1 }), notFound)
      await assert.rejects(store.append(missing, 0, chunks('a'), { signal: never }), notFound)
    })

    withStore('terminate: the upload and its bytes are gone', async (store) => {
      if (store.terminate === undefined) return
      const { id } = await store.create({})
      await store.append(id, 0, chunks('abc'), { signal: never })
      await store.terminate(id)
      assert.equal(await store.get(id), undefined)
    })

    withStore(
      'concatenate: the final upload is the partials in order; deleting a partial later keeps it',
      async (store) => {
        if (store.concatenate === undefined) return
        const a = await store.create({
          length: 5,
          concat: { kind: 'partial' },
          completesAtLength: true,
        })
        const b = await store.create({
          length: 6,
          concat: { kind: 'partial' },
          completesAtLength: true,
        })
        await store.append(a.id, 0, chunks('hello'), { signal: never })
        await store.append(b.id, 0, chunks(' world'), { signal: never })
        const final = await store.create({
          concat: { kind: 'final', parts: [a.id, b.id, a.id], header: 'final;x' },
        })
        const done = await store.concatenate(final.id)
        assert.equal(done.complete, true)
        assert.equal(done.offset, 16)
        assert.equal(done.length, 16)
        if (store.read !== undefined) {
          assert.equal(await readAll(store, final.id), 'hello worldhello')
          assert.equal(await readAll(store, final.id, { start: 3, end: 8 }), 'lo wo')
        }
        await store.terminate?.(a.id)
        if (store.read !== undefined)
          assert.equal(await readAll(store, final.id), 'hello worldhello')
      },
    )

    withStore('concatenate: refuses while a partial is incomplete', async (store) => {
      if (store.concatenate === undefined) return
      const a = await store.create({
        length: 5,
        concat: { kind: 'partial' },
        completesAtLength: true,
      })
      await store.append(a.id, 0, chunks('hel'), { signal: never })
      const final = await store.create({
        concat: { kind: 'final', parts: [a.id], header: 'final;x' },
      })
      await assert.rejects(
        store.concatenate(final.id),
        (e: unknown) => isUploadError(e) && e.code === 'ERR_CONCAT_UNFINISHED',
      )
    })

    withStore('read: byte ranges', async (store) => {
      if (store.read === undefined) return
      const { id } = await store.create({})
      const data = `${'x'.repeat(1000)}abcdef`
      await store.append(id, 0, chunks(data), { signal: never })
      assert.equal(await readAll(store, id, { start: 1000, end: 1003 }), 'abc')
      const all = await readAll(store, id)
      assert.equal(
        createHash('sha256').update(all).digest('hex'),
        createHash('sha256').update(data).digest('hex'),
      )
    })

    withStore(
      'expire: removes incomplete uploads older than the cut-off, keeps complete ones',
      async (store) => {
        if (store.expire === undefined) return
        const old = await store.create({})
        const done = await store.create({ length: 1, completesAtLength: true })
        await store.append(done.id, 0, chunks('a'), { signal: never })
        const removed: string[] = []
        for await (const id of store.expire(Date.now() + 60_000)) removed.push(id)
        assert.deepEqual(removed, [old.id])
        assert.equal(await store.get(old.id), undefined)
        assert.notEqual(await store.get(done.id), undefined)
        const none: string[] = []
        for await (const id of store.expire(0)) none.push(id)
        assert.deepEqual(none, [])
      },
    )
  })
}
