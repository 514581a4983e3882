//! Argon2id password hashing on a bounded blocking pool.
//!
//! Hashing is deliberately slow and memory-hungry (OWASP: 19 MiB, t=2, p=1),
//! so it runs on `spawn_blocking` behind a semaphore sized to the machine:
//! a storm of logins queues here instead of starving the async runtime.

use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use crate::error::{Error, Result};

/// How long a hash may wait for a worker before the request is answered
/// `RATE_LIMITED`: short enough that, with the wait for the answer to be
/// written out on a busy server, the refusal arrives within 2 s.
pub const QUEUE_TIMEOUT: Duration = Duration::from_millis(1500);
/// The `retry-after` told to a refused request.
const RETRY_AFTER_SECS: u64 = 2;

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// Verified against when the account does not exist, so an unknown email
    /// costs the same time as a wrong password.
    dummy_hash: Arc<String>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish()
    }
}

impl PasswordHasher {
    /// OWASP's argon2id recommendation with `memory_kib` of memory, t=2, p=1.
    ///
    /// # Panics
    /// When `memory_kib` is below argon2's minimum (8 KiB); configuration
    /// validates it first.
    pub fn new(memory_kib: u32) -> Self {
        let params = Params::new(memory_kib, 2, 1, None).expect("valid argon2 parameters");
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let dummy = argon2(&params)
            .hash_password(
                b"yishi-dummy-password",
                &SaltString::generate(&mut rand::rngs::OsRng),
            )
            .expect("hashing a constant succeeds")
            .to_string();
        Self {
            params,
            permits: Arc::new(Semaphore::new(workers)),
            dummy_hash: Arc::new(dummy),
        }
    }

    /// Hashes a new password into a PHC string.
    ///
    /// # Errors
    /// Internal, when the blocking pool fails.
    pub async fn hash(&self, password: &SecretString) -> Result<String> {
        let params = self.params.clone();
        let password = password.clone();
        self.run(move || {
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            argon2(&params)
                .hash_password(password.expose_secret().as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| Error::internal(anyhow::anyhow!("argon2: {e}")))
        })
        .await
    }

    /// Checks `password` against `hash`, or against a dummy hash when there is
    /// no account, so both failures take the same time.
    ///
    /// # Errors
    /// Internal, when the blocking pool fails.
    pub async fn verify(&self, password: &SecretString, hash: Option<&str>) -> Result<bool> {
        let exists = hash.is_some();
        let hash = hash.map_or_else(|| self.dummy_hash.as_str().to_owned(), str::to_owned);
        let password = password.clone();
        let matches = self
            .run(move || {
                let parsed = PasswordHash::new(&hash)
                    .map_err(|e| Error::internal(anyhow::anyhow!("stored hash unreadable: {e}")))?;
                // Parameters come from the stored hash, so raising the cost
                // later does not lock out existing accounts.
                Ok(Argon2::default()
                    .verify_password(password.expose_secret().as_bytes(), &parsed)
                    .is_ok())
            })
            .await?;
        Ok(exists && matches)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        // A storm beyond what the pool can start within QUEUE_TIMEOUT is told
        // to come back later rather than queueing without end.
        let _permit = tokio::time::timeout(QUEUE_TIMEOUT, self.permits.acquire())
            .await
            .map_err(|_| Error::RateLimited {
                retry_after_secs: RETRY_AFTER_SECS,
            })?
            .map_err(|e| Error::internal(anyhow::anyhow!(e)))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| Error::internal(anyhow::anyhow!(e)))?
    }
}

fn argon2(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hasher = PasswordHasher::new(19 * 1024);
        let hash = hasher
            .hash(&SecretString::from("correct horse battery"))
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(hasher
            .verify(&SecretString::from("correct horse battery"), Some(&hash))
            .await
            .unwrap());
        assert!(!hasher
            .verify(&SecretString::from("wrong horse battery"), Some(&hash))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn a_hash_that_cannot_start_within_the_queue_timeout_is_rate_limited() {
        let hasher = PasswordHasher::new(64);
        // Hold every worker, as a login storm would.
        let held = hasher
            .permits
            .clone()
            .acquire_many_owned(u32::try_from(hasher.permits.available_permits()).unwrap())
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let result = hasher
            .hash(&SecretString::from("correct horse battery"))
            .await;
        assert!(
            matches!(
                result,
                Err(Error::RateLimited {
                    retry_after_secs: 2
                })
            ),
            "{result:?}"
        );
        assert!(started.elapsed() >= QUEUE_TIMEOUT);
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(held);
        hasher
            .hash(&SecretString::from("correct horse battery"))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies() {
        let hasher = PasswordHasher::new(64);
        assert!(!hasher
            .verify(&SecretString::from("yishi-dummy-password"), None)
            .await
            .unwrap());
    }
}
