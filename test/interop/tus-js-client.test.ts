/**
 * Interoperability: tus-js-client 4.3.1 (Node) against a real `ferry serve` process, in tus 1.0.0
 * mode and in its two IETF draft modes (ietf-draft-03 = interop 5, ietf-draft-05 = interop 6).
 * Every upload is downloaded again with GET and compared by SHA-256. The resume tests run through
 * the TCP fault proxy of test/support/fault-proxy.ts.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import * as tus from 'tus-js-client'
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.ts'
import { type FerryProcess, spawnFerry, tempDir } from '../support/servers.ts'

type Protocol = 'tus-v1' | 'ietf-draft-03' | 'ietf-draft-05'

/** tus-js-client 4.3.1 reads `protocol` at runtime, but its .d.ts does not declare it. */
type Options = tus.UploadOptions & { protocol?: Protocol }

/** Node inputs tus-js-client 4.3.1 accepts at runtime (its .d.ts knows only the browser ones). */
type Input = Buffer | Readable

/** `FileUrlStorage` is exported by the Node build of 4.3.1 but missing from its .d.ts. */
const FileUrlStorage = (tus as unknown as { FileUrlStorage: new (path: string) => tus.UrlStorage })
  .FileUrlStorage

const REQUEST_HEADERS = [
  'Tus-Resumable',
  'Upload-Draft-Interop-Version',
  'Upload-Length',
  'Upload-Defer-Length',
  'Upload-Offset',
  'Upload-Complete',
  'Upload-Concat',
  'Upload-Metadata',
  'Content-Type',
]
const RESPONSE_HEADERS = [
  'Location',
  'Upload-Offset',
  'Upload-Length',
  'Upload-Complete',
  'Upload-Draft-Interop-Version',
  'Tus-Resumable',
  'Upload-Concat',
]

/** One request tus-js-client sent, and the response it got (if any). */
interface Exchange {
  readonly method: string
  readonly url: string
  readonly request: Record<string, string>
  status?: number
  response?: Record<string, string>
}

const pick = (get: (name: string) => string | undefined, names: readonly string[]) => {
  const out: Record<string, string> = {}
  for (const name of names) {
    const value = get(name)
    if (value !== undefined && value !== '') out[name] = value
  }
  return out
}

const formatHeaders = (h: Record<string, string> | undefined): string =>
  Object.entries(h ?? {})
    .map(([k, v]) => `${k}: ${v}`)
    .join(' | ')

/** The exchanges as lines, for assertion messages. */
function formatTrace(trace: readonly Exchange[]): string {
  return trace
    .map(
      (e) =>
        `> ${e.method} ${e.url}  ${formatHeaders(e.request)}\n< ${e.status ?? '(no response)'}  ${formatHeaders(e.response)}`,
    )
    .join('\n')
}

/** Records every exchange of an upload through onBeforeRequest / onAfterResponse. */
function recorder(): {
  trace: Exchange[]
  hooks: Pick<Options, 'onBeforeRequest' | 'onAfterResponse'>
} {
  const trace: Exchange[] = []
  const open = new Map<tus.HttpRequest, Exchange>()
  return {
    trace,
    hooks: {
      onBeforeRequest(req) {
        const exchange: Exchange = {
          method: req.getMethod(),
          url: req.getURL(),
          request: pick((n) => req.getHeader(n), REQUEST_HEADERS),
        }
        trace.push(exchange)
        open.set(req, exchange)
      },
      onAfterResponse(req, res) {
        const exchange = open.get(req)
        if (exchange === undefined) return
        open.delete(req)
        exchange.status = res.getStatus()
        exchange.response = pick((n) => res.getHeader(n), RESPONSE_HEADERS)
      },
    },
  }
}

interface Finished {
  readonly upload: tus.Upload
  readonly url: string
  readonly trace: Exchange[]
}

/** Creates an Upload whose exchanges are recorded; `done` settles on onSuccess / onError. */
function newUpload(
  input: Input,
  options: Options,
): { upload: tus.Upload; trace: Exchange[]; done: Promise<void> } {
  const { trace, hooks } = recorder()
  let settle: { resolve: () => void; reject: (e: Error) => void } | undefined
  const done = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject }
  })
  const upload = new tus.Upload(
    // The Node build takes Buffers and Readables; the .d.ts lists only browser input types.
    input as unknown as tus.Upload['file'],
    {
      retryDelays: null,
      ...options,
      ...hooks,
      onSuccess: (payload) => {
        options.onSuccess?.(payload)
        settle?.resolve()
      },
      onError: (error) => {
        options.onError?.(error)
        settle?.reject(new Error(`${error.message}\n${formatTrace(trace)}`))
      },
    } satisfies Options as tus.UploadOptions,
  )
  // Keep an unobserved rejection from failing the process before a test awaits it.
  done.catch(() => {})
  return { upload, trace, done }
}

/** Runs an upload to its end; rejects (with the trace) on onError. */
async function runUpload(input: Input, options: Options): Promise<Finished> {
  const { upload, trace, done } = newUpload(input, options)
  upload.start()
  await done
  assert.ok(upload.url !== null, 'upload has a URL')
  return { upload, url: upload.url, trace }
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** GET on the upload URL: the bytes of a completed upload. */
async function download(url: string): Promise<{ status: number; body: Buffer }> {
  const response = await fetch(url)
  return { status: response.status, body: Buffer.from(await response.arrayBuffer()) }
}

/** Asserts that GET on `url` returns exactly `payload`. */
async function assertStored(url: string, payload: Buffer, trace: readonly Exchange[] = []) {
  const { status, body } = await download(url)
  assert.equal(status, 200, `GET ${url} status\n${formatTrace(trace)}`)
  assert.equal(body.length, payload.length, `downloaded length\n${formatTrace(trace)}`)
  assert.equal(sha256(body), sha256(payload), `downloaded SHA-256\n${formatTrace(trace)}`)
}

const MB = 1_000_000
const TEST_TIMEOUT = 30_000

async function withFerry(): Promise<{ ferry: FerryProcess; stop: () => Promise<void> }> {
  const dir = tempDir('ferry-interop-')
  const ferry = await spawnFerry(['--dir', dir.path])
  return {
    ferry,
    async stop() {
      await ferry.stop()
      dir.cleanup()
    },
  }
}

/** Decodes a tus Upload-Metadata value ("key base64,key2 base64"). */
function decodeMetadata(value: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of value.split(',')) {
    const [key, encoded] = pair.trim().split(' ')
    if (key === undefined || key === '') continue
    out[key] = Buffer.from(encoded ?? '', 'base64').toString('utf8')
  }
  return out
}

describe('tus-js-client 4.3.1, tus 1.0.0 mode, against ferry serve', () => {
  let server: Awaited<ReturnType<typeof withFerry>>
  let endpoint: string
  before(async () => {
    server = await withFerry()
    endpoint = server.ferry.endpoint
  })
  after(async () => {
    await server?.stop()
  })

  test(
    'tus core + creation: a 3 MB Buffer in one PATCH round-trips, and a HEAD echoes Upload-Metadata with filename and filetype',
    {
      timeout: TEST_TIMEOUT,
    },
    async () => {
      const payload = randomBytes(3 * MB)
      const metadata = { filename: 'résumé 2024.bin', filetype: 'application/octet-stream' }
      const { url, trace } = await runUpload(payload, { endpoint, metadata })
      const methods = trace.map((e) => e.method)
      assert.deepEqual(methods, ['POST', 'PATCH'], formatTrace(trace))
      assert.equal(trace[0]?.request['Tus-Resumable'], '1.0.0')
      assert.equal(trace[1]?.response?.['Upload-Offset'], String(payload.length))
      await assertStored(url, payload, trace)

      const head = await fetch(url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } })
      // tus 1.0.0 allows 200 or 204 here.
      assert.ok(head.status === 200 || head.status === 204, `HEAD status ${head.status}`)
      assert.equal(head.headers.get('upload-offset'), String(payload.length))
      assert.equal(head.headers.get('upload-length'), String(payload.length))
      const echoed = head.headers.get('upload-metadata')
      assert.ok(echoed !== null, 'HEAD carries Upload-Metadata')
      assert.deepEqual(decodeMetadata(echoed), metadata)
    },
  )

  test(
    'tus core: chunkSize 1 MB sends several PATCHes with increasing Upload-Offset',
    {
      timeout: TEST_TIMEOUT,
    },
    async () => {
      const payload = randomBytes(3 * MB + 12_345)
      const { url, trace } = await runUpload(payload, { endpoint, chunkSize: 1 * MB })
      const patches = trace.filter((e) => e.method === 'PATCH')
      assert.equal(patches.length, 4, formatTrace(trace))
      assert.deepEqual(
        patches.map((e) => e.request['Upload-Offset']),
        ['0', '1000000', '2000000', '3000000'],
      )
      assert.deepEqual(
        patches.map((e) => e.response?.['Upload-Offset']),
        ['1000000', '2000000', '3000000', String(payload.length)],
      )
      await assertStored(url, payload, trace)
    },
  )

  test(
    'tus creation-with-upload: uploadDataDuringCreation puts the first chunk in the POST',
    {
      timeout: TEST_TIMEOUT,
    },
    async () => {
      const payload = randomBytes(2 * MB + 7)
      // Whole file in the POST.
      const whole = await runUpload(payload, { endpoint, uploadDataDuringCreation: true })
      assert.deepEqual(
        whole.trace.map((e) => e.method),
        ['POST'],
        formatTrace(whole.trace),
      )
      assert.equal(whole.trace[0]?.request['Content-Type'], 'application/offset+octet-stream')
      assert.equal(whole.trace[0]?.response?.['Upload-Offset'], String(payload.length))
      await assertStored(whole.url, payload, whole.trace)

      // First chunk in the POST, the rest in PATCHes.
      const chunked = await runUpload(payload, {
        endpoint,
        uploadDataDuringCreation: true,
        chunkSize: 1 * MB,
      })
      assert.deepEqual(
        chunked.trace.map(
          (e) =>
            `${e.method} ${e.request['Upload-Offset'] ?? '-'} → ${e.response?.['Upload-Offset']}`,
        ),
        ['POST - → 1000000', 'PATCH 1000000 → 2000000', `PATCH 2000000 → ${payload.length}`],
        formatTrace(chunked.trace),
      )
      await assertStored(chunked.url, payload, chunked.trace)
    },
  )

  test(
    'tus concatenation: parallelUploads 4 makes 4 partial uploads and one final upload',
    {
      timeout: TEST_TIMEOUT,
    },
    async () => {
      const payload = randomBytes(4 * MB + 3)
      const metadata = { filename: 'parallel.bin', filetype: 'application/octet-stream' }
      const { url, trace } = await runUpload(payload, {
        endpoint,
        parallelUploads: 4,
        metadata,
      })
      const posts = trace.filter((e) => e.method === 'POST')
      const partials = posts.filter((e) => e.request['Upload-Concat'] === 'partial')
      const finals = posts.filter((e) => e.request['Upload-Concat']?.startsWith('final;') === true)
      assert.equal(partials.length, 4, formatTrace(trace))
      assert.equal(finals.length, 1, formatTrace(trace))
      assert.equal(trace.filter((e) => e.method === 'PATCH').length, 4, formatTrace(trace))
      assert.equal(finals[0]?.status, 201, formatTrace(trace))
      await assertStored(url, payload, trace)

      const head = await fetch(url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } })
      // tus 1.0.0 allows 200 or 204 here.
      assert.ok(head.status === 200 || head.status === 204, `HEAD status ${head.status}`)
      assert.equal(head.headers.get('upload-offset'), String(payload.length))
      assert.equal(head.headers.get('upload-length'), String(payload.length))
      assert.match(head.headers.get('upload-concat') ?? '', /^final;/)
      assert.deepEqual(decodeMetadata(head.headers.get('upload-metadata') ?? ''), metadata)
    },
  )

  test(
    'tus creation-defer-length: a Node Readable of unknown length, sent in chunkSize pieces, ends with Upload-Length on the last PATCH',
    {
      timeout: TEST_TIMEOUT,
    },
    async () => {
      const payload = randomBytes(2 * MB + 333)
      // A byte stream in 64 kB pieces (not object mode: tus-js-client reads it to chunkSize).
      const pieces: Buffer[] = []
      for (let at = 0; at < payload.length; at += 65_536) {
        pieces.push(payload.subarray(at, at + 65_536))
      }
      const source = Readable.from(pieces, { objectMode: false })
      const chunkSize = 512 * 1024
      const { url, trace } = await runUpload(source, {
        endpoint,
        uploadLengthDeferred: true,
        chunkSize,
      })
      assert.equal(trace[0]?.request['Upload-Defer-Length'], '1', formatTrace(trace))
      assert.equal(trace[0]?.request['Upload-Length'], undefined)
      const patches = trace.filter((e) => e.method === 'PATCH')
      assert.ok(patches.length >= Math.ceil(payload.length / chunkSize), formatTrace(trace))
      const withLength = patches.filter((e) => e.request['Upload-Length'] !== undefined)
      assert.ok(withLength.length >= 1, formatTrace(trace))
      assert.equal(withLength.at(-1)?.request['Upload-Length'], String(payload.length))
      await assertStored(url, payload, trace)
    },
  )

  test(
    'tus termination: abort(true) after completion sends DELETE, then GET is 404',
    {
      timeout: TEST_TIMEOUT,
    },
    async () => {
      const payload = randomBytes(1 * MB)
      const { upload, url, trace } = await runUpload(payload, { endpoint })
      await assertStored(url, payload, trace)
      await upload.abort(true)
      const deletes = trace.filter((e) => e.method === 'DELETE')
      assert.equal(deletes.length, 1, formatTrace(trace))
      assert.equal(deletes[0]?.status, 204, formatTrace(trace))
      const after = await download(url)
      assert.equal(after.status, 404)
    },
  )
})

describe('tus-js-client 4.3.1, IETF draft modes, against ferry serve', () => {
  let server: Awaited<ReturnType<typeof withFerry>>
  let endpoint: string
  before(async () => {
    server = await withFerry()
    endpoint = server.ferry.endpoint
  })
  after(async () => {
    await server?.stop()
  })

  const modes = [
    { protocol: 'ietf-draft-03', interop: '5', contentType: undefined },
    { protocol: 'ietf-draft-05', interop: '6', contentType: 'application/partial-upload' },
  ] as const

  for (const { protocol, interop, contentType } of modes) {
    test(
      `interop ${interop} (${protocol}): POST with Upload-Complete ?0, then one PATCH with Upload-Complete ?1`,
      {
        timeout: TEST_TIMEOUT,
      },
      async () => {
        const payload = randomBytes(3 * MB)
        const { url, trace } = await runUpload(payload, { endpoint, protocol })
        assert.deepEqual(
          trace.map((e) => e.method),
          ['POST', 'PATCH'],
          formatTrace(trace),
        )
        for (const e of trace) {
          assert.equal(e.request['Upload-Draft-Interop-Version'], interop)
          assert.equal(e.request['Tus-Resumable'], undefined)
        }
        assert.equal(trace[0]?.request['Upload-Complete'], '?0')
        assert.equal(trace[1]?.request['Upload-Complete'], '?1')
        assert.equal(trace[1]?.request['Content-Type'], contentType)
        assert.equal(
          trace[1]?.response?.['Upload-Offset'],
          String(payload.length),
          formatTrace(trace),
        )
        await assertStored(url, payload, trace)
      },
    )

    test(
      `interop ${interop} (${protocol}): chunkSize 1 MB appends in several PATCHes, only the last has Upload-Complete ?1`,
      {
        timeout: TEST_TIMEOUT,
      },
      async () => {
        const payload = randomBytes(3 * MB + 999)
        const { url, trace } = await runUpload(payload, { endpoint, protocol, chunkSize: 1 * MB })
        const patches = trace.filter((e) => e.method === 'PATCH')
        assert.deepEqual(
          patches.map((e) => `${e.request['Upload-Offset']} ${e.request['Upload-Complete']}`),
          ['0 ?0', '1000000 ?0', '2000000 ?0', '3000000 ?1'],
          formatTrace(trace),
        )
        assert.deepEqual(
          patches.map((e) => e.response?.['Upload-Offset']),
          ['1000000', '2000000', '3000000', String(payload.length)],
          formatTrace(trace),
        )
        await assertStored(url, payload, trace)
      },
    )

    test(
      `interop ${interop} (${protocol}): uploadDataDuringCreation sends the data in the creation POST`,
      {
        timeout: TEST_TIMEOUT,
      },
      async () => {
        const payload = randomBytes(2 * MB + 1)
        const whole = await runUpload(payload, {
          endpoint,
          protocol,
          uploadDataDuringCreation: true,
        })
        assert.deepEqual(
          whole.trace.map((e) => `${e.method} ${e.request['Upload-Complete']}`),
          ['POST ?1'],
          formatTrace(whole.trace),
        )
        assert.equal(whole.trace[0]?.request['Content-Type'], contentType)
        assert.equal(whole.trace[0]?.status, 201, formatTrace(whole.trace))
        await assertStored(whole.url, payload, whole.trace)

        const chunked = await runUpload(payload, {
          endpoint,
          protocol,
          uploadDataDuringCreation: true,
          chunkSize: 1 * MB,
        })
        assert.deepEqual(
          chunked.trace.map(
            (e) =>
              `${e.method} ${e.request['Upload-Offset'] ?? '-'} ${e.request['Upload-Complete']}`,
          ),
          ['POST - ?0', 'PATCH 1000000 ?0', 'PATCH 2000000 ?1'],
          formatTrace(chunked.trace),
        )
        await assertStored(chunked.url, payload, chunked.trace)
      },
    )
  }
})

describe('tus-js-client 4.3.1 resuming through a fault proxy, against ferry serve', () => {
  let server: Awaited<ReturnType<typeof withFerry>>
  const proxies: FaultProxy[] = []
  const scratch = tempDir('ferry-interop-storage-')
  before(async () => {
    server = await withFerry()
  })
  after(async () => {
    for (const p of proxies) await p.close()
    await server?.stop()
    scratch.cleanup()
  })
  const proxy = async (
    options: Omit<Parameters<typeof startFaultProxy>[0], 'target'>,
  ): Promise<FaultProxy> => {
    const p = await startFaultProxy({
      target: { host: '127.0.0.1', port: server.ferry.port },
      ...options,
    })
    proxies.push(p)
    return p
  }

  /** The HEADs of a trace, each with the PATCH (or POST) sent right after it. */
  const resumptions = (trace: readonly Exchange[]) =>
    trace.flatMap((e, i) => (e.method === 'HEAD' ? [{ head: e, next: trace[i + 1] }] : []))

  for (const protocol of ['tus-v1', 'ietf-draft-03', 'ietf-draft-05'] as const) {
    test(
      `${protocol}: a PATCH cut by a connection reset after ~1.5 MB resumes with HEAD from the offset the server kept`,
      {
        timeout: TEST_TIMEOUT,
      },
      async () => {
        const cutAt = 1_500_000
        // Bytes are counted from each connection's start: whether or not the POST shares the
        // PATCH's keep-alive connection, the first connection to carry 1.5 MB is inside the PATCH
        // body (the POST carries no content), so the cut lands there.
        const p = await proxy({ cutAfterBytes: cutAt, cuts: 1 })
        const payload = randomBytes(5 * MB)
        const { url, trace } = await runUpload(payload, {
          endpoint: p.url('/files/'),
          protocol,
          retryDelays: [0, 100, 200],
        })
        assert.equal(p.stats.cuts, 1, 'the proxy cut a connection')
        assert.ok(url.startsWith(p.url('/files/')), `Location points through the proxy: ${url}`)
        const patches = trace.filter((e) => e.method === 'PATCH')
        assert.ok(patches.length >= 2, formatTrace(trace))
        assert.equal(
          patches[0]?.status,
          undefined,
          `the first PATCH got no response\n${formatTrace(trace)}`,
        )

        const resumed = resumptions(trace)
        assert.ok(resumed.length >= 1, `the client sent a HEAD\n${formatTrace(trace)}`)
        for (const { head, next } of resumed) {
          assert.ok(
            head.status !== undefined && head.status >= 200 && head.status < 300,
            formatTrace(trace),
          )
          // Every resumption continues exactly where the server said it stands.
          assert.equal(next?.method, 'PATCH', formatTrace(trace))
          assert.equal(
            next?.request['Upload-Offset'],
            head.response?.['Upload-Offset'],
            formatTrace(trace),
          )
        }
        // The bytes came out right, whatever the offsets were.
        await assertStored(url, payload, trace)

        // The first HEAD after the cut: the server kept the interrupted PATCH's bytes (it cannot
        // have more than the proxy let through), so the client resumed from a non-zero offset.
        const offset = Number(resumed[0]?.head.response?.['Upload-Offset'])
        assert.ok(Number.isInteger(offset) && offset <= cutAt, formatTrace(trace))
        assert.ok(
          offset > 0,
          `the HEAD after the cut reported Upload-Offset ${offset}: the server dropped what ` +
            `the proxy had delivered (the first ${cutAt} bytes of the cut connection)\n` +
            formatTrace(trace),
        )
      },
    )
  }

  test(
    'tus-v1: after abort() midway, a new Upload with the same FileUrlStorage and fingerprint finds the upload, resumes with HEAD and completes',
    {
      timeout: TEST_TIMEOUT,
    },
    async () => {
      const p = await proxy({ bytesPerSecond: 4 * MB })
      const endpoint = p.url('/files/')
      const payload = randomBytes(4 * MB)
      const storagePath = join(scratch.path, 'tus-urls.json')
      const key = `ferry-interop-${sha256(payload).slice(0, 16)}`
      const common: Options = {
        endpoint,
        urlStorage: new FileUrlStorage(storagePath),
        fingerprint: () => Promise.resolve(key),
        retryDelays: null,
        removeFingerprintOnSuccess: true,
      }

      // First "process": 1 MB PATCHes; abort once 40 % were sent. The kernel buffers take a
      // whole chunk at once, so progress moves in ~25 % steps: the abort lands in the second
      // PATCH or just before the third. Either way the first chunk was acknowledged and the
      // last one is never sent, so the upload is really unfinished.
      let abortedNow: () => void = () => {}
      const aborted = new Promise<string>((resolve) => {
        abortedNow = () => resolve('aborted')
      })
      let aborting = false
      const first = newUpload(payload, {
        ...common,
        chunkSize: 1 * MB,
        onProgress: (sent, total) => {
          if (aborting || sent < total * 0.4) return
          aborting = true
          void first.upload.abort().then(abortedNow)
        },
      })
      first.upload.start()
      const outcome = await Promise.race([first.done.then(() => 'finished'), aborted])
      assert.equal(
        outcome,
        'aborted',
        `the first upload was aborted midway\n${formatTrace(first.trace)}`,
      )
      const firstUrl = first.upload.url
      assert.ok(firstUrl !== null)
      // What the server acknowledged before the abort; it must not lose any of it.
      const acknowledged = Math.max(
        0,
        ...first.trace
          .filter((e) => e.method === 'PATCH' && e.status !== undefined && e.status < 300)
          .map((e) => Number(e.response?.['Upload-Offset'])),
      )
      assert.ok(acknowledged > 0, `a chunk was acknowledged first\n${formatTrace(first.trace)}`)

      // Second "process": a new Upload with the same storage.
      const second = newUpload(payload, { ...common })
      const previous = await second.upload.findPreviousUploads()
      assert.equal(previous.length, 1, 'one stored upload under the fingerprint')
      assert.equal(previous[0]?.uploadUrl, firstUrl)
      second.upload.resumeFromPreviousUpload(previous[0]!)
      second.upload.start()
      await second.done
      const trace = second.trace
      assert.equal(trace[0]?.method, 'HEAD', formatTrace(trace))
      assert.equal(trace[0]?.url, firstUrl)
      const offset = Number(trace[0]?.response?.['Upload-Offset'])
      assert.ok(offset >= acknowledged && offset < payload.length, formatTrace(trace))
      assert.equal(trace[1]?.method, 'PATCH', formatTrace(trace))
      assert.equal(trace[1]?.request['Upload-Offset'], String(offset), formatTrace(trace))
      assert.equal(trace.filter((e) => e.method === 'POST').length, 0, formatTrace(trace))
      assert.equal(second.upload.url, firstUrl)
      await assertStored(firstUrl, payload, trace)
      // removeFingerprintOnSuccess: the entry is gone.
      assert.equal((await new FileUrlStorage(storagePath).findUploadsByFingerprint(key)).length, 0)
    },
  )

  test(
    'tus termination: abort(true) during a PATCH sends DELETE, then GET is 404',
    {
      timeout: TEST_TIMEOUT,
    },
    async () => {
      // 4 MB through a 2 MB/s link: the PATCH runs for about 2 s. (onProgress cannot time this:
      // the kernel buffers take most of the content at once, so progress jumps to ~100 %.)
      const p = await proxy({ bytesPerSecond: 2 * MB })
      const payload = randomBytes(4 * MB)
      const { upload, trace, done } = newUpload(payload, { endpoint: p.url('/files/') })
      upload.start()
      // Terminate once the server got 0.5 MB of the PATCH, while it is still running.
      for (;;) {
        const state = await Promise.race([
          done.then(() => 'finished'),
          new Promise((r) => setTimeout(() => r('waiting'), 10)),
        ])
        assert.notEqual(state, 'finished', `terminated midway\n${formatTrace(trace)}`)
        if (p.stats.bytesUp >= MB / 2) break
      }
      const terminated = upload.abort(true)
      await terminated
      const url = upload.url
      assert.ok(url !== null)
      const patches = trace.filter((e) => e.method === 'PATCH')
      assert.equal(patches.length, 1, formatTrace(trace))
      assert.equal(patches[0]?.status, undefined, `the PATCH was cut short\n${formatTrace(trace)}`)
      const deletes = trace.filter((e) => e.method === 'DELETE')
      assert.equal(deletes.length, 1, formatTrace(trace))
      assert.equal(deletes[0]?.status, 204, formatTrace(trace))
      const after = await download(url)
      assert.equal(after.status, 404)
    },
  )
})
