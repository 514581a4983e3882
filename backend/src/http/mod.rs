//! HTTP: routes, limits, static files. Handlers only translate; the work is
//! in `graphql` and `domain`.

mod export;
mod graphql;
mod health;
pub mod metrics;
mod response_cache;
mod security;
mod unsubscribe;
mod ws;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

use crate::domain::Services;
use crate::graphql::documents::DocumentCache;
use crate::graphql::{build_schema, build_ws_schema, AppSchema};

/// The access log's span of a request: method and path, never the query
/// string, which may carry an email link's token (or one a client put there
/// by mistake).
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    tracing::debug_span!(
        "request",
        method = %request.method(),
        path = request.uri().path(),
        version = ?request.version(),
    )
}

/// Largest request body accepted; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Clone)]
pub struct AppState {
    /// Behind an `Arc`: the state is cloned for every request.
    pub services: Arc<Services>,
    pub schema: AppSchema,
    /// The same schema with the field cap as an extension, for WebSocket.
    pub ws_schema: AppSchema,
    /// Answers to results queries, kept while their counters are unchanged.
    pub responses: response_cache::ResponseCache,
    /// Parsed documents by query text.
    pub documents: DocumentCache,
    /// Open `/graphql/ws` connections, counted against their caps.
    pub ws_gate: ws::WsGate,
}

/// The whole application as a router, ready to serve or to test.
pub fn build_app(services: Services) -> Router {
    metrics::init();
    let metrics_access = metrics::Access::public(services.settings.metrics_token.as_ref());
    let static_dir = services.settings.static_dir.clone();
    let state = AppState {
        schema: build_schema(Some(services.clone())),
        ws_schema: build_ws_schema(Some(services.clone())),
        responses: response_cache::ResponseCache::default(),
        documents: DocumentCache::default(),
        ws_gate: ws::WsGate::default(),
        services: Arc::new(services),
    };
    let index = static_dir.join("index.html");
    let spa = ServeDir::new(&static_dir)
        .precompressed_gzip()
        .precompressed_br()
        .fallback(ServeFile::new(index));

    Router::new()
        .route(
            "/graphql",
            get(graphql::get)
                .post(graphql::post)
                .fallback(graphql::method_not_allowed),
        )
        .route("/graphql/ws", get(ws::ws))
        .route("/api/topics/{id}/opinions.csv", get(export::opinions_csv))
        .route("/api/topics/{id}/{file}", get(export::report))
        .route(
            "/api/unsubscribe",
            get(unsubscribe::confirm).post(unsubscribe::unsubscribe),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::render).with_state(metrics_access))
        .fallback_service(spa)
        .layer(axum::middleware::from_fn(security::headers))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(
            graphql::json_payload_too_large,
        ))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .with_state(state)
}
