/**
 * The S3 store against a real S3 implementation (Ceph RADOS Gateway, test/support/services.ts):
 * the shared store contract suite, then what is particular to S3 — constant part sizes, the
 * requests an append costs, Unicode metadata, the memory budget, lease fences, termination,
 * concatenation, and a gateway that fails mid-part.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import type { Lease } from '../../src/lock/types.ts'
import { parseContentDispositionFilename } from '../../src/protocol/codec/content-disposition.ts'
import { isUploadError, UploadError } from '../../src/protocol/errors.ts'
import { createS3Store, type S3Store, type S3StoreOptions } from '../../src/stores/s3/index.ts'
import { loadSdk } from '../../src/stores/s3/sdk.ts'
import { describeStore } from '../../src/testing/store-suite.ts'
import { startFaultProxy } from '../support/fault-proxy.ts'
import { s3 } from './s3-service.ts'

const MiB = 1024 * 1024
const PART = 5 * MiB
const never = new AbortController().signal

/** A store on a fresh bucket of the test gateway (5 MiB parts: the S3 minimum). */
async function freshStore(options: Partial<S3StoreOptions> = {}): Promise<S3Store> {
  const service = await s3()
  return createS3Store({
    bucket: await service.createBucket(),
    clientConfig: service.clientConfig(),
    partSize: PART,
    ...options,
  })
}

async function* pieces(data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < data.byteLength; at += size) yield data.subarray(at, at + size)
}

async function readAll(store: S3Store, id: string): Promise<Buffer> {
  const out: Uint8Array[] = []
  for await (const c of store.read?.(id) ?? []) out.push(c)
  return Buffer.concat(out)
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** S3 requests sent by a client, by command name (an SDK middleware; retries not counted). */
function countRequests(client: S3Client): { calls: string[] } {
  const counter = { calls: [] as string[] }
  client.middlewareStack.add(
    (next, context) => async (args) => {
      counter.calls.push(String(context.commandName))
      return next(args)
    },
    { step: 'initialize', name: 'ferryRequestCounter' },
  )
  return counter
}

describeStore('s3', { create: () => freshStore() })

test('s3 store: every non-final part has exactly partSize, whatever the append sizes', async () => {
  const store = await freshStore()
  const data = randomBytes(3 * PART + 12345)
  const { id } = await store.create({})
  // Appends that never align with parts: 3 MiB + 1, 4 MiB - 7, then the rest in 1 MiB + 3 pieces.
  const cuts = [3 * MiB + 1, 7 * MiB - 6, data.byteLength]
  let offset = 0
  for (const end of cuts) {
    offset = await store.append(id, offset, pieces(data.subarray(offset, end), MiB + 3), {
      signal: never,
    })
    assert.equal(offset, end)
  }
  const client = await store.client()
  const manifest = JSON.parse(
    (await (
      await client.send(new GetObjectCommand({ Bucket: store.bucket, Key: store.key(id, 'info') }))
    ).Body?.transformToString()) ?? '{}',
  ) as { uploadId: string; parts: unknown[]; pendingSize: number }
  const listed = await client.send(
    new ListPartsCommand({
      Bucket: store.bucket,
      Key: store.key(id, 'data'),
      UploadId: manifest.uploadId,
    }),
  )
  assert.deepEqual(
    listed.Parts?.map((p) => [p.PartNumber, p.Size]),
    [
      [1, PART],
      [2, PART],
      [3, PART],
    ],
  )
  assert.equal(manifest.pendingSize, 12345)
  await store.update(id, { complete: true, length: data.byteLength })
  assert.equal((await store.get(id))?.complete, true)
  assert.equal(sha(await readAll(store, id)), sha(data))
  const head = await client.send(
    new HeadObjectCommand({ Bucket: store.bucket, Key: store.key(id, 'data') }),
  )
  assert.equal(head.ContentLength, data.byteLength)
})

test('s3 store: a 3-byte append costs a bounded number of S3 requests (no ListParts)', async (t) => {
  const store = await freshStore()
  const counter = countRequests(await store.client())
  const { id } = await store.create({})
  counter.calls.length = 0
  await store.append(id, 0, pieces(Buffer.from('abc'), 3), { signal: never })
  const first = [...counter.calls]
  counter.calls.length = 0
  await store.append(id, 3, pieces(Buffer.from('def'), 3), { signal: never })
  const second = [...counter.calls]
  t.diagnostic(`first 3-byte append: ${first.length} requests (${first.join(', ')})`)
  t.diagnostic(
    `3-byte append after a pending tail: ${second.length} requests (${second.join(', ')})`,
  )
  // GetObject(manifest), PutObject(pending), PutObject(manifest) ...
  assert.deepEqual(first, ['GetObjectCommand', 'PutObjectCommand', 'PutObjectCommand'])
  // ... plus GetObject(pending) once there is a tail to join.
  assert.deepEqual(second, [
    'GetObjectCommand',
    'GetObjectCommand',
    'PutObjectCommand',
    'PutObjectCommand',
  ])
  assert.ok(!counter.calls.includes('ListPartsCommand'))
  assert.equal((await readAll(store, id)).toString(), 'abcdef')
})

test('s3 store: any Unicode filename survives (manifest JSON, RFC 8187 Content-Disposition)', async () => {
  const store = await freshStore()
  const name = 'Ünïcödé 日本語 ファイル "quoted" 😀 ; = %20.txt'
  const meta = [
    { key: 'filename', value: Buffer.from(name).toString('base64') },
    { key: 'filetype', value: Buffer.from('text/plain').toString('base64') },
    { key: 'emoji', value: Buffer.from('🚀').toString('base64') },
  ]
  const { id } = await store.create({ length: 2, completesAtLength: true, metadata: meta })
  await store.append(id, 0, pieces(Buffer.from('hi'), 2), { signal: never })
  const info = await store.get(id)
  assert.equal(info?.complete, true)
  assert.deepEqual(info?.metadata, meta)
  const head = await (await store.client()).send(
    new HeadObjectCommand({ Bucket: store.bucket, Key: store.key(id, 'data') }),
  )
  assert.equal(head.ContentType, 'text/plain')
  assert.equal(parseContentDispositionFilename(head.ContentDisposition ?? ''), name)
  // The draft's filename (Content-Disposition at creation) too, on a multipart upload.
  const big = randomBytes(PART + 10)
  const draft = await store.create({
    filename: 'résumé – 履歴書.pdf',
    contentType: 'application/pdf',
  })
  await store.append(draft.id, 0, pieces(big, MiB), { signal: never })
  await store.update(draft.id, { complete: true, length: big.byteLength })
  const head2 = await (await store.client()).send(
    new HeadObjectCommand({ Bucket: store.bucket, Key: store.key(draft.id, 'data') }),
  )
  assert.equal(head2.ContentType, 'application/pdf')
  assert.equal(
    parseContentDispositionFilename(head2.ContentDisposition ?? ''),
    'résumé – 履歴書.pdf',
  )
  assert.equal(sha(await readAll(store, draft.id)), sha(big))
})

test('s3 store: with a budget of one part, two concurrent appends wait for each other and both complete', async () => {
  const store = await freshStore({ memoryBudgetBytes: PART })
  const a = randomBytes(2 * PART + 100)
  const b = randomBytes(2 * PART + 200)
  const ua = await store.create({})
  const ub = await store.create({})
  let peak = 0
  const watch = setInterval(() => {
    peak = Math.max(peak, store.budget.used)
  }, 5)
  try {
    const [oa, ob] = await Promise.all([
      store.append(ua.id, 0, pieces(a, 256 * 1024), { signal: never }),
      store.append(ub.id, 0, pieces(b, 256 * 1024), { signal: never }),
    ])
    assert.equal(oa, a.byteLength)
    assert.equal(ob, b.byteLength)
  } finally {
    clearInterval(watch)
  }
  assert.ok(peak <= PART, `peak reservation ${peak}`)
  assert.equal(store.budget.used, 0, 'every reservation is returned')
  assert.equal(sha(await readAll(store, ua.id)), sha(a))
  assert.equal(sha(await readAll(store, ub.id)), sha(b))
})

test('s3 store: a lower lease fence than the recorded one is refused (ERR_LOCK_LOST)', async () => {
  const store = await freshStore()
  const lease = (fence: number, alive = true): Lease => ({
    fence,
    check: async () => {
      if (!alive) throw new UploadError('ERR_LOCK_LOST')
    },
  })
  const lost = (e: unknown): boolean => isUploadError(e) && e.code === 'ERR_LOCK_LOST'
  const { id } = await store.create({})
  assert.equal(
    await store.append(id, 0, pieces(Buffer.from('abc'), 3), { signal: never, lease: lease(7) }),
    3,
  )
  await assert.rejects(
    store.append(id, 3, pieces(Buffer.from('zz'), 2), { signal: never, lease: lease(6) }),
    lost,
  )
  await assert.rejects(store.update(id, { length: 3 }, { lease: lease(2) }), lost)
  // A lease that is gone (check rejects) commits nothing either.
  await assert.rejects(
    store.append(id, 3, pieces(Buffer.from('zz'), 2), { signal: never, lease: lease(8, false) }),
    lost,
  )
  assert.equal((await store.get(id))?.offset, 3)
  assert.equal((await store.get(id))?.length, undefined)
  assert.equal(
    await store.append(id, 3, pieces(Buffer.from('de'), 2), { signal: never, lease: lease(8) }),
    5,
  )
  assert.equal((await readAll(store, id)).toString(), 'abcde')
})

test('s3 store: terminate leaves no object and no multipart upload behind', async () => {
  const store = await freshStore()
  const client = await store.client()
  const { id } = await store.create({})
  // Two parts and a pending tail: a live multipart upload plus pending objects.
  const data = randomBytes(2 * PART + 77)
  await store.append(id, 0, pieces(data, MiB), { signal: never })
  await store.append(id, data.byteLength, pieces(Buffer.from('tail'), 4), { signal: never })
  const before = await client.send(new ListMultipartUploadsCommand({ Bucket: store.bucket }))
  assert.equal(before.Uploads?.length, 1)
  await store.terminate?.(id)
  assert.equal(await store.get(id), undefined)
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: store.bucket }))
  assert.equal(uploads.Uploads?.length ?? 0, 0)
  const objects = await client.send(new ListObjectsV2Command({ Bucket: store.bucket }))
  assert.deepEqual(objects.Contents?.map((o) => o.Key) ?? [], [])
})

test('s3 store: concatenation of partials of 6 MiB, 1 MiB and 7 MiB (UploadPartCopy and streamed parts)', async () => {
  const store = await freshStore()
  const counter = countRequests(await store.client())
  const sizes = [6 * MiB, MiB + 5, 7 * MiB + 3]
  const datas = sizes.map((n) => randomBytes(n))
  const ids: string[] = []
  for (const data of datas) {
    const p = await store.create({
      length: data.byteLength,
      concat: { kind: 'partial' },
      completesAtLength: true,
    })
    await store.append(p.id, 0, pieces(data, MiB), { signal: never })
    assert.equal((await store.get(p.id))?.complete, true)
    ids.push(p.id)
  }
  const final = await store.create({ concat: { kind: 'final', parts: ids, header: 'final;x' } })
  counter.calls.length = 0
  const done = await store.concatenate?.(final.id)
  const total = sizes.reduce((a, b) => a + b, 0)
  assert.equal(done?.complete, true)
  assert.equal(done?.offset, total)
  assert.ok(counter.calls.includes('UploadPartCopyCommand'), counter.calls.join(', '))
  assert.ok(counter.calls.includes('UploadPartCommand'), counter.calls.join(', '))
  for (const p of ids) await store.terminate?.(p)
  assert.equal(sha(await readAll(store, final.id)), sha(Buffer.concat(datas)))
  const range: Uint8Array[] = []
  for await (const c of store.read?.(final.id, { start: 6 * MiB - 2, end: 6 * MiB + 3 }) ?? [])
    range.push(c)
  assert.deepEqual(Buffer.concat(range), Buffer.concat(datas).subarray(6 * MiB - 2, 6 * MiB + 3))
})

test('s3 store: a rejected verified append leaves nothing, also when it spanned parts', async () => {
  const store = await freshStore()
  const { id } = await store.create({})
  await store.append(id, 0, pieces(Buffer.from('head'), 4), { signal: never })
  const body = randomBytes(2 * PART + 9)
  assert.equal(
    await store.append(id, 4, pieces(body, MiB), { signal: never, verify: () => false }),
    4,
  )
  assert.equal((await store.get(id))?.offset, 4)
  const other = randomBytes(PART + 3)
  assert.equal(
    await store.append(id, 4, pieces(other, MiB), { signal: never, verify: async () => true }),
    4 + other.byteLength,
  )
  await store.update(id, { complete: true, length: 4 + other.byteLength })
  assert.equal(sha(await readAll(store, id)), sha(Buffer.concat([Buffer.from('head'), other])))
})

test('s3 store: reading an incomplete multipart upload, then appending more (seal and reopen)', async () => {
  const store = await freshStore()
  const a = randomBytes(PART + 1000)
  const b = randomBytes(PART + 2000)
  const { id } = await store.create({
    length: a.byteLength + b.byteLength,
    completesAtLength: true,
  })
  await store.append(id, 0, pieces(a, MiB), { signal: never })
  assert.equal(sha(await readAll(store, id)), sha(a))
  assert.equal(
    await store.append(id, a.byteLength, pieces(b, MiB), { signal: never }),
    a.byteLength + b.byteLength,
  )
  assert.equal((await store.get(id))?.complete, true)
  assert.equal(sha(await readAll(store, id)), sha(Buffer.concat([a, b])))
})

test('s3 store: 0-byte uploads and a known length beyond 10,000 parts', async () => {
  const store = await freshStore()
  const empty = await store.create({ length: 0, completesAtLength: true })
  await store.update(empty.id, { length: 0 })
  assert.equal((await store.get(empty.id))?.complete, true)
  assert.equal((await readAll(store, empty.id)).byteLength, 0)
  const head = await (await store.client()).send(
    new HeadObjectCommand({ Bucket: store.bucket, Key: store.key(empty.id, 'data') }),
  )
  assert.equal(head.ContentLength, 0)
  // 10,000 parts of 5 MiB cannot hold 60 GB: the upload gets larger (constant) parts.
  const huge = await store.create({ length: 60e9 })
  const manifest = JSON.parse(
    (await (
      await (
        await store.client()
      ).send(new GetObjectCommand({ Bucket: store.bucket, Key: store.key(huge.id, 'info') }))
    ).Body?.transformToString()) ?? '{}',
  ) as { partSize: number }
  assert.ok(manifest.partSize * 10_000 >= 60e9)
  assert.equal(manifest.partSize % MiB, 0)
})

test('s3 store: a gateway that breaks mid-part gives ERR_STORE_UNAVAILABLE; the offset stays at the last acknowledged byte', async () => {
  const service = await s3()
  const bucket = await service.createBucket()
  const target = new URL(service.endpoint)
  const direct = createS3Store({ bucket, clientConfig: service.clientConfig(), partSize: PART })
  const first = randomBytes(PART + 100)
  const { id } = await direct.create({})
  assert.equal(await direct.append(id, 0, pieces(first, MiB), { signal: never }), first.byteLength)
  // Every connection through the proxy is cut after 1 MiB upstream: small requests pass,
  // every attempt at a 5 MiB part (the SDK retries) breaks.
  const proxy = await startFaultProxy({
    target: { host: target.hostname, port: Number(target.port) },
    cutAfterBytes: MiB,
    cuts: 1000,
  })
  try {
    const broken = createS3Store({
      bucket,
      clientConfig: { ...service.clientConfig(), endpoint: `http://127.0.0.1:${proxy.port}` },
      partSize: PART,
      requestTimeoutMs: 20_000,
    })
    const more = randomBytes(2 * PART)
    await assert.rejects(
      broken.append(id, first.byteLength, pieces(more, MiB), { signal: never }),
      (e: unknown) => isUploadError(e) && e.code === 'ERR_STORE_UNAVAILABLE' && e.status === 503,
    )
    // Part 1 (the first 5 MiB) was acknowledged before; nothing after it was.
    const info = await direct.get(id)
    assert.equal(info?.offset, first.byteLength)
    assert.equal(sha(await readAll(direct, id)), sha(first))
  } finally {
    await proxy.close()
  }
})

test('s3 store: a gateway that stalls mid-part gives ERR_STORE_UNAVAILABLE after the request time limit', async () => {
  const service = await s3()
  const bucket = await service.createBucket()
  const target = new URL(service.endpoint)
  // Upstream throttled to 64 KiB/s: a manifest passes, a 5 MiB part would take 80 s.
  const proxy = await startFaultProxy({
    target: { host: target.hostname, port: Number(target.port) },
    bytesPerSecond: 64 * 1024,
  })
  try {
    const slow = createS3Store({
      bucket,
      clientConfig: { ...service.clientConfig(), endpoint: `http://127.0.0.1:${proxy.port}` },
      partSize: PART,
      requestTimeoutMs: 3000,
    })
    const { id } = await slow.create({})
    await assert.rejects(
      slow.append(id, 0, pieces(randomBytes(PART + 1), MiB), { signal: never }),
      (e: unknown) => isUploadError(e) && e.code === 'ERR_STORE_UNAVAILABLE',
    )
    assert.equal((await slow.get(id))?.offset, 0)
  } finally {
    await proxy.close()
  }
})

test('s3 store: with a buffer directory, parts gather in files that are gone afterwards', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-s3-buffer-'))
  try {
    const store = await freshStore({ bufferDirectory: dir })
    const data = randomBytes(2 * PART + 4321)
    const { id } = await store.create({ length: data.byteLength + 3, completesAtLength: true })
    assert.equal(
      await store.append(id, 0, pieces(data, MiB - 1), { signal: never }),
      data.byteLength,
    )
    assert.deepEqual(readdirSync(dir), [])
    await store.append(id, data.byteLength, pieces(Buffer.from('end'), 3), { signal: never })
    assert.deepEqual(readdirSync(dir), [])
    assert.equal((await store.get(id))?.complete, true)
    assert.equal(sha(await readAll(store, id)), sha(Buffer.concat([data, Buffer.from('end')])))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('s3 store: progress while a part fills reports durable offsets (the tail is persisted)', async () => {
  const store = await freshStore()
  const { id } = await store.create({})
  const seen: number[] = []
  const data = randomBytes(3 * MiB)
  async function* slow(): AsyncGenerator<Uint8Array> {
    for (let at = 0; at < data.byteLength; at += MiB) {
      yield data.subarray(at, at + MiB)
      // A durable offset was reported for what came before this chunk.
      if (at > 0) assert.ok(seen.length > 0)
    }
  }
  const end = await store.append(id, 0, slow(), {
    signal: never,
    progressIntervalMs: 0,
    onProgress: (o) => seen.push(o),
  })
  assert.equal(end, data.byteLength)
  assert.deepEqual(seen, [MiB, 2 * MiB, 3 * MiB])
  assert.equal(sha(await readAll(store, id)), sha(data))
})

test('s3 store ping (readiness): the bucket answers; a missing bucket and an unreachable gateway are ERR_STORE_UNAVAILABLE', async () => {
  const service = await s3()
  await (await freshStore()).ping?.()
  const unavailable = (e: unknown) => isUploadError(e) && e.code === 'ERR_STORE_UNAVAILABLE'
  const missing = createS3Store({
    bucket: `no-such-bucket-${Date.now()}`,
    clientConfig: service.clientConfig(),
    partSize: PART,
  })
  await assert.rejects(missing.ping?.() ?? Promise.resolve(), unavailable)
  const unreachable = createS3Store({
    bucket: 'x',
    // A port nothing listens on (below the ephemeral range, env.md), one attempt.
    clientConfig: { ...service.clientConfig(), endpoint: 'http://127.0.0.1:9', maxAttempts: 1 },
    partSize: PART,
  })
  await assert.rejects(unreachable.ping?.() ?? Promise.resolve(), unavailable)
})

test('s3 store: a missing SDK is a configuration error that says what to install', async () => {
  await assert.rejects(
    loadSdk('@aws-sdk/no-such-client-for-ferry'),
    (e: unknown) =>
      isUploadError(e) &&
      e.code === 'ERR_INVALID_CONFIG' &&
      /npm install @aws-sdk\/client-s3/.test(e.message),
  )
  assert.throws(
    () => createS3Store({ bucket: 'x', partSize: MiB }),
    (e: unknown) => isUploadError(e) && e.code === 'ERR_INVALID_CONFIG',
  )
})

export type { S3Client }
