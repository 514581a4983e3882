#!/usr/bin/env node
// Lighthouse mobile performance of the resident home page (not a CI gate).
//
//   npm run lighthouse                      # starts its own yishi serve (fresh DB, built frontend)
//   npm run lighthouse -- http://127.0.0.1:8080/   # against a running server
//
// Uses Debian's chromium (CHROMIUM_PATH, default /usr/bin/chromium) and
// Lighthouse's default mobile settings (Moto G-class device, simulated slow
// 4G, 4× CPU slowdown). Writes the HTML report to e2e/artifacts/lighthouse.html.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import lighthouse from 'lighthouse'
import * as chromeLauncher from 'chrome-launcher'
import { ARTIFACTS, CHROMIUM, startServer } from '../e2e/harness.mjs'

let url = process.argv[2]
let app
if (!url) {
  app = await startServer({})
  url = `${app.base}/`
}
const chrome = await chromeLauncher.launch({
  chromePath: CHROMIUM,
  chromeFlags: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
})
try {
  const runs = Number(process.env.LIGHTHOUSE_RUNS ?? 3)
  const scores = []
  let last
  for (let i = 0; i < runs; i++) {
    const result = await lighthouse(url, { port: chrome.port, output: 'html', onlyCategories: ['performance'], logLevel: 'error' })
    last = result
    const lhr = result.lhr
    const score = Math.round((lhr.categories.performance.score ?? 0) * 100)
    scores.push(score)
    const m = (id) => lhr.audits[id]?.displayValue ?? '?'
    console.log(
      `run ${i + 1}: performance ${score}  FCP ${m('first-contentful-paint')}  LCP ${m('largest-contentful-paint')}  TBT ${m('total-blocking-time')}  CLS ${m('cumulative-layout-shift')}  SI ${m('speed-index')}`,
    )
  }
  mkdirSync(ARTIFACTS, { recursive: true })
  writeFileSync(join(ARTIFACTS, 'lighthouse.html'), last.report)
  scores.sort((a, b) => a - b)
  console.log(`Lighthouse mobile performance of ${url}: median ${scores[Math.floor(scores.length / 2)]} (runs: ${scores.join(', ')})`)
} finally {
  await chrome.kill()
  await app?.stop()
}
