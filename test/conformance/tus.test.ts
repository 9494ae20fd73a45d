/**
 * tus 1.0.0 conformance, table-driven from ../shared/reference/protocol.md §3 and §4.4 (the
 * T-ids), plus the bad-input rows of the issue: every malformed request gets a clear 4xx and
 * leaves the upload unchanged. Runs on the memory store and on the disk store.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { type Harness, harness, type Reply, type StoreKind } from '../support/harness.ts'

const TUS = { 'tus-resumable': '1.0.0' }
const PATCH_TYPE = { 'content-type': 'application/offset+octet-stream' }

/** An upload the row starts from: created with tus and filled to `offset`. */
interface Given {
  readonly length?: number
  readonly defer?: boolean
  readonly offset?: number
  readonly metadata?: string
}

type HeaderExpectation = string | RegExp | null

interface Row {
  readonly id: string
  /** The requirement, in the spec's words, with its section. */
  readonly requirement: string
  readonly given?: Given
  readonly method: string
  /** U = the given upload, endpoint = the creation URL, unknown = a well-formed id that does not exist. */
  readonly target?: 'U' | 'endpoint' | 'unknown' | 'outside'
  readonly headers?: Record<string, string>
  readonly body?: string
  readonly chunked?: string[]
  readonly trailers?: Record<string, string>
  readonly expect: {
    readonly status: number | readonly number[]
    readonly headers?: Record<string, HeaderExpectation>
    readonly body?: RegExp
  }
  /** The upload's state afterwards; `unchanged` compares with the state before. */
  readonly after?: { readonly offset?: number; readonly length?: number } | 'unchanged'
}

const sha1 = (text: string): string => createHash('sha1').update(text).digest('base64')

const ROWS: readonly Row[] = [
  // §OPTIONS
  {
    id: 'T01',
    requirement:
      'tus 1.0.0 §OPTIONS: 204 with Tus-Version (MUST), Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm',
    method: 'OPTIONS',
    target: 'endpoint',
    expect: {
      status: 204,
      headers: {
        'tus-version': '1.0.0',
        'tus-resumable': '1.0.0',
        'tus-extension':
          'creation,creation-with-upload,creation-defer-length,expiration,checksum,checksum-trailer,termination,concatenation,concatenation-unfinished',
        'tus-max-size': '1000000',
        'tus-checksum-algorithm': 'sha1,sha256,md5',
      },
    },
  },
  {
    id: 'T01b',
    requirement:
      'tus 1.0.0 §OPTIONS: the server MUST ignore Tus-Resumable on OPTIONS (even an unsupported one)',
    method: 'OPTIONS',
    target: 'endpoint',
    headers: { 'tus-resumable': '0.2.2' },
    expect: { status: 204, headers: { 'tus-version': '1.0.0' } },
  },
  // §Tus-Resumable
  {
    id: 'T02',
    requirement:
      'tus 1.0.0 §Tus-Resumable: a tus request without Tus-Resumable gets 412 with Tus-Version',
    method: 'POST',
    target: 'endpoint',
    headers: { 'upload-length': '100' },
    expect: { status: 412, headers: { 'tus-version': '1.0.0' }, body: /Tus-Resumable/ },
  },
  {
    id: 'T03',
    requirement:
      'tus 1.0.0 §Tus-Resumable: an unsupported version gets 412 + Tus-Version and is not processed',
    given: { length: 100 },
    method: 'PATCH',
    headers: { 'tus-resumable': '0.2.2', 'upload-offset': '0', ...PATCH_TYPE },
    body: 'abc',
    expect: { status: 412, headers: { 'tus-version': '1.0.0' } },
    after: 'unchanged',
  },
  // §Creation
  {
    id: 'T04',
    requirement: 'tus 1.0.0 §Creation: 201 Created with Location and Tus-Resumable',
    method: 'POST',
    target: 'endpoint',
    headers: { ...TUS, 'upload-length': '100', 'content-length': '0' },
    expect: {
      status: 201,
      headers: {
        location: /^http:\/\/uploads\.test\/files\/[0-9a-f]{32}$/,
        'tus-resumable': '1.0.0',
      },
    },
  },
  {
    id: 'T05',
    requirement:
      'tus 1.0.0 §Creation: the request MUST include Upload-Length or Upload-Defer-Length: 1 (400)',
    method: 'POST',
    target: 'endpoint',
    headers: { ...TUS },
    expect: { status: 400, body: /Upload-Length/ },
  },
  {
    id: 'T06',
    requirement:
      'tus 1.0.0 §Creation: Upload-Length and Upload-Defer-Length together are rejected (400)',
    method: 'POST',
    target: 'endpoint',
    headers: { ...TUS, 'upload-length': '5', 'upload-defer-length': '1' },
    expect: { status: 400 },
  },
  {
    id: 'T07',
    requirement: 'tus 1.0.0 §creation-defer-length: Upload-Defer-Length other than 1 gets 400',
    method: 'POST',
    target: 'endpoint',
    headers: { ...TUS, 'upload-defer-length': '2' },
    expect: { status: 400, body: /Upload-Defer-Length/ },
  },
  {
    id: 'T08',
    requirement: 'tus 1.0.0 §Creation: a length above Tus-Max-Size MUST get 413',
    method: 'POST',
    target: 'endpoint',
    headers: { ...TUS, 'upload-length': '1000001' },
    expect: { status: 413 },
  },
  {
    id: 'T12a',
    requirement: 'tus 1.0.0 §Upload-Metadata: keys MUST be unique (400)',
    method: 'POST',
    target: 'endpoint',
    headers: { ...TUS, 'upload-length': '10', 'upload-metadata': 'a YQ==,a Yg==' },
    expect: { status: 400, body: /duplicate key/ },
  },
  {
    id: 'T12b',
    requirement: 'tus 1.0.0 §Upload-Metadata: a key MUST NOT contain spaces (400)',
    method: 'POST',
    target: 'endpoint',
    headers: { ...TUS, 'upload-length': '10', 'upload-metadata': 'a b YQ==' },
    expect: { status: 400 },
  },
  {
    id: 'T11',
    requirement:
      'tus 1.0.0 §Upload-Metadata: a value MUST be Base64 (400, never reflected into headers)',
    method: 'POST',
    target: 'endpoint',
    headers: { ...TUS, 'upload-length': '10', 'upload-metadata': 'filename !!notbase64!!' },
    expect: { status: 400, body: /not Base64/ },
  },
  {
    id: 'T23',
    requirement:
      'tus 1.0.0 §creation-with-upload: data in the POST is stored; 201 carries Upload-Offset',
    method: 'POST',
    target: 'endpoint',
    headers: { ...TUS, 'upload-length': '100', ...PATCH_TYPE },
    body: 'hello',
    expect: { status: 201, headers: { 'upload-offset': '5' } },
  },
  {
    id: 'T24',
    requirement:
      'tus 1.0.0 §creation-with-upload: data with another Content-Type gets 415, nothing stored',
    method: 'POST',
    target: 'endpoint',
    headers: { ...TUS, 'upload-length': '100', 'content-type': 'text/plain' },
    body: 'hello',
    expect: { status: 415 },
  },
  // §HEAD
  {
    id: 'T13',
    requirement:
      'tus 1.0.0 §HEAD: Upload-Offset (even 0), Upload-Length, Cache-Control: no-store, Tus-Resumable',
    given: { length: 100 },
    method: 'HEAD',
    headers: { ...TUS },
    expect: {
      status: [200, 204],
      headers: {
        'upload-offset': '0',
        'upload-length': '100',
        'cache-control': 'no-store',
        'tus-resumable': '1.0.0',
        'upload-defer-length': null,
      },
    },
  },
  {
    id: 'T14',
    requirement: 'tus 1.0.0 §HEAD: an unknown upload gets 404 without Upload-Offset',
    method: 'HEAD',
    target: 'unknown',
    headers: { ...TUS },
    expect: { status: 404, headers: { 'upload-offset': null } },
  },
  {
    id: 'T25h',
    requirement: 'tus 1.0.0 §Expiration: Upload-Expires is an IMF-fixdate',
    given: { length: 100 },
    method: 'HEAD',
    headers: { ...TUS },
    expect: {
      status: 204,
      headers: {
        'upload-expires': /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/,
      },
    },
  },
  // §PATCH
  {
    id: 'T15',
    requirement: 'tus 1.0.0 §PATCH: 204 with Upload-Offset = previous offset + bytes stored',
    given: { length: 100 },
    method: 'PATCH',
    headers: { ...TUS, ...PATCH_TYPE, 'upload-offset': '0' },
    body: 'x'.repeat(40),
    expect: { status: 204, headers: { 'upload-offset': '40', 'upload-expires': /GMT$/ } },
    after: { offset: 40 },
  },
  {
    id: 'T16',
    requirement: 'tus 1.0.0 §PATCH: another Content-Type SHOULD get 415; nothing written',
    given: { length: 100 },
    method: 'PATCH',
    headers: { ...TUS, 'content-type': 'application/octet-stream', 'upload-offset': '0' },
    body: 'abc',
    expect: { status: 415, headers: { 'accept-patch': 'application/offset+octet-stream' } },
    after: 'unchanged',
  },
  {
    id: 'T17',
    requirement:
      'tus 1.0.0 §PATCH: Upload-Offset different from the offset MUST get 409; upload unchanged',
    given: { length: 100, offset: 40 },
    method: 'PATCH',
    headers: { ...TUS, ...PATCH_TYPE, 'upload-offset': '10' },
    body: 'abc',
    expect: { status: 409, headers: { 'upload-offset': '40' } },
    after: 'unchanged',
  },
  {
    id: 'T18',
    requirement: 'tus 1.0.0 §PATCH: an unknown upload SHOULD get 404',
    method: 'PATCH',
    target: 'unknown',
    headers: { ...TUS, ...PATCH_TYPE, 'upload-offset': '0' },
    body: 'abc',
    expect: { status: 404 },
  },
  {
    id: 'T19',
    requirement:
      'tus 1.0.0 §PATCH: content beyond Upload-Length is rejected (413) and the offset stays ≤ length',
    given: { length: 100, offset: 40 },
    method: 'PATCH',
    headers: { ...TUS, ...PATCH_TYPE, 'upload-offset': '40' },
    body: 'x'.repeat(70),
    expect: { status: 413 },
    after: 'unchanged',
  },
  {
    id: 'T19b',
    requirement:
      'tus 1.0.0 §PATCH: chunked content beyond Upload-Length is cut at the length and rejected (413)',
    given: { length: 100, offset: 40 },
    method: 'PATCH',
    headers: { ...TUS, ...PATCH_TYPE, 'upload-offset': '40' },
    chunked: ['x'.repeat(50), 'x'.repeat(20)],
    expect: { status: 413, headers: { 'upload-offset': '100' } },
    after: { offset: 100 },
  },
  {
    id: 'T20',
    requirement:
      'tus 1.0.0 §PATCH: an empty PATCH at the final offset of a complete upload is a harmless 204',
    given: { length: 10, offset: 10 },
    method: 'PATCH',
    headers: { ...TUS, ...PATCH_TYPE, 'upload-offset': '10' },
    body: '',
    expect: { status: 204, headers: { 'upload-offset': '10' } },
    after: 'unchanged',
  },
  {
    id: 'T21',
    requirement:
      'tus 1.0.0 §creation-defer-length: Upload-Defer-Length: 1 on HEAD while the length is unknown',
    given: { defer: true },
    method: 'HEAD',
    headers: { ...TUS },
    expect: { status: 204, headers: { 'upload-defer-length': '1', 'upload-length': null } },
  },
  {
    id: 'T21b',
    requirement:
      'tus 1.0.0 §creation-defer-length: the PATCH that learns the length sends Upload-Length',
    given: { defer: true },
    method: 'PATCH',
    headers: { ...TUS, ...PATCH_TYPE, 'upload-offset': '0', 'upload-length': '5' },
    body: 'hello',
    expect: { status: 204, headers: { 'upload-offset': '5' } },
    after: { offset: 5, length: 5 },
  },
  {
    id: 'T22',
    requirement: 'tus 1.0.0 §creation-defer-length: the length MUST NOT change once set (400)',
    given: { length: 50 },
    method: 'PATCH',
    headers: { ...TUS, ...PATCH_TYPE, 'upload-offset': '0', 'upload-length': '60' },
    body: 'abc',
    expect: { status: 400 },
    after: 'unchanged',
  },
  // §Checksum
  {
    id: 'T27',
    requirement: 'tus 1.0.0 §Checksum: a matching Upload-Checksum stores the chunk (204)',
    given: { length: 100 },
    method: 'PATCH',
    headers: {
      ...TUS,
      ...PATCH_TYPE,
      'upload-offset': '0',
      'upload-checksum': `sha1 ${sha1('hello')}`,
    },
    body: 'hello',
    expect: { status: 204, headers: { 'upload-offset': '5' } },
    after: { offset: 5 },
  },
  {
    id: 'T28',
    requirement:
      'tus 1.0.0 §Checksum: a mismatch gets 460; the chunk is discarded and the offset does not move',
    given: { length: 100, offset: 3 },
    method: 'PATCH',
    headers: {
      ...TUS,
      ...PATCH_TYPE,
      'upload-offset': '3',
      'upload-checksum': `sha1 ${sha1('other')}`,
    },
    body: 'hello',
    expect: { status: 460, headers: { 'upload-offset': '3' } },
    after: 'unchanged',
  },
  {
    id: 'T29',
    requirement: 'tus 1.0.0 §Checksum: an unsupported algorithm gets 400; offset unchanged',
    given: { length: 100 },
    method: 'PATCH',
    headers: { ...TUS, ...PATCH_TYPE, 'upload-offset': '0', 'upload-checksum': 'foo123 AAAA' },
    body: 'hello',
    expect: { status: 400, body: /unsupported checksum algorithm/ },
    after: 'unchanged',
  },
  {
    id: 'T27b',
    requirement: 'tus 1.0.0 §Checksum: sha256 and md5 are supported too',
    given: { length: 100 },
    method: 'PATCH',
    headers: {
      ...TUS,
      ...PATCH_TYPE,
      'upload-offset': '0',
      'upload-checksum': `md5 ${createHash('md5').update('hello').digest('base64')}`,
    },
    body: 'hello',
    expect: { status: 204, headers: { 'upload-offset': '5' } },
  },
  {
    id: 'T30',
    requirement:
      'tus 1.0.0 §checksum-trailer: a chunked PATCH with the checksum as a trailer is verified',
    given: { length: 100 },
    method: 'PATCH',
    headers: { ...TUS, ...PATCH_TYPE, 'upload-offset': '0', trailer: 'Upload-Checksum' },
    chunked: ['hel', 'lo'],
    trailers: { 'upload-checksum': `sha1 ${sha1('hello')}` },
    expect: { status: 204, headers: { 'upload-offset': '5' } },
    after: { offset: 5 },
  },
  {
    id: 'T30b',
    requirement:
      'tus 1.0.0 §checksum-trailer: a wrong trailer checksum gets 460 and discards the chunk',
    given: { length: 100 },
    method: 'PATCH',
    headers: { ...TUS, ...PATCH_TYPE, 'upload-offset': '0', trailer: 'Upload-Checksum' },
    chunked: ['hel', 'lo'],
    trailers: { 'upload-checksum': `sha1 ${sha1('world')}` },
    expect: { status: 460 },
    after: 'unchanged',
  },
  {
    id: 'T30c',
    requirement:
      'tus 1.0.0 §checksum-trailer: an announced trailer that never comes is a 400; nothing stored',
    given: { length: 100 },
    method: 'PATCH',
    headers: { ...TUS, ...PATCH_TYPE, 'upload-offset': '0', trailer: 'Upload-Checksum' },
    chunked: ['hello'],
    expect: { status: 400 },
    after: 'unchanged',
  },
  // §Termination
  {
    id: 'T31',
    requirement: 'tus 1.0.0 §Termination: DELETE MUST answer 204',
    given: { length: 100, offset: 10 },
    method: 'DELETE',
    headers: { ...TUS },
    expect: { status: 204, headers: { 'tus-resumable': '1.0.0' } },
  },
  // X-HTTP-Method-Override
  {
    id: 'T38',
    requirement: 'tus 1.0.0 §X-HTTP-Method-Override: POST + override PATCH is a PATCH',
    given: { length: 100 },
    method: 'POST',
    headers: { ...TUS, ...PATCH_TYPE, 'upload-offset': '0', 'x-http-method-override': 'PATCH' },
    body: 'abcd',
    expect: { status: 204, headers: { 'upload-offset': '4' } },
    after: { offset: 4 },
  },
  {
    id: 'T39',
    requirement: 'tus 1.0.0 §X-HTTP-Method-Override: POST + override DELETE is a DELETE',
    given: { length: 100 },
    method: 'POST',
    headers: { ...TUS, 'x-http-method-override': 'DELETE' },
    expect: { status: 204 },
  },
  // Bad input: clear 4xx, unchanged upload, never a 500.
  ...(
    [
      ['missing Upload-Offset', {}],
      ['Upload-Offset: -5', { 'upload-offset': '-5' }],
      ['Upload-Offset: abc', { 'upload-offset': 'abc' }],
      ['Upload-Offset: 1.5', { 'upload-offset': '1.5' }],
      ['Upload-Offset of 17 digits', { 'upload-offset': '12345678901234567' }],
      ['Upload-Offset: " 0" with a plus', { 'upload-offset': '+0' }],
      ['Upload-Length: x on PATCH', { 'upload-offset': '0', 'upload-length': 'x' }],
      ['Upload-Checksum without digest', { 'upload-offset': '0', 'upload-checksum': 'sha1' }],
      [
        'Upload-Checksum with a non-Base64 digest',
        { 'upload-offset': '0', 'upload-checksum': 'sha1 ***' },
      ],
      [
        'Upload-Checksum with an upper-case algorithm',
        { 'upload-offset': '0', 'upload-checksum': 'SHA1 AAAA' },
      ],
      ['Content-Length: abc', { 'upload-offset': '0', 'content-length': 'abc' }],
    ] as const
  ).map(
    ([what, headers], i): Row => ({
      id: `B${String(i + 1).padStart(2, '0')}`,
      requirement: `bad input (PATCH, ${what}): a clear 4xx and the upload unchanged`,
      given: { length: 100, offset: 7 },
      method: 'PATCH',
      headers: { ...TUS, ...PATCH_TYPE, ...headers },
      body: 'abc',
      expect: { status: 400 },
      after: 'unchanged',
    }),
  ),
  ...(
    [
      ['Upload-Length: -1', { 'upload-length': '-1' }],
      ['Upload-Length: 1e3', { 'upload-length': '1e3' }],
      ['Upload-Length of 17 digits', { 'upload-length': '12345678901234567' }],
      ['Upload-Defer-Length: yes', { 'upload-defer-length': 'yes' }],
      [
        'Upload-Metadata with an empty pair',
        { 'upload-length': '1', 'upload-metadata': 'a YQ==,,b' },
      ],
      ['Upload-Metadata with a comma-only value', { 'upload-length': '1', 'upload-metadata': ',' }],
      ['Upload-Concat: whole', { 'upload-length': '1', 'upload-concat': 'whole' }],
      ['Upload-Concat: final; with no parts', { 'upload-concat': 'final;' }],
      [
        'Upload-Concat: final with a foreign URL',
        { 'upload-concat': 'final;https://elsewhere.test/x/abc' },
      ],
      [
        'Upload-Concat: final with an unknown upload',
        { 'upload-concat': 'final;/files/0123456789abcdef0123456789abcdef' },
      ],
      [
        'Upload-Concat: final with a path traversal',
        { 'upload-concat': 'final;/files/../../etc/passwd' },
      ],
      [
        'Upload-Metadata over 8 KiB',
        { 'upload-length': '1', 'upload-metadata': `k ${'A'.repeat(9000)}` },
      ],
    ] as const
  ).map(
    ([what, headers], i): Row => ({
      id: `C${String(i + 1).padStart(2, '0')}`,
      requirement: `bad input (POST, ${what}): a clear 400, no upload created`,
      method: 'POST',
      target: 'endpoint',
      headers: { ...TUS, ...headers },
      expect: { status: 400 },
    }),
  ),
  {
    id: 'C20',
    requirement: 'routing: a path outside the base path gets 404',
    method: 'HEAD',
    target: 'outside',
    headers: { ...TUS },
    expect: { status: 404 },
  },
  {
    id: 'C21',
    requirement: 'routing: a method the endpoint does not serve gets 405 with Allow',
    method: 'PUT',
    target: 'endpoint',
    headers: { ...TUS },
    expect: { status: 405, headers: { allow: /POST/ } },
  },
]

function check(reply: Reply, row: Row): void {
  const statuses = Array.isArray(row.expect.status) ? row.expect.status : [row.expect.status]
  assert.ok(
    statuses.includes(reply.status),
    `status ${reply.status} (expected ${statuses.join('/')}): ${reply.body}`,
  )
  for (const [name, want] of Object.entries(row.expect.headers ?? {})) {
    const got = reply.headers[name]
    if (want === null) assert.equal(got, undefined, `${name} must be absent`)
    else if (want instanceof RegExp) assert.match(got ?? '', want, `${name}: ${got}`)
    else assert.equal(got, want, `${name}`)
  }
  if (row.expect.body !== undefined) assert.match(reply.body, row.expect.body)
  assert.ok(reply.status < 500, 'never a 5xx for client input')
}

async function createGiven(h: Harness, given: Given): Promise<string> {
  const headers: Record<string, string> = { ...TUS }
  if (given.defer === true) headers['upload-defer-length'] = '1'
  else headers['upload-length'] = String(given.length ?? 0)
  if (given.metadata !== undefined) headers['upload-metadata'] = given.metadata
  const created = await h.request('POST', '/files/', { headers })
  assert.equal(created.status, 201, created.body)
  const path = h.path(created.headers.location)
  if ((given.offset ?? 0) > 0) {
    const r = await h.request('PATCH', path, {
      headers: { ...TUS, ...PATCH_TYPE, 'upload-offset': '0' },
      body: 'g'.repeat(given.offset ?? 0),
    })
    assert.equal(r.status, 204, r.body)
  }
  return path
}

async function state(
  h: Harness,
  path: string,
): Promise<{ status: number; offset?: string; length?: string }> {
  const r = await h.request('HEAD', path, { headers: TUS })
  return {
    status: r.status,
    offset: r.headers['upload-offset'],
    length: r.headers['upload-length'],
  } as {
    status: number
    offset?: string
    length?: string
  }
}

for (const kind of ['memory', 'disk', 's3'] as const satisfies readonly StoreKind[]) {
  describe(`tus 1.0.0 conformance (${kind} store)`, () => {
    let h: Harness
    before(() => {
      h = harness(kind, { maxSizeBytes: 1_000_000 })
    })
    after(async () => {
      await h.close()
    })

    for (const row of ROWS) {
      test(`${row.id} ${row.requirement}`, async () => {
        let path = '/files/'
        if (row.given !== undefined) path = await createGiven(h, row.given)
        else if (row.target === 'unknown') path = '/files/0123456789abcdef0123456789abcdef'
        else if (row.target === 'outside') path = '/elsewhere/x'
        const before = row.given === undefined ? undefined : await state(h, path)
        const reply = await h.request(row.method, path, {
          ...(row.headers === undefined ? {} : { headers: row.headers }),
          ...(row.body === undefined ? {} : { body: row.body }),
          ...(row.chunked === undefined ? {} : { chunked: row.chunked }),
          ...(row.trailers === undefined ? {} : { trailers: row.trailers }),
        })
        check(reply, row)
        if (row.after === 'unchanged') {
          assert.deepEqual(await state(h, path), before, 'the upload must be unchanged')
        } else if (row.after !== undefined) {
          const s = await state(h, path)
          if (row.after.offset !== undefined) assert.equal(s.offset, String(row.after.offset))
          if (row.after.length !== undefined) assert.equal(s.length, String(row.after.length))
        }
      })
    }

    test('T09 tus 1.0.0 §Creation: Upload-Length: 0 makes a complete upload; HEAD shows 0/0', async () => {
      const created = await h.request('POST', '/files/', {
        headers: { ...TUS, 'upload-length': '0' },
      })
      assert.equal(created.status, 201)
      const path = h.path(created.headers.location)
      const head = await h.request('HEAD', path, { headers: TUS })
      assert.equal(head.headers['upload-offset'], '0')
      assert.equal(head.headers['upload-length'], '0')
      const get = await h.request('GET', path)
      assert.equal(get.status, 200)
      assert.equal(get.bytes.length, 0)
    })

    test('T10 tus 1.0.0 §Creation: HEAD echoes Upload-Metadata as sent, empty values included', async () => {
      const path = await createGiven(h, { length: 5, metadata: 'filename aGVsbG8=,flag' })
      const head = await h.request('HEAD', path, { headers: TUS })
      assert.equal(head.headers['upload-metadata'], 'filename aGVsbG8=,flag')
    })

    test('T26 tus 1.0.0 §Expiration: an expired upload gets 410 and PATCH cannot revive it', async () => {
      let clock = Date.now()
      const e = harness(kind, { expireAfterMs: 1000, now: () => clock })
      try {
        const created = await e.request('POST', '/files/', {
          headers: { ...TUS, 'upload-length': '10' },
        })
        const path = e.path(created.headers.location)
        clock += 5000
        // The disk store takes updatedAt from the file system clock; move far enough ahead.
        if (kind === 'disk') clock += 60_000
        assert.equal((await e.request('HEAD', path, { headers: TUS })).status, 410)
        const patch = await e.request('PATCH', path, {
          headers: { ...TUS, ...PATCH_TYPE, 'upload-offset': '0' },
          body: 'abc',
        })
        assert.equal(patch.status, 410)
        assert.equal(await e.handler.cleanupExpired(), 1)
        assert.equal((await e.request('HEAD', path, { headers: TUS })).status, 404)
      } finally {
        await e.close()
      }
    })

    test('T31b tus 1.0.0 §Termination: after DELETE, HEAD and PATCH get 404', async () => {
      const path = await createGiven(h, { length: 10 })
      assert.equal((await h.request('DELETE', path, { headers: TUS })).status, 204)
      assert.equal((await h.request('HEAD', path, { headers: TUS })).status, 404)
      const patch = await h.request('PATCH', path, {
        headers: { ...TUS, ...PATCH_TYPE, 'upload-offset': '0' },
        body: 'a',
      })
      assert.equal(patch.status, 404)
    })

    test('T32/T33/T37 tus 1.0.0 §Concatenation: final = a‖b, HEAD echoes Upload-Concat, PATCH on final gets 403', async () => {
      const a = await h.request('POST', '/files/', {
        headers: { ...TUS, 'upload-length': '5', 'upload-concat': 'partial', ...PATCH_TYPE },
        body: 'hello',
      })
      const b = await h.request('POST', '/files/', {
        headers: { ...TUS, 'upload-length': '6', 'upload-concat': 'partial', ...PATCH_TYPE },
        body: ' world',
      })
      const pa = h.path(a.headers.location)
      const pb = h.path(b.headers.location)
      const partialHead = await h.request('HEAD', pa, { headers: TUS })
      assert.equal(partialHead.headers['upload-concat'], 'partial')
      assert.equal(partialHead.headers['upload-offset'], '5')
      const concat = `final;${pa} ${b.headers.location}`
      const final = await h.request('POST', '/files/', {
        headers: { ...TUS, 'upload-concat': concat, 'upload-metadata': 'filename aGVsbG8udHh0' },
      })
      assert.equal(final.status, 201, final.body)
      const pf = h.path(final.headers.location)
      const head = await h.request('HEAD', pf, { headers: TUS })
      assert.equal(head.headers['upload-length'], '11')
      assert.equal(head.headers['upload-offset'], '11')
      assert.equal(head.headers['upload-concat'], concat)
      assert.equal((await h.request('GET', pf)).body, 'hello world')
      const patch = await h.request('PATCH', pf, {
        headers: { ...TUS, ...PATCH_TYPE, 'upload-offset': '11' },
        body: 'x',
      })
      assert.equal(patch.status, 403)
      // tus §Concatenation: partials may be reused, and deleting one leaves the final intact.
      assert.equal((await h.request('DELETE', pa, { headers: TUS })).status, 204)
      assert.equal((await h.request('GET', pf)).body, 'hello world')
      void pb
    })

    test('T34/T35 tus 1.0.0 §concatenation-unfinished: a final before its partials finish, no Upload-Offset until done', async () => {
      const a = await h.request('POST', '/files/', {
        headers: { ...TUS, 'upload-length': '3', 'upload-concat': 'partial' },
      })
      const pa = h.path(a.headers.location)
      const final = await h.request('POST', '/files/', {
        headers: { ...TUS, 'upload-concat': `final;${pa}` },
      })
      assert.equal(final.status, 201, final.body)
      const pf = h.path(final.headers.location)
      const early = await h.request('HEAD', pf, { headers: TUS })
      assert.equal(early.headers['upload-offset'], undefined)
      assert.equal(early.headers['upload-length'], '3')
      assert.equal((await h.request('GET', pf)).status, 409)
      await h.request('PATCH', pa, {
        headers: { ...TUS, ...PATCH_TYPE, 'upload-offset': '0' },
        body: 'abc',
      })
      const done = await h.request('HEAD', pf, { headers: TUS })
      assert.equal(done.headers['upload-offset'], '3')
      assert.equal((await h.request('GET', pf)).body, 'abc')
    })

    test('T36 tus 1.0.0 §Concatenation: a final creation with Upload-Length gets 400', async () => {
      const a = await h.request('POST', '/files/', {
        headers: { ...TUS, 'upload-length': '1', 'upload-concat': 'partial' },
      })
      const r = await h.request('POST', '/files/', {
        headers: {
          ...TUS,
          'upload-concat': `final;${h.path(a.headers.location)}`,
          'upload-length': '1',
        },
      })
      assert.equal(r.status, 400)
    })

    test('T32b tus 1.0.0 §Concatenation: a final listing a non-partial upload gets 400', async () => {
      const plain = await createGiven(h, { length: 1, offset: 1 })
      const r = await h.request('POST', '/files/', {
        headers: { ...TUS, 'upload-concat': `final;${plain}` },
      })
      assert.equal(r.status, 400)
      assert.match(r.body, /not a partial upload/)
    })

    test('T40 tus 1.0.0 §PATCH: an interrupted PATCH keeps the bytes received (SHOULD)', async () => {
      const path = await createGiven(h, { length: 100 })
      const r = await h.request('PATCH', path, {
        headers: { ...TUS, ...PATCH_TYPE, 'upload-offset': '0', 'content-length': '100' },
        chunked: ['x'.repeat(60)],
        failAfterBody: true,
      })
      assert.ok(r.status >= 400)
      assert.equal((await state(h, path)).offset, '60')
    })

    test('T42 tus 1.0.0 §Tus-Resumable: every tus response except to OPTIONS carries Tus-Resumable: 1.0.0', async () => {
      const path = await createGiven(h, { length: 3 })
      const replies = [
        await h.request('HEAD', path, { headers: TUS }),
        await h.request('PATCH', path, {
          headers: { ...TUS, ...PATCH_TYPE, 'upload-offset': '1' },
          body: 'a',
        }),
        await h.request('PATCH', path, {
          headers: { ...TUS, ...PATCH_TYPE, 'upload-offset': '0' },
          body: 'abc',
        }),
        await h.request('HEAD', '/files/0123456789abcdef0123456789abcdef', { headers: TUS }),
        await h.request('DELETE', path, { headers: TUS }),
      ]
      for (const r of replies)
        assert.equal(r.headers['tus-resumable'], '1.0.0', `status ${r.status}`)
    })
  })
}
