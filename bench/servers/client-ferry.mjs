// Ferry's Node client (the compiled package, dist/) uploading a file by its path, as a user
// would: `upload(path, { endpoint })` with the Node transport; no URL storage.
// Usage: node client-ferry.mjs <endpoint> <file> <size> [protocol] [interop]. Reports over IPC.
// FERRY_BENCH_H2C=1: HTTP/2 without TLS (nodeTransport({ h2c: true })).
import { nodeTransport, upload } from '../../dist/client/node/index.js'

/** Sends the result to the benchmark and exits (keep-alive sockets must not hold the process). */
const report = (message) => process.send?.(message, () => process.exit(0))
const [endpoint, file, , protocol = 'auto', interop] = process.argv.slice(2)
const h2c = process.env.FERRY_BENCH_H2C === '1'
const transport = nodeTransport({ proxy: null, ...(h2c ? { h2c: true } : {}) })
const t0 = performance.now()
try {
  const result = await upload(file, {
    endpoint,
    protocol,
    ...(interop === undefined ? {} : { interop: Number(interop) }),
    transport,
    storage: null,
  }).start().done
  const seconds = (performance.now() - t0) / 1000
  const usage = process.resourceUsage()
  report({
    ok: true,
    url: result.url,
    size: result.size,
    protocol: result.protocol,
    seconds,
    maxRssMb: usage.maxRSS / 1024,
    cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
  })
} catch (e) {
  report({ ok: false, error: String(e?.message ?? e) })
} finally {
  transport.close()
}
