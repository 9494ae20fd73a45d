/**
 * Campaign 3 (issue 6), cuts: uploads through the TCP fault proxy (src/proxy/fault-proxy.ts),
 * each one's connections cut 1 to 5 times at random byte positions (seeded), 5 of every 8 with
 * Ferry's Node client (tus, IETF interop 10 and older interop versions), the rest with
 * tus-js-client 4.3.1 (tus-v1, ietf-draft-03, ietf-draft-05). A cut delivers exactly the bytes
 * before it to the server, then a FIN (the server sees the content end early: tus 1.0.0 §PATCH
 * and draft-13 §4.4.2 keep what arrived), and resets the client, which resumes from the
 * server's offset. Every upload must complete, and the server's bytes (downloaded with GET) must
 * have the original SHA-256. Reports the cuts made and the bytes the clients sent again.
 *
 *   node --import tsx test/campaigns/cuts.ts [--full] [--seed N] [--uploads N] [--concurrency N]
 */
import * as tus from 'tus-js-client'
import { upload as ferryUpload } from '../../src/client/node/index.ts'
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.ts'
import { type RunningServer, startServer } from '../support/servers.ts'
import {
  type CampaignResult,
  cli,
  KiB,
  MiB,
  type Rng,
  rng,
  seededBytes,
  sha256,
  within,
} from './_kit.ts'

export interface CutsOptions {
  /** Uploads (full: 100). @default 10 */
  readonly uploads?: number
  /** Uploads in flight at once. @default 3 */
  readonly concurrency?: number
  /** Largest upload (sizes are log-uniform from 16 KiB). @default 2 MiB (full: 24 MiB) */
  readonly maxSizeBytes?: number
  readonly seed?: number
}

export interface CutsFigures extends CampaignResult {
  readonly completed: number
  readonly uploads: number
  readonly cuts: number
  readonly plannedCuts: number
  readonly payloadBytes: number
  readonly resentBytes: number
}

type ClientKind =
  | { client: 'ferry'; protocol: 'tus' }
  | { client: 'ferry'; protocol: 'ietf'; interop: number }
  | { client: 'tus-js-client'; protocol: 'tus-v1' | 'ietf-draft-03' | 'ietf-draft-05' }

const label = (c: ClientKind): string =>
  c.client === 'ferry'
    ? `ferry ${c.protocol === 'tus' ? 'tus' : `ietf ${c.interop}`}`
    : `tus-js-client ${c.protocol}`

/** tus-js-client 4.3.1 reads `protocol` at runtime, but its .d.ts does not declare it. */
type TusOptions = tus.UploadOptions & { protocol?: string }

interface Outcome {
  readonly url: string
  readonly resent: number
}

const RETRY_DELAYS = [0, 50, 100, 200, 400, 800, ...Array.from({ length: 24 }, () => 1000)]

async function viaFerry(
  kind: Extract<ClientKind, { client: 'ferry' }>,
  endpoint: string,
  data: Buffer,
  chunkSize: number | undefined,
  onAck: (offset: number) => void,
): Promise<Outcome> {
  const u = ferryUpload(data, {
    endpoint,
    protocol: kind.protocol,
    ...(kind.protocol === 'ietf' ? { interop: kind.interop } : {}),
    ...(chunkSize === undefined ? {} : { chunkSize }),
    storage: null,
    fingerprint: null,
    retries: 30,
    retryDelayMs: 50,
    maxRetryDelayMs: 1000,
    stallTimeoutMs: 20_000,
  })
  u.on('progress', (p) => onAck(p.acknowledged))
  const result = await u.start().done
  if (result.url === undefined) throw new Error('the upload has no URL')
  return { url: result.url, resent: Math.max(0, u.progress.sent - data.length) }
}

async function viaTusJsClient(
  kind: Extract<ClientKind, { client: 'tus-js-client' }>,
  endpoint: string,
  data: Buffer,
  chunkSize: number | undefined,
  onAck: (offset: number) => void,
): Promise<Outcome> {
  let position = 0
  let resent = 0
  const upload = await new Promise<tus.Upload>((resolve, reject) => {
    const u: tus.Upload = new tus.Upload(
      data as unknown as Blob,
      {
        endpoint,
        protocol: kind.protocol,
        retryDelays: RETRY_DELAYS,
        storeFingerprintForResuming: false,
        ...(chunkSize === undefined ? {} : { chunkSize }),
        onProgress: (sent) => {
          position = Math.max(position, sent)
        },
        onChunkComplete: (_chunk, accepted) => onAck(accepted),
        onAfterResponse: (req, res) => {
          if (req.getMethod() !== 'HEAD') return
          const offset = Number(res.getHeader('Upload-Offset'))
          if (!Number.isSafeInteger(offset)) return
          // What was handed to connections beyond the offset the server kept is sent again.
          resent += Math.max(0, position - offset)
          position = offset
        },
        onSuccess: () => resolve(u),
        onError: (e) => reject(e),
      } satisfies TusOptions as tus.UploadOptions,
    )
    u.start()
  })
  if (upload.url === null) throw new Error('the upload has no URL')
  return { url: upload.url, resent }
}

export async function run(options: CutsOptions = {}): Promise<CutsFigures> {
  const uploads = options.uploads ?? 10
  const concurrency = options.concurrency ?? 3
  const maxSize = options.maxSizeBytes ?? 2 * MiB
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31)
  const random = rng(seed)
  const kinds: ClientKind[] = [
    { client: 'ferry', protocol: 'tus' },
    { client: 'tus-js-client', protocol: 'tus-v1' },
    { client: 'ferry', protocol: 'ietf', interop: 10 },
    { client: 'tus-js-client', protocol: 'ietf-draft-05' },
    { client: 'ferry', protocol: 'ietf', interop: 6 },
    { client: 'tus-js-client', protocol: 'ietf-draft-03' },
    { client: 'ferry', protocol: 'ietf', interop: 8 },
    { client: 'ferry', protocol: 'ietf', interop: 3 },
  ]
  // Every upload's parameters are drawn up front: the same seed, the same campaign.
  const plans = Array.from({ length: uploads }, (_, i) => ({
    index: i,
    kind: kinds[i % kinds.length] as ClientKind,
    size: random.logInt(16 * KiB, maxSize),
    chunkSize: random.pick([undefined, undefined, 256 * KiB, 1 * MiB]),
    cuts: random.int(1, 5),
    seed: random.int(0, 2 ** 31 - 1),
  }))
  const failures: string[] = []
  let completed = 0
  let cuts = 0
  let resentBytes = 0
  let payloadBytes = 0
  const server = await startServer()
  try {
    let next = 0
    const worker = async (): Promise<void> => {
      for (;;) {
        const plan = plans[next++]
        if (plan === undefined) return
        const name = `upload ${plan.index} (${label(plan.kind)}, ${plan.size} bytes, chunk ${plan.chunkSize ?? 'all'}, ${plan.cuts} cuts, seed ${plan.seed})`
        try {
          const r = await within(one(server, plan), 180_000, name)
          cuts += r.cuts
          resentBytes += r.resent
          payloadBytes += plan.size
          if (r.problem === undefined) completed++
          else failures.push(`${name}: ${r.problem}`)
          // The campaign claims 1-5 cuts per upload: one that was never cut proves nothing.
          if (r.cuts === 0) failures.push(`${name}: the proxy never cut it`)
        } catch (e) {
          failures.push(`${name}: ${(e as Error).message.split('\n')[0]}`)
        }
      }
    }
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker))
  } finally {
    await server.close()
  }
  const plannedCuts = plans.reduce((n, p) => n + p.cuts, 0)
  const byClient = (c: string): number => plans.filter((p) => p.kind.client === c).length
  const line =
    `cuts: ${completed}/${uploads} complete and verified (${byClient('ferry')} Ferry client, ` +
    `${byClient('tus-js-client')} tus-js-client), ${cuts} cuts (${plannedCuts} planned), ` +
    `${payloadBytes} bytes, ${resentBytes} re-sent (${payloadBytes === 0 ? 0 : ((100 * resentBytes) / payloadBytes).toFixed(1)} %), ` +
    `${failures.length} failures`
  return {
    line,
    failures,
    seed,
    completed,
    uploads,
    cuts,
    plannedCuts,
    payloadBytes,
    resentBytes,
  }
}

async function one(
  server: RunningServer,
  plan: {
    kind: ClientKind
    size: number
    chunkSize: number | undefined
    cuts: number
    seed: number
  },
): Promise<{ cuts: number; resent: number; problem?: string }> {
  const data = seededBytes(plan.seed, plan.size)
  const random: Rng = rng(plan.seed)
  let acknowledged = 0
  const onAck = (offset: number): void => {
    acknowledged = Math.max(acknowledged, offset)
  }
  // Each connection is cut at a random byte among those the upload still has to send: the cut
  // lands in a request head or in content, and the last connection still carries enough bytes
  // to be cut. Where the server stands is estimated from what the client was told and from the
  // bytes the cut connections delivered (less their request heads, at most ~1 KiB each); a new
  // connection opens before the client's HEAD tells it the offset. The proxy stops after `cuts`.
  let delivered = 0
  const proxy: FaultProxy = await startFaultProxy({
    target: { host: '127.0.0.1', port: server.port },
    cutAfterBytes: () =>
      1 + random.int(0, Math.max(1, plan.size - Math.max(acknowledged, delivered))),
    cuts: plan.cuts,
    onCut: (cut) => {
      delivered = Math.max(acknowledged, delivered) + Math.max(0, cut.bytes - KiB)
    },
  })
  try {
    const endpoint = proxy.url('/files/')
    const kind = plan.kind
    const outcome =
      kind.client === 'ferry'
        ? await viaFerry(kind, endpoint, data, plan.chunkSize, onAck)
        : await viaTusJsClient(kind, endpoint, data, plan.chunkSize, onAck)
    const path = new URL(outcome.url).pathname
    const response = await fetch(new URL(path, server.url))
    const cutsMade = proxy.stats.cuts
    if (response.status !== 200) {
      return { cuts: cutsMade, resent: outcome.resent, problem: `GET ${response.status}` }
    }
    const stored = new Uint8Array(await response.arrayBuffer())
    if (sha256(stored) !== sha256(data)) {
      return {
        cuts: cutsMade,
        resent: outcome.resent,
        problem: `stored ${stored.length} bytes with another SHA-256`,
      }
    }
    return { cuts: cutsMade, resent: outcome.resent }
  } finally {
    await proxy.close()
  }
}

cli(import.meta.url, 'cuts', ({ full, seed, numbers }) =>
  run({
    seed,
    uploads: numbers.uploads ?? (full ? 100 : 10),
    concurrency: numbers.concurrency ?? (full ? 4 : 3),
    maxSizeBytes: numbers['max-size'] ?? (full ? 24 * MiB : 2 * MiB),
  }),
)
