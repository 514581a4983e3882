//! Rate limits: the one place that says how often a client IP or an account
//! may log in, register, ask for or complete a password reset, change a
//! password, or submit an opinion. Every action that runs argon2 is here, so
//! no door lets a client spend the server's CPU on password hashing at will.
//!
//! Each action has two keyed GCRA limiters (governor): one per client IP and
//! one per account (the normalised email for the anonymous actions, the user
//! id for opinions). Quotas are per minute with a burst of the same size, so
//! a quota of 10 allows 10 at once and then one every 6 s. Excess is
//! [`Error::RateLimited`] with the seconds until the next attempt can pass.
//!
//! The client IP is the socket peer; `X-Forwarded-For` is honoured only when
//! the peer is one of the `YISHI_TRUSTED_PROXY` addresses (see [`client_ip`]).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::{Error, Result};

/// The client address of a request, as the HTTP layer determined it
/// (`None` when served without peer information, e.g. in-process tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientIp(pub Option<IpAddr>);

/// The limited actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Login,
    Register,
    /// Asking for a reset link, and setting a password with one.
    PasswordReset,
    SubmitOpinion,
    /// `changePassword`, per client address and per user.
    PasswordChange,
}

impl Action {
    pub const ALL: [Self; 5] = [
        Self::Login,
        Self::Register,
        Self::PasswordReset,
        Self::SubmitOpinion,
        Self::PasswordChange,
    ];

    /// The variables that set its (per IP, per account) quotas.
    pub fn config_vars(self) -> (&'static str, &'static str) {
        match self {
            Self::Login => (
                "YISHI_RATE_LIMIT_LOGIN_PER_IP",
                "YISHI_RATE_LIMIT_LOGIN_PER_ACCOUNT",
            ),
            Self::Register => (
                "YISHI_RATE_LIMIT_REGISTER_PER_IP",
                "YISHI_RATE_LIMIT_REGISTER_PER_ACCOUNT",
            ),
            Self::PasswordReset => (
                "YISHI_RATE_LIMIT_PASSWORD_RESET_PER_IP",
                "YISHI_RATE_LIMIT_PASSWORD_RESET_PER_ACCOUNT",
            ),
            Self::SubmitOpinion => (
                "YISHI_RATE_LIMIT_OPINION_PER_IP",
                "YISHI_RATE_LIMIT_OPINION_PER_ACCOUNT",
            ),
            Self::PasswordChange => (
                "YISHI_RATE_LIMIT_PASSWORD_CHANGE_PER_IP",
                "YISHI_RATE_LIMIT_PASSWORD_CHANGE_PER_ACCOUNT",
            ),
        }
    }

    /// Default (per IP, per account) quotas per minute. Per-IP quotas are
    /// generous because a village often shares one carrier-NAT address.
    pub fn default_per_minute(self) -> (u32, u32) {
        match self {
            Self::Login => (120, 10),
            Self::Register => (60, 5),
            Self::PasswordReset => (30, 3),
            Self::SubmitOpinion => (1_200, 30),
            Self::PasswordChange => (30, 5),
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Quotas per minute for one action; `0` turns that limiter off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionQuota {
    pub per_ip: u32,
    pub per_account: u32,
}

/// All quotas, as read from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitSettings {
    pub quotas: [ActionQuota; 5],
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            quotas: Action::ALL.map(|a| {
                let (per_ip, per_account) = a.default_per_minute();
                ActionQuota {
                    per_ip,
                    per_account,
                }
            }),
            trusted_proxies: Vec::new(),
        }
    }
}

impl RateLimitSettings {
    pub fn quota(&self, action: Action) -> ActionQuota {
        self.quotas[action.index()]
    }
}

struct ActionLimiters {
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_account: Option<DefaultKeyedRateLimiter<String>>,
}

/// The limiters of a running instance; cheap to clone.
#[derive(Clone)]
pub struct RateLimits {
    actions: Arc<[ActionLimiters; 5]>,
    trusted_proxies: Arc<[IpAddr]>,
    checks: Arc<AtomicU64>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits").finish_non_exhaustive()
    }
}

/// Forget idle keys after this many checks, so memory stays bounded.
const SWEEP_EVERY: u64 = 4_096;

impl RateLimits {
    pub fn new(settings: &RateLimitSettings) -> Self {
        let quota = |n: u32| NonZeroU32::new(n).map(Quota::per_minute);
        let actions = Action::ALL.map(|a| {
            let q = settings.quota(a);
            ActionLimiters {
                per_ip: quota(q.per_ip).map(RateLimiter::keyed),
                per_account: quota(q.per_account).map(RateLimiter::keyed),
            }
        });
        Self {
            actions: Arc::new(actions),
            trusted_proxies: settings.trusted_proxies.clone().into(),
            checks: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Counts one `action` by `ip` (when known) for `account`.
    ///
    /// # Errors
    /// `RATE_LIMITED` with the seconds to wait when either quota is spent.
    pub fn check(&self, action: Action, ip: Option<IpAddr>, account: Option<&str>) -> Result<()> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep();
        }
        let limiters = &self.actions[action.index()];
        if let (Some(limiter), Some(ip)) = (&limiters.per_ip, ip) {
            limiter.check_key(&ip).map_err(too_many)?;
        }
        if let (Some(limiter), Some(account)) = (&limiters.per_account, account) {
            let key = account.trim().to_lowercase();
            limiter.check_key(&key).map_err(too_many)?;
        }
        Ok(())
    }

    /// The client address: the socket peer, or — when the peer is a trusted
    /// proxy — the rightmost `X-Forwarded-For` entry that is not itself a
    /// trusted proxy.
    pub fn client_ip(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
        let peer = peer?;
        if !self.trusted_proxies.contains(&peer) {
            return Some(peer);
        }
        let Some(header) = forwarded_for else {
            return Some(peer);
        };
        header
            .rsplit(',')
            .filter_map(|part| part.trim().parse::<IpAddr>().ok())
            .find(|ip| !self.trusted_proxies.contains(ip))
            .or(Some(peer))
    }

    fn sweep(&self) {
        for limiters in self.actions.iter() {
            if let Some(l) = &limiters.per_ip {
                l.retain_recent();
                l.shrink_to_fit();
            }
            if let Some(l) = &limiters.per_account {
                l.retain_recent();
                l.shrink_to_fit();
            }
        }
    }
}

fn too_many(not_until: governor::NotUntil<governor::clock::QuantaInstant>) -> Error {
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    Error::RateLimited {
        retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_ip: u32, per_account: u32) -> RateLimits {
        let mut settings = RateLimitSettings::default();
        settings.quotas[Action::Login.index()] = ActionQuota {
            per_ip,
            per_account,
        };
        settings.trusted_proxies = vec!["10.0.0.1".parse().unwrap()];
        RateLimits::new(&settings)
    }

    #[test]
    fn an_account_over_its_quota_is_told_when_to_retry() {
        let limits = limits(100, 2);
        let ip = Some("192.0.2.1".parse().unwrap());
        limits.check(Action::Login, ip, Some("a@x.cn")).unwrap();
        limits.check(Action::Login, ip, Some("A@X.cn ")).unwrap();
        match limits.check(Action::Login, ip, Some("a@x.cn")) {
            Err(Error::RateLimited { retry_after_secs }) => {
                assert!((1..=30).contains(&retry_after_secs), "{retry_after_secs}");
            }
            other => panic!("expected RateLimited, got {other:?}"),
        }
        // Another account from the same address still passes.
        limits.check(Action::Login, ip, Some("b@x.cn")).unwrap();
        // Other actions have their own quota.
        limits.check(Action::Register, ip, Some("a@x.cn")).unwrap();
    }

    #[test]
    fn an_address_over_its_quota_is_limited_for_every_account() {
        let limits = limits(3, 100);
        let ip = Some("192.0.2.2".parse().unwrap());
        for i in 0..3 {
            limits
                .check(Action::Login, ip, Some(&format!("u{i}@x.cn")))
                .unwrap();
        }
        assert!(matches!(
            limits.check(Action::Login, ip, Some("new@x.cn")),
            Err(Error::RateLimited { .. })
        ));
        limits
            .check(
                Action::Login,
                Some("192.0.2.3".parse().unwrap()),
                Some("new@x.cn"),
            )
            .unwrap();
    }

    #[test]
    fn a_zero_quota_turns_the_limiter_off() {
        let limits = limits(0, 0);
        for _ in 0..1_000 {
            limits
                .check(
                    Action::Login,
                    Some("192.0.2.4".parse().unwrap()),
                    Some("a@x.cn"),
                )
                .unwrap();
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let limits = limits(1, 1);
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let stranger: IpAddr = "198.51.100.7".parse().unwrap();
        let header = Some("203.0.113.9, 198.51.100.1, 10.0.0.1");
        assert_eq!(
            limits.client_ip(Some(proxy), header),
            Some("198.51.100.1".parse().unwrap())
        );
        assert_eq!(limits.client_ip(Some(stranger), header), Some(stranger));
        assert_eq!(limits.client_ip(Some(proxy), None), Some(proxy));
        assert_eq!(limits.client_ip(Some(proxy), Some("garbage")), Some(proxy));
        assert_eq!(limits.client_ip(None, header), None);
    }
}
