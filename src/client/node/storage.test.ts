/** The file-backed URL storage: atomic rewrites, expiry, a corrupt file, the default path. */
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { defaultStatePath, fileUrlStorage } from './storage.ts'

const dir = mkdtempSync(join(tmpdir(), 'ferry-storage-'))
after(() => rmSync(dir, { recursive: true, force: true }))

describe('client file storage', () => {
  test('save / find / remove through atomic renames; no temporary files left', async () => {
    const path = join(dir, 'sub', 'uploads.json')
    const s = fileUrlStorage(path)
    await Promise.all([
      s.save({ fingerprint: 'a', url: 'http://h/a', protocol: 'ietf-10', createdAt: 1 }),
      s.save({ fingerprint: 'b', url: 'http://h/b', protocol: 'tus', size: 5, createdAt: 2 }),
    ])
    assert.deepEqual(Object.keys(JSON.parse(readFileSync(path, 'utf8')).uploads).sort(), ['a', 'b'])
    assert.equal((await fileUrlStorage(path).find('b'))?.size, 5, 'another instance reads the file')
    await s.remove('a')
    assert.equal(await s.find('a'), undefined)
    assert.deepEqual(readdirSync(join(dir, 'sub')), ['uploads.json'])
  })

  test('expired entries are dropped; a corrupt file is replaced', async () => {
    let now = 1000
    const path = join(dir, 'exp.json')
    const s = fileUrlStorage(path, { now: () => now })
    await s.save({
      fingerprint: 'x',
      url: 'http://h/x',
      protocol: 'tus',
      createdAt: 1,
      expiresAt: 2000,
    })
    now = 2000
    assert.equal(await s.find('x'), undefined)
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')).uploads, {})
    writeFileSync(path, '{oops')
    assert.equal(await s.find('x'), undefined)
    await s.save({ fingerprint: 'y', url: 'http://h/y', protocol: 'tus', createdAt: 1 })
    assert.equal((await s.find('y'))?.url, 'http://h/y')
  })

  test('the default path follows XDG_CONFIG_HOME', () => {
    assert.equal(defaultStatePath({ XDG_CONFIG_HOME: '/x' }), '/x/ferry/uploads.json')
    assert.match(defaultStatePath({}), /\.config\/ferry\/uploads\.json$/)
  })
})
