//! Hostile input: requests built to cost the server much or to confuse it.
//! Each is turned away with a clear error and the server keeps serving.
//!
//! These probe the HTTP and GraphQL layers, which do not depend on the
//! database, so they run on SQLite only.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use yishi_tests::{error_code, fast_resident, spawn_app, spawn_app_with, Backend, TestApp};

macro_rules! sqlite_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(yishi_tests::Backend::Sqlite).await;
                }
            }
        )*
    };
}

/// POSTs a raw body with a content type; returns status and body text.
async fn post_raw(
    app: &TestApp,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, String) {
    try_post_raw(app, content_type, body)
        .await
        .expect("request sent")
}

async fn try_post_raw(
    app: &TestApp,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Result<(u16, String)> {
    let resp = app
        .client
        .post(format!("{}/graphql", app.url))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await?;
    Ok((resp.status().as_u16(), resp.text().await?))
}

/// The server still answers an ordinary query.
async fn still_serving(app: &TestApp) {
    let data = app
        .ok(None, "{ division(code: \"62\") { name } }", json!({}))
        .await;
    assert_eq!(data["division"]["name"], "甘肃省");
}

/// Asserts `resp` is a request-level GraphQL error with `code`.
fn assert_refused(resp: &Value, code: &str) {
    assert_eq!(error_code(resp), Some(code), "{resp:#}");
    assert!(
        resp.get("data").is_none_or(Value::is_null),
        "no data expected: {resp:#}"
    );
}

/// Asserts the body is JSON `{"errors": [...]}` whose first error has `code`.
fn assert_json_error(status: u16, body: &str, want_status: u16, code: &str) {
    assert_eq!(status, want_status, "{body}");
    let value: Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    assert_eq!(error_code(&value), Some(code), "{value:#}");
    assert!(
        value["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{value:#}"
    );
}

async fn depth_bombs_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    // Far beyond the depth limit, but each level valid.
    let mut inner = String::from("code");
    for _ in 0..200 {
        inner = format!("ancestors {{ {inner} }}");
    }
    let resp = app
        .gql(
            None,
            &format!("{{ division(code: \"62\") {{ {inner} }} }}"),
            json!({}),
        )
        .await;
    assert_refused(&resp, "GRAPHQL_VALIDATION_FAILED");
    // Nesting the parser itself would recurse on: thousands of braces.
    let braces = format!("{}{}", "{ a ".repeat(5_000), "}".repeat(5_000));
    let resp = app.gql(None, &braces, json!({})).await;
    assert_refused(&resp, "GRAPHQL_VALIDATION_FAILED");
    // Deep JSON in the variables.
    let deep_json = format!(
        r#"{{"query":"query($v: String) {{ __typename }}","variables":{{"v":{}1{}}}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let (status, body) = post_raw(&app, "application/json", deep_json).await;
    assert!(status == 400 || status == 200, "{status} {body}");
    assert!(body.contains("errors"), "{body}");
    still_serving(&app).await;
}

async fn alias_overloading_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, token) = fast_resident(&app, yishi_tests::codes::GUODIANZI).await;
    let aliases: String = (0..1_000).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let started = Instant::now();
    let resp = app
        .gql(Some(&token), &format!("{{ {aliases} }}"), json!({}))
        .await;
    assert_refused(&resp, "GRAPHQL_VALIDATION_FAILED");
    // Aliases of a cheap field, as many as fit in the body limit.
    let typenames: String = (0..12_000).map(|i| format!("t{i}: __typename ")).collect();
    let resp = app
        .gql(None, &format!("{{ {typenames} }}"), json!({}))
        .await;
    assert_refused(&resp, "GRAPHQL_VALIDATION_FAILED");
    // Aliases of a field that touches the database.
    let divisions: String = (0..600)
        .map(|i| format!("d{i}: division(code: \"62\") {{ code }} "))
        .collect();
    let resp = app
        .gql(None, &format!("{{ {divisions} }}"), json!({}))
        .await;
    assert_refused(&resp, "GRAPHQL_VALIDATION_FAILED");
    assert!(started.elapsed() < Duration::from_secs(10));
    still_serving(&app).await;
}

/// Parsed documents are kept by their text; a known text must still be
/// checked, against the field cap and its variables, on every request.
async fn a_repeated_document_is_checked_again_every_time(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, token) = fast_resident(&app, yishi_tests::codes::GUODIANZI).await;
    // 600 aliases write out 1,200 fields: over the cap, and short enough
    // (under 16 KiB) for its parsed document to be kept.
    let aliases: String = (0..600).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let over_cap = format!("{{ {aliases} }}");
    for _ in 0..3 {
        let resp = app.gql(Some(&token), &over_cap, json!({})).await;
        assert_refused(&resp, "GRAPHQL_VALIDATION_FAILED");
    }
    let query = "query($code: String!) { division(code: $code) { code } }";
    let good = json!({ "code": "62" });
    for variables in [good.clone(), json!({}), json!({ "code": 62 }), good] {
        let resp = app.gql(None, query, variables.clone()).await;
        if variables.get("code").is_some_and(Value::is_string) {
            assert_eq!(resp["data"]["division"]["code"], "62", "{resp:#}");
        } else {
            assert!(error_code(&resp).is_some(), "{variables}: {resp:#}");
            assert!(resp["data"]["division"].is_null(), "{variables}: {resp:#}");
        }
    }
    still_serving(&app).await;
}

async fn fragment_cycles_and_fragment_bombs_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let cycle = "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
    let resp = app.gql(None, cycle, json!({})).await;
    assert_refused(&resp, "GRAPHQL_VALIDATION_FAILED");
    let self_cycle = "query { ...A } fragment A on Query { me { id } ...A }";
    let resp = app.gql(None, self_cycle, json!({})).await;
    assert_refused(&resp, "GRAPHQL_VALIDATION_FAILED");

    // "Billion laughs": each fragment spreads the previous one twice, so the
    // query expands to 2^40 fields if anything walks it naively.
    let mut bomb = String::from("query { ...F40 } fragment F0 on Query { __typename }");
    for i in 1..=40 {
        let prev = i - 1;
        bomb.push_str(&format!(
            " fragment F{i} on Query {{ ...F{prev} ...F{prev} }}"
        ));
    }
    let started = Instant::now();
    let resp = app.gql(None, &bomb, json!({})).await;
    assert_refused(&resp, "GRAPHQL_VALIDATION_FAILED");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    // The same with fields that nest, so depth grows too.
    let mut nested = String::from(
        "query { division(code: \"62\") { ...G30 } } fragment G0 on Division { code }",
    );
    for i in 1..=30 {
        let prev = i - 1;
        nested.push_str(&format!(
            " fragment G{i} on Division {{ a: ancestors {{ ...G{prev} }} b: ancestors {{ ...G{prev} }} }}"
        ));
    }
    let started = Instant::now();
    let resp = app.gql(None, &nested, json!({})).await;
    assert_refused(&resp, "GRAPHQL_VALIDATION_FAILED");
    assert!(started.elapsed() < Duration::from_secs(5));
    still_serving(&app).await;
}

async fn huge_lists_in_variables_are_refused_or_cheap(backend: Backend) {
    let app = spawn_app(backend).await;
    // As many list entries as fit in the body limit.
    let states: Vec<&str> = std::iter::repeat_n("OPEN", 30_000).collect();
    let started = Instant::now();
    let resp = app
        .gql(
            None,
            "query($s: [TopicState!]) { topics(states: $s) { edges { node { id } } } }",
            json!({ "s": states }),
        )
        .await;
    assert_ne!(error_code(&resp), Some("INTERNAL_SERVER_ERROR"), "{resp:#}");
    if resp.get("errors").is_some() {
        assert_eq!(error_code(&resp), Some("BAD_USER_INPUT"), "{resp:#}");
    }
    // A list where a scalar is expected, and an unused huge variable.
    let numbers: Vec<u32> = (0..30_000).collect();
    let resp = app
        .gql(
            None,
            "query($c: String!) { division(code: $c) { name } }",
            json!({ "c": numbers }),
        )
        .await;
    assert!(error_code(&resp).is_some(), "{resp:#}");
    assert_ne!(error_code(&resp), Some("INTERNAL_SERVER_ERROR"), "{resp:#}");
    let resp = app
        .gql(
            None,
            "{ division(code: \"62\") { name } }",
            json!({ "junk": numbers }),
        )
        .await;
    assert_eq!(resp["data"]["division"]["name"], "甘肃省", "{resp:#}");
    assert!(started.elapsed() < Duration::from_secs(10));
    still_serving(&app).await;
}

async fn batched_query_arrays_are_refused_with_a_clear_error(backend: Backend) {
    let app = spawn_app(backend).await;
    let one = json!({ "query": "{ division(code: \"62\") { name } }" });
    let batch = Value::Array(std::iter::repeat_n(one, 1_000).collect());
    let (status, body) = post_raw(&app, "application/json", batch.to_string()).await;
    assert_json_error(status, &body, 400, "BAD_REQUEST");
    assert!(body.contains("batch"), "{body}");
    still_serving(&app).await;
}

/// POSTs an oversized body made by `body`, and returns the answer. The server
/// may stop reading and close while the client is still sending (its right
/// with a body it refuses), and the client then sees the connection reset
/// before the 413: such an attempt is made again, at most three times.
async fn post_oversized(app: &TestApp, body: impl Fn() -> reqwest::Body) -> (u16, String) {
    let mut last_error = None;
    for _ in 0..3 {
        match try_post_raw(app, "application/json", body()).await {
            Ok(answer) => return answer,
            Err(e) => last_error = Some(e),
        }
    }
    panic!("no answer in three attempts: {last_error:?}");
}

async fn oversized_bodies_are_refused_with_413(backend: Backend) {
    let app = spawn_app(backend).await;
    let huge = format!(
        r#"{{"query":"{{ __typename }}","variables":{{"pad":"{}"}}}}"#,
        "x".repeat(yishi::http::MAX_BODY_BYTES)
    );
    let (status, body) = post_oversized(&app, || reqwest::Body::from(huge.clone())).await;
    assert_json_error(status, &body, 413, "PAYLOAD_TOO_LARGE");
    // Without a Content-Length (chunked), the limit holds while reading.
    let chunked = || {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = huge
            .as_bytes()
            .chunks(16 * 1024)
            .map(|c| Ok(c.to_vec()))
            .collect();
        reqwest::Body::wrap_stream(futures::stream::iter(chunks))
    };
    let (status, body) = post_oversized(&app, chunked).await;
    assert_json_error(status, &body, 413, "PAYLOAD_TOO_LARGE");
    still_serving(&app).await;
}

async fn malformed_json_and_invalid_utf8_are_refused_as_bad_requests(backend: Backend) {
    let app = spawn_app(backend).await;
    for body in [
        &b"{\"query\": \"{ __typename }\""[..],
        b"not json at all",
        b"",
        b"null",
        b"42",
        b"{\"query\": 42}",
        b"{\"query\": \"{ __typename }\", \"variables\": \"oops\"}",
        b"{\"query\": \"\\ud800\"}",
        b"{\"query\": \"{ __typename \xff\xfe }\"}",
        b"\xef\xbb\xbf\xff\xff\xff",
    ] {
        let (status, text) = post_raw(&app, "application/json", body.to_vec()).await;
        assert!(
            (400..500).contains(&status),
            "{:?} got {status} {text}",
            String::from_utf8_lossy(body)
        );
        let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!(
                "{:?}: not JSON ({e}): {text}",
                String::from_utf8_lossy(body)
            )
        });
        assert!(
            matches!(
                error_code(&value),
                Some("BAD_REQUEST" | "GRAPHQL_VALIDATION_FAILED")
            ),
            "{:?}: {value:#}",
            String::from_utf8_lossy(body)
        );
    }
    still_serving(&app).await;
}

async fn wrong_content_types_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let query = r#"{"query":"{ __typename }"}"#;
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "image/png",
    ] {
        let (status, body) = post_raw(&app, content_type, query).await;
        assert_json_error(status, &body, 415, "UNSUPPORTED_MEDIA_TYPE");
    }
    // Multipart without the operations part.
    let (status, body) = post_raw(
        &app,
        "multipart/form-data; boundary=x",
        "--x\r\nContent-Disposition: form-data; name=\"nope\"\r\n\r\n1\r\n--x--\r\n",
    )
    .await;
    assert!((400..500).contains(&status), "{status} {body}");
    still_serving(&app).await;
}

async fn get_requests_cannot_mutate(backend: Backend) {
    let app = spawn_app(backend).await;
    let resp = app
        .client
        .get(format!("{}/graphql", app.url))
        .query(&[(
            "query",
            "mutation { requestPasswordReset(email: \"a@example.cn\") }",
        )])
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    assert!(
        status == 405 || error_code(&body).is_some(),
        "{status} {body}"
    );
    assert!(body["data"].is_null(), "{body}");
}

async fn request_errors_follow_the_accepted_media_type(backend: Backend) {
    let app = spawn_app(backend).await;
    let send = |accept: &'static str| {
        app.client
            .post(format!("{}/graphql", app.url))
            .header("accept", accept)
            .json(&json!({ "query": "{ nosuchfield }" }))
            .send()
    };
    let resp = send("application/graphql-response+json").await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.headers()["content-type"],
        "application/graphql-response+json"
    );
    let body: Value = resp.json().await.unwrap();
    assert!(body.get("data").is_none(), "{body:#}");
    assert_eq!(error_code(&body), Some("GRAPHQL_VALIDATION_FAILED"));
    for legacy in ["application/json", "*/*"] {
        let resp = send(legacy).await.unwrap();
        assert_eq!(resp.status(), 200, "{legacy}");
        assert_eq!(resp.headers()["content-type"], "application/json");
    }
}

async fn introspection_is_off_in_production(backend: Backend) {
    let app = spawn_app_with(backend, &[("YISHI_ENV", "production")]).await;
    let resp = app
        .gql(None, "{ __schema { types { name } } }", json!({}))
        .await;
    // async-graphql answers introspection fields with null when disabled.
    assert!(resp["data"]["__schema"].is_null(), "{resp:#}");
    assert!(!resp.to_string().contains("RegisterInput"), "{resp:#}");
    let resp = app
        .gql(
            None,
            "{ __type(name: \"User\") { fields { name } } }",
            json!({}),
        )
        .await;
    assert!(resp["data"]["__type"].is_null(), "{resp:#}");
    // No playground either.
    let page = app
        .client
        .get(format!("{}/graphql", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
    still_serving(&app).await;

    // Outside production, introspection answers.
    let dev = spawn_app(backend).await;
    let data = dev
        .ok(None, "{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(data["__schema"]["queryType"]["name"], "Query");
}

// ---- rate limits ----

const LOGIN: &str =
    "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";
const REGISTER: &str = "mutation($input: RegisterInput!) { register(input: $input) { email } }";
const RESET: &str = "mutation($e: String!) { requestPasswordReset(email: $e) }";

fn assert_rate_limited(resp: &Value) {
    assert_eq!(error_code(resp), Some("RATE_LIMITED"), "{resp:#}");
    let retry = resp["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap_or_else(|| panic!("retryAfter in {resp:#}"));
    assert!((1..=60).contains(&retry), "{resp:#}");
}

async fn gql_from(app: &TestApp, forwarded_for: &str, query: &str, variables: Value) -> Value {
    app.client
        .post(format!("{}/graphql", app.url))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn logins_are_limited_per_account(backend: Backend) {
    // Four: signing in after registering spends the first.
    let app = spawn_app_with(backend, &[("YISHI_RATE_LIMIT_LOGIN_PER_ACCOUNT", "4")]).await;
    let account = app.register("居民").await;
    for _ in 0..2 {
        let resp = app
            .gql(
                None,
                LOGIN,
                json!({ "e": account.email, "p": "wrong-password" }),
            )
            .await;
        assert_eq!(error_code(&resp), Some("UNAUTHENTICATED"), "{resp:#}");
    }
    app.ok(
        None,
        LOGIN,
        json!({ "e": account.email, "p": account.password }),
    )
    .await;
    // The fifth attempt, even with the right password, waits; the key is
    // the normalised address, so case does not get around it.
    let resp = app
        .gql(
            None,
            LOGIN,
            json!({ "e": account.email.to_uppercase(), "p": account.password }),
        )
        .await;
    assert_rate_limited(&resp);
    // Another account from the same address is not affected.
    let other = app.register("居民").await;
    app.ok(
        None,
        LOGIN,
        json!({ "e": other.email, "p": other.password }),
    )
    .await;
}

async fn registrations_and_resets_are_limited_per_address(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("YISHI_RATE_LIMIT_REGISTER_PER_IP", "2"),
            ("YISHI_RATE_LIMIT_PASSWORD_RESET_PER_IP", "2"),
        ],
    )
    .await;
    let input = |email: String| json!({ "input": { "email": email, "password": yishi_tests::PASSWORD, "displayName": "居民" } });
    for _ in 0..2 {
        app.ok(None, REGISTER, input(TestApp::unique_email("rl")))
            .await;
    }
    let resp = app
        .gql(None, REGISTER, input(TestApp::unique_email("rl")))
        .await;
    assert_rate_limited(&resp);
    // X-Forwarded-For is ignored without YISHI_TRUSTED_PROXY.
    let resp = gql_from(
        &app,
        "203.0.113.7",
        REGISTER,
        input(TestApp::unique_email("rl")),
    )
    .await;
    assert_rate_limited(&resp);

    for i in 0..2 {
        let data = app
            .ok(None, RESET, json!({ "e": format!("nobody{i}@example.cn") }))
            .await;
        assert_eq!(data["requestPasswordReset"], true);
    }
    let resp = app
        .gql(None, RESET, json!({ "e": "nobody9@example.cn" }))
        .await;
    assert_rate_limited(&resp);
}

async fn password_resets_are_limited_per_account(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[("YISHI_RATE_LIMIT_PASSWORD_RESET_PER_ACCOUNT", "1")],
    )
    .await;
    app.ok(None, RESET, json!({ "e": "victim@example.cn" }))
        .await;
    let resp = app
        .gql(None, RESET, json!({ "e": " Victim@Example.cn" }))
        .await;
    assert_rate_limited(&resp);
    app.ok(None, RESET, json!({ "e": "someone-else@example.cn" }))
        .await;
}

async fn a_trusted_proxy_forwards_the_client_address(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("YISHI_RATE_LIMIT_REGISTER_PER_IP", "1"),
            ("YISHI_TRUSTED_PROXY", "127.0.0.1"),
        ],
    )
    .await;
    let input = |email: String| json!({ "input": { "email": email, "password": yishi_tests::PASSWORD, "displayName": "居民" } });
    for client in ["203.0.113.1", "203.0.113.2"] {
        let resp = gql_from(&app, client, REGISTER, input(TestApp::unique_email("px"))).await;
        assert!(resp.get("errors").is_none(), "{client}: {resp:#}");
    }
    // A spoofed entry before the real client's does not help.
    let resp = gql_from(
        &app,
        "198.51.100.99, 203.0.113.1",
        REGISTER,
        input(TestApp::unique_email("px")),
    )
    .await;
    assert_rate_limited(&resp);
}

async fn opinions_are_limited_per_account(backend: Backend) {
    let app = spawn_app_with(backend, &[("YISHI_RATE_LIMIT_OPINION_PER_ACCOUNT", "2")]).await;
    let (_, token) = fast_resident(&app, yishi_tests::codes::GUODIANZI).await;
    let (_, other) = fast_resident(&app, yishi_tests::codes::GUODIANZI).await;
    let submit = "mutation { submitOpinion(topicId: \"999999\", stance: SUPPORT) { id } }";
    for _ in 0..2 {
        let resp = app.gql(Some(&token), submit, json!({})).await;
        assert_ne!(error_code(&resp), Some("RATE_LIMITED"), "{resp:#}");
    }
    assert_rate_limited(&app.gql(Some(&token), submit, json!({})).await);
    let resp = app.gql(Some(&other), submit, json!({})).await;
    assert_ne!(error_code(&resp), Some("RATE_LIMITED"), "{resp:#}");
    // Anonymous submissions are refused before they count against anyone.
    let resp = app.gql(None, submit, json!({})).await;
    assert_eq!(error_code(&resp), Some("UNAUTHENTICATED"), "{resp:#}");
}

async fn a_login_storm_is_answered_rate_limited_and_never_starves_other_requests(backend: Backend) {
    // Costly hashing (64 MiB) so the bounded pool falls behind at once.
    let app = spawn_app_with(backend, &[("YISHI_ARGON2_MEMORY_KIB", "65536")]).await;
    let started = Instant::now();
    let storm = futures::future::join_all((0..300).map(|i| {
        let app = &app;
        async move {
            let began = Instant::now();
            let resp = app
                .gql(
                    None,
                    LOGIN,
                    json!({ "e": format!("storm{i}@example.cn"), "p": "wrong-password" }),
                )
                .await;
            (began.elapsed(), resp)
        }
    }));
    let probe = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let began = Instant::now();
        still_serving(&app).await;
        began.elapsed()
    };
    let (results, probe_took) = tokio::join!(storm, probe);
    assert!(
        probe_took < Duration::from_secs(2),
        "a query waited {probe_took:?} behind the storm"
    );
    let mut limited = 0;
    for (took, resp) in &results {
        match error_code(resp) {
            Some("UNAUTHENTICATED") => {}
            Some("RATE_LIMITED") => {
                limited += 1;
                assert_rate_limited(resp);
                // Refused after the 2 s queue wait, not after the whole storm.
                assert!(*took < Duration::from_secs(6), "refused after {took:?}");
            }
            other => panic!("unexpected {other:?}: {resp:#}"),
        }
    }
    assert!(
        limited > 0,
        "no login was refused in {:?}",
        started.elapsed()
    );
}

sqlite_tests!(
    depth_bombs_are_refused,
    alias_overloading_is_refused,
    a_repeated_document_is_checked_again_every_time,
    fragment_cycles_and_fragment_bombs_are_refused,
    huge_lists_in_variables_are_refused_or_cheap,
    batched_query_arrays_are_refused_with_a_clear_error,
    oversized_bodies_are_refused_with_413,
    malformed_json_and_invalid_utf8_are_refused_as_bad_requests,
    wrong_content_types_are_refused,
    get_requests_cannot_mutate,
    request_errors_follow_the_accepted_media_type,
    introspection_is_off_in_production,
    logins_are_limited_per_account,
    registrations_and_resets_are_limited_per_address,
    password_resets_are_limited_per_account,
    a_trusted_proxy_forwards_the_client_address,
    opinions_are_limited_per_account,
    a_login_storm_is_answered_rate_limited_and_never_starves_other_requests,
);
