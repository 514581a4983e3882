//! What is recorded on a topic besides opinions: expert or third-party
//! assessments (论证评估) and offline meetings (councils, hearings).

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

use super::model::{self, State};
use crate::domain::authz::{Action, Actor};
use crate::domain::{audit, Services};
use crate::entities::{assessments, meetings};
use crate::error::{Error, Result};

pub use assessments::Model as Assessment;
pub use meetings::Model as Meeting;

#[derive(Debug, Clone)]
pub struct NewAssessment {
    pub title: String,
    pub body: String,
    /// The third-party body (e.g. a design institute) when an organiser
    /// publishes its assessment; `None` when an expert publishes their own.
    pub body_name: Option<String>,
}

/// Publishes an assessment. Experts invited to the scope publish their own;
/// organisers publish a named third-party body's.
///
/// # Errors
/// `FORBIDDEN` for anyone else; `BAD_USER_INPUT` for empty text or an
/// organiser without a body name; `CONFLICT` once the topic is closed.
pub async fn publish_assessment(
    svc: &Services,
    actor: &Actor,
    topic_id: i64,
    input: NewAssessment,
) -> Result<Assessment> {
    let topic = model::get(svc.db.reader(), topic_id).await?;
    let as_expert = actor.may(Action::Assess, &topic.scope_code);
    let as_organiser = actor.may(Action::ManageTopics, &topic.scope_code);
    if !as_expert && !as_organiser {
        return Err(Error::forbidden(
            "only an invited expert or the topic's organiser may publish an assessment",
        ));
    }
    let body_name = input
        .body_name
        .map(|b| b.trim().to_owned())
        .filter(|b| !b.is_empty());
    if !as_expert && body_name.is_none() {
        return Err(Error::bad_input(
            "bodyName",
            "name the third-party body whose assessment this is",
        ));
    }
    let title = input.title.trim();
    let body = input.body.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(Error::bad_input("title", "a title has 1 to 200 characters"));
    }
    if body.is_empty() || body.chars().count() > 50_000 {
        return Err(Error::bad_input(
            "body",
            "the assessment has 1 to 50000 characters",
        ));
    }
    if !matches!(
        State::parse(&topic.state),
        Some(State::Draft | State::Announced | State::Open)
    ) {
        return Err(Error::conflict(
            "assessments are published before the topic closes",
        ));
    }
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let row = assessments::ActiveModel {
        topic_id: Set(topic_id),
        author_user_id: Set(actor.user_id),
        body_name: Set(body_name),
        title: Set(title.to_owned()),
        body: Set(body.to_owned()),
        published_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        audit::Entry {
            actor_user_id: Some(actor.user_id),
            action: "topic.assessment",
            subject_type: "topic",
            subject_id: topic_id.to_string(),
            division_code: Some(topic.scope_code),
            detail: serde_json::json!({ "assessment_id": row.id, "title": row.title }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

pub async fn assessments_of(db: &impl ConnectionTrait, topic_id: i64) -> Result<Vec<Assessment>> {
    Ok(assessments::Entity::find()
        .filter(assessments::Column::TopicId.eq(topic_id))
        .order_by_asc(assessments::Column::Id)
        .all(db)
        .await?)
}

#[derive(Debug, Clone)]
pub struct NewMeeting {
    pub held_at: DateTime<Utc>,
    pub place: String,
    pub attendees: i32,
    pub minutes: String,
}

/// Records an offline meeting held on the topic.
///
/// # Errors
/// `FORBIDDEN` outside the organiser's division; `BAD_USER_INPUT` for empty
/// fields; `CONFLICT` for a draft or withdrawn topic.
pub async fn record_meeting(
    svc: &Services,
    actor: &Actor,
    topic_id: i64,
    input: NewMeeting,
) -> Result<Meeting> {
    let topic = model::get(svc.db.reader(), topic_id).await?;
    actor.require(Action::ManageTopics, &topic.scope_code)?;
    if matches!(
        State::parse(&topic.state),
        Some(State::Draft | State::Withdrawn)
    ) {
        return Err(Error::conflict(
            "meetings are recorded on announced, open or closed topics",
        ));
    }
    let place = input.place.trim();
    if place.is_empty() || place.chars().count() > 200 {
        return Err(Error::bad_input("place", "a place has 1 to 200 characters"));
    }
    if !(1..=100_000).contains(&input.attendees) {
        return Err(Error::bad_input("attendees", "attendance is 1 to 100000"));
    }
    let minutes = input.minutes.trim();
    if minutes.is_empty() || minutes.chars().count() > 50_000 {
        return Err(Error::bad_input(
            "minutes",
            "minutes have 1 to 50000 characters",
        ));
    }
    let now = svc.now();
    if input.held_at > now + chrono::Duration::days(1) {
        return Err(Error::bad_input(
            "heldAt",
            "record a meeting once it has been held",
        ));
    }
    let txn = svc.db.begin().await?;
    let row = meetings::ActiveModel {
        topic_id: Set(topic_id),
        held_at: Set(input.held_at),
        place: Set(place.to_owned()),
        attendees: Set(input.attendees),
        minutes: Set(minutes.to_owned()),
        recorded_by: Set(actor.user_id),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        audit::Entry {
            actor_user_id: Some(actor.user_id),
            action: "topic.meeting",
            subject_type: "topic",
            subject_id: topic_id.to_string(),
            division_code: Some(topic.scope_code),
            detail: serde_json::json!({ "meeting_id": row.id, "place": row.place }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

pub async fn meetings_of(db: &impl ConnectionTrait, topic_id: i64) -> Result<Vec<Meeting>> {
    Ok(meetings::Entity::find()
        .filter(meetings::Column::TopicId.eq(topic_id))
        .order_by_asc(meetings::Column::HeldAt)
        .all(db)
        .await?)
}

/// One meeting, checked to belong to `topic_id`.
///
/// # Errors
/// `NOT_FOUND` when it does not.
pub async fn meeting_of(
    db: &impl ConnectionTrait,
    topic_id: i64,
    meeting_id: i64,
) -> Result<Meeting> {
    meetings::Entity::find_by_id(meeting_id)
        .one(db)
        .await?
        .filter(|m| m.topic_id == topic_id)
        .ok_or_else(|| Error::not_found(format!("meeting {meeting_id} of topic {topic_id}")))
}
