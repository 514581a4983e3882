//! `/graphql` over HTTP: POST with a JSON body, GET with the query in the
//! URL (queries only), following GraphQL over HTTP.
//!
//! The body is read and parsed here rather than by async-graphql-axum's
//! extractor, so that every refusal is a JSON error with `extensions.code`:
//! `BAD_REQUEST` (malformed JSON, invalid UTF-8, batches, missing query),
//! `PAYLOAD_TOO_LARGE` (413) and `UNSUPPORTED_MEDIA_TYPE` (415).
//!
//! Responses are `application/graphql-response+json` when the client names
//! it in `Accept`; then a request that fails to parse or validate is
//! answered 400 without `data`. Otherwise (`application/json`, `*/*`, or no
//! `Accept`, as legacy clients send) they are `application/json`, status 200.

use std::net::SocketAddr;
use std::sync::Arc;

use async_graphql::http::{playground_source, GraphQLPlaygroundConfig};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType,
};
use async_graphql::Positioned;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use super::response_cache::Key;
use super::{AppState, MAX_BODY_BYTES};
use crate::graphql::context::{CountersRead, RequestAuth};
use crate::graphql::error::label_uncoded_errors;
use crate::rate_limit::ClientIp;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
/// Marks an answer served again from the response cache (for operators and
/// tests; the body is what running the query would give).
const REUSED_HEADER: &str = "x-cache";

pub async fn post(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let media = ResponseMedia::from_headers(&parts.headers);
    if !is_json(&parts.headers) {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "send the request as Content-Type: application/json",
        );
    }
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "the request body is larger than 256 KiB",
            )
        }
    };
    let mut request = match parse_body(&bytes) {
        Ok(request) => request,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, "BAD_REQUEST", &message),
    };
    state.documents.prepare(&mut request);
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let kept = Key::for_request(&bytes, &mut request, authorization);
    let ip = client_ip(&state, &parts);
    let Some(key) = kept else {
        return execute(&state, &parts.headers, ip, request, media, None).await;
    };
    if let Some(reused) = reuse(&state, &key, media) {
        return reused;
    }
    let _turn = state.responses.turn(&key).await;
    // Whoever held the turn may just have kept the answer.
    if let Some(reused) = reuse(&state, &key, media) {
        return reused;
    }
    execute(&state, &parts.headers, ip, request, media, Some(key)).await
}

/// The kept answer for `key`, when it is still good.
fn reuse(state: &AppState, key: &Key, media: ResponseMedia) -> Option<Response> {
    let body = state.responses.get(key, &state.services.tallies)?;
    let mut resp = respond(body, StatusCode::OK, media, None);
    resp.headers_mut()
        .insert(REUSED_HEADER, HeaderValue::from_static("hit"));
    Some(resp)
}

/// The JSON body as one request; the reason when it is not one.
fn parse_body(bytes: &[u8]) -> Result<async_graphql::Request, String> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        return Err(
            "batched requests (a JSON array) are not supported: send one request per POST".into(),
        );
    }
    if first != Some(&b'{') {
        return Err("the body must be a JSON object with a \"query\" string".into());
    }
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the body is not valid JSON: {e}"))?;
    match value.get("query") {
        Some(serde_json::Value::String(_)) => {}
        Some(_) => return Err("\"query\" must be a string".into()),
        None => return Err("the body has no \"query\"".into()),
    }
    if let Some(v) = value.get("variables") {
        if !(v.is_object() || v.is_null()) {
            return Err("\"variables\" must be an object".into());
        }
    }
    serde_json::from_value(value).map_err(|e| format!("invalid request: {e}"))
}

/// Whether the request says its body is JSON (`application/json`, with any
/// parameters). A missing Content-Type is refused too.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// The client address for rate limits: the socket peer, or the forwarded
/// address when the peer is a trusted proxy.
fn client_ip(state: &AppState, parts: &axum::http::request::Parts) -> ClientIp {
    ClientIp(client_address(state, &parts.headers, &parts.extensions))
}

/// [`client_ip`] for a handler that holds the headers and extensions apart
/// (the WebSocket upgrade).
pub(super) fn client_address(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    extensions: &axum::http::Extensions,
) -> Option<std::net::IpAddr> {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    state.services.limits.client_ip(peer, forwarded)
}

/// GET runs queries from the URL (never mutations); with no query it shows
/// the playground (outside production).
pub async fn get(State(state): State<AppState>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let raw = parts.uri.query().unwrap_or_default();
    if raw.is_empty() {
        return if state.services.settings.production {
            refuse(StatusCode::BAD_REQUEST, "BAD_REQUEST", "missing query")
        } else {
            Html(playground_source(GraphQLPlaygroundConfig::new("/graphql"))).into_response()
        };
    }
    let media = ResponseMedia::from_headers(&parts.headers);
    let mut request = match async_graphql::http::parse_query_string(raw) {
        Ok(request) => request,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                &format!("invalid query string: {e}"),
            )
        }
    };
    state.documents.prepare(&mut request);
    if is_mutation(&mut request) {
        let mut response = refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "BAD_REQUEST",
            "mutations must be sent with POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let ip = client_ip(&state, &parts);
    execute(&state, &parts.headers, ip, request, media, None).await
}

/// Whether the operation the request selects is a mutation (or a
/// subscription, which GET cannot serve either).
fn is_mutation(request: &mut async_graphql::Request) -> bool {
    let name = request.operation_name.clone();
    let Ok(doc) = request.parsed_query() else {
        return false; // execution reports the syntax error
    };
    matches!(
        selected_operation(doc, name.as_deref()).map(|op| op.node.ty),
        Some(OperationType::Mutation | OperationType::Subscription)
    )
}

/// The operation of `doc` the request runs: the only one, or the one it
/// names.
pub(super) fn selected_operation<'d>(
    doc: &'d ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'d Positioned<OperationDefinition>> {
    match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// The media type of the answer, from the client's `Accept`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ResponseMedia {
    /// Legacy: `application/json`, always 200.
    Json,
    /// `application/graphql-response+json`: request errors are 400.
    GraphqlResponse,
}

impl ResponseMedia {
    fn from_headers(headers: &HeaderMap) -> Self {
        let accept = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let wants = |media: &str| {
            accept.split(',').any(|part| {
                part.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case(media))
            })
        };
        if wants(GRAPHQL_RESPONSE_JSON) {
            Self::GraphqlResponse
        } else {
            Self::Json
        }
    }
}

async fn execute(
    state: &AppState,
    headers: &HeaderMap,
    ip: ClientIp,
    request: async_graphql::Request,
    media: ResponseMedia,
    keep_as: Option<Key>,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let auth = RequestAuth::from_header(authorization, &state.services.jwt);
    let mut request = request.data(auth).data(ip);
    // Only an answer that may be kept learns which counters it read.
    let counters = keep_as.as_ref().map(|_| Arc::new(CountersRead::default()));
    if let Some(counters) = &counters {
        request = request.data(counters.clone());
    }
    let mut response = match crate::graphql::limits::check_fields(&mut request) {
        Ok(()) => state.schema.execute(request).await,
        Err(refused) => async_graphql::Response::from_errors(vec![refused]),
    };
    label_uncoded_errors(&mut response);
    // A request error: nothing ran (parse, validation or limits).
    let request_error = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
        && response.errors.iter().all(|e| {
            e.extensions
                .as_ref()
                .and_then(|ext| ext.get("code"))
                .is_some_and(|c| *c == async_graphql::Value::from("GRAPHQL_VALIDATION_FAILED"))
        });
    // Written straight out: a large result goes to bytes once, not through
    // a JSON tree first.
    let (body, status) = if request_error && media == ResponseMedia::GraphqlResponse {
        let errors = json!({ "errors": response.errors });
        (errors.to_string(), StatusCode::BAD_REQUEST)
    } else {
        let body = serde_json::to_string(&response).unwrap_or_else(|_| "{}".to_owned());
        (body, StatusCode::OK)
    };
    let body = Bytes::from(body);
    if let (Some(key), Some(counters)) = (keep_as, counters) {
        if response.errors.is_empty() {
            state.responses.put(key, body.clone(), counters.take());
        }
    }
    respond(body, status, media, Some(response.http_headers))
}

fn respond(
    body: Bytes,
    status: StatusCode,
    media: ResponseMedia,
    headers: Option<HeaderMap>,
) -> Response {
    let content_type = match media {
        ResponseMedia::Json => "application/json",
        ResponseMedia::GraphqlResponse => GRAPHQL_RESPONSE_JSON,
    };
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(headers) = headers {
        resp.headers_mut().extend(headers);
    }
    resp
}

/// A refusal before execution: JSON `{"errors": [...]}` with a code.
pub(super) fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// The body-limit layer answers 413 in plain text; say it in JSON, like
/// every other refusal.
pub async fn json_payload_too_large(response: Response) -> Response {
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE
        && response.headers().get(header::CONTENT_TYPE)
            != Some(&HeaderValue::from_static("application/json"))
    {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "the request body is larger than 256 KiB",
        )
    } else {
        response
    }
}

/// Other methods on `/graphql`.
pub async fn method_not_allowed(method: Method) -> Response {
    let mut resp = refuse(
        StatusCode::METHOD_NOT_ALLOWED,
        "BAD_REQUEST",
        &format!("{method} is not supported on /graphql: use GET or POST"),
    );
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
    resp
}
