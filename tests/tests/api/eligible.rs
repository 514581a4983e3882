//! The eligible base of a topic is live while it is announced or open
//! (issue 15): residents approved, or moving away, while a topic is open
//! move its base at once, on every instance; participation never exceeds 1;
//! after closing the base is frozen.

use chrono::Duration;
use serde_json::{json, Value};
use yishi::domain::authz::Role;
use yishi_tests::{
    codes, db_tests, fast_resident, spawn_app, topic_input, Account, Backend, TestApp,
};

const CREATE: &str = "mutation($input: TopicInput!) { createTopic(input: $input) { id } }";
const SUBMIT: &str =
    "mutation($t: ID!, $s: Stance) { submitOpinion(topicId: $t, stance: $s) { id } }";
const REQUEST: &str = "mutation($v: String!) { requestResidency(villageCode: $v) { id } }";
const APPROVE: &str = "mutation($id: ID!) { approveResidency(id: $id) { status } }";
const RESULTS: &str = "query($t: ID!) { topicResults(topicId: $t) { fullDetail overall { withheld total eligible participation quorumMet } } }";

/// Creates and announces a topic made from `input`; its id.
async fn announce(app: &TestApp, organiser: &Account, input: Value) -> String {
    let data = app
        .ok(
            Some(&organiser.access_token),
            CREATE,
            json!({ "input": input }),
        )
        .await;
    let id = data["createTopic"]["id"].as_str().unwrap().to_owned();
    app.ok(
        Some(&organiser.access_token),
        "mutation($id: ID!) { announceTopic(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await;
    id
}

/// Moves the topic on once its time has come: `topic_input` opens 73 hours
/// and closes 120 hours from the start of the test.
async fn move_on_time(app: &TestApp, organiser: &Account, id: &str, step: &str, wait: Duration) {
    app.clock.advance(wait);
    app.ok(
        Some(&organiser.access_token),
        &format!("mutation($id: ID!) {{ {step}(id: $id) {{ id }} }}"),
        json!({ "id": id }),
    )
    .await;
}

/// `resident` asks to live in `village` and `organiser` approves it.
async fn approve_move(app: &TestApp, organiser: &Account, resident: &str, village: &str) {
    let asked = app
        .ok(Some(resident), REQUEST, json!({ "v": village }))
        .await;
    let data = app
        .ok(
            Some(&organiser.access_token),
            APPROVE,
            json!({ "id": asked["requestResidency"]["id"] }),
        )
        .await;
    assert_eq!(data["approveResidency"]["status"], "APPROVED");
}

/// (total, eligible, participation, quorumMet) of the whole topic as `token`
/// reads it (`None`: anonymously).
async fn overall(app: &TestApp, token: Option<&str>, id: &str) -> (i64, i64, f64, bool) {
    let data = app.ok(token, RESULTS, json!({ "t": id })).await;
    let o = &data["topicResults"]["overall"];
    assert_eq!(o["withheld"], false, "{data}");
    (
        o["total"].as_i64().unwrap(),
        o["eligible"].as_i64().unwrap(),
        o["participation"].as_f64().unwrap(),
        o["quorumMet"].as_bool().unwrap(),
    )
}

/// The topic's eligible residents, as its organiser reads them.
async fn eligible(app: &TestApp, organiser: &Account, id: &str) -> i64 {
    let data = app
        .ok(Some(&organiser.access_token), RESULTS, json!({ "t": id }))
        .await;
    data["topicResults"]["overall"]["eligible"]
        .as_i64()
        .unwrap()
}

fn share(a: i64, b: i64) -> f64 {
    a as f64 / b as f64
}

async fn residents_approved_while_a_topic_is_open_join_its_base_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let organiser = app.with_role(Role::Organiser, codes::XIAGUANYING).await;
    let mut voters = Vec::new();
    for _ in 0..3 {
        voters.push(fast_resident(&app, codes::GUODIANZI).await.1);
    }
    let mut input = topic_input(codes::GUODIANZI, "DECISION");
    input["quorumPercent"] = json!(50);
    let id = announce(&app, &organiser, input).await;
    let token = Some(organiser.access_token.as_str());
    move_on_time(&app, &organiser, &id, "openTopic", Duration::hours(74)).await;
    // Read once, so the counters are held in memory when the base moves.
    assert_eq!(overall(&app, token, &id).await, (0, 3, 0.0, false));

    // Ten more residents while it is open: seven granted, three approved
    // through the review queue (one of them first lived elsewhere).
    for _ in 0..7 {
        voters.push(fast_resident(&app, codes::GUODIANZI).await.1);
    }
    for moving_in in [false, false, true] {
        let resident = if moving_in {
            fast_resident(&app, codes::TAIPINGBAO).await.1
        } else {
            app.register("新居民").await.access_token
        };
        approve_move(&app, &organiser, &resident, codes::GUODIANZI).await;
        voters.push(resident);
    }
    assert_eq!(overall(&app, token, &id).await, (0, 13, 0.0, false));

    // Five of thirteen answer: below the quorum of half. Before the fix the
    // base stayed at 3 and this read 5/3 = 1.67, quorum met.
    for voter in &voters[1..6] {
        app.ok(Some(voter), SUBMIT, json!({ "t": id, "s": "SUPPORT" }))
            .await;
    }
    let expected = (5, 13, share(5, 13), false);
    assert_eq!(overall(&app, token, &id).await, expected, "organiser");
    assert_eq!(overall(&app, None, &id).await, expected, "the public");

    // Everyone answers: participation is exactly 1 (13 of 13, not 13 of 3).
    for voter in voters.iter().take(1).chain(&voters[6..]) {
        app.ok(Some(voter), SUBMIT, json!({ "t": id, "s": "OPPOSE" }))
            .await;
    }
    assert_eq!(overall(&app, token, &id).await, (13, 13, 1.0, true));
    assert_eq!(overall(&app, None, &id).await, (13, 13, 1.0, true));

    // One who answered moves away: their opinion stays counted where it was
    // given, the base loses them, and participation stays at 1.
    approve_move(&app, &organiser, &voters[0], codes::TAIPINGBAO).await;
    assert_eq!(overall(&app, token, &id).await, (13, 12, 1.0, true));
    assert_eq!(overall(&app, None, &id).await, (13, 12, 1.0, true));
    assert_eq!(
        app.count(&format!(
            "SELECT CAST(SUM(count) AS BIGINT) FROM topic_eligible WHERE topic_id = {id}"
        ))
        .await,
        12
    );

    // Closed: the base is frozen, later approvals no longer move it.
    move_on_time(&app, &organiser, &id, "closeTopic", Duration::hours(47)).await;
    fast_resident(&app, codes::GUODIANZI).await;
    let newcomer = app.register("迟到的居民").await;
    approve_move(&app, &organiser, &newcomer.access_token, codes::GUODIANZI).await;
    assert_eq!(overall(&app, token, &id).await, (13, 12, 1.0, true));
}

async fn a_stakeholder_topic_moves_only_with_its_listed_residents(backend: Backend) {
    let app = spawn_app(backend).await;
    let organiser = app.with_role(Role::Organiser, codes::XIAGUANYING).await;
    let listed = [
        fast_resident(&app, codes::GUODIANZI).await,
        fast_resident(&app, codes::GUODIANZI).await,
        fast_resident(&app, codes::TAIPINGBAO).await,
    ];
    let mut input = topic_input(codes::GUODIANZI, "DECISION");
    input["eligibility"] = json!("STAKEHOLDERS");
    input["stakeholderUserIds"] = json!([listed[0].0.to_string(), listed[1].0.to_string()]);
    let id = announce(&app, &organiser, input).await;
    assert_eq!(
        eligible(&app, &organiser, &id).await,
        2,
        "announced: the base is counted, and live from now on"
    );
    move_on_time(&app, &organiser, &id, "openTopic", Duration::hours(74)).await;
    assert_eq!(eligible(&app, &organiser, &id).await, 2);

    // Someone not listed moving in changes nothing.
    fast_resident(&app, codes::GUODIANZI).await;
    assert_eq!(eligible(&app, &organiser, &id).await, 2);
    // A listed stakeholder moving away leaves the base; one moving back in
    // joins it again.
    approve_move(&app, &organiser, &listed[0].1, codes::TAIPINGBAO).await;
    assert_eq!(eligible(&app, &organiser, &id).await, 1);
    approve_move(&app, &organiser, &listed[0].1, codes::GUODIANZI).await;
    assert_eq!(eligible(&app, &organiser, &id).await, 2);
}

db_tests!(
    residents_approved_while_a_topic_is_open_join_its_base_at_once,
    a_stakeholder_topic_moves_only_with_its_listed_residents,
);

/// Two instances on one PostgreSQL database: the base a residency moves on
/// one is what the other's held counters show.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_instance_sees_the_moved_base() {
    use yishi::domain::results::{self, Freshness};
    use yishi::domain::{authz::Actor, divisions::Level};

    let app = spawn_app(Backend::Postgres).await;
    let organiser = app.with_role(Role::Organiser, codes::XIAGUANYING).await;
    fast_resident(&app, codes::GUODIANZI).await;
    let id = announce(&app, &organiser, topic_input(codes::GUODIANZI, "DECISION")).await;
    move_on_time(&app, &organiser, &id, "openTopic", Duration::hours(74)).await;

    let data_dir = tempfile::tempdir().unwrap();
    let other = yishi::init_services_with_clock(
        yishi_tests::test_settings(&app.db.url, data_dir.path()),
        app.clock.clone(),
    )
    .await
    .unwrap();
    let actor = Actor::load(other.db.reader(), organiser.id.parse().unwrap())
        .await
        .unwrap();
    let topic_id: i64 = id.parse().unwrap();
    let eligible_on_other = || async {
        results::results(
            &other,
            Some(&actor),
            topic_id,
            Level::Village,
            None,
            Freshness::WithinLag,
        )
        .await
        .unwrap()
        .overall
        .eligible
    };
    assert_eq!(eligible_on_other().await, 1, "held by the other instance");

    fast_resident(&app, codes::GUODIANZI).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let seen = eligible_on_other().await;
        if seen == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the other instance still shows {seen} eligible"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
