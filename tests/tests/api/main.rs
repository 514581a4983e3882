//! Black-box API tests: real HTTP against a real server, on SQLite and on
//! PostgreSQL (each test runs once per backend).

mod account_safety;
mod accounts;
mod authz_matrix;
mod cost;
mod divisions;
mod doors;
mod eligible;
mod email;
mod headers;
mod hostile;
mod http;
mod in_app_notices;
mod integrity;
mod outcomes;
mod privacy;
mod procedure;
mod referrals;
mod reminders;
mod residency_and_roles;
mod secret;
mod suggestions;
mod topics;
