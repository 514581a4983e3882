//! Credentials: password hashing, access tokens, opaque single-use tokens.

pub mod jwt;
pub mod password;
pub mod revocation;
pub mod seal;
pub mod token;
