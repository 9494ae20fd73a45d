#!/usr/bin/env node
// Bundles `ferry/client` (src/client/index.ts) for browsers: one minified ES module, no node:
// imports (esbuild refuses them on the browser platform). Prints the size, raw and gzipped.
//
//   node scripts/bundle-client.mjs [OUTFILE] [--json]
//
// OUTFILE defaults to dist/browser/ferry-client.js. --json prints one JSON line instead:
// { "outfile", "bytes", "gzipBytes", "exports" }.
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

const root = new URL('..', import.meta.url).pathname
const args = process.argv.slice(2)
const json = args.includes('--json')
const outfile = resolve(args.find((a) => !a.startsWith('--')) ?? 'dist/browser/ferry-client.js')

const result = await build({
  entryPoints: [resolve(root, 'src/client/index.ts')],
  outfile,
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  minify: true,
  metafile: true,
  legalComments: 'none',
  logLevel: 'error',
})

const code = readFileSync(outfile)
const gzipBytes = gzipSync(code, { level: 9 }).length
const output = Object.values(result.metafile.outputs)[0]
const exports = output?.exports ?? []

if (json) {
  console.log(JSON.stringify({ outfile, bytes: code.length, gzipBytes, exports }))
} else {
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB (${n} B)`
  console.log(`${outfile}: ${kib(code.length)}, gzip -9 ${kib(gzipBytes)}`)
}
