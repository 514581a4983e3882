//! Sealing secrets that must wait in the database for a while but must not be
//! readable there: the reset and verification links of queued emails.
//!
//! Only a token's SHA-256 is stored to check it (see [`super::token`]); the
//! email carrying the raw token waits in the outbox until a worker delivers
//! it. A backup of the outbox must not be a way into accounts, so the link is
//! sealed with XChaCha20-Poly1305 under a key derived (HKDF-SHA256) from the
//! server secret, which lives outside the database, and opened only when the
//! email is rendered for delivery; once delivered, the sealed link is dropped
//! from the row as well (`domain::outbox::finish`). The associated data binds
//! a sealed value to its email's kind and recipient, so it cannot be moved
//! into another row and delivered elsewhere.

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;

/// Names the key's use, so the same server secret never yields this key for
/// anything else (the JWT signing key is the secret itself, under HMAC).
const KEY_INFO: &[u8] = b"yishi outbox seal v1";
/// Marks the format, so a later one can be told apart.
const PREFIX: &str = "v1.";

/// Seals and opens short secrets; cheap to clone.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").finish_non_exhaustive()
    }
}

impl Sealer {
    /// The sealer of the server whose secret is `secret`.
    ///
    /// # Panics
    /// Never: HKDF-SHA256 can expand 32 bytes from any input.
    pub fn new(secret: &[u8]) -> Self {
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(None, secret)
            .expand(KEY_INFO, &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self {
            cipher: XChaCha20Poly1305::new(&key.into()),
        }
    }

    /// `plaintext` sealed for `context` (what it belongs to), as URL-safe
    /// text under a fresh random nonce.
    ///
    /// # Panics
    /// Never in practice: encryption fails only for inputs of gigabytes.
    pub fn seal(&self, plaintext: &str, context: &str) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("sealing a short text cannot fail");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        )
    }

    /// The plaintext of a value from [`Sealer::seal`] for the same
    /// `context`; `None` when it was sealed by another secret, for another
    /// context, or altered.
    pub fn open(&self, sealed: &str, context: &str) -> Option<String> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sealed.strip_prefix(PREFIX)?)
            .ok()?;
        if bytes.len() < 24 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::Sealer;

    #[test]
    fn a_sealed_value_opens_only_with_the_same_secret_and_context() {
        let sealer = Sealer::new(b"server-secret-server-secret-0123");
        let link = "https://yishi.example/reset-password?token=abc";
        let sealed = sealer.seal(link, "password_reset:a@x.cn");
        assert!(!sealed.contains("abc"), "{sealed}");
        assert_ne!(sealed, sealer.seal(link, "password_reset:a@x.cn"));
        assert_eq!(
            sealer.open(&sealed, "password_reset:a@x.cn").as_deref(),
            Some(link)
        );
        assert_eq!(sealer.open(&sealed, "password_reset:b@x.cn"), None);
        let other = Sealer::new(b"another-secret-another-secret-01");
        assert_eq!(other.open(&sealed, "password_reset:a@x.cn"), None);
        let mut altered = sealed.clone();
        altered.pop();
        assert_eq!(sealer.open(&altered, "password_reset:a@x.cn"), None);
        assert_eq!(sealer.open("v1.", "password_reset:a@x.cn"), None);
    }
}
