/**
 * The tester can fail: Ferry with a handler wrapped to misbehave in one way at a time, and the
 * checks about that behaviour (selected by id patterns, since ids may still move) must FAIL —
 * while the same checks PASS against an unbroken Ferry. Each broken server breaks exactly one
 * rule:
 *   1. HEAD responses lose Upload-Offset;
 *   2. a PATCH at a wrong offset gets 204 instead of 409;
 *   3. a creation without Upload-Draft-Interop-Version gets a 104 anyway;
 *   4. after an interrupted PATCH, HEAD reports more bytes than were received;
 *   5. DELETE answers 204 but deletes nothing.
 * And one that is only slow — a HEAD waits for the running PATCH instead of terminating it —
 * where the SHOULD check WARNs and its MUST sibling still passes.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createNodeServer } from '../../src/adapters/node.ts'
import { runChecks } from '../../src/check/runner.ts'
import type { CheckResult, Report } from '../../src/check/types.ts'
import type { HandlerRequest, HandlerResponse, UploadHandler } from '../../src/server/handler.ts'
import { createUploadHandler } from '../../src/server/handler.ts'
import { createDiskStore } from '../../src/stores/disk/index.ts'
import { tempDir } from '../support/servers.ts'

type Handle = UploadHandler['handle']
/** A misbehaviour: answers a request, with the real handler at hand. */
type Breakage = (req: HandlerRequest, handle: Handle) => Promise<HandlerResponse>

interface Served {
  readonly endpoint: string
  close(): Promise<void>
}

/** Ferry in this process on port 0, its handler wrapped by `breakage` (if any). */
async function serve(breakage?: Breakage): Promise<Served> {
  const dir = tempDir('ferry-broken-')
  const handler = createUploadHandler({ store: createDiskStore({ directory: dir.path }) })
  const wrapped: UploadHandler =
    breakage === undefined
      ? handler
      : { ...handler, handle: (req) => breakage(req, handler.handle) }
  const server = createNodeServer({ handler: wrapped })
  const address = await server.listen(0, '127.0.0.1')
  return {
    endpoint: `${address.url}${handler.options.basePath}`,
    async close() {
      await server.close(2000)
      dir.cleanup()
    },
  }
}

/** Response headers without the named ones (any case). */
function without(headers: Record<string, string>, ...names: string[]): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).filter(([k]) => !names.includes(k.toLowerCase())),
  )
}

const pathOf = (url: string): string => new URL(url, 'http://x').pathname

// ── the four misbehaviours ──────────────────────────────────────────────────────────────────

const headWithoutOffset: Breakage = async (req, handle) => {
  const r = await handle(req)
  return req.method === 'HEAD' ? { ...r, headers: without(r.headers, 'upload-offset') } : r
}

const noConflict: Breakage = async (req, handle) => {
  const r = await handle(req)
  if (req.method !== 'PATCH' || r.status !== 409) return r
  return { status: 204, headers: without(r.headers, 'content-type', 'content-length') }
}

const stray104: Breakage = (req, handle) => {
  if (req.method === 'POST' && req.headers['upload-draft-interop-version'] === undefined) {
    req.sendInterim?.({ status: 104, headers: { location: `/files/stray${Date.now()}` } })
  }
  return handle(req)
}

/** Remembers uploads whose PATCH content did not arrive whole; HEAD then overstates them. */
function overstatedAfterInterruption(): Breakage {
  const interrupted = new Set<string>()
  return async (req, handle) => {
    const path = pathOf(req.url)
    if (req.method === 'PATCH' && req.body !== null) {
      const source = req.body
      const declared = Number(req.headers['content-length'] ?? Number.NaN)
      let received = 0
      let failed = false
      const body: AsyncIterable<Uint8Array> = {
        async *[Symbol.asyncIterator]() {
          try {
            for await (const chunk of source) {
              received += chunk.byteLength
              yield chunk
            }
          } catch (e) {
            failed = true
            throw e
          }
        },
      }
      const r = await handle({ ...req, body })
      if (failed || (Number.isFinite(declared) && received < declared)) interrupted.add(path)
      return r
    }
    const r = await handle(req)
    const offset = r.headers['upload-offset']
    if (req.method !== 'HEAD' || !interrupted.has(path) || offset === undefined) return r
    return { ...r, headers: { ...r.headers, 'upload-offset': String(Number(offset) + 4096) } }
  }
}

/** DELETE answers 204 but deletes nothing. */
const deleteNothing: Breakage = async (req, handle) =>
  req.method === 'DELETE' ? { status: 204, headers: {} } : handle(req)

/**
 * Not broken, only slow: a HEAD waits until the PATCH running for the upload has finished (an
 * exclusive lock instead of terminating the running request — allowed, but not recommended).
 */
function serializing(): Breakage {
  const running = new Map<string, Promise<HandlerResponse>>()
  return async (req, handle) => {
    const path = pathOf(req.url)
    if (req.method === 'HEAD') await running.get(path)?.catch(() => undefined)
    if (req.method !== 'PATCH') return handle(req)
    const pending = handle(req)
    running.set(path, pending)
    try {
      return await pending
    } finally {
      if (running.get(path) === pending) running.delete(path)
    }
  }
}

// ── the cases ───────────────────────────────────────────────────────────────────────────────

interface Case {
  readonly name: string
  readonly breakage: () => Breakage
  /** `only` for the runner: the checks about this behaviour. */
  readonly only: string
  /** Only these interop versions (slow cases). */
  readonly interop?: readonly number[]
  /**
   * The selected checks the breakage affects: each must FAIL (a MUST) or WARN (a SHOULD) against
   * the broken server; every other selected check must pass there as well.
   */
  readonly affected: RegExp
}

const CASES: readonly Case[] = [
  {
    name: 'HEAD responses without Upload-Offset',
    breakage: () => headWithoutOffset,
    only: '/^tus\\.head\\./',
    affected: /^tus\.head\.(fresh|complete)$/,
  },
  {
    name: '204 instead of 409 to a PATCH at the wrong offset',
    breakage: () => noConflict,
    only: 'offset-mismatch',
    affected: /^(tus\.patch|ietf\d+\.append)\.offset-mismatch(-marked)?$/,
  },
  {
    name: 'a 104 to a creation without Upload-Draft-Interop-Version',
    breakage: () => stray104,
    only: 'no-104',
    affected: /no-104-without-version$/,
  },
  {
    name: 'an offset beyond the received bytes after an interrupted PATCH',
    breakage: overstatedAfterInterruption,
    only: '/interrupt\\.(append|patch)\\.acknowledged|chunked-cut/',
    affected: /(interrupt\.(append|patch)\.acknowledged|chunked-cut)$/,
  },
  {
    name: 'a DELETE that deletes nothing while a PATCH streams',
    breakage: () => deleteNothing,
    only: '/delete-during-append|termination\\.during-patch/',
    affected: /(delete-during-append|termination\.during-patch)$/,
  },
  {
    name: 'a HEAD that waits for the running PATCH instead of terminating it (a SHOULD)',
    breakage: serializing,
    only: '/concurrency\\.head-/',
    interop: [10],
    affected: /^ietf10\.concurrency\.head-terminates$/,
  },
]

const line = (r: CheckResult): string =>
  `${r.status} ${r.id}${r.reason === undefined ? '' : `: ${r.reason}`}`
const listing = (report: Report): string => report.results.map(line).join('\n')

describe('ferry check fails a broken server', { concurrency: true }, () => {
  let healthy: Served
  before(async () => {
    healthy = await serve()
  })
  after(async () => {
    await healthy.close()
  })

  for (const c of CASES) {
    test(c.name, async () => {
      const broken = await serve(c.breakage())
      try {
        const options = {
          timeoutMs: 10_000,
          expireWaitMs: 0,
          only: c.only,
          ...(c.interop === undefined ? {} : { interop: c.interop }),
        }
        const [bad, good] = await Promise.all([
          runChecks(broken.endpoint, options),
          runChecks(healthy.endpoint, options),
        ])
        const ran = good.results.filter((r) => r.status !== 'SKIP')
        assert.ok(
          ran.length > 0,
          `the pattern ${c.only} matches no check that runs (check ids changed?)\n${listing(good)}`,
        )
        const affected = ran.filter((r) => c.affected.test(r.id))
        assert.ok(
          affected.length > 0,
          `none of the selected checks matches ${c.affected} (check ids changed?)\n${listing(good)}`,
        )
        assert.equal(good.summary.FAIL, 0, `the unbroken server fails:\n${listing(good)}`)
        for (const r of affected)
          assert.equal(r.status, 'PASS', `${r.id} against the unbroken server\n${listing(good)}`)
        const expected = (status: CheckResult['status']): string[] =>
          affected
            .filter((r) => (r.level === 'MUST' ? 'FAIL' : 'WARN') === status)
            .map((r) => r.id)
            .sort()
        const having = (status: CheckResult['status']): string[] =>
          bad.results
            .filter((r) => r.status === status)
            .map((r) => r.id)
            .sort()
        assert.deepEqual(
          having('FAIL'),
          expected('FAIL'),
          `exactly the MUST checks about "${c.name}" fail against the broken server\n${listing(bad)}`,
        )
        assert.deepEqual(
          having('WARN'),
          expected('WARN'),
          `exactly the SHOULD checks about "${c.name}" warn against the broken server\n${listing(bad)}`,
        )
        assert.equal(bad.ok, expected('FAIL').length === 0)
      } finally {
        await broken.close()
      }
    })
  }
})
