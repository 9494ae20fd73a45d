/**
 * @module A URL storage in a JSON file, shared by `ferry upload` runs and Node programs:
 * `$XDG_CONFIG_HOME/ferry/uploads.json` or `~/.config/ferry/uploads.json` unless told otherwise.
 * Every change rewrites the file through a temporary file and an atomic rename, so a crash
 * (even SIGKILL) leaves the old or the new content, never a torn file. Expired entries are
 * dropped whenever the file is written.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { isExpired, isStoredUpload, type StoredUpload, type UrlStorage } from '../storage.ts'

/** The default state file. */
export function defaultStatePath(
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  const xdg = env.XDG_CONFIG_HOME
  const base = xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.config')
  return join(base, 'ferry', 'uploads.json')
}

interface FileContent {
  version: 1
  uploads: Record<string, StoredUpload>
}

export interface FileStorageOptions {
  readonly now?: () => number
}

/** Entries in a JSON file (atomic rename on every change). */
export function fileUrlStorage(
  path: string = defaultStatePath(),
  options: FileStorageOptions = {},
): UrlStorage & { readonly path: string } {
  const now = options.now ?? Date.now
  let queue: Promise<unknown> = Promise.resolve()
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn)
    queue = run.catch(() => {})
    return run
  }

  const load = async (): Promise<FileContent> => {
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch {
      return { version: 1, uploads: {} }
    }
    try {
      const parsed = JSON.parse(text) as { uploads?: unknown }
      const uploads: Record<string, StoredUpload> = {}
      if (typeof parsed.uploads === 'object' && parsed.uploads !== null) {
        for (const [key, value] of Object.entries(parsed.uploads)) {
          if (isStoredUpload(value) && value.fingerprint === key) uploads[key] = value
        }
      }
      return { version: 1, uploads }
    } catch {
      // A corrupt file (written by something else): start afresh rather than fail uploads.
      return { version: 1, uploads: {} }
    }
  }

  const store = async (content: FileContent): Promise<void> => {
    const t = now()
    for (const [key, entry] of Object.entries(content.uploads)) {
      if (isExpired(entry, t)) delete content.uploads[key]
    }
    await mkdir(dirname(path), { recursive: true, mode: 0o700 })
    const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
    try {
      await writeFile(tmp, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 })
      await rename(tmp, path)
    } catch (e) {
      await rm(tmp, { force: true })
      throw e
    }
  }

  return {
    path,
    find: (fingerprint) =>
      serial(async () => {
        const content = await load()
        const entry = content.uploads[fingerprint]
        if (entry === undefined) return undefined
        if (isExpired(entry, now())) {
          delete content.uploads[fingerprint]
          await store(content).catch(() => {})
          return undefined
        }
        return entry
      }),
    save: (entry) =>
      serial(async () => {
        const content = await load()
        content.uploads[entry.fingerprint] = entry
        await store(content)
      }),
    remove: (fingerprint) =>
      serial(async () => {
        const content = await load()
        if (content.uploads[fingerprint] === undefined) return
        delete content.uploads[fingerprint]
        await store(content)
      }),
  }
}
