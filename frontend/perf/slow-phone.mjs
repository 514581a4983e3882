#!/usr/bin/env node
// How long a resident on a slow phone waits for the first topic card.
//
// Starts the real server (e2e/harness.mjs: `yishi serve` on a fresh database
// with the demo data, serving frontend/dist — run `npm run build` first) and
// Debian's chromium at 360×740, then for each case loads the home page under
// Lighthouse's "Slow 3G" conditions through the DevTools protocol —
// Network.emulateNetworkConditions 400 kbit/s down and up, 400 ms round
// trip; Emulation.setCPUThrottlingRate 4 — and measures the time from the
// start of navigation until the first topic card (a.y-card) is on screen.
// Three runs per case, the median is what counts (target ≤ 5 s):
//
//   signed out, first visit      empty cache, no session
//   returning resident           session (refresh token) in localStorage, files in the HTTP cache
//   returning resident, cold     session in localStorage, empty cache
//
// Not part of `make test` (it takes a minute or two): `npm run perf`, `make perf`.
// YISHI_BIN picks the server binary as in the browser tests; PERF_RUNS the runs per case.
import { launchBrowser, startServer } from '../e2e/harness.mjs'

const RUNS = Number(process.env.PERF_RUNS ?? 3)
const TARGET_MS = 5000
const VILLAGE = '620123101201'
const SLOW_3G = {
  offline: false,
  latency: 400,
  downloadThroughput: (400 * 1024) / 8,
  uploadThroughput: (400 * 1024) / 8,
}
const CPU_SLOWDOWN = 4
const PHONE = {
  viewport: { width: 360, height: 740 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  locale: 'zh-CN',
  timezoneId: 'Asia/Shanghai',
}

// Records, in page time (ms since navigation start), when the first topic card is on screen.
const WATCH_FIRST_CARD = () => {
  const seen = () => {
    const card = document.querySelector('a.y-card')
    if (!card) return false
    const r = card.getBoundingClientRect()
    return r.width > 0 && r.height > 0 && r.top < window.innerHeight && r.bottom > 0
  }
  const check = () => {
    if (window.__firstCard === undefined && seen()) window.__firstCard = performance.now()
  }
  new MutationObserver(check).observe(document, { childList: true, subtree: true, attributes: true })
  document.addEventListener('DOMContentLoaded', check)
}

async function throttle(page, on) {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('Network.enable')
  await cdp.send('Network.emulateNetworkConditions', on ? SLOW_3G : { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 })
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: on ? CPU_SLOWDOWN : 1 })
  return cdp
}

async function firstCard(page) {
  await page.goto('/', { waitUntil: 'commit' })
  await page.waitForFunction(() => window.__firstCard !== undefined, null, { timeout: 60_000, polling: 100 })
  return page.evaluate(() => window.__firstCard)
}

async function signedOut(browser, app) {
  const context = await browser.newContext({ baseURL: app.base, ...PHONE })
  await context.addInitScript(WATCH_FIRST_CARD)
  const page = await context.newPage()
  await throttle(page, true)
  const ms = await firstCard(page)
  await context.close()
  return ms
}

async function returning(browser, app, { cold }) {
  const context = await browser.newContext({ baseURL: app.base, ...PHONE })
  await context.addInitScript(WATCH_FIRST_CARD)
  const page = await context.newPage()
  // Signed in before, at full speed: the session is in storage (and, unless cold, the files in the cache).
  await page.goto('/login')
  await page.getByLabel('邮箱').fill('resident1@yishi.example')
  await page.getByLabel('密码').fill(app.password('resident1@yishi.example'))
  await page.getByRole('button', { name: '登录' }).click()
  await page.waitForURL((url) => url.pathname === '/')
  await page.locator('a.y-card').first().waitFor()
  await page.goto('about:blank')
  const cdp = await throttle(page, true)
  if (cold) await cdp.send('Network.clearBrowserCache')
  const ms = await firstCard(page)
  await context.close()
  return ms
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const s = (ms) => `${(ms / 1000).toFixed(2)} s`

async function main() {
  const app = await startServer()
  const browser = await launchBrowser()
  try {
    const organiser = await app.login('village@yishi.example')
    for (const title of ['过店子村文化广场修建路灯', '村道硬化工程方案征求意见', '村委会门前修建停车场']) {
      const { createTopic } = await app.gql(
        'mutation($input: TopicInput!) { createTopic(input: $input) { id } }',
        {
          input: {
            title,
            body: '请大家就这件事发表意见。',
            category: 'PUBLIC_FACILITIES',
            kind: 'DECISION',
            scopeCode: VILLAGE,
            opensAt: new Date(Date.now() + 60_000).toISOString(),
            closesAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
          },
        },
        organiser,
      )
      for (const step of ['announceTopic', 'openTopic']) {
        await app.gql(`mutation($id: ID!) { ${step}(id: $id) { state } }`, { id: createTopic.id }, organiser)
      }
    }

    const cases = [
      ['signed out, first visit', () => signedOut(browser, app)],
      ['returning resident (cached files)', () => returning(browser, app, { cold: false })],
      ['returning resident, empty cache', () => returning(browser, app, { cold: true })],
    ]
    const rows = []
    for (const [name, run] of cases) {
      const runs = []
      for (let i = 0; i < RUNS; i++) runs.push(await run())
      rows.push({ name, runs, median: median(runs) })
      console.log(`${name}: ${runs.map(s).join(', ')}`)
    }
    console.log(`\nFirst topic card on screen — Slow 3G (400 kbit/s, 400 ms RTT), CPU ×${CPU_SLOWDOWN}, 360×740, median of ${RUNS}`)
    console.log('| case | median | runs | ≤ 5 s |')
    console.log('| --- | --- | --- | --- |')
    for (const r of rows) console.log(`| ${r.name} | ${s(r.median)} | ${r.runs.map(s).join(', ')} | ${r.median <= TARGET_MS ? 'yes' : 'NO'} |`)
  } finally {
    await browser.close()
    await app.stop()
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
