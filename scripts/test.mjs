#!/usr/bin/env node
import { spawn } from 'node:child_process'
// Runs every test file with node's test runner (TypeScript through tsx). Node 20 does not
// expand globs, so the files are listed here. `--unit` runs only the fast tests under src/.
// When a selected file needs the real services (S3, Redis), one Ceph RADOS Gateway and one
// redis-server are started first for the whole run and passed in FERRY_TEST_* (see
// scripts/services.mjs and test/support/services.ts), and stopped after.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const unitOnly = process.argv.includes('--unit')
const extra = process.argv.slice(2).filter((a) => a !== '--unit')

function walk(dir) {
  const out = []
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...walk(path))
    else if (name.endsWith('.test.ts')) out.push(relative(root, path))
  }
  return out
}

const files = [...walk(join(root, 'src')), ...(unitOnly ? [] : walk(join(root, 'test')))].sort()
const filtered = extra.length > 0 ? files.filter((f) => extra.some((e) => f.includes(e))) : files
if (filtered.length === 0) {
  console.error('no test files matched')
  process.exit(1)
}
const args = [
  '--import',
  'tsx',
  '--test',
  '--test-reporter=spec',
  '--test-concurrency=2',
  '--test-timeout=300000',
  ...filtered,
]

/** A file needs the services when its path or its text says so. */
const needsServices = (file) =>
  ['/s3', '/redis', '/multi'].some((m) => `/${file}`.includes(m)) ||
  // The conformance tables run on the S3 store too (store kind 's3' of the harness).
  /\b(s3Service|redisService)\(|'s3'/.test(readFileSync(join(root, file), 'utf8'))

let dir

/** Starts what the environment does not already provide (e.g. `services.mjs start` by hand). */
async function startServices() {
  const { startRedis, startRgw } = await import('./services.mjs')
  dir = mkdtempSync(join(tmpdir(), 'ferry-services-'))
  const t0 = performance.now()
  const started = await Promise.allSettled([
    process.env.FERRY_TEST_S3_ENDPOINT ? undefined : startRgw({ dir }),
    process.env.FERRY_TEST_REDIS_URL ? undefined : startRedis({ dir }),
  ])
  const [s3, redis] = started.map((r) => (r.status === 'fulfilled' ? r.value : undefined))
  const stop = async () => {
    // rgw first (its stop() orders its own daemons), redis after.
    await s3?.stop().catch((err) => console.error(err))
    await redis?.close().catch((err) => console.error(err))
    rmSync(dir, { recursive: true, force: true })
  }
  const failed = started.find((r) => r.status === 'rejected')
  if (failed) {
    await stop()
    throw failed.reason
  }
  const env = {}
  if (s3) {
    env.FERRY_TEST_S3_ENDPOINT = s3.endpoint
    env.FERRY_TEST_S3_ACCESS_KEY_ID = s3.accessKeyId
    env.FERRY_TEST_S3_SECRET_ACCESS_KEY = s3.secretAccessKey
    env.FERRY_TEST_S3_REGION = s3.region
  }
  if (redis) env.FERRY_TEST_REDIS_URL = redis.url
  const what = [s3 && `Ceph RGW ${s3.endpoint}`, redis && `Redis ${redis.url}`].filter(Boolean)
  console.log(
    what.length > 0
      ? `services: ${what.join(', ')} ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`
      : 'services: using FERRY_TEST_S3_ENDPOINT and FERRY_TEST_REDIS_URL from the environment',
  )
  return { env, stop }
}

if (!filtered.some(needsServices)) {
  const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' })
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
} else {
  // Interrupted while the services start: exit at once (services.mjs kills its daemons at exit).
  // Interrupted while the tests run: pass the signal on, then stop the services, then exit.
  let child
  const signals = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 }
  for (const [sig, number] of Object.entries(signals)) {
    process.on(sig, () => {
      if (!child) {
        if (dir) rmSync(dir, { recursive: true, force: true })
        process.exit(128 + number)
      }
      child.kill(sig)
    })
  }
  // Services that cannot start fail the run, but the tests still run (the others' results are
  // worth seeing; the files that need the services fail with the same message).
  let services = { env: {}, stop: async () => {} }
  let failure
  try {
    services = await startServices()
  } catch (err) {
    failure = `services: could not start: ${err instanceof Error ? err.message : err}`
    console.error(failure)
  }
  child = spawn(process.execPath, args, {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...services.env },
  })
  const [code, signal] = await new Promise((resolve) => child.on('exit', (c, s) => resolve([c, s])))
  await services.stop()
  if (failure) console.error(failure.split('\n')[0])
  process.exit(code || (signal || failure ? 1 : 0))
}
