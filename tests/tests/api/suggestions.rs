use serde_json::{json, Value};
use yishi::domain::authz::Role;
use yishi_tests::{codes, db_tests, error_code, error_field, spawn_app, Backend, TestApp};

const SUGGEST: &str = "mutation($input: SuggestTopicInput!) { suggestTopic(input: $input) { id divisionCode division { name } title category status supporters mine authorDisplayName } }";
const SUPPORT: &str =
    "mutation($id: ID!) { supportSuggestion(id: $id) { id supporters supportedByMe } }";
const UNSUPPORT: &str =
    "mutation($id: ID!) { withdrawSuggestionSupport(id: $id) { id supporters supportedByMe } }";
const ADOPT: &str =
    "mutation($id: ID!) { adoptSuggestion(id: $id) { id status topicId topic { id } decidedAt } }";
const DECLINE: &str = "mutation($id: ID!, $r: String!) { declineSuggestion(id: $id, reason: $r) { id status declineReason } }";
const ONE: &str = "query($id: ID!) { suggestion(id: $id) { id status supporters supportedByMe authorDisplayName declineReason topicId topic { id } } }";
const LIST: &str = "query($d: String, $f: String, $s: SuggestionStatus, $mine: Boolean) { suggestions(divisionCode: $d, forDivision: $f, status: $s, mine: $mine) { edges { node { id title supporters authorDisplayName } } pageInfo { hasNextPage } } }";

fn input(division: Option<&str>, title: &str) -> Value {
    json!({ "input": {
        "divisionCode": division,
        "title": title,
        "body": "三组到五组的村道雨天泥泞，老人孩子出行不便，建议硬化。",
        "category": "TRANSPORT_WATER",
    } })
}

/// A resident of 过店子村 suggests `title` for `division`; returns its id.
async fn suggested(app: &TestApp, token: &str, division: Option<&str>, title: &str) -> String {
    let data = app.ok(Some(token), SUGGEST, input(division, title)).await;
    data["suggestTopic"]["id"].as_str().unwrap().to_owned()
}

async fn a_resident_suggests_and_neighbours_support(backend: Backend) {
    let app = spawn_app(backend).await;
    let author = app.resident(codes::GUODIANZI).await;
    let neighbour = app.resident(codes::GUODIANZI).await;
    let same_town = app.resident(codes::TAIPINGBAO).await;
    let other_town = app.resident(codes::XINGLONGLU).await;
    let unverified = app.register("游客").await;

    let created = app
        .ok(
            Some(&author.access_token),
            SUGGEST,
            input(Some(codes::XIAGUANYING), "硬化村道"),
        )
        .await;
    let s = &created["suggestTopic"];
    assert_eq!(s["status"], "OPEN");
    assert_eq!(s["divisionCode"], codes::XIAGUANYING);
    assert_eq!(s["category"], "TRANSPORT_WATER");
    assert_eq!(s["supporters"], 0);
    assert_eq!(s["mine"], true);
    assert_eq!(s["authorDisplayName"], "居民");
    let id = s["id"].as_str().unwrap().to_owned();

    for who in [&neighbour, &same_town] {
        let data = app
            .ok(Some(&who.access_token), SUPPORT, json!({ "id": id }))
            .await;
        assert_eq!(data["supportSuggestion"]["supportedByMe"], true);
    }
    let twice = app
        .gql(Some(&neighbour.access_token), SUPPORT, json!({ "id": id }))
        .await;
    assert_eq!(error_code(&twice), Some("CONFLICT"), "{twice}");
    for who in [&author, &other_town, &unverified] {
        let resp = app
            .gql(Some(&who.access_token), SUPPORT, json!({ "id": id }))
            .await;
        assert_eq!(error_code(&resp), Some("FORBIDDEN"), "{resp}");
    }
    let anonymous = app.gql(None, SUPPORT, json!({ "id": id })).await;
    assert_eq!(error_code(&anonymous), Some("UNAUTHENTICATED"));

    let seen = app.ok(None, ONE, json!({ "id": id })).await;
    assert_eq!(seen["suggestion"]["supporters"], 2);
    assert_eq!(seen["suggestion"]["supportedByMe"], false);
    assert_eq!(seen["suggestion"]["authorDisplayName"], Value::Null);
    let by_neighbour = app
        .ok(Some(&neighbour.access_token), ONE, json!({ "id": id }))
        .await;
    assert_eq!(by_neighbour["suggestion"]["supportedByMe"], true);
    assert_eq!(by_neighbour["suggestion"]["authorDisplayName"], Value::Null);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM suggestion_supports").await,
        2
    );
    assert_eq!(
        app.count("SELECT CAST(supporters AS BIGINT) FROM suggestions")
            .await,
        2
    );

    let withdrawn = app
        .ok(
            Some(&same_town.access_token),
            UNSUPPORT,
            json!({ "id": id }),
        )
        .await;
    assert_eq!(withdrawn["withdrawSuggestionSupport"]["supporters"], 1);
    assert_eq!(
        withdrawn["withdrawSuggestionSupport"]["supportedByMe"],
        false
    );
    let again = app
        .gql(
            Some(&same_town.access_token),
            UNSUPPORT,
            json!({ "id": id }),
        )
        .await;
    assert_eq!(error_code(&again), Some("NOT_FOUND"));
    assert_eq!(
        app.count("SELECT CAST(supporters AS BIGINT) FROM suggestions")
            .await,
        app.count("SELECT COUNT(*) FROM suggestion_supports").await
    );

    // Public lists: by division subtree, and what a village's residents may support.
    let in_county = app.ok(None, LIST, json!({ "d": codes::YUZHONG })).await;
    let edges = in_county["suggestions"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0]["node"]["supporters"], 1);
    let for_village = app.ok(None, LIST, json!({ "f": codes::TAIPINGBAO })).await;
    assert_eq!(
        for_village["suggestions"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let elsewhere = app.ok(None, LIST, json!({ "f": codes::XINGLONGLU })).await;
    assert!(elsewhere["suggestions"]["edges"]
        .as_array()
        .unwrap()
        .is_empty());
    let mine = app
        .ok(Some(&author.access_token), LIST, json!({ "mine": true }))
        .await;
    assert_eq!(mine["suggestions"]["edges"].as_array().unwrap().len(), 1);
    let not_mine = app
        .ok(Some(&neighbour.access_token), LIST, json!({ "mine": true }))
        .await;
    assert!(not_mine["suggestions"]["edges"]
        .as_array()
        .unwrap()
        .is_empty());
}

async fn only_residents_suggest_for_their_own_divisions(backend: Backend) {
    let app = spawn_app(backend).await;
    let unverified = app.register("游客").await;
    let resident = app.resident(codes::GUODIANZI).await;

    let resp = app
        .gql(
            Some(&unverified.access_token),
            SUGGEST,
            input(Some(codes::GUODIANZI), "修路"),
        )
        .await;
    assert_eq!(error_code(&resp), Some("FORBIDDEN"), "{resp}");
    let resp = app.gql(None, SUGGEST, input(None, "修路")).await;
    assert_eq!(error_code(&resp), Some("UNAUTHENTICATED"));
    for elsewhere in [
        codes::XINGLONGLU,
        codes::CHENGGUAN_TOWN,
        codes::CHENGGUAN_DISTRICT,
    ] {
        let resp = app
            .gql(
                Some(&resident.access_token),
                SUGGEST,
                input(Some(elsewhere), "修路"),
            )
            .await;
        assert_eq!(error_code(&resp), Some("FORBIDDEN"), "{elsewhere}: {resp}");
    }
    let city = app
        .gql(
            Some(&resident.access_token),
            SUGGEST,
            input(Some(codes::LANZHOU), "修路"),
        )
        .await;
    assert_eq!(error_code(&city), Some("BAD_USER_INPUT"));
    assert_eq!(error_field(&city), Some("divisionCode"));
    let blank = app
        .gql(Some(&resident.access_token), SUGGEST, input(None, "   "))
        .await;
    assert_eq!(error_field(&blank), Some("title"));
    let long_title = "路".repeat(201);
    let resp = app
        .gql(
            Some(&resident.access_token),
            SUGGEST,
            input(None, &long_title),
        )
        .await;
    assert_eq!(error_field(&resp), Some("title"));
    let mut long_body = input(None, "修路");
    long_body["input"]["body"] = json!("泥".repeat(5_001));
    let resp = app
        .gql(Some(&resident.access_token), SUGGEST, long_body)
        .await;
    assert_eq!(error_field(&resp), Some("body"));
    assert_eq!(app.count("SELECT COUNT(*) FROM suggestions").await, 0);

    // Without a division, the suggestion is for the author's own village;
    // the county above it is allowed too.
    let own = app
        .ok(Some(&resident.access_token), SUGGEST, input(None, "修路"))
        .await;
    assert_eq!(own["suggestTopic"]["divisionCode"], codes::GUODIANZI);
    assert_eq!(own["suggestTopic"]["division"]["name"], "过店子村委会");
    suggested(
        &app,
        &resident.access_token,
        Some(codes::YUZHONG),
        "县道拓宽",
    )
    .await;
    assert_eq!(app.count("SELECT COUNT(*) FROM suggestions").await, 2);
}

async fn an_organiser_adopts_a_suggestion_into_a_draft_topic(backend: Backend) {
    let app = spawn_app(backend).await;
    let author = app.resident(codes::GUODIANZI).await;
    let neighbour = app.resident(codes::GUODIANZI).await;
    let organiser = app.with_role(Role::Organiser, codes::XIAGUANYING).await;
    let other_town = app.with_role(Role::Organiser, codes::CHENGGUAN_TOWN).await;
    let supervisor = app.with_role(Role::Supervisor, codes::YUZHONG).await;
    let id = suggested(&app, &author.access_token, None, "硬化三组村道").await;
    app.ok(Some(&neighbour.access_token), SUPPORT, json!({ "id": id }))
        .await;

    for who in [&other_town, &supervisor, &neighbour] {
        let resp = app
            .gql(Some(&who.access_token), ADOPT, json!({ "id": id }))
            .await;
        assert_eq!(error_code(&resp), Some("FORBIDDEN"), "{resp}");
        let resp = app
            .gql(
                Some(&who.access_token),
                DECLINE,
                json!({ "id": id, "r": "不属于本级" }),
            )
            .await;
        assert_eq!(error_code(&resp), Some("FORBIDDEN"), "{resp}");
    }
    let as_supervisor = app
        .ok(Some(&supervisor.access_token), ONE, json!({ "id": id }))
        .await;
    assert_eq!(as_supervisor["suggestion"]["authorDisplayName"], "居民");

    let adopted = app
        .ok(Some(&organiser.access_token), ADOPT, json!({ "id": id }))
        .await;
    let a = &adopted["adoptSuggestion"];
    assert_eq!(a["status"], "ADOPTED");
    let topic_id = a["topicId"].as_str().expect("topic id").to_owned();
    assert_eq!(a["topic"]["id"], topic_id.as_str());
    assert!(a["decidedAt"].is_string());
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM topics WHERE id = {topic_id} AND title = '硬化三组村道' \
             AND state = 'draft' AND kind = 'decision' AND category = 'transport_water' \
             AND scope_code = '{}'",
            codes::GUODIANZI
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'suggestion.adopt'")
            .await,
        1
    );

    // The public sees that it was adopted, not the draft itself.
    let public = app.ok(None, ONE, json!({ "id": id })).await;
    assert_eq!(public["suggestion"]["status"], "ADOPTED");
    assert_eq!(public["suggestion"]["topicId"], topic_id.as_str());
    assert_eq!(public["suggestion"]["topic"], Value::Null);

    let twice = app
        .gql(Some(&organiser.access_token), ADOPT, json!({ "id": id }))
        .await;
    assert_eq!(error_code(&twice), Some("CONFLICT"));
    let decline = app
        .gql(
            Some(&organiser.access_token),
            DECLINE,
            json!({ "id": id, "r": "已采纳" }),
        )
        .await;
    assert_eq!(error_code(&decline), Some("CONFLICT"));
    let late = app.resident(codes::TAIPINGBAO).await;
    let resp = app
        .gql(Some(&late.access_token), SUPPORT, json!({ "id": id }))
        .await;
    assert_eq!(
        error_code(&resp),
        Some("FORBIDDEN"),
        "outside the village: {resp}"
    );
    let late_neighbour = app.resident(codes::GUODIANZI).await;
    let resp = app
        .gql(
            Some(&late_neighbour.access_token),
            SUPPORT,
            json!({ "id": id }),
        )
        .await;
    assert_eq!(error_code(&resp), Some("CONFLICT"), "{resp}");
    let resp = app
        .gql(
            Some(&neighbour.access_token),
            UNSUPPORT,
            json!({ "id": id }),
        )
        .await;
    assert_eq!(error_code(&resp), Some("CONFLICT"), "{resp}");
    assert_eq!(app.count("SELECT COUNT(*) FROM topics").await, 1);
    let open = app.ok(None, LIST, json!({ "s": "OPEN" })).await;
    assert!(open["suggestions"]["edges"].as_array().unwrap().is_empty());
}

async fn a_decline_needs_a_reason_and_is_final(backend: Backend) {
    let app = spawn_app(backend).await;
    let author = app.resident(codes::GUODIANZI).await;
    let organiser = app.with_role(Role::Organiser, codes::GUODIANZI).await;
    let id = suggested(&app, &author.access_token, None, "建广场").await;

    let blank = app
        .gql(
            Some(&organiser.access_token),
            DECLINE,
            json!({ "id": id, "r": "  " }),
        )
        .await;
    assert_eq!(error_code(&blank), Some("BAD_USER_INPUT"));
    assert_eq!(error_field(&blank), Some("reason"));
    let long = app
        .gql(
            Some(&organiser.access_token),
            DECLINE,
            json!({ "id": id, "r": "长".repeat(501) }),
        )
        .await;
    assert_eq!(error_field(&long), Some("reason"));

    let declined = app
        .ok(
            Some(&organiser.access_token),
            DECLINE,
            json!({ "id": id, "r": "今年已列入乡镇规划，明年实施" }),
        )
        .await;
    assert_eq!(declined["declineSuggestion"]["status"], "DECLINED");
    assert_eq!(
        declined["declineSuggestion"]["declineReason"],
        "今年已列入乡镇规划，明年实施"
    );
    let adopt = app
        .gql(Some(&organiser.access_token), ADOPT, json!({ "id": id }))
        .await;
    assert_eq!(error_code(&adopt), Some("CONFLICT"));
    let again = app
        .gql(
            Some(&organiser.access_token),
            DECLINE,
            json!({ "id": id, "r": "重复" }),
        )
        .await;
    assert_eq!(error_code(&again), Some("CONFLICT"));
    assert_eq!(app.count("SELECT COUNT(*) FROM topics").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'suggestion.decline'")
            .await,
        1
    );
    let public = app.ok(None, ONE, json!({ "id": id })).await;
    assert_eq!(
        public["suggestion"]["declineReason"],
        "今年已列入乡镇规划，明年实施"
    );
    let missing = app.gql(None, ONE, json!({ "id": "999999" })).await;
    assert_eq!(error_code(&missing), Some("NOT_FOUND"));
}

async fn concurrent_supports_and_decisions_stay_consistent(backend: Backend) {
    let app = spawn_app(backend).await;
    let author = app.resident(codes::GUODIANZI).await;
    let organiser = app.with_role(Role::Organiser, codes::XIAGUANYING).await;
    let id = suggested(
        &app,
        &author.access_token,
        Some(codes::XIAGUANYING),
        "修水渠",
    )
    .await;
    let mut residents = Vec::new();
    for i in 0..8 {
        let village = if i % 2 == 0 {
            codes::GUODIANZI
        } else {
            codes::TAIPINGBAO
        };
        residents.push(app.resident(village).await);
    }
    let supports = residents
        .iter()
        .map(|r| app.gql(Some(&r.access_token), SUPPORT, json!({ "id": id })));
    let results = futures::future::join_all(supports).await;
    assert!(results.iter().all(|r| r.get("errors").is_none()));
    let seen = app.ok(None, ONE, json!({ "id": id })).await;
    assert_eq!(seen["suggestion"]["supporters"], 8);

    let (adopt, decline) = tokio::join!(
        app.gql(Some(&organiser.access_token), ADOPT, json!({ "id": id })),
        app.gql(
            Some(&organiser.access_token),
            DECLINE,
            json!({ "id": id, "r": "重复建议" })
        ),
    );
    let winners = [&adopt, &decline]
        .iter()
        .filter(|r| r.get("errors").is_none())
        .count();
    assert_eq!(winners, 1, "{adopt} {decline}");
    let loser = if adopt.get("errors").is_some() {
        &adopt
    } else {
        &decline
    };
    assert_eq!(error_code(loser), Some("CONFLICT"));
    let topics = app.count("SELECT COUNT(*) FROM topics").await;
    assert_eq!(topics, i64::from(adopt.get("errors").is_none()));
    assert_eq!(
        app.count("SELECT CAST(supporters AS BIGINT) FROM suggestions")
            .await,
        8
    );
}

db_tests!(
    a_resident_suggests_and_neighbours_support,
    only_residents_suggest_for_their_own_divisions,
    an_organiser_adopts_a_suggestion_into_a_draft_topic,
    a_decline_needs_a_reason_and_is_final,
    concurrent_supports_and_decisions_stay_consistent,
);
