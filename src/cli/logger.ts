/**
 * @module The CLI's logger: one line per event on stderr, as text or JSON.
 */
import type { Logger } from '../server/options.ts'

const LEVELS = ['debug', 'info', 'warn', 'error'] as const
export type LogLevel = (typeof LEVELS)[number]

export function isLogLevel(value: string): value is LogLevel {
  return (LEVELS as readonly string[]).includes(value)
}

/** A logger writing to `write` (stderr by default), dropping events below `level`. */
export function createCliLogger(
  level: LogLevel,
  format: 'text' | 'json',
  write: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  const min = LEVELS.indexOf(level)
  const emit =
    (lvl: LogLevel) =>
    (event: string, attrs: Record<string, unknown> = {}): void => {
      if (LEVELS.indexOf(lvl) < min) return
      const time = new Date().toISOString()
      if (format === 'json') {
        write(`${JSON.stringify({ time, level: lvl, event, ...attrs })}\n`)
        return
      }
      const fields = Object.entries(attrs)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
        .join(' ')
      write(`${time} ${lvl.toUpperCase().padEnd(5)} ${event}${fields === '' ? '' : ` ${fields}`}\n`)
    }
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') }
}
