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
use super::divisions::{self, Level};
use super::notifications::{self, Audience};
use super::opinions::{resolve_choice, ChoiceInput};
use super::outbox::EmailKind;
use super::record::{self, Move, Who};
use super::tally_cache::Freshness;
use super::topics::{self, lifecycle, notices, Choice, Kind, State, Topic, Trigger};
use super::{audit, explanations, results, Services};
use crate::entities::{
    deadline_extensions, outcomes, progress_updates, supervision_flags, topics as topics_table,
};
use crate::error::{Error, Result};

pub use deadline_extensions::Model as Extension;
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
    /// Why the outcome stands although the quorum was not met; required
    /// then, shown beside the outcome.
    pub quorum_justification: Option<String>,
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

/// Whether the quorum of a topic was met, from the exact counters (none
/// without a quorum).
async fn quorum_met(svc: &Services, actor: &Actor, topic: &Topic) -> Result<Option<bool>> {
    if topic.quorum_percent.is_none() {
        return Ok(None);
    }
    let level = divisions::level_of(&topic.scope_code).unwrap_or(Level::Village);
    let r = results::results(svc, Some(actor), topic.id, level, None, Freshness::Latest).await?;
    Ok(r.overall.quorum_met(topic.quorum_percent))
}

/// Publishes the outcome of a closed topic: CLOSED → DECIDED, and every
/// participant is notified. Its deadline is the original deadline for good:
/// later changes go through [`extend_deadline`]. When the topic's quorum was
/// not met the outcome needs a public justification.
///
/// # Errors
/// `CONFLICT` unless the topic is closed; `FORBIDDEN` outside the
/// organiser's division; `BAD_USER_INPUT` for invalid fields;
/// `QUORUM_JUSTIFICATION_REQUIRED` when the quorum was not met and no
/// justification was given.
pub async fn publish(
    svc: &Services,
    actor: &Actor,
    topic_id: i64,
    mut input: OutcomeInput,
) -> Result<Outcome> {
    let now = svc.now();
    let trigger = Trigger::Organiser(actor);
    let justification = input
        .quorum_justification
        .take()
        .map(|j| j.trim().to_owned())
        .filter(|j| !j.is_empty());
    if justification
        .as_ref()
        .is_some_and(|j| j.chars().count() > 5_000)
    {
        return Err(Error::bad_input(
            "quorumJustification",
            "a justification has at most 5000 characters",
        ));
    }
    let (txn, topic, from) = lifecycle::begin_move(svc, trigger, topic_id, State::Decided).await?;
    let valid = validate(&txn, &topic, input, now).await?;
    let quorum_met = quorum_met(svc, actor, &topic).await?;
    let justification = match quorum_met {
        Some(false) => Some(justification.ok_or_else(|| {
            Error::procedure(
                "QUORUM_JUSTIFICATION_REQUIRED",
                format!(
                    "participation stayed below the quorum of {}%: say publicly why this outcome stands",
                    topic.quorum_percent.unwrap_or_default()
                ),
            )
        })?),
        _ => None,
    };
    lifecycle::set_state(
        &txn,
        &topic,
        from,
        State::Decided,
        vec![
            (topics_table::Column::Deadline, valid.deadline.into()),
            (
                topics_table::Column::OriginalDeadline,
                valid.deadline.into(),
            ),
            (
                topics_table::Column::QuorumJustification,
                justification.clone().into(),
            ),
        ],
        now,
    )
    .await?;
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
        lifecycle::Public {
            moved: Move::OutcomePublished,
            reason: justification.as_deref(),
            detail: serde_json::json!({
                "version": 1,
                "deadline": valid.deadline.to_rfc3339(),
                "responsibleBody": valid.responsible_body,
                "quorumMet": quorum_met,
            }),
        },
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
        lifecycle::Public::new(Move::ImplementationStarted, serde_json::json!({})),
        now,
    )
    .await
}

/// IMPLEMENTING → COMPLETED; the completion time against the original
/// deadline decides "on time". Participants and eligible residents are told.
///
/// # Errors
/// `CONFLICT` unless implementing; `OPEN_SUPERVISION_FLAG` while a
/// supervisor's flag is neither accepted nor dismissed;
/// `DISSENTERS_NOT_EXPLAINED` while a dissenter has had no explanation,
/// online or face to face.
pub async fn complete(svc: &Services, actor: &Actor, topic_id: i64) -> Result<Topic> {
    let now = svc.now();
    let trigger = Trigger::Organiser(actor);
    let (txn, topic, from) =
        lifecycle::begin_move(svc, trigger, topic_id, State::Completed).await?;
    completable(&txn, &topic).await?;
    lifecycle::set_state(
        &txn,
        &topic,
        from,
        State::Completed,
        vec![(topics_table::Column::CompletedAt, now.into())],
        now,
    )
    .await?;
    let completed = Topic {
        completed_at: Some(now),
        ..topic.clone()
    };
    let original = original_deadline(&completed);
    let on_time = completed_on_time(&completed);
    let told = notices::tell_everyone(
        svc,
        &txn,
        &topic,
        EmailKind::TopicCompleted,
        serde_json::json!({
            "completed_at": now.to_rfc3339(),
            "original_deadline": original.map(|d| d.to_rfc3339()),
            "on_time": on_time,
        }),
        now,
    )
    .await?;
    lifecycle::finish_move(
        svc,
        txn,
        trigger,
        &topic,
        State::Completed,
        serde_json::json!({ "told": told.to_json() }),
        lifecycle::Public::new(
            Move::Completed,
            serde_json::json!({
                "originalDeadline": original.map(|d| d.to_rfc3339()),
                "deadline": topic.deadline.map(|d| d.to_rfc3339()),
                "onTime": on_time,
            }),
        ),
        now,
    )
    .await
}

/// What completion waits for besides the state: every supervisor's flag
/// resolved, every dissenter explained to.
///
/// # Errors
/// `OPEN_SUPERVISION_FLAG`, `DISSENTERS_NOT_EXPLAINED`, database errors.
pub async fn completable(db: &impl ConnectionTrait, topic: &Topic) -> Result<()> {
    if let Some(flag) = unresolved_flags(db, topic.id).await?.first() {
        return Err(Error::procedure(
            "OPEN_SUPERVISION_FLAG",
            format!(
                "a supervisor's flag ({}) is not resolved: it is resolved when a supervisor accepts the correction or dismisses the flag",
                flag.reason
            ),
        ));
    }
    let unexplained = explanations::unexplained_dissenters(db, topic).await?;
    if unexplained > 0 {
        return Err(Error::procedure(
            "DISSENTERS_NOT_EXPLAINED",
            format!(
                "{unexplained} residents who disagreed have had no explanation: explain to them online, or record the explanation given face to face"
            ),
        ));
    }
    Ok(())
}

/// Extends the implementation deadline of a decided or implementing topic,
/// with a public reason: the original deadline and every extension stay
/// visible, and participants and eligible residents are told.
///
/// # Errors
/// `FORBIDDEN` outside the organiser's division; `CONFLICT` unless decided
/// or implementing; `BAD_USER_INPUT` without a reason or for a deadline not
/// later than the current one.
pub async fn extend_deadline(
    svc: &Services,
    actor: &Actor,
    topic_id: i64,
    new_deadline: DateTime<Utc>,
    reason: &str,
) -> Result<Extension> {
    let reason = &lifecycle::public_reason("reason", reason)?;
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let topic = topics::get(&txn, topic_id).await?;
    actor.require(Action::ManageTopics, &topic.scope_code)?;
    if !matches!(
        State::parse(&topic.state),
        Some(State::Decided | State::Implementing)
    ) {
        return Err(Error::conflict(
            "a deadline is extended while the outcome is being implemented",
        ));
    }
    let previous = topic
        .deadline
        .ok_or_else(|| Error::conflict("this topic has no deadline"))?;
    if new_deadline <= previous || new_deadline <= now {
        return Err(Error::bad_input(
            "deadline",
            "the new deadline comes after the current one and after now",
        ));
    }
    let moved = topics_table::Entity::update_many()
        .col_expr(topics_table::Column::Deadline, Expr::value(new_deadline))
        .col_expr(topics_table::Column::UpdatedAt, Expr::value(now))
        .filter(topics_table::Column::Id.eq(topic_id))
        .filter(topics_table::Column::Deadline.eq(previous))
        .exec(&txn)
        .await?
        .rows_affected;
    if moved != 1 {
        return Err(Error::conflict("the deadline changed meanwhile; reload it"));
    }
    let row = deadline_extensions::ActiveModel {
        topic_id: Set(topic_id),
        previous_deadline: Set(previous),
        new_deadline: Set(new_deadline),
        reason: Set(reason.to_owned()),
        extended_by: Set(actor.user_id),
        extended_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let original = original_deadline(&topic).unwrap_or(previous);
    record::append(
        &txn,
        topic_id,
        record::Entry {
            moved: Move::DeadlineExtended,
            who: Trigger::Organiser(actor).who(&topic),
            reason: Some(reason),
            detail: serde_json::json!({
                "originalDeadline": original.to_rfc3339(),
                "previousDeadline": previous.to_rfc3339(),
                "newDeadline": new_deadline.to_rfc3339(),
            }),
        },
        now,
    )
    .await?;
    notices::tell_everyone(
        svc,
        &txn,
        &topic,
        EmailKind::DeadlineExtended,
        serde_json::json!({
            "reason": reason,
            "original_deadline": original.to_rfc3339(),
            "new_deadline": new_deadline.to_rfc3339(),
            // One notice per extension: a second one is another event.
            "event_key": format!("topic:{topic_id}:extension:{}", row.id),
        }),
        now,
    )
    .await?;
    audit::record(
        &txn,
        audit::Entry {
            actor_user_id: Some(actor.user_id),
            action: "topic.extend_deadline",
            subject_type: "topic",
            subject_id: topic_id.to_string(),
            division_code: Some(topic.scope_code.clone()),
            detail: serde_json::json!({ "previous": previous, "new": new_deadline, "reason": reason }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    svc.topic_cache.forget(topic_id);
    Ok(row)
}

/// Every extension of a topic's deadline, oldest first.
///
/// # Errors
/// Database errors.
pub async fn extensions(db: &impl ConnectionTrait, topic_id: i64) -> Result<Vec<Extension>> {
    Ok(deadline_extensions::Entity::find()
        .filter(deadline_extensions::Column::TopicId.eq(topic_id))
        .order_by_asc(deadline_extensions::Column::Id)
        .all(db)
        .await?)
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

/// What a supervisor flags: the outcome (依法纠正) or the way the procedure
/// was run (short notice, an early close, dissenters left unanswered…).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagSubject {
    Outcome,
    Procedure,
}

impl FlagSubject {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Outcome => "outcome",
            Self::Procedure => "procedure",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Outcome, Self::Procedure]
            .into_iter()
            .find(|f| f.as_str() == s)
    }
}

/// Where a flag stands. Only a supervisor ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagStatus {
    /// Raised; waiting for the organiser.
    Open,
    /// The organiser published a corrected outcome; waiting for a
    /// supervisor to accept it.
    Corrected,
    Accepted,
    Dismissed,
}

impl FlagStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Corrected => "corrected",
            Self::Accepted => "accepted",
            Self::Dismissed => "dismissed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Open, Self::Corrected, Self::Accepted, Self::Dismissed]
            .into_iter()
            .find(|f| f.as_str() == s)
    }

    pub const fn is_resolved(self) -> bool {
        matches!(self, Self::Accepted | Self::Dismissed)
    }
}

/// The flags of a topic a supervisor has not ended yet, oldest first.
pub(crate) async fn unresolved_flags(
    db: &impl ConnectionTrait,
    topic_id: i64,
) -> Result<Vec<Flag>> {
    Ok(supervision_flags::Entity::find()
        .filter(supervision_flags::Column::TopicId.eq(topic_id))
        .filter(
            supervision_flags::Column::Status
                .is_in([FlagStatus::Open.as_str(), FlagStatus::Corrected.as_str()]),
        )
        .order_by_asc(supervision_flags::Column::Id)
        .all(db)
        .await?)
}

fn supervisor_text(reason: &str, legal_basis: &str) -> Result<(String, String)> {
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
    Ok((reason.to_owned(), legal_basis.to_owned()))
}

/// A supervisor of a division containing the topic flags its outcome for
/// correction, or the way its procedure was run, with the reason and legal
/// basis. The flag is public; while it stands the topic cannot complete.
///
/// # Errors
/// `FORBIDDEN` for anyone but such a supervisor; `CONFLICT` for an outcome
/// flag without an outcome, a procedure flag on a draft, or while a flag on
/// the same subject stands; `BAD_USER_INPUT` for empty text.
pub async fn flag(
    svc: &Services,
    actor: &Actor,
    topic_id: i64,
    subject: FlagSubject,
    reason: &str,
    legal_basis: &str,
) -> Result<Flag> {
    let (reason, legal_basis) = supervisor_text(reason, legal_basis)?;
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let topic = topics::get(&txn, topic_id).await?;
    actor.require(Action::Supervise, &topic.scope_code)?;
    let version = match subject {
        FlagSubject::Outcome => {
            current(&txn, topic_id)
                .await?
                .ok_or_else(|| Error::conflict("this topic has no outcome to flag"))?
                .version
        }
        FlagSubject::Procedure => {
            if !topics::is_public(&topic) {
                return Err(Error::conflict(
                    "the procedure is flagged once the topic is announced",
                ));
            }
            current(&txn, topic_id).await?.map_or(0, |o| o.version)
        }
    };
    if unresolved_flags(&txn, topic_id)
        .await?
        .iter()
        .any(|f| f.subject == subject.as_str())
    {
        return Err(Error::conflict(match subject {
            FlagSubject::Outcome => "a correction is already requested for this outcome",
            FlagSubject::Procedure => "the procedure of this topic is already flagged",
        }));
    }
    let row = supervision_flags::ActiveModel {
        topic_id: Set(topic_id),
        outcome_version: Set(version),
        supervisor_id: Set(actor.user_id),
        reason: Set(reason.clone()),
        legal_basis: Set(legal_basis.clone()),
        status: Set(FlagStatus::Open.as_str().to_owned()),
        created_at: Set(now),
        resolved_at: Set(None),
        resolved_by_version: Set(None),
        subject: Set(subject.as_str().to_owned()),
        resolution: Set(None),
        resolved_by: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    record::append(
        &txn,
        topic_id,
        record::Entry {
            moved: Move::Flagged,
            who: Who::acting(actor, Action::Supervise, &topic.scope_code),
            reason: Some(&reason),
            detail: serde_json::json!({
                "flagId": row.id,
                "subject": subject.as_str(),
                "legalBasis": legal_basis,
                "outcomeVersion": (version > 0).then_some(version),
            }),
        },
        now,
    )
    .await?;
    audit::record(
        &txn,
        audit::Entry {
            actor_user_id: Some(actor.user_id),
            action: "outcome.flag",
            subject_type: "topic",
            subject_id: topic_id.to_string(),
            division_code: Some(topic.scope_code),
            detail: serde_json::json!({ "flag_id": row.id, "subject": subject.as_str(), "version": version, "legal_basis": legal_basis }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    svc.topic_cache.forget(topic_id);
    Ok(row)
}

/// A supervisor ends a flag: accepts the correction (an outcome flag needs
/// a corrected version published after it) or dismisses the flag; either
/// way with public words.
///
/// # Errors
/// `FORBIDDEN` for anyone but a supervisor of the topic's division;
/// `NOT_FOUND` for an unknown flag; `CONFLICT` when the flag has ended, or
/// when accepting an outcome flag nobody has answered with a correction;
/// `BAD_USER_INPUT` without a note.
pub async fn resolve_flag(
    svc: &Services,
    actor: &Actor,
    flag_id: i64,
    accept: bool,
    note: &str,
) -> Result<Flag> {
    let note = note.trim();
    if note.is_empty() || note.chars().count() > 5_000 {
        return Err(Error::bad_input(
            "note",
            "say publicly why (1 to 5000 characters)",
        ));
    }
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let flag = supervision_flags::Entity::find_by_id(flag_id)
        .one(&txn)
        .await?
        .ok_or_else(|| Error::not_found(format!("flag {flag_id}")))?;
    let topic = topics::get(&txn, flag.topic_id).await?;
    actor.require(Action::Supervise, &topic.scope_code)?;
    let status = FlagStatus::parse(&flag.status).unwrap_or(FlagStatus::Open);
    if status.is_resolved() {
        return Err(Error::conflict("this flag has already been resolved"));
    }
    let outcome_flag = flag.subject == FlagSubject::Outcome.as_str();
    if accept && outcome_flag && status != FlagStatus::Corrected {
        return Err(Error::procedure(
            "CORRECTION_REQUIRED",
            "no corrected outcome answers this flag yet: accept it once the organiser publishes one, or dismiss the flag",
        ));
    }
    let (to, moved) = if accept {
        (FlagStatus::Accepted, Move::FlagAccepted)
    } else {
        (FlagStatus::Dismissed, Move::FlagDismissed)
    };
    let updated = supervision_flags::Entity::update_many()
        .col_expr(supervision_flags::Column::Status, Expr::value(to.as_str()))
        .col_expr(supervision_flags::Column::ResolvedAt, Expr::value(now))
        .col_expr(
            supervision_flags::Column::ResolvedBy,
            Expr::value(actor.user_id),
        )
        .col_expr(supervision_flags::Column::Resolution, Expr::value(note))
        .filter(supervision_flags::Column::Id.eq(flag_id))
        .filter(supervision_flags::Column::Status.eq(flag.status.as_str()))
        .exec(&txn)
        .await?
        .rows_affected;
    if updated != 1 {
        return Err(Error::conflict("the flag changed meanwhile; reload it"));
    }
    record::append(
        &txn,
        topic.id,
        record::Entry {
            moved,
            who: Who::acting(actor, Action::Supervise, &topic.scope_code),
            reason: Some(note),
            detail: serde_json::json!({
                "flagId": flag_id,
                "subject": flag.subject,
                "correctedVersion": flag.resolved_by_version,
            }),
        },
        now,
    )
    .await?;
    audit::record(
        &txn,
        audit::Entry {
            actor_user_id: Some(actor.user_id),
            action: if accept {
                "outcome.flag_accept"
            } else {
                "outcome.flag_dismiss"
            },
            subject_type: "topic",
            subject_id: topic.id.to_string(),
            division_code: Some(topic.scope_code.clone()),
            detail: serde_json::json!({ "flag_id": flag_id, "note": note }),
        },
        now,
    )
    .await?;
    let row = supervision_flags::Entity::find_by_id(flag_id)
        .one(&txn)
        .await?
        .ok_or_else(|| Error::not_found(format!("flag {flag_id}")))?;
    txn.commit().await?;
    svc.topic_cache.forget(topic.id);
    Ok(row)
}

/// Publishes a corrected outcome as a new version in answer to a
/// supervisor's open outcome flag; the flag then waits for the supervisor
/// to accept it. Participants are notified. The deadline is not the
/// correction's to change: see [`extend_deadline`].
///
/// # Errors
/// `CONFLICT` unless decided or implementing; `CORRECTION_NEEDS_FLAG`
/// without an open outcome flag; `BAD_USER_INPUT` without a reason or with
/// a changed deadline.
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
    if !matches!(
        State::parse(&topic.state),
        Some(State::Decided | State::Implementing)
    ) {
        return Err(Error::conflict(
            "an outcome is corrected while it is decided or being implemented",
        ));
    }
    let Some(previous) = current(&txn, topic_id).await? else {
        return Err(Error::conflict("only a published outcome can be corrected"));
    };
    let flag = unresolved_flags(&txn, topic_id)
        .await?
        .into_iter()
        .find(|f| f.subject == FlagSubject::Outcome.as_str() && f.status == FlagStatus::Open.as_str())
        .ok_or_else(|| {
            Error::procedure(
                "CORRECTION_NEEDS_FLAG",
                "an outcome is corrected when a supervisor flags it (依法纠正); ask the supervisor of the division",
            )
        })?;
    // The deadline stays: validate against the current one, which may lie
    // in the past when the topic is overdue.
    if input.deadline != previous.deadline && Some(input.deadline) != topic.deadline {
        return Err(Error::bad_input(
            "deadline",
            "a correction keeps the deadline; extend it separately, with a public reason",
        ));
    }
    let keep_deadline = topic.deadline.unwrap_or(previous.deadline);
    let mut valid = validate(
        &txn,
        &topic,
        OutcomeInput {
            deadline: now + chrono::Duration::seconds(1),
            ..input
        },
        now,
    )
    .await?;
    valid.deadline = keep_deadline;
    let version = previous.version + 1;
    let outcome = insert_version(
        &txn,
        &topic,
        version,
        &valid,
        Some((change_reason, Some(flag.id))),
        actor,
        now,
    )
    .await?;
    supervision_flags::Entity::update_many()
        .col_expr(
            supervision_flags::Column::Status,
            Expr::value(FlagStatus::Corrected.as_str()),
        )
        .col_expr(
            supervision_flags::Column::ResolvedByVersion,
            Expr::value(version),
        )
        .filter(supervision_flags::Column::Id.eq(flag.id))
        .exec(&txn)
        .await?;
    record::append(
        &txn,
        topic_id,
        record::Entry {
            moved: Move::OutcomeCorrected,
            who: Trigger::Organiser(actor).who(&topic),
            reason: Some(change_reason),
            detail: serde_json::json!({ "version": version, "flagId": flag.id }),
        },
        now,
    )
    .await?;
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
            detail: serde_json::json!({ "version": version, "reason": change_reason, "flag_id": flag.id }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    svc.topic_cache.forget(topic_id);
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

/// The deadline the first outcome set (extensions do not move it).
pub fn original_deadline(topic: &Topic) -> Option<DateTime<Utc>> {
    topic.original_deadline.or(topic.deadline)
}

/// Whether a completed topic finished by its original deadline: an
/// extension makes a late completion "within the extension", never "on
/// time".
pub fn completed_on_time(topic: &Topic) -> Option<bool> {
    Some(topic.completed_at? <= original_deadline(topic)?)
}

/// Whether a completed topic finished by its deadline as extended.
pub fn completed_within_extension(topic: &Topic) -> Option<bool> {
    Some(topic.completed_at? <= topic.deadline?)
}

/// When the outcome of a closed topic is due: a configured time after it
/// closed (`YISHI_DECISION_DUE_DAYS`).
pub fn decision_due_at(topic: &Topic, due_after: chrono::Duration) -> Option<DateTime<Utc>> {
    matches!(State::parse(&topic.state), Some(State::Closed))
        .then_some(topic.closed_at?)
        .map(|closed| closed + due_after)
}

/// Whether a closed topic has waited for its outcome past the due time;
/// shown in public ("decision overdue").
pub fn is_decision_overdue(topic: &Topic, due_after: chrono::Duration, now: DateTime<Utc>) -> bool {
    decision_due_at(topic, due_after).is_some_and(|due| due < now)
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
