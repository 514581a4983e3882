//! sea-orm entities, one per table, in the shape `sea-orm-cli generate entity`
//! produces. Only table mappings live here; rules live in `domain`.

pub mod audit_log;
pub mod divisions;
pub mod email_tokens;
pub mod outbox;
pub mod refresh_tokens;
pub mod residencies;
pub mod role_assignments;
pub mod users;
