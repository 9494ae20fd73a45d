import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatContentDisposition, parseContentDispositionFilename } from './content-disposition.ts'

test('RFC 6266: filename and filename* (preferred), sanitized for storage', () => {
  const table: [string, string | undefined][] = [
    ['inline; filename="file name.jpg"', 'file name.jpg'],
    [`inline; filename="file name.jpg"; filename*=UTF-8''file%20name.jpg`, 'file name.jpg'],
    [`attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf`, '€ rates.pdf'],
    ['attachment; filename=plain.txt', 'plain.txt'],
    ['attachment; filename="a\\"b.txt"', 'a"b.txt'],
    ['attachment; filename="../../etc/passwd"', '.._.._etc_passwd'],
    ['attachment; filename="..\\\\evil"', '.._evil'],
    ['attachment; filename=".."', undefined],
    ['attachment', undefined],
    [`attachment; filename*=ISO-8859-1''x`, undefined],
    [`attachment; filename*=UTF-8''%ZZ`, undefined],
  ]
  for (const [input, want] of table)
    assert.equal(parseContentDispositionFilename(input), want, input)
})

test('Content-Disposition for downloads: ASCII fallback plus UTF-8 filename*', () => {
  assert.equal(formatContentDisposition('attachment', undefined), 'attachment')
  assert.equal(
    formatContentDisposition('attachment', '€ "rates".pdf'),
    `attachment; filename="_ _rates_.pdf"; filename*=UTF-8''%E2%82%AC%20%22rates%22.pdf`,
  )
})
