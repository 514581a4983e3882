use serde_json::json;
use yishi::domain::divisions::import;
use yishi_tests::{
    codes, db_tests, error_code, error_field, fixture_divisions, spawn_app, Backend,
};

const DIVISION: &str = "query($c: String!) { division(code: $c) { code fullCode name level parentCode ancestors { code name level } } }";
const LIST: &str = "query($p: String, $l: DivisionLevel, $n: String, $f: Int, $a: String) { divisions(parentCode: $p, level: $l, nameContains: $n, first: $f, after: $a) { edges { cursor node { code name } } pageInfo { hasNextPage endCursor } } }";

async fn a_division_shows_its_ancestors_province_first(backend: Backend) {
    let app = spawn_app(backend).await;
    for code in [codes::GUODIANZI, "620123101201"] {
        let d = app.ok(None, DIVISION, json!({ "c": code })).await;
        assert_eq!(d["division"]["name"], "过店子村委会");
        assert_eq!(d["division"]["level"], "VILLAGE");
        assert_eq!(d["division"]["fullCode"], "620123101201");
        let ancestors: Vec<&str> = d["division"]["ancestors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["code"].as_str().unwrap())
            .collect();
        assert_eq!(ancestors, ["62", "6201", "620123", "620123101"]);
    }
    // The padded form of a township resolves to the township.
    let t = app.ok(None, DIVISION, json!({ "c": "620123101000" })).await;
    assert_eq!(t["division"]["name"], "夏官营镇");
}

async fn unknown_and_malformed_codes_are_told_apart(backend: Backend) {
    let app = spawn_app(backend).await;
    let missing = app
        .gql(None, DIVISION, json!({ "c": "630000000000" }))
        .await;
    assert_eq!(error_code(&missing), Some("NOT_FOUND"));
    let malformed = app.gql(None, DIVISION, json!({ "c": "62-01" })).await;
    assert_eq!(error_code(&malformed), Some("BAD_USER_INPUT"));
    assert_eq!(error_field(&malformed), Some("code"));
}

async fn children_are_listed_in_pages_by_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let all_villages = fixture_divisions()
        .iter()
        .filter(|r| r.parent_code.as_deref() == Some(codes::XIAGUANYING))
        .count();
    assert!(all_villages > 10);
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = app
            .ok(
                None,
                LIST,
                json!({ "p": codes::XIAGUANYING, "f": 7, "a": after }),
            )
            .await;
        let conn = &page["divisions"];
        for edge in conn["edges"].as_array().unwrap() {
            seen.push(edge["node"]["code"].as_str().unwrap().to_owned());
        }
        if !conn["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = conn["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.len(), all_villages);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted, "ordered by code, no duplicates across pages");
    // No filter: the provinces.
    let top = app.ok(None, LIST, json!({})).await;
    assert_eq!(top["divisions"]["edges"][0]["node"]["code"], "62");
}

async fn divisions_can_be_found_by_name_and_level(backend: Backend) {
    let app = spawn_app(backend).await;
    let found = app
        .ok(None, LIST, json!({ "n": "太平堡", "l": "VILLAGE" }))
        .await;
    let edges = found["divisions"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0]["node"]["code"], codes::TAIPINGBAO);
    let towns = app
        .ok(None, LIST, json!({ "l": "TOWNSHIP", "f": 100 }))
        .await;
    assert_eq!(towns["divisions"]["edges"].as_array().unwrap().len(), 3);
    let too_many = app.gql(None, LIST, json!({ "p": "62", "f": 100000 })).await;
    assert_eq!(error_field(&too_many), Some("first"));
}

async fn reimporting_updates_names_adds_rows_and_never_duplicates(backend: Backend) {
    let app = spawn_app(backend).await;
    let before = app.count("SELECT COUNT(*) FROM divisions").await;
    let mut rows = fixture_divisions();
    rows.iter_mut()
        .find(|r| r.code == codes::GUODIANZI)
        .unwrap()
        .name = "过店子村".into();
    rows.push(import::Row {
        line: 0,
        code: "620123101999".into(),
        name: "新设村".into(),
        level: yishi::domain::divisions::Level::Village,
        parent_code: Some(codes::XIAGUANYING.into()),
    });
    let report = import::import_rows(&app.services.db, rows.clone(), |_, _| {})
        .await
        .unwrap();
    assert_eq!((report.inserted, report.updated), (1, 1));
    assert_eq!(report.unchanged as usize, rows.len() - 2);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM divisions").await,
        before + 1
    );
    let again = import::import_rows(&app.services.db, rows, |_, _| {})
        .await
        .unwrap();
    assert_eq!((again.inserted, again.updated), (0, 0));
    let d = app
        .ok(None, DIVISION, json!({ "c": codes::GUODIANZI }))
        .await;
    assert_eq!(d["division"]["name"], "过店子村");
}

async fn a_file_with_a_bad_row_imports_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let before = app.count("SELECT COUNT(*) FROM divisions").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    std::fs::write(
        &path,
        "code,name,level,parent_code\n63,青海省,province,\n6301,西宁市,city,63\n630102,城东区,county,6302\n630103,城中区,county,6301\n",
    )
    .unwrap();
    let err = import::import_file(&app.services.db, &path, |_, _| {})
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("line 4:") && message.contains("6302"),
        "{message}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM divisions").await, before);
}

db_tests!(
    a_division_shows_its_ancestors_province_first,
    unknown_and_malformed_codes_are_told_apart,
    children_are_listed_in_pages_by_code,
    divisions_can_be_found_by_name_and_level,
    reimporting_updates_names_adds_rows_and_never_duplicates,
    a_file_with_a_bad_row_imports_nothing,
);
