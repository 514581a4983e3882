//! Renders a [`Report`] as CSV (for spreadsheets) or printable HTML (to hand
//! to the township government), in the reader's language (Chinese by
//! default) and in China time throughout: states, stances and audiences in
//! words, never as codes; a signature and seal block at the end.

use minijinja::{context, Environment};

use crate::domain::reports::Report;

/// The reader's words for the codes a report holds.
struct Words {
    en: bool,
}

impl Words {
    fn new(locale: &str) -> Self {
        Self {
            en: locale.starts_with("en"),
        }
    }

    fn pick(&self, zh: &'static str, en: &'static str) -> &'static str {
        if self.en {
            en
        } else {
            zh
        }
    }

    fn locale(&self) -> &'static str {
        self.pick("zh-CN", "en")
    }

    /// A topic state (`decided`) in words.
    fn state(&self, code: &str) -> String {
        let (zh, en) = match code {
            "draft" => ("草稿", "draft"),
            "announced" => ("已预告", "announced"),
            "open" => ("征集中", "open for opinions"),
            "closed" => ("已截止", "closed"),
            "decided" => ("已形成协商意见", "decided"),
            "implementing" => ("落实中", "being implemented"),
            "completed" => ("已落实", "completed"),
            "withdrawn" => ("已撤回", "withdrawn"),
            other => return other.to_owned(),
        };
        self.pick(zh, en).to_owned()
    }

    /// A stance key (`support`) in words; an option's label stays as it is.
    fn choice(&self, key: &str) -> String {
        let (zh, en) = match key {
            "support" => ("赞成", "support"),
            "oppose" => ("反对", "oppose"),
            "abstain" => ("弃权", "abstain"),
            "satisfied" => ("满意", "satisfied"),
            "basically_satisfied" => ("基本满意", "basically satisfied"),
            "unsatisfied" => ("不满意", "unsatisfied"),
            "suggestion" => ("建议", "suggestion"),
            other => return other.to_owned(),
        };
        self.pick(zh, en).to_owned()
    }

    fn audience(&self, code: &str) -> String {
        let (zh, en) = match code {
            "all" => ("全体持不同意见者（公开）", "all dissenters (public)"),
            "division" => ("某区划的持不同意见者", "dissenters of one division"),
            "opinions" => ("选定的意见", "chosen opinions"),
            "unsatisfied" => (
                "仍不满意者（再次说明）",
                "those still unsatisfied (follow-up)",
            ),
            other => return other.to_owned(),
        };
        self.pick(zh, en).to_owned()
    }

    fn flag_status(&self, code: &str) -> String {
        let (zh, en) = match code {
            "open" => ("待纠正", "open"),
            "corrected" => ("已纠正，待监督员确认", "corrected, awaiting the supervisor"),
            "accepted" => ("监督员已确认", "accepted"),
            "dismissed" => ("监督员已撤销", "dismissed"),
            other => return other.to_owned(),
        };
        self.pick(zh, en).to_owned()
    }

    /// An RFC 3339 instant in China time, as the reader writes dates.
    fn when(&self, raw: &str) -> String {
        crate::mail::templates::china_time(raw, self.locale())
    }

    fn percent(share: Option<f64>) -> String {
        share
            .map(|p| format!("{:.1}%", p * 100.0))
            .unwrap_or_default()
    }
}

/// CSV: one section per part of the report, with headers in the reader's
/// language, written as every download is ([`crate::spreadsheet`]: a BOM so
/// Excel and WPS on Chinese Windows read UTF-8, formula-like cells
/// neutralised).
///
/// # Errors
/// Only if writing to memory fails.
pub fn to_csv(report: &Report, locale: &str) -> anyhow::Result<Vec<u8>> {
    let w = Words::new(locale);
    let mut out = crate::spreadsheet::Writer::with_bom();
    out.row([
        w.pick("议题", "Topic"),
        &report.topic_id.to_string(),
        &report.title,
    ])?;
    out.row([
        w.pick("协商范围", "Scope"),
        &report.scope_code,
        &report.scope_path,
    ])?;
    out.row([w.pick("状态", "State"), &w.state(&report.state)])?;
    out.row([
        w.pick("征集时间", "Opinion period"),
        &report
            .opened_at
            .as_deref()
            .map(|t| w.when(t))
            .unwrap_or_default(),
        &report
            .closed_at
            .as_deref()
            .map(|t| w.when(t))
            .unwrap_or_default(),
    ])?;
    out.row([""])?;
    let mut header: Vec<String> = [
        w.pick("区划代码", "Division code"),
        w.pick("区划", "Division"),
        w.pick("参与人数", "Responses"),
        w.pick("应参与人数", "Eligible"),
        w.pick("参与率", "Participation"),
    ]
    .map(str::to_owned)
    .to_vec();
    header.extend(report.choices.iter().map(|c| w.choice(c)));
    out.row(&header)?;
    for row in std::iter::once(&report.overall).chain(&report.rows) {
        let mut record = vec![
            row.code.clone(),
            row.name.clone(),
            row.total.to_string(),
            row.eligible.to_string(),
            Words::percent(row.participation),
        ];
        record.extend(row.counts.iter().map(|(_, n, _)| n.to_string()));
        out.row(&record)?;
    }
    out.row([""])?;
    out.row([
        w.pick("协商意见版本", "Outcome version"),
        w.pick("发布时间", "Published"),
        w.pick("协商意见", "Decision"),
        w.pick("采纳意见", "Adopted"),
        w.pick("责任单位", "Responsible body"),
        w.pick("落实时限", "Deadline"),
        w.pick("委托部门", "Entrusted by"),
        w.pick("修改原因", "Reason for change"),
    ])?;
    for o in &report.outcomes {
        out.row([
            o.version.to_string(),
            w.when(&o.published_at.to_rfc3339()),
            o.decision.clone(),
            o.adopted_choice
                .as_deref()
                .map(
                    |key| match (key.starts_with("option:"), &report.adopted_label) {
                        // An option is named by its label (the latest version's).
                        (true, Some(label)) => label.clone(),
                        _ => w.choice(key),
                    },
                )
                .unwrap_or_default(),
            o.responsible_body.clone(),
            w.when(&o.deadline.to_rfc3339()),
            o.entrusted_by.clone().unwrap_or_default(),
            o.change_reason.clone().unwrap_or_default(),
        ])?;
    }
    if let Some(original) = &report.original_deadline {
        out.row([w.pick("原定时限", "Original deadline"), &w.when(original)])?;
        for x in &report.extensions {
            out.row([
                w.pick("延期至", "Extended to"),
                &w.when(&x.new_deadline),
                &x.reason,
            ])?;
        }
    }
    if let Some(c) = &report.coverage {
        out.row([""])?;
        out.row([
            w.pick("持不同意见人数", "Dissenters"),
            w.pick("已解释", "Explained"),
            w.pick("已阅读", "Read"),
            w.pick("满意", "Satisfied"),
            w.pick("不满意", "Unsatisfied"),
            w.pick("未解释", "Not yet explained"),
        ])?;
        out.row(
            [
                c.dissenters,
                c.explained,
                c.read,
                c.satisfied,
                c.unsatisfied,
                c.not_yet_explained,
            ]
            .map(|n| n.to_string()),
        )?;
    }
    out.row([""])?;
    out.row([
        w.pick("进展时间", "Progress at"),
        w.pick("完成比例", "Percent"),
        w.pick("落实进展", "Progress"),
    ])?;
    for p in &report.progress {
        out.row([
            w.when(&p.published_at.to_rfc3339()),
            format!("{}%", p.percent),
            p.body.clone(),
        ])?;
    }
    out.finish()
}

/// A printable HTML page; `locale` is `zh-CN` (default) or `en`.
///
/// # Errors
/// Only on a template error (a bug).
pub fn to_html(report: &Report, locale: &str) -> anyhow::Result<String> {
    let w = Words::new(locale);
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    let en = w.en;
    env.add_filter("when", move |raw: String| Words { en }.when(&raw));
    env.add_filter("choice", move |key: String| Words { en }.choice(&key));
    env.add_filter("audience", move |key: String| Words { en }.audience(&key));
    env.add_filter("flag_status", move |key: String| {
        Words { en }.flag_status(&key)
    });
    env.add_template("report.html", include_str!("report.html"))?;
    let t = |zh: &'static str, english: &'static str| w.pick(zh, english);
    let labels = context! {
        title => t("协商情况报告", "Consultation report"),
        scope => t("协商范围", "Scope"),
        state => t("状态", "State"),
        period => t("征集时间", "Opinion period"),
        results => t("各地意见汇总", "Results by division"),
        division => t("区划", "Division"),
        responses => t("参与人数", "Responses"),
        eligible => t("应参与人数", "Eligible"),
        participation => t("参与率", "Participation"),
        consensus => t("共识度（支持率最低的社区）", "Consensus (least-agreeing community)"),
        dissenting => t("多数持不同意见的社区", "Communities whose majority dissents"),
        assessments => t("论证评估", "Assessments"),
        meetings => t("线下协商会议", "Meetings"),
        attendees => t("人参加", "attended"),
        outcome => t("协商意见", "Outcome"),
        version => t("版本", "Version"),
        adopted => t("采纳意见", "Adopted position"),
        responsible => t("责任单位", "Responsible body"),
        deadline => t("落实时限", "Deadline"),
        original_deadline => t("原定时限", "Original deadline"),
        extended_to => t("延期至", "Extended to"),
        quorum => t("未达法定参与率的说明", "Why it stands below the quorum"),
        entrusted => t("委托部门", "Entrusted by"),
        change => t("修改原因", "Reason for change"),
        overdue => t("已逾期", "Overdue"),
        explanations => t("解释说明情况", "Explanations to dissenters"),
        explanation_texts => t("解释说明内容与居民答复", "Explanations and the residents' answers"),
        reached => t("送达", "reached"),
        people => t("人", "people"),
        in_person => t("当面解释", "Explained in person"),
        dissenters => t("持不同意见人数", "Dissenters"),
        explained => t("已解释", "Explained"),
        read => t("已阅读", "Read"),
        satisfied => t("满意", "Satisfied"),
        unsatisfied => t("不满意", "Unsatisfied"),
        not_yet => t("未解释", "Not yet explained"),
        progress => t("落实进展", "Implementation progress"),
        flags => t("监督纠正", "Supervision and correction"),
        generated => t("生成时间", "Generated"),
        sign_organiser => t("组织单位（盖章）", "Organising body (seal)"),
        sign_person => t("负责人（签字）", "Person responsible (signature)"),
        sign_date => t("日期", "Date"),
        none => t("无", "none"),
    };
    Ok(env.get_template("report.html")?.render(context! {
        r => report,
        l => labels,
        state_words => w.state(&report.state),
        lang => w.locale(),
    })?)
}
