/**
 * @module The filename of a Content-Disposition field (RFC 6266 §4.1, RFC 8187 §3.2 for
 * `filename*`), and a safe Content-Disposition value for downloads.
 */

/**
 * The filename a Content-Disposition value carries, preferring `filename*` (RFC 6266 §4.3).
 * Undefined when there is none or it cannot be decoded. Path separators and control characters
 * are removed: the name is metadata, never a path (draft-13 §13: metadata MUST be sanitized).
 */
export function parseContentDispositionFilename(value: string): string | undefined {
  let plain: string | undefined
  let extended: string | undefined
  for (const param of splitParams(value)) {
    const eq = param.indexOf('=')
    if (eq < 0) continue
    const name = param.slice(0, eq).trim().toLowerCase()
    const raw = param.slice(eq + 1).trim()
    if (name === 'filename') plain = unquote(raw)
    else if (name === 'filename*') extended = decodeExtValue(raw)
  }
  const name = extended ?? plain
  return name === undefined ? undefined : sanitizeFilename(name)
}

/** Removes path separators and control characters; undefined when nothing is left. */
export function sanitizeFilename(name: string): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we strip
  const clean = name.replace(/[\u0000-\u001f\u007f/\\]/g, '_').trim()
  if (clean === '' || clean === '.' || clean === '..') return undefined
  return clean.slice(0, 255)
}

/** A Content-Disposition value for serving a stored file (RFC 6266 §4.1, §4.3). */
export function formatContentDisposition(
  type: 'inline' | 'attachment',
  filename: string | undefined,
): string {
  if (filename === undefined) return type
  const ascii = filename.replace(/[^\x20-\x7e]|["\\%]/g, '_')
  const encoded = encodeURIComponent(filename).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  )
  return `${type}; filename="${ascii}"; filename*=UTF-8''${encoded}`
}

function splitParams(value: string): string[] {
  const out: string[] = []
  let current = ''
  let quoted = false
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string
    if (quoted && c === '\\' && i + 1 < value.length) {
      current += c + (value[i + 1] as string)
      i++
      continue
    }
    if (c === '"') quoted = !quoted
    if (c === ';' && !quoted) {
      out.push(current)
      current = ''
      continue
    }
    current += c
  }
  out.push(current)
  return out.slice(1) // the first element is the disposition type
}

function unquote(raw: string): string {
  if (raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"')) {
    return raw.slice(1, -1).replace(/\\(.)/g, '$1')
  }
  return raw
}

// RFC 8187 §3.2.1: ext-value = charset "'" [ language ] "'" value-chars
function decodeExtValue(raw: string): string | undefined {
  const match = /^([A-Za-z0-9!#$&+^_`{}~-]+)'[^']*'(.*)$/.exec(raw)
  if (match === null) return undefined
  const charset = (match[1] as string).toLowerCase()
  const chars = match[2] as string
  if (charset !== 'utf-8') return undefined
  try {
    return decodeURIComponent(chars)
  } catch {
    return undefined
  }
}
