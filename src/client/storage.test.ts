/** URL storages in memory and in (a fake) localStorage: expiry, sweeping, quota. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  localStorageStorage,
  memoryStorage,
  type StoredUpload,
  type WebStorageLike,
} from './storage.ts'

const entry = (fingerprint: string, expiresAt?: number): StoredUpload => ({
  fingerprint,
  url: `http://h/files/${fingerprint}`,
  protocol: 'tus',
  size: 10,
  createdAt: 1,
  ...(expiresAt === undefined ? {} : { expiresAt }),
})

class FakeStorage implements WebStorageLike {
  readonly map = new Map<string, string>()
  full = false
  getItem(k: string): string | null {
    return this.map.get(k) ?? null
  }
  setItem(k: string, v: string): void {
    if (this.full) throw new Error('QuotaExceededError')
    this.map.set(k, v)
  }
  removeItem(k: string): void {
    this.map.delete(k)
  }
  get length(): number {
    return this.map.size
  }
  key(i: number): string | null {
    return [...this.map.keys()][i] ?? null
  }
}

describe('client URL storage', () => {
  test('memory: save, find, remove; expired entries are dropped when read', async () => {
    let now = 100
    const s = memoryStorage(() => now)
    await s.save(entry('a', 200))
    await s.save(entry('b'))
    assert.equal((await s.find('a'))?.url, 'http://h/files/a')
    now = 200
    assert.equal(await s.find('a'), undefined)
    assert.equal(s.entries.has('a'), false)
    assert.equal((await s.find('b'))?.protocol, 'tus')
    await s.remove('b')
    assert.equal(await s.find('b'), undefined)
  })

  test('localStorage: prefixed JSON entries, expired ones swept on save, quota errors ignored', async () => {
    let now = 100
    const fake = new FakeStorage()
    fake.setItem('other', 'x')
    const s = localStorageStorage({ storage: fake, now: () => now })
    await s.save(entry('a', 150))
    assert.deepEqual(JSON.parse(fake.getItem('ferry::a') ?? ''), entry('a', 150))
    fake.setItem('ferry::junk', '{not json')
    now = 160
    await s.save(entry('b'))
    assert.deepEqual([...fake.map.keys()].sort(), ['ferry::b', 'other'])
    fake.full = true
    await s.save(entry('c'))
    assert.equal(await s.find('c'), undefined)
    await s.remove('b')
    assert.equal(await s.find('b'), undefined)
    const none = localStorageStorage({ storage: undefined as unknown as WebStorageLike })
    assert.equal(await none.find('a'), undefined, 'no localStorage: a no-op')
  })
})
