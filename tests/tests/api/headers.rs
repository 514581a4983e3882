//! Security and cache headers, as a browser receives them. They come from
//! one HTTP layer that does not depend on the database: SQLite only.

use reqwest::header::HeaderMap;
use serde_json::json;
use yishi_tests::{spawn_app, Backend, TestApp};

async fn get(app: &TestApp, path: &str) -> (u16, HeaderMap) {
    let resp = app
        .client
        .get(format!("{}{path}", app.url))
        .send()
        .await
        .expect("request sent");
    (resp.status().as_u16(), resp.headers().clone())
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .expect("ASCII header")
}

fn assert_security_headers(path: &str, headers: &HeaderMap) {
    let csp = header(headers, "content-security-policy");
    for directive in [
        "default-src 'self'",
        "script-src 'self';",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
    ] {
        assert!(
            csp.contains(directive),
            "{path}: CSP lacks {directive}: {csp}"
        );
    }
    let script_src = csp
        .split(';')
        .find(|d| d.trim_start().starts_with("script-src"))
        .unwrap_or_else(|| panic!("{path}: no script-src: {csp}"));
    assert!(
        !csp.contains("unsafe-eval") && !script_src.contains("unsafe-inline"),
        "{path}: scripts must not run inline or from eval: {csp}"
    );
    assert_eq!(
        header(headers, "x-content-type-options"),
        "nosniff",
        "{path}"
    );
    assert_eq!(header(headers, "x-frame-options"), "DENY", "{path}");
    assert_eq!(header(headers, "referrer-policy"), "no-referrer", "{path}");
}

async fn every_response_carries_the_security_headers_and_its_cache_policy(backend: Backend) {
    let app = spawn_app(backend).await;
    let static_dir = app.data_dir.path().join("static");
    std::fs::create_dir_all(static_dir.join("assets")).unwrap();
    std::fs::write(
        static_dir.join("index.html"),
        "<!doctype html><title>议事</title>",
    )
    .unwrap();
    std::fs::write(static_dir.join("assets/index-Ab12Cd.js"), "console.log(1)").unwrap();
    std::fs::write(static_dir.join("favicon.svg"), "<svg/>").unwrap();

    for (path, status, cache) in [
        ("/", 200, "no-cache"),
        ("/topics/42", 200, "no-cache"),
        (
            "/assets/index-Ab12Cd.js",
            200,
            "public, max-age=31536000, immutable",
        ),
        ("/favicon.svg", 200, "public, max-age=3600"),
        ("/graphql?query=%7B__typename%7D", 200, "no-store"),
        ("/api/topics/1/report.html", 401, "no-store"),
        ("/healthz", 200, "no-store"),
    ] {
        let (got, headers) = get(&app, path).await;
        assert_eq!(got, status, "{path}");
        assert_security_headers(path, &headers);
        assert_eq!(header(&headers, "cache-control"), cache, "{path}");
    }

    // A POSTed answer is personal too.
    let resp = app
        .client
        .post(format!("{}/graphql", app.url))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_security_headers("POST /graphql", resp.headers());
    assert_eq!(header(resp.headers(), "cache-control"), "no-store");
}

mod every_response_carries_the_security_headers_and_its_cache_policy {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::every_response_carries_the_security_headers_and_its_cache_policy(
            yishi_tests::Backend::Sqlite,
        )
        .await;
    }
}
