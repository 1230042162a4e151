//! Members: listing, adding (existing or new users), changing roles, removing, and the
//! last-owner rule.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn members_are_added_changed_and_removed() {
    let app = spawn_app().await;
    app.tenant("acme", "alice@acme.test").await;
    app.tenant("globex", "hank@globex.test").await;
    let t = app.login("acme", "alice@acme.test").await;
    let h = host("acme");

    // A new user, created with a password.
    let r = app
        .post(
            &h,
            "/api/v1/members",
            Some(&t),
            json!({"email": "bob@acme.test", "role": "recruiter", "password": PASSWORD}),
        )
        .await;
    let bob = r.ok(201).clone();
    assert_eq!(bob["role"], "recruiter");
    let bob_id = bob["user_id"].as_i64().unwrap();
    app.login("acme", "bob@acme.test").await;
    // An existing user (hank of globex), no password needed.
    let r = app
        .post(
            &h,
            "/api/v1/members",
            Some(&t),
            json!({"email": "hank@globex.test", "role": "viewer"}),
        )
        .await;
    let hank_id = r.ok(201)["user_id"].as_i64().unwrap();
    // Twice is a conflict; a new user without password is a 422.
    app.post(
        &h,
        "/api/v1/members",
        Some(&t),
        json!({"email": "hank@globex.test", "role": "viewer"}),
    )
    .await
    .expect(409, "conflict");
    let r = app
        .post(
            &h,
            "/api/v1/members",
            Some(&t),
            json!({"email": "new@acme.test", "role": "viewer"}),
        )
        .await;
    r.expect(422, "validation_failed");
    assert!(r.body["error"]["fields"]["password"].is_string());
    app.post(
        &h,
        "/api/v1/members",
        Some(&t),
        json!({"email": "x@acme.test", "role": "king", "password": PASSWORD}),
    )
    .await
    .expect(422, "validation_failed");

    let list = app.get(&h, "/api/v1/members", Some(&t)).await;
    let emails: Vec<String> = list.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(emails.len(), 3);
    assert!(emails.contains(&"hank@globex.test".to_owned()));

    let r = app
        .patch(
            &h,
            &format!("/api/v1/members/{bob_id}"),
            Some(&t),
            json!({"role": "hr_manager"}),
        )
        .await;
    assert_eq!(r.ok(200)["role"], "hr_manager");

    // Removing hank from acme revokes his acme sessions and leaves globex alone.
    let hank_acme = app.login("acme", "hank@globex.test").await;
    assert_eq!(
        app.delete(&h, &format!("/api/v1/members/{hank_id}"), Some(&t))
            .await
            .status,
        204
    );
    app.get(&h, "/api/v1/me", Some(&hank_acme))
        .await
        .expect(401, "unauthenticated");
    app.login("globex", "hank@globex.test").await;
    app.delete(&h, "/api/v1/members/999999", Some(&t))
        .await
        .expect(404, "not_found");
}

#[tokio::test]
async fn the_last_owner_stays_and_admins_cannot_touch_owners() {
    let app = spawn_app().await;
    let acme = app.tenant("acme", "alice@acme.test").await;
    let alice_id = app
        .engine()
        .user_by_email("alice@acme.test")
        .await
        .unwrap()
        .unwrap()
        .id;
    app.member(&acme, "adam@acme.test", "admin").await;
    let alice = app.login("acme", "alice@acme.test").await;
    let adam = app.login("acme", "adam@acme.test").await;
    let h = host("acme");

    app.patch(
        &h,
        &format!("/api/v1/members/{alice_id}"),
        Some(&alice),
        json!({"role": "admin"}),
    )
    .await
    .expect(409, "conflict");
    app.delete(&h, &format!("/api/v1/members/{alice_id}"), Some(&alice))
        .await
        .expect(409, "conflict");
    // An admin cannot demote or remove an owner, nor make one.
    let r = app
        .patch(
            &h,
            &format!("/api/v1/members/{alice_id}"),
            Some(&adam),
            json!({"role": "viewer"}),
        )
        .await;
    r.expect(403, "forbidden");
    assert_eq!(r.body["error"]["permission"], "ownership.transfer");
    app.post(
        &h,
        "/api/v1/members",
        Some(&adam),
        json!({"email": "o@acme.test", "role": "owner", "password": PASSWORD}),
    )
    .await
    .expect(403, "forbidden");
    // With a second owner, the first can step down.
    app.post(
        &h,
        "/api/v1/members",
        Some(&alice),
        json!({"email": "olga@acme.test", "role": "owner", "password": PASSWORD}),
    )
    .await
    .ok(201);
    let r = app
        .patch(
            &h,
            &format!("/api/v1/members/{alice_id}"),
            Some(&alice),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(r.ok(200)["role"], "admin");
}

#[tokio::test]
async fn the_plan_limits_members() {
    let app = spawn_app().await;
    app.tenant_on("tiny", "tina@tiny.test", "free").await;
    let t = app.login("tiny", "tina@tiny.test").await;
    for i in 0..2 {
        app.post(
            &host("tiny"),
            "/api/v1/members",
            Some(&t),
            json!({"email": format!("u{i}@tiny.test"), "role": "viewer", "password": PASSWORD}),
        )
        .await
        .ok(201);
    }
    let r = app
        .post(
            &host("tiny"),
            "/api/v1/members",
            Some(&t),
            json!({"email": "u9@tiny.test", "role": "viewer", "password": PASSWORD}),
        )
        .await;
    r.expect(403, "quota_exceeded");
    assert_eq!(r.body["error"]["limit"], "max_users");
}
