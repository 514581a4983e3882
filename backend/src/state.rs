//! What a running Yishi holds: the database and the services domain calls use.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::auth::jwt::JwtKeys;
use crate::auth::password::PasswordHasher;
use crate::config::Settings;
use crate::db::Db;
use crate::events::EventBus;

/// The current time, replaceable in tests (deadlines, expiry).
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Services shared by domain calls; cheap to clone.
#[derive(Clone, Debug)]
pub struct Services {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub jwt: JwtKeys,
    pub passwords: PasswordHasher,
    pub clock: Arc<dyn Clock>,
    pub events: EventBus,
    /// Per-IP and per-account rate limits (`rate_limit`).
    pub limits: crate::rate_limit::RateLimits,
    /// Village counters of recently viewed topics, kept current by the
    /// opinions this instance writes (`domain::tally_cache`).
    pub tallies: crate::domain::tally_cache::TallyCache,
    /// Open topics for the submission path (`domain::topics::cache`).
    pub topic_cache: crate::domain::topics::cache::TopicCache,
    pub results_memo: crate::domain::results::ResultsMemo,
    /// Group commit of opinions (SQLite); `None` writes each alone.
    pub opinion_writer: Option<crate::domain::opinion_writer::OpinionWriter>,
    /// Dissent themes per counter version (`domain::themes`).
    pub themes_memo: crate::domain::themes::ThemesMemo,
}

impl Services {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}
