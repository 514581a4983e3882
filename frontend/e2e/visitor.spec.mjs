// The signed-out visitor: a topic link shared in a WeChat group, opened on a
// phone by someone who has never signed in. Every public page renders for
// them, and where taking part needs an account, the page says so.
import { after, afterEach, before, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  assertNoCspViolations,
  closeEarly,
  createOpenTopic,
  launchBrowser,
  newPhonePage,
  screenshot,
  startMailbox,
  startServer,
} from './harness.mjs'

const VILLAGE = '620123101201'
const OPEN_TITLE = '村口老槐树周边硬化停车场'
const DECIDED_TITLE = '过店子村饮水管网改造方案'
const DECISION = '分两期改造主管网，先改三组、五组，明年汛期前完成。'
const EXPLANATION = '改造费用由县水务局专项资金承担，不向村民收取。'

let mail, app, browser, page, openId, decidedId, explanationId

async function openTopic(organiser, title) {
  return createOpenTopic(app, organiser, {
    title,
    body: '请大家就这件事发表意见。',
    category: 'PUBLIC_FACILITIES',
    kind: 'DECISION',
    scopeCode: VILLAGE,
  })
}

before(async () => {
  mail = await startMailbox()
  app = await startServer({ mailbox: mail })
  browser = await launchBrowser()
  page = await newPhonePage(browser, app)
  const organiser = await app.login('village@yishi.example')
  openId = await openTopic(organiser, OPEN_TITLE)

  // A decided topic with a dissent answered in public.
  decidedId = await openTopic(organiser, DECIDED_TITLE)
  const resident = await app.login('resident1@yishi.example')
  await app.gql(
    'mutation($t: ID!) { submitOpinion(topicId: $t, stance: OPPOSE, reason: "担心要村民出钱") { id } }',
    { t: decidedId },
    resident,
  )
  await closeEarly(app, decidedId, organiser)
  await app.gql(
    `mutation($id: ID!, $input: OutcomeInput!) { publishOutcome(topicId: $id, input: $input) { version } }`,
    {
      id: decidedId,
      input: {
        decision: DECISION,
        adoptedStance: 'SUPPORT',
        responsibleBody: '过店子村村民委员会',
        deadline: new Date(Date.now() + 90 * 86_400_000).toISOString(),
      },
    },
    organiser,
  )
  const explained = await app.gql(
    `mutation($id: ID!, $b: String!) { publishExplanation(topicId: $id, audience: { kind: ALL_DISSENTERS }, body: $b) { id } }`,
    { id: decidedId, b: EXPLANATION },
    organiser,
  )
  explanationId = explained.publishExplanation.id
})

after(async () => {
  await browser?.close()
  await app?.stop()
  await mail?.close()
})

afterEach(async (t) => {
  if (page && !page.isClosed()) {
    await screenshot(page, `visitor-last-${t.name.slice(0, 40).replace(/\W+/g, '-')}`).catch(() => {})
  }
})

/** The sign-in control in the topic's "give your opinion" block. */
const signInButton = () => page.locator('.cannot').getByText('登录', { exact: true })

/** No error state and no "session expired" message anywhere on the page. */
async function assertNoErrorShown() {
  const text = await page.locator('body').innerText()
  assert.ok(!/登录已过期|账号密码不正确|加载失败|出错/.test(text), `an error is shown:\n${text}`)
}

test('a shared link to an open topic shows the topic and invites the visitor to sign in', async () => {
  await page.goto(`/topics/${openId}`)
  assert.equal(await page.evaluate(() => localStorage.getItem('yishi.refreshToken')), null, 'signed in')
  await page.getByRole('heading', { name: OPEN_TITLE }).waitFor()
  await page.getByText('登录后可以发表意见。').waitFor()
  await signInButton().waitFor()
  await assertNoErrorShown()
  await screenshot(page, 'visitor-01-open-topic')
})

test('the sign-in button brings the visitor back to the topic', async () => {
  await signInButton().click()
  await page.waitForURL(/\/login\?redirect=/)
  assert.match(decodeURIComponent(page.url()), new RegExp(`redirect=/topics/${openId}`))
})

test('a decided topic shows its outcome and public explanation to a visitor', async () => {
  await page.goto(`/topics/${decidedId}`)
  await page.getByRole('heading', { name: DECIDED_TITLE }).waitFor()
  await page.getByText(DECISION).waitFor()
  await page.getByText(EXPLANATION).first().waitFor()
  await assertNoErrorShown()
  await screenshot(page, 'visitor-02-decided-topic')
})

test('a decided topic shows its public record to a visitor, verified intact', async () => {
  await page.goto(`/topics/${decidedId}`)
  const record = page.getByTestId('procedure-record')
  await record.getByRole('heading', { name: '程序记录' }).waitFor()
  await record.getByText('记录校验：完整 ✓').waitFor()
  // In order, with who (role and division, never a name) and why.
  const entries = await record.locator('li .what').allInnerTexts()
  assert.deepEqual(entries, ['发布预告', '开始征集意见', '申请提前截止', '监督员同意提前截止', '公布协商意见', '发布解释说明'])
  await record.getByText('过店子村委会组织者').first().waitFor()
  await record.getByText('系统按预定时间').first().waitFor()
  await record.getByText('榆中县监督员').waitFor()
  await record.getByText(/理由：意见已充分表达/).first().waitFor()
  await assertNoErrorShown()
  await screenshot(page, 'visitor-03-record')
})

test('a public explanation opens for a visitor, who is asked to sign in to reply', async () => {
  await page.goto(`/explanations/${explanationId}`)
  await page.getByText(EXPLANATION).waitFor()
  await page.getByText('登录后可以回复是否满意').waitFor()
  assert.equal(await page.getByRole('radio', { name: '满意', exact: true }).count(), 0, 'a reply form for a visitor')
  assert.ok(!/\/login/.test(new URL(page.url()).pathname), `sent to sign in: ${page.url()}`)
  await assertNoErrorShown()
})

test('no visitor page broke the Content-Security-Policy', () => {
  assertNoCspViolations()
})
