/**
 * IETF "Resumable Uploads for HTTP" conformance, interop versions 3 to 10. The per-version
 * table repeats the generic cases (creation, retrieval, append, conflicts, cancellation) with
 * each version's field names and statuses (protocol.md §2.2, §4.2, §4.3; docs/protocol-matrix.md);
 * the D-, I9- and I10- rows come from protocol.md §4.1, §7.7 and §8.7.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { type Harness, harness, type Reply, type StoreKind } from '../support/harness.ts'

/** What differs between interop versions, written down independently of the server's table. */
interface Version {
  readonly iv: number
  /** The completion field and how "complete" / "incomplete" look in it. */
  readonly field: 'upload-complete' | 'upload-incomplete'
  readonly yes: string
  readonly no: string
  readonly appendType: string | undefined
  readonly incompleteAppendStatus: number
  readonly missingCompletion: 'complete' | 'incomplete' | 'reject'
  readonly headForbids: readonly string[]
  readonly lifetimeKey: 'max-age' | 'expires'
  readonly completedAppend: 'reject' | 'gone-or-inconsistent' | 'replay'
}

const V = (iv: number): Version => ({
  iv,
  field: iv === 3 ? 'upload-incomplete' : 'upload-complete',
  // draft-01 §9.2: Upload-Incomplete has the inverse polarity.
  yes: iv === 3 ? '?0' : '?1',
  no: iv === 3 ? '?1' : '?0',
  appendType: iv >= 6 ? 'application/partial-upload' : undefined,
  incompleteAppendStatus: iv <= 6 ? 201 : 204,
  missingCompletion: iv === 3 ? 'complete' : iv <= 6 ? 'incomplete' : 'reject',
  headForbids:
    iv === 3
      ? ['upload-offset', 'upload-incomplete']
      : iv <= 5
        ? ['upload-offset', 'upload-complete']
        : iv === 6
          ? ['upload-offset', 'upload-complete', 'upload-length']
          : [],
  lifetimeKey: iv === 6 ? 'expires' : 'max-age',
  completedAppend: iv <= 7 ? 'reject' : iv === 8 ? 'gone-or-inconsistent' : 'replay',
})

const VERSIONS = [3, 4, 5, 6, 7, 8, 9, 10].map(V)

function ivHeaders(v: Version, complete?: boolean): Record<string, string> {
  const h: Record<string, string> = { 'upload-draft-interop-version': String(v.iv) }
  if (complete !== undefined) h[v.field] = complete ? v.yes : v.no
  return h
}

function appendHeaders(v: Version, offset: number, complete?: boolean): Record<string, string> {
  const h: Record<string, string> = { ...ivHeaders(v, complete), 'upload-offset': String(offset) }
  if (v.appendType !== undefined) h['content-type'] = v.appendType
  return h
}

async function createIncomplete(
  h: Harness,
  v: Version,
  body = '',
  extra: Record<string, string> = {},
): Promise<{ path: string; reply: Reply }> {
  const reply = await h.request('POST', '/files/', {
    headers: { ...ivHeaders(v, false), ...extra },
    body,
  })
  assert.equal(reply.status, 201, reply.body)
  return { path: h.path(reply.headers.location), reply }
}

function expectProblem(reply: Reply, type?: string): void {
  assert.equal(reply.headers['content-type'], 'application/problem+json')
  const problem = JSON.parse(reply.body) as Record<string, unknown>
  assert.equal(problem.status, reply.status)
  assert.equal(typeof problem.detail, 'string')
  assert.equal(typeof problem.code, 'string')
  if (type !== undefined) assert.equal(problem.type, type)
}

const MISMATCH = 'https://iana.org/assignments/http-problem-types#mismatching-upload-offset'
const INCONSISTENT = 'https://iana.org/assignments/http-problem-types#inconsistent-upload-length'
const COMPLETED = 'https://iana.org/assignments/http-problem-types#completed-upload'

for (const kind of ['memory', 'disk', 's3'] as const satisfies readonly StoreKind[]) {
  for (const v of VERSIONS) {
    describe(`interop ${v.iv} (${kind} store)`, () => {
      let h: Harness
      before(() => {
        h = harness(kind)
      })
      after(async () => {
        await h.close()
      })

      test(`creation ${v.field}: ${v.yes} with content → 104 (Location, IV ${v.iv}) then the target's 2xx marked complete`, async () => {
        const r = await h.request('POST', '/files/', {
          headers: ivHeaders(v, true),
          body: 'x'.repeat(1000),
        })
        assert.equal(r.interim.length, 1, 'one 104 announcing the upload')
        const i = r.interim[0]!
        assert.equal(i.status, 104)
        assert.equal(i.headers['upload-draft-interop-version'], String(v.iv))
        assert.match(i.headers.location ?? '', /^http:\/\/uploads\.test\/files\/[0-9a-f]{32}$/)
        assert.ok(r.status >= 200 && r.status < 300)
        assert.equal(r.headers[v.field], v.yes)
        assert.equal(r.headers['upload-offset'], '1000')
        assert.equal(r.headers['upload-draft-interop-version'], String(v.iv))
        const head = await h.request('HEAD', h.path(i.headers.location), { headers: ivHeaders(v) })
        assert.equal(head.headers[v.field], v.yes)
        assert.equal(head.headers['upload-offset'], '1000')
      })

      test(`creation ${v.field}: ${v.no} without content → 201 + Location identical to the 104's, incomplete, offset 0 (D06, D46)`, async () => {
        const { reply } = await createIncomplete(h, v)
        assert.equal(reply.interim[0]?.headers.location, reply.headers.location)
        assert.equal(reply.headers[v.field], v.no)
        assert.equal(reply.headers['upload-offset'], '0')
        assert.match(reply.headers['upload-limit'] ?? '', new RegExp(`${v.lifetimeKey}=\\d+`))
      })

      test('offset retrieval: 204 with Upload-Offset, completion, Upload-Limit, Cache-Control: no-store (D10, I3-03, I6-03)', async () => {
        const { path } = await createIncomplete(h, v, 'abc', { 'upload-length': '10' })
        const r = await h.request('HEAD', path, { headers: ivHeaders(v) })
        assert.equal(r.status, 204)
        assert.equal(r.headers['upload-offset'], '3')
        assert.equal(r.headers[v.field], v.no)
        assert.equal(r.headers['upload-length'], '10')
        assert.equal(r.headers['cache-control'], 'no-store')
        assert.match(r.headers['upload-limit'] ?? '', /max-age|expires|min-size/)
        // D47: a second retrieval without appends in between reports the same offset.
        const again = await h.request('HEAD', path, { headers: ivHeaders(v) })
        assert.equal(again.headers['upload-offset'], '3')
      })

      test(`append ${v.no}: ${v.incompleteAppendStatus} with the completion field false and the new offset (D12, I3-06, I6-06)`, async () => {
        const { path } = await createIncomplete(h, v, 'abc')
        const r = await h.request('PATCH', path, {
          headers: appendHeaders(v, 3, false),
          body: 'defgh',
        })
        assert.equal(r.status, v.incompleteAppendStatus, r.body)
        assert.equal(r.headers[v.field], v.no)
        assert.equal(r.headers['upload-offset'], '8')
        assert.equal(
          r.interim.filter((i) => i.headers.location !== undefined).length,
          0,
          'no Location in append 104s',
        )
      })

      test('append with a mismatching offset → 409 + Upload-Offset + completion false, nothing written (D13, D14, I3-07)', async () => {
        const { path } = await createIncomplete(h, v, 'abc')
        for (const offset of [9, 1]) {
          const r = await h.request('PATCH', path, {
            headers: appendHeaders(v, offset, false),
            body: 'zz',
          })
          assert.equal(r.status, 409)
          assert.equal(r.headers['upload-offset'], '3')
          assert.equal(r.headers[v.field], v.no)
          expectProblem(r, v.iv >= 6 ? MISMATCH : undefined)
          const problem = JSON.parse(r.body) as Record<string, unknown>
          assert.equal(problem['expected-offset'], 3)
          assert.equal(problem['provided-offset'], offset)
        }
        const head = await h.request('HEAD', path, { headers: ivHeaders(v) })
        assert.equal(head.headers['upload-offset'], '3')
      })

      test(`append ${v.yes} completes: the target's 2xx with ${v.field}: ${v.yes} (D18, I3-05); then an empty completion is not data (D19)`, async () => {
        const { path } = await createIncomplete(h, v, 'abc')
        const r = await h.request('PATCH', path, {
          headers: appendHeaders(v, 3, true),
          body: 'def',
        })
        assert.ok(r.status >= 200 && r.status < 300, r.body)
        assert.equal(r.headers[v.field], v.yes)
        assert.equal(r.headers['upload-offset'], '6')
        const head = await h.request('HEAD', path, { headers: ivHeaders(v) })
        assert.equal(head.headers[v.field], v.yes)
        assert.equal(head.headers['upload-length'], '6')
        assert.equal((await h.request('GET', path)).body.length === 6 || v.iv >= 9, true)
      })

      test('an empty append marked complete completes an upload whose bytes were all sent (D19)', async () => {
        const { path } = await createIncomplete(h, v, 'abc')
        const r = await h.request('PATCH', path, { headers: appendHeaders(v, 3, true), body: '' })
        assert.ok(r.status >= 200 && r.status < 300, r.body)
        assert.equal(r.headers[v.field], v.yes)
      })

      test(`append without a completion field → ${v.missingCompletion} (draft-01 §5, draft-02..-05 §5, draft-06 §4.4.1)`, async () => {
        const { path } = await createIncomplete(h, v, 'abc')
        const r = await h.request('PATCH', path, { headers: appendHeaders(v, 3), body: 'de' })
        const head = await h.request('HEAD', path, { headers: ivHeaders(v) })
        if (v.missingCompletion === 'reject') {
          assert.equal(r.status, 400)
          expectProblem(r)
          assert.equal(head.headers['upload-offset'], '3', 'nothing appended')
        } else {
          assert.ok(r.status >= 200 && r.status < 300, r.body)
          assert.equal(head.headers['upload-offset'], '5')
          assert.equal(head.headers[v.field], v.missingCompletion === 'complete' ? v.yes : v.no)
        }
      })

      test(
        v.appendType === undefined
          ? 'append media type is not checked (iOS 17 sends the representation type)'
          : 'append without application/partial-upload → 415, nothing written (D17, I6-05)',
        async () => {
          const { path } = await createIncomplete(h, v, 'abc')
          const headers = { ...appendHeaders(v, 3, false), 'content-type': 'video/mp4' }
          const r = await h.request('PATCH', path, { headers, body: 'de' })
          if (v.appendType === undefined) {
            assert.equal(r.status, v.incompleteAppendStatus)
          } else {
            assert.equal(r.status, 415)
            assert.equal(r.headers['accept-patch'], 'application/partial-upload')
            const head = await h.request('HEAD', path, { headers: ivHeaders(v) })
            assert.equal(head.headers['upload-offset'], '3')
          }
        },
      )

      test(
        v.headForbids.length > 0
          ? `HEAD/DELETE carrying ${v.headForbids.join(', ')} → 400 (I3-04, I3-08, I6-04, I6-11)`
          : 'HEAD/DELETE carrying upload state fields are served (draft-06 on)',
        async () => {
          const { path } = await createIncomplete(h, v, 'abc')
          for (const field of ['upload-offset', v.field, 'upload-length']) {
            const r = await h.request('HEAD', path, {
              headers: {
                ...ivHeaders(v),
                [field]: field === 'upload-offset' ? '3' : field === 'upload-length' ? '3' : v.no,
              },
            })
            assert.equal(r.status, v.headForbids.includes(field) ? 400 : 204, `HEAD with ${field}`)
          }
          const del = await h.request('DELETE', path, {
            headers: { ...ivHeaders(v), 'upload-offset': '3' },
          })
          assert.equal(del.status, v.headForbids.includes('upload-offset') ? 400 : 204)
        },
      )

      test('DELETE → 204; the upload is gone: HEAD and PATCH → 404 (D30, D32, I3-08, I6-11)', async () => {
        const { path } = await createIncomplete(h, v, 'abc')
        assert.equal((await h.request('DELETE', path, { headers: ivHeaders(v) })).status, 204)
        assert.equal((await h.request('HEAD', path, { headers: ivHeaders(v) })).status, 404)
        assert.equal(
          (await h.request('PATCH', path, { headers: appendHeaders(v, 3, false), body: 'x' }))
            .status,
          404,
        )
        assert.equal((await h.request('DELETE', path, { headers: ivHeaders(v) })).status, 404)
        assert.equal(
          (
            await h.request('HEAD', '/files/0123456789abcdef0123456789abcdef', {
              headers: ivHeaders(v),
            })
          ).status,
          404,
        )
      })

      test(`append to a completed upload → ${v.completedAppend} (I6-08; draft-10 §4.4.2; draft-12 §4.4.2)`, async () => {
        const done = await h.request('POST', '/files/', {
          headers: ivHeaders(v, true),
          body: 'abc',
        })
        const path = h.path(done.interim[0]?.headers.location)
        const data = await h.request('PATCH', path, {
          headers: appendHeaders(v, 3, false),
          body: 'xyz',
        })
        const empty = await h.request('PATCH', path, {
          headers: appendHeaders(v, 3, true),
          body: '',
        })
        switch (v.completedAppend) {
          case 'reject':
            assert.equal(data.status, 400)
            assert.equal(empty.status, 400)
            expectProblem(empty, v.iv >= 6 ? COMPLETED : undefined)
            break
          case 'gone-or-inconsistent':
            assert.equal(data.status, 400)
            expectProblem(data, INCONSISTENT)
            assert.equal(empty.status, 410)
            expectProblem(empty, COMPLETED)
            break
          case 'replay':
            assert.ok(data.status >= 400 && data.status < 500)
            assert.equal(data.headers['upload-complete'], '?0')
            // I9-08: the lost final response is replayed, never processed twice.
            assert.equal(empty.status, done.status)
            assert.equal(empty.headers['upload-complete'], '?1')
            break
        }
        const head = await h.request('HEAD', path, { headers: ivHeaders(v) })
        assert.equal(head.headers['upload-offset'], '3', 'the completed upload is unchanged')
      })

      test('a rejected append to an active upload carries its Upload-Offset (draft-01..-05 §6 MUST)', async () => {
        const { path } = await createIncomplete(h, v, 'abc')
        const noOffset = appendHeaders(v, 3, false)
        delete noOffset['upload-offset']
        const bad = await h.request('PATCH', path, { headers: noOffset, body: 'x' })
        assert.equal(bad.status, 400)
        assert.equal(bad.headers['upload-offset'], '3')
        const done = await h.request('POST', '/files/', {
          headers: ivHeaders(v, true),
          body: 'abc',
        })
        const completed = await h.request('PATCH', h.path(done.interim[0]?.headers.location), {
          headers: appendHeaders(v, 3, false),
          body: 'x',
        })
        // Up to draft-11 the completion field states the upload's state; from -12 a protocol
        // error says ?0 (draft-12 §4.1.2).
        assert.equal(completed.headers[v.field], v.iv <= 8 ? v.yes : v.no)
      })

      test('creation carrying a non-zero Upload-Offset → 400, no upload (D45)', async () => {
        const r = await h.request('POST', '/files/', {
          headers: { ...ivHeaders(v, false), 'upload-offset': '5' },
        })
        assert.equal(r.status, 400)
        assert.equal(r.interim.length, 0)
      })
    })
  }

  describe(`draft cases at interop 8, 9, 10 (${kind} store)`, () => {
    let h: Harness
    before(() => {
      h = harness(kind)
    })
    after(async () => {
      await h.close()
    })
    const v8 = V(8)
    const v9 = V(9)
    const v10 = V(10)

    test('D01 / I9-05: OPTIONS lists application/partial-upload in Accept-Patch and sends Upload-Limit (min-size=0 when no other limit)', async () => {
      const plain = harness(kind, { expireAfterMs: null })
      try {
        const r = await plain.request('OPTIONS', '/files/', { headers: ivHeaders(v8) })
        assert.equal(r.status, 204)
        assert.match(r.headers['accept-patch'] ?? '', /application\/partial-upload/)
        assert.equal(r.headers['upload-limit'], 'min-size=0')
      } finally {
        await plain.close()
      }
    })

    test('D03 / D04 / D39 / I9-09 / I10-08: no 104 without a valid version and completion field; handled as a plain upload', async () => {
      for (const headers of [
        { 'upload-complete': '?1' },
        { 'upload-draft-interop-version': '99', 'upload-complete': '?1' },
        { 'upload-draft-interop-version': '11', 'upload-complete': '?1' },
        { 'upload-draft-interop-version': '8', 'upload-complete': '1' },
        { 'upload-draft-interop-version': 'eight', 'upload-complete': '?1' },
      ]) {
        const r = await h.request('POST', '/files/', { headers, body: 'plain bytes' })
        assert.equal(r.interim.length, 0, JSON.stringify(headers))
        assert.equal(r.status, 201)
        assert.equal(r.headers['upload-draft-interop-version'], undefined, 'no version echoed')
        assert.equal((await h.request('GET', h.path(r.headers.location))).body, 'plain bytes')
      }
    })

    test('D05: ?0 creation with Upload-Length and 300 B → 104 then 201, identical Location, Upload-Offset 300', async () => {
      const r = await h.request('POST', '/files/', {
        headers: { ...ivHeaders(v8, false), 'upload-length': '1000' },
        body: 'x'.repeat(300),
      })
      assert.equal(r.status, 201)
      assert.equal(r.interim[0]?.headers.location, r.headers.location)
      assert.equal(r.headers['upload-offset'], '300')
      const head = await h.request('HEAD', h.path(r.headers.location), { headers: ivHeaders(v8) })
      assert.equal(head.headers['upload-length'], '1000')
    })

    test('D07: a zero-byte upload (?1, empty) completes; HEAD shows offset 0, complete, length 0', async () => {
      const r = await h.request('POST', '/files/', { headers: ivHeaders(v8, true), body: '' })
      assert.equal(r.status, 201)
      assert.equal(r.headers['upload-complete'], '?1')
      const head = await h.request('HEAD', h.path(r.interim[0]?.headers.location), {
        headers: ivHeaders(v8),
      })
      assert.equal(head.headers['upload-offset'], '0')
      assert.equal(head.headers['upload-complete'], '?1')
      assert.equal(head.headers['upload-length'], '0')
    })

    test('D08: ?1 with Content-Length 10 and Upload-Length 20 → 400 inconsistent length, no upload resource', async () => {
      const r = await h.request('POST', '/files/', {
        headers: { ...ivHeaders(v10, true), 'upload-length': '20' },
        body: 'x'.repeat(10),
      })
      assert.equal(r.status, 400)
      expectProblem(r, INCONSISTENT)
      assert.equal(r.interim.length, 0)
      assert.equal(r.headers['upload-complete'], '?0')
    })

    test('D09: a creation whose length exceeds max-size → 413 with Upload-Limit, no upload', async () => {
      const small = harness(kind, { maxSizeBytes: 100 })
      try {
        const r = await small.request('POST', '/files/', {
          headers: { ...ivHeaders(v10, false), 'upload-length': '101' },
        })
        assert.equal(r.status, 413)
        assert.match(r.headers['upload-limit'] ?? '', /max-size=100/)
        assert.equal(r.interim.length, 0)
      } finally {
        await small.close()
      }
    })

    test('D11 / I3-09: HEAD on an unknown upload → 404 without Upload-Offset', async () => {
      const r = await h.request('HEAD', '/files/ffffffffffffffffffffffffffffffff', {
        headers: ivHeaders(v10),
      })
      assert.equal(r.status, 404)
      assert.equal(r.headers['upload-offset'], undefined)
    })

    test('D15: Upload-Offset missing, negative, not a number, 16 digits → 400, nothing appended', async () => {
      const { path } = await createIncomplete(h, v10, 'abc')
      for (const value of [undefined, '-5', 'abc', '1234567890123456', '3.0', '"3"']) {
        const headers = appendHeaders(v10, 3, false)
        if (value === undefined)
          delete (headers as Record<string, string | undefined>)['upload-offset']
        else headers['upload-offset'] = value
        const r = await h.request('PATCH', path, { headers, body: 'zz' })
        assert.equal(r.status, 400, `Upload-Offset ${value}`)
        expectProblem(r)
      }
      assert.equal(
        (await h.request('HEAD', path, { headers: ivHeaders(v10) })).headers['upload-offset'],
        '3',
      )
    })

    test('D15b: Upload-Offset with parameters is the Integer (sf-item parameters carry no meaning)', async () => {
      const { path } = await createIncomplete(h, v10, 'abc')
      const r = await h.request('PATCH', path, {
        headers: { ...appendHeaders(v10, 3, false), 'upload-offset': '3;x=1' },
        body: 'd',
      })
      assert.equal(r.status, 204)
    })

    test('D16 / I10-05: Upload-Complete missing or not an sf-boolean → 400 at interop 10, nothing appended', async () => {
      const { path } = await createIncomplete(h, v10, 'abc')
      for (const value of [undefined, 'true', '?true', '?1, ?0', '1']) {
        const headers = appendHeaders(v10, 3)
        if (value !== undefined) headers['upload-complete'] = value
        const r = await h.request('PATCH', path, { headers, body: 'zz' })
        assert.equal(r.status, 400, `Upload-Complete ${value}`)
      }
      assert.equal(
        (await h.request('HEAD', path, { headers: ivHeaders(v10) })).headers['upload-offset'],
        '3',
      )
    })

    test('D22: chunked content past a known length → rejected, upload invalidated, offset never past the length', async () => {
      const { path } = await createIncomplete(h, v8, '', { 'upload-length': '10' })
      const r = await h.request('PATCH', path, {
        headers: appendHeaders(v8, 0, false),
        chunked: ['x'.repeat(8), 'y'.repeat(8)],
      })
      assert.equal(r.status, 400)
      expectProblem(r, INCONSISTENT)
      const head = await h.request('HEAD', path, { headers: ivHeaders(v8) })
      assert.ok(head.status >= 400 && head.status < 500, 'further interaction is rejected')
    })

    test('D23 / D24: Upload-Length or ?1 + Content-Length disagreeing with the recorded length → 400', async () => {
      const { path } = await createIncomplete(h, v10, 'abc', { 'upload-length': '10' })
      const a = await h.request('PATCH', path, {
        headers: { ...appendHeaders(v10, 3, false), 'upload-length': '20' },
        body: 'd',
      })
      assert.equal(a.status, 400)
      expectProblem(a, INCONSISTENT)
      const b = await h.request('PATCH', path, {
        headers: appendHeaders(v10, 3, true),
        body: 'def',
      })
      assert.equal(b.status, 400)
      expectProblem(b, INCONSISTENT)
      assert.equal(
        (await h.request('HEAD', path, { headers: ivHeaders(v10) })).headers['upload-offset'],
        '3',
      )
    })

    test('I9-06: chunked ?1 whose total differs from Upload-Length → 400 with ?0; not completed', async () => {
      const { path } = await createIncomplete(h, v9, '', { 'upload-length': '10' })
      const r = await h.request('PATCH', path, {
        headers: appendHeaders(v9, 0, true),
        chunked: ['abc', 'de'],
      })
      assert.equal(r.status, 400)
      assert.equal(r.headers['upload-complete'], '?0')
      expectProblem(r, INCONSISTENT)
      const head = await h.request('HEAD', path, { headers: ivHeaders(v9) })
      assert.equal(head.headers['upload-complete'], '?0')
    })

    test('D25: deferred length: HEAD without Upload-Length, then a PATCH declares it', async () => {
      const { path } = await createIncomplete(h, v8)
      assert.equal(
        (await h.request('HEAD', path, { headers: ivHeaders(v8) })).headers['upload-length'],
        undefined,
      )
      await h.request('PATCH', path, {
        headers: { ...appendHeaders(v8, 0, false), 'upload-length': '1000' },
        body: 'abc',
      })
      assert.equal(
        (await h.request('HEAD', path, { headers: ivHeaders(v8) })).headers['upload-length'],
        '1000',
      )
    })

    test('D35 / I9-07: content over max-append-size → 413 with Upload-Limit and ?0, offset unchanged', async () => {
      const limited = harness(kind, { maxAppendSizeBytes: 4 })
      try {
        const { path } = await createIncomplete(limited, v10)
        const r = await limited.request('PATCH', path, {
          headers: appendHeaders(v10, 0, false),
          body: 'abcdef',
        })
        assert.equal(r.status, 413)
        assert.match(r.headers['upload-limit'] ?? '', /max-append-size=4/)
        assert.equal(r.headers['upload-complete'], '?0')
        assert.equal(
          (await limited.request('HEAD', path, { headers: ivHeaders(v10) })).headers[
            'upload-offset'
          ],
          '0',
        )
        const chunked = await limited.request('PATCH', path, {
          headers: appendHeaders(v10, 0, false),
          chunked: ['abc', 'def'],
        })
        assert.equal(chunked.status, 413)
        assert.ok(
          Number(
            (await limited.request('HEAD', path, { headers: ivHeaders(v10) })).headers[
              'upload-offset'
            ],
          ) <= 4,
        )
      } finally {
        await limited.close()
      }
    })

    test('D36 / I9-02: min-append-size rejects small appends but not empty creation or completing requests', async () => {
      const limited = harness(kind, { minAppendSizeBytes: 5 })
      try {
        const { reply, path } = await createIncomplete(limited, v9)
        assert.match(reply.headers['upload-limit'] ?? '', /min-append-size=5/)
        const small = await limited.request('PATCH', path, {
          headers: appendHeaders(v9, 0, false),
          body: 'ab',
        })
        assert.equal(small.status, 400)
        assert.match(small.headers['upload-limit'] ?? '', /min-append-size=5/)
        const smallChunked = await limited.request('PATCH', path, {
          headers: appendHeaders(v9, 0, false),
          chunked: ['a', 'b'],
        })
        assert.equal(smallChunked.status, 400)
        assert.equal(
          (await limited.request('HEAD', path, { headers: ivHeaders(v9) })).headers[
            'upload-offset'
          ],
          '0',
        )
        const enough = await limited.request('PATCH', path, {
          headers: appendHeaders(v9, 0, false),
          chunked: ['abc', 'def'],
        })
        assert.equal(enough.status, 204)
        const last = await limited.request('PATCH', path, {
          headers: appendHeaders(v9, 6, true),
          body: 'g',
        })
        assert.equal(last.status, 201)
        assert.equal(last.headers['upload-complete'], '?1')
      } finally {
        await limited.close()
      }
    })

    test('I9-04 / I10-06: GET on the upload resource is an offset retrieval at interop 9 and 10', async () => {
      const { path } = await createIncomplete(h, v10, 'abc')
      for (const v of [v9, v10]) {
        const r = await h.request('GET', path, { headers: ivHeaders(v) })
        assert.equal(r.status, 204)
        assert.equal(r.headers['upload-offset'], '3')
        assert.equal(r.headers['cache-control'], 'no-store')
        assert.match(r.headers['upload-limit'] ?? '', /max-age/)
      }
    })

    test('I9-03 / I10-04: 409 carries ?0 and the offset, and that offset is accepted by the next append', async () => {
      const { path } = await createIncomplete(h, v10, 'x'.repeat(300))
      const r = await h.request('PATCH', path, {
        headers: appendHeaders(v10, 900, false),
        body: 'a',
      })
      assert.equal(r.status, 409)
      assert.equal(r.headers['upload-complete'], '?0')
      const next = await h.request('PATCH', path, {
        headers: appendHeaders(v10, Number(r.headers['upload-offset']), false),
        body: 'a',
      })
      assert.equal(next.status, 204)
    })

    test('I10-03: a ?0 2xx append response carries exactly the request offset plus the content length', async () => {
      const { path } = await createIncomplete(h, v10)
      const r = await h.request('PATCH', path, {
        headers: appendHeaders(v10, 0, false),
        body: 'x'.repeat(300),
      })
      assert.equal(r.headers['upload-offset'], '300')
    })

    test('I10-01 / I10-07: every 2xx answer to a ?1 request carries Upload-Complete: ?1', async () => {
      const create = await h.request('POST', '/files/', {
        headers: ivHeaders(v10, true),
        body: 'x',
      })
      assert.equal(create.headers['upload-complete'], '?1')
      const { path } = await createIncomplete(h, v10, 'x')
      const append = await h.request('PATCH', path, {
        headers: appendHeaders(v10, 1, true),
        body: 'y',
      })
      assert.equal(append.status, 201)
      assert.equal(append.headers['upload-complete'], '?1')
    })

    test('D40: a mismatching Content-Digest fails the append; nothing appended', async () => {
      const { path } = await createIncomplete(h, v8, 'abc')
      const wrong = createHash('sha256').update('other').digest('base64')
      const r = await h.request('PATCH', path, {
        headers: { ...appendHeaders(v8, 3, false), 'content-digest': `sha-256=:${wrong}:` },
        body: 'def',
      })
      assert.equal(r.status, 400)
      assert.equal(
        (await h.request('HEAD', path, { headers: ivHeaders(v8) })).headers['upload-offset'],
        '3',
      )
      const right = createHash('sha512').update('def').digest('base64')
      const ok = await h.request('PATCH', path, {
        headers: { ...appendHeaders(v8, 3, false), 'content-digest': `sha-512=:${right}:` },
        body: 'def',
      })
      assert.equal(ok.status, 204)
    })

    test('D41: a Repr-Digest that does not match the completed representation fails the upload', async () => {
      const wrong = createHash('sha256').update('nope').digest('base64')
      const r = await h.request('POST', '/files/', {
        headers: { ...ivHeaders(v8, true), 'repr-digest': `sha-256=:${wrong}:` },
        body: 'abc',
      })
      assert.equal(r.status, 400)
      assert.equal(
        r.headers['upload-complete'],
        '?1',
        'the targeted resource rejected the representation',
      )
      const right = createHash('sha256').update('abc').digest('base64')
      const ok = await h.request('POST', '/files/', {
        headers: { ...ivHeaders(v8, true), 'repr-digest': `sha-256=:${right}:` },
        body: 'abc',
      })
      assert.equal(ok.status, 201)
    })

    test('D42: Want-Repr-Digest → the completing response carries Repr-Digest of the representation', async () => {
      const r = await h.request('POST', '/files/', {
        headers: { ...ivHeaders(v8, true), 'want-repr-digest': 'sha-512=3, sha-256=10, md5=9' },
        body: 'hello',
      })
      assert.equal(r.status, 201)
      assert.equal(
        r.headers['repr-digest'],
        `sha-256=:${createHash('sha256').update('hello').digest('base64')}:`,
      )
      const { path } = await createIncomplete(h, v8, 'hel', { 'want-repr-digest': 'sha-512=1' })
      const done = await h.request('PATCH', path, {
        headers: appendHeaders(v8, 3, true),
        body: 'lo',
      })
      assert.equal(
        done.headers['repr-digest'],
        `sha-512=:${createHash('sha512').update('hello').digest('base64')}:`,
      )
    })

    test('bad input: malformed digests → 400 with a reason', async () => {
      for (const value of ['sha-256=abc', 'sha-256=:!!!:', '=', 'sha-256=:YQ==:,']) {
        const r = await h.request('POST', '/files/', {
          headers: { ...ivHeaders(v10, false), 'content-digest': value },
          body: 'a',
        })
        assert.equal(r.status, 400, value)
      }
    })

    test('D43: 1000 uploads get 1000 distinct, unguessable Locations (128 random bits, no internal paths)', async () => {
      const seen = new Set<string>()
      for (let i = 0; i < 1000; i++) {
        const r = await h.request('POST', '/files/', { headers: ivHeaders(v10, false) })
        const id = h.path(r.headers.location).slice('/files/'.length)
        assert.match(id, /^[0-9a-f]{32}$/)
        seen.add(id)
      }
      assert.equal(seen.size, 1000)
    })

    test('I10-10 / D37: an expired upload → 410; max-age counts down and never moves the end earlier', async () => {
      let clock = Date.now()
      const e = harness(kind, { expireAfterMs: 10_000, now: () => clock })
      try {
        const { reply, path } = await createIncomplete(e, v10, 'abc')
        const first = Number(/max-age=(\d+)/.exec(reply.headers['upload-limit'] ?? '')?.[1])
        clock += 3000
        const head = await e.request('HEAD', path, { headers: ivHeaders(v10) })
        const second = Number(/max-age=(\d+)/.exec(head.headers['upload-limit'] ?? '')?.[1])
        assert.ok(second <= first, 'max-age counts down')
        assert.ok(second + 3 >= first, 'the end of life did not move earlier')
        clock += 120_000
        assert.equal((await e.request('HEAD', path, { headers: ivHeaders(v10) })).status, 410)
        assert.equal(
          (await e.request('PATCH', path, { headers: appendHeaders(v10, 3, false), body: 'x' }))
            .status,
          410,
        )
      } finally {
        await e.close()
      }
    })

    test('D38: every Upload-Limit is a valid Dictionary with Integer values only', async () => {
      const limited = harness(kind, {
        maxSizeBytes: 1e9,
        maxAppendSizeBytes: 1e8,
        minAppendSizeBytes: 10,
      })
      try {
        const { reply } = await createIncomplete(limited, v10)
        assert.match(
          reply.headers['upload-limit'] ?? '',
          /^max-size=1000000000, max-append-size=100000000, min-append-size=10, max-age=\d+$/,
        )
      } finally {
        await limited.close()
      }
    })

    test('interop 6 announces the lifetime as `expires` (I6-10)', async () => {
      const { reply } = await createIncomplete(h, V(6))
      assert.match(reply.headers['upload-limit'] ?? '', /expires=\d+/)
      assert.doesNotMatch(reply.headers['upload-limit'] ?? '', /max-age/)
    })

    test('an interrupted creation keeps its bytes and is not complete even with ?1 (D27, I10-09)', async () => {
      const r = await h.request('POST', '/files/', {
        headers: { ...ivHeaders(v10, true), 'content-length': '100' },
        chunked: ['x'.repeat(40)],
        failAfterBody: true,
      })
      const path = h.path(r.interim[0]?.headers.location)
      const head = await h.request('HEAD', path, { headers: ivHeaders(v10) })
      assert.equal(head.headers['upload-offset'], '40')
      assert.equal(head.headers['upload-complete'], '?0')
      const finish = await h.request('PATCH', path, {
        headers: appendHeaders(v10, 40, true),
        body: 'x'.repeat(60),
      })
      assert.equal(finish.status, 201)
      assert.equal(finish.headers['upload-complete'], '?1')
    })

    test('an unsupported interop version on an upload URL → 400 naming the supported versions', async () => {
      const { path } = await createIncomplete(h, v10)
      const r = await h.request('HEAD', path, { headers: { 'upload-draft-interop-version': '11' } })
      assert.equal(r.status, 400)
      assert.match(r.body, /3 to 10/)
    })
  })
}
