//! The email outbox. A message is queued in the same transaction as the event
//! that causes it, so it exists exactly when the event does; delivery is the
//! worker's business (see the email issue).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use serde::Serialize;

use crate::entities::outbox;
use crate::error::Result;

/// The kinds of email Yishi sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailKind {
    VerifyEmail,
    PasswordReset,
    ResidencyApproved,
    ResidencyRejected,
    TopicAnnounced,
    ProxyOpinionRecorded,
}

impl EmailKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::PasswordReset => "password_reset",
            Self::ResidencyApproved => "residency_approved",
            Self::ResidencyRejected => "residency_rejected",
            Self::TopicAnnounced => "topic_announced",
            Self::ProxyOpinionRecorded => "proxy_opinion_recorded",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewEmail {
    pub kind: EmailKind,
    /// The event this email belongs to, e.g. `residency:17`; with the
    /// recipient it forms the idempotency key.
    pub event: String,
    pub recipient: String,
    pub user_id: Option<i32>,
    pub locale: String,
    pub payload: serde_json::Value,
}

pub const STATUS_QUEUED: &str = "queued";

/// Queues `email`; queueing the same event for the same recipient again is a
/// no-op.
///
/// # Errors
/// Database errors only.
pub async fn enqueue(db: &impl ConnectionTrait, email: NewEmail, now: DateTime<Utc>) -> Result<()> {
    let key = format!(
        "{}:{}:{}",
        email.kind.as_str(),
        email.event,
        email.recipient
    );
    let insert = outbox::Entity::insert(outbox::ActiveModel {
        idempotency_key: Set(key),
        kind: Set(email.kind.as_str().to_owned()),
        recipient: Set(email.recipient),
        user_id: Set(email.user_id),
        locale: Set(email.locale),
        payload: Set(email.payload.to_string()),
        status: Set(STATUS_QUEUED.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        last_error: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(outbox::Column::IdempotencyKey)
            .do_nothing()
            .to_owned(),
    )
    .do_nothing();
    insert.exec_without_returning(db).await?;
    Ok(())
}
