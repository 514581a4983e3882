// A resident on a phone (390×844): signs up, verifies the email from the
// link that really arrives over SMTP, asks to be a resident of 过店子村 (the
// village organiser approves through the API), signs in, gives an opinion on
// an open topic and changes it; after the topic is closed and decided, the
// organiser explains the outcome to the dissenters and the resident reads
// the explanation from the email link and answers. axe-core checks the
// sign-up, sign-in, home and topic pages. Screenshots: e2e/artifacts/resident-*.png
import { after, afterEach, before, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  assertNoCspViolations,
  closeEarly,
  createOpenTopic,
  expectNoSeriousA11yViolations,
  launchBrowser,
  linkIn,
  newPhonePage,
  screenshot,
  startMailbox,
  startServer,
} from './harness.mjs'

const VILLAGE = '620123101201'
const EMAIL = `xiaowang.${Date.now()}@example.com`
const PASSWORD = 'qingshui-hebian-42-liushu'
const TOPIC_TITLE = '过店子村文化广场修建路灯'
const UPCOMING_TITLE = '村道硬化工程方案征求意见'

let mail, app, browser, page, organiser, topicId
// Every URL the page requested or navigated to, for the last test.
const urls = []

before(async () => {
  mail = await startMailbox()
  app = await startServer({ mailbox: mail })
  browser = await launchBrowser()
  page = await newPhonePage(browser, app)
  page.on('request', (request) => urls.push(request.url()))
  organiser = await app.login('village@yishi.example')

  // An open topic of the village (the scheduler opens it a few seconds
  // after it is announced), and one announced to open in two days.
  const create = `mutation($input: TopicInput!) { createTopic(input: $input) { id } }`
  topicId = await createOpenTopic(app, organiser, {
    title: TOPIC_TITLE,
    body: '村文化广场晚上没有照明，老人孩子活动不便。拟安装太阳能路灯 12 盏，费用由村集体承担。您是否同意？',
    category: 'PUBLIC_FACILITIES',
    kind: 'DECISION',
    scopeCode: VILLAGE,
    reasonRequiredForDissent: true,
  })

  const inTwoDays = new Date(Date.now() + 2 * 86_400_000 + 3 * 3_600_000).toISOString()
  const later = await app.gql(
    create,
    {
      input: {
        title: UPCOMING_TITLE,
        body: '村内主干道 1.2 公里硬化，两个方案供大家选择。',
        category: 'TRANSPORT_WATER',
        kind: 'CHOICE',
        scopeCode: VILLAGE,
        options: ['水泥路面', '沥青路面'],
        opensAt: inTwoDays,
        closesAt: new Date(Date.now() + 9 * 86_400_000).toISOString(),
      },
    },
    organiser,
  )
  await app.gql(`mutation($id: ID!) { announceTopic(id: $id) { state } }`, { id: later.createTopic.id }, organiser)
})

// On a failure, keep what the page showed.
afterEach(async (t) => {
  if (page && !page.isClosed()) {
    await screenshot(page, `resident-last-${t.name.slice(0, 40).replace(/\W+/g, '-')}`).catch(() => {})
  }
})

after(async () => {
  await browser?.close()
  await app?.stop()
  await mail?.close()
})

test('signs up, and the sign-up page has no serious accessibility violations', async () => {
  await page.goto('/register')
  await page.getByRole('heading', { name: '注册账号' }).waitFor()
  await expectNoSeriousA11yViolations(page, 'sign-up')

  // Validation before sending: an empty form stays on the page with messages.
  await page.getByRole('button', { name: '注册' }).click()
  await page.getByText('请填写称呼').waitFor()

  await page.getByLabel('称呼').fill('小王')
  await page.getByLabel('邮箱').fill(EMAIL)
  await page.getByLabel('密码', { exact: true }).fill(PASSWORD)
  await page.getByLabel('确认密码').fill(PASSWORD)
  await screenshot(page, 'resident-01-sign-up')
  await page.getByRole('button', { name: '注册' }).click()
  await page.getByRole('heading', { name: '请查收验证邮件' }).waitFor()
})

test('verifies the email with the link that arrives by email', async () => {
  const message = await mail.waitFor((m) => m.to.includes(EMAIL) && /verify-email/.test(m.text))
  const link = linkIn(message, '/verify-email')
  assert.ok(link.startsWith(app.base), link)
  await page.goto(link)
  await page.getByText(`邮箱 ${EMAIL} 已验证成功`).waitFor()
  await screenshot(page, 'resident-02-verified')
})

test('requests residency in 过店子村 with the cascader', async () => {
  await page.goto('/residency')
  await page.getByLabel('村（社区）').click()
  for (const name of ['甘肃省', '兰州市', '榆中县', '夏官营镇', '过店子村']) {
    await page.locator('.van-cascader__option', { hasText: name }).first().click()
  }
  await page.getByLabel('备注').fill('三社 18 号')
  await screenshot(page, 'resident-03-residency')
  await page.getByRole('button', { name: '提交申请' }).click()
  await page.getByText('您的申请正在审核中').waitFor()

  const pending = await app.gql(
    `query { residencyRequests(divisionCode: "${VILLAGE}") { nodes { id user { email } } } }`,
    {},
    organiser,
  )
  const mine = pending.residencyRequests.nodes.find((r) => r.user.email === EMAIL)
  assert.ok(mine, 'the request reached the village organiser')
  await app.gql(`mutation($id: ID!) { approveResidency(id: $id) { status } }`, { id: mine.id }, organiser)
})

test('signs out and in again; the sign-in page has no serious accessibility violations', async () => {
  await page.goto('/me')
  await page.getByRole('button', { name: '退出登录' }).click()
  await page.goto('/login')
  await page.getByRole('heading', { name: '登录议事' }).waitFor()
  await expectNoSeriousA11yViolations(page, 'sign-in')
  await page.getByLabel('邮箱').fill(EMAIL)
  await page.getByLabel('密码').fill('wrong-password-123')
  await page.getByRole('button', { name: '登录' }).click()
  await page.getByRole('alert').filter({ hasText: '账号密码不正确' }).waitFor()
  await page.getByLabel('密码').fill(PASSWORD)
  await page.getByRole('button', { name: '登录' }).click()
  await page.getByText('我的村（社区）').waitFor()
})

test('home lists the open topic and the announced one with a countdown', async () => {
  await page.getByRole('link', { name: new RegExp(TOPIC_TITLE) }).waitFor()
  const upcoming = page.getByRole('link', { name: new RegExp(UPCOMING_TITLE) })
  await upcoming.getByText(/2 天 2 小时后开始征集/).waitFor()
  await screenshot(page, 'resident-04-home')
  await expectNoSeriousA11yViolations(page, 'home')
})

test('gives an opinion, then changes it to a dissent that needs a reason', async () => {
  await page.getByRole('link', { name: new RegExp(TOPIC_TITLE) }).click()
  await page.getByRole('heading', { name: TOPIC_TITLE }).waitFor()
  await expectNoSeriousA11yViolations(page, 'topic')

  await page.getByRole('radio', { name: '支持' }).click()
  await page.getByRole('button', { name: '提交意见' }).click()
  await page.getByText('第 1 版').waitFor()

  await page.getByRole('button', { name: '修改我的意见' }).click()
  await page.getByRole('radio', { name: '反对' }).click()
  await page.getByRole('button', { name: '保存修改' }).click()
  // Checked before sending: this topic wants a reason from those who disagree.
  await page.getByText('本议题要求不同意时写明理由').waitFor()
  await page.getByLabel('理由').fill('广场旁边就是住户，路灯整夜亮着影响休息，建议晚上十点后自动关闭。')
  await page.getByRole('button', { name: '保存修改' }).click()
  await page.getByText('第 2 版').waitFor()
  await screenshot(page, 'resident-05-opinion')

  const check = await app.gql(
    `query($id: ID!) { opinions(topicId: $id) { nodes { stance revision reason } } }`,
    { id: topicId },
    organiser,
  )
  assert.equal(check.opinions.nodes.length, 1)
  assert.equal(check.opinions.nodes[0].stance, 'OPPOSE')
  assert.equal(check.opinions.nodes[0].revision, 2)
})

test('reads the explanation from the email link and answers it', async () => {
  // Before its closing time a topic closes only by a countersigned early close.
  await closeEarly(app, topicId, organiser)
  await app.gql(
    `mutation($id: ID!, $input: OutcomeInput!) { publishOutcome(topicId: $id, input: $input) { version } }`,
    {
      id: topicId,
      input: {
        decision: '安装太阳能路灯 12 盏，晚上十点后调暗一半。',
        adoptedStance: 'SUPPORT',
        responsibleBody: '过店子村村民委员会',
        deadline: new Date(Date.now() + 30 * 86_400_000).toISOString(),
      },
    },
    organiser,
  )
  const body = '感谢您的意见。路灯将在晚上十点后调暗一半，靠近住户的两盏加装遮光罩。'
  await app.gql(
    `mutation($id: ID!, $a: ExplanationAudienceInput!, $b: String!) { publishExplanation(topicId: $id, audience: $a, body: $b) { recipients } }`,
    { id: topicId, a: { kind: 'ALL_DISSENTERS' }, b: body },
    organiser,
  )

  const message = await mail.waitFor((m) => m.to.includes(EMAIL) && /\/explanations\//.test(m.text))
  await page.goto(linkIn(message, '/explanations/'))
  await page.getByText(body).waitFor()
  await page.getByRole('radio', { name: '不满意' }).click()
  await page.getByLabel('想说的话').fill('遮光罩要在安装时一起装好。')
  await page.getByRole('button', { name: '提交' }).click()
  await page.getByRole('button', { name: '修改回复' }).waitFor()
  await screenshot(page, 'resident-06-explanation')

  const mine = await app.login(EMAIL, PASSWORD)
  const replies = await app.gql('{ myExplanations { myReply readAt } }', {}, mine)
  assert.equal(replies.myExplanations[0].myReply, 'UNSATISFIED')
  assert.ok(replies.myExplanations[0].readAt)
})

test('the topic shows the outcome and the explanation, and withholds results fewer than k answered', async () => {
  await page.goto(`/topics/${topicId}`)
  await page.getByRole('heading', { name: '协商意见' }).waitFor()
  await page.getByText('过店子村村民委员会', { exact: true }).waitFor()
  // A handful of villagers answered: under k = 5, no count is shown to a
  // resident (the organiser's pages show them; see the admin spec).
  await page.getByText('参与人数少于 5，为保护隐私暂不公开结果。').waitFor()
  assert.equal(await page.getByRole('img', { name: '各地区意见分布图' }).count(), 0)
  await screenshot(page, 'resident-07-results')
})

test('no access or refresh token ever travelled in a URL', async () => {
  const refreshToken = await page.evaluate(() => localStorage.getItem('yishi.refreshToken'))
  assert.ok(refreshToken, 'the resident is signed in')
  assert.ok(urls.length > 20, `the page made requests (${urls.length})`)
  const jwt = /eyJ[\w-]+\.[\w-]+\.[\w-]+/
  for (const url of urls) {
    assert.ok(!jwt.test(url), `a JWT in ${url}`)
    assert.ok(!url.includes(refreshToken), `the refresh token in ${url}`)
  }
  // The email links are the only URLs with a token: single-use ones.
  const withToken = urls.filter((url) => /[?&]token=/.test(url)).map((url) => new URL(url).pathname)
  assert.ok(withToken.length > 0, 'the verification link was followed')
  assert.deepEqual([...new Set(withToken)], ['/verify-email'])
})

test('no resident page broke the Content-Security-Policy', () => {
  assertNoCspViolations()
})
