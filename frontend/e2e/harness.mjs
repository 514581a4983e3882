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
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
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
