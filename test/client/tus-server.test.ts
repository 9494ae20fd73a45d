/**
 * The client in tus mode against a server no one here wrote: @tus/server 2.4.5 with
 * @tus/file-store (bench/servers/tus-server.mjs, in a child process). Bytes are verified on
 * disk: the file-store keeps each upload in a file named by its id (the URL's last segment).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import {
  clearDiscoveryCache,
  fileSource,
  memoryStorage,
  type NodeTransport,
  nodeTransport,
  readableSource,
  upload,
} from '../../src/client/node/index.ts'
import { tempDir } from '../support/servers.ts'
import { MiB, sha256, startTusServer, type TusServer, traceOf } from './support.ts'

let peer: TusServer
let transport: NodeTransport
const dir = tempDir('ferry-client-tus-')

before(async () => {
  peer = await startTusServer()
  transport = nodeTransport({ proxy: null })
})
after(async () => {
  transport.close()
  await peer.stop()
  dir.cleanup()
})

function onDisk(url: string): Buffer {
  const id = new URL(url).pathname.split('/').at(-1) ?? ''
  return readFileSync(join(peer.dir, id))
}

describe('client → @tus/server 2.4.5 (tus mode)', () => {
  for (const size of [0, 1, 5 * MiB]) {
    for (const chunkSize of [undefined, 2 * MiB]) {
      test(`${size} B ${chunkSize === undefined ? 'unchunked' : 'chunked'}, auto-discovered`, async () => {
        clearDiscoveryCache()
        const bytes = randomBytes(size)
        const path = join(dir.path, `p-${size}-${chunkSize ?? 0}`)
        writeFileSync(path, bytes)
        const up = upload(fileSource(path), {
          endpoint: peer.endpoint,
          transport,
          storage: memoryStorage(),
          metadata: { filename: 'p.bin' },
          retries: 0,
          ...(chunkSize === undefined ? {} : { chunkSize }),
        })
        const trace = traceOf(up)
        const result = await up
          .start()
          .done.catch((e: Error) => assert.fail(`${e.message}\n${trace.join('\n')}`))
        assert.equal(result.protocol, 'tus', 'auto picks tus')
        assert.ok(result.url !== undefined)
        const stored = onDisk(result.url)
        assert.equal(stored.length, size)
        assert.equal(sha256(stored), sha256(bytes))
      })
    }
  }

  test('a stream of unknown length (Upload-Defer-Length)', async () => {
    const bytes = randomBytes(3 * MiB + 17)
    const up = upload(
      readableSource(Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)])),
      {
        endpoint: peer.endpoint,
        protocol: 'tus',
        chunkSize: 1 * MiB,
        transport,
        storage: memoryStorage(),
        retries: 0,
      },
    )
    const trace = traceOf(up)
    const result = await up
      .start()
      .done.catch((e: Error) => assert.fail(`${e.message}\n${trace.join('\n')}`))
    assert.ok(trace[0]?.includes('upload-defer-length: 1'), trace.join('\n'))
    assert.equal(sha256(onDisk(result.url ?? '')), sha256(bytes))
  })
})
