//! The properties the cargo-fuzz targets check, one function per target, each taking the
//! raw fuzz input. Shared with `crates/zumodra/tests/fuzz_corpus.rs`, which replays the
//! committed corpora (`fuzz/corpus/<target>/`) through the same functions in the normal
//! test suite, so CI guards every input the fuzzer ever found interesting without
//! needing cargo-fuzz.
//!
//! Every check: no panic on any input, the parser's invariants (idempotence, round
//! trips), and refusals that are typed client errors (4xx, or `ArchiveError`), never a
//! 5xx. A failed `assert!` here is a finding.

use std::io::Read;

use axum::http::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};
use zumodra::ats::{applications, candidates, jobs};
use zumodra::hr::{employees, time_off};
use zumodra::http::error::ApiError;
use zumodra::http::extract::parse;
use zumodra::http::pagination::{Page, DEFAULT_LIMIT, MAX_LIMIT};
use zumodra::services;
use zumodra::tenants::host::{classify, normalize, raw_host, HostKind};
use zumodra_tenancy::archive::{self, ArchiveError, Manifest, Part};
use zumodra_tenancy::catalog::{normalize_domain, parse_email};
use zumodra_tenancy::names::RESERVED_SLUGS;
use zumodra_tenancy::{RoleName, RolePrefix, SchemaName, Slug, SlugError};

/// The base domain the host checks classify against (the server's default).
pub const BASE: &str = "localhost";

/// A check: panics on a finding.
pub type Check = fn(&[u8]);

/// Every target: its name (the file under `fuzz_targets/` and the corpus folder) and
/// its check.
pub const TARGETS: &[(&str, Check)] = &[
    ("host", host),
    ("names", names),
    ("bodies", bodies),
    ("cursor", cursor),
    ("archive", archive),
];

/// Split at the first `\n`: the first part, and the rest if there was a `\n`.
fn split_nl(data: &[u8]) -> (&[u8], Option<&[u8]>) {
    match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    }
}

/// What `catalog::normalize_domain` promises: lower-case DNS labels of 1 to 63 of
/// `[a-z0-9-]`, not starting or ending with `-`, at most 253 bytes in all.
fn is_dns_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 253
        && n.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

#[track_caller]
fn assert_4xx(e: &ApiError) {
    let status = e.status();
    assert!(status.is_client_error(), "{status} for {e:?}");
}

// ---------------------------------------------------------------------------------
// host: `tenants::host::{normalize, classify, raw_host}`.

/// Input: `<flags byte><Host bytes>[\n<X-Forwarded-Host bytes>]`; bit 0 of the flags
/// says whether the peer is a trusted proxy. The whole text after the flags is also
/// normalized and classified as one host.
pub fn host(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let trusted = flags & 1 == 1;
    let text = String::from_utf8_lossy(rest);
    for raw in [
        text.as_ref(),
        split_nl(rest).0.escape_ascii().to_string().as_str(),
    ] {
        let n = normalize(raw);
        if let Some(n) = &n {
            assert!(is_dns_name(n), "{raw:?} -> {n:?}");
            assert_eq!(normalize(n).as_ref(), Some(n), "not idempotent: {raw:?}");
            // Upper case, a trailing dot and a port name the same host.
            let spelled = format!("{}.:443", n.to_uppercase());
            assert_eq!(normalize(&spelled).as_ref(), Some(n), "{spelled:?}");
        }
        match classify(n.clone(), BASE) {
            HostKind::Platform => assert_eq!(n.as_deref(), Some(BASE)),
            HostKind::Tenant(h) => {
                assert_eq!(Some(&h), n.as_ref());
                assert_ne!(h, BASE);
                if let Some(label) = h.strip_suffix(&format!(".{BASE}")) {
                    assert!(Slug::parse(label).is_ok(), "{h:?} served as a tenant");
                }
            }
            HostKind::Unknown => {
                // Only a host under the base that cannot be a slug, or no host at all.
                if let Some(n) = &n {
                    let label = n.strip_suffix(&format!(".{BASE}"));
                    assert!(label.is_some_and(|l| Slug::parse(l).is_err()), "{n:?}");
                }
            }
        }
    }
    // raw_host reads X-Forwarded-Host only from a trusted proxy, its first entry.
    let (host_bytes, forwarded_bytes) = split_nl(rest);
    let h = HeaderValue::from_bytes(host_bytes).ok();
    let f = forwarded_bytes.and_then(|b| HeaderValue::from_bytes(b).ok());
    let mut headers = HeaderMap::new();
    if let Some(v) = &h {
        headers.insert("host", v.clone());
    }
    if let Some(v) = &f {
        headers.insert("x-forwarded-host", v.clone());
    }
    let plain = h.as_ref().and_then(|v| v.to_str().ok());
    let first = f
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next());
    let want = if trusted { first.or(plain) } else { plain };
    assert_eq!(raw_host(&headers, trusted), want);
}

// ---------------------------------------------------------------------------------
// names: `Slug`, `SchemaName`, `RolePrefix`/`RoleName`, `normalize_domain`, `parse_email`.

/// The spec's slug pattern, `^[a-z][a-z0-9-]{1,30}[a-z0-9]$`, said another way.
fn slug_pattern(s: &str) -> bool {
    let b = s.as_bytes();
    (3..=32).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b[b.len() - 1] != b'-'
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// Input: text (lossy UTF-8), tried as every kind of name; `<prefix>\n<slug>` also as
/// a role prefix and a slug.
pub fn names(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let input = text.as_ref();
    match Slug::parse(input) {
        Ok(slug) => {
            assert!(
                slug_pattern(input) && !RESERVED_SLUGS.contains(&input),
                "{input:?}"
            );
            assert_eq!(slug.as_str(), input);
            assert_eq!(Slug::parse(slug.as_str()), Ok(slug.clone()));
            let schema = slug.schema_name();
            assert_eq!(SchemaName::parse(schema.as_str()), Some(schema.clone()));
            assert_eq!(schema.to_string(), format!("\"{}\"", schema.as_str()));
            assert!(schema.as_str().len() <= 63);
        }
        Err(SlugError::Reserved(word)) => {
            assert_eq!(word, input);
            assert!(RESERVED_SLUGS.contains(&word.as_str()));
        }
        Err(SlugError::Pattern) => assert!(!slug_pattern(input), "{input:?} refused"),
    }
    if let Some(schema) = SchemaName::parse(input) {
        // Injective: exactly the schema name of one slug.
        assert_eq!(schema.as_str(), input);
        let slug = input
            .strip_prefix("tenant_")
            .map(|s| s.replace('_', "-"))
            .map(|s| Slug::parse(&s));
        match slug {
            Some(Ok(slug)) => assert_eq!(slug.schema_name(), schema),
            other => panic!("schema {input:?} of no slug: {other:?}"),
        }
    }
    let (prefix, slug) = match input.split_once('\n') {
        Some((p, s)) => (p, s),
        None => (input, "acme"),
    };
    if let Some(p) = RolePrefix::parse(prefix) {
        assert_eq!(p.as_str(), prefix);
        assert_eq!(RolePrefix::parse(p.as_str()), Some(p.clone()));
        let mut roles = vec![p.runtime_role(), p.tenants_group()];
        if let Ok(slug) = Slug::parse(slug) {
            roles.push(p.tenant_role(&slug));
        }
        for role in roles {
            // PostgreSQL cuts identifiers at 63 bytes: a longer one would collide.
            assert!(role.as_str().len() <= 63, "{}", role.as_str());
            assert_eq!(RoleName::parse(&p, role.as_str()), Some(role.clone()));
        }
    }
    if let Some(d) = normalize_domain(input) {
        assert!(is_dns_name(&d), "{input:?} -> {d:?}");
        assert_eq!(normalize_domain(&d), Some(d.clone()), "not idempotent");
    }
    if let Ok(e) = parse_email(input) {
        assert_eq!(parse_email(&e).ok(), Some(e.clone()), "not idempotent");
        assert!(e.len() <= 254 && e.contains('@') && !e.chars().any(char::is_whitespace));
    }
}

// ---------------------------------------------------------------------------------
// bodies: the JSON body of every endpoint with a `model.rs`, read as the `Json`
// extractor reads it, then validated as the handler does.

/// The body types, in the order of the selector byte.
pub const BODIES: &[&str] = &[
    "jobs::JobInput",
    "candidates::Input",
    "applications::NewApplication",
    "applications::Change",
    "applications::MoveTo",
    "employees::Input",
    "time_off::Input",
    "services::Input",
];

/// Input: `<selector byte><JSON body>`; the selector (modulo 8) picks the body type.
pub fn bodies(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match usize::from(which) % BODIES.len() {
        0 => body_job(body),
        1 => body_candidate(body),
        2 => {
            if let Some(a) = read::<applications::model::NewApplication>(body) {
                let problem = applications::model::rating_problem(a.rating);
                assert_eq!(
                    problem.is_none(),
                    a.rating.is_none_or(|r| (0..=5).contains(&r))
                );
            }
        }
        3 => {
            if let Some(c) = read::<applications::model::Change>(body) {
                let _ = applications::model::rating_problem(c.rating.flatten());
            }
        }
        4 => {
            let _ = read::<applications::model::MoveTo>(body);
        }
        5 => body_employee(body),
        6 => body_time_off(body),
        _ => body_service(body),
    }
}

/// The body as the extractor reads it; a refusal must be a 4xx.
fn read<T: serde::de::DeserializeOwned>(body: &[u8]) -> Option<T> {
    match parse::<T>(body) {
        Ok(v) => Some(v),
        Err(e) => {
            assert_4xx(&e);
            None
        }
    }
}

fn body_job(body: &[u8]) {
    let Some(input) = read::<jobs::model::JobInput>(body) else {
        return;
    };
    match input.apply(jobs::model::JobDraft::default()) {
        Ok(d) => {
            let n = d.title.chars().count();
            assert!(
                (1..=200).contains(&n) && d.title.trim() == d.title,
                "{:?}",
                d.title
            );
            assert!((1..=10_000).contains(&d.positions));
            assert!(jobs::model::STATUSES.contains(&d.status.as_str()));
            assert!(jobs::model::EMPLOYMENT_TYPES.contains(&d.employment_type.as_str()));
            assert!(jobs::model::REMOTE_POLICIES.contains(&d.remote_policy.as_str()));
            if let (Some(a), Some(b)) = (d.salary_min, d.salary_max) {
                assert!(0 <= a && a <= b);
            }
            if d.salary_min.is_some() || d.salary_max.is_some() {
                assert!(d.salary_currency.as_ref().is_some_and(|c| c.len() == 3));
            }
        }
        Err(e) => assert_4xx(&e),
    }
}

fn body_candidate(body: &[u8]) {
    let Some(input) = read::<candidates::model::Input>(body) else {
        return;
    };
    match input.apply(candidates::model::Draft::default()) {
        Ok(d) => {
            assert!(!d.name.is_empty() && d.name.chars().count() <= 200);
            assert_eq!(parse_email(&d.email).ok(), Some(d.email.clone()));
            assert!(candidates::model::SOURCES.contains(&d.source.as_str()));
            assert!(d.tags.len() <= 50 && d.tags.iter().all(|t| !t.is_empty()));
        }
        Err(e) => assert_4xx(&e),
    }
}

fn body_employee(body: &[u8]) {
    let Some(input) = read::<employees::model::Input>(body) else {
        return;
    };
    match input.apply(employees::model::Draft::default()) {
        Ok(d) => {
            assert!((0.0..=1000.0).contains(&d.pto_balance_days));
            assert_eq!((d.pto_balance_days * 2.0).fract(), 0.0);
            assert_eq!(parse_email(&d.email).ok(), Some(d.email.clone()));
            assert!(d.user_id.is_none_or(|u| u > 0));
        }
        Err(e) => assert_4xx(&e),
    }
}

fn body_time_off(body: &[u8]) {
    let Some(input) = read::<time_off::model::Input>(body) else {
        return;
    };
    match input.check() {
        Ok(d) => {
            assert!(d.start_date <= d.end_date);
            assert!((d.end_date - d.start_date).num_days() <= 366);
            assert!(d.total_days > 0.0 && d.total_days <= 367.0);
            if d.half_day {
                assert_eq!(d.total_days, 0.5);
            }
        }
        Err(e) => assert_4xx(&e),
    }
}

fn body_service(body: &[u8]) {
    let Some(input) = read::<services::model::Input>(body) else {
        return;
    };
    match input.apply(services::model::Draft::default()) {
        Ok(d) => {
            assert!(services::model::KINDS.contains(&d.kind.as_str()));
            assert!(d.price_minor.is_none_or(|p| p >= 0));
            if d.price_minor.is_some() {
                assert!(d.currency.is_some());
            }
        }
        Err(e) => assert_4xx(&e),
    }
}

// ---------------------------------------------------------------------------------
// cursor: `http::pagination::Page::parse`.

/// The cursor the server hands out after `id`.
fn cursor_after(id: i64) -> Option<String> {
    let page = Page {
        limit: 1,
        before: None,
    };
    page.finish(vec![id, 0], |x| *x).next_cursor
}

/// Input: `<cursor>` or `<limit>\n<cursor>` (lossy UTF-8).
pub fn cursor(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (limit, cursor) = match text.split_once('\n') {
        Some((l, c)) => (Some(l), Some(c)),
        None => (None, Some(text.as_ref())),
    };
    for (limit, cursor) in [(limit, cursor), (cursor, None)] {
        match Page::parse(limit, cursor) {
            Ok(page) => {
                assert!((1..=MAX_LIMIT).contains(&page.limit));
                if limit.is_none_or(str::is_empty) {
                    assert_eq!(page.limit, DEFAULT_LIMIT);
                }
                if let Some(id) = page.before {
                    assert!(id > 0);
                    // One spelling per position: a decoded cursor re-encodes identically,
                    // and the cursor issued for it decodes back.
                    assert_eq!(cursor_after(id).as_deref(), cursor, "{limit:?}");
                }
            }
            Err(e) => assert_4xx(&e),
        }
    }
    // Any id taken from the input issues a cursor that decodes to it.
    let mut id = [0u8; 8];
    for (i, b) in data.iter().take(8).enumerate() {
        id[i] = *b;
    }
    let id = i64::from_be_bytes(id)
        .checked_abs()
        .unwrap_or(i64::MAX)
        .max(1);
    let issued = cursor_after(id);
    let page = Page::parse(None, issued.as_deref());
    assert!(
        matches!(page, Ok(Page { before: Some(b), .. }) if b == id),
        "{issued:?}"
    );
}

// ---------------------------------------------------------------------------------
// archive: the export archive reader (`zumodra_tenancy::archive`).

/// A refusal must be a typed `ArchiveError`; anything else is a finding.
#[track_caller]
fn assert_archive_refusal(result: &zumodra_tenancy::Result<Manifest>) {
    if let Err(e) = result {
        assert!(
            matches!(e, zumodra_tenancy::Error::Archive(_)),
            "untyped refusal: {e:?}"
        );
    }
}

/// Input: `<mode byte><rest>`. Mode (modulo 4): 0, `rest` is an archive file (gzip'd
/// tar); 1, an uncompressed tar stream, so mutations reach the manifest and parts
/// directly; 2, one part's bytes, verified against a manifest entry whose checksum and
/// row count are computed here, so they reach the line checks; 3, a `manifest.json`.
pub fn archive(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => {
            let result = archive::verify_tar(flate2::read::GzDecoder::new(rest));
            assert_archive_refusal(&result);
            if let Ok(m) = result {
                check_manifest(&m);
            }
        }
        1 => {
            let result = archive::verify_tar(rest);
            assert_archive_refusal(&result);
            if let Ok(m) = result {
                check_manifest(&m);
            }
        }
        2 => {
            let part = part_for("tables/jobs.jsonl", Some("jobs"), rest);
            let result = archive::verify_part(&part, rest);
            // Ok exactly when every line is a JSON object.
            let objects = lines(rest).iter().all(|l| {
                matches!(
                    serde_json::from_slice::<serde_json::Value>(l),
                    Ok(serde_json::Value::Object(_))
                )
            });
            match result {
                Ok(()) => assert!(objects),
                Err(zumodra_tenancy::Error::Archive(ArchiveError::BadLine(..))) => {
                    assert!(!objects)
                }
                Err(e) => panic!("a part with a right checksum refused: {e:?}"),
            }
            // Any other checksum is refused as such.
            let mut wrong = part.clone();
            wrong.sha256 = format!("0{}", &part.sha256[1..]);
            if wrong.sha256 != part.sha256 {
                assert!(matches!(
                    archive::verify_part(&wrong, rest),
                    Err(zumodra_tenancy::Error::Archive(ArchiveError::Checksum(..)))
                ));
            }
        }
        _ => {
            if let Ok(m) = archive::read_manifest(rest) {
                check_manifest(&m);
                // Round trip: what the exporter would write reads back the same.
                let json = serde_json::to_vec_pretty(&m).unwrap_or_default();
                assert_eq!(archive::read_manifest(&json).ok(), Some(m));
            }
        }
    }
}

fn check_manifest(m: &Manifest) {
    assert!(m.format_version <= archive::FORMAT_VERSION);
    assert!(m.parts.iter().any(|p| p.file == "users.jsonl"));
    for p in &m.parts {
        match &p.table {
            Some(t) => assert_eq!(p.file, format!("tables/{t}.jsonl")),
            None => assert_eq!(p.file, "users.jsonl"),
        }
    }
}

/// The lines of a part as the reader splits them: at `\n`, a final `\n` ending the
/// last line rather than starting an empty one.
fn lines(data: &[u8]) -> Vec<Vec<u8>> {
    std::io::BufRead::split(data, b'\n')
        .map(|l| l.unwrap_or_default())
        .collect()
}

/// The manifest entry of a part holding `data`: rows and checksum as the exporter
/// computes them (the SHA-256 of the file, each line followed by `\n`).
pub fn part_for(file: &str, table: Option<&str>, data: &[u8]) -> Part {
    let mut hasher = Sha256::new();
    let lines = lines(data);
    for line in &lines {
        hasher.update(line);
        hasher.update(b"\n");
    }
    Part {
        file: file.into(),
        table: table.map(str::to_owned),
        rows: lines.len() as u64,
        bytes: data.len() as u64,
        sha256: hex::encode(hasher.finalize()),
    }
}

/// A small valid archive, uncompressed (mode 1) and gzip'd (mode 0): the seeds of the
/// `archive` corpus.
pub fn sample_archive() -> (Vec<u8>, Vec<u8>) {
    let users = b"{\"id\": 1, \"email\": \"ann@acme.test\", \"display_name\": \"Ann\"}\n".to_vec();
    let jobs = b"{\"id\": 1, \"title\": \"Welder\", \"version\": 1}\n{\"id\": 2, \"title\": \"Cook\", \"version\": 3}\n".to_vec();
    let members = b"{\"user_id\": 1, \"role\": \"owner\"}\n".to_vec();
    let parts = vec![
        part_for("tables/jobs.jsonl", Some("jobs"), &jobs),
        part_for("tables/members.jsonl", Some("members"), &members),
        part_for("users.jsonl", None, &users),
    ];
    let manifest = Manifest {
        format: "zumodra-tenant-archive".into(),
        format_version: archive::FORMAT_VERSION,
        tenant: archive::ArchivedTenant {
            slug: "acme".into(),
            name: "Acme".into(),
            plan: "starter".into(),
        },
        migration_version: 1,
        exported_at: chrono::DateTime::UNIX_EPOCH,
        parts,
    };
    let manifest = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    let mut tar = tar::Builder::new(Vec::new());
    for (name, bytes) in [
        ("manifest.json", &manifest),
        ("tables/jobs.jsonl", &jobs),
        ("tables/members.jsonl", &members),
        ("users.jsonl", &users),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        let _ = tar.append_data(&mut header, name, bytes.as_slice());
    }
    let plain = tar.into_inner().unwrap_or_default();
    let mut gz = Vec::new();
    let _ = flate2::read::GzEncoder::new(plain.as_slice(), flate2::Compression::fast())
        .read_to_end(&mut gz);
    (plain, gz)
}

/// Seed inputs per target, written into `fuzz/corpus/<target>/` by
/// `cargo test -p zumodra --test fuzz_corpus -- --ignored write_seeds`.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut out: Vec<(&'static str, Vec<u8>)> = Vec::new();
    for h in [
        "\u{0}acme.localhost:8080",
        "\u{1}proxy.internal\nAcme.LocalHost., other",
        "\u{0}localhost",
        "\u{0}[::1]:80",
        "\u{0}jobs.acme.com.",
    ] {
        out.push(("host", h.as_bytes().to_vec()));
    }
    for n in [
        "acme-corp",
        "tenant_acme_corp",
        "zab12cd_\nacme",
        "Jobs.Acme.COM.",
        " Ann@Example.com ",
        "admin",
    ] {
        out.push(("names", n.as_bytes().to_vec()));
    }
    let bodies: [(u8, &str); 8] = [
        (
            0,
            r#"{"title": "Welder", "positions": 2, "status": "open", "salary_min": 100, "salary_max": 200, "salary_currency": "EUR"}"#,
        ),
        (
            1,
            r#"{"name": "Ann", "email": "ann@acme.test", "source": "referral", "tags": ["a", "b"]}"#,
        ),
        (
            2,
            r#"{"job_id": 1, "candidate_id": 2, "stage": "screening", "rating": 4}"#,
        ),
        (3, r#"{"rating": null, "version": 3}"#),
        (4, r#"{"stage": "offer", "version": 1}"#),
        (
            5,
            r#"{"name": "Bo", "email": "bo@acme.test", "pto_balance_days": 12.5, "user_id": 3, "status": "active"}"#,
        ),
        (
            6,
            r#"{"kind": "vacation", "start_date": "2026-01-05", "end_date": "2026-01-09", "half_day": false}"#,
        ),
        (
            7,
            r#"{"kind": "fixed", "title": "Audit", "price_minor": 5000, "currency": "EUR"}"#,
        ),
    ];
    for (which, body) in bodies {
        let mut b = vec![which];
        b.extend_from_slice(body.as_bytes());
        out.push(("bodies", b));
    }
    for c in [
        "c1000000000000002a",
        "50\nc1000000000000002a",
        "200\n",
        "-1\nC1",
    ] {
        out.push(("cursor", c.as_bytes().to_vec()));
    }
    let (plain, gz) = sample_archive();
    out.push(("archive", [&[0u8][..], &gz].concat()));
    out.push(("archive", [&[1u8][..], &plain].concat()));
    out.push((
        "archive",
        b"\x02{\"id\": 1}\n{\"a\": [1, {\"b\": null}]}".to_vec(),
    ));
    let manifest_start = plain.iter().position(|b| *b == b'{').unwrap_or(0);
    let manifest_end = plain[manifest_start..]
        .windows(2)
        .position(|w| w == b"\n}")
        .map_or(plain.len(), |i| manifest_start + i + 2);
    out.push((
        "archive",
        [&[3u8][..], &plain[manifest_start..manifest_end]].concat(),
    ));
    out
}
