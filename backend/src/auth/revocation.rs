//! Revoked sessions, checked on every request without touching the database.
//!
//! An access token is a signed, stateless JWT that lives for the access-token
//! TTL (15 minutes by default). Each one names its session (`sid`: the
//! refresh-token family it was issued with), so signing out, a password
//! change or reset, and refresh-token reuse revoke it by revoking the
//! session. A revoked session id only matters while an access token of that
//! session can still be unexpired, so each entry is forgotten once the TTL
//! (and the verifier's leeway) has passed since its revocation. The set
//! therefore holds only the sessions revoked within the last TTL: each needed
//! a sign-in (argon2, rate-limited) to exist, which bounds it to a few MiB
//! even under attack, and the hot path pays one hash lookup under a read
//! lock — no query per request (the opinion path serves ~12,000 requests/s).
//!
//! Every instance learns of a revocation three ways: the instance that
//! revokes adds it before answering; the others hear an
//! [`Event::SessionsRevoked`] over the event bus (PostgreSQL LISTEN/NOTIFY);
//! and, since a notification sent while an instance reconnects is lost, each
//! instance also re-reads the recently revoked sessions from the database
//! every few seconds (`domain::accounts::sync_revocations`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::events::{Event, EventBus};

/// Seconds of clock skew the access-token verifier tolerates past `exp`.
pub const LEEWAY_SECS: i64 = 5;
/// Expired entries are swept at most this often: a sweep walks the whole set
/// under the write lock, which the request path must not wait on per revoke.
const SWEEP_EVERY_SECS: i64 = 10;

/// The ids of sessions revoked within the last access-token TTL; cheap to
/// clone, and all clones share one set.
#[derive(Clone)]
pub struct Revocations {
    /// Session id → when it may be forgotten (Unix seconds).
    revoked: Arc<RwLock<HashMap<String, i64>>>,
    /// When the next sweep of expired entries is due (Unix seconds).
    sweep_at: Arc<AtomicI64>,
    /// How long after its revocation an entry is kept.
    hold_secs: i64,
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocations")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl Revocations {
    /// A set for access tokens that live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            revoked: Arc::default(),
            sweep_at: Arc::default(),
            hold_secs: i64::try_from(ttl.as_secs())
                .unwrap_or(i64::MAX / 2)
                .saturating_add(LEEWAY_SECS + 1),
        }
    }

    /// Adds `sessions`, revoked at `at`. Entries whose tokens have all
    /// expired are dropped on the way (every [`SWEEP_EVERY_SECS`] at most).
    ///
    /// # Panics
    /// When the lock was poisoned by a panic while held (never: nothing in
    /// here panics).
    pub fn revoke<I, S>(&self, sessions: I, at: DateTime<Utc>)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        // The tokens' expiry is judged by the wall clock, so is the hold,
        // whatever clock the caller's revocation time came from.
        let now = Utc::now().timestamp();
        let forget_at = at.timestamp().max(now).saturating_add(self.hold_secs);
        let mut revoked = self.revoked.write().expect("revocations poisoned");
        if now >= self.sweep_at.load(Ordering::Relaxed) {
            revoked.retain(|_, until| *until > now);
            self.sweep_at
                .store(now + SWEEP_EVERY_SECS, Ordering::Relaxed);
        }
        for session in sessions {
            let entry = revoked.entry(session.into()).or_insert(forget_at);
            *entry = (*entry).max(forget_at);
        }
    }

    /// Whether `session` was revoked (and may still have live tokens).
    ///
    /// # Panics
    /// When the lock was poisoned (never: see [`Revocations::revoke`]).
    pub fn is_revoked(&self, session: &str) -> bool {
        let revoked = self.revoked.read().expect("revocations poisoned");
        !revoked.is_empty() && revoked.contains_key(session)
    }

    /// How many sessions are held.
    ///
    /// # Panics
    /// When the lock was poisoned (never: see [`Revocations::revoke`]).
    pub fn len(&self) -> usize {
        self.revoked.read().expect("revocations poisoned").len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How far back a re-read from the database must look.
    pub fn window(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.hold_secs)
    }

    /// A handle that does not keep the set alive: background tasks hold
    /// one, so they end when the services they serve are dropped.
    pub fn downgrade(&self) -> WeakRevocations {
        WeakRevocations {
            revoked: Arc::downgrade(&self.revoked),
            sweep_at: self.sweep_at.clone(),
            hold_secs: self.hold_secs,
        }
    }

    /// Adds the sessions other instances revoke, as they announce them.
    pub fn follow(&self, events: &EventBus) {
        let mut remote = events.subscribe_remote();
        let weak = self.downgrade();
        tokio::spawn(async move {
            loop {
                match remote.recv().await {
                    Ok(Event::SessionsRevoked { sessions }) => {
                        let Some(revocations) = weak.upgrade() else {
                            break;
                        };
                        revocations.revoke(sessions, Utc::now());
                    }
                    // A missed announcement is caught by the periodic re-read.
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
    }
}

/// See [`Revocations::downgrade`].
#[derive(Clone, Debug)]
pub struct WeakRevocations {
    revoked: Weak<RwLock<HashMap<String, i64>>>,
    sweep_at: Arc<AtomicI64>,
    hold_secs: i64,
}

impl WeakRevocations {
    /// The set, while anything else still holds it.
    pub fn upgrade(&self) -> Option<Revocations> {
        self.revoked.upgrade().map(|revoked| Revocations {
            revoked,
            sweep_at: self.sweep_at.clone(),
            hold_secs: self.hold_secs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revoked_session_is_held_for_the_token_lifetime_only() {
        let revocations = Revocations::new(Duration::from_secs(900));
        revocations.revoke(["a".to_owned()], Utc::now());
        assert!(revocations.is_revoked("a"));
        assert!(!revocations.is_revoked("b"));
        // Revoked long ago: every token of it has expired, nothing to hold;
        // adding it also sweeps the entries that are due.
        let long_ago = Utc::now() - chrono::Duration::hours(1);
        {
            let mut map = revocations.revoked.write().unwrap();
            map.insert("old".into(), long_ago.timestamp());
        }
        // Within the sweep interval the expired entry stays (harmless: its
        // tokens are expired anyway)...
        revocations.revoke(["c"], Utc::now());
        assert_eq!(revocations.len(), 3);
        // ...and goes with the next sweep.
        revocations.sweep_at.store(0, Ordering::Relaxed);
        revocations.revoke(["c"], Utc::now());
        assert!(!revocations.is_revoked("old"));
        assert_eq!(revocations.len(), 2);
    }
}
