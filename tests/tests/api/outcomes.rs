use chrono::{Duration, Utc};
use serde_json::{json, Value};
use yishi::domain::authz::Role;
use yishi_tests::{
    codes, db_tests, error_code, error_field, fast_resident, spawn_app, topic_input, Account,
    Backend, TestApp,
};

const SUBMIT: &str = "mutation($t: ID!, $s: Stance, $o: ID, $r: String) { submitOpinion(topicId: $t, stance: $s, optionId: $o, reason: $r) { id } }";
const PUBLISH: &str = "mutation($t: ID!, $i: OutcomeInput!) { publishOutcome(topicId: $t, input: $i) { version deadline adoptedStance adoptedOptionId } }";
const EXPLAIN: &str = "mutation($t: ID!, $a: ExplanationAudienceInput!, $b: String!) { publishExplanation(topicId: $t, audience: $a, body: $b) { id recipients audience } }";
const SIZE: &str = "query($t: ID!, $a: ExplanationAudienceInput!) { explanationAudienceSize(topicId: $t, audience: $a) }";
const READ: &str = "query($id: ID!) { explanation(id: $id) { id body readAt myReply } }";
const REPLY: &str = "mutation($id: ID!, $r: ExplanationReply!, $c: String) { replyToExplanation(id: $id, reply: $r, comment: $c) { myReply readAt } }";
const COVERAGE: &str = "query($t: ID!) { explanationCoverage(topicId: $t) { overall { dissenters explained read satisfied unsatisfied notYetExplained } rows { divisionCode dissenters explained } } }";

struct Voter {
    token: String,
    opinion: String,
}

/// A closed topic of `kind` in 夏官营镇 with the given votes (village,
/// stance or option index); returns the topic, its organiser, option ids
/// and the voters in order.
async fn closed_topic(
    app: &TestApp,
    kind: &str,
    votes: &[(&str, &str)],
) -> (String, Account, Vec<String>, Vec<Voter>) {
    let organiser = app.with_role(Role::Organiser, codes::XIAGUANYING).await;
    let now = Utc::now();
    let mut input = json!({
        "title": "土地流转方案", "body": "村集体土地流转给合作社经营。", "category": "LAND_TRANSFER", "kind": kind,
        "scopeCode": codes::XIAGUANYING,
        "opensAt": (now + Duration::hours(73)).to_rfc3339(), "closesAt": (now + Duration::hours(120)).to_rfc3339(),
    });
    if kind == "CHOICE" {
        input["options"] = json!(["流转给合作社", "村集体自营", "维持现状"]);
    }
    let created = app
        .ok(
            Some(&organiser.access_token),
            "mutation($i: TopicInput!) { createTopic(input: $i) { id options { id } } }",
            json!({ "i": input }),
        )
        .await;
    let id = created["createTopic"]["id"].as_str().unwrap().to_owned();
    let options: Vec<String> = created["createTopic"]["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    app.ok(
        Some(&organiser.access_token),
        "mutation($id: ID!) { announceTopic(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await;
    app.step_on_time(&organiser.access_token, "openTopic", &id)
        .await;
    let mut voters = Vec::new();
    for (village, choice) in votes {
        let (_, token) = fast_resident(app, village).await;
        let vars = match choice.parse::<usize>() {
            Ok(i) => json!({ "t": id, "o": options[i], "r": "理由" }),
            Err(_) => json!({ "t": id, "s": choice, "r": "耕地补偿太低" }),
        };
        let data = app.ok(Some(&token), SUBMIT, vars).await;
        voters.push(Voter {
            token,
            opinion: data["submitOpinion"]["id"].as_str().unwrap().to_owned(),
        });
    }
    app.step_on_time(&organiser.access_token, "closeTopic", &id)
        .await;
    (id, organiser, options, voters)
}

fn outcome(stance: Option<&str>, option: Option<&str>, days: i64) -> Value {
    json!({
        "decision": "同意流转，合作社按年支付流转费。", "adoptedStance": stance, "adoptedOptionId": option,
        "responsibleBody": "夏官营镇人民政府", "deadline": (Utc::now() + Duration::days(days)).to_rfc3339(),
        "entrustedBy": "榆中县农业农村局",
    })
}

async fn a_closed_topic_is_decided_implemented_and_completed_with_participants_told(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (id, organiser, _, _) = closed_topic(
        &app,
        "DECISION",
        &[
            (codes::GUODIANZI, "SUPPORT"),
            (codes::GUODIANZI, "OPPOSE"),
            (codes::TAIPINGBAO, "ABSTAIN"),
        ],
    )
    .await;
    let no_position = app
        .gql(
            Some(&organiser.access_token),
            PUBLISH,
            json!({ "t": id, "i": outcome(None, None, 90) }),
        )
        .await;
    assert_eq!(error_field(&no_position), Some("adopted"));
    let past = app
        .gql(
            Some(&organiser.access_token),
            PUBLISH,
            json!({ "t": id, "i": outcome(Some("SUPPORT"), None, -1) }),
        )
        .await;
    assert_eq!(error_field(&past), Some("deadline"));
    let published = app
        .ok(
            Some(&organiser.access_token),
            PUBLISH,
            json!({ "t": id, "i": outcome(Some("SUPPORT"), None, 90) }),
        )
        .await;
    assert_eq!(published["publishOutcome"]["version"], 1);
    let again = app
        .gql(
            Some(&organiser.access_token),
            PUBLISH,
            json!({ "t": id, "i": outcome(Some("SUPPORT"), None, 90) }),
        )
        .await;
    assert_eq!(error_code(&again), Some("CONFLICT"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'outcome_published'")
            .await,
        3
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM notifications WHERE kind = 'outcome_published'")
            .await,
        3
    );

    // Completing needs implementation first.
    let early = app
        .gql(
            Some(&organiser.access_token),
            "mutation($t: ID!) { completeTopic(topicId: $t) { state } }",
            json!({ "t": id }),
        )
        .await;
    assert_eq!(error_code(&early), Some("CONFLICT"));
    app.ok(
        Some(&organiser.access_token),
        "mutation($t: ID!) { startImplementation(topicId: $t) { state } }",
        json!({ "t": id }),
    )
    .await;
    let progress = "mutation($t: ID!, $b: String!, $p: Int!) { publishProgress(topicId: $t, body: $b, percent: $p) { percent } }";
    assert_eq!(
        error_field(
            &app.gql(
                Some(&organiser.access_token),
                progress,
                json!({ "t": id, "b": "x", "p": 120 })
            )
            .await
        ),
        Some("percent")
    );
    app.ok(
        Some(&organiser.access_token),
        progress,
        json!({ "t": id, "b": "合同已签订", "p": 40 }),
    )
    .await;
    app.ok(
        Some(&organiser.access_token),
        progress,
        json!({ "t": id, "b": "首年流转费已支付", "p": 100 }),
    )
    .await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'progress_update'")
            .await,
        6,
        "two updates × three participants"
    );
    // The one who opposed has not been answered yet.
    let complete =
        "mutation($t: ID!) { completeTopic(topicId: $t) { state completedOnTime overdue } }";
    let unanswered = app
        .gql(Some(&organiser.access_token), complete, json!({ "t": id }))
        .await;
    assert_eq!(error_code(&unanswered), Some("DISSENTERS_NOT_EXPLAINED"));
    assert!(unanswered["errors"][0]["message"]
        .as_str()
        .unwrap()
        .starts_with("1 residents"));
    app.ok(
        Some(&organiser.access_token),
        EXPLAIN,
        json!({ "t": id, "a": { "kind": "ALL_DISSENTERS" }, "b": "流转费标准经合作社与村民代表议定。" }),
    )
    .await;
    let done = app
        .ok(Some(&organiser.access_token), complete, json!({ "t": id }))
        .await;
    assert_eq!(done["completeTopic"]["state"], "COMPLETED");
    assert_eq!(done["completeTopic"]["completedOnTime"], true);
    // Completion is told to each participant once, in the app and by email.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM notifications WHERE kind = 'topic_completed'")
            .await,
        3
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'topic_completed'")
            .await,
        3
    );
    let public = app
        .ok(None, "query($id: ID!) { topic(id: $id) { outcome { responsibleBody entrustedBy } progressUpdates { percent body } } }", json!({ "id": id }))
        .await;
    assert_eq!(
        public["topic"]["outcome"]["entrustedBy"],
        "榆中县农业农村局"
    );
    assert_eq!(public["topic"]["progressUpdates"][1]["percent"], 100);
}

async fn dissenters_depend_on_the_kind_and_the_adopted_position(backend: Backend) {
    let app = spawn_app(backend).await;
    let (decision, org, _, _) = closed_topic(
        &app,
        "DECISION",
        &[
            (codes::GUODIANZI, "SUPPORT"),
            (codes::GUODIANZI, "OPPOSE"),
            (codes::TAIPINGBAO, "OPPOSE"),
            (codes::TAIPINGBAO, "ABSTAIN"),
        ],
    )
    .await;
    app.ok(
        Some(&org.access_token),
        PUBLISH,
        json!({ "t": decision, "i": outcome(Some("SUPPORT"), None, 30) }),
    )
    .await;
    let all = json!({ "kind": "ALL_DISSENTERS" });
    assert_eq!(
        app.ok(
            Some(&org.access_token),
            SIZE,
            json!({ "t": decision, "a": all })
        )
        .await["explanationAudienceSize"],
        2
    );
    let one_village = json!({ "kind": "DIVISION", "divisionCode": codes::TAIPINGBAO });
    assert_eq!(
        app.ok(
            Some(&org.access_token),
            SIZE,
            json!({ "t": decision, "a": one_village })
        )
        .await["explanationAudienceSize"],
        1
    );

    let (rejected, org2, _, _) = closed_topic(
        &app,
        "DECISION",
        &[
            (codes::GUODIANZI, "SUPPORT"),
            (codes::GUODIANZI, "SUPPORT"),
            (codes::TAIPINGBAO, "OPPOSE"),
        ],
    )
    .await;
    app.ok(
        Some(&org2.access_token),
        PUBLISH,
        json!({ "t": rejected, "i": outcome(Some("OPPOSE"), None, 30) }),
    )
    .await;
    assert_eq!(
        app.ok(
            Some(&org2.access_token),
            SIZE,
            json!({ "t": rejected, "a": all })
        )
        .await["explanationAudienceSize"],
        2,
        "supporters dissent from a rejection"
    );

    let (appraisal, org3, _, _) = closed_topic(
        &app,
        "APPRAISAL",
        &[
            (codes::GUODIANZI, "SATISFIED"),
            (codes::GUODIANZI, "UNSATISFIED"),
            (codes::TAIPINGBAO, "BASICALLY_SATISFIED"),
        ],
    )
    .await;
    app.ok(
        Some(&org3.access_token),
        PUBLISH,
        json!({ "t": appraisal, "i": outcome(Some("SATISFIED"), None, 30) }),
    )
    .await;
    assert_eq!(
        app.ok(
            Some(&org3.access_token),
            SIZE,
            json!({ "t": appraisal, "a": all })
        )
        .await["explanationAudienceSize"],
        1
    );

    let (choice, org4, options, _) = closed_topic(
        &app,
        "CHOICE",
        &[
            (codes::GUODIANZI, "0"),
            (codes::GUODIANZI, "1"),
            (codes::TAIPINGBAO, "2"),
            (codes::TAIPINGBAO, "0"),
        ],
    )
    .await;
    app.ok(
        Some(&org4.access_token),
        PUBLISH,
        json!({ "t": choice, "i": outcome(None, Some(&options[0]), 30) }),
    )
    .await;
    assert_eq!(
        app.ok(
            Some(&org4.access_token),
            SIZE,
            json!({ "t": choice, "a": all })
        )
        .await["explanationAudienceSize"],
        2
    );
}

async fn explanations_reach_their_recipients_who_read_and_reply(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, org, _, voters) = closed_topic(
        &app,
        "DECISION",
        &[
            (codes::GUODIANZI, "OPPOSE"),
            (codes::GUODIANZI, "OPPOSE"),
            (codes::TAIPINGBAO, "OPPOSE"),
            (codes::TAIPINGBAO, "SUPPORT"),
        ],
    )
    .await;
    let before = app
        .gql(
            Some(&org.access_token),
            EXPLAIN,
            json!({ "t": id, "a": { "kind": "ALL_DISSENTERS" }, "b": "说明" }),
        )
        .await;
    assert_eq!(
        error_code(&before),
        Some("CONFLICT"),
        "explanations follow the outcome"
    );
    app.ok(
        Some(&org.access_token),
        PUBLISH,
        json!({ "t": id, "i": outcome(Some("SUPPORT"), None, 30) }),
    )
    .await;

    // An individual reply to the first dissenter.
    let individual = app
        .ok(Some(&org.access_token), EXPLAIN, json!({ "t": id, "a": { "kind": "OPINIONS", "opinionIds": [voters[0].opinion] }, "b": "王大爷：补偿标准按县里文件执行，附计算方法。" }))
        .await;
    let individual_id = individual["publishExplanation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(individual["publishExplanation"]["recipients"], 1);
    // Nobody else can read it, nor learn it exists.
    assert_eq!(
        error_code(
            &app.gql(Some(&voters[1].token), READ, json!({ "id": individual_id }))
                .await
        ),
        Some("NOT_FOUND")
    );
    assert_eq!(
        error_code(&app.gql(None, READ, json!({ "id": individual_id })).await),
        Some("NOT_FOUND")
    );
    let read = app
        .ok(Some(&voters[0].token), READ, json!({ "id": individual_id }))
        .await;
    assert!(read["explanation"]["readAt"].is_string());

    // One to every dissenter: public, and receipts per recipient.
    let all = app
        .ok(
            Some(&org.access_token),
            EXPLAIN,
            json!({ "t": id, "a": { "kind": "ALL_DISSENTERS" }, "b": "关于补偿标准的统一说明。" }),
        )
        .await;
    let all_id = all["publishExplanation"]["id"].as_str().unwrap().to_owned();
    assert_eq!(all["publishExplanation"]["recipients"], 3);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'explanation_published'")
            .await,
        4
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM notifications WHERE kind = 'explanation_published'")
            .await,
        4
    );
    let public = app.ok(None, READ, json!({ "id": all_id })).await;
    assert_eq!(
        public["explanation"]["readAt"],
        Value::Null,
        "an anonymous read is no receipt"
    );
    let mine = app
        .ok(
            Some(&voters[2].token),
            "{ myExplanations { id } }",
            json!({}),
        )
        .await;
    assert_eq!(mine["myExplanations"].as_array().unwrap().len(), 1);

    app.ok(
        Some(&voters[0].token),
        REPLY,
        json!({ "id": all_id, "r": "SATISFIED" }),
    )
    .await;
    app.ok(
        Some(&voters[1].token),
        REPLY,
        json!({ "id": all_id, "r": "UNSATISFIED", "c": "还是太低" }),
    )
    .await;
    let outsider = app
        .gql(
            Some(&voters[3].token),
            REPLY,
            json!({ "id": all_id, "r": "SATISFIED" }),
        )
        .await;
    assert_eq!(error_code(&outsider), Some("NOT_FOUND"));
    // The organiser reads the answers, with no name, and can follow one up.
    let replies = "query($id: ID!) { explanationReplies(explanationId: $id) { satisfied comment villageCode opinionId } }";
    let read = app
        .ok(Some(&org.access_token), replies, json!({ "id": all_id }))
        .await;
    let answers = read["explanationReplies"].as_array().unwrap();
    assert_eq!(answers.len(), 2);
    let unhappy = answers
        .iter()
        .find(|a| a["satisfied"] == false)
        .expect("the unsatisfied answer");
    assert_eq!(unhappy["comment"], "还是太低");
    assert_eq!(unhappy["opinionId"], voters[1].opinion.as_str());
    assert!(!read.to_string().contains("居民"), "no names: {read}");
    assert_eq!(
        error_code(
            &app.gql(Some(&voters[0].token), replies, json!({ "id": all_id }))
                .await
        ),
        Some("FORBIDDEN")
    );

    let coverage = app
        .ok(Some(&org.access_token), COVERAGE, json!({ "t": id }))
        .await;
    assert_eq!(
        coverage["explanationCoverage"]["overall"],
        json!({ "dissenters": 3, "explained": 3, "read": 2, "satisfied": 1, "unsatisfied": 1, "notYetExplained": 0 })
    );
    // Follow up those still unsatisfied.
    let follow_up = app
        .ok(
            Some(&org.access_token),
            EXPLAIN,
            json!({ "t": id, "a": { "kind": "UNSATISFIED" }, "b": "补充说明：可申请复核。" }),
        )
        .await;
    assert_eq!(follow_up["publishExplanation"]["recipients"], 1);
    let resident_view = app
        .gql(Some(&voters[0].token), COVERAGE, json!({ "t": id }))
        .await;
    assert_eq!(error_code(&resident_view), Some("FORBIDDEN"));
}

async fn an_outcome_past_its_deadline_is_overdue(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, org, _, _) = closed_topic(&app, "DECISION", &[(codes::GUODIANZI, "SUPPORT")]).await;
    app.ok(
        Some(&org.access_token),
        PUBLISH,
        json!({ "t": id, "i": outcome(Some("SUPPORT"), None, 10) }),
    )
    .await;
    let query = "query($id: ID!) { topic(id: $id) { overdue } }";
    assert_eq!(
        app.ok(None, query, json!({ "id": id })).await["topic"]["overdue"],
        false
    );
    let list = "{ topics(overdue: true) { edges { node { id } } } }";
    assert!(app.ok(None, list, json!({})).await["topics"]["edges"]
        .as_array()
        .unwrap()
        .is_empty());
    app.clock.advance(Duration::days(11));
    assert_eq!(
        app.ok(None, query, json!({ "id": id })).await["topic"]["overdue"],
        true
    );
    assert_eq!(
        app.ok(None, list, json!({})).await["topics"]["edges"][0]["node"]["id"],
        id.as_str()
    );
    app.ok(
        Some(&org.access_token),
        "mutation($t: ID!) { startImplementation(topicId: $t) { id } }",
        json!({ "t": id }),
    )
    .await;
    let late = app
        .ok(
            Some(&org.access_token),
            "mutation($t: ID!) { completeTopic(topicId: $t) { overdue completedOnTime } }",
            json!({ "t": id }),
        )
        .await;
    assert_eq!(
        late["completeTopic"],
        json!({ "overdue": false, "completedOnTime": false })
    );
}

async fn a_supervisor_flags_and_the_correction_keeps_every_version(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, org, _, _) = closed_topic(
        &app,
        "DECISION",
        &[(codes::GUODIANZI, "SUPPORT"), (codes::TAIPINGBAO, "OPPOSE")],
    )
    .await;
    app.ok(
        Some(&org.access_token),
        PUBLISH,
        json!({ "t": id, "i": outcome(Some("SUPPORT"), None, 60) }),
    )
    .await;
    let supervisor = app.with_role(Role::Supervisor, codes::YUZHONG).await;
    let other_supervisor = app
        .with_role(Role::Supervisor, codes::CHENGGUAN_DISTRICT)
        .await;
    let flag = "mutation($t: ID!, $r: String!, $l: String!) { flagOutcome(topicId: $t, reason: $r, legalBasis: $l) { id status outcomeVersion } }";
    let vars =
        json!({ "t": id, "r": "流转期限超过承包剩余期限", "l": "《农村土地承包法》第三十八条" });
    for who in [&other_supervisor, &org] {
        assert_eq!(
            error_code(&app.gql(Some(&who.access_token), flag, vars.clone()).await),
            Some("FORBIDDEN")
        );
    }
    let flagged = app
        .ok(Some(&supervisor.access_token), flag, vars.clone())
        .await;
    assert_eq!(flagged["flagOutcome"]["outcomeVersion"], 1);
    assert_eq!(
        error_code(&app.gql(Some(&supervisor.access_token), flag, vars).await),
        Some("CONFLICT")
    );
    app.ok(
        Some(&org.access_token),
        "mutation($t: ID!) { startImplementation(topicId: $t) { id } }",
        json!({ "t": id }),
    )
    .await;
    let complete = "mutation($t: ID!) { completeTopic(topicId: $t) { id } }";
    let blocked = app
        .gql(Some(&org.access_token), complete, json!({ "t": id }))
        .await;
    assert_eq!(
        error_code(&blocked),
        Some("OPEN_SUPERVISION_FLAG"),
        "{blocked}"
    );

    let correct = "mutation($t: ID!, $i: OutcomeInput!, $c: String!) { correctOutcome(topicId: $t, input: $i, changeReason: $c) { version changeReason flagId deadline } }";
    let deadline = app
        .ok(
            None,
            "query($id: ID!) { topic(id: $id) { deadline } }",
            json!({ "id": id }),
        )
        .await["topic"]["deadline"]
        .clone();
    let mut fixed = outcome(Some("SUPPORT"), None, 60);
    fixed["decision"] = json!("同意流转，期限不超过承包剩余期限。");
    fixed["deadline"] = deadline.clone();
    assert_eq!(
        error_field(
            &app.gql(
                Some(&org.access_token),
                correct,
                json!({ "t": id, "i": fixed, "c": "" })
            )
            .await
        ),
        Some("changeReason")
    );
    // The deadline is not the correction's to move.
    let mut later = fixed.clone();
    later["deadline"] = json!((Utc::now() + Duration::days(400)).to_rfc3339());
    assert_eq!(
        error_field(
            &app.gql(
                Some(&org.access_token),
                correct,
                json!({ "t": id, "i": later, "c": "顺便延期" })
            )
            .await
        ),
        Some("deadline")
    );
    let corrected = app
        .ok(
            Some(&org.access_token),
            correct,
            json!({ "t": id, "i": fixed, "c": "按监督意见缩短期限" }),
        )
        .await;
    assert_eq!(corrected["correctOutcome"]["version"], 2);
    assert_eq!(corrected["correctOutcome"]["deadline"], deadline);
    assert_eq!(
        corrected["correctOutcome"]["flagId"],
        flagged["flagOutcome"]["id"]
    );
    // A second correction has no flag to answer.
    let unasked = app
        .gql(
            Some(&org.access_token),
            correct,
            json!({ "t": id, "i": fixed, "c": "再改一次" }),
        )
        .await;
    assert_eq!(error_code(&unasked), Some("CORRECTION_NEEDS_FLAG"));
    let versions = app
        .ok(None, "query($id: ID!) { topic(id: $id) { outcome { version decision } outcomeVersions { version decision changeReason } supervisionFlags { status resolvedByVersion } } }", json!({ "id": id }))
        .await;
    let topic = &versions["topic"];
    assert_eq!(topic["outcome"]["version"], 2);
    assert_eq!(
        topic["outcomeVersions"][0]["decision"],
        "同意流转，合作社按年支付流转费。"
    );
    assert_eq!(
        topic["outcomeVersions"][1]["changeReason"],
        "按监督意见缩短期限"
    );
    // A correction does not end the flag: the supervisor does.
    assert_eq!(
        topic["supervisionFlags"][0],
        json!({ "status": "CORRECTED", "resolvedByVersion": 2 })
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'outcome_corrected'")
            .await,
        2
    );
    let still = app
        .gql(Some(&org.access_token), complete, json!({ "t": id }))
        .await;
    assert_eq!(error_code(&still), Some("OPEN_SUPERVISION_FLAG"));
    let resolve = "mutation($f: ID!, $a: Boolean!, $n: String!) { resolveFlag(flagId: $f, accept: $a, note: $n) { status resolution } }";
    let flag_id = flagged["flagOutcome"]["id"].clone();
    for who in [&org, &other_supervisor] {
        assert_eq!(
            error_code(
                &app.gql(
                    Some(&who.access_token),
                    resolve,
                    json!({ "f": flag_id, "a": true, "n": "已纠正" })
                )
                .await
            ),
            Some("FORBIDDEN")
        );
    }
    let accepted = app
        .ok(
            Some(&supervisor.access_token),
            resolve,
            json!({ "f": flag_id, "a": true, "n": "纠正后的期限符合法律规定" }),
        )
        .await;
    assert_eq!(
        accepted["resolveFlag"],
        json!({ "status": "ACCEPTED", "resolution": "纠正后的期限符合法律规定" })
    );
    // The dissenter (太平堡 opposed) is answered before completion.
    let unexplained = app
        .gql(Some(&org.access_token), complete, json!({ "t": id }))
        .await;
    assert_eq!(error_code(&unexplained), Some("DISSENTERS_NOT_EXPLAINED"));
    app.ok(
        Some(&org.access_token),
        EXPLAIN,
        json!({ "t": id, "a": { "kind": "ALL_DISSENTERS" }, "b": "期限已按法律缩短。" }),
    )
    .await;
    app.ok(Some(&org.access_token), complete, json!({ "t": id }))
        .await;
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE action IN ('outcome.flag', 'outcome.correct', 'outcome.flag_accept')"
        )
        .await,
        3
    );
    let record = app
        .ok(
            None,
            "query($id: ID!) { topic(id: $id) { record { action actorRole reason } } verifyTopicRecord(topicId: $id) { intact entries } }",
            json!({ "id": id }),
        )
        .await;
    let actions: Vec<&str> = record["topic"]["record"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "announced",
            "opened",
            "closed",
            "outcome_published",
            "flagged",
            "implementation_started",
            "outcome_corrected",
            "flag_accepted",
            "explained",
            "completed"
        ]
    );
    assert_eq!(record["topic"]["record"][4]["actorRole"], "supervisor");
    assert_eq!(
        record["topic"]["record"][4]["reason"],
        "流转期限超过承包剩余期限"
    );
    assert_eq!(record["verifyTopicRecord"]["intact"], true);
    assert_eq!(record["verifyTopicRecord"]["entries"], 10);
}

async fn notifications_arrive_once_per_recipient_and_can_be_marked_read(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, org, _, voters) =
        closed_topic(&app, "DECISION", &[(codes::GUODIANZI, "OPPOSE")]).await;
    app.ok(
        Some(&org.access_token),
        PUBLISH,
        json!({ "t": id, "i": outcome(Some("SUPPORT"), None, 30) }),
    )
    .await;
    // Queueing the same event again changes nothing (idempotency keys).
    let svc = &app.services;
    let txn = svc.db.begin().await.unwrap();
    let again = yishi::domain::notifications::notify(
        &txn,
        &yishi::domain::notifications::Audience::Participants {
            topic_id: id.parse().unwrap(),
        },
        yishi::domain::outbox::EmailKind::OutcomePublished,
        Some(id.parse().unwrap()),
        &format!("outcome:{id}:v1"),
        &json!({}),
        svc.now(),
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    assert_eq!(again, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'outcome_published'")
            .await,
        1
    );
    let list = app
        .ok(
            Some(&voters[0].token),
            "{ notifications(unreadOnly: true) { id kind } }",
            json!({}),
        )
        .await;
    assert_eq!(list["notifications"][0]["kind"], "outcome_published");
    let marked = app
        .ok(
            Some(&voters[0].token),
            "mutation { markNotificationsRead }",
            json!({}),
        )
        .await;
    assert_eq!(marked["markNotificationsRead"], 1);
    let unread = app
        .ok(
            Some(&voters[0].token),
            "{ notifications(unreadOnly: true) { id } }",
            json!({}),
        )
        .await;
    assert!(unread["notifications"].as_array().unwrap().is_empty());
}

async fn the_report_and_the_dashboard_sum_up_the_topic(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, org, _, voters) = closed_topic(
        &app,
        "DECISION",
        &[
            (codes::GUODIANZI, "SUPPORT"),
            (codes::GUODIANZI, "SUPPORT"),
            (codes::TAIPINGBAO, "OPPOSE"),
            (codes::TAIPINGBAO, "OPPOSE"),
        ],
    )
    .await;
    app.ok(
        Some(&org.access_token),
        PUBLISH,
        json!({ "t": id, "i": outcome(Some("SUPPORT"), None, 30) }),
    )
    .await;
    let explained = app
        .ok(
            Some(&org.access_token),
            EXPLAIN,
            json!({ "t": id, "a": { "kind": "ALL_DISSENTERS" }, "b": "说明" }),
        )
        .await;
    app.ok(
        Some(&voters[2].token),
        REPLY,
        json!({ "id": explained["publishExplanation"]["id"], "r": "SATISFIED" }),
    )
    .await;

    let html = app
        .client
        .get(format!("{}/api/topics/{id}/report.html", app.url))
        .bearer_auth(&org.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(html.status(), 200);
    let html = html.text().await.unwrap();
    for expected in [
        "协商情况报告",
        "土地流转方案",
        "过店子村委会",
        "太平堡村委会",
        "夏官营镇人民政府",
        "榆中县农业农村局",
        "持不同意见人数",
        // In words and China time, with what was explained and answered.
        "已形成协商意见",
        "<th>赞成</th>",
        "<th>反对</th>",
        "（北京时间）",
        "解释说明内容与居民答复",
        "组织单位（盖章）",
    ] {
        assert!(html.contains(expected), "missing {expected}:\n{html}");
    }
    for code in ["decided", "support", "oppose", "+00:00"] {
        assert!(
            !html.contains(&format!(">{code}<")) && !html.contains(code),
            "{code} shown as a code"
        );
    }
    let english = app
        .client
        .get(format!("{}/api/topics/{id}/report.html?locale=en", app.url))
        .bearer_auth(&org.access_token)
        .send()
        .await
        .unwrap();
    assert!(english
        .text()
        .await
        .unwrap()
        .contains("Consultation report"));
    let csv = app
        .client
        .get(format!("{}/api/topics/{id}/report.csv", app.url))
        .bearer_auth(&org.access_token)
        .send()
        .await
        .unwrap();
    let csv = csv.bytes().await.unwrap();
    // A BOM, so Excel and WPS on Chinese Windows read it as UTF-8.
    assert!(csv.starts_with(&[0xEF, 0xBB, 0xBF]));
    let csv = String::from_utf8(csv.to_vec()).unwrap();
    assert!(
        csv.contains(&format!("{},过店子村委会,2,", codes::GUODIANZI)),
        "{csv}"
    );
    assert!(
        csv.contains("区划代码,区划,参与人数,应参与人数,参与率,赞成,反对"),
        "{csv}"
    );
    assert!(
        csv.contains("已形成协商意见") && csv.contains("（北京时间）"),
        "{csv}"
    );
    let denied = app
        .client
        .get(format!("{}/api/topics/{id}/report.html", app.url))
        .bearer_auth(&voters[0].token)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);

    let dashboard = "query($d: String!) { dashboard(divisionCode: $d) { division { responses eligible participation dissenters explained satisfied satisfaction topicsByState { state count } } children { divisionCode responses dissenters } } }";
    let county_organiser = app.with_role(Role::Organiser, codes::YUZHONG).await;
    let data = app
        .ok(
            Some(&county_organiser.access_token),
            dashboard,
            json!({ "d": codes::YUZHONG }),
        )
        .await;
    let division = &data["dashboard"]["division"];
    assert_eq!(division["responses"], 4);
    assert_eq!(division["eligible"], 4);
    assert_eq!(division["dissenters"], 2);
    assert_eq!(division["explained"], 2);
    assert_eq!(division["satisfaction"], 1.0);
    assert_eq!(
        division["topicsByState"],
        json!([{ "state": "DECIDED", "count": 1 }])
    );
    let towns = data["dashboard"]["children"].as_array().unwrap();
    let xiaguanying = towns
        .iter()
        .find(|t| t["divisionCode"] == codes::XIAGUANYING)
        .unwrap();
    assert_eq!(
        (
            xiaguanying["responses"].as_i64(),
            xiaguanying["dissenters"].as_i64()
        ),
        (Some(4), Some(2))
    );
    let village_view = app
        .ok(
            Some(&org.access_token),
            dashboard,
            json!({ "d": codes::XIAGUANYING }),
        )
        .await;
    let taipingbao = village_view["dashboard"]["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["divisionCode"] == codes::TAIPINGBAO)
        .cloned()
        .unwrap();
    assert_eq!(taipingbao["dissenters"], 2);
    assert_eq!(
        error_code(
            &app.gql(
                Some(&voters[0].token),
                dashboard,
                json!({ "d": codes::YUZHONG })
            )
            .await
        ),
        Some("FORBIDDEN")
    );
}

db_tests!(
    the_report_and_the_dashboard_sum_up_the_topic,
    a_closed_topic_is_decided_implemented_and_completed_with_participants_told,
    dissenters_depend_on_the_kind_and_the_adopted_position,
    explanations_reach_their_recipients_who_read_and_reply,
    an_outcome_past_its_deadline_is_overdue,
    a_supervisor_flags_and_the_correction_keeps_every_version,
    notifications_arrive_once_per_recipient_and_can_be_marked_read,
    notifications_marked_read_all_at_once_are_read_by_the_next_list,
    a_residents_writes_are_read_back_by_the_next_query_of_the_page,
    only_the_topics_staff_see_how_many_dissenters_an_explanation_reached,
);

/// The recipients of an explanation to dissenters are a count of one stance
/// in its audience: two dissenters in a scope of three responses (under k)
/// must not be learnt from it by the public or by a recipient.
async fn only_the_topics_staff_see_how_many_dissenters_an_explanation_reached(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, organiser, _, voters) = closed_topic(
        &app,
        "DECISION",
        &[
            (codes::GUODIANZI, "OPPOSE"),
            (codes::GUODIANZI, "OPPOSE"),
            (codes::TAIPINGBAO, "SUPPORT"),
        ],
    )
    .await;
    app.ok(
        Some(&organiser.access_token),
        PUBLISH,
        json!({ "t": id, "i": outcome(Some("SUPPORT"), None, 90) }),
    )
    .await;
    let published = app
        .ok(
            Some(&organiser.access_token),
            EXPLAIN,
            json!({ "t": id, "a": { "kind": "ALL_DISSENTERS" }, "b": "补偿标准按县里统一文件执行。" }),
        )
        .await;
    assert_eq!(published["publishExplanation"]["recipients"], 2);
    let explanation = published["publishExplanation"]["id"].as_str().unwrap();

    let by_id = "query($e: ID!) { explanation(id: $e) { recipients } }";
    let on_topic = "query($t: ID!) { topic(id: $t) { explanations { recipients } } }";
    let staff = app
        .ok(
            Some(&organiser.access_token),
            by_id,
            json!({ "e": explanation }),
        )
        .await;
    assert_eq!(staff["explanation"]["recipients"], 2);
    let staff = app
        .ok(Some(&organiser.access_token), on_topic, json!({ "t": id }))
        .await;
    assert_eq!(staff["topic"]["explanations"][0]["recipients"], 2);

    let dissenter = &voters[0].token;
    for (who, token) in [
        ("anonymous", None),
        ("a recipient", Some(dissenter.as_str())),
    ] {
        let read = app.ok(token, by_id, json!({ "e": explanation })).await;
        assert!(read["explanation"]["recipients"].is_null(), "{who}: {read}");
        let listed = app.ok(token, on_topic, json!({ "t": id })).await;
        assert!(
            listed["topic"]["explanations"][0]["recipients"].is_null(),
            "{who}: {listed}"
        );
    }
    let mine = app
        .ok(
            Some(dissenter),
            "{ myExplanations { recipients } }",
            json!({}),
        )
        .await;
    assert!(mine["myExplanations"][0]["recipients"].is_null(), "{mine}");
}

/// Issue 18: "mark all" answered 3 yet the unread list kept all 3. Three
/// notifications (an outcome, two explanations), other writes between rounds
/// (opinions through the group commit, another topic's lifecycle), then the
/// list the 消息 page reads must show every one read.
async fn notifications_marked_read_all_at_once_are_read_by_the_next_list(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, org, _, voters) =
        closed_topic(&app, "DECISION", &[(codes::GUODIANZI, "OPPOSE")]).await;
    app.ok(
        Some(&org.access_token),
        PUBLISH,
        json!({ "t": id, "i": outcome(Some("SUPPORT"), None, 30) }),
    )
    .await;
    for body in ["补偿标准按县里统一文件执行。", "流转费每年十月底前支付。"]
    {
        app.ok(
            Some(&org.access_token),
            EXPLAIN,
            json!({ "t": id, "a": { "kind": "ALL_DISSENTERS" }, "b": body }),
        )
        .await;
    }
    let token = &voters[0].token;
    for round in 0..3 {
        if round > 0 {
            closed_topic(
                &app,
                "DECISION",
                &[(codes::GUODIANZI, "SUPPORT"), (codes::TAIPINGBAO, "OPPOSE")],
            )
            .await;
            app.ok(
                Some(&org.access_token),
                EXPLAIN,
                json!({ "t": id, "a": { "kind": "ALL_DISSENTERS" }, "b": format!("第{round}次说明。") }),
            )
            .await;
        }
        // Later rounds: the next topic's announcement and opening (every
        // eligible resident hears of them in 消息) and the new explanation.
        let expected = 3;
        assert_eq!(unread(&app, token).await.len(), expected, "round {round}");
        // The page's "mark all" sends an empty list; null means all too.
        let ids = if round == 1 { json!(null) } else { json!([]) };
        let marked = app.ok(Some(token), MARK, json!({ "ids": ids })).await;
        assert_eq!(marked["markNotificationsRead"], expected, "round {round}");
        assert_eq!(
            unread(&app, token).await,
            Vec::<String>::new(),
            "round {round}"
        );
        assert_all_read(&app, token).await;
        assert_no_transaction_left_open(&app, backend).await;
    }
}

const MARK: &str = "mutation($ids: [ID!]) { markNotificationsRead(ids: $ids) }";

/// SQLite's single writer is back in autocommit: no transaction was left
/// open on it for later writes to land in unseen by the readers.
async fn assert_no_transaction_left_open(app: &TestApp, backend: Backend) {
    use sea_orm::ConnectionTrait;
    if matches!(backend, Backend::Sqlite) {
        app.services
            .db
            .writer()
            .execute_unprepared("BEGIN IMMEDIATE; ROLLBACK")
            .await
            .expect("the writer is not inside a transaction");
    }
}

/// The ids the tab bar's badge counts (`useUnread`).
async fn unread(app: &TestApp, token: &str) -> Vec<String> {
    let data = app
        .ok(
            Some(token),
            "{ notifications(unreadOnly: true, first: 99) { id readAt } }",
            json!({}),
        )
        .await;
    data["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            assert!(n["readAt"].is_null());
            n["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// Every notification on the 消息 page's list has its `readAt`.
async fn assert_all_read(app: &TestApp, token: &str) {
    let all = app
        .ok(
            Some(token),
            "{ notifications(first: 100) { id readAt } }",
            json!({}),
        )
        .await;
    let all = all["notifications"].as_array().unwrap();
    assert!(!all.is_empty());
    for n in all {
        assert!(!n["readAt"].is_null(), "{n}");
    }
}

/// Read-your-writes for the mutations the resident pages call: each one,
/// answered, is seen at once by the query that page runs next (SQLite
/// writes on its writer and reads on a separate reader pool).
async fn a_residents_writes_are_read_back_by_the_next_query_of_the_page(backend: Backend) {
    let app = spawn_app(backend).await;
    // The topic page: submit, revise, read back `myOpinion`.
    let (id, org) = app
        .open_topic(
            codes::XIAGUANYING,
            topic_input(codes::XIAGUANYING, "DECISION"),
        )
        .await;
    let (_, token) = fast_resident(&app, codes::GUODIANZI).await;
    let token = token.as_str();
    let mine = "query($t: ID!) { topic(id: $t) { myOpinion { stance reason } } }";
    for (stance, reason) in [
        ("SUPPORT", "方便出行"),
        ("OPPOSE", "占了耕地"),
        ("OPPOSE", "占了耕地，补偿太低"),
    ] {
        app.ok(
            Some(token),
            SUBMIT,
            json!({ "t": id, "s": stance, "r": reason }),
        )
        .await;
        let read = app.ok(Some(token), mine, json!({ "t": id })).await;
        assert_eq!(read["topic"]["myOpinion"]["stance"], stance);
        assert_eq!(read["topic"]["myOpinion"]["reason"], reason);
    }
    app.step_on_time(&org.access_token, "closeTopic", &id).await;
    app.ok(
        Some(&org.access_token),
        PUBLISH,
        json!({ "t": id, "i": outcome(Some("SUPPORT"), None, 30) }),
    )
    .await;
    let explained = app
        .ok(
            Some(&org.access_token),
            EXPLAIN,
            json!({ "t": id, "a": { "kind": "ALL_DISSENTERS" }, "b": "占地按县里统一标准补偿。" }),
        )
        .await;
    let explanation = explained["publishExplanation"]["id"].as_str().unwrap();

    // The explanation page: reply, read back.
    app.ok(
        Some(token),
        REPLY,
        json!({ "id": explanation, "r": "UNSATISFIED", "c": "还是太低" }),
    )
    .await;
    let read = app
        .ok(Some(token), READ, json!({ "id": explanation }))
        .await;
    assert_eq!(read["explanation"]["myReply"], "UNSATISFIED");
    assert!(!read["explanation"]["readAt"].is_null());

    // The 消息 page: one, then all.
    let ids = unread(&app, token).await;
    assert_eq!(ids.len(), 2);
    let marked = app.ok(Some(token), MARK, json!({ "ids": [ids[0]] })).await;
    assert_eq!(marked["markNotificationsRead"], 1);
    assert_eq!(unread(&app, token).await, ids[1..].to_vec());
    let marked = app.ok(Some(token), MARK, json!({ "ids": [] })).await;
    assert_eq!(marked["markNotificationsRead"], 1);
    assert_eq!(unread(&app, token).await, Vec::<String>::new());
    assert_all_read(&app, token).await;

    // The settings page.
    for enabled in [false, true] {
        app.ok(
            Some(token),
            "mutation($k: String!, $e: Boolean!) { setEmailPreference(kind: $k, enabled: $e) { enabled } }",
            json!({ "k": "topic_announced", "e": enabled }),
        )
        .await;
        let prefs = app
            .ok(
                Some(token),
                "{ myEmailPreferences { kind enabled } }",
                json!({}),
            )
            .await;
        let pref = prefs["myEmailPreferences"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["kind"] == "topic_announced")
            .unwrap()
            .clone();
        assert_eq!(pref["enabled"], enabled);
    }

    // The suggestions pages: suggest, support, withdraw, each read back.
    let author = app.resident(codes::GUODIANZI).await;
    let suggested = app
        .ok(
            Some(&author.access_token),
            "mutation($input: SuggestTopicInput!) { suggestTopic(input: $input) { id } }",
            json!({ "input": {
                "divisionCode": codes::XIAGUANYING, "title": "修建文化广场",
                "body": "村里没有活动场地，建议在村委会旁修建文化广场。", "category": "TRANSPORT_WATER",
            } }),
        )
        .await;
    let suggestion = suggested["suggestTopic"]["id"].as_str().unwrap().to_owned();
    let list = "query($mine: Boolean) { suggestions(mine: $mine, first: 50) { nodes { id supporters supportedByMe } } }";
    let mine = app
        .ok(Some(&author.access_token), list, json!({ "mine": true }))
        .await;
    assert_eq!(mine["suggestions"]["nodes"][0]["id"], suggestion.as_str());
    for (mutation, supported, supporters) in [
        ("supportSuggestion", true, 1),
        ("withdrawSuggestionSupport", false, 0),
    ] {
        app.ok(
            Some(token),
            &format!("mutation($id: ID!) {{ {mutation}(id: $id) {{ id }} }}"),
            json!({ "id": suggestion }),
        )
        .await;
        let listed = app.ok(Some(token), list, json!({})).await;
        let node = listed["suggestions"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["id"] == suggestion.as_str())
            .unwrap()
            .clone();
        assert_eq!(node["supportedByMe"], supported, "{mutation}");
        assert_eq!(node["supporters"], supporters, "{mutation}");
    }

    // The residency page: request, then cancel, each read back.
    let newcomer = app.register("新来的").await;
    let requests = "{ myResidencyRequests { id status } }";
    app.ok(
        Some(&newcomer.access_token),
        "mutation($v: String!) { requestResidency(villageCode: $v) { id } }",
        json!({ "v": codes::GUODIANZI }),
    )
    .await;
    let read = app
        .ok(Some(&newcomer.access_token), requests, json!({}))
        .await;
    assert_eq!(read["myResidencyRequests"][0]["status"], "PENDING");
    app.ok(
        Some(&newcomer.access_token),
        "mutation { cancelResidencyRequest }",
        json!({}),
    )
    .await;
    let read = app
        .ok(Some(&newcomer.access_token), requests, json!({}))
        .await;
    assert!(read["myResidencyRequests"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["status"] != "PENDING"));
    assert_no_transaction_left_open(&app, backend).await;
}
