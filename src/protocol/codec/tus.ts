/**
 * @module Codecs for the tus 1.0.0 header values: plain decimal integers, Upload-Metadata,
 * Upload-Concat and Upload-Checksum, and the HTTP-date of Upload-Expires.
 */
import { TUS_CHECKSUM_ALGORITHMS, type TusChecksumAlgorithm } from '../constants.ts'
import { decodeBase64 } from './structured-fields.ts'

/**
 * A tus integer (tus 1.0.0 §Headers: Upload-Offset and Upload-Length are non-negative
 * integers): plain ASCII digits, at most Number.MAX_SAFE_INTEGER. Undefined when invalid.
 */
export function parseTusInteger(value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const text = value.trim()
  if (!/^[0-9]{1,16}$/.test(text)) return undefined
  const n = Number(text)
  return Number.isSafeInteger(n) ? n : undefined
}

/** One Upload-Metadata pair: the key and its value, still Base64-encoded (null when empty). */
export interface MetadataPair {
  readonly key: string
  readonly value: string | null
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string }

// tus 1.0.0 §Upload-Metadata: the key MUST NOT contain spaces and commas and MUST NOT be
// empty; it SHOULD be ASCII. We accept printable ASCII without space and comma.
const METADATA_KEY = /^[\x21-\x2b\x2d-\x7e]+$/

/**
 * Parses Upload-Metadata (tus 1.0.0 §Upload-Metadata): comma-separated `key base64value`
 * pairs, keys unique, values Base64 (a key alone means an empty value).
 */
export function parseUploadMetadata(value: string): ParseResult<MetadataPair[]> {
  const pairs: MetadataPair[] = []
  const seen = new Set<string>()
  if (value.trim() === '') return { ok: true, value: pairs }
  for (const raw of value.split(',')) {
    const element = raw.trim()
    const parts = element.split(' ')
    const key = parts[0] ?? ''
    if (parts.length > 2) return { ok: false, reason: `pair "${clip(element)}" has extra spaces` }
    if (!METADATA_KEY.test(key)) return { ok: false, reason: `invalid key "${clip(key)}"` }
    if (seen.has(key)) return { ok: false, reason: `duplicate key "${clip(key)}"` }
    seen.add(key)
    const encoded = parts[1]
    if (encoded === undefined || encoded === '') {
      pairs.push({ key, value: null })
      continue
    }
    // tus 1.0.0 §Upload-Metadata: the value MUST be Base64 encoded.
    if (decodeBase64(encoded) === undefined) {
      return { ok: false, reason: `value of "${clip(key)}" is not Base64` }
    }
    pairs.push({ key, value: encoded })
  }
  return { ok: true, value: pairs }
}

/** Serializes metadata pairs back to an Upload-Metadata value (as the client sent them). */
export function serializeUploadMetadata(pairs: readonly MetadataPair[]): string {
  return pairs.map((p) => (p.value === null ? p.key : `${p.key} ${p.value}`)).join(',')
}

/** A parsed Upload-Concat value (tus 1.0.0 §Concatenation). */
export type UploadConcat = { kind: 'partial' } | { kind: 'final'; urls: string[] }

/** Parses Upload-Concat: `partial`, or `final;` followed by space-separated upload URLs. */
export function parseUploadConcat(value: string): ParseResult<UploadConcat> {
  const text = value.trim()
  if (text === 'partial') return { ok: true, value: { kind: 'partial' } }
  if (!text.startsWith('final;')) {
    return { ok: false, reason: 'must be "partial" or "final;<url> <url> ..."' }
  }
  // tus 1.0.0 §Concatenation: the URLs are separated by a space and MUST NOT contain spaces.
  const urls = text
    .slice('final;'.length)
    .split(' ')
    .filter((u) => u !== '')
  if (urls.length === 0) return { ok: false, reason: 'a final upload lists no partial uploads' }
  return { ok: true, value: { kind: 'final', urls } }
}

/** A parsed Upload-Checksum (tus 1.0.0 §Checksum): algorithm and the raw digest bytes. */
export interface TusChecksum {
  readonly algorithm: TusChecksumAlgorithm
  readonly digest: Uint8Array
}

/**
 * Parses Upload-Checksum `<algorithm> <base64 digest>`. `unsupported` tells apart a well-formed
 * value with an algorithm we do not implement (tus: 400) from a malformed one.
 */
export function parseUploadChecksum(
  value: string,
): ParseResult<TusChecksum> | { ok: false; unsupported: string } {
  const parts = value.trim().split(' ')
  const [algorithm, encoded] = parts
  if (parts.length !== 2 || algorithm === undefined || encoded === undefined) {
    return { ok: false, reason: 'must be "<algorithm> <base64 digest>"' }
  }
  // tus 1.0.0 §Checksum: algorithm names are ASCII without uppercase letters.
  if (!/^[a-z0-9-]+$/.test(algorithm)) {
    return { ok: false, reason: 'the algorithm name must be lower-case ASCII' }
  }
  const digest = decodeBase64(encoded)
  if (digest === undefined) return { ok: false, reason: 'the digest is not Base64' }
  if (!isTusChecksumAlgorithm(algorithm)) return { ok: false, unsupported: algorithm }
  return { ok: true, value: { algorithm, digest } }
}

function isTusChecksumAlgorithm(name: string): name is TusChecksumAlgorithm {
  return (TUS_CHECKSUM_ALGORITHMS as readonly string[]).includes(name)
}

/** Formats an instant (ms since the epoch) as an RFC 9110 IMF-fixdate (Upload-Expires). */
export function formatHttpDate(epochMs: number): string {
  return new Date(epochMs).toUTCString()
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text
}
