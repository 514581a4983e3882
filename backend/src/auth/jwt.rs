//! Short-lived access tokens: HS256 only, issuer and expiry required.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

const ISSUER: &str = "yishi";
/// Pinned: a token naming any other algorithm (including `none`) is refused.
const ALGORITHM: Algorithm = Algorithm::HS256;

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
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
}

impl JwtKeys {
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(ALGORITHM);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Signs an access token for `user_id`, valid from `now` for the TTL.
    ///
    /// # Panics
    /// Never in practice: HMAC signing of a serialisable struct cannot fail.
    pub fn issue(&self, user_id: i32, now: DateTime<Utc>) -> (String, DateTime<Utc>) {
        let expires_at = now + self.ttl;
        let claims = AccessClaims {
            sub: user_id.to_string(),
            iss: ISSUER.to_owned(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let token = encode(&Header::new(ALGORITHM), &claims, &self.encoding)
            .expect("HS256 signing cannot fail");
        (token, expires_at)
    }

    /// Checks signature, algorithm, issuer and expiry.
    ///
    /// # Errors
    /// [`TokenRejection::Expired`] or [`TokenRejection::Invalid`].
    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenRejection> {
        decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenRejection::Expired,
                _ => TokenRejection::Invalid,
            })
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
            r#"{{"sub":"1","iss":"yishi","iat":0,"exp":{exp},"jti":"x"}}"#
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
