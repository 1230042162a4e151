//! Employees and time off: CRUD, managers, permissions, own requests, approvals under
//! concurrency, the other tenant's view, quotas.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::product::*;

async fn employee(app: &TestApp, h: &str, t: &str, body: Value) -> i64 {
    app.post(h, "/api/v1/employees", Some(t), body)
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn employee_crud_managers_and_other_tenant() {
    let app = spawn_app().await;
    let acme = app.tenant("acme", "alice@acme.test").await;
    app.tenant("globex", "gus@globex.test").await;
    let t = app.login("acme", "alice@acme.test").await;
    let g = app.login("globex", "gus@globex.test").await;
    let h = host("acme");
    let boss = employee(
        &app,
        &h,
        &t,
        json!({"name": "Boss", "email": "boss@acme.test"}),
    )
    .await;
    let r = app
        .post(&h, "/api/v1/employees", Some(&t), json!({
            "name": "Eve", "email": "eve@acme.test", "manager_id": boss, "hire_date": "2024-02-01",
            "pto_balance_days": 10.5, "job_title": "Engineer"
        }))
        .await;
    let eve = r.ok(201).clone();
    assert_eq!(eve["pto_balance_days"], 10.5);
    let id = eve["id"].as_i64().unwrap();
    app.post(
        &h,
        "/api/v1/employees",
        Some(&t),
        json!({"name": "E2", "email": "EVE@acme.test"}),
    )
    .await
    .expect(409, "conflict");
    let r = app
        .post(
            &h,
            "/api/v1/employees",
            Some(&t),
            json!({"email": "x", "manager_id": 999, "pto_balance_days": 0.3, "status": "gone"}),
        )
        .await;
    r.expect(422, "validation_failed");
    for f in ["name", "email", "pto_balance_days", "status"] {
        assert!(r.body["error"]["fields"][f].is_string(), "{f}: {}", r.text);
    }
    app.post(
        &h,
        "/api/v1/employees",
        Some(&t),
        json!({"name": "N", "email": "n@acme.test", "manager_id": 999}),
    )
    .await
    .expect(422, "validation_failed");
    // No management loops.
    app.patch(
        &h,
        &format!("/api/v1/employees/{boss}"),
        Some(&t),
        json!({"manager_id": id}),
    )
    .await
    .expect(422, "validation_failed");
    let r = app
        .patch(
            &h,
            &format!("/api/v1/employees/{id}"),
            Some(&t),
            json!({"job_title": "Lead", "version": 1}),
        )
        .await;
    assert_eq!(r.ok(200)["version"], 2);
    app.patch(
        &h,
        &format!("/api/v1/employees/{id}"),
        Some(&t),
        json!({"job_title": "x", "version": 1}),
    )
    .await
    .expect(409, "conflict");
    let list = app.get(&h, "/api/v1/employees", Some(&t)).await;
    assert_eq!(list.ok(200)["items"].as_array().unwrap().len(), 2);

    let path = format!("/api/v1/employees/{id}");
    app.get(&host("globex"), &path, Some(&g))
        .await
        .expect(404, "not_found");
    app.patch(&host("globex"), &path, Some(&g), json!({"name": "x"}))
        .await
        .expect(404, "not_found");
    app.delete(&host("globex"), &path, Some(&g))
        .await
        .expect(404, "not_found");
    app.delete(&h, &format!("/api/v1/employees/{boss}"), Some(&t))
        .await
        .ok(204);
    let eve = app.get(&h, &path, Some(&t)).await;
    assert_eq!(eve.ok(200)["manager_id"], Value::Null);
    let entities: Vec<_> = audit(&app, &acme)
        .await
        .into_iter()
        .map(|(a, e, _)| format!("{a} {e}"))
        .collect();
    assert_eq!(
        entities,
        [
            "create employee",
            "create employee",
            "update employee",
            "delete employee"
        ]
    );
}

#[tokio::test]
async fn employee_permissions_per_role_and_plan() {
    let app = spawn_app().await;
    let acme = app.tenant("acme", "alice@acme.test").await;
    let h = host("acme");
    let members = role_tokens(&app, &acme, "alice@acme.test").await;
    let owner = members[0].2.clone();
    // (role, view, add, change, delete)
    let expected = [
        ("owner", true, true, true, true),
        ("admin", true, true, true, true),
        ("hr_manager", true, true, true, false),
        ("recruiter", false, false, false, false),
        ("hiring_manager", false, false, false, false),
        ("employee", false, false, false, false),
        ("viewer", true, false, false, false),
    ];
    for ((role, _, token), (_, view, add, change, delete)) in members.iter().zip(expected) {
        let t = Some(token.as_str());
        let st = |ok: bool, yes: u16| if ok { yes } else { 403 };
        let id = employee(
            &app,
            &h,
            &owner,
            json!({"name": "E", "email": format!("{role}@emp.test")}),
        )
        .await;
        let path = format!("/api/v1/employees/{id}");
        assert_eq!(
            app.get(&h, "/api/v1/employees", t).await.status,
            st(view, 200),
            "{role}"
        );
        assert_eq!(app.get(&h, &path, t).await.status, st(view, 200), "{role}");
        let r = app
            .post(
                &h,
                "/api/v1/employees",
                t,
                json!({"name": "N", "email": format!("new-{role}@emp.test")}),
            )
            .await;
        assert_eq!(r.status, st(add, 201), "{role} add");
        assert_eq!(
            app.patch(&h, &path, t, json!({"department": "X"}))
                .await
                .status,
            st(change, 200),
            "{role}"
        );
        assert_eq!(
            app.delete(&h, &path, t).await.status,
            st(delete, 204),
            "{role}"
        );
    }
    // The free plan has no HR core.
    app.tenant_on("smallco", "sam@small.test", "free").await;
    let st = app.login("smallco", "sam@small.test").await;
    app.get(&host("smallco"), "/api/v1/employees", Some(&st))
        .await
        .expect(403, "feature_not_in_plan");
}

#[tokio::test]
async fn time_off_request_approve_and_nobody_approves_their_own() {
    let app = spawn_app().await;
    let acme = app.tenant("acme", "alice@acme.test").await;
    app.tenant("globex", "gus@globex.test").await;
    let g = app.login("globex", "gus@globex.test").await;
    let h = host("acme");
    let members = role_tokens(&app, &acme, "alice@acme.test").await;
    let owner = members[0].2.clone();
    let (_, hr_id, hr) = members[2].clone();
    let (_, emp_id, emp) = members[5].clone();
    let e = employee(
        &app,
        &h,
        &owner,
        json!({"name": "Emp", "email": "emp@acme.test", "user_id": emp_id, "pto_balance_days": 5}),
    )
    .await;
    let hr_e = employee(
        &app,
        &h,
        &owner,
        json!({"name": "HR", "email": "hr@acme.test", "user_id": hr_id, "pto_balance_days": 5}),
    )
    .await;

    // 2026-11-23 is a Monday: Mon..Wed = 3 days.
    let r = app
        .post(
            &h,
            "/api/v1/time-off",
            Some(&emp),
            json!({"kind": "vacation", "start_date": "2026-11-23", "end_date": "2026-11-25"}),
        )
        .await;
    let req = r.ok(201).clone();
    assert_eq!(
        (
            req["total_days"].as_f64(),
            req["status"].as_str(),
            req["employee_id"].as_i64()
        ),
        (Some(3.0), Some("pending"), Some(e))
    );
    let id = req["id"].as_i64().unwrap();
    let r = app
        .post(
            &h,
            "/api/v1/time-off",
            Some(&emp),
            json!({"kind": "nap", "start_date": "2026-11-25", "end_date": "2026-11-23"}),
        )
        .await;
    r.expect(422, "validation_failed");
    assert!(
        r.body["error"]["fields"]["kind"].is_string()
            && r.body["error"]["fields"]["end_date"].is_string()
    );
    // An employee cannot file for someone else, nor approve.
    app.post(&h, "/api/v1/time-off", Some(&emp), json!({"employee_id": hr_e, "kind": "sick", "start_date": "2026-11-23", "end_date": "2026-11-23"}))
        .await
        .expect(403, "forbidden");
    app.post(
        &h,
        &format!("/api/v1/time-off/{id}/approve"),
        Some(&emp),
        json!({}),
    )
    .await
    .expect(403, "forbidden");
    // The employee sees only their own; HR sees all.
    let own = app
        .post(
            &h,
            "/api/v1/time-off",
            Some(&hr),
            json!({"kind": "vacation", "start_date": "2026-12-01", "end_date": "2026-12-01"}),
        )
        .await;
    let own_id = own.ok(201)["id"].as_i64().unwrap();
    assert_eq!(
        app.get(&h, "/api/v1/time-off", Some(&emp)).await.ok(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.get(&h, "/api/v1/time-off", Some(&hr)).await.ok(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    app.get(&h, &format!("/api/v1/time-off/{own_id}"), Some(&emp))
        .await
        .expect(404, "not_found");
    // Nobody approves their own request.
    app.post(
        &h,
        &format!("/api/v1/time-off/{own_id}/approve"),
        Some(&hr),
        json!({}),
    )
    .await
    .expect(403, "forbidden");

    let r = app
        .post(
            &h,
            &format!("/api/v1/time-off/{id}/approve"),
            Some(&hr),
            json!({}),
        )
        .await;
    assert_eq!(r.ok(200)["status"], "approved");
    assert_eq!(
        app.get(&h, &format!("/api/v1/employees/{e}"), Some(&owner))
            .await
            .ok(200)["pto_balance_days"],
        2.0
    );
    app.post(
        &h,
        &format!("/api/v1/time-off/{id}/approve"),
        Some(&hr),
        json!({}),
    )
    .await
    .expect(409, "conflict");
    // Overlapping approved time off → 409; too small a balance → 409.
    let overlap = app
        .post(
            &h,
            "/api/v1/time-off",
            Some(&emp),
            json!({"kind": "sick", "start_date": "2026-11-25", "end_date": "2026-11-25"}),
        )
        .await;
    let overlap = overlap.ok(201)["id"].as_i64().unwrap();
    app.post(
        &h,
        &format!("/api/v1/time-off/{overlap}/approve"),
        Some(&hr),
        json!({}),
    )
    .await
    .expect(409, "conflict");
    let big = app
        .post(
            &h,
            "/api/v1/time-off",
            Some(&emp),
            json!({"kind": "vacation", "start_date": "2027-01-04", "end_date": "2027-01-08"}),
        )
        .await;
    let big = big.ok(201)["id"].as_i64().unwrap();
    app.post(
        &h,
        &format!("/api/v1/time-off/{big}/approve"),
        Some(&hr),
        json!({}),
    )
    .await
    .expect(409, "conflict");
    app.post(
        &h,
        &format!("/api/v1/time-off/{big}/reject"),
        Some(&hr),
        json!({}),
    )
    .await
    .ok(200);
    // Cancelling approved vacation refunds it.
    app.post(
        &h,
        &format!("/api/v1/time-off/{id}/cancel"),
        Some(&emp),
        json!({}),
    )
    .await
    .ok(200);
    assert_eq!(
        app.get(&h, &format!("/api/v1/employees/{e}"), Some(&owner))
            .await
            .ok(200)["pto_balance_days"],
        5.0
    );
    app.get(&host("globex"), &format!("/api/v1/time-off/{id}"), Some(&g))
        .await
        .expect(404, "not_found");
    app.post(
        &host("globex"),
        &format!("/api/v1/time-off/{id}/approve"),
        Some(&g),
        json!({}),
    )
    .await
    .expect(404, "not_found");
}

#[tokio::test]
async fn racing_approvals_never_overdraw_the_balance() {
    let app = spawn_app().await;
    let acme = app.tenant("acme", "alice@acme.test").await;
    let h = host("acme");
    let owner = app.login("acme", "alice@acme.test").await;
    let e = employee(
        &app,
        &h,
        &owner,
        json!({"name": "Emp", "email": "emp@acme.test", "pto_balance_days": 3}),
    )
    .await;
    let mut ids = Vec::new();
    // Two non-overlapping requests of 2 days each on a balance of 3.
    for (s, end) in [("2026-11-23", "2026-11-24"), ("2026-11-30", "2026-12-01")] {
        let r = app
            .post(
                &h,
                "/api/v1/time-off",
                Some(&owner),
                json!({"employee_id": e, "kind": "vacation", "start_date": s, "end_date": end}),
            )
            .await;
        ids.push(r.ok(201)["id"].as_i64().unwrap());
    }
    let _ = acme;
    let (p0, p1) = (
        format!("/api/v1/time-off/{}/approve", ids[0]),
        format!("/api/v1/time-off/{}/approve", ids[1]),
    );
    let (a, b) = tokio::join!(
        app.post(&h, &p0, Some(&owner), json!({})),
        app.post(&h, &p1, Some(&owner), json!({})),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{} / {}", a.text, b.text);
    let emp = app
        .get(&h, &format!("/api/v1/employees/{e}"), Some(&owner))
        .await;
    assert_eq!(emp.ok(200)["pto_balance_days"], 1.0);
}

#[tokio::test]
async fn racing_creates_at_the_quota_exactly_one_wins() {
    let app = spawn_app().await;
    // Starter: 50 employees; fill to 49 directly, then race two creates.
    let acme = app.tenant_on("acme", "alice@acme.test", "starter").await;
    let h = host("acme");
    let t = app.login("acme", "alice@acme.test").await;
    let tx = app.engine().begin(&acme.as_ref()).await.unwrap();
    tx.execute(
        "insert into hr_core_employee (name, email) select 'E', 'e' || g || '@acme.test' from generate_series(1, 49) g",
        &[],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (a, b) = tokio::join!(
        app.post(
            &h,
            "/api/v1/employees",
            Some(&t),
            json!({"name": "A", "email": "a@acme.test"})
        ),
        app.post(
            &h,
            "/api/v1/employees",
            Some(&t),
            json!({"name": "B", "email": "b@acme.test"})
        ),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [201, 403], "{} / {}", a.text, b.text);
    let loser = if a.status == 403 { &a } else { &b };
    loser.expect(403, "quota_exceeded");
    assert_eq!(loser.body["error"]["limit"], "max_employees");
    let usage = app.get(&h, "/api/v1/usage", Some(&t)).await;
    let limits = usage.ok(200)["limits"].as_array().unwrap().clone();
    let emp = limits
        .iter()
        .find(|l| l["limit"] == "max_employees")
        .unwrap();
    assert_eq!(
        (emp["used"].as_i64(), emp["max"].as_i64()),
        (Some(50), Some(50))
    );
}

#[tokio::test]
async fn time_off_permissions_per_role() {
    let app = spawn_app().await;
    let acme = app.tenant("acme", "alice@acme.test").await;
    let h = host("acme");
    let members = role_tokens(&app, &acme, "alice@acme.test").await;
    let owner = members[0].2.clone();
    // Someone whose requests everyone may try to decide.
    let other = employee(
        &app,
        &h,
        &owner,
        json!({"name": "O", "email": "o@acme.test", "pto_balance_days": 50}),
    )
    .await;
    // (role, request own, see all, approve)
    let expected = [
        ("owner", true, true, true),
        ("admin", true, true, true),
        ("hr_manager", true, true, true),
        ("recruiter", true, false, false),
        ("hiring_manager", true, false, false),
        ("employee", true, false, false),
        ("viewer", false, false, false),
    ];
    for (i, ((role, user_id, token), (_, own, all, approve))) in
        members.iter().zip(expected).enumerate()
    {
        let t = Some(token.as_str());
        let st = |ok: bool, yes: u16| if ok { yes } else { 403 };
        employee(
            &app,
            &h,
            &owner,
            json!({"name": role, "email": format!("{role}@staff.test"), "user_id": user_id}),
        )
        .await;
        // 2027-03-01 is a Monday: working days only.
        let day = format!("2027-03-{:02}", [1, 2, 3, 4, 5, 8, 9][i]);
        let r = app
            .post(
                &h,
                "/api/v1/time-off",
                t,
                json!({"kind": "sick", "start_date": day, "end_date": day}),
            )
            .await;
        assert_eq!(r.status, st(own, 201), "{role} own: {}", r.text);
        let pending = app
            .post(
                &h,
                "/api/v1/time-off",
                Some(&owner),
                json!({"employee_id": other, "kind": "unpaid", "start_date": day, "end_date": day}),
            )
            .await;
        let pending = pending.ok(201)["id"].as_i64().unwrap();
        let list = app.get(&h, "/api/v1/time-off", t).await;
        if own || all {
            let n = list.ok(200)["items"].as_array().unwrap().len();
            assert_eq!(n > 1, all, "{role} sees {n}");
        } else {
            list.expect(403, "forbidden");
        }
        let r = app
            .post(
                &h,
                &format!("/api/v1/time-off/{pending}/approve"),
                t,
                json!({}),
            )
            .await;
        assert_eq!(r.status, st(approve, 200), "{role} approve: {}", r.text);
    }
}

#[tokio::test]
async fn an_employee_links_only_to_a_member_of_this_tenant() {
    let app = spawn_app().await;
    app.tenant("acme", "alice@acme.test").await;
    let globex = app.tenant("globex", "gus@globex.test").await;
    let gus = app.member(&globex, "gus@globex.test", "owner").await;
    let t = app.login("acme", "alice@acme.test").await;
    let r = app
        .post(
            &host("acme"),
            "/api/v1/employees",
            Some(&t),
            json!({"name": "Gus", "email": "gus@acme.test", "user_id": gus}),
        )
        .await;
    r.expect(422, "validation_failed");
    assert!(r.body["error"]["fields"]["user_id"].is_string());
}
