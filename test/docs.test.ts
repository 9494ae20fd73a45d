import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { errorsDoc } from '../scripts/gen-errors-doc.ts'

test('docs/errors.md lists every error code (regenerate with node --import tsx scripts/gen-errors-doc.ts)', () => {
  assert.equal(readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8'), errorsDoc())
})
