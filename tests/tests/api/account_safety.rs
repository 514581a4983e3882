//! Account safety over real HTTP: signed-out sessions stay out, old email
//! links die, no raw link token rests in the database, registration and
//! reset answer alike for known and unknown addresses, and every argon2 path
//! is rate-limited and runs at most once per request.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use serde_json::{json, Value};
use yishi::domain::authz::Role;
use yishi::mail::worker;
use yishi::mail::Mailer;
use yishi_tests::smtp::SmtpServer;
use yishi_tests::{
    codes, db_tests, error_code, error_field, spawn_app, spawn_app_with, Backend, TestApp, PASSWORD,
};

use super::accounts::token_from_outbox;

const LOGIN: &str = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken refreshToken } }";
const LOGOUT: &str = "mutation($t: String!) { logout(refreshToken: $t) }";
const ME: &str = "{ me { id } }";
const CHANGE: &str =
    "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";
const REQUEST_RESET: &str = "mutation($e: String!) { requestPasswordReset(email: $e) }";
const RESET: &str =
    "mutation($t: String!, $n: String!) { resetPassword(token: $t, newPassword: $n) }";
const NEW_PASSWORD: &str = "新的密码-黄河-2027-长城";

/// Signs in again: a second session of the same account.
async fn sign_in(app: &TestApp, email: &str, password: &str) -> (String, String) {
    let data = app
        .ok(None, LOGIN, json!({ "e": email, "p": password }))
        .await;
    (
        data["login"]["accessToken"].as_str().unwrap().to_owned(),
        data["login"]["refreshToken"].as_str().unwrap().to_owned(),
    )
}

async fn works(app: &TestApp, access_token: &str) -> bool {
    let resp = app.gql(Some(access_token), ME, json!({})).await;
    match error_code(&resp) {
        None => resp["data"]["me"]["id"].is_string(),
        Some("UNAUTHENTICATED") => false,
        Some(other) => panic!("unexpected {other}: {resp}"),
    }
}

async fn logging_out_ends_that_sessions_access_token_and_no_other(backend: Backend) {
    let app = spawn_app(backend).await;
    let account = app.register("退出").await;
    let (other_access, _) = sign_in(&app, &account.email, PASSWORD).await;
    assert!(works(&app, &account.access_token).await);

    app.ok(None, LOGOUT, json!({ "t": account.refresh_token }))
        .await;

    let resp = app.gql(Some(&account.access_token), ME, json!({})).await;
    assert_eq!(error_code(&resp), Some("UNAUTHENTICATED"), "{resp}");
    assert!(
        resp["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("signed out"),
        "{resp}"
    );
    assert!(
        works(&app, &other_access).await,
        "another session is not signed out"
    );
}

async fn changing_the_password_ends_every_access_token_of_the_user(backend: Backend) {
    let app = spawn_app(backend).await;
    let account = app.register("改密").await;
    let (other_access, _) = sign_in(&app, &account.email, PASSWORD).await;
    let bystander = app.register("旁人").await;

    app.ok(
        Some(&account.access_token),
        CHANGE,
        json!({ "c": PASSWORD, "n": NEW_PASSWORD }),
    )
    .await;

    assert!(!works(&app, &account.access_token).await);
    assert!(!works(&app, &other_access).await);
    assert!(works(&app, &bystander.access_token).await);
    let (fresh, _) = sign_in(&app, &account.email, NEW_PASSWORD).await;
    assert!(works(&app, &fresh).await);
}

async fn a_password_reset_ends_every_access_token_of_the_user(backend: Backend) {
    let app = spawn_app(backend).await;
    let account = app.register("重设").await;
    app.ok(None, REQUEST_RESET, json!({ "e": account.email }))
        .await;
    let token = token_from_outbox(&app, "password_reset", &account.email).await;
    app.ok(None, RESET, json!({ "t": token, "n": NEW_PASSWORD }))
        .await;
    assert!(!works(&app, &account.access_token).await);
}

/// A second instance on the same database, as behind a load balancer.
async fn second_instance(
    app: &TestApp,
) -> (String, tokio::task::JoinHandle<()>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let settings = yishi_tests::test_settings(&app.db.url, dir.path());
    let services = yishi::init_services_with_clock(settings, app.clock.clone())
        .await
        .expect("second instance starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = yishi::build_app(services);
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    (format!("http://{addr}"), server, dir)
}

async fn a_sign_out_on_one_instance_reaches_the_others(backend: Backend) {
    let app = spawn_app(backend).await;
    let account = app.register("两台").await;
    let (url, server, _dir) = second_instance(&app).await;
    let me_on_b = || async {
        let resp: Value = app
            .client
            .post(format!("{url}/graphql"))
            .bearer_auth(&account.access_token)
            .json(&json!({ "query": ME }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        resp
    };
    assert!(me_on_b().await["data"]["me"]["id"].is_string());

    app.ok(None, LOGOUT, json!({ "t": account.refresh_token }))
        .await;

    // PostgreSQL: LISTEN/NOTIFY at once. SQLite has one instance in
    // production; here the periodic re-read of revocations catches it.
    let within = match backend {
        Backend::Postgres => Duration::from_secs(2),
        Backend::Sqlite => {
            yishi::domain::accounts::REVOCATION_SYNC_INTERVAL + Duration::from_secs(3)
        }
    };
    let started = Instant::now();
    loop {
        let resp = me_on_b().await;
        if error_code(&resp) == Some("UNAUTHENTICATED") {
            break;
        }
        assert!(
            started.elapsed() < within,
            "still signed in on the other instance after {within:?}: {resp}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.abort();
}

async fn a_new_reset_link_ends_the_older_ones_and_using_one_ends_the_rest(backend: Backend) {
    let app = spawn_app(backend).await;
    let account = app.register("旧链接").await;
    app.ok(None, REQUEST_RESET, json!({ "e": account.email }))
        .await;
    let first = token_from_outbox(&app, "password_reset", &account.email).await;
    app.ok(None, REQUEST_RESET, json!({ "e": account.email }))
        .await;
    let mut second = first.clone();
    for _ in 0..100 {
        second = token_from_outbox(&app, "password_reset", &account.email).await;
        if second != first {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_ne!(first, second);

    let old = app
        .gql(None, RESET, json!({ "t": first, "n": NEW_PASSWORD }))
        .await;
    assert_eq!(error_field(&old), Some("token"), "{old}");
    app.ok(None, RESET, json!({ "t": second, "n": NEW_PASSWORD }))
        .await;
    let unused = app
        .count(&format!(
            "SELECT COUNT(*) FROM email_tokens WHERE user_id = {} AND used_at IS NULL AND purpose = 'password_reset'",
            account.id
        ))
        .await;
    assert_eq!(unused, 0);
}

async fn a_new_verification_link_ends_the_older_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let account = app.register("验证").await;
    let first = token_from_outbox(&app, "verify_email", &account.email).await;
    app.ok(
        Some(&account.access_token),
        "mutation { resendVerificationEmail }",
        json!({}),
    )
    .await;
    let second = token_from_outbox(&app, "verify_email", &account.email).await;
    assert_ne!(first, second);
    let verify = "mutation($t: String!) { verifyEmail(token: $t) { emailVerified } }";
    let old = app.gql(None, verify, json!({ "t": first })).await;
    assert_eq!(error_field(&old), Some("token"), "{old}");
    let ok = app.ok(None, verify, json!({ "t": second })).await;
    assert_eq!(ok["verifyEmail"]["emailVerified"], true);
}

/// Every text column of every table, cast to text, searched for `needle`:
/// the tables and rows that contain it.
async fn rows_containing(app: &TestApp, needle: &str) -> Vec<String> {
    let db = app.services.db.reader();
    let backend = db.get_database_backend();
    let tables_sql = match backend {
        DatabaseBackend::Postgres => {
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table'",
    };
    let tables: Vec<String> = db
        .query_all(Statement::from_string(backend, tables_sql.to_owned()))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<String>("", "name").unwrap())
        .collect();
    assert!(tables.iter().any(|t| t == "outbox"), "{tables:?}");
    assert!(tables.iter().any(|t| t == "email_tokens"), "{tables:?}");
    let mut found = Vec::new();
    for table in tables {
        let sql = match backend {
            DatabaseBackend::Postgres => {
                format!("SELECT COUNT(*) AS n FROM \"{table}\" t WHERE t::text LIKE '%{needle}%'")
            }
            _ => {
                let columns: Vec<String> = db
                    .query_all(Statement::from_string(
                        backend,
                        format!("SELECT name FROM pragma_table_info('{table}')"),
                    ))
                    .await
                    .unwrap()
                    .iter()
                    .map(|row| row.try_get::<String>("", "name").unwrap())
                    .collect();
                let any = columns
                    .iter()
                    .map(|c| format!("CAST(\"{c}\" AS TEXT) LIKE '%{needle}%'"))
                    .collect::<Vec<_>>()
                    .join(" OR ");
                format!("SELECT COUNT(*) AS n FROM \"{table}\" WHERE {any}")
            }
        };
        let n: i64 = db
            .query_one(Statement::from_string(backend, sql))
            .await
            .unwrap()
            .unwrap()
            .try_get("", "n")
            .unwrap();
        if n > 0 {
            found.push(table);
        }
    }
    found
}

async fn no_table_holds_a_raw_link_token_before_or_after_delivery(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start().await;
    let account = app.register("备份").await;
    app.ok(None, REQUEST_RESET, json!({ "e": account.email }))
        .await;
    let reset = token_from_outbox(&app, "password_reset", &account.email).await;
    let verify = token_from_outbox(&app, "verify_email", &account.email).await;
    // The search itself finds what is there: the digest is stored.
    let digest = yishi::auth::token::digest(&reset);
    assert_eq!(rows_containing(&app, &digest).await, ["email_tokens"]);
    for token in [&reset, &verify] {
        assert_eq!(rows_containing(&app, token).await, Vec::<String>::new());
    }

    let mailer = Mailer::from_url(&smtp.url(), "议事 <noreply@yishi.test>").unwrap();
    let report = worker::run_once(&app.services, &mailer).await.unwrap();
    assert_eq!(report.sent, 2, "{report:?}");
    let delivered = smtp
        .received()
        .iter()
        .filter_map(|m| m.part("text/plain"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(delivered.contains(&format!("reset-password?token={reset}")));
    assert!(delivered.contains(&format!("verify-email?token={verify}")));
    for token in [&reset, &verify] {
        assert_eq!(rows_containing(&app, token).await, Vec::<String>::new());
    }
    // Once delivered, not even the sealed link stays behind.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE payload LIKE '%sealed_link%'")
            .await,
        0
    );
    // The admin view shows no link either.
    let admin = app.with_role(Role::Admin, codes::GANSU).await;
    let view = app
        .ok(
            Some(&admin.access_token),
            "{ outbox(first: 50) { edges { node { id kind recipient status lastError } } } }",
            json!({}),
        )
        .await
        .to_string();
    assert!(view.contains("password_reset"), "{view}");
    assert!(!view.contains(&reset) && !view.contains("token="), "{view}");
    // The link still works: sealing kept it intact.
    app.ok(None, RESET, json!({ "t": reset, "n": NEW_PASSWORD }))
        .await;
}

async fn a_reset_for_a_known_and_an_unknown_address_answers_alike(backend: Backend) {
    let app = spawn_app(backend).await;
    let account = app.register("探测").await;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    // Interleaved, so background work weighs on both series alike.
    for i in 0..12 {
        for (email, times) in [
            (account.email.clone(), &mut known),
            (format!("nobody{i}@example.cn"), &mut unknown),
        ] {
            let started = Instant::now();
            let resp = app.gql(None, REQUEST_RESET, json!({ "e": email })).await;
            times.push(started.elapsed());
            assert_eq!(resp, json!({ "data": { "requestPasswordReset": true } }));
        }
    }
    known.sort();
    unknown.sort();
    let (k, u) = (known[known.len() / 2], unknown[unknown.len() / 2]);
    let gap = k.abs_diff(u);
    assert!(
        gap < Duration::from_millis(50),
        "median answer for a known address {k:?}, for an unknown one {u:?}"
    );
}

async fn twenty_password_changes_in_a_minute_are_rate_limited(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("YISHI_RATE_LIMIT_PASSWORD_CHANGE_PER_ACCOUNT", "5"),
            ("YISHI_RATE_LIMIT_PASSWORD_CHANGE_PER_IP", "30"),
        ],
    )
    .await;
    let account = app.register("猜密码").await;
    let mut codes_seen = Vec::new();
    for i in 0..20 {
        let resp = app
            .gql(
                Some(&account.access_token),
                CHANGE,
                json!({ "c": format!("guess-{i}-黄河"), "n": NEW_PASSWORD }),
            )
            .await;
        codes_seen.push(error_code(&resp).unwrap_or("none").to_owned());
    }
    assert!(
        codes_seen[..5].iter().all(|c| c == "BAD_USER_INPUT"),
        "{codes_seen:?}"
    );
    assert!(
        codes_seen[5..].iter().all(|c| c == "RATE_LIMITED"),
        "{codes_seen:?}"
    );
    // Another user is not held back by this one.
    let other = app.register("旁人").await;
    app.ok(
        Some(&other.access_token),
        CHANGE,
        json!({ "c": PASSWORD, "n": NEW_PASSWORD }),
    )
    .await;
}

fn codes_of(resp: &Value) -> Vec<&str> {
    resp["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["extensions"]["code"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

async fn ten_aliased_password_mutations_run_one_hash(backend: Backend) {
    let app = spawn_app(backend).await;
    let account = app.register("别名").await;
    let sessions = format!(
        "SELECT COUNT(DISTINCT family_id) FROM refresh_tokens WHERE user_id = {}",
        account.id
    );
    let before = app.count(&sessions).await;
    let logins: String = (0..10)
        .map(|i| format!("l{i}: login(email: $e, password: $p) {{ accessToken }} "))
        .collect();
    let resp = app
        .gql(
            None,
            &format!("mutation($e: String!, $p: String!) {{ {logins} }}"),
            json!({ "e": account.email, "p": PASSWORD }),
        )
        .await;
    let codes = codes_of(&resp);
    assert!(
        !codes.is_empty() && codes.iter().all(|c| *c == "RATE_LIMITED"),
        "{resp:#}"
    );
    assert_eq!(
        app.count(&sessions).await,
        before + 1,
        "one sign-in ran: {resp:#}"
    );

    // Had a second change run, it would have found the current password
    // wrong (the first changed it) and said so.
    let changes: String = (0..10)
        .map(|i| format!("c{i}: changePassword(currentPassword: $c, newPassword: $n) "))
        .collect();
    let resp = app
        .gql(
            Some(&account.access_token),
            &format!("mutation($c: String!, $n: String!) {{ {changes} }}"),
            json!({ "c": PASSWORD, "n": NEW_PASSWORD }),
        )
        .await;
    let codes = codes_of(&resp);
    assert!(
        !codes.is_empty() && codes.iter().all(|c| *c == "RATE_LIMITED"),
        "{resp:#}"
    );
    sign_in(&app, &account.email, NEW_PASSWORD).await;
}

db_tests!(
    logging_out_ends_that_sessions_access_token_and_no_other,
    changing_the_password_ends_every_access_token_of_the_user,
    a_password_reset_ends_every_access_token_of_the_user,
    a_sign_out_on_one_instance_reaches_the_others,
    a_new_reset_link_ends_the_older_ones_and_using_one_ends_the_rest,
    a_new_verification_link_ends_the_older_one,
    no_table_holds_a_raw_link_token_before_or_after_delivery,
    a_reset_for_a_known_and_an_unknown_address_answers_alike,
    twenty_password_changes_in_a_minute_are_rate_limited,
    ten_aliased_password_mutations_run_one_hash,
);
