#!/usr/bin/env node
import { spawn } from 'node:child_process'
// Runs every test file with node's test runner (TypeScript through tsx). Node 20 does not
// expand globs, so the files are listed here. `--unit` runs only the fast tests under src/.
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const unitOnly = process.argv.includes('--unit')
const extra = process.argv.slice(2).filter((a) => a !== '--unit')

function walk(dir) {
  const out = []
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...walk(path))
    else if (name.endsWith('.test.ts')) out.push(relative(root, path))
  }
  return out
}

const files = [...walk(join(root, 'src')), ...(unitOnly ? [] : walk(join(root, 'test')))].sort()
const filtered = extra.length > 0 ? files.filter((f) => extra.some((e) => f.includes(e))) : files
if (filtered.length === 0) {
  console.error('no test files matched')
  process.exit(1)
}
const args = [
  '--import',
  'tsx',
  '--test',
  '--test-reporter=spec',
  '--test-concurrency=2',
  '--test-timeout=300000',
  ...filtered,
]
const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' })
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
