//! Property tests ("fuzzing" in-process) of every parser that sees client input: the
//! `Host` header, slugs and the names derived from them, domains and e-mail addresses,
//! the page cursor, and the JSON bodies of each feature's `model.rs`.
//!
//! Properties: never panic on any input (inputs are size-bounded, so nothing can hang),
//! parsers are idempotent / round-trip, and refusals are typed 4xx errors. Each property
//! runs `CASES` cases (override with `PROPTEST_CASES=10000` for a longer hunt); proptest
//! writes a shrunk failing input to `tests/fuzz.proptest-regressions` — commit it.
// Test code may unwrap: a failed unwrap is a failed test (helpers included, which
// clippy's allow-unwrap-in-tests does not cover).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use zumodra::ats::{applications, candidates, jobs};
use zumodra::hr::{employees, time_off};
use zumodra::http::error::ApiError;
use zumodra::http::pagination::{Page, DEFAULT_LIMIT, MAX_LIMIT};
use zumodra::services;
use zumodra::tenants::host::{classify, normalize, raw_host, HostKind};
use zumodra_tenancy::catalog::{normalize_domain, parse_email};
use zumodra_tenancy::names::RESERVED_SLUGS;
use zumodra_tenancy::{RoleName, RolePrefix, SchemaName, Slug, SlugError};

mod fuzz_support;

use fuzz_support::*;

/// A refusal must be a client error, never a 5xx.
#[track_caller]
pub fn assert_4xx(e: &ApiError) {
    let status = e.status();
    assert!(status.is_client_error(), "{status} for {e:?}");
}

pub fn from_json<T: DeserializeOwned>(v: &Value) -> Option<T> {
    serde_json::from_value(v.clone()).ok()
}
// ---------------------------------------------------------------------------------
// Host.

proptest! {
    #![proptest_config(config())]

    #[test]
    fn normalize_is_idempotent_and_yields_dns_names(raw in host_text()) {
        if let Some(n) = normalize(&raw) {
            let again = normalize(&n);
            prop_assert_eq!(again.as_deref(), Some(n.as_str()), "raw {:?}", raw);
            prop_assert!(!n.is_empty() && n.len() <= 253, "{:?}", n);
            prop_assert!(n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'), "{:?}", n);
            prop_assert!(n.split('.').all(|l| !l.is_empty() && l.len() <= 63), "{:?}", n);
            prop_assert!(!n.starts_with('-') && !n.ends_with('.'), "{:?}", n);
        }
    }

    #[test]
    fn classify_names_only_what_it_may_serve(raw in host_text()) {
        let n = normalize(&raw);
        match classify(n.clone(), BASE) {
            HostKind::Platform => prop_assert_eq!(n.as_deref(), Some(BASE)),
            HostKind::Tenant(h) => {
                prop_assert_eq!(Some(&h), n.as_ref());
                prop_assert_ne!(h.as_str(), BASE);
                if let Some(label) = h.strip_suffix(&format!(".{BASE}")) {
                    prop_assert!(Slug::parse(label).is_ok(), "{:?}", h);
                }
            }
            HostKind::Unknown => {}
        }
    }

    #[test]
    fn every_slug_host_is_its_tenant(
        slug in "[a-z][a-z0-9-]{1,30}[a-z0-9]",
        port in prop::option::of(0u32..1_000_000),
        upper in any::<bool>(),
        dot in any::<bool>(),
    ) {
        prop_assume!(Slug::parse(&slug).is_ok());
        let mut h = format!("{slug}.{BASE}");
        if upper { h = h.to_uppercase(); }
        if dot { h.push('.'); }
        let valid_port = port.is_none_or(|p| p < 100_000);
        if let Some(p) = port { h = format!("{h}:{p}"); }
        let want = if valid_port { HostKind::Tenant(format!("{slug}.{BASE}")) } else { HostKind::Unknown };
        prop_assert_eq!(classify(normalize(&h), BASE), want, "{:?}", h);
    }

    #[test]
    fn raw_host_trusts_forwarding_only_from_proxies(
        host in prop::option::of(prop::collection::vec(any::<u8>(), 0..40)),
        forwarded in prop::option::of(prop::collection::vec(any::<u8>(), 0..60)),
        trusted in any::<bool>(),
    ) {
        let mut headers = HeaderMap::new();
        let valid = |b: &Option<Vec<u8>>| b.as_ref().and_then(|b| HeaderValue::from_bytes(b).ok());
        let (h, f) = (valid(&host), valid(&forwarded));
        if let Some(v) = &h { headers.insert("host", v.clone()); }
        if let Some(v) = &f { headers.insert("x-forwarded-host", v.clone()); }
        let got = raw_host(&headers, trusted);
        let plain = h.as_ref().and_then(|v| v.to_str().ok());
        let first = f.as_ref().and_then(|v| v.to_str().ok()).and_then(|v| v.split(',').next());
        let want = if trusted { first.or(plain) } else { plain };
        prop_assert_eq!(got, want);
    }
}

#[test]
fn host_regressions() {
    for (raw, want) in [
        // The port is dropped unread: five digits at most, an empty one too.
        ("acme.localhost:99999", Some("acme.localhost")),
        ("acme.localhost:", Some("acme.localhost")),
        ("acme.localhost:999999", None),
        ("acme.localhost:-1", None),
        ("acme.localhost.:0", Some("acme.localhost")),
        ("a.b.", Some("a.b")),
        ("ACME.LOCALHOST", Some("acme.localhost")),
    ] {
        assert_eq!(normalize(raw).as_deref(), want, "{raw:?}");
    }
}

// ---------------------------------------------------------------------------------
// Names.

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_parsed_slug_reparses_to_itself(input in slug_text()) {
        match Slug::parse(&input) {
            Ok(slug) => {
                prop_assert_eq!(slug.as_str(), input.as_str());
                prop_assert_eq!(Slug::parse(slug.as_str()), Ok(slug.clone()));
                prop_assert_eq!(slug.to_string(), input.clone());
                // Its schema name parses back, and only from this slug.
                let schema = slug.schema_name();
                prop_assert_eq!(SchemaName::parse(schema.as_str()), Some(schema.clone()));
                prop_assert_eq!(schema.to_string(), format!("\"{}\"", schema.as_str()));
                prop_assert!(schema.as_str().len() <= 63);
            }
            Err(SlugError::Reserved(word)) => {
                prop_assert_eq!(&word, &input);
                prop_assert!(RESERVED_SLUGS.contains(&word.as_str()));
            }
            Err(SlugError::Pattern) => {
                // The spec pattern, `^[a-z][a-z0-9-]{1,30}[a-z0-9]$`, said another way.
                let b = input.as_bytes();
                let matches = (3..=32).contains(&b.len())
                    && b[0].is_ascii_lowercase()
                    && b[b.len() - 1] != b'-'
                    && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
                prop_assert!(!matches, "{:?}", input);
            }
        }
    }

    #[test]
    fn schema_names_are_exactly_the_slugs_schemas(input in prop_oneof![
        "tenant_[a-z0-9_\\-]{0,34}",
        "\\PC{0,40}",
        slug_text().prop_map(|s| format!("tenant_{s}")),
    ]) {
        if let Some(schema) = SchemaName::parse(&input) {
            prop_assert_eq!(schema.as_str(), input.as_str());
            // Injective: the one slug it came from gives it back.
            let slug = input.strip_prefix("tenant_").map(|s| s.replace('_', "-"));
            let slug = slug.as_deref().map(Slug::parse);
            prop_assert!(matches!(slug, Some(Ok(_))), "{:?}", input);
            if let Some(Ok(slug)) = slug {
                prop_assert_eq!(slug.schema_name(), schema);
            }
        }
    }

    #[test]
    fn role_names_round_trip_and_fit_postgres(
        prefix in prop_oneof!["z[a-z0-9]{4,16}_", "\\PC{0,24}", "z[a-z0-9_]{0,20}"],
        slug in "[a-z][a-z0-9-]{1,30}[a-z0-9]",
    ) {
        let Some(p) = RolePrefix::parse(&prefix) else { return Ok(()); };
        prop_assert_eq!(p.as_str(), prefix.as_str());
        prop_assert_eq!(RolePrefix::parse(p.as_str()), Some(p.clone()));
        let Ok(slug) = Slug::parse(&slug) else { return Ok(()); };
        for role in [p.runtime_role(), p.tenants_group(), p.tenant_role(&slug)] {
            // PostgreSQL cuts identifiers at 63 bytes: a longer one would collide.
            prop_assert!(role.as_str().len() <= 63, "{}", role.as_str());
            prop_assert_eq!(RoleName::parse(&p, role.as_str()), Some(role.clone()));
        }
    }

    #[test]
    fn normalized_domains_are_dns_names(input in prop_oneof![
        host_text(),
        "[a-zA-Z0-9.\\-]{0,80}",
        (1usize..70, 1usize..6).prop_map(|(n, k)| vec!["a".repeat(n); k].join(".")),
    ]) {
        if let Some(d) = normalize_domain(&input) {
            prop_assert!(d.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'), "{:?}", d);
            prop_assert!(!d.is_empty() && d.len() <= 253);
            prop_assert_eq!(normalize_domain(&d), Some(d.clone()));
        }
    }

    #[test]
    fn parsed_emails_are_stable(input in prop_oneof![
        "\\PC{0,60}",
        "[a-zA-Z0-9.+@ \\-]{0,40}",
        "[a-z]{1,10}@[a-z]{1,10}\\.[a-z]{2,3}",
        (1usize..300).prop_map(|n| format!("{}@x.io", "a".repeat(n))),
    ]) {
        if let Ok(e) = parse_email(&input) {
            prop_assert_eq!(parse_email(&e).ok(), Some(e.clone()));
            prop_assert!(e.len() <= 254 && e.contains('@') && !e.chars().any(char::is_whitespace));
        }
    }
}

// ---------------------------------------------------------------------------------
// Cursor.

/// The cursor the server would hand out after `id`.
fn cursor_after(id: i64) -> String {
    let page = Page {
        limit: 1,
        before: None,
    };
    let cursor = page.finish(vec![id, 0], |x| *x).next_cursor;
    cursor.unwrap_or_default()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn page_parse_never_fails_with_5xx(
        limit in prop::option::of(prop_oneof!["-?[0-9]{0,22}", "\\PC{0,12}"]),
        cursor in prop::option::of(prop_oneof!["c1[0-9a-fA-F]{0,18}", "\\PC{0,24}"]),
    ) {
        match Page::parse(limit.as_deref(), cursor.as_deref()) {
            Ok(page) => {
                prop_assert!((1..=MAX_LIMIT).contains(&page.limit));
                prop_assert!(page.before.is_none_or(|id| id > 0));
                if limit.as_deref().is_none_or(str::is_empty) {
                    prop_assert_eq!(page.limit, DEFAULT_LIMIT);
                }
                // A decoded cursor re-encodes identically: one spelling per position.
                if let (Some(id), Some(c)) = (page.before, cursor.as_deref()) {
                    prop_assert_eq!(cursor_after(id), c);
                }
            }
            Err(e) => assert_4xx(&e),
        }
    }

    #[test]
    fn cursors_round_trip(id in prop_oneof![1i64.., Just(i64::MAX), Just(1i64)]) {
        let c = cursor_after(id);
        let page = Page::parse(None, Some(&c));
        prop_assert!(matches!(page, Ok(Page { before: Some(b), .. }) if b == id), "{}", c);
    }
}

#[test]
fn cursor_regressions() {
    // Upper-case hex used to decode to the same id as the cursor the server issued.
    assert!(Page::parse(None, Some("c1000000000000002A")).is_err());
    assert!(Page::parse(None, Some("C1000000000000002a")).is_err());
    assert!(Page::parse(None, Some("c1000000000000002a")).is_ok());
    assert!(Page::parse(None, Some("c10000000000000000")).is_err());
    assert!(Page::parse(None, Some("c1ffffffffffffffff")).is_err());
    assert!(Page::parse(Some("99999999999999999999"), None).is_err());
    assert_eq!(Page::parse(Some("+7"), None).map(|p| p.limit).ok(), Some(7));
}

// ---------------------------------------------------------------------------------
// JSON bodies: deserialize, then validate; never a panic, refusals are 4xx.

proptest! {
    #![proptest_config(config())]

    #[test]
    fn job_bodies(v in body(JOB_FIELDS)) {
        let Some(input) = from_json::<jobs::model::JobInput>(&v) else { return Ok(()); };
        match input.apply(jobs::model::JobDraft::default()) {
            Ok(d) => {
                let n = d.title.chars().count();
                prop_assert!((1..=200).contains(&n) && d.title.trim() == d.title);
                prop_assert!((1..=10_000).contains(&d.positions));
                prop_assert!(jobs::model::STATUSES.contains(&d.status.as_str()));
                prop_assert!(jobs::model::EMPLOYMENT_TYPES.contains(&d.employment_type.as_str()));
                prop_assert!(jobs::model::REMOTE_POLICIES.contains(&d.remote_policy.as_str()));
                if let (Some(a), Some(b)) = (d.salary_min, d.salary_max) {
                    prop_assert!(0 <= a && a <= b);
                }
                if d.salary_min.is_some() || d.salary_max.is_some() {
                    prop_assert!(d.salary_currency.as_ref().is_some_and(|c| c.len() == 3));
                }
            }
            Err(e) => assert_4xx(&e),
        }
    }

    #[test]
    fn candidate_bodies(v in body(CANDIDATE_FIELDS)) {
        let Some(input) = from_json::<candidates::model::Input>(&v) else { return Ok(()); };
        match input.apply(candidates::model::Draft::default()) {
            Ok(d) => {
                prop_assert!(!d.name.is_empty() && d.name.chars().count() <= 200);
                prop_assert_eq!(parse_email(&d.email).ok(), Some(d.email.clone()));
                prop_assert!(candidates::model::SOURCES.contains(&d.source.as_str()));
                prop_assert!(d.tags.len() <= 50 && d.tags.iter().all(|t| !t.is_empty()));
            }
            Err(e) => assert_4xx(&e),
        }
    }

    #[test]
    fn application_bodies(v in body(APPLICATION_FIELDS)) {
        if let Some(a) = from_json::<applications::model::NewApplication>(&v) {
            let _ = applications::model::rating_problem(a.rating);
        }
        if let Some(c) = from_json::<applications::model::Change>(&v) {
            let _ = applications::model::rating_problem(c.rating.flatten());
        }
        let _ = from_json::<applications::model::MoveTo>(&v);
    }

    #[test]
    fn employee_bodies(v in body(EMPLOYEE_FIELDS)) {
        let Some(input) = from_json::<employees::model::Input>(&v) else { return Ok(()); };
        match input.apply(employees::model::Draft::default()) {
            Ok(d) => {
                prop_assert!((0.0..=1000.0).contains(&d.pto_balance_days));
                prop_assert_eq!((d.pto_balance_days * 2.0).fract(), 0.0);
                prop_assert_eq!(parse_email(&d.email).ok(), Some(d.email.clone()));
                prop_assert!(d.user_id.is_none_or(|u| u > 0));
            }
            Err(e) => assert_4xx(&e),
        }
    }

    #[test]
    fn time_off_bodies(v in body(TIME_OFF_FIELDS)) {
        let Some(input) = from_json::<time_off::model::Input>(&v) else { return Ok(()); };
        match input.check() {
            Ok(d) => {
                prop_assert!(d.start_date <= d.end_date);
                prop_assert!((d.end_date - d.start_date).num_days() <= 366);
                prop_assert!(d.total_days > 0.0 && d.total_days <= 367.0);
                if d.half_day {
                    prop_assert_eq!(d.total_days, 0.5);
                }
            }
            Err(e) => assert_4xx(&e),
        }
    }

    #[test]
    fn service_bodies(v in body(SERVICE_FIELDS)) {
        let Some(input) = from_json::<services::model::Input>(&v) else { return Ok(()); };
        match input.apply(services::model::Draft::default()) {
            Ok(d) => {
                prop_assert!(services::model::KINDS.contains(&d.kind.as_str()));
                prop_assert!(d.price_minor.is_none_or(|p| p >= 0));
                if d.price_minor.is_some() {
                    prop_assert!(d.currency.is_some());
                }
            }
            Err(e) => assert_4xx(&e),
        }
    }
}

#[test]
fn body_regressions() {
    // Dates at the edge of chrono's range: counting days must not overflow.
    let far =
        json!({"kind": "vacation", "start_date": "+262142-12-25", "end_date": "+262142-12-31"});
    let input: time_off::model::Input = serde_json::from_value(far).unwrap();
    let _ = input.check();
    // The largest JSON numbers are refused by serde, not wrapped.
    assert!(from_json::<jobs::model::JobInput>(&json!({"positions": 4294967296u64})).is_none());
}
