//! Entrusted matters (受委托事项): "the consultation result of a matter
//! entrusted by the government or a department is reported to it in time".
//! An outcome names the body that entrusted the matter (`entrusted_by`); the
//! topic's organiser records when the report was submitted, to which body,
//! and the body's acknowledgement (date and reference).
//!
//! Rules worth knowing:
//! - The report is due `YISHI_REPORT_DUE_DAYS` after the topic was decided
//!   (the first outcome's publication; corrections do not move it). Not
//!   submitted by then, the topic shows "report overdue" in public
//!   ([`is_overdue`]) and on the division's notice board ([`overdue_in`]).
//! - A matter is entrusted when its current outcome names the body.
//! - One report per topic; its submission and acknowledgement each go onto
//!   the topic's record in their own transaction.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::authz::{Action, Actor};
use super::divisions;
use super::outcomes;
use super::record::{self, Move, Who};
use super::topics::{self, State, Topic};
use super::{audit, Services};
use crate::entities::{entrusted_reports, outcomes as outcomes_table, topics as topics_table};
use crate::error::{conflict_on_unique, Error, Result};

pub use entrusted_reports::Model as EntrustedReport;

fn field(raw: &str, name: &'static str, max: usize, what: &str) -> Result<String> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > max {
        return Err(Error::bad_input(
            name,
            format!("{what} has 1 to {max} characters"),
        ));
    }
    Ok(t.to_owned())
}

fn decided(topic: &Topic) -> bool {
    matches!(
        State::parse(&topic.state),
        Some(State::Decided | State::Implementing | State::Completed)
    )
}

/// What the report of a topic owes, from its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duty {
    /// The body that entrusted the matter (the current outcome's).
    pub entrusted_by: String,
    /// When the topic was decided: the first outcome's publication.
    pub decided_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
}

/// The reporting duty of `topic`: `None` unless it is decided (or later)
/// and its current outcome names an entrusting body.
///
/// # Errors
/// Database errors.
pub async fn duty(
    db: &impl ConnectionTrait,
    topic: &Topic,
    due_after: chrono::Duration,
) -> Result<Option<Duty>> {
    if !decided(topic) {
        return Ok(None);
    }
    let versions = outcomes::versions(db, topic.id).await?;
    let (Some(first), Some(current)) = (versions.first(), versions.last()) else {
        return Ok(None);
    };
    Ok(current.entrusted_by.clone().map(|entrusted_by| Duty {
        entrusted_by,
        decided_at: first.published_at,
        due_at: first.published_at + due_after,
    }))
}

/// Whether the report is overdue: owed, not submitted, past due (the one
/// rule; [`overdue_in`] is its query form).
pub fn is_overdue(
    duty: Option<&Duty>,
    report: Option<&EntrustedReport>,
    now: DateTime<Utc>,
) -> bool {
    report.is_none() && duty.is_some_and(|d| d.due_at < now)
}

/// The report of a topic, if submitted.
///
/// # Errors
/// Database errors.
pub async fn of_topic(db: &impl ConnectionTrait, topic_id: i64) -> Result<Option<EntrustedReport>> {
    Ok(entrusted_reports::Entity::find()
        .filter(entrusted_reports::Column::TopicId.eq(topic_id))
        .one(db)
        .await?)
}

/// The topic's organiser records that the report went to `submitted_to` at
/// `submitted_at`, with a public summary.
///
/// # Errors
/// `FORBIDDEN` outside the organiser's division; `CONFLICT` before the
/// outcome or when already submitted; `NOT_ENTRUSTED` when the outcome names
/// no entrusting body; `BAD_USER_INPUT` for empty text or a time in the
/// future or before the decision.
pub async fn submit(
    svc: &Services,
    actor: &Actor,
    topic_id: i64,
    submitted_to: &str,
    submitted_at: DateTime<Utc>,
    summary: &str,
) -> Result<EntrustedReport> {
    let submitted_to = field(submitted_to, "submittedTo", 200, "the body reported to")?;
    let summary = field(summary, "summary", 10_000, "the report's summary")?;
    let now = svc.now();
    if submitted_at > now {
        return Err(Error::bad_input(
            "submittedAt",
            "a report is recorded once it has been submitted",
        ));
    }
    let txn = svc.db.begin().await?;
    let topic = topics::get(&txn, topic_id).await?;
    actor.require(Action::ManageTopics, &topic.scope_code)?;
    if !decided(&topic) {
        return Err(Error::conflict(
            "the report follows the outcome: publish the outcome first",
        ));
    }
    let duty = duty(&txn, &topic, svc.settings.report_due)
        .await?
        .ok_or_else(|| {
            Error::procedure(
                "NOT_ENTRUSTED",
                "the outcome names no entrusting government body: only entrusted matters are reported",
            )
        })?;
    if submitted_at < duty.decided_at {
        return Err(Error::bad_input(
            "submittedAt",
            "the report cannot have been submitted before the outcome was published",
        ));
    }
    let row = entrusted_reports::ActiveModel {
        topic_id: Set(topic_id),
        submitted_to: Set(submitted_to.clone()),
        submitted_at: Set(submitted_at),
        summary: Set(summary),
        submitted_by: Set(actor.user_id),
        recorded_at: Set(now),
        acknowledged_at: Set(None),
        ack_reference: Set(None),
        acknowledged_by: Set(None),
        ack_recorded_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|e| conflict_on_unique(e, || "the report was already recorded".to_owned()))?;
    let on_time = submitted_at <= duty.due_at;
    record::append(
        &txn,
        topic_id,
        record::Entry {
            moved: Move::ReportSubmitted,
            who: Who::acting(actor, Action::ManageTopics, &topic.scope_code),
            reason: None,
            detail: serde_json::json!({
                "entrustedBy": duty.entrusted_by,
                "submittedTo": submitted_to,
                "submittedAt": submitted_at.to_rfc3339(),
                "dueAt": duty.due_at.to_rfc3339(),
                "onTime": on_time,
            }),
        },
        now,
    )
    .await?;
    audit::record(
        &txn,
        audit::Entry {
            actor_user_id: Some(actor.user_id),
            action: "topic.report_submit",
            subject_type: "topic",
            subject_id: topic_id.to_string(),
            division_code: Some(topic.scope_code.clone()),
            detail: serde_json::json!({ "submitted_to": submitted_to, "submitted_at": submitted_at, "on_time": on_time }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

/// The topic's organiser records the body's acknowledgement of the report:
/// its date and reference (a document number, a receipt).
///
/// # Errors
/// `FORBIDDEN` outside the organiser's division; `REPORT_NOT_SUBMITTED`
/// before the report; `CONFLICT` when already acknowledged;
/// `BAD_USER_INPUT` for an empty reference or a date before the submission
/// or in the future.
pub async fn acknowledge(
    svc: &Services,
    actor: &Actor,
    topic_id: i64,
    acknowledged_at: DateTime<Utc>,
    reference: &str,
) -> Result<EntrustedReport> {
    let reference = field(
        reference,
        "reference",
        500,
        "the acknowledgement's reference",
    )?;
    let now = svc.now();
    if acknowledged_at > now {
        return Err(Error::bad_input(
            "acknowledgedAt",
            "an acknowledgement is recorded once it has been received",
        ));
    }
    let txn = svc.db.begin().await?;
    let topic = topics::get(&txn, topic_id).await?;
    actor.require(Action::ManageTopics, &topic.scope_code)?;
    let report = of_topic(&txn, topic_id).await?.ok_or_else(|| {
        Error::procedure(
            "REPORT_NOT_SUBMITTED",
            "record the report's submission before its acknowledgement",
        )
    })?;
    if acknowledged_at < report.submitted_at {
        return Err(Error::bad_input(
            "acknowledgedAt",
            "the acknowledgement cannot come before the report was submitted",
        ));
    }
    let done = entrusted_reports::Entity::update_many()
        .col_expr(
            entrusted_reports::Column::AcknowledgedAt,
            Expr::value(Some(acknowledged_at)),
        )
        .col_expr(
            entrusted_reports::Column::AckReference,
            Expr::value(Some(reference.clone())),
        )
        .col_expr(
            entrusted_reports::Column::AcknowledgedBy,
            Expr::value(Some(actor.user_id)),
        )
        .col_expr(
            entrusted_reports::Column::AckRecordedAt,
            Expr::value(Some(now)),
        )
        .filter(entrusted_reports::Column::Id.eq(report.id))
        .filter(entrusted_reports::Column::AcknowledgedAt.is_null())
        .exec(&txn)
        .await?;
    if done.rows_affected == 0 {
        return Err(Error::conflict("the acknowledgement was already recorded"));
    }
    record::append(
        &txn,
        topic_id,
        record::Entry {
            moved: Move::ReportAcknowledged,
            who: Who::acting(actor, Action::ManageTopics, &topic.scope_code),
            reason: None,
            detail: serde_json::json!({
                "submittedTo": report.submitted_to,
                "acknowledgedAt": acknowledged_at.to_rfc3339(),
                "reference": reference,
            }),
        },
        now,
    )
    .await?;
    audit::record(
        &txn,
        audit::Entry {
            actor_user_id: Some(actor.user_id),
            action: "topic.report_acknowledge",
            subject_type: "topic",
            subject_id: topic_id.to_string(),
            division_code: Some(topic.scope_code.clone()),
            detail: serde_json::json!({ "acknowledged_at": acknowledged_at, "reference": reference }),
        },
        now,
    )
    .await?;
    let row = of_topic(&txn, topic_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("the report of topic {topic_id}")))?;
    txn.commit().await?;
    Ok(row)
}

/// A topic whose report to the entrusting body is overdue.
#[derive(Debug, Clone)]
pub struct OverdueReport {
    pub topic: Topic,
    pub duty: Duty,
}

/// At most this many overdue reports are listed.
pub const OVERDUE_ITEMS: u64 = 100;

/// The topics of `division_code` (or a division inside it) whose report to
/// the entrusting body is overdue, the longest overdue first (at most
/// [`OVERDUE_ITEMS`]). Public: the division's notice board.
///
/// # Errors
/// `BAD_USER_INPUT` for a malformed code; database errors.
pub async fn overdue_in(
    db: &impl ConnectionTrait,
    division_code: &str,
    due_after: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<Vec<OverdueReport>> {
    let code = divisions::normalize_code(division_code, "divisionCode")?;
    // Decided before the cutoff, never reported: the candidates.
    let cutoff = now - due_after;
    let decided_before: Vec<i64> = outcomes_table::Entity::find()
        .select_only()
        .column(outcomes_table::Column::TopicId)
        .filter(outcomes_table::Column::Version.eq(1))
        .filter(outcomes_table::Column::PublishedAt.lt(cutoff))
        .into_tuple()
        .all(db)
        .await?;
    let mut overdue = Vec::new();
    for chunk in decided_before.chunks(1_000) {
        let candidates = topics_table::Entity::find()
            .filter(topics_table::Column::Id.is_in(chunk.iter().copied()))
            .filter(divisions::within(topics_table::Column::ScopeCode, &code))
            .filter(topics_table::Column::State.is_in([
                State::Decided.as_str(),
                State::Implementing.as_str(),
                State::Completed.as_str(),
            ]))
            .order_by_asc(topics_table::Column::Id)
            .all(db)
            .await?;
        let ids: Vec<i64> = candidates.iter().map(|t| t.id).collect();
        let reported: std::collections::HashSet<i64> = entrusted_reports::Entity::find()
            .select_only()
            .column(entrusted_reports::Column::TopicId)
            .filter(entrusted_reports::Column::TopicId.is_in(ids))
            .into_tuple::<i64>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        for topic in candidates {
            if reported.contains(&topic.id) {
                continue;
            }
            if let Some(duty) = duty(db, &topic, due_after).await? {
                if is_overdue(Some(&duty), None, now) {
                    overdue.push(OverdueReport { topic, duty });
                }
            }
        }
    }
    overdue.sort_by_key(|o| (o.duty.due_at, o.topic.id));
    overdue.truncate(usize::try_from(OVERDUE_ITEMS).unwrap_or(usize::MAX));
    Ok(overdue)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overdue_only_when_owed_unsubmitted_and_past_due() {
        let now = Utc::now();
        let duty = Duty {
            entrusted_by: "榆中县农业农村局".into(),
            decided_at: now - chrono::Duration::days(31),
            due_at: now - chrono::Duration::days(1),
        };
        assert!(is_overdue(Some(&duty), None, now));
        assert!(!is_overdue(None, None, now));
        let later = Duty {
            due_at: now + chrono::Duration::days(1),
            ..duty.clone()
        };
        assert!(!is_overdue(Some(&later), None, now));
        let report = EntrustedReport {
            id: 1,
            topic_id: 7,
            submitted_to: "榆中县农业农村局".into(),
            submitted_at: now,
            summary: "已报告".into(),
            submitted_by: 1,
            recorded_at: now,
            acknowledged_at: None,
            ack_reference: None,
            acknowledged_by: None,
            ack_recorded_at: None,
        };
        assert!(!is_overdue(Some(&duty), Some(&report), now));
    }
}
