use chrono::{Duration, Utc};
use serde_json::{json, Value};
use yishi::domain::authz::Role;
use yishi_tests::{
    codes, db_tests, error_code, error_field, spawn_app, topic_input, Account, Backend, TestApp,
};

const CREATE: &str = "mutation($input: TopicInput!) { createTopic(input: $input) { id state options { id label } } }";
const SUBMIT: &str = "mutation($t: ID!, $s: Stance, $o: ID, $r: String) { submitOpinion(topicId: $t, stance: $s, optionId: $o, reason: $r) { id revision villageCode stance optionId } }";
const RESULTS: &str = "query($t: ID!, $l: DivisionLevel, $w: String) { topicResults(topicId: $t, level: $l, within: $w) { fullDetail consensus dissentingDivisionCodes minCell overall { total eligible participation quorumMet counts { stance optionId label count } } rows { divisionCode folded divisions total eligible counts { stance count } } } }";

async fn create(app: &TestApp, organiser: &Account, input: Value) -> String {
    let data = app
        .ok(
            Some(&organiser.access_token),
            CREATE,
            json!({ "input": input }),
        )
        .await;
    data["createTopic"]["id"].as_str().unwrap().to_owned()
}

async fn transition(app: &TestApp, who: &Account, name: &str, id: &str) -> Value {
    app.gql(
        Some(&who.access_token),
        &format!("mutation($id: ID!) {{ {name}(id: $id) {{ id state }} }}"),
        json!({ "id": id }),
    )
    .await
}

async fn vote(
    app: &TestApp,
    who: &Account,
    topic: &str,
    stance: &str,
    reason: Option<&str>,
) -> Value {
    app.gql(
        Some(&who.access_token),
        SUBMIT,
        json!({ "t": topic, "s": stance, "r": reason }),
    )
    .await
}

async fn a_topic_goes_through_the_procedure_to_closed(backend: Backend) {
    let app = spawn_app(backend).await;
    let organiser = app.with_role(Role::Organiser, codes::XIAGUANYING).await;
    let residents = [
        app.resident(codes::GUODIANZI).await,
        app.resident(codes::TAIPINGBAO).await,
    ];
    let id = create(
        &app,
        &organiser,
        topic_input(codes::XIAGUANYING, "DECISION"),
    )
    .await;

    // Drafts are the organisers' only.
    let hidden = app
        .gql(
            Some(&residents[0].access_token),
            "query($id: ID!) { topic(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(error_code(&hidden), Some("NOT_FOUND"));

    let announced = transition(&app, &organiser, "announceTopic", &id).await;
    assert_eq!(
        announced["data"]["announceTopic"]["state"], "ANNOUNCED",
        "{announced}"
    );
    // Every eligible resident got the advance notice, exactly once.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'topic_announced'")
            .await,
        2
    );

    let early = vote(&app, &residents[0], &id, "SUPPORT", None).await;
    assert_eq!(error_code(&early), Some("CONFLICT"));

    // The residents were told when it opens: not a moment earlier.
    let too_early = transition(&app, &organiser, "openTopic", &id).await;
    assert_eq!(
        error_code(&too_early),
        Some("OPENS_AT_NOT_REACHED"),
        "{too_early}"
    );
    assert_eq!(
        app.step_on_time(&organiser.access_token, "openTopic", &id)
            .await["data"]["openTopic"]["state"],
        "OPEN"
    );
    let first = vote(&app, &residents[0], &id, "SUPPORT", None).await;
    assert_eq!(
        first["data"]["submitOpinion"]["villageCode"],
        codes::GUODIANZI,
        "{first}"
    );
    // Changing one's mind keeps one opinion and every revision.
    vote(&app, &residents[0], &id, "OPPOSE", Some("占用耕地")).await;
    let changed = vote(&app, &residents[0], &id, "ABSTAIN", None).await;
    assert_eq!(changed["data"]["submitOpinion"]["revision"], 3);
    assert_eq!(app.count("SELECT COUNT(*) FROM opinions").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM opinion_revisions").await, 3);
    vote(&app, &residents[1], &id, "SUPPORT", None).await;

    let mine = app
        .ok(
            Some(&residents[0].access_token),
            "query($id: ID!) { topic(id: $id) { myOpinion { stance revisions { stance } } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(mine["topic"]["myOpinion"]["stance"], "ABSTAIN");
    assert_eq!(
        mine["topic"]["myOpinion"]["revisions"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // Nor closed a moment before the time announced, on the organiser's word alone.
    let too_early = transition(&app, &organiser, "closeTopic", &id).await;
    assert_eq!(
        error_code(&too_early),
        Some("EARLY_CLOSE_NEEDS_COUNTERSIGNATURE"),
        "{too_early}"
    );
    assert_eq!(
        app.step_on_time(&organiser.access_token, "closeTopic", &id)
            .await["data"]["closeTopic"]["state"],
        "CLOSED"
    );
    let late = vote(&app, &residents[1], &id, "OPPOSE", Some("改主意了")).await;
    assert_eq!(error_code(&late), Some("CONFLICT"));

    let results = app
        .ok(
            Some(&organiser.access_token),
            RESULTS,
            json!({ "t": id, "l": "TOWNSHIP" }),
        )
        .await;
    let overall = &results["topicResults"]["overall"];
    assert_eq!(overall["total"], 2);
    assert_eq!(overall["eligible"], 2);
    assert_eq!(overall["participation"], 1.0);
    let actions: Vec<String> = {
        use sea_orm::{EntityTrait, QueryOrder};
        yishi::entities::audit_log::Entity::find()
            .order_by_asc(yishi::entities::audit_log::Column::Id)
            .all(app.services.db.reader())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .filter(|a| a.starts_with("topic."))
            .collect()
    };
    assert_eq!(
        actions,
        [
            "topic.create",
            "topic.announce",
            "topic.open",
            "topic.close"
        ]
    );
}

async fn illegal_transitions_are_conflicts_naming_the_allowed_states(backend: Backend) {
    let app = spawn_app(backend).await;
    let organiser = app.with_role(Role::Organiser, codes::GUODIANZI).await;
    let id = create(&app, &organiser, topic_input(codes::GUODIANZI, "DECISION")).await;
    for step in ["openTopic", "closeTopic"] {
        let resp = transition(&app, &organiser, step, &id).await;
        assert_eq!(
            error_code(&resp),
            Some("CONFLICT"),
            "{step} from draft: {resp}"
        );
    }
    let open_from_draft = transition(&app, &organiser, "openTopic", &id).await;
    assert!(open_from_draft["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("only a topic that is announced"));
    transition(&app, &organiser, "announceTopic", &id).await;
    for step in ["announceTopic", "closeTopic"] {
        assert_eq!(
            error_code(&transition(&app, &organiser, step, &id).await),
            Some("CONFLICT"),
            "{step} from announced"
        );
    }
    let withdraw = "mutation($id: ID!, $r: String!) { withdrawTopic(id: $id, reason: $r) { state withdrawReason } }";
    let blank = app
        .gql(
            Some(&organiser.access_token),
            withdraw,
            json!({ "id": id, "r": " " }),
        )
        .await;
    assert_eq!(error_field(&blank), Some("reason"));
    let withdrawn = app
        .ok(
            Some(&organiser.access_token),
            withdraw,
            json!({ "id": id, "r": "上级资金未到位" }),
        )
        .await;
    assert_eq!(withdrawn["withdrawTopic"]["state"], "WITHDRAWN");
    for step in ["announceTopic", "openTopic", "closeTopic"] {
        assert_eq!(
            error_code(&transition(&app, &organiser, step, &id).await),
            Some("CONFLICT"),
            "{step} from withdrawn"
        );
    }
    let again = app
        .gql(
            Some(&organiser.access_token),
            withdraw,
            json!({ "id": id, "r": "再次撤回" }),
        )
        .await;
    assert_eq!(error_code(&again), Some("CONFLICT"));
    // Editing is for drafts only.
    let edit = app
        .gql(
            Some(&organiser.access_token),
            "mutation($id: ID!, $input: TopicInput!) { updateTopic(id: $id, input: $input) { id } }",
            json!({ "id": id, "input": topic_input(codes::GUODIANZI, "DECISION") }),
        )
        .await;
    assert_eq!(error_code(&edit), Some("CONFLICT"));
}

async fn announcing_needs_the_notice_period(backend: Backend) {
    let app = spawn_app(backend).await;
    let organiser = app.with_role(Role::Organiser, codes::GUODIANZI).await;
    let mut input = topic_input(codes::GUODIANZI, "DECISION");
    input["opensAt"] = json!((Utc::now() + Duration::hours(24)).to_rfc3339());
    let id = create(&app, &organiser, input).await;
    let too_soon = transition(&app, &organiser, "announceTopic", &id).await;
    assert_eq!(error_field(&too_soon), Some("opensAt"), "{too_soon}");
    let mut no_times = topic_input(codes::GUODIANZI, "DECISION");
    no_times["opensAt"] = Value::Null;
    let id2 = create(&app, &organiser, no_times).await;
    assert_eq!(
        error_field(&transition(&app, &organiser, "announceTopic", &id2).await),
        Some("opensAt")
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM topics WHERE state = 'draft'")
            .await,
        2
    );
}

async fn a_technical_topic_opens_only_after_an_assessment(backend: Backend) {
    let app = spawn_app(backend).await;
    let organiser = app.with_role(Role::Organiser, codes::YUZHONG).await;
    let expert = app.with_role(Role::Expert, codes::YUZHONG).await;
    let outsider_expert = app.with_role(Role::Expert, codes::CHENGGUAN_DISTRICT).await;
    let mut input = topic_input(codes::XIAGUANYING, "DECISION");
    input["technical"] = json!(true);
    let id = create(&app, &organiser, input).await;
    transition(&app, &organiser, "announceTopic", &id).await;
    app.clock.advance(Duration::hours(74));
    let blocked = transition(&app, &organiser, "openTopic", &id).await;
    assert_eq!(error_code(&blocked), Some("ASSESSMENT_REQUIRED"));
    assert!(blocked["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("assessment"));

    let publish = "mutation($t: ID!, $i: AssessmentInput!) { publishAssessment(topicId: $t, input: $i) { id bodyName authorName } }";
    let input = json!({ "t": id, "i": { "title": "排水论证", "body": "路基排水需加设边沟。" } });
    assert_eq!(
        error_code(
            &app.gql(Some(&outsider_expert.access_token), publish, input.clone())
                .await
        ),
        Some("FORBIDDEN")
    );
    // An organiser publishes a third-party body's assessment only when naming it.
    assert_eq!(
        error_field(
            &app.gql(Some(&organiser.access_token), publish, input.clone())
                .await
        ),
        Some("bodyName")
    );
    app.ok(Some(&expert.access_token), publish, input).await;
    assert_eq!(
        transition(&app, &organiser, "openTopic", &id).await["data"]["openTopic"]["state"],
        "OPEN"
    );
}

async fn the_scheduler_opens_and_closes_on_time(backend: Backend) {
    let app = spawn_app(backend).await;
    let organiser = app.with_role(Role::Organiser, codes::GUODIANZI).await;
    let resident = app.resident(codes::GUODIANZI).await;
    let id = create(&app, &organiser, topic_input(codes::GUODIANZI, "DECISION")).await;
    transition(&app, &organiser, "announceTopic", &id).await;
    assert_eq!(
        yishi::domain::topics::run_due(&app.services).await.unwrap(),
        0
    );
    app.clock.advance(Duration::hours(74));
    // Two passes at once (as on two instances): the topic opens once.
    let (a, b) = tokio::join!(
        yishi::domain::topics::run_due(&app.services),
        yishi::domain::topics::run_due(&app.services)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'topic.open'")
            .await,
        1
    );
    assert!(vote(&app, &resident, &id, "SUPPORT", None)
        .await
        .get("errors")
        .is_none());
    app.clock.advance(Duration::hours(48));
    // Past closing, submissions are refused even before the scheduler runs.
    assert_eq!(
        error_code(&vote(&app, &resident, &id, "OPPOSE", Some("x")).await),
        Some("CONFLICT")
    );
    assert_eq!(
        yishi::domain::topics::run_due(&app.services).await.unwrap(),
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM topics WHERE state = 'closed'")
            .await,
        1
    );
}

async fn only_eligible_verified_residents_give_opinions(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, organiser) = app
        .open_topic(codes::XIAGUANYING, topic_input("", "DECISION"))
        .await;
    let outside = app.resident(codes::XINGLONGLU).await;
    let unverified = app.register("未认证").await;
    assert_eq!(
        error_code(&vote(&app, &outside, &id, "SUPPORT", None).await),
        Some("FORBIDDEN")
    );
    assert_eq!(
        error_code(&vote(&app, &unverified, &id, "SUPPORT", None).await),
        Some("FORBIDDEN")
    );
    assert_eq!(
        error_code(
            &app.gql(None, SUBMIT, json!({ "t": id, "s": "SUPPORT" }))
                .await
        ),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        error_code(&vote(&app, &organiser, &id, "SUPPORT", None).await),
        Some("FORBIDDEN")
    );
    let resident = app.resident(codes::GUODIANZI).await;
    let wrong_kind = vote(&app, &resident, &id, "SATISFIED", None).await;
    assert_eq!(error_field(&wrong_kind), Some("stance"));
    let too_long = vote(&app, &resident, &id, "OPPOSE", Some(&"长".repeat(2001))).await;
    assert_eq!(error_field(&too_long), Some("reason"));
    assert_eq!(
        error_code(&vote(&app, &resident, "99999", "SUPPORT", None).await),
        Some("NOT_FOUND")
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM opinions").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM tallies").await, 0);
}

async fn a_stakeholder_topic_is_for_the_listed_users_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let listed = app.resident(codes::GUODIANZI).await;
    let neighbour = app.resident(codes::GUODIANZI).await;
    let mut input = topic_input("", "DECISION");
    input["eligibility"] = json!("STAKEHOLDERS");
    input["stakeholderUserIds"] = json!([listed.id]);
    let (id, _) = app.open_topic(codes::GUODIANZI, input).await;
    assert!(vote(&app, &listed, &id, "SUPPORT", None)
        .await
        .get("errors")
        .is_none());
    assert_eq!(
        error_code(&vote(&app, &neighbour, &id, "SUPPORT", None).await),
        Some("FORBIDDEN")
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'topic_announced'")
            .await,
        1
    );
}

async fn dissent_needs_a_reason_when_the_topic_says_so(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut input = topic_input("", "APPRAISAL");
    input["reasonRequiredForDissent"] = json!(true);
    let (id, _) = app.open_topic(codes::GUODIANZI, input).await;
    let resident = app.resident(codes::GUODIANZI).await;
    let bare = vote(&app, &resident, &id, "UNSATISFIED", None).await;
    assert_eq!(error_field(&bare), Some("reason"));
    assert!(vote(&app, &resident, &id, "BASICALLY_SATISFIED", None)
        .await
        .get("errors")
        .is_none());
    assert!(
        vote(&app, &resident, &id, "UNSATISFIED", Some("垃圾清运不及时"))
            .await
            .get("errors")
            .is_none()
    );
}

async fn a_choice_topic_counts_options(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut input = topic_input("", "CHOICE");
    input["options"] = json!(["建文化广场", "建停车场", "修排水渠"]);
    let organiser = app.with_role(Role::Organiser, codes::GUODIANZI).await;
    input["scopeCode"] = json!(codes::GUODIANZI);
    let created = app
        .ok(
            Some(&organiser.access_token),
            CREATE,
            json!({ "input": input }),
        )
        .await;
    let id = created["createTopic"]["id"].as_str().unwrap().to_owned();
    let options: Vec<String> = created["createTopic"]["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    transition(&app, &organiser, "announceTopic", &id).await;
    app.step_on_time(&organiser.access_token, "openTopic", &id)
        .await;
    let resident = app.resident(codes::GUODIANZI).await;
    let no_option = vote(&app, &resident, &id, "SUPPORT", None).await;
    assert_eq!(error_field(&no_option), Some("optionId"));
    let foreign = app
        .gql(
            Some(&resident.access_token),
            SUBMIT,
            json!({ "t": id, "o": "999999" }),
        )
        .await;
    assert_eq!(error_field(&foreign), Some("optionId"));
    let ok = app
        .ok(
            Some(&resident.access_token),
            SUBMIT,
            json!({ "t": id, "o": options[1] }),
        )
        .await;
    assert_eq!(ok["submitOpinion"]["optionId"], options[1].as_str());
    let results = app
        .ok(Some(&organiser.access_token), RESULTS, json!({ "t": id }))
        .await;
    let counts = results["topicResults"]["overall"]["counts"]
        .as_array()
        .unwrap();
    assert_eq!(counts.len(), 3);
    assert_eq!(counts[1]["label"], "建停车场");
    assert_eq!(counts[1]["count"], 1);
}

async fn five_hundred_concurrent_submissions_keep_counters_exact(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, _) = app
        .open_topic(codes::YUZHONG, topic_input("", "DECISION"))
        .await;
    let villages = [codes::GUODIANZI, codes::TAIPINGBAO, codes::XINGLONGLU];
    // Residents straight into the database: 500 registrations would only
    // measure password hashing.
    let mut residents = Vec::new();
    for i in 0..500 {
        let (user_id, token) = yishi_tests::fast_resident(&app, villages[i % 3]).await;
        residents.push((user_id, token));
    }
    let stances = ["SUPPORT", "OPPOSE", "ABSTAIN", "SUPPORT"];
    let tasks = residents.iter().enumerate().map(|(i, (_, token))| {
        let app = &app;
        let id = &id;
        async move {
            app.gql(
                Some(token),
                SUBMIT,
                json!({ "t": id, "s": stances[i % 4], "r": "理由" }),
            )
            .await
        }
    });
    for resp in futures::future::join_all(tasks).await {
        assert!(resp.get("errors").is_none(), "{resp}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM opinions").await, 500);
    assert_eq!(
        app.count("SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM tallies")
            .await,
        500
    );
    let mismatches = yishi::domain::opinions::counter_mismatches(app.services.db.reader())
        .await
        .unwrap();
    assert!(mismatches.is_empty(), "{mismatches:?}");
}

async fn results_roll_up_to_a_recount_at_every_level(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, organiser) = app
        .open_topic(codes::YUZHONG, topic_input("", "DECISION"))
        .await;
    let plan = [
        (codes::GUODIANZI, "SUPPORT", 6),
        (codes::GUODIANZI, "OPPOSE", 2),
        (codes::TAIPINGBAO, "OPPOSE", 5),
        (codes::XINGLONGLU, "SUPPORT", 3),
    ];
    for (village, stance, n) in plan {
        for _ in 0..n {
            let (_, token) = yishi_tests::fast_resident(&app, village).await;
            app.ok(
                Some(&token),
                SUBMIT,
                json!({ "t": id, "s": stance, "r": "原因" }),
            )
            .await;
        }
    }
    // One resident changes village-mates' minds: moves from SUPPORT to OPPOSE.
    let results = app
        .ok(
            Some(&organiser.access_token),
            RESULTS,
            json!({ "t": id, "l": "TOWNSHIP" }),
        )
        .await;
    let rows = results["topicResults"]["rows"].as_array().unwrap();
    let township = |code: &str| {
        rows.iter()
            .find(|r| r["divisionCode"] == code)
            .cloned()
            .unwrap()
    };
    assert_eq!(township(codes::XIAGUANYING)["total"], 13);
    assert_eq!(township(codes::CHENGGUAN_TOWN)["total"], 3);
    let recount = app
        .count(&format!("SELECT COUNT(*) FROM opinions WHERE topic_id = {id} AND village_code LIKE '{}%' AND choice = 'oppose'", codes::XIAGUANYING))
        .await;
    let oppose = township(codes::XIAGUANYING)["counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["stance"] == "OPPOSE")
        .unwrap()["count"]
        .as_i64()
        .unwrap();
    assert_eq!(oppose, recount);
    let county = app
        .ok(
            Some(&organiser.access_token),
            RESULTS,
            json!({ "t": id, "l": "COUNTY" }),
        )
        .await;
    assert_eq!(county["topicResults"]["rows"][0]["total"], 16);
    // Consensus: the least-supporting village with ≥5 responses (太平堡: 0/5).
    assert_eq!(county["topicResults"]["consensus"], 0.0);
    assert_eq!(
        county["topicResults"]["dissentingDivisionCodes"],
        json!([codes::TAIPINGBAO])
    );
    // The eligible base is live: residents verified while it was open count.
    assert_eq!(
        county["topicResults"]["overall"]["eligible"], 16,
        "the residents approved after opening are eligible"
    );
}

/// Results are served from counters held in memory and moved by each
/// committed opinion; reading them while opinions arrive and change (so
/// that loads race with writes) must still end equal to a recount.
async fn a_results_answer_is_served_again_only_while_its_counters_are_unchanged(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, organiser) = app
        .open_topic(codes::YUZHONG, topic_input("", "DECISION"))
        .await;
    let (_, resident) = yishi_tests::fast_resident(&app, codes::GUODIANZI).await;
    let ask = |token: Option<String>| {
        let app = &app;
        let id = id.clone();
        async move {
            let mut req = app
                .client
                .post(format!("{}/graphql", app.url))
                .json(&json!({ "query": RESULTS, "variables": { "t": id, "l": "VILLAGE" } }));
            if let Some(token) = token {
                req = req.bearer_auth(token);
            }
            let resp = req.send().await.expect("request sent");
            let reused = resp.headers().get("x-cache").is_some();
            let body: Value = resp.json().await.expect("JSON");
            assert!(body.get("errors").is_none(), "{body:#}");
            (reused, body["data"]["topicResults"].clone())
        }
    };
    let organiser_token = Some(organiser.access_token.clone());
    let (reused, first) = ask(organiser_token.clone()).await;
    assert!(!reused, "nothing kept yet");
    let (reused, again) = ask(organiser_token.clone()).await;
    assert!(
        reused,
        "the same question of unchanged counters is answered again"
    );
    assert_eq!(again, first);
    // Another caller's answer is kept apart: the public view is folded.
    let (reused, public) = ask(None).await;
    assert!(!reused);
    assert_eq!(public["fullDetail"], false);
    assert_eq!(first["fullDetail"], true);

    app.ok(Some(&resident), SUBMIT, json!({ "t": id, "s": "SUPPORT" }))
        .await;
    let (reused, after) = ask(organiser_token.clone()).await;
    assert!(!reused, "an opinion moved the counters");
    assert_eq!(
        after["overall"]["total"],
        first["overall"]["total"].as_i64().unwrap() + 1
    );
    // A lifecycle move changes the state the answer shows.
    app.step_on_time(&organiser.access_token, "closeTopic", &id)
        .await;
    let (reused, _) = ask(organiser_token).await;
    assert!(!reused, "the topic was closed");
}

async fn results_read_during_a_storm_of_opinions_equal_a_recount(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, organiser) = app
        .open_topic(codes::YUZHONG, topic_input("", "DECISION"))
        .await;
    let villages = [codes::GUODIANZI, codes::TAIPINGBAO, codes::XINGLONGLU];
    let mut tokens = Vec::new();
    for i in 0..120 {
        tokens.push(yishi_tests::fast_resident(&app, villages[i % 3]).await.1);
    }
    let stances = ["SUPPORT", "OPPOSE", "ABSTAIN"];
    let done = std::sync::atomic::AtomicBool::new(false);
    let reader = async {
        let mut reads = 0;
        while !done.load(std::sync::atomic::Ordering::Relaxed) || reads == 0 {
            app.ok(
                Some(&organiser.access_token),
                RESULTS,
                json!({ "t": id, "l": "VILLAGE" }),
            )
            .await;
            reads += 1;
        }
        reads
    };
    let writers = async {
        // Everyone answers, then everyone changes their mind once.
        for round in 0..2 {
            let tasks = tokens.iter().enumerate().map(|(i, token)| {
                let app = &app;
                let id = &id;
                async move {
                    app.ok(
                        Some(token),
                        SUBMIT,
                        json!({ "t": id, "s": stances[(i + round) % 3], "r": "理由" }),
                    )
                    .await
                }
            });
            futures::future::join_all(tasks).await;
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
    };
    let (reads, ()) = futures::future::join(reader, writers).await;
    assert!(reads > 0);
    let results = app
        .ok(
            Some(&organiser.access_token),
            RESULTS,
            json!({ "t": id, "l": "VILLAGE" }),
        )
        .await;
    let rows = results["topicResults"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for row in rows {
        let village = row["divisionCode"].as_str().unwrap();
        for count in row["counts"].as_array().unwrap() {
            let choice = count["stance"].as_str().unwrap().to_lowercase();
            let recount = app
                .count(&format!(
                    "SELECT COUNT(*) FROM opinions WHERE topic_id = {id} AND village_code = '{village}' AND choice = '{choice}'"
                ))
                .await;
            assert_eq!(
                count["count"].as_i64().unwrap(),
                recount,
                "{village} {choice}"
            );
        }
    }
    assert_eq!(results["topicResults"]["overall"]["total"], 120);
}

async fn small_villages_are_folded_for_the_public(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, organiser) = app
        .open_topic(codes::XIAGUANYING, topic_input("", "DECISION"))
        .await;
    for (village, n) in [(codes::GUODIANZI, 6), (codes::TAIPINGBAO, 1)] {
        for _ in 0..n {
            let (_, token) = yishi_tests::fast_resident(&app, village).await;
            app.ok(
                Some(&token),
                SUBMIT,
                json!({ "t": id, "s": "OPPOSE", "r": "反对理由" }),
            )
            .await;
        }
    }
    let public = app.ok(None, RESULTS, json!({ "t": id })).await;
    let rows = public["topicResults"]["rows"].as_array().unwrap();
    assert_eq!(public["topicResults"]["fullDetail"], false);
    assert!(
        rows.iter().all(|r| r["divisionCode"] != codes::TAIPINGBAO),
        "the lone dissenter's village is not shown: {rows:?}"
    );
    let folded = rows
        .iter()
        .find(|r| r["folded"] == true)
        .expect("a folded row");
    assert_eq!(folded["divisionCode"], codes::XIAGUANYING);
    assert_eq!(
        (folded["total"].as_i64(), folded["divisions"].as_i64()),
        (Some(7), Some(2)),
        "folded with 过店子, or the township minus 过店子 would be its one vote"
    );
    assert!(rows.iter().all(|r| r["divisionCode"] != codes::GUODIANZI));
    let full = app
        .ok(Some(&organiser.access_token), RESULTS, json!({ "t": id }))
        .await;
    assert_eq!(full["topicResults"]["fullDetail"], true);
    assert!(full["topicResults"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["divisionCode"] == codes::TAIPINGBAO));
}

async fn organisers_list_filter_and_export_opinions_and_residents_see_their_own(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, organiser) = app
        .open_topic(codes::XIAGUANYING, topic_input("", "DECISION"))
        .await;
    let supervisor = app.with_role(Role::Supervisor, codes::YUZHONG).await;
    let outsider = app.with_role(Role::Organiser, codes::CHENGGUAN_TOWN).await;
    let a = app.resident(codes::GUODIANZI).await;
    let b = app.resident(codes::TAIPINGBAO).await;
    vote(&app, &a, &id, "OPPOSE", Some("补偿标准太低，占用耕地太多")).await;
    vote(&app, &b, &id, "SUPPORT", Some("方便出行")).await;
    let list = "query($t: ID!, $s: [Stance!], $d: String, $x: String) { opinions(topicId: $t, stances: $s, divisionCode: $d, text: $x, first: 10) { edges { node { stance reason residentName villageCode } } pageInfo { hasNextPage } } }";
    let opposed = app
        .ok(
            Some(&supervisor.access_token),
            list,
            json!({ "t": id, "s": ["OPPOSE"] }),
        )
        .await;
    let edges = opposed["opinions"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0]["node"]["residentName"], "居民");
    let by_text = app
        .ok(
            Some(&organiser.access_token),
            list,
            json!({ "t": id, "x": "出行" }),
        )
        .await;
    assert_eq!(
        by_text["opinions"]["edges"][0]["node"]["villageCode"],
        codes::TAIPINGBAO
    );
    let by_division = app
        .ok(
            Some(&organiser.access_token),
            list,
            json!({ "t": id, "d": codes::GUODIANZI }),
        )
        .await;
    assert_eq!(
        by_division["opinions"]["edges"].as_array().unwrap().len(),
        1
    );
    // A township holds its villages, in short or padded form; the township
    // next to it, whose code is one less, holds none of them.
    for (division, expected) in [
        (codes::XIAGUANYING, 2),
        ("620123101000", 2),
        (codes::YUZHONG, 2),
        (codes::CHENGGUAN_TOWN, 0),
    ] {
        let listed = app
            .ok(
                Some(&organiser.access_token),
                list,
                json!({ "t": id, "d": division }),
            )
            .await;
        assert_eq!(
            listed["opinions"]["edges"].as_array().unwrap().len(),
            expected,
            "{division}"
        );
    }
    for who in [&outsider, &a] {
        assert_eq!(
            error_code(
                &app.gql(Some(&who.access_token), list, json!({ "t": id }))
                    .await
            ),
            Some("FORBIDDEN")
        );
    }
    let mine = app
        .ok(
            Some(&a.access_token),
            "{ myOpinions { stance reason } }",
            json!({}),
        )
        .await;
    assert_eq!(mine["myOpinions"].as_array().unwrap().len(), 1);

    let csv = app
        .client
        .get(format!("{}/api/topics/{id}/opinions.csv", app.url))
        .bearer_auth(&organiser.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    let text = csv.text().await.unwrap();
    assert!(text.starts_with('\u{feff}'));
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.contains("补偿标准太低"));
    let denied = app
        .client
        .get(format!("{}/api/topics/{id}/opinions.csv", app.url))
        .bearer_auth(&outsider.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);

    let themes = app
        .ok(
            Some(&organiser.access_token),
            "query($t: ID!) { dissentThemes(topicId: $t) { keyword count sampleOpinionIds } }",
            json!({ "t": id }),
        )
        .await;
    let keywords: Vec<&str> = themes["dissentThemes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["keyword"].as_str().unwrap())
        .collect();
    assert!(
        keywords.contains(&"补偿") && keywords.contains(&"耕地"),
        "{keywords:?}"
    );
    assert!(
        !keywords.contains(&"出行"),
        "supporters' reasons are not dissent"
    );

    // Page by page within a division inside the topic, newest first.
    let c = app.resident(codes::GUODIANZI).await;
    vote(&app, &c, &id, "SUPPORT", None).await;
    let paged = "query($t: ID!, $d: String, $a: String) { opinions(topicId: $t, divisionCode: $d, first: 1, after: $a) { edges { node { stance villageCode } } pageInfo { hasNextPage endCursor } } }";
    let page = app
        .ok(
            Some(&organiser.access_token),
            paged,
            json!({ "t": id, "d": codes::GUODIANZI }),
        )
        .await;
    assert_eq!(page["opinions"]["edges"][0]["node"]["stance"], "SUPPORT");
    assert_eq!(page["opinions"]["pageInfo"]["hasNextPage"], true);
    let rest = app
        .ok(
            Some(&organiser.access_token),
            paged,
            json!({ "t": id, "d": codes::GUODIANZI, "a": page["opinions"]["pageInfo"]["endCursor"] }),
        )
        .await;
    let edges = rest["opinions"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0]["node"]["stance"], "OPPOSE");
    assert_eq!(edges[0]["node"]["villageCode"], codes::GUODIANZI);
    assert_eq!(rest["opinions"]["pageInfo"]["hasNextPage"], false);
}

async fn an_organiser_records_an_offline_opinion_the_resident_can_confirm_or_correct(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (id, organiser) = app
        .open_topic(codes::GUODIANZI, topic_input("", "DECISION"))
        .await;
    let elder = app.resident(codes::GUODIANZI).await;
    let meeting = app
        .ok(
            Some(&organiser.access_token),
            "mutation($t: ID!, $i: MeetingInput!) { recordMeeting(topicId: $t, input: $i) { id } }",
            json!({ "t": id, "i": { "heldAt": Utc::now().to_rfc3339(), "place": "村委会议室", "attendees": 23, "minutes": "讨论村道硬化。" } }),
        )
        .await["recordMeeting"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let proxy = "mutation($i: ProxyOpinionInput!) { recordProxyOpinion(input: $i) { id proxy stance meetingId } }";
    let recorded = app
        .ok(Some(&organiser.access_token), proxy, json!({ "i": { "topicId": id, "meetingId": meeting, "userId": elder.id, "stance": "SUPPORT" } }))
        .await;
    assert_eq!(recorded["recordProxyOpinion"]["proxy"], true);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'proxy_opinion_recorded'")
            .await,
        1
    );
    let offline = app
        .ok(
            Some(&organiser.access_token),
            proxy,
            json!({ "i": { "topicId": id, "meetingId": meeting, "residentName": "赵奶奶", "villageCode": codes::GUODIANZI, "stance": "OPPOSE", "reason": "怕影响灌溉" } }),
        )
        .await;
    assert_eq!(offline["recordProxyOpinion"]["stance"], "OPPOSE");
    let outside = app
        .gql(Some(&organiser.access_token), proxy, json!({ "i": { "topicId": id, "meetingId": meeting, "residentName": "外村人", "villageCode": codes::TAIPINGBAO, "stance": "SUPPORT" } }))
        .await;
    assert_eq!(error_field(&outside), Some("villageCode"));

    let confirmed = app
        .ok(
            Some(&elder.access_token),
            "mutation($t: ID!) { confirmOpinion(topicId: $t) { confirmedAt proxy } }",
            json!({ "t": id }),
        )
        .await;
    assert!(confirmed["confirmOpinion"]["confirmedAt"].is_string());
    // Correcting it online makes it the resident's own.
    let corrected = app
        .ok(
            Some(&elder.access_token),
            SUBMIT,
            json!({ "t": id, "s": "ABSTAIN" }),
        )
        .await;
    assert_eq!(corrected["submitOpinion"]["revision"], 2);
    let again = app
        .gql(Some(&organiser.access_token), proxy, json!({ "i": { "topicId": id, "meetingId": meeting, "userId": elder.id, "stance": "SUPPORT" } }))
        .await;
    assert_eq!(
        error_code(&again),
        Some("CONFLICT"),
        "an online opinion is not overwritten by proxy"
    );
    assert_eq!(
        app.count("SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM tallies")
            .await,
        2
    );
}

async fn an_organiser_outside_the_scope_cannot_create_or_move_topics(backend: Backend) {
    let app = spawn_app(backend).await;
    let village_organiser = app.with_role(Role::Organiser, codes::GUODIANZI).await;
    let township_topic_by_village = app
        .gql(
            Some(&village_organiser.access_token),
            CREATE,
            json!({ "input": topic_input(codes::XIAGUANYING, "DECISION") }),
        )
        .await;
    assert_eq!(error_code(&township_topic_by_village), Some("FORBIDDEN"));
    let id = create(
        &app,
        &village_organiser,
        topic_input(codes::GUODIANZI, "DECISION"),
    )
    .await;
    let other = app.with_role(Role::Organiser, codes::TAIPINGBAO).await;
    let supervisor = app.with_role(Role::Supervisor, codes::YUZHONG).await;
    for who in [&other, &supervisor] {
        assert_eq!(
            error_code(&transition(&app, who, "announceTopic", &id).await),
            Some("FORBIDDEN")
        );
    }
    // A supervisor may read the draft, a resident may not.
    app.ok(
        Some(&supervisor.access_token),
        "query($id: ID!) { topic(id: $id) { state } }",
        json!({ "id": id }),
    )
    .await;
    let city = app
        .gql(
            Some(&village_organiser.access_token),
            CREATE,
            json!({ "input": topic_input(codes::LANZHOU, "DECISION") }),
        )
        .await;
    assert_eq!(error_field(&city), Some("scopeCode"));
}

async fn residents_find_topics_of_their_village_and_above(backend: Backend) {
    let app = spawn_app(backend).await;
    let (village_topic, _) = app
        .open_topic(codes::GUODIANZI, topic_input("", "DECISION"))
        .await;
    let (county_topic, _) = app
        .open_topic(codes::YUZHONG, topic_input("", "DECISION"))
        .await;
    let (other_topic, _) = app
        .open_topic(codes::TAIPINGBAO, topic_input("", "DECISION"))
        .await;
    let query = "query($d: String, $s: [TopicState!]) { topics(forDivision: $d, states: $s) { edges { node { id } } } }";
    let found = app
        .ok(None, query, json!({ "d": codes::GUODIANZI, "s": ["OPEN"] }))
        .await;
    let ids: Vec<&str> = found["topics"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&village_topic.as_str()) && ids.contains(&county_topic.as_str()));
    assert!(!ids.contains(&other_topic.as_str()));
    let closed = app
        .ok(
            None,
            query,
            json!({ "d": codes::GUODIANZI, "s": ["CLOSED"] }),
        )
        .await;
    assert!(closed["topics"]["edges"].as_array().unwrap().is_empty());
}

async fn participation_and_quorum_are_measured_against_residents_at_opening(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut voters = Vec::new();
    for village in [
        codes::GUODIANZI,
        codes::GUODIANZI,
        codes::GUODIANZI,
        codes::GUODIANZI,
        codes::TAIPINGBAO,
        codes::TAIPINGBAO,
    ] {
        voters.push((village, yishi_tests::fast_resident(&app, village).await.1));
    }
    let mut input = topic_input("", "DECISION");
    input["quorumPercent"] = json!(50);
    let (id, organiser) = app.open_topic(codes::XIAGUANYING, input).await;
    // Three of four in 过店子, none of two in 太平堡.
    for (_, token) in voters
        .iter()
        .filter(|(v, _)| *v == codes::GUODIANZI)
        .take(3)
    {
        app.ok(Some(token), SUBMIT, json!({ "t": id, "s": "SUPPORT" }))
            .await;
    }
    let results = app
        .ok(Some(&organiser.access_token), RESULTS, json!({ "t": id }))
        .await;
    let rows = results["topicResults"]["rows"].as_array().unwrap().clone();
    let row = |code: &str| {
        rows.iter()
            .find(|r| r["divisionCode"] == code)
            .cloned()
            .unwrap()
    };
    assert_eq!(row(codes::GUODIANZI)["eligible"], 4);
    assert_eq!(row(codes::TAIPINGBAO)["eligible"], 2);
    assert_eq!(row(codes::TAIPINGBAO)["total"], 0);
    let overall = &results["topicResults"]["overall"];
    assert_eq!(overall["participation"], 0.5);
    assert_eq!(overall["quorumMet"], true);
    let full = app
        .ok(
            Some(&organiser.access_token),
            "query($t: ID!) { topicResults(topicId: $t) { rows { divisionCode quorumMet } } }",
            json!({ "t": id }),
        )
        .await;
    let met: Vec<(String, bool)> = full["topicResults"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["divisionCode"].as_str().unwrap().to_owned(),
                r["quorumMet"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        met,
        [
            (codes::GUODIANZI.to_owned(), true),
            (codes::TAIPINGBAO.to_owned(), false)
        ]
    );
}

/// Each move is in the audit log, newest first, for the supervisors and
/// organisers of the division, page by page; others cannot read it.
async fn the_audit_log_shows_each_move_to_those_who_oversee_the_division(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, _) = app
        .open_topic(codes::YUZHONG, topic_input("", "DECISION"))
        .await;
    let supervisor = app.with_role(Role::Supervisor, codes::YUZHONG).await;
    let query = "query($d: String!, $s: String, $f: Int, $a: String) { auditLog(divisionCode: $d, subjectType: \"topic\", subjectId: $s, first: $f, after: $a) { nodes { action subjectId divisionCode } pageInfo { hasNextPage endCursor } } }";
    let page = app
        .ok(
            Some(&supervisor.access_token),
            query,
            json!({ "d": codes::YUZHONG, "s": id, "f": 1 }),
        )
        .await;
    let log = &page["auditLog"];
    assert_eq!(log["nodes"][0]["action"], "topic.open", "{log}");
    assert_eq!(log["nodes"][0]["divisionCode"], codes::YUZHONG);
    assert_eq!(log["pageInfo"]["hasNextPage"], true);
    let next = app
        .ok(
            Some(&supervisor.access_token),
            query,
            json!({ "d": codes::YUZHONG, "s": id, "f": 1, "a": log["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(next["auditLog"]["nodes"][0]["action"], "topic.announce");
    let elsewhere = app
        .with_role(Role::Supervisor, codes::CHENGGUAN_DISTRICT)
        .await;
    let denied = app
        .gql(
            Some(&elsewhere.access_token),
            query,
            json!({ "d": codes::YUZHONG, "s": id }),
        )
        .await;
    assert_eq!(error_code(&denied), Some("FORBIDDEN"));
}

db_tests!(
    participation_and_quorum_are_measured_against_residents_at_opening,
    a_topic_goes_through_the_procedure_to_closed,
    illegal_transitions_are_conflicts_naming_the_allowed_states,
    announcing_needs_the_notice_period,
    a_technical_topic_opens_only_after_an_assessment,
    the_scheduler_opens_and_closes_on_time,
    only_eligible_verified_residents_give_opinions,
    a_stakeholder_topic_is_for_the_listed_users_only,
    dissent_needs_a_reason_when_the_topic_says_so,
    a_choice_topic_counts_options,
    five_hundred_concurrent_submissions_keep_counters_exact,
    results_roll_up_to_a_recount_at_every_level,
    results_read_during_a_storm_of_opinions_equal_a_recount,
    a_results_answer_is_served_again_only_while_its_counters_are_unchanged,
    small_villages_are_folded_for_the_public,
    organisers_list_filter_and_export_opinions_and_residents_see_their_own,
    an_organiser_records_an_offline_opinion_the_resident_can_confirm_or_correct,
    an_organiser_outside_the_scope_cannot_create_or_move_topics,
    residents_find_topics_of_their_village_and_above,
    the_audit_log_shows_each_move_to_those_who_oversee_the_division,
    a_signed_out_visitor_reads_the_topic_page_and_is_asked_to_sign_in,
);

/// The resident topic page's own fields, asked by someone with a shared
/// link and no account: the page must render, so "my" fields answer for a
/// visitor rather than refusing the whole request; a token that is sent
/// but expired or forged is still refused, so the client refreshes it.
async fn a_signed_out_visitor_reads_the_topic_page_and_is_asked_to_sign_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, _) = app
        .open_topic(codes::GUODIANZI, topic_input(codes::GUODIANZI, "DECISION"))
        .await;
    let page = "query($id: ID!) { topic(id: $id) { title state myOpinion { id } myEligibility { eligible signInRequired reason } } }";
    let visitor = app.ok(None, page, json!({ "id": id })).await;
    assert_eq!(visitor["topic"]["state"], "OPEN");
    assert!(visitor["topic"]["myOpinion"].is_null());
    assert_eq!(visitor["topic"]["myEligibility"]["eligible"], false);
    assert_eq!(visitor["topic"]["myEligibility"]["signInRequired"], true);

    let resident = app.resident(codes::GUODIANZI).await;
    let signed_in = app
        .ok(Some(&resident.access_token), page, json!({ "id": id }))
        .await;
    assert_eq!(signed_in["topic"]["myEligibility"]["eligible"], true);
    assert_eq!(signed_in["topic"]["myEligibility"]["signInRequired"], false);

    let forged = app
        .gql(Some("not-a-token"), page, json!({ "id": id }))
        .await;
    assert_eq!(error_code(&forged), Some("UNAUTHENTICATED"), "{forged}");
}
