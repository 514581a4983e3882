//! The daily digest: consultation emails held for users who asked for one
//! email a day (`daily_digest` in their preferences) are bundled every
//! morning at 08:00 China time into one email listing each with its link.
//!
//! Compiling is idempotent and safe with several instances: the digest is
//! queued under the key (user, day) and its messages move from `held` to
//! `digested` in the same transaction, only if still held.

use chrono::{DateTime, Duration, FixedOffset, TimeZone as _, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::templates;
use crate::domain::outbox::{self, EmailKind, NewEmail, STATUS_DIGESTED, STATUS_HELD};
use crate::domain::Services;
use crate::entities::outbox as outbox_row;
use crate::error::Result;

/// The hour (China time) the digest goes out: before a village's day starts.
const DIGEST_HOUR: u32 = 8;
/// Users handled per call; the rest follow on the next call.
const USERS_PER_PASS: u64 = 500;

/// The latest digest time at or before `now`.
fn last_cutoff(now: DateTime<Utc>) -> DateTime<Utc> {
    let china = FixedOffset::east_opt(8 * 3600).expect("valid offset");
    let local = now.with_timezone(&china).date_naive();
    let at = local.and_hms_opt(DIGEST_HOUR, 0, 0).expect("valid time");
    let cutoff = china
        .from_local_datetime(&at)
        .single()
        .expect("a fixed offset has no gaps")
        .with_timezone(&Utc);
    if cutoff > now {
        cutoff - Duration::days(1)
    } else {
        cutoff
    }
}

/// Queues the digests due at `svc.now()`; returns how many.
///
/// # Errors
/// Database errors only; users already handled keep their digest.
pub async fn compile_due(svc: &Services) -> Result<usize> {
    let now = svc.now();
    let cutoff = last_cutoff(now);
    let users: Vec<Option<i32>> = outbox_row::Entity::find()
        .select_only()
        .column(outbox_row::Column::UserId)
        .distinct()
        .filter(outbox_row::Column::Status.eq(STATUS_HELD))
        .filter(outbox_row::Column::CreatedAt.lt(cutoff))
        .filter(outbox_row::Column::UserId.is_not_null())
        .limit(USERS_PER_PASS)
        .into_tuple()
        .all(svc.db.reader())
        .await?;
    let mut queued = 0;
    for user_id in users.into_iter().flatten() {
        if compile_for(svc, user_id, cutoff, now).await? {
            queued += 1;
        }
    }
    Ok(queued)
}

async fn compile_for(
    svc: &Services,
    user_id: i32,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let txn = svc.db.begin().await?;
    let held = outbox_row::Entity::find()
        .filter(outbox_row::Column::UserId.eq(user_id))
        .filter(outbox_row::Column::Status.eq(STATUS_HELD))
        .filter(outbox_row::Column::CreatedAt.lt(cutoff))
        .order_by_asc(outbox_row::Column::Id)
        .all(&txn)
        .await?;
    let Some(last) = held.last() else {
        return Ok(false);
    };
    let public_url = &svc.settings.public_url;
    let items: Vec<serde_json::Value> = held
        .iter()
        .map(|row| {
            let payload: serde_json::Value = serde_json::from_str(&row.payload).unwrap_or_default();
            // The subject each message would have had says what it is.
            let subject = templates::render(&row.kind, &last.locale, &payload, public_url, None)
                .map_or_else(|_| row.kind.clone(), |r| r.subject);
            let link = payload["link"].as_str().map_or_else(
                || match payload["topic_id"].as_i64() {
                    Some(id) => format!("{public_url}/topics/{id}"),
                    None => public_url.clone(),
                },
                str::to_owned,
            );
            serde_json::json!({ "subject": subject, "link": link })
        })
        .collect();
    let day = cutoff
        .with_timezone(&FixedOffset::east_opt(8 * 3600).expect("valid offset"))
        .format("%Y-%m-%d")
        .to_string();
    outbox::enqueue(
        &txn,
        NewEmail {
            kind: EmailKind::DailyDigest,
            event: format!("user:{user_id}:{day}"),
            recipient: last.recipient.clone(),
            user_id: Some(user_id),
            locale: last.locale.clone(),
            payload: serde_json::json!({ "day": day, "count": items.len(), "items": items }),
        },
        now,
    )
    .await?;
    outbox_row::Entity::update_many()
        .col_expr(outbox_row::Column::Status, Expr::value(STATUS_DIGESTED))
        .col_expr(outbox_row::Column::SentAt, Expr::value(now))
        .filter(outbox_row::Column::Id.is_in(held.iter().map(|r| r.id)))
        .filter(outbox_row::Column::Status.eq(STATUS_HELD))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_time_is_the_last_eight_oclock_in_china() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        // 07:59 in Beijing: yesterday's 08:00 (00:00 UTC).
        assert_eq!(
            last_cutoff(at("2026-11-25T23:59:00+00:00")),
            at("2026-11-25T00:00:00+00:00")
        );
        // 08:00 in Beijing exactly: today's.
        assert_eq!(
            last_cutoff(at("2026-11-26T00:00:00+00:00")),
            at("2026-11-26T00:00:00+00:00")
        );
        assert_eq!(
            last_cutoff(at("2026-11-26T15:30:00+00:00")),
            at("2026-11-26T00:00:00+00:00")
        );
    }
}
