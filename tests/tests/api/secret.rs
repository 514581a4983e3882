//! Secret topics (民主评议 without fear): nobody sees the tallies before
//! closing, staff never see who said what, explanations still reach the
//! dissenters, and the one way through is a supervisor's recorded reveal.

use serde_json::{json, Value};
use yishi::domain::authz::Role;
use yishi_tests::{codes, db_tests, error_code, error_field, spawn_app, topic_input, Backend};

const SUBMIT: &str = "mutation($t: ID!, $s: Stance, $r: String) { submitOpinion(topicId: $t, stance: $s, reason: $r) { id } }";
const RESULTS: &str =
    "query($t: ID!) { topicResults(topicId: $t, level: TOWNSHIP) { overall { total } } }";
const LIST: &str =
    "query($t: ID!) { opinions(topicId: $t) { nodes { id stance residentName reason } } }";

fn names(list: &Value) -> Vec<Value> {
    list["opinions"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["residentName"].clone())
        .collect()
}

async fn an_appraisal_is_sealed_until_it_closes_and_nameless_after(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, organiser) = app
        .open_topic(codes::XIAGUANYING, topic_input("", "APPRAISAL"))
        .await;
    let supervisor = app.with_role(Role::Supervisor, codes::YUZHONG).await;
    let happy = app.resident(codes::GUODIANZI).await;
    let unhappy = app.resident(codes::TAIPINGBAO).await;
    for (who, stance) in [(&happy, "SATISFIED"), (&unhappy, "UNSATISFIED")] {
        app.ok(
            Some(&who.access_token),
            SUBMIT,
            json!({ "t": id, "s": stance, "r": "镇干部办事拖拉" }),
        )
        .await;
    }
    let secret = app
        .ok(
            None,
            "query($t: ID!) { topic(id: $t) { secret } }",
            json!({ "t": id }),
        )
        .await;
    assert_eq!(
        secret["topic"]["secret"], true,
        "appraisals are always secret"
    );

    // While open nobody counts: not the public, the organiser or a supervisor.
    for token in [None, Some(&organiser), Some(&supervisor)] {
        let token = token.map(|a| a.access_token.as_str());
        assert_eq!(
            error_code(&app.gql(token, RESULTS, json!({ "t": id })).await),
            Some("TALLIES_SEALED")
        );
    }
    for staff in [&organiser, &supervisor] {
        assert_eq!(
            error_code(
                &app.gql(Some(&staff.access_token), LIST, json!({ "t": id }))
                    .await
            ),
            Some("TALLIES_SEALED")
        );
    }
    let export = app
        .client
        .get(format!("{}/api/topics/{id}/opinions.csv", app.url))
        .bearer_auth(&organiser.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(export.status().as_u16(), 409);
    // Nor may anyone break the seal early.
    let reveal =
        "mutation($t: ID!, $r: String!) { revealSecretTopic(topicId: $t, legalReason: $r) { id } }";
    assert_eq!(
        error_code(
            &app.gql(
                Some(&supervisor.access_token),
                reveal,
                json!({ "t": id, "r": "县纪委调查函〔2026〕12号" })
            )
            .await
        ),
        Some("TALLIES_SEALED")
    );

    app.step_on_time(&organiser.access_token, "closeTopic", &id)
        .await;
    let counted = app
        .ok(Some(&organiser.access_token), RESULTS, json!({ "t": id }))
        .await;
    assert_eq!(counted["topicResults"]["overall"]["total"], 2);
    // Closed: the opinions are listed, but with nobody's name.
    for staff in [&organiser, &supervisor] {
        let list = app
            .ok(Some(&staff.access_token), LIST, json!({ "t": id }))
            .await;
        assert_eq!(names(&list), [Value::Null, Value::Null]);
    }
    let csv = app
        .client
        .get(format!("{}/api/topics/{id}/opinions.csv", app.url))
        .bearer_auth(&organiser.access_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!csv.contains("居民"), "no names in the export:\n{csv}");

    // The system routes an explanation to the unsatisfied without the
    // organiser learning who they are.
    app.ok(
        Some(&organiser.access_token),
        "mutation($t: ID!, $i: OutcomeInput!) { publishOutcome(topicId: $t, input: $i) { version } }",
        json!({ "t": id, "i": {
            "decision": "镇政府限期整改办事效率。", "adoptedStance": "SATISFIED",
            "responsibleBody": "夏官营镇人民政府",
            "deadline": (app.services.now() + chrono::Duration::days(30)).to_rfc3339(),
        } }),
    )
    .await;
    app.ok(
        Some(&organiser.access_token),
        "mutation($t: ID!, $a: ExplanationAudienceInput!, $b: String!) { publishExplanation(topicId: $t, audience: $a, body: $b) { id } }",
        json!({ "t": id, "a": { "kind": "ALL_DISSENTERS" }, "b": "已安排专人整改。" }),
    )
    .await;
    for (who, expected) in [(&happy, 0), (&unhappy, 1)] {
        let mine = app
            .ok(
                Some(&who.access_token),
                "{ myExplanations { id body } }",
                json!({}),
            )
            .await;
        assert_eq!(mine["myExplanations"].as_array().unwrap().len(), expected);
        if expected == 1 {
            let explanation = mine["myExplanations"][0]["id"].clone();
            app.ok(
                Some(&who.access_token),
                "mutation($id: ID!) { replyToExplanation(id: $id, reply: UNSATISFIED, comment: \"还要再看\") { myReply } }",
                json!({ "id": explanation }),
            )
            .await;
            // The organiser reads the answer, but not whose, where or to which opinion.
            let replies = app
                .ok(
                    Some(&organiser.access_token),
                    "query($id: ID!) { explanationReplies(explanationId: $id) { comment villageCode opinionId } }",
                    json!({ "id": explanation }),
                )
                .await;
            assert_eq!(
                replies["explanationReplies"],
                json!([{ "comment": "还要再看", "villageCode": null, "opinionId": null }])
            );
        }
    }

    // Break-glass: only a supervisor, only with a legal reason, for
    // themselves only, on the public record.
    assert_eq!(
        error_code(
            &app.gql(
                Some(&organiser.access_token),
                reveal,
                json!({ "t": id, "r": "县纪委调查函〔2026〕12号" })
            )
            .await
        ),
        Some("FORBIDDEN")
    );
    assert_eq!(
        error_field(
            &app.gql(
                Some(&supervisor.access_token),
                reveal,
                json!({ "t": id, "r": "查" })
            )
            .await
        ),
        Some("legalReason")
    );
    app.ok(
        Some(&supervisor.access_token),
        reveal,
        json!({ "t": id, "r": "县纪委调查函〔2026〕12号" }),
    )
    .await;
    let revealed = app
        .ok(Some(&supervisor.access_token), LIST, json!({ "t": id }))
        .await;
    assert!(names(&revealed).iter().all(|n| n == "居民"), "{revealed}");
    let still = app
        .ok(Some(&organiser.access_token), LIST, json!({ "t": id }))
        .await;
    assert_eq!(names(&still), [Value::Null, Value::Null]);
    let record = app
        .ok(
            None,
            "query($t: ID!) { topic(id: $t) { record { action actorRole reason } } verifyTopicRecord(topicId: $t) { intact } }",
            json!({ "t": id }),
        )
        .await;
    let revealed_entry = record["topic"]["record"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "revealed")
        .cloned()
        .expect("the reveal is on the public record");
    assert_eq!(revealed_entry["actorRole"], "supervisor");
    assert_eq!(revealed_entry["reason"], "县纪委调查函〔2026〕12号");
    assert_eq!(record["verifyTopicRecord"]["intact"], true);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'topic.reveal'")
            .await,
        1
    );
}

async fn a_decision_marked_secret_is_sealed_and_an_ordinary_one_is_not(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut input = topic_input("", "DECISION");
    input["secret"] = json!(true);
    // Still open when the second topic opens, three days on.
    input["closesAt"] = json!((chrono::Utc::now() + chrono::Duration::days(60)).to_rfc3339());
    let (secret, organiser) = app.open_topic(codes::GUODIANZI, input).await;
    let (plain, _) = app
        .open_topic(codes::GUODIANZI, topic_input("", "DECISION"))
        .await;
    let resident = app.resident(codes::GUODIANZI).await;
    for id in [&secret, &plain] {
        app.ok(
            Some(&resident.access_token),
            SUBMIT,
            json!({ "t": id, "s": "SUPPORT" }),
        )
        .await;
    }
    assert_eq!(
        error_code(
            &app.gql(
                Some(&organiser.access_token),
                RESULTS,
                json!({ "t": secret })
            )
            .await
        ),
        Some("TALLIES_SEALED")
    );
    let open_list = app
        .ok(Some(&organiser.access_token), LIST, json!({ "t": plain }))
        .await;
    assert_eq!(names(&open_list), ["居民"]);
}

db_tests!(
    an_appraisal_is_sealed_until_it_closes_and_nameless_after,
    a_decision_marked_secret_is_sealed_and_an_ordinary_one_is_not,
);
