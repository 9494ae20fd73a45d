/**
 * @module Campaign 5 (issue 6): slowloris and idle clients, against a real `ferry serve` with a
 * short idle timeout. Four kinds of slow connection, opened together:
 * - header-stall: part of a request head, then nothing;
 * - header-trickle: a request head one byte per second, never finished;
 * - body-stall: a complete PATCH head and some content, then nothing;
 * - body-trickle: a complete PATCH head, then one content byte per second (then it stops).
 * Checked: the stalled ones are closed by the idle timeout, header trickles by the header
 * deadline (the idle timeout too: src/adapters/node.ts), body trickles stay (they move bytes:
 * a slow client is a client) until they stop, then go the same way; every byte that reached
 * the server before is kept (HEAD shows it); a normal upload runs beside them at a throughput
 * close to the one it has alone (the ratio is reported; only a generous bound is asserted);
 * open file descriptors return to the baseline. Then the per-client cap
 * (--max-connections-per-ip): connections beyond it get 429.
 *
 *   node --import tsx test/campaigns/slowloris.ts [--full] [--seed N]
 */
import net from 'node:net'
import type { FerryProcess } from '../support/servers.ts'
import { spawnFerry, tempDir } from '../support/servers.ts'
import {
  exchange,
  head,
  main,
  newSeed,
  parseCampaignArgs,
  processFigures,
  sleep,
} from './_hardening.ts'

export interface SlowlorisOptions {
  /** Slow connections of each of the four kinds. */
  readonly perKind: number
  /** Size of the upload whose throughput is measured. */
  readonly uploadBytes: number
  /** Idle timeout of the server, ms. @default 2000 */
  readonly idleMs?: number
  /** How long body trickles keep trickling, ms. @default 3 × idle */
  readonly trickleMs?: number
  readonly seed?: number
}

export interface SlowlorisFigures {
  readonly seed: number
  readonly slow: number
  readonly perKind: number
  readonly idleMs: number
  /** Seconds from the last byte to the close, per kind: [min, max]. */
  readonly closeAfter: Record<Kind, [number, number]>
  readonly notClosed: number
  /** Body connections whose bytes the server kept exactly. */
  readonly bytesKept: number
  readonly bodyConnections: number
  readonly trickleAliveWhileTrickling: number
  readonly aloneMBps: number
  readonly besideMBps: number
  readonly capped: { readonly cap: number; readonly tried: number; readonly refused429: number }
  readonly fdGrowth: number
  readonly failures: readonly string[]
}

type Kind = 'header-stall' | 'header-trickle' | 'body-stall' | 'body-trickle'
const KINDS: readonly Kind[] = ['header-stall', 'header-trickle', 'body-stall', 'body-trickle']

interface Slow {
  readonly kind: Kind
  readonly socket: net.Socket
  /** Upload path (body kinds). */
  readonly path?: string
  /** Content bytes written. */
  sent: number
  readonly openedAt: number
  lastWrite: number
  closedAt?: number
  trickling: boolean
}

const MiB = 1024 * 1024

async function createUpload(port: number, length: number): Promise<string> {
  const r = await exchange(
    port,
    head('POST', '/files/', [
      ['host', `127.0.0.1:${port}`],
      ['tus-resumable', '1.0.0'],
      ['upload-length', String(length)],
      ['content-length', '0'],
    ]),
    { waitMs: 30_000 },
  )
  const location = r.final?.headers.location
  if (r.final?.status !== 201 || location === undefined) {
    throw new Error(`creation failed: ${r.final?.status ?? r.error}`)
  }
  return new URL(location, `http://127.0.0.1:${port}`).pathname
}

async function offsetOf(port: number, path: string): Promise<number> {
  const r = await exchange(
    port,
    head('HEAD', path, [
      ['host', `127.0.0.1:${port}`],
      ['tus-resumable', '1.0.0'],
    ]),
    { waitMs: 30_000, headRequest: true },
  )
  return Number(r.final?.headers['upload-offset'])
}

function open(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => resolve(socket))
    socket.once('error', reject)
  })
}

/** One upload of `bytes` in a single tus PATCH, written as fast as the server takes it; MB/s. */
async function timedUpload(port: number, bytes: number): Promise<number> {
  const path = await createUpload(port, bytes)
  const socket = await open(port)
  const piece = Buffer.alloc(256 * 1024, 0x5a)
  const t0 = performance.now()
  const answered = new Promise<string>((resolve) => {
    let text = ''
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1')
      if (text.includes('\r\n\r\n')) resolve(text.slice(0, 12))
    })
    socket.once('close', () => resolve(text.slice(0, 12)))
  })
  const write = (data: Buffer | string): Promise<void> =>
    new Promise((resolve) => {
      if (!socket.write(data)) socket.once('drain', resolve)
      else resolve()
    })
  await write(
    head('PATCH', path, [
      ['host', `127.0.0.1:${port}`],
      ['tus-resumable', '1.0.0'],
      ['upload-offset', '0'],
      ['content-type', 'application/offset+octet-stream'],
      ['content-length', String(bytes)],
    ]),
  )
  for (let sent = 0; sent < bytes; sent += piece.length) {
    await write(piece.subarray(0, Math.min(piece.length, bytes - sent)))
  }
  const status = await answered
  const seconds = (performance.now() - t0) / 1000
  socket.destroy()
  if (!status.includes('204')) throw new Error(`the measured upload failed: ${status}`)
  return bytes / MiB / seconds
}

export async function run(options: SlowlorisOptions): Promise<SlowlorisFigures> {
  const seed = options.seed ?? newSeed()
  const idleMs = options.idleMs ?? 2000
  const trickleMs = options.trickleMs ?? 3 * idleMs
  const failures: string[] = []
  const dir = tempDir('ferry-slowloris-')
  let ferry: FerryProcess | undefined
  let capped: FerryProcess | undefined
  const slow: Slow[] = []
  try {
    ferry = await spawnFerry([
      '--dir',
      dir.path,
      '--idle-timeout',
      `${idleMs}ms`,
      '--durability',
      'none',
    ])
    const port = ferry.port
    const pid = ferry.child.pid as number
    await timedUpload(port, options.uploadBytes) // warm-up (JIT, page cache)
    await sleep(300)
    const baseFds = processFigures(pid).fds

    // throughput alone (best of two)
    const alone = Math.max(
      await timedUpload(port, options.uploadBytes),
      await timedUpload(port, options.uploadBytes),
      await timedUpload(port, options.uploadBytes),
    )

    // the slow connections
    const bodyPaths = await Promise.all(
      Array.from({ length: 2 * options.perKind }, () => createUpload(port, 1_000_000)),
    )
    let seq = 0
    for (const kind of KINDS) {
      for (let i = 0; i < options.perKind; i++) {
        const socket = await open(port)
        socket.on('error', () => undefined)
        const s: Slow = {
          kind,
          socket,
          sent: 0,
          openedAt: performance.now(),
          lastWrite: performance.now(),
          trickling: false,
        }
        socket.once('close', () => {
          s.closedAt = performance.now()
        })
        if (kind === 'header-stall') {
          socket.write(
            `POST /files/ HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ntus-resumable: 1.0.0\r\n`,
          )
        } else if (kind === 'header-trickle') {
          socket.write('P')
          s.trickling = true
        } else {
          const path = bodyPaths[seq++] as string
          ;(s as { path?: string }).path = path
          socket.write(
            head('PATCH', path, [
              ['host', `127.0.0.1:${port}`],
              ['tus-resumable', '1.0.0'],
              ['upload-offset', '0'],
              ['content-type', 'application/offset+octet-stream'],
              ['content-length', '1000000'],
            ]),
          )
          // Deterministic per connection: 1..4096 bytes for stalls, one byte for trickles.
          const first = kind === 'body-stall' ? 1 + ((seed + i * 7919) % 4096) : 1
          socket.write(Buffer.alloc(first, 0x41 + (i % 26)))
          s.sent = first
          s.trickling = kind === 'body-trickle'
        }
        s.lastWrite = performance.now()
        slow.push(s)
      }
    }
    const started = performance.now()
    const headerText = `OST /files/ HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n${'x-pad: y\r\n'.repeat(50)}`
    const trickle = setInterval(() => {
      const now = performance.now()
      for (const s of slow) {
        if (!s.trickling || s.closedAt !== undefined || s.socket.destroyed) continue
        if (s.kind === 'body-trickle' && now - started > trickleMs) {
          s.trickling = false
          continue
        }
        if (s.kind === 'header-trickle') {
          s.socket.write(headerText[s.sent % headerText.length] as string)
        } else {
          s.socket.write(Buffer.from([0x61 + (s.sent % 26)]))
        }
        s.sent++
        s.lastWrite = performance.now()
      }
    }, 1000)

    // throughput beside them (best of two), while they are all open
    await sleep(200)
    const beside = Math.max(
      await timedUpload(port, options.uploadBytes),
      await timedUpload(port, options.uploadBytes),
      await timedUpload(port, options.uploadBytes),
    )
    // Body trickles move bytes: they must still be open while they trickle.
    const aliveTrickles = slow.filter(
      (s) => s.kind === 'body-trickle' && s.closedAt === undefined,
    ).length
    if (performance.now() - started < trickleMs && aliveTrickles < options.perKind) {
      failures.push(
        `${options.perKind - aliveTrickles} body trickles were closed while they still sent a byte per second`,
      )
    }

    // wait for every slow connection to be closed by the server
    const deadline = started + trickleMs + 4 * idleMs + 35_000
    while (slow.some((s) => s.closedAt === undefined) && performance.now() < deadline) {
      await sleep(100)
    }
    clearInterval(trickle)
    const closeAfter = {} as Record<Kind, [number, number]>
    let notClosed = 0
    for (const kind of KINDS) {
      const times = slow
        .filter((s) => s.kind === kind && s.closedAt !== undefined)
        // Header trickles never stop: they count from their first byte (the header deadline).
        .map(
          (s) =>
            ((s.closedAt as number) - (kind === 'header-trickle' ? s.openedAt : s.lastWrite)) /
            1000,
        )
      closeAfter[kind] = [Math.min(...times), Math.max(...times)]
      const open = slow.filter((s) => s.kind === kind && s.closedAt === undefined).length
      notClosed += open
      if (open > 0) failures.push(`${open} ${kind} connections were never closed by the server`)
    }
    // Generous bounds (a loaded two-core machine): idle timeout plus checking interval plus 5 s.
    for (const kind of KINDS) {
      const [lo, hi] = closeAfter[kind]
      if (hi > idleMs / 1000 + 5)
        failures.push(`${kind}: closed up to ${hi.toFixed(1)} s after the last byte`)
      if (lo < (idleMs / 1000) * 0.8) {
        failures.push(
          `${kind}: closed ${lo.toFixed(2)} s after the last byte, before the idle timeout`,
        )
      }
    }

    // the bytes that arrived are kept
    await sleep(300)
    let bytesKept = 0
    const bodies = slow.filter((s) => s.path !== undefined)
    for (const s of bodies) {
      const offset = await offsetOf(port, s.path as string)
      if (offset === s.sent) bytesKept++
      else failures.push(`${s.kind} ${s.path}: ${s.sent} bytes sent, HEAD says ${offset}`)
    }

    if (beside < alone * 0.25) {
      failures.push(
        `throughput beside the slow connections fell to ${((beside / alone) * 100).toFixed(0)} %`,
      )
    }
    await sleep(500)
    const fdGrowth = processFigures(pid).fds - baseFds
    if (fdGrowth > 2)
      failures.push(`${fdGrowth} more open file descriptors than before the slow connections`)

    // the per-client cap
    const cap = 20
    const tried = cap + 10
    capped = await spawnFerry([
      '--dir',
      dir.path,
      '--idle-timeout',
      `${idleMs}ms`,
      '--max-connections-per-ip',
      String(cap),
    ])
    const held = await Promise.all(Array.from({ length: cap }, () => open(capped?.port as number)))
    for (const s of held) s.on('error', () => undefined)
    const extra = await Promise.all(
      Array.from({ length: tried - cap }, () =>
        exchange(
          capped?.port as number,
          head('OPTIONS', '/files/', [
            ['host', `127.0.0.1:${capped?.port}`],
            ['tus-resumable', '1.0.0'],
          ]),
          { waitMs: 10_000 },
        ),
      ),
    )
    const refused429 = extra.filter((r) => r.final?.status === 429).length
    if (refused429 !== tried - cap) {
      failures.push(`${refused429}/${tried - cap} connections over the cap got 429`)
    }
    for (const s of held) s.destroy()
    await sleep(300)
    const after = await exchange(
      capped.port,
      head('OPTIONS', '/files/', [
        ['host', `127.0.0.1:${capped.port}`],
        ['tus-resumable', '1.0.0'],
      ]),
      { waitMs: 10_000 },
    )
    if (after.final?.status !== 204 && after.final?.status !== 200) {
      failures.push(`after the held connections closed, a new one got ${after.final?.status}`)
    }

    return {
      seed,
      slow: slow.length,
      perKind: options.perKind,
      idleMs,
      closeAfter,
      notClosed,
      bytesKept,
      bodyConnections: bodies.length,
      trickleAliveWhileTrickling: aliveTrickles,
      aloneMBps: alone,
      besideMBps: beside,
      capped: { cap, tried, refused429 },
      fdGrowth,
      failures,
    }
  } finally {
    for (const s of slow) s.socket.destroy()
    if (capped !== undefined && capped.child.exitCode === null) await capped.kill()
    if (ferry !== undefined && ferry.child.exitCode === null) await ferry.kill()
    dir.cleanup()
  }
}

export function figuresLine(f: SlowlorisFigures): string {
  const range = (k: Kind): string => {
    const [lo, hi] = f.closeAfter[k]
    return `${lo.toFixed(1)}-${hi.toFixed(1)} s`
  }
  return (
    `slowloris: ${f.slow} slow connections (${f.perKind} each of header-stall, header-trickle, ` +
    `body-stall, body-trickle; idle timeout ${(f.idleMs / 1000).toFixed(1)} s, seed ${f.seed}), ` +
    `${f.slow - f.notClosed}/${f.slow} closed by the server (after the last byte: header-stall ` +
    `${range('header-stall')}, body-stall ` +
    `${range('body-stall')}, body-trickle ${range('body-trickle')}; header-trickle ` +
    `${range('header-trickle')} after its first byte), ` +
    `${f.trickleAliveWhileTrickling}/${f.perKind} body trickles served while trickling, ` +
    `${f.bytesKept}/${f.bodyConnections} kept their bytes; upload ${f.aloneMBps.toFixed(0)} MB/s alone, ` +
    `${f.besideMBps.toFixed(0)} MB/s beside them (ratio ${(f.besideMBps / f.aloneMBps).toFixed(2)}); ` +
    `cap ${f.capped.cap}/ip: ${f.capped.refused429}/${f.capped.tried - f.capped.cap} over it got 429; ` +
    `fds ${f.fdGrowth >= 0 ? '+' : ''}${f.fdGrowth}; ${f.failures.length} failures`
  )
}

export const CI_OPTIONS: SlowlorisOptions = { perKind: 55, uploadBytes: 16 * MiB }
export const FULL_OPTIONS: SlowlorisOptions = { perKind: 250, uploadBytes: 256 * MiB }

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = parseCampaignArgs(process.argv.slice(2))
  const base = args.full ? FULL_OPTIONS : CI_OPTIONS
  const perKind = Number(args.values.get('per-kind') ?? base.perKind)
  await main(
    'slowloris',
    () => run({ ...base, perKind, ...(args.seed === undefined ? {} : { seed: args.seed }) }),
    figuresLine,
  )
}
