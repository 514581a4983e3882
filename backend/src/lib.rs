//! Yishi (议事): the online channel for urban and rural community
//! consultation. See `../shared/DESIGN.md` for the product brief.
//!
//! Layers, inward: `http` and `graphql` call `domain`, which calls
//! `entities` through `db`. Nothing in `domain` knows about HTTP or GraphQL.

pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod entities;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod mail;
pub mod rate_limit;
pub mod report;
pub mod server;
pub mod spreadsheet;
pub mod state;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use secrecy::{ExposeSecret, SecretString};

pub use http::build_app;

use crate::auth::{jwt::JwtKeys, password::PasswordHasher};
use crate::config::Settings;
use crate::db::Db;
use crate::events::EventBus;
use crate::state::{Clock, Services, SystemClock};

/// Connects to the database and builds the services from `settings`.
///
/// # Errors
/// When the database cannot be opened or the JWT secret cannot be read or
/// created.
pub async fn init_services(settings: Settings) -> anyhow::Result<Services> {
    init_services_with_clock(settings, Arc::new(SystemClock)).await
}

/// [`init_services`] with a chosen clock (tests move time forward).
///
/// # Errors
/// As [`init_services`].
pub async fn init_services_with_clock(
    settings: Settings,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Services> {
    let db = Db::connect(&settings.database_url).await?;
    let secret = match &settings.jwt_secret {
        Some(secret) => secret.clone(),
        None => load_or_create_secret(&settings.data_dir.join("jwt-secret"))?,
    };
    let jwt = JwtKeys::new(secret.expose_secret().as_bytes(), settings.access_token_ttl);
    let passwords = PasswordHasher::new(settings.argon2_memory_kib);
    let events = if settings.is_sqlite() {
        EventBus::in_process()
    } else {
        EventBus::postgres(&settings.database_url).await?
    };
    let mut services = Services {
        db,
        limits: rate_limit::RateLimits::new(&settings.rate_limits),
        settings: Arc::new(settings),
        jwt,
        passwords,
        clock,
        tallies: {
            let tallies = crate::domain::tally_cache::TallyCache::new();
            tallies.follow(&events);
            tallies
        },
        topic_cache: crate::domain::topics::cache::TopicCache::default(),
        results_memo: crate::domain::results::ResultsMemo::default(),
        events,
        opinion_writer: None,
        themes_memo: crate::domain::themes::ThemesMemo::default(),
    };
    // Signed-out sessions are refused on every instance without a query per
    // request (see `auth::revocation`).
    services.jwt.revocations().follow(&services.events);
    crate::domain::accounts::spawn_revocation_sync(&services);
    services.opinion_writer = Some(crate::domain::opinion_writer::OpinionWriter::spawn(
        services.clone(),
    ));
    Ok(services)
}

/// Reads the signing secret from `path`, creating it (random, mode 0600) on
/// first start. Never a built-in default.
fn load_or_create_secret(path: &Path) -> anyhow::Result<SecretString> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let existing = existing.trim().to_owned();
        anyhow::ensure!(
            existing.len() >= 32,
            "{} is shorter than 32 characters",
            path.display()
        );
        return Ok(SecretString::from(existing));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let secret = hex::encode(rand::random::<[u8; 32]>());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            std::io::Write::write_all(&mut file, secret.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(SecretString::from(secret))
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create_secret(path),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_secret_is_created_once_and_then_reused() {
        use secrecy::ExposeSecret;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/jwt-secret");
        let first = super::load_or_create_secret(&path).unwrap();
        let second = super::load_or_create_secret(&path).unwrap();
        assert_eq!(first.expose_secret(), second.expose_secret());
        assert_eq!(first.expose_secret().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
}
