import assert from 'node:assert/strict'
import { test } from 'node:test'
import { UploadError } from './errors.ts'
import { interopFeatures } from './ietf-versions.ts'
import { renderError, uploadLimit } from './render.ts'

test('Upload-Limit (draft-13 §4.1.4): keys in order, integers, min-size=0 when there are no limits', () => {
  assert.equal(uploadLimit({}, 'max-age', undefined), 'min-size=0')
  assert.equal(uploadLimit({ minSize: 0, minAppendSize: 0 }, 'max-age', undefined), 'min-size=0')
  assert.equal(
    uploadLimit({ maxSize: 5, maxAppendSize: 2, minAppendSize: 1, minSize: 1 }, 'expires', 60),
    'max-size=5, min-size=1, max-append-size=2, min-append-size=1, expires=60',
  )
})

test('draft errors: problem details, ?0 on creation/append, the completed-upload type only where it exists', () => {
  const f6 = interopFeatures(6)
  const f9 = interopFeatures(9)
  if (f6 === undefined || f9 === undefined) throw new Error('table')
  const ctx = { now: 0, limits: {}, tusExtensions: [] }
  const e = new UploadError('ERR_UPLOAD_COMPLETED')
  const six = renderError({ kind: 'ietf', features: f6 }, e, 'append', ctx)
  assert.equal(
    JSON.parse(six.body ?? '').type,
    'https://iana.org/assignments/http-problem-types#completed-upload',
  )
  assert.equal(six.headers['upload-complete'], '?0')
  const nine = renderError({ kind: 'ietf', features: f9 }, e, 'other', ctx)
  assert.equal(JSON.parse(nine.body ?? '').type, 'about:blank')
  assert.equal(nine.headers['upload-complete'], undefined)
  const tus = renderError(
    { kind: 'tus', version: '1.0.0' },
    new UploadError('ERR_UNSUPPORTED_VERSION'),
    'other',
    ctx,
  )
  assert.equal(tus.headers['tus-version'], '1.0.0')
  assert.equal(tus.headers['content-type'], 'text/plain; charset=utf-8')
})
