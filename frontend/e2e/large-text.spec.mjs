// Large-text mode (大字) and touch targets on every resident page, on a
// 360×740 phone. Each page (every route in src/router, the topic page in
// each state a resident meets) is opened signed out or as a resident; in
// normal mode every visible interactive element (links, buttons, inputs,
// ARIA widgets, Vant's clickable cells, tabs and options) is at least
// 44×44 px; then the large-text switch in the nav bar is pressed and no
// visible text is under 18 px, h1 > h2 > h3 > body text, and every
// interactive element is at least 48×48 px. Offenders are listed in the
// failure. Screenshots: e2e/artifacts/large-*.png
import { after, afterEach, before, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  assertNoCspViolations,
  launchBrowser,
  measureReadability,
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
const PHONE = { viewport: { width: 360, height: 740 } }

let mail, app, browser, visitor, resident, organiser
const ids = {}

const gql = (q, v, token = organiser) => app.gql(q, v, token)
const days = (n) => new Date(Date.now() + n * 86_400_000).toISOString()

async function createTopic(input) {
  const { createTopic } = await gql('mutation($input: TopicInput!) { createTopic(input: $input) { id } }', {
    input: { category: 'PUBLIC_FACILITIES', kind: 'DECISION', scopeCode: VILLAGE, body: '请大家就这件事发表意见。', ...input },
  })
  return createTopic.id
}
const move = (id, step) => gql(`mutation($id: ID!) { ${step}(id: $id) { state } }`, { id })
// Topics open and close on time, by the scheduler (the procedure refuses
// either earlier): announced to open in 1.5 s, waited for.
async function openTopic(input) {
  const id = await createTopic({ opensAt: soon(1_500), closesAt: days(7), ...input })
  await move(id, 'announceTopic')
  await waitForTopicState(app, organiser, id, 'OPEN')
  return id
}
const closed = (id) => waitForTopicState(app, organiser, id, 'CLOSED')

before(async () => {
  mail = await startMailbox()
  app = await startServer({ mailbox: mail })
  browser = await launchBrowser()
  organiser = await app.login('township@yishi.example')
  const tokens = {}
  for (const r of ['resident1', 'resident2', 'resident3']) tokens[r] = await app.login(`${r}@yishi.example`)

  // Open: resident2 has not answered (the form), resident1 has.
  ids.open = await openTopic({ title: '过店子村文化广场修建路灯', reasonRequiredForDissent: true })
  await gql('mutation($t: ID!) { submitOpinion(topicId: $t, stance: SUPPORT, reason: "晚上出门方便") { id } }', { t: ids.open }, tokens.resident1)
  ids.openChoice = await openTopic({ title: '村委会新址选择', kind: 'CHOICE', options: ['老学校', '村口空地', '原供销社'] })

  // Announced choice, opening in two days.
  ids.announced = await createTopic({
    title: '村道硬化工程方案征求意见',
    kind: 'CHOICE',
    category: 'TRANSPORT_WATER',
    options: ['水泥路面', '沥青路面'],
    opensAt: days(2),
    closesAt: days(9),
  })
  await move(ids.announced, 'announceTopic')

  // Decided, with an assessment, a meeting, five answers (results shown),
  // an outcome, progress and an explanation to the dissenters.
  // The three that close within the test close 25 s from now.
  const closesAt = soon(25_000)
  ids.decided = await openTopic({ title: '夏官营镇集中供暖改造方案', scopeCode: TOWNSHIP, kind: 'DECISION', closesAt })
  ids.closed = await openTopic({ title: '村卫生室搬迁', closesAt })
  ids.completed = await openTopic({ title: '村口路灯维修', closesAt })
  await gql('mutation($t: ID!, $i: AssessmentInput!) { publishAssessment(topicId: $t, input: $i) { id } }', {
    t: ids.decided,
    i: { title: '管网可行性评估', body: '主干管网可以延伸到两个村。', bodyName: '榆中县水务局' },
  })
  const { recordMeeting } = await gql('mutation($t: ID!, $i: MeetingInput!) { recordMeeting(topicId: $t, input: $i) { id } }', {
    t: ids.decided,
    i: { heldAt: new Date().toISOString(), place: '过店子村村委会', attendees: 23, minutes: '大家讨论了取暖费。' },
  })
  for (const [r, stance] of [['resident1', 'OPPOSE'], ['resident2', 'SUPPORT'], ['resident3', 'SUPPORT']]) {
    await gql('mutation($t: ID!, $s: Stance) { submitOpinion(topicId: $t, stance: $s, reason: "取暖费太贵") { id } }', { t: ids.decided, s: stance }, tokens[r])
  }
  for (const name of ['赵奶奶', '钱大伯']) {
    await gql('mutation($i: ProxyOpinionInput!) { recordProxyOpinion(input: $i) { id } }', {
      i: { topicId: ids.decided, meetingId: recordMeeting.id, residentName: name, villageCode: VILLAGE, stance: 'SUPPORT' },
    })
  }
  await gql('mutation($t: ID!) { submitOpinion(topicId: $t, stance: SUPPORT) { id } }', { t: ids.closed }, tokens.resident1)
  await closed(ids.decided)
  await gql('mutation($id: ID!, $input: OutcomeInput!) { publishOutcome(topicId: $id, input: $input) { version } }', {
    id: ids.decided,
    input: { decision: '实行集中供暖，低保户减免取暖费。', adoptedStance: 'SUPPORT', responsibleBody: '夏官营镇人民政府', deadline: days(90) },
  })
  await gql('mutation($t: ID!) { publishProgress(topicId: $t, body: "主干管网已开工。", percent: 30) { id } }', { t: ids.decided })
  const { publishExplanation } = await gql(
    'mutation($id: ID!) { publishExplanation(topicId: $id, audience: { kind: ALL_DISSENTERS }, body: "取暖费将按面积分档。") { id } }',
    { id: ids.decided },
  )
  ids.explanation = publishExplanation.id

  // Closed without an outcome yet (results under k: withheld), and one
  // carried out to the end.
  await closed(ids.closed)
  await closed(ids.completed)
  await gql('mutation($id: ID!, $input: OutcomeInput!) { publishOutcome(topicId: $id, input: $input) { version } }', {
    id: ids.completed,
    input: { decision: '更换损坏的路灯 6 盏。', adoptedStance: 'SUPPORT', responsibleBody: '过店子村村民委员会', deadline: days(30) },
  })
  await gql('mutation($t: ID!) { startImplementation(topicId: $t) { state } }', { t: ids.completed })
  await gql('mutation($t: ID!) { publishProgress(topicId: $t, body: "6 盏路灯已更换。", percent: 100) { id } }', { t: ids.completed })
  await gql('mutation($t: ID!) { completeTopic(topicId: $t) { state } }', { t: ids.completed })

  ids.withdrawn = await createTopic({ title: '村口修建公厕', opensAt: days(3), closesAt: days(10) })
  await move(ids.withdrawn, 'announceTopic')
  await gql('mutation($id: ID!) { withdrawTopic(id: $id, reason: "选址与规划冲突") { state } }', { id: ids.withdrawn })

  await gql(
    'mutation($i: SuggestTopicInput!) { suggestTopic(input: $i) { id } }',
    { i: { title: '希望在村小学门口设置减速带', body: '上学时车辆多，孩子过马路危险。', category: 'TRANSPORT_WATER' } },
    tokens.resident2,
  )

  visitor = await newPhonePage(browser, app, PHONE)
  resident = await newPhonePage(browser, app, PHONE)
})

after(async () => {
  await browser?.close()
  await app?.stop()
  await mail?.close()
})

let last = null
const visited = []
afterEach(async (t) => {
  if (last && !last.isClosed()) await screenshot(last, `large-last-${t.name.slice(0, 40).replace(/\W+/g, '-')}`).catch(() => {})
})

const list = (items, show) => items.map((o) => `    ${show(o)}`).join('\n')

/**
 * Opens `path`, waits for `ready`, checks normal mode (targets ≥ 44),
 * switches large-text on with the nav-bar button and checks it (text ≥ 18,
 * headings in order, targets ≥ 48), then switches it off again.
 */
async function checkPage(page, name, path, ready, prepare) {
  last = page
  visited.push(path)
  await page.goto(path)
  await ready(page)
  await page.waitForLoadState('networkidle')
  if (prepare) await prepare(page)
  const problems = []

  const normal = await measureReadability(page, { minTarget: 44 })
  if (normal.smallTargets.length) {
    problems.push(`normal mode, targets under 44×44:\n${list(normal.smallTargets, (o) => `${o.box} ${o.what} «${o.text}»`)}`)
  }

  const toggle = page.getByRole('button', { name: '大字模式' })
  assert.equal(await toggle.getAttribute('aria-pressed'), 'false', 'large text is off to begin with')
  await toggle.click()
  await page.waitForFunction(() => document.documentElement.classList.contains('elder'))
  if (prepare) await prepare(page)
  const large = await measureReadability(page, { minFont: 18, minTarget: 48 })
  await screenshot(page, `large-${name}`)
  if (large.smallText.length) {
    problems.push(`large text, text under 18 px:\n${list(large.smallText, (o) => `${o.size}px ${o.what} «${o.text}»`)}`)
  }
  if (large.hierarchy.length) problems.push(`large text, headings out of order: ${large.hierarchy.join('; ')} (${JSON.stringify(large.headings)})`)
  if (large.smallTargets.length) {
    problems.push(`large text, targets under 48×48:\n${list(large.smallTargets, (o) => `${o.box} ${o.what} «${o.text}»`)}`)
  }
  await toggle.click()
  await page.waitForFunction(() => !document.documentElement.classList.contains('elder'))
  assert.equal(problems.length, 0, `${name} (${path}):\n  ${problems.join('\n  ')}`)
}

const heading = (name) => (page) => page.getByRole('heading', { name, exact: true }).first().waitFor()
const text = (t) => (page) => page.getByText(t).first().waitFor()
const topicReady = (page) => page.locator('#topic-title').waitFor()

test('the large-text switch is a 44×44 target and says what it does', async () => {
  await visitor.goto('/')
  const toggle = visitor.getByRole('button', { name: '大字模式' })
  const box = await toggle.boundingBox()
  assert.ok(box.width >= 44 && box.height >= 44, `the switch is ${box.width}×${box.height}`)
})

// Signed out.
const visitorPages = [
  ['home-visitor', '/', text('欢迎使用议事')],
  ['login', '/login', heading('登录议事')],
  ['register', '/register', heading('注册账号')],
  ['forgot-password', '/forgot-password', (p) => p.locator('#forgot-title').waitFor()],
  ['reset-password', '/reset-password?token=not-a-token', (p) => p.locator('#reset-title').waitFor()],
  ['verify-email', '/verify-email?token=not-a-token', (p) => p.locator('.done, .failure, [role=alert]').first().waitFor()],
  ['topic-open-visitor', () => `/topics/${ids.open}`, text('登录后可以发表意见。')],
  ['topic-announced', () => `/topics/${ids.announced}`, topicReady],
  ['topic-decided-visitor', () => `/topics/${ids.decided}`, text('实行集中供暖，低保户减免取暖费。')],
  ['topic-withdrawn', () => `/topics/${ids.withdrawn}`, text('选址与规划冲突')],
  ['topic-closed', () => `/topics/${ids.closed}`, text('为保护隐私暂不公开结果')],
  ['topic-completed', () => `/topics/${ids.completed}`, text('6 盏路灯已更换。')],
  ['explanation-visitor', () => `/explanations/${ids.explanation}`, text('取暖费将按面积分档。')],
  ['suggestions-visitor', '/suggestions', text('希望在村小学门口设置减速带')],
  ['settings-visitor', '/settings', text('简体中文')],
  ['board-township', `/board/${TOWNSHIP}`, heading('夏官营镇公开栏')],
  ['board-village', `/board/${VILLAGE}`, (p) => p.locator('h1').first().waitFor()],
  ['not-found', '/no-such-page', (p) => p.locator('#nf-title').waitFor()],
]
for (const [name, path, ready] of visitorPages) {
  test(`signed out: ${name}`, () => checkPage(visitor, name, typeof path === 'function' ? path() : path, ready))
}

test('signs in as a resident (李阿姨, 过店子村)', async () => {
  last = resident
  await resident.goto('/login')
  await resident.getByLabel('邮箱').fill('resident2@yishi.example')
  await resident.getByLabel('密码').fill(app.password('resident2@yishi.example'))
  await resident.getByRole('button', { name: '登录' }).click()
  await resident.getByText('我的村（社区）').waitFor()
})

const residentPages = [
  ['home', '/', text('我的村（社区）')],
  ['home-filter-open', '/', text('我的村（社区）'), async (p) => {
    if (!(await p.locator('.van-dropdown-item__option').first().isVisible())) await p.locator('.van-dropdown-menu__item').first().click()
    await p.locator('.van-dropdown-item__option').first().waitFor()
  }],
  ['topic-open-form', () => `/topics/${ids.open}`, text('提交意见')],
  ['topic-open-choice-form', () => `/topics/${ids.openChoice}`, text('提交意见')],
  ['topic-decided', () => `/topics/${ids.decided}`, text('实行集中供暖，低保户减免取暖费。')],
  ['me', '/me', text('退出登录')],
  ['my-opinions', '/me/opinions', text('夏官营镇集中供暖改造方案')],
  ['explanations', '/explanations', (p) => p.locator('#ex-title').waitFor({ state: 'attached' })],
  ['suggestions', '/suggestions', text('希望在村小学门口设置减速带')],
  ['suggest', '/suggestions/new', (p) => p.locator('#new-title').waitFor()],
  ['notifications', '/notifications', (p) => p.locator('#nt-title').waitFor({ state: 'attached' })],
  ['residency', '/residency', (p) => p.locator('#residency-title').waitFor()],
  ['settings', '/settings', text('简体中文')],
]
for (const [name, path, ready, prepare] of residentPages) {
  test(`resident: ${name}`, () => checkPage(resident, name, typeof path === 'function' ? path() : path, ready, prepare))
}

test('signs in as the dissenter (王大爷) and reads the explanation with its reply form', async () => {
  const page = await newPhonePage(browser, app, PHONE)
  last = page
  await page.goto('/login')
  await page.getByLabel('邮箱').fill('resident1@yishi.example')
  await page.getByLabel('密码').fill(app.password('resident1@yishi.example'))
  await page.getByRole('button', { name: '登录' }).click()
  await page.getByText('我的村（社区）').waitFor()
  await checkPage(page, 'explanation-reply', `/explanations/${ids.explanation}`, text('取暖费将按面积分档。'))
  await checkPage(page, 'topic-open-mine', `/topics/${ids.open}`, text('修改我的意见'))
})

test('every route in src/router was visited', () => {
  assert.deepEqual(uncoveredRoutes('src/router/index.ts', visited), [])
})

test('no large-text page broke the Content-Security-Policy', () => {
  assertNoCspViolations()
})
