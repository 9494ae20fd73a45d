/**
 * @module The text report of `ferry bench` (the JSON report is the BenchReport itself).
 */
import type { BenchReport } from './engine.ts'
import type { LatencySummary } from './percentiles.ts'

const LABELS: Record<string, string> = {
  OPTIONS: 'OPTIONS (discovery)',
  POST: 'POST (creation)',
  PATCH: 'PATCH (append)',
  HEAD: 'HEAD (offset)',
  DELETE: 'DELETE',
  'GET (verify)': 'GET (verify)',
}
const ORDER = ['OPTIONS', 'POST', 'PATCH', 'HEAD', 'GET', 'DELETE', 'GET (verify)']

/** Sizes as the CLI writes them: 1 MiB, 1.5 GiB, 512 B. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[u]}`
}

const ms = (v: number): string => (Number.isNaN(v) ? '-' : v < 10 ? v.toFixed(2) : v.toFixed(1))

function row(label: string, s: LatencySummary): string {
  return `  ${label.padEnd(20)}${String(s.count).padStart(7)}${[s.p50, s.p90, s.p99, s.max]
    .map((v) => ms(v).padStart(10))
    .join('')}`
}

export function formatReport(r: BenchReport): string {
  const s = r.settings
  const lines: string[] = []
  const mode = s.singleRequest ? ', one request each' : ''
  const chunk = s.chunkSize === null ? '' : `, chunks of ${formatBytes(s.chunkSize)}`
  lines.push(
    `ferry bench ${r.endpoint}  (${r.protocol}; ${s.uploads} × ${formatBytes(s.size)}, ${s.concurrency} in flight${chunk}${mode}, seed ${s.seed})`,
  )
  lines.push('')
  lines.push(`  elapsed      ${r.elapsedSeconds.toFixed(2)} s`)
  lines.push(
    `  throughput   ${r.throughputMBps.toFixed(1)} MB/s   ${r.uploadsPerSecond.toFixed(1)} uploads/s`,
  )
  const v = r.verification
  const verified =
    v.method === 'none'
      ? 'not verified (--no-verify)'
      : `verified ${v.ok}/${v.checked} (${v.method === 'download' ? 'download + SHA-256' : 'Repr-Digest sha-256'}, ${v.seconds.toFixed(2)} s)${v.failed > 0 ? `, ${v.failed} FAILED` : ''}`
  lines.push(
    `  uploads      ${r.uploads.completed} completed, ${r.uploads.failed} failed; ${verified}`,
  )
  lines.push(
    `  bytes        ${r.bytes.payload} payload, ${r.bytes.sent} sent, ${r.bytes.resent} re-sent; ${r.resumes} resume${r.resumes === 1 ? '' : 's'}`,
  )
  lines.push('')
  lines.push(
    `  ${'latency (ms)'.padEnd(20)}${'count'.padStart(7)}${['p50', 'p90', 'p99', 'max'].map((h) => h.padStart(10)).join('')}`,
  )
  const types = Object.keys(r.latencyMs).sort((a, b) => {
    const ia = ORDER.indexOf(a)
    const ib = ORDER.indexOf(b)
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b)
  })
  for (const t of types) {
    const summary = r.latencyMs[t]
    if (summary !== undefined) lines.push(row(LABELS[t] ?? t, summary))
  }
  lines.push(row('upload (whole)', r.uploadMs))
  lines.push('')
  const errors = Object.entries(r.errors).sort((a, b) => b[1] - a[1])
  lines.push(
    `  errors       ${errors.length === 0 ? 'none' : errors.map(([k, n]) => `${k}: ${n}`).join(', ')}`,
  )
  const p = r.proxy
  if (p !== null) {
    lines.push(
      `  fault proxy  ${p.connections} connections, ${p.cuts} cut${p.cuts === 1 ? '' : 's'}${p.cutPoints.length > 0 ? ` (at ${p.cutPoints.join(', ')} bytes)` : ''}, ${p.bytesUp} bytes up, ${p.bytesDown} down`,
    )
  }
  return `${lines.join('\n')}\n`
}
