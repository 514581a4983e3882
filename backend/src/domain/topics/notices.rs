//! Notices about a topic to its whole audience: the advance notice, the
//! opening, the closing reminder. Each goes by email and, the same notice
//! to the same residents with the same idempotency, into the app's 消息
//! (`notifications`): residents who read no email hear of it there.
//!
//! A village topic reaches a few hundred residents and is queued in the
//! transaction of the move that causes it. A county topic can reach 100,000:
//! the move then writes one `bulk_emails` job in its transaction (so nothing
//! acknowledged is lost) and returns at once, and a background task in
//! every `yishi serve` queues the emails in chunks of residents in id order,
//! one transaction per chunk, recording how far it came. Several instances
//! take turns through a lease; a restart resumes where the last chunk ended;
//! the idempotency key `KIND:topic:ID:EMAIL` makes any repeat a no-op.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, Statement, Value};

use super::model::{Eligibility, Topic};
use crate::domain::outbox::EmailKind;
use crate::domain::Services;
use crate::error::{Error, Result};

/// Residents per chunk of a background job.
pub const CHUNK: u64 = 5_000;
/// How long an instance may hold a job without progress before another
/// instance takes it over.
const LEASE: chrono::Duration = chrono::Duration::minutes(2);
/// How often `yishi serve` looks for jobs.
const POLL: Duration = Duration::from_secs(1);

/// Which of a topic's eligible residents an email goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipients {
    Everyone,
    /// Only those with no opinion on the topic yet.
    NotAnswered,
}

impl Recipients {
    fn as_str(self) -> &'static str {
        match self {
            Self::Everyone => "everyone",
            Self::NotAnswered => "not_answered",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "everyone" => Some(Self::Everyone),
            "not_answered" => Some(Self::NotAnswered),
            _ => None,
        }
    }
}

/// What queueing did, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// This many emails were queued in the transaction.
    Now(u64),
    /// The audience is large: a background job will queue them.
    Later { job_id: i64, audience: u64 },
}

impl Queued {
    pub fn to_json(self) -> serde_json::Value {
        match self {
            Self::Now(n) => serde_json::json!(n),
            Self::Later { job_id, audience } => {
                serde_json::json!({ "background_job": job_id, "audience": audience })
            }
        }
    }
}

/// Queues one email and one in-app notification of `kind` about `topic` per
/// eligible resident (see [`Recipients`]), inside `txn` when the audience
/// is at most
/// `YISHI_BULK_INLINE_MAX`, else by writing a job for the background task.
/// The message body is rendered at delivery from the payload, the same for
/// everyone.
///
/// # Errors
/// Database errors only.
pub async fn queue_to_eligible(
    svc: &Services,
    txn: &DatabaseTransaction,
    topic: &Topic,
    kind: EmailKind,
    recipients: Recipients,
    now: DateTime<Utc>,
) -> Result<Queued> {
    let payload = serde_json::json!({
        "topic_id": topic.id,
        "title": topic.title,
        "scope_code": topic.scope_code,
        "opens_at": topic.opens_at.map(|o| o.to_rfc3339()),
        "closes_at": topic.closes_at.map(|c| c.to_rfc3339()),
    });
    queue_to_eligible_with(svc, txn, topic, kind, recipients, &payload, now).await
}

async fn queue_to_eligible_with(
    svc: &Services,
    txn: &DatabaseTransaction,
    topic: &Topic,
    kind: EmailKind,
    recipients: Recipients,
    payload: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<Queued> {
    let payload = payload.to_string();
    let backend = txn.get_database_backend();
    let audience = audience_size(txn, topic, recipients).await?;
    if audience <= svc.settings.bulk_inline_max {
        let queued = insert_chunk(txn, topic, kind, recipients, &payload, now, 0, None).await?;
        return Ok(Queued::Now(queued));
    }
    let p = |n| crate::db::param(backend, n);
    let row = txn
        .query_one(Statement::from_sql_and_values(
            backend,
            format!(
                "INSERT INTO bulk_emails (topic_id, kind, recipients, payload, after_user_id, queued, created_at) \
                 VALUES ({}, {}, {}, {}, 0, 0, {}) RETURNING id",
                p(1),
                p(2),
                p(3),
                p(4),
                p(5)
            ),
            [
                topic.id.into(),
                kind.as_str().into(),
                recipients.as_str().into(),
                payload.into(),
                now.into(),
            ],
        ))
        .await?
        .ok_or_else(|| Error::internal(anyhow::anyhow!("no id for a new bulk email job")))?;
    let job_id: i64 = row.try_get_by_index(0)?;
    tracing::info!(
        topic_id = topic.id,
        job_id,
        audience,
        kind = kind.as_str(),
        "notices left to the background job"
    );
    Ok(Queued::Later { job_id, audience })
}

/// Tells a topic's whole audience that it ended or changed (withdrawn,
/// completed, deadline extended): every participant and every eligible
/// resident, in the app and by email. The keys are the same for both
/// (`KIND:EVENT:EMAIL` for emails, `KIND:EVENT` in the app, the event
/// `topic:ID` unless `payload` names an `event_key`), so nobody gets two;
/// `payload` adds to the topic's own fields.
///
/// # Errors
/// Database errors only.
pub async fn tell_everyone(
    svc: &Services,
    txn: &DatabaseTransaction,
    topic: &Topic,
    kind: EmailKind,
    payload: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<Queued> {
    let mut full = serde_json::json!({
        "topic_id": topic.id,
        "title": topic.title,
        "link": format!("{}/topics/{}", svc.settings.public_url, topic.id),
    });
    if let (Some(full), serde_json::Value::Object(extra)) = (full.as_object_mut(), payload) {
        full.extend(extra);
    }
    let event = event_key(topic, &full);
    crate::domain::notifications::notify(
        txn,
        &crate::domain::notifications::Audience::Participants { topic_id: topic.id },
        kind,
        Some(topic.id),
        &event,
        &full,
        now,
    )
    .await?;
    queue_to_eligible_with(svc, txn, topic, kind, Recipients::Everyone, &full, now).await
}

/// `FROM … WHERE …` selecting the recipients as `u` (users); the scope
/// prefix is parameter `scope_param`.
fn audience(
    backend: DatabaseBackend,
    topic: &Topic,
    recipients: Recipients,
    scope_param: usize,
) -> String {
    let (eligible_join, eligible_filter) = match Eligibility::parse(&topic.eligibility) {
        // Listed stakeholders who still live inside the scope (the list is
        // checked against it when written; a resident may move since).
        Some(Eligibility::Stakeholders) => (
            "JOIN topic_stakeholders s ON s.user_id = u.id",
            format!(
                "s.topic_id = {} AND r.division_code LIKE {}",
                topic.id,
                crate::db::param(backend, scope_param)
            ),
        ),
        _ => (
            "",
            format!(
                "r.division_code LIKE {}",
                crate::db::param(backend, scope_param)
            ),
        ),
    };
    let answered_filter = match recipients {
        Recipients::Everyone => String::new(),
        Recipients::NotAnswered => format!(
            " AND NOT EXISTS (SELECT 1 FROM opinions o WHERE o.topic_id = {} AND o.user_id = u.id)",
            topic.id
        ),
    };
    format!(
        "FROM users u JOIN residencies r ON r.user_id = u.id AND r.status = 'approved' {eligible_join} \
         WHERE {eligible_filter}{answered_filter}"
    )
}

fn scope_like(topic: &Topic) -> Value {
    format!("{}%", topic.scope_code).into()
}

async fn audience_size(
    db: &impl ConnectionTrait,
    topic: &Topic,
    recipients: Recipients,
) -> Result<u64> {
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT CAST(COUNT(*) AS BIGINT) {}",
        audience(backend, topic, recipients, 1)
    );
    let row = db
        .query_one(Statement::from_sql_and_values(
            backend,
            sql,
            [scope_like(topic)],
        ))
        .await?;
    let n: i64 = match row {
        Some(row) => row.try_get_by_index(0)?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The event a notice is about: `topic:ID` for the moves that happen once
/// to a topic, or the payload's `event_key` for those that may happen again
/// (each deadline extension).
fn event_key(topic: &Topic, payload: &serde_json::Value) -> String {
    payload
        .get("event_key")
        .and_then(serde_json::Value::as_str)
        .map_or_else(|| format!("topic:{}", topic.id), str::to_owned)
}

/// Queues the emails and writes the in-app notifications for recipients
/// with `after < id <= upto` (no upper bound when `None`), one INSERT …
/// SELECT each. Returns how many emails were queued.
#[allow(clippy::too_many_arguments)]
async fn insert_chunk(
    db: &impl ConnectionTrait,
    topic: &Topic,
    kind: EmailKind,
    recipients: Recipients,
    payload: &str,
    now: DateTime<Utc>,
    after: i32,
    upto: Option<i32>,
) -> Result<u64> {
    let backend = db.get_database_backend();
    let p = |n| crate::db::param(backend, n);
    let event = event_key(
        topic,
        &serde_json::from_str(payload).unwrap_or(serde_json::Value::Null),
    );
    let key_prefix = format!("{}:{event}:", kind.as_str());
    let notifications = format!(
        "INSERT INTO notifications (user_id, kind, topic_id, event_key, payload, created_at) \
         SELECT u.id, '{kind}', {topic_id}, {key}, {payload}, {now} \
         {audience} AND u.id > {after} AND u.id <= {upto} \
         ON CONFLICT (user_id, event_key) DO NOTHING",
        kind = kind.as_str(),
        topic_id = topic.id,
        key = p(1),
        payload = p(2),
        now = p(3),
        audience = audience(backend, topic, recipients, 4),
        after = p(5),
        upto = p(6),
    );
    db.execute(Statement::from_sql_and_values(
        backend,
        notifications,
        [
            crate::domain::notifications::event_key(kind, &event).into(),
            payload.into(),
            now.into(),
            scope_like(topic),
            after.into(),
            upto.unwrap_or(i32::MAX).into(),
        ],
    ))
    .await?;
    let sql = format!(
        "INSERT INTO outbox (idempotency_key, kind, recipient, user_id, locale, payload, status, attempts, next_attempt_at, created_at) \
         SELECT {key} || u.email, '{kind}', u.email, u.id, u.locale, {payload}, 'queued', 0, {now}, {now} \
         {audience} AND u.id > {after} AND u.id <= {upto} \
         ON CONFLICT (idempotency_key) DO NOTHING",
        key = p(1),
        kind = kind.as_str(),
        payload = p(2),
        now = p(3),
        audience = audience(backend, topic, recipients, 4),
        after = p(5),
        upto = p(6),
    );
    let result = db
        .execute(Statement::from_sql_and_values(
            backend,
            sql,
            [
                key_prefix.into(),
                payload.into(),
                now.into(),
                scope_like(topic),
                after.into(),
                upto.unwrap_or(i32::MAX).into(),
            ],
        ))
        .await?;
    Ok(result.rows_affected())
}

/// A job as claimed.
struct Job {
    id: i64,
    topic_id: i64,
    kind: EmailKind,
    recipients: Recipients,
    payload: String,
    after_user_id: i32,
}

/// Runs every pending job to its end, `chunk` residents per transaction;
/// returns how many emails were queued.
///
/// # Errors
/// Database errors; a job then stays for the next round.
pub async fn run_jobs(svc: &Services, chunk: u64) -> Result<u64> {
    let mut queued = 0;
    while let Some(job) = claim(svc).await? {
        queued += run_job(svc, job, chunk).await?;
    }
    Ok(queued)
}

/// Looks for jobs every second, for as long as the server runs.
pub async fn run_loop(svc: Services) {
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(err) = run_jobs(&svc, CHUNK).await {
            tracing::warn!(error = ?err, "bulk email job failed; retrying");
        }
    }
}

/// Takes the oldest unfinished job nobody holds, under a lease.
async fn claim(svc: &Services) -> Result<Option<Job>> {
    let now = svc.now();
    let backend = svc.db.backend();
    let p = |n| crate::db::param(backend, n);
    // A read first: an idle server must not take SQLite's write lock every
    // second, which other processes on the file (the CLI) would trip over.
    let waiting = svc
        .db
        .reader()
        .query_one(Statement::from_string(
            backend,
            "SELECT 1 FROM bulk_emails WHERE done_at IS NULL LIMIT 1",
        ))
        .await?;
    if waiting.is_none() {
        return Ok(None);
    }
    let sql = format!(
        "UPDATE bulk_emails SET leased_until = {lease} \
         WHERE id = (SELECT id FROM bulk_emails WHERE done_at IS NULL \
                     AND (leased_until IS NULL OR leased_until < {now}) ORDER BY id LIMIT 1) \
         AND done_at IS NULL AND (leased_until IS NULL OR leased_until < {now}) \
         RETURNING id, topic_id, kind, recipients, payload, after_user_id",
        lease = p(1),
        now = p(2),
    );
    let row = svc
        .db
        .writer()
        .query_one(Statement::from_sql_and_values(
            backend,
            sql,
            [(now + LEASE).into(), now.into()],
        ))
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let kind: String = row.try_get_by_index(2)?;
    let recipients: String = row.try_get_by_index(3)?;
    let unknown =
        |what: &str| Error::internal(anyhow::anyhow!("bulk email job with unknown {what}"));
    Ok(Some(Job {
        id: row.try_get_by_index(0)?,
        topic_id: row.try_get_by_index(1)?,
        kind: EmailKind::parse(&kind).ok_or_else(|| unknown("kind"))?,
        recipients: Recipients::parse(&recipients).ok_or_else(|| unknown("recipients"))?,
        payload: row.try_get_by_index(4)?,
        after_user_id: row.try_get_by_index(5)?,
    }))
}

async fn run_job(svc: &Services, mut job: Job, chunk: u64) -> Result<u64> {
    let topic = super::model::get(svc.db.reader(), job.topic_id).await?;
    let backend = svc.db.backend();
    let p = |n| crate::db::param(backend, n);
    let mut queued = 0;
    loop {
        let now = svc.now();
        let txn = svc.db.begin().await?;
        let upper_sql = format!(
            "SELECT MAX(id) FROM (SELECT u.id AS id {} AND u.id > {} ORDER BY u.id LIMIT {}) AS c",
            audience(backend, &topic, job.recipients, 1),
            p(2),
            p(3)
        );
        let upper: Option<i32> = txn
            .query_one(Statement::from_sql_and_values(
                backend,
                upper_sql,
                [
                    scope_like(&topic),
                    job.after_user_id.into(),
                    i64::try_from(chunk).unwrap_or(i64::MAX).into(),
                ],
            ))
            .await?
            .and_then(|row| row.try_get_by_index::<Option<i32>>(0).ok().flatten());
        let Some(upper) = upper else {
            txn.execute(Statement::from_sql_and_values(
                backend,
                format!(
                    "UPDATE bulk_emails SET done_at = {}, leased_until = NULL WHERE id = {}",
                    p(1),
                    p(2)
                ),
                [now.into(), job.id.into()],
            ))
            .await?;
            txn.commit().await?;
            tracing::info!(
                job_id = job.id,
                topic_id = job.topic_id,
                "bulk email job done"
            );
            return Ok(queued);
        };
        let n = insert_chunk(
            &txn,
            &topic,
            job.kind,
            job.recipients,
            &job.payload,
            now,
            job.after_user_id,
            Some(upper),
        )
        .await?;
        txn.execute(Statement::from_sql_and_values(
            backend,
            format!(
                "UPDATE bulk_emails SET after_user_id = {}, queued = queued + {}, leased_until = {} WHERE id = {}",
                p(1),
                p(2),
                p(3),
                p(4)
            ),
            [
                upper.into(),
                i64::try_from(n).unwrap_or(i64::MAX).into(),
                (now + LEASE).into(),
                job.id.into(),
            ],
        ))
        .await?;
        txn.commit().await?;
        queued += n;
        job.after_user_id = upper;
        // Opinions share the SQLite writer: let them in between chunks.
        tokio::task::yield_now().await;
    }
}
