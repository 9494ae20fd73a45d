/**
 * @module URL storage: where an upload's URL is kept so that a later session resumes it instead
 * of starting over. Entries are keyed by the source's fingerprint, expire with the server's
 * Upload-Expires / max-age, and are removed on success, when the upload is gone and on
 * termination (docs/decisions/0004-client.md, Storage).
 */

export interface StoredUpload {
  readonly fingerprint: string
  readonly url: string
  /** `tus` or `ietf-<interop>`. */
  readonly protocol: string
  /** Total size, when known. */
  readonly size?: number
  /** Milliseconds since the epoch. */
  readonly createdAt: number
  /** When the server forgets the upload (ms since the epoch), when it said. */
  readonly expiresAt?: number
}

export interface UrlStorage {
  /** The entry for a fingerprint, unless it expired (expired entries are dropped). */
  find(fingerprint: string): Promise<StoredUpload | undefined>
  /** Adds or replaces the entry of `entry.fingerprint`. */
  save(entry: StoredUpload): Promise<void>
  remove(fingerprint: string): Promise<void>
}

/** True when the entry's upload has expired at `now`. */
export function isExpired(entry: StoredUpload, now: number): boolean {
  return entry.expiresAt !== undefined && entry.expiresAt <= now
}

/** Checks the shape of a parsed entry. */
export function isStoredUpload(x: unknown): x is StoredUpload {
  if (typeof x !== 'object' || x === null) return false
  const e = x as Record<string, unknown>
  return (
    typeof e.fingerprint === 'string' &&
    typeof e.url === 'string' &&
    typeof e.protocol === 'string' &&
    typeof e.createdAt === 'number' &&
    (e.size === undefined || typeof e.size === 'number') &&
    (e.expiresAt === undefined || typeof e.expiresAt === 'number')
  )
}

/** Entries in memory (this session only). */
export function memoryStorage(now: () => number = Date.now): UrlStorage & {
  readonly entries: ReadonlyMap<string, StoredUpload>
} {
  const entries = new Map<string, StoredUpload>()
  return {
    entries,
    async find(fingerprint) {
      const entry = entries.get(fingerprint)
      if (entry === undefined) return undefined
      if (isExpired(entry, now())) {
        entries.delete(fingerprint)
        return undefined
      }
      return entry
    },
    async save(entry) {
      entries.set(entry.fingerprint, entry)
    },
    async remove(fingerprint) {
      entries.delete(fingerprint)
    },
  }
}

/** The subset of the Web Storage API this needs. */
export interface WebStorageLike {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
  readonly length: number
  key(index: number): string | null
}

export interface LocalStorageOptions {
  /** @default globalThis.localStorage */
  readonly storage?: WebStorageLike
  /** @default 'ferry::' */
  readonly prefix?: string
  readonly now?: () => number
}

/**
 * Entries in localStorage (browsers). Expired entries of every upload are swept on each save,
 * so the storage does not fill up (tus-js-client #807). Falls back to doing nothing when
 * localStorage is unavailable (sandboxed iframes, some private modes).
 */
export function localStorageStorage(options: LocalStorageOptions = {}): UrlStorage {
  const prefix = options.prefix ?? 'ferry::'
  const now = options.now ?? Date.now
  const storage = (): WebStorageLike | undefined => {
    try {
      return options.storage ?? (globalThis as { localStorage?: WebStorageLike }).localStorage
    } catch {
      return undefined
    }
  }
  const read = (s: WebStorageLike, key: string): StoredUpload | undefined => {
    try {
      const raw = s.getItem(key)
      const parsed = raw === null ? undefined : (JSON.parse(raw) as unknown)
      return isStoredUpload(parsed) ? parsed : undefined
    } catch {
      return undefined
    }
  }
  return {
    async find(fingerprint) {
      const s = storage()
      if (s === undefined) return undefined
      const key = prefix + fingerprint
      const entry = read(s, key)
      if (entry !== undefined && !isExpired(entry, now())) return entry
      if (s.getItem(key) !== null) s.removeItem(key)
      return undefined
    },
    async save(entry) {
      const s = storage()
      if (s === undefined) return
      const t = now()
      for (let i = s.length - 1; i >= 0; i--) {
        const key = s.key(i)
        if (key === null || !key.startsWith(prefix)) continue
        const other = read(s, key)
        if (other === undefined || isExpired(other, t)) s.removeItem(key)
      }
      try {
        s.setItem(prefix + entry.fingerprint, JSON.stringify(entry))
      } catch {
        // Quota exceeded: resuming across sessions is a convenience, never a failure.
      }
    },
    async remove(fingerprint) {
      storage()?.removeItem(prefix + fingerprint)
    },
  }
}
