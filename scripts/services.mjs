#!/usr/bin/env node
// Real services for Ferry's tests, CI and benchmarks: a single-node Ceph RADOS Gateway (S3) and a
// redis-server, started from Debian's packages in a few seconds, on free loopback ports, and never
// left behind: stop() ends them (rgw first), and so does the exit of the process that started them
// (the 'exit' event, SIGINT/SIGTERM/SIGHUP, and the kernel's parent-death signal for a SIGKILL).
//
//   import { startRgw, startRedis } from './services.mjs'
//   const s3 = await startRgw({ dir })      // { endpoint, region, accessKeyId, secretAccessKey, stop() }
//   const redis = await startRedis({ dir }) // { url, port, stop(), start() }
//
//   node scripts/services.mjs start [--dir D]   # for humans: prints the env variables to export
//   node scripts/services.mjs stop [--dir D]
//
// The recipe is ../shared/reference/env.md §3 and Appendix F (measured on the build machine): one
// ceph-mon, one memstore ceph-osd (RAM only, capped by memstore_device_bytes), one radosgw, cephx
// off, no ceph-mgr, no systemd, no block device.
//
// Ceph RGW 16.2 (pacific) vs AWS S3: differences seen while building and testing this (the S3 store
// must not depend on the AWS-only behaviour; test/services/services.test.ts pins the RGW side):
//  - CompleteMultipartUpload answers 200 with an ETag the SDK parses as '' (AWS: the multipart
//    ETag); HeadObject gives the multipart ETag "<md5 of the parts' md5s>-<number of parts>".
//  - An aborted or unknown upload id: ListParts → 404 NoSuchKey (AWS: NoSuchUpload), whether or not
//    an object exists under the key; UploadPart and AbortMultipartUpload → 404 NoSuchUpload (as
//    AWS); CompleteMultipartUpload → 500 InternalError "This multipart completion is already in
//    progress" (AWS: 404 NoSuchUpload) — and the SDK retries 500s. Completing an upload a second
//    time also gives that 500 (AWS answers a repeated completion with 200). Treat NoSuchKey,
//    NoSuchUpload and this 500 after an abort as "upload gone", and never complete twice.
//  - Error responses carry a Code but no Message: the SDK's error message is 'UnknownError'; use
//    err.name / err.Code and $metadata.httpStatusCode.
//  - CompleteMultipartUpload with a wrong part ETag or a missing part → 400 InvalidPart; with no
//    parts → 400 MalformedXML (both as AWS).
//  - UploadPartCopy with x-amz-copy-source-range beyond the source's size → 416 InvalidRange (AWS
//    documents 400 InvalidArgument / InvalidRange); without a range it copies the whole object.
//  - Bucket names shorter than 3 characters → 400 InvalidBucketName (AWS: the same rule).
//  - EntityTooSmall for a non-last part under 5 MiB is enforced, as on AWS, but only at
//    CompleteMultipartUpload (UploadPart accepts any size), also as on AWS.
//  - Streamed request bodies with the SDK's default checksums (aws-chunked + trailing CRC32) get
//    411 Length Required (env.md §2b): use requestChecksumCalculation and responseChecksumValidation
//    'WHEN_REQUIRED' (test/support/services.ts clientConfig() does), or Buffer bodies.
//  - Path-style addressing only (no wildcard DNS for virtual-host buckets): forcePathStyle: true.
//  - Objects and parts are written lazily into pools created on first use; this script writes and
//    deletes a probe object before it reports ready, so the first test does not pay for that.
//  - Data lives in the OSD's RAM (memstore): everything is gone when the services stop, and the
//    OSD's memory grows with what is stored (about 1.4 GB RSS for 1 GiB of objects).
import { spawn } from 'node:child_process'
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto'
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { request } from 'node:http'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const RGW_PACKAGES = ['radosgw', 'ceph-mon', 'ceph-osd']
export const REDIS_PACKAGES = ['redis-server']
/** Fixed credentials of the S3 user every gateway gets (test-only, loopback-only). */
export const S3_ACCESS_KEY_ID = 'FERRYTESTACCESSKEY01'
export const S3_SECRET_ACCESS_KEY = 'ferry-test-secret-access-key-0123456789'
export const S3_REGION = 'us-east-1'
const DEFAULT_MEMSTORE_BYTES = 4 * 2 ** 30
const READY_TIMEOUT_MS = 90_000
const STOP_GRACE_MS = 8_000

// ---------------------------------------------------------------------------------------------
// Process bookkeeping: every daemon started without `detached` is killed when this process ends.

/** @type {Set<{ child: import('node:child_process').ChildProcess, order: number }>} */
const live = new Set()
/** @type {Set<string>} directories to remove at exit */
const dirsToRemove = new Set()
let hooksInstalled = false

function installExitHooks() {
  if (hooksInstalled) return
  hooksInstalled = true
  process.on('exit', killAllNow)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    const onSignal = () => {
      // Someone else handles this signal (scripts/test.mjs does): they decide when to exit, and
      // the 'exit' hook still kills the daemons then. Alone, restore the default: die by it.
      if (process.listenerCount(sig) > 1) return
      killAllNow()
      process.removeListener(sig, onSignal)
      process.kill(process.pid, sig)
    }
    process.on(sig, onSignal)
  }
}

function killAllNow() {
  const entries = [...live].sort((a, b) => a.order - b.order)
  for (const { child } of entries) {
    try {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    } catch {}
  }
  live.clear()
  for (const dir of dirsToRemove) {
    try {
      rmSync(dir, { recursive: true, force: true })
    } catch {}
  }
  dirsToRemove.clear()
}

function which(name) {
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    if (!dir) continue
    try {
      accessSync(join(dir, name), constants.X_OK)
      return join(dir, name)
    } catch {}
  }
  return undefined
}

function requireBinaries(names, packages, what) {
  const missing = names.filter((n) => which(n) === undefined)
  if (missing.length === 0) return
  throw new Error(
    `${what} is not installed (missing: ${missing.join(', ')}). The S3 and Redis test suites use ` +
      `the real services; install them: see .ci/run, which installs them on a fresh Debian machine ` +
      `(apt-get install --no-install-recommends ${packages.join(' ')}).`,
  )
}

const hasSetpriv = () => which('setpriv') !== undefined

/**
 * Starts a daemon with its output in logFile. Without `detached`, the kernel kills it when this
 * process dies (setpriv --pdeathsig), and the exit hooks kill it when this process exits.
 */
function daemon(cmd, args, { logFile, cwd, detached = false, order = 0 }) {
  const fd = openSync(logFile, 'a')
  const pdeath = !detached && hasSetpriv()
  const child = spawn(
    pdeath ? 'setpriv' : cmd,
    pdeath ? ['--pdeathsig', 'KILL', cmd, ...args] : args,
    {
      cwd,
      stdio: ['ignore', fd, fd],
      // Own process group: a Ctrl+C in the terminal reaches the test runner, which then stops the
      // services in order, rather than every daemon at once.
      detached: true,
    },
  )
  closeSync(fd)
  child.unref()
  const entry = { child, order }
  const exited = new Promise((resolveExit) => {
    child.once('exit', (code, signal) => {
      live.delete(entry)
      resolveExit({ code, signal })
    })
    child.once('error', (err) => {
      live.delete(entry)
      resolveExit({ code: null, signal: null, error: err })
    })
  })
  if (!detached) {
    installExitHooks()
    live.add(entry)
  }
  return { child, exited, logFile, name: cmd }
}

/** SIGTERM, wait (keeping the event loop alive meanwhile), SIGKILL after a grace period. */
async function stopDaemon(d, graceMs = STOP_GRACE_MS) {
  if (d.child.exitCode !== null || d.child.signalCode !== null) return
  d.child.ref()
  try {
    d.child.kill('SIGTERM')
    const timer = setTimeout(() => d.child.kill('SIGKILL'), graceMs)
    await d.exited
    clearTimeout(timer)
  } finally {
    d.child.unref()
  }
}

/** Runs a setup command to its end; like the daemons, it does not outlive this process. */
function run(cmd, args, { timeoutMs = 60_000, logFile } = {}) {
  return new Promise((resolveRun, reject) => {
    const pdeath = hasSetpriv()
    const child = spawn(
      pdeath ? 'setpriv' : cmd,
      pdeath ? ['--pdeathsig', 'KILL', cmd, ...args] : args,
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: timeoutMs,
      },
    )
    const entry = { child, order: 0 }
    installExitHooks()
    live.add(entry)
    child.on('exit', () => live.delete(entry))
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      out += d
    })
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (logFile) writeFileSync(logFile, out, { flag: 'a' })
      if (code === 0) resolveRun(out)
      else {
        const how = signal
          ? `killed by ${signal}${signal === 'SIGTERM' ? ' (timeout)' : ''}`
          : `exit ${code}`
        reject(new Error(`${cmd} ${args.join(' ')}: ${how}\n${tail(out, 15)}`))
      }
    })
  })
}

function tail(text, lines) {
  return text.split('\n').filter(Boolean).slice(-lines).join('\n')
}

/** 98 is EADDRINUSE on Linux: the daemons exit with the errno of a failed bind. */
const exitText = (code) => (code === 98 ? 'exit 98: address already in use' : `exit ${code}`)

function fileTail(path, lines = 12) {
  try {
    return tail(readFileSync(path, 'utf8'), lines)
      .split('\n')
      .map((line) => (line.length > 300 ? `${line.slice(0, 300)}…` : line))
      .join('\n')
  } catch {
    return '(no log)'
  }
}

/** Free TCP ports on 127.0.0.1: bound to port 0 together (so they differ), then released. */
export async function freePorts(n) {
  const servers = []
  try {
    for (let i = 0; i < n; i++) {
      const server = createServer()
      servers.push(server)
      await new Promise((res, rej) => {
        server.once('error', rej)
        server.listen(0, '127.0.0.1', res)
      })
    }
    return servers.map((s) => /** @type {import('node:net').AddressInfo} */ (s.address()).port)
  } finally {
    await Promise.all(servers.map((s) => new Promise((res) => s.close(() => res(undefined)))))
  }
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms))

/** An Error with the tail of each daemon log: startup errors say what the daemon said. */
function fail(message, logs) {
  const parts = [message]
  for (const [label, path] of logs) parts.push(`--- ${label} (${path}) ---\n${fileTail(path)}`)
  const err = new Error(parts.join('\n'))
  Object.defineProperty(err, 'withLogs', { value: true })
  return err
}

/** Status of a plain GET (a fresh connection: no keep-alive socket outlives the probe). */
function httpStatus(url) {
  return new Promise((res) => {
    const req = request(url, { agent: false, timeout: 5000 })
    req.on('timeout', () => req.destroy())
    req.on('error', () => res(0))
    req.on('response', (response) => {
      response.resume()
      res(response.statusCode ?? 0)
    })
    req.end()
  })
}

// ---------------------------------------------------------------------------------------------
// S3 requests signed with AWS Signature Version 4 (AWS docs: "Signature Version 4 for API
// requests", "Create a signed AWS API request"), enough for the readiness probe: no SDK load.

const sha256hex = (data) => createHash('sha256').update(data).digest('hex')
const hmac = (key, data) => createHmac('sha256', key).update(data).digest()

/** @returns {Promise<{ status: number, body: string }>} */
export function s3Request({
  endpoint,
  method,
  path,
  body = Buffer.alloc(0),
  accessKeyId,
  secretAccessKey,
  region = S3_REGION,
}) {
  const url = new URL(path, endpoint)
  const amzDate = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')
  const date = amzDate.slice(0, 8)
  const payloadHash = sha256hex(body)
  const headers = { host: url.host, 'x-amz-content-sha256': payloadHash, 'x-amz-date': amzDate }
  const signedHeaders = Object.keys(headers).join(';')
  const canonical = [
    method,
    url.pathname,
    '',
    ...Object.entries(headers).map(([k, v]) => `${k}:${v}`),
    '',
    signedHeaders,
    payloadHash,
  ].join('\n')
  const scope = `${date}/${region}/s3/aws4_request`
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256hex(canonical)].join('\n')
  const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, date), region), 's3'), 'aws4_request')
  const signature = createHmac('sha256', key).update(toSign).digest('hex')
  return new Promise((res, rej) => {
    const req = request(url, {
      method,
      headers: {
        ...headers,
        'content-length': String(body.length),
        authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
      },
      agent: false,
      timeout: 30_000,
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timeout`)))
    req.on('error', rej)
    req.on('response', (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (d) => {
        text += d
      })
      response.on('end', () => res({ status: response.statusCode ?? 0, body: text }))
      response.on('error', rej)
    })
    req.end(body)
  })
}

// ---------------------------------------------------------------------------------------------
// Ceph RADOS Gateway

/**
 * Starts a single-node Ceph cluster with a RADOS Gateway on 127.0.0.1.
 * @param {{ dir?: string, port?: number, memoryBytes?: number, detached?: boolean }} [options]
 *   dir: parent directory for the cluster's directory (default: the OS temp dir); port: the S3
 *   port (default: a free one); memoryBytes: the OSD's RAM cap (memstore_device_bytes, default
 *   4 GiB, or env FERRY_TEST_RGW_MEMORY_BYTES); detached: survive this process (the CLI uses it).
 */
export async function startRgw(options = {}) {
  requireBinaries(
    ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph', 'monmaptool', 'ceph-authtool'],
    RGW_PACKAGES,
    'Ceph RADOS Gateway',
  )
  const parent = resolve(options.dir ?? tmpdir())
  mkdirSync(parent, { recursive: true })
  const C = mkdtempSync(join(parent, 'rgw-'))
  const detached = options.detached === true
  if (!detached) dirsToRemove.add(C)
  const memoryBytes =
    options.memoryBytes ?? Number(process.env.FERRY_TEST_RGW_MEMORY_BYTES || DEFAULT_MEMSTORE_BYTES)
  const [monV1, monV2, freeRgwPort] = await freePorts(3)
  const rgwPort = options.port ?? freeRgwPort
  for (const sub of ['run', 'log', 'mon.a', 'osd.0', 'rgw.a']) mkdirSync(join(C, sub))
  const fsid = randomUUID()
  const conf = join(C, 'ceph.conf')
  const log = (name) => join(C, 'log', name)
  // env.md §3 / Appendix F; each line is there for a reason measured on the build machine.
  writeFileSync(
    conf,
    `[global]
fsid = ${fsid}
mon_host = [v2:127.0.0.1:${monV2},v1:127.0.0.1:${monV1}]
public_addr = 127.0.0.1
ms_bind_ipv6 = false
# cephx off, but the mon client mode must be crc or radosgw loops on -13 (EACCES) and never serves
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
ms_mon_client_mode = crc
# one OSD: size-1 pools, few PGs (the default pg_num x ~8 rgw pools exceeds the per-OSD PG limit)
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
mon_max_pg_per_osd = 1000
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_crush_chooseleaf_type = 0
# RAM-backed object store with a cap
osd_objectstore = memstore
memstore_device_bytes = ${memoryBytes}
# lazily created pools take ~2 s each with the default paxos timing
paxos_propose_interval = 0.05
paxos_min_wait = 0.01
# the OSD waits this long for a mon that is already gone when stopping
osd_mon_shutdown_timeout = 1
# radosgw's first write may come before the OSD is up; the client then retries on its tick
# (default 5 s), which made one start in three take 5 s longer
objecter_tick_interval = 0.2
run_dir = ${C}/run
admin_socket = ${C}/run/$name.asok
log_file = ${C}/log/$name.log
keyring = ${C}/keyring
[mon.a]
mon_data = ${C}/mon.a
[osd.0]
osd_data = ${C}/osd.0
[client.rgw.a]
# tcp_nodelay: without it every small request waits ~40 ms for a delayed ACK
rgw_frontends = beast endpoint=127.0.0.1:${rgwPort} tcp_nodelay=1
rgw_data = ${C}/rgw.a
`,
  )
  const daemons = /** @type {ReturnType<typeof daemon>[]} */ ([])
  const logs = () => [
    ['radosgw', log('client.rgw.a.log')],
    ['radosgw output', log('rgw.out')],
    ['ceph-osd', log('osd.0.log')],
    ['ceph-mon', log('mon.a.log')],
  ]
  const stopAll = async () => {
    // rgw first, then the OSD while the mon still answers, then the mon.
    for (const d of [...daemons].reverse()) await stopDaemon(d)
  }
  const setupLog = log('setup.out')
  try {
    const osdUuid = randomUUID()
    await run(
      'ceph-authtool',
      [
        '--create-keyring',
        join(C, 'keyring'),
        '--gen-key',
        '-n',
        'mon.',
        '--cap',
        'mon',
        'allow *',
      ],
      { logFile: setupLog },
    )
    await run(
      'monmaptool',
      [
        '--create',
        '--addv',
        'a',
        `[v2:127.0.0.1:${monV2},v1:127.0.0.1:${monV1}]`,
        '--fsid',
        fsid,
        join(C, 'monmap'),
      ],
      { logFile: setupLog },
    )
    // The OSD's mkfs needs no mon (--no-mon-config): it runs beside the mon's.
    await Promise.all([
      run(
        'ceph-mon',
        [
          '-c',
          conf,
          '--mkfs',
          '-i',
          'a',
          '--monmap',
          join(C, 'monmap'),
          '--keyring',
          join(C, 'keyring'),
        ],
        { logFile: setupLog },
      ),
      run('ceph-osd', ['-c', conf, '-i', '0', '--mkfs', '--no-mon-config', '--osd-uuid', osdUuid], {
        logFile: setupLog,
      }),
    ])
    const mon = daemon('ceph-mon', ['-c', conf, '-i', 'a', '-f'], {
      logFile: log('mon.out'),
      cwd: C,
      detached,
      order: 3,
    })
    daemons.push(mon)
    const died = (d) =>
      d.exited.then(({ code, signal, error }) => {
        throw fail(
          `Ceph RGW failed to start: ${d.name} exited (${error ? error.message : (signal ?? exitText(code))})`,
          logs(),
        )
      })
    const watch = (p) => Promise.race([p, died(mon), ...daemons.slice(1).map(died)])
    await watch(
      run('ceph', ['-c', conf, '--connect-timeout', '30', 'osd', 'new', osdUuid, '0'], {
        logFile: setupLog,
      }),
    )
    daemons.push(
      daemon('ceph-osd', ['-c', conf, '-i', '0', '-f'], {
        logFile: log('osd.out'),
        cwd: C,
        detached,
        order: 2,
      }),
    )
    daemons.push(
      daemon('radosgw', ['-c', conf, '-n', 'client.rgw.a', '-f'], {
        logFile: log('rgw.out'),
        cwd: C,
        detached,
        order: 1,
      }),
    )
    const endpoint = `http://127.0.0.1:${rgwPort}`
    const deadline = Date.now() + READY_TIMEOUT_MS
    const ready = async () => {
      // Anonymous GET / answers 200 once radosgw has its zone; only then create the user (running
      // radosgw-admin beside radosgw's own first-time zone setup can race on the default zone).
      for (;;) {
        if ((await httpStatus(`${endpoint}/`)) === 200) break
        if (Date.now() > deadline)
          throw fail(
            `Ceph RGW failed to start: radosgw did not answer on ${endpoint} within ${READY_TIMEOUT_MS / 1000} s`,
            logs(),
          )
        await sleep(50)
      }
      await run(
        'radosgw-admin',
        [
          '-c',
          conf,
          'user',
          'create',
          '--uid=ferry',
          '--display-name=ferry tests',
          `--access-key=${S3_ACCESS_KEY_ID}`,
          `--secret-key=${S3_SECRET_ACCESS_KEY}`,
        ],
        { logFile: setupLog },
      )
      // Ready only when signed S3 calls work, the data path included: ListBuckets, then a probe
      // bucket and object written and deleted (this also creates the lazily made data pools).
      const creds = {
        endpoint,
        accessKeyId: S3_ACCESS_KEY_ID,
        secretAccessKey: S3_SECRET_ACCESS_KEY,
      }
      const probe = `ferry-ready-${randomBytes(4).toString('hex')}`
      for (const [method, path, body] of [
        ['GET', '/', undefined],
        ['PUT', `/${probe}`, undefined],
        ['PUT', `/${probe}/probe`, Buffer.from('ready')],
        ['DELETE', `/${probe}/probe`, undefined],
        ['DELETE', `/${probe}`, undefined],
      ]) {
        const r = await s3Request({ ...creds, method, path, ...(body ? { body } : {}) })
        if (r.status >= 300)
          throw fail(
            `Ceph RGW failed to start: ${method} ${path} answered ${r.status}: ${r.body.slice(0, 300)}`,
            logs(),
          )
      }
      return endpoint
    }
    await watch(ready())
    let stopped = false
    return {
      endpoint,
      region: S3_REGION,
      accessKeyId: S3_ACCESS_KEY_ID,
      secretAccessKey: S3_SECRET_ACCESS_KEY,
      dir: C,
      pids: Object.fromEntries(daemons.map((d) => [d.name, d.child.pid])),
      async stop() {
        if (stopped) return
        stopped = true
        await stopAll()
        rmSync(C, { recursive: true, force: true })
        dirsToRemove.delete(C)
      },
    }
  } catch (err) {
    await stopAll().catch(() => {})
    // The directory stays until this process exits (or for good when detached): logs to read.
    throw err instanceof Error && 'withLogs' in err
      ? err
      : fail(
          `Ceph RGW failed to start: ${err instanceof Error ? err.message : String(err)}`,
          logs(),
        )
  }
}

// ---------------------------------------------------------------------------------------------
// Redis

function redisPing(port) {
  return new Promise((res) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    let data = ''
    socket.setTimeout(2000, () => socket.destroy())
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', (d) => {
      data += d
      if (data.includes('\r\n')) {
        socket.destroy()
        res(data.startsWith('+PONG'))
      }
    })
    socket.on('error', () => res(false))
    socket.on('close', () => res(false))
  })
}

/**
 * Starts redis-server on 127.0.0.1 without persistence (`--save '' --appendonly no`).
 * @param {{ dir?: string, port?: number, detached?: boolean }} [options]
 */
export async function startRedis(options = {}) {
  requireBinaries(['redis-server'], REDIS_PACKAGES, 'redis-server')
  const parent = resolve(options.dir ?? tmpdir())
  mkdirSync(parent, { recursive: true })
  const D = mkdtempSync(join(parent, 'redis-'))
  const detached = options.detached === true
  if (!detached) dirsToRemove.add(D)
  const port = options.port ?? (await freePorts(1))[0]
  const logFile = join(D, 'redis.log')
  /** @type {ReturnType<typeof daemon> | undefined} */
  let current
  let closed = false
  const start = async () => {
    if (closed) throw new Error('redis-server: already stopped for good')
    if (current && current.child.exitCode === null && current.child.signalCode === null) return
    const logStart = existsSync(logFile) ? statSync(logFile).size : 0
    const d = daemon(
      'redis-server',
      [
        '--bind',
        '127.0.0.1',
        '--port',
        String(port),
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        D,
        '--daemonize',
        'no',
      ],
      { logFile, cwd: D, detached, order: 0 },
    )
    current = d
    const deadline = Date.now() + 30_000
    let exited = false
    let exitCode = null
    void d.exited.then(({ code }) => {
      exited = true
      exitCode = code
    })
    // Ours is listening (its log says so: a PONG alone could come from another server that got
    // the port first) and answers.
    const listening = () => {
      try {
        return readFileSync(logFile).subarray(logStart).includes('Ready to accept connections')
      } catch {
        return false
      }
    }
    while (!(listening() && (await redisPing(port)))) {
      if (exited)
        throw fail(`redis-server failed to start on port ${port} (${exitText(exitCode)})`, [
          ['redis-server', logFile],
        ])
      if (Date.now() > deadline) {
        await stopDaemon(d)
        throw fail(`redis-server did not answer PING on port ${port} within 30 s`, [
          ['redis-server', logFile],
        ])
      }
      await sleep(20)
    }
  }
  await start()
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir: D,
    get pid() {
      return current?.child.pid
    },
    start,
    /** SIGTERM and wait; start() brings it back on the same port, empty. */
    async stop() {
      if (current) await stopDaemon(current)
    },
    /** Stops for good and removes its directory. */
    async close() {
      closed = true
      if (current) await stopDaemon(current)
      rmSync(D, { recursive: true, force: true })
      dirsToRemove.delete(D)
    },
  }
}

// ---------------------------------------------------------------------------------------------
// CLI: node scripts/services.mjs start|stop [--dir D]

function envLines(s3, redis) {
  return [
    `export FERRY_TEST_S3_ENDPOINT=${s3.endpoint}`,
    `export FERRY_TEST_S3_ACCESS_KEY_ID=${s3.accessKeyId}`,
    `export FERRY_TEST_S3_SECRET_ACCESS_KEY=${s3.secretAccessKey}`,
    `export FERRY_TEST_S3_REGION=${s3.region}`,
    `export FERRY_TEST_REDIS_URL=${redis.url}`,
  ]
}

/** True when pid is alive and its command line mentions `marker` (never kill a reused pid). */
function isOurs(pid, marker) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)
  } catch {
    return false
  }
}

async function cliStop(dir) {
  const stateFile = join(dir, 'services.json')
  if (!existsSync(stateFile)) {
    console.error(`no services recorded in ${stateFile}`)
    return 1
  }
  const state = JSON.parse(readFileSync(stateFile, 'utf8'))
  // rgw first, then the OSD, the mon; redis on its own.
  for (const { pid, marker } of state.processes) {
    if (!isOurs(pid, marker)) continue
    process.kill(pid, 'SIGTERM')
    const deadline = Date.now() + STOP_GRACE_MS
    while (isOurs(pid, marker) && Date.now() < deadline) await sleep(100)
    if (isOurs(pid, marker)) process.kill(pid, 'SIGKILL')
  }
  for (const d of state.dirs) rmSync(d, { recursive: true, force: true })
  rmSync(stateFile, { force: true })
  try {
    rmdirSync(dir)
  } catch {}
  console.error(`stopped the services recorded in ${stateFile}`)
  return 0
}

async function cli(argv) {
  const [command] = argv
  const dirIndex = argv.indexOf('--dir')
  const dir = resolve(dirIndex >= 0 && argv[dirIndex + 1] ? argv[dirIndex + 1] : '.tmp/services')
  if (command === 'stop') return cliStop(dir)
  if (command !== 'start') {
    console.error(
      'usage: node scripts/services.mjs start|stop [--dir D]   (default D: .tmp/services)',
    )
    return 2
  }
  if (existsSync(join(dir, 'services.json'))) {
    console.error(
      `services already recorded in ${dir}/services.json: run "node scripts/services.mjs stop --dir ${dir}" first`,
    )
    return 1
  }
  const t0 = performance.now()
  const [s3, redis] = await Promise.all([
    startRgw({ dir, detached: true }),
    startRedis({ dir, detached: true }),
  ])
  const conf = join(s3.dir, 'ceph.conf')
  writeFileSync(
    join(dir, 'services.json'),
    `${JSON.stringify(
      {
        processes: [
          { pid: s3.pids.radosgw, marker: conf },
          { pid: s3.pids['ceph-osd'], marker: conf },
          { pid: s3.pids['ceph-mon'], marker: conf },
          { pid: redis.pid, marker: `127.0.0.1:${redis.port}` },
        ],
        dirs: [s3.dir, redis.dir],
        env: envLines(s3, redis),
      },
      null,
      2,
    )}\n`,
  )
  console.error(
    `Ceph RGW ${s3.endpoint} and Redis ${redis.url} ready in ${((performance.now() - t0) / 1000).toFixed(1)} s; stop with: node scripts/services.mjs stop --dir ${dir}`,
  )
  console.log(envLines(s3, redis).join('\n'))
  return 0
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(err instanceof Error ? err.message : err)
      process.exit(1)
    },
  )
}
