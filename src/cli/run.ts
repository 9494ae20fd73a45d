/**
 * @module Runs the CLI from the TypeScript sources (tests and development:
 * `node --import tsx src/cli/run.ts serve`). The published `ferry` bin runs the compiled copy.
 */
import { main } from './main.ts'

process.exitCode = await main(process.argv.slice(2))
