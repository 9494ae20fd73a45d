/**
 * A lock holder in its own process, for the Redis locker tests: another Ferry instance that can
 * be paused (SIGSTOP), resumed and killed. Usage:
 *   node --import tsx test/lock/holder.ts <redis-url> <key-prefix> <upload-id> <lease-ms>
 * Prints one JSON event per line on stdout: {"event":"acquired","fence":N}, {"event":"asked"},
 * {"event":"check","ok":true|false,"code"?}, {"event":"released"}. Reads commands from stdin,
 * one per line: check, release, exit.
 */
import { createInterface } from 'node:readline'
import { createRedisLocker } from '../../src/lock/redis.ts'
import { isUploadError } from '../../src/protocol/errors.ts'

const [url = '', keyPrefix = '', id = '', lease = ''] = process.argv.slice(2)
const emit = (event: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(event)}\n`)
}

const locker = createRedisLocker({ url, keyPrefix, leaseMs: Number(lease), commandTimeoutMs: 500 })
const lock = await locker.acquire(id, {
  timeoutMs: 20_000,
  onReleaseRequested: () => emit({ event: 'asked' }),
})
emit({ event: 'acquired', fence: lock.lease?.fence })

for await (const line of createInterface({ input: process.stdin })) {
  const command = line.trim()
  if (command === 'check') {
    try {
      await lock.lease?.check()
      emit({ event: 'check', ok: true })
    } catch (e) {
      emit({ event: 'check', ok: false, code: isUploadError(e) ? e.code : String(e) })
    }
  } else if (command === 'release') {
    await lock.release()
    emit({ event: 'released' })
  } else if (command === 'exit') {
    break
  }
}
await locker.close()
