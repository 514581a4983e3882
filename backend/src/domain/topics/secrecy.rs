//! Secret topics (民主评议 without fear): residents appraising a cadre's or
//! a body's work, or any topic its organiser marks secret. No member of
//! staff sees which resident gave which opinion (lists, exports and
//! explanations carry no identity; explanations to dissenters are routed by
//! the system), and no one, staff included, sees the tallies before the
//! topic closes, so nobody can close early on seeing them. The one way
//! through is a supervisor's break-glass reveal with a recorded legal
//! reason, audited and on the public record.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};

use super::model::{self, Kind, State, Topic};
use crate::domain::authz::{Action, Actor};
use crate::domain::record::{self, Move, Who};
use crate::domain::{audit, Services};
use crate::entities::secret_reveals;
use crate::error::{Error, Result};

/// Whether the topic is secret: appraisals always, others when marked.
pub fn is_secret(topic: &Topic) -> bool {
    topic.secret || Kind::parse(&topic.kind) == Some(Kind::Appraisal)
}

/// Whether a secret topic's tallies are still sealed: until it closes.
pub fn tallies_sealed(topic: &Topic) -> bool {
    is_secret(topic)
        && matches!(
            State::parse(&topic.state),
            Some(State::Draft | State::Announced | State::Open)
        )
}

/// Refuses any count of a secret topic's opinions before it closes: results,
/// the opinion list (which one could count), exports, dissent themes.
///
/// # Errors
/// `TALLIES_SEALED` while sealed.
pub fn require_unsealed(topic: &Topic) -> Result<()> {
    if tallies_sealed(topic) {
        return Err(Error::procedure(
            "TALLIES_SEALED",
            "this is a secret topic: no one sees its tallies before it closes",
        ));
    }
    Ok(())
}

/// Whether `viewer` may see who gave each opinion of `topic`: always for an
/// open topic's staff, for a secret one only a supervisor who revealed it.
///
/// # Errors
/// Database errors.
pub async fn identities_visible(
    db: &impl ConnectionTrait,
    topic: &Topic,
    viewer: &Actor,
) -> Result<bool> {
    if !is_secret(topic) {
        return Ok(true);
    }
    Ok(secret_reveals::Entity::find()
        .filter(secret_reveals::Column::TopicId.eq(topic.id))
        .filter(secret_reveals::Column::SupervisorId.eq(viewer.user_id))
        .one(db)
        .await?
        .is_some())
}

/// A supervisor of the topic's division breaks the seal of a secret topic
/// for themselves, with the legal reason (e.g. a court's or a discipline
/// inspection's request). Audited, and on the public record with its
/// reason; nobody else sees more because of it.
///
/// # Errors
/// `FORBIDDEN` for anyone but such a supervisor; `CONFLICT` for a topic
/// that is not secret or not closed yet (a reveal never opens the tallies
/// early); `BAD_USER_INPUT` without a reason.
pub async fn reveal(
    svc: &Services,
    actor: &Actor,
    topic_id: i64,
    legal_reason: &str,
) -> Result<()> {
    let legal_reason = legal_reason.trim();
    if legal_reason.chars().count() < 5 || legal_reason.chars().count() > 2_000 {
        return Err(Error::bad_input(
            "legalReason",
            "state the legal reason and its basis (5 to 2000 characters)",
        ));
    }
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let topic = model::get(&txn, topic_id).await?;
    actor.require(Action::Supervise, &topic.scope_code)?;
    if !is_secret(&topic) {
        return Err(Error::conflict("this topic is not secret"));
    }
    require_unsealed(&topic)?;
    secret_reveals::ActiveModel {
        topic_id: Set(topic_id),
        supervisor_id: Set(actor.user_id),
        legal_reason: Set(legal_reason.to_owned()),
        revealed_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    record::append(
        &txn,
        topic_id,
        record::Entry {
            moved: Move::Revealed,
            who: Who::acting(actor, Action::Supervise, &topic.scope_code),
            reason: Some(legal_reason),
            detail: serde_json::json!({}),
        },
        now,
    )
    .await?;
    audit::record(
        &txn,
        audit::Entry {
            actor_user_id: Some(actor.user_id),
            action: "topic.reveal",
            subject_type: "topic",
            subject_id: topic_id.to_string(),
            division_code: Some(topic.scope_code.clone()),
            detail: serde_json::json!({ "legal_reason": legal_reason }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
