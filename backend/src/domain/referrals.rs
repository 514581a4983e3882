//! Referral to the level above (乡镇与村协商联动): the policy wants township
//! consultation linked with village consultation, and cross-village matters
//! consulted by the township or county. An organiser of a village refers one
//! of its topics or suggestions to its township (a township's to its
//! county), with a public reason; an organiser of the upper division accepts
//! it, optionally linking the topic it opens for it in its own scope, or
//! declines it with a reason.
//!
//! Rules worth knowing:
//! - A matter goes only to the division directly above its own
//!   ([`parent_of`]): village → township, township → county.
//! - Referrals are public, both ways: the source topic shows where it was
//!   referred and the upper topic where it came from. Who referred or
//!   answered is on the topic's record as a role and a division, never a
//!   name.
//! - At most one referral of a source is pending or accepted at a time (a
//!   partial unique index decides races); after a decline it may be
//!   referred again.
//! - A topic is referred once it is public (announced) and not withdrawn;
//!   every move on it goes onto its record, in the move's transaction.
//! - Referring a suggestion answers it (status `referred`, the author is
//!   told); a declined referral opens it again for its own division to
//!   answer (see `suggestions::reopen_after_referral`).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::authz::{Action, Actor};
use super::divisions::{self, Level};
use super::record::{self, Move, Who};
use super::suggestions::{self, Answer};
use super::topics::{self, State, Topic};
use super::{audit, Services};
use crate::entities::referrals;
use crate::error::{conflict_on_unique, Error, Result};

pub use referrals::Model as Referral;

pub const MAX_REASON: usize = 2_000;

/// What is referred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    Topic,
    Suggestion,
}

impl SourceKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Topic => "topic",
            Self::Suggestion => "suggestion",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Topic, Self::Suggestion]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Waiting for the upper level.
    Pending,
    Accepted,
    Declined,
}

impl Status {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Accepted, Self::Declined]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// The division a matter of `code` is referred to: a village's township, a
/// township's county; `None` for other levels.
pub fn parent_of(code: &str) -> Option<String> {
    match divisions::level_of(code)? {
        Level::Village => Some(code[..Level::Township.code_len()].to_owned()),
        Level::Township => Some(code[..Level::County.code_len()].to_owned()),
        _ => None,
    }
}

fn text(raw: &str, field: &'static str, what: &str) -> Result<String> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > MAX_REASON {
        return Err(Error::bad_input(
            field,
            format!("{what} has 1 to {MAX_REASON} characters"),
        ));
    }
    Ok(t.to_owned())
}

/// Whether a topic may be referred: public (announced) and not withdrawn.
fn referable(topic: &Topic) -> Result<()> {
    if !topics::is_public(topic) || topic.state == State::Withdrawn.as_str() {
        return Err(Error::conflict(
            "a topic is referred once it is announced, and not after it is withdrawn",
        ));
    }
    Ok(())
}

/// Refers a topic or suggestion of the actor's division to the division
/// directly above, with a public reason.
///
/// # Errors
/// `NOT_FOUND` for an unknown source; `FORBIDDEN` unless the actor manages
/// topics of the source's division; `BAD_USER_INPUT` for a missing reason or
/// a division other than the one directly above; `CONFLICT` for a draft or
/// withdrawn topic, a suggestion no longer open, or a source already
/// referred and not declined.
pub async fn refer(
    svc: &Services,
    actor: &Actor,
    kind: SourceKind,
    from_id: i64,
    to_division: &str,
    reason: &str,
) -> Result<Referral> {
    let reason = text(reason, "reason", "a referral's public reason")?;
    let to = divisions::normalize_code(to_division, "toDivisionCode")?;
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let (from_division, topic, suggestion) = match kind {
        SourceKind::Topic => {
            let topic = topics::get(&txn, from_id).await?;
            (topic.scope_code.clone(), Some(topic), None)
        }
        SourceKind::Suggestion => {
            let s = suggestions::get(&txn, from_id).await?;
            (s.division_code.clone(), None, Some(s))
        }
    };
    actor.require(Action::ManageTopics, &from_division)?;
    let parent = parent_of(&from_division).ok_or_else(|| {
        Error::bad_input(
            "toDivisionCode",
            "only a village's or a township's matters are referred to the level above",
        )
    })?;
    if to != parent {
        return Err(Error::bad_input(
            "toDivisionCode",
            format!("a matter of {from_division} is referred to the division directly above it, {parent}"),
        ));
    }
    let to_division = divisions::get(&txn, &to).await?;
    if let Some(topic) = &topic {
        referable(topic)?;
    }
    let row = referrals::ActiveModel {
        from_kind: Set(kind.as_str().to_owned()),
        from_id: Set(from_id),
        from_division: Set(from_division.clone()),
        to_division: Set(to.clone()),
        reason: Set(reason.clone()),
        referred_by: Set(actor.user_id),
        referred_at: Set(now),
        status: Set(Status::Pending.as_str().to_owned()),
        answer: Set(None),
        answered_by: Set(None),
        answered_at: Set(None),
        topic_id: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        conflict_on_unique(e, || {
            format!(
                "this {} is already referred; wait for the answer",
                kind.as_str()
            )
        })
    })?;
    if let Some(topic) = &topic {
        record::append(
            &txn,
            topic.id,
            record::Entry {
                moved: Move::Referred,
                who: Who::acting(actor, Action::ManageTopics, &topic.scope_code),
                reason: Some(&reason),
                detail: serde_json::json!({
                    "referralId": row.id,
                    "toDivision": to,
                    "toDivisionName": to_division.name,
                }),
            },
            now,
        )
        .await?;
    }
    if let Some(s) = &suggestion {
        let referred = suggestions::mark_referred(&txn, s, actor, now).await?;
        suggestions::tell_author(
            svc,
            &txn,
            &referred,
            Answer::Referred,
            &format!("suggestion:{}:referral:{}", s.id, row.id),
            Some(&reason),
            Some(&to),
            now,
        )
        .await?;
    }
    audit::record(
        &txn,
        audit::Entry {
            actor_user_id: Some(actor.user_id),
            action: "referral.refer",
            subject_type: kind.as_str(),
            subject_id: from_id.to_string(),
            division_code: Some(from_division),
            detail: serde_json::json!({ "referral_id": row.id, "to": to, "reason": reason }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

/// One referral by id.
///
/// # Errors
/// `NOT_FOUND`.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Referral> {
    referrals::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("referral {id}")))
}

/// The upper level's topic `topic_id`, checked to be one a referral to
/// `to_division` may link: scoped to that division itself.
async fn upper_topic(
    db: &impl ConnectionTrait,
    referral: &Referral,
    topic_id: i64,
) -> Result<Topic> {
    let topic = topics::get(db, topic_id).await?;
    if topic.scope_code != referral.to_division {
        return Err(Error::bad_input(
            "topicId",
            format!(
                "link a topic of {} itself (this one is scoped to {})",
                referral.to_division, topic.scope_code
            ),
        ));
    }
    if topic.state == State::Withdrawn.as_str() {
        return Err(Error::bad_input("topicId", "that topic was withdrawn"));
    }
    Ok(topic)
}

/// Puts the link between a referral and the upper topic on both topics'
/// records (the source's only when the source is a topic).
async fn record_link(
    db: &impl ConnectionTrait,
    actor: &Actor,
    referral: &Referral,
    upper: &Topic,
    source_too: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    let who = Who::acting(actor, Action::ManageTopics, &referral.to_division);
    record::append(
        db,
        upper.id,
        record::Entry {
            moved: Move::ReferralLinked,
            who: who.clone(),
            reason: None,
            detail: serde_json::json!({
                "referralId": referral.id,
                "fromKind": referral.from_kind,
                "fromId": referral.from_id,
                "fromDivision": referral.from_division,
            }),
        },
        now,
    )
    .await?;
    if source_too && referral.from_kind == SourceKind::Topic.as_str() {
        record::append(
            db,
            referral.from_id,
            record::Entry {
                moved: Move::ReferralLinked,
                who,
                reason: None,
                detail: serde_json::json!({
                    "referralId": referral.id,
                    "topicId": upper.id,
                    "toDivision": referral.to_division,
                }),
            },
            now,
        )
        .await?;
    }
    Ok(())
}

/// Moves a pending referral to `to` (one conditional update: of two
/// answers at once, one wins, the other gets `CONFLICT`).
async fn answer_pending(
    db: &impl ConnectionTrait,
    referral: &Referral,
    to: Status,
    answer: Option<&str>,
    topic_id: Option<i64>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Referral> {
    let done = referrals::Entity::update_many()
        .col_expr(referrals::Column::Status, Expr::value(to.as_str()))
        .col_expr(
            referrals::Column::Answer,
            Expr::value(answer.map(str::to_owned)),
        )
        .col_expr(
            referrals::Column::AnsweredBy,
            Expr::value(Some(actor.user_id)),
        )
        .col_expr(referrals::Column::AnsweredAt, Expr::value(Some(now)))
        .col_expr(referrals::Column::TopicId, Expr::value(topic_id))
        .filter(referrals::Column::Id.eq(referral.id))
        .filter(referrals::Column::Status.eq(Status::Pending.as_str()))
        .exec(db)
        .await?;
    if done.rows_affected == 0 {
        return Err(Error::conflict(
            "this referral has been answered already; reload it",
        ));
    }
    get(db, referral.id).await
}

/// Loads a pending referral addressed to a division the actor manages.
async fn pending_for(db: &impl ConnectionTrait, actor: &Actor, id: i64) -> Result<Referral> {
    let referral = get(db, id).await?;
    actor.require(Action::ManageTopics, &referral.to_division)?;
    if referral.status != Status::Pending.as_str() {
        return Err(Error::conflict(format!(
            "this referral is {}; only a pending one is answered",
            referral.status
        )));
    }
    Ok(referral)
}

/// The upper level takes a referral up, with optional public words and
/// optionally the topic it opened for it (scoped to its own division; or
/// link one later with [`link_topic`]).
///
/// # Errors
/// `NOT_FOUND`; `FORBIDDEN` unless the actor manages topics of the division
/// referred to; `CONFLICT` unless pending; `BAD_USER_INPUT` for long words
/// or a topic of another scope.
pub async fn accept(
    svc: &Services,
    actor: &Actor,
    id: i64,
    answer: Option<&str>,
    topic_id: Option<i64>,
) -> Result<Referral> {
    let answer = answer
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| text(a, "answer", "an answer"))
        .transpose()?;
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let referral = pending_for(&txn, actor, id).await?;
    let upper = match topic_id {
        Some(t) => Some(upper_topic(&txn, &referral, t).await?),
        None => None,
    };
    let accepted = answer_pending(
        &txn,
        &referral,
        Status::Accepted,
        answer.as_deref(),
        topic_id,
        actor,
        now,
    )
    .await?;
    if referral.from_kind == SourceKind::Topic.as_str() {
        record::append(
            &txn,
            referral.from_id,
            record::Entry {
                moved: Move::ReferralAccepted,
                who: Who::acting(actor, Action::ManageTopics, &referral.to_division),
                reason: answer.as_deref(),
                detail: serde_json::json!({
                    "referralId": referral.id,
                    "toDivision": referral.to_division,
                    "topicId": topic_id,
                }),
            },
            now,
        )
        .await?;
    } else {
        let s = suggestions::get(&txn, referral.from_id).await?;
        suggestions::tell_author(
            svc,
            &txn,
            &s,
            Answer::ReferralAccepted,
            &format!("suggestion:{}:referral:{}:answer", s.id, referral.id),
            answer.as_deref(),
            Some(&referral.to_division),
            now,
        )
        .await?;
    }
    if let Some(upper) = &upper {
        // The source topic's own entry names the linked topic already.
        record_link(&txn, actor, &accepted, upper, false, now).await?;
    }
    audit::record(
        &txn,
        audit::Entry {
            actor_user_id: Some(actor.user_id),
            action: "referral.accept",
            subject_type: "referral",
            subject_id: id.to_string(),
            division_code: Some(referral.to_division.clone()),
            detail: serde_json::json!({ "answer": answer, "topic_id": topic_id }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(accepted)
}

/// The upper level declines a referral with a public reason. A referred
/// suggestion opens again for its own division to answer.
///
/// # Errors
/// `NOT_FOUND`; `FORBIDDEN` unless the actor manages topics of the division
/// referred to; `CONFLICT` unless pending; `BAD_USER_INPUT` without a reason.
pub async fn decline(svc: &Services, actor: &Actor, id: i64, reason: &str) -> Result<Referral> {
    let reason = text(reason, "reason", "a reason for declining")?;
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let referral = pending_for(&txn, actor, id).await?;
    let declined = answer_pending(
        &txn,
        &referral,
        Status::Declined,
        Some(&reason),
        None,
        actor,
        now,
    )
    .await?;
    if referral.from_kind == SourceKind::Topic.as_str() {
        record::append(
            &txn,
            referral.from_id,
            record::Entry {
                moved: Move::ReferralDeclined,
                who: Who::acting(actor, Action::ManageTopics, &referral.to_division),
                reason: Some(&reason),
                detail: serde_json::json!({
                    "referralId": referral.id,
                    "toDivision": referral.to_division,
                }),
            },
            now,
        )
        .await?;
    } else {
        let s = suggestions::get(&txn, referral.from_id).await?;
        let reopened = suggestions::reopen_after_referral(
            &txn,
            &s,
            svc.settings.suggestion_answer_within,
            now,
        )
        .await?;
        suggestions::tell_author(
            svc,
            &txn,
            &reopened,
            Answer::ReferralDeclined,
            &format!("suggestion:{}:referral:{}:answer", s.id, referral.id),
            Some(&reason),
            Some(&referral.to_division),
            now,
        )
        .await?;
    }
    audit::record(
        &txn,
        audit::Entry {
            actor_user_id: Some(actor.user_id),
            action: "referral.decline",
            subject_type: "referral",
            subject_id: id.to_string(),
            division_code: Some(referral.to_division.clone()),
            detail: serde_json::json!({ "reason": reason }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(declined)
}

/// Links the topic the upper level opened for an accepted referral that
/// has none yet; the link goes onto both topics' records.
///
/// # Errors
/// `NOT_FOUND`; `FORBIDDEN` unless the actor manages topics of the division
/// referred to; `CONFLICT` unless accepted without a topic;
/// `BAD_USER_INPUT` for a topic of another scope.
pub async fn link_topic(svc: &Services, actor: &Actor, id: i64, topic_id: i64) -> Result<Referral> {
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let referral = get(&txn, id).await?;
    actor.require(Action::ManageTopics, &referral.to_division)?;
    let upper = upper_topic(&txn, &referral, topic_id).await?;
    let done = referrals::Entity::update_many()
        .col_expr(referrals::Column::TopicId, Expr::value(Some(topic_id)))
        .filter(referrals::Column::Id.eq(id))
        .filter(referrals::Column::Status.eq(Status::Accepted.as_str()))
        .filter(referrals::Column::TopicId.is_null())
        .exec(&txn)
        .await?;
    if done.rows_affected == 0 {
        return Err(Error::conflict(
            "a topic is linked to an accepted referral that has none yet",
        ));
    }
    let linked = get(&txn, id).await?;
    record_link(&txn, actor, &linked, &upper, true, now).await?;
    audit::record(
        &txn,
        audit::Entry {
            actor_user_id: Some(actor.user_id),
            action: "referral.link",
            subject_type: "referral",
            subject_id: id.to_string(),
            division_code: Some(referral.to_division.clone()),
            detail: serde_json::json!({ "topic_id": topic_id }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(linked)
}

/// Where a topic or suggestion was referred, newest first. Public.
///
/// # Errors
/// Database errors.
pub async fn of_source(
    db: &impl ConnectionTrait,
    kind: SourceKind,
    id: i64,
) -> Result<Vec<Referral>> {
    Ok(referrals::Entity::find()
        .filter(referrals::Column::FromKind.eq(kind.as_str()))
        .filter(referrals::Column::FromId.eq(id))
        .order_by_desc(referrals::Column::Id)
        .all(db)
        .await?)
}

/// The referrals the upper level's topic `topic_id` answers, oldest first.
/// Public.
///
/// # Errors
/// Database errors.
pub async fn linked_to(db: &impl ConnectionTrait, topic_id: i64) -> Result<Vec<Referral>> {
    Ok(referrals::Entity::find()
        .filter(referrals::Column::TopicId.eq(topic_id))
        .order_by_asc(referrals::Column::Id)
        .all(db)
        .await?)
}

/// The referrals addressed to `division_code` or a division inside it (or,
/// without one, to any division the actor manages topics of), optionally of
/// one status, oldest first (an inbox), at most `first`.
///
/// # Errors
/// `FORBIDDEN` when the actor manages no topics there; `BAD_USER_INPUT` for
/// a malformed code or page size.
pub async fn inbox(
    svc: &Services,
    actor: &Actor,
    division_code: Option<&str>,
    status: Option<Status>,
    first: u64,
) -> Result<Vec<Referral>> {
    if first == 0 || first > 200 {
        return Err(Error::bad_input("first", "must be between 1 and 200"));
    }
    let mut scope = Condition::any();
    match division_code {
        Some(code) => {
            let code = divisions::normalize_code(code, "divisionCode")?;
            actor.require(Action::ManageTopics, &code)?;
            scope = scope.add(divisions::within(referrals::Column::ToDivision, &code));
        }
        None => {
            let mut any = false;
            for a in &actor.assignments {
                if a.role.allows(Action::ManageTopics) && !a.division_code.is_empty() {
                    any = true;
                    scope = scope.add(divisions::within(
                        referrals::Column::ToDivision,
                        &a.division_code,
                    ));
                }
            }
            if !any {
                return Err(Error::forbidden(
                    "only organisers receive referrals from the level below",
                ));
            }
        }
    }
    let mut query = referrals::Entity::find().filter(scope);
    if let Some(status) = status {
        query = query.filter(referrals::Column::Status.eq(status.as_str()));
    }
    Ok(query
        .order_by_asc(referrals::Column::Id)
        .limit(first)
        .all(svc.db.reader())
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_village_goes_to_its_township_and_a_township_to_its_county() {
        assert_eq!(parent_of("620123101201").as_deref(), Some("620123101"));
        assert_eq!(parent_of("620123101").as_deref(), Some("620123"));
        assert_eq!(parent_of("620123"), None);
        assert_eq!(parent_of("62"), None);
    }

    #[test]
    fn kinds_and_statuses_round_trip() {
        for k in [SourceKind::Topic, SourceKind::Suggestion] {
            assert_eq!(SourceKind::parse(k.as_str()), Some(k));
        }
        for s in [Status::Pending, Status::Accepted, Status::Declined] {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
    }
}
