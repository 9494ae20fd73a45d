/**
 * @module The `ferry` command line: argument parsing and wiring only.
 */
import { readFileSync } from 'node:fs'
import { benchCommand } from './bench.ts'
import { checkCommand } from './check.ts'
import { proxyCommand } from './proxy.ts'
import { serveCommand } from './serve.ts'
import { uploadCommand } from './upload.ts'

const VERSION = (() => {
  try {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as {
      version?: string
    }
    return pkg.version ?? '0.0.0'
  } catch {
    return '0.0.0'
  }
})()

const HELP = `ferry ${VERSION} — resumable uploads over HTTP (tus 1.0.0 and the IETF draft, interop 3-10)

Usage:
  ferry serve [options]     run the upload server (ferry serve --help for its options)
  ferry check <endpoint>    check any upload server for conformance (ferry check --help)
  ferry upload <file> <url> upload a file (or stdin) resumably (ferry upload --help)
  ferry proxy [options]     a fault proxy: cut, throttle, delay connections (ferry proxy --help)
  ferry bench <endpoint>    load-test any upload server, verified (ferry bench --help)
  ferry --version           print the version
  ferry --help              print this help

Every option can also be set in the environment: --max-size → FERRY_MAX_SIZE.
`

/** Runs the command line; resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'serve':
      return serveCommand(rest)
    case 'check':
      return checkCommand(rest)
    case 'proxy':
      return proxyCommand(rest)
    case 'upload':
      return uploadCommand(rest)
    case 'bench':
      return benchCommand(rest)
    case '--version':
    case '-v':
      process.stdout.write(`${VERSION}\n`)
      return 0
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(HELP)
      return command === undefined ? 2 : 0
    default:
      process.stderr.write(`ferry: unknown command "${command}"\n\n${HELP}`)
      return 2
  }
}
