import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import type { UploadStore } from '../../store/types.ts'
import { describeStore } from '../../testing/store-suite.ts'
import { createDiskStore } from './index.ts'

const dirs = new Map<UploadStore, string>()

describeStore('disk', {
  create: () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-disk-'))
    const store = createDiskStore({ directory: dir })
    dirs.set(store, dir)
    return store
  },
  dispose: (store) => {
    rmSync(dirs.get(store) ?? '/nonexistent', { recursive: true, force: true })
  },
})

async function* bytes(text: string): AsyncGenerator<Uint8Array> {
  yield new TextEncoder().encode(text)
}
const never = new AbortController().signal

test('disk store: state survives a new store instance on the same directory (a restart)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-disk-'))
  try {
    const first = createDiskStore({ directory: dir })
    const { id } = await first.create({ length: 5, metadata: [{ key: 'k', value: null }] })
    await first.append(id, 0, bytes('abc'), { signal: never })
    const second = createDiskStore({ directory: dir })
    const info = await second.get(id)
    assert.equal(info?.offset, 3)
    assert.equal(info?.length, 5)
    assert.deepEqual(info?.metadata, [{ key: 'k', value: null }])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('disk store: a damaged sidecar deactivates the upload (draft-13 §4.1.1)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-disk-'))
  try {
    const store = createDiskStore({ directory: dir })
    const { id } = await store.create({})
    writeFileSync(join(dir, `${id}.json`), '{"v":1,')
    assert.match((await store.get(id))?.invalid ?? '', /damaged/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('disk store: a rejected verified append leaves no staging file and no bytes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-disk-'))
  try {
    const store = createDiskStore({ directory: dir })
    const { id } = await store.create({})
    assert.equal(await store.append(id, 0, bytes('abc'), { signal: never, verify: () => false }), 0)
    assert.deepEqual(readdirSync(dir).sort(), [id, `${id}.json`].sort())
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('disk store: expire also removes crash leftovers (data without a sidecar, stale staging)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-disk-'))
  try {
    const store = createDiskStore({ directory: dir })
    const { id } = await store.create({ length: 1, completesAtLength: true })
    await store.append(id, 0, bytes('a'), { signal: never })
    const orphan = 'ffffffffffffffffffffffffffffffff'
    writeFileSync(join(dir, orphan), 'x')
    writeFileSync(join(dir, `${id}.stage`), 'y')
    for await (const _ of store.expire?.(Date.now() + 60_000) ?? []) {
      // drain
    }
    assert.deepEqual(readdirSync(dir).sort(), [id, `${id}.json`].sort())
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('disk store: sidecars cached by one instance follow changes made by another on the same directory', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-disk-'))
  try {
    const a = createDiskStore({ directory: dir })
    const b = createDiskStore({ directory: dir })
    const { id } = await a.create({})
    // b reads (and caches) the sidecar; a changes it, several times within the same millisecond.
    assert.equal((await b.get(id))?.length, undefined)
    await a.update(id, { length: 3 })
    assert.equal((await b.get(id))?.length, 3, 'a new length written by another instance')
    await a.update(id, { invalid: 'x' })
    await a.update(id, { invalid: 'y' })
    assert.equal((await b.get(id))?.invalid, 'y')
    // A sidecar rewritten by hand with the same size is still seen (a new file: a new identity).
    const path = join(dir, `${id}.json`)
    const text = JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), invalid: 'z' })
    writeFileSync(`${path}.tmp`, text)
    renameSync(`${path}.tmp`, path)
    assert.equal((await b.get(id))?.invalid, 'z')
    await a.terminate?.(id)
    assert.equal(await b.get(id), undefined, 'terminated by another instance')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
