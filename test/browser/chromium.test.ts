/**
 * The client in a real browser: Debian's Chromium driven by playwright-core (no browser
 * download). A small node:http server serves a page and the `ferry/client` browser bundle; Ferry
 * runs in this process on another port, so every upload is cross-origin (CORS preflights). The
 * page uploads a 20 MiB Blob over XHR with progress events, pauses and resumes, in tus and in
 * draft mode (careful creation: browsers cannot see 104s), resumes across a page reload from
 * localStorage, and uploads with the default transport; the server's bytes are compared with
 * the page's SHA-256.
 *
 * Chromium missing fails the tests (never skips): `apt-get install -y --no-install-recommends
 * chromium` (.ci/run does), or CHROMIUM_PATH.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { build } from 'esbuild'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import { clearDiscoveryCache } from '../../src/client/index.ts'
import { download, MiB, sha256 } from '../client/support.ts'
import { type RunningServer, startServer, tempDir } from '../support/servers.ts'
import type { RunOptions, RunReport } from './page.ts'

const ROOT = new URL('../../', import.meta.url).pathname
const SIZE = 20 * MiB
/** Chromium's upload throttle (DevTools network emulation): 20 MiB take a second. */
const UPLOAD_BYTES_PER_SECOND = 20 * MiB

/** Debian's Chromium (CHROMIUM_PATH overrides); throws with the fix when it is missing. */
function findChromium(): string {
  const fromEnv = process.env.CHROMIUM_PATH
  const candidates =
    fromEnv !== undefined && fromEnv !== ''
      ? [fromEnv]
      : ['/usr/lib/chromium/chromium', '/usr/bin/chromium']
  const found = candidates.find((p) => existsSync(p))
  if (found === undefined) {
    throw new Error(
      `Chromium is missing (looked for ${candidates.join(', ')}): the browser tests need ` +
        "Debian's chromium package: apt-get install -y --no-install-recommends chromium " +
        '(.ci/run installs it), or CHROMIUM_PATH=/path/to/chromium',
    )
  }
  return found
}

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** The client bundle (scripts/bundle-client.mjs) and the page, bundled without the client. */
async function buildAssets(dir: string): Promise<{ ferry: string; page: string }> {
  const out = join(dir, 'ferry.js')
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/bundle-client.mjs'), out], {
    encoding: 'utf8',
  })
  if (r.status !== 0) throw new Error(`bundle-client.mjs failed:\n${r.stderr}`)
  const page = await build({
    entryPoints: [join(ROOT, 'test/browser/page.ts')],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    logLevel: 'error',
    plugins: [
      {
        name: 'client-from-bundle',
        setup(b) {
          b.onResolve({ filter: /src\/client\/index\.ts$/ }, () => ({
            path: '/ferry.js',
            external: true,
          }))
        },
      },
    ],
  })
  const text = page.outputFiles[0]?.text
  if (text === undefined) throw new Error('esbuild wrote no page')
  return { ferry: readFileSync(out, 'utf8'), page: text }
}

const HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>ferry browser test</title>
<script type="module" src="/page.js"></script></head><body>ferry</body></html>`

let context: BrowserContext | undefined
let browserPage: Page
let pages: http.Server | undefined
let pageOrigin: string
let ferry: RunningServer
/** Methods Ferry answered, preflights apart from the client's own OPTIONS. */
const served: { method: string; intent: unknown; status: unknown }[] = []
const dir = tempDir('ferry-browser-')

async function openPage(): Promise<void> {
  await browserPage.goto(`${pageOrigin}/`)
  await browserPage.waitForFunction(() => 'ferryTest' in globalThis)
}

type Runner = { ferryTest: { run(o: RunOptions): Promise<RunReport> } }

function runInPage(options: RunOptions): Promise<RunReport> {
  return browserPage.evaluate((o) => (globalThis as unknown as Runner).ferryTest.run(o), options)
}

function describeRun(r: RunReport): string {
  const requests = r.requests.map(
    (q, i) =>
      `${i === r.resumedAt ? '--- resume\n' : ''}${q.method} ${q.url}${q.offset === undefined ? '' : ` [${q.offset}+${q.length}]`}`,
  )
  return `${r.error ?? 'ok'}\n${requests.join('\n')}\ninterrupted: ${r.interrupted.join('; ')}`
}

/** The bytes on the server have the page's SHA-256. */
async function assertStored(r: RunReport): Promise<void> {
  assert.ok(r.url !== undefined, 'an upload URL')
  const bytes = await download(r.url)
  assert.equal(bytes.length, SIZE)
  assert.equal(sha256(bytes), r.sha256, 'the server holds the bytes the page hashed')
}

/** Progress never goes back, ends at the size, and comes in several steps. */
function assertProgress(r: RunReport): void {
  const acked = r.progress.map((p) => p.acknowledged)
  assert.ok(acked.length >= 5, `several progress events (${acked.length})`)
  for (let i = 1; i < acked.length; i++) {
    assert.ok(
      (acked[i] as number) >= (acked[i - 1] as number),
      `acknowledged bytes never decrease: ${acked.join(', ')}`,
    )
  }
  assert.equal(acked.at(-1), SIZE)
}

describe('ferry/client in Chromium (Debian chromium, playwright-core)', () => {
  before(async () => {
    const executablePath = findChromium()
    const assets = await buildAssets(dir.path)
    const server = http.createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      const body = path === '/' ? HTML : path === '/ferry.js' ? assets.ferry : assets.page
      if (path !== '/' && path !== '/ferry.js' && path !== '/page.js') {
        res.writeHead(404).end()
        return
      }
      res.writeHead(200, {
        'content-type': path === '/' ? 'text/html; charset=utf-8' : 'text/javascript',
        'cache-control': 'no-store',
      })
      res.end(body)
    })
    pages = server
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    pageOrigin = `http://127.0.0.1:${(server.address() as { port: number }).port}`
    const record = (event: string, attrs?: Record<string, unknown>): void => {
      if (event === 'ResponseOutgoing' && attrs !== undefined) {
        served.push({ method: String(attrs.method), intent: attrs.intent, status: attrs.status })
      }
    }
    const noop = (): void => {}
    ferry = await startServer({
      cors: { origins: [pageOrigin] },
      logger: { debug: record, info: noop, warn: noop, error: noop },
    })
    context = await chromium.launchPersistentContext(join(dir.path, 'profile'), {
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
    })
    browserPage = context.pages()[0] ?? (await context.newPage())
    // Loopback moves 4 MiB in one go (one XHR progress event per request); a throttled upload
    // shows progress within requests, as on a real network.
    const cdp = await context.newCDPSession(browserPage)
    await cdp.send('Network.enable')
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: UPLOAD_BYTES_PER_SECOND,
    })
    await openPage()
  })

  after(async () => {
    await context?.close()
    const server = pages
    if (server !== undefined) await new Promise((r) => server.close(r))
    await ferry?.close()
    dir.cleanup()
    clearDiscoveryCache()
  })

  for (const protocol of ['tus', 'ietf'] as const) {
    test(`${protocol}: 20 MiB Blob over XHR, 4 MiB chunks, cross-origin: progress, pause at 30 %, resume from the server's offset`, async (t) => {
      clearDiscoveryCache()
      const before = served.length
      const r = await runInPage({
        endpoint: ferry.endpoint,
        protocol,
        size: SIZE,
        chunkSize: 4 * MiB,
        transport: 'xhr',
        pauseAt: 0.3,
      })
      const trace = describeRun(r)
      t.diagnostic(
        `generate+hash ${r.generateMs.toFixed(0)} ms, upload ${r.uploadMs.toFixed(0)} ms; interrupted: ${r.interrupted.join('; ') || 'none'}`,
      )
      assert.equal(r.error, undefined, trace)
      assert.equal(r.protocol, protocol === 'tus' ? 'tus' : 'ietf-10', trace)
      assertProgress(r)
      // XHR's upload progress reached the transport's onSent, within requests and up to each
      // chunk's length, and the Upload's progress events (bytes on their way, not yet
      // acknowledged).
      const sent = r.onSent.join(', ')
      assert.ok(r.onSent.includes(4 * MiB), `a whole chunk reported sent: ${sent}`)
      assert.ok(
        r.onSent.some((n) => n % (4 * MiB) !== 0),
        `progress within a request: ${sent}`,
      )
      assert.ok(
        r.progress.some((p) => p.position > p.acknowledged),
        `progress events before the response: ${JSON.stringify(r.progress)}`,
      )
      // Careful creation in the draft: an empty POST (no 104 to wait for), then PATCHes.
      const post = r.requests.find((q) => q.method === 'POST')
      assert.ok(post !== undefined, trace)
      if (protocol === 'ietf') assert.equal(post.length ?? 0, 0, `careful creation\n${trace}`)
      // Paused, then resumed: asks the server first, then continues from its offset.
      assert.ok(r.pausedAt !== undefined, `paused\n${trace}`)
      assert.ok(r.resumedAt !== undefined, trace)
      const afterResume = r.requests.slice(r.resumedAt)
      assert.equal(afterResume[0]?.method, 'HEAD', `HEAD first after resume\n${trace}`)
      const patch = afterResume.find((q) => q.method === 'PATCH')
      // Not from 0, and not before what was acknowledged; beyond it when the server kept part
      // of the request the pause cut.
      assert.ok(patch?.offset !== undefined && patch.offset >= r.pausedAt, trace)
      assert.ok(patch.offset > 0, trace)
      t.diagnostic(
        `paused with ${r.pausedAt} B acknowledged; resumed at the server's offset ${patch.offset}`,
      )
      // Cross-origin with protocol fields: the browser preflighted.
      const mine = served.slice(before)
      const preflights =
        mine.filter((s) => s.method === 'OPTIONS').length -
        r.requests.filter((q) => q.method === 'OPTIONS').length
      assert.ok(preflights > 0, `CORS preflights seen: ${JSON.stringify(mine)}`)
      await assertStored(r)
    })
  }

  for (const protocol of ['tus', 'ietf'] as const) {
    test(`${protocol}: reload at 40 % (request in flight), the same File resumes from localStorage`, async (t) => {
      clearDiscoveryCache()
      const options: RunOptions = {
        endpoint: ferry.endpoint,
        protocol,
        size: SIZE,
        chunkSize: 1 * MiB,
        transport: 'xhr',
        seed: protocol === 'tus' ? 20_241_101 : 20_241_102,
        fileName: `reload-${protocol}.bin`,
      }
      const loaded = browserPage.waitForEvent('load')
      // Starts the upload and returns at once; the page reloads itself at 40 %.
      await browserPage.evaluate(
        (o) => {
          void (globalThis as unknown as Runner).ferryTest.run(o)
        },
        { ...options, reloadAt: 0.4 },
      )
      await loaded
      await browserPage.waitForFunction(() => 'ferryTest' in globalThis)
      const r = await runInPage(options)
      const trace = describeRun(r)
      t.diagnostic(`after the reload: upload ${r.uploadMs.toFixed(0)} ms`)
      assert.equal(r.error, undefined, trace)
      const before = r.beforeReload
      assert.ok(before !== undefined && before.acknowledged >= 0.4 * SIZE, trace)
      assert.equal(r.url, before.url, 'the same upload URL')
      assert.equal(r.requests[0]?.method, 'HEAD', `resumed with HEAD, no new POST\n${trace}`)
      assert.ok(!r.requests.some((q) => q.method === 'POST'), trace)
      const patch = r.requests.find((q) => q.method === 'PATCH')
      assert.ok(patch?.offset !== undefined && patch.offset >= before.acknowledged, trace)
      t.diagnostic(
        `reloaded with ${before.acknowledged} B acknowledged; resumed at the server's offset ${patch.offset}`,
      )
      await assertStored(r)
    })
  }

  test('no transport given: upload() sends the Blob and succeeds (draft)', async () => {
    clearDiscoveryCache()
    const r = await runInPage({
      endpoint: ferry.endpoint,
      protocol: 'ietf',
      size: SIZE,
      chunkSize: 8 * MiB,
      transport: 'default',
    })
    assert.equal(r.error, undefined, describeRun(r))
    assert.equal(r.progress.at(-1)?.acknowledged, SIZE)
    await assertStored(r)
  })
})
