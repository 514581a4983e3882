//! Limits on every door: `/metrics` and `/graphql/ws` attacked over real
//! HTTP and WebSocket. Each attack is refused with a code and the server
//! goes on serving.

use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use yishi_tests::{
    codes, db_tests, spawn_app, spawn_app_with, topic_input, Account, Backend, TestApp,
};

const METRICS_TOKEN: &str = "scrape-token-for-tests-0123456789";

db_tests!(
    metrics_labels_take_no_value_a_client_chooses,
    the_public_port_shows_metrics_only_to_the_token,
    queries_and_mutations_over_websocket_are_refused,
    a_websocket_message_over_the_body_cap_ends_the_connection,
    a_websocket_client_that_never_says_connection_init_is_closed,
    websocket_connections_and_subscriptions_are_capped,
    a_subscription_ends_when_its_access_token_expires,
    a_subscription_ends_when_the_role_it_relied_on_is_revoked,
    a_subscription_ends_when_its_session_is_signed_out,
);

async fn metrics_text(app: &TestApp) -> String {
    let resp = app
        .client
        .get(format!("{}/metrics", app.url))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .expect("metrics answer");
    assert_eq!(resp.status(), 200);
    resp.text().await.expect("metrics text")
}

async fn metrics_labels_take_no_value_a_client_chooses(backend: Backend) {
    let app = spawn_app_with(backend, &[("YISHI_METRICS_TOKEN", METRICS_TOKEN)]).await;
    let marker = uuid::Uuid::new_v4().simple().to_string()[..8].to_uppercase();
    for i in 0..20 {
        let method = reqwest::Method::from_bytes(format!("X{marker}{i}").as_bytes()).unwrap();
        let resp = app
            .client
            .request(method.clone(), format!("{}/graphql", app.url))
            .send()
            .await
            .expect("answered");
        assert_eq!(resp.status(), 405, "{method}");
        app.client
            .get(format!("{}/no/such/page/{marker}{i}", app.url))
            .send()
            .await
            .expect("answered");
    }
    let text = metrics_text(&app).await;
    assert!(
        !text.contains(&marker),
        "a client's method or path became a label:\n{text}"
    );
    assert!(
        text.contains(r#"method="OTHER",path="/graphql",status="405""#),
        "{text}"
    );
    for line in text
        .lines()
        .filter(|l| l.starts_with("http_requests_total"))
    {
        assert!(
            ["GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH", "OTHER"]
                .iter()
                .any(|m| line.contains(&format!("method=\"{m}\""))),
            "{line}"
        );
        let path = line
            .split("path=\"")
            .nth(1)
            .and_then(|p| p.split('"').next());
        assert!(
            path.is_some_and(|p| p == "static"
                || p.starts_with("/graphql")
                || p.starts_with("/api/")
                || ["/healthz", "/readyz", "/metrics"].contains(&p)),
            "{line}"
        );
    }
}

async fn the_public_port_shows_metrics_only_to_the_token(backend: Backend) {
    // By default the public port has no metrics at all.
    let app = spawn_app(backend).await;
    app.client
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    let resp = app
        .client
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert!(!resp.text().await.unwrap().contains("http_requests_total"));
    drop(app);

    let app = spawn_app_with(backend, &[("YISHI_METRICS_TOKEN", METRICS_TOKEN)]).await;
    for bearer in [None, Some("wrong-token-wrong-token"), Some("")] {
        let mut req = app.client.get(format!("{}/metrics", app.url));
        if let Some(bearer) = bearer {
            req = req.bearer_auth(bearer);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401, "{bearer:?}");
        assert!(!resp.text().await.unwrap().contains("http_requests_total"));
    }
    assert!(metrics_text(&app).await.contains("http_requests_total"));
}

// ---------------------------------------------------------------------------
// A graphql-transport-ws client.

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn ws_url(app: &TestApp) -> String {
    format!("{}/graphql/ws", app.url.replacen("http://", "ws://", 1))
}

/// Opens the socket (no `connection_init` yet), or the handshake's error.
async fn try_connect(app: &TestApp) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let mut request = ws_url(app).into_client_request().expect("URL");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(ws, _)| ws)
}

/// Opens the socket and completes `connection_init` with `token`, if any.
async fn connect(app: &TestApp, token: Option<&str>) -> Socket {
    let mut ws = try_connect(app).await.expect("WebSocket handshake");
    let payload = token.map_or(
        json!({}),
        |t| json!({ "Authorization": format!("Bearer {t}") }),
    );
    send(
        &mut ws,
        json!({ "type": "connection_init", "payload": payload }),
    )
    .await;
    let ack = next_json(&mut ws).await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    ws
}

async fn send(ws: &mut Socket, message: Value) {
    ws.send(Message::Text(message.to_string().into()))
        .await
        .expect("message sent");
}

/// The next message as JSON, within 10 s.
async fn next_json(ws: &mut Socket) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s")
            .expect("the socket is open")
            .expect("a message");
        match msg {
            Message::Text(text) => return serde_json::from_str(&text).expect("JSON message"),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected message: {other:?}"),
        }
    }
}

/// How the socket ended within `within`: the close frame's code, if one came.
async fn closed_within(ws: &mut Socket, within: Duration) -> Option<u16> {
    let ended = tokio::time::timeout(within, async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) => return None,
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    ended.unwrap_or_else(|_| panic!("the socket was still open after {within:?}"))
}

const LIVE_RESULTS: &str =
    "subscription($t: ID!) { topicResults(topicId: $t) { topicId overall { total } } }";

async fn subscribe(ws: &mut Socket, id: &str, topic: &str) {
    send(
        ws,
        json!({ "id": id, "type": "subscribe",
                "payload": { "query": LIVE_RESULTS, "variables": { "t": topic } } }),
    )
    .await;
}

/// An open DECISION topic of 夏官营镇 and its organiser.
async fn open_topic(app: &TestApp) -> (String, Account) {
    app.open_topic(
        codes::XIAGUANYING,
        topic_input(codes::XIAGUANYING, "DECISION"),
    )
    .await
}

async fn vote(app: &TestApp, token: &str, topic: &str) {
    app.ok(
        Some(token),
        "mutation($t: ID!) { submitOpinion(topicId: $t, stance: SUPPORT) { id } }",
        json!({ "t": topic }),
    )
    .await;
}

// ---------------------------------------------------------------------------

async fn queries_and_mutations_over_websocket_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut ws = connect(&app, None).await;
    for (id, query) in [
        ("q", "{ division(code: \"62\") { name } }"),
        (
            "m",
            "mutation { login(email: \"a@example.cn\", password: \"x\") { accessToken } }",
        ),
    ] {
        send(
            &mut ws,
            json!({ "id": id, "type": "subscribe", "payload": { "query": query } }),
        )
        .await;
        let msg = next_json(&mut ws).await;
        assert_eq!(msg["id"], id, "{msg}");
        let complete = next_json(&mut ws).await;
        assert_eq!(complete, json!({ "id": id, "type": "complete" }));
        let errors = if msg["type"] == "error" {
            msg["payload"].clone()
        } else {
            msg["payload"]["errors"].clone()
        };
        assert_eq!(errors[0]["extensions"]["code"], "BAD_USER_INPUT", "{msg}");
        assert!(msg["payload"]["data"].is_null(), "nothing ran: {msg}");
    }
    // The connection still serves subscriptions.
    let (topic, _) = open_topic(&app).await;
    subscribe(&mut ws, "s", &topic).await;
    let first = next_json(&mut ws).await;
    assert_eq!(first["type"], "next", "{first}");
    assert_eq!(first["payload"]["data"]["topicResults"]["topicId"], topic);
}

async fn a_websocket_message_over_the_body_cap_ends_the_connection(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut ws = connect(&app, None).await;
    let huge = format!(
        r#"{{"id":"1","type":"subscribe","payload":{{"query":"subscription {{ x }}","pad":"{}"}}}}"#,
        "x".repeat(1024 * 1024)
    );
    // The server may close while the message is still being written.
    let _ = ws.send(Message::Text(huge.into())).await;
    let code = closed_within(&mut ws, Duration::from_secs(10)).await;
    assert!(
        code.is_none_or(|c| c == u16::from(CloseCode::Size) || c == u16::from(CloseCode::Protocol)),
        "closed with {code:?}"
    );
    // A message just under the cap is fine.
    let mut ws = connect(&app, None).await;
    let (topic, _) = open_topic(&app).await;
    send(
        &mut ws,
        json!({ "id": "s", "type": "subscribe", "payload": {
            "query": format!("{LIVE_RESULTS} #{}", "x".repeat(200 * 1024)),
            "variables": { "t": topic } } }),
    )
    .await;
    assert_eq!(next_json(&mut ws).await["type"], "next");
}

async fn a_websocket_client_that_never_says_connection_init_is_closed(backend: Backend) {
    let app = spawn_app_with(backend, &[("YISHI_WS_INIT_TIMEOUT_SECS", "1")]).await;
    let started = std::time::Instant::now();
    let mut ws = try_connect(&app).await.expect("handshake");
    let code = closed_within(&mut ws, Duration::from_secs(5)).await;
    assert_eq!(code, Some(4408));
    assert!(started.elapsed() >= Duration::from_millis(900));
    // One that says it in time stays.
    let mut ws = connect(&app, None).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (topic, _) = open_topic(&app).await;
    subscribe(&mut ws, "s", &topic).await;
    assert_eq!(next_json(&mut ws).await["type"], "next");
}

async fn websocket_connections_and_subscriptions_are_capped(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("YISHI_WS_MAX_CONNECTIONS_PER_IP", "2"),
            ("YISHI_WS_MAX_SUBSCRIPTIONS", "2"),
        ],
    )
    .await;
    let (topic, _) = open_topic(&app).await;
    let mut first = connect(&app, None).await;
    let second = connect(&app, None).await;
    match try_connect(&app).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 429);
            let body: Value = serde_json::from_slice(resp.body().as_deref().unwrap_or_default())
                .expect("JSON refusal");
            assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
        }
        other => panic!("a third connection from one address was not refused: {other:?}"),
    }
    // A closed connection gives its place back.
    drop(second);
    let mut third = None;
    for _ in 0..50 {
        if let Ok(ws) = try_connect(&app).await {
            third = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        third.is_some(),
        "the place of a closed connection came back"
    );

    for id in ["a", "b"] {
        subscribe(&mut first, id, &topic).await;
        assert_eq!(next_json(&mut first).await["type"], "next");
    }
    subscribe(&mut first, "c", &topic).await;
    let refused = next_json(&mut first).await;
    assert_eq!(refused["id"], "c", "{refused}");
    let errors = if refused["type"] == "error" {
        refused["payload"].clone()
    } else {
        refused["payload"]["errors"].clone()
    };
    assert_eq!(errors[0]["extensions"]["code"], "RATE_LIMITED", "{refused}");
    // Stopping one makes room for another.
    send(&mut first, json!({ "id": "a", "type": "complete" })).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    subscribe(&mut first, "d", &topic).await;
    loop {
        let msg = next_json(&mut first).await;
        if msg["id"] == "d" {
            assert_eq!(msg["type"], "next", "{msg}");
            break;
        }
    }
}

/// The messages for subscription `id` until it completes (pushes of other
/// subscriptions skipped), within `within`.
async fn until_complete(ws: &mut Socket, id: &str, within: Duration) -> Vec<Value> {
    tokio::time::timeout(within, async {
        let mut seen = Vec::new();
        loop {
            let msg = next_json(ws).await;
            if msg["id"] != id {
                continue;
            }
            if msg["type"] == "complete" {
                return seen;
            }
            seen.push(msg);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("subscription {id} did not end within {within:?}"))
}

fn first_error_code(msg: &Value) -> Option<&str> {
    let errors = if msg["type"] == "error" {
        &msg["payload"]
    } else {
        &msg["payload"]["errors"]
    };
    errors[0]["extensions"]["code"].as_str()
}

async fn a_subscription_ends_when_its_access_token_expires(backend: Backend) {
    let app = spawn_app(backend).await;
    let (topic, organiser) = open_topic(&app).await;
    // A token that expires in 3 s, signed with the server's key.
    let user_id: i32 = organiser.id.parse().unwrap();
    let ttl = app.services.jwt.ttl();
    let issued = chrono::Utc::now() - chrono::Duration::from_std(ttl).unwrap()
        + chrono::Duration::seconds(3);
    let (short_lived, expires_at) = app.services.jwt.issue(user_id, issued);
    let mut ws = connect(&app, Some(&short_lived)).await;
    subscribe(&mut ws, "s", &topic).await;
    let messages = until_complete(&mut ws, "s", Duration::from_secs(15)).await;
    // The token's `exp` is in whole seconds.
    let now = chrono::Utc::now();
    assert!(
        now.timestamp() >= expires_at.timestamp(),
        "ended at {now}, before the expiry at {expires_at}"
    );
    assert_eq!(messages[0]["type"], "next");
    assert!(
        messages[0]["payload"]["errors"].is_null(),
        "{}",
        messages[0]
    );
    let last = messages.last().unwrap();
    assert_eq!(first_error_code(last), Some("UNAUTHENTICATED"), "{last}");
}

async fn a_subscription_ends_when_the_role_it_relied_on_is_revoked(backend: Backend) {
    let app = spawn_app(backend).await;
    let (topic, organiser) = open_topic(&app).await;
    let resident = app.resident(codes::GUODIANZI).await;
    let mut ws = connect(&app, Some(&organiser.access_token)).await;
    subscribe(&mut ws, "s", &topic).await;
    assert_eq!(next_json(&mut ws).await["type"], "next");
    app.execute(&format!(
        "DELETE FROM role_assignments WHERE user_id = {}",
        organiser.id
    ))
    .await;
    // The next push would carry the counts: it is not sent.
    vote(&app, &resident.access_token, &topic).await;
    let messages = until_complete(&mut ws, "s", Duration::from_secs(15)).await;
    assert_eq!(
        messages.len(),
        1,
        "no push after the revocation: {messages:?}"
    );
    assert_eq!(
        first_error_code(&messages[0]),
        Some("FORBIDDEN"),
        "{}",
        messages[0]
    );
    assert!(messages[0]["payload"]["data"].is_null());
}

async fn a_subscription_ends_when_its_session_is_signed_out(backend: Backend) {
    let app = spawn_app(backend).await;
    let (topic, organiser) = open_topic(&app).await;
    let resident = app.resident(codes::GUODIANZI).await;
    let mut ws = connect(&app, Some(&organiser.access_token)).await;
    subscribe(&mut ws, "s", &topic).await;
    assert_eq!(next_json(&mut ws).await["type"], "next");
    app.ok(
        Some(&organiser.access_token),
        "mutation($t: String!) { logout(refreshToken: $t) }",
        json!({ "t": organiser.refresh_token }),
    )
    .await;
    // The next push would carry the exact counts: it is not sent.
    vote(&app, &resident.access_token, &topic).await;
    let messages = until_complete(&mut ws, "s", Duration::from_secs(15)).await;
    assert_eq!(
        messages.len(),
        1,
        "no push after the sign-out: {messages:?}"
    );
    assert_eq!(
        first_error_code(&messages[0]),
        Some("UNAUTHENTICATED"),
        "{}",
        messages[0]
    );
}
