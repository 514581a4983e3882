//! What each outbox message says: a subject, a plain-text part and an HTML
//! part per kind and locale, rendered at delivery from the row's `payload`.
//!
//! Templates are files under `templates/` (compiled into the binary), one
//! `KIND.LOCALE.txt` whose first line is the subject and one
//! `KIND.LOCALE.html` extending `layout.html`. Only `.html` templates are
//! HTML-escaped (minijinja escapes by file extension), so a topic title with
//! `<` reaches the text part as written and the HTML part escaped.

use std::sync::OnceLock;

use anyhow::{anyhow, Context as _};
use chrono::{DateTime, FixedOffset};
use minijinja::{Environment, Value};

use crate::error::{Error, Result};

/// A message ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The locales with templates; anything else is sent in the first.
pub const LOCALES: [&str; 2] = ["zh-CN", "en"];

/// Every kind that has templates (the outbox's `kind` column).
pub const KINDS: [&str; 18] = [
    "verify_email",
    "password_reset",
    "registration_attempt",
    "residency_approved",
    "residency_rejected",
    "topic_announced",
    "topic_opened",
    "closing_soon",
    "proxy_opinion_recorded",
    "outcome_published",
    "outcome_corrected",
    "progress_update",
    "explanation_published",
    "topic_withdrawn",
    "topic_completed",
    "deadline_extended",
    "suggestion_answered",
    "daily_digest",
];

macro_rules! template_files {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("templates/", $name)))),*]
    };
}

const FILES: &[(&str, &str)] = template_files!(
    "layout.html",
    "button.html",
    "verify_email.zh-CN.txt",
    "verify_email.zh-CN.html",
    "verify_email.en.txt",
    "verify_email.en.html",
    "password_reset.zh-CN.txt",
    "password_reset.zh-CN.html",
    "password_reset.en.txt",
    "password_reset.en.html",
    "registration_attempt.zh-CN.txt",
    "registration_attempt.zh-CN.html",
    "registration_attempt.en.txt",
    "registration_attempt.en.html",
    "residency_approved.zh-CN.txt",
    "residency_approved.zh-CN.html",
    "residency_approved.en.txt",
    "residency_approved.en.html",
    "residency_rejected.zh-CN.txt",
    "residency_rejected.zh-CN.html",
    "residency_rejected.en.txt",
    "residency_rejected.en.html",
    "topic_announced.zh-CN.txt",
    "topic_announced.zh-CN.html",
    "topic_announced.en.txt",
    "topic_announced.en.html",
    "topic_opened.zh-CN.txt",
    "topic_opened.zh-CN.html",
    "topic_opened.en.txt",
    "topic_opened.en.html",
    "closing_soon.zh-CN.txt",
    "closing_soon.zh-CN.html",
    "closing_soon.en.txt",
    "closing_soon.en.html",
    "proxy_opinion_recorded.zh-CN.txt",
    "proxy_opinion_recorded.zh-CN.html",
    "proxy_opinion_recorded.en.txt",
    "proxy_opinion_recorded.en.html",
    "outcome_published.zh-CN.txt",
    "outcome_published.zh-CN.html",
    "outcome_published.en.txt",
    "outcome_published.en.html",
    "outcome_corrected.zh-CN.txt",
    "outcome_corrected.zh-CN.html",
    "outcome_corrected.en.txt",
    "outcome_corrected.en.html",
    "progress_update.zh-CN.txt",
    "progress_update.zh-CN.html",
    "progress_update.en.txt",
    "progress_update.en.html",
    "explanation_published.zh-CN.txt",
    "explanation_published.zh-CN.html",
    "explanation_published.en.txt",
    "explanation_published.en.html",
    "topic_withdrawn.zh-CN.txt",
    "topic_withdrawn.zh-CN.html",
    "topic_withdrawn.en.txt",
    "topic_withdrawn.en.html",
    "topic_completed.zh-CN.txt",
    "topic_completed.zh-CN.html",
    "topic_completed.en.txt",
    "topic_completed.en.html",
    "deadline_extended.zh-CN.txt",
    "deadline_extended.zh-CN.html",
    "deadline_extended.en.txt",
    "deadline_extended.en.html",
    "suggestion_answered.zh-CN.txt",
    "suggestion_answered.zh-CN.html",
    "suggestion_answered.en.txt",
    "suggestion_answered.en.html",
    "daily_digest.zh-CN.txt",
    "daily_digest.zh-CN.html",
    "daily_digest.en.txt",
    "daily_digest.en.html",
);

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // A missing payload field is a bug in the enqueuing code: fail the
        // message loudly rather than mail a blank.
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, source) in FILES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("mail template {name} does not parse: {e}"));
        }
        env.set_formatter(html_formatter);
        env.add_filter("when", when);
        env.add_filter("choice_label", choice_label);
        env
    })
}

/// Renders the message of `kind` in `locale` from its `payload` (the JSON
/// stored in the outbox row); links are built on `public_url`. With an
/// `unsubscribe_url`, both parts end with it.
///
/// # Errors
/// `Internal` when the kind is unknown or the payload lacks a field the
/// template needs: the message can never be sent as it stands.
pub fn render(
    kind: &str,
    locale: &str,
    payload: &serde_json::Value,
    public_url: &str,
    unsubscribe_url: Option<&str>,
) -> Result<Rendered> {
    if !KINDS.contains(&kind) {
        return Err(Error::internal(anyhow!(
            "no mail template for kind {kind:?}"
        )));
    }
    let locale = if LOCALES.contains(&locale) {
        locale
    } else {
        LOCALES[0]
    };
    let env = environment();
    let mut context = match payload {
        serde_json::Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    // The subject is the first line of the text template: a line break in
    // a title must not push the rest of it into the body.
    for key in ["title", "division_name"] {
        if let Some(serde_json::Value::String(v)) = context.get_mut(key) {
            *v = v.split_whitespace().collect::<Vec<_>>().join(" ");
        }
    }
    context.insert("locale".into(), locale.into());
    context.insert("public_url".into(), public_url.into());

    let text = env
        .get_template(&format!("{kind}.{locale}.txt"))
        .and_then(|t| t.render(&context))
        .with_context(|| format!("rendering {kind}.{locale}.txt"))
        .map_err(Error::internal)?;
    let (subject, body) = text.split_once('\n').unwrap_or((text.as_str(), ""));
    let subject = subject.trim().to_owned();
    let mut text = format!("{}\n", body.trim());
    if let Some(url) = unsubscribe_url {
        // The text footer is the same for every kind: kept here rather than
        // repeated in each template.
        let label = if locale == "en" {
            "No longer want these emails? Unsubscribe:"
        } else {
            "不想再收到此类邮件？退订："
        };
        text.push_str(&format!("\n-- \n{label}\n{url}\n"));
    }

    context.insert("subject".into(), subject.clone().into());
    context.insert("unsubscribe_url".into(), unsubscribe_url.into());
    let html = env
        .get_template(&format!("{kind}.{locale}.html"))
        .and_then(|t| t.render(&context))
        .with_context(|| format!("rendering {kind}.{locale}.html"))
        .map_err(Error::internal)?;
    Ok(Rendered {
        subject,
        text,
        html,
    })
}

/// minijinja's own HTML escaping also encodes `/` (as `&#x2f;`), which
/// turns every link into entity soup that some mail clients and spam filters
/// mishandle; escaping the five HTML-significant characters is enough for
/// text and for quoted attribute values.
fn html_formatter(
    out: &mut minijinja::Output<'_>,
    state: &minijinja::State<'_, '_>,
    value: &Value,
) -> std::result::Result<(), minijinja::Error> {
    if value.is_safe() || !matches!(state.auto_escape(), minijinja::AutoEscape::Html) {
        return minijinja::escape_formatter(out, state, value);
    }
    let raw = value.to_string();
    let mut escaped = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    out.write_str(&escaped).map_err(minijinja::Error::from)
}

/// China has one time zone and no daylight saving: times are shown in it.
const CHINA: i32 = 8 * 3600;

/// `{{ opens_at | when(locale) }}`: an RFC 3339 instant in China time.
fn when(raw: String, locale: String) -> String {
    china_time(&raw, &locale)
}

/// An RFC 3339 instant in China time, as `locale` writes dates (emails and
/// reports alike); anything else as it is.
pub fn china_time(raw: &str, locale: &str) -> String {
    let Ok(at) = DateTime::parse_from_rfc3339(raw) else {
        return raw.to_owned();
    };
    let at = at.with_timezone(&FixedOffset::east_opt(CHINA).expect("valid offset"));
    if locale == "en" {
        at.format("%-d %b %Y %H:%M (China time)").to_string()
    } else {
        at.format("%Y年%-m月%-d日 %H:%M（北京时间）").to_string()
    }
}

/// `{{ choice | choice_label(locale) }}`: an opinion key in words.
fn choice_label(key: Value, locale: String) -> String {
    let key = key.as_str().unwrap_or_default().to_owned();
    let en = locale == "en";
    let label = match key.as_str() {
        "support" => ["赞成", "support"],
        "oppose" => ["反对", "oppose"],
        "abstain" => ["弃权", "abstain"],
        "satisfied" => ["满意", "satisfied"],
        "basically_satisfied" => ["基本满意", "basically satisfied"],
        "unsatisfied" => ["不满意", "unsatisfied"],
        "suggestion" => ["提出建议", "a suggestion"],
        k if k.starts_with("option:") => ["选择了一个选项", "one of the options"],
        _ => return key,
    };
    label[usize::from(en)].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(kind: &str) -> serde_json::Value {
        match kind {
            "verify_email" | "password_reset" => json!({
                "display_name": "小王", "link": "https://yishi.example/verify-email?token=abc",
                "expires_at": "2026-11-25T16:00:00+00:00"
            }),
            "residency_approved" | "residency_rejected" => json!({
                "display_name": "小王", "division_code": "620123101201",
                "division_name": "过店子村", "reason": null, "link": "https://yishi.example/me"
            }),
            "topic_announced" => json!({
                "topic_id": 7, "title": "修村道 <第一期>", "scope_code": "620123101",
                "opens_at": "2026-11-28T01:00:00+00:00", "closes_at": null
            }),
            "topic_opened" | "closing_soon" => json!({
                "topic_id": 7, "title": "修村道", "scope_code": "620123101",
                "opens_at": "2026-11-28T01:00:00+00:00", "closes_at": "2026-11-30T10:00:00+00:00"
            }),
            "outcome_published" | "outcome_corrected" => json!({
                "topic_id": 7, "title": "修村道", "version": 2, "decision": "三组至五组村道硬化",
                "responsible_body": "夏官营镇人民政府", "deadline": "2027-06-30T00:00:00+00:00",
                "change_reason": null, "link": "https://yishi.example/topics/7"
            }),
            "progress_update" => json!({
                "topic_id": 7, "title": "修村道", "body": "路基完成。", "percent": 40,
                "link": "https://yishi.example/topics/7"
            }),
            "daily_digest" => json!({
                "day": "2026-11-26", "count": 2, "items": [
                    { "subject": "议事预告：修村道", "link": "https://yishi.example/topics/7" },
                    { "subject": "落实进展（40%）：修村道", "link": "https://yishi.example/topics/7" }
                ]
            }),
            "topic_withdrawn" => json!({
                "topic_id": 7, "title": "修村道", "reason": "上级规划调整，另行协商",
                "link": "https://yishi.example/topics/7"
            }),
            "topic_completed" => json!({
                "topic_id": 7, "title": "修村道", "completed_at": "2027-06-20T00:00:00+00:00",
                "original_deadline": "2027-06-30T00:00:00+00:00", "on_time": true,
                "link": "https://yishi.example/topics/7"
            }),
            "deadline_extended" => json!({
                "topic_id": 7, "title": "修村道", "reason": "汛期停工",
                "original_deadline": "2027-06-30T00:00:00+00:00",
                "new_deadline": "2027-08-31T00:00:00+00:00",
                "link": "https://yishi.example/topics/7"
            }),
            "suggestion_answered" => json!({
                "suggestion_id": 5, "title": "硬化村道", "answer": "declined",
                "reason": "已列入明年计划", "division_name": "夏官营镇", "topic_id": null,
                "link": "https://yishi.example/suggestions/5"
            }),
            "explanation_published" => json!({
                "topic_id": 7, "title": "修村道", "explanation_id": 3, "body": "资金不足，分两期。",
                "link": "https://yishi.example/explanations/3"
            }),
            _ => json!({
                "display_name": "小王", "topic_id": 7, "title": "修村道",
                "choice": "support", "link": "https://yishi.example/topics/7"
            }),
        }
    }

    #[test]
    fn every_kind_renders_in_every_locale() {
        for kind in KINDS {
            for locale in LOCALES {
                let r =
                    render(kind, locale, &payload(kind), "https://yishi.example", None).unwrap();
                assert!(!r.subject.is_empty(), "{kind} {locale}");
                assert!(!r.subject.contains('\n'));
                assert!(r.text.contains("https://yishi.example"), "{kind} {locale}");
                assert!(r.html.contains("https://yishi.example"), "{kind} {locale}");
                assert!(r.html.starts_with("<!DOCTYPE html>"));
            }
        }
    }

    #[test]
    fn a_suggestion_answer_says_which_answer_in_both_locales() {
        for (answer, zh, en) in [
            ("adopted", "已采纳", "adopted"),
            ("declined", "未被采纳", "declined"),
            ("referred", "已提交上级协商", "referred"),
            ("referral_accepted", "上级已受理", "took up"),
            ("referral_declined", "上级未受理", "declined"),
        ] {
            let mut p = payload("suggestion_answered");
            p["answer"] = json!(answer);
            let r = render(
                "suggestion_answered",
                "zh-CN",
                &p,
                "https://y.example",
                None,
            )
            .unwrap();
            assert!(r.subject.contains(zh), "{answer}: {}", r.subject);
            assert!(r.html.contains("https://yishi.example/suggestions/5"));
            let r = render("suggestion_answered", "en", &p, "https://y.example", None).unwrap();
            assert!(r.subject.contains(en), "{answer}: {}", r.subject);
            if answer != "adopted" && answer != "referral_accepted" {
                assert!(r.text.contains("已列入明年计划"), "{answer}: {}", r.text);
            }
        }
    }

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let r = render(
            "topic_announced",
            "zh-CN",
            &payload("topic_announced"),
            "https://yishi.example",
            None,
        )
        .unwrap();
        assert_eq!(r.subject, "议事预告：修村道 <第一期>");
        assert!(r.text.contains("修村道 <第一期>"));
        assert!(r.html.contains("修村道 &lt;第一期&gt;"));
        assert!(!r.html.contains("<第一期>"));
        assert!(r.html.contains("href=\"https://yishi.example/topics/7\""));
        assert!(r.text.contains("2026年11月28日 09:00（北京时间）"));
        assert!(r.text.contains("https://yishi.example/topics/7"));
    }

    #[test]
    fn opening_and_closing_soon_say_when_it_closes_in_both_locales() {
        let cases = [
            (
                "topic_opened",
                "zh-CN",
                "议题已开始征求意见：修村道",
                "2026年11月30日 18:00（北京时间）",
            ),
            (
                "topic_opened",
                "en",
                "Now open for your opinion: 修村道",
                "30 Nov 2026 18:00 (China time)",
            ),
            (
                "closing_soon",
                "zh-CN",
                "议题即将截止：修村道",
                "2026年11月30日 18:00（北京时间）",
            ),
            (
                "closing_soon",
                "en",
                "Closing soon: 修村道",
                "30 Nov 2026 18:00 (China time)",
            ),
        ];
        for (kind, locale, subject, closes) in cases {
            let r = render(kind, locale, &payload(kind), "https://y.example", None).unwrap();
            assert_eq!(r.subject, subject);
            assert!(r.text.contains(closes), "{kind} {locale}: {}", r.text);
            assert!(r.html.contains(closes), "{kind} {locale}: {}", r.html);
            assert!(r.text.contains("https://y.example/topics/7"));
            assert!(r.html.contains("href=\"https://y.example/topics/7\""));
        }
    }

    #[test]
    fn a_line_break_in_a_title_stays_in_the_subject() {
        let mut p = payload("topic_announced");
        p["title"] = json!("修村道\n第一期");
        let r = render("topic_announced", "zh-CN", &p, "https://y.example", None).unwrap();
        assert_eq!(r.subject, "议事预告：修村道 第一期");
        assert!(r.text.starts_with("您好"));
    }

    #[test]
    fn english_uses_english_words_and_unknown_locales_fall_back_to_chinese() {
        let en = render(
            "verify_email",
            "en",
            &payload("verify_email"),
            "https://y.example",
            None,
        )
        .unwrap();
        assert_eq!(en.subject, "Please verify your email address");
        assert!(en.text.contains("26 Nov 2026 00:00 (China time)"));
        let fr = render(
            "verify_email",
            "fr",
            &payload("verify_email"),
            "https://y.example",
            None,
        )
        .unwrap();
        assert_eq!(fr.subject, "请验证您的邮箱");
    }

    #[test]
    fn an_unsubscribe_link_ends_both_parts() {
        let url = "https://y.example/api/unsubscribe?token=a.b.c";
        let r = render(
            "topic_announced",
            "en",
            &payload("topic_announced"),
            "https://y.example",
            Some(url),
        )
        .unwrap();
        assert!(r.text.trim_end().ends_with(url), "{}", r.text);
        assert!(r.html.contains(&format!("<a href=\"{url}\"")), "{}", r.html);
        let none = render(
            "topic_announced",
            "en",
            &payload("topic_announced"),
            "https://y.example",
            None,
        )
        .unwrap();
        assert!(!none.text.contains("nsubscribe"));
        assert!(!none.html.contains("nsubscribe"));
    }

    #[test]
    fn every_kind_of_email_has_templates() {
        for kind in crate::domain::outbox::EmailKind::ALL {
            assert!(KINDS.contains(&kind.as_str()), "no templates for {kind:?}");
        }
    }

    #[test]
    fn a_payload_missing_a_field_or_an_unknown_kind_is_an_error() {
        assert!(render("verify_email", "en", &json!({}), "https://y.example", None).is_err());
        assert!(render("nonsense", "en", &json!({}), "https://y.example", None).is_err());
    }
}
