#!/usr/bin/env node
// Runs the browser tests (e2e/*.spec.mjs, or those named on the command
// line) with node's test runner, one file at a time: each file starts its
// own `yishi serve` on a fresh database. Needs a build (npm run build).
import { readdirSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const wanted = process.argv.slice(2)
const files = readdirSync(here)
  .filter((f) => f.endsWith('.spec.mjs'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort()
  .map((f) => join(here, f))
if (files.length === 0) {
  console.error('no browser tests found')
  process.exit(1)
}
const started = Date.now()
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
})
console.log(`browser tests took ${((Date.now() - started) / 1000).toFixed(1)} s`)
process.exit(r.status ?? 1)
