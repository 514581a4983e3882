//! Accounts: registration, sign-in, rotating refresh tokens, password change
//! and reset, email verification.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QuerySelect, TransactionTrait,
};
use secrecy::{ExposeSecret, SecretString};

use super::outbox::{self, EmailKind, NewEmail};
use super::Services;
use crate::auth::token;
use crate::entities::{email_tokens, refresh_tokens, users};
use crate::error::{conflict_on_unique, Error, Result};
use crate::events::Event;

pub use users::Model as User;

const VERIFY_EMAIL_TTL: Duration = Duration::hours(48);
const PASSWORD_RESET_TTL: Duration = Duration::hours(1);
const PURPOSE_VERIFY: &str = "verify_email";
const PURPOSE_RESET: &str = "password_reset";

/// The one message for every failed sign-in, so it never tells whether an
/// email is registered.
const BAD_CREDENTIALS: &str = "wrong email or password";

/// A syntactically valid email address, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// # Errors
    /// `BAD_USER_INPUT` on `email`.
    pub fn parse(raw: &str) -> Result<Self> {
        let email = raw.trim().to_lowercase();
        if email.len() > 254 {
            return Err(Error::bad_input(
                "email",
                "an email address has at most 254 characters",
            ));
        }
        // The crate follows RFC 5322; a mail system also needs a dotted domain.
        let valid = email_address::EmailAddress::parse_with_options(
            &email,
            email_address::Options::default()
                .without_display_text()
                .without_domain_literal(),
        )
        .is_ok_and(|addr| addr.domain().contains('.') && !addr.domain().ends_with('.'));
        if valid {
            Ok(Self(email))
        } else {
            Err(Error::bad_input(
                "email",
                format!("{:?} is not an email address", raw.trim()),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password that passed the strength check.
#[derive(Debug)]
pub struct NewPassword(SecretString);

impl NewPassword {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    /// Length between 8 and 128 characters and a zxcvbn score of at least 2
    /// (no dictionary words, keyboard walks or parts of the user's own
    /// email and name).
    ///
    /// # Errors
    /// `BAD_USER_INPUT` on `field`, saying why.
    pub fn parse(raw: &str, field: &'static str, user_inputs: &[&str]) -> Result<Self> {
        let chars = raw.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(Error::bad_input(
                field,
                format!("a password needs at least {} characters", Self::MIN_CHARS),
            ));
        }
        if chars > Self::MAX_CHARS {
            return Err(Error::bad_input(
                field,
                format!("a password has at most {} characters", Self::MAX_CHARS),
            ));
        }
        let estimate = zxcvbn::zxcvbn(raw, user_inputs);
        if (estimate.score() as u8) < 2 {
            let hint = estimate
                .feedback()
                .and_then(|f| f.warning().map(|w| w.to_string()))
                .unwrap_or_else(|| "add more words or characters".to_owned());
            return Err(Error::bad_input(
                field,
                format!("this password is too easy to guess: {hint}"),
            ));
        }
        Ok(Self(SecretString::from(raw.to_owned())))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    ZhCn,
    En,
}

impl Locale {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ZhCn => "zh-CN",
            Self::En => "en",
        }
    }

    /// # Errors
    /// `BAD_USER_INPUT` on `locale`.
    pub fn parse(raw: &str) -> Result<Self> {
        match raw {
            "zh-CN" | "zh" => Ok(Self::ZhCn),
            "en" | "en-US" | "en-GB" => Ok(Self::En),
            other => Err(Error::bad_input(
                "locale",
                format!("{other:?} is not a supported locale (zh-CN, en)"),
            )),
        }
    }
}

fn parse_display_name(raw: &str) -> Result<String> {
    let name = raw.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > 64 {
        return Err(Error::bad_input(
            "displayName",
            "a display name has 1 to 64 characters",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::bad_input(
            "displayName",
            "a display name cannot contain control characters",
        ));
    }
    Ok(name.to_owned())
}

#[derive(Debug)]
pub struct RegisterRequest {
    pub email: String,
    pub password: SecretString,
    pub display_name: String,
    pub locale: Option<String>,
}

/// Tokens handed to a client after sign-in or refresh.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub access_token: String,
    pub access_token_expires_at: DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_token_expires_at: DateTime<Utc>,
}

/// What registering answers, whether the address was free or taken, so the
/// answer never tells which: the address as it will be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub email: String,
}

/// Creates an account and queues its verification email. When the address
/// already has an account, nothing is created and its owner is told by email
/// instead ("someone tried to register with your address"); the caller gets
/// the same answer after the same work (one argon2 hash, one transaction), so
/// registering cannot be used to learn who has an account. Either way the
/// caller signs in with `login` next.
///
/// # Errors
/// `BAD_USER_INPUT` for a malformed email, name or locale or a weak password
/// (checked before the address is looked up).
#[tracing::instrument(skip_all)]
pub async fn register(svc: &Services, req: RegisterRequest) -> Result<Registration> {
    let email = Email::parse(&req.email)?;
    let display_name = parse_display_name(&req.display_name)?;
    let locale = req
        .locale
        .as_deref()
        .map_or(Ok(Locale::ZhCn), Locale::parse)?;
    let password = NewPassword::parse(
        req.password.expose_secret(),
        "password",
        &[email.as_str(), &display_name],
    )?;
    let answer = Registration {
        email: email.as_str().to_owned(),
    };
    // Hashed for a taken address too: the time must not tell them apart.
    let hash = svc.passwords.hash(&password.0).await?;

    let now = svc.now();
    let txn = svc.db.begin().await?;
    if let Some(owner) = find_by_email(&txn, email.as_str()).await? {
        queue_registration_attempt(svc, &txn, &owner, now).await?;
        txn.commit().await?;
        return Ok(answer);
    }
    let user = match insert_user(&txn, &email, hash, display_name, locale, None, now).await {
        Ok(user) => user,
        // Registered a moment ago by a concurrent request: same answer.
        Err(Error::Conflict(_)) => return Ok(answer),
        Err(e) => return Err(e),
    };
    queue_verification(svc, &txn, &user, now).await?;
    txn.commit().await?;
    Ok(answer)
}

/// Tells the owner of an address that someone tried to register with it; at
/// most one such email an hour, so the notice cannot be turned into a flood.
async fn queue_registration_attempt(
    svc: &Services,
    db: &impl ConnectionTrait,
    owner: &User,
    now: DateTime<Utc>,
) -> Result<()> {
    outbox::enqueue(
        db,
        NewEmail {
            kind: EmailKind::RegistrationAttempt,
            event: format!("registration_attempt:{}", now.format("%Y%m%d%H")),
            recipient: owner.email.clone(),
            user_id: Some(owner.id),
            locale: owner.locale.clone(),
            payload: serde_json::json!({
                "display_name": owner.display_name,
                "link": format!("{}/login", svc.settings.public_url),
            }),
        },
        now,
    )
    .await
}

/// The one place a user row is created.
async fn insert_user(
    db: &impl ConnectionTrait,
    email: &Email,
    password_hash: String,
    display_name: String,
    locale: Locale,
    verified_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<User> {
    users::ActiveModel {
        email: Set(email.as_str().to_owned()),
        password_hash: Set(password_hash),
        display_name: Set(display_name),
        locale: Set(locale.as_str().to_owned()),
        email_verified_at: Set(verified_at),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|e| conflict_on_unique(e, || "an account with this email already exists".to_owned()))
}

/// Signs in with email and password.
///
/// # Errors
/// `UNAUTHENTICATED` with the same message for an unknown email and a wrong
/// password.
#[tracing::instrument(skip_all)]
pub async fn login(svc: &Services, email: &str, password: &SecretString) -> Result<Session> {
    let email = email.trim().to_lowercase();
    let user = users::Entity::find()
        .filter(users::Column::Email.eq(&email))
        .one(svc.db.reader())
        .await?;
    let ok = svc
        .passwords
        .verify(password, user.as_ref().map(|u| u.password_hash.as_str()))
        .await?;
    let Some(user) = user.filter(|_| ok) else {
        return Err(Error::Unauthenticated(BAD_CREDENTIALS.to_owned()));
    };
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let session = start_session(svc, &txn, user, now).await?;
    txn.commit().await?;
    Ok(session)
}

async fn start_session(
    svc: &Services,
    db: &impl ConnectionTrait,
    user: User,
    now: DateTime<Utc>,
) -> Result<Session> {
    let family = uuid::Uuid::new_v4().to_string();
    issue_tokens(svc, db, user, family, now).await
}

async fn issue_tokens(
    svc: &Services,
    db: &impl ConnectionTrait,
    user: User,
    family_id: String,
    now: DateTime<Utc>,
) -> Result<Session> {
    let refresh = token::generate();
    let refresh_expires_at = now + svc.settings.refresh_token_ttl;
    refresh_tokens::Entity::insert(refresh_tokens::ActiveModel {
        user_id: Set(user.id),
        family_id: Set(family_id.clone()),
        token_hash: Set(token::digest(&refresh)),
        created_at: Set(now),
        expires_at: Set(refresh_expires_at),
        replaced_at: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    let (access_token, access_token_expires_at) =
        svc.jwt.issue_for_session(user.id, &family_id, now);
    Ok(Session {
        user,
        access_token,
        access_token_expires_at,
        refresh_token: refresh,
        refresh_token_expires_at: refresh_expires_at,
    })
}

/// Trades a refresh token for a new pair. A token already traded in is a
/// sign of theft: its whole family is revoked and the caller must sign in.
///
/// # Errors
/// `UNAUTHENTICATED` for an unknown, expired, revoked or reused token.
#[tracing::instrument(skip_all)]
pub async fn refresh(svc: &Services, refresh_token: &str) -> Result<Session> {
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let Some(stored) = refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::TokenHash.eq(token::digest(refresh_token)))
        .one(&txn)
        .await?
    else {
        return Err(Error::Unauthenticated("invalid refresh token".into()));
    };
    if stored.revoked_at.is_some() {
        return Err(Error::Unauthenticated(
            "this session was signed out; please sign in again".into(),
        ));
    }
    if stored.expires_at <= now {
        return Err(Error::Unauthenticated(
            "the session has expired; please sign in again".into(),
        ));
    }
    // Claim the token: exactly one caller can move it from unused to replaced.
    let claimed = refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::ReplacedAt, Expr::value(now))
        .filter(refresh_tokens::Column::Id.eq(stored.id))
        .filter(refresh_tokens::Column::ReplacedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected
        == 1;
    if !claimed {
        let revoked = revoke_family(&txn, &stored.family_id, now).await?;
        txn.commit().await?;
        announce_revoked(svc, revoked, now).await;
        tracing::warn!(
            user_id = stored.user_id,
            "refresh token reuse; session family revoked"
        );
        return Err(Error::Unauthenticated(
            "this refresh token was already used; all sessions from it are signed out".into(),
        ));
    }
    let user = users::Entity::find_by_id(stored.user_id)
        .one(&txn)
        .await?
        .ok_or_else(|| Error::Unauthenticated("invalid refresh token".into()))?;
    let session = issue_tokens(svc, &txn, user, stored.family_id, now).await?;
    txn.commit().await?;
    Ok(session)
}

/// Revokes one session; returns its id for [`announce_revoked`].
async fn revoke_family(
    db: &impl ConnectionTrait,
    family_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<String>> {
    refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(now))
        .filter(refresh_tokens::Column::FamilyId.eq(family_id))
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(vec![family_id.to_owned()])
}

/// Revokes every session of `user_id`; returns their ids for
/// [`announce_revoked`].
async fn revoke_all_sessions(
    db: &impl ConnectionTrait,
    user_id: i32,
    now: DateTime<Utc>,
) -> Result<Vec<String>> {
    let families: Vec<String> = refresh_tokens::Entity::find()
        .select_only()
        .column(refresh_tokens::Column::FamilyId)
        .distinct()
        .filter(refresh_tokens::Column::UserId.eq(user_id))
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .into_tuple()
        .all(db)
        .await?;
    refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(now))
        .filter(refresh_tokens::Column::UserId.eq(user_id))
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(families)
}

/// Sessions per notification: NOTIFY payloads are limited to 8,000 bytes.
const SESSIONS_PER_EVENT: usize = 100;

/// Makes the access tokens of `sessions` (revoked by a committed
/// transaction) refused at once: here before answering, on the other
/// instances through the event bus.
async fn announce_revoked(svc: &Services, sessions: Vec<String>, now: DateTime<Utc>) {
    if sessions.is_empty() {
        return;
    }
    svc.jwt.revocations().revoke(sessions.iter().cloned(), now);
    for chunk in sessions.chunks(SESSIONS_PER_EVENT) {
        svc.events
            .publish(Event::SessionsRevoked {
                sessions: chunk.to_vec(),
            })
            .await;
    }
}

/// How often each instance re-reads the recent revocations, to catch one
/// whose notification it missed (an instance reconnecting to PostgreSQL).
pub const REVOCATION_SYNC_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);
/// Each re-read looks this far behind the previous one, so a revocation
/// whose transaction committed late is not skipped.
const REVOCATION_SYNC_OVERLAP: Duration = Duration::seconds(60);

/// The sessions revoked after `since`.
///
/// # Errors
/// Database errors only.
pub async fn revoked_since(db: &impl ConnectionTrait, since: DateTime<Utc>) -> Result<Vec<String>> {
    Ok(refresh_tokens::Entity::find()
        .select_only()
        .column(refresh_tokens::Column::FamilyId)
        .distinct()
        .filter(refresh_tokens::Column::RevokedAt.gt(since))
        .into_tuple()
        .all(db)
        .await?)
}

/// Loads the sessions revoked within the last access-token TTL now and then
/// every [`REVOCATION_SYNC_INTERVAL`], into this instance's verifier; ends
/// when the services are dropped.
pub fn spawn_revocation_sync(svc: &Services) {
    let db = svc.db.clone();
    let clock = svc.clock.clone();
    let weak = svc.jwt.revocations().downgrade();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(REVOCATION_SYNC_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut since = None;
        let mut first = true;
        loop {
            tick.tick().await;
            let Some(revocations) = weak.upgrade() else {
                break;
            };
            let started = clock.now();
            let from = since.unwrap_or_else(|| started - revocations.window());
            match revoked_since(db.reader(), from).await {
                Ok(sessions) => {
                    // Nothing new (always, on one SQLite instance): leave the
                    // write lock the verifier reads through alone.
                    if !sessions.is_empty() {
                        revocations.revoke(sessions, started);
                    }
                    since = Some(started - REVOCATION_SYNC_OVERLAP);
                }
                // Before the first migration there is no table yet.
                Err(err) if first => {
                    tracing::debug!(error = ?err, "cannot read revoked sessions yet")
                }
                Err(err) => tracing::warn!(error = ?err, "cannot re-read revoked sessions"),
            }
            first = false;
        }
    });
}

/// Signs out the session the refresh token belongs to: its refresh tokens
/// and its access tokens stop working. Unknown tokens are accepted silently:
/// signing out twice is not an error.
///
/// # Errors
/// Database errors only.
pub async fn logout(svc: &Services, refresh_token: &str) -> Result<()> {
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let stored = refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::TokenHash.eq(token::digest(refresh_token)))
        .one(&txn)
        .await?;
    let revoked = match stored {
        Some(stored) => revoke_family(&txn, &stored.family_id, now).await?,
        None => Vec::new(),
    };
    txn.commit().await?;
    announce_revoked(svc, revoked, now).await;
    Ok(())
}

/// Looks a user up by id.
///
/// # Errors
/// `NOT_FOUND` when there is none.
pub async fn get(db: &impl ConnectionTrait, id: i32) -> Result<User> {
    users::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("user {id}")))
}

/// Looks a user up by email (exact, case-insensitive).
///
/// # Errors
/// Database errors only.
pub async fn find_by_email(db: &impl ConnectionTrait, email: &str) -> Result<Option<User>> {
    Ok(users::Entity::find()
        .filter(users::Column::Email.eq(email.trim().to_lowercase()))
        .one(db)
        .await?)
}

/// Changes the password after checking the current one; every session of
/// the user, this one included, is signed out (its access tokens at once),
/// so whoever knew the old password keeps nothing.
///
/// # Errors
/// `BAD_USER_INPUT` on `currentPassword` when it is wrong or on `newPassword`
/// when it is weak.
pub async fn change_password(
    svc: &Services,
    user_id: i32,
    current: &SecretString,
    new: &SecretString,
) -> Result<()> {
    let user = get(svc.db.reader(), user_id).await?;
    if !svc
        .passwords
        .verify(current, Some(&user.password_hash))
        .await?
    {
        return Err(Error::bad_input(
            "currentPassword",
            "the current password is wrong",
        ));
    }
    let new = NewPassword::parse(
        new.expose_secret(),
        "newPassword",
        &[&user.email, &user.display_name],
    )?;
    let hash = svc.passwords.hash(&new.0).await?;
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let revoked = set_password(&txn, user_id, hash, now).await?;
    txn.commit().await?;
    announce_revoked(svc, revoked, now).await;
    Ok(())
}

/// Stores a new hash; every session of the user and every reset link still
/// outstanding stop working. Returns the revoked sessions for
/// [`announce_revoked`] once committed.
async fn set_password(
    db: &impl ConnectionTrait,
    user_id: i32,
    hash: String,
    now: DateTime<Utc>,
) -> Result<Vec<String>> {
    users::Entity::update_many()
        .col_expr(users::Column::PasswordHash, Expr::value(hash))
        .col_expr(users::Column::UpdatedAt, Expr::value(now))
        .filter(users::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    supersede_tokens(db, user_id, PURPOSE_RESET, now).await?;
    revoke_all_sessions(db, user_id, now).await
}

/// Queues a password-reset email when the address has an account. Answers
/// the same either way and at once: the lookup and the queueing run after
/// the answer, so neither its content nor its timing tells whether the
/// address has an account.
///
/// # Errors
/// `BAD_USER_INPUT` for a malformed address.
pub async fn request_password_reset(svc: &Services, email: &str) -> Result<()> {
    let email = Email::parse(email)?;
    let svc = svc.clone();
    tokio::spawn(async move {
        if let Err(err) = queue_password_reset(&svc, &email).await {
            tracing::warn!(error = ?err, "cannot queue a password reset email");
        }
    });
    Ok(())
}

async fn queue_password_reset(svc: &Services, email: &Email) -> Result<()> {
    let Some(user) = find_by_email(svc.db.reader(), email.as_str()).await? else {
        return Ok(());
    };
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let (token_id, raw) =
        create_email_token(&txn, user.id, PURPOSE_RESET, now + PASSWORD_RESET_TTL, now).await?;
    outbox::enqueue(
        &txn,
        NewEmail {
            kind: EmailKind::PasswordReset,
            event: format!("email_token:{token_id}"),
            recipient: user.email.clone(),
            user_id: Some(user.id),
            locale: user.locale.clone(),
            payload: serde_json::json!({
                "display_name": user.display_name,
                "sealed_link": outbox::seal_link(
                    svc,
                    EmailKind::PasswordReset,
                    &user.email,
                    &format!("{}/reset-password?token={raw}", svc.settings.public_url),
                ),
                "expires_at": (now + PASSWORD_RESET_TTL).to_rfc3339(),
            }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Sets a new password with a token from a reset email; signs out every
/// session.
///
/// # Errors
/// `BAD_USER_INPUT` on `token` when it is unknown, used or expired, or on
/// `newPassword` when it is weak.
pub async fn reset_password(svc: &Services, raw_token: &str, new: &SecretString) -> Result<()> {
    let now = svc.now();
    let stored = find_usable_token(svc.db.reader(), raw_token, PURPOSE_RESET, now).await?;
    let user = get(svc.db.reader(), stored.user_id).await?;
    let new = NewPassword::parse(
        new.expose_secret(),
        "newPassword",
        &[&user.email, &user.display_name],
    )?;
    let hash = svc.passwords.hash(&new.0).await?;
    let txn = svc.db.begin().await?;
    consume_token(&txn, &stored, now).await?;
    let revoked = set_password(&txn, user.id, hash, now).await?;
    txn.commit().await?;
    announce_revoked(svc, revoked, now).await;
    Ok(())
}

/// Marks the email of the token's user as verified.
///
/// # Errors
/// `BAD_USER_INPUT` on `token` when it is unknown, used or expired.
pub async fn verify_email(svc: &Services, raw_token: &str) -> Result<User> {
    let now = svc.now();
    let txn = svc.db.begin().await?;
    let stored = find_usable_token(&txn, raw_token, PURPOSE_VERIFY, now).await?;
    consume_token(&txn, &stored, now).await?;
    users::Entity::update_many()
        .col_expr(users::Column::EmailVerifiedAt, Expr::value(now))
        .col_expr(users::Column::UpdatedAt, Expr::value(now))
        .filter(users::Column::Id.eq(stored.user_id))
        .filter(users::Column::EmailVerifiedAt.is_null())
        .exec(&txn)
        .await?;
    let user = get(&txn, stored.user_id).await?;
    txn.commit().await?;
    Ok(user)
}

/// Sends a fresh verification link.
///
/// # Errors
/// `CONFLICT` when the email is already verified.
pub async fn resend_verification(svc: &Services, user_id: i32) -> Result<()> {
    let user = get(svc.db.reader(), user_id).await?;
    if user.email_verified_at.is_some() {
        return Err(Error::conflict("this email address is already verified"));
    }
    let now = svc.now();
    let txn = svc.db.begin().await?;
    queue_verification(svc, &txn, &user, now).await?;
    txn.commit().await?;
    Ok(())
}

async fn queue_verification(
    svc: &Services,
    db: &impl ConnectionTrait,
    user: &User,
    now: DateTime<Utc>,
) -> Result<()> {
    let (token_id, raw) =
        create_email_token(db, user.id, PURPOSE_VERIFY, now + VERIFY_EMAIL_TTL, now).await?;
    outbox::enqueue(
        db,
        NewEmail {
            kind: EmailKind::VerifyEmail,
            event: format!("email_token:{token_id}"),
            recipient: user.email.clone(),
            user_id: Some(user.id),
            locale: user.locale.clone(),
            payload: serde_json::json!({
                "display_name": user.display_name,
                "sealed_link": outbox::seal_link(
                    svc,
                    EmailKind::VerifyEmail,
                    &user.email,
                    &format!("{}/verify-email?token={raw}", svc.settings.public_url),
                ),
                "expires_at": (now + VERIFY_EMAIL_TTL).to_rfc3339(),
            }),
        },
        now,
    )
    .await
}

/// Issues a single-use token for `purpose`; the user's older ones for the
/// same purpose stop working, so only the newest link in the inbox does.
async fn create_email_token(
    db: &impl ConnectionTrait,
    user_id: i32,
    purpose: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(i32, String)> {
    supersede_tokens(db, user_id, purpose, now).await?;
    let raw = token::generate();
    let row = email_tokens::ActiveModel {
        user_id: Set(user_id),
        purpose: Set(purpose.to_owned()),
        token_hash: Set(token::digest(&raw)),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok((row.id, raw))
}

async fn find_usable_token(
    db: &impl ConnectionTrait,
    raw: &str,
    purpose: &str,
    now: DateTime<Utc>,
) -> Result<email_tokens::Model> {
    email_tokens::Entity::find()
        .filter(email_tokens::Column::TokenHash.eq(token::digest(raw)))
        .filter(email_tokens::Column::Purpose.eq(purpose))
        .one(db)
        .await?
        .filter(|t| t.used_at.is_none() && t.expires_at > now)
        .ok_or_else(|| Error::bad_input("token", "this link is invalid, already used or expired"))
}

/// Ends every unused token of `user_id` for `purpose` (marked used: a
/// used link and a superseded one get the same answer).
async fn supersede_tokens(
    db: &impl ConnectionTrait,
    user_id: i32,
    purpose: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    email_tokens::Entity::update_many()
        .col_expr(email_tokens::Column::UsedAt, Expr::value(now))
        .filter(email_tokens::Column::UserId.eq(user_id))
        .filter(email_tokens::Column::Purpose.eq(purpose))
        .filter(email_tokens::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Marks a single-use token used, and with it every other link of its user
/// for the same purpose; a concurrent second use loses.
async fn consume_token(
    db: &impl ConnectionTrait,
    stored: &email_tokens::Model,
    now: DateTime<Utc>,
) -> Result<()> {
    let consumed = email_tokens::Entity::update_many()
        .col_expr(email_tokens::Column::UsedAt, Expr::value(now))
        .filter(email_tokens::Column::Id.eq(stored.id))
        .filter(email_tokens::Column::UsedAt.is_null())
        .exec(db)
        .await?
        .rows_affected;
    if consumed == 1 {
        supersede_tokens(db, stored.user_id, &stored.purpose, now).await
    } else {
        Err(Error::bad_input(
            "token",
            "this link is invalid, already used or expired",
        ))
    }
}

/// Creates an account without the interactive checks, for `create-admin` and
/// the demo data. The password is still hashed and must still be strong.
///
/// # Errors
/// As [`register`], without the session.
pub async fn create_verified_user(
    svc: &Services,
    db: &impl TransactionTrait,
    email: &str,
    password: &SecretString,
    display_name: &str,
) -> Result<User> {
    let email = Email::parse(email)?;
    let display_name = parse_display_name(display_name)?;
    let password = NewPassword::parse(password.expose_secret(), "password", &[email.as_str()])?;
    let hash = svc.passwords.hash(&password.0).await?;
    let now = svc.now();
    let txn = db.begin().await?;
    let user = insert_user(
        &txn,
        &email,
        hash,
        display_name,
        Locale::ZhCn,
        Some(now),
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(user)
}

/// Changes the language of the user's emails and pages.
///
/// # Errors
/// `BAD_USER_INPUT` on `locale`.
pub async fn set_locale(svc: &Services, user_id: i32, locale: &str) -> Result<User> {
    use sea_orm::{ActiveModelTrait, IntoActiveModel};

    let locale = Locale::parse(locale)?;
    let user = get(svc.db.reader(), user_id).await?;
    let mut active = user.into_active_model();
    active.locale = sea_orm::ActiveValue::Set(locale.as_str().to_owned());
    active.updated_at = sea_orm::ActiveValue::Set(svc.now());
    Ok(active.update(svc.db.writer()).await?)
}

/// The users with these ids (those that exist), for batched lookups.
///
/// # Errors
/// Database errors only.
pub async fn find_many(db: &impl ConnectionTrait, ids: &[i32]) -> Result<Vec<User>> {
    let mut found = Vec::with_capacity(ids.len());
    // Bounded statements: each id is one bound parameter.
    for chunk in ids.chunks(1_000) {
        found.extend(
            users::Entity::find()
                .filter(users::Column::Id.is_in(chunk.iter().copied()))
                .all(db)
                .await?,
        );
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_and_lower_cased() {
        assert_eq!(
            Email::parse(" Li.Wei@Example.CN ").unwrap().as_str(),
            "li.wei@example.cn"
        );
        for bad in [
            "",
            "li",
            "li@",
            "@x.cn",
            "li@localhost",
            "a b@x.cn",
            "li@@x.cn",
            "李 <li@x.cn>",
        ] {
            assert!(
                matches!(
                    Email::parse(bad),
                    Err(Error::BadInput {
                        field: Some("email"),
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn weak_passwords_are_refused() {
        for weak in [
            "short",
            "password",
            "12345678",
            "qwertyuiop",
            "li.wei@example.cn",
        ] {
            assert!(
                NewPassword::parse(weak, "password", &["li.wei@example.cn"]).is_err(),
                "{weak}"
            );
        }
        assert!(NewPassword::parse("村口老槐树下议事2026", "password", &[]).is_ok());
    }

    #[test]
    fn locales_are_zh_cn_or_en() {
        assert_eq!(Locale::parse("zh-CN").unwrap(), Locale::ZhCn);
        assert_eq!(Locale::parse("en").unwrap(), Locale::En);
        assert!(Locale::parse("fr").is_err());
    }
}
