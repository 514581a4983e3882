// The admin panel for everyone who has to use it:
// - axe-core (WCAG 2.1 A/AA) finds no serious or critical violation on any
//   admin page (every route in src/admin/routes.ts, each tab of a decided
//   topic) at 1440×900;
// - on a 390×844 phone the pages an organiser needs away from a desk
//   (residency approvals, a topic's live results, explanations, progress
//   updates) have no horizontal page scroll and their main action is on
//   screen and clickable; the menu opens from a button; the other pages
//   ask politely for a larger screen.
// Screenshots: e2e/artifacts/admin-access-*.png, axe reports axe-admin-*.json
import { after, afterEach, before, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  assertNoCspViolations,
  expectNoSeriousA11yViolations,
  launchBrowser,
  linkIn,
  newDesktopPage,
  newPhonePage,
  screenshot,
  startMailbox,
  startServer,
  uncoveredRoutes,
  soon,
  waitForTopicState,
} from './harness.mjs'

const TOWNSHIP = '620123101'
const VILLAGE = '620123101201'
const NEWCOMER = `newcomer.${Date.now()}@example.com`
const PASSWORD = 'huanghe-dongan-77-qiaotou'

let mail, app, browser, page, phone
const ids = {}
const days = (n) => new Date(Date.now() + n * 86_400_000).toISOString()

before(async () => {
  mail = await startMailbox()
  app = await startServer({ mailbox: mail })
  browser = await launchBrowser()
  const organiser = await app.login('township@yishi.example')
  const gql = (q, v, token = organiser) => app.gql(q, v, token)
  const create = (input) =>
    gql('mutation($input: TopicInput!) { createTopic(input: $input) { id } }', {
      input: { category: 'PUBLIC_FACILITIES', kind: 'DECISION', scopeCode: TOWNSHIP, body: '镇区冬季取暖以散煤为主。您是否同意？', opensAt: new Date(Date.now() + 60_000).toISOString(), closesAt: days(7), ...input },
    }).then((d) => d.createTopic.id)

  ids.draft = await create({ title: '镇区垃圾分类试点' })
  // Opens and closes on time, by the scheduler: the procedure refuses
  // either earlier.
  const closesAt = soon(15_000)
  ids.topic = await create({ title: '夏官营镇集中供暖改造方案', opensAt: soon(1_500), closesAt })
  await gql('mutation($id: ID!) { announceTopic(id: $id) { state } }', { id: ids.topic })
  await waitForTopicState(app, organiser, ids.topic, 'OPEN')
  for (const [r, stance] of [['resident1', 'OPPOSE'], ['resident2', 'SUPPORT'], ['resident3', 'SUPPORT']]) {
    await gql('mutation($t: ID!, $s: Stance) { submitOpinion(topicId: $t, stance: $s, reason: "取暖费太贵") { id } }', { t: ids.topic, s: stance }, await app.login(`${r}@yishi.example`))
  }
  await waitForTopicState(app, organiser, ids.topic, 'CLOSED')
  await gql('mutation($id: ID!, $input: OutcomeInput!) { publishOutcome(topicId: $id, input: $input) { version } }', {
    id: ids.topic,
    input: { decision: '实行集中供暖，低保户减免取暖费。', adoptedStance: 'SUPPORT', responsibleBody: '夏官营镇人民政府', deadline: days(90) },
  })
  await gql('mutation($t: ID!) { publishProgress(topicId: $t, body: "主干管网已开工。", percent: 30) { id } }', { t: ids.topic })
  await gql('mutation($id: ID!) { publishExplanation(topicId: $id, audience: { kind: ALL_DISSENTERS }, body: "取暖费将按面积分档。") { id } }', { id: ids.topic })

  // A pending residency request for the approvals page.
  await app.gql('mutation($i: RegisterInput!) { register(input: $i) { __typename } }', { i: { email: NEWCOMER, password: PASSWORD, displayName: '小刘' } })
  const message = await mail.waitFor((m) => m.to.includes(NEWCOMER) && /verify-email/.test(m.text))
  const token = new URL(linkIn(message, '/verify-email')).searchParams.get('token')
  await app.gql('mutation($t: String!) { verifyEmail(token: $t) { id } }', { t: token })
  await app.gql('mutation($v: String!) { requestResidency(villageCode: $v, note: "三社 8 号") { id } }', { v: VILLAGE }, await app.login(NEWCOMER, PASSWORD))

  page = await newDesktopPage(browser, app)
  phone = await newPhonePage(browser, app)
})

afterEach(async (t) => {
  for (const p of [page, phone]) {
    if (p && !p.isClosed()) await screenshot(p, `admin-access-last-${p === page ? 'desk' : 'phone'}-${t.name.slice(0, 30).replace(/\W+/g, '-')}`).catch(() => {})
  }
})

after(async () => {
  await browser?.close()
  await app?.stop()
  await mail?.close()
})

async function signIn(p, email) {
  await p.goto('/admin/login')
  await p.getByLabel('邮箱').fill(email)
  await p.getByLabel('密码').fill(app.password(email))
  await p.getByRole('button', { name: '登录' }).click()
  await p.waitForURL(/\/admin\/(dashboard|topics)/)
}

/** Waits until Element Plus's loading masks are gone and the network is quiet. */
async function settled(p) {
  await p.waitForLoadState('networkidle')
  await p.locator('.el-loading-mask').first().waitFor({ state: 'detached', timeout: 10_000 }).catch(() => {})
  await p.waitForTimeout(300) // transitions (tabs, menus)
}

const visited = []
const topicTabs = ['overview', 'opinions', 'results', 'dissent', 'explain', 'outcome', 'records']

test('the sign-in and no-access pages have no serious or critical axe violation', async () => {
  for (const [name, path] of [['login', '/admin/login'], ['forbidden', '/admin/forbidden']]) {
    visited.push(path)
    await page.goto(path)
    await page.getByRole('heading', { level: 1 }).first().waitFor()
    await settled(page)
    await expectNoSeriousA11yViolations(page, `admin-${name}`)
  }
})

test('every admin page has no serious or critical axe violation (1440×900)', async () => {
  await signIn(page, 'admin@yishi.example')
  const pages = [
    ['dashboard', '/admin/dashboard'],
    ['topics', '/admin/topics'],
    ['topic-new', '/admin/topics/new'],
    ['topic-edit', `/admin/topics/${ids.draft}/edit`],
    ...topicTabs.map((tab) => [`topic-${tab}`, `/admin/topics/${ids.topic}?tab=${tab}`]),
    ['residency', '/admin/residency'],
    ['divisions', '/admin/divisions'],
    ['roles', '/admin/roles'],
    ['suggestions', '/admin/suggestions'],
    ['audit', '/admin/audit'],
    ['outbox', '/admin/outbox'],
    ['supervision', '/admin/supervision'],
    ['referrals', '/admin/referrals'],
    ['not-found', '/admin/no-such-page'],
  ]
  const failures = []
  for (const [name, path] of pages) {
    visited.push(path)
    await page.goto(path)
    await page.getByRole('heading', { level: 1 }).first().waitFor()
    await settled(page)
    await screenshot(page, `admin-access-${name}`)
    try {
      await expectNoSeriousA11yViolations(page, `admin-${name}`)
    } catch (err) {
      failures.push(err.message)
    }
  }
  assert.equal(failures.length, 0, failures.join('\n'))
  assert.deepEqual(uncoveredRoutes('src/admin/routes.ts', visited, '/admin/'), [], 'admin routes no page above visits')
})

/** No horizontal page scroll at the phone's width. */
async function assertNoHorizontalScroll(p, name) {
  const { scrollWidth, innerWidth } = await p.evaluate(() => ({
    scrollWidth: document.scrollingElement.scrollWidth,
    innerWidth: window.innerWidth,
  }))
  assert.ok(scrollWidth <= innerWidth, `${name}: the page scrolls sideways (${scrollWidth} > ${innerWidth})`)
}

/** The locator is on screen (after scrolling to it), inside the viewport's width, and receives a click. */
async function assertReachable(p, locator, name) {
  await locator.scrollIntoViewIfNeeded()
  const box = await locator.boundingBox()
  assert.ok(box, `${name}: not on screen`)
  assert.ok(box.x >= 0 && box.x + box.width <= 390, `${name}: outside the screen's width ${JSON.stringify(box)}`)
  await locator.click({ trial: true }) // actionable: visible, stable, not covered
}

test('on a phone the residency approvals work: no sideways scroll, 通过 reachable and it approves', async () => {
  await signIn(phone, 'township@yishi.example')
  await phone.goto('/admin/residency')
  const approve = phone.getByRole('button', { name: '通过', exact: true }).first()
  await approve.waitFor()
  await settled(phone)
  await assertNoHorizontalScroll(phone, 'residency')
  assert.equal(await phone.getByText('请在更大的屏幕上使用此页面').count(), 0)
  await screenshot(phone, 'admin-access-phone-residency')
  await assertReachable(phone, approve, 'residency 通过')
  await approve.click()
  await phone.getByText('已通过 小刘 的认证').waitFor()
  const { myResidencyRequests } = await app.gql('{ myResidencyRequests { status } }', {}, await app.login(NEWCOMER, PASSWORD))
  assert.deepEqual(myResidencyRequests.map((r) => r.status), ['APPROVED'])
})

test('on a phone a topic’s live results, explanations and progress fit the screen', async () => {
  const checks = [
    ['results', (p) => p.getByRole('radiogroup', { name: '统计层级' })],
    ['explain', (p) => p.getByRole('button', { name: '发布解释说明' })],
    ['outcome', (p) => p.getByRole('button', { name: '发布进展' })],
  ]
  for (const [tab, main] of checks) {
    await phone.goto(`/admin/topics/${ids.topic}?tab=${tab}`)
    await main(phone).waitFor()
    await settled(phone)
    await screenshot(phone, `admin-access-phone-${tab}`)
    await assertNoHorizontalScroll(phone, tab)
    assert.equal(await phone.getByText('请在更大的屏幕上使用此页面').count(), 0, `${tab}: asks for a larger screen`)
    await assertReachable(phone, main(phone), `${tab} main action`)
  }
})

test('on a phone the menu opens from a button, and other pages ask for a larger screen', async () => {
  await phone.goto('/admin/topics')
  await phone.getByRole('button', { name: '菜单' }).click()
  await phone.getByRole('menuitem', { name: '居民认证' }).click()
  await phone.waitForURL(/\/admin\/residency/)
  await assertNoHorizontalScroll(phone, 'topics')
  for (const path of ['/admin/dashboard', '/admin/audit', '/admin/suggestions']) {
    await phone.goto(path)
    await phone.getByText('请在更大的屏幕上使用此页面').waitFor()
    await settled(phone)
    await assertNoHorizontalScroll(phone, path)
  }
})

test('no admin page broke the Content-Security-Policy', () => {
  assertNoCspViolations()
})
