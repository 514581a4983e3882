// Browser-test harness shared by the resident and admin specs.
//
// Real parts only: a real `yishi serve` (the debug binary; built with cargo
// when missing) on a free port with a fresh SQLite database in a temporary
// directory, serving the built frontend (frontend/dist; run `npm run build`
// first — this harness builds nothing of the frontend); a real SMTP server
// (npm smtp-server) on a loopback port that collects every email the
// backend sends; Debian's chromium driven by playwright-core.
//
//   const mail = await startMailbox()
//   const app = await startServer({ mailbox: mail })
//   const token = await app.login('village@yishi.example')   // demo accounts, passwords parsed from stdout
//   await app.gql('mutation { … }', vars, token)
//   const browser = await launchBrowser()
//   const page = await newPhonePage(browser, app)            // 390×844
//   await page.goto('/')   (relative to app.base)
//   await screenshot(page, 'resident-01-home')                // → e2e/artifacts/
//   await expectNoSeriousA11yViolations(page, 'home')
//   …
//   await browser.close(); await app.stop(); await mail.close()
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SMTPServer } from 'smtp-server'
import { simpleParser } from 'mailparser'
import { chromium } from 'playwright-core'
import { AxeBuilder } from '@axe-core/playwright'

export const FRONTEND = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const REPO = resolve(FRONTEND, '..')
export const ARTIFACTS = join(FRONTEND, 'e2e', 'artifacts')
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** The `yishi` debug binary; `cargo build -p yishi` when it is missing. */
export function yishiBinary() {
  if (process.env.YISHI_BIN) return process.env.YISHI_BIN
  const target = process.env.CARGO_TARGET_DIR ?? '/var/tmp/yishi-target'
  const bin = join(target, 'debug', 'yishi')
  if (!existsSync(bin)) {
    console.log(`building ${bin} …`)
    const r = spawnSync('cargo', ['build', '-p', 'yishi'], {
      cwd: REPO,
      stdio: 'inherit',
      env: { ...process.env, CARGO_TARGET_DIR: target },
    })
    if (r.status !== 0) throw new Error('cargo build -p yishi failed')
  }
  return bin
}

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolvePort(port))
    })
  })
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/**
 * An SMTP server on 127.0.0.1 that keeps every message:
 * `{ to, subject, text, html, date }`. `waitFor(pred)` resolves with the
 * first message (already received or arriving) that matches.
 */
export async function startMailbox() {
  const messages = []
  const waiters = new Set()
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((mail) => {
          const msg = {
            to: mail.to?.text ?? '',
            subject: mail.subject ?? '',
            text: mail.text ?? '',
            html: typeof mail.html === 'string' ? mail.html : '',
            date: new Date(),
          }
          messages.push(msg)
          for (const w of waiters) if (w.pred(msg)) w.resolve(msg)
          callback()
        })
        .catch(callback)
    },
  })
  const port = await freePort()
  await new Promise((r, j) => {
    server.once('error', j)
    server.listen(port, '127.0.0.1', r)
  })
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    waitFor(pred, timeoutMs = 30_000) {
      const found = messages.find(pred)
      if (found) return Promise.resolve(found)
      return new Promise((res, rej) => {
        const w = {
          pred,
          resolve: (m) => {
            clearTimeout(timer)
            waiters.delete(w)
            res(m)
          },
        }
        const timer = setTimeout(() => {
          waiters.delete(w)
          rej(new Error(`no matching email within ${timeoutMs} ms; got: ${messages.map((m) => `${m.to} «${m.subject}»`).join(', ') || 'none'}`))
        }, timeoutMs)
        waiters.add(w)
      })
    },
    close: () => new Promise((r) => server.close(r)),
  }
}

/** The first link in an email whose path starts with `path` (e.g. '/verify-email'). */
export function linkIn(mail, path) {
  const re = new RegExp(`https?://[^\\s"'<>]+${path.replace(/[/?]/g, (c) => `\\${c}`)}[^\\s"'<>]*`)
  const m = (mail.text.match(re) ?? mail.html.match(re))?.[0]
  if (!m) throw new Error(`no ${path} link in «${mail.subject}»:\n${mail.text}`)
  return m.replace(/&amp;/g, '&')
}

/**
 * Starts `yishi serve` on a fresh database. Options: `mailbox` (from
 * startMailbox), `env` (extra variables, e.g. rate limits for a test of
 * them). Resolves once /readyz answers and the demo accounts are parsed.
 */
export async function startServer({ mailbox, env = {} } = {}) {
  if (!existsSync(join(FRONTEND, 'dist', 'index.html'))) {
    throw new Error('frontend/dist is missing: run `npm run build` first')
  }
  const bin = yishiBinary()
  const dir = mkdtempSync(join(tmpdir(), 'yishi-e2e-'))
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const childEnv = {
    ...process.env,
    DATABASE_URL: `sqlite://${dir}/yishi.db?mode=rwc`,
    YISHI_BIND: `127.0.0.1:${port}`,
    YISHI_PUBLIC_URL: base,
    YISHI_DATA_DIR: dir,
    YISHI_STATIC_DIR: join(FRONTEND, 'dist'),
    YISHI_NOTICE_PERIOD_HOURS: '0',
    YISHI_SCHEDULER_INTERVAL_SECS: '1',
    YISHI_DEMO_DATA: 'true',
    YISHI_LOG: process.env.YISHI_LOG ?? 'warn',
    YISHI_MAIL_RATE_PER_SEC: '100',
    // Tests sign in many times from one address; rate limits have tests of their own.
    YISHI_RATE_LIMIT_LOGIN_PER_IP: '0',
    YISHI_RATE_LIMIT_REGISTER_PER_IP: '0',
    YISHI_RATE_LIMIT_PASSWORD_RESET_PER_IP: '0',
    YISHI_RATE_LIMIT_OPINION_PER_IP: '0',
    YISHI_RATE_LIMIT_LOGIN_PER_ACCOUNT: '0',
    YISHI_RATE_LIMIT_REGISTER_PER_ACCOUNT: '0',
    YISHI_RATE_LIMIT_PASSWORD_RESET_PER_ACCOUNT: '0',
    YISHI_RATE_LIMIT_OPINION_PER_ACCOUNT: '0',
    ...(mailbox ? { SMTP_URL: mailbox.url } : {}),
    ...env,
  }
  if (!mailbox) delete childEnv.SMTP_URL
  const child = spawn(bin, ['serve'], { cwd: dir, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  let exited = null
  child.on('exit', (code, signal) => (exited = { code, signal }))

  const accounts = new Map()
  const deadline = Date.now() + 120_000
  for (;;) {
    if (exited) throw new Error(`yishi serve exited (${JSON.stringify(exited)}):\n${out}\n${err}`)
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`yishi serve did not become ready:\n${out}\n${err}`)
    }
    if (out.includes('Demo accounts')) {
      try {
        const res = await fetch(`${base}/readyz`)
        if (res.ok) break
      } catch {
        /* not listening yet */
      }
    }
    await sleep(200)
  }
  for (const line of out.split('\n')) {
    const m = line.match(/^\s+(\S+@\S+)\s+(\S+)\s+(.+)$/)
    if (m) accounts.set(m[1], { email: m[1], password: m[2], what: m[3].trim() })
  }
  if (accounts.size === 0) throw new Error(`no demo accounts in the output:\n${out}`)

  const app = {
    base,
    port,
    dir,
    accounts,
    /** Output so far (stdout, stderr), for failure messages. */
    logs: () => `${out}\n${err}`,
    password(email) {
      const a = accounts.get(email)
      if (!a) throw new Error(`no demo account ${email}`)
      return a.password
    },
    /** POST /graphql; throws on errors, returns data. */
    async gql(query, variables = {}, token) {
      const res = await fetch(`${base}/graphql`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify({ query, variables }),
      })
      const body = await res.json()
      if (body.errors?.length) {
        const e = new Error(`GraphQL: ${body.errors.map((x) => `${x.extensions?.code}: ${x.message}`).join('; ')}`)
        e.errors = body.errors
        throw e
      }
      return body.data
    },
    /** Signs in (a demo account by default password) and returns the access token. */
    async login(email, password) {
      const data = await app.gql(
        'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }',
        { e: email, p: password ?? app.password(email) },
      )
      return data.login.accessToken
    },
    async stop() {
      if (!exited) {
        child.kill('SIGTERM')
        for (let i = 0; i < 50 && !exited; i++) await sleep(100)
        if (!exited) child.kill('SIGKILL')
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
  return app
}

/** Debian's chromium, headless. */
export function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (or set CHROMIUM_PATH)`)
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  })
}

/**
 * Every Content-Security-Policy violation any page of this run reported
 * (chromium logs each one to the console): the app must run under the
 * server's CSP without one. Specs check it with `assertNoCspViolations()`
 * in their `after` hook.
 */
export const cspViolations = []

function watchCsp(page) {
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) cspViolations.push(`${page.url()}: ${msg.text()}`)
  })
  return page
}

/** Throws listing the CSP violations seen so far (see `cspViolations`). */
export function assertNoCspViolations() {
  if (cspViolations.length) {
    throw new Error(`Content-Security-Policy violations:\n  ${cspViolations.join('\n  ')}`)
  }
}

/** A phone-sized page (390×844, touch, zh-CN) whose relative URLs go to `app`. */
export async function newPhonePage(browser, app, opts = {}) {
  const context = await browser.newContext({
    baseURL: app.base,
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    ...opts,
  })
  context.setDefaultTimeout(15_000)
  return watchCsp(await context.newPage())
}

/** A desktop page (1440×900) for the admin panel. */
export async function newDesktopPage(browser, app, opts = {}) {
  const context = await browser.newContext({
    baseURL: app.base,
    viewport: { width: 1440, height: 900 },
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    ...opts,
  })
  context.setDefaultTimeout(15_000)
  return watchCsp(await context.newPage())
}

/** Saves a full-page PNG under e2e/artifacts/. */
export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true })
  const path = join(ARTIFACTS, `${name}.png`)
  await page.screenshot({ path, fullPage: true })
  return path
}

/**
 * Runs axe-core (WCAG 2.1 A/AA rules) on the page; throws listing every
 * serious or critical violation. The full report goes to artifacts.
 */
export async function expectNoSeriousA11yViolations(page, name) {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze()
  mkdirSync(ARTIFACTS, { recursive: true })
  writeFileSync(join(ARTIFACTS, `axe-${name}.json`), JSON.stringify(result.violations, null, 2))
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
  if (bad.length) {
    const lines = bad.map(
      (v) => `${v.impact} ${v.id}: ${v.help}\n    ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('\n    ')}`,
    )
    throw new Error(`accessibility violations on ${name}:\n  ${lines.join('\n  ')}`)
  }
  return result.violations
}

/**
 * Measures what a reader and a finger meet on the current page:
 * - `smallText`: visible text nodes whose computed font size is under
 *   `minFont` (px; skipped when not given);
 * - `smallTargets`: visible interactive elements (links, buttons, inputs,
 *   ARIA widgets, Vant's clickable cells, tabs, options…) narrower or lower
 *   than `minTarget` px;
 * - `headings`: the font sizes of h1, h2 and h3 and the page's body text
 *   size (the size most visible characters outside headings have), and
 *   `hierarchy`: the places where h1 > h2 > h3 > body does not hold.
 * Each offender is `{ what, text, size | box }` for the failure message.
 * Off-screen (skip links) and visually hidden (.sr-only) text is skipped. A
 * small control inside a larger interactive row that does the same thing
 * (Vant's radio icon inside its clickable cell) counts the row as its target.
 */
export async function measureReadability(page, { minFont = 0, minTarget = 0 } = {}) {
  return page.evaluate(
    ({ minFont, minTarget }) => {
      const shown = (el) =>
        el.checkVisibility({ opacityProperty: true, visibilityProperty: true, contentVisibilityAuto: true })
      const onPage = (r) => r.width > 1 && r.height > 1 && r.right > 0 && r.left < window.innerWidth
      const describe = (el) => {
        const cls = typeof el.className === 'string' && el.className ? `.${el.className.trim().split(/\s+/).slice(0, 3).join('.')}` : ''
        return `${el.tagName.toLowerCase()}${el.getAttribute('role') ? `[role=${el.getAttribute('role')}]` : ''}${cls}`
      }
      const px = (el) => parseFloat(getComputedStyle(el).fontSize)

      const smallText = []
      const bodyChars = new Map()
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT)
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const text = node.textContent.trim()
        const el = node.parentElement
        if (!text || !el || el.closest('script, style, noscript, template') || !shown(el)) continue
        const range = document.createRange()
        range.selectNodeContents(node)
        if (!onPage(range.getBoundingClientRect())) continue
        const size = px(el)
        if (minFont && size < minFont - 0.01) smallText.push({ what: describe(el), text: text.slice(0, 40), size })
        if (!el.closest('h1, h2, h3, h4, h5, h6')) bodyChars.set(size, (bodyChars.get(size) ?? 0) + text.length)
      }

      const INTERACTIVE = [
        'a[href]',
        'button',
        'input:not([type=hidden])',
        'select',
        'textarea',
        'summary',
        '[role=button]',
        '[role=link]',
        '[role=radio]',
        '[role=checkbox]',
        '[role=switch]',
        '[role=tab]',
        '[role=menuitem]',
        '[role=menuitemradio]',
        '[role=option]',
        '[tabindex]:not([tabindex="-1"])',
        '.van-cell--clickable',
        '.van-nav-bar__left',
        '.van-dropdown-menu__item',
        '.van-cascader__option',
        '.van-tabbar-item',
      ].join(',')
      const smallTargets = []
      if (minTarget) {
        for (const el of document.querySelectorAll(INTERACTIVE)) {
          if (!shown(el)) continue
          const r = el.getBoundingClientRect()
          if (!onPage(r)) continue
          const big = (box) => box.width >= minTarget - 0.5 && box.height >= minTarget - 0.5
          const row = el.parentElement?.closest(INTERACTIVE)
          if (!big(r) && !(row && big(row.getBoundingClientRect()))) {
            smallTargets.push({
              what: describe(el),
              text: (el.textContent ?? '').trim().slice(0, 30) || el.getAttribute('aria-label') || '',
              box: `${Math.round(r.width)}×${Math.round(r.height)}`,
            })
          }
        }
      }

      const sizesOf = (sel) =>
        [...document.querySelectorAll(sel)]
          .filter((el) => getComputedStyle(el).display !== 'none' && el.textContent.trim())
          .map(px)
      const body = [...bodyChars.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null
      const headings = { h1: sizesOf('h1'), h2: sizesOf('h2'), h3: sizesOf('h3'), body: body === null ? [] : [body] }
      const levels = ['h1', 'h2', 'h3', 'body'].filter((k) => headings[k].length)
      const hierarchy = []
      for (let i = 0; i + 1 < levels.length; i++) {
        const upper = Math.min(...headings[levels[i]])
        const lower = Math.max(...headings[levels[i + 1]])
        if (!(upper > lower)) hierarchy.push(`${levels[i]} ${upper}px is not above ${levels[i + 1]} ${lower}px`)
      }
      return { smallText, smallTargets, headings, hierarchy }
    },
    { minFont, minTarget },
  )
}

/**
 * The route paths declared in a router file (relative to frontend/, e.g.
 * 'src/admin/routes.ts'), each with a RegExp matching the URLs it serves
 * (`:id` → one segment, `:x(.*)*` → anything), for specs that must visit
 * every page: `uncoveredRoutes(file, visitedPaths, prefix)` lists the
 * declared paths no visited path matches.
 */
export function routePatterns(file) {
  const text = readFileSync(join(FRONTEND, file), 'utf8')
  return [...text.matchAll(/\{\s*path:\s*'([^']*)'(?![^}]*redirect)/g)].map((m) => {
    const path = m[1]
    const source = path
      .split('/')
      .map((seg) => (/^:\w+\(\.\*\)\*?$/.test(seg) ? '.*' : seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/')
    return { path, re: new RegExp(`^${source}$`) }
  })
}

export function uncoveredRoutes(file, visitedPaths, prefix = '/') {
  const visited = visitedPaths.map((p) => new URL(p, 'http://x').pathname)
  return routePatterns(file)
    .filter(({ path }) => !path.startsWith('/admin'))
    // An absolute path (a layout's) is matched whole, a child's after the prefix.
    .filter(({ path, re }) => !visited.some((v) => (path.startsWith('/') ? re.test(v) : v.startsWith(prefix) && re.test(v.slice(prefix.length)))))
    .map(({ path }) => path)
}

/**
 * The procedure opens a topic at its `opensAt` and closes it at its
 * `closesAt`, not before (the server refuses earlier moves); here the
 * scheduler runs every second. `soon(ms)` is a time `ms` from now, for
 * topics that should open or close within the test.
 */
export const soon = (ms) => new Date(Date.now() + ms).toISOString()

/** Waits until topic `id` is in `state` (moved by the scheduler on time). */
export async function waitForTopicState(app, token, id, state, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const { topic } = await app.gql('query($id: ID!) { topic(id: $id) { state } }', { id }, token)
    if (topic.state === state) return
    if (Date.now() > deadline) throw new Error(`topic ${id} stayed ${topic.state}, never ${state}`)
    await sleep(250)
  }
}

/**
 * Polls the API until topic `id` is in `state` (the scheduler opens and
 * closes topics on time by itself; the server refuses to do it earlier).
 */
export async function waitForState(app, id, state, token, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs
  let last = null
  while (Date.now() < deadline) {
    last = (await app.gql('query($id: ID!) { topic(id: $id) { state } }', { id }, token)).topic.state
    if (last === state) return
    await sleep(250)
  }
  throw new Error(`topic ${id} stayed ${last}, never ${state} within ${timeoutMs} ms`)
}

/**
 * Creates a topic that opens `leadMs` from now (announcing needs the
 * opening ahead; the notice period is 0 in these tests), announces it and
 * waits for the scheduler to open it. Returns its id.
 */
export async function createOpenTopic(app, token, input, leadMs = 3_000) {
  const created = await app.gql(
    'mutation($input: TopicInput!) { createTopic(input: $input) { id } }',
    {
      input: {
        closesAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
        ...input,
        opensAt: new Date(Date.now() + leadMs).toISOString(),
      },
    },
    token,
  )
  const id = created.createTopic.id
  await app.gql('mutation($id: ID!) { announceTopic(id: $id) { state } }', { id }, token)
  await waitForState(app, id, 'OPEN', token, leadMs + 30_000)
  return id
}

/**
 * Closes an open topic before its closing time the only way the procedure
 * allows: the organiser requests an early close with a public reason and
 * the demo supervisor (supervisor@yishi.example, 榆中县) countersigns it.
 */
export async function closeEarly(app, id, organiserToken, reason = '意见已充分表达，村民代表会议同意提前截止。') {
  await app.gql('mutation($id: ID!, $r: String!) { requestEarlyClose(topicId: $id, reason: $r) { id } }', { id, r: reason }, organiserToken)
  const supervisor = await app.login('supervisor@yishi.example')
  const done = await app.gql(
    'mutation($id: ID!) { countersignEarlyClose(topicId: $id, approve: true) { state } }',
    { id },
    supervisor,
  )
  if (done.countersignEarlyClose.state !== 'CLOSED') throw new Error(`early close left topic ${id} ${done.countersignEarlyClose.state}`)
}
