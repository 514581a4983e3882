//! Renders a [`Report`] as CSV (for spreadsheets) or printable HTML (to hand
//! to the township government), in Chinese by default.

use minijinja::{context, Environment};

use crate::domain::reports::Report;

/// CSV: one section per part of the report, written as every download is
/// ([`crate::spreadsheet`]: a BOM, formula-like cells neutralised).
///
/// # Errors
/// Only if writing to memory fails.
pub fn to_csv(report: &Report) -> anyhow::Result<Vec<u8>> {
    let mut out = crate::spreadsheet::Writer::with_bom();
    out.row(["topic", &report.topic_id.to_string(), &report.title])?;
    out.row(["scope", &report.scope_code, &report.scope_path])?;
    out.row(["state", &report.state])?;
    out.row([""])?;
    let mut header = vec![
        "division_code".to_owned(),
        "division".to_owned(),
        "responses".to_owned(),
        "eligible".to_owned(),
        "participation".to_owned(),
    ];
    header.extend(report.choices.iter().cloned());
    out.row(&header)?;
    for row in std::iter::once(&report.overall).chain(&report.rows) {
        let mut record = vec![
            row.code.clone(),
            row.name.clone(),
            row.total.to_string(),
            row.eligible.to_string(),
            row.participation
                .map(|p| format!("{:.4}", p))
                .unwrap_or_default(),
        ];
        record.extend(row.counts.iter().map(|(_, n, _)| n.to_string()));
        out.row(&record)?;
    }
    out.row([""])?;
    out.row([
        "outcome_version",
        "published_at",
        "decision",
        "adopted",
        "responsible_body",
        "deadline",
        "entrusted_by",
        "change_reason",
    ])?;
    for o in &report.outcomes {
        out.row([
            o.version.to_string(),
            o.published_at.to_rfc3339(),
            o.decision.clone(),
            o.adopted_choice.clone().unwrap_or_default(),
            o.responsible_body.clone(),
            o.deadline.to_rfc3339(),
            o.entrusted_by.clone().unwrap_or_default(),
            o.change_reason.clone().unwrap_or_default(),
        ])?;
    }
    if let Some(c) = &report.coverage {
        out.row([""])?;
        out.row([
            "dissenters",
            "explained",
            "read",
            "satisfied",
            "unsatisfied",
            "not_yet_explained",
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
    out.row(["progress_at", "percent", "progress"])?;
    for p in &report.progress {
        out.row([
            p.published_at.to_rfc3339(),
            p.percent.to_string(),
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
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env.add_template("report.html", include_str!("report.html"))?;
    let en = locale.starts_with("en");
    let t = |zh: &'static str, english: &'static str| if en { english } else { zh };
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
        outcome => t("协商意见", "Outcome"),
        version => t("版本", "Version"),
        adopted => t("采纳意见", "Adopted position"),
        responsible => t("责任单位", "Responsible body"),
        deadline => t("落实时限", "Deadline"),
        entrusted => t("委托部门", "Entrusted by"),
        change => t("修改原因", "Reason for change"),
        overdue => t("已逾期", "Overdue"),
        explanations => t("解释说明情况", "Explanations to dissenters"),
        dissenters => t("持不同意见人数", "Dissenters"),
        explained => t("已解释", "Explained"),
        read => t("已阅读", "Read"),
        satisfied => t("满意", "Satisfied"),
        unsatisfied => t("不满意", "Unsatisfied"),
        not_yet => t("未解释", "Not yet explained"),
        progress => t("落实进展", "Implementation progress"),
        flags => t("监督纠正", "Supervision and correction"),
        generated => t("生成时间", "Generated"),
        none => t("无", "none"),
    };
    Ok(env
        .get_template("report.html")?
        .render(context! { r => report, l => labels, lang => if en { "en" } else { "zh-CN" } })?)
}
