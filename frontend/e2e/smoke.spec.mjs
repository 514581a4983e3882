// The harness itself: a fresh server serves the built frontend with SPA
// fallback, the demo accounts sign in, and the admin panel loads as its own
// chunk only under /admin.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  assertNoCspViolations,
  cspViolations,
  launchBrowser,
  newDesktopPage,
  newPhonePage,
  startMailbox,
  startServer,
} from './harness.mjs'

let mail, app, browser
before(async () => {
  mail = await startMailbox()
  app = await startServer({ mailbox: mail })
  browser = await launchBrowser()
})
after(async () => {
  await browser?.close()
  await app?.stop()
  await mail?.close()
})

test('the demo accounts are parsed and can sign in', async () => {
  assert.ok(app.accounts.has('village@yishi.example'))
  const token = await app.login('resident1@yishi.example')
  const data = await app.gql('{ me { email residency { status } } }', {}, token)
  assert.equal(data.me.residency.status, 'APPROVED')
})

test('a deep link is answered by the app (SPA fallback) with lang zh-CN', async () => {
  const page = await newPhonePage(browser, app)
  const scripts = []
  page.on('request', (r) => r.resourceType() === 'script' && scripts.push(r.url()))
  await page.goto('/topics/1')
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN')
  await page.waitForLoadState('networkidle')
  assert.ok(!scripts.some((u) => /AdminApp|routes-/.test(u)), `admin chunks on a resident page: ${scripts.join(', ')}`)
  await page.context().close()
})

test('/admin loads the admin routes chunk', async () => {
  const page = await newDesktopPage(browser, app)
  const scripts = []
  page.on('request', (r) => r.resourceType() === 'script' && scripts.push(r.url()))
  await page.goto('/admin')
  await page.waitForLoadState('networkidle')
  assert.ok(scripts.some((u) => /\/routes-[\w-]+\.js$/.test(u)), `no admin routes chunk: ${scripts.join(', ')}`)
  await page.context().close()
})

test('the app runs under the CSP, which stops a script injected into the page', async () => {
  const page = await newPhonePage(browser, app)
  const assets = []
  page.on('response', (r) => r.url().includes('/assets/') && assets.push(r))
  const doc = await page.goto('/')
  const headers = doc.headers()
  assert.match(headers['content-security-policy'], /script-src 'self';/)
  assert.match(headers['content-security-policy'], /frame-ancestors 'none'/)
  assert.equal(headers['x-content-type-options'], 'nosniff')
  assert.equal(headers['referrer-policy'], 'no-referrer')
  assert.equal(headers['cache-control'], 'no-cache')
  await page.waitForLoadState('networkidle')
  assert.ok(assets.length > 0, 'no hashed assets loaded')
  for (const r of assets) {
    assert.equal((await r.allHeaders())['cache-control'], 'public, max-age=31536000, immutable', r.url())
  }
  // What an XSS would try: an inline script and an inline event handler.
  const before = cspViolations.length
  const ran = await page.evaluate(async () => {
    const s = document.createElement('script')
    s.textContent = 'window.__injected = true'
    document.body.appendChild(s)
    const img = document.createElement('img')
    img.setAttribute('onerror', 'window.__injected = true')
    img.src = 'data:,not-an-image'
    document.body.appendChild(img)
    await new Promise((r) => setTimeout(r, 200))
    return window.__injected === true
  })
  assert.equal(ran, false, 'an injected inline script ran')
  assert.ok(cspViolations.length > before, 'the browser reported no CSP violation for the injected script')
  cspViolations.splice(before)
  await page.context().close()
})

test('no page of the smoke run broke the Content-Security-Policy', () => {
  assertNoCspViolations()
})
