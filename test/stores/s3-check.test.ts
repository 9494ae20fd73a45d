/**
 * `ferry check` (every tus 1.0.0 and IETF draft check, HTTP/1.1) against a Ferry server whose
 * store is the S3 store on the test gateway: no MUST may fail.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runChecks } from '../../src/check/runner.ts'
import { createS3Store } from '../../src/stores/s3/index.ts'
import { startServer } from '../support/servers.ts'
import { s3 } from './s3-service.ts'

test('ferry check against Ferry on the S3 store: no MUST fails', async (t) => {
  const service = await s3()
  const store = createS3Store({
    bucket: await service.createBucket(),
    clientConfig: service.clientConfig(),
    partSize: 5 * 1024 * 1024,
  })
  const server = await startServer({ store })
  try {
    const started = performance.now()
    const report = await runChecks(server.endpoint, { timeoutMs: 20_000, expireWaitMs: 0 })
    const s = report.summary
    t.diagnostic(
      `${report.results.length} checks in ${(performance.now() - started).toFixed(0)} ms: ${s.PASS} PASS, ${s.FAIL} FAIL, ${s.WARN} WARN, ${s.SKIP} SKIP`,
    )
    const notPassed = report.results
      .filter((r) => r.status !== 'PASS')
      .map(
        (r) =>
          `${r.status} ${r.id}: ${r.reason ?? ''}${r.status === 'FAIL' ? `\n    ${(r.trace ?? []).slice(-12).join('\n    ')}` : ''}`,
      )
    for (const line of notPassed) t.diagnostic(line.split('\n')[0] ?? '')
    assert.equal(s.FAIL, 0, notPassed.join('\n'))
    assert.ok(report.ok)
    assert.ok(s.PASS > 100, `${s.PASS} checks passed`)
  } finally {
    await server.close()
  }
})
