//! The consultation outcome (协商意见) and what follows it: implementation
//! against a deadline, progress reported in public, and correction when a
//! supervisor flags the outcome (依法纠正). Every version is kept.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    EntityTrait, QueryFilter, QueryOrder,
};

use super::authz::{Action, Actor};
use super::notifications::{self, Audience};
use super::opinions::{resolve_choice, ChoiceInput};
use super::outbox::EmailKind;
use super::topics::{self, lifecycle, Choice, Kind, State, Topic, Trigger};
use super::{audit, Services};
use crate::entities::{outcomes, progress_updates, supervision_flags, topics as topics_table};
use crate::error::{Error, Result};

pub use outcomes::Model as Outcome;
pub use progress_updates::Model as ProgressUpdate;
pub use supervision_flags::Model as Flag;

#[derive(Debug, Clone, Default)]
pub struct OutcomeInput {
    /// The consultation opinion in words.
    pub decision: String,
    /// The adopted position; none for OPEN topics.
    pub adopted: Option<ChoiceInput>,
    pub responsible_body: String,
    pub deadline: DateTime<Utc>,
    /// The government department that entrusted the matter, if any.
    pub entrusted_by: Option<String>,
}

struct ValidOutcome {
    decision: String,
    adopted: Option<String>,
    responsible_body: String,
    deadline: DateTime<Utc>,
    entrusted_by: Option<String>,
}

async fn validate(
    db: &impl ConnectionTrait,
    topic: &Topic,
    input: OutcomeInput,
    now: DateTime<Utc>,
) -> Result<ValidOutcome> {
    let decision = input.decision.trim().to_owned();
    if decision.is_empty() || decision.chars().count() > 20_000 {
        return Err(Error::bad_input(
            "decision",
            "the decision has 1 to 20000 characters",
        ));
    }
    let responsible_body = input.responsible_body.trim().to_owned();
    if responsible_body.is_empty() || responsible_body.chars().count() > 200 {
        return Err(Error::bad_input(
            "responsibleBody",
            "name the responsible body (1 to 200 characters)",
        ));
    }
    if input.deadline <= now {
        return Err(Error::bad_input(
            "deadline",
            "the implementation deadline must be in the future",
        ));
    }
    let entrusted_by = input
        .entrusted_by
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty());
    let kind = Kind::parse(&topic.kind).unwrap_or(Kind::Decision);
    let adopted = match (kind, input.adopted) {
        (Kind::Open, None) => None,
        (Kind::Open, Some(_)) => {
            return Err(Error::bad_input(
                "adopted",
                "an open topic has no adopted position",
            ))
        }
        (_, None) => return Err(Error::bad_input("adopted", "give the adopted position")),
        (_, Some(choice)) => {
            let options = topics::options(db, topic.id).await?;
            let choice = resolve_choice(kind, &options, &choice)?;
            if choice == Choice::Abstain {
                return Err(Error::bad_input(
                    "adopted",
                    "abstaining is not a position to adopt",
                ));
            }
            Some(choice.key())
        }
    };
    Ok(ValidOutcome {
        decision,
        adopted,
        responsible_body,
        deadline: input.deadline,
        entrusted_by,
    })
}

async fn insert_version(
    txn: &DatabaseTransaction,
    topic: &Topic,
    version: i32,
    valid: &ValidOutcome,
    change: Option<(&str, Option<i64>)>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Outcome> {
    let row = outcomes::ActiveModel {
        topic_id: Set(topic.id),
        version: Set(version),
        decision: Set(valid.decision.clone()),
        adopted_choice: Set(valid.adopted.clone()),
        responsible_body: Set(valid.responsible_body.clone()),
        deadline: Set(valid.deadline),
        entrusted_by: Set(valid.entrusted_by.clone()),
        change_reason: Set(change.map(|(reason, _)| reason.to_owned())),
        flag_id: Set(change.and_then(|(_, flag)| flag)),
        published_by: Set(actor.user_id),
        published_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await
    // Two organisers publishing the same next version: one wins.
    .map_err(|e| {
        crate::error::conflict_on_unique(e, || {
            "the outcome changed meanwhile; reload it".to_owned()
        })
    })?;
    topics_table::Entity::update_many()
        .col_expr(topics_table::Column::Deadline, Expr::value(valid.deadline))
        .filter(topics_table::Column::Id.eq(topic.id))
        .exec(txn)
        .await?;
    Ok(row)
}

fn outcome_payload(topic: &Topic, outcome: &Outcome, svc: &Services) -> serde_json::Value {
    serde_json::json!({
        "topic_id": topic.id,
        "title": topic.title,
        "version": outcome.version,
        "decision": outcome.decision,
        "responsible_body": outcome.responsible_body,
        "deadline": outcome.deadline.to_rfc3339(),
        "change_reason": outcome.change_reason,
        "link": format!("{}/topics/{}", svc.settings.public_url, topic.id),
    })
}

/// Publishes the outcome of a closed topic: CLOSED → DECIDED, and every
/// participant is notified.
///
/// # Errors
/// `CONFLICT` unless the topic is closed; `FORBIDDEN` outside the
/// organiser's division; `BAD_USER_INPUT` for invalid fields.
pub async fn publish(
    svc: &Services,
    actor: &Actor,
    topic_id: i64,
    input: OutcomeInput,
) -> Result<Outcome> {
    let now = svc.now();
    let trigger = Trigger::Organiser(actor);
    let (txn, topic, from) = lifecycle::begin_move(svc, trigger, topic_id, State::Decided).await?;
    let valid = validate(&txn, &topic, input, now).await?;
    lifecycle::set_state(&txn, &topic, from, State::Decided, Vec::new(), now).await?;
    let outcome = insert_version(&txn, &topic, 1, &valid, None, actor, now).await?;
    notifications::notify(
        &txn,
        &Audience::Participants { topic_id },
        EmailKind::OutcomePublished,
        Some(topic_id),
        &format!("outcome:{topic_id}:v1"),
        &outcome_payload(&topic, &outcome, svc),
        now,
    )
    .await?;
    lifecycle::finish_move(
        svc,
        txn,
        trigger,
        &topic,
        State::Decided,
        serde_json::json!({ "outcome_version": 1 }),
        now,
    )
    .await?;
    Ok(outcome)
}

/// DECIDED → IMPLEMENTING.
///
/// # Errors
/// `CONFLICT` unless decided.
pub async fn start_implementation(svc: &Services, actor: &Actor, topic_id: i64) -> Result<Topic> {
    let now = svc.now();
    let trigger = Trigger::Organiser(actor);
    let (txn, topic, from) =
        lifecycle::begin_move(svc, trigger, topic_id, State::Implementing).await?;
    lifecycle::set_state(&txn, &topic, from, State::Implementing, Vec::new(), now).await?;
    lifecycle::finish_move(
        svc,
        txn,
        trigger,
        &topic,
        State::Implementing,
        serde_json::json!({}),
        now,
    )
    .await
}

/// IMPLEMENTING → COMPLETED; the completion time decides "on time".
///
/// # Errors
/// `CONFLICT` unless implementing or while a correction flag is open.
pub async fn complete(svc: &Services, actor: &Actor, topic_id: i64) -> Result<Topic> {
    let now = svc.now();
    let trigger = Trigger::Organiser(actor);
    let (txn, topic, from) =
        lifecycle::begin_move(svc, trigger, topic_id, State::Completed).await?;
    if open_flag(&txn, topic_id).await?.is_some() {
        return Err(Error::conflict(
            "publish the corrected outcome a supervisor asked for before completing",
        ));
    }
    lifecycle::set_state(
        &txn,
        &topic,
        from,
        State::Completed,
        vec![(topics_table::Column::CompletedAt, now.into())],
        now,
    )
    .await?;
    lifecycle::finish_move(
        svc,
        txn,
        trigger,
        &topic,
        State::Completed,
        serde_json::json!({}),
        now,
    )
    .await
}

/// Publishes a progress update and notifies every participant.
///
/// # Errors
/// `CONFLICT` unless decided or implementing; `BAD_USER_INPUT` for empty
/// text or a percentage outside 0–100.
pub async fn publish_progress(
    svc: &Services,
    actor: &Actor,
    topic_id: i64,
    body: &str,
    percent: i32,
) -> Result<ProgressUpdate> {
    let topic = topics::get(svc.db.reader(), topic_id).await?;
    actor.require(Action::ManageTopics, &topic.scope_code)?;
    if !matches!(
        State::parse(&topic.state),
        Some(State::Decided | State::Implementing)
    ) {
        return Err(Error::conflict(
            "progress is reported on decided or implementing topics",
        ));
    }
    let body = body.trim();
    if body.is_empty() || body.chars().count() > 10_000 {
        return Err(Error::bad_input(
            "body",
            "a progress update has 1 to 10000 characters",
        ));
    }
    if !(0..=100).contains(&percent) {
        return Err(Error::bad_input("percent", "0 to 100"));
    }
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let row = progress_updates::ActiveModel {
        topic_id: Set(topic_id),
        body: Set(body.to_owned()),
        percent: Set(percent),
        published_by: Set(actor.user_id),
        published_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    notifications::notify(
        &txn,
        &Audience::Participants { topic_id },
        EmailKind::ProgressUpdate,
        Some(topic_id),
        &format!("progress:{}", row.id),
        &serde_json::json!({
            "topic_id": topic_id,
            "title": topic.title,
            "body": row.body,
            "percent": percent,
            "link": format!("{}/topics/{topic_id}", svc.settings.public_url),
        }),
        now,
    )
    .await?;
    audit::record(
        &txn,
        audit::Entry {
            actor_user_id: Some(actor.user_id),
            action: "topic.progress",
            subject_type: "topic",
            subject_id: topic_id.to_string(),
            division_code: Some(topic.scope_code.clone()),
            detail: serde_json::json!({ "percent": percent }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

async fn open_flag(db: &impl ConnectionTrait, topic_id: i64) -> Result<Option<Flag>> {
    Ok(supervision_flags::Entity::find()
        .filter(supervision_flags::Column::TopicId.eq(topic_id))
        .filter(supervision_flags::Column::Status.eq("open"))
        .one(db)
        .await?)
}

/// A supervisor of a division containing the topic flags its outcome for
/// correction, with the reason and legal basis.
///
/// # Errors
/// `FORBIDDEN` for anyone but such a supervisor; `CONFLICT` without an
/// outcome or while a flag is already open; `BAD_USER_INPUT` for empty text.
pub async fn flag(
    svc: &Services,
    actor: &Actor,
    topic_id: i64,
    reason: &str,
    legal_basis: &str,
) -> Result<Flag> {
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let topic = topics::get(&txn, topic_id).await?;
    actor.require(Action::Supervise, &topic.scope_code)?;
    let current = current(&txn, topic_id)
        .await?
        .ok_or_else(|| Error::conflict("this topic has no outcome to flag"))?;
    let (reason, legal_basis) = (reason.trim(), legal_basis.trim());
    if reason.is_empty() || reason.chars().count() > 5_000 {
        return Err(Error::bad_input(
            "reason",
            "give the reason (1 to 5000 characters)",
        ));
    }
    if legal_basis.is_empty() || legal_basis.chars().count() > 2_000 {
        return Err(Error::bad_input(
            "legalBasis",
            "cite the legal basis (1 to 2000 characters)",
        ));
    }
    if open_flag(&txn, topic_id).await?.is_some() {
        return Err(Error::conflict(
            "a correction is already requested for this outcome",
        ));
    }
    let row = supervision_flags::ActiveModel {
        topic_id: Set(topic_id),
        outcome_version: Set(current.version),
        supervisor_id: Set(actor.user_id),
        reason: Set(reason.to_owned()),
        legal_basis: Set(legal_basis.to_owned()),
        status: Set("open".to_owned()),
        created_at: Set(now),
        resolved_at: Set(None),
        resolved_by_version: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        audit::Entry {
            actor_user_id: Some(actor.user_id),
            action: "outcome.flag",
            subject_type: "topic",
            subject_id: topic_id.to_string(),
            division_code: Some(topic.scope_code),
            detail: serde_json::json!({ "flag_id": row.id, "version": current.version, "legal_basis": legal_basis }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

/// Publishes a corrected outcome as a new version, resolving the open flag;
/// participants are notified of the correction.
///
/// # Errors
/// `CONFLICT` before a decision; `BAD_USER_INPUT` without a reason.
pub async fn correct(
    svc: &Services,
    actor: &Actor,
    topic_id: i64,
    input: OutcomeInput,
    change_reason: &str,
) -> Result<Outcome> {
    let now = svc.now();
    let change_reason = change_reason.trim();
    if change_reason.is_empty() || change_reason.chars().count() > 5_000 {
        return Err(Error::bad_input(
            "changeReason",
            "say what changed and why (1 to 5000 characters)",
        ));
    }
    let txn = svc.db.begin().await?;
    let topic = topics::get(&txn, topic_id).await?;
    actor.require(Action::ManageTopics, &topic.scope_code)?;
    let Some(previous) = current(&txn, topic_id).await? else {
        return Err(Error::conflict("only a published outcome can be corrected"));
    };
    let valid = validate(&txn, &topic, input, now).await?;
    let flag = open_flag(&txn, topic_id).await?;
    let version = previous.version + 1;
    let outcome = insert_version(
        &txn,
        &topic,
        version,
        &valid,
        Some((change_reason, flag.as_ref().map(|f| f.id))),
        actor,
        now,
    )
    .await?;
    if let Some(flag) = &flag {
        supervision_flags::Entity::update_many()
            .col_expr(supervision_flags::Column::Status, Expr::value("resolved"))
            .col_expr(supervision_flags::Column::ResolvedAt, Expr::value(now))
            .col_expr(
                supervision_flags::Column::ResolvedByVersion,
                Expr::value(version),
            )
            .filter(supervision_flags::Column::Id.eq(flag.id))
            .exec(&txn)
            .await?;
    }
    notifications::notify(
        &txn,
        &Audience::Participants { topic_id },
        EmailKind::OutcomeCorrected,
        Some(topic_id),
        &format!("outcome:{topic_id}:v{version}"),
        &outcome_payload(&topic, &outcome, svc),
        now,
    )
    .await?;
    audit::record(
        &txn,
        audit::Entry {
            actor_user_id: Some(actor.user_id),
            action: "outcome.correct",
            subject_type: "topic",
            subject_id: topic_id.to_string(),
            division_code: Some(topic.scope_code.clone()),
            detail: serde_json::json!({ "version": version, "reason": change_reason, "flag_id": flag.map(|f| f.id) }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(outcome)
}

/// The current (latest) outcome version.
///
/// # Errors
/// Database errors.
pub async fn current(db: &impl ConnectionTrait, topic_id: i64) -> Result<Option<Outcome>> {
    Ok(outcomes::Entity::find()
        .filter(outcomes::Column::TopicId.eq(topic_id))
        .order_by_desc(outcomes::Column::Version)
        .one(db)
        .await?)
}

/// Every version, oldest first.
///
/// # Errors
/// Database errors.
pub async fn versions(db: &impl ConnectionTrait, topic_id: i64) -> Result<Vec<Outcome>> {
    Ok(outcomes::Entity::find()
        .filter(outcomes::Column::TopicId.eq(topic_id))
        .order_by_asc(outcomes::Column::Version)
        .all(db)
        .await?)
}

pub async fn progress(db: &impl ConnectionTrait, topic_id: i64) -> Result<Vec<ProgressUpdate>> {
    Ok(progress_updates::Entity::find()
        .filter(progress_updates::Column::TopicId.eq(topic_id))
        .order_by_asc(progress_updates::Column::PublishedAt)
        .all(db)
        .await?)
}

pub async fn flags(db: &impl ConnectionTrait, topic_id: i64) -> Result<Vec<Flag>> {
    Ok(supervision_flags::Entity::find()
        .filter(supervision_flags::Column::TopicId.eq(topic_id))
        .order_by_asc(supervision_flags::Column::Id)
        .all(db)
        .await?)
}

/// Overdue: decided or implementing with the deadline passed (the one rule,
/// also used by list filters through [`overdue_condition`]).
pub fn is_overdue(topic: &Topic, now: DateTime<Utc>) -> bool {
    matches!(
        State::parse(&topic.state),
        Some(State::Decided | State::Implementing)
    ) && topic.deadline.is_some_and(|d| d < now)
}

/// [`is_overdue`] as a query condition.
pub fn overdue_condition(now: DateTime<Utc>) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(
            topics_table::Column::State
                .is_in([State::Decided.as_str(), State::Implementing.as_str()]),
        )
        .add(topics_table::Column::Deadline.lt(now))
}

/// Whether a completed topic finished by its deadline.
pub fn completed_on_time(topic: &Topic) -> Option<bool> {
    Some(topic.completed_at? <= topic.deadline?)
}

/// The current outcome of each of these topics that has one, for batched
/// lookups.
///
/// # Errors
/// Database errors.
pub async fn current_of_many(
    db: &impl ConnectionTrait,
    topic_ids: &[i64],
) -> Result<std::collections::HashMap<i64, Outcome>> {
    let mut current = std::collections::HashMap::new();
    for chunk in topic_ids.chunks(1_000) {
        // Oldest version first, so the newest is kept.
        for outcome in outcomes::Entity::find()
            .filter(outcomes::Column::TopicId.is_in(chunk.iter().copied()))
            .order_by_asc(outcomes::Column::Version)
            .all(db)
            .await?
        {
            current.insert(outcome.topic_id, outcome);
        }
    }
    Ok(current)
}

/// The supervision flags of each of these topics, oldest first, for
/// batched lookups.
///
/// # Errors
/// Database errors.
pub async fn flags_of_many(
    db: &impl ConnectionTrait,
    topic_ids: &[i64],
) -> Result<std::collections::HashMap<i64, Vec<Flag>>> {
    let mut by_topic: std::collections::HashMap<i64, Vec<Flag>> =
        topic_ids.iter().map(|id| (*id, Vec::new())).collect();
    for chunk in topic_ids.chunks(1_000) {
        for flag in supervision_flags::Entity::find()
            .filter(supervision_flags::Column::TopicId.is_in(chunk.iter().copied()))
            .order_by_asc(supervision_flags::Column::Id)
            .all(db)
            .await?
        {
            by_topic.entry(flag.topic_id).or_default().push(flag);
        }
    }
    Ok(by_topic)
}
