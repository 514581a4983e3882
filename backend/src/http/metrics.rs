//! Prometheus metrics.
//!
//! Every label takes its values from a fixed set (methods outside the
//! common ones count as `OTHER`, paths are route templates), so no client
//! can add series. The numbers are for operators only: the public port
//! serves `/metrics` only to a bearer of `YISHI_METRICS_TOKEN`, and
//! `YISHI_METRICS_BIND` serves them on an address of their own.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use secrecy::{ExposeSecret as _, SecretString};

use crate::auth::token;

/// One recorder per process (tests run several apps in one process).
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ])
            .expect("static buckets are valid")
            .build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder is installed; then ours stays unused.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Makes sure the recorder is installed before the first request.
pub fn init() {
    handle();
}

/// Who may read `/metrics` where it is routed.
#[derive(Clone)]
pub struct Access {
    /// SHA-256 of the token, compared in constant time.
    /// The token's digest (`auth::token::digest`): comparing digests of
    /// the secrets takes the same time whatever the guess.
    token: Option<Arc<str>>,
    /// Whether a request without the token is served (the separate
    /// listener, when no token is set).
    open: bool,
}

impl Access {
    /// On the public port: only with the token, and not at all without one.
    pub fn public(token: Option<&SecretString>) -> Self {
        Self {
            token: token.map(digest),
            open: false,
        }
    }

    /// On `YISHI_METRICS_BIND`: the token when one is set, else anyone who
    /// reaches that address.
    pub fn separate(token: Option<&SecretString>) -> Self {
        Self {
            token: token.map(digest),
            open: token.is_none(),
        }
    }

    fn allows(&self, headers: &HeaderMap) -> Result<(), StatusCode> {
        if self.open {
            return Ok(());
        }
        // No token configured: this port has no metrics to show.
        let Some(expected) = &self.token else {
            return Err(StatusCode::NOT_FOUND);
        };
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| token::digest(t.trim()));
        match given {
            Some(given) if *given == **expected => Ok(()),
            _ => Err(StatusCode::UNAUTHORIZED),
        }
    }
}

fn digest(secret: &SecretString) -> Arc<str> {
    token::digest(secret.expose_secret()).into()
}

/// The Prometheus text, to whoever `access` lets in.
pub async fn render(State(access): State<Access>, headers: HeaderMap) -> Response {
    match access.allows(&headers) {
        Ok(()) => (
            [("content-type", "text/plain; version=0.0.4")],
            handle().render(),
        )
            .into_response(),
        Err(StatusCode::UNAUTHORIZED) => {
            let mut resp = StatusCode::UNAUTHORIZED.into_response();
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"metrics\""),
            );
            resp
        }
        Err(status) => status.into_response(),
    }
}

/// The router of the separate metrics listener (`YISHI_METRICS_BIND`).
pub fn router(token: Option<&SecretString>) -> Router {
    Router::new().route("/metrics", get(render).with_state(Access::separate(token)))
}

/// The `method` label: a fixed set, anything else `OTHER`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

/// Counts requests and their latency by route and status. `path` is the
/// matched route's template (one of the router's few), or `static` for
/// everything the frontend's files answer.
pub async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "static".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(req.method());
    let response = next.run(req).await;
    // Status codes are the server's own choice: a small set.
    let status = response.status().as_u16().to_string();
    let labels = [
        ("method", method.to_owned()),
        ("path", path),
        ("status", status),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(start.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        for token in ["FOO", "BREW", "X-1234"] {
            assert_eq!(
                method_label(&Method::from_bytes(token.as_bytes()).unwrap()),
                "OTHER"
            );
        }
    }

    #[test]
    fn the_public_port_needs_the_token_and_has_no_metrics_without_one() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            Access::public(None).allows(&headers),
            Err(StatusCode::NOT_FOUND)
        );
        let token = SecretString::from("scrape-token-0123456789");
        let access = Access::public(Some(&token));
        assert_eq!(access.allows(&headers), Err(StatusCode::UNAUTHORIZED));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer wrong"),
        );
        assert_eq!(access.allows(&headers), Err(StatusCode::UNAUTHORIZED));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer scrape-token-0123456789"),
        );
        assert_eq!(access.allows(&headers), Ok(()));
        assert_eq!(Access::separate(None).allows(&HeaderMap::new()), Ok(()));
    }
}
