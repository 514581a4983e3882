//! Black-box API tests: real HTTP against a real server, on SQLite and on
//! PostgreSQL (each test runs once per backend).

mod accounts;
mod authz_matrix;
mod cost;
mod divisions;
mod email;
mod hostile;
mod http;
mod outcomes;
mod reminders;
mod residency_and_roles;
mod suggestions;
mod topics;
