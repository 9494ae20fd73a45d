import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isUploadError } from './errors.ts'
import { interopFeatures } from './ietf-versions.ts'
import { afterTransfer, type CapReason, planAppend, planCreate, type RuleContext } from './rules.ts'
import type { AppendIntent, Dialect, UploadInfo } from './types.ts'

const ctx = (limits: RuleContext['limits'] = {}): RuleContext => ({
  now: 1000,
  limits,
  capabilities: { terminate: true, concatenate: true, read: true, expire: true },
})
const ietf = (v: number): Dialect => {
  const features = interopFeatures(v)
  if (features === undefined) throw new Error(`no interop ${v}`)
  return { kind: 'ietf', features }
}
const tus: Dialect = { kind: 'tus', version: '1.0.0' }
const upload = (over: Partial<UploadInfo> = {}): UploadInfo => ({
  id: 'u',
  offset: 10,
  complete: false,
  createdAt: 0,
  updatedAt: 0,
  ...over,
})
const append = (over: Partial<AppendIntent> = {}): AppendIntent => ({
  kind: 'append',
  id: 'u',
  offset: 10,
  complete: false,
  content: { hasContent: true, checksumInTrailer: false },
  ...over,
})

test('planAppend: the body cap is the tightest of length, max-size and max-append-size', () => {
  const table: [
    Dialect,
    Partial<UploadInfo>,
    RuleContext['limits'],
    number,
    CapReason | undefined,
  ][] = [
    [tus, { length: 100 }, {}, 90, 'length'],
    [tus, {}, {}, Number.POSITIVE_INFINITY, undefined],
    [tus, {}, { maxSize: 50 }, 40, 'max-size'],
    [tus, { length: 100 }, { maxAppendSize: 5 }, 90, 'length'],
    [ietf(10), { length: 100 }, { maxAppendSize: 5 }, 5, 'max-append-size'],
    [ietf(10), { length: 12 }, { maxAppendSize: 5 }, 2, 'length'],
  ]
  for (const [dialect, info, limits, maxBytes, reason] of table) {
    const plan = planAppend(append(), dialect, upload(info), ctx(limits))
    assert.equal(plan.kind, 'append')
    if (plan.kind !== 'append') return
    assert.equal(plan.maxBytes, maxBytes)
    assert.equal(plan.capReason, reason)
  }
})

test('planAppend: ?1 with Content-Length derives the length (draft-13 §4.1.3)', () => {
  const plan = planAppend(
    append({
      complete: true,
      content: { hasContent: true, contentLength: 5, checksumInTrailer: false },
    }),
    ietf(10),
    upload(),
    ctx(),
  )
  assert.equal(plan.kind === 'append' ? plan.declareLength : undefined, 15)
})

test('planAppend: rejections and their codes', () => {
  const table: [string, Dialect, AppendIntent, Partial<UploadInfo>, string][] = [
    ['offset mismatch', tus, append({ offset: 3 }), {}, 'ERR_MISMATCHED_OFFSET'],
    ['tus length change', tus, append({ length: 50 }), { length: 40 }, 'ERR_INVALID_LENGTH'],
    [
      'draft length change',
      ietf(9),
      append({ length: 50 }),
      { length: 40 },
      'ERR_INCONSISTENT_LENGTH',
    ],
    ['length below offset', ietf(9), append({ length: 5 }), {}, 'ERR_INCONSISTENT_LENGTH'],
    [
      'final upload',
      tus,
      append(),
      { concat: { kind: 'final', parts: [], header: 'final;' } },
      'ERR_MODIFY_FINAL',
    ],
    ['invalid upload', ietf(10), append(), { invalid: 'x' }, 'ERR_UPLOAD_INVALID'],
    ['completed, interop 6', ietf(6), append(), { complete: true }, 'ERR_UPLOAD_COMPLETED'],
    [
      'completed, interop 8, content',
      ietf(8),
      append(),
      { complete: true },
      'ERR_INCONSISTENT_LENGTH',
    ],
    [
      'tus content past the length',
      tus,
      append({ content: { hasContent: true, contentLength: 20, checksumInTrailer: false } }),
      { length: 20 },
      'ERR_SIZE_EXCEEDED',
    ],
    [
      'draft content past the length',
      ietf(10),
      append({ content: { hasContent: true, contentLength: 20, checksumInTrailer: false } }),
      { length: 20 },
      'ERR_INCONSISTENT_LENGTH',
    ],
  ]
  for (const [name, dialect, intent, info, code] of table) {
    assert.throws(
      () => planAppend(intent, dialect, upload(info), ctx()),
      (e: unknown) => isUploadError(e) && e.code === code,
      name,
    )
  }
})

test('planAppend: replay of the stored final response for a lost response (draft-12 §4.4.2)', () => {
  const finalResponse = { status: 201, headers: { location: '/files/u' } }
  const plan = planAppend(
    append({ complete: true, content: { hasContent: false, checksumInTrailer: false } }),
    ietf(10),
    upload({ complete: true, finalResponse }),
    ctx(),
  )
  assert.deepEqual(plan, { kind: 'replay', response: finalResponse })
})

test('planCreate: min-size makes small complete uploads plain and refuses small resumable ones', () => {
  const intent = {
    kind: 'create' as const,
    deferLength: false,
    resumable: true,
    content: { hasContent: true, contentLength: 5, checksumInTrailer: false },
  }
  assert.equal(
    planCreate({ ...intent, complete: true }, ietf(10), ctx({ minSize: 10 })).resumable,
    false,
  )
  assert.throws(
    () => planCreate({ ...intent, complete: false }, ietf(10), ctx({ minSize: 10 })),
    (e: unknown) => isUploadError(e) && e.code === 'ERR_BELOW_MIN_SIZE',
  )
})

test('afterTransfer: what a transfer means for the upload', () => {
  const bounds = { maxBytes: 10, minBytes: 0, capReason: 'length' as const, complete: true }
  const base = { offset: 10, fullyRead: true, exceeded: false, belowMinimum: false }
  assert.deepEqual(afterTransfer(ietf(10), bounds, 10, base, {}), { complete: true, length: 10 })
  assert.equal(
    afterTransfer(ietf(10), bounds, undefined, { ...base, fullyRead: false }, {}).complete,
    false,
  )
  assert.equal(
    afterTransfer(ietf(10), { ...bounds, complete: false }, 10, base, {}).complete,
    false,
    'offset == length is not completion for the draft',
  )
  assert.equal(
    afterTransfer(tus, bounds, 10, base, {}).complete,
    true,
    'tus completes at the length',
  )
  const exceeded = afterTransfer(ietf(8), bounds, 10, { ...base, exceeded: true }, {})
  assert.ok(exceeded.invalidate !== undefined, 'interop 8 invalidates (draft-08 §4.4.2)')
  assert.equal(
    afterTransfer(ietf(6), bounds, 10, { ...base, exceeded: true }, {}).invalidate,
    undefined,
  )
  assert.equal(afterTransfer(ietf(10), bounds, 12, base, {}).error?.code, 'ERR_INCONSISTENT_LENGTH')
})
