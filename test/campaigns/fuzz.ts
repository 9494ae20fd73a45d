/**
 * @module Campaign 4 (issue 6): fuzz. Generated malformed requests (fast-check) against a real
 * `ferry serve` over raw sockets: header values, structured fields (Upload-Complete,
 * Upload-Offset, Upload-Draft-Interop-Version, digests), Upload-Length, Upload-Metadata,
 * Upload-Concat, methods, paths, bodies shorter and longer than declared, chunked encoding with
 * bad chunk sizes and bad trailers. Most requests start from a valid request for a "witness"
 * upload and mutate one to four things, so that they reach deep into the request flow.
 *
 * Invariants, checked after every request:
 * - never a 5xx (503 is counted but allowed: it is documented for lock and store trouble);
 * - the process stays up;
 * - a rejected request changes no upload: the witnesses' data files and sidecars are compared
 *   byte for byte. The one change allowed is the one the protocols require for content that
 *   arrived before the request failed (tus 1.0.0 §PATCH, draft-13 §4.4.2: received bytes are
 *   kept): the target's data may grow by a prefix of the content sent, at the offset it had;
 * - no response shows internal details ('/tmp', 'node_modules', ' at ', 'Error:', ...) that the
 *   request did not carry itself;
 * - a complete request gets an answer (no hang).
 * Afterwards, with the server quiet and after a full GC, its heap, resident memory and open file
 * descriptors are back at the baseline taken after a warm-up, and no staging file is left.
 *
 *   node --import tsx test/campaigns/fuzz.ts [--full] [--seed N] [--requests N]
 */
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import type { FerryProcess } from '../support/servers.ts'
import { tempDir } from '../support/servers.ts'
import {
  collect,
  exchange,
  head,
  leaks,
  main,
  newSeed,
  parseCampaignArgs,
  processFigures,
  sleep,
  spawnMeasuredFerry,
  type WireResult,
} from './_hardening.ts'

export interface FuzzOptions {
  readonly requests: number
  readonly seed?: number
  /** Requests before the memory / fd baseline is taken. @default 10 % (at least 100) */
  readonly warmup?: number
}

export interface FuzzFigures {
  readonly requests: number
  readonly seed: number
  readonly statuses: Record<string, number>
  readonly serverErrors: number
  readonly unavailable: number
  readonly crashes: number
  readonly witnessViolations: number
  readonly keptPrefixes: number
  readonly witnessReplacements: number
  readonly leaks: number
  readonly hangs: number
  readonly abandoned: number
  /** Requests for a witness that got no answer (closed) and changed it. */
  readonly unansweredEffects: number
  readonly heapGrowthBytes: number
  readonly rssGrowthBytes: number
  readonly fdGrowth: number
  readonly failures: readonly string[]
}

const MAX_SIZE = 1024 * 1024
const MAX_METADATA = 1024

// ---------------------------------------------------------------------------------------------
// witnesses

type Role = 'tus-known' | 'tus-deferred' | 'ietf6' | 'ietf10-length' | 'complete' | 'partial'
const ROLES: readonly Role[] = [
  'tus-known',
  'tus-deferred',
  'ietf6',
  'ietf10-length',
  'complete',
  'partial',
]

interface Snapshot {
  readonly exists: boolean
  readonly data: Buffer
  /** The sidecar without its updatedAt (a read never changes it; a write does). */
  readonly sidecar: Record<string, unknown> | undefined
}

interface Witness {
  readonly role: Role
  readonly id: string
  readonly path: string
  snapshot: Snapshot
}

function pattern(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n)
  let x = (seed | 1) >>> 0
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

function readSnapshot(dir: string, id: string): Snapshot {
  const dataPath = join(dir, id)
  const infoPath = join(dir, `${id}.json`)
  if (!existsSync(infoPath)) return { exists: false, data: Buffer.alloc(0), sidecar: undefined }
  const sidecar = JSON.parse(readFileSync(infoPath, 'utf8')) as Record<string, unknown>
  delete sidecar.updatedAt
  return {
    exists: true,
    data: existsSync(dataPath) ? readFileSync(dataPath) : Buffer.alloc(0),
    sidecar,
  }
}

const stable = (v: unknown): string => JSON.stringify(v)

async function createWitness(port: number, dir: string, role: Role, n: number): Promise<Witness> {
  const body = pattern(
    {
      'tus-known': 1000,
      'tus-deferred': 500,
      ietf6: 700,
      'ietf10-length': 800,
      complete: 256,
      partial: 128,
    }[role],
    n * 7919 + 1,
  )
  const tus: [string, string][] = [['tus-resumable', '1.0.0']]
  const octets: [string, string] = ['content-type', 'application/offset+octet-stream']
  const table: Record<Role, [string, string][]> = {
    'tus-known': [
      ...tus,
      ['upload-length', '4096'],
      ['upload-metadata', 'filename d2l0bmVzcw=='],
      octets,
    ],
    'tus-deferred': [...tus, ['upload-defer-length', '1'], octets],
    ietf6: [
      ['upload-draft-interop-version', '6'],
      ['upload-complete', '?0'],
      ['content-type', 'application/octet-stream'],
    ],
    'ietf10-length': [
      ['upload-draft-interop-version', '10'],
      ['upload-complete', '?0'],
      ['upload-length', '3000'],
    ],
    complete: [...tus, ['upload-length', String(body.length)], octets],
    partial: [...tus, ['upload-concat', 'partial'], ['upload-length', String(body.length)], octets],
  }
  const headers = table[role]
  const bytes = Buffer.concat([
    head('POST', '/files/', [
      ['host', `127.0.0.1:${port}`],
      ...headers,
      ['content-length', String(body.length)],
    ]),
    body,
  ])
  const r = await exchange(port, bytes, { waitMs: 15_000 })
  const location = r.final?.headers.location
  if (r.final?.status !== 201 || location === undefined) {
    throw new Error(`creating witness ${role} failed: ${r.final?.status} ${r.error ?? ''}`)
  }
  const path = new URL(location, `http://127.0.0.1:${port}`).pathname
  const id = path.slice('/files/'.length)
  return { role, id, path, snapshot: readSnapshot(dir, id) }
}

// ---------------------------------------------------------------------------------------------
// generated requests

type Template =
  | 'tus-create'
  | 'tus-patch'
  | 'tus-head'
  | 'tus-delete'
  | 'tus-concat'
  | 'ietf-create'
  | 'ietf-append'
  | 'ietf-head'
  | 'ietf-get'
  | 'download'
  | 'options'
  | 'plain-post'

type Framing =
  | 'exact'
  | 'none'
  | 'short'
  | 'long'
  | 'chunked'
  | 'chunked-bad-size'
  | 'chunked-bad-trailer'
  | 'cl-invalid'
  | 'cl-and-te'

/** A header value, possibly a placeholder resolved against the target when the request is built. */
type Value =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'offset'; readonly delta: number }
  | {
      readonly kind: 'checksum'
      readonly good: boolean
      readonly algorithm: 'sha1' | 'md5' | 'sha256'
    }
  | { readonly kind: 'digest'; readonly good: boolean; readonly field: string }
  | { readonly kind: 'concat'; readonly form: number }
  | { readonly kind: 'metadata-big' }

type Mutation =
  | { readonly kind: 'drop'; readonly index: number }
  | { readonly kind: 'set'; readonly name: string; readonly value: Value }
  | { readonly kind: 'dup'; readonly name: string; readonly value: Value }

interface Spec {
  readonly template: Template
  readonly target: number
  readonly interop: string
  readonly method: string | undefined
  readonly path: string | undefined
  readonly mutations: readonly Mutation[]
  readonly bodySize: number
  readonly bodySeed: number
  readonly framing: Framing
  readonly framingVariant: number
}

const FIELDS = [
  'upload-offset',
  'upload-length',
  'upload-defer-length',
  'upload-complete',
  'upload-incomplete',
  'upload-draft-interop-version',
  'tus-resumable',
  'upload-metadata',
  'upload-concat',
  'upload-checksum',
  'content-digest',
  'repr-digest',
  'want-repr-digest',
  'content-type',
  'x-http-method-override',
  'range',
  'expect',
  'origin',
  'forwarded',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-prefix',
  'host',
] as const

/** Printable ASCII plus a few control characters, never CR or LF (they would end the line). */
const headerText = fc
  .string({ unit: 'binary-ascii', maxLength: 40 })
  .map((s) => s.replace(/[\r\n]/g, ' '))

const numberish = fc.oneof(
  fc.integer({ min: -5, max: 5000 }).map(String),
  fc.constantFrom(
    '',
    ' ',
    '-0',
    '+5',
    '1e3',
    '0x10',
    '007',
    '1.5',
    '9007199254740993',
    '18446744073709551616',
    '99999999999999999999999999',
    'NaN',
    'Infinity',
    '1, 2',
    '1,1',
    '?1',
    '1;a=b',
    ' 12 ',
  ),
  fc.bigInt({ min: 0n, max: 10n ** 30n }).map(String),
)

const sfJunk = fc.constantFrom(
  '?1',
  '?0',
  '?2',
  '?',
  '1',
  'true',
  '?1;a=b',
  '?1, ?0',
  '?0;;',
  '"?1"',
  ':YQ==:',
  '(?1)',
  '*',
  'ä',
  '?1 ',
  ' ?1',
)

const versions = fc.oneof(
  fc.integer({ min: 0, max: 14 }).map(String),
  fc.constantFrom('-1', '3, 4', '6;x', '07', '1e1', '', 'ten', '99999999999999999999', ' 8'),
)

const metadataJunk = fc.oneof(
  fc.constantFrom(
    'filename',
    'filename ',
    'filename d2l0bmVzcw==, filename Zm9v',
    'filename !!!notbase64',
    'filename Zm9v,,type dGV4dA==',
    'bad key Zm9v',
    'ä Zm9v',
    ',',
    ' , ',
    'filename Li4vLi4vZXRjL3Bhc3N3ZA==',
    'a\x01 Zm9v',
    'filename Zm9',
  ),
  fc
    .array(
      fc.tuple(
        fc.string({ unit: 'grapheme-ascii', minLength: 0, maxLength: 8 }),
        fc.option(fc.base64String({ maxLength: 24 }), { nil: undefined }),
      ),
      { maxLength: 5 },
    )
    .map((pairs) =>
      pairs
        .map(([k, v]) => (v === undefined ? k : `${k} ${v}`))
        .join(',')
        .replace(/[\r\n]/g, ' '),
    ),
)

const digestJunk = fc.constantFrom(
  'sha-256=:AAAA:',
  'sha-256=abc',
  'sha-256=:not base64:',
  'md5=:AAAA:',
  'sha-512=:',
  'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:, sha-256=:AAAA:',
  'sha-256',
  '=',
  'sha-256=10',
  'sha-256=?1',
)

const checksumJunk = fc.constantFrom(
  'sha1',
  'sha1 ',
  'sha1 !!',
  'crc32 AAAA',
  'SHA1 2jmj7l5rSw0yVb/vlWAYkK/YBwk=',
  'sha1 2jmj7l5rSw0yVb/vlWAYkK/YBwk= extra',
  'md5 AAAA',
  ' sha256 AAAA',
)

const contentTypes = fc.constantFrom(
  'application/offset+octet-stream',
  'application/partial-upload',
  'application/octet-stream',
  'text/plain; charset=utf-8',
  'application/offset+octet-stream; x=1',
  'multipart/form-data; boundary=x',
  '',
  '/',
  'application/partial-upload, text/plain',
)

function valueFor(name: string): fc.Arbitrary<Value> {
  const lit = (a: fc.Arbitrary<string>): fc.Arbitrary<Value> =>
    a.map((text) => ({ kind: 'literal', text }) as const)
  const offsets = fc
    .constantFrom(-1, 0, 1, 2, 100, -1000, 1 << 20)
    .map((delta) => ({ kind: 'offset', delta }) as const)
  switch (name) {
    case 'upload-offset':
      return fc.oneof(offsets, lit(numberish), lit(sfJunk))
    case 'upload-length':
      return fc.oneof(offsets, lit(numberish))
    case 'upload-defer-length':
      return lit(fc.oneof(fc.constantFrom('1', '0', '2', '', 'true', '1, 1'), numberish))
    case 'upload-complete':
    case 'upload-incomplete':
      return lit(sfJunk)
    case 'upload-draft-interop-version':
      return lit(versions)
    case 'tus-resumable':
      return lit(fc.constantFrom('1.0.0', '0.2.2', '1.0', '', '1.0.0, 1.0.0', '2.0.0'))
    case 'upload-metadata':
      return fc.oneof(
        { weight: 5, arbitrary: lit(metadataJunk) },
        { weight: 1, arbitrary: fc.constant({ kind: 'metadata-big' } as const) },
      )
    case 'upload-concat':
      return fc.oneof(
        fc.integer({ min: 0, max: 11 }).map((form) => ({ kind: 'concat', form }) as const),
        lit(headerText),
      )
    case 'upload-checksum':
      return fc.oneof(
        fc
          .record({
            good: fc.boolean(),
            algorithm: fc.constantFrom('sha1' as const, 'md5' as const, 'sha256' as const),
          })
          .map((r) => ({ kind: 'checksum', ...r }) as const),
        lit(checksumJunk),
      )
    case 'content-digest':
    case 'repr-digest':
      return fc.oneof(
        fc.boolean().map((good) => ({ kind: 'digest', good, field: name }) as const),
        lit(digestJunk),
      )
    case 'want-repr-digest':
      return lit(
        fc.constantFrom('sha-256=10', 'sha-512=3, sha-256=10', 'md5=1', 'sha-256', '?1', ''),
      )
    case 'content-type':
      return lit(contentTypes)
    case 'x-http-method-override':
      return lit(fc.constantFrom('PATCH', 'DELETE', 'HEAD', 'GET', 'post', 'PAT CH', '', 'CONNECT'))
    case 'range':
      return lit(
        fc.constantFrom(
          'bytes=0-0',
          'bytes=-5',
          'bytes=5-',
          'bytes=9-2',
          'bytes=0-1,3-4',
          'bytes=x',
          'items=0-1',
          'bytes=99999999999999999999-',
        ),
      )
    case 'expect':
      return lit(fc.constantFrom('100-continue', 'nonsense', '100-continue, x'))
    case 'host':
      return lit(
        fc.constantFrom('', 'evil.example', '[::1', 'a b', '127.0.0.1:99999', 'ex ample:80'),
      )
    default:
      return lit(headerText)
  }
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 2, arbitrary: fc.nat(12).map((index) => ({ kind: 'drop', index }) as const) },
  {
    weight: 6,
    arbitrary: fc
      .constantFrom(...FIELDS)
      .chain((name) => valueFor(name).map((value) => ({ kind: 'set', name, value }) as const)),
  },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom(...FIELDS)
      .chain((name) => valueFor(name).map((value) => ({ kind: 'dup', name, value }) as const)),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/), headerText)
      .map(
        ([name, text]) =>
          ({ kind: 'set', name: `x-${name}`, value: { kind: 'literal', text } }) as const,
      ),
  },
)

const specArbitrary: fc.Arbitrary<Spec> = fc.record({
  template: fc.constantFrom<Template>(
    'tus-create',
    'tus-patch',
    'tus-patch',
    'tus-patch',
    'tus-head',
    'tus-delete',
    'tus-concat',
    'ietf-create',
    'ietf-append',
    'ietf-append',
    'ietf-append',
    'ietf-head',
    'ietf-get',
    'download',
    'options',
    'plain-post',
  ),
  target: fc.nat(ROLES.length - 1),
  interop: fc.constantFrom('3', '4', '5', '6', '7', '8', '9', '10'),
  method: fc.option(
    fc.oneof(
      fc.constantFrom(
        'POST',
        'PATCH',
        'HEAD',
        'GET',
        'DELETE',
        'OPTIONS',
        'PUT',
        'patch',
        'TRACE',
        'CONNECT',
        'PROPFIND',
      ),
      fc.stringMatching(/^[A-Z]{1,12}$/),
    ),
    { freq: 6, nil: undefined },
  ),
  path: fc.option(
    fc.constantFrom(
      '/',
      '/files',
      '/files//',
      '/files/../etc/passwd',
      '/files/..%2F..%2Fetc%2Fpasswd',
      '/files/%2e%2e/%2e%2e/etc/passwd',
      '/files/{id}/../{id}',
      '/files/{id}.json',
      '/files/{id}.stage',
      '/files/{id}/',
      '/files/{id}?x=1#f',
      '/files/{ID}',
      '/files/00000000000000000000000000000000',
      `/files/${'a'.repeat(129)}`,
      '/files/%00',
      '*',
      'http://evil.example/files/{id}',
      '/files/{id}%2F',
    ),
    { freq: 8, nil: undefined },
  ),
  mutations: fc.oneof(
    { weight: 1, arbitrary: fc.constant([]) },
    { weight: 2, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 1 }) },
    { weight: 2, arbitrary: fc.array(mutation, { minLength: 2, maxLength: 4 }) },
  ),
  bodySize: fc.oneof(
    { weight: 3, arbitrary: fc.constant(0) },
    { weight: 6, arbitrary: fc.integer({ min: 1, max: 64 }) },
    { weight: 4, arbitrary: fc.integer({ min: 65, max: 4096 }) },
    { weight: 1, arbitrary: fc.integer({ min: 60_000, max: 80_000 }) },
  ),
  bodySeed: fc.integer({ min: 1, max: 0x7fffffff }),
  framing: fc.oneof(
    { weight: 10, arbitrary: fc.constant<Framing>('exact') },
    {
      weight: 6,
      arbitrary: fc.constantFrom<Framing>(
        'none',
        'short',
        'long',
        'chunked',
        'chunked-bad-size',
        'chunked-bad-trailer',
        'cl-invalid',
        'cl-and-te',
      ),
    },
  ),
  framingVariant: fc.nat(15),
})

interface Built {
  readonly bytes: Buffer
  readonly method: string
  /** The witness the request addresses, if any. */
  readonly witness: Witness | undefined
  readonly body: Buffer
  /** The server may legitimately wait for more content (we give up and close). */
  readonly mayWait: boolean
  readonly description: string
}

function build(spec: Spec, witnesses: readonly Witness[], port: number): Built {
  const w = witnesses[spec.target % witnesses.length] as Witness
  const partial = witnesses.find((x) => x.role === 'partial') as Witness
  const complete = witnesses.find((x) => x.role === 'complete') as Witness
  const body = pattern(spec.bodySize, spec.bodySeed)
  const offset = w.snapshot.data.length
  const resolve = (v: Value): string => {
    switch (v.kind) {
      case 'literal':
        return v.text
      case 'offset':
        return String(offset + v.delta)
      case 'checksum': {
        const digest = createHash(v.algorithm)
          .update(v.good ? body : Buffer.from('x'))
          .digest('base64')
        return `${v.algorithm} ${digest}`
      }
      case 'digest': {
        const digest = createHash('sha256')
          .update(v.good ? body : Buffer.from('x'))
          .digest('base64')
        return `sha-256=:${digest}:`
      }
      case 'metadata-big':
        return `filename ${Buffer.alloc(MAX_METADATA).fill('a').toString('base64')}`
      case 'concat': {
        const p = partial.path
        const forms = [
          `final;${p} ${p}`,
          `final;http://127.0.0.1:${port}${p}`,
          `final;http://evil.example${p}`,
          `final;${p.replace('/files/', '/files/../files/')}`,
          `final;${p}%2F..%2F${complete.id}`,
          `final;${complete.path}`,
          `final;${w.path}`,
          'final;',
          'final; ',
          'partial',
          'final;/files/00000000000000000000000000000000',
          `final;${Array.from({ length: 200 }, () => p).join(' ')}`,
        ]
        return forms[v.form % forms.length] as string
      }
    }
  }
  const tus: [string, string][] = [['tus-resumable', '1.0.0']]
  const ietf: [string, string][] = [['upload-draft-interop-version', spec.interop]]
  let method: string
  let path: string
  let headers: [string, string][]
  switch (spec.template) {
    case 'tus-create':
      method = 'POST'
      path = '/files/'
      headers = [
        ...tus,
        ['upload-length', String(Math.max(body.length, 10))],
        ['upload-metadata', 'filename Zm9vLnR4dA==,type dGV4dC9wbGFpbg=='],
        ['content-type', 'application/offset+octet-stream'],
      ]
      break
    case 'tus-patch':
      method = 'PATCH'
      path = w.path
      headers = [
        ...tus,
        ['upload-offset', String(offset)],
        ['content-type', 'application/offset+octet-stream'],
      ]
      if (w.role === 'tus-deferred') headers.push(['upload-length', String(offset + body.length)])
      break
    case 'tus-head':
      method = 'HEAD'
      path = w.path
      headers = [...tus]
      break
    case 'tus-delete':
      method = 'DELETE'
      path = w.path
      headers = [...tus]
      break
    case 'tus-concat':
      method = 'POST'
      path = '/files/'
      headers = [...tus, ['upload-concat', `final;${partial.path} ${partial.path}`]]
      break
    case 'ietf-create':
      method = 'POST'
      path = '/files/'
      headers = [...ietf, ['upload-complete', '?1']]
      break
    case 'ietf-append':
      method = 'PATCH'
      path = w.path
      headers = [
        ...ietf,
        ['upload-offset', String(offset)],
        ['upload-complete', '?0'],
        ['content-type', 'application/partial-upload'],
      ]
      break
    case 'ietf-head':
      method = 'HEAD'
      path = w.path
      headers = [...ietf]
      break
    case 'ietf-get':
      method = 'GET'
      path = w.path
      headers = [...ietf]
      break
    case 'download':
      method = 'GET'
      path = w.path
      headers = [['range', 'bytes=0-9']]
      break
    case 'options':
      method = 'OPTIONS'
      path = '/files/'
      headers = [...tus]
      break
    case 'plain-post':
      method = 'POST'
      path = '/files/'
      headers = [['content-type', 'text/plain']]
      break
  }
  if (spec.method !== undefined) method = spec.method
  if (spec.path !== undefined) {
    path = spec.path.replaceAll('{id}', w.id).replaceAll('{ID}', w.id.toUpperCase())
  }
  for (const m of spec.mutations) {
    if (m.kind === 'drop') {
      if (headers.length > 0) headers.splice(m.index % headers.length, 1)
    } else if (m.kind === 'set') {
      headers = headers.filter(([k]) => k !== m.name)
      headers.push([m.name, resolve(m.value)])
    } else {
      headers.push([m.name, resolve(m.value)])
    }
  }
  if (!headers.some(([k]) => k === 'host')) headers.unshift(['host', `127.0.0.1:${port}`])

  // framing
  const v = spec.framingVariant
  let tail: Buffer = body
  let mayWait = false
  switch (spec.framing) {
    case 'exact':
      headers.push(['content-length', String(body.length)])
      break
    case 'none':
      tail = Buffer.alloc(0)
      break
    case 'short':
      headers.push(['content-length', String(body.length + 1 + v * 97)])
      mayWait = true
      break
    case 'long':
      headers.push(['content-length', String(Math.max(0, body.length - 1 - v))])
      break
    case 'chunked':
      headers.push(['transfer-encoding', 'chunked'])
      tail = chunked(body, [], v)
      break
    case 'chunked-bad-size': {
      headers.push(['transfer-encoding', 'chunked'])
      const sizes = [
        'zz',
        '-1',
        'ffffffffffffffffff',
        '1 ; ext',
        ' 5',
        '0x5',
        '',
        '7fffffff',
        '1;a="\x01"',
        '+5',
      ]
      const bad = sizes[v % sizes.length] as string
      tail = Buffer.concat([
        body.subarray(0, Math.min(body.length, 3)),
        Buffer.from(`${bad}\r\n`),
        body.subarray(0, 5),
        Buffer.from('\r\n0\r\n\r\n'),
      ])
      // A prefix of valid chunks first, when there is content.
      if (body.length >= 3)
        tail = Buffer.concat([
          Buffer.from('3\r\n'),
          body.subarray(0, 3),
          Buffer.from('\r\n'),
          tail.subarray(3),
        ])
      mayWait = true
      break
    }
    case 'chunked-bad-trailer': {
      headers.push(['transfer-encoding', 'chunked'])
      const trailers = [
        ['no colon here'],
        ['upload-checksum: sha1 AAAA'],
        ['upload-checksum: crc32 AAAA'],
        ['upload-checksum: !!!'],
        [`x-big: ${'b'.repeat(20_000)}`],
        ['\x01bad: x'],
        ['content-length: 5'],
        [': empty-name'],
        ['upload-checksum: sha1 ', 'upload-checksum: md5 AAAA'],
      ]
      tail = chunked(body, trailers[v % trailers.length] as string[], v)
      mayWait = true
      break
    }
    case 'cl-invalid': {
      const values = ['abc', '-1', '1, 2', '+4', '0x10', ' ', '99999999999999999999', '1.0']
      headers.push(['content-length', values[v % values.length] as string])
      if (v % 3 === 0) headers.push(['content-length', String(body.length + 1)])
      break
    }
    case 'cl-and-te':
      headers.push(['content-length', String(body.length)])
      headers.push(['transfer-encoding', v % 2 === 0 ? 'chunked' : 'gzip, chunked'])
      tail = chunked(body, [], v)
      mayWait = true
      break
  }
  // Requests the server must answer without more content: anything with a body whose framing
  // promised more than was sent may wait; so may methods the parser treats specially.
  if (method === 'CONNECT') mayWait = true
  const bytes = Buffer.concat([head(method, path, headers), tail])
  const addressed = path.includes(w.id) ? w : undefined
  const description = `${method} ${path.slice(0, 80)} [${spec.template}/${spec.framing}${v}] ${headers
    .filter(([k]) => k !== 'host')
    .map(([k, val]) => `${k}: ${val.length > 60 ? `${val.slice(0, 60)}…` : val}`)
    .join(' | ')} (${body.length} B)`
  return { bytes, method, witness: addressed, body, mayWait, description }
}

function chunked(body: Buffer, trailers: readonly string[], variant: number): Buffer {
  const parts: Buffer[] = []
  const piece = 1 + (variant % 5) * 700
  for (let at = 0; at < body.length; at += piece) {
    const part = body.subarray(at, at + piece)
    parts.push(Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n'))
  }
  parts.push(Buffer.from(`0\r\n${trailers.map((t) => `${t}\r\n`).join('')}\r\n`, 'latin1'))
  return Buffer.concat(parts)
}

// ---------------------------------------------------------------------------------------------
// the run

export async function run(options: FuzzOptions): Promise<FuzzFigures> {
  const seed = options.seed ?? newSeed()
  const total = options.requests
  const warmup = Math.min(total, options.warmup ?? Math.max(100, Math.floor(total / 10)))
  const dir = tempDir('ferry-fuzz-')
  // FERRY_FUZZ_TRACE=FROM-TO prints those requests with their answers (to study a failure).
  const trace = process.env.FERRY_FUZZ_TRACE?.split('-').map(Number)
  const failures: string[] = []
  const statuses: Record<string, number> = {}
  let serverErrors = 0
  let unavailable = 0
  let crashes = 0
  let witnessViolations = 0
  let keptPrefixes = 0
  let witnessReplacements = 0
  let leakCount = 0
  let hangs = 0
  let abandoned = 0
  let unanswered = 0
  const fail = (what: string): void => {
    if (failures.length < 1000) failures.push(what)
  }
  let ferry: FerryProcess | undefined
  try {
    ferry = await spawnMeasuredFerry([
      '--dir',
      dir.path,
      '--max-size',
      String(MAX_SIZE),
      '--max-metadata-size',
      String(MAX_METADATA),
      '--idle-timeout',
      '3s',
      '--lock-timeout',
      '5s',
      '--durability',
      'none',
    ])
    const port = ferry.port
    const witnesses: Witness[] = []
    for (const [i, role] of ROLES.entries())
      witnesses.push(await createWitness(port, dir.path, role, i))
    let generation = ROLES.length

    /** A HEAD takes the upload's lock: once it answers, an abandoned request has settled. */
    const settle = async (w: Witness): Promise<void> => {
      await exchange(
        port,
        head('HEAD', w.path, [
          ['host', `127.0.0.1:${port}`],
          ['tus-resumable', '1.0.0'],
        ]),
        { waitMs: 15_000, headRequest: true },
      )
    }

    /** Compares every witness over HTTP with its snapshot (HEAD offset; GET for complete ones). */
    const httpCheck = async (when: string): Promise<void> => {
      for (const w of witnesses) {
        const r = await exchange(
          port,
          head('HEAD', w.path, [
            ['host', `127.0.0.1:${port}`],
            ['tus-resumable', '1.0.0'],
          ]),
          { waitMs: 15_000, headRequest: true },
        )
        const offset = Number(r.final?.headers['upload-offset'])
        if (
          (r.final?.status !== 200 && r.final?.status !== 204) ||
          offset !== w.snapshot.data.length
        ) {
          witnessViolations++
          fail(
            `${when}: HEAD of witness ${w.role} gave ${r.final?.status} offset ${offset}, expected ${w.snapshot.data.length}`,
          )
        }
        if (w.role === 'complete') {
          const g = await exchange(port, head('GET', w.path, [['host', `127.0.0.1:${port}`]]), {
            waitMs: 15_000,
          })
          if (g.final?.status !== 200 || !g.final.body.equals(w.snapshot.data)) {
            witnessViolations++
            fail(`${when}: GET of the complete witness changed (${g.final?.status})`)
          }
        }
      }
    }

    const batches = Math.ceil(total / 500)
    let sent = 0
    let baseline: { heapUsed: number; rss: number; fds: number } | undefined
    const takeBaseline = async (): Promise<void> => {
      await sleep(500)
      const gc = await collect(ferry as FerryProcess)
      baseline = {
        heapUsed: gc.heapUsed,
        rss: gc.rss,
        fds: processFigures(ferry?.child.pid as number).fds,
      }
    }
    if (warmup === 0) await takeBaseline()
    for (let b = 0; b < batches && sent < total; b++) {
      const specs = fc.sample(specArbitrary, {
        seed: seed + b,
        numRuns: Math.min(500, total - sent),
      })
      for (const spec of specs) {
        sent++
        const req = build(spec, witnesses, port)
        const before = witnesses.map((w) => w.snapshot)
        const r: WireResult = await exchange(port, req.bytes, {
          waitMs: req.mayWait ? 400 : 10_000,
          headRequest: req.method === 'HEAD',
        })
        const status = r.final?.status
        if (trace !== undefined && sent >= (trace[0] ?? 0) && sent <= (trace[1] ?? 0)) {
          process.stderr.write(
            `#${sent} ${status ?? (r.gaveUp ? 'none' : 'closed')} ${req.description}\n`,
          )
        }
        const key = status === undefined ? (r.gaveUp ? 'none' : 'closed') : String(status)
        statuses[key] = (statuses[key] ?? 0) + 1
        if (ferry.child.exitCode !== null || ferry.child.signalCode !== null) {
          crashes++
          fail(
            `#${sent}: the server exited (${ferry.child.exitCode ?? ferry.child.signalCode}) after ${req.description}`,
          )
          throw new Error(`server crashed; last stderr:\n${ferry.log().slice(-2000)}`)
        }
        if (r.error?.includes('ECONNREFUSED') === true) {
          crashes++
          fail(`#${sent}: connection refused: ${req.description}`)
        }
        if (status !== undefined && status >= 500) {
          if (status === 503) unavailable++
          else {
            serverErrors++
            fail(
              `#${sent}: ${status} for ${req.description}: ${r.final?.body.toString('utf8').slice(0, 200)}`,
            )
          }
        }
        if (r.gaveUp) {
          abandoned++
          if (!req.mayWait) {
            hangs++
            fail(`#${sent}: no response within 10 s to ${req.description}`)
          }
        }
        for (const msg of [...r.interim, ...(r.final === undefined ? [] : [r.final])]) {
          const found = leaks(msg, req.bytes)
          if (found.length > 0) {
            leakCount++
            fail(
              `#${sent}: response ${msg.status} shows ${found.join(', ')} for ${req.description}`,
            )
          }
        }
        if (req.witness !== undefined && (r.gaveUp || r.final === undefined))
          await settle(req.witness)

        // the witnesses
        const accepted = status !== undefined && status >= 200 && status < 300
        for (const [i, w] of witnesses.entries()) {
          const old = before[i] as Snapshot
          const now = readSnapshot(dir.path, w.id)
          const same =
            now.exists === old.exists &&
            now.data.equals(old.data) &&
            stable(now.sidecar) === stable(old.sidecar)
          if (same) continue
          if (w === req.witness && status === undefined) {
            // No answer (the connection closed): the outcome is unknown to the client, which
            // learns it with a HEAD, as after any broken connection. Counted, not judged.
            unanswered++
          } else if (w !== req.witness) {
            witnessViolations++
            fail(
              `#${sent}: witness ${w.role} changed by a request for another resource: ${req.description}`,
            )
          } else if (!accepted) {
            const grown = now.data.subarray(old.data.length)
            const prefixKept =
              now.exists &&
              now.data.length > old.data.length &&
              now.data.subarray(0, old.data.length).equals(old.data) &&
              req.body.subarray(0, grown.length).equals(grown)
            const { invalid: _i, ...restNow } = now.sidecar ?? {}
            const { invalid: _o, ...restOld } = old.sidecar ?? {}
            const sidecarSame = stable(restNow) === stable(restOld)
            const onlyData = now.exists && (now.data.equals(old.data) || prefixKept)
            if (onlyData && sidecarSame) {
              if (prefixKept) keptPrefixes++
            } else {
              witnessViolations++
              fail(
                `#${sent}: rejected request (${status ?? key}) changed witness ${w.role}: ${old.data.length} -> ${now.data.length} bytes, sidecar ${stable(old.sidecar)} -> ${stable(now.sidecar)}; ${req.description}`,
              )
            }
          }
          w.snapshot = now
        }
        // Replace witnesses that can no longer be fuzzed as their role needs.
        for (const [i, w] of witnesses.entries()) {
          const s = w.snapshot
          const usable =
            s.exists &&
            s.sidecar?.invalid === undefined &&
            (w.role === 'complete' || w.role === 'partial' ? true : s.sidecar?.complete !== true) &&
            (w.role === 'complete' ? s.data.length === 256 : true) &&
            s.data.length < 200_000
          if (!usable) {
            witnesses[i] = await createWitness(port, dir.path, w.role, generation++)
            witnessReplacements++
          }
        }
        if (sent % 250 === 0) await httpCheck(`after #${sent}`)
        if (sent === warmup) await takeBaseline()
      }
    }
    await httpCheck('at the end')

    // memory and descriptors back at the baseline
    await sleep(1500)
    const gc = await collect(ferry)
    const fds = processFigures(ferry.child.pid as number).fds
    const base = baseline ?? { heapUsed: gc.heapUsed, rss: gc.rss, fds }
    const heapGrowth = gc.heapUsed - base.heapUsed
    const rssGrowth = gc.rss - base.rss
    const fdGrowth = fds - base.fds
    // Tolerances: a heap that grows by a few MiB over 20,000 requests is noise (code caches,
    // JIT); a leak of one buffer per request would be tens of MiB.
    if (heapGrowth > 8 * 1024 * 1024) fail(`heap grew by ${mib(heapGrowth)} MiB after GC`)
    if (rssGrowth > 64 * 1024 * 1024) fail(`resident memory grew by ${mib(rssGrowth)} MiB after GC`)
    if (fdGrowth > 2)
      fail(`${fdGrowth} more open file descriptors than at the baseline (${base.fds})`)
    const leftovers = readdirSync(dir.path).filter(
      (f) => f.endsWith('.stage') || f.endsWith('.tmp'),
    )
    if (leftovers.length > 0) fail(`files left behind: ${leftovers.slice(0, 5).join(', ')}`)
    return {
      requests: sent,
      seed,
      statuses,
      serverErrors,
      unavailable,
      crashes,
      witnessViolations,
      keptPrefixes,
      witnessReplacements,
      leaks: leakCount,
      hangs,
      abandoned,
      unansweredEffects: unanswered,
      heapGrowthBytes: heapGrowth,
      rssGrowthBytes: rssGrowth,
      fdGrowth,
      failures,
    }
  } finally {
    if (ferry !== undefined && ferry.child.exitCode === null) await ferry.kill()
    dir.cleanup()
  }
}

const mib = (n: number): string => (n / 1024 / 1024).toFixed(1)

/** The one-line figures. */
export function figuresLine(f: FuzzFigures): string {
  const classes: Record<string, number> = {}
  for (const [k, n] of Object.entries(f.statuses)) {
    const c = /^\d{3}$/.test(k) ? `${k[0]}xx` : k
    classes[c] = (classes[c] ?? 0) + n
  }
  const dist = Object.entries(classes)
    .sort()
    .map(([k, n]) => `${k} ${n}`)
    .join(', ')
  return (
    `fuzz: ${f.requests} requests (seed ${f.seed}), ${f.failures.length} failures: ` +
    `${f.serverErrors} 5xx, ${f.crashes} crashes, ${f.witnessViolations} witness changes on rejection, ` +
    `${f.leaks} leaks, ${f.hangs} hangs; answers ${dist}; 503 ${f.unavailable}; ` +
    `${f.keptPrefixes} interrupted appends kept a prefix, ${f.unansweredEffects} unanswered requests took effect, ` +
    `${f.witnessReplacements} witnesses replaced; ` +
    `after GC heap ${f.heapGrowthBytes >= 0 ? '+' : ''}${mib(f.heapGrowthBytes)} MiB, ` +
    `rss ${f.rssGrowthBytes >= 0 ? '+' : ''}${mib(f.rssGrowthBytes)} MiB, fds ${f.fdGrowth >= 0 ? '+' : ''}${f.fdGrowth}`
  )
}

/** Sizes: CI runs `CI_REQUESTS`, `--full` runs `FULL_REQUESTS`. */
export const CI_REQUESTS = 2000
export const FULL_REQUESTS = 20_000

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = parseCampaignArgs(process.argv.slice(2))
  const requests = Number(args.values.get('requests') ?? (args.full ? FULL_REQUESTS : CI_REQUESTS))
  await main(
    'fuzz',
    () => run({ requests, ...(args.seed === undefined ? {} : { seed: args.seed }) }),
    figuresLine,
  )
}
