//! `/graphql/ws`: subscriptions over graphql-transport-ws (and the older
//! graphql-ws), held to the same limits as `/graphql`.
//!
//! - Only subscriptions are served: a query or mutation sent here is
//!   answered `BAD_USER_INPUT` (it belongs on `/graphql`, where per-address
//!   rate limits, the response cache and the field cap apply).
//! - A message is at most [`MAX_BODY_BYTES`], like an HTTP body.
//! - Connections are capped in all and per client address, subscriptions
//!   per connection, and a client that does not send `connection_init` in
//!   time is closed with 4408 (as graphql-transport-ws says).
//! - A subscription ends when its access token expires or a role its user
//!   held when it started is revoked (the rule: `domain::live`).
//!
//! The access token comes in the `connection_init` payload as
//! `{"Authorization": "Bearer …"}` (or `authToken`).

use std::any::TypeId;
use std::collections::HashMap;
use std::net::IpAddr;
use std::str::FromStr as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::http::{WebSocketProtocols, WsMessage, ALL_WEBSOCKET_PROTOCOLS};
use async_graphql::parser::types::OperationType;
use async_graphql::{Data, ErrorExtensions as _, Executor, Pos};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{header, Extensions, HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream};
use futures::{SinkExt as _, StreamExt as _};

use super::graphql::{refuse, selected_operation};
use super::{AppState, MAX_BODY_BYTES};
use crate::auth::jwt::JwtKeys;
use crate::config::ConnectionLimits;
use crate::domain::live::Grant;
use crate::domain::Services;
use crate::graphql::context::RequestAuth;
use crate::graphql::AppSchema;

/// How often a quiet subscription checks that its grant still holds (every
/// push checks it too).
const RECHECK_EVERY: Duration = Duration::from_secs(30);
/// graphql-transport-ws: "Connection initialisation timeout".
const CLOSE_INIT_TIMEOUT: u16 = 4408;

/// Counts open `/graphql/ws` connections, in all and per client address.
#[derive(Clone, Debug, Default)]
pub struct WsGate {
    open: Arc<Mutex<Open>>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_ip: HashMap<Option<IpAddr>, usize>,
}

/// One admitted connection; gives its place back when dropped.
pub struct Admitted {
    gate: WsGate,
    ip: Option<IpAddr>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.gate.lock();
        open.total -= 1;
        if let Some(n) = open.by_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.by_ip.remove(&self.ip);
            }
        }
    }
}

impl WsGate {
    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        // Counters only: nothing a panic could leave half-done.
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A place for a connection from `ip`, or why there is none.
    fn admit(&self, ip: Option<IpAddr>, limits: &ConnectionLimits) -> Result<Admitted, Full> {
        let mut open = self.lock();
        if open.total >= limits.ws_max_connections {
            return Err(Full::Everywhere);
        }
        let from_ip = open.by_ip.entry(ip).or_default();
        if *from_ip >= limits.ws_max_connections_per_ip {
            return Err(Full::FromThisAddress(limits.ws_max_connections_per_ip));
        }
        *from_ip += 1;
        open.total += 1;
        Ok(Admitted {
            gate: self.clone(),
            ip,
        })
    }
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Full {
    Everywhere,
    FromThisAddress(usize),
}

impl Full {
    fn into_response(self) -> Response {
        match self {
            Self::Everywhere => refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "RATE_LIMITED",
                "too many live connections: try again later",
            ),
            Self::FromThisAddress(max) => refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                &format!("at most {max} live connections from one address"),
            ),
        }
    }
}

/// Upgrades to a GraphQL WebSocket when the caps allow one more.
pub async fn ws(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(protocol) = protocol(&headers) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "name graphql-transport-ws in Sec-WebSocket-Protocol",
        );
    };
    let ip = super::graphql::client_address(&state, &headers, &extensions);
    let limits = state.services.settings.limits.clone();
    let admitted = match state.ws_gate.admit(ip, &limits) {
        Ok(admitted) => admitted,
        Err(full) => return full.into_response(),
    };
    let executor = WsExecutor {
        schema: state.ws_schema.clone(),
        services: state.services.as_ref().clone(),
        subscriptions: Arc::new(AtomicUsize::new(0)),
        max_subscriptions: limits.ws_max_subscriptions,
    };
    let jwt = state.services.jwt.clone();
    upgrade
        .max_message_size(MAX_BODY_BYTES)
        .max_frame_size(MAX_BODY_BYTES)
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            serve(socket, executor, protocol, jwt, limits.ws_init_timeout).await;
            drop(admitted);
        })
}

/// The GraphQL protocol the client asks for.
fn protocol(headers: &HeaderMap) -> Option<WebSocketProtocols> {
    headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())?
        .split(',')
        .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
}

/// Runs the GraphQL protocol on `socket` until either side ends it.
async fn serve(
    socket: WebSocket,
    executor: WsExecutor,
    protocol: WebSocketProtocols,
    jwt: JwtKeys,
    init_timeout: Duration,
) {
    let (mut sink, stream) = socket.split();
    // A read error (a message over the size cap among them) ends the input.
    let input = stream
        .take_while(|res| futures::future::ready(res.is_ok()))
        .filter_map(|msg| {
            futures::future::ready(match msg {
                Ok(msg @ (Message::Text(_) | Message::Binary(_))) => Some(msg.into_data()),
                _ => None,
            })
        });
    let initialised = Arc::new(AtomicBool::new(false));
    let init_seen = initialised.clone();
    let messages = async_graphql::http::WebSocket::new(executor, input, protocol)
        .on_connection_init(move |payload| async move {
            init_seen.store(true, Ordering::Release);
            Ok(session_data(&payload, &jwt))
        })
        .map(|msg| match msg {
            WsMessage::Text(text) => Message::Text(text.into()),
            WsMessage::Close(code, reason) => close(code, &reason),
        });
    futures::pin_mut!(messages);
    let init_deadline = tokio::time::sleep(init_timeout);
    tokio::pin!(init_deadline);
    loop {
        let msg = tokio::select! {
            msg = messages.next() => match msg {
                Some(msg) => msg,
                None => break,
            },
            () = &mut init_deadline, if !initialised.load(Ordering::Acquire) => {
                close(CLOSE_INIT_TIMEOUT, "Connection initialisation timeout")
            }
        };
        let closing = matches!(msg, Message::Close(_));
        if sink.send(msg).await.is_err() || closing {
            break;
        }
    }
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// Who the connection speaks for, from the `connection_init` payload.
#[derive(Debug, Clone, Default)]
struct Session {
    user_id: Option<i32>,
    /// The session (refresh-token family) the access token belongs to.
    sid: Option<String>,
    expires_at: Option<DateTime<Utc>>,
}

fn session_data(payload: &serde_json::Value, jwt: &JwtKeys) -> Data {
    let header = payload
        .get("Authorization")
        .or_else(|| payload.get("authorization"))
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .or_else(|| {
            payload
                .get("authToken")
                .and_then(|v| v.as_str())
                .map(|t| format!("Bearer {t}"))
        });
    let auth = RequestAuth::from_header(header.as_deref(), jwt);
    let claims = auth.claims();
    let session = Session {
        user_id: claims.and_then(|c| c.user_id()),
        sid: claims.map(|c| c.sid.clone()),
        expires_at: claims.and_then(|c| DateTime::from_timestamp(c.exp, 0)),
    };
    let mut data = Data::default();
    data.insert(auth);
    data.insert(session);
    data
}

/// The schema as the WebSocket runs it: subscriptions only, a few per
/// connection, each ending when its grant stops holding.
#[derive(Clone)]
struct WsExecutor {
    schema: AppSchema,
    services: Services,
    /// Subscriptions running on this connection.
    subscriptions: Arc<AtomicUsize>,
    max_subscriptions: usize,
}

/// A running subscription's place on its connection.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn error_response(err: async_graphql::Error) -> async_graphql::Response {
    async_graphql::Response::from_errors(vec![err.into_server_error(Pos::default())])
}

fn refusal(code: &'static str, message: String) -> BoxStream<'static, async_graphql::Response> {
    let err = async_graphql::Error::new(message).extend_with(|_, ext| ext.set("code", code));
    stream::once(futures::future::ready(error_response(err))).boxed()
}

impl Executor for WsExecutor {
    async fn execute(&self, request: async_graphql::Request) -> async_graphql::Response {
        // The WebSocket protocol only ever streams; kept for the trait.
        self.execute_stream(request, None)
            .next()
            .await
            .unwrap_or_default()
    }

    fn execute_stream(
        &self,
        mut request: async_graphql::Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        let name = request.operation_name.clone();
        // A document that does not parse or names no operation is left for
        // the schema to report.
        if let Ok(doc) = request.parsed_query() {
            if let Some(op) = selected_operation(doc, name.as_deref()) {
                if op.node.ty != OperationType::Subscription {
                    return refusal(
                        "BAD_USER_INPUT",
                        "only subscriptions are served over WebSocket: send queries and \
                         mutations to /graphql"
                            .into(),
                    );
                }
            }
        }
        let running = self.subscriptions.fetch_add(1, Ordering::AcqRel);
        let slot = Slot(self.subscriptions.clone());
        if running >= self.max_subscriptions {
            return refusal(
                "RATE_LIMITED",
                format!(
                    "at most {} subscriptions at once on one connection",
                    self.max_subscriptions
                ),
            );
        }
        let session = session_data
            .as_ref()
            .and_then(|d| d.get(&TypeId::of::<Session>()))
            .and_then(|s| (**s).downcast_ref::<Session>())
            .cloned()
            .unwrap_or_default();
        let svc = self.services.clone();
        let inner = Executor::execute_stream(&self.schema, request, session_data);
        guarded(svc, session, inner, slot).boxed()
    }
}

// Lives on the stack for one turn of the loop: boxing would allocate per push.
#[allow(clippy::large_enum_variant)]
enum Wake {
    Push(Option<async_graphql::Response>),
    Expired,
    Check,
}

/// Far enough never to come while a connection lives.
const NEVER: Duration = Duration::from_secs(86_400 * 365);

/// `inner`'s pushes for as long as the session's grant holds; then one
/// error, and the end.
fn guarded(
    svc: Services,
    session: Session,
    mut inner: BoxStream<'static, async_graphql::Response>,
    slot: Slot,
) -> impl futures::Stream<Item = async_graphql::Response> {
    async_stream::stream! {
        let _slot = slot;
        let grant = match Grant::start(&svc, session.user_id, session.sid, session.expires_at).await {
            Ok(grant) => grant,
            Err(e) => {
                yield error_response(e.into());
                return;
            }
        };
        let until_expiry = grant.expires_at().map_or(NEVER, |at| {
            (at - Utc::now()).to_std().unwrap_or(Duration::ZERO)
        });
        let expiry = tokio::time::sleep(until_expiry.min(NEVER));
        tokio::pin!(expiry);
        let mut recheck = tokio::time::interval(RECHECK_EVERY);
        recheck.tick().await;
        loop {
            let wake = tokio::select! {
                push = inner.next() => Wake::Push(push),
                () = &mut expiry => Wake::Expired,
                _ = recheck.tick() => Wake::Check,
            };
            let mut now = Utc::now();
            let push = match wake {
                Wake::Push(None) => break,
                Wake::Push(Some(push)) => Some(push),
                Wake::Expired => {
                    // The timer and the wall clock may disagree by a hair.
                    now = now.max(grant.expires_at().unwrap_or(now));
                    expiry.as_mut().reset(tokio::time::Instant::now() + NEVER);
                    None
                }
                Wake::Check => None,
            };
            // Checked before every push: an answer computed just before a
            // revocation is not sent.
            if let Err(e) = grant.check(&svc, now).await {
                yield error_response(e.into());
                break;
            }
            if let Some(push) = push {
                yield push;
            }
        }
    }
}
