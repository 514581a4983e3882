//! Test harness: `spawn_app(backend)` starts a real Yishi on a fresh database
//! (a new SQLite file, or a new PostgreSQL database) bound to a random port,
//! and returns a [`TestApp`] whose helpers keep each test a few lines long.
//!
//! PostgreSQL is found at `YISHI_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). It is required: a test on
//! PostgreSQL fails, never skips, when the server is not there.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{json, Value};

use yishi::config::Settings;
use yishi::domain::divisions::import::{self, Row};
use yishi::domain::Services;
use yishi::state::Clock;

pub use serde_json;

/// A topic of `kind` over `scope` that opens after the notice period.
pub fn topic_input(scope: &str, kind: &str) -> Value {
    let now = Utc::now();
    json!({
        "title": "村道硬化工程",
        "body": "拟对三组至五组村道进行硬化，资金由上级补助和村集体共同承担。",
        "category": "TRANSPORT_WATER",
        "kind": kind,
        "scopeCode": scope,
        "opensAt": (now + chrono::Duration::hours(73)).to_rfc3339(),
        "closesAt": (now + chrono::Duration::hours(120)).to_rfc3339(),
    })
}

/// Declares each listed `async fn name(backend: Backend)` as two tests,
/// `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! db_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::Backend::Sqlite).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::Backend::Postgres).await;
                }
            }
        )*
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn pg_admin_url() -> String {
    std::env::var("YISHI_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Moves every `opensAt`, `closesAt` and `noticeAt` in `value` by `by`.
fn shift_topic_times(value: &mut Value, by: chrono::Duration) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                let shifted = matches!(key.as_str(), "opensAt" | "closesAt" | "noticeAt")
                    .then(|| v.as_str())
                    .flatten()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| (t.with_timezone(&Utc) + by).to_rfc3339());
                match shifted {
                    Some(t) => *v = Value::String(t),
                    None => shift_topic_times(v, by),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| shift_topic_times(v, by)),
        _ => {}
    }
}

/// A clock tests can move forward.
#[derive(Debug, Default)]
pub struct TestClock {
    offset_secs: AtomicI64,
}

impl TestClock {
    pub fn advance(&self, by: chrono::Duration) {
        self.offset_secs
            .fetch_add(by.num_seconds(), Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::seconds(self.offset_secs.load(Ordering::SeqCst))
    }
}

/// A fresh database for one test; dropped with it.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    pub async fn create(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("yishi.db").display()
                );
                Self {
                    url,
                    backend,
                    _dir: Some(dir),
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                let admin = pg_admin_url();
                let name = format!("yishi_t_{}", uuid::Uuid::new_v4().simple());
                let conn = Database::connect(&admin).await.unwrap_or_else(|e| {
                    panic!("PostgreSQL is required for the postgres tests ({admin}): {e}")
                });
                conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                let _ = conn.close().await;
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
                Self {
                    url: format!("{base}/{name}"),
                    backend,
                    _dir: None,
                    pg_name: Some(name),
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop runs outside async; use a short-lived runtime on its own thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(conn) = Database::connect(pg_admin_url()).await {
                    let _ = conn
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

/// Settings for a test server on `db_url`, with cheap password hashing and
/// rate limits far above what any test does from 127.0.0.1.
pub fn test_settings(db_url: &str, data_dir: &std::path::Path) -> Settings {
    test_settings_with(db_url, data_dir, &[])
}

/// [`test_settings`] with some variables overridden (e.g. `YISHI_ENV`, or a
/// low `YISHI_RATE_LIMIT_*`).
pub fn test_settings_with(
    db_url: &str,
    data_dir: &std::path::Path,
    overrides: &[(&str, &str)],
) -> Settings {
    let mut vars = vec![
        ("DATABASE_URL", db_url.to_owned()),
        ("YISHI_BIND", "127.0.0.1:0".to_owned()),
        (
            "YISHI_JWT_SECRET",
            "test-secret-test-secret-test-secret-0123".to_owned(),
        ),
        ("YISHI_PUBLIC_URL", "http://yishi.test".to_owned()),
        ("YISHI_DATA_DIR", data_dir.display().to_string()),
        (
            "YISHI_STATIC_DIR",
            data_dir.join("static").display().to_string(),
        ),
        ("YISHI_ARGON2_MEMORY_KIB", "256".to_owned()),
        ("YISHI_DEMO_DATA", "false".to_owned()),
    ];
    for action in yishi::rate_limit::Action::ALL {
        let (per_ip, per_account) = action.config_vars();
        vars.push((per_ip, "1000000".to_owned()));
        vars.push((per_account, "1000000".to_owned()));
    }
    Settings::from_lookup(|name| {
        overrides
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
            .or_else(|| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.clone())
            })
    })
    .expect("test settings are valid")
}

/// A slice of Gansu for tests: the province, 兰州市, 榆中县 with two townships
/// (城关镇, 夏官营镇) and their villages, and 城关区 with 酒泉路街道.
pub fn fixture_divisions() -> Vec<Row> {
    static ROWS: OnceLock<Vec<Row>> = OnceLock::new();
    ROWS.get_or_init(|| {
        let all =
            import::parse(yishi::domain::demo::GANSU_DIVISIONS_CSV).expect("shipped file parses");
        let keep = ["620123100", "620123101", "620102001"];
        all.into_iter()
            .filter(|r| {
                keep.iter()
                    .any(|k| r.code.starts_with(k) || k.starts_with(r.code.as_str()))
            })
            .collect()
    })
    .clone()
}

pub mod smtp;

pub mod codes {
    pub const GANSU: &str = "62";
    pub const LANZHOU: &str = "6201";
    pub const YUZHONG: &str = "620123";
    pub const CHENGGUAN_TOWN: &str = "620123100";
    pub const XIAGUANYING: &str = "620123101";
    /// 过店子村 in 夏官营镇
    pub const GUODIANZI: &str = "620123101201";
    /// 太平堡村 in 夏官营镇
    pub const TAIPINGBAO: &str = "620123101202";
    /// 兴隆路社区 in 城关镇
    pub const XINGLONGLU: &str = "620123100001";
    /// 城关区 (another county of 兰州市)
    pub const CHENGGUAN_DISTRICT: &str = "620102";
    /// 畅家巷社区 in 城关区
    pub const CHANGJIAXIANG: &str = "620102001001";
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub url: String,
    pub client: reqwest::Client,
    pub services: Services,
    pub clock: Arc<TestClock>,
    pub db: TestDb,
    pub data_dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A signed-in test user.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub password: String,
    pub access_token: String,
    pub refresh_token: String,
}

pub const PASSWORD: &str = "议事-村口-2026-槐树";

static NEXT_USER: AtomicI64 = AtomicI64::new(1);

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

/// [`spawn_app`] with some settings overridden (see [`test_settings_with`]).
pub async fn spawn_app_with(backend: Backend, overrides: &[(&str, &str)]) -> TestApp {
    let db = TestDb::create(backend).await;
    let data_dir = tempfile::tempdir().expect("temp dir");
    let settings = test_settings_with(&db.url, data_dir.path(), overrides);
    let clock = Arc::new(TestClock::default());
    let services = yishi::init_services_with_clock(settings, clock.clone())
        .await
        .expect("services start");
    services.db.migrate().await.expect("migrations run");
    import::import_rows(&services.db, fixture_divisions(), |_, _| {})
        .await
        .expect("fixture divisions import");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let app = yishi::build_app(services.clone());
    // The binary's own serving code: its timeouts and caps are under test too.
    let serving = services.settings.clone();
    let server = tokio::spawn(async move {
        yishi::server::serve(listener, app, &serving, std::future::pending())
            .await
            .expect("server runs");
    });
    TestApp {
        addr,
        url: format!("http://{addr}"),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .expect("client"),
        services,
        clock,
        db,
        data_dir,
        server,
    }
}

impl TestApp {
    /// POSTs a GraphQL request and returns the whole JSON response.
    ///
    /// A topic's times in `createTopic` and `updateTopic` variables, written
    /// from the wall clock (`Utc::now() + 73h`), are moved by however far the
    /// test clock has been advanced, so "in 73 hours" keeps meaning that
    /// after a test has let a topic open or close on time.
    pub async fn gql(&self, token: Option<&str>, query: &str, mut variables: Value) -> Value {
        if query.contains("createTopic") || query.contains("updateTopic") {
            let offset = self.clock.now() - Utc::now();
            if offset > chrono::Duration::seconds(1) {
                shift_topic_times(&mut variables, offset);
            }
        }
        let mut req = self
            .client
            .post(format!("{}/graphql", self.url))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.expect("request sent");
        resp.json().await.expect("JSON response")
    }

    /// Like [`TestApp::gql`], asserting there were no errors; returns `data`.
    pub async fn ok(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let resp = self.gql(token, query, variables).await;
        assert!(resp.get("errors").is_none(), "unexpected errors: {resp:#}");
        resp["data"].clone()
    }

    /// A unique email for this process.
    pub fn unique_email(prefix: &str) -> String {
        format!(
            "{prefix}{}@example.cn",
            NEXT_USER.fetch_add(1, Ordering::SeqCst)
        )
    }

    /// Registers a new account and returns it signed in (registering never
    /// signs in: it answers a taken address the same way, so the client
    /// signs in next, as the web app does).
    pub async fn register(&self, display_name: &str) -> Account {
        let email = Self::unique_email("user");
        self.ok(
            None,
            "mutation($input: RegisterInput!) { register(input: $input) { email } }",
            json!({ "input": { "email": email, "password": PASSWORD, "displayName": display_name } }),
        )
        .await;
        let data = self
            .ok(
                None,
                "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken refreshToken user { id } } }",
                json!({ "e": email, "p": PASSWORD }),
            )
            .await;
        Account {
            id: data["login"]["user"]["id"].as_str().expect("id").to_owned(),
            email,
            password: PASSWORD.to_owned(),
            access_token: data["login"]["accessToken"]
                .as_str()
                .expect("token")
                .to_owned(),
            refresh_token: data["login"]["refreshToken"]
                .as_str()
                .expect("token")
                .to_owned(),
        }
    }

    /// An open topic made from `input` (its scope set to `scope`) by a fresh
    /// organiser of `scope`, announced and opened; its id and organiser.
    pub async fn open_topic(&self, scope: &str, mut input: Value) -> (String, Account) {
        let organiser = self
            .with_role(yishi::domain::authz::Role::Organiser, scope)
            .await;
        input["scopeCode"] = json!(scope);
        let created = self
            .ok(
                Some(&organiser.access_token),
                "mutation($input: TopicInput!) { createTopic(input: $input) { id } }",
                json!({ "input": input }),
            )
            .await;
        let id = created["createTopic"]["id"]
            .as_str()
            .expect("topic id")
            .to_owned();
        self.ok(
            Some(&organiser.access_token),
            "mutation($id: ID!) { announceTopic(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
        self.step_on_time(&organiser.access_token, "openTopic", &id)
            .await;
        (id, organiser)
    }

    /// Moves the clock forward to `at` (RFC 3339), if it is not there yet.
    pub fn advance_to(&self, at: &str) {
        let at = DateTime::parse_from_rfc3339(at)
            .expect("an RFC 3339 time")
            .with_timezone(&Utc);
        let ahead = at - self.clock.now();
        if ahead > chrono::Duration::zero() {
            self.clock.advance(ahead + chrono::Duration::seconds(1));
        }
    }

    /// `openTopic` or `closeTopic` at the topic's own time: moves the clock
    /// to its `opensAt` or `closesAt` first (the procedure refuses either
    /// earlier) and returns the response, errors included.
    pub async fn step_on_time(&self, token: &str, step: &str, id: &str) -> Value {
        let field = match step {
            "openTopic" => "opensAt",
            "closeTopic" => "closesAt",
            other => panic!("{other} has no time of its own"),
        };
        let topic = self
            .ok(
                Some(token),
                &format!("query($id: ID!) {{ topic(id: $id) {{ {field} }} }}"),
                json!({ "id": id }),
            )
            .await;
        if let Some(at) = topic["topic"][field].as_str() {
            self.advance_to(at);
        }
        let resp = self
            .gql(
                Some(token),
                &format!("mutation($id: ID!) {{ {step}(id: $id) {{ id state }} }}"),
                json!({ "id": id }),
            )
            .await;
        assert!(resp.get("errors").is_none(), "{step}: {resp:#}");
        resp
    }

    /// A registered user with a role over `division`, granted directly.
    pub async fn with_role(&self, role: yishi::domain::authz::Role, division: &str) -> Account {
        let account = self
            .register(&format!("{}-{division}", role.as_str()))
            .await;
        yishi::domain::roles::bootstrap(
            &self.services,
            account.id.parse().expect("numeric id"),
            role,
            division,
        )
        .await
        .unwrap_or_else(|e| panic!("bootstrap role: {e:?}"));
        account
    }

    /// A registered user whose residency in `village` is approved.
    pub async fn resident(&self, village: &str) -> Account {
        let account = self.register("居民").await;
        yishi::domain::residency::grant(
            &self.services,
            account.id.parse().expect("numeric id"),
            village,
        )
        .await
        .unwrap_or_else(|e| panic!("grant residency: {e:?}"));
        account
    }

    /// Runs a raw SQL statement (to set up a situation a test needs).
    pub async fn execute(&self, sql: &str) {
        self.services
            .db
            .writer()
            .execute_unprepared(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Runs a raw SQL query that returns one integer (counts in assertions).
    pub async fn count(&self, sql: &str) -> i64 {
        let backend = self.services.db.backend();
        let row = self
            .services
            .db
            .reader()
            .query_one(sea_orm::Statement::from_string(backend, sql.to_owned()))
            .await
            .expect("query runs")
            .expect("one row");
        row.try_get_by_index::<i64>(0).expect("integer")
    }
}

/// The `extensions.code` of the first error, if any.
pub fn error_code(resp: &Value) -> Option<&str> {
    resp["errors"][0]["extensions"]["code"].as_str()
}

/// The `extensions.field` of the first error, if any.
pub fn error_field(resp: &Value) -> Option<&str> {
    resp["errors"][0]["extensions"]["field"].as_str()
}

/// A verified resident of `village` written straight into the database (no
/// password hashing), with a real access token: for tests that need many.
pub async fn fast_resident(app: &TestApp, village: &str) -> (i32, String) {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let now = app.services.now();
    let user = yishi::entities::users::ActiveModel {
        email: Set(TestApp::unique_email("fast")),
        password_hash: Set(
            "$argon2id$v=19$m=256,t=2,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA".to_owned(),
        ),
        display_name: Set("居民".to_owned()),
        locale: Set("zh-CN".to_owned()),
        email_verified_at: Set(Some(now)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(app.services.db.writer())
    .await
    .expect("insert user");
    yishi::domain::residency::grant(&app.services, user.id, village)
        .await
        .unwrap_or_else(|e| panic!("grant residency: {e:?}"));
    let (token, _) = app.services.jwt.issue(user.id, chrono::Utc::now());
    (user.id, token)
}
