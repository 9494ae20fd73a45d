/**
 * @module `ferry bench --plot FILE.svg`: throughput over time as a hand-written SVG line chart
 * (no dependency). The series is the rate of acknowledged bytes between consecutive timeline
 * samples, in MB/s (10^6 bytes).
 */

export interface Point {
  readonly t: number
  readonly bytes: number
}

/** MB/s between consecutive samples, placed at the end of each interval. */
export function rates(timeline: readonly Point[]): { t: number; mbps: number }[] {
  const out: { t: number; mbps: number }[] = []
  for (let i = 1; i < timeline.length; i++) {
    const a = timeline[i - 1] as Point
    const b = timeline[i] as Point
    const dt = b.t - a.t
    if (dt > 0) out.push({ t: b.t, mbps: (b.bytes - a.bytes) / 1e6 / dt })
  }
  return out
}

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

/** A "nice" step (1, 2 or 5 × 10^k) that splits `max` into about `n` intervals. */
function niceStep(max: number, n: number): number {
  const raw = max / n
  const p = 10 ** Math.floor(Math.log10(raw))
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p
  return 10 * p
}

export function renderSvg(timeline: readonly Point[], title: string): string {
  const W = 800
  const H = 400
  const left = 60
  const right = 20
  const top = 40
  const bottom = 50
  const series = rates(timeline)
  const tMax = Math.max(1e-9, ...timeline.map((p) => p.t))
  const yTop = Math.max(1e-9, ...series.map((p) => p.mbps))
  const yStep = niceStep(yTop, 5)
  const yMax = Math.ceil(yTop / yStep) * yStep
  const tStep = niceStep(tMax, 8)
  const x = (t: number): number => left + (t / tMax) * (W - left - right)
  const y = (v: number): number => top + (1 - v / yMax) * (H - top - bottom)
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${esc(title)}</text>`,
  ]
  for (let v = 0; v <= yMax + yStep / 2; v += yStep) {
    const yy = y(v).toFixed(1)
    parts.push(
      `<line x1="${left}" y1="${yy}" x2="${W - right}" y2="${yy}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${+v.toPrecision(6)}</text>`,
    )
  }
  for (let t = 0; t <= tMax + 1e-9; t += tStep) {
    const xx = x(t).toFixed(1)
    parts.push(
      `<line x1="${xx}" y1="${top}" x2="${xx}" y2="${H - bottom}" stroke="#eee"/>`,
      `<text x="${xx}" y="${H - bottom + 16}" text-anchor="middle">${+t.toPrecision(6)}</text>`,
    )
  }
  parts.push(
    `<line x1="${left}" y1="${H - bottom}" x2="${W - right}" y2="${H - bottom}" stroke="black"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${H - bottom}" stroke="black"/>`,
    `<text x="${W / 2}" y="${H - 12}" text-anchor="middle">time (s)</text>`,
    `<text x="16" y="${H / 2}" text-anchor="middle" transform="rotate(-90 16 ${H / 2})">MB/s</text>`,
  )
  if (series.length > 0) {
    // A step line: each rate holds over its interval.
    const pts: string[] = []
    let prev = 0
    for (const p of series) {
      pts.push(
        `${x(prev).toFixed(1)},${y(p.mbps).toFixed(1)}`,
        `${x(p.t).toFixed(1)},${y(p.mbps).toFixed(1)}`,
      )
      prev = p.t
    }
    parts.push(
      `<polyline fill="none" stroke="#1f6feb" stroke-width="1.5" points="${pts.join(' ')}"/>`,
    )
  }
  parts.push('</svg>')
  return `${parts.join('\n')}\n`
}
