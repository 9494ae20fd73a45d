/**
 * The server hands the lease of the lock a request holds to every store write made under it
 * (`AppendOptions.lease`, `UpdateOptions.lease`), so that a store shared by several instances can
 * refuse a stale holder. The memory store checks no lease, so these tests wrap it in a store that
 * does, and use a locker whose leases can be declared lost.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createMemoryLocker } from '../../src/lock/memory.ts'
import type { Locker } from '../../src/lock/types.ts'
import { UploadError } from '../../src/protocol/errors.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import type { UploadStore } from '../../src/store/types.ts'
import { harness } from '../support/harness.ts'

interface LeaseLocker extends Locker {
  /** Fences handed out, in order. */
  readonly granted: number[]
  /** When true, every lease is gone: check() rejects with ERR_LOCK_LOST. */
  lost: boolean
}

/** The memory locker, with a lease (fence + check) on every lock. */
function leaseLocker(): LeaseLocker {
  const inner = createMemoryLocker()
  let fences = 0
  const locker: LeaseLocker = {
    granted: [],
    lost: false,
    async acquire(id, options) {
      const lock = await inner.acquire(id, options)
      const fence = ++fences
      locker.granted.push(fence)
      let released = false
      return {
        release: () => {
          released = true
          return lock.release()
        },
        lease: {
          fence,
          check: () =>
            locker.lost || released
              ? Promise.reject(new UploadError('ERR_LOCK_LOST'))
              : Promise.resolve(),
        },
      }
    },
  }
  return locker
}

interface Write {
  readonly op: 'append' | 'update'
  readonly fence: number | undefined
}

/** The memory store, checking the lease (when given) before each write, as shared stores do. */
function leaseCheckingStore(): UploadStore & { readonly writes: Write[] } {
  const inner = createMemoryStore()
  const writes: Write[] = []
  return {
    ...inner,
    writes,
    async append(id, offset, body, options) {
      writes.push({ op: 'append', fence: options.lease?.fence })
      await options.lease?.check()
      return inner.append(id, offset, body, options)
    },
    async update(id, changes, options) {
      writes.push({ op: 'update', fence: options?.lease?.fence })
      await options?.lease?.check()
      return inner.update(id, changes, options)
    },
  }
}

const ietf = { 'upload-draft-interop-version': '10' }
const tus = { 'tus-resumable': '1.0.0' }

test('every append and update under a lock carries that lock’s lease', async () => {
  const locker = leaseLocker()
  const store = leaseCheckingStore()
  const h = harness('memory', { store, locker })
  try {
    // Draft: creation with content, then the completing append (append + update).
    const created = await h.request('POST', '/files/', {
      headers: { ...ietf, 'upload-complete': '?0' },
      body: 'hello ',
    })
    assert.equal(created.status, 201, created.body)
    const url = h.path(created.headers.location)
    const done = await h.request('PATCH', url, {
      headers: {
        ...ietf,
        'upload-offset': '6',
        'upload-complete': '?1',
        'content-type': 'application/partial-upload',
      },
      body: 'world',
    })
    assert.ok(done.status >= 200 && done.status < 300, `${done.status} ${done.body}`)

    // tus with a deferred length: the length is declared (update) before the append.
    const deferred = await h.request('POST', '/files/', {
      headers: { ...tus, 'upload-defer-length': '1' },
    })
    assert.equal(deferred.status, 201, deferred.body)
    const patched = await h.request('PATCH', h.path(deferred.headers.location), {
      headers: {
        ...tus,
        'upload-offset': '0',
        'upload-length': '3',
        'content-type': 'application/offset+octet-stream',
      },
      body: 'abc',
    })
    assert.equal(patched.status, 204, patched.body)

    const ops = store.writes.map((w) => w.op)
    assert.ok(ops.includes('append') && ops.includes('update'), ops.join(','))
    for (const w of store.writes) {
      assert.ok(w.fence !== undefined, `${w.op} without the lease`)
      assert.ok(locker.granted.includes(w.fence), `${w.op} with fence ${w.fence}`)
    }
    // Each request's writes carry its own lock's fence: the completing PATCH appends and
    // records completion (and the declared length) under one fence, newer than the creation's.
    const creation = store.writes[0]
    assert.equal(creation?.op, 'append')
    const completing = store.writes.filter(
      (w) => w.fence === locker.granted[locker.granted.indexOf(creation?.fence ?? -1) + 1],
    )
    assert.deepEqual(
      [...new Set(completing.map((w) => w.op))].sort(),
      ['append', 'update'],
      JSON.stringify(store.writes),
    )
  } finally {
    await h.close()
  }
})

test('a lost lease refuses the write: 503 ERR_LOCK_LOST reaches the client, nothing is appended', async () => {
  const locker = leaseLocker()
  const store = leaseCheckingStore()
  const h = harness('memory', { store, locker })
  try {
    const created = await h.request('POST', '/files/', {
      headers: { ...ietf, 'upload-complete': '?0' },
    })
    assert.equal(created.status, 201, created.body)
    const url = h.path(created.headers.location)
    const tusCreated = await h.request('POST', '/files/', {
      headers: { ...tus, 'upload-length': '3' },
    })
    const tusUrl = h.path(tusCreated.headers.location)

    locker.lost = true
    const draft = await h.request('PATCH', url, {
      headers: {
        ...ietf,
        'upload-offset': '0',
        'upload-complete': '?1',
        'content-type': 'application/partial-upload',
      },
      body: 'late',
    })
    assert.equal(draft.status, 503, draft.body)
    assert.equal((JSON.parse(draft.body) as { code?: string }).code, 'ERR_LOCK_LOST')

    const plain = await h.request('PATCH', tusUrl, {
      headers: { ...tus, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      body: 'abc',
    })
    assert.equal(plain.status, 503, plain.body)
    assert.match(plain.body, /lock on this upload was lost/)

    locker.lost = false
    const head = await h.request('HEAD', url, { headers: ietf })
    assert.equal(head.headers['upload-offset'], '0', 'the refused write appended nothing')
    const tusHead = await h.request('HEAD', tusUrl, { headers: tus })
    assert.equal(tusHead.headers['upload-offset'], '0')
  } finally {
    await h.close()
  }
})

test('a locker without leases (the memory locker) changes nothing: writes carry no lease', async () => {
  const store = leaseCheckingStore()
  const h = harness('memory', { store, locker: createMemoryLocker() })
  try {
    const created = await h.request('POST', '/files/', {
      headers: { ...tus, 'upload-length': '3' },
    })
    const r = await h.request('PATCH', h.path(created.headers.location), {
      headers: { ...tus, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      body: 'abc',
    })
    assert.equal(r.status, 204, r.body)
    assert.ok(store.writes.length > 0)
    assert.ok(store.writes.every((w) => w.fence === undefined))
  } finally {
    await h.close()
  }
})
