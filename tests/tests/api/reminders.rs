//! The consultation emails around a topic's opinion period: "topic opened"
//! to every eligible resident when it opens, and "closing in 24 hours" once
//! to those who have not answered.

use chrono::{Duration, Utc};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};
use yishi::domain::authz::Role;
use yishi::domain::topics::run_due;
use yishi::mail::worker;
use yishi::mail::Mailer;
use yishi_tests::smtp::SmtpServer;
use yishi_tests::{
    codes, db_tests, fast_resident, spawn_app, spawn_app_with, Account, Backend, TestApp,
};

const CREATE: &str = "mutation($input: TopicInput!) { createTopic(input: $input) { id } }";
const SUBMIT: &str =
    "mutation($t: ID!, $s: Stance) { submitOpinion(topicId: $t, stance: $s) { id } }";

/// A DECISION topic opening `opens_in` and closing `closes_in` from now.
fn topic_input(scope: &str, opens_in: Duration, closes_in: Duration) -> Value {
    let now = Utc::now();
    json!({
        "title": "村道硬化工程",
        "body": "拟对三组至五组村道进行硬化，资金由上级补助和村集体共同承担。",
        "category": "TRANSPORT_WATER",
        "kind": "DECISION",
        "scopeCode": scope,
        "opensAt": (now + opens_in).to_rfc3339(),
        "closesAt": (now + closes_in).to_rfc3339(),
    })
}

/// Creates and announces a topic; returns its id.
async fn announced(app: &TestApp, organiser: &Account, input: Value) -> String {
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
        "mutation($id: ID!) { announceTopic(id: $id) { state } }",
        json!({ "id": id }),
    )
    .await;
    id
}

async fn open_now(app: &TestApp, organiser: &Account, id: &str) {
    let data = app
        .step_on_time(&organiser.access_token, "openTopic", id)
        .await;
    assert_eq!(data["data"]["openTopic"]["state"], "OPEN");
}

/// How many `kind` emails about topic `id` went to `user_id`.
async fn sent_to(app: &TestApp, kind: &str, id: &str, user_id: i32) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM outbox WHERE kind = '{kind}' AND user_id = {user_id} \
         AND idempotency_key LIKE '{kind}:topic:{id}:%'"
    ))
    .await
}

async fn of_kind(app: &TestApp, kind: &str, id: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM outbox WHERE kind = '{kind}' AND idempotency_key LIKE '{kind}:topic:{id}:%'"
    ))
    .await
}

async fn opening_tells_every_eligible_resident_once_and_nobody_else(backend: Backend) {
    let app = spawn_app(backend).await;
    let organiser = app.with_role(Role::Organiser, codes::XIAGUANYING).await;
    let inside = [
        fast_resident(&app, codes::GUODIANZI).await.0,
        fast_resident(&app, codes::GUODIANZI).await.0,
        fast_resident(&app, codes::TAIPINGBAO).await.0,
    ];
    let outside = [
        // Another town of the same county, and another county.
        fast_resident(&app, codes::XINGLONGLU).await.0,
        fast_resident(&app, codes::CHANGJIAXIANG).await.0,
    ];
    let id = announced(
        &app,
        &organiser,
        topic_input(
            codes::XIAGUANYING,
            Duration::hours(73),
            Duration::hours(120),
        ),
    )
    .await;
    assert_eq!(of_kind(&app, "topic_opened", &id).await, 0);
    open_now(&app, &organiser, &id).await;
    assert_eq!(of_kind(&app, "topic_opened", &id).await, 3);
    for user in inside {
        assert_eq!(sent_to(&app, "topic_opened", &id, user).await, 1);
    }
    for user in outside {
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) FROM outbox WHERE kind = 'topic_opened' AND user_id = {user}"
            ))
            .await,
            0
        );
    }
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM outbox WHERE kind = 'topic_opened' AND status = 'queued' \
             AND payload LIKE '%\"topic_id\":{id}%' AND payload LIKE '%\"closes_at\":\"20%'"
        ))
        .await,
        3,
        "the payload names the topic and its closing time"
    );

    // A stakeholder topic: the listed users only.
    let village_organiser = app.with_role(Role::Organiser, codes::GUODIANZI).await;
    let mut input = topic_input(codes::GUODIANZI, Duration::hours(73), Duration::hours(120));
    input["eligibility"] = json!("STAKEHOLDERS");
    input["stakeholderUserIds"] = json!([inside[1].to_string()]);
    let listed = announced(&app, &village_organiser, input).await;
    open_now(&app, &village_organiser, &listed).await;
    assert_eq!(of_kind(&app, "topic_opened", &listed).await, 1);
    assert_eq!(sent_to(&app, "topic_opened", &listed, inside[1]).await, 1);
}

async fn closing_soon_reminds_those_who_have_not_answered_exactly_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start().await;
    let organiser = app.with_role(Role::Organiser, codes::GUODIANZI).await;
    let answered = [
        fast_resident(&app, codes::GUODIANZI).await,
        fast_resident(&app, codes::GUODIANZI).await,
    ];
    let silent = fast_resident(&app, codes::GUODIANZI).await;
    let turned_off = fast_resident(&app, codes::GUODIANZI).await;
    let digest = fast_resident(&app, codes::GUODIANZI).await;
    let outsider = fast_resident(&app, codes::TAIPINGBAO).await;
    let set = "mutation($k: String!, $e: Boolean!) { setEmailPreference(kind: $k, enabled: $e) { enabled canTurnOff } }";
    let off = app
        .ok(
            Some(&turned_off.1),
            set,
            json!({ "k": "closing_soon", "e": false }),
        )
        .await;
    assert_eq!(off["setEmailPreference"]["canTurnOff"], true);
    app.ok(
        Some(&digest.1),
        set,
        json!({ "k": "daily_digest", "e": true }),
    )
    .await;

    let id = announced(
        &app,
        &organiser,
        topic_input(codes::GUODIANZI, Duration::hours(73), Duration::hours(120)),
    )
    .await;
    open_now(&app, &organiser, &id).await;
    for (_, token) in &answered {
        app.ok(Some(token), SUBMIT, json!({ "t": id, "s": "SUPPORT" }))
            .await;
    }
    let reminded =
        format!("SELECT COUNT(*) FROM topics WHERE id = {id} AND reminded_at IS NOT NULL");

    // Days before closing, and 25 hours before: no reminder yet (the clock
    // stands at the opening, 73 hours in).
    run_due(&app.services).await.unwrap();
    app.clock.advance(Duration::hours(22));
    run_due(&app.services).await.unwrap();
    assert_eq!(of_kind(&app, "closing_soon", &id).await, 0);
    assert_eq!(app.count(&reminded).await, 0);

    // 23 hours before: two passes at once (as on two instances), then more.
    app.clock.advance(Duration::hours(2));
    let (a, b) = tokio::join!(run_due(&app.services), run_due(&app.services));
    a.unwrap();
    b.unwrap();
    run_due(&app.services).await.unwrap();
    run_due(&app.services).await.unwrap();
    assert_eq!(app.count(&reminded).await, 1);
    assert_eq!(of_kind(&app, "closing_soon", &id).await, 3);
    for (user, _) in [&silent, &turned_off, &digest] {
        assert_eq!(sent_to(&app, "closing_soon", &id, *user).await, 1);
    }
    for (user, _) in answered.iter().chain([&outsider]) {
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) FROM outbox WHERE kind = 'closing_soon' AND user_id = {user}"
            ))
            .await,
            0
        );
    }

    // Delivery: the reminder is a consultation email, so it honours the
    // preferences (off, digest) and carries an unsubscribe link.
    app.services
        .db
        .writer()
        .execute_unprepared("UPDATE outbox SET status = 'sent' WHERE kind <> 'closing_soon'")
        .await
        .unwrap();
    let mailer = Mailer::from_url(&smtp.url(), "议事 <noreply@yishi.test>").unwrap();
    let (mut sent, mut skipped, mut held) = (0, 0, 0);
    loop {
        let report = worker::run_once(&app.services, &mailer).await.unwrap();
        if report.claimed() == 0 {
            break;
        }
        (sent, skipped, held) = (
            sent + report.sent,
            skipped + report.skipped,
            held + report.held,
        );
    }
    assert_eq!((sent, skipped, held), (1, 1, 1));
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    let mail = &received[0];
    let silent_email = app
        .count(&format!(
            "SELECT COUNT(*) FROM users WHERE id = {} AND email = '{}'",
            silent.0, mail.to[0]
        ))
        .await;
    assert_eq!(silent_email, 1, "the reminder went to the silent resident");
    assert_eq!(mail.subject(), "议题即将截止：村道硬化工程");
    assert!(mail.header("List-Unsubscribe").is_some());
    let text = mail.part("text/plain").unwrap();
    assert!(text.contains("您还没有发表意见"), "{text}");
    assert!(text.contains(&format!("/topics/{id}")), "{text}");
    assert!(mail.part("text/html").unwrap().contains("发表意见"));
}

async fn a_topic_open_for_less_than_a_day_gets_no_reminder(backend: Backend) {
    let app = spawn_app(backend).await;
    let organiser = app.with_role(Role::Organiser, codes::GUODIANZI).await;
    let residents = [
        fast_resident(&app, codes::GUODIANZI).await.0,
        fast_resident(&app, codes::GUODIANZI).await.0,
    ];
    let id = announced(
        &app,
        &organiser,
        topic_input(codes::GUODIANZI, Duration::hours(73), Duration::hours(85)),
    )
    .await;
    app.clock.advance(Duration::hours(74));
    // The scheduler opens it, on two instances at once: one email each.
    let (a, b) = tokio::join!(run_due(&app.services), run_due(&app.services));
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    run_due(&app.services).await.unwrap();
    assert_eq!(of_kind(&app, "topic_opened", &id).await, 2);
    for user in residents {
        assert_eq!(sent_to(&app, "topic_opened", &id, user).await, 1);
    }
    // It closes 11 hours after opening: the opening email said so, and no
    // reminder follows it.
    assert_eq!(of_kind(&app, "closing_soon", &id).await, 0);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM topics WHERE id = {id} AND reminded_at IS NOT NULL"
        ))
        .await,
        1
    );
}

/// A large audience is queued by a background job, not by the request that
/// announced the topic: the request returns with nothing queued, the job
/// queues every eligible resident once, chunk by chunk, and running it again,
/// or while another instance holds it, changes nothing.
async fn a_large_audience_is_queued_in_the_background_chunk_by_chunk(backend: Backend) {
    use yishi::domain::topics::notices;

    let app = spawn_app_with(backend, &[("YISHI_BULK_INLINE_MAX", "2")]).await;
    let organiser = app.with_role(Role::Organiser, codes::XIAGUANYING).await;
    let mut inside = Vec::new();
    for village in [
        codes::GUODIANZI,
        codes::TAIPINGBAO,
        codes::GUODIANZI,
        codes::TAIPINGBAO,
        codes::GUODIANZI,
    ] {
        inside.push(fast_resident(&app, village).await.0);
    }
    let outside = fast_resident(&app, codes::XINGLONGLU).await.0;
    let id = announced(
        &app,
        &organiser,
        topic_input(
            codes::XIAGUANYING,
            Duration::hours(73),
            Duration::hours(120),
        ),
    )
    .await;
    assert_eq!(
        of_kind(&app, "topic_announced", &id).await,
        0,
        "the request left the notices to the job"
    );
    let pending = "SELECT COUNT(*) FROM bulk_emails WHERE done_at IS NULL";
    assert_eq!(app.count(pending).await, 1);

    // Another instance holds the job: it is left alone.
    app.execute("UPDATE bulk_emails SET leased_until = '2999-01-01T00:00:00Z'")
        .await;
    assert_eq!(notices::run_jobs(&app.services, 2).await.unwrap(), 0);
    assert_eq!(of_kind(&app, "topic_announced", &id).await, 0);
    app.execute("UPDATE bulk_emails SET leased_until = NULL")
        .await;

    // Five residents in chunks of two: three chunks, then done.
    assert_eq!(notices::run_jobs(&app.services, 2).await.unwrap(), 5);
    assert_eq!(of_kind(&app, "topic_announced", &id).await, 5);
    for user in &inside {
        assert_eq!(sent_to(&app, "topic_announced", &id, *user).await, 1);
    }
    assert_eq!(sent_to(&app, "topic_announced", &id, outside).await, 0);
    assert_eq!(app.count(pending).await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM bulk_emails WHERE queued = 5")
            .await,
        1
    );
    assert_eq!(
        notices::run_jobs(&app.services, 2).await.unwrap(),
        0,
        "a finished job does not run again"
    );

    // A job that runs again from the start (a crash before its progress was
    // recorded) queues nobody twice.
    app.execute("UPDATE bulk_emails SET done_at = NULL, after_user_id = 0, leased_until = NULL")
        .await;
    assert_eq!(notices::run_jobs(&app.services, 2).await.unwrap(), 0);
    assert_eq!(of_kind(&app, "topic_announced", &id).await, 5);
}

db_tests!(
    opening_tells_every_eligible_resident_once_and_nobody_else,
    closing_soon_reminds_those_who_have_not_answered_exactly_once,
    a_topic_open_for_less_than_a_day_gets_no_reminder,
    a_large_audience_is_queued_in_the_background_chunk_by_chunk,
);
