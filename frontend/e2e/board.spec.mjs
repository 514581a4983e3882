// The public notice board (公开栏): a signed-out visitor on a small phone
// reads the township's and the village's board, follows the township's
// table down to a village, reads it in large-text mode, and prints it on A4.
//
// The topics are made through the API as the village organiser, and the
// scheduler (1 s) moves them: one announced for next week, one opened a few
// seconds after creation, and three with a six-second window that close and
// get an outcome — one whose deadline is extended, one whose deadline passes
// (逾期未落实), one completed on time (按期完成率 100%).
import { after, afterEach, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import {
  ARTIFACTS,
  assertNoCspViolations,
  expectNoSeriousA11yViolations,
  launchBrowser,
  newPhonePage,
  screenshot,
  startServer,
} from './harness.mjs'

const TOWNSHIP = '620123101'
const VILLAGE = '620123101201'
// The names as the shipped division list has them.
const VILLAGE_NAME = '过店子村委会'
const OTHER_VILLAGE_NAME = '太平堡村委会'
const TITLES = {
  announced: '村委会门前广场夜间照明改造',
  open: '三组至五组生产路硬化',
  extended: '村卫生室搬迁选址',
  late: '过店子村垃圾清运点调整',
  done: '村小学门口减速带安装',
}
const SECOND = 1000
const DAY = 86_400 * SECOND

let app, browser, page, organiser
const ids = {}
const times = {}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** 2026年12月9日 18:05 — China time, as the board shows it. */
function chinaDateTime(iso) {
  return new Intl.DateTimeFormat('zh-CN', {
    timeZone: 'Asia/Shanghai',
    year: 'numeric',
    month: 'long',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(new Date(iso))
}
function chinaDate(iso) {
  return new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', year: 'numeric', month: 'long', day: 'numeric' }).format(new Date(iso))
}

async function createAndAnnounce(title, opensIn, closesIn) {
  const opensAt = new Date(Date.now() + opensIn).toISOString()
  const closesAt = new Date(Date.now() + closesIn).toISOString()
  const { createTopic } = await app.gql(
    'mutation($input: TopicInput!) { createTopic(input: $input) { id } }',
    {
      input: {
        title,
        body: '请大家就这件事发表意见。',
        category: 'PUBLIC_FACILITIES',
        kind: 'DECISION',
        scopeCode: VILLAGE,
        opensAt,
        closesAt,
      },
    },
    organiser,
  )
  await app.gql('mutation($id: ID!) { announceTopic(id: $id) { state } }', { id: createTopic.id }, organiser)
  return { id: createTopic.id, opensAt, closesAt }
}

async function topic(id) {
  const { topic } = await app.gql('query($id: ID!) { topic(id: $id) { state overdue } }', { id })
  return topic
}

/** Polls until `pred(topic)` (the scheduler ticks every second). */
async function waitForTopic(id, pred, what) {
  const deadline = Date.now() + 30 * SECOND
  for (;;) {
    const tp = await topic(id)
    if (pred(tp)) return tp
    if (Date.now() > deadline) throw new Error(`topic ${id} never became ${what}: ${JSON.stringify(tp)}`)
    await sleep(300)
  }
}

async function publishOutcome(id, deadlineIn) {
  const deadline = new Date(Date.now() + deadlineIn).toISOString()
  await app.gql(
    'mutation($id: ID!, $input: OutcomeInput!) { publishOutcome(topicId: $id, input: $input) { version } }',
    {
      id,
      input: { decision: '按多数意见办理。', adoptedStance: 'SUPPORT', responsibleBody: '过店子村村民委员会', deadline },
    },
    organiser,
  )
  return deadline
}

/** Text sizes under 18 px inside the board (large-text mode promises none). */
function smallTexts() {
  return page.evaluate(() => {
    const small = []
    const walker = document.createTreeWalker(document.querySelector('.notice-board'), NodeFilter.SHOW_TEXT)
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement
      if (!n.textContent.trim() || !el || el.closest('.sr-only')) continue
      const style = getComputedStyle(el)
      if (style.display === 'none' || el.getClientRects().length === 0) continue
      const size = parseFloat(style.fontSize)
      if (size < 18) small.push(`${size}px «${n.textContent.trim().slice(0, 20)}»`)
    }
    return small
  })
}

/** Whether the page scrolls sideways (it must not, on a 360 px phone). */
function overflowsSideways() {
  return page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth + 1)
}

/** The section of the board headed `name`. */
const section = (name) => page.locator('section').filter({ has: page.getByRole('heading', { level: 2, name, exact: true }) })

before(async () => {
  app = await startServer()
  browser = await launchBrowser()
  organiser = await app.login('village@yishi.example')

  const announced = await createAndAnnounce(TITLES.announced, 7 * DAY, 14 * DAY)
  const open = await createAndAnnounce(TITLES.open, 3 * SECOND, 10 * DAY)
  const extended = await createAndAnnounce(TITLES.extended, 2 * SECOND, 6 * SECOND)
  const late = await createAndAnnounce(TITLES.late, 2 * SECOND, 6 * SECOND)
  const done = await createAndAnnounce(TITLES.done, 2 * SECOND, 6 * SECOND)
  Object.assign(ids, { announced: announced.id, open: open.id, extended: extended.id, late: late.id, done: done.id })
  Object.assign(times, { announced, open })

  await waitForTopic(open.id, (t) => t.state === 'OPEN', 'open')
  for (const id of [extended.id, late.id, done.id]) await waitForTopic(id, (t) => t.state === 'CLOSED', 'closed')

  times.original = await publishOutcome(extended.id, 30 * DAY)
  times.extended = new Date(Date.now() + 60 * DAY).toISOString()
  await app.gql(
    'mutation($id: ID!, $d: DateTime!, $r: String!) { extendDeadline(topicId: $id, deadline: $d, reason: $r) { id } }',
    { id: extended.id, d: times.extended, r: '新址土地手续还在办理。' },
    organiser,
  )
  await publishOutcome(late.id, 3 * SECOND)
  await publishOutcome(done.id, 30 * DAY)
  await app.gql('mutation($id: ID!) { startImplementation(topicId: $id) { state } }', { id: done.id }, organiser)
  await app.gql('mutation($id: ID!) { completeTopic(topicId: $id) { state } }', { id: done.id }, organiser)
  await waitForTopic(late.id, (t) => t.overdue, 'overdue')

  // A small phone (360×740), signed out.
  page = await newPhonePage(browser, app, { viewport: { width: 360, height: 740 } })
})

after(async () => {
  await browser?.close()
  await app?.stop()
})

afterEach(async (t) => {
  if (page && !page.isClosed()) {
    await screenshot(page, `board-last-${t.name.slice(0, 40).replace(/\W+/g, '-')}`).catch(() => {})
  }
})

test('a signed-out visitor reads the township board: announced and open topics with their dates', async () => {
  await page.goto(`/board/${TOWNSHIP}`)
  await page.getByRole('heading', { level: 1, name: '夏官营镇公开栏' }).waitFor()
  assert.equal(await page.evaluate(() => localStorage.getItem('yishi.refreshToken')), null, 'signed in')

  const announced = section('预告')
  await announced.getByRole('link', { name: TITLES.announced }).waitFor()
  const announcedText = await announced.innerText()
  assert.ok(announcedText.includes(`开始征集：${chinaDateTime(times.announced.opensAt)}`), announcedText)
  assert.ok(announcedText.includes(`征集截止：${chinaDateTime(times.announced.closesAt)}`), announcedText)

  const open = section('征集中')
  const link = open.getByRole('link', { name: TITLES.open })
  assert.equal(await link.getAttribute('href'), `/topics/${ids.open}`)
  assert.ok((await open.innerText()).includes(`征集截止：${chinaDateTime(times.open.closesAt)}`), await open.innerText())

  // The on-time rate: one completed, on time.
  assert.match(await section('按期完成率').innerText(), /100%/)
  assert.equal(await overflowsSideways(), false, 'the board scrolls sideways on a 360 px phone')
  await screenshot(page, 'board-01-township')
  await expectNoSeriousA11yViolations(page, 'board-township')
})

test('the township table lists its villages with their figures and links to a village board', async () => {
  const table = section('下级区划').getByRole('table')
  for (const name of ['区划', '征集中', '逾期', '按期完成率']) {
    await table.getByRole('columnheader', { name, exact: true }).waitFor()
  }
  const row = table.getByRole('row').filter({ has: page.getByRole('rowheader', { name: VILLAGE_NAME }) })
  const cells = await row.getByRole('cell').allInnerTexts()
  assert.deepEqual(cells, ['1', '1', '100%'], `${VILLAGE_NAME}: open, overdue, on time = ${cells}`)
  // A village with nothing completed shows 暂无.
  const other = table.getByRole('row').filter({ has: page.getByRole('rowheader', { name: OTHER_VILLAGE_NAME }) })
  assert.deepEqual(await other.getByRole('cell').allInnerTexts(), ['0', '0', '暂无'])

  await row.getByRole('link', { name: VILLAGE_NAME }).click()
  await page.waitForURL(`**/board/${VILLAGE}`)
  await page.getByRole('heading', { level: 1, name: `${VILLAGE_NAME}公开栏` }).waitFor()
})

test('the village board shows outcomes with original and extended deadlines, and what is overdue', async () => {
  await page.goto(`/board/${VILLAGE}`)
  await page.getByRole('heading', { level: 1, name: `${VILLAGE_NAME}公开栏` }).waitFor()
  await section('预告').getByRole('link', { name: TITLES.announced }).waitFor()
  await section('征集中').getByRole('link', { name: TITLES.open }).waitFor()

  const implementing = section('落实中')
  const extended = implementing.getByRole('listitem').filter({ hasText: TITLES.extended })
  const text = await extended.innerText()
  assert.ok(text.includes(`原定期限：${chinaDate(times.original)}`), text)
  assert.ok(text.includes(`延期至：${chinaDate(times.extended)}`), text)

  const overdue = section('逾期事项')
  await overdue.getByRole('heading', { level: 3, name: /逾期未落实/ }).waitFor()
  await overdue.getByRole('link', { name: TITLES.late }).waitFor()
  assert.equal(await overdue.getByRole('heading', { level: 3, name: /逾期未形成协商意见/ }).count(), 0)

  assert.equal(await section('下级区划').count(), 0, 'a village has no divisions below')
  // Headings in order: one h1, then h2s, h3s only under them.
  const levels = await page.locator('.notice-board').locator('h1, h2, h3, h4').evaluateAll((hs) => hs.map((h) => Number(h.tagName[1])))
  assert.equal(levels[0], 1)
  for (let i = 1; i < levels.length; i++) assert.ok(levels[i] <= levels[i - 1] + 1, `heading levels skip: ${levels}`)
  await screenshot(page, 'board-02-village')
  await expectNoSeriousA11yViolations(page, 'board-village')
})

test('the topic page links to the board of its scope', async () => {
  await page.goto(`/topics/${ids.open}`)
  await page.getByRole('link', { name: `${VILLAGE_NAME}公开栏` }).click()
  await page.waitForURL(`**/board/${VILLAGE}`)
  await page.getByRole('heading', { level: 1, name: `${VILLAGE_NAME}公开栏` }).waitFor()
})

test('a verified resident finds the board of their village from the home page', async () => {
  const resident = await newPhonePage(browser, app, { viewport: { width: 360, height: 740 } })
  try {
    await resident.goto('/login')
    await resident.getByLabel('邮箱').fill('resident1@yishi.example')
    await resident.getByLabel('密码').fill(app.password('resident1@yishi.example'))
    await resident.getByRole('button', { name: '登录' }).click()
    await resident.getByText('我的村（社区）').waitFor()
    await resident.getByRole('link', { name: '本村公开栏' }).click()
    await resident.waitForURL(`**/board/${VILLAGE}`)
    await resident.getByRole('heading', { level: 1, name: `${VILLAGE_NAME}公开栏` }).waitFor()
  } finally {
    await resident.context().close()
  }
})

test('an unknown division code says so', async () => {
  await page.goto('/board/620123101999')
  await page.getByRole('heading', { level: 1, name: '未找到该区划' }).waitFor()
})

test('in large-text mode no text on the board is under 18 px and nothing scrolls sideways', async () => {
  await page.goto(`/board/${TOWNSHIP}`)
  await page.getByRole('heading', { level: 1, name: '夏官营镇公开栏' }).waitFor()
  await page.getByRole('button', { name: '大字模式（适老化）' }).click()
  await page.waitForFunction(() => document.documentElement.classList.contains('elder'))
  assert.deepEqual(await smallTexts(), [])
  assert.equal(await overflowsSideways(), false, 'the large-text board scrolls sideways on a 360 px phone')
  const table = await page.locator('.table-wrap').evaluate((el) => ({ scroll: el.scrollWidth, width: el.clientWidth }))
  assert.ok(table.scroll <= table.width + 1, `the table of villages needs sideways scrolling: ${JSON.stringify(table)}`)
  await screenshot(page, 'board-03-large-text')
  await expectNoSeriousA11yViolations(page, 'board-large-text')
  await page.getByRole('button', { name: '大字模式（适老化）' }).click()
  await page.waitForFunction(() => !document.documentElement.classList.contains('elder'))
})

test('printed, the board has no app chrome, is black on white, and the PDF names the division, the date and the address', async () => {
  await page.goto(`/board/${TOWNSHIP}`)
  await page.getByRole('heading', { level: 1, name: '夏官营镇公开栏' }).waitFor()
  await page.emulateMedia({ media: 'print' })
  const styles = await page.evaluate(() => {
    const shown = (sel) => {
      const el = document.querySelector(sel)
      return !!el && getComputedStyle(el).display !== 'none' && el.getClientRects().length > 0
    }
    return {
      header: shown('.resident > header'),
      navBar: shown('.van-nav-bar'),
      tabbar: shown('.van-tabbar'),
      printButton: shown('.print-button'),
      printedAt: shown('.notice-board .print-only'),
      body: getComputedStyle(document.body).backgroundColor,
      heading: getComputedStyle(document.querySelector('h1')).color,
      link: getComputedStyle(document.querySelector('.notice-board a')).color,
    }
  })
  assert.deepEqual(styles, {
    header: false,
    navBar: false,
    tabbar: false,
    printButton: false,
    printedAt: true,
    body: 'rgb(255, 255, 255)',
    heading: 'rgb(0, 0, 0)',
    link: 'rgb(0, 0, 0)',
  })

  mkdirSync(ARTIFACTS, { recursive: true })
  const pdf = join(ARTIFACTS, 'board-township.pdf')
  await page.pdf({ path: pdf, format: 'A4' })
  await page.emulateMedia({ media: null })
  const r = spawnSync('pdftotext', ['-layout', pdf, '-'], { encoding: 'utf8' })
  if (r.error) {
    console.log('pdftotext missing (apt-get install -y poppler-utils): PDF text not checked')
    return
  }
  const text = r.stdout.replace(/[ \t]+/g, ' ')
  assert.ok(text.includes('夏官营镇公开栏'), text)
  const today = new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', year: 'numeric', month: 'long', day: 'numeric' }).format(new Date())
  assert.ok(text.includes(`打印时间：${today}`), text)
  assert.ok(text.includes(`${app.base}/board/${TOWNSHIP}`), text)
  assert.ok(!/首页|大字模式/.test(text.split('夏官营镇公开栏')[0]), `app chrome above the title:\n${text}`)
})

test('no board page broke the Content-Security-Policy', () => {
  assertNoCspViolations()
})
