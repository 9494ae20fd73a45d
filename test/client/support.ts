/**
 * @module Support for the client tests: test files, hashes, downloads, request traces, and an
 * HTTP double that forwards to a real server unless told to answer itself.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import type { Upload } from '../../src/client/index.ts'
import { tempDir } from '../support/servers.ts'

export const KiB = 1024
export const MiB = 1024 * KiB

export const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex')

/** Downloads an upload with a plain GET (no protocol fields: interop 9/10 GET would retrieve). */
export async function download(url: string): Promise<Buffer> {
  const response = await fetch(url)
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status}`)
  return Buffer.from(await response.arrayBuffer())
}

/** Writes `size` random bytes to a new file in `dir`; returns its path and SHA-256. */
export async function randomFile(
  dir: string,
  size: number,
  name = `data-${size}.bin`,
): Promise<{ path: string; hash: string }> {
  const path = join(dir, name)
  const hash = createHash('sha256')
  const out = createWriteStream(path)
  for (let left = size; left > 0; ) {
    const piece = randomBytes(Math.min(left, 4 * MiB))
    hash.update(piece)
    if (!out.write(piece)) await new Promise<void>((r) => out.once('drain', () => r()))
    left -= piece.length
  }
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  )
  return { path, hash: hash.digest('hex') }
}

/** Records the requests and responses of an upload as lines (for assertion messages). */
export function traceOf(up: Upload): string[] {
  const lines: string[] = []
  const fields = (h: Record<string, string>): string =>
    Object.entries(h)
      .filter(
        ([k]) =>
          k.startsWith('upload-') ||
          k === 'location' ||
          k === 'tus-resumable' ||
          k === 'content-type',
      )
      .map(([k, v]) => `${k}: ${v}`)
      .join(' | ')
  up.on('request', (r) => {
    const body = r.length === undefined ? '' : ` [${r.offset}+${r.length}]`
    lines.push(`> ${r.method} ${r.url}${body}  ${fields(r.headers)}`)
  })
  up.on('interim', (r) => lines.push(`< ${r.status}  ${fields(r.headers)}`))
  up.on('response', (r) =>
    lines.push(
      r.response === undefined
        ? `< (${r.error}) after ${r.written} bytes`
        : `< ${r.response.status}  ${fields(r.response.headers)}`,
    ),
  )
  up.on('retry', (r) => lines.push(`! retry ${r.attempt} in ${r.delayMs} ms: ${r.reason}`))
  return lines
}

export interface TusServer {
  readonly endpoint: string
  readonly dir: string
  stop(): Promise<void>
}

/** @tus/server 2.4.5 with @tus/file-store in a child process (bench/servers/tus-server.mjs). */
export async function startTusServer(): Promise<TusServer> {
  const script = new URL('../../bench/servers/tus-server.mjs', import.meta.url).pathname
  const dir = tempDir('ferry-tus-server-')
  const child: ChildProcess = fork(script, ['0', dir.path], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port))
    child.once('exit', (code) => reject(new Error(`@tus/server exited with ${code}`)))
  })
  return {
    endpoint: `http://127.0.0.1:${port}/files/`,
    dir: dir.path,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGKILL')
        await new Promise((r) => child.once('exit', r))
      }
      dir.cleanup()
    },
  }
}

export interface SeenRequest {
  readonly method: string
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
}

export interface HttpDouble {
  readonly port: number
  /** The double's address for a path of the target. */
  url(path: string): string
  readonly seen: SeenRequest[]
  close(): Promise<void>
}

/**
 * An HTTP server in front of `target` (host:port) that records every request and forwards it,
 * unless `answer` returns a response to send instead (status, headers), or 'hang' to read the
 * request and never answer.
 */
export async function httpDouble(
  target: { host: string; port: number },
  answer: (
    req: SeenRequest,
    index: number,
  ) => { status: number; headers?: Record<string, string> } | 'hang' | undefined,
): Promise<HttpDouble> {
  const seen: SeenRequest[] = []
  const sockets = new Set<import('node:net').Socket>()
  const server = http.createServer((req, res) => {
    const info: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers }
    seen.push(info)
    const decision = answer(info, seen.length - 1)
    if (decision === 'hang') {
      req.resume()
      return
    }
    if (decision !== undefined) {
      req.resume()
      req.once('end', () => {
        res.writeHead(decision.status, decision.headers ?? {})
        res.end()
      })
      return
    }
    const upstream = http.request(
      {
        host: target.host,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers)
        up.pipe(res)
      },
    )
    upstream.on('error', () => res.destroy())
    req.on('aborted', () => upstream.destroy())
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy()
    })
    req.pipe(upstream)
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  return {
    port,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    seen,
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise((r) => server.close(r))
    },
  }
}

export interface StallProxy {
  readonly port: number
  url(path: string): string
  /** Upstream bytes of the stalled connection when it stalled (undefined: not yet). */
  stalledAt(): number | undefined
  close(): Promise<void>
}

/**
 * A TCP proxy that freezes the first connection whose upstream bytes reach `after`: from then on
 * nothing more of it is read from the client (its writes back up) or forwarded either way, and
 * it is never closed (a request that hangs). Every other connection is forwarded with
 * backpressure both ways, and ends as its peers end it.
 */
export async function stallProxy(
  target: { host: string; port: number },
  after: number,
): Promise<StallProxy> {
  const net = await import('node:net')
  const sockets = new Set<import('node:net').Socket>()
  let stalled: number | undefined
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('error', () => {})
      s.once('close', () => sockets.delete(s))
    }
    let sent = 0
    let frozen = false
    client.on('data', (data: Buffer) => {
      if (frozen) return
      if (stalled === undefined && sent + data.length >= after) {
        const part = data.subarray(0, Math.max(0, after - sent))
        sent += part.length
        upstream.write(part)
        stalled = sent
        frozen = true
        client.pause()
        upstream.unpipe(client)
        upstream.pause()
        return
      }
      sent += data.length
      if (!upstream.write(data)) {
        client.pause()
        upstream.once('drain', () => {
          if (!frozen) client.resume()
        })
      }
    })
    client.once('end', () => {
      if (!frozen) upstream.end()
    })
    // Downstream: piped, so a response is flushed to the client before its end is passed on.
    upstream.pipe(client)
    client.once('close', () => {
      if (!frozen) upstream.destroy()
    })
    upstream.once('close', () => {
      if (!frozen && !upstream.readableEnded) client.destroy()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  return {
    port,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    stalledAt: () => stalled,
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise((r) => server.close(r))
    },
  }
}
