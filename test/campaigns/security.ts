/**
 * @module Campaign 7 (issue 6): security review, as tests. Against a real `ferry serve` (and an
 * in-process server for the authorization hook):
 * - upload ids: 1,000 distinct, 128 random bits (32 lower-case hex), no sequence: balanced bits
 *   overall and per position, no shared prefixes beyond chance, no ordering by creation;
 * - path traversal through ids (dot segments, encoded slashes, sidecar names, planted files),
 *   through metadata (a filename like ../../etc/passwd never reaches a path, and is served only
 *   as a harmless Content-Disposition), through Upload-Concat URLs (other origins, dot
 *   segments, encoded slashes) and around the base path;
 * - oversize header sections (431), Upload-Metadata (400), bodies over the maximum size (413,
 *   nothing stored past it);
 * - CORS preflights for allowed and denied origins, methods, headers, exposed headers;
 * - no internal paths or stack traces in any error response, internal failures included;
 * - the authorization hook runs for creation, HEAD, GET, PATCH and DELETE (not OPTIONS) and its
 *   rejection (with any status) changes nothing.
 *
 *   node --import tsx test/campaigns/security.ts [--full] [--ids N]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { UploadError } from '../../src/protocol/errors.ts'
import type { RequestContext } from '../../src/server/options.ts'
import type { RawResponse } from '../support/raw-http.ts'
import { type FerryProcess, spawnFerry, startServer, tempDir } from '../support/servers.ts'
import { exchange, head, leaks, listTree, main, parseCampaignArgs } from './_hardening.ts'

export interface SecurityOptions {
  /** Upload ids to examine. @default 1000 */
  readonly ids?: number
}

export interface SecurityFigures {
  readonly ids: {
    readonly count: number
    readonly distinct: number
    readonly onesPercent: number
    readonly perBitRange: [number, number]
    readonly longestSharedPrefix: number
    readonly increasingPercent: number
    readonly meanHamming: number
  }
  readonly checks: number
  readonly errorResponses: number
  readonly leaks: number
  readonly authorizeCalls: Record<string, number>
  readonly failures: readonly string[]
}

const MiB = 1024 * 1024
const ID = /^[0-9a-f]{32}$/

export async function run(options: SecurityOptions = {}): Promise<SecurityFigures> {
  const idCount = options.ids ?? 1000
  const failures: string[] = []
  let checks = 0
  const errorResponses: { response: RawResponse; request: Buffer; what: string }[] = []
  const check = (ok: boolean, what: string): void => {
    checks++
    if (!ok) failures.push(what)
  }
  const dir = tempDir('ferry-security-')
  const processes: FerryProcess[] = []
  const inProcess: { close(): Promise<void> }[] = []
  let authorizeCalls: Record<string, number> = {}

  try {
    const store = join(dir.path, 'store')
    const ferry = await spawnFerry([
      '--dir',
      store,
      '--durability',
      'none',
      '--max-size',
      '1MiB',
      '--cors-origins',
      'https://app.example',
    ])
    processes.push(ferry)
    const port = ferry.port
    const tus: [string, string] = ['tus-resumable', '1.0.0']

    /** One request; error answers are kept for the leak check. */
    const send = async (
      what: string,
      method: string,
      path: string,
      headers: [string, string][],
      body?: Buffer,
      p = port,
    ): Promise<RawResponse | undefined> => {
      const withLength: [string, string][] =
        body === undefined || headers.some(([k]) => k === 'transfer-encoding')
          ? headers
          : [...headers, ['content-length', String(body.length)]]
      const bytes = Buffer.concat([
        head(method, path, [['host', `127.0.0.1:${p}`], ...withLength]),
        body ?? Buffer.alloc(0),
      ])
      const r = await exchange(p, bytes, { waitMs: 30_000, headRequest: method === 'HEAD' })
      if (r.final !== undefined && r.final.status >= 400) {
        errorResponses.push({ response: r.final, request: bytes, what })
      }
      return r.final
    }
    const create = async (headers: [string, string][], body?: Buffer): Promise<string> => {
      const r = await send('create', 'POST', '/files/', headers, body ?? Buffer.alloc(0))
      const location = r?.headers.location
      if (r?.status !== 201 || location === undefined) {
        throw new Error(`creation failed: ${r?.status} ${r?.body.toString()}`)
      }
      return new URL(location, `http://127.0.0.1:${port}`).pathname
    }

    // -------------------------------------------------------------------------------------------
    // 1. upload ids
    const ids: string[] = []
    for (let i = 0; i < idCount; i += 10) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(10, idCount - i) }, () =>
          create([tus, ['upload-length', '10']]),
        ),
      )
      ids.push(...batch.map((p) => p.slice('/files/'.length)))
    }
    const distinct = new Set(ids).size
    check(distinct === ids.length, `ids: ${ids.length - distinct} duplicates among ${ids.length}`)
    const malformed = ids.filter((id) => !ID.test(id))
    check(malformed.length === 0, `ids: not 32 lower-case hex digits: ${malformed.slice(0, 3)}`)
    const bits = ids.map((id) =>
      Array.from(Buffer.from(id, 'hex')).flatMap((b) =>
        Array.from({ length: 8 }, (_, k) => (b >> (7 - k)) & 1),
      ),
    )
    const n = bits.length
    const ones = bits.reduce((sum, row) => sum + row.reduce((a, b) => a + b, 0), 0)
    const onesShare = ones / (n * 128)
    // Five standard deviations of a fair coin: a check that fails by chance once in 10^6 runs.
    const sdAll = Math.sqrt(0.25 / (n * 128))
    check(Math.abs(onesShare - 0.5) < 5 * sdAll, `ids: ${(onesShare * 100).toFixed(2)} % ones`)
    let loBit = 1
    let hiBit = 0
    for (let k = 0; k < 128; k++) {
      const share = bits.reduce((s, row) => s + (row[k] as number), 0) / n
      loBit = Math.min(loBit, share)
      hiBit = Math.max(hiBit, share)
    }
    const sdBit = Math.sqrt(0.25 / n)
    check(
      0.5 - loBit < 5.5 * sdBit && hiBit - 0.5 < 5.5 * sdBit,
      `ids: a bit position is biased (${(loBit * 100).toFixed(1)}-${(hiBit * 100).toFixed(1)} % ones)`,
    )
    const sorted = [...ids].sort()
    let longest = 0
    for (let i = 1; i < sorted.length; i++) {
      const a = sorted[i - 1] as string
      const b = sorted[i] as string
      let k = 0
      while (k < a.length && a[k] === b[k]) k++
      longest = Math.max(longest, k)
    }
    // Among 1,000 random ids the longest shared hex prefix is about 5 digits; 10 has odds ~1e-7.
    check(longest < 10, `ids: two ids share a ${longest}-digit prefix`)
    let increasing = 0
    let hamming = 0
    for (let i = 1; i < ids.length; i++) {
      if ((ids[i] as string) > (ids[i - 1] as string)) increasing++
      const x = Buffer.from(ids[i] as string, 'hex')
      const y = Buffer.from(ids[i - 1] as string, 'hex')
      for (let j = 0; j < 16; j++) {
        let v = (x[j] as number) ^ (y[j] as number)
        while (v) {
          hamming += v & 1
          v >>= 1
        }
      }
    }
    const pairs = ids.length - 1
    const increasingShare = increasing / pairs
    check(
      Math.abs(increasingShare - 0.5) < 5 * Math.sqrt(0.25 / pairs),
      `ids: ${(increasingShare * 100).toFixed(1)} % of consecutive ids increase (a sequence?)`,
    )
    const meanHamming = hamming / pairs
    check(
      Math.abs(meanHamming - 64) < 5 * Math.sqrt(32 / pairs),
      `ids: consecutive ids differ in ${meanHamming.toFixed(1)} bits on average`,
    )

    // -------------------------------------------------------------------------------------------
    // 2. path traversal through ids and the base path
    const victim = await create(
      [tus, ['upload-length', '6'], ['content-type', 'application/offset+octet-stream']],
      Buffer.from('victim'),
    )
    const vid = victim.slice('/files/'.length)
    // A planted file and sidecar whose names the router accepts but the store must not serve.
    writeFileSync(join(store, 'canary'), 'SECRET-CANARY')
    const sidecar = JSON.parse(readFileSync(join(store, `${vid}.json`), 'utf8')) as Record<
      string,
      unknown
    >
    writeFileSync(join(store, 'canary.json'), JSON.stringify({ ...sidecar, id: 'canary' }))
    const outside = join(dir.path, 'outside')
    writeFileSync(outside, 'SECRET-OUTSIDE')
    writeFileSync(`${outside}.json`, JSON.stringify({ ...sidecar, id: '../outside' }))
    const traversal = [
      '/files/../outside',
      '/files/..%2Foutside',
      '/files/%2e%2e%2foutside',
      '/files/%2E%2E/outside',
      '/files/..\\outside',
      '/files/canary',
      '/files/CANARY',
      `/files/${vid}.json`,
      `/files/${vid}.stage`,
      `/files/${vid}/../canary`,
      `/files/./${vid}`,
      `/files/${vid}%00`,
      `/files/${vid}%2f..%2fcanary`,
      `/files/${vid.toUpperCase()}`,
      '/files/../../../../etc/passwd',
      '/%2e%2e/%2e%2e/etc/passwd',
      '//etc/passwd',
      `http://127.0.0.1:${port}/files/../outside`,
      '/files/%252e%252e%252foutside',
    ]
    for (const path of traversal) {
      for (const method of ['GET', 'HEAD', 'PATCH', 'DELETE', 'POST']) {
        const headers: [string, string][] =
          method === 'PATCH'
            ? [tus, ['upload-offset', '0'], ['content-type', 'application/offset+octet-stream']]
            : method === 'POST'
              ? [tus, ['upload-length', '1']]
              : [tus]
        const r = await send(
          `traversal ${method} ${path}`,
          method,
          path,
          headers,
          method === 'PATCH' ? Buffer.from('x') : undefined,
        )
        const status = r?.status ?? 0
        check(
          status === 404 || status === 400 || status === 405,
          `traversal: ${method} ${path} got ${status}`,
        )
        const text = r?.body.toString('latin1') ?? ''
        check(
          !text.includes('SECRET') && !text.includes('root:'),
          `traversal: ${method} ${path} served a file`,
        )
      }
    }
    check(
      readFileSync(join(store, 'canary'), 'utf8') === 'SECRET-CANARY' &&
        existsSync(join(store, 'canary.json')) &&
        readFileSync(outside, 'utf8') === 'SECRET-OUTSIDE' &&
        existsSync(`${outside}.json`),
      'traversal: a planted file was changed or removed',
    )
    const intact = await send('victim', 'GET', victim, [])
    check(
      intact?.status === 200 && intact.body.toString() === 'victim',
      'traversal: the victim upload changed',
    )

    // -------------------------------------------------------------------------------------------
    // 3. metadata never reaches a path
    const evilName = '../../../../tmp/ferry-security-canary\r\nx: y'
    const b64 = (s: string): string => Buffer.from(s).toString('base64')
    const before = new Set(listTree(dir.path))
    const named = await create(
      [
        tus,
        ['upload-length', '5'],
        ['upload-metadata', `filename ${b64(evilName)},filetype ${b64('text/html')}`],
        ['content-type', 'application/offset+octet-stream'],
      ],
      Buffer.from('<b>x'.padEnd(5, '!')),
    )
    const served = await send('named', 'GET', named, [])
    const disposition = served?.headers['content-disposition'] ?? ''
    check(served?.status === 200, `metadata: download got ${served?.status}`)
    check(
      !/filename="[^"]*[/\\]/.test(disposition) && !disposition.includes('\r'),
      `metadata: Content-Disposition carries a path: ${disposition}`,
    )
    check(
      served?.headers['content-type'] === 'application/octet-stream' &&
        disposition.startsWith('attachment') &&
        served.headers['x-content-type-options'] === 'nosniff' &&
        (served.headers['content-security-policy'] ?? '').includes('sandbox'),
      `metadata: text/html is served as ${served?.headers['content-type']} (${disposition})`,
    )
    check(!existsSync('/tmp/ferry-security-canary'), 'metadata: a file was created from a filename')
    const added = listTree(dir.path).filter((f) => !before.has(f))
    check(
      added.every((f) => /^store\/[0-9a-f]{32}(\.json)?$/.test(f)),
      `metadata: unexpected files ${added.join(', ')}`,
    )

    // -------------------------------------------------------------------------------------------
    // 4. Upload-Concat URLs
    const partial = await create(
      [
        tus,
        ['upload-concat', 'partial'],
        ['upload-length', '4'],
        ['content-type', 'application/offset+octet-stream'],
      ],
      Buffer.from('part'),
    )
    const pid = partial.slice('/files/'.length)
    const good = await send('concat', 'POST', '/files/', [
      tus,
      ['upload-concat', `final;${partial} http://127.0.0.1:${port}${partial}`],
    ])
    check(good?.status === 201, `concat: a valid final upload got ${good?.status}`)
    const concatBad = [
      `final;http://evil.example${partial}`,
      `final;https://127.0.0.1:${port}${partial}`,
      `final;//evil.example${partial}`,
      `final;/files/../files/${pid}`,
      `final;/files/%2e%2e/files/${pid}`,
      `final;/files/..%2Ffiles%2F${pid}`,
      `final;/files/${pid}%2F..%2F${vid}`,
      `final;/other/${pid}`,
      'final;/files/../../../../etc/passwd',
      `final;/files/${pid}/../${vid}`,
      `final;file:///etc/passwd`,
    ]
    for (const value of concatBad) {
      const r = await send(`concat ${value}`, 'POST', '/files/', [tus, ['upload-concat', value]])
      check(
        r?.status === 400 || r?.status === 404,
        `concat: ${value} got ${r?.status} ${r?.body.toString('utf8').slice(0, 80)}`,
      )
    }

    // base path
    const based = await spawnFerry(['--dir', join(dir.path, 'based'), '--base-path', '/up/'])
    processes.push(based)
    const bh: [string, string] = ['host', `127.0.0.1:${based.port}`]
    const made = await exchange(
      based.port,
      head('POST', '/up/', [bh, tus, ['upload-length', '1'], ['content-length', '0']]),
      { waitMs: 30_000 },
    )
    const loc = made.final?.headers.location ?? ''
    check(new URL(loc, 'http://x').pathname.startsWith('/up/'), `base path: Location ${loc}`)
    const bid = new URL(loc, 'http://x').pathname.slice('/up/'.length)
    for (const path of [
      `/files/${bid}`,
      `/up/../files/${bid}`,
      `/x/../up/${bid}`,
      `/up/%2e%2e/up/${bid}`,
      `/up${bid}`,
    ]) {
      const r = await send(`base ${path}`, 'HEAD', path, [tus], undefined, based.port)
      check(r?.status === 404 || r?.status === 400, `base path: HEAD ${path} got ${r?.status}`)
    }

    // -------------------------------------------------------------------------------------------
    // 5. oversize headers, metadata, bodies
    const bigHeader = await send('431', 'POST', '/files/', [
      tus,
      ['upload-length', '1'],
      ['x-pad', 'p'.repeat(20 * 1024)],
    ])
    check(bigHeader?.status === 431, `oversize: a 20 KiB header got ${bigHeader?.status}`)
    const bigMeta = await send('metadata', 'POST', '/files/', [
      tus,
      ['upload-length', '1'],
      ['upload-metadata', `filename ${b64('m'.repeat(9 * 1024))}`],
    ])
    check(bigMeta?.status === 400, `oversize: 12 KiB of metadata got ${bigMeta?.status}`)
    const bigLength = await send('413 length', 'POST', '/files/', [
      tus,
      ['upload-length', String(2 * MiB)],
    ])
    check(bigLength?.status === 413, `oversize: Upload-Length 2 MiB got ${bigLength?.status}`)
    const bigDraft = await send(
      '413 draft',
      'POST',
      '/files/',
      [
        ['upload-draft-interop-version', '10'],
        ['upload-complete', '?1'],
      ],
      Buffer.alloc(2 * MiB, 1),
    )
    check(bigDraft?.status === 413, `oversize: a 2 MiB draft creation got ${bigDraft?.status}`)
    const chunks = (size: number): Buffer =>
      Buffer.concat([
        Buffer.from(`${size.toString(16)}\r\n`),
        Buffer.alloc(size, 2),
        Buffer.from('\r\n0\r\n\r\n'),
      ])
    const storedBefore = new Set(listTree(store))
    const bigPlain = await send(
      '413 plain chunked',
      'POST',
      '/files/',
      [['transfer-encoding', 'chunked']],
      chunks(2 * MiB),
    )
    check(bigPlain?.status === 413, `oversize: a 2 MiB chunked plain POST got ${bigPlain?.status}`)
    const deferred = await create([tus, ['upload-defer-length', '1']])
    const bigPatch = await send(
      '413 patch',
      'PATCH',
      deferred,
      [
        tus,
        ['upload-offset', '0'],
        ['content-type', 'application/offset+octet-stream'],
        ['transfer-encoding', 'chunked'],
      ],
      chunks(2 * MiB),
    )
    check(bigPatch?.status === 413, `oversize: a 2 MiB chunked PATCH got ${bigPatch?.status}`)
    const dataFiles = listTree(store).filter((f) => ID.test(f))
    const oversized = dataFiles.filter((f) => readFileSync(join(store, f)).length > MiB)
    check(oversized.length === 0, `oversize: files over the maximum size: ${oversized.join(', ')}`)
    const leftovers = listTree(store).filter(
      (f) => !storedBefore.has(f) && !f.startsWith(deferred.slice('/files/'.length)),
    )
    check(
      leftovers.length === 0,
      `oversize: the rejected plain upload left ${leftovers.join(', ')}`,
    )

    // -------------------------------------------------------------------------------------------
    // 6. CORS
    const app = 'https://app.example'
    const pre = await send('preflight', 'OPTIONS', '/files/', [
      ['origin', app],
      ['access-control-request-method', 'PATCH'],
      ['access-control-request-headers', 'upload-offset, x-custom-auth, bad(header)'],
    ])
    const allowHeaders = (pre?.headers['access-control-allow-headers'] ?? '').split(/,\s*/)
    check(
      pre !== undefined && pre.status >= 200 && pre.status < 300,
      `cors: preflight got ${pre?.status}`,
    )
    check(pre?.headers['access-control-allow-origin'] === app, 'cors: preflight without ACAO')
    check(
      ['PATCH', 'POST', 'HEAD', 'DELETE', 'GET'].every((m) =>
        (pre?.headers['access-control-allow-methods'] ?? '').includes(m),
      ),
      `cors: allow-methods ${pre?.headers['access-control-allow-methods']}`,
    )
    check(
      [
        'upload-offset',
        'upload-length',
        'tus-resumable',
        'upload-draft-interop-version',
        'upload-complete',
        'x-custom-auth',
      ].every((h) => allowHeaders.includes(h)) && !allowHeaders.some((h) => h.includes('(')),
      `cors: allow-headers ${allowHeaders.join(', ')}`,
    )
    check(pre?.headers['access-control-max-age'] !== undefined, 'cors: no max-age')
    check((pre?.headers.vary ?? '').includes('Origin'), 'cors: no Vary: Origin')
    for (const origin of ['https://evil.example', 'null', 'https://app.example.evil.example']) {
      const denied = await send('preflight denied', 'OPTIONS', '/files/', [
        ['origin', origin],
        ['access-control-request-method', 'PATCH'],
      ])
      check(
        denied?.headers['access-control-allow-origin'] === undefined &&
          denied?.headers['access-control-allow-methods'] === undefined &&
          denied?.headers['access-control-allow-credentials'] === undefined,
        `cors: ${origin} was allowed`,
      )
    }
    const corsCreate = await send('cors create', 'POST', '/files/', [
      tus,
      ['origin', app],
      ['upload-length', '1'],
    ])
    const exposed = (corsCreate?.headers['access-control-expose-headers'] ?? '').split(/,\s*/)
    check(
      corsCreate?.headers['access-control-allow-origin'] === app &&
        ['location', 'upload-offset', 'upload-length', 'tus-resumable', 'upload-complete'].every(
          (h) => exposed.includes(h),
        ),
      `cors: exposed headers ${exposed.join(', ')}`,
    )
    check(
      corsCreate?.headers['access-control-allow-credentials'] === undefined,
      'cors: credentials allowed without being configured',
    )

    // -------------------------------------------------------------------------------------------
    // 7. internal failures do not leak: a store directory that cannot exist
    const blocker = join(dir.path, 'blocker')
    writeFileSync(blocker, 'a file where a directory should be')
    const broken = await spawnFerry(['--dir', join(blocker, 'store')])
    processes.push(broken)
    const failed = await send(
      'broken store',
      'POST',
      '/files/',
      [tus, ['upload-length', '1']],
      undefined,
      broken.port,
    )
    check(failed?.status === 500, `internal: a broken store answered ${failed?.status}`)

    // -------------------------------------------------------------------------------------------
    // 8. the authorization hook
    const calls: RequestContext[] = []
    const local = await startServer({
      hooks: {
        authorize(ctx) {
          calls.push(ctx)
          const deny = ctx.headers['x-deny']
          if (deny === '401') throw new UploadError('ERR_UNAUTHORIZED')
          if (deny === '403') throw new UploadError('ERR_FORBIDDEN')
          if (deny === '451')
            throw new UploadError('ERR_FORBIDDEN', 'unavailable for legal reasons', {
              status: 451,
            })
          if (deny === 'crash') throw new Error(`secret ${dir.path} at internal (/x/y.ts:1:2)`)
        },
      },
    })
    inProcess.push(local)
    const lp = local.port
    const ls = (
      what: string,
      method: string,
      path: string,
      headers: [string, string][],
      body?: Buffer,
    ) => send(what, method, path, headers, body, lp)
    const lc = await ls('auth create', 'POST', '/files/', [tus, ['upload-length', '4']])
    const upath = new URL(lc?.headers.location ?? '', 'http://x').pathname
    const intentOf = (): string => `${calls.at(-1)?.method} ${calls.at(-1)?.intent}`
    const expectCall = async (
      label: string,
      method: string,
      headers: [string, string][],
      body: Buffer | undefined,
      intent: string,
    ): Promise<void> => {
      const count = calls.length
      const r = await ls(label, method, upath, headers, body)
      check(
        calls.length === count + 1 && calls.at(-1)?.intent === intent,
        `authorize: ${label} → ${r?.status}, hook calls ${calls.length - count} (${intentOf()})`,
      )
      check(calls.at(-1)?.uploadId === upath.slice('/files/'.length), `authorize: ${label} id`)
    }
    check(calls.length === 1 && calls[0]?.intent === 'create', 'authorize: not called on create')
    await expectCall('HEAD', 'HEAD', [tus], undefined, 'retrieve')
    await expectCall(
      'PATCH',
      'PATCH',
      [tus, ['upload-offset', '0'], ['content-type', 'application/offset+octet-stream']],
      Buffer.from('ab'),
      'append',
    )
    await expectCall(
      'PATCH via X-HTTP-Method-Override',
      'POST',
      [
        tus,
        ['x-http-method-override', 'PATCH'],
        ['upload-offset', '2'],
        ['content-type', 'application/offset+octet-stream'],
      ],
      Buffer.from('cd'),
      'append',
    )
    await expectCall('GET (download)', 'GET', [], undefined, 'download')
    await expectCall(
      'GET (draft offset retrieval)',
      'GET',
      [['upload-draft-interop-version', '10']],
      undefined,
      'retrieve',
    )
    const beforeOptions = calls.length
    await ls('OPTIONS', 'OPTIONS', '/files/', [tus])
    await ls('OPTIONS upload', 'OPTIONS', upath, [tus])
    check(calls.length === beforeOptions, 'authorize: called for OPTIONS')
    // rejections, with the upload unchanged
    const second = await ls('auth create 2', 'POST', '/files/', [tus, ['upload-length', '4']])
    const spath = new URL(second?.headers.location ?? '', 'http://x').pathname
    for (const [deny, status] of [
      ['401', 401],
      ['403', 403],
      ['451', 451],
      ['crash', 500],
    ] as const) {
      const denials: [string, [string, string][], Buffer | undefined][] = [
        ['POST', [tus, ['upload-length', '4']], undefined],
        ['HEAD', [tus], undefined],
        ['GET', [], undefined],
        [
          'PATCH',
          [tus, ['upload-offset', '0'], ['content-type', 'application/offset+octet-stream']],
          Buffer.from('zz'),
        ],
        ['DELETE', [tus], undefined],
      ]
      for (const [method, headers, body] of denials) {
        const r = await ls(
          `deny ${deny} ${method}`,
          method,
          method === 'POST' ? '/files/' : spath,
          [...headers, ['x-deny', deny]],
          body,
        )
        check(r?.status === status, `authorize: ${method} denied with ${deny} got ${r?.status}`)
      }
    }
    const still = await ls('after denials', 'HEAD', spath, [tus])
    check(
      still?.status === 200 || still?.status === 204
        ? still.headers['upload-offset'] === '0'
        : false,
      `authorize: a denied request changed the upload (HEAD ${still?.status} offset ${still?.headers['upload-offset']})`,
    )
    authorizeCalls = {}
    for (const c of calls) authorizeCalls[c.intent] = (authorizeCalls[c.intent] ?? 0) + 1

    // -------------------------------------------------------------------------------------------
    // no internal details in any error response
    let leakCount = 0
    for (const e of errorResponses) {
      const found = leaks(e.response, e.request)
      const text = e.response.body.toString('latin1')
      if (text.includes(dir.path)) found.push('the data directory')
      if (found.length > 0) {
        leakCount++
        failures.push(
          `leak: ${e.what} (${e.response.status}) shows ${found.join(', ')}: ${text.slice(0, 120)}`,
        )
      }
    }
    checks += errorResponses.length

    return {
      ids: {
        count: ids.length,
        distinct,
        onesPercent: onesShare * 100,
        perBitRange: [loBit * 100, hiBit * 100],
        longestSharedPrefix: longest,
        increasingPercent: increasingShare * 100,
        meanHamming,
      },
      checks,
      errorResponses: errorResponses.length,
      leaks: leakCount,
      authorizeCalls,
      failures,
    }
  } finally {
    for (const s of inProcess) await s.close()
    for (const p of processes) if (p.child.exitCode === null) await p.kill()
    dir.cleanup()
  }
}

export function figuresLine(f: SecurityFigures): string {
  const i = f.ids
  const calls = Object.entries(f.authorizeCalls)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ')
  return (
    `security: ${f.checks} checks, ${f.failures.length} failures; ids ${i.distinct}/${i.count} distinct, ` +
    `128 bits, ${i.onesPercent.toFixed(1)} % ones (per bit ${i.perBitRange[0].toFixed(0)}-${i.perBitRange[1].toFixed(0)} %), ` +
    `longest shared prefix ${i.longestSharedPrefix} hex, ${i.increasingPercent.toFixed(1)} % increasing, ` +
    `${i.meanHamming.toFixed(1)} bits apart; ${f.errorResponses} error responses, ${f.leaks} leaks; ` +
    `authorize calls: ${calls}`
  )
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = parseCampaignArgs(process.argv.slice(2))
  const ids = Number(args.values.get('ids') ?? 1000)
  await main('security', () => run({ ids }), figuresLine)
}
