//! The real `yishi serve` process attacked at its doors: padded requests
//! aimed at the results cache (the process's RSS must stay bounded), a
//! slowloris dribbling headers, more connections than the cap, and the
//! metrics listener on an address of its own.
//!
//! These exercise the HTTP layer, which holds no data of its own, so they
//! run on SQLite.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{json, Value};

use yishi::config::Settings;
use yishi::domain::authz::Role;
use yishi::domain::divisions::import;

const JWT_SECRET: &str = "doors-test-secret-doors-test-secret-0123456789";
const PASSWORD: &str = "议事-村口-2026-槐树";
/// 夏官营镇 and 过店子村, one of its villages.
const XIAGUANYING: &str = "620123101";
const GUODIANZI: &str = "620123101201";

// ---------------------------------------------------------------------------
// `yishi serve` as a child process, killed with its guard.

struct Server {
    child: Child,
    port: u16,
    url: String,
    log: PathBuf,
    database_url: String,
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts `yishi serve` on a fresh SQLite database with `env` on top of
    /// test defaults, and waits for `/readyz`.
    async fn start(env: &[(&str, String)]) -> Self {
        let mut dir = tempfile::tempdir().expect("temp dir");
        let database_url = format!("sqlite://{}?mode=rwc", dir.path().join("y.db").display());
        let log = dir.path().join("serve.log");
        for _attempt in 0..3 {
            let port = free_port();
            let out = std::fs::File::create(&log).expect("log file");
            let mut command = Command::new(env!("CARGO_BIN_EXE_yishi"));
            command
                .arg("serve")
                .current_dir(dir.path())
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("DATABASE_URL", &database_url)
                .env("YISHI_BIND", format!("127.0.0.1:{port}"))
                .env("YISHI_JWT_SECRET", JWT_SECRET)
                .env("YISHI_DATA_DIR", dir.path())
                .env("YISHI_STATIC_DIR", dir.path().join("static"))
                .env("YISHI_DEMO_DATA", "false")
                .env("YISHI_ARGON2_MEMORY_KIB", "256")
                .env("YISHI_NOTICE_PERIOD_HOURS", "0")
                .env("YISHI_RATE_LIMIT_REGISTER_PER_IP", "0")
                .env("YISHI_LOG", "info");
            for (k, v) in env {
                command.env(k, v);
            }
            let child = command
                .stdin(Stdio::null())
                .stdout(out.try_clone().expect("log file"))
                .stderr(out)
                .spawn()
                .expect("yishi serve starts");
            let mut server = Self {
                child,
                port,
                url: format!("http://127.0.0.1:{port}"),
                log: log.clone(),
                database_url: database_url.clone(),
                dir,
            };
            // No connection kept alive: it would hold a place under the cap.
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Ok(Some(status)) = server.child.try_wait() {
                    let text = server.log_text();
                    assert!(
                        text.contains("cannot listen"),
                        "yishi serve exited with {status}:\n{text}"
                    );
                    break; // the port was taken: try another
                }
                if let Ok(resp) = client.get(format!("{}/readyz", server.url)).send().await {
                    if resp.status() == 200 {
                        return server;
                    }
                }
                assert!(
                    Instant::now() < deadline,
                    "not ready:\n{}",
                    server.log_text()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            dir = std::mem::replace(&mut server.dir, tempfile::tempdir().unwrap());
        }
        panic!("no free port after 3 attempts");
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The resident set of the server process, in bytes.
    fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc/<pid>/status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS line");
        kib * 1024
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

async fn gql(
    client: &reqwest::Client,
    server: &Server,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> Value {
    let mut req = client
        .post(format!("{}/graphql", server.url))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp: Value = req.send().await.expect("sent").json().await.expect("JSON");
    assert!(resp.get("errors").is_none(), "unexpected errors: {resp:#}");
    resp["data"].clone()
}

async fn register(client: &reqwest::Client, server: &Server) -> (i32, String) {
    let email = format!("{}@example.cn", uuid::Uuid::new_v4().simple());
    gql(
        client,
        server,
        None,
        "mutation($input: RegisterInput!) { register(input: $input) { email } }",
        json!({ "input": { "email": email, "password": PASSWORD, "displayName": "居民" } }),
    )
    .await;
    // Registering does not sign in (a taken address must answer the same).
    let data = gql(
        client,
        server,
        None,
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken user { id } } }",
        json!({ "e": email, "p": PASSWORD }),
    )
    .await;
    (
        data["login"]["user"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
        data["login"]["accessToken"].as_str().unwrap().to_owned(),
    )
}

/// An open topic of 夏官营镇 with one opinion; returns its id.
async fn topic_with_an_opinion(server: &Server) -> String {
    let settings = Settings::from_lookup(|name| match name {
        "DATABASE_URL" => Some(server.database_url.clone()),
        "YISHI_JWT_SECRET" => Some(JWT_SECRET.to_owned()),
        "YISHI_DATA_DIR" => Some(server.dir.path().display().to_string()),
        "YISHI_DEMO_DATA" => Some("false".to_owned()),
        _ => None,
    })
    .expect("settings");
    let svc = yishi::init_services(settings).await.expect("services");
    let rows: Vec<import::Row> = import::parse(yishi::domain::demo::GANSU_DIVISIONS_CSV)
        .unwrap()
        .into_iter()
        .filter(|r| r.code.starts_with(XIAGUANYING) || XIAGUANYING.starts_with(r.code.as_str()))
        .collect();
    import::import_rows(&svc.db, rows, |_, _| {}).await.unwrap();
    let client = reqwest::Client::new();
    let (organiser_id, organiser) = register(&client, server).await;
    yishi::domain::roles::bootstrap(&svc, organiser_id, Role::Organiser, XIAGUANYING)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let (resident_id, resident) = register(&client, server).await;
    yishi::domain::residency::grant(&svc, resident_id, GUODIANZI)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let now = Utc::now();
    let opens_at = now + chrono::Duration::seconds(2);
    let data = gql(
        &client,
        server,
        Some(&organiser),
        "mutation($input: TopicInput!) { createTopic(input: $input) { id } }",
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
    let topic = data["createTopic"]["id"].as_str().unwrap().to_owned();
    gql(
        &client,
        server,
        Some(&organiser),
        "mutation($id: ID!) { announceTopic(id: $id) { state } }",
        json!({ "id": topic }),
    )
    .await;
    // A topic opens at the time announced, not before.
    if let Ok(wait) = (opens_at - Utc::now()).to_std() {
        tokio::time::sleep(wait + std::time::Duration::from_millis(50)).await;
    }
    for step in ["openTopic"] {
        gql(
            &client,
            server,
            Some(&organiser),
            &format!("mutation($id: ID!) {{ {step}(id: $id) {{ state }} }}"),
            json!({ "id": topic }),
        )
        .await;
    }
    gql(
        &client,
        server,
        Some(&resident),
        "mutation($t: ID!) { submitOpinion(topicId: $t, stance: SUPPORT) { id } }",
        json!({ "t": topic }),
    )
    .await;
    topic
}

// ---------------------------------------------------------------------------

/// A results request whose body is padded with `pad` bytes of JSON
/// whitespace, a different pattern for each `n`: every body is distinct.
fn padded_body(topic: &str, n: u32, pad: usize) -> Vec<u8> {
    let mut body = json!({
        "query": "query($t: ID!) { topicResults(topicId: $t) { overall { withheld total } } }",
        "variables": { "t": topic },
    })
    .to_string()
    .into_bytes();
    body.pop(); // the closing brace
    let mut padding = vec![b' '; pad];
    for (bit, byte) in padding.iter_mut().take(32).enumerate() {
        if n & (1 << bit) != 0 {
            *byte = b'\t';
        }
    }
    body.extend_from_slice(&padding);
    body.push(b'}');
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn padded_results_requests_do_not_grow_the_servers_memory() {
    const REQUESTS: u32 = 10_000;
    const PAD: usize = 200 * 1024;
    const CLIENTS: u32 = 8;
    let server = Server::start(&[]).await;
    let topic = topic_with_an_opinion(&server).await;
    let client = reqwest::Client::new();
    let url = format!("{}/graphql", server.url);
    let send = move |n: u32| {
        let client = client.clone();
        let url = url.clone();
        let body = padded_body(&topic, n, PAD);
        async move {
            let resp = client
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("sent");
            assert_eq!(resp.status(), 200);
            let answer: Value = resp.json().await.expect("JSON");
            // One response is under k: the public learns only that it is
            // withheld (the answer the cache keeps).
            let overall = &answer["data"]["topicResults"]["overall"];
            assert_eq!(overall["withheld"], true, "{answer}");
            assert!(overall["total"].is_null(), "{answer}");
        }
    };
    // Warm up: allocator pools, connections, the first answers kept.
    for n in 0..200 {
        send(n).await;
    }
    let before = server.rss();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..CLIENTS {
        let send = send.clone();
        tasks.spawn(async move {
            let mut n = 200 + c;
            while n < 200 + REQUESTS {
                send(n).await;
                n += CLIENTS;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("client task");
    }
    let after = server.rss();
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    eprintln!(
        "RSS before {:.1} MiB, after {REQUESTS} padded requests {:.1} MiB (+{:.1} MiB) in {:.1} s",
        mib(before),
        mib(after),
        mib(after.saturating_sub(before)),
        started.elapsed().as_secs_f64()
    );
    // 10,000 × 200 KB kept would be 2 GB; the cache's budget is 32 MiB.
    assert!(
        after.saturating_sub(before) < 64 * 1024 * 1024,
        "RSS grew from {:.1} MiB to {:.1} MiB",
        mib(before),
        mib(after)
    );
    // Still served, and from the cache when asked the same thing again.
    send(1).await;
}

/// Reads until the server closes the socket or `within` passes, writing
/// one byte of an unfinished request head every 500 ms meanwhile. Returns
/// how long the server held it and what it wrote before closing.
fn dribble(mut socket: TcpStream, within: Duration) -> Option<(Duration, String)> {
    let started = Instant::now();
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut sent = 0;
    let mut answer = Vec::new();
    while started.elapsed() < within {
        if sent < head.len() && socket.write_all(&head[sent..=sent]).is_ok() {
            sent += 1;
        }
        let mut buf = [0u8; 1024];
        match socket.read(&mut buf) {
            Ok(0) => return Some((started.elapsed(), String::from_utf8_lossy(&answer).into())),
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some((started.elapsed(), String::from_utf8_lossy(&answer).into())),
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_dribbling_headers_is_cut_off_and_connections_are_capped() {
    const CAP: usize = 8;
    let server = Server::start(&[
        ("YISHI_HEADER_READ_TIMEOUT_SECS", "3".into()),
        ("YISHI_MAX_CONNECTIONS", CAP.to_string()),
    ])
    .await;
    // Let the readiness probe's connection go.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let addr = format!("127.0.0.1:{}", server.port);
    let attackers: Vec<TcpStream> = (0..CAP)
        .map(|_| TcpStream::connect(&addr).expect("attacker connects"))
        .collect();
    // Let the server accept them all, then knock once more.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut extra = TcpStream::connect(&addr).expect("the kernel accepts");
    extra
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut turned_away = String::new();
    let read = extra.read_to_string(&mut turned_away);
    assert!(
        read.is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset)
            || turned_away.starts_with("HTTP/1.1 503"),
        "a connection over the cap was neither refused nor closed: {turned_away:?}"
    );
    // Every attacker is cut off after the timeout although it keeps sending.
    let held: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = attackers
            .into_iter()
            .map(|socket| s.spawn(move || dribble(socket, Duration::from_secs(15))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for attacker in &held {
        let (for_how_long, _) = attacker
            .as_ref()
            .expect("a dribbling client still held its connection after 15 s");
        assert!(
            *for_how_long < Duration::from_secs(6),
            "held for {for_how_long:?}"
        );
    }
    // Once they are gone, an ordinary client is served.
    let resp = reqwest::get(format!("{}/healthz", server.url))
        .await
        .expect("served");
    assert_eq!(resp.status(), 200);
    // A connection that says nothing at all is closed too.
    let silent = TcpStream::connect(&addr).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut sink = Vec::new();
    let _ = (&silent).read_to_end(&mut sink);
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_on_their_own_address_and_not_on_the_public_one() {
    let metrics_port = free_port();
    let server =
        Server::start(&[("YISHI_METRICS_BIND", format!("127.0.0.1:{metrics_port}"))]).await;
    let client = reqwest::Client::new();
    client
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    let public = client
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 404);
    let private = client
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(private.status(), 200);
    let text = private.text().await.unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="GET",path="/healthz",status="200"}"#),
        "{text}"
    );
    // Nothing else is served there.
    let other = client
        .get(format!("http://127.0.0.1:{metrics_port}/graphql"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_once_its_connections_close() {
    let mut server = Server::start(&[]).await;
    // A connection kept open without a request does not hold the shutdown.
    let idle = TcpStream::connect(format!("127.0.0.1:{}", server.port)).unwrap();
    let killed = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 15 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status}:\n{}", server.log_text());
    assert!(server.log_text().contains("shutting down"));
    drop(idle);
}
