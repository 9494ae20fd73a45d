/**
 * `ferry upload` as a real process: killed with SIGKILL mid-upload and run again, it resumes
 * from the server's offset (its first request is a HEAD); Ctrl+C pauses and the next run
 * resumes; stdin with "-" (deferred length); --json lines; usage errors exit 2.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { formatEta, progressLine, uploadCommand } from '../../src/cli/upload.ts'
import { startFaultProxy } from '../support/fault-proxy.ts'
import { type RunningServer, startServer, tempDir } from '../support/servers.ts'
import { download, MiB, randomFile, sha256 } from './support.ts'

const ROOT = new URL('../../', import.meta.url).pathname
const dir = tempDir('ferry-client-cli-')
let server: RunningServer

before(async () => {
  server = await startServer({ relativeLocation: true })
})
after(async () => {
  await server.close()
  dir.cleanup()
})

interface Run {
  readonly child: ChildProcess
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  stdout(): string
  stderr(): string
  /** Resolves with the first stdout JSON line that satisfies `match`. */
  waitFor(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>
}

function cli(args: readonly string[], stdin?: Buffer): Run {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/_proxy$/i.test(k)) env[k] = v
  }
  env.XDG_CONFIG_HOME = join(dir.path, 'config')
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'src/cli/run.ts'), 'upload', ...args],
    {
      cwd: ROOT,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  )
  let out = ''
  let err = ''
  const waiters: {
    match: (l: Record<string, unknown>) => boolean
    resolve: (l: Record<string, unknown>) => void
  }[] = []
  child.stdout?.on('data', (d: Buffer) => {
    const before = out
    out += d.toString()
    const lines = out.split('\n').slice(before.split('\n').length - 1, -1)
    for (const line of lines) {
      let parsed: Record<string, unknown>
      try {
        parsed = JSON.parse(line) as Record<string, unknown>
      } catch {
        continue
      }
      for (const w of [...waiters]) {
        if (w.match(parsed)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve(parsed)
        }
      }
    }
  })
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
  })
  if (stdin !== undefined) child.stdin?.end(stdin)
  else child.stdin?.end()
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  return {
    child,
    exited,
    stdout: () => out,
    stderr: () => err,
    waitFor: (match) =>
      new Promise((resolve, reject) => {
        waiters.push({ match, resolve })
        void exited.then(() => reject(new Error(`exited before the line was seen\n${out}\n${err}`)))
      }),
  }
}

const jsonLines = (text: string): Record<string, unknown>[] =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)

/** Runs `ferry upload` in this process (argument errors return before any I/O). */
async function inProcess(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = ''
  const write = process.stderr.write.bind(process.stderr)
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += chunk.toString()
    return true
  }) as typeof process.stderr.write
  try {
    return { code: await uploadCommand(args), stderr }
  } finally {
    process.stderr.write = write
  }
}

const direct = (url: string): string => new URL(new URL(url).pathname, server.url).href

describe('ferry upload', () => {
  for (const how of ['SIGKILL', 'SIGINT'] as const) {
    test(`${how} mid-upload, then run again: resumes from the server's offset`, async () => {
      const file = await randomFile(dir.path, 12 * MiB, `big-${how}.bin`)
      const state = join(dir.path, `state-${how}.json`)
      // Slow enough to be interrupted mid-upload.
      const proxy = await startFaultProxy({
        target: { host: '127.0.0.1', port: server.port },
        bytesPerSecond: 12 * MiB,
      })
      try {
        const endpoint = proxy.url('/files/')
        const args = [
          file.path,
          endpoint,
          '--state',
          state,
          '--json',
          '--chunk-size',
          '1MiB',
          '--verbose',
        ]
        const first = cli(args)
        const progress = await first.waitFor(
          (l) => l.type === 'progress' && Number(l.acknowledged) >= 2 * MiB,
        )
        first.child.kill(how)
        const exit = await first.exited
        if (how === 'SIGKILL') assert.equal(exit.signal, 'SIGKILL')
        else {
          assert.equal(exit.code, 130, first.stderr())
          assert.ok(
            jsonLines(first.stdout()).some((l) => l.type === 'paused'),
            first.stdout(),
          )
        }
        const stored = JSON.parse(readFileSync(state, 'utf8')) as {
          uploads: Record<string, { url: string }>
        }
        const entries = Object.values(stored.uploads)
        assert.equal(entries.length, 1, 'the state file holds the upload')
        const url = entries[0]?.url ?? ''

        const second = cli(args)
        const { code } = await second.exited
        assert.equal(code, 0, second.stderr())
        const requests = second
          .stderr()
          .split('\n')
          .filter((l) => /^> [A-Z]+ /.test(l))
        assert.match(requests[0] ?? '', new RegExp(`^> HEAD ${url}$`), second.stderr())
        // The first PATCH starts at the offset the HEAD reported (at least what was acknowledged).
        const headOffset = Number(
          /< 204\n(?:< {2}.*\n)*?< {3}upload-offset: (\d+)/.exec(second.stderr())?.[1],
        )
        const patch = /> PATCH \S+ \[(\d+), /.exec(second.stderr())
        assert.ok(headOffset >= Number(progress.acknowledged), `HEAD offset ${headOffset}`)
        assert.equal(Number(patch?.[1]), headOffset, second.stderr())
        const lines = jsonLines(second.stdout())
        const success = lines.find((l) => l.type === 'success')
        assert.equal(success?.url, url)
        assert.equal(sha256(await download(direct(url))), file.hash)
        const after = JSON.parse(readFileSync(state, 'utf8')) as {
          uploads: Record<string, unknown>
        }
        assert.deepEqual(after.uploads, {}, 'removed on success')
      } finally {
        await proxy.close()
      }
    })
  }

  test('stdin with "-": deferred length, JSON lines', async () => {
    const bytes = randomBytes(3 * MiB + 12345)
    const run = cli(
      ['-', server.endpoint, '--json', '--chunk-size', '1MiB', '--state', join(dir.path, 's.json')],
      bytes,
    )
    const { code } = await run.exited
    assert.equal(code, 0, run.stderr())
    const lines = jsonLines(run.stdout())
    assert.ok(lines.every((l) => typeof l.type === 'string'))
    const types = new Set(lines.map((l) => l.type))
    for (const t of ['protocol', 'url', 'progress', 'success']) assert.ok(types.has(t), `${t} line`)
    const success = lines.find((l) => l.type === 'success')
    assert.equal(success?.size, bytes.length)
    assert.equal(success?.protocol, 'tus')
    const last = lines.filter((l) => l.type === 'progress').at(-1)
    assert.equal(last?.acknowledged, bytes.length)
    assert.equal(sha256(await download(String(success?.url))), sha256(bytes))
  })

  test('plain output: the URL on stdout, messages on stderr; the draft when asked', async () => {
    const file = await randomFile(dir.path, 1000, 'small.bin')
    const run = cli([
      file.path,
      server.endpoint,
      '--protocol',
      'ietf',
      '--interop',
      '8',
      '--no-resume',
      '--state',
      join(dir.path, 's2.json'),
    ])
    const { code } = await run.exited
    assert.equal(code, 0, run.stderr())
    const url = run.stdout().trim()
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/files\/\w+$/)
    assert.match(run.stderr(), /Upload URL: /)
    assert.match(run.stderr(), /uploaded 1000 B .*ietf-8/)
    assert.equal(sha256(await download(url)), file.hash)
  })

  test('usage errors exit 2; failures exit 1 with a clear message', async () => {
    const usage: [string[], RegExp][] = [
      [[], /missing <file>/],
      [['x'], /missing <endpoint>/],
      [['x', 'ftp://h/'], /http:\/\/ or https:\/\//],
      [['x', server.endpoint, '--parallel', '0'], /--parallel must be a whole number/],
      [['-', server.endpoint, '--parallel', '2'], /--parallel needs a file/],
      [['x', server.endpoint, '--parallel', '2', '--interop', '8'], /IETF draft has none/],
      [['x', server.endpoint, '--checksum', 'md5'], /--checksum must be sha1 or sha256/],
      [['x', server.endpoint, '--digest', 'sha-1'], /--digest must be sha-256 or sha-512/],
      [['x', server.endpoint, '--protocol', 'foo'], /--protocol must be/],
      [['x', server.endpoint, '--interop', '11'], /--interop/],
      [['x', server.endpoint, '--chunk-size', 'lots'], /--chunk-size/],
      [['x', server.endpoint, '--bogus'], /bogus/],
    ]
    // Parsing is checked in process (cheap); one usage error also as a real process.
    for (const [args, message] of usage) {
      const { code, stderr } = await inProcess(args)
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`)
      assert.match(stderr, message)
    }
    const real = cli(['x', server.endpoint, '--parallel=0'])
    assert.equal((await real.exited).code, 2)
    assert.match(real.stderr(), /--parallel must be/)
    const missing = cli([
      join(dir.path, 'nope.bin'),
      server.endpoint,
      '--state',
      join(dir.path, 's3.json'),
    ])
    const refused = cli([
      join(ROOT, 'package.json'),
      'http://127.0.0.1:9/files/',
      '--retries',
      '0',
      '--state',
      join(dir.path, 's4.json'),
    ])
    assert.equal((await missing.exited).code, 1)
    assert.match(missing.stderr(), /ferry upload: cannot read .*nope\.bin/)
    assert.equal((await refused.exited).code, 1)
    assert.match(refused.stderr(), /ferry upload: .*ECONNREFUSED/)
  })

  test('the progress line: percent, acknowledged bytes, what was sent, rate, ETA', () => {
    const p = {
      acknowledged: 45 * MiB,
      sent: 52 * MiB,
      position: 52 * MiB,
      total: 100 * MiB,
      rate: 12.3 * MiB,
      etaSeconds: 4.5,
    }
    assert.equal(
      progressLine(p, 100),
      '[#############--              ]  45.0%  45.0 MiB / 100.0 MiB  (sent 52.0 MiB)  12.3 MiB/s  ETA 0:05',
    )
    assert.equal(progressLine(p, 60), ' 45.0%  45.0 MiB / 100.0 MiB  12.3 MiB/s  ETA 0:05')
    assert.equal(progressLine(p, 40), ' 45.0%  45.0 MiB / 100.0 MiB  ETA 0:05')
    assert.equal(
      progressLine({ ...p, total: undefined, etaSeconds: undefined }, 80),
      '45.0 MiB  (sent 52.0 MiB)  12.3 MiB/s',
    )
    assert.equal(formatEta(3725), '1:02:05')
  })
})
