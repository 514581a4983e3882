//! The procedure cannot be bent (issue 15): each old bypass is refused with
//! its own code, and each explicit exception works and is on the topic's
//! public, hash-chained record.

use chrono::{DateTime, Duration, Utc};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};
use yishi::domain::authz::Role;
use yishi_tests::{
    codes, db_tests, error_code, error_field, spawn_app, topic_input, Account, Backend, TestApp,
};

const SUBMIT: &str = "mutation($t: ID!, $s: Stance, $r: String) { submitOpinion(topicId: $t, stance: $s, reason: $r) { id } }";
const PUBLISH: &str =
    "mutation($t: ID!, $i: OutcomeInput!) { publishOutcome(topicId: $t, input: $i) { version } }";
const RECORD: &str = "query($id: ID!) { topic(id: $id) { record { seq action actorRole actorDivisionCode reason detail } } verifyTopicRecord(topicId: $id) { intact entries head brokenAt problem } }";

fn outcome(deadline: DateTime<Utc>) -> Value {
    json!({
        "decision": "同意硬化三组至五组村道。", "adoptedStance": "SUPPORT",
        "responsibleBody": "夏官营镇人民政府", "deadline": deadline.to_rfc3339(),
    })
}

/// An open topic of 夏官营镇 with one supporter and one opponent; returns
/// the topic, its organiser and the two residents.
async fn open_with_votes(app: &TestApp, input: Value) -> (String, Account, [Account; 2]) {
    let (id, organiser) = app.open_topic(codes::XIAGUANYING, input).await;
    let supporter = app.resident(codes::GUODIANZI).await;
    let opponent = app.resident(codes::TAIPINGBAO).await;
    for (who, stance) in [(&supporter, "SUPPORT"), (&opponent, "OPPOSE")] {
        app.ok(
            Some(&who.access_token),
            SUBMIT,
            json!({ "t": id, "s": stance, "r": "理由" }),
        )
        .await;
    }
    (id, organiser, [supporter, opponent])
}

async fn record(app: &TestApp, id: &str) -> Value {
    app.ok(None, RECORD, json!({ "id": id })).await
}

fn actions(record: &Value) -> Vec<String> {
    record["topic"]["record"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

async fn an_early_close_needs_another_persons_countersignature_and_is_on_the_record(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (id, organiser, _) = open_with_votes(&app, topic_input("", "DECISION")).await;
    let token = Some(organiser.access_token.as_str());
    let close = "mutation($id: ID!) { closeTopic(id: $id) { state } }";
    assert_eq!(
        error_code(&app.gql(token, close, json!({ "id": id })).await),
        Some("EARLY_CLOSE_NEEDS_COUNTERSIGNATURE")
    );
    let request = "mutation($t: ID!, $r: String!) { requestEarlyClose(topicId: $t, reason: $r) { state earlyCloseRequest { reason } } }";
    assert_eq!(
        error_field(&app.gql(token, request, json!({ "t": id, "r": " " })).await),
        Some("reason")
    );
    let requested = app
        .ok(
            token,
            request,
            json!({ "t": id, "r": "汛期将至，须提前开工" }),
        )
        .await;
    assert_eq!(requested["requestEarlyClose"]["state"], "OPEN");
    assert_eq!(
        requested["requestEarlyClose"]["earlyCloseRequest"]["reason"],
        "汛期将至，须提前开工"
    );
    assert_eq!(
        error_code(
            &app.gql(token, request, json!({ "t": id, "r": "再来一次" }))
                .await
        ),
        Some("CONFLICT")
    );

    let countersign = "mutation($t: ID!, $a: Boolean!, $n: String) { countersignEarlyClose(topicId: $t, approve: $a, note: $n) { state earlyCloseRequest { reason } } }";
    // Not the organiser, nor a supervisor elsewhere.
    let elsewhere = app
        .with_role(Role::Supervisor, codes::CHENGGUAN_DISTRICT)
        .await;
    for who in [&organiser, &elsewhere] {
        assert_eq!(
            error_code(
                &app.gql(
                    Some(&who.access_token),
                    countersign,
                    json!({ "t": id, "a": true })
                )
                .await
            ),
            Some("FORBIDDEN")
        );
    }
    // Nor the one who asked, even holding a supervisor's role too.
    yishi::domain::roles::bootstrap(
        &app.services,
        organiser.id.parse().unwrap(),
        Role::Supervisor,
        codes::XIAGUANYING,
    )
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    let self_signed = app
        .gql(token, countersign, json!({ "t": id, "a": true }))
        .await;
    assert_eq!(error_code(&self_signed), Some("FORBIDDEN"), "{self_signed}");

    let supervisor = app.with_role(Role::Supervisor, codes::YUZHONG).await;
    let sup = Some(supervisor.access_token.as_str());
    assert_eq!(
        error_field(
            &app.gql(sup, countersign, json!({ "t": id, "a": false }))
                .await
        ),
        Some("note")
    );
    let declined = app
        .ok(
            sup,
            countersign,
            json!({ "t": id, "a": false, "n": "汛期尚远，应听取全部意见" }),
        )
        .await;
    assert_eq!(declined["countersignEarlyClose"]["state"], "OPEN");
    assert!(declined["countersignEarlyClose"]["earlyCloseRequest"].is_null());

    app.ok(token, request, json!({ "t": id, "r": "上级通知工程提前" }))
        .await;
    let closed = app
        .ok(sup, countersign, json!({ "t": id, "a": true }))
        .await;
    assert_eq!(closed["countersignEarlyClose"]["state"], "CLOSED");

    let rec = record(&app, &id).await;
    assert_eq!(
        actions(&rec),
        [
            "announced",
            "opened",
            "early_close_requested",
            "early_close_declined",
            "early_close_requested",
            "early_close_countersigned"
        ]
    );
    let entries = rec["topic"]["record"].as_array().unwrap();
    assert_eq!(entries[2]["actorRole"], "organiser");
    assert_eq!(entries[2]["actorDivisionCode"], codes::XIAGUANYING);
    assert_eq!(entries[3]["actorRole"], "supervisor");
    assert_eq!(entries[3]["reason"], "汛期尚远，应听取全部意见");
    assert_eq!(entries[5]["reason"], "上级通知工程提前");
    assert_eq!(entries[5]["actorDivisionCode"], codes::YUZHONG);
    assert_eq!(rec["verifyTopicRecord"]["intact"], true);
    assert_eq!(rec["verifyTopicRecord"]["entries"], 6);
}

async fn a_deadline_moves_only_by_a_public_extension_and_on_time_keeps_the_original(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (id, organiser, _) = open_with_votes(&app, topic_input("", "DECISION")).await;
    let token = Some(organiser.access_token.as_str());
    app.step_on_time(&organiser.access_token, "closeTopic", &id)
        .await;
    // Microseconds: what both databases keep.
    let original = DateTime::from_timestamp_micros(
        (app.services.now() + Duration::days(10)).timestamp_micros(),
    )
    .unwrap();
    app.ok(token, PUBLISH, json!({ "t": id, "i": outcome(original) }))
        .await;
    app.ok(
        token,
        "mutation($t: ID!) { startImplementation(topicId: $t) { state } }",
        json!({ "t": id }),
    )
    .await;

    let extend = "mutation($t: ID!, $d: DateTime!, $r: String!) { extendDeadline(topicId: $t, deadline: $d, reason: $r) { previousDeadline newDeadline reason } }";
    let later = original + Duration::days(30);
    assert_eq!(
        error_field(
            &app.gql(
                token,
                extend,
                json!({ "t": id, "d": later.to_rfc3339(), "r": "" })
            )
            .await
        ),
        Some("reason")
    );
    assert_eq!(
        error_field(
            &app.gql(
                token,
                extend,
                json!({ "t": id, "d": (original - Duration::days(1)).to_rfc3339(), "r": "提前" })
            )
            .await
        ),
        Some("deadline")
    );
    let outsider = app
        .with_role(Role::Organiser, codes::CHENGGUAN_DISTRICT)
        .await;
    assert_eq!(
        error_code(
            &app.gql(
                Some(&outsider.access_token),
                extend,
                json!({ "t": id, "d": later.to_rfc3339(), "r": "汛期停工" })
            )
            .await
        ),
        Some("FORBIDDEN")
    );
    app.ok(
        token,
        extend,
        json!({ "t": id, "d": later.to_rfc3339(), "r": "汛期停工一个月" }),
    )
    .await;

    // Past the original deadline, within the extension: not overdue, and
    // yet a completion now is late against what was promised.
    app.clock.advance(Duration::days(15));
    let query = "query($id: ID!) { topic(id: $id) { deadline originalDeadline overdue completedOnTime completedWithinExtension deadlineExtensions { reason previousDeadline newDeadline } } }";
    let seen = app.ok(None, query, json!({ "id": id })).await;
    let topic = &seen["topic"];
    assert_eq!(topic["overdue"], false);
    assert_eq!(
        DateTime::parse_from_rfc3339(topic["originalDeadline"].as_str().unwrap()).unwrap(),
        original
    );
    assert_eq!(
        DateTime::parse_from_rfc3339(topic["deadline"].as_str().unwrap()).unwrap(),
        later
    );
    assert_eq!(topic["deadlineExtensions"][0]["reason"], "汛期停工一个月");
    // The supporters and the opponent were told, once each.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM notifications WHERE kind = 'deadline_extended'")
            .await,
        2
    );
    app.ok(
        token,
        "mutation($t: ID!, $a: ExplanationAudienceInput!, $b: String!) { publishExplanation(topicId: $t, audience: $a, body: $b) { id } }",
        json!({ "t": id, "a": { "kind": "ALL_DISSENTERS" }, "b": "多数赞成，补偿另议。" }),
    )
    .await;
    app.ok(
        token,
        "mutation($t: ID!) { completeTopic(topicId: $t) { state } }",
        json!({ "t": id }),
    )
    .await;
    let done = app.ok(None, query, json!({ "id": id })).await;
    assert_eq!(done["topic"]["completedOnTime"], false);
    assert_eq!(done["topic"]["completedWithinExtension"], true);
    let rec = record(&app, &id).await;
    let entries = rec["topic"]["record"].as_array().unwrap();
    let extended = entries
        .iter()
        .find(|e| e["action"] == "deadline_extended")
        .expect("the extension is on the record");
    assert_eq!(extended["reason"], "汛期停工一个月");
    let detail: Value = serde_json::from_str(extended["detail"].as_str().unwrap()).unwrap();
    assert_eq!(
        DateTime::parse_from_rfc3339(detail["originalDeadline"].as_str().unwrap()).unwrap(),
        original
    );
    let completed = entries.last().unwrap();
    assert_eq!(completed["action"], "completed");
    assert_eq!(
        serde_json::from_str::<Value>(completed["detail"].as_str().unwrap()).unwrap()["onTime"],
        false
    );
    assert_eq!(rec["verifyTopicRecord"]["intact"], true);
}

async fn a_closed_topic_waits_for_its_outcome_only_so_long_in_public(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, organiser, _) = open_with_votes(&app, topic_input("", "DECISION")).await;
    app.step_on_time(&organiser.access_token, "closeTopic", &id)
        .await;
    let query = "query($id: ID!) { topic(id: $id) { closedAt decisionDueAt decisionOverdue } }";
    let closed = app.ok(None, query, json!({ "id": id })).await;
    assert_eq!(closed["topic"]["decisionOverdue"], false);
    let closed_at =
        DateTime::parse_from_rfc3339(closed["topic"]["closedAt"].as_str().unwrap()).unwrap();
    let due =
        DateTime::parse_from_rfc3339(closed["topic"]["decisionDueAt"].as_str().unwrap()).unwrap();
    assert_eq!(due - closed_at, Duration::days(15));
    app.clock.advance(Duration::days(16));
    assert_eq!(
        app.ok(None, query, json!({ "id": id })).await["topic"]["decisionOverdue"],
        true
    );
    // Deciding ends it.
    app.ok(
        Some(&organiser.access_token),
        PUBLISH,
        json!({ "t": id, "i": outcome(app.services.now() + Duration::days(30)) }),
    )
    .await;
    let decided = app.ok(None, query, json!({ "id": id })).await;
    assert_eq!(decided["topic"]["decisionOverdue"], false);
    assert!(decided["topic"]["decisionDueAt"].is_null());
}

async fn an_outcome_below_quorum_stands_only_with_a_public_justification(backend: Backend) {
    let app = spawn_app(backend).await;
    // Four more residents who do not answer: 2 of 6 is below a quorum of 50%.
    for village in [
        codes::GUODIANZI,
        codes::GUODIANZI,
        codes::TAIPINGBAO,
        codes::TAIPINGBAO,
    ] {
        app.resident(village).await;
    }
    let mut input = topic_input("", "DECISION");
    input["quorumPercent"] = json!(50);
    let (id, organiser, _) = open_with_votes(&app, input).await;
    let token = Some(organiser.access_token.as_str());
    app.step_on_time(&organiser.access_token, "closeTopic", &id)
        .await;
    let deadline = app.services.now() + Duration::days(30);
    let bare = app
        .gql(token, PUBLISH, json!({ "t": id, "i": outcome(deadline) }))
        .await;
    assert_eq!(
        error_code(&bare),
        Some("QUORUM_JUSTIFICATION_REQUIRED"),
        "{bare}"
    );
    let mut justified = outcome(deadline);
    justified["quorumJustification"] = json!("村民代表会议已到会三分之二，线上参与偏低");
    app.ok(token, PUBLISH, json!({ "t": id, "i": justified }))
        .await;
    let seen = app
        .ok(
            None,
            "query($id: ID!) { topic(id: $id) { quorumJustification } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        seen["topic"]["quorumJustification"],
        "村民代表会议已到会三分之二，线上参与偏低"
    );
    let rec = record(&app, &id).await;
    let published = rec["topic"]["record"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "outcome_published")
        .cloned()
        .unwrap();
    assert_eq!(
        published["reason"],
        "村民代表会议已到会三分之二，线上参与偏低"
    );
    assert_eq!(
        serde_json::from_str::<Value>(published["detail"].as_str().unwrap()).unwrap()["quorumMet"],
        false
    );
}

async fn withdrawing_an_open_topic_tells_everyone_and_keeps_its_results_readable(backend: Backend) {
    let app = spawn_app(backend).await;
    // A resident who did not answer is told too.
    app.resident(codes::GUODIANZI).await;
    let (id, organiser, _) = open_with_votes(&app, topic_input("", "DECISION")).await;
    app.ok(
        Some(&organiser.access_token),
        "mutation($id: ID!, $r: String!) { withdrawTopic(id: $id, reason: $r) { state } }",
        json!({ "id": id, "r": "县里统一规划，另行协商" }),
    )
    .await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'topic_withdrawn'")
            .await,
        3
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM notifications WHERE kind = 'topic_withdrawn'")
            .await,
        3,
        "every eligible resident, in the app too"
    );
    // The opinions given stay counted and readable, by the public (in
    // cells large enough to show) and in full by the staff.
    let query = "query($t: ID!) { topic(id: $t) { state withdrawReason } topicResults(topicId: $t, level: TOWNSHIP) { overall { total withheld } } }";
    let public = app.ok(None, query, json!({ "t": id })).await;
    assert_eq!(public["topic"]["state"], "WITHDRAWN");
    assert_eq!(public["topic"]["withdrawReason"], "县里统一规划，另行协商");
    let staff = app
        .ok(Some(&organiser.access_token), query, json!({ "t": id }))
        .await;
    assert_eq!(staff["topicResults"]["overall"]["total"], 2);
    let rec = record(&app, &id).await;
    let last = rec["topic"]["record"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["action"], "withdrawn");
    assert_eq!(last["reason"], "县里统一规划，另行协商");
}

async fn dissenters_recorded_by_proxy_are_explained_face_to_face_before_completion(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (id, organiser, _) = open_with_votes(&app, topic_input("", "DECISION")).await;
    let token = Some(organiser.access_token.as_str());
    let meeting = app
        .ok(
            token,
            "mutation($t: ID!, $i: MeetingInput!) { recordMeeting(topicId: $t, input: $i) { id } }",
            json!({ "t": id, "i": { "heldAt": app.services.now().to_rfc3339(), "place": "村委会", "attendees": 5, "minutes": "议村道。" } }),
        )
        .await["recordMeeting"]["id"]
        .clone();
    let proxy = app
        .ok(
            token,
            "mutation($i: ProxyOpinionInput!) { recordProxyOpinion(input: $i) { id } }",
            json!({ "i": { "topicId": id, "meetingId": meeting, "residentName": "赵奶奶", "villageCode": codes::GUODIANZI, "stance": "OPPOSE", "reason": "占了我家菜地" } }),
        )
        .await["recordProxyOpinion"]["id"]
        .clone();
    // A supervisor flags the procedure meanwhile, then dismisses the flag.
    let supervisor = app.with_role(Role::Supervisor, codes::YUZHONG).await;
    let flagged = app
        .ok(
            Some(&supervisor.access_token),
            "mutation($t: ID!) { flagOutcome(topicId: $t, subject: PROCEDURE, reason: \"公告未张贴到三组\", legalBasis: \"《实施意见》提前通报\") { id subject status } }",
            json!({ "t": id }),
        )
        .await;
    assert_eq!(flagged["flagOutcome"]["subject"], "PROCEDURE");
    let resolve = "mutation($f: ID!, $n: String!) { resolveFlag(flagId: $f, accept: false, note: $n) { status } }";
    assert_eq!(
        error_field(
            &app.gql(
                Some(&supervisor.access_token),
                resolve,
                json!({ "f": flagged["flagOutcome"]["id"], "n": "" })
            )
            .await
        ),
        Some("note")
    );
    assert_eq!(
        app.ok(
            Some(&supervisor.access_token),
            resolve,
            json!({ "f": flagged["flagOutcome"]["id"], "n": "经核实三组已张贴" }),
        )
        .await["resolveFlag"]["status"],
        "DISMISSED"
    );

    app.step_on_time(&organiser.access_token, "closeTopic", &id)
        .await;
    app.ok(
        token,
        PUBLISH,
        json!({ "t": id, "i": outcome(app.services.now() + Duration::days(30)) }),
    )
    .await;
    app.ok(
        token,
        "mutation($t: ID!) { startImplementation(topicId: $t) { state } }",
        json!({ "t": id }),
    )
    .await;
    // The online opponent is reached by an explanation; 赵奶奶 cannot be.
    app.ok(
        token,
        "mutation($t: ID!, $a: ExplanationAudienceInput!, $b: String!) { publishExplanation(topicId: $t, audience: $a, body: $b) { id } }",
        json!({ "t": id, "a": { "kind": "ALL_DISSENTERS" }, "b": "多数赞成，占地另行补偿。" }),
    )
    .await;
    let complete = "mutation($t: ID!) { completeTopic(topicId: $t) { state } }";
    assert_eq!(
        error_code(&app.gql(token, complete, json!({ "t": id })).await),
        Some("DISSENTERS_NOT_EXPLAINED")
    );
    let staff = app
        .ok(
            token,
            "query($id: ID!) { topic(id: $id) { unexplainedDissenters unexplainedOpinions { id residentName } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(staff["topic"]["unexplainedDissenters"], 1);
    assert_eq!(staff["topic"]["unexplainedOpinions"][0]["id"], proxy);
    assert_eq!(
        staff["topic"]["unexplainedOpinions"][0]["residentName"],
        "赵奶奶"
    );
    // The public sees no such list.
    let public = app
        .ok(
            None,
            "query($id: ID!) { topic(id: $id) { unexplainedDissenters inPersonExplanations { id } } }",
            json!({ "id": id }),
        )
        .await;
    assert!(public["topic"]["unexplainedDissenters"].is_null());

    let in_person = "mutation($t: ID!, $i: InPersonExplanationInput!) { recordInPersonExplanation(topicId: $t, input: $i) { id response } }";
    let visit = |at: DateTime<Utc>| json!({ "t": id, "i": { "opinionId": proxy, "explainedBy": "村支书 王建国", "explainedAt": at.to_rfc3339(), "place": "赵奶奶家中", "response": "SATISFIED" } });
    assert_eq!(
        error_field(
            &app.gql(
                token,
                in_person,
                visit(app.services.now() + Duration::hours(2))
            )
            .await
        ),
        Some("explainedAt")
    );
    app.ok(
        token,
        in_person,
        visit(app.services.now() - Duration::hours(1)),
    )
    .await;
    assert_eq!(
        app.ok(token, complete, json!({ "t": id })).await["completeTopic"]["state"],
        "COMPLETED"
    );
    let rec = record(&app, &id).await;
    let acts = actions(&rec);
    for expected in [
        "flagged",
        "flag_dismissed",
        "explained",
        "explained_in_person",
        "completed",
    ] {
        assert!(acts.iter().any(|a| a == expected), "{expected} in {acts:?}");
    }
    // The record names no resident: not the one visited, nor the place.
    let text = rec["topic"]["record"].to_string();
    assert!(!text.contains("赵奶奶"), "{text}");
    assert_eq!(rec["verifyTopicRecord"]["intact"], true);
}

async fn an_edited_record_no_longer_verifies(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, organiser, _) = open_with_votes(&app, topic_input("", "DECISION")).await;
    app.ok(
        Some(&organiser.access_token),
        "mutation($t: ID!, $r: String!) { requestEarlyClose(topicId: $t, reason: $r) { id } }",
        json!({ "t": id, "r": "汛期将至" }),
    )
    .await;
    let before = record(&app, &id).await;
    assert_eq!(before["verifyTopicRecord"]["intact"], true);
    let topic_id: i64 = id.parse().unwrap();
    assert!(
        yishi::domain::record::verify(app.services.db.reader(), topic_id)
            .await
            .unwrap()
            .is_intact()
    );

    // Someone with database access rewrites the reason after the fact.
    app.services
        .db
        .writer()
        .execute_unprepared(&format!(
            "UPDATE procedure_record SET reason = '正常结束' WHERE topic_id = {topic_id} AND seq = 3"
        ))
        .await
        .unwrap();
    let after = record(&app, &id).await;
    assert_eq!(after["verifyTopicRecord"]["intact"], false);
    assert_eq!(after["verifyTopicRecord"]["brokenAt"], 3);
    assert!(after["verifyTopicRecord"]["problem"]
        .as_str()
        .unwrap()
        .contains("does not match"));

    // And deleting an entry shows as a gap.
    app.services
        .db
        .writer()
        .execute_unprepared(&format!(
            "UPDATE procedure_record SET reason = '汛期将至' WHERE topic_id = {topic_id} AND seq = 3"
        ))
        .await
        .unwrap();
    assert_eq!(record(&app, &id).await["verifyTopicRecord"]["intact"], true);
    app.services
        .db
        .writer()
        .execute_unprepared(&format!(
            "DELETE FROM procedure_record WHERE topic_id = {topic_id} AND seq = 2"
        ))
        .await
        .unwrap();
    let gap = record(&app, &id).await;
    assert_eq!(gap["verifyTopicRecord"]["intact"], false);
    assert_eq!(gap["verifyTopicRecord"]["brokenAt"], 2);
}

async fn the_notice_board_shows_every_division_what_is_open_due_and_overdue(backend: Backend) {
    let app = spawn_app(backend).await;
    // A township topic closed on time and left undecided for 16 days.
    let (late, organiser, _) = open_with_votes(&app, topic_input("", "DECISION")).await;
    app.step_on_time(&organiser.access_token, "closeTopic", &late)
        .await;
    app.clock.advance(Duration::days(16));
    // Meanwhile a village topic opens and another township topic is announced.
    let (village_open, _) = app
        .open_topic(codes::GUODIANZI, topic_input("", "DECISION"))
        .await;
    let announced = app
        .ok(
            Some(&organiser.access_token),
            "mutation($i: TopicInput!) { createTopic(input: $i) { id } }",
            json!({ "i": topic_input(codes::XIAGUANYING, "DECISION") }),
        )
        .await["createTopic"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.ok(
        Some(&organiser.access_token),
        "mutation($id: ID!) { announceTopic(id: $id) { id } }",
        json!({ "id": announced }),
    )
    .await;

    let query = "query($c: String!) { noticeBoard(divisionCode: $c) { division { name } tally { announced open decisionsOverdue overdue onTimeRate } announced { id } open { id } overdue { kind topic { id decisionOverdue } } rows { division { code } tally { open decisionsOverdue } } truncated } }";
    // Signed out, as on the village's screen or a printed copy.
    let township = app
        .ok(None, query, json!({ "c": codes::XIAGUANYING }))
        .await["noticeBoard"]
        .clone();
    assert_eq!(township["division"]["name"], "夏官营镇");
    assert_eq!(township["tally"]["announced"], 1);
    assert_eq!(township["tally"]["open"], 1);
    assert_eq!(township["tally"]["decisionsOverdue"], 1);
    assert_eq!(township["tally"]["overdue"], 1);
    assert!(township["tally"]["onTimeRate"].is_null());
    assert_eq!(township["announced"][0]["id"], announced.as_str());
    assert_eq!(township["open"][0]["id"], village_open.as_str());
    assert_eq!(
        township["overdue"][0],
        json!({ "kind": "DECISION", "topic": { "id": late, "decisionOverdue": true } })
    );
    assert_eq!(township["truncated"], false);
    let row = |board: &Value, code: &str| {
        board["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["division"]["code"] == code)
            .unwrap_or_else(|| panic!("no row {code}"))["tally"]
            .clone()
    };
    assert_eq!(
        row(&township, codes::GUODIANZI),
        json!({ "open": 1, "decisionsOverdue": 0 })
    );
    assert_eq!(
        row(&township, codes::TAIPINGBAO),
        json!({ "open": 0, "decisionsOverdue": 0 })
    );
    // The county rolls the township up into its row.
    let county = app.ok(None, query, json!({ "c": codes::YUZHONG })).await["noticeBoard"].clone();
    assert_eq!(
        row(&county, codes::XIAGUANYING),
        json!({ "open": 1, "decisionsOverdue": 1 })
    );
    // A village sees its own topics and those of the township above it.
    let village =
        app.ok(None, query, json!({ "c": codes::TAIPINGBAO })).await["noticeBoard"].clone();
    assert_eq!(village["tally"]["announced"], 1);
    assert_eq!(
        village["tally"]["open"], 0,
        "过店子村's topic is not 太平堡村's"
    );
    assert_eq!(village["tally"]["decisionsOverdue"], 1);
    assert!(village["rows"].as_array().unwrap().is_empty());
    assert_eq!(
        error_field(&app.gql(None, query, json!({ "c": "62x" })).await),
        Some("divisionCode")
    );
}

db_tests!(
    an_early_close_needs_another_persons_countersignature_and_is_on_the_record,
    a_deadline_moves_only_by_a_public_extension_and_on_time_keeps_the_original,
    a_closed_topic_waits_for_its_outcome_only_so_long_in_public,
    an_outcome_below_quorum_stands_only_with_a_public_justification,
    withdrawing_an_open_topic_tells_everyone_and_keeps_its_results_readable,
    dissenters_recorded_by_proxy_are_explained_face_to_face_before_completion,
    an_edited_record_no_longer_verifies,
    the_notice_board_shows_every_division_what_is_open_due_and_overdue,
);
