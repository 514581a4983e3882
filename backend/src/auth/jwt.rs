//! Short-lived access tokens: HS256 only, issuer and expiry required, and
//! refused once their session is revoked (see [`super::revocation`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::revocation::{Revocations, LEEWAY_SECS};
use super::seal::Sealer;

const ISSUER: &str = "yishi";
/// Pinned: a token naming any other algorithm (including `none`) is refused.
const ALGORITHM: Algorithm = Algorithm::HS256;

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
    revoked: Revocations,
    sealer: Sealer,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// The user id.
    pub sub: String,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The session (refresh-token family) the token was issued to: revoking
    /// it revokes the token. Required: a token without one is refused.
    pub sid: String,
}

impl AccessClaims {
    pub fn user_id(&self) -> Option<i32> {
        self.sub.parse().ok()
    }
}

/// Why an access token was refused (shown to the client: it decides whether
/// to refresh or to sign in again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRejection {
    Expired,
    Invalid,
    /// Its session was signed out (logout, password change or reset).
    Revoked,
}

impl JwtKeys {
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(ALGORITHM);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = LEEWAY_SECS.unsigned_abs();
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
            revoked: Revocations::new(ttl),
            sealer: Sealer::new(secret),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Seals secrets kept for a while in the database (email links) under a
    /// key derived from the same server secret.
    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// The revoked sessions this verifier refuses (shared by every clone).
    pub fn revocations(&self) -> &Revocations {
        &self.revoked
    }

    /// Signs an access token for `user_id` in a session of its own (tools
    /// and tests: no refresh token stands behind it), valid from `now` for
    /// the TTL.
    pub fn issue(&self, user_id: i32, now: DateTime<Utc>) -> (String, DateTime<Utc>) {
        self.issue_for_session(user_id, &uuid::Uuid::new_v4().to_string(), now)
    }

    /// Signs an access token for `user_id` in `session` (the refresh-token
    /// family), valid from `now` for the TTL.
    ///
    /// # Panics
    /// Never in practice: HMAC signing of a serialisable struct cannot fail.
    pub fn issue_for_session(
        &self,
        user_id: i32,
        session: &str,
        now: DateTime<Utc>,
    ) -> (String, DateTime<Utc>) {
        let expires_at = now + self.ttl;
        let claims = AccessClaims {
            sub: user_id.to_string(),
            iss: ISSUER.to_owned(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
            sid: session.to_owned(),
        };
        let token = encode(&Header::new(ALGORITHM), &claims, &self.encoding)
            .expect("HS256 signing cannot fail");
        (token, expires_at)
    }

    /// Checks signature, algorithm, issuer, expiry, and that the session
    /// was not revoked.
    ///
    /// # Errors
    /// [`TokenRejection::Expired`], [`TokenRejection::Revoked`] or
    /// [`TokenRejection::Invalid`].
    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenRejection> {
        let claims = decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenRejection::Expired,
                _ => TokenRejection::Invalid,
            })?;
        if self.revoked.is_revoked(&claims.sid) {
            return Err(TokenRejection::Revoked);
        }
        Ok(claims)
    }

    /// Signs a link token that does not expire (one-click unsubscribe): its
    /// audience names `purpose`, so it never passes for an access token
    /// (which has no audience and must expire) nor for another purpose.
    ///
    /// # Panics
    /// Never in practice: HMAC signing of a serialisable struct cannot fail.
    pub fn sign_link(&self, purpose: &str, subject: &str) -> String {
        let claims = LinkClaims {
            sub: subject.to_owned(),
            iss: ISSUER.to_owned(),
            aud: purpose.to_owned(),
        };
        encode(&Header::new(ALGORITHM), &claims, &self.encoding).expect("HS256 signing cannot fail")
    }

    /// The subject of a token from [`JwtKeys::sign_link`] for `purpose`, if
    /// the signature holds.
    pub fn verify_link(&self, purpose: &str, token: &str) -> Option<String> {
        let mut validation = Validation::new(ALGORITHM);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[purpose]);
        validation.set_required_spec_claims(&["iss", "sub", "aud"]);
        validation.validate_exp = false;
        decode::<LinkClaims>(token, &self.decoding, &validation)
            .ok()
            .map(|data| data.claims.sub)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct LinkClaims {
    sub: String,
    iss: String,
    aud: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn keys() -> JwtKeys {
        JwtKeys::new(
            b"0123456789abcdef0123456789abcdef",
            Duration::from_secs(900),
        )
    }

    #[test]
    fn a_link_token_verifies_for_its_purpose_only_and_is_no_access_token() {
        let keys = keys();
        let token = keys.sign_link("unsubscribe", "7:topic_announced");
        assert_eq!(
            keys.verify_link("unsubscribe", &token).as_deref(),
            Some("7:topic_announced")
        );
        assert!(keys.verify_link("other", &token).is_none());
        assert!(keys.verify(&token).is_err());
        let (access, _) = keys.issue(7, Utc::now());
        assert!(keys.verify_link("unsubscribe", &access).is_none());
        let mut forged = token.clone();
        forged.pop();
        assert!(keys.verify_link("unsubscribe", &forged).is_none());
    }

    #[test]
    fn a_token_of_a_revoked_session_is_refused_and_other_sessions_are_not() {
        let keys = keys();
        let (token, _) = keys.issue_for_session(7, "family-a", Utc::now());
        let (other, _) = keys.issue_for_session(7, "family-b", Utc::now());
        assert!(keys.verify(&token).is_ok());
        keys.clone().revocations().revoke(["family-a"], Utc::now());
        assert_eq!(keys.verify(&token), Err(TokenRejection::Revoked));
        assert!(keys.verify(&other).is_ok());
    }

    #[test]
    fn a_token_without_a_session_is_refused() {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let exp = Utc::now().timestamp() + 600;
        let claims =
            serde_json::json!({"sub": "1", "iss": "yishi", "iat": 0, "exp": exp, "jti": "x"});
        let token = encode(
            &Header::new(ALGORITHM),
            &claims,
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap();
        assert!(b64.decode(token.split('.').nth(1).unwrap()).is_ok());
        assert_eq!(keys().verify(&token), Err(TokenRejection::Invalid));
    }

    #[test]
    fn a_fresh_token_verifies() {
        let (token, _) = keys().issue(42, Utc::now());
        assert_eq!(keys().verify(&token).unwrap().user_id(), Some(42));
    }

    #[test]
    fn an_expired_token_is_refused_as_expired() {
        let (token, _) = keys().issue(42, Utc::now() - chrono::Duration::hours(1));
        assert_eq!(keys().verify(&token), Err(TokenRejection::Expired));
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let other = JwtKeys::new(
            b"another-secret-another-secret-xx",
            Duration::from_secs(900),
        );
        let (token, _) = other.issue(42, Utc::now());
        assert_eq!(keys().verify(&token), Err(TokenRejection::Invalid));
    }

    #[test]
    fn alg_none_is_refused() {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let exp = Utc::now().timestamp() + 600;
        let claims = b64.encode(format!(
            r#"{{"sub":"1","iss":"yishi","iat":0,"exp":{exp},"jti":"x","sid":"s"}}"#
        ));
        assert_eq!(
            keys().verify(&format!("{header}.{claims}.")),
            Err(TokenRejection::Invalid)
        );
    }

    #[test]
    fn another_algorithm_is_refused_even_with_the_right_key() {
        let exp = Utc::now().timestamp() + 600;
        let claims = AccessClaims {
            sub: "1".into(),
            iss: ISSUER.into(),
            iat: 0,
            exp,
            jti: "x".into(),
            sid: "s".into(),
        };
        let token = encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap();
        assert_eq!(keys().verify(&token), Err(TokenRejection::Invalid));
    }
}
