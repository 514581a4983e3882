//! Every notice a resident gets by email about a topic's procedure also
//! appears in 消息 (issue 18): the advance notice, the opening and the
//! closing reminder reach each eligible resident in the app exactly once,
//! whether queued in the request or by the background job, and whether or
//! not the resident reads email.

use chrono::Duration;
use serde_json::{json, Value};
use yishi::domain::authz::Role;
use yishi::domain::topics::{notices, run_due};
use yishi_tests::{
    codes, db_tests, fast_resident, spawn_app, spawn_app_with, topic_input, Account, Backend,
    TestApp,
};

const CREATE: &str = "mutation($input: TopicInput!) { createTopic(input: $input) { id } }";
const SUBMIT: &str =
    "mutation($t: ID!, $s: Stance) { submitOpinion(topicId: $t, stance: $s) { id } }";
const KINDS: [&str; 3] = ["topic_announced", "topic_opened", "closing_soon"];

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

/// In-app notifications of `kind` about topic `id`, for `user` or for all.
async fn in_app(app: &TestApp, kind: &str, id: &str, user: Option<i32>) -> i64 {
    let user = user.map_or(String::new(), |u| format!(" AND user_id = {u}"));
    app.count(&format!(
        "SELECT COUNT(*) FROM notifications WHERE kind = '{kind}' AND topic_id = {id}{user}"
    ))
    .await
}

async fn emails(app: &TestApp, kind: &str, id: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM outbox WHERE kind = '{kind}' AND idempotency_key LIKE '{kind}:topic:{id}:%'"
    ))
    .await
}

/// Runs the scheduler (and, with `jobs`, the background job) several times,
/// twice at once as two instances would.
async fn run_twice_and_again(app: &TestApp, jobs: bool) {
    let (a, b) = tokio::join!(run_due(&app.services), run_due(&app.services));
    a.unwrap();
    b.unwrap();
    run_due(&app.services).await.unwrap();
    if jobs {
        notices::run_jobs(&app.services, 2).await.unwrap();
        notices::run_jobs(&app.services, 2).await.unwrap();
    }
}

/// Runs every notice of a topic through its procedure and checks, after
/// each, one in-app notification per eligible resident (and per email).
/// With `jobs`, every audience is large enough for the background job.
async fn notices_reach_the_app(app: &TestApp, jobs: bool) {
    let organiser = app.with_role(Role::Organiser, codes::XIAGUANYING).await;
    let mut inside = Vec::new();
    for village in [codes::GUODIANZI, codes::GUODIANZI, codes::TAIPINGBAO] {
        inside.push(fast_resident(app, village).await);
    }
    // One who reads no email: every topic email turned off.
    let no_email = fast_resident(app, codes::TAIPINGBAO).await;
    for kind in KINDS {
        app.ok(
            Some(&no_email.1),
            "mutation($k: String!) { setEmailPreference(kind: $k, enabled: false) { enabled } }",
            json!({ "k": kind }),
        )
        .await;
    }
    inside.push(no_email.clone());
    let outside = fast_resident(app, codes::XINGLONGLU).await.0;
    let id = announce(app, &organiser, topic_input(codes::XIAGUANYING, "DECISION")).await;
    if jobs {
        assert_eq!(
            in_app(app, "topic_announced", &id, None).await,
            0,
            "left to the job, like the emails"
        );
    }
    run_twice_and_again(app, jobs).await;
    // Opening on time, by the scheduler.
    app.clock.advance(Duration::hours(74));
    run_twice_and_again(app, jobs).await;
    app.ok(
        Some(&inside[0].1),
        SUBMIT,
        json!({ "t": id, "s": "SUPPORT" }),
    )
    .await;
    // 23 hours before closing: the reminder, to those who have not answered.
    app.clock.advance(Duration::hours(23));
    run_twice_and_again(app, jobs).await;
    if jobs {
        // A job run again from the start (a crash before its progress was
        // recorded) notifies nobody twice.
        app.execute(
            "UPDATE bulk_emails SET done_at = NULL, after_user_id = 0, leased_until = NULL",
        )
        .await;
        notices::run_jobs(&app.services, 2).await.unwrap();
        assert_eq!(
            app.count("SELECT COUNT(*) FROM bulk_emails").await,
            3,
            "every notice went through the job"
        );
    }

    for (kind, audience) in [
        ("topic_announced", &inside[..]),
        ("topic_opened", &inside[..]),
        ("closing_soon", &inside[1..]),
    ] {
        assert_eq!(
            in_app(app, kind, &id, None).await,
            audience.len() as i64,
            "{kind}"
        );
        assert_eq!(
            emails(app, kind, &id).await,
            audience.len() as i64,
            "{kind}"
        );
        for (user, _) in audience {
            assert_eq!(in_app(app, kind, &id, Some(*user)).await, 1, "{kind}");
        }
        assert_eq!(in_app(app, kind, &id, Some(outside)).await, 0, "{kind}");
    }
    assert_eq!(in_app(app, "closing_soon", &id, Some(inside[0].0)).await, 0);

    // What the resident without email reads in 消息, newest first.
    let list = app
        .ok(
            Some(&no_email.1),
            "{ notifications { kind topicId readAt } }",
            json!({}),
        )
        .await;
    let read: Vec<(&str, &str)> = list["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["kind"].as_str().unwrap(), n["topicId"].as_str().unwrap()))
        .collect();
    assert_eq!(
        read,
        [
            ("closing_soon", id.as_str()),
            ("topic_opened", id.as_str()),
            ("topic_announced", id.as_str()),
        ]
    );
}

async fn announcing_opening_and_closing_soon_notify_in_the_app_once(backend: Backend) {
    let app = spawn_app(backend).await;
    notices_reach_the_app(&app, false).await;
}

async fn the_background_job_notifies_in_the_app_once_too(backend: Backend) {
    let app = spawn_app_with(backend, &[("YISHI_BULK_INLINE_MAX", "1")]).await;
    notices_reach_the_app(&app, true).await;
}

/// A withdrawal reaches the participants and the eligible residents who did
/// not take part, in the app as by email, each once, beside the earlier
/// notices of the same topic (the key names the kind: `topic:ID` alone
/// would let the first notice of a topic swallow every later one).
async fn a_withdrawal_after_the_announcement_is_a_notice_of_its_own(backend: Backend) {
    let app = spawn_app(backend).await;
    let organiser = app.with_role(Role::Organiser, codes::GUODIANZI).await;
    let residents = [
        fast_resident(&app, codes::GUODIANZI).await.0,
        fast_resident(&app, codes::GUODIANZI).await.0,
    ];
    let id = announce(&app, &organiser, topic_input(codes::GUODIANZI, "DECISION")).await;
    app.ok(
        Some(&organiser.access_token),
        "mutation($id: ID!, $r: String!) { withdrawTopic(id: $id, reason: $r) { state } }",
        json!({ "id": id, "r": "上级已统一安排，本村不再单独协商" }),
    )
    .await;
    for user in residents {
        assert_eq!(in_app(&app, "topic_announced", &id, Some(user)).await, 1);
        assert_eq!(in_app(&app, "topic_withdrawn", &id, Some(user)).await, 1);
    }
    assert_eq!(emails(&app, "topic_withdrawn", &id).await, 2);
}

db_tests!(
    announcing_opening_and_closing_soon_notify_in_the_app_once,
    the_background_job_notifies_in_the_app_once_too,
    a_withdrawal_after_the_announcement_is_a_notice_of_its_own,
);
