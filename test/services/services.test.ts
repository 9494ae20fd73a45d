/**
 * The test services are real and usable: the Ceph RADOS Gateway speaks the S3 multipart API the
 * S3 store relies on (with the RGW-specific answers pinned, see scripts/services.mjs), and
 * redis-server does what the Redis locker relies on (SET NX PX, Lua, pub/sub, a restart that
 * clients survive). Also: missing packages give a clear error, and no daemon outlives its parent.
 * These fail, never skip, when radosgw/ceph-mon/ceph-osd/redis-server are missing (see .ci/run).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3'
import { Redis } from 'ioredis'
import { type RedisService, redisService, type S3Service, s3Service } from '../support/services.ts'

const MiB = 2 ** 20
const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex')
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const scriptUrl = new URL('../../scripts/services.mjs', import.meta.url)

/** The S3 error name of a rejected call (fails the test when the call succeeds). */
async function s3ErrorName(call: Promise<unknown>): Promise<string> {
  try {
    await call
  } catch (err) {
    assert.ok(err instanceof S3ServiceException, `not an S3 error: ${String(err)}`)
    return err.name
  }
  assert.fail('the call succeeded')
}

async function bodyBytes(body: { transformToByteArray(): Promise<Uint8Array> } | undefined) {
  assert.ok(body, 'no body')
  return Buffer.from(await body.transformToByteArray())
}

describe('S3: Ceph RADOS Gateway', () => {
  let service: S3Service
  let s3: S3Client
  let Bucket: string

  before(async () => {
    service = await s3Service()
    s3 = new S3Client(service.clientConfig())
    Bucket = await service.createBucket()
  })
  after(() => s3?.destroy())

  test('the service is a loopback endpoint with credentials and a path-style client config', () => {
    assert.match(service.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.equal(service.region, 'us-east-1')
    const config = service.clientConfig()
    assert.equal(config.forcePathStyle, true)
    assert.equal(config.requestChecksumCalculation, 'WHEN_REQUIRED')
    assert.equal(config.responseChecksumValidation, 'WHEN_REQUIRED')
  })

  test('createBucket gives a fresh, empty bucket each time', async () => {
    const other = await service.createBucket()
    assert.notEqual(other, Bucket)
    const { ListObjectsV2Command } = await import('@aws-sdk/client-s3')
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: other }))
    assert.equal(listed.KeyCount ?? 0, 0)
  })

  test('multipart: 5 MiB + 5 MiB + 1 MiB (the last streamed), ListParts, Complete, ranged GET, HEAD', async () => {
    const Key = 'objects/multi.bin'
    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(MiB)]
    const whole = Buffer.concat(parts)
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }))
    assert.ok(UploadId)
    const etags: string[] = []
    for (const [i, part] of parts.entries()) {
      // The last part as a stream with a known length, as the S3 store sends appends.
      const Body =
        i === 2 ? Readable.from([part.subarray(0, MiB / 2), part.subarray(MiB / 2)]) : part
      const r = await s3.send(
        new UploadPartCommand({
          Bucket,
          Key,
          UploadId,
          PartNumber: i + 1,
          Body,
          ContentLength: part.length,
        }),
      )
      assert.ok(r.ETag)
      etags.push(r.ETag)
    }
    // AWS S3 API: ListParts returns the parts uploaded so far with their sizes.
    const listed = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId }))
    assert.deepEqual(
      listed.Parts?.map((p) => [p.PartNumber, p.Size, p.ETag]),
      parts.map((p, i) => [i + 1, p.length, etags[i]]),
    )
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }),
    )
    // A range across the first part boundary (AWS S3 API: GetObject, Range; RFC 9110 §14.1.2).
    const from = 5 * MiB - 1000
    const to = 5 * MiB + 999
    const ranged = await s3.send(
      new GetObjectCommand({ Bucket, Key, Range: `bytes=${from}-${to}` }),
    )
    assert.equal(ranged.ContentRange, `bytes ${from}-${to}/${whole.length}`)
    assert.equal(sha256(await bodyBytes(ranged.Body)), sha256(whole.subarray(from, to + 1)))
    const full = await s3.send(new GetObjectCommand({ Bucket, Key }))
    assert.equal(sha256(await bodyBytes(full.Body)), sha256(whole))
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key }))
    assert.equal(head.ContentLength, whole.length)
    // The multipart ETag: "<hex>-<number of parts>".
    assert.match(head.ETag ?? '', /^"[0-9a-f]{32}-3"$/)
  })

  test('UploadPartCopy: a part copied from a byte range of an object, then a last part', async () => {
    const source = randomBytes(6 * MiB)
    await s3.send(new PutObjectCommand({ Bucket, Key: 'objects/source.bin', Body: source }))
    const Key = 'objects/copied.bin'
    const tailPart = randomBytes(1234)
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }))
    // AWS S3 API: UploadPartCopy, x-amz-copy-source-range bytes=first-last (inclusive).
    const copied = await s3.send(
      new UploadPartCopyCommand({
        Bucket,
        Key,
        UploadId,
        PartNumber: 1,
        CopySource: `${Bucket}/objects/source.bin`,
        CopySourceRange: `bytes=${MiB}-${6 * MiB - 1}`,
      }),
    )
    const copyEtag = copied.CopyPartResult?.ETag
    assert.ok(copyEtag)
    const last = await s3.send(
      new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 2, Body: tailPart }),
    )
    const listed = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId }))
    assert.deepEqual(
      listed.Parts?.map((p) => p.Size),
      [5 * MiB, tailPart.length],
    )
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: copyEtag },
            { PartNumber: 2, ETag: last.ETag ?? '' },
          ],
        },
      }),
    )
    const got = await s3.send(new GetObjectCommand({ Bucket, Key }))
    const expected = Buffer.concat([source.subarray(MiB), tailPart])
    assert.equal(sha256(await bodyBytes(got.Body)), sha256(expected))
  })

  test('AbortMultipartUpload: the upload and its parts are gone', async () => {
    const Key = 'objects/aborted.bin'
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }))
    await s3.send(
      new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: randomBytes(MiB) }),
    )
    await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }))
    // AWS S3 API: ListParts and UploadPart on an aborted upload → NoSuchUpload; RGW 16 answers
    // ListParts with NoSuchKey (scripts/services.mjs lists these differences).
    const listName = await s3ErrorName(s3.send(new ListPartsCommand({ Bucket, Key, UploadId })))
    assert.ok(['NoSuchUpload', 'NoSuchKey'].includes(listName), listName)
    const partName = await s3ErrorName(
      s3.send(
        new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 2, Body: randomBytes(10) }),
      ),
    )
    assert.equal(partName, 'NoSuchUpload')
    await assert.rejects(s3.send(new HeadObjectCommand({ Bucket, Key })), { name: 'NotFound' })
  })

  test('a part under 5 MiB that is not the last: EntityTooSmall at completion', async () => {
    const Key = 'objects/too-small.bin'
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }))
    const etags: string[] = []
    for (const PartNumber of [1, 2]) {
      // AWS S3 API: UploadPart accepts any size; the 5 MiB minimum is checked at completion.
      const r = await s3.send(
        new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: randomBytes(MiB) }),
      )
      etags.push(r.ETag ?? '')
    }
    const name = await s3ErrorName(
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
        }),
      ),
    )
    assert.equal(name, 'EntityTooSmall')
    await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }))
  })
})

describe('Redis: redis-server', () => {
  let shared: RedisService
  const clients: Redis[] = []
  const connect = (url: string): Redis => {
    const client = new Redis(url, { maxRetriesPerRequest: 3, retryStrategy: () => 50 })
    clients.push(client)
    return client
  }
  before(async () => {
    shared = await redisService()
  })
  after(() => {
    for (const c of clients) c.disconnect()
  })

  test('SET NX PX acquires once; compare-and-delete releases only with the owner token', async () => {
    const r = connect(shared.url)
    const key = `lock:${randomBytes(8).toString('hex')}`
    // Redis docs: SET key value NX PX ms answers OK or nil; the lock pattern.
    assert.equal(await r.set(key, 'owner-a', 'PX', 30_000, 'NX'), 'OK')
    assert.equal(await r.set(key, 'owner-b', 'PX', 30_000, 'NX'), null)
    const pttl = await r.pttl(key)
    assert.ok(pttl > 0 && pttl <= 30_000, String(pttl))
    const release =
      "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
    assert.equal(await r.eval(release, 1, key, 'owner-b'), 0)
    assert.equal(await r.get(key), 'owner-a')
    assert.equal(await r.eval(release, 1, key, 'owner-a'), 1)
    assert.equal(await r.get(key), null)
    assert.equal(await r.set(key, 'owner-b', 'PX', 30_000, 'NX'), 'OK')
    await r.del(key)
  })

  test('PUBLISH on one connection reaches a SUBSCRIBE on another', async () => {
    const subscriber = connect(shared.url)
    const publisher = connect(shared.url)
    const channel = `release:${randomBytes(8).toString('hex')}`
    const received = new Promise<[string, string]>((resolve) => {
      subscriber.on('message', (ch: string, message: string) => resolve([ch, message]))
    })
    await subscriber.subscribe(channel)
    assert.equal(await publisher.publish(channel, 'please let go'), 1)
    assert.deepEqual(await received, [channel, 'please let go'])
  })

  test('a private redis-server stops and starts again on its port; clients reconnect', async () => {
    const own = await redisService({ private: true })
    try {
      assert.notEqual(own.port, shared.port)
      assert.equal(own.url, `redis://127.0.0.1:${own.port}`)
      const r = connect(own.url)
      await r.set('before-restart', '1')
      await own.stop()
      // Down: a command fails (after the client's own retries), it is not queued forever.
      await assert.rejects(
        new Redis(own.port, '127.0.0.1', {
          lazyConnect: true,
          retryStrategy: () => null,
        }).connect(),
      )
      await own.start()
      // The same client, reconnected by itself; the data is gone (no persistence): a new process.
      assert.equal(await r.ping(), 'PONG')
      assert.equal(await r.get('before-restart'), null)
      await r.set('after-restart', '1')
      assert.equal(await r.get('after-restart'), '1')
    } finally {
      await own.close()
    }
    await assert.rejects(own.start(), /stopped for good/)
  })

  test('the shared instance refuses stop/start', async () => {
    await assert.rejects(shared.stop(), /private: true/)
    await assert.rejects(shared.start(), /private: true/)
  })
})

describe('scripts/services.mjs', () => {
  /** Runs a small ESM program in a child node; resolves with its output and exit. */
  const node = (source: string, env: NodeJS.ProcessEnv = process.env) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', source], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString()
    })
    const exited = new Promise<number | null>((resolve) =>
      child.on('close', (code) => resolve(code)),
    )
    return { child, output: () => out, exited }
  }

  test('missing binaries: an error naming the packages and .ci/run', async () => {
    const run = node(
      `const m = await import(${JSON.stringify(scriptUrl.href)})
       for (const start of [m.startRgw, m.startRedis]) {
         try { await start(); console.log('started?!') } catch (e) { console.log(e.message) }
       }`,
      { ...process.env, PATH: '/nonexistent' },
    )
    assert.equal(await run.exited, 0, run.output())
    const [rgw = '', redis = ''] = run.output().trim().split('\n')
    assert.match(rgw, /missing: ceph-mon, ceph-osd, radosgw/)
    assert.match(rgw, /apt-get install --no-install-recommends radosgw ceph-mon ceph-osd/)
    assert.match(rgw, /see \.ci\/run/)
    assert.match(redis, /redis-server/)
    assert.match(redis, /see \.ci\/run/)
  })

  // A parent killed by SIGKILL cannot remove the daemon's directory: keep them all in one place.
  let scratch = ''
  before(() => {
    scratch = mkdtempSync(join(tmpdir(), 'ferry-services-test-'))
  })
  after(() => rmSync(scratch, { recursive: true, force: true }))

  for (const how of ['exit', 'SIGTERM', 'SIGKILL'] as const) {
    test(`no daemon outlives its parent (parent ends by ${how})`, async () => {
      const run = node(
        `const m = await import(${JSON.stringify(scriptUrl.href)})
         const r = await m.startRedis({ dir: ${JSON.stringify(scratch)} })
         console.log('pid ' + r.pid)
         // Alive until told: the event loop then ends and the process exits by itself.
         process.stdin.once('data', () => process.stdin.destroy())`,
      )
      let pid = 0
      while (pid === 0) {
        const match = /pid (\d+)/.exec(run.output())
        if (match?.[1]) pid = Number(match[1])
        else if (run.child.exitCode !== null) assert.fail(`the child ended: ${run.output()}`)
        else await sleep(20)
      }
      assert.ok(alive(pid), 'redis-server runs')
      if (how === 'exit') run.child.stdin.end('go\n')
      else run.child.kill(how)
      await run.exited
      const deadline = Date.now() + 20_000
      while (alive(pid) && Date.now() < deadline) await sleep(50)
      assert.equal(alive(pid), false, `redis-server ${pid} still runs after its parent ended`)
    })
  }
})

/** A process that runs (a zombie waiting to be reaped has an empty command line). */
function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').length > 0
  } catch {
    return false
  }
}
