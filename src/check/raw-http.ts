/**
 * @module A raw HTTP/1.1 client on node:net (and node:tls) that shows the wire — every interim
 * (1xx) response separately from the final one, exact header lines — and can misbehave on
 * purpose: chunked bodies with trailers, bodies cut after N bytes, slow bodies, a wait for
 * interim responses before the content (Expect: 100-continue). Used by `ferry check` and the
 * tests. Libraries that hide 1xx responses give false results here (clients.md §8.3).
 */
import net from 'node:net'
import tls from 'node:tls'

export interface RawResponse {
  readonly status: number
  readonly reason: string
  /** Lower-case names; repeated lines joined with ", ". */
  readonly headers: Record<string, string>
  /** Header lines exactly as received. */
  readonly rawHeaders: string[]
  readonly body: Buffer
}

export interface RawExchange {
  readonly interim: RawResponse[]
  /** Undefined when the connection ended first. */
  readonly final: RawResponse | undefined
  /** Set when the connection failed (e.g. reset by the server). */
  readonly error?: Error
}

export interface RawRequest {
  readonly port: number
  readonly host?: string
  /** Connect with TLS (ALPN http/1.1); `ca` trusts a private certificate. */
  readonly tls?: { readonly ca?: string | Buffer; readonly rejectUnauthorized?: boolean }
  /** The Host header value (default: host:port). */
  readonly authority?: string
  readonly method: string
  readonly path: string
  readonly headers?: Record<string, string>
  /** The content: sent with Content-Length unless `chunked` (then as one or more chunks). */
  readonly body?: Buffer | readonly Buffer[]
  readonly chunked?: boolean
  readonly trailers?: Record<string, string>
  /** Send only this many content bytes, then destroy the socket (an interrupted upload). */
  readonly cutAfter?: number
  /** Send the content in pieces of this size with `delayMs` between them. */
  readonly pieceBytes?: number
  readonly delayMs?: number
  /** Wait for this long before writing the content (e.g. to see a 104 first). */
  readonly waitBeforeBodyMs?: number
  /** Give up after this long. @default 30000 */
  readonly timeoutMs?: number
  /** Called with each interim response as it arrives. */
  readonly onInterim?: (response: RawResponse) => void
  /** Reuse a connected socket (keep-alive tests). */
  readonly socket?: net.Socket
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Sends one request and collects every response message until the final one. */
export async function rawRequest(req: RawRequest): Promise<RawExchange> {
  const socket = req.socket ?? (await connect(req))
  const interim: RawResponse[] = []
  const parser = new ResponseParser(req.method === 'HEAD')
  let error: Error | undefined
  const done = new Promise<RawResponse | undefined>((resolve) => {
    const timer = setTimeout(() => {
      error = new Error('timeout')
      socket.destroy()
    }, req.timeoutMs ?? 30_000)
    const finish = (r: RawResponse | undefined): void => {
      clearTimeout(timer)
      socket.off('data', onData)
      resolve(r)
    }
    const onData = (data: Buffer): void => {
      for (const msg of parser.push(data)) {
        if (msg.status < 200) {
          interim.push(msg)
          req.onInterim?.(msg)
        } else {
          finish(msg)
          return
        }
      }
    }
    socket.on('data', onData)
    socket.once('error', (e) => {
      error = e
    })
    socket.once('close', () => finish(parser.flushOnClose()))
  })

  const chunks: Buffer[] =
    req.body === undefined ? [] : Buffer.isBuffer(req.body) ? [req.body] : [...req.body]
  const total = chunks.reduce((n, c) => n + c.length, 0)
  const headers: Record<string, string> = {
    host: req.authority ?? `${req.host ?? '127.0.0.1'}:${req.port}`,
    ...req.headers,
  }
  if (req.chunked === true) headers['transfer-encoding'] = 'chunked'
  else if (req.body !== undefined && headers['content-length'] === undefined)
    headers['content-length'] = String(total)
  let head = `${req.method} ${req.path} HTTP/1.1\r\n`
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`
  head += '\r\n'
  const write = (data: Buffer | string): Promise<void> =>
    new Promise((resolve) => {
      if (socket.destroyed) resolve()
      else socket.write(data, () => resolve())
    })
  try {
    await write(head)
    if (req.waitBeforeBodyMs !== undefined) await sleep(req.waitBeforeBodyMs)
    let sent = 0
    for (const chunk of chunks) {
      const piece = req.pieceBytes ?? chunk.length
      for (let at = 0; at < chunk.length; at += piece) {
        let part = chunk.subarray(at, Math.min(chunk.length, at + piece))
        if (req.cutAfter !== undefined && sent + part.length >= req.cutAfter) {
          part = part.subarray(0, req.cutAfter - sent)
          if (req.chunked === true) await write(`${part.length.toString(16)}\r\n`)
          await write(part)
          // Let the bytes reach the server before the connection goes away.
          await sleep(50)
          socket.destroy()
          return { interim, final: await done, ...(error === undefined ? {} : { error }) }
        }
        if (req.chunked === true) {
          if (part.length > 0)
            await write(
              Buffer.concat([
                Buffer.from(`${part.length.toString(16)}\r\n`),
                part,
                Buffer.from('\r\n'),
              ]),
            )
        } else {
          await write(part)
        }
        sent += part.length
        if (req.delayMs !== undefined) await sleep(req.delayMs)
      }
    }
    if (req.chunked === true) {
      let end = '0\r\n'
      for (const [k, v] of Object.entries(req.trailers ?? {})) end += `${k}: ${v}\r\n`
      end += '\r\n'
      await write(end)
    }
  } catch (e) {
    error = e as Error
  }
  const final = await done
  if (req.socket === undefined) socket.destroy()
  return { interim, final, ...(error === undefined ? {} : { error }) }
}

/** Opens a connection (TCP, or TLS with ALPN http/1.1) for a raw request. */
export function connect(
  req: Pick<RawRequest, 'port' | 'host' | 'tls' | 'timeoutMs'>,
): Promise<net.Socket> {
  const host = req.host ?? '127.0.0.1'
  return new Promise<net.Socket>((resolve, reject) => {
    const options = req.tls
    const socket =
      options === undefined
        ? net.connect(req.port, host)
        : tls.connect({
            port: req.port,
            host,
            ...(net.isIP(host) === 0 ? { servername: host } : {}),
            ALPNProtocols: ['http/1.1'],
            ...(options.ca === undefined ? {} : { ca: options.ca }),
            rejectUnauthorized: options.rejectUnauthorized ?? true,
          })
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`connecting to ${host}:${req.port} timed out`))
    }, req.timeoutMs ?? 30_000)
    const onError = (e: Error): void => {
      clearTimeout(timer)
      reject(e)
    }
    socket.once(options === undefined ? 'connect' : 'secureConnect', () => {
      clearTimeout(timer)
      socket.off('error', onError)
      resolve(socket)
    })
    socket.once('error', onError)
  })
}

/** Parses HTTP/1.1 response messages from a byte stream. */
export class ResponseParser {
  private buffer = Buffer.alloc(0)
  private current:
    | { status: number; reason: string; headers: Record<string, string>; rawHeaders: string[] }
    | undefined
  private bodyMode:
    | { kind: 'length'; remaining: number }
    | { kind: 'chunked' }
    | { kind: 'close' }
    | undefined
  private body: Buffer[] = []
  private readonly headRequest: boolean

  constructor(headRequest: boolean) {
    this.headRequest = headRequest
  }

  push(data: Buffer): RawResponse[] {
    this.buffer = Buffer.concat([this.buffer, data])
    const out: RawResponse[] = []
    for (;;) {
      if (this.current === undefined) {
        const end = this.buffer.indexOf('\r\n\r\n')
        if (end < 0) return out
        const lines = this.buffer.subarray(0, end).toString('latin1').split('\r\n')
        this.buffer = this.buffer.subarray(end + 4)
        const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0] ?? '')
        if (m === null) throw new Error(`bad status line: ${lines[0]}`)
        const headers: Record<string, string> = {}
        const rawHeaders = lines.slice(1)
        for (const line of rawHeaders) {
          const i = line.indexOf(':')
          const name = line.slice(0, i).trim().toLowerCase()
          const value = line.slice(i + 1).trim()
          headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
        }
        const status = Number(m[1])
        this.current = { status, reason: m[2] ?? '', headers, rawHeaders }
        this.body = []
        if (status < 200 || status === 204 || status === 304 || this.headRequest) {
          out.push(this.complete())
          continue
        }
        if (headers['transfer-encoding']?.includes('chunked') === true)
          this.bodyMode = { kind: 'chunked' }
        else if (headers['content-length'] !== undefined)
          this.bodyMode = { kind: 'length', remaining: Number(headers['content-length']) }
        else this.bodyMode = { kind: 'close' }
      }
      const mode = this.bodyMode
      if (mode === undefined) return out
      if (mode.kind === 'length') {
        const take = Math.min(mode.remaining, this.buffer.length)
        this.body.push(this.buffer.subarray(0, take))
        this.buffer = this.buffer.subarray(take)
        mode.remaining -= take
        if (mode.remaining > 0) return out
        out.push(this.complete())
      } else if (mode.kind === 'chunked') {
        const lineEnd = this.buffer.indexOf('\r\n')
        if (lineEnd < 0) return out
        const size = Number.parseInt(this.buffer.subarray(0, lineEnd).toString('latin1'), 16)
        if (size === 0) {
          // The last chunk, then optional trailer lines, then an empty line.
          const trailerEnd = this.buffer.indexOf('\r\n\r\n', lineEnd)
          if (trailerEnd < 0) return out
          this.buffer = this.buffer.subarray(trailerEnd + 4)
          out.push(this.complete())
        } else {
          if (this.buffer.length < lineEnd + 2 + size + 2) return out
          this.body.push(this.buffer.subarray(lineEnd + 2, lineEnd + 2 + size))
          this.buffer = this.buffer.subarray(lineEnd + 2 + size + 2)
        }
      } else {
        this.body.push(this.buffer)
        this.buffer = Buffer.alloc(0)
        return out
      }
    }
  }

  /** A body delimited by the connection's end is complete when it closes. */
  flushOnClose(): RawResponse | undefined {
    if (this.current !== undefined && this.bodyMode?.kind === 'close') return this.complete()
    return undefined
  }

  private complete(): RawResponse {
    const c = this.current
    if (c === undefined) throw new Error('no message')
    this.current = undefined
    this.bodyMode = undefined
    const body = Buffer.concat(this.body)
    this.body = []
    return { ...c, body }
  }
}
