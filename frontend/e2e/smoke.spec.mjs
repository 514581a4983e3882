// The harness itself: a fresh server serves the built frontend with SPA
// fallback, the demo accounts sign in, and the admin panel loads as its own
// chunk only under /admin.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { launchBrowser, newDesktopPage, newPhonePage, startMailbox, startServer } from './harness.mjs'

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
