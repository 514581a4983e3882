#!/usr/bin/env node
// Asserts the resident home page's initial JavaScript stays under budget
// (200 KB gzipped) and holds no Element Plus (the admin panel's library).
// "Initial" = the entry chunk and its static imports, plus the lazy chunks
// the router loads for `/` (the resident layout and the home page) with
// their static imports. Needs a build (npm run build).
import { readFileSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist')
const BUDGET = Number(process.env.HOME_JS_BUDGET_KB ?? 200) * 1024
const manifest = JSON.parse(readFileSync(join(dist, '.vite', 'manifest.json'), 'utf8'))
const modules = JSON.parse(readFileSync(join(dist, '.vite', 'modules.json'), 'utf8'))

const HOME_ROUTE = ['src/layouts/ResidentLayout.vue', 'src/pages/home/index.vue']

const files = new Set()
function add(key) {
  const entry = manifest[key]
  if (!entry) throw new Error(`not in the manifest: ${key}`)
  if (files.has(entry.file)) return
  files.add(entry.file)
  for (const dep of entry.imports ?? []) add(dep)
}
add('index.html')
// (they may be in the entry chunk already, then they have no entry of their own)
for (const key of HOME_ROUTE) if (manifest[key]) add(key)

let total = 0
const rows = []
const offenders = []
for (const file of files) {
  const gz = gzipSync(readFileSync(join(dist, file)), { level: 9 }).length
  total += gz
  rows.push([file, gz])
  for (const id of modules[file] ?? []) {
    if (/element-plus|@element-plus|src\/admin\//.test(id)) offenders.push(`${file}: ${id}`)
  }
}
rows.sort((a, b) => b[1] - a[1])
for (const [file, gz] of rows) console.log(`  ${(gz / 1024).toFixed(1).padStart(7)} KB  ${file}`)
console.log(`home page initial JS: ${(total / 1024).toFixed(1)} KB gzipped (budget ${BUDGET / 1024} KB)`)

let failed = 0
if (total > BUDGET) {
  console.error(`FAIL: over budget by ${((total - BUDGET) / 1024).toFixed(1)} KB`)
  failed++
}
if (offenders.length) {
  console.error(`FAIL: admin code in the home page's chunks:\n  ${offenders.slice(0, 10).join('\n  ')}`)
  failed++
}
console.log(`${2 - failed} passed, ${failed} failed`)
process.exit(failed ? 1 : 0)
