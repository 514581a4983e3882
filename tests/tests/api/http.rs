use serde_json::json;
use yishi_tests::{db_tests, error_code, spawn_app, spawn_app_with, Backend};

async fn health_readiness_and_metrics_answer(backend: Backend) {
    let token = "metrics-token-for-tests-0123";
    let app = spawn_app_with(backend, &[("YISHI_METRICS_TOKEN", token)]).await;
    let health = app
        .client
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = app
        .client
        .get(format!("{}/readyz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    app.ok(None, "{ divisions { edges { node { code } } } }", json!({}))
        .await;
    let metrics = app
        .client
        .get(format!("{}/metrics", app.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("http_requests_total"), "{metrics}");
}

async fn readiness_fails_when_the_database_is_gone(backend: Backend) {
    let app = spawn_app(backend).await;
    app.services.db.clone().close().await;
    let ready = app
        .client
        .get(format!("{}/readyz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
}

async fn an_oversized_body_is_refused_with_413(backend: Backend) {
    let app = spawn_app(backend).await;
    let huge = "x".repeat(yishi::http::MAX_BODY_BYTES + 1);
    let resp = app
        .client
        .post(format!("{}/graphql", app.url))
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"query":"{{ me {{ id }} }}","variables":{{"pad":"{huge}"}}}}"#
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
}

async fn deep_queries_are_refused_with_a_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut query = String::from("code");
    for _ in 0..20 {
        query = format!("ancestors {{ {query} }}");
    }
    let resp = app
        .gql(
            None,
            &format!("{{ division(code: \"62\") {{ {query} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(
        error_code(&resp),
        Some("GRAPHQL_VALIDATION_FAILED"),
        "{resp}"
    );
    let malformed = app.gql(None, "{ division(code: ", json!({})).await;
    assert_eq!(error_code(&malformed), Some("GRAPHQL_VALIDATION_FAILED"));
}

async fn unknown_paths_fall_back_to_the_single_page_app(backend: Backend) {
    let app = spawn_app(backend).await;
    let static_dir = app.data_dir.path().join("static");
    std::fs::create_dir_all(&static_dir).unwrap();
    std::fs::write(
        static_dir.join("index.html"),
        "<!doctype html><title>议事</title>",
    )
    .unwrap();
    let page = app
        .client
        .get(format!("{}/topics/42", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("议事"));
}

db_tests!(
    health_readiness_and_metrics_answer,
    readiness_fails_when_the_database_is_gone,
    an_oversized_body_is_refused_with_413,
    deep_queries_are_refused_with_a_code,
    unknown_paths_fall_back_to_the_single_page_app,
);

#[test]
fn the_committed_schema_matches_the_code() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql"))
            .expect("schema.graphql at the repository root");
    assert!(
        committed == yishi::graphql::sdl(),
        "schema.graphql is stale: run `yishi schema > schema.graphql`"
    );
}
