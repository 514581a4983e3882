//! The audit log: one row per organiser or admin action, written in the same
//! transaction as the action itself.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::entities::audit_log;
use crate::error::Result;

#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub actor_user_id: Option<i32>,
    pub action: &'a str,
    pub subject_type: &'a str,
    pub subject_id: String,
    pub division_code: Option<String>,
    pub detail: serde_json::Value,
}

/// Appends `entry` at `now`.
///
/// # Errors
/// Database errors only.
pub async fn record(db: &impl ConnectionTrait, entry: Entry<'_>, now: DateTime<Utc>) -> Result<()> {
    audit_log::Entity::insert(audit_log::ActiveModel {
        actor_user_id: Set(entry.actor_user_id),
        action: Set(entry.action.to_owned()),
        subject_type: Set(entry.subject_type.to_owned()),
        subject_id: Set(entry.subject_id),
        division_code: Set(entry.division_code),
        detail: Set(entry.detail.to_string()),
        created_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}
