//! Email delivery against a real SMTP server on loopback (see
//! `yishi_tests::smtp`): what arrives, outages, rejections, retries, the
//! admin view of the outbox.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use tokio::sync::watch;
use yishi::domain::authz::Role;
use yishi::domain::outbox::{self, EmailKind, NewEmail};
use yishi::mail::digest;
use yishi::mail::worker::{self, Options, Worker};
use yishi::mail::Mailer;
use yishi_tests::smtp::{Mode, SmtpServer};
use yishi_tests::{codes, db_tests, error_code, spawn_app, Backend, TestApp};

const FROM: &str = "议事 <noreply@yishi.test>";

fn mailer(smtp: &SmtpServer) -> Mailer {
    Mailer::from_url(&smtp.url(), FROM).expect("a valid SMTP URL")
}

/// Queues `n` password-reset emails straight into the outbox (as the domain
/// does), returning the recipients.
async fn queue(app: &TestApp, n: usize) -> Vec<String> {
    let mut recipients = Vec::new();
    for i in 0..n {
        let email = TestApp::unique_email("bulk");
        outbox::enqueue(
            app.services.db.writer(),
            NewEmail {
                kind: EmailKind::PasswordReset,
                event: format!("test:{i}"),
                recipient: email.clone(),
                user_id: None,
                locale: "zh-CN".into(),
                payload: json!({
                    "display_name": "居民",
                    "link": format!("http://yishi.test/reset-password?token=t{i}"),
                    "expires_at": "2026-12-01T00:00:00+00:00",
                }),
            },
            app.services.now(),
        )
        .await
        .expect("queued");
        recipients.push(email);
    }
    recipients
}

/// How many times each address received a message.
fn deliveries(smtp: &SmtpServer) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for message in smtp.received() {
        for to in message.to {
            *counts.entry(to).or_insert(0) += 1;
        }
    }
    counts
}

fn fast_options(app: &TestApp) -> Options {
    Options {
        rate_per_sec: 1_000,
        idle: Duration::from_millis(50),
        ..Options::from_settings(&app.services.settings)
    }
}

async fn account_emails_arrive_in_the_users_language_with_both_parts(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start().await;
    let zh = app.register("小王").await;
    let en_email = TestApp::unique_email("en");
    app.ok(
        None,
        "mutation($input: RegisterInput!) { register(input: $input) { email } }",
        json!({ "input": { "email": en_email, "password": yishi_tests::PASSWORD, "displayName": "Wang", "locale": "en" } }),
    )
    .await;

    let report = worker::run_once(&app.services, &mailer(&smtp))
        .await
        .unwrap();
    assert_eq!(report.sent, 2, "{report:?}");
    let received = smtp.received();
    assert_eq!(received.len(), 2);

    let to_zh = received
        .iter()
        .find(|m| m.to == [zh.email.clone()])
        .expect("zh mail");
    assert_eq!(to_zh.subject(), "请验证您的邮箱");
    assert_eq!(to_zh.from, "noreply@yishi.test");
    assert!(to_zh.header("From").unwrap().contains("noreply@yishi.test"));
    assert!(to_zh.header("To").unwrap().contains(&zh.email));
    assert!(to_zh.header("Message-ID").unwrap().contains("@yishi.test>"));
    let text = to_zh.part("text/plain").expect("a text part");
    let html = to_zh.part("text/html").expect("an HTML part");
    assert!(text.contains("小王，您好"), "{text}");
    assert!(
        text.contains("http://yishi.test/verify-email?token="),
        "{text}"
    );
    assert!(
        html.contains("href=\"http://yishi.test/verify-email?token="),
        "{html}"
    );

    let to_en = received
        .iter()
        .find(|m| m.to == [en_email.clone()])
        .expect("en mail");
    assert_eq!(to_en.subject(), "Please verify your email address");
    assert!(to_en.part("text/plain").unwrap().contains("Hello Wang"));
    assert!(to_en.part("text/html").unwrap().contains("Verify email"));

    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent' AND sent_at IS NOT NULL AND attempts = 1")
            .await,
        2
    );
    // Sent is sent: a second pass finds nothing to do.
    let again = worker::run_once(&app.services, &mailer(&smtp))
        .await
        .unwrap();
    assert_eq!(again.claimed(), 0);
    assert_eq!(smtp.received().len(), 2);
}

async fn a_topic_announcement_links_to_the_topic_with_its_title_escaped(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start().await;
    let resident = app.resident(codes::GUODIANZI).await;
    let organiser = app.with_role(Role::Organiser, codes::XIAGUANYING).await;
    let now = chrono::Utc::now();
    let created = app
        .ok(
            Some(&organiser.access_token),
            "mutation($input: TopicInput!) { createTopic(input: $input) { id } }",
            json!({ "input": {
                "title": "村道硬化 <一期> & 排水",
                "body": "拟对三组至五组村道进行硬化，资金由上级补助和村集体共同承担。",
                "category": "TRANSPORT_WATER",
                "kind": "DECISION",
                "scopeCode": codes::XIAGUANYING,
                "opensAt": (now + chrono::Duration::hours(73)).to_rfc3339(),
                "closesAt": (now + chrono::Duration::hours(120)).to_rfc3339(),
            } }),
        )
        .await;
    let id = created["createTopic"]["id"].as_str().unwrap().to_owned();
    app.ok(
        Some(&organiser.access_token),
        "mutation($id: ID!) { announceTopic(id: $id) { state } }",
        json!({ "id": id }),
    )
    .await;

    worker::run_once(&app.services, &mailer(&smtp))
        .await
        .unwrap();
    let notice = smtp
        .received()
        .into_iter()
        .find(|m| m.subject().starts_with("议事预告"))
        .expect("the advance notice arrived");
    assert_eq!(notice.to, std::slice::from_ref(&resident.email));
    assert_eq!(notice.subject(), "议事预告：村道硬化 <一期> & 排水");
    let text = notice.part("text/plain").unwrap();
    let html = notice.part("text/html").unwrap();
    assert!(
        text.contains(&format!("http://yishi.test/topics/{id}")),
        "{text}"
    );
    assert!(text.contains("开始时间："), "{text}");
    assert!(
        html.contains(&format!("href=\"http://yishi.test/topics/{id}\"")),
        "{html}"
    );
    assert!(html.contains("村道硬化 &lt;一期&gt; &amp; 排水"), "{html}");
    assert!(!html.contains("<一期>"));
}

async fn an_smtp_outage_keeps_messages_queued_until_the_server_returns(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start().await;
    let recipients = queue(&app, 3).await;
    smtp.stop();

    let down = worker::run_once(&app.services, &mailer(&smtp))
        .await
        .unwrap();
    // The first message finds the relay down; the rest of the batch waits
    // with it, untried, instead of each spending an attempt on the outage.
    assert_eq!((down.retried, down.released), (1, 2), "{down:?}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE status = 'queued' AND attempts = 1 AND last_error IS NOT NULL")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE status = 'queued' AND attempts = 0")
            .await,
        2
    );
    // Backing off: not due again straight away.
    let early = worker::run_once(&app.services, &mailer(&smtp))
        .await
        .unwrap();
    assert_eq!(early.claimed(), 0);

    smtp.restart().await;
    app.clock.advance(chrono::Duration::minutes(5));
    let up = worker::run_once(&app.services, &mailer(&smtp))
        .await
        .unwrap();
    assert_eq!(up.sent, 3, "{up:?}");
    let counts = deliveries(&smtp);
    for r in &recipients {
        assert_eq!(counts.get(r), Some(&1), "{r} got exactly one message");
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent' AND last_error IS NULL")
            .await,
        3
    );
    assert_eq!(
        app.count("SELECT SUM(attempts) FROM outbox").await,
        4,
        "one failed attempt in all"
    );
}

async fn an_outage_mid_batch_loses_nothing_and_sends_nothing_twice(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start().await;
    let recipients = queue(&app, 6).await;
    smtp.set_mode(Mode::AcceptThenStop(2));

    let first = worker::run_once(&app.services, &mailer(&smtp))
        .await
        .unwrap();
    assert_eq!(
        (first.sent, first.retried, first.released),
        (2, 1, 3),
        "{first:?}"
    );

    smtp.restart().await;
    app.clock.advance(chrono::Duration::minutes(5));
    let second = worker::run_once(&app.services, &mailer(&smtp))
        .await
        .unwrap();
    assert_eq!(second.sent, 4, "{second:?}");
    let counts = deliveries(&smtp);
    assert_eq!(counts.len(), 6);
    for r in &recipients {
        assert_eq!(counts.get(r), Some(&1), "{r} got exactly one message");
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent'")
            .await,
        6
    );
}

async fn a_permanent_rejection_fails_the_message_without_retrying(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start().await;
    smtp.set_mode(Mode::RejectRecipients);
    queue(&app, 1).await;

    let report = worker::run_once(&app.services, &mailer(&smtp))
        .await
        .unwrap();
    assert_eq!(report.failed, 1, "{report:?}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE status = 'failed' AND attempts = 1 AND last_error LIKE '%550%'")
            .await,
        1
    );
    app.clock.advance(chrono::Duration::days(3));
    let later = worker::run_once(&app.services, &mailer(&smtp))
        .await
        .unwrap();
    assert_eq!(later.claimed(), 0, "a failed message is not tried again");
    assert!(smtp.received().is_empty());
}

async fn a_deferred_message_is_retried_until_the_last_attempt(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start().await;
    smtp.set_mode(Mode::DeferRecipients);
    queue(&app, 1).await;
    let max = app.services.settings.mail_max_attempts;

    for attempt in 1..=max {
        let report = worker::run_once(&app.services, &mailer(&smtp))
            .await
            .unwrap();
        if attempt < max {
            assert_eq!(report.retried, 1, "attempt {attempt}: {report:?}");
        } else {
            assert_eq!(report.failed, 1, "attempt {attempt}: {report:?}");
        }
        // Past the longest backoff.
        app.clock.advance(chrono::Duration::hours(7));
    }
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM outbox WHERE status = 'failed' AND attempts = {max} AND last_error LIKE '%451%'"
        ))
        .await,
        1
    );
    let after = worker::run_once(&app.services, &mailer(&smtp))
        .await
        .unwrap();
    assert_eq!(after.claimed(), 0);
}

const OUTBOX: &str = "query($s: EmailStatus) { outbox(status: $s, first: 10) { edges { node { id kind recipient status attempts lastError sentAt } } pageInfo { hasNextPage } } }";
const RETRY: &str = "mutation($id: ID!) { retryEmail(id: $id) { id status attempts } }";

async fn an_admin_sees_failed_emails_and_retrying_requeues_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start().await;
    let admin = app.with_role(Role::Admin, codes::GANSU).await;
    smtp.set_mode(Mode::RejectRecipients);
    let recipients = queue(&app, 1).await;
    worker::run_once(&app.services, &mailer(&smtp))
        .await
        .unwrap();

    let data = app
        .ok(Some(&admin.access_token), OUTBOX, json!({ "s": "FAILED" }))
        .await;
    let edges = data["outbox"]["edges"].as_array().unwrap();
    // The admin's own verification email was refused as well.
    assert_eq!(edges.len(), 2, "{data}");
    let failed = &edges
        .iter()
        .find(|e| e["node"]["recipient"] == recipients[0].as_str())
        .expect("the queued email is listed")["node"];
    assert_eq!(failed["recipient"], recipients[0].as_str());
    assert_eq!(failed["kind"], "password_reset");
    assert_eq!(failed["attempts"], 1);
    assert!(
        failed["lastError"].as_str().unwrap().contains("550"),
        "{failed}"
    );
    let id = failed["id"].as_str().unwrap().to_owned();

    let retried = app
        .ok(Some(&admin.access_token), RETRY, json!({ "id": id }))
        .await;
    assert_eq!(retried["retryEmail"]["status"], "QUEUED");
    assert_eq!(retried["retryEmail"]["attempts"], 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'outbox.retry'")
            .await,
        1
    );

    smtp.set_mode(Mode::Accept);
    let report = worker::run_once(&app.services, &mailer(&smtp))
        .await
        .unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    assert_eq!(smtp.received().len(), 1);

    // Only a failed email can be retried.
    let again = app
        .gql(Some(&admin.access_token), RETRY, json!({ "id": id }))
        .await;
    assert_eq!(error_code(&again), Some("CONFLICT"), "{again}");
    let missing = app
        .gql(Some(&admin.access_token), RETRY, json!({ "id": "999999" }))
        .await;
    assert_eq!(error_code(&missing), Some("NOT_FOUND"), "{missing}");
    let sent = app
        .ok(Some(&admin.access_token), OUTBOX, json!({ "s": "SENT" }))
        .await;
    assert_eq!(sent["outbox"]["edges"][0]["node"]["status"], "SENT");
    assert!(sent["outbox"]["edges"][0]["node"]["sentAt"].is_string());
}

async fn only_a_province_administrator_reads_the_outbox(backend: Backend) {
    let app = spawn_app(backend).await;
    queue(&app, 1).await;
    let resident = app.resident(codes::GUODIANZI).await;
    let organiser = app.with_role(Role::Organiser, codes::GANSU).await;
    let county_admin = app.with_role(Role::Admin, codes::YUZHONG).await;
    for who in [&resident, &organiser, &county_admin] {
        let list = app.gql(Some(&who.access_token), OUTBOX, json!({})).await;
        assert_eq!(error_code(&list), Some("FORBIDDEN"), "{list}");
        let retry = app
            .gql(Some(&who.access_token), RETRY, json!({ "id": "1" }))
            .await;
        assert_eq!(error_code(&retry), Some("FORBIDDEN"), "{retry}");
    }
    let anonymous = app.gql(None, OUTBOX, json!({})).await;
    assert_eq!(error_code(&anonymous), Some("UNAUTHENTICATED"));
}

async fn the_outbox_pages_newest_first(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.with_role(Role::Admin, codes::GANSU).await;
    let recipients = queue(&app, 5).await;
    let query = "query($a: String) { outbox(first: 2, after: $a, status: QUEUED) { edges { cursor node { recipient } } pageInfo { hasNextPage endCursor } } }";
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = app
            .ok(Some(&admin.access_token), query, json!({ "a": after }))
            .await;
        for edge in data["outbox"]["edges"].as_array().unwrap() {
            seen.push(edge["node"]["recipient"].as_str().unwrap().to_owned());
        }
        if !data["outbox"]["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = data["outbox"]["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_owned);
    }
    // The admin's own verification email is in the queue too.
    let bulk: Vec<&String> = seen.iter().filter(|r| recipients.contains(r)).collect();
    let expected: Vec<&String> = recipients.iter().rev().collect();
    assert_eq!(bulk, expected);
}

async fn two_workers_never_send_the_same_email_twice(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start().await;
    let recipients = queue(&app, 40).await;
    let options = Options {
        batch: 5,
        ..fast_options(&app)
    };
    let work = |mailer: Mailer| {
        let svc = app.services.clone();
        let options = options.clone();
        async move {
            let (_keep, mut stop) = watch::channel(false);
            let mut sent = 0;
            loop {
                let report = worker::deliver_due(&svc, &mailer, &options, &mut stop)
                    .await
                    .unwrap();
                if report.claimed() == 0 {
                    return sent;
                }
                sent += report.sent;
            }
        }
    };
    let (a, b) = tokio::join!(
        tokio::spawn(work(mailer(&smtp))),
        tokio::spawn(work(mailer(&smtp)))
    );
    assert_eq!(a.unwrap() + b.unwrap(), 40);
    let counts = deliveries(&smtp);
    assert_eq!(counts.len(), 40);
    for r in &recipients {
        assert_eq!(counts.get(r), Some(&1), "{r} got exactly one message");
    }
}

async fn a_crashed_workers_claims_are_delivered_after_the_lease(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start().await;
    queue(&app, 3).await;
    let options = Options::from_settings(&app.services.settings);
    // A worker claims the batch and dies before sending anything.
    let claimed = outbox::claim_due(
        app.services.db.writer(),
        app.services.now(),
        options.lease,
        10,
    )
    .await
    .unwrap();
    assert_eq!(claimed.len(), 3);

    let during = worker::run_once(&app.services, &mailer(&smtp))
        .await
        .unwrap();
    assert_eq!(during.claimed(), 0, "claimed rows are left alone");
    app.clock
        .advance(options.lease + chrono::Duration::seconds(1));
    let after = worker::run_once(&app.services, &mailer(&smtp))
        .await
        .unwrap();
    assert_eq!(after.sent, 3, "{after:?}");
    assert_eq!(smtp.received().len(), 3);
    // The dead worker's late outcome does not overwrite the new one.
    let stale = outbox::finish(
        app.services.db.writer(),
        &claimed[0],
        outbox::Outcome::Released {
            at: app.services.now(),
        },
        app.services.now(),
    )
    .await
    .unwrap();
    assert!(!stale);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent'")
            .await,
        3
    );
}

async fn stopping_releases_the_claimed_messages_not_yet_sent(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start().await;
    queue(&app, 5).await;
    let options = Options {
        rate_per_sec: 1,
        ..Options::from_settings(&app.services.settings)
    };
    let (stop_tx, mut stop) = watch::channel(false);
    let svc = app.services.clone();
    let m = mailer(&smtp);
    let pass = tokio::spawn(async move {
        worker::deliver_due(&svc, &m, &options, &mut stop)
            .await
            .unwrap()
    });
    // The first message goes at once; the next would wait a second.
    tokio::time::sleep(Duration::from_millis(400)).await;
    stop_tx.send(true).unwrap();
    let report = pass.await.unwrap();
    assert_eq!((report.sent, report.released), (1, 4), "{report:?}");
    assert_eq!(smtp.received().len(), 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE status = 'queued' AND attempts = 0")
            .await,
        4
    );
    // Released messages are due at once for the next worker.
    let next = worker::run_once(&app.services, &mailer(&smtp))
        .await
        .unwrap();
    assert_eq!(next.sent, 4);
}

async fn the_background_worker_delivers_new_emails_and_stops_on_request(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start().await;
    let worker = Worker::spawn(app.services.clone(), mailer(&smtp), fast_options(&app));
    let account = app.register("后台").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while smtp.received().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker delivered nothing"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.shutdown().await;
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].to, std::slice::from_ref(&account.email));
    // Stopped: later emails stay queued.
    queue(&app, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.received().len(), 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE status = 'queued'")
            .await,
        1
    );
}

/// Creates and announces a topic for 夏官营镇 as `organiser`; returns its id.
async fn announce(app: &TestApp, organiser: &yishi_tests::Account, title: &str) -> String {
    let now = chrono::Utc::now();
    let created = app
        .ok(
            Some(&organiser.access_token),
            "mutation($input: TopicInput!) { createTopic(input: $input) { id } }",
            json!({ "input": {
                "title": title,
                "body": "拟对三组至五组村道进行硬化，资金由上级补助和村集体共同承担。",
                "category": "TRANSPORT_WATER",
                "kind": "DECISION",
                "scopeCode": codes::XIAGUANYING,
                "opensAt": (now + chrono::Duration::hours(73)).to_rfc3339(),
                "closesAt": (now + chrono::Duration::hours(120)).to_rfc3339(),
            } }),
        )
        .await;
    let id = created["createTopic"]["id"].as_str().unwrap().to_owned();
    app.ok(
        Some(&organiser.access_token),
        "mutation($id: ID!) { announceTopic(id: $id) { state } }",
        json!({ "id": id }),
    )
    .await;
    id
}

const PREFERENCES: &str = "{ myEmailPreferences { kind enabled canTurnOff } }";

async fn preference(app: &TestApp, who: &yishi_tests::Account, kind: &str) -> serde_json::Value {
    let data = app
        .ok(Some(&who.access_token), PREFERENCES, json!({}))
        .await;
    data["myEmailPreferences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == kind)
        .unwrap_or_else(|| panic!("no preference for {kind}: {data}"))
        .clone()
}

async fn consultation_emails_carry_a_one_click_unsubscribe_that_works(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start().await;
    let resident = app.resident(codes::GUODIANZI).await;
    let organiser = app.with_role(Role::Organiser, codes::XIAGUANYING).await;
    announce(&app, &organiser, "村道硬化").await;
    worker::run_once(&app.services, &mailer(&smtp))
        .await
        .unwrap();

    let received = smtp.received();
    let verify = received
        .iter()
        .find(|m| m.to == [resident.email.clone()] && m.subject() == "请验证您的邮箱")
        .expect("the verification email");
    assert!(
        verify.header("List-Unsubscribe").is_none(),
        "account emails cannot be unsubscribed"
    );
    let notice = received
        .iter()
        .find(|m| m.subject().starts_with("议事预告"))
        .expect("the advance notice");
    let header = notice.header("List-Unsubscribe").expect("List-Unsubscribe");
    assert_eq!(
        notice.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let url = header
        .trim()
        .strip_prefix('<')
        .and_then(|h| h.strip_suffix('>'))
        .expect("<URL>")
        .to_owned();
    assert!(
        url.starts_with("http://yishi.test/api/unsubscribe?token="),
        "{url}"
    );
    assert!(notice
        .part("text/plain")
        .unwrap()
        .trim_end()
        .ends_with(&url));
    assert!(notice
        .part("text/html")
        .unwrap()
        .contains(&format!("href=\"{url}\"")));

    // The link in the message, against this test server.
    let local = url.replace("http://yishi.test", &app.url);
    let page = app.client.get(&local).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("<form method=\"post\">"));
    assert_eq!(
        preference(&app, &resident, "topic_announced").await["enabled"],
        true,
        "opening the link (as mail scanners do) unsubscribes nobody"
    );
    let tampered = app.client.post(format!("{local}x")).send().await.unwrap();
    assert_eq!(tampered.status(), 400);
    // What a mail client sends for List-Unsubscribe-Post.
    let done = app
        .client
        .post(&local)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert_eq!(
        preference(&app, &resident, "topic_announced").await["enabled"],
        false
    );

    // The next announcement is not sent to them, and the admin sees why.
    let before = smtp.received().len();
    announce(&app, &organiser, "修建文化广场").await;
    let report = worker::run_once(&app.services, &mailer(&smtp))
        .await
        .unwrap();
    assert_eq!((report.skipped, report.sent), (1, 0), "{report:?}");
    assert_eq!(smtp.received().len(), before);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM outbox WHERE status = 'skipped' AND kind = 'topic_announced'"
        )
        .await,
        1
    );
}

async fn account_emails_cannot_be_turned_off_but_consultation_emails_can(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.register("设置").await;
    let set = "mutation($k: String!, $e: Boolean!) { setEmailPreference(kind: $k, enabled: $e) { kind enabled canTurnOff } }";
    for kind in [
        "verify_email",
        "password_reset",
        "proxy_opinion_recorded",
        "nonsense",
    ] {
        let refused = app
            .gql(
                Some(&user.access_token),
                set,
                json!({ "k": kind, "e": false }),
            )
            .await;
        assert_eq!(
            error_code(&refused),
            Some("BAD_USER_INPUT"),
            "{kind}: {refused}"
        );
    }
    let verify = preference(&app, &user, "verify_email").await;
    assert_eq!(verify["enabled"], true);
    assert_eq!(verify["canTurnOff"], false);

    let off = app
        .ok(
            Some(&user.access_token),
            set,
            json!({ "k": "progress_update", "e": false }),
        )
        .await;
    assert_eq!(off["setEmailPreference"]["enabled"], false);
    let listed = preference(&app, &user, "progress_update").await;
    assert_eq!(listed["enabled"], false);
    assert_eq!(listed["canTurnOff"], true);
    app.ok(
        Some(&user.access_token),
        set,
        json!({ "k": "progress_update", "e": true }),
    )
    .await;
    assert_eq!(
        preference(&app, &user, "progress_update").await["enabled"],
        true
    );
    let anonymous = app.gql(None, PREFERENCES, json!({})).await;
    assert_eq!(error_code(&anonymous), Some("UNAUTHENTICATED"));
}

async fn a_daily_digest_bundles_consultation_emails_into_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start().await;
    let resident = app.resident(codes::GUODIANZI).await;
    let organiser = app.with_role(Role::Organiser, codes::XIAGUANYING).await;
    let on = app
        .ok(
            Some(&resident.access_token),
            "mutation { setEmailPreference(kind: \"daily_digest\", enabled: true) { enabled } }",
            json!({}),
        )
        .await;
    assert_eq!(on["setEmailPreference"]["enabled"], true);
    let first = announce(&app, &organiser, "村道硬化").await;
    let second = announce(&app, &organiser, "修建文化广场").await;

    let report = worker::run_once(&app.services, &mailer(&smtp))
        .await
        .unwrap();
    assert_eq!(report.held, 2, "{report:?}");
    assert!(smtp
        .received()
        .iter()
        .all(|m| !m.subject().starts_with("议事预告")));
    // Not before the next morning.
    assert_eq!(digest::compile_due(&app.services).await.unwrap(), 0);

    app.clock.advance(chrono::Duration::days(1));
    assert_eq!(digest::compile_due(&app.services).await.unwrap(), 1);
    assert_eq!(
        digest::compile_due(&app.services).await.unwrap(),
        0,
        "one digest a day"
    );
    let report = worker::run_once(&app.services, &mailer(&smtp))
        .await
        .unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    let received = smtp.received();
    let digest = received
        .iter()
        .find(|m| m.subject().starts_with("议事每日摘要"))
        .expect("the digest");
    assert_eq!(digest.subject(), "议事每日摘要：2 条新消息");
    assert_eq!(digest.to, std::slice::from_ref(&resident.email));
    let text = digest.part("text/plain").unwrap();
    let html = digest.part("text/html").unwrap();
    for (id, title) in [(&first, "村道硬化"), (&second, "修建文化广场")] {
        assert!(text.contains(&format!("议事预告：{title}")), "{text}");
        assert!(
            text.contains(&format!("http://yishi.test/topics/{id}")),
            "{text}"
        );
        assert!(
            html.contains(&format!("href=\"http://yishi.test/topics/{id}\"")),
            "{html}"
        );
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE status = 'digested'")
            .await,
        2
    );

    // Unsubscribing from the digest stops what it bundles.
    let header = digest.header("List-Unsubscribe").expect("List-Unsubscribe");
    let url = header.trim().trim_start_matches('<').trim_end_matches('>');
    let done = app
        .client
        .post(url.replace("http://yishi.test", &app.url))
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    for kind in ["topic_announced", "outcome_published", "progress_update"] {
        assert_eq!(
            preference(&app, &resident, kind).await["enabled"],
            false,
            "{kind}"
        );
    }
    assert_eq!(
        preference(&app, &resident, "verify_email").await["enabled"],
        true
    );
}

async fn a_claim_too_close_to_the_end_of_its_lease_is_handed_back_unsent(backend: Backend) {
    let app = spawn_app(backend).await;
    let smtp = SmtpServer::start().await;
    queue(&app, 2).await;
    // A lease shorter than one SMTP timeout leaves no time to send safely.
    let options = Options {
        lease: chrono::Duration::seconds(30),
        ..fast_options(&app)
    };
    let (_keep, mut stop) = watch::channel(false);
    let report = worker::deliver_due(&app.services, &mailer(&smtp), &options, &mut stop)
        .await
        .unwrap();
    assert_eq!((report.sent, report.released), (0, 2), "{report:?}");
    assert!(smtp.received().is_empty());
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE status = 'queued' AND attempts = 0")
            .await,
        2
    );
}

db_tests!(
    a_claim_too_close_to_the_end_of_its_lease_is_handed_back_unsent,
    a_daily_digest_bundles_consultation_emails_into_one,
    consultation_emails_carry_a_one_click_unsubscribe_that_works,
    account_emails_cannot_be_turned_off_but_consultation_emails_can,
    account_emails_arrive_in_the_users_language_with_both_parts,
    a_topic_announcement_links_to_the_topic_with_its_title_escaped,
    an_smtp_outage_keeps_messages_queued_until_the_server_returns,
    an_outage_mid_batch_loses_nothing_and_sends_nothing_twice,
    a_permanent_rejection_fails_the_message_without_retrying,
    a_deferred_message_is_retried_until_the_last_attempt,
    an_admin_sees_failed_emails_and_retrying_requeues_them,
    only_a_province_administrator_reads_the_outbox,
    the_outbox_pages_newest_first,
    two_workers_never_send_the_same_email_twice,
    a_crashed_workers_claims_are_delivered_after_the_lease,
    stopping_releases_the_claimed_messages_not_yet_sent,
    the_background_worker_delivers_new_emails_and_stops_on_request,
);
