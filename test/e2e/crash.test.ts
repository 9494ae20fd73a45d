/**
 * Crash safety of the real CLI (`ferry serve` as a child process): SIGKILL in the middle of an
 * upload, restart on the same directory and port, resume from the offset the server reports,
 * and download exactly the original bytes.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import net from 'node:net'
import { after, describe, test } from 'node:test'
import { type RawResponse, ResponseParser, rawRequest } from '../support/raw-http.ts'
import { type FerryProcess, spawnFerry, tempDir } from '../support/servers.ts'

const KiB = 1024
const MiB = 1024 * KiB

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex')

interface PartialUpload {
  readonly socket: net.Socket
  /** Content bytes written to the socket. */
  readonly sent: number
  /** Interim responses received while sending. */
  readonly interim: RawResponse[]
  /** A final response received while sending (none expected). */
  readonly final: RawResponse | undefined
}

/**
 * Sends a request head and then its content slowly (pieces with a pause between them), and
 * stops writing, leaving the connection open, once `stopAfter` content bytes were written.
 */
async function sendUntil(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body: Buffer,
  stopAfter: number,
): Promise<PartialUpload> {
  const socket = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  socket.on('error', () => undefined)
  const parser = new ResponseParser(false)
  const interim: RawResponse[] = []
  let final: RawResponse | undefined
  socket.on('data', (data: Buffer) => {
    for (const msg of parser.push(data)) {
      if (msg.status < 200) interim.push(msg)
      else final ??= msg
    }
  })
  const write = (data: Buffer | string): Promise<void> =>
    new Promise((resolve) => {
      if (socket.destroyed) resolve()
      else socket.write(data, () => resolve())
    })
  let head = `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n`
  for (const [k, v] of Object.entries({ ...headers, 'content-length': String(body.length) }))
    head += `${k}: ${v}\r\n`
  await write(`${head}\r\n`)
  let sent = 0
  const piece = 256 * KiB
  while (sent < stopAfter && sent < body.length && !socket.destroyed) {
    const part = body.subarray(sent, Math.min(body.length, sent + piece, stopAfter))
    // Counted before the write completes: an upper bound of what the server can have.
    sent += part.length
    await write(part)
    await sleep(4)
  }
  return { socket, sent, interim, final }
}

describe('crash safety of ferry serve (SIGKILL mid-upload)', () => {
  const dir = tempDir('ferry-crash-')
  const processes: FerryProcess[] = []
  const sockets: net.Socket[] = []

  const start = async (port = 0): Promise<FerryProcess> => {
    const ferry = await spawnFerry(['--dir', dir.path], port)
    processes.push(ferry)
    return ferry
  }

  after(async () => {
    for (const s of sockets) s.destroy()
    for (const p of processes) {
      if (p.child.exitCode === null && p.child.signalCode === null) await p.kill()
    }
    dir.cleanup()
  })

  async function download(ferry: FerryProcess, path: string): Promise<string> {
    const response = await fetch(new URL(path, ferry.endpoint))
    assert.equal(response.status, 200)
    return sha256(new Uint8Array(await response.arrayBuffer()))
  }

  test('Done-when / tus 1.0.0 (T40): SIGKILL during a 32 MiB PATCH, restart, HEAD offset ≤ bytes sent, PATCH the rest, SHA-256 matches', async (t) => {
    const body = randomBytes(32 * MiB)
    let ferry = await start()
    const port = ferry.port
    const created = await rawRequest({
      port,
      method: 'POST',
      path: '/files/',
      headers: {
        'tus-resumable': '1.0.0',
        'upload-length': String(body.length),
        'content-length': '0',
      },
    })
    assert.equal(created.final?.status, 201)
    const path = new URL(created.final.headers.location ?? '').pathname
    const partial = await sendUntil(
      port,
      'PATCH',
      path,
      {
        'tus-resumable': '1.0.0',
        'content-type': 'application/offset+octet-stream',
        'upload-offset': '0',
      },
      body,
      Math.floor(body.length * 0.45),
    )
    sockets.push(partial.socket)
    assert.equal(partial.final, undefined, 'the PATCH was answered before the crash')
    await ferry.kill()
    partial.socket.destroy()

    ferry = await start(port)
    assert.equal(ferry.port, port)
    const head = await rawRequest({
      port,
      method: 'HEAD',
      path,
      headers: { 'tus-resumable': '1.0.0' },
    })
    assert.ok(
      head.final?.status === 200 || head.final?.status === 204,
      `HEAD ${head.final?.status}`,
    )
    const offset = Number(head.final.headers['upload-offset'])
    t.diagnostic(`sent ${partial.sent} bytes before SIGKILL; HEAD after restart: ${offset}`)
    assert.ok(Number.isSafeInteger(offset), `Upload-Offset ${head.final.headers['upload-offset']}`)
    assert.ok(offset > 0, 'nothing was kept')
    assert.ok(offset <= partial.sent, `offset ${offset} above the ${partial.sent} bytes sent`)
    assert.equal(head.final.headers['upload-length'], String(body.length))

    const rest = await rawRequest({
      port,
      method: 'PATCH',
      path,
      headers: {
        'tus-resumable': '1.0.0',
        'content-type': 'application/offset+octet-stream',
        'upload-offset': String(offset),
      },
      body: body.subarray(offset),
    })
    assert.equal(rest.final?.status, 204)
    assert.equal(rest.final.headers['upload-offset'], String(body.length))
    assert.equal(await download(ferry, path), sha256(body))
    await ferry.kill()
  })

  test('draft-13 §4.2.2, §4.4.2 (D27, I10-09, interop 10): SIGKILL during a creation with ?1 after its 104, restart, resume from HEAD, SHA-256 matches', async (t) => {
    const body = randomBytes(32 * MiB)
    let ferry = await start()
    const port = ferry.port
    const partial = await sendUntil(
      port,
      'POST',
      '/files/',
      { 'upload-draft-interop-version': '10', 'upload-complete': '?1' },
      body,
      Math.floor(body.length * 0.4),
    )
    sockets.push(partial.socket)
    assert.equal(partial.final, undefined, 'the creation was answered before the crash')
    const announced = partial.interim.find((m) => m.status === 104 && m.headers.location)
    assert.ok(announced !== undefined, 'no 104 with Location before the crash')
    assert.equal(announced.headers['upload-draft-interop-version'], '10')
    // The highest offset any progress 104 acknowledged: the upload may never go below it.
    const acknowledged = Math.max(
      0,
      ...partial.interim
        .filter((m) => m.headers['upload-offset'] !== undefined)
        .map((m) => Number(m.headers['upload-offset'])),
    )
    await ferry.kill()
    partial.socket.destroy()

    const path = new URL(announced.headers.location ?? '').pathname
    ferry = await start(port)
    const head = await rawRequest({
      port,
      method: 'HEAD',
      path,
      headers: { 'upload-draft-interop-version': '10' },
    })
    assert.ok(
      head.final?.status === 200 || head.final?.status === 204,
      `HEAD ${head.final?.status}`,
    )
    const offset = Number(head.final.headers['upload-offset'])
    t.diagnostic(
      `sent ${partial.sent} bytes before SIGKILL; last progress 104: ${acknowledged}; HEAD after restart: ${offset}`,
    )
    assert.ok(Number.isSafeInteger(offset), `Upload-Offset ${head.final.headers['upload-offset']}`)
    assert.ok(offset > 0, 'nothing was kept')
    assert.ok(offset <= partial.sent, `offset ${offset} above the ${partial.sent} bytes sent`)
    assert.ok(offset >= acknowledged, `offset ${offset} below the acknowledged ${acknowledged}`)
    assert.equal(head.final.headers['upload-complete'], '?0')

    const rest = await rawRequest({
      port,
      method: 'PATCH',
      path,
      headers: {
        'upload-draft-interop-version': '10',
        'content-type': 'application/partial-upload',
        'upload-offset': String(offset),
        'upload-complete': '?1',
      },
      body: body.subarray(offset),
    })
    assert.ok(rest.final !== undefined && rest.final.status >= 200 && rest.final.status < 300)
    assert.equal(rest.final.headers['upload-complete'], '?1')
    assert.equal(await download(ferry, path), sha256(body))
    await ferry.kill()
  })
})
