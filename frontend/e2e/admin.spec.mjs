// The organisers' admin panel at 1440×900, against a real `yishi serve` on a
// fresh database: the 夏官营镇 (township) organiser signs in, creates a topic
// (validation first) that opens half a minute later, announces it and sees
// the scheduler open it on time, watches results arrive live while three
// residents (过店子村 ×2, 太平堡村) give opinions through the API, records a
// dissent given at a meeting, exports the opinions as CSV, asks to close
// early — the 榆中县 supervisor countersigns it on the supervision page —,
// publishes the outcome, reads the dissent themes, explains to the
// dissenters online (a preview of how many it reaches; it really reaches
// them, API and email) and to the one recorded at the meeting in person,
// extends the deadline (a signed-out visitor's topic page then shows the
// original and the new deadline and the public record, verified intact) and
// completes. A resident without a staff role is refused.
// Screenshots: e2e/artifacts/admin-*.png
import { after, afterEach, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import {
  assertNoCspViolations,
  launchBrowser,
  linkIn,
  newDesktopPage,
  newPhonePage,
  screenshot,
  startMailbox,
  startServer,
} from './harness.mjs'

const TITLE = '夏官营镇集中供暖改造方案'
const BODY = '镇区冬季取暖以散煤为主，拟将镇区主干管网延伸至过店子村和太平堡村，实行集中供暖，每户每年缴纳取暖费约 1800 元。您是否同意？'
const EXPLANATION = '感谢大家的意见。取暖费将按面积分档，低保户全额减免；管网施工安排在 9 月前完成，不影响秋收。'
const EARLY_REASON = '三个村的村民代表会议都已表决，意见已充分表达，为赶在供暖季前施工，申请提前截止。'
const EXTEND_REASON = '管材供货推迟一个月，施工顺延。'
const outcomeDeadline = new Date(Date.now() + 120 * 86_400_000)
const extendedDeadline = new Date(Date.now() + 150 * 86_400_000)

let mail, app, browser, page, topicId
const tokens = {}

before(async () => {
  mail = await startMailbox()
  app = await startServer({ mailbox: mail })
  browser = await launchBrowser()
  page = await newDesktopPage(browser, app, { acceptDownloads: true })
  for (const r of ['resident1', 'resident2', 'resident3']) tokens[r] = await app.login(`${r}@yishi.example`)
})

afterEach(async (t) => {
  if (page && !page.isClosed()) {
    await screenshot(page, `admin-last-${t.name.slice(0, 40).replace(/\W+/g, '-')}`).catch(() => {})
  }
})

after(async () => {
  await browser?.close()
  await app?.stop()
  await mail?.close()
})

// One flow: once a step fails, the later ones are skipped (not timed out one by one).
let broken = null
function step(name, fn) {
  test(name, async (t) => {
    if (broken) return t.skip(`an earlier step failed: ${broken}`)
    try {
      await fn()
    } catch (err) {
      broken = name
      throw err
    }
  })
}

const pad = (n) => String(n).padStart(2, '0')
/** Types a date-time (to the second) into an Element Plus date picker, in the page's time zone (Asia/Shanghai, UTC+8). */
async function fillDate(locator, date) {
  const d = new Date(date.getTime() + 8 * 3_600_000)
  const text = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
  await locator.fill(text)
  await locator.press('Enter')
}

/** Clicks a lifecycle button and confirms the Element Plus message box. */
async function lifecycle(name, stateAfter) {
  await page.getByRole('button', { name, exact: true }).click()
  const box = page.locator('.el-message-box')
  await box.waitFor()
  await box.getByRole('button', { name: '确定' }).click()
  await page.locator('.page-head .el-tag', { hasText: stateAfter }).waitFor()
}

/** The header's lifecycle buttons: [label, enabled]. */
async function headerButtons(p = page) {
  const buttons = p.getByRole('group', { name: '议题流程操作' }).getByRole('button')
  const out = []
  for (const b of await buttons.all()) out.push([(await b.innerText()).trim(), await b.isEnabled()])
  return out
}

/** Signs in on the admin sign-in page in a fresh desktop page. */
async function signIn(email) {
  const p = await newDesktopPage(browser, app)
  await p.goto('/admin/login')
  await p.getByLabel('邮箱').fill(email)
  await p.getByLabel('密码').fill(app.password(email))
  await p.getByRole('button', { name: '登录' }).click()
  await p.getByRole('heading', { name: /数据看板/ }).waitFor()
  return p
}

let opensAt

async function opine(resident, stance, reason) {
  await app.gql(
    'mutation($t: ID!, $s: Stance, $r: String) { submitOpinion(topicId: $t, stance: $s, reason: $r) { id } }',
    { t: topicId, s: stance, r: reason },
    tokens[resident],
  )
}

step('signs in on the admin sign-in page (checked before sending) and sees the dashboard', async () => {
  await page.goto('/admin/topics')
  await page.getByRole('heading', { name: '管理后台登录' }).waitFor()
  await page.getByRole('button', { name: '登录' }).click()
  await page.locator('.el-form-item__error', { hasText: '必填' }).first().waitFor()
  await page.getByLabel('邮箱').fill('township@yishi.example')
  await page.getByLabel('密码').fill('wrong-password-123')
  await page.getByRole('button', { name: '登录' }).click()
  await page.getByRole('alert').filter({ hasText: '请重新登录' }).waitFor()
  await page.getByLabel('密码').fill(app.password('township@yishi.example'))
  await page.getByRole('button', { name: '登录' }).click()
  // Back where the organiser wanted to go.
  await page.getByRole('heading', { name: '议题' }).waitFor()
  await page.getByRole('menuitem', { name: '数据看板' }).click()
  await page.getByRole('heading', { name: /数据看板 · 夏官营镇/ }).waitFor()
  await page.getByText('议题总数').first().waitFor()
  await screenshot(page, 'admin-01-dashboard')
})

step('creates a topic: the form is checked before sending, then saved as a draft', async () => {
  await page.getByRole('menuitem', { name: '议题', exact: true }).click()
  await page.getByRole('link', { name: '新建议题' }).click()
  await page.getByRole('heading', { name: '新建议题' }).waitFor()
  await page.getByRole('button', { name: '保存为草稿' }).click()
  await page.locator('.el-form-item__error', { hasText: '必填' }).first().waitFor()
  assert.ok((await page.locator('.el-form-item__error', { hasText: '必填' }).count()) >= 3)

  await page.locator('#topic-title').fill(TITLE)
  await page.locator('#topic-body').fill(BODY)
  await page.locator('.el-select', { has: page.locator('#topic-category') }).click()
  await page.locator('.el-select-dropdown__item', { hasText: '公共设施' }).click()
  await page.getByText('不同意时须写明理由').click()
  // Opening later than closing is refused before sending.
  await fillDate(page.locator('#topic-opens'), new Date(Date.now() + 10 * 60_000))
  await fillDate(page.locator('#topic-closes'), new Date(Date.now() - 86_400_000))
  await page.getByRole('heading', { name: '新建议题' }).click()
  await page.getByRole('button', { name: '保存为草稿' }).click()
  await page.locator('.el-form-item__error', { hasText: '截止时间须晚于开始时间' }).waitFor()
  await fillDate(page.locator('#topic-closes'), new Date(Date.now() + 7 * 86_400_000))
  await page.getByRole('heading', { name: '新建议题' }).click()
  // The scope defaults to the organiser's own division.
  await page.locator('.el-cascader input').first().waitFor()
  assert.equal(await page.locator('.el-cascader input').first().inputValue(), '夏官营镇')
  await screenshot(page, 'admin-02-new-topic')
  // Announcing needs the opening ahead of now (the notice period is 0 here):
  // half a minute, then the scheduler opens it by itself.
  opensAt = new Date(Date.now() + 30_000)
  await fillDate(page.locator('#topic-opens'), opensAt)
  await page.getByRole('heading', { name: '新建议题' }).click()
  await page.getByRole('button', { name: '保存为草稿' }).click()
  await page.getByRole('heading', { name: TITLE }).waitFor()
  topicId = page.url().match(/\/admin\/topics\/(\d+)/)[1]
  // A draft offers what the server offers: edit, announce and withdraw, all allowed.
  assert.deepEqual(await headerButtons(), [['编辑', true], ['发布预告', true], ['撤回议题', true]])
})

step('announces the topic; it is not opened by hand but by the scheduler at its time', async () => {
  await lifecycle('发布预告', '已预告')
  // Before opensAt opening is offered but blocked, with the reason in words.
  await page.getByText(/已预告；将于 .* 自动开始征集/).waitFor()
  assert.deepEqual(await headerButtons(), [['开始征集', false], ['撤回议题', true]])
  await page.getByTestId('blocked-actions').getByText(/开始征集：已预告，将于 .* 自动开始征集/).waitFor()
  await screenshot(page, 'admin-03-announced')
  // The page looks again when the time comes; nobody clicks.
  await page.locator('.page-head .el-tag', { hasText: '征集中' }).waitFor({ timeout: 60_000 })
  assert.ok(Date.now() >= opensAt.getTime() - 1000, 'opened before its time')
  // Open before closesAt: closing early is a request, not a close.
  assert.deepEqual(await headerButtons(), [['申请提前截止', true], ['撤回议题', true]])
  await screenshot(page, 'admin-03-open')
})

step('the dashboard updates live while the topic is open', async () => {
  const topicUrl = page.url()
  await page.getByRole('menuitem', { name: '数据看板' }).click()
  await page.getByText('实时更新中（1 个议题征集中）').waitFor()
  const responses = page.locator('.el-card', { hasText: '意见数' }).first().locator('.el-statistic__number')
  assert.equal((await responses.innerText()).trim(), '0')
  await opine('resident1', 'SUPPORT', null)
  await page.waitForFunction(
    () => document.querySelectorAll('.el-card .el-statistic__number')[1]?.textContent?.trim() === '1',
    null,
    { timeout: 10_000 },
  )
  await screenshot(page, 'admin-03b-dashboard-live')
  await page.goto(topicUrl)
})

step('results arrive live while residents give opinions', async () => {
  await page.getByRole('tab', { name: '结果' }).click()
  await page.getByText('实时', { exact: false }).first().waitFor()
  await page.locator('.el-statistic', { hasText: '意见数' }).getByText('1', { exact: true }).waitFor()
  await opine('resident2', 'OPPOSE', '取暖费太贵了，老人负担不起，希望按面积收费。')
  await opine('resident3', 'OPPOSE', '施工会影响秋收，取暖费也偏高。')
  // Pushed over graphql-ws, no reload.
  await page.locator('.el-statistic', { hasText: '意见数' }).getByText('3', { exact: true }).waitFor()
  await page.getByRole('img', { name: '各区划意见分布图' }).waitFor()
  await page.getByRole('cell', { name: '太平堡村' }).waitFor()
  await screenshot(page, 'admin-04-results-live')
})

step('records an offline meeting and an opinion given there on a resident’s behalf', async () => {
  await page.getByRole('tab', { name: '论证与会议' }).click()
  await page.getByRole('button', { name: '保存记录' }).click()
  await page.locator('#pane-records .el-form-item__error', { hasText: '必填' }).first().waitFor()
  await fillDate(page.locator('#meet-at'), new Date(Date.now() - 3_600_000))
  await page.locator('#meet-place').fill('过店子村村委会会议室')
  await page.locator('#meet-n').fill('23')
  await page.locator('#meet-minutes').fill('村民代表讨论供暖改造，多数关心收费标准。')
  await page.locator('#meet-place').click()
  await page.getByRole('button', { name: '保存记录' }).click()
  await page.getByText('过店子村村委会会议室').waitFor()
  await page.getByRole('button', { name: '代录意见' }).click()
  const dialog = page.getByRole('dialog', { name: '代录会上意见' })
  await dialog.locator('#proxy-name').fill('赵奶奶')
  await dialog.locator('.el-cascader').click()
  await page.locator('.el-cascader-node', { hasText: '夏官营镇' }).first().locator('.el-cascader-node__label').click()
  await page.locator('.el-cascader-node', { hasText: '过店子村' }).first().locator('.el-radio').click()
  await dialog.getByText('代录会上意见').click()
  await dialog.getByText('反对', { exact: true }).click()
  // This topic wants a reason from those who disagree, at a meeting too.
  await dialog.locator('#proxy-reason').fill('年纪大了，每年 1800 元负担不起。')
  await dialog.getByRole('button', { name: '保存' }).click()
  await page.getByText('意见已代录').waitFor()
  const data = await app.gql(
    'query($t: ID!) { opinions(topicId: $t, proxy: true) { nodes { residentName proxy stance villageCode } } }',
    { t: topicId },
    await app.login('township@yishi.example'),
  )
  assert.deepEqual(data.opinions.nodes, [{ residentName: '赵奶奶', proxy: true, stance: 'OPPOSE', villageCode: '620123101201' }])
  await screenshot(page, 'admin-04b-meeting')
})

step('filters the opinions and exports them as CSV (token in a header, not the URL)', async () => {
  await page.getByRole('tab', { name: '意见', exact: true }).click()
  await page.getByRole('cell', { name: /取暖费太贵了/ }).waitFor()
  const rows = (n) => page.waitForFunction((n) => document.querySelectorAll('#pane-opinions .el-table__body-wrapper tbody tr').length === n, n)
  await rows(4)
  await page.getByLabel('搜索理由').fill('秋收')
  await rows(1)
  const urls = []
  page.on('request', (r) => urls.push(r.url()))
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: '导出 CSV' }).click()])
  assert.equal(download.suggestedFilename(), `topic-${topicId}-opinions.csv`)
  const csv = readFileSync(await download.path(), 'utf8')
  assert.match(csv, /取暖费太贵了/)
  assert.ok(!urls.some((u) => /token|Bearer/i.test(u)), 'no token in any URL')
  await page.getByLabel('搜索理由').fill('')
  await screenshot(page, 'admin-05-opinions')
})

step('asks to close early with a public reason; the organiser cannot countersign it', async () => {
  await page.getByRole('button', { name: '申请提前截止', exact: true }).click()
  const box = page.locator('.el-message-box')
  await box.getByRole('button', { name: '确定' }).click()
  await box.getByText('必填').waitFor()
  await box.locator('textarea').fill(EARLY_REASON)
  await box.getByRole('button', { name: '确定' }).click()
  await page.getByText('已申请提前截止，等待监督员会签').waitFor()
  await page.getByText(/组织者于 .* 申请提前截止，等待监督员会签/).waitFor()
  await page.getByText(`理由：${EARLY_REASON}`).waitFor()
  // Still open; the request cannot be made twice, and only a supervisor countersigns.
  await page.locator('.page-head .el-tag', { hasText: '征集中' }).waitFor()
  assert.deepEqual(await headerButtons(), [['申请提前截止', false], ['撤回议题', true]])
  await page.getByTestId('blocked-actions').getByText('已有一份提前截止申请在等待监督员会签').waitFor()
  await screenshot(page, 'admin-05b-early-close-requested')
})

step('the county supervisor countersigns the early close on the supervision page, shown the reason', async () => {
  const sup = await signIn('supervisor@yishi.example')
  await sup.getByRole('menuitem', { name: '监督与纠正' }).click()
  await sup.getByRole('heading', { name: '等待会签的提前截止申请' }).waitFor()
  const row = sup.locator('.requests .el-table__row', { hasText: TITLE })
  await row.getByText(EARLY_REASON).waitFor()
  await row.getByRole('button', { name: '会签提前截止' }).click()
  const dialog = sup.getByRole('dialog', { name: '会签提前截止' })
  await dialog.getByTestId('early-close-reason').getByText(EARLY_REASON).waitFor()
  // Declining needs a public note; approving does not.
  await dialog.getByRole('button', { name: '不同意' }).click()
  await dialog.getByText('不同意时须说明理由').waitFor()
  await screenshot(sup, 'admin-05c-countersign')
  await dialog.getByRole('button', { name: '同意提前截止' }).click()
  await sup.getByText('已会签，议题已截止').waitFor()
  await sup.getByText('没有等待会签的申请').waitFor()
  await sup.context().close()
  await page.reload()
  await page.locator('.page-head .el-tag', { hasText: '已截止' }).waitFor()
})

step('publishes the outcome, then starts implementing: completion waits for every dissenter', async () => {
  await page.getByRole('button', { name: '形成协商意见', exact: true }).click()
  const dialog = page.getByRole('dialog', { name: '形成协商意见' })
  await dialog.waitFor()
  await dialog.getByRole('button', { name: '发布协商意见' }).click()
  await dialog.locator('.el-form-item__error', { hasText: '必填' }).first().waitFor()
  await dialog.getByText('支持', { exact: true }).click()
  await dialog.locator('#outcome-decision').fill('实施集中供暖改造，取暖费按面积分档收取，低保户减免。')
  await dialog.locator('#outcome-body').fill('夏官营镇人民政府')
  await fillDate(dialog.locator('#outcome-deadline'), outcomeDeadline)
  await dialog.getByText('落实期限').click()
  await screenshot(page, 'admin-06-outcome')
  await dialog.getByRole('button', { name: '发布协商意见' }).click()
  await page.locator('.page-head .el-tag', { hasText: '已形成意见' }).waitFor()
  await lifecycle('开始落实', '落实中')
  // Two dissenters online and one recorded at the meeting: none explained yet.
  assert.deepEqual(await headerButtons(), [['落实完成', false], ['延长落实期限', true]])
  await page.getByTestId('blocked-actions').getByText(/落实完成：还有 3 位持不同意见的居民没有得到解释/).waitFor()
})

step('reads the dissent themes and the villages whose majority dissents', async () => {
  await page.getByRole('tab', { name: '不同意见' }).click()
  await page.getByRole('heading', { name: '反对理由关键词' }).waitFor()
  await page.getByRole('cell', { name: '取暖费' }).waitFor()
  await screenshot(page, 'admin-07-dissent')
})

step('explains the outcome to the dissenters with a preview of its recipients', async () => {
  await page.getByRole('tab', { name: '解释说明' }).click()
  const preview = page.getByTestId('explain-preview')
  await preview.getByText('将送达 2 位居民').waitFor()
  await page.getByRole('button', { name: '发布解释说明' }).click()
  await page.locator('.el-form-item__error', { hasText: '必填' }).waitFor()
  await page.locator('#explain-body').fill(EXPLANATION)
  await preview.getByText(EXPLANATION).waitFor()
  await screenshot(page, 'admin-08-explain')
  await page.getByRole('button', { name: '发布解释说明' }).click()
  const box = page.locator('.el-message-box')
  await box.getByText('将发送给 2 位居民').waitFor()
  await box.getByRole('button', { name: '确定' }).click()
  await page.getByText('解释说明已发布，居民会收到通知').waitFor()
  await page.locator('.el-timeline-item', { hasText: EXPLANATION }).waitFor()
  await screenshot(page, 'admin-09-explained')

  for (const [who, expected] of [['resident1', 0], ['resident2', 1], ['resident3', 1]]) {
    const data = await app.gql('{ myExplanations { body } }', {}, tokens[who])
    assert.equal(data.myExplanations.length, expected, who)
  }
  await mail.waitFor((m) => m.to.includes('resident3@yishi.example') && /\/explanations\//.test(m.text))
})

step('reads what a dissenter answered and follows that one answer up', async () => {
  const [received] = (await app.gql('{ myExplanations { id } }', {}, tokens.resident2)).myExplanations
  await app.gql(
    'mutation($id: ID!) { replyToExplanation(id: $id, reply: UNSATISFIED, comment: "取暖费还是太贵，希望再降一点。") { myReply } }',
    { id: received.id },
    tokens.resident2,
  )
  await page.reload()
  await page.getByRole('tab', { name: '解释说明' }).click()
  const item = page.locator('.el-timeline-item', { hasText: EXPLANATION })
  await item.locator('summary', { hasText: '居民答复' }).click()
  await item.getByText('共 1 条答复，其中不满意 1 条').waitFor()
  await item.getByText('取暖费还是太贵，希望再降一点。').waitFor()
  // No name: the organiser follows the answer up, the system routes it.
  const { me } = await app.gql('{ me { displayName } }', {}, tokens.resident2)
  assert.ok(!(await item.innerText()).includes(me.displayName), 'no resident name beside an answer')
  await item.getByRole('button', { name: '单独再次说明' }).click()
  await page.getByTestId('explain-preview').getByText('将送达 1 位居民').waitFor()
  await screenshot(page, 'admin-09b-replies')
})

step('records the explanation given in person to the dissent recorded at the meeting', async () => {
  await page.reload()
  const pending = page.getByTestId('unexplained')
  await pending.getByText('还有 1 位持不同意见的居民没有得到解释').waitFor()
  const row = pending.locator('.el-table__row', { hasText: '赵奶奶' })
  await row.getByText('会议代录').waitFor()
  await row.getByRole('button', { name: '记录当面解释' }).click()
  const dialog = page.getByRole('dialog', { name: '记录当面解释' })
  await dialog.getByRole('button', { name: '保存记录' }).click()
  await dialog.locator('.el-form-item__error', { hasText: '必填' }).first().waitFor()
  await dialog.locator('#inperson-by').fill('过店子村村委会主任')
  await fillDate(dialog.locator('#inperson-at'), new Date(Date.now() - 3_600_000))
  await dialog.locator('#inperson-place').fill('赵奶奶家中')
  await dialog.locator('#inperson-place').click()
  await dialog.getByText('满意', { exact: true }).click()
  await dialog.locator('#inperson-note').fill('讲解了按面积分档收费，老人表示理解。')
  await screenshot(page, 'admin-09b-in-person')
  await dialog.getByRole('button', { name: '保存记录' }).click()
  await page.getByText('当面解释已记录').waitFor()
  await pending.getByText('每位持不同意见的居民都已得到解释').waitFor()
  await page.locator('.el-table__row', { hasText: '赵奶奶家中' }).waitFor()
  // The gate is open: completion is allowed now.
  await page.waitForFunction(() => {
    const b = [...document.querySelectorAll('[role="group"] button')].find((x) => x.textContent?.trim() === '落实完成')
    return b && !b.disabled
  })
})

step('extends the deadline with a public reason; the original deadline stays', async () => {
  await page.getByRole('button', { name: '延长落实期限', exact: true }).click()
  const dialog = page.getByRole('dialog', { name: '延长落实期限' })
  await dialog.getByTestId('deadline-history').getByText('没有延期').waitFor()
  await fillDate(dialog.locator('#extend-deadline'), extendedDeadline)
  await dialog.getByText('新的期限').click()
  await dialog.getByRole('button', { name: '延长期限' }).click()
  await dialog.locator('.el-form-item__error', { hasText: '必填' }).waitFor()
  await dialog.locator('#extend-reason').fill(EXTEND_REASON)
  await screenshot(page, 'admin-09c-extend')
  await dialog.getByRole('button', { name: '延长期限' }).click()
  await page.getByText('落实期限已延长').waitFor()
  await page.getByRole('tab', { name: '协商意见与落实' }).click()
  const history = page.locator('#pane-outcome').getByTestId('deadline-history')
  await history.getByText(EXTEND_REASON).waitFor()
  const topic = await app.gql(
    'query($id: ID!) { topic(id: $id) { originalDeadline deadline deadlineExtensions { reason } } }',
    { id: topicId },
  )
  assert.equal(Date.parse(topic.topic.originalDeadline), Math.floor(outcomeDeadline.getTime() / 1000) * 1000)
  assert.equal(Date.parse(topic.topic.deadline), Math.floor(extendedDeadline.getTime() / 1000) * 1000)
  assert.deepEqual(topic.topic.deadlineExtensions, [{ reason: EXTEND_REASON }])
})

step('a signed-out visitor reads the original and the new deadline and the public record, verified intact', async () => {
  const visitor = await newPhonePage(browser, app)
  await visitor.goto(`/topics/${topicId}`)
  await visitor.getByRole('heading', { name: TITLE }).waitFor()
  await visitor.getByTestId('deadline-extensions').getByText(new RegExp(`原定 .+，延期至 .+，理由：${EXTEND_REASON}`)).waitFor()
  const record = visitor.getByTestId('procedure-record')
  await record.getByText('记录校验：完整 ✓').waitFor()
  const entries = (await record.locator('li .what').allInnerTexts()).map((s) => s.trim())
  assert.deepEqual(entries, [
    '发布预告',
    '开始征集意见',
    '申请提前截止',
    '监督员同意提前截止',
    '公布协商意见',
    '开始落实',
    '发布解释说明',
    '当面解释',
    '延长落实期限',
  ])
  await record.getByText('夏官营镇组织者').first().waitFor()
  await record.getByText('榆中县监督员').waitFor()
  await record.getByText(`理由：${EARLY_REASON}`).first().waitFor()
  await record.getByText(`理由：${EXTEND_REASON}`).waitFor()
  await record.getByText(/^新期限：/).waitFor()
  await screenshot(visitor, 'admin-09d-resident-record')
  await visitor.context().close()
})

step('completes the topic once every dissenter is explained', async () => {
  await lifecycle('落实完成', '已办结')
  assert.deepEqual(await headerButtons(), [])
})

step('switches to English (the account’s email language follows)', async () => {
  const token = await app.login('township@yishi.example')
  const accountLocale = async (want) => {
    for (let i = 0; i < 50; i++) {
      if ((await app.gql('{ me { locale } }', {}, token)).me.locale === want) return
      await new Promise((r) => setTimeout(r, 100))
    }
    assert.fail(`the account's locale never became ${want}`)
  }
  await page.getByRole('radio', { name: 'English' }).click({ force: true })
  await page.getByRole('menuitem', { name: 'Dashboard' }).waitFor()
  await page.getByRole('tab', { name: 'Explanations' }).waitFor()
  await accountLocale('en')
  await page.getByRole('radio', { name: '中文' }).click({ force: true })
  await page.getByRole('menuitem', { name: '数据看板' }).waitFor()
  await accountLocale('zh-CN')
})

step('approves a residency request from the queue, and rejects another with a reason', async () => {
  const ask = async (email, name, note) => {
    await app.gql('mutation($i: RegisterInput!) { register(input: $i) { email } }', {
      i: { email, password: 'dongtian-hebian-42-liushu', displayName: name },
    })
    const token = await app.login(email, 'dongtian-hebian-42-liushu')
    const message = await mail.waitFor((m) => m.to.includes(email) && /verify-email/.test(m.text))
    const verify = new URL(linkIn(message, '/verify-email')).searchParams.get('token')
    await app.gql('mutation($t: String!) { verifyEmail(token: $t) { id } }', { t: verify })
    await app.gql('mutation($v: String!, $n: String) { requestResidency(villageCode: $v, note: $n) { id } }', { v: '620123101201', n: note }, token)
    return token
  }
  const stamp = Date.now()
  const good = await ask(`liu.${stamp}@example.com`, '刘大姐', '二社 7 号')
  await ask(`fake.${stamp}@example.com`, '路人甲', '')

  await page.getByRole('menuitem', { name: '居民认证审核' }).click()
  const row = (name) => page.locator('.el-table__row', { hasText: name })
  await row('刘大姐').getByText('二社 7 号').waitFor()
  await screenshot(page, 'admin-13-residency')
  await row('刘大姐').getByRole('button', { name: '通过' }).click()
  await page.getByText('已通过 刘大姐 的认证').waitFor()
  await row('路人甲').getByRole('button', { name: '驳回' }).click()
  const box = page.locator('.el-message-box')
  await box.getByRole('button', { name: '确定' }).click()
  await box.getByText('必填').waitFor()
  await box.locator('textarea').fill('本村没有这户人家，请核实住址后重新申请。')
  await box.getByRole('button', { name: '确定' }).click()
  await page.getByText('没有待处理的申请').waitFor()
  const me = await app.gql('{ me { residency { status divisionCode } } }', {}, good)
  assert.deepEqual(me.me.residency, { status: 'APPROVED', divisionCode: '620123101201' })
})

step('reads the audit log: the topic was announced and opened, with a link to it', async () => {
  await page.getByRole('menuitem', { name: '操作日志' }).click()
  await page.getByRole('heading', { name: '操作日志' }).waitFor()
  const row = (action) => page.locator('.el-table__row', { hasText: action }).filter({ hasText: `议题 #${topicId}` })
  await row('发布预告').first().waitFor()
  await row('开始征集').first().waitFor()
  await page.locator('.el-table__row', { hasText: '通过居民认证' }).filter({ hasText: '居民认证 #' }).first().waitFor()
  assert.equal(await page.locator('.el-alert--error').count(), 0)
  await screenshot(page, 'admin-14-audit')
  // Only the openings; the detail unfolds; the subject links to the topic.
  await page.locator('.el-select', { has: page.getByLabel('操作', { exact: true }) }).click()
  await page.locator('.el-select-dropdown__item', { hasText: '开始征集' }).filter({ visible: true }).click()
  await page.waitForFunction(() => document.querySelectorAll('.audit-table .el-table__body-wrapper tbody tr.el-table__row').length === 1)
  await row('开始征集').locator('.el-table__expand-icon').click()
  await page.locator('.audit-table pre').waitFor()
  await screenshot(page, 'admin-14b-audit-filtered')
  await row('开始征集').getByRole('link').click()
  await page.getByRole('heading', { name: TITLE }).waitFor()
})

test('a resident without a staff role is refused', async () => {
  const other = await newDesktopPage(browser, app)
  await other.goto('/admin/login')
  await other.getByLabel('邮箱').fill('resident1@yishi.example')
  await other.getByLabel('密码').fill(app.password('resident1@yishi.example'))
  await other.getByRole('button', { name: '登录' }).click()
  await other.getByText('没有管理权限').waitFor()
  await other.context().close()
})

test('the province administrator visits every section; assigns and revokes a role', async () => {
  const admin = await newDesktopPage(browser, app)
  await admin.goto('/admin/login')
  await admin.getByLabel('邮箱').fill('admin@yishi.example')
  await admin.getByLabel('密码').fill(app.password('admin@yishi.example'))
  await admin.getByRole('button', { name: '登录' }).click()
  await admin.getByRole('heading', { name: /数据看板 · 甘肃省/ }).waitFor()
  // The decided topic rolls up to the province.
  await admin.getByRole('img', { name: '下级区划议题状态' }).waitFor()
  await screenshot(admin, 'admin-10-province-dashboard')

  const sections = [
    ['议题', TITLE],
    ['居民认证审核', '没有待处理的申请'],
    ['议题建议', '没有建议'],
    ['监督与纠正', TITLE],
    ['行政区划', '兰州市'],
    ['用户与角色', '查找用户并分配角色'],
    ['邮件发送', 'resident3@yishi.example'],
    ['操作日志', '议题 #'],
  ]
  for (const [menu, text] of sections) {
    await admin.getByRole('menuitem', { name: menu, exact: true }).click()
    await admin.getByRole('heading', { name: menu, exact: true }).waitFor()
    await admin.getByText(text).first().waitFor()
    assert.equal(await admin.getByRole('alert').count(), 0, `an error on ${menu}`)
    await screenshot(admin, `admin-11-${sections.indexOf(sections.find((s) => s[0] === menu))}-section`)
  }

  // Users and roles: find resident1, make them an expert of 夏官营镇, then revoke it.
  await admin.getByRole('menuitem', { name: '用户与角色', exact: true }).click()
  await admin.locator('#role-email').fill('resident1@yishi.example')
  await admin.getByRole('button', { name: '查找', exact: true }).click()
  await admin.getByText('王大爷').waitFor()
  await admin.locator('.el-select', { hasText: '组织者' }).click()
  await admin.locator('.el-select-dropdown__item', { hasText: '专家' }).filter({ visible: true }).click()
  await admin.getByRole('button', { name: '分配', exact: true }).click()
  await admin.locator('.el-form-item__error', { hasText: '请选择行政区划' }).waitFor()
  await admin.locator('.el-cascader', { has: admin.locator('input[placeholder="选择行政区划"]') }).click()
  for (const name of ['甘肃省', '兰州市', '榆中县', '夏官营镇']) {
    const node = admin.locator('.el-cascader-node', { hasText: name }).first()
    await node.locator('.el-cascader-node__label').click()
  }
  await admin.locator('.el-cascader-node', { hasText: '夏官营镇' }).first().locator('.el-radio').click()
  await admin.getByRole('heading', { name: '用户与角色' }).click()
  await admin.getByRole('button', { name: '分配', exact: true }).click()
  await admin.locator('.el-tag', { hasText: '专家 · 甘肃省 兰州市 榆中县 夏官营镇' }).first().waitFor()
  const token = await app.login('resident1@yishi.example')
  const me = await app.gql('{ me { roles { role divisionCode } } }', {}, token)
  assert.deepEqual(me.me.roles, [{ role: 'EXPERT', divisionCode: '620123101' }])
  await screenshot(admin, 'admin-12-roles')
  await admin.locator('.el-descriptions .el-tag', { hasText: '专家' }).locator('.el-tag__close').click()
  await admin.locator('.el-message-box').getByRole('button', { name: '确定' }).click()
  await admin.getByText('角色已撤销').waitFor()
  const after = await app.gql('{ me { roles { role } } }', {}, await app.login('resident1@yishi.example'))
  assert.deepEqual(after.me.roles, [])
  await admin.context().close()
})

test('no admin page broke the Content-Security-Policy', () => {
  assertNoCspViolations()
})
