//! Integrity of who reaches whom: an account lookup that stays inside the
//! viewer's divisions, stakeholder lists that stay inside the topic's scope,
//! drafts withdrawn before their announcement that stay with the staff, and
//! proxy opinions that are audited and never outnumber a meeting's
//! attendance, even when recorded at the same moment on two instances.

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::{json, Value};
use yishi::domain::authz::Role;
use yishi_tests::{
    codes, db_tests, error_code, error_field, spawn_app, test_settings, Account, Backend, TestApp,
    TestClock,
};

const USER_BY_EMAIL: &str = "query($e: String!) { userByEmail(email: $e) { id email } }";
const CREATE: &str = "mutation($i: TopicInput!) { createTopic(input: $i) { id } }";
const UPDATE: &str =
    "mutation($id: ID!, $i: TopicInput!) { updateTopic(id: $id, input: $i) { id } }";
const PROXY: &str =
    "mutation($i: ProxyOpinionInput!) { recordProxyOpinion(input: $i) { id proxy meetingId } }";

fn topic_input(scope: &str) -> Value {
    let now = Utc::now();
    json!({
        "title": "土地流转方案",
        "body": "拟将三组河滩地流转给合作社种植中药材。",
        "category": "LAND_TRANSFER",
        "kind": "DECISION",
        "scopeCode": scope,
        "opensAt": (now + Duration::hours(73)).to_rfc3339(),
        "closesAt": (now + Duration::hours(120)).to_rfc3339(),
    })
}

fn stakeholder_input(scope: &str, ids: &[&str]) -> Value {
    let mut input = topic_input(scope);
    input["eligibility"] = json!("STAKEHOLDERS");
    input["stakeholderUserIds"] = json!(ids);
    input
}

async fn create(app: &TestApp, organiser: &Account, input: Value) -> String {
    app.ok(Some(&organiser.access_token), CREATE, json!({ "i": input }))
        .await["createTopic"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn step(app: &TestApp, organiser: &Account, name: &str, id: &str) {
    if matches!(name, "openTopic" | "closeTopic") {
        app.step_on_time(&organiser.access_token, name, id).await;
        return;
    }
    app.ok(
        Some(&organiser.access_token),
        &format!("mutation($id: ID!) {{ {name}(id: $id) {{ id }} }}"),
        json!({ "id": id }),
    )
    .await;
}

/// The message of the first error.
fn message(resp: &Value) -> &str {
    resp["errors"][0]["message"].as_str().unwrap_or_default()
}

async fn user_by_email(app: &TestApp, who: Option<&Account>, email: &str) -> Value {
    app.gql(
        who.map(|a| a.access_token.as_str()),
        USER_BY_EMAIL,
        json!({ "e": email }),
    )
    .await
}

/// The id found by `userByEmail`, `None` for null; panics on an error.
async fn found(app: &TestApp, who: &Account, email: &str) -> Option<String> {
    let resp = user_by_email(app, Some(who), email).await;
    assert!(resp.get("errors").is_none(), "{resp}");
    resp["data"]["userByEmail"]["id"]
        .as_str()
        .map(str::to_owned)
}

async fn user_by_email_finds_only_the_people_of_the_viewers_divisions(backend: Backend) {
    let app = spawn_app(backend).await;
    let organiser = app.with_role(Role::Organiser, codes::XIAGUANYING).await;
    let supervisor = app.with_role(Role::Supervisor, codes::XIAGUANYING).await;
    let district_admin = app.with_role(Role::Admin, codes::CHENGGUAN_DISTRICT).await;
    let expert = app.with_role(Role::Expert, codes::XIAGUANYING).await;
    let villager = app.resident(codes::GUODIANZI).await;
    let townsman = app.resident(codes::CHANGJIAXIANG).await;
    let county_staff = app.with_role(Role::Organiser, codes::YUZHONG).await;
    let newcomer = app.register("新用户").await;
    let applicant = app.register("申请人").await;
    app.ok(
        Some(&applicant.access_token),
        "mutation($v: String!) { requestResidency(villageCode: $v) { id } }",
        json!({ "v": codes::TAIPINGBAO }),
    )
    .await;

    for staff in [&organiser, &supervisor] {
        // Living, asking to live, or serving inside the township: found.
        assert_eq!(
            found(&app, staff, &villager.email).await,
            Some(villager.id.clone())
        );
        assert_eq!(
            found(&app, staff, &applicant.email).await,
            Some(applicant.id.clone())
        );
        assert_eq!(
            found(&app, staff, &expert.email).await,
            Some(expert.id.clone())
        );
        // Elsewhere in the country, serving above, or tied to nothing: not
        // found, and the answer is the very answer for an unknown address.
        let unknown = user_by_email(&app, Some(staff), "nobody-here@example.cn").await;
        assert!(unknown["data"]["userByEmail"].is_null(), "{unknown}");
        for out_of_reach in [&townsman, &county_staff, &newcomer] {
            let resp = user_by_email(&app, Some(staff), &out_of_reach.email).await;
            assert_eq!(resp, unknown, "{} is out of reach", out_of_reach.email);
        }
    }

    // An admin finds its district's people and accounts tied to nowhere
    // (to give them a first role), not the people of another county.
    assert_eq!(
        found(&app, &district_admin, &townsman.email).await,
        Some(townsman.id.clone())
    );
    assert_eq!(
        found(&app, &district_admin, &newcomer.email).await,
        Some(newcomer.id.clone())
    );
    assert_eq!(found(&app, &district_admin, &villager.email).await, None);
    assert_eq!(found(&app, &district_admin, &applicant.email).await, None);
    assert_eq!(found(&app, &district_admin, &organiser.email).await, None);
    // Once the newcomer serves in 榆中县, the district admin no longer finds it.
    yishi::domain::roles::bootstrap(
        &app.services,
        newcomer.id.parse().unwrap(),
        Role::Expert,
        codes::YUZHONG,
    )
    .await
    .unwrap();
    assert_eq!(found(&app, &district_admin, &newcomer.email).await, None);
    assert_eq!(
        found(&app, &county_staff, &newcomer.email).await,
        Some(newcomer.id.clone())
    );

    // Not staff: refused outright; nobody signed in: asked to sign in.
    for who in [&villager, &expert] {
        assert_eq!(
            error_code(&user_by_email(&app, Some(who), &townsman.email).await),
            Some("FORBIDDEN")
        );
    }
    assert_eq!(
        error_code(&user_by_email(&app, None, &townsman.email).await),
        Some("UNAUTHENTICATED")
    );
}

async fn nobody_decides_their_own_residency_request(backend: Backend) {
    let app = spawn_app(backend).await;
    let organiser = app.with_role(Role::Organiser, codes::XIAGUANYING).await;
    let township = app.with_role(Role::Organiser, codes::XIAGUANYING).await;
    let request = app
        .ok(
            Some(&organiser.access_token),
            "mutation($v: String!) { requestResidency(villageCode: $v) { id } }",
            json!({ "v": codes::GUODIANZI }),
        )
        .await["requestResidency"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let approve = "mutation($id: ID!) { approveResidency(id: $id) { status } }";
    let own = app
        .gql(
            Some(&organiser.access_token),
            approve,
            json!({ "id": request }),
        )
        .await;
    assert_eq!(error_code(&own), Some("FORBIDDEN"), "{own}");
    let own_rejection = app
        .gql(
            Some(&organiser.access_token),
            "mutation($id: ID!) { rejectResidency(id: $id, reason: \"重新提交\") { status } }",
            json!({ "id": request }),
        )
        .await;
    assert_eq!(error_code(&own_rejection), Some("FORBIDDEN"));
    let other = app
        .ok(
            Some(&township.access_token),
            approve,
            json!({ "id": request }),
        )
        .await;
    assert_eq!(other["approveResidency"]["status"], "APPROVED");
}

async fn a_stakeholder_list_takes_verified_residents_of_the_scope_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let organiser = app.with_role(Role::Organiser, codes::GUODIANZI).await;
    let listed = app.resident(codes::GUODIANZI).await;
    let neighbour = app.resident(codes::TAIPINGBAO).await;
    let far = app.resident(codes::CHANGJIAXIANG).await;
    let unverified = app.register("未认证").await;

    for (bad, why) in [
        (&neighbour.id, "a resident of the next village"),
        (&far.id, "a resident of another county"),
        (&unverified.id, "an account without a verified residency"),
    ] {
        let resp = app
            .gql(
                Some(&organiser.access_token),
                CREATE,
                json!({ "i": stakeholder_input(codes::GUODIANZI, &[listed.id.as_str(), bad.as_str()]) }),
            )
            .await;
        assert_eq!(error_code(&resp), Some("BAD_USER_INPUT"), "{why}: {resp}");
        assert_eq!(error_field(&resp), Some("stakeholderUserIds"), "{why}");
        assert!(
            message(&resp).ends_with(&format!("user {bad}")),
            "{why}: names the refused entry, and it alone: {resp}"
        );
    }
    // An id that is no account reads as one out of scope.
    let ghost = app
        .gql(
            Some(&organiser.access_token),
            CREATE,
            json!({ "i": stakeholder_input(codes::GUODIANZI, &[listed.id.as_str(), "987654"]) }),
        )
        .await;
    assert_eq!(error_field(&ghost), Some("stakeholderUserIds"));
    assert!(message(&ghost).ends_with("user 987654"), "{ghost}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM topics").await,
        0,
        "all or nothing"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM topic_stakeholders").await,
        0
    );

    // Editing a draft is all or nothing too.
    let id = create(
        &app,
        &organiser,
        stakeholder_input(codes::GUODIANZI, &[listed.id.as_str()]),
    )
    .await;
    let mut widened = stakeholder_input(codes::GUODIANZI, &[listed.id.as_str(), far.id.as_str()]);
    widened["title"] = json!("改过的标题");
    let refused = app
        .gql(
            Some(&organiser.access_token),
            UPDATE,
            json!({ "id": id, "i": widened }),
        )
        .await;
    assert_eq!(error_field(&refused), Some("stakeholderUserIds"));
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM topic_stakeholders WHERE topic_id = {id}"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM topics WHERE id = {id} AND title = '土地流转方案'"
        ))
        .await,
        1
    );

    // A matter crossing villages belongs to the township: its organiser may
    // list the residents of both.
    let township = app.with_role(Role::Organiser, codes::XIAGUANYING).await;
    create(
        &app,
        &township,
        stakeholder_input(
            codes::XIAGUANYING,
            &[listed.id.as_str(), neighbour.id.as_str()],
        ),
    )
    .await;

    // A stakeholder who moves out of the scope after being listed no longer
    // takes part there.
    step(&app, &organiser, "announceTopic", &id).await;
    step(&app, &organiser, "openTopic", &id).await;
    yishi::domain::residency::grant(&app.services, listed.id.parse().unwrap(), codes::XINGLONGLU)
        .await
        .unwrap();
    let moved = app
        .gql(
            Some(&listed.access_token),
            "mutation($t: ID!) { submitOpinion(topicId: $t, stance: SUPPORT) { id } }",
            json!({ "t": id }),
        )
        .await;
    assert_eq!(error_code(&moved), Some("FORBIDDEN"), "{moved}");
}

/// The ids of `topics(…)` as `who` lists them with `args`.
async fn listed_ids(app: &TestApp, who: Option<&Account>, args: &str) -> Vec<String> {
    let data = app
        .ok(
            who.map(|a| a.access_token.as_str()),
            &format!("{{ topics{args} {{ nodes {{ id }} }} }}"),
            json!({}),
        )
        .await;
    data["topics"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_draft_withdrawn_before_its_announcement_stays_with_the_staff(backend: Backend) {
    let app = spawn_app(backend).await;
    let organiser = app.with_role(Role::Organiser, codes::XIAGUANYING).await;
    let supervisor = app.with_role(Role::Supervisor, codes::YUZHONG).await;
    let elsewhere = app
        .with_role(Role::Organiser, codes::CHENGGUAN_DISTRICT)
        .await;
    let resident = app.resident(codes::GUODIANZI).await;
    let withdraw =
        "mutation($id: ID!) { withdrawTopic(id: $id, reason: \"方案需重新论证\") { state } }";

    let draft = create(&app, &organiser, topic_input(codes::XIAGUANYING)).await;
    let announced = create(&app, &organiser, topic_input(codes::XIAGUANYING)).await;
    step(&app, &organiser, "announceTopic", &announced).await;
    for id in [&draft, &announced] {
        let done = app
            .ok(Some(&organiser.access_token), withdraw, json!({ "id": id }))
            .await;
        assert_eq!(done["withdrawTopic"]["state"], "WITHDRAWN");
    }

    let lists = [
        "",
        "(states: [WITHDRAWN])",
        "(forDivision: \"620123101201\")",
        "(withinDivision: \"620123101\", states: [DRAFT, WITHDRAWN])",
    ];
    let by_id = "query($id: ID!) { topic(id: $id) { id state withdrawReason } }";
    for viewer in [None, Some(&resident), Some(&elsewhere)] {
        let hidden = app
            .gql(
                viewer.map(|a| a.access_token.as_str()),
                by_id,
                json!({ "id": draft }),
            )
            .await;
        assert_eq!(error_code(&hidden), Some("NOT_FOUND"), "{hidden}");
        let results = app
            .gql(
                viewer.map(|a| a.access_token.as_str()),
                "query($id: ID!) { topicResults(topicId: $id) { overall { total } } }",
                json!({ "id": draft }),
            )
            .await;
        assert_eq!(error_code(&results), Some("NOT_FOUND"), "{results}");
        // What residents were told of stays public, with its reason.
        let public = app
            .ok(
                viewer.map(|a| a.access_token.as_str()),
                by_id,
                json!({ "id": announced }),
            )
            .await;
        assert_eq!(public["topic"]["state"], "WITHDRAWN");
        assert_eq!(public["topic"]["withdrawReason"], "方案需重新论证");
        for args in lists {
            let ids = listed_ids(&app, viewer, args).await;
            assert!(!ids.contains(&draft), "{args}: {ids:?}");
            assert!(ids.contains(&announced), "{args}: {ids:?}");
        }
    }
    // Giving an opinion on it reads as on a topic that does not exist.
    let vote = app
        .gql(
            Some(&resident.access_token),
            "mutation($t: ID!) { submitOpinion(topicId: $t, stance: SUPPORT) { id } }",
            json!({ "t": draft }),
        )
        .await;
    assert_eq!(error_code(&vote), Some("NOT_FOUND"), "{vote}");

    // The staff of the scope still account for it.
    for staff in [&organiser, &supervisor] {
        let seen = app
            .ok(Some(&staff.access_token), by_id, json!({ "id": draft }))
            .await;
        assert_eq!(seen["topic"]["state"], "WITHDRAWN");
        let ids = listed_ids(&app, Some(staff), "(states: [WITHDRAWN])").await;
        assert!(ids.contains(&draft) && ids.contains(&announced), "{ids:?}");
    }
}

/// An open topic in 过店子村 with a meeting of `attendees`, by a fresh
/// organiser: (topic, meeting, organiser).
async fn topic_with_meeting(app: &TestApp, attendees: i32) -> (String, String, Account) {
    let organiser = app.with_role(Role::Organiser, codes::GUODIANZI).await;
    let id = create(app, &organiser, topic_input(codes::GUODIANZI)).await;
    step(app, &organiser, "announceTopic", &id).await;
    step(app, &organiser, "openTopic", &id).await;
    let meeting = app
        .ok(
            Some(&organiser.access_token),
            "mutation($t: ID!, $i: MeetingInput!) { recordMeeting(topicId: $t, input: $i) { id } }",
            json!({ "t": id, "i": { "heldAt": Utc::now().to_rfc3339(), "place": "村委会", "attendees": attendees, "minutes": "议土地流转。" } }),
        )
        .await["recordMeeting"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, meeting, organiser)
}

fn by_name(topic: &str, meeting: &str, name: &str, stance: &str) -> Value {
    json!({ "i": { "topicId": topic, "meetingId": meeting, "residentName": name, "villageCode": codes::GUODIANZI, "stance": stance } })
}

async fn proxy_audits(app: &TestApp, organiser: &Account, topic: &str, meeting: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'opinion.proxy' \
         AND actor_user_id = {} AND subject_type = 'topic' AND subject_id = '{topic}' \
         AND detail LIKE '%\"meeting_id\":{meeting},%'",
        organiser.id
    ))
    .await
}

async fn every_proxy_opinion_is_audited_and_a_meeting_takes_no_more_than_attended(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (topic, meeting, organiser) = topic_with_meeting(&app, 2).await;
    let elder = app.resident(codes::GUODIANZI).await;
    let token = Some(organiser.access_token.as_str());

    let for_elder = json!({ "i": { "topicId": topic, "meetingId": meeting, "userId": elder.id, "stance": "SUPPORT" } });
    app.ok(token, PROXY, for_elder.clone()).await;
    let named = app
        .ok(token, PROXY, by_name(&topic, &meeting, "赵奶奶", "OPPOSE"))
        .await;
    assert_eq!(named["recordProxyOpinion"]["meetingId"], meeting.as_str());
    // Both audited, the one recorded by name too.
    assert_eq!(proxy_audits(&app, &organiser, &topic, &meeting).await, 2);

    // Two attended; a third opinion at that meeting is refused.
    let third = app
        .gql(token, PROXY, by_name(&topic, &meeting, "钱大爷", "SUPPORT"))
        .await;
    assert_eq!(error_code(&third), Some("CONFLICT"), "{third}");
    // Correcting the elder's adds no one and is audited as well.
    let mut corrected = for_elder.clone();
    corrected["i"]["stance"] = json!("ABSTAIN");
    app.ok(token, PROXY, corrected).await;
    assert_eq!(proxy_audits(&app, &organiser, &topic, &meeting).await, 3);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM opinions WHERE meeting_id = {meeting}"
        ))
        .await,
        2
    );
    assert_eq!(
        app.count("SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM tallies")
            .await,
        2,
        "the refused opinion moved no counter"
    );
}

/// A second Yishi instance serving the same database (PostgreSQL), as
/// behind a load balancer: its own writer, its own connections.
async fn second_instance(
    app: &TestApp,
) -> (String, tokio::task::JoinHandle<()>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let services = yishi::init_services_with_clock(
        test_settings(&app.db.url, dir.path()),
        Arc::new(TestClock::default()),
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = yishi::build_app(services);
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    (format!("http://{addr}"), server, dir)
}

async fn concurrent_proxy_recordings_never_outnumber_the_meetings_attendance(backend: Backend) {
    const ATTENDED: usize = 3;
    const RECORDINGS: usize = 16;
    let app = spawn_app(backend).await;
    let (topic, meeting, organiser) = topic_with_meeting(&app, ATTENDED as i32).await;
    // On PostgreSQL half the recordings go to a second instance, so two
    // writers' transactions really overlap.
    let second = match backend {
        Backend::Postgres => Some(second_instance(&app).await),
        Backend::Sqlite => None,
    };
    let urls: Vec<String> = match &second {
        Some((url, _, _)) => vec![app.url.clone(), url.clone()],
        None => vec![app.url.clone()],
    };
    let requests = (0..RECORDINGS).map(|n| {
        let request = app
            .client
            .post(format!("{}/graphql", urls[n % urls.len()]))
            .bearer_auth(&organiser.access_token)
            .json(&json!({
                "query": PROXY,
                "variables": by_name(&topic, &meeting, &format!("村民{n}"), "SUPPORT"),
            }));
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    });
    let answers = futures::future::join_all(requests).await;
    let recorded = answers.iter().filter(|a| a.get("errors").is_none()).count();
    let refused: Vec<&Value> = answers
        .iter()
        .filter(|a| a.get("errors").is_some())
        .collect();
    assert_eq!(recorded, ATTENDED, "{answers:#?}");
    assert!(
        refused.iter().all(|a| error_code(a) == Some("CONFLICT")),
        "{refused:#?}"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM opinions WHERE meeting_id = {meeting}"
        ))
        .await,
        ATTENDED as i64
    );
    assert_eq!(
        app.count("SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM tallies")
            .await,
        ATTENDED as i64
    );
    assert_eq!(
        proxy_audits(&app, &organiser, &topic, &meeting).await,
        ATTENDED as i64
    );
    if let Some((_, server, _)) = second {
        server.abort();
    }
}

db_tests!(
    user_by_email_finds_only_the_people_of_the_viewers_divisions,
    nobody_decides_their_own_residency_request,
    a_stakeholder_list_takes_verified_residents_of_the_scope_only,
    a_draft_withdrawn_before_its_announcement_stays_with_the_staff,
    every_proxy_opinion_is_audited_and_a_meeting_takes_no_more_than_attended,
    concurrent_proxy_recordings_never_outnumber_the_meetings_attendance,
);
