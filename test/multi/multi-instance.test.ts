/**
 * Several `ferry serve` instances behind one address (issue 7): three processes on one S3
 * bucket (Ceph RADOS Gateway) and one Redis, behind a load balancer that sends every request to
 * the next instance. Uploads in tus and draft modes, from Ferry's client and tus-js-client,
 * move between instances request by request; one instance is killed with SIGKILL mid-upload;
 * every upload completes and its bytes, downloaded through the balancer, are the original's.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import * as tus from 'tus-js-client'
import { memoryStorage, nodeTransport, upload } from '../../src/client/node/index.ts'
import { download, MiB, sha256, traceOf } from '../client/support.ts'
import { type RoundRobin, startRoundRobin } from '../support/round-robin.ts'
import { type FerryProcess, s3ServeArgs, s3ServeEnv, spawnFerry } from '../support/servers.ts'
import { type RedisService, redisService, s3Service } from '../support/services.ts'

const INSTANCES = 3

describe('three ferry serve instances on S3 + Redis behind a round-robin balancer', () => {
  let redis: RedisService
  let instances: FerryProcess[] = []
  let balancer: RoundRobin
  let endpoint: string
  let args: string[]
  let env: Record<string, string>
  const transport = nodeTransport({ proxy: null })

  before(async () => {
    const s3 = await s3Service()
    const bucket = await s3.createBucket()
    redis = await redisService()
    args = s3ServeArgs(s3, bucket, redis.url)
    env = s3ServeEnv(s3)
    instances = await Promise.all(Array.from({ length: INSTANCES }, () => spawnFerry(args, 0, env)))
    balancer = await startRoundRobin(instances.map((i) => i.port))
    endpoint = `${balancer.url}/files/`
  })

  after(async () => {
    transport.close()
    await balancer?.close()
    await Promise.all(instances.map((i) => i.stop()))
    await redis?.close()
  })

  /** Every instance served some requests of what just ran. */
  const spread = (before: readonly number[]): void => {
    const now = balancer.stats.perBackend
    for (let i = 0; i < now.length; i++) {
      if (instances[i]?.child.exitCode !== null) continue
      assert.ok((now[i] ?? 0) > (before[i] ?? 0), `instance ${i} served requests: ${now}`)
    }
  }

  for (const mode of [
    { protocol: 'tus' as const },
    { protocol: 'ietf' as const, interop: 10 },
    { protocol: 'ietf' as const, interop: 6 },
  ]) {
    const name = mode.protocol === 'tus' ? 'tus' : `ietf-${mode.interop}`
    test(`Ferry client, ${name}: 12 MiB in 2 MiB requests, each to the next instance`, async () => {
      const before = [...balancer.stats.perBackend]
      const bytes = randomBytes(12 * MiB)
      const up = upload(bytes, {
        endpoint,
        ...mode,
        transport,
        storage: memoryStorage(),
        chunkSize: 2 * MiB,
        retries: 5,
        retryDelayMs: 50,
      })
      const trace = traceOf(up)
      const result = await up
        .start()
        .done.catch((e: Error) => assert.fail(`${e.message}\n${trace.join('\n')}`))
      assert.ok(result.url?.startsWith(balancer.url), `URL through the balancer: ${result.url}`)
      const got = await download(result.url ?? '')
      assert.equal(sha256(got), sha256(bytes), trace.join('\n'))
      spread(before)
    })
  }

  test('tus-js-client: 12 MiB in 5 MiB PATCHes across instances', async () => {
    const before = [...balancer.stats.perBackend]
    const bytes = randomBytes(12 * MiB)
    const url = await new Promise<string>((resolve, reject) => {
      const u = new tus.Upload(bytes as unknown as tus.Upload['file'], {
        endpoint,
        chunkSize: 5 * MiB,
        retryDelays: [100, 500, 1000],
        onSuccess: () => resolve(u.url ?? ''),
        onError: reject,
      })
      u.start()
    })
    assert.equal(sha256(await download(url)), sha256(bytes))
    spread(before)
  })

  test('one instance killed with SIGKILL mid-upload: both clients complete, bytes verified', async () => {
    const bytes = randomBytes(40 * MiB)
    const tusBytes = randomBytes(40 * MiB)
    let killed = false
    const victim = instances[1] as FerryProcess
    const kill = (): void => {
      if (killed) return
      killed = true
      void victim.kill()
    }
    const up = upload(bytes, {
      endpoint,
      protocol: 'ietf',
      transport,
      storage: memoryStorage(),
      chunkSize: 4 * MiB,
      retries: 10,
      retryDelayMs: 200,
    })
    const trace = traceOf(up)
    up.on('progress', (p) => {
      if (p.acknowledged >= 12 * MiB) kill()
    })
    const tusDone = new Promise<string>((resolve, reject) => {
      const u = new tus.Upload(tusBytes as unknown as tus.Upload['file'], {
        endpoint,
        chunkSize: 5 * MiB,
        retryDelays: [200, 500, 1000, 2000, 3000, 5000],
        onProgress: (sent) => {
          if (sent >= 12 * MiB) kill()
        },
        onSuccess: () => resolve(u.url ?? ''),
        onError: reject,
      })
      u.start()
    })
    const [result, tusUrl] = await Promise.all([
      up.start().done.catch((e: Error) => assert.fail(`${e.message}\n${trace.join('\n')}`)),
      tusDone,
    ])
    assert.ok(killed, 'an instance was killed during the uploads')
    const { refused, failed } = balancer.stats
    // Requests went on after the kill: the balancer found the dead instance's port closed (and
    // a request in flight there, if any, was cut).
    assert.ok(refused > 0, `requests met the dead instance (refused ${refused}, cut ${failed})`)
    assert.notEqual(victim.child.exitCode ?? victim.child.signalCode, null, 'it is dead')
    assert.equal(sha256(await download(result.url ?? '')), sha256(bytes), trace.join('\n'))
    assert.equal(sha256(await download(tusUrl)), sha256(tusBytes))
  })
})
