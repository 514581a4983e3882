//! The rules of Yishi. Functions here take a database handle and plain
//! request types; nothing here knows about HTTP or GraphQL.

pub mod accounts;
pub mod audit;
pub mod authz;
pub mod dashboard;
pub mod demo;
pub mod disclosure;
pub mod divisions;
pub mod email_preferences;
pub mod entrusted;
pub mod explanations;
pub mod live;
pub mod notice_board;
pub mod notifications;
pub mod opinion_writer;
pub mod opinions;
pub mod outbox;
pub mod outcomes;
pub mod record;
pub mod referrals;
pub mod reports;
pub mod residency;
pub mod results;
pub mod roles;
pub mod suggestions;
pub mod tally_cache;
pub mod themes;
pub mod topics;

/// What every domain call may need besides the database.
pub use crate::state::Services;
