import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runChecks } from '../../src/check/runner.ts'
import type { CheckDefinition } from '../../src/check/types.ts'
import { startServer } from '../support/servers.ts'

test('ferry check: a server that stops accepting connections is reported once, the rest skipped', async () => {
  const server = await startServer()
  const probe = (id: string): CheckDefinition => ({
    id,
    title: `probe ${id}`,
    protocol: 'tus',
    level: 'MUST',
    async run(ctx) {
      await ctx.client.send('OPTIONS', undefined)
    },
  })
  const crash: CheckDefinition = {
    id: 'tus.test.crash',
    title: 'takes the server down',
    protocol: 'tus',
    level: 'MUST',
    async run() {
      await server.close()
    },
  }
  const report = await runChecks(server.endpoint, {
    timeoutMs: 5000,
    expireWaitMs: 0,
    protocol: 'tus',
    checks: [probe('tus.test.before'), crash, probe('tus.test.after'), probe('tus.test.later')],
  })
  const by = new Map(report.results.map((r) => [r.id, r]))
  assert.equal(by.get('tus.test.before')?.status, 'PASS')
  assert.equal(by.get('tus.test.crash')?.status, 'PASS')
  assert.equal(by.get('tus.test.after')?.status, 'FAIL')
  assert.match(
    by.get('tus.test.after')?.reason ?? '',
    /stopped accepting connections \(did it crash during or after tus\.test\.crash or tus\.test\.after\?\)/,
  )
  assert.equal(by.get('tus.test.later')?.status, 'SKIP')
  assert.match(
    by.get('tus.test.later')?.reason ?? '',
    /stopped accepting connections during or after tus\.test\.crash/,
  )
  assert.equal(report.ok, false)
})
