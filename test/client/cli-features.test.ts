/**
 * `ferry upload --parallel N`, `--checksum` and `--digest`, run in process (uploadCommand) with
 * its output captured: the flags reach the wire (--verbose prints every request's fields), the
 * uploads verify by GET, and a server without concatenation is refused with a clear message.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { uploadCommand } from '../../src/cli/upload.ts'
import { type RunningServer, startServer, tempDir } from '../support/servers.ts'
import { download, MiB, randomFile, sha256, startTusServer } from './support.ts'

const dir = tempDir('ferry-client-cli-features-')
let server: RunningServer
let file: { path: string; hash: string }

before(async () => {
  server = await startServer()
  file = await randomFile(dir.path, 3 * MiB + 7)
})
after(async () => {
  await server.close()
  dir.cleanup()
})

let state = 0
/** Runs `ferry upload` in this process; returns its exit code and output. */
async function ferryUpload(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const code = await uploadCommand([...args, '--state', join(dir.path, `state-${++state}.json`)], {
    stdout: (text) => {
      out += text
    },
    stderr: (text) => {
      err += text
    },
  })
  return { code, out, err }
}

const lines = (text: string): Record<string, unknown>[] =>
  text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)

describe('ferry upload: --parallel, --checksum, --digest', () => {
  test('--parallel 3 --json: three parts, one final upload, the bytes by GET', async () => {
    const r = await ferryUpload([file.path, server.endpoint, '--parallel', '3', '--json'])
    assert.equal(r.code, 0, r.err)
    const events = lines(r.out)
    assert.equal(events.filter((e) => e.type === 'part').length, 3, r.out)
    const success = events.find((e) => e.type === 'success')
    assert.equal(success?.size, 3 * MiB + 7)
    assert.equal(success?.protocol, 'tus')
    assert.equal(sha256(await download(String(success?.url))), file.hash)
  })

  test('--checksum sha256 --chunk-size 1MiB: Upload-Checksum on every PATCH', async () => {
    const r = await ferryUpload([
      file.path,
      server.endpoint,
      '--checksum',
      'sha256',
      '--chunk-size',
      '1MiB',
      '--verbose',
    ])
    assert.equal(r.code, 0, r.err)
    assert.equal(r.err.match(/> {3}upload-checksum: sha256 \S+/g)?.length, 4, r.err)
    assert.equal(sha256(await download(r.out.trim())), file.hash)
  })

  test('--digest sha-512 --interop 8: Content-Digest and Repr-Digest on the creation', async () => {
    const r = await ferryUpload([
      file.path,
      server.endpoint,
      '--digest',
      'sha-512',
      '--interop',
      '8',
      '--verbose',
    ])
    assert.equal(r.code, 0, r.err)
    assert.match(r.err, /> {3}repr-digest: sha-512=:[A-Za-z0-9+/=]+:/)
    assert.match(r.err, /> {3}content-digest: sha-512=:[A-Za-z0-9+/=]+:/)
    assert.equal(sha256(await download(r.out.trim())), file.hash)
  })

  test('--parallel against @tus/server: exit 1, concatenation not offered', async () => {
    const peer = await startTusServer()
    try {
      const r = await ferryUpload([file.path, peer.endpoint, '--parallel', '2'])
      assert.equal(r.code, 1)
      assert.match(
        r.err,
        /ferry upload: parallel uploads need tus concatenation, which the server does not offer/,
      )
    } finally {
      await peer.stop()
    }
  })

  test('--checksum with the draft, --digest with tus: usage errors', async () => {
    const a = await ferryUpload([
      file.path,
      server.endpoint,
      '--checksum',
      'sha1',
      '--interop',
      '8',
    ])
    assert.equal(a.code, 2)
    assert.match(a.err, /--checksum is for tus/)
    const b = await ferryUpload([
      file.path,
      server.endpoint,
      '--digest',
      'sha-256',
      '--protocol',
      'tus',
    ])
    assert.equal(b.code, 2)
    assert.match(b.err, /--digest is for the IETF draft/)
  })
})
