// Preloaded into `ferry serve` by the hardening campaigns (test/campaigns/_hardening.ts,
// spawnMeasuredFerry, with --expose-gc): on SIGUSR2, run a full garbage collection and report
// the heap, so that memory figures are compared after GC. Test harness only; never shipped.
process.on('SIGUSR2', () => {
  globalThis.gc?.()
  globalThis.gc?.()
  const m = process.memoryUsage()
  process.stderr.write(
    `${JSON.stringify({ ferryCampaignGc: { heapUsed: m.heapUsed, rss: m.rss, external: m.external } })}\n`,
  )
})
