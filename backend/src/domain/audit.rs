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

/// Which audit entries to read.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Entries about this division or any inside it.
    pub division_code: String,
    pub subject_type: Option<String>,
    pub subject_id: Option<String>,
    pub action: Option<String>,
}

/// Entries newest first, `first` after id `after` (one extra row signals a
/// next page), for admins and supervisors of the division.
///
/// # Errors
/// `FORBIDDEN` for anyone else; `BAD_USER_INPUT` for a malformed code or
/// page size.
pub async fn list(
    svc: &super::Services,
    actor: &super::authz::Actor,
    filter: &Filter,
    first: u64,
    after: Option<i64>,
) -> Result<Vec<audit_log::Model>> {
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};

    if first == 0 || first > 200 {
        return Err(crate::error::Error::bad_input(
            "first",
            "must be between 1 and 200",
        ));
    }
    let code = super::divisions::normalize_code(&filter.division_code, "divisionCode")?;
    actor.require(super::authz::Action::ViewAuditLog, &code)?;
    let mut query = audit_log::Entity::find()
        .filter(super::divisions::within(
            audit_log::Column::DivisionCode,
            &code,
        ))
        .order_by_desc(audit_log::Column::Id)
        .limit(first + 1);
    if let Some(after) = after {
        query = query.filter(audit_log::Column::Id.lt(after));
    }
    if let Some(t) = &filter.subject_type {
        query = query.filter(audit_log::Column::SubjectType.eq(t.as_str()));
    }
    if let Some(id) = &filter.subject_id {
        query = query.filter(audit_log::Column::SubjectId.eq(id.as_str()));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_log::Column::Action.eq(action.as_str()));
    }
    Ok(query.all(svc.db.reader()).await?)
}
