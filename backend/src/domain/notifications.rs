//! In-app notifications, written with the emails that accompany them in the
//! transaction of the event. Both are keyed by event, so an event never
//! notifies the same person twice.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};

use super::outbox::EmailKind;
use crate::db::param;
use crate::entities::notifications;
use crate::error::Result;

pub use notifications::Model as Notification;

/// Who an event reaches, as a SQL `SELECT user_id … ` over the event's rows.
#[derive(Debug, Clone)]
pub enum Audience {
    /// Every resident with an account who gave an opinion on the topic.
    Participants { topic_id: i64 },
    /// The recipients fixed for an explanation.
    ExplanationRecipients { explanation_id: i64 },
    /// One user (the author of a suggestion, …).
    User { user_id: i32 },
}

impl Audience {
    fn select_user_ids(&self) -> String {
        match self {
            Audience::Participants { topic_id } => {
                format!("SELECT DISTINCT user_id FROM opinions WHERE topic_id = {topic_id} AND user_id IS NOT NULL")
            }
            Audience::ExplanationRecipients { explanation_id } => {
                format!("SELECT user_id FROM explanation_recipients WHERE explanation_id = {explanation_id}")
            }
            Audience::User { user_id } => format!("SELECT {user_id} AS user_id"),
        }
    }
}

/// The key that makes an in-app notification one per user per event:
/// `KIND:EVENT`, as the email's idempotency key is `KIND:EVENT:EMAIL` (the
/// same event, `topic:ID`, is announced, opened and reminded of, each a
/// notice of its own).
#[must_use]
pub fn event_key(kind: EmailKind, event: &str) -> String {
    format!("{}:{event}", kind.as_str())
}

/// Notifies `audience` in the app and by email (rendered at delivery from
/// `payload`): two INSERT … SELECT statements however many people it is.
/// Returns how many were notified.
///
/// # Errors
/// Database errors.
pub async fn notify(
    db: &impl ConnectionTrait,
    audience: &Audience,
    kind: EmailKind,
    topic_id: Option<i64>,
    event: &str,
    payload: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<u64> {
    let backend = db.get_database_backend();
    let p = |n| param(backend, n);
    let users = audience.select_user_ids();
    let payload = payload.to_string();
    let inserted = db
        .execute(Statement::from_sql_and_values(
            backend,
            format!(
                "INSERT INTO notifications (user_id, kind, topic_id, event_key, payload, created_at) \
                 SELECT a.user_id, {kind}, {topic}, {event}, {payload}, {now} FROM ({users}) a WHERE true \
                 ON CONFLICT (user_id, event_key) DO NOTHING",
                kind = p(1),
                topic = p(2),
                event = p(3),
                payload = p(4),
                now = p(5),
            ),
            [kind.as_str().into(), topic_id.into(), event_key(kind, event).into(), payload.clone().into(), now.into()],
        ))
        .await?
        .rows_affected();
    db.execute(Statement::from_sql_and_values(
        backend,
        format!(
            "INSERT INTO outbox (idempotency_key, kind, recipient, user_id, locale, payload, status, attempts, next_attempt_at, created_at) \
             SELECT {prefix} || u.email, {kind}, u.email, u.id, u.locale, {payload}, 'queued', 0, {now}, {now} \
             FROM users u JOIN ({users}) a ON a.user_id = u.id WHERE true \
             ON CONFLICT (idempotency_key) DO NOTHING",
            prefix = p(1),
            kind = p(2),
            payload = p(3),
            now = p(4),
        ),
        [format!("{}:{event}:", kind.as_str()).into(), kind.as_str().into(), payload.into(), now.into()],
    ))
    .await?;
    Ok(inserted)
}

/// The user's notifications, newest first.
///
/// # Errors
/// Database errors.
pub async fn list(
    db: &impl ConnectionTrait,
    user_id: i32,
    unread_only: bool,
    first: u64,
) -> Result<Vec<Notification>> {
    let mut query = notifications::Entity::find().filter(notifications::Column::UserId.eq(user_id));
    if unread_only {
        query = query.filter(notifications::Column::ReadAt.is_null());
    }
    Ok(query
        .order_by_desc(notifications::Column::Id)
        .limit(first.clamp(1, 200))
        .all(db)
        .await?)
}

/// Marks the given notifications (or all when `ids` is empty) read.
///
/// # Errors
/// Database errors.
pub async fn mark_read(
    db: &impl ConnectionTrait,
    user_id: i32,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<u64> {
    let mut update = notifications::Entity::update_many()
        .col_expr(notifications::Column::ReadAt, Expr::value(now))
        .filter(notifications::Column::UserId.eq(user_id))
        .filter(notifications::Column::ReadAt.is_null());
    if !ids.is_empty() {
        update = update.filter(notifications::Column::Id.is_in(ids.iter().copied()));
    }
    Ok(update.exec(db).await?.rows_affected)
}
