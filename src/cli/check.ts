/**
 * @module `ferry check <endpoint>`: the conformance tester's command line.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { formatHeader, formatResult, summaryLine } from '../check/report.ts'
import { runChecks } from '../check/runner.ts'
import { parseDuration } from './units.ts'

export const CHECK_HELP = `Usage: ferry check <endpoint> [options]

Checks any resumable-upload server against tus 1.0.0 (core and its nine extensions) and the IETF
draft "Resumable Uploads for HTTP" (interop versions 3 to 10). Discovery comes first (OPTIONS,
Tus-Extension, a careful creation per interop version); checks that do not apply are skipped with
the reason. Each line names the requirement it proves. Exit status 1 when a MUST fails.

Options:
  --json               print the report as JSON
  --protocol P         only tus or ietf checks
  --interop LIST       interop versions to check: 8, 3,5,6 or 3-10       [every version found]
  --only PATTERN       checks whose id or title contains PATTERN (or matches /regex/)
  --timeout DUR        per request                                       [10s]
  --expire-wait DUR    how long expiration checks may wait (0 skips them) [0]
  --h2c                also probe HTTP/2 without TLS on an http:// endpoint
  --ca FILE            trust this PEM certificate for https
  --insecure           accept any certificate (testing only)
  --verbose            print the requests and responses of failed checks
  -h, --help           print this help

Example:
  ferry check http://127.0.0.1:1080/files/ --interop 8-10
`

function parseVersions(text: string): number[] {
  const out = new Set<number>()
  for (const part of text.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+))?\s*$/.exec(part)
    if (m === null) throw new Error(`invalid --interop "${text}" (examples: 8, 3,5,6, 3-10)`)
    const from = Number(m[1])
    const to = m[2] === undefined ? from : Number(m[2])
    for (let v = from; v <= to; v++) out.add(v)
  }
  return [...out].sort((a, b) => a - b)
}

export async function checkCommand(argv: readonly string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(argv)
  } catch (e) {
    process.stderr.write(`ferry check: ${(e as Error).message}\n\n${CHECK_HELP}`)
    return 2
  }
  if (parsed === 'help') {
    process.stdout.write(CHECK_HELP)
    return 0
  }
  const { endpoint, json, verbose, options } = parsed
  const report = await runChecks(endpoint, {
    ...options,
    ...(json
      ? {}
      : {
          onDiscovery: (d) => {
            process.stdout.write(`${formatHeader(endpoint.href, d)}\n`)
          },
          onResult: (r) => {
            process.stdout.write(`${formatResult(r, verbose)}\n`)
          },
        }),
  })
  if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
  else process.stdout.write(`\n${summaryLine(report)}\n`)
  return report.ok ? 0 : 1
}

function parse(argv: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean' },
      protocol: { type: 'string' },
      interop: { type: 'string' },
      only: { type: 'string' },
      timeout: { type: 'string' },
      'expire-wait': { type: 'string' },
      h2c: { type: 'boolean' },
      ca: { type: 'string' },
      insecure: { type: 'boolean' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help === true) return 'help' as const
  const [endpoint, ...extra] = positionals
  if (endpoint === undefined) throw new Error('missing <endpoint>')
  if (extra.length > 0) throw new Error(`unexpected argument "${extra[0]}"`)
  let url: URL
  try {
    url = new URL(endpoint)
  } catch {
    throw new Error(`invalid endpoint URL "${endpoint}"`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error('the endpoint must be http:// or https://')
  const protocol = values.protocol
  if (protocol !== undefined && protocol !== 'tus' && protocol !== 'ietf') {
    throw new Error('--protocol must be tus or ietf')
  }
  return {
    endpoint: url,
    json: values.json === true,
    verbose: values.verbose === true,
    options: {
      timeoutMs: parseDuration(values.timeout ?? '10s'),
      expireWaitMs: parseDuration(values['expire-wait'] ?? '0'),
      ...(protocol === undefined ? {} : { protocol: protocol as 'tus' | 'ietf' }),
      ...(values.interop === undefined ? {} : { interop: parseVersions(values.interop) }),
      ...(values.only === undefined ? {} : { only: values.only }),
      ...(values.h2c === true ? { h2c: true } : {}),
      ...(values.ca === undefined ? {} : { ca: readFileSync(values.ca) }),
      ...(values.insecure === true ? { insecure: true } : {}),
    },
  }
}
