import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseDuration, parseSize } from './units.ts'

test('sizes: bytes, decimal and binary units', () => {
  const table: [string, number][] = [
    ['1048576', 1048576],
    ['10MB', 10e6],
    ['5GiB', 5 * 2 ** 30],
    ['1.5k', 1500],
    ['2 mib', 2 * 2 ** 20],
  ]
  for (const [text, bytes] of table) assert.equal(parseSize(text), bytes, text)
  for (const bad of ['', 'ten', '5 XB', '-1', '1e9'])
    assert.throws(() => parseSize(bad), /invalid size/, bad)
})

test('durations: ms, s, m, h, d; a bare number is seconds', () => {
  const table: [string, number][] = [
    ['500ms', 500],
    ['90', 90_000],
    ['90s', 90_000],
    ['15m', 900_000],
    ['24h', 86_400_000],
    ['7d', 604_800_000],
  ]
  for (const [text, ms] of table) assert.equal(parseDuration(text), ms, text)
  for (const bad of ['', 'soon', '5w', '-1s'])
    assert.throws(() => parseDuration(bad), /invalid duration/, bad)
})
