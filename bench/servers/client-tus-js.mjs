// tus-js-client 4.3.1 uploading a file from fs.createReadStream with uploadSize and chunkSize
// Infinity (one PATCH, as its documentation advises: clients.md §2.1), retries off.
// Usage: node client-tus-js.mjs <endpoint> <file> <size>. Reports over IPC.
import { createReadStream } from 'node:fs'
import * as tus from 'tus-js-client'

/** Sends the result to the benchmark and exits (keep-alive sockets must not hold the process). */
const report = (message) => process.send?.(message, () => process.exit(0))
const [endpoint, file, size] = process.argv.slice(2)
const t0 = performance.now()
const upload = new tus.Upload(createReadStream(file), {
  endpoint,
  uploadSize: Number(size),
  chunkSize: Number.POSITIVE_INFINITY,
  retryDelays: null,
  storeFingerprintForResuming: false,
  onSuccess() {
    const seconds = (performance.now() - t0) / 1000
    const usage = process.resourceUsage()
    report({
      ok: true,
      url: upload.url,
      size: Number(size),
      protocol: 'tus',
      seconds,
      maxRssMb: usage.maxRSS / 1024,
      cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
    })
  },
  onError(e) {
    report({ ok: false, error: String(e?.message ?? e) })
  },
})
upload.start()
