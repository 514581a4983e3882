//! The outbox for the admin panel: what was sent, what waits, what failed
//! and why, and a way to try a failed message again.

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Enum, Object, Result, ID};
use chrono::{DateTime, Utc};

use super::context::{actor, services, user_id};
use crate::domain::{email_preferences, outbox};
use crate::entities::outbox as outbox_row;
use crate::error::Error;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum EmailStatus {
    /// Waiting for its first or next attempt.
    Queued,
    /// Claimed by a worker right now.
    Sending,
    Sent,
    /// Given up: see `lastError`; `retryEmail` queues it again.
    Failed,
    /// Not sent: the recipient turned this kind of email off.
    Skipped,
    /// Waiting for the recipient's daily digest.
    Held,
    /// Sent as part of a daily digest.
    Digested,
}

impl From<outbox::Status> for EmailStatus {
    fn from(s: outbox::Status) -> Self {
        match s {
            outbox::Status::Queued => Self::Queued,
            outbox::Status::Sending => Self::Sending,
            outbox::Status::Sent => Self::Sent,
            outbox::Status::Failed => Self::Failed,
            outbox::Status::Skipped => Self::Skipped,
            outbox::Status::Held => Self::Held,
            outbox::Status::Digested => Self::Digested,
        }
    }
}

impl From<EmailStatus> for outbox::Status {
    fn from(s: EmailStatus) -> Self {
        match s {
            EmailStatus::Queued => Self::Queued,
            EmailStatus::Sending => Self::Sending,
            EmailStatus::Sent => Self::Sent,
            EmailStatus::Failed => Self::Failed,
            EmailStatus::Skipped => Self::Skipped,
            EmailStatus::Held => Self::Held,
            EmailStatus::Digested => Self::Digested,
        }
    }
}

/// One message in the outbox. Its body is not exposed: it may carry a
/// sign-in or password-reset link meant for the recipient alone.
pub struct Email(pub outbox_row::Model);

#[Object]
impl Email {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// `verify_email`, `password_reset`, `topic_announced`, …
    async fn kind(&self) -> &str {
        &self.0.kind
    }

    async fn recipient(&self) -> &str {
        &self.0.recipient
    }

    async fn locale(&self) -> &str {
        &self.0.locale
    }

    async fn status(&self) -> EmailStatus {
        outbox::Status::parse(&self.0.status).map_or(EmailStatus::Queued, Into::into)
    }

    /// Delivery attempts so far.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }

    /// When a queued message is next tried (for one being sent: when its
    /// worker's claim expires).
    async fn next_attempt_at(&self) -> DateTime<Utc> {
        self.0.next_attempt_at
    }

    /// The SMTP relay's answer to the last failed attempt.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn sent_at(&self) -> Option<DateTime<Utc>> {
        self.0.sent_at
    }
}

/// Whether I get one kind of email.
pub struct EmailPreference(email_preferences::Preference);

#[Object]
impl EmailPreference {
    /// `topic_announced`, `outcome_published`, … (the outbox's kinds).
    async fn kind(&self) -> &str {
        self.0.kind.as_str()
    }

    async fn enabled(&self) -> bool {
        self.0.enabled
    }

    /// False for account emails, which always go. (`daily_digest`, when
    /// enabled, bundles the consultation emails into one a day.)
    async fn can_turn_off(&self) -> bool {
        self.0.kind.is_optional()
    }
}

#[derive(Default)]
pub struct OutboxQuery;

#[Object]
impl OutboxQuery {
    /// Every kind of email and whether I get it.
    async fn my_email_preferences(&self, ctx: &Context<'_>) -> Result<Vec<EmailPreference>> {
        Ok(
            email_preferences::list(services(ctx).db.reader(), user_id(ctx)?)
                .await?
                .into_iter()
                .map(EmailPreference)
                .collect(),
        )
    }

    /// Emails, newest first, optionally of one status (province
    /// administrators only).
    #[graphql(complexity = "super::limits::list_cost(first, 50, 200, child_complexity)")]
    async fn outbox(
        &self,
        ctx: &Context<'_>,
        status: Option<EmailStatus>,
        #[graphql(desc = "Page size (default 50).")] first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Email, EmptyFields, EmptyFields>> {
        let actor = actor(ctx).await?;
        let after_id = super::types::parse_cursor::<i64>(after.as_deref())?;
        let first = u64::try_from(first.unwrap_or(50)).unwrap_or(0);
        let rows = outbox::list(
            services(ctx),
            actor,
            status.map(Into::into),
            first,
            after_id,
        )
        .await?;
        Ok(super::types::page(
            rows,
            first,
            after.is_some(),
            |r| r.id.to_string(),
            Email,
        ))
    }

    /// The audit log of a division and everything inside it, newest first
    /// (administrators and supervisors of the division).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "super::limits::list_cost(first, 50, 200, child_complexity)")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        division_code: String,
        subject_type: Option<String>,
        subject_id: Option<String>,
        action: Option<String>,
        #[graphql(desc = "Page size (default 50, at most 200).")] first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, AuditEntry, EmptyFields, EmptyFields>> {
        let actor = actor(ctx).await?;
        let after_id = super::types::parse_cursor::<i64>(after.as_deref())?;
        let first = u64::try_from(first.unwrap_or(50)).unwrap_or(0);
        let filter = crate::domain::audit::Filter {
            division_code,
            subject_type,
            subject_id,
            action,
        };
        let rows =
            crate::domain::audit::list(services(ctx), actor, &filter, first, after_id).await?;
        Ok(super::types::page(
            rows,
            first,
            after.is_some(),
            |r| r.id.to_string(),
            AuditEntry,
        ))
    }
}

/// One organiser, supervisor or admin action, as the audit log keeps it.
pub struct AuditEntry(pub crate::entities::audit_log::Model);

#[Object]
impl AuditEntry {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Who acted; none for the scheduler.
    async fn actor_user_id(&self) -> Option<ID> {
        self.0.actor_user_id.map(|id| ID(id.to_string()))
    }

    /// `topic.announce`, `residency.approve`, `role.assign`, …
    async fn action(&self) -> &str {
        &self.0.action
    }

    /// `topic`, `residency`, `role`, …
    async fn subject_type(&self) -> &str {
        &self.0.subject_type
    }

    async fn subject_id(&self) -> &str {
        &self.0.subject_id
    }

    async fn division_code(&self) -> Option<&str> {
        self.0.division_code.as_deref()
    }

    /// The details of the action, as JSON text.
    async fn detail(&self) -> &str {
        &self.0.detail
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(Default)]
pub struct OutboxMutation;

#[Object]
impl OutboxMutation {
    /// Turns one kind of consultation email on or off for me.
    async fn set_email_preference(
        &self,
        ctx: &Context<'_>,
        kind: String,
        enabled: bool,
    ) -> Result<EmailPreference> {
        Ok(EmailPreference(
            email_preferences::set(services(ctx), user_id(ctx)?, &kind, enabled).await?,
        ))
    }

    /// Queues a failed email again with a fresh set of attempts (province
    /// administrators only).
    async fn retry_email(&self, ctx: &Context<'_>, id: ID) -> Result<Email> {
        let actor = actor(ctx).await?;
        let id = id.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            Error::bad_input("id", format!("{:?} is not a valid id", id.as_str()))
        })?;
        Ok(Email(outbox::retry(services(ctx), actor, id).await?))
    }
}
