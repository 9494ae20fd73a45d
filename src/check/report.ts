/**
 * @module Report output: one line per check (status, requirement), the reason under anything
 * that did not pass, the trace under failures with --verbose, and a summary.
 */
import type { CheckResult, Report } from './types.ts'

const MARK: Record<CheckResult['status'], string> = {
  PASS: 'PASS',
  FAIL: 'FAIL',
  WARN: 'WARN',
  SKIP: 'SKIP',
}

/** One result as a text line (with its reason and, when asked, the trace). */
export function formatResult(r: CheckResult, verbose = false): string {
  let line = `${MARK[r.status].padEnd(5)} ${r.title}`
  if (r.reason !== undefined && r.status !== 'PASS') line += `\n      ${r.reason}`
  if (verbose && r.trace !== undefined && r.status !== 'PASS') {
    line += `\n${r.trace.map((t) => `        ${t}`).join('\n')}`
  }
  return line
}

/** The lines that open a report: the endpoint and what discovery found. */
export function formatHeader(endpoint: string, discovery: Report['discovery']): string {
  return [
    `ferry check ${endpoint}`,
    `  tus: ${discovery.tus}`,
    `  IETF draft: ${discovery.ietf}`,
    `  HTTP/2: ${discovery.http2 ? 'offered' : 'not offered'}`,
    '',
  ].join('\n')
}

/** The whole report as text. */
export function formatText(report: Report, verbose = false): string {
  const lines = [
    formatHeader(report.endpoint, report.discovery),
    ...report.results.map((r) => formatResult(r, verbose)),
    '',
    summaryLine(report),
  ]
  return `${lines.join('\n')}\n`
}

/** "123 checks: 100 PASS, 2 FAIL, 3 WARN, 18 SKIP — ..." */
export function summaryLine(report: Report): string {
  const s = report.summary
  const total = s.PASS + s.FAIL + s.WARN + s.SKIP
  const groups = new Map<string, { pass: number; fail: number }>()
  for (const r of report.results) {
    if (r.status === 'SKIP') continue
    const key = r.protocol === 'tus' ? 'tus 1.0.0' : `interop ${r.interop}`
    const g = groups.get(key) ?? { pass: 0, fail: 0 }
    if (r.status === 'FAIL') g.fail++
    else g.pass++
    groups.set(key, g)
  }
  const order = (k: string): number => (k.startsWith('tus') ? 0 : Number(k.split(' ')[1]))
  const per = [...groups]
    .sort(([a], [b]) => order(a) - order(b))
    .map(([k, g]) => `${k} ${g.fail === 0 ? 'ok' : `${g.fail} failed`}`)
    .join(', ')
  const verdict = report.ok ? 'every MUST holds' : 'a MUST is broken'
  return `${total} checks: ${s.PASS} PASS, ${s.FAIL} FAIL, ${s.WARN} WARN, ${s.SKIP} SKIP — ${verdict}${per === '' ? '' : ` (${per})`}`
}
