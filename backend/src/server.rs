//! Serving a router on a listener, with the limits `axum::serve` lacks: a
//! client must send a request's headers within
//! `header_read_timeout` (else a client dribbling a
//! byte a second holds a connection for ever: slowloris), and at most
//! `max_connections` (see [`crate::config::ConnectionLimits`]) connections are open at once (more
//! are answered 503 and closed).
//!
//! HTTP/1.1 only, with upgrades (WebSocket): HTTP/2 would need the version
//! sniffed from the first bytes, a read no timeout covers; browsers speak
//! HTTP/2 only over TLS, which a reverse proxy ends anyway.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt as _;

use crate::config::Settings;

/// How long requests in flight may take to finish after shutdown begins.
const DRAIN_WITHIN: Duration = Duration::from_secs(30);

/// What a client over the connection cap reads before the socket closes.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
connection: close\r\nretry-after: 1\r\ncontent-length: 93\r\n\r\n\
{\"errors\":[{\"message\":\"the server is busy: try again\",\"extensions\":{\"code\":\"RATE_LIMITED\"}}]}";

/// Serves `router` on `listener` until `shutdown` completes, then lets the
/// requests in flight finish (up to 30 s). Each request carries the peer's
/// address as `ConnectInfo<SocketAddr>`, as with
/// `into_make_service_with_connect_info`.
///
/// # Errors
/// Never at present: accept errors (out of file descriptors, a connection
/// reset before it was accepted) are logged and serving goes on.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: &Settings,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let limits = &settings.limits;
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    // Tells every connection to finish its request and close.
    let (closing, closing_seen) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            turn_away(&stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request)
        });
        let connection = http
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let closing = closed(closing_seen.clone());
        tokio::spawn(async move {
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = closing => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    let _ = closing.send(true);
    // Every place given back: every connection has closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN_WITHIN, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("requests still running {DRAIN_WITHIN:?} after shutdown began");
    }
    Ok(())
}

/// Completes once shutdown has begun.
async fn closed(mut closing: watch::Receiver<bool>) {
    let _ = closing.wait_for(|closing| *closing).await;
}

/// Answers a connection over the cap with 503 (if its buffer takes it at
/// once) and closes it.
fn turn_away(stream: &TcpStream) {
    let _ = stream.try_write(BUSY);
    tracing::debug!("connection refused: at the connection cap");
}

/// Waits a little after an accept error, so running out of file
/// descriptors does not spin (as `axum::serve` does).
async fn accept_failed(e: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_busy_answer_says_its_length_right() {
        let text = std::str::from_utf8(super::BUSY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(serde_json::from_str::<serde_json::Value>(body).is_ok());
    }
}
