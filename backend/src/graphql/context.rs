//! Who is asking: the bearer token of the request, checked once, and the
//! roles of its user, loaded at most once per request and only when needed.

use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::Context;
use tokio::sync::OnceCell;

use crate::auth::jwt::{AccessClaims, JwtKeys, TokenRejection};
use crate::domain::authz::Actor;
use crate::domain::Services;
use crate::error::{Error, Result};

#[derive(Debug)]
enum Credentials {
    Anonymous,
    Valid(AccessClaims),
    Rejected(TokenRejection),
}

#[derive(Debug)]
pub struct RequestAuth {
    credentials: Credentials,
    actor: OnceCell<Actor>,
    /// Whether an argon2 operation already ran for this request (see
    /// [`claim_password_work`]).
    password_work: AtomicBool,
}

impl RequestAuth {
    /// From an `Authorization` header value, if any.
    pub fn from_header(header: Option<&str>, jwt: &JwtKeys) -> Self {
        let credentials = match header {
            None => Credentials::Anonymous,
            Some(value) => match value.strip_prefix("Bearer ").map(str::trim) {
                Some(token) if !token.is_empty() => match jwt.verify(token) {
                    Ok(claims) => Credentials::Valid(claims),
                    Err(rejection) => Credentials::Rejected(rejection),
                },
                _ => Credentials::Rejected(TokenRejection::Invalid),
            },
        };
        Self {
            credentials,
            actor: OnceCell::new(),
            password_work: AtomicBool::new(false),
        }
    }

    /// The claims of a valid access token, if one was sent.
    pub fn claims(&self) -> Option<&AccessClaims> {
        match &self.credentials {
            Credentials::Valid(claims) => Some(claims),
            _ => None,
        }
    }

    pub fn anonymous() -> Self {
        Self {
            credentials: Credentials::Anonymous,
            actor: OnceCell::new(),
            password_work: AtomicBool::new(false),
        }
    }

    /// The signed-in user's id.
    ///
    /// # Errors
    /// `UNAUTHENTICATED` saying whether to sign in or to refresh.
    pub fn user_id(&self) -> Result<i32> {
        match &self.credentials {
            Credentials::Valid(claims) => claims
                .user_id()
                .ok_or_else(|| Error::Unauthenticated("invalid access token".into())),
            Credentials::Anonymous => Err(Error::Unauthenticated("please sign in".into())),
            Credentials::Rejected(TokenRejection::Expired) => Err(Error::Unauthenticated(
                "the access token has expired; refresh it".into(),
            )),
            Credentials::Rejected(TokenRejection::Revoked) => Err(Error::Unauthenticated(
                "this session was signed out; please sign in again".into(),
            )),
            Credentials::Rejected(TokenRejection::Invalid) => {
                Err(Error::Unauthenticated("invalid access token".into()))
            }
        }
    }

    /// Whether the request carries no credentials at all.
    pub fn is_anonymous(&self) -> bool {
        matches!(self.credentials, Credentials::Anonymous)
    }
}

/// The services, from the schema data.
pub fn services<'a>(ctx: &Context<'a>) -> &'a Services {
    ctx.data_unchecked::<Services>()
}

fn auth<'a>(ctx: &Context<'a>) -> &'a RequestAuth {
    ctx.data_opt::<RequestAuth>()
        .unwrap_or_else(|| panic!("RequestAuth is added to every request by the HTTP layer"))
}

/// The signed-in user's id.
///
/// # Errors
/// `UNAUTHENTICATED`.
pub fn user_id(ctx: &Context<'_>) -> Result<i32> {
    auth(ctx).user_id()
}

/// The signed-in user with their roles.
///
/// # Errors
/// `UNAUTHENTICATED`, or a database error loading roles.
pub async fn actor<'a>(ctx: &Context<'a>) -> Result<&'a Actor> {
    let auth = auth(ctx);
    let user_id = auth.user_id()?;
    auth.actor
        .get_or_try_init(|| Actor::load(services(ctx).db.reader(), user_id))
        .await
}

/// `None` for an anonymous request, the user id for a valid token.
///
/// # Errors
/// `UNAUTHENTICATED` when a token was sent but is not valid.
pub fn optional_user_id(ctx: &Context<'_>) -> Result<Option<i32>> {
    let auth = auth(ctx);
    if auth.is_anonymous() {
        Ok(None)
    } else {
        auth.user_id().map(Some)
    }
}

/// The actor for a request with a valid token, `None` when anonymous.
///
/// # Errors
/// `UNAUTHENTICATED` when a token was sent but is not valid.
pub async fn optional_actor<'a>(ctx: &Context<'a>) -> Result<Option<&'a Actor>> {
    if auth(ctx).is_anonymous() {
        Ok(None)
    } else {
        actor(ctx).await.map(Some)
    }
}

/// Claims the one password operation (argon2: sign-in, registration,
/// password change or reset) a request may run. Rate limits count requests;
/// without this, ten aliased `login` fields in one request would cost ten
/// hashes for one count. (Over WebSocket the budget is the connection's.)
///
/// # Errors
/// `RATE_LIMITED` for every password operation after the first.
pub fn claim_password_work(ctx: &Context<'_>) -> Result<()> {
    if auth(ctx).password_work.swap(true, Ordering::AcqRel) {
        Err(Error::RateLimited {
            retry_after_secs: 1,
        })
    } else {
        Ok(())
    }
}

/// Counts one rate-limited `action` by this request's client address and
/// `account` (a normalised email, or a user id).
///
/// # Errors
/// `RATE_LIMITED` with `retryAfter` when a quota is spent.
pub fn rate_limit(
    ctx: &Context<'_>,
    action: crate::rate_limit::Action,
    account: Option<&str>,
) -> Result<()> {
    let ip = ctx
        .data_opt::<crate::rate_limit::ClientIp>()
        .and_then(|c| c.0);
    services(ctx).limits.check(action, ip, account)
}

/// The counters a request's answer was computed from, as `(topic, version)`:
/// the HTTP layer may keep the whole answer while they stay unchanged (see
/// `http::response_cache`).
#[derive(Debug, Default)]
pub struct CountersRead(std::sync::Mutex<Vec<(i64, u64)>>);

impl CountersRead {
    /// Notes that the answer depends on `topic_id`'s counters at `version`.
    pub fn record(ctx: &Context<'_>, topic_id: i64, version: u64) {
        if let Some(read) = ctx.data_opt::<std::sync::Arc<CountersRead>>() {
            read.0
                .lock()
                .expect("counters read poisoned")
                .push((topic_id, version));
        }
    }

    #[must_use]
    pub fn take(&self) -> Vec<(i64, u64)> {
        std::mem::take(&mut self.0.lock().expect("counters read poisoned"))
    }
}
