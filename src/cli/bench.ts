/**
 * @module `ferry bench <endpoint>`: the load tester's command line (the engine is src/bench/).
 */
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { type BenchOptions, type FaultOptions, runBench } from '../bench/engine.ts'
import { renderSvg } from '../bench/plot.ts'
import { formatBytes, formatReport } from '../bench/report.ts'
import { parseDuration, parseEndpoint, parseInterop, parseProtocol, parseSize } from './units.ts'

export const BENCH_HELP = `Usage: ferry bench <endpoint> [options]

Load-tests any resumable-upload server (tus 1.0.0 or the IETF draft): N uploads of S bytes with C
in flight, through Ferry's Node client (resumes, retries) or one raw request each. The content is
generated from a seed, so every upload is verified without a stored copy: downloaded and compared
by SHA-256 (or by the Repr-Digest the server confirms). Prints throughput, uploads/s, latency
percentiles per request type (nearest rank), resumes, re-sent bytes and errors by kind. Exit
status 1 when an upload failed or did not verify.

Options:
  -n, --uploads N         how many uploads                                     [10]
  -s, --size SIZE         bytes per upload (1MiB, 10MB, 1GiB)                  [1MiB]
  -c, --concurrency C     uploads in flight                                    [1]
  --chunk-size SIZE       largest content of one request                       [all at once]
  --protocol P            auto, tus or ietf                                    [auto]
  --interop N             the draft's interop version (3-10)                   [10]
  --single-request        each upload in one raw request: tus creation-with-upload,
                          draft Upload-Complete: ?1 (needs --protocol; no resumes)
  --verify METHOD         download (GET + SHA-256) or digest (draft: Repr-Digest) [download]
  --no-verify             do not verify
  --seed N                seed of the generated content and of --cut-random     [1]
  --header 'K: V'         extra request field (repeatable)
  --retries N             the client's retries per failure streak              [10]
Faults (an in-process fault proxy between the client and the endpoint):
  --cut-after SIZE        cut connections after this many upstream bytes
  --cut-random MIN-MAX    cut at a random upstream byte in the range (seeded)
  --cuts N                how many connections to cut                          [1]
  --throttle RATE         upstream bytes per second per connection (5MB, 512KiB)
  --latency DUR           one-way latency in both directions (50ms)
  --pace RATE             client-side: send each request body at this rate
Output:
  --json                  the report as JSON on stdout
  --plot FILE.svg         write a chart of throughput over time
  -h, --help              print this help

A live progress line goes to stderr when it is a terminal.

Example:
  ferry bench http://127.0.0.1:1080/files/ -n 100 -s 8MiB -c 10 --cut-random 1MB-8MB --cuts 5
`

interface Parsed {
  readonly options: BenchOptions
  readonly json: boolean
  readonly plot: string | undefined
}

function integer(text: string, name: string, min: number): number {
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`invalid ${name} "${text}"`)
  return n
}

function parse(argv: readonly string[]): Parsed | 'help' {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      uploads: { type: 'string', short: 'n' },
      size: { type: 'string', short: 's' },
      concurrency: { type: 'string', short: 'c' },
      'chunk-size': { type: 'string' },
      protocol: { type: 'string' },
      interop: { type: 'string' },
      'single-request': { type: 'boolean' },
      verify: { type: 'string' },
      'no-verify': { type: 'boolean' },
      seed: { type: 'string' },
      header: { type: 'string', multiple: true },
      retries: { type: 'string' },
      'cut-after': { type: 'string' },
      'cut-random': { type: 'string' },
      cuts: { type: 'string' },
      throttle: { type: 'string' },
      latency: { type: 'string' },
      pace: { type: 'string' },
      json: { type: 'boolean' },
      plot: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help === true) return 'help'
  const [endpoint, ...extra] = positionals
  if (endpoint === undefined) throw new Error('missing <endpoint>')
  if (extra.length > 0) throw new Error(`unexpected argument "${extra[0]}"`)
  const url = parseEndpoint(endpoint)
  const protocol = parseProtocol(values.protocol)
  const interop = values.interop === undefined ? undefined : parseInterop(values.interop)
  const verify = values['no-verify'] === true ? 'none' : (values.verify ?? 'download')
  if (verify !== 'download' && verify !== 'digest' && verify !== 'none') {
    throw new Error('--verify must be download or digest')
  }
  const headers: Record<string, string> = {}
  for (const h of values.header ?? []) {
    const at = h.indexOf(':')
    if (at <= 0) throw new Error(`invalid --header "${h}" (expected 'Name: value')`)
    headers[h.slice(0, at).trim().toLowerCase()] = h.slice(at + 1).trim()
  }
  const seed = values.seed === undefined ? 1 : integer(values.seed, '--seed', 0)
  const faults: { -readonly [K in keyof FaultOptions]: FaultOptions[K] } = {}
  if (values['cut-after'] !== undefined) faults.cutAfterBytes = parseSize(values['cut-after'])
  if (values['cut-random'] !== undefined) {
    const m = /^\s*([^-]+?)\s*-\s*(.+?)\s*$/.exec(values['cut-random'])
    if (m === null) throw new Error(`invalid --cut-random "${values['cut-random']}" (MIN-MAX)`)
    faults.cutRandom = { min: parseSize(m[1] as string), max: parseSize(m[2] as string) }
    faults.seed = seed
  }
  if (faults.cutAfterBytes !== undefined && faults.cutRandom !== undefined) {
    throw new Error('--cut-after and --cut-random exclude each other')
  }
  if (values.cuts !== undefined) faults.cuts = integer(values.cuts, '--cuts', 0)
  if (values.throttle !== undefined) faults.throttleBytesPerSecond = parseSize(values.throttle)
  if (values.latency !== undefined) faults.latencyMs = parseDuration(values.latency)
  const hasFaults = Object.keys(faults).length > 0
  const options: BenchOptions = {
    endpoint: url.href,
    uploads: values.uploads === undefined ? 10 : integer(values.uploads, '--uploads', 1),
    size: parseSize(values.size ?? '1MiB'),
    concurrency:
      values.concurrency === undefined ? 1 : integer(values.concurrency, '--concurrency', 1),
    protocol,
    verify,
    seed,
    headers,
    ...(values['chunk-size'] === undefined
      ? {}
      : { chunkSize: Math.max(1, parseSize(values['chunk-size'])) }),
    ...(interop === undefined ? {} : { interop }),
    ...(values['single-request'] === true ? { singleRequest: true } : {}),
    ...(values.retries === undefined ? {} : { retries: integer(values.retries, '--retries', 0) }),
    ...(values.pace === undefined ? {} : { bytesPerSecond: parseSize(values.pace) }),
    ...(hasFaults ? { faults } : {}),
  }
  if (values.plot !== undefined && !values.plot.toLowerCase().endsWith('.svg')) {
    throw new Error('--plot writes SVG: give a FILE.svg')
  }
  return { options, json: values.json === true, plot: values.plot }
}

export async function benchCommand(argv: readonly string[]): Promise<number> {
  let parsed: Parsed | 'help'
  try {
    parsed = parse(argv)
  } catch (e) {
    process.stderr.write(`ferry bench: ${(e as Error).message}\n\n${BENCH_HELP}`)
    return 2
  }
  if (parsed === 'help') {
    process.stdout.write(BENCH_HELP)
    return 0
  }
  const { options, json, plot } = parsed
  const tty = process.stderr.isTTY === true
  let report: Awaited<ReturnType<typeof runBench>>
  try {
    report = await runBench({
      ...options,
      ...(tty
        ? {
            onTick: (p) => {
              const rate = p.elapsedSeconds > 0 ? p.acknowledged / 1e6 / p.elapsedSeconds : 0
              process.stderr.write(
                `\r\x1b[K  ${p.completed}/${p.total} done, ${p.inFlight} in flight, ${p.failed} failed  ${formatBytes(p.acknowledged)}  ${rate.toFixed(1)} MB/s  ${p.errors} errors  ${p.elapsedSeconds.toFixed(1)} s`,
              )
            },
          }
        : {}),
    })
  } catch (e) {
    if (tty) process.stderr.write('\n')
    process.stderr.write(`ferry bench: ${(e as Error).message}\n`)
    return 2
  }
  if (tty) process.stderr.write('\r\x1b[K')
  if (plot !== undefined) {
    writeFileSync(
      plot,
      renderSvg(
        report.timeline,
        `ferry bench: ${report.settings.uploads} × ${formatBytes(report.settings.size)}, ${report.settings.concurrency} in flight (${report.protocol})`,
      ),
    )
  }
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report))
  const ok = report.uploads.failed === 0 && report.verification.failed === 0
  return ok ? 0 : 1
}
