//! Domain errors become GraphQL errors here, and only here: `extensions.code`
//! always set, internal causes logged and never shown.

use async_graphql::ErrorExtensions as _;

use crate::error::Error;

impl From<Error> for async_graphql::Error {
    fn from(err: Error) -> Self {
        if let Error::Internal(cause) = &err {
            tracing::error!(error = ?cause, "internal error");
        }
        let code = err.code();
        let message = err.public_message();
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", code);
            match &err {
                Error::BadInput {
                    field: Some(field), ..
                } => ext.set("field", *field),
                Error::RateLimited { retry_after_secs } => ext.set("retryAfter", *retry_after_secs),
                _ => {}
            }
        })
    }
}

/// Gives a code to the errors async-graphql raises itself (parse, validation,
/// limits, argument coercion), so every error a client sees has one.
pub fn label_uncoded_errors(response: &mut async_graphql::Response) {
    let request_level = matches!(response.data, async_graphql::Value::Null);
    for error in &mut response.errors {
        let has_code = error
            .extensions
            .as_ref()
            .is_some_and(|ext| ext.get("code").is_some());
        if !has_code {
            let code = if request_level && error.path.is_empty() {
                "GRAPHQL_VALIDATION_FAILED"
            } else {
                "BAD_USER_INPUT"
            };
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", code);
        }
    }
}
