use std::time::Duration;

use serde_json::json;
use yishi_tests::{
    codes, db_tests, error_code, error_field, spawn_app, Backend, TestApp, PASSWORD,
};

const REGISTER: &str = "mutation($input: RegisterInput!) { register(input: $input) { email } }";
const LOGIN: &str = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken refreshToken user { id email displayName emailVerified } } }";
const REFRESH: &str =
    "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }";
const ME: &str = "{ me { id email } }";

fn register_vars(email: &str, password: &str) -> serde_json::Value {
    json!({ "input": { "email": email, "password": password, "displayName": "王大爷" } })
}

/// The raw token in the newest email of `kind` to `email`, from its link as
/// the worker opens it for delivery (the row holds it sealed). A reset email
/// is queued just after the answer, so it may take a moment to appear.
pub async fn token_from_outbox(app: &TestApp, kind: &str, email: &str) -> String {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    use yishi::entities::outbox;
    let mut row = None;
    for _ in 0..100 {
        row = outbox::Entity::find()
            .filter(outbox::Column::Kind.eq(kind))
            .filter(outbox::Column::Recipient.eq(email))
            .order_by_desc(outbox::Column::Id)
            .one(app.services.db.reader())
            .await
            .unwrap();
        if row.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let row = row.expect("an email was queued");
    let payload = yishi::domain::outbox::reveal(&app.services, &row).unwrap();
    let link = payload["link"].as_str().unwrap();
    assert!(link.starts_with("http://yishi.test/"), "{link}");
    link.split("token=").nth(1).unwrap().to_owned()
}

async fn registering_queues_one_verification_email_and_the_password_signs_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = TestApp::unique_email("Wang.");
    let data = app
        .ok(None, REGISTER, register_vars(&email, PASSWORD))
        .await;
    assert_eq!(data["register"]["email"], email.to_lowercase());
    let signed_in = app
        .ok(None, LOGIN, json!({ "e": email, "p": PASSWORD }))
        .await;
    let user = &signed_in["login"]["user"];
    assert_eq!(user["email"], email.to_lowercase());
    assert_eq!(user["emailVerified"], false);
    let token = signed_in["login"]["accessToken"].as_str().unwrap();
    let me = app.ok(Some(token), ME, json!({})).await;
    assert_eq!(me["me"]["id"], user["id"]);
    let queued = app
        .count(&format!(
            "SELECT COUNT(*) FROM outbox WHERE kind = 'verify_email' AND recipient = '{}'",
            email.to_lowercase()
        ))
        .await;
    assert_eq!(queued, 1);
    let hash = app
        .count("SELECT COUNT(*) FROM users WHERE password_hash LIKE '$argon2id$%'")
        .await;
    assert_eq!(hash, 1);
}

async fn registering_a_taken_address_answers_like_a_new_one_and_tells_its_owner(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = TestApp::unique_email("li");
    let first = app
        .ok(None, REGISTER, register_vars(&email, PASSWORD))
        .await;
    let again = app
        .ok(
            None,
            REGISTER,
            register_vars(&email.to_uppercase(), "另一个人的-密码-2026-黄河"),
        )
        .await;
    assert_eq!(again, first, "the same answer for a taken address");
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'verify_email'")
            .await,
        1,
        "no second verification email"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM outbox WHERE kind = 'registration_attempt' AND recipient = '{}'",
            email.to_lowercase()
        ))
        .await,
        1,
        "the owner is told instead"
    );
    // The owner's password still stands; the second one opens nothing.
    app.ok(None, LOGIN, json!({ "e": email, "p": PASSWORD }))
        .await;
    let other = app
        .gql(
            None,
            LOGIN,
            json!({ "e": email, "p": "另一个人的-密码-2026-黄河" }),
        )
        .await;
    assert_eq!(error_code(&other), Some("UNAUTHENTICATED"));
}

async fn malformed_email_and_weak_password_are_bad_input_naming_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let bad_email = app
        .gql(None, REGISTER, register_vars("not-an-email", PASSWORD))
        .await;
    assert_eq!(error_code(&bad_email), Some("BAD_USER_INPUT"));
    assert_eq!(error_field(&bad_email), Some("email"));
    let weak = app
        .gql(
            None,
            REGISTER,
            register_vars(&TestApp::unique_email("z"), "password1"),
        )
        .await;
    assert_eq!(error_code(&weak), Some("BAD_USER_INPUT"));
    assert_eq!(error_field(&weak), Some("password"));
    let bad_locale = app
        .gql(None, REGISTER, json!({ "input": { "email": TestApp::unique_email("l"), "password": PASSWORD, "displayName": "x", "locale": "fr" } }))
        .await;
    assert_eq!(error_field(&bad_locale), Some("locale"));
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
}

async fn unknown_email_and_wrong_password_get_the_same_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let account = app.register("张三").await;
    let wrong_password = app
        .gql(
            None,
            LOGIN,
            json!({ "e": account.email, "p": "not-the-password-2026" }),
        )
        .await;
    let unknown = app
        .gql(
            None,
            LOGIN,
            json!({ "e": "nobody@example.cn", "p": PASSWORD }),
        )
        .await;
    assert_eq!(error_code(&wrong_password), Some("UNAUTHENTICATED"));
    assert_eq!(
        wrong_password["errors"][0]["message"],
        unknown["errors"][0]["message"]
    );
    assert_eq!(
        wrong_password["errors"][0]["extensions"],
        unknown["errors"][0]["extensions"]
    );
    let ok = app
        .ok(
            None,
            LOGIN,
            json!({ "e": account.email.to_uppercase(), "p": PASSWORD }),
        )
        .await;
    assert_eq!(ok["login"]["user"]["id"], account.id.as_str());
}

async fn a_refresh_token_works_once_and_its_reuse_signs_out_the_family(backend: Backend) {
    let app = spawn_app(backend).await;
    let account = app.register("李四").await;
    let first = app
        .ok(None, REFRESH, json!({ "t": account.refresh_token }))
        .await;
    let second_token = first["refreshToken"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(second_token, account.refresh_token);

    // The old token again: theft is assumed, the whole family is revoked...
    let reuse = app
        .gql(None, REFRESH, json!({ "t": account.refresh_token }))
        .await;
    assert_eq!(error_code(&reuse), Some("UNAUTHENTICATED"));
    // ...including the token issued by the legitimate rotation.
    let after = app.gql(None, REFRESH, json!({ "t": second_token })).await;
    assert_eq!(error_code(&after), Some("UNAUTHENTICATED"));

    // A separate sign-in is a separate family and still works.
    let other = app
        .ok(None, LOGIN, json!({ "e": account.email, "p": PASSWORD }))
        .await;
    app.ok(
        None,
        REFRESH,
        json!({ "t": other["login"]["refreshToken"] }),
    )
    .await;
}

async fn logout_revokes_the_refresh_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let account = app.register("赵六").await;
    let data = app
        .ok(
            None,
            "mutation($t: String!) { logout(refreshToken: $t) }",
            json!({ "t": account.refresh_token }),
        )
        .await;
    assert_eq!(data["logout"], true);
    let refreshed = app
        .gql(None, REFRESH, json!({ "t": account.refresh_token }))
        .await;
    assert_eq!(error_code(&refreshed), Some("UNAUTHENTICATED"));
}

async fn expired_tampered_and_foreign_access_tokens_are_unauthenticated(backend: Backend) {
    let app = spawn_app(backend).await;
    let account = app.register("钱七").await;
    let user_id: i32 = account.id.parse().unwrap();
    let (expired, _) = app
        .services
        .jwt
        .issue(user_id, chrono::Utc::now() - chrono::Duration::hours(2));
    let mut tampered = account.access_token.clone();
    tampered.replace_range(tampered.len() - 4.., "AAAA");
    let foreign = yishi::auth::jwt::JwtKeys::new(
        b"some-other-deployment-secret-0000",
        Duration::from_secs(600),
    )
    .issue(user_id, chrono::Utc::now())
    .0;
    for token in [
        expired.as_str(),
        tampered.as_str(),
        foreign.as_str(),
        "garbage",
    ] {
        let resp = app.gql(Some(token), ME, json!({})).await;
        assert_eq!(
            error_code(&resp),
            Some("UNAUTHENTICATED"),
            "{token}: {resp}"
        );
    }
    let expired_resp = app.gql(Some(&expired), ME, json!({})).await;
    assert!(expired_resp["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));
    // No token at all is simply anonymous.
    assert_eq!(
        app.ok(None, ME, json!({})).await["me"],
        serde_json::Value::Null
    );
}

async fn changing_the_password_needs_the_current_one_and_signs_out_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    let account = app.register("孙八").await;
    let change = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";
    let wrong = app
        .gql(
            Some(&account.access_token),
            change,
            json!({ "c": "wrong-password-2026", "n": "新的密码-黄河-2027-长城" }),
        )
        .await;
    assert_eq!(error_field(&wrong), Some("currentPassword"));
    let weak = app
        .gql(
            Some(&account.access_token),
            change,
            json!({ "c": PASSWORD, "n": "12345678" }),
        )
        .await;
    assert_eq!(error_field(&weak), Some("newPassword"));
    app.ok(
        Some(&account.access_token),
        change,
        json!({ "c": PASSWORD, "n": "新的密码-黄河-2027-长城" }),
    )
    .await;
    assert_eq!(
        error_code(
            &app.gql(None, REFRESH, json!({ "t": account.refresh_token }))
                .await
        ),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        error_code(
            &app.gql(None, LOGIN, json!({ "e": account.email, "p": PASSWORD }))
                .await
        ),
        Some("UNAUTHENTICATED")
    );
    app.ok(
        None,
        LOGIN,
        json!({ "e": account.email, "p": "新的密码-黄河-2027-长城" }),
    )
    .await;
}

async fn a_password_reset_link_works_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let account = app.register("周九").await;
    let request = "mutation($e: String!) { requestPasswordReset(email: $e) }";
    // Unknown addresses get the same answer and queue nothing.
    assert_eq!(
        app.ok(None, request, json!({ "e": "nobody@example.cn" }))
            .await["requestPasswordReset"],
        true
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'password_reset'")
            .await,
        0
    );
    app.ok(None, request, json!({ "e": account.email })).await;
    let token = token_from_outbox(&app, "password_reset", &account.email).await;

    let reset = "mutation($t: String!, $n: String!) { resetPassword(token: $t, newPassword: $n) }";
    let new_password = "重设以后-渭河-2028-麦田";
    app.ok(None, reset, json!({ "t": token, "n": new_password }))
        .await;
    let again = app
        .gql(
            None,
            reset,
            json!({ "t": token, "n": "另一个密码-祁连-2029-雪山" }),
        )
        .await;
    assert_eq!(error_field(&again), Some("token"));
    let bogus = app
        .gql(None, reset, json!({ "t": "bogus", "n": new_password }))
        .await;
    assert_eq!(error_code(&bogus), Some("BAD_USER_INPUT"));
    app.ok(
        None,
        LOGIN,
        json!({ "e": account.email, "p": new_password }),
    )
    .await;
    // Sessions from before the reset are gone.
    assert_eq!(
        error_code(
            &app.gql(None, REFRESH, json!({ "t": account.refresh_token }))
                .await
        ),
        Some("UNAUTHENTICATED")
    );
}

async fn a_reset_link_expires_after_an_hour(backend: Backend) {
    let app = spawn_app(backend).await;
    let account = app.register("吴十").await;
    app.ok(
        None,
        "mutation($e: String!) { requestPasswordReset(email: $e) }",
        json!({ "e": account.email }),
    )
    .await;
    let token = token_from_outbox(&app, "password_reset", &account.email).await;
    app.clock.advance(chrono::Duration::minutes(61));
    let late = app
        .gql(
            None,
            "mutation($t: String!, $n: String!) { resetPassword(token: $t, newPassword: $n) }",
            json!({ "t": token, "n": "太迟了-敦煌-2030-飞天" }),
        )
        .await;
    assert_eq!(error_field(&late), Some("token"));
}

async fn the_verification_link_marks_the_email_verified(backend: Backend) {
    let app = spawn_app(backend).await;
    let account = app.register("郑十一").await;
    let token = token_from_outbox(&app, "verify_email", &account.email).await;
    let verified = app
        .ok(
            None,
            "mutation($t: String!) { verifyEmail(token: $t) { emailVerified } }",
            json!({ "t": token }),
        )
        .await;
    assert_eq!(verified["verifyEmail"]["emailVerified"], true);
    let resend = app
        .gql(
            Some(&account.access_token),
            "mutation { resendVerificationEmail }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&resend), Some("CONFLICT"));
}

async fn two_hundred_concurrent_registrations_all_succeed(backend: Backend) {
    let app = spawn_app(backend).await;
    let tasks = (0..200).map(|i| {
        let app = &app;
        async move {
            let email = format!("crowd{i}@example.cn");
            app.gql(None, REGISTER, register_vars(&email, PASSWORD))
                .await
        }
    });
    let results = futures::future::join_all(tasks).await;
    for resp in &results {
        assert!(resp.get("errors").is_none(), "{resp}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 200);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'verify_email'")
            .await,
        200
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM refresh_tokens").await, 0);
}

/// The language of my emails and pages can be changed after sign-up.
async fn a_user_changes_the_language_of_their_emails(backend: Backend) {
    let app = spawn_app(backend).await;
    let resident = app.resident(codes::GUODIANZI).await;
    let set = "mutation($l: String!) { setMyLocale(locale: $l) { locale } }";
    let changed = app
        .ok(Some(&resident.access_token), set, json!({ "l": "en" }))
        .await;
    assert_eq!(changed["setMyLocale"]["locale"], "en");
    let me = app
        .ok(Some(&resident.access_token), "{ me { locale } }", json!({}))
        .await;
    assert_eq!(me["me"]["locale"], "en");
    let bad = app
        .gql(Some(&resident.access_token), set, json!({ "l": "fr" }))
        .await;
    assert_eq!(error_code(&bad), Some("BAD_USER_INPUT"));
    assert_eq!(error_field(&bad), Some("locale"));
    let anonymous = app.gql(None, set, json!({ "l": "en" })).await;
    assert_eq!(error_code(&anonymous), Some("UNAUTHENTICATED"));
}

db_tests!(
    a_user_changes_the_language_of_their_emails,
    registering_queues_one_verification_email_and_the_password_signs_in,
    registering_a_taken_address_answers_like_a_new_one_and_tells_its_owner,
    malformed_email_and_weak_password_are_bad_input_naming_the_field,
    unknown_email_and_wrong_password_get_the_same_answer,
    a_refresh_token_works_once_and_its_reuse_signs_out_the_family,
    logout_revokes_the_refresh_token,
    expired_tampered_and_foreign_access_tokens_are_unauthenticated,
    changing_the_password_needs_the_current_one_and_signs_out_sessions,
    a_password_reset_link_works_once,
    a_reset_link_expires_after_an_hour,
    the_verification_link_marks_the_email_verified,
    two_hundred_concurrent_registrations_all_succeed,
);
