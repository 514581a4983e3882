use serde_json::json;
use yishi::domain::authz::Role;
use yishi_tests::{codes, db_tests, error_code, error_field, spawn_app, Backend};

const REQUEST: &str = "mutation($v: String!, $n: String) { requestResidency(villageCode: $v, note: $n) { id status divisionCode division { name } } }";
const APPROVE: &str = "mutation($id: ID!) { approveResidency(id: $id) { id status } }";
const REJECT: &str = "mutation($id: ID!, $r: String!) { rejectResidency(id: $id, reason: $r) { id status decisionReason } }";
const QUEUE: &str = "query($d: String) { residencyRequests(divisionCode: $d) { edges { node { id user { displayName email } note } } } }";
const ASSIGN: &str = "mutation($u: ID!, $r: Role!, $d: String!) { assignRole(userId: $u, role: $r, divisionCode: $d) { id role divisionCode } }";

async fn an_organiser_of_the_township_approves_a_resident(backend: Backend) {
    let app = spawn_app(backend).await;
    let resident = app.register("王大爷").await;
    let organiser = app.with_role(Role::Organiser, codes::XIAGUANYING).await;
    let req = app
        .ok(
            Some(&resident.access_token),
            REQUEST,
            json!({ "v": codes::GUODIANZI, "n": "三组 12 号" }),
        )
        .await;
    assert_eq!(req["requestResidency"]["status"], "PENDING");
    let id = req["requestResidency"]["id"].as_str().unwrap().to_owned();

    let queue = app
        .ok(Some(&organiser.access_token), QUEUE, json!({}))
        .await;
    let edges = queue["residencyRequests"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0]["node"]["note"], "三组 12 号");

    let approved = app
        .ok(Some(&organiser.access_token), APPROVE, json!({ "id": id }))
        .await;
    assert_eq!(approved["approveResidency"]["status"], "APPROVED");
    let me = app
        .ok(
            Some(&resident.access_token),
            "{ me { residency { divisionCode status } } }",
            json!({}),
        )
        .await;
    assert_eq!(me["me"]["residency"]["divisionCode"], codes::GUODIANZI);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'residency_approved'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'residency.approve'")
            .await,
        1
    );

    let twice = app
        .gql(Some(&organiser.access_token), APPROVE, json!({ "id": id }))
        .await;
    assert_eq!(error_code(&twice), Some("CONFLICT"));
}

async fn an_organiser_outside_the_division_is_forbidden(backend: Backend) {
    let app = spawn_app(backend).await;
    let resident = app.register("李阿姨").await;
    let other_town = app.with_role(Role::Organiser, codes::CHENGGUAN_TOWN).await;
    let supervisor = app.with_role(Role::Supervisor, codes::YUZHONG).await;
    let neighbour = app.resident(codes::GUODIANZI).await;
    let req = app
        .ok(
            Some(&resident.access_token),
            REQUEST,
            json!({ "v": codes::GUODIANZI }),
        )
        .await;
    let id = req["requestResidency"]["id"].as_str().unwrap();
    for who in [&other_town, &supervisor, &neighbour] {
        let resp = app
            .gql(Some(&who.access_token), APPROVE, json!({ "id": id }))
            .await;
        assert_eq!(error_code(&resp), Some("FORBIDDEN"), "{resp}");
    }
    let listed = app
        .gql(
            Some(&other_town.access_token),
            QUEUE,
            json!({ "d": codes::XIAGUANYING }),
        )
        .await;
    assert_eq!(error_code(&listed), Some("FORBIDDEN"));
    let own = app
        .ok(Some(&other_town.access_token), QUEUE, json!({}))
        .await;
    assert!(own["residencyRequests"]["edges"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        app.count("SELECT COUNT(*) FROM residencies WHERE status = 'pending'")
            .await,
        1
    );
}

async fn a_rejection_needs_a_reason_and_is_emailed(backend: Backend) {
    let app = spawn_app(backend).await;
    let resident = app.register("张师傅").await;
    let organiser = app.with_role(Role::Organiser, codes::GUODIANZI).await;
    let req = app
        .ok(
            Some(&resident.access_token),
            REQUEST,
            json!({ "v": codes::GUODIANZI }),
        )
        .await;
    let id = req["requestResidency"]["id"].as_str().unwrap();
    let blank = app
        .gql(
            Some(&organiser.access_token),
            REJECT,
            json!({ "id": id, "r": "  " }),
        )
        .await;
    assert_eq!(error_field(&blank), Some("reason"));
    let rejected = app
        .ok(
            Some(&organiser.access_token),
            REJECT,
            json!({ "id": id, "r": "户籍不在本村" }),
        )
        .await;
    assert_eq!(
        rejected["rejectResidency"]["decisionReason"],
        "户籍不在本村"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'residency_rejected'")
            .await,
        1
    );
    // Rejected: the resident may ask again.
    app.ok(
        Some(&resident.access_token),
        REQUEST,
        json!({ "v": codes::GUODIANZI }),
    )
    .await;
}

async fn residency_is_for_villages_and_one_request_at_a_time(backend: Backend) {
    let app = spawn_app(backend).await;
    let resident = app.register("刘婶").await;
    let township = app
        .gql(
            Some(&resident.access_token),
            REQUEST,
            json!({ "v": codes::XIAGUANYING }),
        )
        .await;
    assert_eq!(error_field(&township), Some("villageCode"));
    let unknown = app
        .gql(
            Some(&resident.access_token),
            REQUEST,
            json!({ "v": "620123101998" }),
        )
        .await;
    assert_eq!(error_code(&unknown), Some("NOT_FOUND"));
    let anonymous = app
        .gql(None, REQUEST, json!({ "v": codes::GUODIANZI }))
        .await;
    assert_eq!(error_code(&anonymous), Some("UNAUTHENTICATED"));
    app.ok(
        Some(&resident.access_token),
        REQUEST,
        json!({ "v": codes::GUODIANZI }),
    )
    .await;
    let second = app
        .gql(
            Some(&resident.access_token),
            REQUEST,
            json!({ "v": codes::TAIPINGBAO }),
        )
        .await;
    assert_eq!(error_code(&second), Some("CONFLICT"));
    app.ok(
        Some(&resident.access_token),
        "mutation { cancelResidencyRequest }",
        json!({}),
    )
    .await;
    app.ok(
        Some(&resident.access_token),
        REQUEST,
        json!({ "v": codes::TAIPINGBAO }),
    )
    .await;
}

async fn moving_supersedes_the_earlier_residency(backend: Backend) {
    let app = spawn_app(backend).await;
    let resident = app.resident(codes::GUODIANZI).await;
    let organiser = app.with_role(Role::Organiser, codes::YUZHONG).await;
    let req = app
        .ok(
            Some(&resident.access_token),
            REQUEST,
            json!({ "v": codes::XINGLONGLU }),
        )
        .await;
    app.ok(
        Some(&organiser.access_token),
        APPROVE,
        json!({ "id": req["requestResidency"]["id"] }),
    )
    .await;
    let history = app
        .ok(
            Some(&resident.access_token),
            "{ myResidencyRequests { divisionCode status } }",
            json!({}),
        )
        .await;
    let statuses: Vec<(&str, &str)> = history["myResidencyRequests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["divisionCode"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (codes::XINGLONGLU, "APPROVED"),
            (codes::GUODIANZI, "SUPERSEDED")
        ]
    );
}

async fn an_admin_assigns_roles_within_its_division_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let county_admin = app.with_role(Role::Admin, codes::YUZHONG).await;
    let organiser = app.with_role(Role::Organiser, codes::YUZHONG).await;
    let user = app.register("新组织者").await;

    let assigned = app
        .ok(
            Some(&county_admin.access_token),
            ASSIGN,
            json!({ "u": user.id, "r": "ORGANISER", "d": codes::XIAGUANYING }),
        )
        .await;
    assert_eq!(assigned["assignRole"]["role"], "ORGANISER");
    let dup = app
        .gql(
            Some(&county_admin.access_token),
            ASSIGN,
            json!({ "u": user.id, "r": "ORGANISER", "d": codes::XIAGUANYING }),
        )
        .await;
    assert_eq!(error_code(&dup), Some("CONFLICT"));
    let outside = app
        .gql(
            Some(&county_admin.access_token),
            ASSIGN,
            json!({ "u": user.id, "r": "SUPERVISOR", "d": codes::CHENGGUAN_DISTRICT }),
        )
        .await;
    assert_eq!(error_code(&outside), Some("FORBIDDEN"));
    let not_admin = app
        .gql(
            Some(&organiser.access_token),
            ASSIGN,
            json!({ "u": user.id, "r": "SUPERVISOR", "d": codes::XIAGUANYING }),
        )
        .await;
    assert_eq!(error_code(&not_admin), Some("FORBIDDEN"));
    let bad_id = app
        .gql(
            Some(&county_admin.access_token),
            ASSIGN,
            json!({ "u": "abc", "r": "SUPERVISOR", "d": codes::XIAGUANYING }),
        )
        .await;
    assert_eq!(error_field(&bad_id), Some("userId"));

    // The new organiser can now act in 夏官营镇.
    let roles = app
        .ok(
            Some(&user.access_token),
            "{ me { roles { role divisionCode } } }",
            json!({}),
        )
        .await;
    assert_eq!(roles["me"]["roles"][0]["divisionCode"], codes::XIAGUANYING);
    let listed = app
        .ok(
            Some(&county_admin.access_token),
            "query($u: ID) { roleAssignments(userId: $u) { id role } }",
            json!({ "u": user.id }),
        )
        .await;
    let id = listed["roleAssignments"][0]["id"].as_str().unwrap();
    app.ok(
        Some(&county_admin.access_token),
        "mutation($id: ID!) { revokeRole(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action IN ('role.assign', 'role.revoke')")
            .await,
        2
    );
}

db_tests!(
    an_organiser_of_the_township_approves_a_resident,
    an_organiser_outside_the_division_is_forbidden,
    a_rejection_needs_a_reason_and_is_emailed,
    residency_is_for_villages_and_one_request_at_a_time,
    moving_supersedes_the_earlier_residency,
    an_admin_assigns_roles_within_its_division_only,
);
