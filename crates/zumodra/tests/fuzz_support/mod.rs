//! Proptest strategies shared by `tests/fuzz.rs` (in-process properties) and
//! `tests/api/fuzz_bodies.rs` (the same bodies over HTTP).
#![allow(dead_code)]

use proptest::prelude::*;
use serde_json::{Map, Value};
use zumodra_tenancy::names::RESERVED_SLUGS;

pub const CASES: u32 = 128;
pub const BASE: &str = "localhost";

pub fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(CASES),
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------
// Strategies.

/// Text a client could put in a `Host` header: mostly host-shaped, sometimes anything.
pub fn host_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9.:\\-\\[\\]_ @%/é]{0,70}",
        2 => (slug_text(), prop::option::of(0u32..100_000), any::<bool>(), any::<bool>())
            .prop_map(|(s, port, upper, dot)| {
                let mut h = format!("{s}.{BASE}");
                if upper {
                    h = h.to_uppercase();
                }
                if dot {
                    h.push('.');
                }
                if let Some(p) = port {
                    h = format!("{h}:{p}");
                }
                h
            }),
        1 => "\\PC{0,70}",
        1 => ".{0,70}",
        1 => (1usize..300).prop_map(|n| "a.".repeat(n)),
    ]
}

/// Mostly slug-shaped text, sometimes just outside the pattern.
pub fn slug_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z][a-z0-9-]{1,30}[a-z0-9]",
        2 => "[a-zA-Z0-9_\\-.]{0,40}",
        1 => prop::sample::select(RESERVED_SLUGS).prop_map(str::to_owned),
        1 => "\\PC{0,40}",
    ]
}

/// A JSON leaf likely to hit validation edges.
pub fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-3i64..20_005).prop_map(Value::from),
        prop::sample::select(vec![
            i64::from(i16::MIN) - 1,
            i64::from(i16::MAX) + 1,
            i64::from(i32::MAX) + 1,
            i64::from(i32::MIN) - 1,
            u64::MAX as i64,
        ])
        .prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        (-4i32..2_004).prop_map(|h| Value::from(f64::from(h) / 2.0)),
        prop::sample::select(vec![1e308, -1e308, 5e-324, 0.1, 1000.5, 999.5]).prop_map(Value::from),
        prop::sample::select(WORDS).prop_map(Value::from),
        date_text().prop_map(Value::from),
        "\\PC{0,60}".prop_map(Value::from),
        "[a-z]{1,8}@[a-z]{1,8}\\.[a-z]{2,3}".prop_map(Value::from),
        (
            0usize..2,
            prop::sample::select(vec![50usize, 51, 100, 101, 200, 201, 2001])
        )
            .prop_map(|(c, n)| Value::from(["x", "é"][c].repeat(n))),
    ]
}

/// Words that the models accept somewhere (enum values, roles, stages, zones).
pub const WORDS: &[&str] = &[
    "draft",
    "open",
    "on_hold",
    "closed",
    "filled",
    "cancelled",
    "full_time",
    "part_time",
    "contract",
    "internship",
    "temporary",
    "onsite",
    "remote",
    "hybrid",
    "career_page",
    "referral",
    "direct",
    "imported",
    "vacation",
    "sick",
    "unpaid",
    "other",
    "pending",
    "approved",
    "active",
    "on_leave",
    "terminated",
    "fixed",
    "hourly",
    "custom",
    "published",
    "archived",
    "EUR",
    "eur",
    " usd ",
    "owner",
    "admin",
    "hr_manager",
    "recruiter",
    "hiring_manager",
    "employee",
    "viewer",
    "applied",
    "screening",
    "interview",
    "offer",
    "hired",
    "rejected",
    "Europe/Paris",
    "UTC",
    "Mars/Olympus",
    "starter",
    "enterprise",
    "",
    " ",
];

pub fn date_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (1990i32..2040, 1u32..13, 1u32..29).prop_map(|(y, m, d)| format!("{y}-{m:02}-{d:02}")),
        prop::sample::select(vec![
            "2026-02-29",
            "2024-02-29",
            "0000-01-01",
            "+262142-12-31",
            "-262143-01-01",
            "262142-12-31",
            "9999-12-31",
            "2026-13-01",
            "2026-1-1",
            "tomorrow",
        ])
        .prop_map(str::to_owned),
        "[0-9+\\-]{0,14}",
    ]
}

/// Any JSON value, a few levels deep.
pub fn any_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A JSON object with (mostly) the fields a body type knows, of any value.
pub fn body(fields: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        6 => prop::sample::select(fields).prop_map(str::to_owned),
        1 => "[a-z_]{1,10}",
    ];
    let value = prop_oneof![
        6 => leaf(),
        1 => prop::collection::vec(leaf(), 0..60).prop_map(Value::Array),
        1 => any_json(),
    ];
    prop_oneof![
        12 => prop::collection::btree_map(key, value, 0..10)
            .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        1 => any_json(),
    ]
}

pub const JOB_FIELDS: &[&str] = &[
    "title",
    "description",
    "department",
    "location",
    "employment_type",
    "remote_policy",
    "salary_min",
    "salary_max",
    "salary_currency",
    "positions",
    "deadline",
    "status",
    "version",
];
pub const CANDIDATE_FIELDS: &[&str] = &[
    "name",
    "email",
    "phone",
    "resume_text",
    "source",
    "tags",
    "version",
];
pub const APPLICATION_FIELDS: &[&str] = &["job_id", "candidate_id", "stage", "rating", "version"];
pub const EMPLOYEE_FIELDS: &[&str] = &[
    "user_id",
    "name",
    "email",
    "job_title",
    "department",
    "manager_id",
    "hire_date",
    "employment_type",
    "status",
    "pto_balance_days",
    "version",
];
pub const TIME_OFF_FIELDS: &[&str] = &[
    "employee_id",
    "kind",
    "start_date",
    "end_date",
    "half_day",
    "reason",
];
pub const SERVICE_FIELDS: &[&str] = &[
    "title",
    "description",
    "category",
    "type",
    "price_minor",
    "currency",
    "delivery",
    "status",
    "version",
];
