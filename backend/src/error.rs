//! The domain error: what went wrong, in terms a client can act on.
//!
//! Deliberately not `Display`: async-graphql turns any `Display` error into a
//! client message, so a stray `?` would leak internals. The GraphQL layer maps
//! this type explicitly (see `graphql::error`), setting `extensions.code`.

use std::fmt;

#[derive(Debug)]
pub enum Error {
    /// No valid credentials.
    Unauthenticated(String),
    /// Authenticated, but not allowed to do this here.
    Forbidden(String),
    /// Input refused; `field` names the argument when one is to blame.
    BadInput {
        field: Option<&'static str>,
        message: String,
    },
    NotFound(String),
    /// The request conflicts with the current state (duplicate, wrong state).
    Conflict(String),
    RateLimited {
        retry_after_secs: u64,
    },
    /// A rule of the consultation procedure refuses the request; `code`
    /// names the rule (e.g. `EARLY_CLOSE_NEEDS_COUNTERSIGNATURE`) so a
    /// client can offer the explicit exception instead.
    Procedure {
        code: &'static str,
        message: String,
    },
    /// Anything else; logged with its cause, shown as "internal error".
    Internal(anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn bad_input(field: &'static str, message: impl Into<String>) -> Self {
        Self::BadInput {
            field: Some(field),
            message: message.into(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }

    pub fn not_found(what: impl fmt::Display) -> Self {
        Self::NotFound(format!("{what} not found"))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict(message.into())
    }

    pub fn procedure(code: &'static str, message: impl Into<String>) -> Self {
        Self::Procedure {
            code,
            message: message.into(),
        }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }

    /// The stable code clients switch on (`extensions.code`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::BadInput { .. } => "BAD_USER_INPUT",
            Self::NotFound(_) => "NOT_FOUND",
            Self::Conflict(_) => "CONFLICT",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::Procedure { code, .. } => code,
            Self::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    /// The message a client may see.
    pub fn public_message(&self) -> String {
        match self {
            Self::Unauthenticated(m)
            | Self::Forbidden(m)
            | Self::NotFound(m)
            | Self::Conflict(m)
            | Self::BadInput { message: m, .. }
            | Self::Procedure { message: m, .. } => m.clone(),
            Self::RateLimited { retry_after_secs } => {
                format!("too many requests; retry after {retry_after_secs} s")
            }
            Self::Internal(_) => "internal error".to_owned(),
        }
    }
}

impl From<sea_orm::DbErr> for Error {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::Internal(err.into())
    }
}

impl From<sea_orm::TransactionError<Error>> for Error {
    fn from(err: sea_orm::TransactionError<Error>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(e) => e.into(),
            sea_orm::TransactionError::Transaction(e) => e,
        }
    }
}

/// `CONFLICT` with `message` when `err` is a unique-constraint violation
/// (the database is the arbiter of "already exists"), else internal.
pub fn conflict_on_unique(err: sea_orm::DbErr, message: impl FnOnce() -> String) -> Error {
    if is_unique_violation(&err) {
        Error::Conflict(message())
    } else {
        err.into()
    }
}

/// True when PostgreSQL failed the statement to break a deadlock (40P01) or
/// a serialization conflict (40001): run again, it may succeed.
pub fn is_deadlock_or_serialization_failure(err: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    let (DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::Database(cause)))
    | DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::Database(cause)))) = err
    else {
        return false;
    };
    matches!(cause.code().as_deref(), Some("40P01" | "40001"))
}

/// True when `err` is a unique-constraint violation, on either backend.
pub fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}
