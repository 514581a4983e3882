//! Which emails a user wants. Account emails always go; each kind of
//! consultation email can be turned off, in the account settings or with the
//! signed one-click link every such email carries (RFC 8058), and the kind
//! `daily_digest`, when on, bundles them into one email a day.
//!
//! Preferences are read at delivery, not at queueing: an announcement to a
//! whole county is queued with one `INSERT … SELECT`, and turning an email
//! off takes effect for messages already waiting.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::outbox::EmailKind;
use super::Services;
use crate::entities::email_preferences;
use crate::error::{Error, Result};

/// The audience of unsubscribe link tokens (see `JwtKeys::sign_link`).
const UNSUBSCRIBE: &str = "unsubscribe";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preference {
    pub kind: EmailKind,
    pub enabled: bool,
}

/// Every kind with whether `user_id` gets it.
///
/// # Errors
/// Database errors only.
pub async fn list(db: &impl ConnectionTrait, user_id: i32) -> Result<Vec<Preference>> {
    let rows = email_preferences::Entity::find()
        .filter(email_preferences::Column::UserId.eq(user_id))
        .all(db)
        .await?;
    Ok(EmailKind::ALL
        .into_iter()
        .map(|kind| {
            let row = rows.iter().find(|r| r.kind == kind.as_str());
            Preference {
                kind,
                enabled: match kind {
                    // Individual emails unless asked otherwise.
                    EmailKind::DailyDigest => row.is_some_and(|r| r.enabled),
                    _ => !kind.is_optional() || row.is_none_or(|r| r.enabled),
                },
            }
        })
        .collect())
}

/// What to do with one queued email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Send,
    /// The recipient turned this kind off.
    Skip,
    /// The recipient wants it in their daily digest.
    Hold,
}

/// What to do with an email of `kind` (the outbox's `kind` column) for
/// `user_id`.
///
/// # Errors
/// Database errors only.
pub async fn decide(db: &impl ConnectionTrait, user_id: i32, kind: &str) -> Result<Decision> {
    match EmailKind::parse(kind) {
        Some(k) if k.is_optional() && k != EmailKind::DailyDigest => {}
        _ => return Ok(Decision::Send),
    }
    let digest = EmailKind::DailyDigest.as_str();
    let rows = email_preferences::Entity::find()
        .filter(email_preferences::Column::UserId.eq(user_id))
        .filter(email_preferences::Column::Kind.is_in([kind, digest]))
        .all(db)
        .await?;
    let enabled = |k: &str| rows.iter().find(|r| r.kind == k).map(|r| r.enabled);
    Ok(if enabled(kind) == Some(false) {
        Decision::Skip
    } else if enabled(digest) == Some(true) {
        Decision::Hold
    } else {
        Decision::Send
    })
}

/// Turns emails of `kind` on or off for `user_id`.
///
/// # Errors
/// `BAD_USER_INPUT` on `kind` when it is unknown or cannot be turned off.
pub async fn set(svc: &Services, user_id: i32, kind: &str, enabled: bool) -> Result<Preference> {
    let kind = EmailKind::parse(kind)
        .ok_or_else(|| Error::bad_input("kind", format!("{kind:?} is not a kind of email")))?;
    if !kind.is_optional() && !enabled {
        return Err(Error::bad_input(
            "kind",
            format!("{} emails cannot be turned off", kind.as_str()),
        ));
    }
    store(svc.db.writer(), user_id, kind, enabled, svc.now()).await?;
    Ok(Preference { kind, enabled })
}

async fn store(
    db: &impl ConnectionTrait,
    user_id: i32,
    kind: EmailKind,
    enabled: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    email_preferences::Entity::insert(email_preferences::ActiveModel {
        user_id: Set(user_id),
        kind: Set(kind.as_str().to_owned()),
        enabled: Set(enabled),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            email_preferences::Column::UserId,
            email_preferences::Column::Kind,
        ])
        .update_columns([
            email_preferences::Column::Enabled,
            email_preferences::Column::UpdatedAt,
        ])
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The one-click link that turns `kind` off for `user_id`: signed, so it
/// needs no sign-in and cannot be forged for someone else.
pub fn unsubscribe_url(svc: &Services, user_id: i32, kind: EmailKind) -> String {
    let token = svc
        .jwt
        .sign_link(UNSUBSCRIBE, &format!("{user_id}:{}", kind.as_str()));
    format!("{}/api/unsubscribe?token={token}", svc.settings.public_url)
}

/// Follows an unsubscribe link: turns its kind off for its user.
///
/// # Errors
/// `BAD_USER_INPUT` on `token` when it is not a valid unsubscribe token.
pub async fn unsubscribe(svc: &Services, token: &str) -> Result<EmailKind> {
    let invalid = || Error::bad_input("token", "this unsubscribe link is not valid");
    let subject = svc
        .jwt
        .verify_link(UNSUBSCRIBE, token)
        .ok_or_else(invalid)?;
    let (user, kind) = subject.split_once(':').ok_or_else(invalid)?;
    let user_id: i32 = user.parse().map_err(|_| invalid())?;
    let kind = EmailKind::parse(kind)
        .filter(|k| k.is_optional())
        .ok_or_else(invalid)?;
    // Unsubscribing from the digest means from what it bundles.
    let kinds: Vec<EmailKind> = if kind == EmailKind::DailyDigest {
        EmailKind::ALL
            .into_iter()
            .filter(|k| k.is_optional() && *k != EmailKind::DailyDigest)
            .collect()
    } else {
        vec![kind]
    };
    let stored = async {
        let txn = svc.db.begin().await?;
        for k in kinds {
            store(&txn, user_id, k, false, svc.now()).await?;
        }
        txn.commit().await?;
        Ok::<_, Error>(())
    };
    match stored.await {
        Ok(()) => Ok(kind),
        // The account was deleted since: nothing left to send to it.
        Err(Error::Internal(e))
            if e.downcast_ref::<sea_orm::DbErr>()
                .and_then(sea_orm::DbErr::sql_err)
                .is_some_and(|s| {
                    matches!(s, sea_orm::SqlErr::ForeignKeyConstraintViolation(_))
                }) =>
        {
            Ok(kind)
        }
        Err(e) => Err(e),
    }
}
