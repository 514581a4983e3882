//! The email outbox. A message is queued in the same transaction as the event
//! that causes it, so it exists exactly when the event does; delivery is the
//! worker's business (see the email issue).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};
use serde::Serialize;

use super::authz::{Action, Actor};
use super::{audit, divisions, Services};
use crate::auth::seal::Sealer;
use crate::entities::outbox;
use crate::error::{Error, Result};

/// The kinds of email Yishi sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailKind {
    VerifyEmail,
    PasswordReset,
    /// Someone tried to register with the address of an existing account
    /// (told to its owner instead of to the one registering).
    RegistrationAttempt,
    ResidencyApproved,
    ResidencyRejected,
    TopicAnnounced,
    /// A topic opened for opinions.
    TopicOpened,
    /// A topic closes within a day and the recipient has not answered.
    ClosingSoon,
    ProxyOpinionRecorded,
    OutcomePublished,
    ProgressUpdate,
    OutcomeCorrected,
    ExplanationPublished,
    /// A topic announced to the residents was withdrawn, with its reason.
    TopicWithdrawn,
    /// A topic's outcome was implemented.
    TopicCompleted,
    /// The implementation deadline was extended, with its reason.
    DeadlineExtended,
    /// A resident's suggestion was answered: adopted, declined or referred
    /// to the level above, or that level answered the referral.
    SuggestionAnswered,
    /// One email a day bundling the consultation emails of a user who
    /// asked for that (see `email_preferences`).
    DailyDigest,
}

impl EmailKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::PasswordReset => "password_reset",
            Self::RegistrationAttempt => "registration_attempt",
            Self::ResidencyApproved => "residency_approved",
            Self::ResidencyRejected => "residency_rejected",
            Self::TopicAnnounced => "topic_announced",
            Self::TopicOpened => "topic_opened",
            Self::ClosingSoon => "closing_soon",
            Self::ProxyOpinionRecorded => "proxy_opinion_recorded",
            Self::OutcomePublished => "outcome_published",
            Self::ProgressUpdate => "progress_update",
            Self::OutcomeCorrected => "outcome_corrected",
            Self::ExplanationPublished => "explanation_published",
            Self::TopicWithdrawn => "topic_withdrawn",
            Self::TopicCompleted => "topic_completed",
            Self::DeadlineExtended => "deadline_extended",
            Self::SuggestionAnswered => "suggestion_answered",
            Self::DailyDigest => "daily_digest",
        }
    }

    /// Every kind, for lists of preferences and for parsing.
    pub const ALL: [Self; 18] = [
        Self::VerifyEmail,
        Self::PasswordReset,
        Self::RegistrationAttempt,
        Self::ResidencyApproved,
        Self::ResidencyRejected,
        Self::TopicAnnounced,
        Self::TopicOpened,
        Self::ClosingSoon,
        Self::ProxyOpinionRecorded,
        Self::OutcomePublished,
        Self::ProgressUpdate,
        Self::OutcomeCorrected,
        Self::ExplanationPublished,
        Self::TopicWithdrawn,
        Self::TopicCompleted,
        Self::DeadlineExtended,
        Self::SuggestionAnswered,
        Self::DailyDigest,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether a recipient may turn this kind off. Consultation news may be;
    /// account emails and the notice that someone recorded an opinion in
    /// your name (a safeguard against abuse of proxies) may not.
    pub const fn is_optional(self) -> bool {
        match self {
            Self::VerifyEmail
            | Self::PasswordReset
            | Self::RegistrationAttempt
            | Self::ResidencyApproved
            | Self::ResidencyRejected
            | Self::ProxyOpinionRecorded => false,
            Self::TopicAnnounced
            | Self::TopicOpened
            | Self::ClosingSoon
            | Self::OutcomePublished
            | Self::ProgressUpdate
            | Self::OutcomeCorrected
            | Self::ExplanationPublished
            | Self::TopicWithdrawn
            | Self::TopicCompleted
            | Self::DeadlineExtended
            | Self::SuggestionAnswered
            | Self::DailyDigest => true,
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

/// The payload field that holds a sealed link (see `auth::seal`): what an
/// email carries that works as a credential (a reset or verification link)
/// is never stored as it is.
pub const SEALED_LINK: &str = "sealed_link";

/// What a sealed link of an email is bound to: its kind and recipient.
fn seal_context(kind: &str, recipient: &str) -> String {
    format!("{kind}:{recipient}")
}

/// `link` sealed for an email of `kind` to `recipient`, to store in its
/// payload under [`SEALED_LINK`].
pub fn seal_link(svc: &Services, kind: EmailKind, recipient: &str, link: &str) -> String {
    svc.jwt
        .sealer()
        .seal(link, &seal_context(kind.as_str(), recipient))
}

/// The link `sealed` for an email of `kind` to `recipient`, when `sealer`
/// (the server's) sealed it for that email.
pub fn open_link(sealer: &Sealer, kind: &str, recipient: &str, sealed: &str) -> Option<String> {
    sealer.open(sealed, &seal_context(kind, recipient))
}

/// The payload of `row` as its email says it: a sealed link opened into
/// `link`. Only for rendering the email for delivery.
///
/// # Errors
/// A message for the operator when the payload is not JSON or the link
/// cannot be opened (the server secret changed since it was queued).
pub fn reveal(
    svc: &Services,
    row: &outbox::Model,
) -> std::result::Result<serde_json::Value, String> {
    let mut payload: serde_json::Value =
        serde_json::from_str(&row.payload).map_err(|e| format!("payload is not JSON: {e}"))?;
    if let Some(sealed) = payload.get(SEALED_LINK).and_then(|v| v.as_str()) {
        let link = open_link(svc.jwt.sealer(), &row.kind, &row.recipient, sealed)
            .ok_or_else(|| {
                "the link in this email cannot be opened: the server secret changed since it was queued"
                    .to_owned()
            })?;
        payload["link"] = serde_json::Value::String(link);
    }
    Ok(payload)
}

/// `payload` without its sealed link, once the email has gone: nothing
/// that could become a credential stays behind.
fn without_secrets(payload: &str) -> Option<String> {
    let mut value: serde_json::Value = serde_json::from_str(payload).ok()?;
    value.as_object_mut()?.remove(SEALED_LINK)?;
    Some(value.to_string())
}

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

pub const STATUS_SENDING: &str = "sending";
pub const STATUS_SENT: &str = "sent";
pub const STATUS_FAILED: &str = "failed";
pub const STATUS_SKIPPED: &str = "skipped";
pub const STATUS_HELD: &str = "held";
pub const STATUS_DIGESTED: &str = "digested";

/// The states a message goes through: `queued` → `sending` (claimed by a
/// worker, with a lease) → `sent`, or back to `queued` to retry later, or
/// `failed` for good (an administrator may requeue it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Queued,
    Sending,
    Sent,
    Failed,
    /// Not sent because the recipient turned this kind of email off.
    Skipped,
    /// Waiting for the recipient's daily digest.
    Held,
    /// Sent as part of a daily digest.
    Digested,
}

impl Status {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => STATUS_QUEUED,
            Self::Sending => STATUS_SENDING,
            Self::Sent => STATUS_SENT,
            Self::Failed => STATUS_FAILED,
            Self::Skipped => STATUS_SKIPPED,
            Self::Held => STATUS_HELD,
            Self::Digested => STATUS_DIGESTED,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Queued,
            Self::Sending,
            Self::Sent,
            Self::Failed,
            Self::Skipped,
            Self::Held,
            Self::Digested,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// Whether any message is due (see [`claim_due`]). Workers ask this on a
/// reader first, so an idle instance polls without taking SQLite's single
/// writer every second.
///
/// # Errors
/// Database errors only.
pub async fn any_due(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<bool> {
    Ok(outbox::Entity::find()
        .select_only()
        .column(outbox::Column::Id)
        .filter(outbox::Column::Status.is_in([STATUS_QUEUED, STATUS_SENDING]))
        .filter(outbox::Column::NextAttemptAt.lte(now))
        .into_tuple::<i64>()
        .one(db)
        .await?
        .is_some())
}

/// Claims up to `limit` messages that are due: queued ones whose time has
/// come, and `sending` ones whose lease ran out (their worker died). Each
/// claimed row becomes `sending` with `next_attempt_at = now + lease` and one
/// more attempt, in one statement, so two workers never claim the same row:
/// PostgreSQL skips rows another transaction has locked, and SQLite has a
/// single writer.
///
/// The attempt count doubles as the claim token: [`finish`] only touches a
/// row still carrying the count it was claimed with.
///
/// # Errors
/// Database errors only.
pub async fn claim_due(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: u64,
) -> Result<Vec<outbox::Model>> {
    let backend = db.get_database_backend();
    let (p, lock) = match backend {
        DatabaseBackend::Postgres => (["$1", "$2", "$3"], " FOR UPDATE SKIP LOCKED"),
        _ => (["?1", "?2", "?3"], ""),
    };
    let sql = format!(
        "UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = {until} \
         WHERE id IN (SELECT id FROM outbox WHERE status IN ('queued', 'sending') \
           AND next_attempt_at <= {now} ORDER BY id LIMIT {limit}{lock}) \
         RETURNING *",
        until = p[0],
        now = p[1],
        limit = p[2],
    );
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut rows = outbox::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(
            backend,
            sql,
            [(now + lease).into(), now.into(), limit.into()],
        ))
        .all(db)
        .await?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// What became of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Try again at the given time.
    Retry {
        at: DateTime<Utc>,
        error: String,
    },
    /// Give up: a permanent rejection, or the last attempt.
    Failed {
        error: String,
    },
    /// Not attempted (shutting down, or the relay is unreachable): back in
    /// the queue as it was, due at `at`.
    Released {
        at: DateTime<Utc>,
    },
    /// Not to be sent: the recipient turned this kind off.
    Skipped,
    /// Kept for the recipient's daily digest.
    Held,
}

/// Records the outcome of delivering `claimed`. Returns false when the claim
/// was lost (the lease ran out and another worker took the row), in which
/// case nothing is changed.
///
/// # Errors
/// Database errors only.
pub async fn finish(
    db: &impl ConnectionTrait,
    claimed: &outbox::Model,
    outcome: Outcome,
    now: DateTime<Utc>,
) -> Result<bool> {
    use sea_orm::sea_query::Expr;
    let mut update = outbox::Entity::update_many();
    update = match outcome {
        Outcome::Sent => {
            if let Some(payload) = without_secrets(&claimed.payload) {
                update = update.col_expr(outbox::Column::Payload, Expr::value(payload));
            }
            update
                .col_expr(outbox::Column::Status, Expr::value(STATUS_SENT))
                .col_expr(outbox::Column::SentAt, Expr::value(now))
                .col_expr(
                    outbox::Column::LastError,
                    Expr::value(Option::<String>::None),
                )
        }
        Outcome::Retry { at, error } => update
            .col_expr(outbox::Column::Status, Expr::value(STATUS_QUEUED))
            .col_expr(outbox::Column::NextAttemptAt, Expr::value(at))
            .col_expr(outbox::Column::LastError, Expr::value(truncate(error))),
        Outcome::Failed { error } => update
            .col_expr(outbox::Column::Status, Expr::value(STATUS_FAILED))
            .col_expr(outbox::Column::LastError, Expr::value(truncate(error))),
        Outcome::Released { at } => update
            .col_expr(outbox::Column::Status, Expr::value(STATUS_QUEUED))
            .col_expr(outbox::Column::NextAttemptAt, Expr::value(at))
            .col_expr(outbox::Column::Attempts, Expr::value(claimed.attempts - 1)),
        Outcome::Skipped => update
            .col_expr(outbox::Column::Status, Expr::value(STATUS_SKIPPED))
            .col_expr(outbox::Column::Attempts, Expr::value(claimed.attempts - 1))
            .col_expr(
                outbox::Column::LastError,
                Expr::value(Some("the recipient turned this email off".to_owned())),
            ),
        Outcome::Held => update
            .col_expr(outbox::Column::Status, Expr::value(STATUS_HELD))
            .col_expr(outbox::Column::Attempts, Expr::value(claimed.attempts - 1)),
    };
    let result = update
        .filter(outbox::Column::Id.eq(claimed.id))
        .filter(outbox::Column::Status.eq(STATUS_SENDING))
        .filter(outbox::Column::Attempts.eq(claimed.attempts))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// SMTP replies can be long; the admin view needs the gist.
fn truncate(mut error: String) -> String {
    const MAX: usize = 1_000;
    if error.len() > MAX {
        let mut cut = MAX;
        while !error.is_char_boundary(cut) {
            cut -= 1;
        }
        error.truncate(cut);
    }
    error
}

/// Only administrators of a whole province read the outbox: it names every
/// recipient in the system, not those of one division.
fn require_outbox_admin(actor: &Actor) -> Result<()> {
    let allowed = actor
        .scopes(Action::Administer)
        .iter()
        .any(|code| divisions::level_of(code) == Some(divisions::Level::Province));
    if allowed {
        Ok(())
    } else {
        Err(Error::forbidden(
            "only a province administrator may read the outbox",
        ))
    }
}

/// Outbox messages, newest first, optionally of one status: `first` rows
/// with ids below `after` (one extra row signals a next page).
///
/// # Errors
/// `FORBIDDEN` unless the actor administers a province; `BAD_USER_INPUT` on
/// `first` outside 1..=200.
pub async fn list(
    svc: &Services,
    actor: &Actor,
    status: Option<Status>,
    first: u64,
    after: Option<i64>,
) -> Result<Vec<outbox::Model>> {
    require_outbox_admin(actor)?;
    if first == 0 || first > 200 {
        return Err(Error::bad_input("first", "must be between 1 and 200"));
    }
    let mut query = outbox::Entity::find();
    if let Some(status) = status {
        query = query.filter(outbox::Column::Status.eq(status.as_str()));
    }
    if let Some(after) = after {
        query = query.filter(outbox::Column::Id.lt(after));
    }
    Ok(query
        .order_by_desc(outbox::Column::Id)
        .limit(first + 1)
        .all(svc.db.reader())
        .await?)
}

/// Puts a failed message back in the queue with a fresh set of attempts.
///
/// # Errors
/// `FORBIDDEN` unless the actor administers a province; `NOT_FOUND`;
/// `CONFLICT` when the message is not failed (sent, or already on its way).
pub async fn retry(svc: &Services, actor: &Actor, id: i64) -> Result<outbox::Model> {
    use sea_orm::sea_query::Expr;
    require_outbox_admin(actor)?;
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let result = outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value(STATUS_QUEUED))
        .col_expr(outbox::Column::Attempts, Expr::value(0))
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(now))
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::Status.eq(STATUS_FAILED))
        .exec(&txn)
        .await?;
    let row = outbox::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| Error::not_found(format!("email {id}")))?;
    if result.rows_affected == 0 {
        return Err(Error::conflict(format!(
            "email {id} is {}; only a failed email can be retried",
            row.status
        )));
    }
    audit::record(
        &txn,
        audit::Entry {
            actor_user_id: Some(actor.user_id),
            action: "outbox.retry",
            subject_type: "outbox",
            subject_id: id.to_string(),
            division_code: None,
            detail: serde_json::json!({ "kind": row.kind, "last_error": row.last_error }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}
