/**
 * The client's state machine, table-driven: each scenario is a configuration and a script of
 * (expected step, events fed back). No sockets, no timers: time and jitter are inputs.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import {
  type Effect,
  type Env,
  type Integrity,
  initialState,
  type MachineConfig,
  type MachineEvent,
  type MachineState,
  next,
  type Step,
  type Transition,
} from './machine.ts'
import {
  encodeMetadata,
  parseRetryAfter,
  parseUploadLimit,
  readDiscovery,
  resolveReference,
  utf8,
} from './protocols.ts'

const E = 'https://up.example/files/'
const U = 'https://up.example/files/abc'
const NOW = Date.UTC(2026, 0, 1)
const env = (random = 0.5, now = NOW): Env => ({ now, random })

type Headers = Record<string, string>
const res = (status: number, headers: Headers = {}, body?: string): MachineEvent => ({
  type: 'response',
  response: { status, headers, ...(body === undefined ? {} : { body }) },
})
const interim = (headers: Headers): MachineEvent => ({
  type: 'interim',
  response: { status: 104, headers },
})
const net: MachineEvent = { type: 'network-error', message: 'ECONNRESET' }
const waited: MachineEvent = { type: 'waited' }
const read = (offset: number, length: number, eof: boolean): MachineEvent => ({
  type: 'read',
  offset,
  length,
  eof,
})

/** What a step must look like; header values `null` must be absent. */
interface Expect {
  readonly kind: Step['kind']
  readonly method?: string
  readonly url?: string
  readonly headers?: Record<string, string | null>
  readonly body?: readonly [offset: number, length: number] | null
  readonly waitForInterimMs?: number
  readonly refreshHeaders?: boolean
  /** The integrity fields asked for (null: none). */
  readonly integrity?: Integrity | null
  /** wait: exact ms, or [min, max] */
  readonly ms?: number | readonly [number, number]
  /** read */
  readonly offset?: number
  readonly maxLength?: number
  /** fail */
  readonly code?: string
  readonly message?: RegExp
  /** done */
  readonly size?: number
  readonly resumable?: boolean
  /** effects that must be among this transition's */
  readonly effects?: readonly Partial<Effect>[]
}

type Line = readonly [Expect, ...MachineEvent[]]

function check(t: Transition, e: Expect, where: string): void {
  const s = t.step
  assert.equal(s.kind, e.kind, `${where}: step ${JSON.stringify(s)}`)
  if ('request' in s) {
    const r = s.request
    if (e.method !== undefined) assert.equal(r.method, e.method, where)
    if (e.url !== undefined) assert.equal(r.url, e.url, where)
    for (const [k, v] of Object.entries(e.headers ?? {})) {
      assert.equal(
        r.headers[k],
        v ?? undefined,
        `${where}: header ${k} in ${JSON.stringify(r.headers)}`,
      )
    }
    if (e.body !== undefined) {
      assert.deepEqual(
        r.body === undefined ? null : [r.body.offset, r.body.length],
        e.body,
        `${where}: body`,
      )
    }
    if (e.waitForInterimMs !== undefined)
      assert.equal(r.waitForInterimMs, e.waitForInterimMs, where)
    if (e.refreshHeaders !== undefined) {
      assert.equal(r.refreshHeaders === true, e.refreshHeaders, `${where}: refreshHeaders`)
    }
    if (e.integrity !== undefined) {
      assert.deepEqual(r.integrity ?? null, e.integrity, `${where}: integrity`)
    }
  }
  if (s.kind === 'wait' && e.ms !== undefined) {
    if (typeof e.ms === 'number') assert.equal(s.ms, e.ms, where)
    else assert.ok(s.ms >= e.ms[0] && s.ms <= e.ms[1], `${where}: wait ${s.ms} not in ${e.ms}`)
  }
  if (s.kind === 'read') {
    if (e.offset !== undefined) assert.equal(s.offset, e.offset, where)
    if (e.maxLength !== undefined) assert.equal(s.maxLength, e.maxLength, where)
  }
  if (s.kind === 'fail') {
    if (e.code !== undefined) assert.equal(s.error.code, e.code, `${where}: ${s.error.message}`)
    if (e.message !== undefined) assert.match(s.error.message, e.message, where)
  }
  if (s.kind === 'done') {
    if (e.size !== undefined) assert.equal(s.result.size, e.size, where)
    if (e.resumable !== undefined) assert.equal(s.result.resumable, e.resumable, where)
  }
  for (const want of e.effects ?? []) {
    assert.ok(
      t.effects.some((got) =>
        Object.entries(want).every(
          ([k, v]) => JSON.stringify((got as never)[k]) === JSON.stringify(v),
        ),
      ),
      `${where}: effect ${JSON.stringify(want)} not in ${JSON.stringify(t.effects)}`,
    )
  }
}

/**
 * Runs a script: the first line's expectation is checked against `start`; each line's events
 * are fed in order, and the last transition must match the next line's expectation.
 */
function play(config: MachineConfig, lines: readonly Line[], random = 0.5): MachineState {
  let t = next(initialState(config), { type: 'start' }, env(random))
  const all: Effect[] = [...t.effects]
  lines.forEach(([expect, ...events], i) => {
    check(t, expect, `line ${i + 1}`)
    for (const event of events) {
      t = next(t.state, event, env(random))
      all.push(...t.effects)
    }
  })
  return t.state
}

const tusOptions: Headers = {
  'tus-resumable': '1.0.0',
  'tus-version': '1.0.0',
  'tus-extension': 'creation,creation-with-upload,creation-defer-length,termination',
  'tus-max-size': '1000000',
}
const tusOk = (offset: number, extra: Headers = {}): MachineEvent =>
  res(204, { 'tus-resumable': '1.0.0', 'upload-offset': String(offset), ...extra })
const tusCreated = (location = U, extra: Headers = {}): MachineEvent =>
  res(201, { 'tus-resumable': '1.0.0', location, ...extra })

describe('client machine: tus 1.0.0', () => {
  test('auto discovers tus, creates with Upload-Length and metadata, one PATCH, done', () => {
    play({ endpoint: E, size: 100, metadata: { filename: 'a b.txt', empty: '' } }, [
      [{ kind: 'discover', method: 'OPTIONS', url: E }, res(204, tusOptions)],
      [
        {
          kind: 'create',
          method: 'POST',
          url: E,
          body: null,
          headers: {
            'tus-resumable': '1.0.0',
            'upload-length': '100',
            'upload-metadata': 'filename YSBiLnR4dA==,empty',
            'upload-defer-length': null,
          },
        },
        tusCreated('/files/abc', { 'upload-offset': '0' }),
      ],
      [
        {
          kind: 'append',
          method: 'PATCH',
          url: U,
          body: [0, 100],
          headers: {
            'upload-offset': '0',
            'content-type': 'application/offset+octet-stream',
            'upload-length': null,
          },
          effects: [
            { kind: 'url', url: U },
            { kind: 'save', url: U },
          ],
        },
        tusOk(100),
      ],
      [{ kind: 'done', size: 100, effects: [{ kind: 'forget' }, { kind: 'progress' }] }],
    ])
  })

  test('chunks respect chunkSize; the offset comes from each response', () => {
    play({ endpoint: E, protocol: 'tus', size: 250, chunkSize: 100 }, [
      [{ kind: 'create', headers: { 'upload-length': '250' } }, tusCreated()],
      [{ kind: 'append', body: [0, 100] }, tusOk(100)],
      [{ kind: 'append', body: [100, 100] }, tusOk(200)],
      [{ kind: 'append', body: [200, 50] }, tusOk(250)],
      [{ kind: 'done', size: 250 }],
    ])
  })

  test('an empty upload is complete on creation (no PATCH)', () => {
    play({ endpoint: E, protocol: 'tus', size: 0 }, [
      [
        { kind: 'create', headers: { 'upload-length': '0' } },
        tusCreated(U, { 'upload-offset': '0' }),
      ],
      [{ kind: 'done', size: 0 }],
    ])
  })

  test('deferred length: Upload-Defer-Length, reads, the last PATCH carries Upload-Length', () => {
    play({ endpoint: E, protocol: 'tus', chunkSize: 10 }, [
      [
        { kind: 'create', headers: { 'upload-defer-length': '1', 'upload-length': null } },
        tusCreated(),
      ],
      [{ kind: 'read', offset: 0, maxLength: 10 }, read(0, 10, false)],
      [{ kind: 'append', body: [0, 10], headers: { 'upload-length': null } }, tusOk(10)],
      [{ kind: 'read', offset: 10, maxLength: 10 }, read(10, 4, true)],
      [{ kind: 'append', body: [10, 4], headers: { 'upload-length': '14' } }, tusOk(14)],
      [{ kind: 'done', size: 14 }],
    ])
  })

  test('deferred length ending on a chunk boundary: an empty PATCH declares the length', () => {
    play({ endpoint: E, protocol: 'tus', chunkSize: 10 }, [
      [{ kind: 'create' }, tusCreated()],
      [{ kind: 'read' }, read(0, 10, true)],
      [{ kind: 'append', body: [0, 10], headers: { 'upload-length': '10' } }, tusOk(10)],
      [{ kind: 'done', size: 10 }],
    ])
  })

  test('deferred length needs creation-defer-length when the server lists its extensions', () => {
    play({ endpoint: E }, [
      [{ kind: 'discover' }, res(204, { 'tus-version': '1.0.0', 'tus-extension': 'creation' })],
      [{ kind: 'fail', code: 'ERR_PROTOCOL', message: /creation-defer-length/ }],
    ])
  })

  test('Tus-Max-Size below the size fails before creating anything', () => {
    play({ endpoint: E, size: 2_000_000 }, [
      [{ kind: 'discover' }, res(204, tusOptions)],
      [{ kind: 'fail', code: 'ERR_TOO_LARGE' }],
    ])
  })

  test('resume: HEAD at the stored URL; offset = length means done without a PATCH', () => {
    play({ endpoint: E, uploadUrl: U, uploadProtocol: { kind: 'tus' }, size: 50 }, [
      [
        { kind: 'retrieve', method: 'HEAD', url: U, headers: { 'tus-resumable': '1.0.0' } },
        tusOk(50, { 'upload-length': '50' }),
      ],
      [{ kind: 'done', size: 50 }],
    ])
  })

  test('resume: HEAD offset larger than what was sent is used as given', () => {
    play({ endpoint: E, uploadUrl: U, uploadProtocol: { kind: 'tus' }, size: 100 }, [
      [{ kind: 'retrieve' }, tusOk(70, { 'upload-length': '100' })],
      [{ kind: 'append', body: [70, 30] }, tusOk(100)],
      [{ kind: 'done' }],
    ])
  })

  test('resume: a stored upload of another length is refused', () => {
    play({ endpoint: E, uploadUrl: U, uploadProtocol: { kind: 'tus' }, size: 100 }, [
      [{ kind: 'retrieve' }, tusOk(0, { 'upload-length': '99' })],
      [{ kind: 'fail', code: 'ERR_MISMATCH' }],
    ])
  })

  test('a PATCH cut by the network: backoff, HEAD, continue from the server offset', () => {
    play({ endpoint: E, protocol: 'tus', size: 100 }, [
      [{ kind: 'create' }, tusCreated()],
      [{ kind: 'append', body: [0, 100] }, net],
      [{ kind: 'wait', ms: 250, effects: [{ kind: 'retry', attempt: 1, delayMs: 250 }] }, waited],
      [{ kind: 'retrieve' }, tusOk(40, { 'upload-length': '100' })],
      [{ kind: 'append', body: [40, 60] }, tusOk(100)],
      [{ kind: 'done' }],
    ])
  })

  test('a creation cut by the network is sent again (no URL yet)', () => {
    play({ endpoint: E, protocol: 'tus', size: 5 }, [
      [{ kind: 'create' }, net],
      [{ kind: 'wait' }, waited],
      [{ kind: 'create' }, tusCreated()],
      [{ kind: 'append' }, tusOk(5)],
      [{ kind: 'done' }],
    ])
  })

  test('409 → backoff → HEAD', () => {
    play({ endpoint: E, protocol: 'tus', size: 10 }, [
      [{ kind: 'create' }, tusCreated()],
      [{ kind: 'append' }, res(409, { 'tus-resumable': '1.0.0' })],
      [{ kind: 'wait' }, waited],
      [{ kind: 'retrieve' }, tusOk(3, { 'upload-length': '10' })],
      [{ kind: 'append', body: [3, 7] }, tusOk(10)],
      [{ kind: 'done' }],
    ])
  })

  test('a PATCH response without Upload-Offset is a protocol error', () => {
    play({ endpoint: E, protocol: 'tus', size: 10 }, [
      [{ kind: 'create' }, tusCreated()],
      [{ kind: 'append' }, res(204, { 'tus-resumable': '1.0.0' })],
      [{ kind: 'fail', code: 'ERR_PROTOCOL' }],
    ])
  })

  test('a creation without Location is a protocol error', () => {
    play({ endpoint: E, protocol: 'tus', size: 10 }, [
      [{ kind: 'create' }, res(201, { 'tus-resumable': '1.0.0' })],
      [{ kind: 'fail', code: 'ERR_PROTOCOL', message: /Location/ }],
    ])
  })

  test('other 4xx fail with the response attached', () => {
    let state = play({ endpoint: E, protocol: 'tus', size: 10 }, [
      [{ kind: 'create' }, res(400, { 'content-type': 'text/plain' }, 'bad metadata\n')],
      [{ kind: 'fail', code: 'ERR_HTTP', message: /400: bad metadata/ }],
    ])
    assert.equal(state.lastError?.status, 400)
    assert.equal(state.lastError?.response?.body, 'bad metadata\n')
    state = play({ endpoint: E, protocol: 'tus', size: 10 }, [
      [{ kind: 'create' }, res(403)],
      [{ kind: 'fail', code: 'ERR_FORBIDDEN' }],
    ])
    assert.equal(state.finished, true)
  })
})

describe('client machine: offset retrieval never throws progress away', () => {
  const resume: MachineConfig = {
    endpoint: E,
    uploadUrl: U,
    uploadProtocol: { kind: 'tus' },
    size: 100,
  }
  for (const status of [500, 502, 503, 408, 423, 429]) {
    test(`HEAD ${status} is retried with backoff, not restarted`, () => {
      play(resume, [
        [{ kind: 'retrieve' }, res(status)],
        [{ kind: 'wait' }, waited],
        [{ kind: 'retrieve' }, res(status)],
        [{ kind: 'wait' }, waited],
        [{ kind: 'retrieve' }, tusOk(60, { 'upload-length': '100' })],
        [{ kind: 'append', body: [60, 40] }, tusOk(100)],
        [{ kind: 'done' }],
      ])
    })
  }
  test('HEAD network errors are retried', () => {
    play(resume, [
      [{ kind: 'retrieve' }, net],
      [{ kind: 'wait' }, waited],
      [{ kind: 'retrieve' }, tusOk(0, { 'upload-length': '100' })],
      [{ kind: 'append', body: [0, 100] }],
    ])
  })
  for (const status of [404, 410]) {
    test(`HEAD ${status}: the upload is gone, forget it and start over`, () => {
      play(resume, [
        [{ kind: 'retrieve' }, res(status)],
        [{ kind: 'create', method: 'POST', url: E, effects: [{ kind: 'forget' }] }, tusCreated()],
        [{ kind: 'append', body: [0, 100] }],
      ])
    })
  }
  test('HEAD 404 without an endpoint fails', () => {
    play({ uploadUrl: U, uploadProtocol: { kind: 'tus' }, size: 100 }, [
      [{ kind: 'retrieve' }, res(404)],
      [{ kind: 'fail', code: 'ERR_UPLOAD_GONE' }],
    ])
  })
  test('HEAD 403 fails (no restart)', () => {
    play(resume, [[{ kind: 'retrieve' }, res(403)], [{ kind: 'fail', code: 'ERR_FORBIDDEN' }]])
  })
})

describe('client machine: retries', () => {
  test('exponential backoff with full jitter, capped, and a budget', () => {
    const lines: Line[] = [
      [{ kind: 'create' }, tusCreated()],
      [{ kind: 'append' }, net],
    ]
    const ceilings = [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]
    for (const c of ceilings) {
      lines.push([{ kind: 'wait', ms: Math.floor(0.999 * c) }, waited])
      lines.push([{ kind: 'retrieve' }, res(503)])
    }
    lines.push([{ kind: 'fail', code: 'ERR_HTTP', message: /failed after 8 retries/ }])
    play({ endpoint: E, protocol: 'tus', size: 10, retries: 8 }, lines, 0.999)
  })

  test('jitter is full: random 0 waits 0 ms', () => {
    play(
      { endpoint: E, protocol: 'tus', size: 10 },
      [[{ kind: 'create' }, net], [{ kind: 'wait', ms: 0 }]],
      0,
    )
  })

  test('Retry-After in seconds and as an HTTP-date are floors', () => {
    play({ endpoint: E, protocol: 'tus', size: 10 }, [
      [{ kind: 'create' }, res(503, { 'retry-after': '7' })],
      [{ kind: 'wait', ms: 7000 }, waited],
      [{ kind: 'create' }, res(429, { 'retry-after': new Date(NOW + 12_000).toUTCString() })],
      [{ kind: 'wait', ms: 12_000 }],
    ])
  })

  test('the budget resets whenever the acknowledged offset grows', () => {
    play({ endpoint: E, protocol: 'tus', size: 100, retries: 1 }, [
      [{ kind: 'create' }, tusCreated()],
      [{ kind: 'append' }, net],
      [{ kind: 'wait', effects: [{ kind: 'retry', attempt: 1 }] }, waited],
      [{ kind: 'retrieve' }, tusOk(10, { 'upload-length': '100' })],
      [{ kind: 'append', body: [10, 90] }, net],
      // The offset grew (0 → 10): attempt 1 again instead of 2 (which would exceed the budget).
      [{ kind: 'wait', effects: [{ kind: 'retry', attempt: 1 }] }, waited],
      [{ kind: 'retrieve' }, tusOk(10, { 'upload-length': '100' })],
      [{ kind: 'append' }, net],
      [{ kind: 'fail', code: 'ERR_NETWORK', message: /after 1 retries/ }],
    ])
  })

  test('a stall is a network error with its reason', () => {
    play({ endpoint: E, protocol: 'tus', size: 100 }, [
      [{ kind: 'create' }, tusCreated()],
      [
        { kind: 'append' },
        { type: 'network-error', message: 'no data for 30000 ms', stalled: true },
      ],
      [
        {
          kind: 'wait',
          effects: [{ kind: 'retry', reason: 'no sign of life: no data for 30000 ms' }],
        },
        waited,
      ],
      [{ kind: 'retrieve' }],
    ])
  })

  test('401 → fresh credentials, one retry; a second 401 fails', () => {
    play({ endpoint: E, protocol: 'tus', size: 10 }, [
      [{ kind: 'create', refreshHeaders: false }, res(401)],
      [{ kind: 'create', refreshHeaders: true }, tusCreated()],
      [{ kind: 'append', refreshHeaders: false }, res(401)],
      [{ kind: 'append', refreshHeaders: true, body: [0, 10] }, res(401)],
      [{ kind: 'fail', code: 'ERR_UNAUTHORIZED' }],
    ])
  })

  test('413 halves the append, never below min-append-size, then fails', () => {
    const v = { 'upload-draft-interop-version': '10' }
    play({ endpoint: E, protocol: 'ietf', size: 1000 }, [
      [
        { kind: 'create', body: null },
        res(201, {
          ...v,
          location: U,
          'upload-complete': '?0',
          'upload-offset': '0',
          'upload-limit': 'min-append-size=300',
        }),
      ],
      [{ kind: 'append', body: [0, 1000] }, res(413, v)],
      [{ kind: 'retrieve' }, res(204, { ...v, 'upload-offset': '0', 'upload-complete': '?0' })],
      [{ kind: 'append', body: [0, 500] }, res(413, v)],
      [{ kind: 'retrieve' }, res(204, { ...v, 'upload-offset': '0', 'upload-complete': '?0' })],
      [{ kind: 'append', body: [0, 300] }, res(413, v)],
      [{ kind: 'fail', code: 'ERR_TOO_LARGE' }],
    ])
  })

  test('413 on a tus creation (no body) fails at once', () => {
    play({ endpoint: E, protocol: 'tus', size: 10 }, [
      [{ kind: 'create' }, res(413)],
      [{ kind: 'fail', code: 'ERR_TOO_LARGE' }],
    ])
  })
})

/** Completion field and its polarity at an interop version. */
function completion(interop: number, complete: boolean): Headers {
  return interop === 3
    ? { 'upload-incomplete': complete ? '?0' : '?1' }
    : { 'upload-complete': complete ? '?1' : '?0' }
}

describe('client machine: the draft at every interop version (careful creation)', () => {
  for (let v = 3; v <= 10; v++) {
    test(`interop ${v}: fields, polarity, media type, completion by the completion field`, () => {
      const base = { 'upload-draft-interop-version': String(v) }
      const other = v === 3 ? 'upload-complete' : 'upload-incomplete'
      const mediaType = v >= 6 ? 'application/partial-upload' : null
      play(
        {
          endpoint: E,
          protocol: 'ietf',
          interop: v,
          size: 30,
          chunkSize: 20,
          metadata: { filename: 'é.bin', filetype: 'video/mp4' },
        },
        [
          [
            {
              kind: 'create',
              method: 'POST',
              url: E,
              body: null,
              headers: {
                ...base,
                ...completion(v, false),
                [other]: null,
                'upload-length': '30',
                'content-type': 'video/mp4',
                'content-disposition': `inline; filename="_.bin"; filename*=UTF-8''%C3%A9.bin`,
                'upload-metadata': 'filename w6kuYmlu,filetype dmlkZW8vbXA0',
                'tus-resumable': null,
              },
            },
            res(201, { ...base, ...completion(v, false), location: 'abc', 'upload-offset': '0' }),
          ],
          [
            {
              kind: 'append',
              method: 'PATCH',
              url: U,
              body: [0, 20],
              headers: {
                ...base,
                ...completion(v, false),
                'upload-offset': '0',
                'content-type': mediaType,
                'upload-length': null,
              },
            },
            res(v <= 6 ? 201 : 204, { ...base, ...completion(v, false), 'upload-offset': '20' }),
          ],
          [
            {
              kind: 'append',
              body: [20, 10],
              headers: {
                ...base,
                ...completion(v, true),
                'upload-offset': '20',
                'content-type': mediaType,
              },
            },
            res(200, { ...base, ...completion(v, true), 'upload-offset': '30' }),
          ],
          [{ kind: 'done', size: 30 }],
        ],
      )
    })

    test(`interop ${v}: HEAD carries no state fields; offset = length is not completion`, () => {
      const base = { 'upload-draft-interop-version': String(v) }
      play({ endpoint: E, uploadUrl: U, uploadProtocol: { kind: 'ietf', interop: v }, size: 30 }, [
        [
          {
            kind: 'retrieve',
            headers: {
              ...base,
              'upload-offset': null,
              'upload-complete': null,
              'upload-incomplete': null,
              'upload-length': null,
            },
          },
          res(204, {
            ...base,
            ...completion(v, false),
            'upload-offset': '30',
            'upload-length': '30',
          }),
        ],
        // Everything arrived but the server says incomplete: an empty completing append.
        [
          { kind: 'append', body: [30, 0], headers: completion(v, true) },
          res(200, { ...base, ...completion(v, true) }),
        ],
        [{ kind: 'done', size: 30 }],
      ])
    })
  }

  test('an empty upload: one creation with ?1', () => {
    play({ endpoint: E, protocol: 'ietf', size: 0 }, [
      [
        { kind: 'create', body: null, headers: { 'upload-complete': '?1', 'upload-length': '0' } },
        res(201, { location: U, 'upload-complete': '?1' }),
      ],
      [{ kind: 'done', size: 0 }],
    ])
  })

  test('deferred length: no Upload-Length until known; the completing append carries it', () => {
    play({ endpoint: E, protocol: 'ietf', chunkSize: 8 }, [
      [
        { kind: 'create', headers: { 'upload-length': null, 'upload-complete': '?0' } },
        res(201, { location: U, 'upload-complete': '?0', 'upload-offset': '0' }),
      ],
      [{ kind: 'read', offset: 0, maxLength: 8 }, read(0, 8, false)],
      [
        {
          kind: 'append',
          body: [0, 8],
          headers: { 'upload-complete': '?0', 'upload-length': null },
        },
        res(204, { 'upload-complete': '?0', 'upload-offset': '8' }),
      ],
      [{ kind: 'read', offset: 8 }, read(8, 0, true)],
      [
        {
          kind: 'append',
          body: [8, 0],
          headers: { 'upload-complete': '?1', 'upload-length': '8' },
        },
        res(204, { 'upload-complete': '?1' }),
      ],
      [{ kind: 'done', size: 8 }],
    ])
  })

  test('auto: OPTIONS with only Upload-Limit picks the draft at the newest version', () => {
    const state = play({ endpoint: E, size: 10 }, [
      [{ kind: 'discover' }, res(204, { 'upload-limit': 'max-size=100, max-append-size=4' })],
      [
        {
          kind: 'create',
          headers: { 'upload-draft-interop-version': '10' },
          effects: [{ kind: 'protocol', protocol: { kind: 'ietf', interop: 10 } }],
        },
        res(201, { location: U, 'upload-complete': '?0', 'upload-offset': '0' }),
      ],
      [{ kind: 'append', body: [0, 4] }],
    ])
    assert.deepEqual(state.limits, { maxSize: 100, maxAppendSize: 4 })
  })

  test('auto: a server without OPTIONS gets the draft', () => {
    play({ endpoint: E, size: 10 }, [
      [{ kind: 'discover' }, res(405)],
      [{ kind: 'create', headers: { 'upload-draft-interop-version': '10' } }],
    ])
  })

  test('OPTIONS 503 is retried', () => {
    play({ endpoint: E, size: 10 }, [
      [{ kind: 'discover' }, res(503)],
      [{ kind: 'wait' }, waited],
      [{ kind: 'discover' }, res(204, tusOptions)],
      [{ kind: 'create', headers: { 'tus-resumable': '1.0.0' } }],
    ])
  })

  test('a cached discovery skips OPTIONS', () => {
    play(
      { endpoint: E, size: 10, discovery: readDiscovery({ status: 204, headers: tusOptions }) },
      [[{ kind: 'create', headers: { 'tus-resumable': '1.0.0' } }]],
    )
  })

  test('Upload-Limit max-age and Upload-Expires become the stored expiry', () => {
    play({ endpoint: E, protocol: 'ietf', size: 10 }, [
      [
        { kind: 'create' },
        res(201, {
          location: U,
          'upload-complete': '?0',
          'upload-offset': '0',
          'upload-limit': 'max-age=3600',
        }),
      ],
      [{ kind: 'append', effects: [{ kind: 'save', url: U, expiresAt: NOW + 3_600_000 }] }],
    ])
    const expires = new Date(NOW + 86_400_000).toUTCString()
    play({ endpoint: E, protocol: 'tus', size: 10 }, [
      [{ kind: 'create' }, tusCreated(U, { 'upload-expires': expires })],
      [{ kind: 'append', effects: [{ kind: 'save', url: U, expiresAt: NOW + 86_400_000 }] }],
    ])
  })

  test('a sliding max-age is written to the storage only when it moved by over a minute', () => {
    const ok = (maxAge: number): MachineEvent =>
      res(204, {
        'upload-complete': '?0',
        'upload-offset': '10',
        'upload-limit': `max-age=${maxAge}`,
      })
    let t = next(
      initialState({
        endpoint: E,
        uploadUrl: U,
        uploadProtocol: { kind: 'ietf', interop: 10 },
        size: 20,
        chunkSize: 10,
      }),
      { type: 'start' },
      env(),
    )
    t = next(t.state, ok(3600), env())
    assert.ok(t.effects.some((e) => e.kind === 'save'))
    t = next(
      t.state,
      res(204, { 'upload-complete': '?0', 'upload-offset': '20', 'upload-limit': 'max-age=3599' }),
      env(0.5, NOW + 1000),
    )
    assert.ok(!t.effects.some((e) => e.kind === 'save'), JSON.stringify(t.effects))
  })

  test('interop 6 reads the lifetime from `expires`', () => {
    play({ endpoint: E, protocol: 'ietf', interop: 6, size: 10 }, [
      [
        { kind: 'create' },
        res(201, {
          location: U,
          'upload-complete': '?0',
          'upload-offset': '0',
          'upload-limit': 'expires=60',
        }),
      ],
      [{ kind: 'append', effects: [{ kind: 'save', url: U, expiresAt: NOW + 60_000 }] }],
    ])
  })
})

describe('client machine: optimistic creation (a transport that sees 104s)', () => {
  test('content in the POST, waiting for the 104; the 104 makes it resumable', () => {
    play({ endpoint: E, protocol: 'ietf', size: 100, interim: true }, [
      [
        {
          kind: 'create',
          body: [0, 100],
          waitForInterimMs: 1000,
          headers: { 'upload-complete': '?1', 'upload-length': '100' },
        },
        interim({
          'upload-draft-interop-version': '10',
          location: '/files/abc',
          'upload-limit': 'max-age=60',
        }),
        interim({ 'upload-draft-interop-version': '10', 'upload-offset': '30' }),
        net,
      ],
      [{ kind: 'wait' }, waited],
      // The upload exists (the 104 said so): ask for its offset instead of creating again.
      [{ kind: 'retrieve', url: U }, res(204, { 'upload-complete': '?0', 'upload-offset': '64' })],
      [
        { kind: 'append', body: [64, 36], headers: { 'upload-complete': '?1' } },
        res(200, { 'upload-complete': '?1' }),
      ],
      [{ kind: 'done', size: 100 }],
    ])
  })

  test('the 104 effects: url, save with the expiry, progress', () => {
    const s0 = next(
      initialState({ endpoint: E, protocol: 'ietf', size: 100, interim: true }),
      { type: 'start' },
      env(),
    )
    const t1 = next(s0.state, interim({ location: U, 'upload-limit': 'max-age=60' }), env())
    assert.equal(t1.step.kind, 'continue')
    assert.deepEqual(t1.effects, [
      { kind: 'url', url: U },
      {
        kind: 'save',
        url: U,
        protocol: { kind: 'ietf', interop: 10 },
        size: 100,
        expiresAt: NOW + 60_000,
      },
    ])
    const t2 = next(t1.state, interim({ 'upload-offset': '30' }), env())
    assert.deepEqual(t2.effects, [{ kind: 'progress', acknowledged: 30 }])
  })

  test('no 104 and a cut: create again', () => {
    play({ endpoint: E, protocol: 'ietf', size: 10, interim: true }, [
      [{ kind: 'create', body: [0, 10] }, net],
      [{ kind: 'wait' }, waited],
      [{ kind: 'create', body: [0, 10] }],
    ])
  })

  test('the first chunk only, when chunked', () => {
    play({ endpoint: E, protocol: 'ietf', size: 100, chunkSize: 40, interim: true }, [
      [
        { kind: 'create', body: [0, 40], headers: { 'upload-complete': '?0' } },
        res(201, { location: U, 'upload-complete': '?0', 'upload-offset': '40' }),
      ],
      [{ kind: 'append', body: [40, 40] }],
    ])
  })

  test('an empty upload sends no body and does not wait', () => {
    const t = next(
      initialState({ endpoint: E, protocol: 'ietf', size: 0, interim: true }),
      { type: 'start' },
      env(),
    )
    assert.equal(t.step.kind, 'create')
    assert.ok('request' in t.step && t.step.request.waitForInterimMs === undefined)
  })

  test('unknown size: read first, then the POST with what was read', () => {
    play({ endpoint: E, protocol: 'ietf', interim: true, streamChunkSize: 16 }, [
      [{ kind: 'read', offset: 0, maxLength: 16 }, read(0, 5, true)],
      [
        {
          kind: 'create',
          body: [0, 5],
          headers: { 'upload-complete': '?1', 'upload-length': '5' },
        },
        res(201, { location: U, 'upload-complete': '?1' }),
      ],
      [{ kind: 'done', size: 5 }],
    ])
  })
})

describe('client machine: version step-down', () => {
  test('a creation answered without the completion field steps down 10 → 3, then fails', () => {
    const lines: Line[] = []
    for (let v = 10; v >= 3; v--) {
      lines.push([
        {
          kind: 'create',
          headers: { 'upload-draft-interop-version': String(v), ...completion(v, false) },
        },
        res(201, { location: U }),
      ])
    }
    lines.push([{ kind: 'fail', code: 'ERR_NO_COMMON_PROTOCOL', message: /no common protocol/ }])
    play({ endpoint: E, protocol: 'ietf', size: 10 }, lines)
  })

  test('stepping down until the server knows the version', () => {
    play({ endpoint: E, protocol: 'ietf', size: 10 }, [
      [
        { kind: 'create', headers: { 'upload-draft-interop-version': '10' } },
        res(400, {}, 'unknown version'),
      ],
      [{ kind: 'create', headers: { 'upload-draft-interop-version': '9' } }, res(400)],
      [
        { kind: 'create', headers: { 'upload-draft-interop-version': '8' } },
        res(201, { location: U, 'upload-complete': '?0', 'upload-offset': '0' }),
      ],
      [{ kind: 'append', headers: { 'upload-draft-interop-version': '8' } }],
    ])
  })

  test('a pinned version never steps down', () => {
    play({ endpoint: E, protocol: 'ietf', interop: 7, size: 10 }, [
      [{ kind: 'create' }, res(201, { location: U })],
      [{ kind: 'fail', code: 'ERR_NO_COMMON_PROTOCOL', message: /interop 7/ }],
    ])
  })

  test('a 2xx to a creation that carried everything is a finished plain upload', () => {
    play({ endpoint: E, protocol: 'ietf', size: 10, interim: true }, [
      [{ kind: 'create', body: [0, 10] }, res(201, { location: U })],
      [{ kind: 'done', size: 10, resumable: false }],
    ])
  })
})

describe('client machine: limits, sources, termination, configuration', () => {
  test('max-append-size caps chunks; min-append-size raises a too-small chunk size', () => {
    play({ endpoint: E, protocol: 'ietf', size: 100, chunkSize: 10 }, [
      [
        { kind: 'create' },
        res(201, {
          location: U,
          'upload-complete': '?0',
          'upload-offset': '0',
          'upload-limit': 'min-append-size=30, max-append-size=50',
        }),
      ],
      [
        { kind: 'append', body: [0, 30] },
        res(204, { 'upload-complete': '?0', 'upload-offset': '30' }),
      ],
      [{ kind: 'append', body: [30, 30] }],
    ])
    play({ endpoint: E, protocol: 'ietf', size: 100 }, [
      [
        { kind: 'create' },
        res(201, {
          location: U,
          'upload-complete': '?0',
          'upload-offset': '0',
          'upload-limit': 'max-append-size=50',
        }),
      ],
      [
        { kind: 'append', body: [0, 50] },
        res(204, { 'upload-complete': '?0', 'upload-offset': '50' }),
      ],
      [{ kind: 'append', body: [50, 50], headers: { 'upload-complete': '?1' } }],
    ])
  })

  test('a draft 2xx without Upload-Offset on an append assumes the body was taken', () => {
    play({ endpoint: E, protocol: 'ietf', size: 20, chunkSize: 10 }, [
      [{ kind: 'create' }, res(201, { location: U, 'upload-complete': '?0' })],
      [{ kind: 'retrieve' }, res(204, { 'upload-complete': '?0', 'upload-offset': '0' })],
      [{ kind: 'append', body: [0, 10] }, res(204, { 'upload-complete': '?0' })],
      [{ kind: 'append', body: [10, 10] }],
    ])
  })

  test('a completing append answered without the field is confirmed by HEAD', () => {
    play({ endpoint: E, protocol: 'ietf', size: 10 }, [
      [
        { kind: 'create' },
        res(201, { location: U, 'upload-complete': '?0', 'upload-offset': '0' }),
      ],
      [{ kind: 'append' }, res(204, {})],
      [{ kind: 'retrieve' }, res(204, { 'upload-complete': '?1', 'upload-offset': '10' })],
      [{ kind: 'done' }],
    ])
  })

  test('append 404/410 asks HEAD, which decides', () => {
    play({ endpoint: E, protocol: 'ietf', interop: 8, size: 10 }, [
      [
        { kind: 'create' },
        res(201, { location: U, 'upload-complete': '?0', 'upload-offset': '0' }),
      ],
      [{ kind: 'append' }, res(410, { 'upload-complete': '?1' })],
      [{ kind: 'retrieve' }, res(204, { 'upload-complete': '?1', 'upload-offset': '10' })],
      [{ kind: 'done' }],
    ])
  })

  test('a source error fails clearly', () => {
    play({ endpoint: E, protocol: 'tus', size: 10 }, [
      [{ kind: 'create' }, tusCreated()],
      [
        { kind: 'append' },
        { type: 'source-error', message: 'the stream cannot go back to byte 0' },
      ],
      [{ kind: 'fail', code: 'ERR_SOURCE', message: /go back/ }],
    ])
  })

  test('terminate: DELETE, forget, aborted; retried on 5xx; nothing to delete without a URL', () => {
    const s = play({ endpoint: E, protocol: 'tus', size: 10 }, [
      [{ kind: 'create' }, tusCreated()],
      [{ kind: 'append' }],
    ])
    let t = next(s, { type: 'terminate' }, env())
    check(
      t,
      { kind: 'terminate', method: 'DELETE', url: U, headers: { 'tus-resumable': '1.0.0' } },
      'terminate',
    )
    t = next(t.state, res(503), env())
    check(t, { kind: 'wait' }, 'terminate retry')
    t = next(t.state, waited, env())
    check(t, { kind: 'terminate', method: 'DELETE' }, 'terminate again')
    t = next(t.state, res(204), env())
    check(t, { kind: 'aborted', effects: [{ kind: 'forget' }] }, 'terminated')
    const fresh = next(
      initialState({ endpoint: E, protocol: 'tus', size: 1 }),
      { type: 'terminate' },
      env(),
    )
    assert.equal(fresh.step.kind, 'aborted')
  })

  test('resume after a pause asks the offset', () => {
    const s = play({ endpoint: E, protocol: 'tus', size: 10 }, [
      [{ kind: 'create' }, tusCreated()],
      [{ kind: 'append' }],
    ])
    check(next(s, { type: 'resume' }, env()), { kind: 'retrieve', url: U }, 'resume')
  })

  const bad: [string, MachineConfig, RegExp][] = [
    ['no endpoint', { size: 1 }, /endpoint/],
    ['unknown interop', { endpoint: E, interop: 2 }, /interop version 2/],
    ['interop with tus', { endpoint: E, protocol: 'tus', interop: 8 }, /draft/],
    ['bad size', { endpoint: E, size: -1 }, /size/],
    ['bad chunk size', { endpoint: E, chunkSize: 0 }, /chunkSize/],
    ['bad metadata key', { endpoint: E, metadata: { 'a b': 'x' } }, /metadata key/],
  ]
  for (const [name, config, message] of bad) {
    test(`configuration error: ${name}`, () => {
      play(config, [[{ kind: 'fail', code: 'ERR_CONFIG', message }]])
    })
  }
})

const tusChecksumOptions: Headers = {
  ...tusOptions,
  'tus-extension': 'creation,checksum,concatenation,termination',
  'tus-checksum-algorithm': 'md5,sha1,sha256',
}

describe('client machine: tus checksums', () => {
  test('OPTIONS first even with tus pinned; every PATCH asks for Upload-Checksum', () => {
    play({ endpoint: E, protocol: 'tus', size: 30, chunkSize: 20, checksum: 'sha1' }, [
      [{ kind: 'discover', method: 'OPTIONS' }, res(204, tusChecksumOptions)],
      [{ kind: 'create', integrity: null }, tusCreated(U)],
      [{ kind: 'append', body: [0, 20], integrity: { checksum: 'sha1' } }, tusOk(20)],
      [{ kind: 'append', body: [20, 10], integrity: { checksum: 'sha1' } }, tusOk(30)],
      [{ kind: 'done', size: 30 }],
    ])
  })

  test('460: the same chunk again at once (bounded), the budget resets on progress', () => {
    const mismatch = res(460, { 'tus-resumable': '1.0.0' }, 'checksum mismatch')
    play(
      {
        endpoint: E,
        size: 30,
        chunkSize: 10,
        checksum: 'sha256',
        integrityRetries: 2,
        discovery: readDiscovery({ status: 204, headers: tusChecksumOptions }),
      },
      [
        [{ kind: 'create' }, tusCreated(U)],
        [{ kind: 'append', body: [0, 10] }, mismatch],
        [
          {
            kind: 'append',
            body: [0, 10],
            integrity: { checksum: 'sha256' },
            effects: [{ kind: 'retry', attempt: 1, delayMs: 0, status: 460, integrity: true }],
          },
          mismatch,
        ],
        [{ kind: 'append', body: [0, 10], effects: [{ kind: 'retry', attempt: 2 }] }, tusOk(10)],
        [{ kind: 'append', body: [10, 10] }, mismatch],
        [{ kind: 'append', body: [10, 10], effects: [{ kind: 'retry', attempt: 1 }] }, mismatch],
        [{ kind: 'append', body: [10, 10] }, mismatch],
        [{ kind: 'fail', code: 'ERR_INTEGRITY', message: /corrupted 3 times/ }],
      ],
    )
  })

  test('refused up front: no checksum extension, an algorithm not offered, the draft', () => {
    play({ endpoint: E, size: 5, checksum: 'sha1' }, [
      [{ kind: 'discover' }, res(204, tusOptions)],
      [{ kind: 'fail', code: 'ERR_UNSUPPORTED', message: /checksum extension.*Tus-Extension: / }],
    ])
    play({ endpoint: E, size: 5, checksum: 'sha1' }, [
      [
        { kind: 'discover' },
        res(204, { ...tusChecksumOptions, 'tus-checksum-algorithm': 'md5,sha256' }),
      ],
      [{ kind: 'fail', code: 'ERR_UNSUPPORTED', message: /Tus-Checksum-Algorithm: md5, sha256/ }],
    ])
    play({ endpoint: E, size: 5, checksum: 'sha1' }, [
      [{ kind: 'discover' }, res(204, { 'upload-limit': 'max-size=100' })],
      [{ kind: 'fail', code: 'ERR_UNSUPPORTED', message: /IETF draft.*use digest/ }],
    ])
    play({ endpoint: E, protocol: 'ietf', size: 5, checksum: 'sha1' }, [
      [{ kind: 'fail', code: 'ERR_CONFIG' }],
    ])
    play({ endpoint: E, protocol: 'tus', size: 5, digest: 'sha-256' }, [
      [{ kind: 'fail', code: 'ERR_CONFIG' }],
    ])
  })
})

describe('client machine: tus concatenation (parallel parts and the final upload)', () => {
  test('a partial upload: OPTIONS, then Upload-Concat: partial with its length', () => {
    play({ endpoint: E, protocol: 'tus', size: 10, concat: { kind: 'partial' } }, [
      [{ kind: 'discover' }, res(204, tusChecksumOptions)],
      [
        {
          kind: 'create',
          headers: { 'upload-concat': 'partial', 'upload-length': '10' },
        },
        tusCreated(U),
      ],
      [{ kind: 'append', body: [0, 10], headers: { 'upload-concat': null } }, tusOk(10)],
      [{ kind: 'done', size: 10 }],
    ])
  })

  test('a resumed part asks OPTIONS (the extensions), keeps its protocol, then HEAD', () => {
    play(
      {
        endpoint: E,
        protocol: 'tus',
        uploadUrl: U,
        uploadProtocol: { kind: 'tus' },
        size: 10,
        concat: { kind: 'partial' },
      },
      [
        [{ kind: 'discover' }, res(204, tusChecksumOptions)],
        [{ kind: 'retrieve', url: U }, tusOk(4, { 'upload-length': '10' })],
        [{ kind: 'append', body: [4, 6] }, tusOk(10)],
        [{ kind: 'done' }],
      ],
    )
  })

  test('refused before any content: no concatenation; the draft', () => {
    play({ endpoint: E, protocol: 'tus', size: 10, concat: { kind: 'partial' } }, [
      [{ kind: 'discover' }, res(204, tusOptions)],
      [{ kind: 'fail', code: 'ERR_UNSUPPORTED', message: /concatenation.*does not offer/ }],
    ])
    play({ endpoint: E, size: 10, concat: { kind: 'partial' } }, [
      [{ kind: 'discover' }, res(204, { 'upload-limit': 'max-size=100' })],
      [{ kind: 'fail', code: 'ERR_UNSUPPORTED', message: /IETF draft, which has none/ }],
    ])
    play({ endpoint: E, protocol: 'ietf', size: 10, concat: { kind: 'partial' } }, [
      [{ kind: 'fail', code: 'ERR_CONFIG', message: /no concatenation/ }],
    ])
  })

  test('the final upload: Upload-Concat: final;<urls>, no Upload-Length, the metadata; 201 is done', () => {
    play(
      {
        endpoint: E,
        protocol: 'tus',
        size: 30,
        metadata: { filename: 'x' },
        concat: { kind: 'final', parts: [`${E}p1`, `${E}p2`] },
        discovery: readDiscovery({ status: 204, headers: tusChecksumOptions }),
      },
      [
        [
          {
            kind: 'create',
            body: null,
            headers: {
              'upload-concat': `final;${E}p1 ${E}p2`,
              'upload-length': null,
              'upload-defer-length': null,
              'upload-metadata': 'filename eA==',
            },
          },
          res(503),
        ],
        [{ kind: 'wait' }, waited],
        [{ kind: 'create' }, tusCreated(`${E}final`)],
        [{ kind: 'done', size: 30, effects: [{ kind: 'url', url: `${E}final` }] }],
      ],
    )
  })
})

describe('client machine: digests with the draft', () => {
  test('careful creation: Repr-Digest on the POST (a source read twice), Content-Digest on appends', () => {
    play(
      {
        endpoint: E,
        protocol: 'ietf',
        size: 30,
        chunkSize: 20,
        digest: 'sha-256',
        rereadable: true,
      },
      [
        [
          { kind: 'create', body: null, integrity: { reprDigest: 'sha-256' } },
          res(201, {
            location: U,
            'upload-complete': '?0',
            'upload-offset': '0',
          }),
        ],
        [
          { kind: 'append', body: [0, 20], integrity: { contentDigest: 'sha-256' } },
          res(204, { 'upload-complete': '?0', 'upload-offset': '20' }),
        ],
        [
          { kind: 'append', body: [20, 10], integrity: { contentDigest: 'sha-256' } },
          res(200, { 'upload-complete': '?1' }),
        ],
        [{ kind: 'done', size: 30 }],
      ],
    )
  })

  test('optimistic creation carries both; a stream (not read twice) only Content-Digest', () => {
    play(
      {
        endpoint: E,
        protocol: 'ietf',
        size: 10,
        interim: true,
        digest: 'sha-512',
        rereadable: true,
      },
      [
        [
          {
            kind: 'create',
            body: [0, 10],
            integrity: { contentDigest: 'sha-512', reprDigest: 'sha-512' },
          },
        ],
      ],
    )
    play({ endpoint: E, protocol: 'ietf', size: 10, interim: true, digest: 'sha-512' }, [
      [{ kind: 'create', body: [0, 10], integrity: { contentDigest: 'sha-512' } }],
    ])
  })

  test('a Content-Digest mismatch (400 naming the digest): HEAD, then the chunk again', () => {
    const mismatch = res(
      400,
      { 'upload-complete': '?0', 'upload-offset': '0', 'content-type': 'application/problem+json' },
      '{"detail":"Content-Digest sha-256 mismatch; the content was discarded"}',
    )
    play(
      {
        endpoint: E,
        uploadUrl: U,
        protocol: 'ietf',
        size: 10,
        digest: 'sha-256',
        integrityRetries: 1,
      },
      [
        [{ kind: 'retrieve' }, res(204, { 'upload-complete': '?0', 'upload-offset': '0' })],
        [{ kind: 'append', body: [0, 10] }, mismatch],
        [
          { kind: 'retrieve', effects: [{ kind: 'retry', integrity: true, status: 400 }] },
          res(204, { 'upload-complete': '?0', 'upload-offset': '0' }),
        ],
        [{ kind: 'append', body: [0, 10] }, mismatch],
        [{ kind: 'fail', code: 'ERR_INTEGRITY' }],
      ],
    )
  })

  test('other 400s and a Repr-Digest mismatch (complete ?1) fail at once', () => {
    play({ endpoint: E, uploadUrl: U, protocol: 'ietf', size: 10, digest: 'sha-256' }, [
      [{ kind: 'retrieve' }, res(204, { 'upload-complete': '?0', 'upload-offset': '0' })],
      [{ kind: 'append' }, res(400, {}, 'bad request')],
      [{ kind: 'fail', code: 'ERR_HTTP' }],
    ])
    play({ endpoint: E, uploadUrl: U, protocol: 'ietf', size: 10, digest: 'sha-256' }, [
      [{ kind: 'retrieve' }, res(204, { 'upload-complete': '?0', 'upload-offset': '0' })],
      [
        { kind: 'append' },
        res(400, { 'upload-complete': '?1' }, 'Repr-Digest sha-256 does not match'),
      ],
      [{ kind: 'fail', code: 'ERR_HTTP' }],
    ])
  })
})

describe('client protocols: codecs', () => {
  test('relative Location resolution (RFC 3986 §5.2)', () => {
    const base = 'http://a.example:8080/files/'
    const cases: [string, string][] = [
      ['/files/x', 'http://a.example:8080/files/x'],
      ['x', 'http://a.example:8080/files/x'],
      ['../up/x?y=1', 'http://a.example:8080/up/x?y=1'],
      ['//b.example/x', 'http://b.example/x'],
      ['https://c.example/x', 'https://c.example/x'],
      ['./x/./y/../z', 'http://a.example:8080/files/x/z'],
      ['?q', 'http://a.example:8080/files/?q'],
    ]
    for (const [ref, want] of cases) assert.equal(resolveReference(base, ref), want, ref)
    assert.equal(resolveReference('http://h', 'x'), 'http://h/x')
  })

  test('Retry-After', () => {
    assert.equal(parseRetryAfter('3', NOW), 3000)
    assert.equal(parseRetryAfter(new Date(NOW + 5000).toUTCString(), NOW), 5000)
    assert.equal(parseRetryAfter(new Date(NOW - 5000).toUTCString(), NOW), 0)
    assert.equal(parseRetryAfter('soon', NOW), undefined)
  })

  test('Upload-Limit and metadata', () => {
    assert.deepEqual(parseUploadLimit('max-size=10, min-append-size=2, max-age=5', 'max-age'), {
      limits: { maxSize: 10, minAppendSize: 2 },
      lifetimeSeconds: 5,
    })
    assert.equal(parseUploadLimit('max-size=', 'max-age'), undefined)
    assert.equal(encodeMetadata({ a: 'ü', b: '' }), 'a w7w=,b')
    assert.deepEqual([...utf8('a€😀')], [0x61, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80])
  })

  test('the machine and its protocol vocabulary use no clock, randomness, timers or I/O', () => {
    for (const file of ['machine.ts', 'protocols.ts', 'hash.ts']) {
      const text = readFileSync(new URL(file, import.meta.url), 'utf8')
      for (const banned of [
        'Date.now',
        'Math.random',
        'setTimeout',
        'setInterval',
        'fetch(',
        "from 'node:",
        'new URL(',
        'performance.',
        'process.',
      ]) {
        assert.ok(!text.includes(banned), `${file} uses ${banned}`)
      }
    }
  })
})
