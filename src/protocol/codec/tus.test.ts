import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  formatHttpDate,
  parseTusInteger,
  parseUploadChecksum,
  parseUploadConcat,
  parseUploadMetadata,
  serializeUploadMetadata,
} from './tus.ts'

test('tus 1.0.0 §Headers: integers are plain non-negative decimals', () => {
  const table: [string | undefined, number | undefined][] = [
    ['0', 0],
    ['42', 42],
    [' 7 ', 7],
    ['007', 7],
    ['9007199254740991', 9007199254740991],
    ['9007199254740992', undefined],
    ['-1', undefined],
    ['+1', undefined],
    ['1.0', undefined],
    ['1e3', undefined],
    ['0x10', undefined],
    ['', undefined],
    ['12345678901234567', undefined],
    [undefined, undefined],
  ]
  for (const [input, want] of table) assert.equal(parseTusInteger(input), want, String(input))
})

test('tus 1.0.0 §Upload-Metadata: valid values parse and serialize back as sent', () => {
  const table: [string, [string, string | null][]][] = [
    [
      'filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential',
      [
        ['filename', 'd29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg=='],
        ['is_confidential', null],
      ],
    ],
    ['a YQ==', [['a', 'YQ==']]],
    [
      'a YQ==, b Yg==',
      [
        ['a', 'YQ=='],
        ['b', 'Yg=='],
      ],
    ],
    ['empty ', [['empty', null]]],
    ['', []],
  ]
  for (const [input, pairs] of table) {
    const r = parseUploadMetadata(input)
    assert.ok(r.ok, input)
    assert.deepEqual(
      r.value.map((p) => [p.key, p.value]),
      pairs,
    )
  }
  assert.equal(
    serializeUploadMetadata([
      { key: 'a', value: 'YQ==' },
      { key: 'flag', value: null },
    ]),
    'a YQ==,flag',
  )
})

test('tus 1.0.0 §Upload-Metadata: invalid values are refused with a reason', () => {
  const table: [string, RegExp][] = [
    ['a YQ==,a Yg==', /duplicate/],
    ['a b c', /extra spaces/],
    ['a !!!', /not Base64/],
    ['a YQ=', /not Base64/],
    [',', /invalid key/],
    ['a YQ==,,b', /invalid key/],
    ['ключ YQ==', /invalid key/],
  ]
  for (const [input, reason] of table) {
    const r = parseUploadMetadata(input)
    assert.ok(!r.ok, input)
    assert.match(r.reason, reason)
  }
})

test('tus 1.0.0 §Concatenation: Upload-Concat values', () => {
  assert.deepEqual(parseUploadConcat('partial'), { ok: true, value: { kind: 'partial' } })
  assert.deepEqual(parseUploadConcat('final;/files/a https://x.test/files/b'), {
    ok: true,
    value: { kind: 'final', urls: ['/files/a', 'https://x.test/files/b'] },
  })
  for (const bad of ['final;', 'final', 'partial;x', 'whole', ''])
    assert.equal(parseUploadConcat(bad).ok, false, bad)
})

test('tus 1.0.0 §Checksum: Upload-Checksum values', () => {
  const ok = parseUploadChecksum('sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=')
  assert.ok(ok.ok)
  assert.equal(ok.value.algorithm, 'sha1')
  assert.equal(ok.value.digest.byteLength, 20)
  assert.deepEqual(parseUploadChecksum('crc32 AAAA'), { ok: false, unsupported: 'crc32' })
  for (const bad of ['sha1', 'sha1 a b', 'SHA1 AAAA', 'sha1 ***']) {
    const r = parseUploadChecksum(bad)
    assert.ok(!r.ok && !('unsupported' in r), bad)
  }
})

test('tus 1.0.0 §Upload-Expires: RFC 9110 IMF-fixdate', () => {
  assert.equal(formatHttpDate(Date.UTC(2014, 5, 25, 16, 0, 0)), 'Wed, 25 Jun 2014 16:00:00 GMT')
})
