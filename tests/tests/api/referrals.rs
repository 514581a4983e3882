//! Issue 15, continued: suggestions answered (and in time), referral to the
//! level above (乡镇与村协商联动), and the report of entrusted matters
//! (受委托事项).

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use yishi::domain::authz::Role;
use yishi_tests::{
    codes, db_tests, error_code, error_field, spawn_app, spawn_app_with, Account, Backend, TestApp,
};

const SUGGEST: &str = "mutation($input: SuggestTopicInput!) { suggestTopic(input: $input) { id } }";
const SUPPORT: &str = "mutation($id: ID!) { supportSuggestion(id: $id) { id supporters thresholdReachedAt answerDueAt answerOverdue } }";
const SUGGESTION: &str = "query($id: ID!) { suggestion(id: $id) { id status thresholdReachedAt answerDueAt answerOverdue referredTo { status toDivisionCode reason } } }";
const ADOPT: &str = "mutation($id: ID!) { adoptSuggestion(id: $id) { id status } }";
const DECLINE: &str =
    "mutation($id: ID!, $r: String!) { declineSuggestion(id: $id, reason: $r) { id status } }";
const OVERDUE: &str =
    "query($d: String!) { overdueSuggestions(divisionCode: $d) { count items { id } } }";
const REFER_TOPIC: &str = "mutation($t: ID!, $to: String!, $r: String!) { referTopic(topicId: $t, toDivisionCode: $to, reason: $r) { id status fromKind fromDivisionCode toDivisionCode reason } }";
const REFER_SUGGESTION: &str = "mutation($s: ID!, $to: String!, $r: String!) { referSuggestion(suggestionId: $s, toDivisionCode: $to, reason: $r) { id status } }";
const ACCEPT: &str = "mutation($id: ID!, $a: String, $t: ID) { acceptReferral(id: $id, answer: $a, topicId: $t) { id status answer topicId } }";
const DECLINE_REFERRAL: &str =
    "mutation($id: ID!, $r: String!) { declineReferral(id: $id, reason: $r) { id status answer } }";
const INBOX: &str = "query($s: ReferralStatus) { referrals(status: $s) { id status fromKind fromId fromDivisionCode toDivisionCode reason } }";
const LINKS: &str = "query($id: ID!) { topic(id: $id) { id referredTo { id status reason toDivisionCode toDivision { name } topic { id } } referredFrom { id fromDivisionCode reason fromTopic { id } } record { action actorRole actorDivisionCode reason detail } } }";
const VERIFY: &str =
    "query($t: ID!) { verifyTopicRecord(topicId: $t) { intact entries brokenAt problem } }";
const PUBLISH: &str = "mutation($t: ID!, $i: OutcomeInput!) { publishOutcome(topicId: $t, input: $i) { version publishedAt } }";
const REPORT_STATE: &str = "query($id: ID!) { topic(id: $id) { id entrustedBy reportDueAt reportOverdue entrustedReport { submittedTo submittedAt summary acknowledgedAt acknowledgementReference } record { action detail } } }";
const SUBMIT_REPORT: &str = "mutation($t: ID!, $to: String!, $at: DateTime!, $s: String!) { submitEntrustedReport(topicId: $t, submittedTo: $to, submittedAt: $at, summary: $s) { submittedTo submittedAt } }";
const ACK_REPORT: &str = "mutation($t: ID!, $at: DateTime!, $r: String!) { acknowledgeEntrustedReport(topicId: $t, acknowledgedAt: $at, reference: $r) { acknowledgedAt acknowledgementReference } }";
const OVERDUE_REPORTS: &str =
    "query($d: String!) { overdueReports(divisionCode: $d) { topic { id } entrustedBy dueAt } }";

fn at(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().expect("a date"))
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

/// A topic over `scope` opening after the notice period. Written from the
/// wall clock, as the harness expects: it moves topic times by however far
/// the test clock was advanced.
fn topic_input(_app: &TestApp, scope: &str) -> Value {
    let now = chrono::Utc::now();
    json!({
        "title": "村道硬化工程",
        "body": "拟对三组至五组村道进行硬化，资金由上级补助和村集体共同承担。",
        "category": "TRANSPORT_WATER",
        "kind": "DECISION",
        "scopeCode": scope,
        "opensAt": (now + Duration::hours(73)).to_rfc3339(),
        "closesAt": (now + Duration::hours(120)).to_rfc3339(),
    })
}

async fn step(app: &TestApp, who: &Account, mutation: &str, id: &str) {
    app.ok(
        Some(&who.access_token),
        &format!("mutation($id: ID!) {{ {mutation}(id: $id) {{ id }} }}"),
        json!({ "id": id }),
    )
    .await;
}

/// A topic of `organiser` over `scope`, created and announced.
async fn announced_topic(app: &TestApp, organiser: &Account, scope: &str) -> String {
    let created = app
        .ok(
            Some(&organiser.access_token),
            "mutation($input: TopicInput!) { createTopic(input: $input) { id } }",
            json!({ "input": topic_input(app, scope) }),
        )
        .await;
    let id = created["createTopic"]["id"].as_str().unwrap().to_owned();
    step(app, organiser, "announceTopic", &id).await;
    id
}

/// A topic of `organiser` over `scope`, announced and opened (the clock
/// moved past its opening time).
async fn open_topic(app: &TestApp, organiser: &Account, scope: &str) -> String {
    let id = announced_topic(app, organiser, scope).await;
    app.clock.advance(Duration::hours(74));
    step(app, organiser, "openTopic", &id).await;
    id
}

async fn suggest(app: &TestApp, author: &Account, title: &str) -> String {
    let data = app
        .ok(
            Some(&author.access_token),
            SUGGEST,
            json!({ "input": {
                "title": title,
                "body": "三组到五组的村道雨天泥泞，老人孩子出行不便，建议硬化。",
                "category": "TRANSPORT_WATER",
            } }),
        )
        .await;
    data["suggestTopic"]["id"].as_str().unwrap().to_owned()
}

/// Notifications and emails of kind `suggestion_answered` to `user`.
async fn answers_to(app: &TestApp, user: &Account) -> (i64, i64) {
    let in_app = app
        .count(&format!(
            "SELECT COUNT(*) FROM notifications WHERE kind = 'suggestion_answered' AND user_id = {}",
            user.id
        ))
        .await;
    let emails = app
        .count(&format!(
            "SELECT COUNT(*) FROM outbox WHERE kind = 'suggestion_answered' AND user_id = {}",
            user.id
        ))
        .await;
    (in_app, emails)
}

async fn the_author_is_told_once_when_a_suggestion_is_adopted_or_declined(backend: Backend) {
    let app = spawn_app(backend).await;
    let author = app.resident(codes::GUODIANZI).await;
    let neighbour = app.resident(codes::GUODIANZI).await;
    let organiser = app.with_role(Role::Organiser, codes::GUODIANZI).await;
    let adopted = suggest(&app, &author, "硬化村道").await;
    let declined = suggest(&app, &author, "修建广场").await;
    assert_eq!(answers_to(&app, &author).await, (0, 0));

    app.ok(
        Some(&organiser.access_token),
        ADOPT,
        json!({ "id": adopted }),
    )
    .await;
    assert_eq!(answers_to(&app, &author).await, (1, 1));
    app.ok(
        Some(&organiser.access_token),
        DECLINE,
        json!({ "id": declined, "r": "已列入明年计划" }),
    )
    .await;
    assert_eq!(answers_to(&app, &author).await, (2, 2));
    // Answering again is refused and tells nobody again.
    let again = app
        .gql(
            Some(&organiser.access_token),
            DECLINE,
            json!({ "id": adopted, "r": "重复" }),
        )
        .await;
    assert_eq!(error_code(&again), Some("CONFLICT"));
    assert_eq!(answers_to(&app, &author).await, (2, 2));
    assert_eq!(answers_to(&app, &neighbour).await, (0, 0));

    // What the author reads in the app.
    let mine = app
        .ok(
            Some(&author.access_token),
            "{ notifications { kind payload } }",
            json!({}),
        )
        .await;
    let payloads: Vec<Value> = mine["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "suggestion_answered")
        .map(|n| serde_json::from_str(n["payload"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(payloads.len(), 2);
    assert!(payloads
        .iter()
        .any(|p| p["answer"] == "declined" && p["reason"] == "已列入明年计划"));
    assert!(payloads
        .iter()
        .any(|p| p["answer"] == "adopted" && p["title"] == "硬化村道"));
}

async fn a_supported_suggestion_is_due_and_overdue_unless_answered_in_time(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("YISHI_SUGGESTION_ANSWER_THRESHOLD", "2"),
            ("YISHI_SUGGESTION_ANSWER_DAYS", "15"),
        ],
    )
    .await;
    let author = app.resident(codes::GUODIANZI).await;
    let supporters = [
        app.resident(codes::GUODIANZI).await,
        app.resident(codes::GUODIANZI).await,
    ];
    let organiser = app.with_role(Role::Organiser, codes::GUODIANZI).await;
    let left = suggest(&app, &author, "硬化村道").await;
    let answered = suggest(&app, &author, "修建广场").await;

    for id in [&left, &answered] {
        let first = app
            .ok(
                Some(&supporters[0].access_token),
                SUPPORT,
                json!({ "id": id }),
            )
            .await;
        assert_eq!(
            first["supportSuggestion"]["thresholdReachedAt"],
            Value::Null
        );
        assert_eq!(first["supportSuggestion"]["answerDueAt"], Value::Null);
        let second = app
            .ok(
                Some(&supporters[1].access_token),
                SUPPORT,
                json!({ "id": id }),
            )
            .await;
        let s = &second["supportSuggestion"];
        let reached = at(&s["thresholdReachedAt"]);
        assert_eq!(at(&s["answerDueAt"]) - reached, Duration::days(15));
        assert_eq!(s["answerOverdue"], false);
    }
    // Support withdrawn below the threshold keeps the duty.
    app.ok(
        Some(&supporters[1].access_token),
        "mutation($id: ID!) { withdrawSuggestionSupport(id: $id) { id } }",
        json!({ "id": left }),
    )
    .await;
    let kept = app.ok(None, SUGGESTION, json!({ "id": left })).await;
    assert!(kept["suggestion"]["answerDueAt"].is_string());

    // Answered in time.
    app.clock.advance(Duration::days(10));
    app.ok(
        Some(&organiser.access_token),
        DECLINE,
        json!({ "id": answered, "r": "已列入明年计划" }),
    )
    .await;
    let none = app
        .ok(None, OVERDUE, json!({ "d": codes::XIAGUANYING }))
        .await;
    assert_eq!(none["overdueSuggestions"]["count"], 0);

    app.clock.advance(Duration::days(6));
    let late = app.ok(None, SUGGESTION, json!({ "id": left })).await;
    assert_eq!(late["suggestion"]["answerOverdue"], true);
    let on_time = app.ok(None, SUGGESTION, json!({ "id": answered })).await;
    assert_eq!(on_time["suggestion"]["answerOverdue"], false);
    // Counted on the division's public record, and on its township's.
    for division in [codes::GUODIANZI, codes::XIAGUANYING] {
        let board = app.ok(None, OVERDUE, json!({ "d": division })).await;
        assert_eq!(board["overdueSuggestions"]["count"], 1, "{division}");
        assert_eq!(board["overdueSuggestions"]["items"][0]["id"], left.as_str());
    }
    let elsewhere = app
        .ok(None, OVERDUE, json!({ "d": codes::CHENGGUAN_TOWN }))
        .await;
    assert_eq!(elsewhere["overdueSuggestions"]["count"], 0);
}

async fn a_village_topic_referred_to_its_township_is_linked_both_ways_on_the_record(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let village = app.with_role(Role::Organiser, codes::GUODIANZI).await;
    let other_village = app.with_role(Role::Organiser, codes::TAIPINGBAO).await;
    let township = app.with_role(Role::Organiser, codes::XIAGUANYING).await;
    let resident = app.resident(codes::GUODIANZI).await;
    let id = open_topic(&app, &village, codes::GUODIANZI).await;
    let reason = "涉及过店子村与太平堡村两村共用道路，需由镇统筹。";
    let refer = |to: &str| json!({ "t": id, "to": to, "r": reason });

    for who in [&resident, &other_village] {
        let refused = app
            .gql(
                Some(&who.access_token),
                REFER_TOPIC,
                refer(codes::XIAGUANYING),
            )
            .await;
        assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM referrals").await,
        0,
        "nothing referred yet"
    );
    for wrong in [codes::YUZHONG, codes::CHENGGUAN_TOWN, codes::TAIPINGBAO] {
        let refused = app
            .gql(Some(&village.access_token), REFER_TOPIC, refer(wrong))
            .await;
        assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
        assert_eq!(error_field(&refused), Some("toDivisionCode"));
    }
    let no_reason = app
        .gql(
            Some(&village.access_token),
            REFER_TOPIC,
            json!({ "t": id, "to": codes::XIAGUANYING, "r": "  " }),
        )
        .await;
    assert_eq!(error_field(&no_reason), Some("reason"));

    let referred = app
        .ok(
            Some(&village.access_token),
            REFER_TOPIC,
            refer(codes::XIAGUANYING),
        )
        .await;
    let r = &referred["referTopic"];
    assert_eq!(r["status"], "PENDING");
    assert_eq!(r["fromKind"], "TOPIC");
    assert_eq!(r["fromDivisionCode"], codes::GUODIANZI);
    assert_eq!(r["toDivisionCode"], codes::XIAGUANYING);
    let referral = r["id"].as_str().unwrap().to_owned();
    let twice = app
        .gql(
            Some(&village.access_token),
            REFER_TOPIC,
            refer(codes::XIAGUANYING),
        )
        .await;
    assert_eq!(error_code(&twice), Some("CONFLICT"), "{twice}");

    // The township's inbox; the village cannot answer its own referral.
    let inbox = app
        .ok(
            Some(&township.access_token),
            INBOX,
            json!({ "s": "PENDING" }),
        )
        .await;
    assert_eq!(inbox["referrals"].as_array().unwrap().len(), 1);
    assert_eq!(inbox["referrals"][0]["fromId"], id.as_str());
    assert_eq!(inbox["referrals"][0]["reason"], reason);
    let by_village = app
        .gql(
            Some(&village.access_token),
            ACCEPT,
            json!({ "id": referral }),
        )
        .await;
    assert_eq!(error_code(&by_village), Some("FORBIDDEN"));

    // Accepted with the township's own topic; a topic of another scope is refused.
    let upper = announced_topic(&app, &township, codes::XIAGUANYING).await;
    let wrong_scope = app
        .gql(
            Some(&township.access_token),
            ACCEPT,
            json!({ "id": referral, "t": id }),
        )
        .await;
    assert_eq!(error_field(&wrong_scope), Some("topicId"), "{wrong_scope}");
    let accepted = app
        .ok(
            Some(&township.access_token),
            ACCEPT,
            json!({ "id": referral, "a": "由镇统一组织两村协商。", "t": upper }),
        )
        .await;
    assert_eq!(accepted["acceptReferral"]["status"], "ACCEPTED");
    assert_eq!(accepted["acceptReferral"]["topicId"], upper.as_str());

    // Both topics show the link, to anyone.
    let lower = app.ok(None, LINKS, json!({ "id": id })).await;
    let to = &lower["topic"]["referredTo"][0];
    assert_eq!(to["status"], "ACCEPTED");
    assert_eq!(to["reason"], reason);
    assert_eq!(to["toDivision"]["name"], "夏官营镇");
    assert_eq!(to["topic"]["id"], upper.as_str());
    let upper_seen = app.ok(None, LINKS, json!({ "id": upper })).await;
    let from = &upper_seen["topic"]["referredFrom"][0];
    assert_eq!(from["fromDivisionCode"], codes::GUODIANZI);
    assert_eq!(from["fromTopic"]["id"], id.as_str());

    // On the record, by role and division, and the chain still holds.
    let record = lower["topic"]["record"].as_array().unwrap();
    let referred_entry = record
        .iter()
        .find(|e| e["action"] == "referred")
        .expect("the referral is on the record");
    assert_eq!(referred_entry["reason"], reason);
    assert_eq!(referred_entry["actorRole"], "organiser");
    assert_eq!(referred_entry["actorDivisionCode"], codes::GUODIANZI);
    let accepted_entry = record
        .iter()
        .find(|e| e["action"] == "referral_accepted")
        .expect("the acceptance is on the record");
    assert_eq!(accepted_entry["actorDivisionCode"], codes::XIAGUANYING);
    let detail: Value = serde_json::from_str(accepted_entry["detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["topicId"].to_string(), upper);
    assert!(upper_seen["topic"]["record"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "referral_linked"));
    for topic in [&id, &upper] {
        let v = app.ok(None, VERIFY, json!({ "t": topic })).await;
        assert_eq!(v["verifyTopicRecord"]["intact"], true, "{v}");
    }
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE action IN ('referral.refer', 'referral.accept')"
        )
        .await,
        2
    );
}

async fn a_referred_suggestion_tells_its_author_and_opens_again_when_declined(backend: Backend) {
    let app = spawn_app(backend).await;
    let author = app.resident(codes::GUODIANZI).await;
    let village = app.with_role(Role::Organiser, codes::GUODIANZI).await;
    let township = app.with_role(Role::Organiser, codes::XIAGUANYING).await;
    let id = suggest(&app, &author, "修建跨村水渠").await;
    let referred = app
        .ok(
            Some(&village.access_token),
            REFER_SUGGESTION,
            json!({ "s": id, "to": codes::XIAGUANYING, "r": "水渠跨三个村" }),
        )
        .await;
    let referral = referred["referSuggestion"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let seen = app.ok(None, SUGGESTION, json!({ "id": id })).await;
    assert_eq!(seen["suggestion"]["status"], "REFERRED");
    assert_eq!(
        seen["suggestion"]["referredTo"][0]["toDivisionCode"],
        codes::XIAGUANYING
    );
    assert_eq!(answers_to(&app, &author).await, (1, 1));
    // Referred is answered: support no longer changes.
    let neighbour = app.resident(codes::GUODIANZI).await;
    let support = app
        .gql(Some(&neighbour.access_token), SUPPORT, json!({ "id": id }))
        .await;
    assert_eq!(error_code(&support), Some("CONFLICT"));

    let declined = app
        .ok(
            Some(&township.access_token),
            DECLINE_REFERRAL,
            json!({ "id": referral, "r": "属村内事务，请村里协商。" }),
        )
        .await;
    assert_eq!(declined["declineReferral"]["status"], "DECLINED");
    let again = app.ok(None, SUGGESTION, json!({ "id": id })).await;
    assert_eq!(again["suggestion"]["status"], "OPEN");
    assert_eq!(again["suggestion"]["referredTo"][0]["status"], "DECLINED");
    assert_eq!(answers_to(&app, &author).await, (2, 2));
    // Open again: the village answers it itself.
    app.ok(Some(&village.access_token), ADOPT, json!({ "id": id }))
        .await;
    assert_eq!(answers_to(&app, &author).await, (3, 3));
}

/// A decided topic of 夏官营镇 whose outcome names the entrusting body
/// (or none); its id and organiser.
async fn decided_topic(app: &TestApp, entrusted_by: Option<&str>) -> (String, Account) {
    let organiser = app.with_role(Role::Organiser, codes::XIAGUANYING).await;
    let id = open_topic(app, &organiser, codes::XIAGUANYING).await;
    app.clock.advance(Duration::hours(47));
    step(app, &organiser, "closeTopic", &id).await;
    app.ok(
        Some(&organiser.access_token),
        PUBLISH,
        json!({ "t": id, "i": {
            "decision": "同意流转，合作社按年支付流转费。", "adoptedStance": "SUPPORT",
            "responsibleBody": "夏官营镇人民政府",
            "deadline": (app.services.now() + Duration::days(90)).to_rfc3339(),
            "entrustedBy": entrusted_by,
        } }),
    )
    .await;
    (id, organiser)
}

async fn an_entrusted_report_is_overdue_until_submitted_and_on_the_record(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, organiser) = decided_topic(&app, Some("榆中县农业农村局")).await;
    let state = app.ok(None, REPORT_STATE, json!({ "id": id })).await;
    let t = &state["topic"];
    assert_eq!(t["entrustedBy"], "榆中县农业农村局");
    assert_eq!(t["reportOverdue"], false);
    let due = at(&t["reportDueAt"]);
    let decided = app.services.now();
    assert!((due - decided - Duration::days(30)).num_seconds().abs() < 60);

    let other = app.with_role(Role::Organiser, codes::CHENGGUAN_TOWN).await;
    let submit = |who: &Account, when: DateTime<Utc>| {
        let token = who.access_token.clone();
        let vars = json!({ "t": id, "to": "榆中县农业农村局", "at": when.to_rfc3339(), "s": "协商结果：同意流转。" });
        let app = &app;
        async move { app.gql(Some(&token), SUBMIT_REPORT, vars).await }
    };
    let forbidden = submit(&other, app.services.now()).await;
    assert_eq!(error_code(&forbidden), Some("FORBIDDEN"));
    let future = submit(&organiser, app.services.now() + Duration::days(1)).await;
    assert_eq!(error_field(&future), Some("submittedAt"));
    let ack_first = app
        .gql(
            Some(&organiser.access_token),
            ACK_REPORT,
            json!({ "t": id, "at": app.services.now().to_rfc3339(), "r": "榆农函〔2026〕12号" }),
        )
        .await;
    assert_eq!(error_code(&ack_first), Some("REPORT_NOT_SUBMITTED"));

    app.clock.advance(Duration::days(31));
    let late = app.ok(None, REPORT_STATE, json!({ "id": id })).await;
    assert_eq!(late["topic"]["reportOverdue"], true);
    let board = app
        .ok(None, OVERDUE_REPORTS, json!({ "d": codes::YUZHONG }))
        .await;
    assert_eq!(board["overdueReports"][0]["topic"]["id"], id.as_str());
    assert_eq!(
        board["overdueReports"][0]["entrustedBy"],
        "榆中县农业农村局"
    );

    let submitted_at = app.services.now() - Duration::hours(2);
    let done = submit(&organiser, submitted_at).await;
    assert!(done.get("errors").is_none(), "{done}");
    let twice = submit(&organiser, submitted_at).await;
    assert_eq!(error_code(&twice), Some("CONFLICT"));
    app.ok(
        Some(&organiser.access_token),
        ACK_REPORT,
        json!({ "t": id, "at": app.services.now().to_rfc3339(), "r": "榆农函〔2026〕12号" }),
    )
    .await;

    let after = app.ok(None, REPORT_STATE, json!({ "id": id })).await;
    let t = &after["topic"];
    assert_eq!(t["reportOverdue"], false);
    assert_eq!(t["entrustedReport"]["submittedTo"], "榆中县农业农村局");
    assert_eq!(
        t["entrustedReport"]["acknowledgementReference"],
        "榆农函〔2026〕12号"
    );
    let board = app
        .ok(None, OVERDUE_REPORTS, json!({ "d": codes::YUZHONG }))
        .await;
    assert_eq!(board["overdueReports"].as_array().unwrap().len(), 0);
    let record = t["record"].as_array().unwrap();
    let entry = record
        .iter()
        .find(|e| e["action"] == "report_submitted")
        .expect("the report is on the record");
    let detail: Value = serde_json::from_str(entry["detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["onTime"], false);
    assert_eq!(detail["submittedTo"], "榆中县农业农村局");
    assert!(record.iter().any(|e| e["action"] == "report_acknowledged"));
    let v = app.ok(None, VERIFY, json!({ "t": id })).await;
    assert_eq!(v["verifyTopicRecord"]["intact"], true, "{v}");
}

async fn a_report_submitted_in_time_is_never_overdue_and_only_entrusted_matters_report(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (id, organiser) = decided_topic(&app, Some("榆中县水务局")).await;
    app.clock.advance(Duration::days(3));
    app.ok(
        Some(&organiser.access_token),
        SUBMIT_REPORT,
        json!({ "t": id, "to": "榆中县水务局", "at": app.services.now().to_rfc3339(), "s": "已报告。" }),
    )
    .await;
    app.clock.advance(Duration::days(40));
    let state = app.ok(None, REPORT_STATE, json!({ "id": id })).await;
    assert_eq!(state["topic"]["reportOverdue"], false);

    let (plain, plain_organiser) = decided_topic(&app, None).await;
    let state = app.ok(None, REPORT_STATE, json!({ "id": plain })).await;
    assert_eq!(state["topic"]["reportDueAt"], Value::Null);
    assert_eq!(state["topic"]["reportOverdue"], false);
    let refused = app
        .gql(
            Some(&plain_organiser.access_token),
            SUBMIT_REPORT,
            json!({ "t": plain, "to": "榆中县水务局", "at": app.services.now().to_rfc3339(), "s": "已报告。" }),
        )
        .await;
    assert_eq!(error_code(&refused), Some("NOT_ENTRUSTED"));
}

db_tests!(
    the_author_is_told_once_when_a_suggestion_is_adopted_or_declined,
    a_supported_suggestion_is_due_and_overdue_unless_answered_in_time,
    a_village_topic_referred_to_its_township_is_linked_both_ways_on_the_record,
    a_referred_suggestion_tells_its_author_and_opens_again_when_declined,
    an_entrusted_report_is_overdue_until_submitted_and_on_the_record,
    a_report_submitted_in_time_is_never_overdue_and_only_entrusted_matters_report,
);
