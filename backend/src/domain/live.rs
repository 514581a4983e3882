//! How long a live view (a subscription) may keep pushing.
//!
//! A subscription is authorised once, when it starts, but may run for
//! hours. It may go on pushing only while what let it start still holds:
//! the access token it was opened with has not expired nor been revoked (a
//! sign-out, a password change or reset ends its session), and its user still
//! holds every role they held when it started (a revoked organiser must not
//! keep watching exact counts). When either stops holding, the subscription
//! ends; the client subscribes again with what it has now.

use chrono::{DateTime, Utc};

use super::authz::Actor;
use super::Services;
use crate::error::{Error, Result};

/// The viewer a subscription started for: `None` for an anonymous one.
#[derive(Debug, Clone)]
pub struct Grant {
    viewer: Option<Actor>,
    /// The session the access token belongs to.
    session: Option<String>,
    expires_at: Option<DateTime<Utc>>,
}

impl Grant {
    /// Records what the subscription starts with: the user (and their roles
    /// now) and when their access token expires.
    ///
    /// # Errors
    /// Database errors loading the roles.
    pub async fn start(
        svc: &Services,
        user_id: Option<i32>,
        session: Option<String>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Self> {
        let viewer = match user_id {
            Some(id) => Some(Actor::load(svc.db.reader(), id).await?),
            None => None,
        };
        Ok(Self {
            viewer,
            session,
            expires_at,
        })
    }

    /// When the token the subscription was opened with stops being valid.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.expires_at
    }

    /// Whether the subscription may push at `now`.
    ///
    /// # Errors
    /// `UNAUTHENTICATED` once the token has expired or its session was
    /// revoked, `FORBIDDEN` once a role
    /// held at the start has been revoked, or a database error.
    pub async fn check(&self, svc: &Services, now: DateTime<Utc>) -> Result<()> {
        if self.expires_at.is_some_and(|at| now >= at) {
            return Err(Error::Unauthenticated(
                "the access token has expired; refresh it and subscribe again".into(),
            ));
        }
        if self
            .session
            .as_deref()
            .is_some_and(|sid| svc.jwt.revocations().is_revoked(sid))
        {
            return Err(Error::Unauthenticated(
                "this session has ended (signed out or password changed); sign in and subscribe again"
                    .into(),
            ));
        }
        let Some(started_as) = &self.viewer else {
            return Ok(());
        };
        // Without a role at the start there is none to lose: no query per
        // push for residents.
        if started_as.assignments.is_empty() {
            return Ok(());
        }
        let current = Actor::load(svc.db.reader(), started_as.user_id).await?;
        if still_holds(started_as, &current) {
            Ok(())
        } else {
            Err(Error::forbidden(
                "a role this subscription relied on was revoked; subscribe again",
            ))
        }
    }
}

/// Whether `current` holds every role `started_as` held.
fn still_holds(started_as: &Actor, current: &Actor) -> bool {
    started_as
        .assignments
        .iter()
        .all(|a| current.assignments.contains(a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::authz::{Assignment, Role};

    fn actor(roles: &[(Role, &str)]) -> Actor {
        Actor {
            user_id: 1,
            assignments: roles
                .iter()
                .map(|(role, code)| Assignment {
                    role: *role,
                    division_code: (*code).to_owned(),
                })
                .collect(),
        }
    }

    #[test]
    fn losing_any_role_held_at_the_start_ends_the_grant() {
        let start = actor(&[(Role::Organiser, "620123"), (Role::Expert, "62")]);
        assert!(still_holds(&start, &start));
        let more = actor(&[
            (Role::Organiser, "620123"),
            (Role::Expert, "62"),
            (Role::Admin, "62"),
        ]);
        assert!(still_holds(&start, &more), "gaining a role changes nothing");
        assert!(!still_holds(&start, &actor(&[(Role::Expert, "62")])));
        assert!(
            !still_holds(
                &start,
                &actor(&[(Role::Organiser, "620123101"), (Role::Expert, "62")])
            ),
            "the same role over a smaller division is a loss"
        );
    }
}
