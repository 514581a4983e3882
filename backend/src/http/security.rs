//! Response headers every page and answer carries: what the browser may
//! load and run (CSP and friends), and how long a response may be cached.
//!
//! The policy follows OWASP's HTTP headers cheat sheet and ASVS 5.0 (V3.4,
//! V14.3):
//! - scripts only from this origin, never inline or `eval`: an injected
//!   `<script>` or event handler in a topic's text does not run;
//! - inline styles allowed: `index.html` paints its loading screen with one
//!   `<style>` block (no blocking request on a slow phone) and the printable
//!   report carries its own; with scripts, images, fonts and connections all
//!   held to this origin, a style can neither run code nor send data away;
//! - no framing by other sites (clickjacking of the opinion form);
//! - no `Referer` sent anywhere: links in emails carry tokens;
//! - API answers and downloads are personal and never stored by a cache;
//!   the app's hashed assets are kept for a year, `index.html` is checked
//!   on every visit so a new release reaches phones at once.

use axum::extract::Request;
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The Content-Security-Policy of every response.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; \
    script-src 'self'; \
    style-src 'self' 'unsafe-inline'; \
    img-src 'self' data: blob:; \
    font-src 'self' data:; \
    connect-src 'self'; \
    worker-src 'self'; \
    manifest-src 'self'; \
    object-src 'none'; \
    base-uri 'self'; \
    form-action 'self'; \
    frame-ancestors 'none'";

/// How long a response may be kept, by what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CachePolicy {
    /// Vite's content-hashed files under `/assets/`: never change.
    Immutable,
    /// Other static files (icons): kept for an hour.
    Short,
    /// `index.html` and the SPA's deep links: revalidated every time.
    Revalidate,
    /// The API, downloads, health and metrics: personal or live.
    NoStore,
}

impl CachePolicy {
    /// The policy for a request path.
    #[must_use]
    pub fn for_path(path: &str) -> Self {
        if path == "/graphql"
            || path.starts_with("/graphql/")
            || path.starts_with("/api/")
            || matches!(path, "/healthz" | "/readyz" | "/metrics")
        {
            Self::NoStore
        } else if path.starts_with("/assets/") {
            Self::Immutable
        } else if path == "/" || path.ends_with(".html") || !last_segment(path).contains('.') {
            // Deep links without an extension are answered with index.html.
            Self::Revalidate
        } else {
            Self::Short
        }
    }

    #[must_use]
    pub fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::Immutable => "public, max-age=31536000, immutable",
            Self::Short => "public, max-age=3600",
            Self::Revalidate => "no-cache",
            Self::NoStore => "no-store",
        })
    }
}

fn last_segment(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Middleware: adds the security headers and the cache policy to every
/// response (a handler that set its own `Cache-Control` keeps it).
pub async fn headers(request: Request, next: Next) -> Response {
    let policy = CachePolicy::for_path(request.uri().path());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let fixed: [(HeaderName, &'static str); 7] = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
        ),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, policy.header_value());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::CachePolicy::{self, *};

    #[test]
    fn each_path_gets_the_cache_policy_of_what_it_serves() {
        for (path, want) in [
            ("/graphql", NoStore),
            ("/graphql/ws", NoStore),
            ("/api/topics/3/opinions.csv", NoStore),
            ("/api/topics/3/report.html", NoStore),
            ("/metrics", NoStore),
            ("/assets/index-Ab12Cd.js", Immutable),
            ("/assets/TopicPage-9f8e.css", Immutable),
            ("/", Revalidate),
            ("/index.html", Revalidate),
            ("/topics/12", Revalidate),
            ("/admin/topics/12/results", Revalidate),
            ("/favicon.svg", Short),
        ] {
            assert_eq!(CachePolicy::for_path(path), want, "{path}");
        }
    }
}
