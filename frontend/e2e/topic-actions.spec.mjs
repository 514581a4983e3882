// The topic page and the home list on a 360×740 phone:
// - the sticky "发表意见" bar: shown to a resident the server says may take
//   part (myEligibility), above the bottom edge, at least 48 px high; it
//   scrolls to the opinion form and puts the focus in it, and hides while
//   the form is on screen; never shown to a visitor, to a resident outside
//   the topic's scope, or on a topic that is not open;
// - an announced choice topic lists its options (read-only) with the
//   opening date; the API answers them before the topic opens;
// - home cards say "已发表" on the topics I have answered, and only there;
//   the list is kept for the next visit (shown before the server answers)
//   and a resident's is forgotten on sign-out.
import { after, afterEach, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { assertNoCspViolations, launchBrowser, newPhonePage, screenshot, soon, startServer, waitForTopicState } from './harness.mjs'

const VILLAGE = '620123101201'
const PHONE = { viewport: { width: 360, height: 740 } }
const OPEN_TITLE = '过店子村文化广场修建路灯'
const ANSWERED_TITLE = '村委会门前修建停车场'
const CHOICE_TITLE = '村道硬化工程方案征求意见'
const OPTIONS = ['水泥路面', '沥青路面', '砂石路面']
// Long enough that the opinion form starts below the first screen.
const BODY = Array.from({ length: 12 }, (_, i) => `第 ${i + 1} 条：村文化广场晚上没有照明，老人孩子活动不便，拟安装太阳能路灯。`).join('\n')

let app, browser, page, organiser
const ids = {}
const days = (n) => new Date(Date.now() + n * 86_400_000).toISOString()

async function topic(input, steps) {
  const { createTopic } = await app.gql(
    'mutation($input: TopicInput!) { createTopic(input: $input) { id } }',
    { input: { category: 'PUBLIC_FACILITIES', kind: 'DECISION', scopeCode: VILLAGE, body: BODY, opensAt: soon(1_500), closesAt: days(7), ...input } },
    organiser,
  )
  // Opening is the scheduler's, at opensAt (the procedure refuses it earlier).
  for (const step of steps) {
    if (step === 'openTopic') await waitForTopicState(app, organiser, createTopic.id, 'OPEN')
    else await app.gql(`mutation($id: ID!) { ${step}(id: $id) { state } }`, { id: createTopic.id }, organiser)
  }
  return createTopic.id
}

async function signIn(email) {
  await page.context().clearCookies()
  await page.goto('/login')
  await page.evaluate(() => localStorage.clear())
  await page.goto('/login')
  await page.getByLabel('邮箱').fill(email)
  await page.getByLabel('密码').fill(app.password(email))
  await page.getByRole('button', { name: '登录' }).click()
  await page.waitForURL((url) => url.pathname === '/')
}

before(async () => {
  app = await startServer()
  browser = await launchBrowser()
  page = await newPhonePage(browser, app, PHONE)
  organiser = await app.login('village@yishi.example')
  ids.open = await topic({ title: OPEN_TITLE }, ['announceTopic', 'openTopic'])
  ids.answered = await topic({ title: ANSWERED_TITLE }, ['announceTopic', 'openTopic'])
  ids.choice = await topic({ title: CHOICE_TITLE, kind: 'CHOICE', options: OPTIONS, opensAt: days(2), closesAt: days(9) }, ['announceTopic'])
  const resident1 = await app.login('resident1@yishi.example')
  await app.gql('mutation($t: ID!) { submitOpinion(topicId: $t, stance: SUPPORT) { id } }', { t: ids.answered }, resident1)
})

afterEach(async (t) => {
  if (page && !page.isClosed()) await screenshot(page, `actions-last-${t.name.slice(0, 40).replace(/\W+/g, '-')}`).catch(() => {})
})

after(async () => {
  await browser?.close()
  await app?.stop()
})

const bar = () => page.getByRole('button', { name: '发表意见', exact: true })

test('a visitor sees no "发表意见" bar (the server says sign in first)', async () => {
  await page.goto(`/topics/${ids.open}`)
  await page.getByText('登录后可以发表意见。').waitFor({ state: 'attached' })
  assert.equal(await bar().count(), 0)
  assert.equal(await page.locator('.action-bar').count(), 0)
})

test('the API lists an announced choice topic’s options before it opens', async () => {
  const data = await app.gql('query($id: ID!) { topic(id: $id) { state opensAt options { label position } } }', { id: ids.choice })
  assert.equal(data.topic.state, 'ANNOUNCED')
  assert.deepEqual(data.topic.options.map((o) => o.label), OPTIONS)
})

test('an announced choice topic shows its options, read-only, with the opening date', async () => {
  await page.goto(`/topics/${ids.choice}`)
  const section = page.locator('section', { has: page.getByRole('heading', { name: '备选方案' }) })
  await section.waitFor()
  assert.deepEqual(await section.getByRole('listitem').allInnerTexts(), OPTIONS)
  await section.getByText(/\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2} 开始征集意见/).waitFor()
  assert.equal(await page.getByRole('radio').count(), 0, 'nothing to choose yet')
  assert.equal(await bar().count(), 0, 'no "发表意见" before it opens')
  await screenshot(page, 'actions-01-announced-choice')
})

test('home cards say "已发表" on the topics I answered, and only there', async () => {
  await signIn('resident1@yishi.example')
  const answered = page.getByRole('link', { name: new RegExp(ANSWERED_TITLE) })
  await answered.getByText('已发表', { exact: true }).waitFor()
  const open = page.getByRole('link', { name: new RegExp(OPEN_TITLE) })
  await open.waitFor()
  assert.equal(await open.getByText('已发表', { exact: true }).count(), 0)
  assert.equal(await page.getByRole('link', { name: new RegExp(CHOICE_TITLE) }).getByText('已发表').count(), 0)
  await screenshot(page, 'actions-02-home-answered')
})

test('a resident who may take part gets the "发表意见" bar; it leads to the form and hides there', async () => {
  await page.goto(`/topics/${ids.open}`)
  await page.locator('#topic-title').waitFor()
  const form = page.locator('form.opinion-form')
  await form.waitFor({ state: 'attached' })
  const formBox = await form.boundingBox()
  assert.ok(formBox.y > 740, `the form starts on the first screen (y = ${formBox.y}): the bar would not be needed`)

  await bar().waitFor()
  const box = await bar().boundingBox()
  assert.ok(box.y + box.height <= 740 && box.y > 600, `the bar is at the bottom of the screen: ${JSON.stringify(box)}`)
  assert.ok(box.height >= 44 && box.width >= 44, `the bar's button is ${box.width}×${box.height}`)
  const padding = await page.locator('.action-bar').evaluate((el) => getComputedStyle(el).paddingBottom)
  assert.ok(parseFloat(padding) >= 8, `bottom padding ${padding}`)
  await screenshot(page, 'actions-03-bar')

  await bar().click()
  await page.waitForFunction(() => document.activeElement?.closest('form.opinion-form'))
  await page.getByRole('heading', { name: '我的意见' }).evaluate((h) => new Promise((r) => {
    const check = () => {
      const b = h.getBoundingClientRect()
      if (b.top >= 0 && b.bottom <= window.innerHeight) r()
      else requestAnimationFrame(check)
    }
    check()
  }))
  const focused = await page.evaluate(() => document.activeElement?.getAttribute('role') ?? document.activeElement?.tagName)
  assert.equal(focused, 'radio', 'the focus is on the first choice')
  await page.locator('.action-bar').waitFor({ state: 'detached' })
  await screenshot(page, 'actions-04-form')

  // Answering turns the bar into "修改意见" once the form is off screen.
  await page.getByRole('radio', { name: '支持' }).click()
  await page.getByRole('button', { name: '提交意见' }).click()
  await page.getByText('第 1 版').waitFor()
  await page.evaluate(() => window.scrollTo(0, 0))
  await page.getByRole('button', { name: '修改意见', exact: true }).click()
  await page.getByRole('button', { name: '保存修改' }).waitFor()
})

test('a resident outside the topic’s scope sees no bar', async () => {
  await signIn('resident3@yishi.example') // 太平堡村; the topic is 过店子村's
  await page.goto(`/topics/${ids.open}`)
  await page.getByText('您不在本议题的参与范围内。').waitFor({ state: 'attached' })
  assert.equal(await page.locator('.action-bar').count(), 0)
})

test('the home list is kept for the next visit, and sign-out forgets the resident’s', async () => {
  await signIn('resident1@yishi.example')
  await page.getByRole('link', { name: new RegExp(ANSWERED_TITLE) }).getByText('已发表').waitFor()
  const seen = () => page.evaluate(() => JSON.parse(localStorage.getItem('yishi.seen.home') ?? 'null'))
  const mine = await seen()
  assert.equal(mine.for.forDivision, VILLAGE)
  assert.ok(mine.value.topics.nodes.some((n) => n.myOpinion), 'my answers are in the kept list')

  // The next visit shows it before the server answers: with the API held
  // back, the cards are there.
  let release
  const held = new Promise((r) => (release = r))
  await page.route('**/graphql', async (route) => {
    await held
    await route.continue()
  })
  await page.goto('/')
  await page.getByRole('link', { name: new RegExp(ANSWERED_TITLE) }).getByText('已发表').waitFor()
  release()
  // Let the held session refresh finish: a refresh token cut off in flight
  // has rotated on the server, and presenting the old one again signs out.
  await page.waitForLoadState('networkidle')
  await page.unroute('**/graphql')

  await page.goto('/me')
  await page.getByRole('button', { name: '退出登录' }).click()
  await page.getByText('欢迎使用议事').waitFor()
  await page.waitForLoadState('networkidle')
  const after = await seen()
  assert.ok(!after || (after.for.forDivision === null && after.value.topics.nodes.every((n) => !n.myOpinion)), JSON.stringify(after))
})

test('no page of this file broke the Content-Security-Policy', () => {
  assertNoCspViolations()
})
