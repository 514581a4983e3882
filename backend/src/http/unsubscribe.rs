//! One-click unsubscribe (RFC 8058) from the link in consultation emails.
//!
//! `GET` only shows a button: mail scanners and link previews fetch every
//! URL in a message, and must not unsubscribe anyone. `POST` (the button, or
//! a mail client acting on `List-Unsubscribe-Post`) does it. The page posts
//! back to its own URL, so the token is never written into the HTML.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use crate::domain::email_preferences;

#[derive(Debug, Deserialize)]
pub struct Link {
    token: Option<String>,
}

fn page(status: StatusCode, zh: &str, en: &str, form: bool) -> Response {
    let button = if form {
        r#"<form method="post"><button type="submit" style="font-size:16px;padding:10px 18px">退订 · Unsubscribe</button></form>"#
    } else {
        ""
    };
    let body = format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>议事 · Yishi</title></head>\
         <body style=\"font-family:sans-serif;max-width:560px;margin:40px auto;padding:0 16px;line-height:1.6\">\
         <p>{zh}</p><p lang=\"en\">{en}</p>{button}</body></html>"
    );
    (status, Html(body)).into_response()
}

/// `GET /api/unsubscribe?token=…`: asks for confirmation.
pub async fn confirm(Query(link): Query<Link>) -> Response {
    if link.token.as_deref().unwrap_or_default().is_empty() {
        return invalid();
    }
    page(
        StatusCode::OK,
        "退订此类议事邮件？",
        "Unsubscribe from these Yishi emails?",
        true,
    )
}

/// `POST /api/unsubscribe?token=…`: unsubscribes.
pub async fn unsubscribe(State(state): State<AppState>, Query(link): Query<Link>) -> Response {
    let Some(token) = link.token.filter(|t| !t.is_empty()) else {
        return invalid();
    };
    match email_preferences::unsubscribe(&state.services, &token).await {
        Ok(_) => page(
            StatusCode::OK,
            "已退订。您可以随时在账户设置中重新订阅。",
            "You are unsubscribed. You can subscribe again in your account settings.",
            false,
        ),
        Err(crate::error::Error::BadInput { .. }) => invalid(),
        Err(e) => {
            if let crate::error::Error::Internal(cause) = &e {
                tracing::error!(error = ?cause, "unsubscribe failed");
            }
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "暂时无法退订，请稍后再试。",
                "Unsubscribing failed; please try again later.",
                false,
            )
        }
    }
}

fn invalid() -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "此退订链接无效。",
        "This unsubscribe link is not valid.",
        false,
    )
}
