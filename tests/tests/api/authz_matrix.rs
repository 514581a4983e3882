//! The authorization matrix: every mutation and sensitive query, as every
//! kind of actor, on objects inside and outside the actor's division.
//!
//! The actors hold their roles in 榆中县 (the resident lives in 过店子村, in
//! 榆中县); "inside" objects are in 榆中县, "outside" ones in 城关区. A cell
//! is *allowed* when the answer carries neither `FORBIDDEN` nor
//! `UNAUTHENTICATED` — the operation may still fail for other reasons
//! (`CONFLICT` for the wrong state, `NOT_FOUND`, `BAD_USER_INPUT`). All
//! mismatches are collected and reported together.
//!
//! Operations on one's own things (confirming a proxy opinion, withdrawing
//! one's support) have no division rule: any signed-in user may ask, and
//! finds nothing (`NOT_FOUND`) that is not theirs.

use chrono::{Duration, Utc};
use serde_json::{json, Value};
use yishi::domain::authz::Role;
use yishi_tests::{codes, db_tests, error_code, spawn_app, Account, Backend, TestApp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Resident,
    Expert,
    Supervisor,
    Organiser,
    Admin,
}

use Who::{Admin, Anonymous, Expert, Organiser, Resident, Supervisor};

/// Deny-first order, so a permitted call that changes state runs last.
const EVERY: [Who; 6] = [Anonymous, Resident, Expert, Supervisor, Organiser, Admin];
const EVERYONE: &[Who] = &EVERY;
const SIGNED_IN: &[Who] = &[Resident, Expert, Supervisor, Organiser, Admin];
const MANAGERS: &[Who] = &[Organiser, Admin];
const READERS: &[Who] = &[Supervisor, Organiser, Admin];
const RESIDENT: &[Who] = &[Resident];
const NOBODY: &[Who] = &[];

/// What the cases point at, in one division.
struct Fixture {
    scope: &'static str,
    village: &'static str,
    draft: String,
    open: String,
    closed: String,
    residency: String,
    assignment: String,
    suggestion: String,
    user: String,
}

struct Case {
    name: &'static str,
    query: &'static str,
    vars: fn(&Fixture) -> Value,
    inside: &'static [Who],
    outside: &'static [Who],
}

fn topic_input(scope: &str) -> Value {
    let now = Utc::now();
    json!({
        "title": "村道硬化工程",
        "body": "拟对三组至五组村道进行硬化。",
        "category": "TRANSPORT_WATER",
        "kind": "DECISION",
        "scopeCode": scope,
        "opensAt": (now + Duration::hours(73)).to_rfc3339(),
        "closesAt": (now + Duration::hours(120)).to_rfc3339(),
    })
}

fn outcome_input() -> Value {
    json!({
        "decision": "硬化三组至五组村道",
        "adoptedStance": "SUPPORT",
        "responsibleBody": "村民委员会",
        "deadline": (Utc::now() + Duration::days(90)).to_rfc3339(),
    })
}

#[rustfmt::skip]
fn cases() -> Vec<Case> {
    vec![
        // Topics.
        Case { name: "createTopic", query: "mutation($i: TopicInput!) { createTopic(input: $i) { id } }",
            vars: |f| json!({ "i": topic_input(f.scope) }), inside: MANAGERS, outside: NOBODY },
        Case { name: "updateTopic", query: "mutation($id: ID!, $i: TopicInput!) { updateTopic(id: $id, input: $i) { id } }",
            vars: |f| json!({ "id": f.draft, "i": topic_input(f.scope) }), inside: MANAGERS, outside: NOBODY },
        Case { name: "publishAssessment", query: "mutation($t: ID!) { publishAssessment(topicId: $t, input: { title: \"评估\", body: \"可行\" }) { id } }",
            vars: |f| json!({ "t": f.draft }), inside: &[Expert, Organiser, Admin], outside: NOBODY },
        Case { name: "announceTopic", query: "mutation($id: ID!) { announceTopic(id: $id) { id } }",
            vars: |f| json!({ "id": f.draft }), inside: MANAGERS, outside: NOBODY },
        Case { name: "openTopic", query: "mutation($id: ID!) { openTopic(id: $id) { id } }",
            vars: |f| json!({ "id": f.draft }), inside: MANAGERS, outside: NOBODY },
        Case { name: "closeTopic", query: "mutation($id: ID!) { closeTopic(id: $id) { id } }",
            vars: |f| json!({ "id": f.draft }), inside: MANAGERS, outside: NOBODY },
        Case { name: "withdrawTopic", query: "mutation($id: ID!) { withdrawTopic(id: $id, reason: \"重复\") { id } }",
            vars: |f| json!({ "id": f.draft }), inside: MANAGERS, outside: NOBODY },
        Case { name: "recordMeeting", query: "mutation($t: ID!, $at: DateTime!) { recordMeeting(topicId: $t, input: { heldAt: $at, place: \"村委会\", attendees: 30, minutes: \"纪要\" }) { id } }",
            vars: |f| json!({ "t": f.open, "at": Utc::now().to_rfc3339() }), inside: MANAGERS, outside: NOBODY },
        Case { name: "recordProxyOpinion", query: "mutation($t: ID!, $v: String!) { recordProxyOpinion(input: { topicId: $t, meetingId: \"999999\", residentName: \"王大爷\", villageCode: $v, stance: SUPPORT }) { id } }",
            vars: |f| json!({ "t": f.open, "v": f.village }), inside: MANAGERS, outside: NOBODY },
        // Opinions and results.
        Case { name: "submitOpinion", query: "mutation($t: ID!) { submitOpinion(topicId: $t, stance: SUPPORT) { id } }",
            vars: |f| json!({ "t": f.open }), inside: RESIDENT, outside: NOBODY },
        Case { name: "confirmOpinion", query: "mutation($t: ID!) { confirmOpinion(topicId: $t) { id } }",
            vars: |f| json!({ "t": f.open }), inside: SIGNED_IN, outside: SIGNED_IN },
        Case { name: "topic", query: "query($id: ID!) { topic(id: $id) { id title } }",
            vars: |f| json!({ "id": f.open }), inside: EVERYONE, outside: EVERYONE },
        Case { name: "topicResults", query: "query($t: ID!) { topicResults(topicId: $t) { overall { total } } }",
            vars: |f| json!({ "t": f.open }), inside: EVERYONE, outside: EVERYONE },
        Case { name: "opinions", query: "query($t: ID!) { opinions(topicId: $t) { nodes { id } } }",
            vars: |f| json!({ "t": f.open }), inside: READERS, outside: NOBODY },
        Case { name: "dissentThemes", query: "query($t: ID!) { dissentThemes(topicId: $t) { keyword } }",
            vars: |f| json!({ "t": f.open }), inside: READERS, outside: NOBODY },
        // Outcomes, progress, supervision, explanations.
        Case { name: "publishOutcome", query: "mutation($t: ID!, $i: OutcomeInput!) { publishOutcome(topicId: $t, input: $i) { version } }",
            vars: |f| json!({ "t": f.closed, "i": outcome_input() }), inside: MANAGERS, outside: NOBODY },
        Case { name: "correctOutcome", query: "mutation($t: ID!, $i: OutcomeInput!) { correctOutcome(topicId: $t, input: $i, changeReason: \"更正期限\") { version } }",
            vars: |f| json!({ "t": f.closed, "i": outcome_input() }), inside: MANAGERS, outside: NOBODY },
        Case { name: "flagOutcome", query: "mutation($t: ID!) { flagOutcome(topicId: $t, reason: \"程序不全\", legalBasis: \"村民委员会组织法\") { id } }",
            vars: |f| json!({ "t": f.closed }), inside: &[Supervisor, Admin], outside: NOBODY },
        Case { name: "startImplementation", query: "mutation($t: ID!) { startImplementation(topicId: $t) { id } }",
            vars: |f| json!({ "t": f.closed }), inside: MANAGERS, outside: NOBODY },
        Case { name: "publishProgress", query: "mutation($t: ID!) { publishProgress(topicId: $t, body: \"已开工\", percent: 10) { id } }",
            vars: |f| json!({ "t": f.closed }), inside: MANAGERS, outside: NOBODY },
        Case { name: "completeTopic", query: "mutation($t: ID!) { completeTopic(topicId: $t) { id } }",
            vars: |f| json!({ "t": f.closed }), inside: MANAGERS, outside: NOBODY },
        Case { name: "publishExplanation", query: "mutation($t: ID!) { publishExplanation(topicId: $t, audience: { kind: ALL_DISSENTERS }, body: \"说明\") { id } }",
            vars: |f| json!({ "t": f.closed }), inside: MANAGERS, outside: NOBODY },
        Case { name: "explanationAudienceSize", query: "query($t: ID!) { explanationAudienceSize(topicId: $t, audience: { kind: ALL_DISSENTERS }) }",
            vars: |f| json!({ "t": f.closed }), inside: READERS, outside: NOBODY },
        Case { name: "explanationCoverage", query: "query($t: ID!) { explanationCoverage(topicId: $t) { rows { divisionCode } } }",
            vars: |f| json!({ "t": f.closed }), inside: READERS, outside: NOBODY },
        Case { name: "auditLog", query: "query($d: String!) { auditLog(divisionCode: $d) { nodes { id action } } }",
            vars: |f| json!({ "d": f.scope }), inside: READERS, outside: NOBODY },
        Case { name: "setMyLocale", query: "mutation { setMyLocale(locale: \"zh-CN\") { id } }",
            vars: |_| json!({}), inside: SIGNED_IN, outside: SIGNED_IN },
        Case { name: "dashboard", query: "query($d: String!) { dashboard(divisionCode: $d) { division { responses } } }",
            vars: |f| json!({ "d": f.scope }), inside: READERS, outside: NOBODY },
        // Residency and roles.
        Case { name: "requestResidency", query: "mutation($v: String!) { requestResidency(villageCode: $v) { id } }",
            vars: |f| json!({ "v": f.village }), inside: SIGNED_IN, outside: SIGNED_IN },
        Case { name: "residencyRequests", query: "query($d: String) { residencyRequests(divisionCode: $d) { nodes { id } } }",
            vars: |f| json!({ "d": f.scope }), inside: MANAGERS, outside: NOBODY },
        Case { name: "rejectResidency", query: "mutation($id: ID!) { rejectResidency(id: $id, reason: \"不符\") { id } }",
            vars: |f| json!({ "id": f.residency }), inside: MANAGERS, outside: NOBODY },
        Case { name: "approveResidency", query: "mutation($id: ID!) { approveResidency(id: $id) { id } }",
            vars: |f| json!({ "id": f.residency }), inside: MANAGERS, outside: NOBODY },
        Case { name: "assignRole", query: "mutation($u: ID!, $d: String!) { assignRole(userId: $u, role: EXPERT, divisionCode: $d) { id } }",
            vars: |f| json!({ "u": f.user, "d": f.scope }), inside: &[Admin], outside: NOBODY },
        Case { name: "revokeRole", query: "mutation($id: ID!) { revokeRole(id: $id) { id } }",
            vars: |f| json!({ "id": f.assignment }), inside: &[Admin], outside: NOBODY },
        Case { name: "roleAssignments", query: "query($u: ID) { roleAssignments(userId: $u) { id } }",
            vars: |f| json!({ "u": f.user }), inside: &[Admin], outside: &[Admin] },
        Case { name: "userByEmail", query: "query { userByEmail(email: \"nobody@example.cn\") { id } }",
            vars: |_| json!({}), inside: READERS, outside: READERS },
        // Suggestions.
        Case { name: "suggestTopic", query: "mutation($d: String) { suggestTopic(input: { divisionCode: $d, title: \"修路\", body: \"村道坑洼\", category: TRANSPORT_WATER }) { id } }",
            vars: |f| json!({ "d": f.scope }), inside: RESIDENT, outside: NOBODY },
        Case { name: "supportSuggestion", query: "mutation($id: ID!) { supportSuggestion(id: $id) { id } }",
            vars: |f| json!({ "id": f.suggestion }), inside: RESIDENT, outside: NOBODY },
        Case { name: "withdrawSuggestionSupport", query: "mutation($id: ID!) { withdrawSuggestionSupport(id: $id) { id } }",
            vars: |f| json!({ "id": f.suggestion }), inside: SIGNED_IN, outside: SIGNED_IN },
        Case { name: "declineSuggestion", query: "mutation($id: ID!) { declineSuggestion(id: $id, reason: \"已有议题\") { id } }",
            vars: |f| json!({ "id": f.suggestion }), inside: MANAGERS, outside: NOBODY },
        Case { name: "adoptSuggestion", query: "mutation($id: ID!) { adoptSuggestion(id: $id) { id } }",
            vars: |f| json!({ "id": f.suggestion }), inside: MANAGERS, outside: NOBODY },
        // Mail (province administrators only; the admin here is a county's).
        Case { name: "outbox", query: "{ outbox { nodes { id } } }",
            vars: |_| json!({}), inside: NOBODY, outside: NOBODY },
        Case { name: "retryEmail", query: "mutation { retryEmail(id: \"1\") { id } }",
            vars: |_| json!({}), inside: NOBODY, outside: NOBODY },
        // One's own account.
        Case { name: "myOpinions", query: "{ myOpinions { id } }",
            vars: |_| json!({}), inside: SIGNED_IN, outside: SIGNED_IN },
        Case { name: "notifications", query: "{ notifications { id } }",
            vars: |_| json!({}), inside: SIGNED_IN, outside: SIGNED_IN },
        Case { name: "markNotificationsRead", query: "mutation { markNotificationsRead }",
            vars: |_| json!({}), inside: SIGNED_IN, outside: SIGNED_IN },
        Case { name: "myResidencyRequests", query: "{ myResidencyRequests { id } }",
            vars: |_| json!({}), inside: SIGNED_IN, outside: SIGNED_IN },
        Case { name: "replyToExplanation", query: "mutation { replyToExplanation(id: \"999999\", reply: SATISFIED) { id } }",
            vars: |_| json!({}), inside: SIGNED_IN, outside: SIGNED_IN },
        Case { name: "setEmailPreference", query: "mutation { setEmailPreference(kind: \"topic_announced\", enabled: false) { enabled } }",
            vars: |_| json!({}), inside: SIGNED_IN, outside: SIGNED_IN },
    ]
}

async fn gql_ok(app: &TestApp, who: &Account, query: &str, vars: Value) -> Value {
    app.ok(Some(&who.access_token), query, vars).await
}

/// A topic in `scope`, moved through `steps`. Open ones stay open for 60
/// days: building the other fixtures closes topics on time, moving the
/// clock past the usual closing time.
async fn topic(app: &TestApp, organiser: &Account, scope: &str, steps: &[&str]) -> String {
    let mut input = topic_input(scope);
    if !steps.contains(&"closeTopic") {
        input["closesAt"] = json!((Utc::now() + Duration::days(60)).to_rfc3339());
    }
    let data = gql_ok(
        app,
        organiser,
        "mutation($i: TopicInput!) { createTopic(input: $i) { id } }",
        json!({ "i": input }),
    )
    .await;
    let id = data["createTopic"]["id"].as_str().unwrap().to_owned();
    for step in steps {
        if matches!(*step, "openTopic" | "closeTopic") {
            app.step_on_time(&organiser.access_token, step, &id).await;
            continue;
        }
        gql_ok(
            app,
            organiser,
            &format!("mutation($id: ID!) {{ {step}(id: $id) {{ id }} }}"),
            json!({ "id": id }),
        )
        .await;
    }
    id
}

async fn fixture(
    app: &TestApp,
    province_admin: &Account,
    scope: &'static str,
    village: &'static str,
) -> Fixture {
    let organiser = app.with_role(Role::Organiser, scope).await;
    let draft = topic(app, &organiser, scope, &[]).await;
    let open = topic(app, &organiser, scope, &["announceTopic", "openTopic"]).await;
    let closed = topic(
        app,
        &organiser,
        scope,
        &["announceTopic", "openTopic", "closeTopic"],
    )
    .await;
    let applicant = app.register("申请人").await;
    let residency = gql_ok(
        app,
        &applicant,
        "mutation($v: String!) { requestResidency(villageCode: $v) { id } }",
        json!({ "v": village }),
    )
    .await["requestResidency"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let user = app.register("专家").await;
    let assignment = gql_ok(
        app,
        province_admin,
        "mutation($u: ID!, $d: String!) { assignRole(userId: $u, role: EXPERT, divisionCode: $d) { id } }",
        json!({ "u": user.id, "d": scope }),
    )
    .await["assignRole"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let author = app.resident(village).await;
    let suggestion = gql_ok(
        app,
        &author,
        "mutation($d: String) { suggestTopic(input: { divisionCode: $d, title: \"路灯\", body: \"村口没有路灯\", category: TRANSPORT_WATER }) { id } }",
        json!({ "d": scope }),
    )
    .await["suggestTopic"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    Fixture {
        scope,
        village,
        draft,
        open,
        closed,
        residency,
        assignment,
        suggestion,
        user: user.id,
    }
}

async fn every_operation_is_allowed_exactly_where_the_role_reaches(backend: Backend) {
    let app = spawn_app(backend).await;
    let province_admin = app.with_role(Role::Admin, codes::GANSU).await;
    let inside = fixture(&app, &province_admin, codes::YUZHONG, codes::GUODIANZI).await;
    let outside = fixture(
        &app,
        &province_admin,
        codes::CHENGGUAN_DISTRICT,
        codes::CHANGJIAXIANG,
    )
    .await;

    let resident = app.resident(codes::GUODIANZI).await;
    let organiser = app.with_role(Role::Organiser, codes::YUZHONG).await;
    let supervisor = app.with_role(Role::Supervisor, codes::YUZHONG).await;
    let expert = app.with_role(Role::Expert, codes::YUZHONG).await;
    let admin = app.with_role(Role::Admin, codes::YUZHONG).await;
    let token = |who: Who| -> Option<&str> {
        match who {
            Anonymous => None,
            Resident => Some(&resident.access_token),
            Expert => Some(&expert.access_token),
            Supervisor => Some(&supervisor.access_token),
            Organiser => Some(&organiser.access_token),
            Admin => Some(&admin.access_token),
        }
    };

    let mut mismatches = Vec::new();
    let mut cells = 0;
    for case in cases() {
        for (place, fixture, allowed) in [
            ("inside", &inside, case.inside),
            ("outside", &outside, case.outside),
        ] {
            for who in EVERY {
                let resp = app.gql(token(who), case.query, (case.vars)(fixture)).await;
                cells += 1;
                let code = error_code(&resp);
                let denied = matches!(code, Some("FORBIDDEN" | "UNAUTHENTICATED"));
                let want_allowed = allowed.contains(&who);
                if denied == want_allowed || code == Some("INTERNAL_SERVER_ERROR") {
                    mismatches.push(format!(
                        "{} {place} as {who:?}: expected {}, got {}",
                        case.name,
                        if want_allowed { "allow" } else { "deny" },
                        code.map_or_else(|| "success".to_owned(), str::to_owned),
                    ));
                }
            }
        }
    }

    // The report and export endpoints, over plain HTTP.
    for (place, fixture, allowed) in [("inside", &inside, READERS), ("outside", &outside, NOBODY)] {
        for file in ["opinions.csv", "report.csv", "report.html"] {
            for who in EVERY {
                let mut req = app
                    .client
                    .get(format!("{}/api/topics/{}/{file}", app.url, fixture.closed));
                if let Some(t) = token(who) {
                    req = req.bearer_auth(t);
                }
                let status = req.send().await.unwrap().status().as_u16();
                cells += 1;
                let denied = status == 401 || status == 403;
                let want_allowed = allowed.contains(&who);
                if denied == want_allowed || status >= 500 {
                    mismatches.push(format!(
                        "GET {file} {place} as {who:?}: expected {}, got {status}",
                        if want_allowed { "allow" } else { "deny" },
                    ));
                }
            }
        }
    }

    assert!(
        mismatches.is_empty(),
        "{} of {cells} cells differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

db_tests!(every_operation_is_allowed_exactly_where_the_role_reaches);
