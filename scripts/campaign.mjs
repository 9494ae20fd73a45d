#!/usr/bin/env node
// Runs the hardening campaigns of test/campaigns/ (issue 6), each in its own process:
//   npm run campaign -- <name|all> [--full] [--seed N] [more options of the campaign]
// Without --full a campaign runs its reduced size (the one CI runs as a test); each prints its
// figures in one line and exits non-zero on any failure.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const dir = join(root, 'test/campaigns')
const names = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
  .sort()
const [which, ...rest] = process.argv.slice(2)
if (which === undefined || (which !== 'all' && !names.includes(which))) {
  process.stderr.write(
    `usage: npm run campaign -- <${[...names, 'all'].join('|')}> [--full] [--seed N]\n`,
  )
  process.exit(2)
}
let failed = 0
for (const name of which === 'all' ? names : [which]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(dir, `${name}.ts`), ...rest], {
    cwd: root,
    stdio: 'inherit',
  })
  if (r.status !== 0) failed++
}
process.exit(failed === 0 ? 0 : 1)
