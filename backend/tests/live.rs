//! Real `yishi serve` processes: live results (`topicResults` over
//! `/graphql/ws`) on one SQLite instance and across two instances sharing one
//! PostgreSQL database (LISTEN/NOTIFY); and faults — `kill -9` during a
//! submission storm, a backup taken while the server writes.
//!
//! PostgreSQL is found at `YISHI_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). It is required: the tests
//! on PostgreSQL fail, never skip, when the server is not there.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::{SinkExt as _, StreamExt as _};
use sea_orm::{ConnectionTrait as _, Database};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use yishi::config::Settings;
use yishi::domain::authz::Role;
use yishi::domain::divisions::import;
use yishi::domain::Services;

/// The same on every instance, so a token issued by one is valid on another.
const JWT_SECRET: &str = "live-test-secret-live-test-secret-0123456789";
const PASSWORD: &str = "议事-村口-2026-槐树";
/// 夏官营镇 (a township of 榆中县): the scope of the test topics.
const XIAGUANYING: &str = "620123101";
/// 过店子村 in 夏官营镇
const GUODIANZI: &str = "620123101201";
/// 太平堡村 in 夏官营镇
const TAIPINGBAO: &str = "620123101202";

const READY_WITHIN: Duration = Duration::from_secs(30);
const PUSH_WITHIN: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// A fresh PostgreSQL database, dropped with its guard (also on panic).

fn pg_admin_url() -> String {
    std::env::var("YISHI_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

struct PgDatabase {
    url: String,
    name: String,
}

impl PgDatabase {
    async fn create() -> Self {
        let admin = pg_admin_url();
        let name = format!("yishi_live_{}", uuid::Uuid::new_v4().simple());
        // No skipping: a missing PostgreSQL must fail the test, not hide it.
        let conn = Database::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL must be reachable at {admin}: {e}"));
        conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
        let _ = conn.close().await;
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        Self {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.name);
        // Drop is not async: a short-lived runtime on a thread of its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                match Database::connect(pg_admin_url()).await {
                    Ok(conn) => {
                        if let Err(e) = conn
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .await
                        {
                            eprintln!("could not drop test database {name}: {e}");
                        }
                        let _ = conn.close().await;
                    }
                    Err(e) => eprintln!("could not drop test database {name}: {e}"),
                }
            });
        })
        .join();
    }
}

// ---------------------------------------------------------------------------
// `yishi serve` as a child process, killed with its guard.

struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    url: String,
    log: PathBuf,
}

impl Server {
    /// Starts `yishi serve` on `database_url` and waits for `/readyz`.
    /// Retries on another port if the one picked was taken meanwhile.
    async fn start(database_url: &str, dir: &Path, name: &str) -> Self {
        Self::start_logging(database_url, dir, name, "info").await
    }

    /// Like [`Server::start`], logging at `level` (a `YISHI_LOG` filter).
    async fn start_logging(database_url: &str, dir: &Path, name: &str, level: &str) -> Self {
        let data_dir = dir.join(name);
        std::fs::create_dir_all(&data_dir).expect("data dir");
        let log = dir.join(format!("{name}.log"));
        let client = http_client();
        for _attempt in 0..3 {
            let port = free_port();
            let out = File::create(&log).expect("log file");
            let child = Command::new(env!("CARGO_BIN_EXE_yishi"))
                .arg("serve")
                .current_dir(&data_dir)
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("DATABASE_URL", database_url)
                .env("YISHI_BIND", format!("127.0.0.1:{port}"))
                .env("YISHI_JWT_SECRET", JWT_SECRET)
                .env("YISHI_DATA_DIR", &data_dir)
                .env("YISHI_STATIC_DIR", data_dir.join("static"))
                .env("YISHI_DEMO_DATA", "false")
                .env("YISHI_ARGON2_MEMORY_KIB", "256")
                .env("YISHI_NOTICE_PERIOD_HOURS", "0")
                .env("YISHI_SCHEDULER_INTERVAL_SECS", "1")
                .env("YISHI_LOG", level)
                .stdin(Stdio::null())
                .stdout(out.try_clone().expect("log file"))
                .stderr(out)
                .spawn()
                .expect("yishi serve starts");
            let mut server = Self {
                child,
                url: format!("http://127.0.0.1:{port}"),
                log: log.clone(),
            };
            let deadline = Instant::now() + READY_WITHIN;
            loop {
                if let Ok(Some(status)) = server.child.try_wait() {
                    let text = server.log_text();
                    if text.contains("cannot listen") {
                        break; // the port was taken: try another
                    }
                    panic!("{name}: yishi serve exited with {status} before it was ready:\n{text}");
                }
                if let Ok(resp) = client.get(format!("{}/readyz", server.url)).send().await {
                    if resp.status() == reqwest::StatusCode::OK {
                        return server;
                    }
                }
                assert!(
                    Instant::now() < deadline,
                    "{name}: /readyz was not 200 within {READY_WITHIN:?}:\n{}",
                    server.log_text()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        panic!("{name}: no free port after 3 attempts");
    }

    fn ws_url(&self) -> String {
        format!("{}/graphql/ws", self.url.replacen("http://", "ws://", 1))
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- log of {} ----\n{}", self.url, self.log_text());
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

// ---------------------------------------------------------------------------
// GraphQL over HTTP.

struct Api {
    client: reqwest::Client,
    url: String,
}

impl Api {
    fn new(server: &Server) -> Self {
        Self {
            client: http_client(),
            url: format!("{}/graphql", server.url),
        }
    }

    async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self
            .client
            .post(&self.url)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.expect("request sent");
        resp.json().await.expect("JSON response")
    }

    /// Like [`Api::gql`], asserting there were no errors; returns `data`.
    async fn ok(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let resp = self.gql(token, query, variables).await;
        assert!(resp.get("errors").is_none(), "unexpected errors: {resp:#}");
        resp["data"].clone()
    }

    /// Registers a new account; returns its id and access token.
    async fn register(&self, display_name: &str) -> (i32, String) {
        let email = format!("{}@example.cn", uuid::Uuid::new_v4().simple());
        self.ok(
            None,
            "mutation($input: RegisterInput!) { register(input: $input) { email } }",
            json!({ "input": { "email": email, "password": PASSWORD, "displayName": display_name } }),
        )
        .await;
        // Registering never signs in (a taken address gets the same answer).
        let data = self
            .ok(
                None,
                "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken user { id } } }",
                json!({ "e": email, "p": PASSWORD }),
            )
            .await;
        let id = data["login"]["user"]["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("numeric user id");
        let token = data["login"]["accessToken"]
            .as_str()
            .expect("access token")
            .to_owned();
        (id, token)
    }

    async fn vote(&self, token: &str, topic_id: &str, stance: &str) {
        self.ok(
            Some(token),
            "mutation($t: ID!, $s: Stance) { submitOpinion(topicId: $t, stance: $s) { id } }",
            json!({ "t": topic_id, "s": stance }),
        )
        .await;
    }
}

// ---------------------------------------------------------------------------
// Setup: divisions, an organiser, residents and an open DECISION topic.

/// Services of the test's own, on the database the servers migrated, for
/// what has no API (importing divisions, the first role, granting residency).
async fn services(database_url: &str, dir: &Path) -> Services {
    let vars = [
        ("DATABASE_URL", database_url.to_owned()),
        ("YISHI_JWT_SECRET", JWT_SECRET.to_owned()),
        ("YISHI_DATA_DIR", dir.display().to_string()),
        ("YISHI_DEMO_DATA", "false".to_owned()),
        ("YISHI_ARGON2_MEMORY_KIB", "256".to_owned()),
    ];
    let settings = Settings::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .expect("valid settings");
    let svc = yishi::init_services(settings)
        .await
        .expect("services connect");
    // 甘肃省 → 兰州市 → 榆中县 → 夏官营镇 and its villages.
    let rows: Vec<import::Row> = import::parse(yishi::domain::demo::GANSU_DIVISIONS_CSV)
        .expect("shipped divisions parse")
        .into_iter()
        .filter(|r| r.code.starts_with(XIAGUANYING) || XIAGUANYING.starts_with(r.code.as_str()))
        .collect();
    import::import_rows(&svc.db, rows, |_, _| {})
        .await
        .expect("divisions import");
    svc
}

struct Scenario {
    organiser: String,
    residents: Vec<String>,
    topic_id: String,
}

/// An organiser of 夏官营镇, residents of the given villages, and an open
/// DECISION topic scoped to the township (announced and opened by hand).
async fn open_topic(api: &Api, svc: &Services, villages: &[&str]) -> Scenario {
    let (organiser_id, organiser) = api.register("镇组织者").await;
    yishi::domain::roles::bootstrap(svc, organiser_id, Role::Organiser, XIAGUANYING)
        .await
        .unwrap_or_else(|e| panic!("bootstrap organiser: {e:?}"));
    let mut residents = Vec::new();
    for village in villages {
        let (id, token) = api.register("居民").await;
        yishi::domain::residency::grant(svc, id, village)
            .await
            .unwrap_or_else(|e| panic!("grant residency: {e:?}"));
        residents.push(token);
    }
    let now = Utc::now();
    let opens_at = now + chrono::Duration::seconds(2);
    let data = api
        .ok(
            Some(&organiser),
            "mutation($input: TopicInput!) { createTopic(input: $input) { id state } }",
            json!({ "input": {
                "title": "过店子村文化广场是否加装路灯",
                "body": "广场夜间照明不足，拟加装十盏太阳能路灯，请各位居民表态。",
                "category": "PUBLIC_FACILITIES",
                "kind": "DECISION",
                "scopeCode": XIAGUANYING,
                "opensAt": opens_at.to_rfc3339(),
                "closesAt": (now + chrono::Duration::days(1)).to_rfc3339(),
            } }),
        )
        .await;
    let topic_id = data["createTopic"]["id"]
        .as_str()
        .expect("topic id")
        .to_owned();
    let announced = api
        .ok(
            Some(&organiser),
            "mutation($id: ID!) { announceTopic(id: $id) { state } }",
            json!({ "id": topic_id }),
        )
        .await;
    assert_eq!(announced["announceTopic"]["state"], "ANNOUNCED");
    // A topic opens at the time announced, not before: by the organiser's
    // hand or the scheduler's (every second here), whichever comes first.
    if let Ok(wait) = (opens_at - Utc::now()).to_std() {
        tokio::time::sleep(wait + std::time::Duration::from_millis(50)).await;
    }
    api.gql(
        Some(&organiser),
        "mutation($id: ID!) { openTopic(id: $id) { state } }",
        json!({ "id": topic_id }),
    )
    .await;
    let opened = api
        .ok(
            Some(&organiser),
            "query($id: ID!) { topic(id: $id) { state } }",
            json!({ "id": topic_id }),
        )
        .await;
    assert_eq!(opened["topic"]["state"], "OPEN");
    Scenario {
        organiser,
        residents,
        topic_id,
    }
}

// ---------------------------------------------------------------------------
// A graphql-transport-ws client holding one `topicResults` subscription.

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const RESULTS: &str = "subscription($topicId: ID!) {
  topicResults(topicId: $topicId) {
    topicId state fullDetail minCell
    overall { withheld total counts { stance count } }
    rows { divisionCode folded total }
  }
}";

struct LiveResults {
    ws: Socket,
    /// `next` messages received so far.
    pushes: usize,
}

impl LiveResults {
    /// Connects over graphql-transport-ws (`token` in the `connection_init`
    /// payload, if any), waits for the ack and subscribes to the results of
    /// `topic_id`.
    async fn subscribe(ws_url: &str, token: Option<&str>, topic_id: &str) -> Self {
        let payload = match token {
            Some(token) => json!({ "Authorization": format!("Bearer {token}") }),
            None => json!({}),
        };
        Self::subscribe_with("graphql-transport-ws", payload, ws_url, topic_id).await
    }

    /// As [`LiveResults::subscribe`], over `protocol` (`graphql-transport-ws`
    /// or the older `graphql-ws`) with this `connection_init` payload.
    async fn subscribe_with(protocol: &str, init: Value, ws_url: &str, topic_id: &str) -> Self {
        let mut request = ws_url.into_client_request().expect("WebSocket URL");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_str(protocol).expect("protocol name"),
        );
        let (ws, response) =
            tokio::time::timeout(PUSH_WITHIN, tokio_tungstenite::connect_async(request))
                .await
                .expect("WebSocket handshake in time")
                .expect("WebSocket handshake");
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some(protocol)
        );
        let mut live = Self { ws, pushes: 0 };
        live.send(json!({ "type": "connection_init", "payload": init }))
            .await;
        let ack = live.next_message(PUSH_WITHIN).await;
        assert_eq!(
            ack.as_ref().map(|m| &m["type"]),
            Some(&json!("connection_ack")),
            "expected connection_ack, got {ack:?}"
        );
        let start = if protocol == "graphql-ws" {
            "start"
        } else {
            "subscribe"
        };
        live.send(json!({
            "id": "1",
            "type": start,
            "payload": { "query": RESULTS, "variables": { "topicId": topic_id } },
        }))
        .await;
        live
    }

    async fn send(&mut self, message: Value) {
        self.ws
            .send(Message::text(message.to_string()))
            .await
            .expect("WebSocket send");
    }

    /// The next protocol message other than ping/pong, or `None` if none
    /// arrives `within`.
    async fn next_message(&mut self, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            match frame {
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
                    match message["type"].as_str() {
                        Some("ping") => self.send(json!({ "type": "pong" })).await,
                        Some("pong") => {}
                        _ => return Some(message),
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    panic!("the server closed the socket: {frame:?}")
                }
                Some(Ok(_)) => {} // WebSocket pings are answered by tungstenite
                Some(Err(e)) => panic!("WebSocket error: {e}"),
                None => panic!("the WebSocket ended"),
            }
        }
    }

    /// The `topicResults` of the next push, or `None` if none arrives
    /// `within`. Panics on a GraphQL error or the end of the subscription.
    async fn next_payload(&mut self, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let message = self.next_message(left).await?;
            match message["type"].as_str() {
                // `data` in the older graphql-ws protocol
                Some("next" | "data") => {
                    let payload = &message["payload"];
                    assert!(
                        payload.get("errors").is_none(),
                        "the push carried errors: {payload:#}"
                    );
                    self.pushes += 1;
                    return Some(payload["data"]["topicResults"].clone());
                }
                Some("connection_ack") => {}
                _ => panic!("unexpected message: {message:#}"),
            }
        }
    }

    /// Reads pushes until one shows `total` opinions; panics if none does
    /// within `within`. Totals never go down while opinions only arrive.
    async fn until_total(&mut self, total: i64, within: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        let mut last: Option<Value> = None;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(results) = self.next_payload(left).await else {
                panic!("no push showed {total} opinions within {within:?}; the last was {last:#?}");
            };
            if let Some(previous) = &last {
                assert!(
                    total_of(&results) >= total_of(previous),
                    "the total went down: {previous:#} then {results:#}"
                );
            }
            if total_of(&results) == total {
                return results;
            }
            last = Some(results);
        }
    }
}

/// The overall total; one withheld for privacy counts as 0.
fn total_of(results: &Value) -> i64 {
    if results["overall"]["withheld"] == true {
        return 0;
    }
    results["overall"]["total"]
        .as_i64()
        .unwrap_or_else(|| panic!("no overall total in {results:#}"))
}

fn count_of(results: &Value, stance: &str) -> i64 {
    results["overall"]["counts"]
        .as_array()
        .unwrap_or_else(|| panic!("no overall counts in {results:#}"))
        .iter()
        .find(|c| c["stance"] == stance)
        .map_or(0, |c| c["count"].as_i64().expect("a count"))
}

/// `(divisionCode, folded, total)` of each row.
fn rows_of(results: &Value) -> Vec<(String, bool, i64)> {
    results["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows in {results:#}"))
        .iter()
        .map(|r| {
            (
                r["divisionCode"].as_str().expect("code").to_owned(),
                r["folded"].as_bool().expect("folded"),
                r["total"].as_i64().expect("total"),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vote_cast_on_one_instance_reaches_a_subscriber_on_another() {
    let started = Instant::now();
    let db = PgDatabase::create().await;
    let dir = tempfile::tempdir().expect("temp dir");
    // One after the other: the first migrates the empty database.
    let a = Server::start(&db.url, dir.path(), "a").await;
    let b = Server::start(&db.url, dir.path(), "b").await;
    let svc = services(&db.url, dir.path()).await;
    let on_a = Api::new(&a);
    let scenario = open_topic(&on_a, &svc, &[GUODIANZI; 6]).await;
    let topic = scenario.topic_id.as_str();

    // The organiser's token, issued by A, is good on B.
    let mut live = LiveResults::subscribe(&b.ws_url(), Some(&scenario.organiser), topic).await;
    let first = live
        .next_payload(PUSH_WITHIN)
        .await
        .expect("the initial results");
    assert_eq!(first["topicId"], topic);
    assert_eq!(first["state"], "OPEN");
    assert_eq!(total_of(&first), 0);
    assert_eq!(first["fullDetail"], true);

    let voted = Instant::now();
    on_a.vote(&scenario.residents[0], topic, "SUPPORT").await;
    let pushed = live
        .next_payload(PUSH_WITHIN)
        .await
        .expect("a push on B after a vote on A");
    eprintln!("vote on A → push on B: {:?}", voted.elapsed());
    assert_eq!(total_of(&pushed), 1, "{pushed:#}");
    assert_eq!(count_of(&pushed, "SUPPORT"), 1, "{pushed:#}");

    // Five more at once: pushes are coalesced, so only the last one counts.
    let stances = ["SUPPORT", "OPPOSE", "SUPPORT", "ABSTAIN", "SUPPORT"];
    futures::future::join_all(
        scenario.residents[1..]
            .iter()
            .zip(stances)
            .map(|(token, stance)| on_a.vote(token, topic, stance)),
    )
    .await;
    let last = live.until_total(6, Duration::from_secs(5)).await;
    assert_eq!(count_of(&last, "SUPPORT"), 4, "{last:#}");
    assert_eq!(count_of(&last, "OPPOSE"), 1, "{last:#}");
    assert_eq!(count_of(&last, "ABSTAIN"), 1, "{last:#}");
    eprintln!(
        "{} pushes on B; test took {:?}",
        live.pushes,
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_on_sqlite_sees_votes_in_the_same_process() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("yishi.db").display()
    );
    let server = Server::start(&url, dir.path(), "sqlite").await;
    let svc = services(&url, dir.path()).await;
    let api = Api::new(&server);
    // Fewer than minCell (5) responses in each village: the public sees them
    // folded into the township, the organiser village by village.
    let villages = [
        GUODIANZI, GUODIANZI, GUODIANZI, GUODIANZI, TAIPINGBAO, TAIPINGBAO,
    ];
    let scenario = open_topic(&api, &svc, &villages).await;
    let topic = scenario.topic_id.as_str();

    let mut organiser =
        LiveResults::subscribe(&server.ws_url(), Some(&scenario.organiser), topic).await;
    let mut public = LiveResults::subscribe(&server.ws_url(), None, topic).await;
    for live in [&mut organiser, &mut public] {
        let first = live
            .next_payload(PUSH_WITHIN)
            .await
            .expect("the initial results");
        assert_eq!(total_of(&first), 0, "{first:#}");
        assert_eq!(first["state"], "OPEN");
    }

    api.vote(&scenario.residents[0], topic, "SUPPORT").await;
    let pushed = organiser
        .next_payload(PUSH_WITHIN)
        .await
        .expect("a push after a vote");
    assert_eq!(total_of(&pushed), 1, "{pushed:#}");
    assert_eq!(count_of(&pushed, "SUPPORT"), 1, "{pushed:#}");
    // One vote in the whole scope: the public learns nothing of it.
    let pushed = public
        .next_payload(PUSH_WITHIN)
        .await
        .expect("a push after a vote");
    assert_eq!(pushed["overall"]["withheld"], true, "{pushed:#}");
    assert_eq!(pushed["overall"]["total"], Value::Null, "{pushed:#}");
    assert_eq!(pushed["overall"]["counts"], json!([]), "{pushed:#}");

    let stances = ["OPPOSE", "SUPPORT", "SUPPORT", "OPPOSE", "SUPPORT"];
    futures::future::join_all(
        scenario.residents[1..]
            .iter()
            .zip(stances)
            .map(|(token, stance)| api.vote(token, topic, stance)),
    )
    .await;

    let full = organiser.until_total(6, Duration::from_secs(5)).await;
    assert_eq!(full["fullDetail"], true, "{full:#}");
    assert_eq!(count_of(&full, "SUPPORT"), 4, "{full:#}");
    assert_eq!(count_of(&full, "OPPOSE"), 2, "{full:#}");
    let rows = rows_of(&full);
    assert!(
        rows.contains(&(GUODIANZI.to_owned(), false, 4))
            && rows.contains(&(TAIPINGBAO.to_owned(), false, 2)),
        "the organiser sees each village: {rows:?}"
    );

    let folded = public.until_total(6, Duration::from_secs(5)).await;
    assert_eq!(folded["fullDetail"], false, "{folded:#}");
    assert_eq!(folded["minCell"], 5, "{folded:#}");
    assert_eq!(count_of(&folded, "SUPPORT"), 4, "{folded:#}");
    let rows = rows_of(&folded);
    assert!(
        rows.iter()
            .all(|(code, _, _)| code != GUODIANZI && code != TAIPINGBAO),
        "small villages must not show to the public: {rows:?}"
    );
    assert!(
        rows.contains(&(XIAGUANYING.to_owned(), true, 6)),
        "the villages fold into the township: {rows:?}"
    );
    eprintln!(
        "organiser {} pushes, public {} pushes; test took {:?}",
        organiser.pushes,
        public.pushes,
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_pushes_are_coalesced() {
    const VOTES: usize = 20;
    let started = Instant::now();
    let db = PgDatabase::create().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let a = Server::start(&db.url, dir.path(), "a").await;
    let b = Server::start(&db.url, dir.path(), "b").await;
    let svc = services(&db.url, dir.path()).await;
    let on_a = Api::new(&a);
    let scenario = open_topic(&on_a, &svc, &[GUODIANZI; VOTES]).await;
    let topic = scenario.topic_id.as_str();

    let mut live = LiveResults::subscribe(&b.ws_url(), Some(&scenario.organiser), topic).await;
    let first = live
        .next_payload(PUSH_WITHIN)
        .await
        .expect("the initial results");
    assert_eq!(total_of(&first), 0);

    let burst = Instant::now();
    futures::future::join_all(
        scenario
            .residents
            .iter()
            .map(|token| on_a.vote(token, topic, "SUPPORT")),
    )
    .await;
    let voted_in = burst.elapsed();
    let last = live.until_total(VOTES as i64, PUSH_WITHIN).await;
    assert_eq!(count_of(&last, "SUPPORT"), VOTES as i64, "{last:#}");
    let pushes = live.pushes - 1; // not the initial one
    assert!(
        pushes < VOTES,
        "{VOTES} votes in {voted_in:?} gave {pushes} pushes"
    );
    // Nothing is left behind: no push shows anything else afterwards.
    while let Some(extra) = live.next_payload(Duration::from_secs(1)).await {
        assert_eq!(total_of(&extra), VOTES as i64, "{extra:#}");
    }
    eprintln!(
        "{VOTES} votes in {voted_in:?} → {} pushes; test took {:?}",
        live.pushes - 1,
        started.elapsed()
    );
}

/// Instances of a deployment start together: on an empty database they must
/// not trip over each other's migrations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_at_once_migrate_an_empty_database_once() {
    let db = PgDatabase::create().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (a, b, c) = tokio::join!(
        Server::start(&db.url, dir.path(), "a"),
        Server::start(&db.url, dir.path(), "b"),
        Server::start(&db.url, dir.path(), "c"),
    );
    // Each serves the API on the one schema.
    for server in [&a, &b, &c] {
        let data = Api::new(server).ok(None, "{ __typename }", json!({})).await;
        assert_eq!(data["__typename"], "Query");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_refuses_a_bad_token_and_speaks_the_older_protocol_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("yishi.db").display()
    );
    let server = Server::start(&url, dir.path(), "sqlite").await;
    let svc = services(&url, dir.path()).await;
    let api = Api::new(&server);
    let scenario = open_topic(&api, &svc, &[GUODIANZI]).await;
    let topic = scenario.topic_id.as_str();

    // A token that does not verify is refused, not taken for anonymous.
    let mut forged = LiveResults::subscribe(&server.ws_url(), Some("not-a-jwt"), topic).await;
    let refused = forged
        .next_message(PUSH_WITHIN)
        .await
        .expect("an answer to a bad token");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{refused:#}"
    );
    let complete = forged.next_message(PUSH_WITHIN).await;
    assert_eq!(
        complete.as_ref().map(|m| &m["type"]),
        Some(&json!("complete")),
        "{complete:?}"
    );

    // graphql-ws, with the token as `authToken`.
    let mut legacy = LiveResults::subscribe_with(
        "graphql-ws",
        json!({ "authToken": scenario.organiser }),
        &server.ws_url(),
        topic,
    )
    .await;
    let first = legacy
        .next_payload(PUSH_WITHIN)
        .await
        .expect("the initial results");
    assert_eq!(total_of(&first), 0, "{first:#}");
    assert_eq!(
        first["fullDetail"], true,
        "the token was not used: {first:#}"
    );
    api.vote(&scenario.residents[0], topic, "OPPOSE").await;
    let pushed = legacy
        .next_payload(PUSH_WITHIN)
        .await
        .expect("a push after a vote");
    assert_eq!(count_of(&pushed, "OPPOSE"), 1, "{pushed:#}");
}

// ---------------------------------------------------------------------------
// Faults.

/// Residents with tokens minted by the shared secret, made through `svc`.
async fn residents(svc: &Services, n: usize) -> Vec<(i32, String)> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let user = yishi::domain::accounts::create_verified_user(
            svc,
            svc.db.writer(),
            &format!("storm{i}-{}@example.cn", uuid::Uuid::new_v4().simple()),
            &secrecy::SecretString::from(PASSWORD.to_owned()),
            "居民",
        )
        .await
        .unwrap_or_else(|e| panic!("create resident: {e:?}"));
        // The server writes the same SQLite file now and then (its
        // scheduler); a deferred transaction that meets such a commit is
        // refused at once ("database is locked"), so try again.
        let village = if i % 2 == 0 { GUODIANZI } else { TAIPINGBAO };
        let mut attempt = 0;
        while let Err(e) = yishi::domain::residency::grant(svc, user.id, village).await {
            attempt += 1;
            assert!(attempt < 20, "grant residency: {e:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        out.push((user.id, svc.jwt.issue(user.id, Utc::now()).0));
    }
    out
}

/// Fires one opinion per resident at once; returns the ids whose mutation
/// answered without errors.
async fn storm(api: &Api, topic: &str, voters: &[(i32, String)]) -> Vec<i32> {
    storm_counting(api, topic, voters, "OPPOSE", &AtomicUsize::new(0)).await
}

async fn storm_with(api: &Api, topic: &str, voters: &[(i32, String)], stance: &str) -> Vec<i32> {
    storm_counting(api, topic, voters, stance, &AtomicUsize::new(0)).await
}

/// [`storm_with`], counting the acknowledgements in `acked` as they arrive.
async fn storm_counting(
    api: &Api,
    topic: &str,
    voters: &[(i32, String)],
    stance: &str,
    acked: &AtomicUsize,
) -> Vec<i32> {
    let results = futures::future::join_all(voters.iter().map(|(id, token)| async move {
        let resp = api
            .client
            .post(&api.url)
            .bearer_auth(token)
            .json(&json!({ "query": "mutation($t: ID!, $s: Stance) { submitOpinion(topicId: $t, stance: $s, reason: \"太吵\") { id } }", "variables": { "t": topic, "s": stance } }))
            .send()
            .await;
        let ok = match resp {
            Ok(r) => r.json::<Value>().await.is_ok_and(|v| {
                let ok = v.get("errors").is_none() && v["data"]["submitOpinion"]["id"].is_string();
                if !ok {
                    eprintln!("submission refused: {v}");
                }
                ok
            }),
            Err(e) => {
                eprintln!("submission lost: {e}");
                false
            }
        };
        if ok {
            acked.fetch_add(1, Ordering::SeqCst);
        }
        ok.then_some(*id)
    }))
    .await;
    results.into_iter().flatten().collect()
}

async fn opinion_users(db_url: &str, topic: &str) -> std::collections::HashSet<i32> {
    let db = Database::connect(db_url).await.expect("connect");
    let rows = db
        .query_all(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!("SELECT user_id FROM opinions WHERE topic_id = {topic}"),
        ))
        .await
        .expect("query");
    let users = rows
        .iter()
        .map(|r| r.try_get_by_index::<i32>(0).expect("user id"))
        .collect();
    let _ = db.close().await;
    users
}

fn yishi_check(database_url: &str, dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_yishi"))
        .arg("check")
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("YISHI_JWT_SECRET", JWT_SECRET)
        .env("YISHI_DATA_DIR", dir)
        .env("YISHI_LOG", "warn")
        .output()
        .expect("yishi check runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_storm_loses_no_acknowledged_opinion() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("yishi.db").display()
    );
    let mut server = Server::start(&url, dir.path(), "first").await;
    let svc = services(&url, dir.path()).await;
    let api = Api::new(&server);
    let scenario = open_topic(&api, &svc, &[]).await;
    // More than one group commit can hold (512), so acknowledgements come in
    // several batches and the kill lands between them.
    let voters = residents(&svc, 1_500).await;
    svc.db.clone().close().await;

    // Kill the server while the storm is in flight.
    let acked = AtomicUsize::new(0);
    let storming = storm_counting(&api, &scenario.topic_id, &voters, "OPPOSE", &acked);
    // … once a good part of it has been acknowledged, so both acknowledged
    // and unanswered submissions exist.
    let killer = async {
        let deadline = Instant::now() + Duration::from_secs(20);
        while acked.load(Ordering::SeqCst) < 100 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        server.child.kill().expect("SIGKILL");
    };
    let (acknowledged, ()) = tokio::join!(storming, killer);
    let _ = server.child.wait();
    assert!(
        acknowledged.len() < voters.len(),
        "the kill came too late to test anything"
    );
    assert!(
        acknowledged.len() >= 50,
        "only {} acknowledged before the kill",
        acknowledged.len()
    );

    let _restarted = Server::start(&url, dir.path(), "second").await;
    let stored = opinion_users(&url, &scenario.topic_id).await;
    let lost: Vec<&i32> = acknowledged
        .iter()
        .filter(|id| !stored.contains(id))
        .collect();
    assert!(
        lost.is_empty(),
        "acknowledged but lost: {lost:?} ({} acknowledged)",
        acknowledged.len()
    );
    let check = yishi_check(&url, dir.path());
    assert!(
        check.status.success(),
        "yishi check: {}",
        String::from_utf8_lossy(&check.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_serving_is_consistent_and_complete() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("yishi.db").display()
    );
    let server = Server::start(&url, dir.path(), "live").await;
    let svc = services(&url, dir.path()).await;
    let api = Api::new(&server);
    let scenario = open_topic(&api, &svc, &[]).await;
    let voters = residents(&svc, 200).await;
    let (before, during) = voters.split_at(100);
    let acknowledged_before = storm(&api, &scenario.topic_id, before).await;
    assert_eq!(acknowledged_before.len(), 100);

    let copy = dir.path().join("backup.db");
    let backup = {
        let copy = copy.clone();
        let url = url.clone();
        let data = dir.path().to_owned();
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_yishi"))
                .args(["backup", copy.to_str().expect("utf-8")])
                .current_dir(&data)
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("DATABASE_URL", url)
                .env("YISHI_JWT_SECRET", JWT_SECRET)
                .env("YISHI_DATA_DIR", &data)
                .env("YISHI_LOG", "warn")
                .output()
                .expect("yishi backup runs")
        })
    };
    let (out, _) = tokio::join!(backup, storm(&api, &scenario.topic_id, during));
    let out = out.expect("backup task");
    assert!(
        out.status.success(),
        "backup: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let copy_url = format!("sqlite://{}", copy.display());
    let check = yishi_check(&copy_url, dir.path());
    assert!(
        check.status.success(),
        "yishi check on the copy: {}",
        String::from_utf8_lossy(&check.stdout)
    );
    let in_copy = opinion_users(&copy_url, &scenario.topic_id).await;
    assert!(acknowledged_before.iter().all(|id| in_copy.contains(id)));
    let on_copy = Server::start(&format!("{copy_url}?mode=rw"), dir.path(), "restored").await;
    let resp = http_client()
        .get(format!("{}/readyz", on_copy.url))
        .send()
        .await
        .expect("readyz");
    assert_eq!(resp.status(), reqwest::StatusCode::OK);
}

async fn count(db_url: &str, sql: &str) -> i64 {
    scalar(db_url, sql).await
}

/// The first column of the first row `sql` returns.
async fn scalar<T: sea_orm::TryGetable>(db_url: &str, sql: &str) -> T {
    let db = Database::connect(db_url).await.expect("connect");
    let value = db
        .query_one(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .expect("query")
        .expect("a row")
        .try_get_by_index::<T>(0)
        .expect("a value");
    let _ = db.close().await;
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_under_load_keep_one_opinion_each_and_exact_counters() {
    let db = PgDatabase::create().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let a = Server::start(&db.url, dir.path(), "a").await;
    let b = Server::start(&db.url, dir.path(), "b").await;
    let svc = services(&db.url, dir.path()).await;
    let (on_a, on_b) = (Api::new(&a), Api::new(&b));
    let scenario = open_topic(&on_a, &svc, &[]).await;
    let voters = residents(&svc, 150).await;

    // Every resident submits on both instances at the same moment.
    let (from_a, from_b) = tokio::join!(
        storm_with(&on_a, &scenario.topic_id, &voters, "OPPOSE"),
        storm_with(&on_b, &scenario.topic_id, &voters, "SUPPORT"),
    );
    assert_eq!(
        from_a.len() + from_b.len(),
        300,
        "every submission was answered"
    );
    let topic = &scenario.topic_id;
    assert_eq!(
        count(
            &db.url,
            &format!("SELECT COUNT(*) FROM opinions WHERE topic_id = {topic}")
        )
        .await,
        150
    );
    assert_eq!(
        count(
            &db.url,
            &format!("SELECT CAST(SUM(count) AS BIGINT) FROM tallies WHERE topic_id = {topic}")
        )
        .await,
        150,
        "no counter update lost"
    );
    let check = yishi_check(&db.url, dir.path());
    assert!(
        check.status.success(),
        "yishi check: {}",
        String::from_utf8_lossy(&check.stdout)
    );

    // A topic due to open: both schedulers race for it; it opens once.
    let now = Utc::now();
    let data = on_b
        .ok(
            Some(&scenario.organiser),
            "mutation($input: TopicInput!) { createTopic(input: $input) { id } }",
            json!({ "input": {
                "title": "村道维修", "body": "修补三组村道。", "category": "TRANSPORT_WATER", "kind": "DECISION",
                "scopeCode": XIAGUANYING,
                "opensAt": (now + chrono::Duration::seconds(2)).to_rfc3339(),
                "closesAt": (now + chrono::Duration::days(1)).to_rfc3339(),
            } }),
        )
        .await;
    let due = data["createTopic"]["id"].as_str().expect("id").to_owned();
    on_b.ok(
        Some(&scenario.organiser),
        "mutation($id: ID!) { announceTopic(id: $id) { id } }",
        json!({ "id": due }),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while count(
        &db.url,
        &format!("SELECT COUNT(*) FROM topics WHERE id = {due} AND state = 'open'"),
    )
    .await
        == 0
    {
        assert!(
            Instant::now() < deadline,
            "the scheduler did not open the topic"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let opens = count(
        &db.url,
        &format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'topic.open' AND subject_id = '{due}'"
        ),
    )
    .await;
    assert_eq!(opens, 1, "exactly one instance opened it");
}

/// A TCP relay to PostgreSQL that the test can cut and restore, to play a
/// database outage without stopping the shared server.
struct Relay {
    port: u16,
    cut: tokio::sync::watch::Sender<bool>,
}

impl Relay {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind relay");
        let port = listener.local_addr().expect("addr").port();
        let (cut, watch) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if *watch.borrow() {
                    continue; // refused while cut: the socket is dropped
                }
                let mut watch = watch.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect("127.0.0.1:5432").await
                    else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = watch.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Self { port, cut }
    }

    fn set_cut(&self, cut: bool) {
        self.cut.send_replace(cut);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_reports_a_database_outage_and_recovers_when_it_returns() {
    let db = PgDatabase::create().await;
    let relay = Relay::start().await;
    let via_relay = db
        .url
        .replacen("127.0.0.1:5432", &format!("127.0.0.1:{}", relay.port), 1);
    assert_ne!(
        via_relay, db.url,
        "the test database URL names 127.0.0.1:5432"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(&via_relay, dir.path(), "outage").await;
    let client = http_client();
    let ready = || async {
        client
            .get(format!("{}/readyz", server.url))
            .send()
            .await
            .expect("readyz")
            .status()
    };
    let query = || async {
        client
            .post(format!("{}/graphql", server.url))
            .json(&json!({ "query": "{ divisions { edges { node { code } } } }" }))
            .send()
            .await
            .expect("graphql")
            .json::<Value>()
            .await
            .expect("JSON")
    };
    assert_eq!(ready().await, reqwest::StatusCode::OK);
    assert!(query().await.get("errors").is_none());

    relay.set_cut(true);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(ready().await, reqwest::StatusCode::SERVICE_UNAVAILABLE);
    let during = query().await;
    assert!(
        during["errors"][0]["extensions"]["code"].is_string(),
        "a coded error, not a hang: {during}"
    );
    assert!(
        !during.to_string().contains("5432"),
        "no connection details leak: {during}"
    );

    relay.set_cut(false);
    let deadline = Instant::now() + Duration::from_secs(20);
    while ready().await != reqwest::StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "the server did not recover:\n{}",
            server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(query().await.get("errors").is_none(), "queries work again");
}

/// The access and refresh token of an `AuthPayload`.
fn token_pair(payload: &Value) -> (String, String) {
    let token = |field: &str| {
        payload[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} in {payload:#}"))
            .to_owned()
    };
    (token("accessToken"), token("refreshToken"))
}

/// Passwords never reach the log, even at the most verbose level, and the
/// long-lived tokens never travel in a URL: the API takes them only in a
/// header or a request body, ignores them in a query string, and refuses
/// mutations over GET. The only secret in a URL is the single-use token of
/// an email link, which is dead once used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_stay_out_of_the_log_and_out_of_urls() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("yishi.db").display()
    );
    let server = Server::start_logging(&url, dir.path(), "s", "trace").await;
    let api = Api::new(&server);
    let client = http_client();
    let email = format!("{}@example.cn", uuid::Uuid::new_v4().simple());
    let first = "初始-口令-Alpha-7391";
    let wrong = "错误-口令-Bravo-2846";
    let second = "更换-口令-Charlie-5517";
    let third = "重设-口令-Delta-6620";
    const AUTH: &str = "accessToken refreshToken";

    api.ok(
        None,
        "mutation($input: RegisterInput!) { register(input: $input) { email } }",
        json!({ "input": { "email": email, "password": first, "displayName": "秘" } }),
    )
    .await;
    let registered = api
        .ok(
            None,
            &format!("mutation($e: String!, $p: String!) {{ login(email: $e, password: $p) {{ {AUTH} }} }}"),
            json!({ "e": email, "p": first }),
        )
        .await;
    let (access, refresh) = token_pair(&registered["login"]);
    let refused = api
        .gql(
            None,
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
            json!({ "e": email, "p": wrong }),
        )
        .await;
    assert!(refused.get("errors").is_some(), "{refused:#}");
    let changed = api
        .ok(
            Some(&access),
            "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }",
            json!({ "c": first, "n": second }),
        )
        .await;
    assert_eq!(changed["changePassword"], true);
    let signed_in = api
        .ok(
            None,
            &format!("mutation($e: String!, $p: String!) {{ login(email: $e, password: $p) {{ {AUTH} }} }}"),
            json!({ "e": email, "p": second }),
        )
        .await;
    let (access, refresh_2) = token_pair(&signed_in["login"]);
    let refreshed = api
        .ok(
            None,
            &format!("mutation($r: String!) {{ refreshToken(refreshToken: $r) {{ {AUTH} }} }}"),
            json!({ "r": refresh_2 }),
        )
        .await;
    let (access_2, refresh_3) = token_pair(&refreshed["refreshToken"]);

    // A token in the query string is not a credential…
    let me = "{ me { id } }";
    let in_url = client
        .get(format!("{}/graphql", server.url))
        .query(&[
            ("query", me),
            ("access_token", access_2.as_str()),
            ("token", access_2.as_str()),
        ])
        .send()
        .await
        .expect("GET sent");
    let in_url: Value = in_url.json().await.expect("JSON");
    assert!(
        in_url["data"]["me"].is_null(),
        "a token in the URL must not sign anyone in: {in_url:#}"
    );
    // …and a mutation that takes one (or a password) is refused over GET.
    let over_get = client
        .get(format!("{}/graphql", server.url))
        .query(&[(
            "query",
            format!("mutation {{ refreshToken(refreshToken: \"{refresh_3}\") {{ accessToken }} }}"),
        )])
        .send()
        .await
        .expect("GET sent");
    assert_eq!(over_get.status(), reqwest::StatusCode::METHOD_NOT_ALLOWED);
    let still = api.ok(Some(&access_2), me, json!({})).await;
    assert!(still["me"]["id"].is_string(), "{still:#}");

    // The reset link carries a single-use token, dead once used.
    api.ok(
        None,
        "mutation($e: String!) { requestPasswordReset(email: $e) }",
        json!({ "e": email }),
    )
    .await;
    // Queued just after the answer (so its timing tells nothing), and sealed:
    // only the server's secret opens the link.
    let sent_for = "SELECT COUNT(*) FROM outbox WHERE kind = 'password_reset'";
    for _ in 0..100 {
        if count(&url, sent_for).await > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let payload: String = scalar(
        &url,
        "SELECT payload FROM outbox WHERE kind = 'password_reset' ORDER BY id DESC LIMIT 1",
    )
    .await;
    let payload: Value = serde_json::from_str(&payload).expect("payload JSON");
    assert!(payload.get("link").is_none(), "{payload:#}");
    let link = yishi::domain::outbox::open_link(
        &yishi::auth::seal::Sealer::new(JWT_SECRET.as_bytes()),
        "password_reset",
        &email,
        payload["sealed_link"].as_str().expect("a sealed link"),
    )
    .expect("the server's secret opens the link");
    let reset_token = link
        .split("token=")
        .nth(1)
        .expect("a token in the link")
        .to_owned();
    let reset = "mutation($t: String!, $n: String!) { resetPassword(token: $t, newPassword: $n) }";
    api.ok(None, reset, json!({ "t": reset_token, "n": third }))
        .await;
    let again = api
        .gql(
            None,
            reset,
            json!({ "t": reset_token, "n": "再次-口令-Echo-1184" }),
        )
        .await;
    assert_eq!(
        again["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "a used link is dead: {again:#}"
    );
    // Opening the link is the one request with a token in its URL; the
    // access log shows its path only.
    let path = &link[link.find("/reset-password").expect("the reset page")..];
    client
        .get(format!("{}{path}", server.url))
        .send()
        .await
        .expect("GET sent");
    let hash: String = scalar(&url, "SELECT password_hash FROM users").await;

    drop(api);
    let log = server.log_text();
    drop(server);
    assert!(
        log.lines().count() > 20 && (log.contains("TRACE") || log.contains("DEBUG")),
        "the server logged verbosely, so the check below means something:\n{log}"
    );
    for (what, secret) in [
        ("the first password", first),
        ("a wrong password", wrong),
        ("the changed password", second),
        ("the reset password", third),
        ("an access token", access.as_str()),
        ("a refreshed access token", access_2.as_str()),
        ("a refresh token", refresh.as_str()),
        ("a rotated refresh token", refresh_3.as_str()),
        ("the password hash", hash.as_str()),
        ("the reset link's token", reset_token.as_str()),
    ] {
        assert!(!log.contains(secret), "{what} appears in the log");
    }
}
