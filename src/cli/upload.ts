/**
 * @module `ferry upload <file|-> <endpoint>`: a resumable upload from the command line. State is
 * kept in a file (keyed by path, size, mtime and endpoint), so running the same command again
 * after Ctrl+C, kill -9 or a dropped network resumes where the server stands.
 */
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { parseArgs } from 'node:util'
import {
  defaultStatePath,
  fileSource,
  fileUrlStorage,
  MAX_PARALLEL,
  nodeTransport,
  type Progress,
  readableSource,
  type UploadError,
  type UploadSource,
  upload,
} from '../client/node/index.ts'
import { parseDuration, parseEndpoint, parseInterop, parseProtocol, parseSize } from './units.ts'

export const UPLOAD_HELP = `Usage: ferry upload <file|-> <endpoint> [options]

Uploads a file, or stdin with "-", resumably: tus 1.0.0 or the IETF draft "Resumable Uploads
for HTTP" (interop 3 to 10), picked by asking the server (OPTIONS). Interrupted uploads resume:
run the same command again after Ctrl+C, a crash or a dropped network. Prints the upload URL.
HTTPS_PROXY, HTTP_PROXY and NO_PROXY are honoured.

Options:
  --protocol P          auto, tus or ietf                                  [auto]
  --interop N           the draft's interop version, 3 to 10 (implies ietf)  [10, stepping down]
  --chunk-size SIZE     largest request body, e.g. 16MiB            [whole file; stdin 8MiB]
  --size SIZE           the size of stdin, when known (else the length is deferred)
  --parallel N          upload a file in N parts at once, joined by tus concatenation
                        (needs a tus server offering it; refused otherwise)      [1]
  --checksum ALG        tus: Upload-Checksum on every request, sha1 or sha256 (needs the
                        server's checksum extension; a corrupted chunk is sent again)
  --digest ALG          IETF draft: Content-Digest on every request and Repr-Digest of the
                        file on the creation, sha-256 or sha-512 (RFC 9530)
  --no-resume           start a new upload even if one is stored for this file
  --json                print progress and results as JSON lines on stdout
  --header 'K: V'       an extra request field (repeatable)
  --metadata k=v        upload metadata (repeatable); filename defaults to the file's name
  --retries N           attempts per failure streak, reset on progress       [10]
  --stall-timeout DUR   abort a request without a sign of life this long     [30s]
  --state FILE          where resumable uploads are remembered
                        [$XDG_CONFIG_HOME/ferry/uploads.json or ~/.config/ferry/uploads.json]
  --ca FILE             trust this PEM certificate for https
  --insecure            accept any certificate (testing only)
  --verbose             print every request and response on stderr
  -h, --help            print this help

Exit status: 0 uploaded, 1 failed, 2 usage error, 130 paused by Ctrl+C (run again to resume).

Example:
  ferry upload video.mp4 https://uploads.example.com/files/
`

class UsageError extends Error {}

interface Parsed {
  readonly file: string
  readonly endpoint: string
  readonly protocol: 'auto' | 'tus' | 'ietf'
  readonly interop: number | undefined
  readonly chunkSize: number | undefined
  readonly size: number | undefined
  readonly parallel: number | undefined
  readonly checksum: 'sha1' | 'sha256' | undefined
  readonly digest: 'sha-256' | 'sha-512' | undefined
  readonly resume: boolean
  readonly json: boolean
  readonly headers: Record<string, string>
  readonly metadata: Record<string, string>
  readonly retries: number | undefined
  readonly stallTimeoutMs: number | undefined
  readonly state: string
  readonly ca: Buffer | undefined
  readonly insecure: boolean
  readonly verbose: boolean
}

function parse(argv: readonly string[]): Parsed | 'help' {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      protocol: { type: 'string' },
      interop: { type: 'string' },
      'chunk-size': { type: 'string' },
      size: { type: 'string' },
      parallel: { type: 'string' },
      checksum: { type: 'string' },
      digest: { type: 'string' },
      'no-resume': { type: 'boolean' },
      json: { type: 'boolean' },
      header: { type: 'string', multiple: true },
      metadata: { type: 'string', multiple: true },
      retries: { type: 'string' },
      'stall-timeout': { type: 'string' },
      state: { type: 'string' },
      ca: { type: 'string' },
      insecure: { type: 'boolean' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help === true) return 'help'
  const [file, endpoint, ...extra] = positionals
  if (file === undefined) throw new UsageError('missing <file> (or "-" for stdin)')
  if (endpoint === undefined) throw new UsageError('missing <endpoint>')
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`)
  let url: URL
  let protocolText: ReturnType<typeof parseProtocol>
  try {
    url = parseEndpoint(endpoint)
    protocolText = parseProtocol(values.protocol)
  } catch (e) {
    throw new UsageError((e as Error).message)
  }
  let protocol: Parsed['protocol'] = protocolText
  let interop: number | undefined
  if (values.interop !== undefined) {
    try {
      interop = parseInterop(values.interop)
    } catch (e) {
      throw new UsageError((e as Error).message)
    }
    if (protocol === 'tus')
      throw new UsageError('--interop goes with the draft, not --protocol tus')
    protocol = 'ietf'
  }
  const size = (text: string | undefined, name: string): number | undefined => {
    if (text === undefined) return undefined
    try {
      return parseSize(text)
    } catch (e) {
      throw new UsageError(`${name}: ${(e as Error).message}`)
    }
  }
  const chunkSize = size(values['chunk-size'], '--chunk-size')
  if (chunkSize === 0) throw new UsageError('--chunk-size must be positive')
  let parallel: number | undefined
  if (values.parallel !== undefined) {
    parallel = Number(values.parallel)
    if (!/^\d+$/.test(values.parallel) || parallel < 1 || parallel > MAX_PARALLEL) {
      throw new UsageError(`--parallel must be a whole number from 1 to ${MAX_PARALLEL}`)
    }
    if (file === '-' && parallel > 1) {
      throw new UsageError('--parallel needs a file: stdin cannot be read in parts')
    }
    if (protocol === 'ietf' && parallel > 1) {
      throw new UsageError(
        '--parallel needs tus concatenation; the IETF draft has none (drop --protocol ietf / --interop)',
      )
    }
  }
  const checksum = values.checksum
  if (checksum !== undefined && checksum !== 'sha1' && checksum !== 'sha256') {
    throw new UsageError('--checksum must be sha1 or sha256')
  }
  const digest = values.digest
  if (digest !== undefined && digest !== 'sha-256' && digest !== 'sha-512') {
    throw new UsageError('--digest must be sha-256 or sha-512')
  }
  if (checksum !== undefined && digest === undefined && protocol === 'ietf') {
    throw new UsageError('--checksum is for tus; with the IETF draft use --digest')
  }
  if (digest !== undefined && checksum === undefined && protocol === 'tus') {
    throw new UsageError('--digest is for the IETF draft; with tus use --checksum')
  }
  const headers: Record<string, string> = {}
  for (const h of values.header ?? []) {
    const colon = h.indexOf(':')
    const name = colon < 0 ? '' : h.slice(0, colon).trim()
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new UsageError(`--header "${h}": expected 'Name: value'`)
    }
    headers[name.toLowerCase()] = h.slice(colon + 1).trim()
  }
  const metadata: Record<string, string> = {}
  for (const m of values.metadata ?? []) {
    const eq = m.indexOf('=')
    const key = eq < 0 ? '' : m.slice(0, eq)
    if (!/^[\x21-\x2b\x2d-\x7e]+$/.test(key)) {
      throw new UsageError(`--metadata "${m}": expected key=value (key without spaces or commas)`)
    }
    metadata[key] = m.slice(eq + 1)
  }
  if (file !== '-' && metadata.filename === undefined) metadata.filename = basename(file)
  let retries: number | undefined
  if (values.retries !== undefined) {
    retries = Number(values.retries)
    if (!/^\d+$/.test(values.retries)) throw new UsageError('--retries must be a whole number')
  }
  let stallTimeoutMs: number | undefined
  if (values['stall-timeout'] !== undefined) {
    try {
      stallTimeoutMs = parseDuration(values['stall-timeout'])
    } catch (e) {
      throw new UsageError(`--stall-timeout: ${(e as Error).message}`)
    }
  }
  let ca: Buffer | undefined
  if (values.ca !== undefined) {
    try {
      ca = readFileSync(values.ca)
    } catch (e) {
      throw new UsageError(`--ca: ${(e as Error).message}`)
    }
  }
  return {
    file,
    endpoint: url.href,
    protocol,
    interop,
    chunkSize,
    size: size(values.size, '--size'),
    parallel,
    checksum,
    digest,
    resume: values['no-resume'] !== true,
    json: values.json === true,
    headers,
    metadata,
    retries,
    stallTimeoutMs,
    state: values.state ?? defaultStatePath(),
    ca,
    insecure: values.insecure === true,
    verbose: values.verbose === true,
  }
}

// ---------------------------------------------------------------------------------------------
// Output

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB']

export function formatBytes(n: number): string {
  let v = n
  let u = 0
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024
    u++
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${UNITS[u]}`
}

export function formatEta(seconds: number): string {
  const s = Math.round(seconds)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const r = s % 60
  const mm = String(m).padStart(h > 0 ? 2 : 1, '0')
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(r).padStart(2, '0')}`
}

/** One line of the progress bar (no newline), at most `width - 1` characters. */
export function progressLine(p: Progress, width: number): string {
  const total = p.total
  const pct = total === undefined || total === 0 ? undefined : p.acknowledged / total
  const fields: { text: string; drop: number }[] = [
    { text: pct === undefined ? '' : `${(pct * 100).toFixed(1).padStart(5)}%`, drop: 9 },
    {
      text:
        total === undefined
          ? formatBytes(p.acknowledged)
          : `${formatBytes(p.acknowledged)} / ${formatBytes(total)}`,
      drop: 9,
    },
    { text: p.position > p.acknowledged ? `(sent ${formatBytes(p.position)})` : '', drop: 1 },
    { text: p.rate > 0 ? `${formatBytes(Math.round(p.rate))}/s` : '', drop: 2 },
    { text: p.etaSeconds === undefined ? '' : `ETA ${formatEta(p.etaSeconds)}`, drop: 3 },
  ].filter((f) => f.text !== '')
  const join = (): string => fields.map((f) => f.text).join('  ')
  // Narrow terminals: drop whole fields (what was sent first, then the rate, then the ETA).
  for (let rank = 1; rank <= 3 && join().length > width - 1; rank++) {
    const i = fields.findIndex((f) => f.drop === rank)
    if (i >= 0) fields.splice(i, 1)
  }
  const text = join()
  const barWidth = Math.min(40, width - text.length - 4)
  // The bar only when there is room (and a total).
  if (pct === undefined || barWidth < 10) return text.slice(0, Math.max(0, width - 1))
  const filled = Math.round(pct * barWidth)
  const sentTo = total === undefined ? filled : Math.round((p.position / total) * barWidth)
  const bar = '#'.repeat(filled) + '-'.repeat(Math.max(0, Math.min(barWidth, sentTo) - filled))
  return `[${bar.padEnd(barWidth, ' ')}] ${text}`
}

/** Where `ferry upload` writes (tests capture it). */
export interface UploadIo {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
}

const processIo: UploadIo = {
  stdout: (text) => {
    process.stdout.write(text)
  },
  stderr: (text) => {
    process.stderr.write(text)
  },
}

// ---------------------------------------------------------------------------------------------

export async function uploadCommand(
  argv: readonly string[],
  io: UploadIo = processIo,
): Promise<number> {
  const json = (line: Record<string, unknown>): void => io.stdout(`${JSON.stringify(line)}\n`)
  let parsed: Parsed | 'help'
  try {
    parsed = parse(argv)
  } catch (e) {
    io.stderr(`ferry upload: ${(e as Error).message}\n\n${UPLOAD_HELP}`)
    return 2
  }
  if (parsed === 'help') {
    io.stdout(UPLOAD_HELP)
    return 0
  }
  const o = parsed
  let source: UploadSource
  if (o.file === '-') {
    source = readableSource(process.stdin, o.size === undefined ? {} : { size: o.size })
  } else {
    source = fileSource(o.file)
  }
  const transport = nodeTransport({
    ...(o.ca === undefined ? {} : { ca: o.ca }),
    ...(o.insecure ? { insecure: true } : {}),
  })
  const started = Date.now()
  const up = upload(source, {
    endpoint: o.endpoint,
    protocol: o.protocol,
    ...(o.interop === undefined ? {} : { interop: o.interop }),
    ...(o.chunkSize === undefined ? {} : { chunkSize: o.chunkSize }),
    ...(o.size === undefined ? {} : { size: o.size }),
    ...(o.parallel === undefined ? {} : { parallel: o.parallel }),
    ...(o.checksum === undefined ? {} : { checksum: o.checksum }),
    ...(o.digest === undefined ? {} : { digest: o.digest }),
    metadata: o.metadata,
    headers: o.headers,
    transport,
    storage: fileUrlStorage(o.state),
    resume: o.resume,
    ...(o.retries === undefined ? {} : { retries: o.retries }),
    ...(o.stallTimeoutMs === undefined ? {} : { stallTimeoutMs: o.stallTimeoutMs }),
  })

  const tty = !o.json && io === processIo && process.stderr.isTTY === true
  let barShown = false
  let lastDraw = 0
  const clearBar = (): void => {
    if (barShown) io.stderr('\r\x1b[2K')
    barShown = false
  }
  const say = (text: string): void => {
    clearBar()
    io.stderr(`${text}\n`)
  }
  const draw = (p: Progress, force = false): void => {
    const now = Date.now()
    if (!force && now - lastDraw < 100) return
    lastDraw = now
    io.stderr(`\r\x1b[2K${progressLine(p, process.stderr.columns ?? 80)}`)
    barShown = true
  }

  up.on('url', (url) => {
    if (o.json) json({ type: 'url', url })
    else say(`Upload URL: ${url}`)
  })
  up.on('protocol', (protocol) => {
    if (o.json) json({ type: 'protocol', protocol })
    else if (o.verbose) say(`protocol: ${protocol}`)
  })
  up.on('progress', (p) => {
    if (o.json) {
      json({
        type: 'progress',
        acknowledged: p.acknowledged,
        sent: p.sent,
        position: p.position,
        total: p.total ?? null,
        rate: Math.round(p.rate),
        eta: p.etaSeconds === undefined ? null : Math.round(p.etaSeconds * 10) / 10,
      })
    } else if (tty) draw(p)
  })
  up.on('part', (p) => {
    if (o.json) json({ type: 'part', ...p })
    else if (o.verbose) say(`part ${p.index + 1}: bytes ${p.offset}+${p.length} at ${p.url}`)
  })
  up.on('retry', (r) => {
    if (o.json) json({ type: 'retry', ...r })
    else {
      const part = r.part === undefined ? '' : ` (part ${r.part + 1})`
      say(`retry ${r.attempt}${part} in ${(r.delayMs / 1000).toFixed(1)}s: ${r.reason}`)
    }
  })
  if (o.verbose) {
    up.on('request', (r) => {
      const range = r.length === undefined ? '' : ` [${r.offset}, +${r.length}]`
      say(`> ${r.method} ${r.url}${range}`)
      for (const [k, v] of Object.entries(r.headers)) say(`>   ${k}: ${v}`)
    })
    up.on('interim', (r) => {
      say(`< ${r.status}`)
      for (const [k, v] of Object.entries(r.headers)) say(`<   ${k}: ${v}`)
    })
    up.on('response', (r) => {
      if (r.response === undefined) {
        say(`< (${r.error ?? 'no response'}) after ${r.written} bytes`)
        return
      }
      say(`< ${r.response.status}`)
      for (const [k, v] of Object.entries(r.response.headers)) say(`<   ${k}: ${v}`)
    })
  }

  let interrupted = false
  const onSignal = (): void => {
    if (interrupted) process.exit(130)
    interrupted = true
    void up.pause().then(() => {
      const p = up.progress
      if (o.json) json({ type: 'paused', acknowledged: p.acknowledged, url: up.url ?? null })
      else {
        say(
          `paused at ${formatBytes(p.acknowledged)}${
            o.file === '-' ? '' : '; run the same command again to resume'
          }`,
        )
      }
      transport.close()
      process.exit(130)
    })
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  try {
    const result = await up.start().done
    const seconds = (Date.now() - started) / 1000
    if (o.json) {
      json({
        type: 'success',
        url: result.url ?? null,
        size: result.size,
        protocol: result.protocol,
        seconds,
      })
    } else {
      if (tty) draw(up.progress, true)
      say(
        `uploaded ${formatBytes(result.size)} in ${seconds.toFixed(1)}s (${result.protocol}${
          result.resumable ? '' : ', not resumable'
        })`,
      )
      if (result.url !== undefined) io.stdout(`${result.url}\n`)
    }
    return 0
  } catch (e) {
    const error = e as UploadError
    if (o.json) json({ type: 'error', code: error.code, message: error.message })
    say(`ferry upload: ${error.message}`)
    return 1
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    transport.close()
  }
}
