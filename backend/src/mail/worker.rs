//! Delivers the outbox over SMTP, inside `yishi serve`.
//!
//! A pass claims a batch of due messages (see [`outbox::claim_due`]: safe
//! with several instances on PostgreSQL), sends them one by one at the
//! configured rate and records each outcome. A claimed row carries a lease:
//! when an instance dies mid-batch, its rows become due again once the lease
//! runs out, so nothing is lost; an attempt that did reach the relay before
//! the crash may be repeated, which is the price of never losing one.
//!
//! Failures: a permanent rejection (5xx, an unparsable address, a payload the
//! templates cannot render) fails the message at once; anything else is
//! retried with exponential backoff and jitter until the last attempt.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng as _;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{digest, templates, Mailer, SendError};
use crate::config::Settings;
use crate::domain::email_preferences::{self, Decision};
use crate::domain::outbox::{self, EmailKind, Outcome};
use crate::domain::Services;
use crate::entities::outbox as outbox_row;
use crate::error::Result;

/// The first retry waits about this long; each further one twice as long.
const BACKOFF_BASE_SECS: i64 = 30;
/// No retry waits longer than this.
const BACKOFF_MAX_SECS: i64 = 6 * 3600;

/// How the worker paces itself.
#[derive(Debug, Clone)]
pub struct Options {
    /// Messages claimed per pass.
    pub batch: u64,
    /// How long a claim protects a row from other workers.
    pub lease: chrono::Duration,
    /// How long to wait when nothing is due.
    pub idle: Duration,
    /// Messages per second at most.
    pub rate_per_sec: u32,
    pub max_attempts: u32,
}

impl Options {
    pub fn from_settings(settings: &Settings) -> Self {
        let rate = settings.mail_rate_per_sec.max(1);
        // About a second's worth per claim. A message is only sent while
        // its claim has an SMTP timeout to spare (see `deliver_due`), so a
        // slow relay makes the tail of a batch wait for the next pass, never
        // outlive its lease and go out twice.
        Self {
            batch: u64::from(rate).clamp(5, 50),
            lease: chrono::Duration::minutes(15),
            idle: Duration::from_secs(1),
            rate_per_sec: rate,
            max_attempts: settings.mail_max_attempts.max(1),
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    /// Claimed but handed back unsent (shutdown).
    pub released: usize,
    /// Not sent: the recipient turned this kind off.
    pub skipped: usize,
    /// Kept for the recipient's daily digest.
    pub held: usize,
}

impl Report {
    pub fn claimed(&self) -> usize {
        self.sent + self.retried + self.failed + self.released + self.skipped + self.held
    }
}

/// When attempt number `attempts` (1-based) failed transiently, the next one
/// is due after an exponentially growing delay with jitter, so a relay that
/// comes back is not hit by every instance's backlog at the same second.
fn backoff(attempts: i32, now: DateTime<Utc>) -> DateTime<Utc> {
    let exp = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    let full = BACKOFF_BASE_SECS
        .saturating_mul(1_i64 << exp)
        .min(BACKOFF_MAX_SECS);
    // Between half and all of the full delay.
    let secs = full / 2 + rand::thread_rng().gen_range(0..=full / 2);
    now + chrono::Duration::seconds(secs)
}

/// One pass: claims a batch of due messages and delivers them, stopping
/// early (and handing the rest back) when `stop` turns true.
///
/// # Errors
/// Database errors; a message whose outcome could not be recorded stays
/// claimed and becomes due again when its lease runs out.
pub async fn deliver_due(
    svc: &Services,
    mailer: &Mailer,
    options: &Options,
    stop: &mut watch::Receiver<bool>,
) -> Result<Report> {
    if !outbox::any_due(svc.db.reader(), svc.now()).await? {
        return Ok(Report::default());
    }
    let db = svc.db.writer();
    let claimed_at = Instant::now();
    let claimed = outbox::claim_due(db, svc.now(), options.lease, options.batch).await?;
    // The last moment a send may start and still end inside the lease.
    let send_by = claimed_at
        + options
            .lease
            .to_std()
            .unwrap_or_default()
            .saturating_sub(super::SMTP_TIMEOUT + Duration::from_secs(5));
    let mut report = Report::default();
    let gap = Duration::from_secs(1) / options.rate_per_sec;
    let mut next_send = Instant::now();
    // Set when the relay cannot be reached: the rest of the batch waits as
    // long as the message that found out, untried, instead of each spending
    // an attempt (and perhaps a whole connect timeout) on the same outage.
    let mut hold_until = None;
    for row in claimed {
        // Hand the row back untried when holding, late or shutting down.
        let hand_back = hold_until.is_some() || *stop.borrow() || Instant::now() > send_by || {
            tokio::select! {
                () = tokio::time::sleep_until(next_send) => false,
                _ = stop.changed() => true,
            }
        };
        if hand_back {
            let at = hold_until.unwrap_or_else(|| svc.now());
            outbox::finish(db, &row, Outcome::Released { at }, svc.now()).await?;
            report.released += 1;
            continue;
        }
        next_send = Instant::now() + gap;
        // Once the SMTP conversation starts it is finished, even on
        // shutdown: abandoning it half way could deliver without recording.
        let (outcome, unreachable) = deliver_one(svc, mailer, options, &row).await;
        if unreachable {
            hold_until = Some(match &outcome {
                Outcome::Retry { at, .. } => *at,
                _ => backoff(1, svc.now()),
            });
        }
        let label = match &outcome {
            Outcome::Sent => "sent",
            Outcome::Retry { .. } => "retried",
            Outcome::Failed { .. } => "failed",
            Outcome::Released { .. } => "released",
            Outcome::Skipped => "skipped",
            Outcome::Held => "held",
        };
        metrics::counter!("emails_total", "outcome" => label, "kind" => row.kind.clone())
            .increment(1);
        match &outcome {
            Outcome::Sent => report.sent += 1,
            Outcome::Retry { error, .. } => {
                tracing::info!(id = row.id, attempts = row.attempts, %error, "email delivery will be retried");
                report.retried += 1;
            }
            Outcome::Failed { error } => {
                tracing::warn!(id = row.id, kind = %row.kind, attempts = row.attempts, %error, "email delivery failed");
                report.failed += 1;
            }
            Outcome::Released { .. } => report.released += 1,
            Outcome::Skipped => report.skipped += 1,
            Outcome::Held => report.held += 1,
        }
        if !outbox::finish(db, &row, outcome, svc.now()).await? {
            tracing::warn!(
                id = row.id,
                "email outcome not recorded: its lease ran out and another worker took it"
            );
        }
    }
    Ok(report)
}

/// Delivers one claimed message; the flag says the relay was unreachable.
async fn deliver_one(
    svc: &Services,
    mailer: &Mailer,
    options: &Options,
    row: &outbox_row::Model,
) -> (Outcome, bool) {
    let result = send_one(svc, mailer, row).await;
    let unreachable = matches!(result, Err(SendError::Unreachable(_)));
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(SendError::Permanent(error)) => Outcome::Failed { error },
        Err(SendError::Transient(error) | SendError::Unreachable(error))
            if u32::try_from(row.attempts).unwrap_or(u32::MAX) >= options.max_attempts =>
        {
            Outcome::Failed {
                error: format!("gave up after {} attempts: {error}", row.attempts),
            }
        }
        Err(SendError::Transient(error) | SendError::Unreachable(error)) => Outcome::Retry {
            at: backoff(row.attempts, svc.now()),
            error,
        },
    };
    (outcome, unreachable)
}

/// Renders and sends one message: `Ok` with the outcome when it is settled
/// without a send error (sent, skipped, unrenderable).
async fn send_one(
    svc: &Services,
    mailer: &Mailer,
    row: &outbox_row::Model,
) -> std::result::Result<Outcome, SendError> {
    let payload = match outbox::reveal(svc, row) {
        Ok(p) => p,
        Err(error) => return Ok(Outcome::Failed { error }),
    };
    // Consultation emails honour the recipient's choice and carry a link to
    // make it; account emails always go.
    let optional = EmailKind::parse(&row.kind).filter(|k| k.is_optional());
    let unsubscribe = match (optional, row.user_id) {
        (Some(kind), Some(user_id)) => {
            match email_preferences::decide(svc.db.reader(), user_id, &row.kind).await {
                Ok(Decision::Send) => Some(email_preferences::unsubscribe_url(svc, user_id, kind)),
                Ok(Decision::Skip) => return Ok(Outcome::Skipped),
                Ok(Decision::Hold) => return Ok(Outcome::Held),
                Err(e) => {
                    if let crate::error::Error::Internal(cause) = &e {
                        tracing::warn!(id = row.id, error = ?cause, "cannot read email preferences");
                    }
                    return Err(SendError::Transient(
                        "cannot read the recipient's preferences".into(),
                    ));
                }
            }
        }
        _ => None,
    };
    let message = match templates::render(
        &row.kind,
        &row.locale,
        &payload,
        &svc.settings.public_url,
        unsubscribe.as_deref(),
    ) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(id = row.id, error = ?e, "email cannot be rendered");
            return Ok(Outcome::Failed {
                error: "the message cannot be rendered (see the server log)".into(),
            });
        }
    };
    let key = format!("yishi.outbox.{}", row.id);
    mailer
        .send(&row.recipient, &key, &message, unsubscribe.as_deref())
        .await
        .map(|()| Outcome::Sent)
}

/// One pass with the options from the settings, never interrupted: for
/// tests and the CLI.
///
/// # Errors
/// As [`deliver_due`].
pub async fn run_once(svc: &Services, mailer: &Mailer) -> Result<Report> {
    let (_keep, mut stop) = watch::channel(false);
    deliver_due(
        svc,
        mailer,
        &Options::from_settings(&svc.settings),
        &mut stop,
    )
    .await
}

/// Delivers until `stop` turns true, then returns once the message in hand
/// is finished and the rest of its batch is handed back.
pub async fn run(svc: Services, mailer: Mailer, options: Options, mut stop: watch::Receiver<bool>) {
    let mut next_digests = Instant::now();
    loop {
        if *stop.borrow() {
            return;
        }
        if Instant::now() >= next_digests {
            // Once a minute is plenty for a daily email.
            next_digests = Instant::now() + Duration::from_secs(60);
            if let Err(err) = digest::compile_due(&svc).await {
                tracing::warn!(error = ?err, "compiling daily digests failed");
            }
        }
        let busy = match deliver_due(&svc, &mailer, &options, &mut stop).await {
            Ok(report) => report.claimed() > 0,
            Err(err) => {
                tracing::warn!(error = ?err, "outbox pass failed");
                false
            }
        };
        if !busy {
            tokio::select! {
                () = tokio::time::sleep(options.idle) => {}
                changed = stop.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// A running delivery loop.
#[derive(Debug)]
pub struct Worker {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Worker {
    /// Starts [`run`] in the background.
    pub fn spawn(svc: Services, mailer: Mailer, options: Options) -> Self {
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(run(svc, mailer, options, rx));
        Self { stop, task }
    }

    /// Starts the worker when `SMTP_URL` is set; without it messages stay in
    /// the outbox for the admin view.
    ///
    /// # Errors
    /// When `SMTP_URL` or `YISHI_MAIL_FROM` cannot be used.
    pub fn from_settings(svc: &Services) -> anyhow::Result<Option<Self>> {
        use secrecy::ExposeSecret;
        let Some(url) = &svc.settings.smtp_url else {
            tracing::info!("SMTP_URL is not set: emails stay in the outbox");
            return Ok(None);
        };
        let mailer = Mailer::from_url(url.expose_secret(), &svc.settings.mail_from)?;
        Ok(Some(Self::spawn(
            svc.clone(),
            mailer,
            Options::from_settings(&svc.settings),
        )))
    }

    /// Asks the loop to stop and waits for it (a minute at most: one SMTP
    /// timeout); the message in hand is finished, the rest released.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(Duration::from_secs(70), self.task)
            .await
            .is_err()
        {
            tracing::warn!(
                "the email worker did not stop in time; its claims expire with their lease"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_a_ceiling() {
        let now = Utc::now();
        for attempts in 1..=30 {
            let full = (BACKOFF_BASE_SECS << (attempts - 1).min(20)).min(BACKOFF_MAX_SECS);
            let wait = (backoff(attempts, now) - now).num_seconds();
            assert!(
                wait >= full / 2 && wait <= full,
                "attempt {attempts}: {wait}"
            );
        }
        let waits: std::collections::HashSet<i64> = (0..20)
            .map(|_| (backoff(5, now) - now).num_seconds())
            .collect();
        assert!(waits.len() > 1, "jitter varies the delay");
    }
}
