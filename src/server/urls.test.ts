import assert from 'node:assert/strict'
import { test } from 'node:test'
import { publicOrigin } from './urls.ts'

const origin = { protocol: 'http' as const, host: 'internal:8080' }

test('public origin: the Host header unless proxy headers are trusted', () => {
  assert.deepEqual(publicOrigin(origin, { 'x-forwarded-host': 'evil.test' }, false), {
    protocol: 'http',
    host: 'internal:8080',
    prefix: '',
  })
  assert.deepEqual(
    publicOrigin(
      origin,
      {
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'files.example.com',
        'x-forwarded-prefix': '/up/',
      },
      true,
    ),
    { protocol: 'https', host: 'files.example.com', prefix: '/up' },
  )
  assert.deepEqual(
    publicOrigin(
      origin,
      { forwarded: 'for=1.2.3.4;proto=https;host="example.com:443", for=5.6.7.8' },
      true,
    ),
    {
      protocol: 'https',
      host: 'example.com',
      prefix: '',
    },
  )
  assert.deepEqual(
    publicOrigin(
      origin,
      { 'x-forwarded-host': 'a.test', 'x-forwarded-port': '8443', 'x-forwarded-proto': 'https' },
      true,
    ),
    {
      protocol: 'https',
      host: 'a.test:8443',
      prefix: '',
    },
  )
})

test('public origin: a malformed Host gives no absolute URL (relative Location instead)', () => {
  for (const host of ['bad host', 'a.test/path', 'a.test:99999x', '']) {
    assert.equal(publicOrigin({ protocol: 'http', host }, {}, false), undefined, host)
  }
  assert.equal(
    publicOrigin(origin, { 'x-forwarded-prefix': '/../x', 'x-forwarded-host': 'a.test' }, true)
      ?.prefix,
    '',
  )
})
