//! Settings from the environment, with an optional TOML file underneath.
//!
//! Each setting has one environment variable; the TOML file (`YISHI_CONFIG`,
//! or `yishi.toml` in the working directory when present) uses the same names
//! in lower case. The environment wins. An invalid value stops the process
//! with one line naming the variable.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::rate_limit::{Action, RateLimitSettings};

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/yishi.db?mode=rwc";

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub bind: SocketAddr,
    /// `None` means: read or create `data/jwt-secret`.
    pub jwt_secret: Option<SecretString>,
    pub public_url: String,
    pub log: String,
    pub data_dir: PathBuf,
    pub static_dir: PathBuf,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// Argon2id memory cost in KiB (OWASP: 19 MiB with t=2, p=1).
    pub argon2_memory_kib: u32,
    /// Introspection and the GraphQL playground are off in production.
    pub production: bool,
    pub demo_data: bool,
    /// How far ahead of opening a topic must be announced (提前通报).
    pub notice_period: chrono::Duration,
    /// How long after closing a topic's outcome is due; after that the
    /// topic shows "decision overdue" in public.
    pub decision_due: chrono::Duration,
    /// Supports at which a suggestion must be answered in time.
    pub suggestion_answer_threshold: i32,
    /// How long an organiser has to answer a suggestion from the moment
    /// its support reached the threshold; after that it shows as overdue.
    pub suggestion_answer_within: chrono::Duration,
    /// How long after the outcome of an entrusted matter is first published
    /// the report to the entrusting body is due.
    pub report_due: chrono::Duration,
    /// Result cells with fewer responses are folded into their parent for
    /// the public (k-anonymity).
    pub privacy_min_cell: u32,
    /// How often the scheduler looks for topics due to announce, open or close.
    pub scheduler_interval: Duration,
    /// Notices to an audience up to this size are queued in the request
    /// that causes them; larger audiences by a background job.
    pub bulk_inline_max: u64,
    /// Opinion batches written at once on PostgreSQL (SQLite: always one).
    pub opinion_writers: usize,
    /// Where the outbox is delivered (`smtp://`, `smtps://`, `?tls=required`
    /// for STARTTLS); `None` keeps messages in the outbox, unsent.
    pub smtp_url: Option<SecretString>,
    /// The `From` of every email.
    pub mail_from: String,
    /// At most this many emails a second leave this instance, so a county
    /// announcement does not trip the relay's limits.
    pub mail_rate_per_sec: u32,
    /// Attempts before a transiently failing message is marked failed.
    pub mail_max_attempts: u32,
    /// Per-IP and per-account quotas (`YISHI_RATE_LIMIT_*`) and the proxies
    /// whose `X-Forwarded-For` is believed (`YISHI_TRUSTED_PROXY`).
    pub rate_limits: RateLimitSettings,
    /// Where `/metrics` is served to anyone who can reach it (an address
    /// only the monitoring network sees); `None`: not served apart.
    pub metrics_bind: Option<SocketAddr>,
    /// A bearer token that opens `/metrics` (on the public port too);
    /// `None`: the public port does not serve metrics at all.
    pub metrics_token: Option<SecretString>,
    /// Connection caps and timeouts of the listeners and of `/graphql/ws`.
    pub limits: ConnectionLimits,
}

/// How many connections the server holds and for how long a client may
/// take to say what it wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Open HTTP connections at most (per listener); more are refused.
    pub max_connections: usize,
    /// Time a client has to send a request's headers (on a new connection,
    /// and between requests on a kept-alive one).
    pub header_read_timeout: Duration,
    /// `/graphql/ws` connections at most, in all.
    pub ws_max_connections: usize,
    /// `/graphql/ws` connections at most from one client address.
    pub ws_max_connections_per_ip: usize,
    /// Subscriptions running at once on one `/graphql/ws` connection.
    pub ws_max_subscriptions: usize,
    /// Time a `/graphql/ws` client has to send `connection_init`.
    pub ws_init_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(10),
            ws_max_connections: 1024,
            ws_max_connections_per_ip: 32,
            ws_max_subscriptions: 16,
            ws_init_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

/// The TOML file: every key optional, same names as the variables.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    database_url: Option<String>,
    yishi_bind: Option<String>,
    yishi_jwt_secret: Option<String>,
    yishi_public_url: Option<String>,
    yishi_log: Option<String>,
    yishi_data_dir: Option<String>,
    yishi_static_dir: Option<String>,
    yishi_access_token_ttl_secs: Option<String>,
    yishi_refresh_token_ttl_days: Option<String>,
    yishi_argon2_memory_kib: Option<String>,
    yishi_env: Option<String>,
    yishi_demo_data: Option<String>,
    yishi_notice_period_hours: Option<String>,
    yishi_decision_due_days: Option<String>,
    yishi_suggestion_answer_threshold: Option<String>,
    yishi_suggestion_answer_days: Option<String>,
    yishi_report_due_days: Option<String>,
    yishi_privacy_min_cell: Option<String>,
    yishi_scheduler_interval_secs: Option<String>,
    yishi_bulk_inline_max: Option<String>,
    yishi_opinion_writers: Option<String>,
    smtp_url: Option<String>,
    yishi_mail_from: Option<String>,
    yishi_mail_rate_per_sec: Option<String>,
    yishi_mail_max_attempts: Option<String>,
    yishi_rate_limit_login_per_ip: Option<String>,
    yishi_rate_limit_login_per_account: Option<String>,
    yishi_rate_limit_register_per_ip: Option<String>,
    yishi_rate_limit_register_per_account: Option<String>,
    yishi_rate_limit_password_reset_per_ip: Option<String>,
    yishi_rate_limit_password_reset_per_account: Option<String>,
    yishi_rate_limit_opinion_per_ip: Option<String>,
    yishi_rate_limit_opinion_per_account: Option<String>,
    yishi_rate_limit_password_change_per_ip: Option<String>,
    yishi_rate_limit_password_change_per_account: Option<String>,
    yishi_trusted_proxy: Option<String>,
    yishi_metrics_bind: Option<String>,
    yishi_metrics_token: Option<String>,
    yishi_max_connections: Option<String>,
    yishi_header_read_timeout_secs: Option<String>,
    yishi_ws_max_connections: Option<String>,
    yishi_ws_max_connections_per_ip: Option<String>,
    yishi_ws_max_subscriptions: Option<String>,
    yishi_ws_init_timeout_secs: Option<String>,
}

impl FileSettings {
    /// The file's value for a rate-limit variable.
    fn rate_limit(&self, var: &str) -> Option<String> {
        match var {
            "YISHI_RATE_LIMIT_LOGIN_PER_IP" => self.yishi_rate_limit_login_per_ip.clone(),
            "YISHI_RATE_LIMIT_LOGIN_PER_ACCOUNT" => self.yishi_rate_limit_login_per_account.clone(),
            "YISHI_RATE_LIMIT_REGISTER_PER_IP" => self.yishi_rate_limit_register_per_ip.clone(),
            "YISHI_RATE_LIMIT_REGISTER_PER_ACCOUNT" => {
                self.yishi_rate_limit_register_per_account.clone()
            }
            "YISHI_RATE_LIMIT_PASSWORD_RESET_PER_IP" => {
                self.yishi_rate_limit_password_reset_per_ip.clone()
            }
            "YISHI_RATE_LIMIT_PASSWORD_RESET_PER_ACCOUNT" => {
                self.yishi_rate_limit_password_reset_per_account.clone()
            }
            "YISHI_RATE_LIMIT_OPINION_PER_IP" => self.yishi_rate_limit_opinion_per_ip.clone(),
            "YISHI_RATE_LIMIT_OPINION_PER_ACCOUNT" => {
                self.yishi_rate_limit_opinion_per_account.clone()
            }
            "YISHI_RATE_LIMIT_PASSWORD_CHANGE_PER_IP" => {
                self.yishi_rate_limit_password_change_per_ip.clone()
            }
            "YISHI_RATE_LIMIT_PASSWORD_CHANGE_PER_ACCOUNT" => {
                self.yishi_rate_limit_password_change_per_account.clone()
            }
            _ => None,
        }
    }
}

/// Reads `YISHI_RATE_LIMIT_{ACTION}_PER_{IP,ACCOUNT}` (per minute, 0 = off)
/// and `YISHI_TRUSTED_PROXY` (comma-separated addresses).
fn rate_limit_settings(
    env: &impl Fn(&str) -> Option<String>,
    file: &FileSettings,
) -> Result<RateLimitSettings, ConfigError> {
    let mut settings = RateLimitSettings::default();
    for (i, action) in Action::ALL.into_iter().enumerate() {
        let (per_ip, per_account) = action.default_per_minute();
        let (ip_var, account_var) = action.config_vars();
        let read = |var: &'static str, default: u32| {
            let raw = env(var)
                .filter(|v| !v.is_empty())
                .or_else(|| file.rate_limit(var));
            parse_number(var, raw, default, 0..=1_000_000)
        };
        settings.quotas[i].per_ip = read(ip_var, per_ip)?;
        settings.quotas[i].per_account = read(account_var, per_account)?;
    }
    if let Some(raw) = env("YISHI_TRUSTED_PROXY")
        .filter(|v| !v.is_empty())
        .or_else(|| file.yishi_trusted_proxy.clone())
    {
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let ip = part.parse().map_err(|_| {
                invalid(
                    "YISHI_TRUSTED_PROXY",
                    format!("{part:?} is not an IP address such as 10.0.0.1"),
                )
            })?;
            settings.trusted_proxies.push(ip);
        }
    }
    Ok(settings)
}

impl Settings {
    /// Reads the process environment and the optional TOML file.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first invalid variable.
    pub fn load() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds settings from any variable source (the environment in
    /// production, a map in tests).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first invalid variable.
    pub fn from_lookup(env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let file = load_file(&env)?;
        let get = |name: &'static str, from_file: &Option<String>| -> Option<String> {
            env(name)
                .filter(|v| !v.is_empty())
                .or_else(|| from_file.clone())
        };

        let database_url = get("DATABASE_URL", &file.database_url)
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "DATABASE_URL",
                "expected sqlite://PATH or postgres://USER@HOST/DB",
            ));
        }

        let bind_raw =
            get("YISHI_BIND", &file.yishi_bind).unwrap_or_else(|| "127.0.0.1:8080".into());
        let bind: SocketAddr = bind_raw.parse().map_err(|_| {
            invalid(
                "YISHI_BIND",
                format!("{bind_raw:?} is not an address:port such as 127.0.0.1:8080"),
            )
        })?;

        let jwt_secret = match get("YISHI_JWT_SECRET", &file.yishi_jwt_secret) {
            Some(s) if s.len() < 32 => {
                return Err(invalid(
                    "YISHI_JWT_SECRET",
                    "must be at least 32 characters (or unset to generate one under the data directory)",
                ))
            }
            Some(s) => Some(SecretString::from(s)),
            None => None,
        };

        let public_url = get("YISHI_PUBLIC_URL", &file.yishi_public_url)
            .unwrap_or_else(|| format!("http://{bind}"));
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(invalid(
                "YISHI_PUBLIC_URL",
                format!("{public_url:?} must start with http:// or https://"),
            ));
        }
        let public_url = public_url.trim_end_matches('/').to_owned();

        let log = get("YISHI_LOG", &file.yishi_log)
            .or_else(|| env("RUST_LOG"))
            .unwrap_or_else(|| "info".into());
        if tracing_subscriber::EnvFilter::try_new(&log).is_err() {
            return Err(invalid(
                "YISHI_LOG",
                format!("{log:?} is not a log filter such as info or yishi=debug"),
            ));
        }

        let data_dir = PathBuf::from(
            get("YISHI_DATA_DIR", &file.yishi_data_dir).unwrap_or_else(|| "data".into()),
        );
        let static_dir = PathBuf::from(
            get("YISHI_STATIC_DIR", &file.yishi_static_dir)
                .unwrap_or_else(|| "frontend/dist".into()),
        );

        let access_secs: u64 = parse_number(
            "YISHI_ACCESS_TOKEN_TTL_SECS",
            get(
                "YISHI_ACCESS_TOKEN_TTL_SECS",
                &file.yishi_access_token_ttl_secs,
            ),
            900,
            30..=86_400,
        )?;
        let refresh_days: u64 = parse_number(
            "YISHI_REFRESH_TOKEN_TTL_DAYS",
            get(
                "YISHI_REFRESH_TOKEN_TTL_DAYS",
                &file.yishi_refresh_token_ttl_days,
            ),
            30,
            1..=365,
        )?;
        let argon2_memory_kib: u32 = parse_number(
            "YISHI_ARGON2_MEMORY_KIB",
            get("YISHI_ARGON2_MEMORY_KIB", &file.yishi_argon2_memory_kib),
            19 * 1024,
            8..=1024 * 1024,
        )?;

        let production = match get("YISHI_ENV", &file.yishi_env).as_deref() {
            None | Some("development") => false,
            Some("production") => true,
            Some(other) => {
                return Err(invalid(
                    "YISHI_ENV",
                    format!("{other:?} must be development or production"),
                ))
            }
        };
        let demo_data = parse_bool(
            "YISHI_DEMO_DATA",
            get("YISHI_DEMO_DATA", &file.yishi_demo_data),
            true,
        )?;

        let notice_hours: i64 = parse_number(
            "YISHI_NOTICE_PERIOD_HOURS",
            get("YISHI_NOTICE_PERIOD_HOURS", &file.yishi_notice_period_hours),
            72,
            0..=24 * 60,
        )?;
        let decision_due_days: i64 = parse_number(
            "YISHI_DECISION_DUE_DAYS",
            get("YISHI_DECISION_DUE_DAYS", &file.yishi_decision_due_days),
            15,
            1..=365,
        )?;
        let suggestion_answer_threshold: i32 = parse_number(
            "YISHI_SUGGESTION_ANSWER_THRESHOLD",
            get(
                "YISHI_SUGGESTION_ANSWER_THRESHOLD",
                &file.yishi_suggestion_answer_threshold,
            ),
            10,
            1..=1_000_000,
        )?;
        let suggestion_answer_days: i64 = parse_number(
            "YISHI_SUGGESTION_ANSWER_DAYS",
            get(
                "YISHI_SUGGESTION_ANSWER_DAYS",
                &file.yishi_suggestion_answer_days,
            ),
            15,
            1..=365,
        )?;
        let report_due_days: i64 = parse_number(
            "YISHI_REPORT_DUE_DAYS",
            get("YISHI_REPORT_DUE_DAYS", &file.yishi_report_due_days),
            30,
            1..=365,
        )?;
        let privacy_min_cell: u32 = parse_number(
            "YISHI_PRIVACY_MIN_CELL",
            get("YISHI_PRIVACY_MIN_CELL", &file.yishi_privacy_min_cell),
            5,
            1..=100,
        )?;
        let scheduler_secs: u64 = parse_number(
            "YISHI_SCHEDULER_INTERVAL_SECS",
            get(
                "YISHI_SCHEDULER_INTERVAL_SECS",
                &file.yishi_scheduler_interval_secs,
            ),
            5,
            1..=3_600,
        )?;

        let bulk_inline_max: u64 = parse_number(
            "YISHI_BULK_INLINE_MAX",
            get("YISHI_BULK_INLINE_MAX", &file.yishi_bulk_inline_max),
            1_000,
            0..=1_000_000,
        )?;

        let opinion_writers: usize = parse_number(
            "YISHI_OPINION_WRITERS",
            get("YISHI_OPINION_WRITERS", &file.yishi_opinion_writers),
            1,
            1..=32,
        )?;

        let smtp_url = match get("SMTP_URL", &file.smtp_url) {
            Some(url) => {
                if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                    // Never echo the value: it may hold the relay's password.
                    return Err(invalid(
                        "SMTP_URL",
                        "expected smtp://HOST:PORT, smtps://USER:PASS@HOST:465 or smtp://HOST:587?tls=required",
                    ));
                }
                Some(SecretString::from(url))
            }
            None => None,
        };
        let mail_from = get("YISHI_MAIL_FROM", &file.yishi_mail_from)
            .unwrap_or_else(|| "Yishi <noreply@localhost>".into());
        if mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(invalid(
                "YISHI_MAIL_FROM",
                format!("{mail_from:?} is not an address such as Yishi <noreply@example.org>"),
            ));
        }
        let mail_rate_per_sec: u32 = parse_number(
            "YISHI_MAIL_RATE_PER_SEC",
            get("YISHI_MAIL_RATE_PER_SEC", &file.yishi_mail_rate_per_sec),
            20,
            1..=1_000,
        )?;
        let mail_max_attempts: u32 = parse_number(
            "YISHI_MAIL_MAX_ATTEMPTS",
            get("YISHI_MAIL_MAX_ATTEMPTS", &file.yishi_mail_max_attempts),
            // With backoff doubling from 30 s to a 6 h ceiling, twelve
            // attempts ride out a relay outage of about half a day.
            12,
            1..=50,
        )?;

        let rate_limits = rate_limit_settings(&env, &file)?;

        let metrics_bind = match get("YISHI_METRICS_BIND", &file.yishi_metrics_bind) {
            Some(raw) => Some(raw.parse::<SocketAddr>().map_err(|_| {
                invalid(
                    "YISHI_METRICS_BIND",
                    format!("{raw:?} is not an address:port such as 127.0.0.1:9090"),
                )
            })?),
            None => None,
        };
        let metrics_token = match get("YISHI_METRICS_TOKEN", &file.yishi_metrics_token) {
            // Never echo the value: it is a credential.
            Some(t) if t.len() < 16 => {
                return Err(invalid(
                    "YISHI_METRICS_TOKEN",
                    "must be at least 16 characters",
                ))
            }
            Some(t) => Some(SecretString::from(t)),
            None => None,
        };
        let defaults = ConnectionLimits::default();
        let limits = ConnectionLimits {
            max_connections: parse_number(
                "YISHI_MAX_CONNECTIONS",
                get("YISHI_MAX_CONNECTIONS", &file.yishi_max_connections),
                defaults.max_connections,
                1..=1_000_000,
            )?,
            header_read_timeout: Duration::from_secs(parse_number(
                "YISHI_HEADER_READ_TIMEOUT_SECS",
                get(
                    "YISHI_HEADER_READ_TIMEOUT_SECS",
                    &file.yishi_header_read_timeout_secs,
                ),
                defaults.header_read_timeout.as_secs(),
                1..=300,
            )?),
            ws_max_connections: parse_number(
                "YISHI_WS_MAX_CONNECTIONS",
                get("YISHI_WS_MAX_CONNECTIONS", &file.yishi_ws_max_connections),
                defaults.ws_max_connections,
                0..=1_000_000,
            )?,
            ws_max_connections_per_ip: parse_number(
                "YISHI_WS_MAX_CONNECTIONS_PER_IP",
                get(
                    "YISHI_WS_MAX_CONNECTIONS_PER_IP",
                    &file.yishi_ws_max_connections_per_ip,
                ),
                defaults.ws_max_connections_per_ip,
                1..=1_000_000,
            )?,
            ws_max_subscriptions: parse_number(
                "YISHI_WS_MAX_SUBSCRIPTIONS",
                get(
                    "YISHI_WS_MAX_SUBSCRIPTIONS",
                    &file.yishi_ws_max_subscriptions,
                ),
                defaults.ws_max_subscriptions,
                1..=10_000,
            )?,
            ws_init_timeout: Duration::from_secs(parse_number(
                "YISHI_WS_INIT_TIMEOUT_SECS",
                get(
                    "YISHI_WS_INIT_TIMEOUT_SECS",
                    &file.yishi_ws_init_timeout_secs,
                ),
                defaults.ws_init_timeout.as_secs(),
                1..=300,
            )?),
        };

        Ok(Self {
            database_url,
            bind,
            jwt_secret,
            public_url,
            log,
            data_dir,
            static_dir,
            access_token_ttl: Duration::from_secs(access_secs),
            refresh_token_ttl: Duration::from_secs(refresh_days * 86_400),
            argon2_memory_kib,
            production,
            demo_data,
            notice_period: chrono::Duration::hours(notice_hours),
            decision_due: chrono::Duration::days(decision_due_days),
            suggestion_answer_threshold,
            suggestion_answer_within: chrono::Duration::days(suggestion_answer_days),
            report_due: chrono::Duration::days(report_due_days),
            privacy_min_cell,
            scheduler_interval: Duration::from_secs(scheduler_secs),
            bulk_inline_max,
            opinion_writers,
            smtp_url,
            mail_from,
            mail_rate_per_sec,
            mail_max_attempts,
            rate_limits,
            metrics_bind,
            metrics_token,
            limits,
        })
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

fn load_file(env: &impl Fn(&str) -> Option<String>) -> Result<FileSettings, ConfigError> {
    let (path, required) = match env("YISHI_CONFIG") {
        Some(p) => (PathBuf::from(p), true),
        None => (PathBuf::from("yishi.toml"), false),
    };
    if !required && !Path::new(&path).exists() {
        return Ok(FileSettings::default());
    }
    let text = std::fs::read_to_string(&path).map_err(|e| {
        invalid(
            "YISHI_CONFIG",
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    toml::from_str(&text).map_err(|e| {
        invalid(
            "YISHI_CONFIG",
            format!("{}: {}", path.display(), e.message()),
        )
    })
}

fn invalid(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        message: message.into(),
    }
}

fn parse_number<T>(
    var: &'static str,
    raw: Option<String>,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(raw) = raw else { return Ok(default) };
    match raw.trim().parse::<T>() {
        Ok(v) if range.contains(&v) => Ok(v),
        _ => Err(invalid(
            var,
            format!(
                "{raw:?} must be a number from {} to {}",
                range.start(),
                range.end()
            ),
        )),
    }
}

fn parse_bool(var: &'static str, raw: Option<String>, default: bool) -> Result<bool, ConfigError> {
    match raw.as_deref().map(str::trim) {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => Err(invalid(var, format!("{other:?} must be true or false"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_sqlite_on_localhost() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.public_url, "http://127.0.0.1:8080");
        assert!(s.jwt_secret.is_none());
        assert!(!s.production);
    }

    #[test]
    fn a_bad_bind_address_names_the_variable() {
        let err = settings(&[("YISHI_BIND", "localhost")]).unwrap_err();
        assert_eq!(err.var, "YISHI_BIND");
        assert!(err
            .to_string()
            .starts_with("invalid configuration: YISHI_BIND:"));
    }

    #[test]
    fn a_short_jwt_secret_is_refused() {
        assert_eq!(
            settings(&[("YISHI_JWT_SECRET", "short")]).unwrap_err().var,
            "YISHI_JWT_SECRET"
        );
    }

    #[test]
    fn an_unknown_database_scheme_is_refused() {
        assert_eq!(
            settings(&[("DATABASE_URL", "mysql://x")]).unwrap_err().var,
            "DATABASE_URL"
        );
    }

    #[test]
    fn numbers_out_of_range_are_refused() {
        let err = settings(&[("YISHI_ACCESS_TOKEN_TTL_SECS", "5")]).unwrap_err();
        assert_eq!(err.var, "YISHI_ACCESS_TOKEN_TTL_SECS");
    }

    #[test]
    fn the_toml_file_is_read_and_the_environment_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("yishi.toml");
        std::fs::write(
            &path,
            "yishi_bind = \"0.0.0.0:9000\"\nyishi_public_url = \"https://yishi.example\"\n",
        )
        .unwrap();
        let p = path.to_str().unwrap();
        let s = settings(&[
            ("YISHI_CONFIG", p),
            ("YISHI_PUBLIC_URL", "https://other.example/"),
        ])
        .unwrap();
        assert_eq!(s.bind.to_string(), "0.0.0.0:9000");
        assert_eq!(s.public_url, "https://other.example");
    }

    #[test]
    fn mail_is_off_by_default_with_a_local_sender() {
        let s = settings(&[]).unwrap();
        assert!(s.smtp_url.is_none());
        assert_eq!(s.mail_from, "Yishi <noreply@localhost>");
        assert_eq!(s.mail_rate_per_sec, 20);
        assert_eq!(s.mail_max_attempts, 12);
    }

    #[test]
    fn an_smtp_url_is_kept_secret_and_its_scheme_checked() {
        use secrecy::ExposeSecret;
        let s = settings(&[
            ("SMTP_URL", "smtps://user:pass@mail.example:465"),
            ("YISHI_MAIL_FROM", "议事 <yishi@example.org>"),
            ("YISHI_MAIL_RATE_PER_SEC", "5"),
        ])
        .unwrap();
        assert_eq!(
            s.smtp_url.as_ref().unwrap().expose_secret(),
            "smtps://user:pass@mail.example:465"
        );
        assert!(!format!("{s:?}").contains("pass@"));
        assert_eq!(s.mail_rate_per_sec, 5);
        let err = settings(&[("SMTP_URL", "http://user:hunter2@mail.example")]).unwrap_err();
        assert_eq!(err.var, "SMTP_URL");
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn a_bad_sender_or_rate_names_the_variable() {
        assert_eq!(
            settings(&[("YISHI_MAIL_FROM", "not an address")])
                .unwrap_err()
                .var,
            "YISHI_MAIL_FROM"
        );
        assert_eq!(
            settings(&[("YISHI_MAIL_RATE_PER_SEC", "0")])
                .unwrap_err()
                .var,
            "YISHI_MAIL_RATE_PER_SEC"
        );
    }

    #[test]
    fn rate_limits_have_defaults_and_can_be_set_or_turned_off() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.rate_limits, RateLimitSettings::default());
        let s = settings(&[
            ("YISHI_RATE_LIMIT_LOGIN_PER_ACCOUNT", "3"),
            ("YISHI_RATE_LIMIT_OPINION_PER_IP", "0"),
            ("YISHI_TRUSTED_PROXY", "10.0.0.1, ::1"),
        ])
        .unwrap();
        assert_eq!(s.rate_limits.quota(Action::Login).per_account, 3);
        assert_eq!(s.rate_limits.quota(Action::SubmitOpinion).per_ip, 0);
        assert_eq!(s.rate_limits.trusted_proxies.len(), 2);
        assert_eq!(
            settings(&[("YISHI_RATE_LIMIT_REGISTER_PER_IP", "many")])
                .unwrap_err()
                .var,
            "YISHI_RATE_LIMIT_REGISTER_PER_IP"
        );
        assert_eq!(
            settings(&[("YISHI_TRUSTED_PROXY", "proxy.local")])
                .unwrap_err()
                .var,
            "YISHI_TRUSTED_PROXY"
        );
    }

    #[test]
    fn connection_limits_and_metrics_access_have_defaults_and_can_be_set() {
        use secrecy::ExposeSecret;
        let s = settings(&[]).unwrap();
        assert_eq!(s.limits, ConnectionLimits::default());
        assert!(s.metrics_bind.is_none() && s.metrics_token.is_none());
        let s = settings(&[
            ("YISHI_MAX_CONNECTIONS", "10"),
            ("YISHI_HEADER_READ_TIMEOUT_SECS", "3"),
            ("YISHI_WS_MAX_SUBSCRIPTIONS", "2"),
            ("YISHI_METRICS_BIND", "127.0.0.1:9090"),
            ("YISHI_METRICS_TOKEN", "scrape-token-0123456789"),
        ])
        .unwrap();
        assert_eq!(s.limits.max_connections, 10);
        assert_eq!(s.limits.header_read_timeout, Duration::from_secs(3));
        assert_eq!(s.limits.ws_max_subscriptions, 2);
        assert_eq!(s.metrics_bind.unwrap().port(), 9090);
        assert_eq!(
            s.metrics_token.unwrap().expose_secret(),
            "scrape-token-0123456789"
        );
        let err = settings(&[("YISHI_METRICS_TOKEN", "hunter2")]).unwrap_err();
        assert_eq!(err.var, "YISHI_METRICS_TOKEN");
        assert!(!err.to_string().contains("hunter2"));
        assert_eq!(
            settings(&[("YISHI_HEADER_READ_TIMEOUT_SECS", "0")])
                .unwrap_err()
                .var,
            "YISHI_HEADER_READ_TIMEOUT_SECS"
        );
    }

    #[test]
    fn an_unknown_key_in_the_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("yishi.toml");
        std::fs::write(&path, "bogus = 1\n").unwrap();
        let err = settings(&[("YISHI_CONFIG", path.to_str().unwrap())]).unwrap_err();
        assert_eq!(err.var, "YISHI_CONFIG");
    }
}
