import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  classify,
  detectDialect,
  normalizeBasePath,
  resolveTarget,
  uploadIdFromUrl,
} from './classify.ts'
import { isUploadError } from './errors.ts'
import type { HeaderMap } from './types.ts'

const describeDialect = (h: HeaderMap): string => {
  const d = detectDialect(h)
  if (d.kind === 'ietf') return `ietf-${d.features.version}`
  if (d.kind === 'tus') return `tus-${d.version ?? 'none'}`
  return d.interopVersion === undefined ? 'plain' : `plain(iv ${d.interopVersion})`
}

test('dialect: Tus-Resumable, then a supported interop version, else plain (docs/decisions/0001)', () => {
  const table: [HeaderMap, string][] = [
    [{ 'tus-resumable': '1.0.0' }, 'tus-1.0.0'],
    [{ 'tus-resumable': '0.2.2', 'upload-draft-interop-version': '8' }, 'tus-0.2.2'],
    [{ 'upload-draft-interop-version': '3' }, 'ietf-3'],
    [{ 'upload-draft-interop-version': '10' }, 'ietf-10'],
    [{ 'upload-draft-interop-version': '10;x=1' }, 'ietf-10'],
    [{ 'upload-draft-interop-version': '2' }, 'plain(iv 2)'],
    [{ 'upload-draft-interop-version': '11' }, 'plain(iv 11)'],
    [{ 'upload-draft-interop-version': 'ten' }, 'plain'],
    [{ 'upload-draft-interop-version': '8, 9' }, 'plain'],
    [{ 'upload-complete': '?1', 'upload-length': '5' }, 'plain'],
    [{ 'upload-length': '5' }, 'tus-none'],
    [{ 'upload-offset': '0' }, 'tus-none'],
    [{}, 'plain'],
  ]
  for (const [headers, want] of table)
    assert.equal(describeDialect(headers), want, JSON.stringify(headers))
})

test('routing: base path, upload ids, and nothing that could be a path', () => {
  const base = normalizeBasePath('files')
  assert.equal(base, '/files/')
  assert.deepEqual(resolveTarget('/files', base), { kind: 'endpoint' })
  assert.deepEqual(resolveTarget('/files/', base), { kind: 'endpoint' })
  assert.deepEqual(resolveTarget('/files/abc_DEF-123', base), { kind: 'upload', id: 'abc_DEF-123' })
  for (const path of [
    '/files/a/b',
    '/files/..',
    '/files/%2e%2e',
    '/files/a.b',
    '/other',
    '/filesx',
    `/files/${'a'.repeat(129)}`,
  ]) {
    assert.equal(resolveTarget(path, base), undefined, path)
  }
  assert.equal(uploadIdFromUrl('https://x.test/files/abc?x=1', base), 'abc')
  assert.equal(uploadIdFromUrl('/files/abc', base), 'abc')
  assert.equal(uploadIdFromUrl('/elsewhere/abc', base), undefined)
})

test('classification errors carry stable codes', () => {
  const cases: [string, HeaderMap, string, string][] = [
    [
      'PATCH',
      { 'tus-resumable': '1.0.0', 'content-type': 'application/offset+octet-stream' },
      'u',
      'ERR_INVALID_OFFSET',
    ],
    ['PATCH', { 'tus-resumable': '1.0.0', 'upload-offset': '0' }, 'u', 'ERR_INVALID_CONTENT_TYPE'],
    ['POST', { 'tus-resumable': '1.0.0' }, 'e', 'ERR_MISSING_LENGTH'],
    ['POST', { 'tus-resumable': '2.0.0', 'upload-length': '1' }, 'e', 'ERR_UNSUPPORTED_VERSION'],
    ['POST', { 'upload-length': '1' }, 'e', 'ERR_MISSING_TUS_RESUMABLE'],
    ['PATCH', {}, 'u', 'ERR_MISSING_TUS_RESUMABLE'],
    ['PATCH', { 'upload-draft-interop-version': '12' }, 'u', 'ERR_UNSUPPORTED_INTEROP_VERSION'],
    [
      'PATCH',
      {
        'upload-draft-interop-version': '10',
        'content-type': 'application/partial-upload',
        'upload-offset': '0',
      },
      'u',
      'ERR_INVALID_COMPLETE',
    ],
    [
      'HEAD',
      { 'upload-draft-interop-version': '5', 'upload-offset': '0' },
      'u',
      'ERR_FORBIDDEN_STATE_FIELD',
    ],
    [
      'POST',
      {
        'upload-draft-interop-version': '10',
        'upload-complete': '?0',
        'content-digest': 'sha-256=1',
      },
      'e',
      'ERR_INVALID_DIGEST',
    ],
    ['PUT', { 'tus-resumable': '1.0.0' }, 'u', 'ERR_METHOD_NOT_ALLOWED'],
  ]
  for (const [method, headers, where, code] of cases) {
    const target =
      where === 'e' ? ({ kind: 'endpoint' } as const) : ({ kind: 'upload', id: 'abc' } as const)
    assert.throws(
      () =>
        classify({ method, path: '/files/', headers }, detectDialect(headers), target, {
          maxMetadataBytes: 100,
        }),
      (e: unknown) => isUploadError(e) && e.code === code,
      `${method} ${JSON.stringify(headers)} → ${code}`,
    )
  }
})

test('draft creation: PUT and PATCH to the endpoint create too (draft-13 §4.2.1); GET stays plain', () => {
  for (const method of ['POST', 'PUT', 'PATCH']) {
    const headers = {
      'upload-draft-interop-version': '10',
      'upload-complete': '?1',
      'content-length': '3',
    }
    const r = classify(
      { method, path: '/files/', headers },
      detectDialect(headers),
      { kind: 'endpoint' },
      { maxMetadataBytes: 100 },
    )
    assert.equal(r.intent.kind, 'create', method)
    assert.equal(r.dialect.kind, 'ietf')
  }
})
