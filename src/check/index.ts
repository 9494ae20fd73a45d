/**
 * @module `ferry/check`: the conformance tester as a library.
 *
 * @example
 * import { runChecks, formatText } from 'ferry/check'
 * const report = await runChecks('http://127.0.0.1:1080/files/', { timeoutMs: 10_000, expireWaitMs: 0 })
 * process.stdout.write(formatText(report))
 */
export { ALL_CHECKS } from './checks/index.ts'
export { formatHeader, formatResult, formatText, summaryLine } from './report.ts'
export { type RunOptions, runChecks } from './runner.ts'
export type * from './types.ts'
