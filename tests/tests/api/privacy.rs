//! Privacy: nobody who may not read a topic's opinions learns the responses
//! of a division that has between 1 and k−1 of them (k = 5 here), by any
//! route: any level, any `within`, `overall`, the dashboard, live pushes,
//! or the difference of two answers.

use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use yishi::domain::authz::Role;
use yishi_tests::{
    codes, db_tests, fast_resident, spawn_app, topic_input, Account, Backend, TestApp,
};

const SUBMIT: &str =
    "mutation($t: ID!, $s: Stance) { submitOpinion(topicId: $t, stance: $s, reason: \"理由\") { id } }";
const RESULTS: &str = "query($t: ID!, $l: DivisionLevel, $w: String) { topicResults(topicId: $t, level: $l, within: $w) { fullDetail overall { withheld total participation counts { stance count } } rows { divisionCode folded divisions withheld total counts { stance count } } } }";
const DASHBOARD: &str = "query($d: String!) { dashboard(divisionCode: $d) { division { divisionCode responses dissenters withheld } children { divisionCode responses withheld } } }";

/// An open DECISION topic scoped to `scope`, run by a fresh organiser of it.
async fn open_topic(app: &TestApp, scope: &str) -> (String, Account) {
    app.open_topic(scope, topic_input(scope, "DECISION")).await
}

/// `n` residents of `village` each give `stance` on `topic`.
async fn votes(app: &TestApp, topic: &str, village: &str, stance: &str, n: usize) {
    for _ in 0..n {
        let (_, token) = fast_resident(app, village).await;
        app.ok(Some(&token), SUBMIT, json!({ "t": topic, "s": stance }))
            .await;
    }
}

async fn results(
    app: &TestApp,
    token: Option<&str>,
    topic: &str,
    level: &str,
    within: Option<&str>,
) -> Value {
    let data = app
        .ok(
            token,
            RESULTS,
            json!({ "t": topic, "l": level, "w": within }),
        )
        .await;
    data["topicResults"].clone()
}

fn rows(answer: &Value) -> Vec<Value> {
    answer["rows"].as_array().cloned().unwrap_or_default()
}

/// Every published total (overall and rows) is null, 0, or at least k.
fn assert_no_small_total(answer: &Value) {
    let totals = std::iter::once(&answer["overall"]).chain(answer["rows"].as_array().unwrap());
    for row in totals {
        if let Some(n) = row["total"].as_i64() {
            assert!(n == 0 || n >= 5, "a cell under k is published: {answer:#}");
        }
        for count in row["counts"].as_array().unwrap() {
            let n = count["count"].as_i64().unwrap();
            assert!(
                row["total"].as_i64().unwrap() >= 5 || n == 0,
                "a count of a small cell is published: {answer:#}"
            );
        }
    }
}

async fn an_anonymous_client_asking_within_a_small_village_learns_no_count(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, organiser) = open_topic(&app, codes::XIAGUANYING).await;
    votes(&app, &id, codes::GUODIANZI, "SUPPORT", 6).await;
    votes(&app, &id, codes::TAIPINGBAO, "OPPOSE", 2).await;

    for level in ["VILLAGE", "TOWNSHIP"] {
        let answer = results(&app, None, &id, level, Some(codes::TAIPINGBAO)).await;
        assert_eq!(answer["fullDetail"], false);
        assert_eq!(answer["overall"]["withheld"], true, "{answer:#}");
        assert_eq!(answer["overall"]["total"], Value::Null);
        assert_eq!(answer["overall"]["counts"], json!([]));
        assert!(rows(&answer).is_empty(), "{answer:#}");
    }
    // The village that keeps the small one from being worked out by
    // difference is not shown alone either.
    let complement = results(&app, None, &id, "VILLAGE", Some(codes::GUODIANZI)).await;
    assert_eq!(complement["overall"]["withheld"], true, "{complement:#}");
    // Those who may read the opinions see the village as it is.
    let full = results(
        &app,
        Some(&organiser.access_token),
        &id,
        "VILLAGE",
        Some(codes::TAIPINGBAO),
    )
    .await;
    assert_eq!(full["overall"]["total"], 2);
    assert_eq!(full["overall"]["withheld"], false);
}

async fn a_folded_row_never_stands_for_one_small_village_alone(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, _) = open_topic(&app, codes::XIAGUANYING).await;
    votes(&app, &id, codes::GUODIANZI, "SUPPORT", 6).await;
    votes(&app, &id, codes::TAIPINGBAO, "OPPOSE", 1).await;
    let (_, resident) = fast_resident(&app, codes::TAIPINGBAO).await;

    for token in [None, Some(resident.as_str())] {
        let answer = results(&app, token, &id, "VILLAGE", None).await;
        assert_no_small_total(&answer);
        let rows = rows(&answer);
        assert_eq!(rows.len(), 1, "{answer:#}");
        assert_eq!(rows[0]["divisionCode"], codes::XIAGUANYING);
        assert_eq!(rows[0]["folded"], true);
        assert_eq!(rows[0]["divisions"], 2, "the lone dissenter has company");
        assert_eq!(rows[0]["total"], 7);
        assert_eq!(answer["overall"]["total"], 7);
    }
}

async fn a_township_total_minus_its_shown_villages_reveals_no_small_village(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, _) = open_topic(&app, codes::YUZHONG).await;
    votes(&app, &id, codes::GUODIANZI, "SUPPORT", 7).await;
    votes(&app, &id, codes::TAIPINGBAO, "OPPOSE", 1).await;
    votes(&app, &id, codes::XINGLONGLU, "SUPPORT", 6).await;

    // Every answer an anonymous client may ask for.
    let mut shown: Vec<(String, i64)> = Vec::new();
    let mut folded: Vec<(String, i64, i64)> = Vec::new();
    for level in ["COUNTY", "TOWNSHIP", "VILLAGE"] {
        for within in [
            None,
            Some(codes::XIAGUANYING),
            Some(codes::CHENGGUAN_TOWN),
            Some(codes::GUODIANZI),
            Some(codes::TAIPINGBAO),
            Some(codes::XINGLONGLU),
        ] {
            let answer = results(&app, None, &id, level, within).await;
            assert_no_small_total(&answer);
            if let (Some(code), Some(total)) = (within, answer["overall"]["total"].as_i64()) {
                shown.push((code.to_owned(), total));
            }
            for row in rows(&answer) {
                let code = row["divisionCode"].as_str().unwrap().to_owned();
                let total = row["total"].as_i64().unwrap();
                if row["folded"] == true {
                    folded.push((code, total, row["divisions"].as_i64().unwrap()));
                } else {
                    shown.push((code, total));
                }
            }
        }
    }
    let total_of = |code: &str| shown.iter().find(|(c, _)| c == code).map(|(_, n)| *n);
    assert_eq!(
        total_of(codes::XIAGUANYING),
        Some(8),
        "the township is shown"
    );
    assert_eq!(
        total_of(codes::GUODIANZI),
        None,
        "the township minus 过店子 would be 太平堡's one vote"
    );
    assert_eq!(total_of(codes::TAIPINGBAO), None);
    assert_eq!(total_of(codes::XINGLONGLU), Some(6));
    assert!(
        folded
            .iter()
            .all(|(code, total, divisions)| code == codes::XIAGUANYING
                && *total == 8
                && *divisions == 2),
        "the small village folds with its complement, at every level: {folded:?}"
    );
    assert!(!folded.is_empty());
}

async fn the_overall_is_withheld_when_the_whole_scope_is_small(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, organiser) = open_topic(&app, codes::XIAGUANYING).await;
    votes(&app, &id, codes::GUODIANZI, "SUPPORT", 2).await;
    votes(&app, &id, codes::TAIPINGBAO, "OPPOSE", 1).await;
    let (_, resident) = fast_resident(&app, codes::GUODIANZI).await;

    for token in [None, Some(resident.as_str())] {
        for level in ["TOWNSHIP", "VILLAGE"] {
            let answer = results(&app, token, &id, level, None).await;
            assert_eq!(answer["overall"]["withheld"], true, "{answer:#}");
            assert_eq!(answer["overall"]["total"], Value::Null);
            assert_eq!(answer["overall"]["participation"], Value::Null);
            assert!(rows(&answer).is_empty(), "{answer:#}");
        }
    }
    let full = results(&app, Some(&organiser.access_token), &id, "VILLAGE", None).await;
    assert_eq!(full["overall"]["total"], 3);
    assert_eq!(rows(&full).len(), 2);
}

async fn a_village_organiser_dashboard_shows_no_small_cell_of_a_township_topic(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, township_organiser) = open_topic(&app, codes::XIAGUANYING).await;
    votes(&app, &id, codes::GUODIANZI, "SUPPORT", 6).await;
    votes(&app, &id, codes::TAIPINGBAO, "OPPOSE", 2).await;
    // The village organiser's own topic counts in full, small as it is.
    let (village_topic, village_organiser) = open_topic(&app, codes::TAIPINGBAO).await;
    votes(&app, &village_topic, codes::TAIPINGBAO, "SUPPORT", 1).await;

    let dashboard = |token: String, code: &'static str| {
        let app = &app;
        async move { app.ok(Some(&token), DASHBOARD, json!({ "d": code })).await["dashboard"].clone() }
    };
    let own = dashboard(village_organiser.access_token.clone(), codes::TAIPINGBAO).await;
    assert_eq!(
        own["division"]["responses"], 1,
        "only its own topic: the township topic's 2 stay hidden: {own:#}"
    );
    assert_eq!(own["division"]["withheld"], true);

    let next_door = app.with_role(Role::Organiser, codes::GUODIANZI).await;
    let next = dashboard(next_door.access_token.clone(), codes::GUODIANZI).await;
    assert_eq!(
        next["division"]["responses"], 0,
        "过店子 is the complement of 太平堡: {next:#}"
    );
    assert_eq!(next["division"]["withheld"], true);

    let full = dashboard(township_organiser.access_token.clone(), codes::XIAGUANYING).await;
    assert_eq!(full["division"]["responses"], 9);
    assert_eq!(full["division"]["withheld"], false);
    let taipingbao = full["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["divisionCode"] == codes::TAIPINGBAO)
        .cloned()
        .unwrap();
    assert_eq!(
        (
            taipingbao["responses"].as_i64(),
            taipingbao["withheld"].as_bool()
        ),
        (Some(3), Some(false)),
        "the township organiser reads every opinion of both topics"
    );
}

// ---------------------------------------------------------------------------
// graphql-transport-ws: the live results carry the same pattern.

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const LIVE: &str = "subscription($t: ID!, $l: DivisionLevel, $w: String) { topicResults(topicId: $t, level: $l, within: $w) { fullDetail overall { withheld total counts { stance count } } rows { divisionCode folded divisions withheld total counts { stance count } } } }";
const WITHIN: Duration = Duration::from_secs(10);

async fn subscribe(app: &TestApp, variables: Value) -> Socket {
    let url = format!("{}/graphql/ws", app.url.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    send(&mut ws, json!({ "type": "connection_init", "payload": {} })).await;
    assert_eq!(next_message(&mut ws).await["type"], "connection_ack");
    send(
        &mut ws,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": LIVE, "variables": variables } }),
    )
    .await;
    ws
}

async fn send(ws: &mut Socket, message: Value) {
    ws.send(Message::text(message.to_string())).await.unwrap();
}

async fn next_message(ws: &mut Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(WITHIN, ws.next())
            .await
            .expect("a message in time")
            .expect("the socket is open")
            .expect("a frame");
        if let Message::Text(text) = frame {
            let message: Value = serde_json::from_str(&text).unwrap();
            match message["type"].as_str() {
                Some("ping") => send(ws, json!({ "type": "pong" })).await,
                Some("pong") => {}
                _ => return message,
            }
        }
    }
}

/// The `topicResults` of the next push.
async fn next_push(ws: &mut Socket) -> Value {
    let message = next_message(ws).await;
    assert_eq!(message["type"], "next", "{message:#}");
    assert!(message["payload"].get("errors").is_none(), "{message:#}");
    message["payload"]["data"]["topicResults"].clone()
}

async fn live_results_push_folded_values_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, _) = open_topic(&app, codes::XIAGUANYING).await;
    votes(&app, &id, codes::GUODIANZI, "SUPPORT", 6).await;

    let mut village = subscribe(
        &app,
        json!({ "t": id, "l": "VILLAGE", "w": codes::TAIPINGBAO }),
    )
    .await;
    let mut township = subscribe(&app, json!({ "t": id, "l": "VILLAGE" })).await;
    let first = next_push(&mut township).await;
    assert_eq!(rows(&first).len(), 1);
    assert_eq!(rows(&first)[0]["divisionCode"], codes::GUODIANZI);
    next_push(&mut village).await;

    votes(&app, &id, codes::TAIPINGBAO, "OPPOSE", 1).await;
    let pushed = next_push(&mut village).await;
    assert_eq!(pushed["fullDetail"], false);
    assert_eq!(pushed["overall"]["withheld"], true, "{pushed:#}");
    assert_eq!(pushed["overall"]["total"], Value::Null);
    assert!(rows(&pushed).is_empty());
    let pushed = next_push(&mut township).await;
    assert_no_small_total(&pushed);
    assert_eq!(pushed["overall"]["total"], 7);
    assert_eq!(
        rows(&pushed)
            .iter()
            .map(|r| (
                r["divisionCode"].clone(),
                r["folded"].clone(),
                r["total"].clone()
            ))
            .collect::<Vec<_>>(),
        [(json!(codes::XIAGUANYING), json!(true), json!(7))],
        "the new dissenter and 过店子 are pushed only together"
    );
}

db_tests!(
    an_anonymous_client_asking_within_a_small_village_learns_no_count,
    a_folded_row_never_stands_for_one_small_village_alone,
    a_township_total_minus_its_shown_villages_reveals_no_small_village,
    the_overall_is_withheld_when_the_whole_scope_is_small,
    a_village_organiser_dashboard_shows_no_small_cell_of_a_township_topic,
    live_results_push_folded_values_only,
);
