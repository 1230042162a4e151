//! The isolation soak in small (issue #8): 10 tenants for 15 s against the server started
//! in this process, with every probe kind. Needs PostgreSQL: `ZUMODRA_TEST_DATABASE_URL`
//! (as the other tests), else postgres://postgres@127.0.0.1:5432.
// Test code may unwrap: a failed unwrap is a failed test (helpers included, which
// clippy's allow-unwrap-in-tests does not cover).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use zumodra_soak::isolation::{run, Options};
use zumodra_soak::server::ServerSpec;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_tenants_for_fifteen_seconds_leak_nothing() {
    let url = std::env::var("ZUMODRA_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let options = Options {
        tenants: 10,
        clients: 8,
        duration: Duration::from_secs(15),
        url,
        out: None,
        server: Some(ServerSpec::InProcess),
        ws_subscribers: 4,
        exporters: 2,
        hot_tenants: 3,
        ..Options::default()
    };
    let report = run(options).await.expect("the soak ran");
    assert_eq!(report.leaks, 0, "{:#?}", report.leak_samples);
    assert_eq!(
        report.wrong_answers, 0,
        "{:#?}",
        report.wrong_answer_samples
    );
    assert!(
        report.server_errors.is_empty(),
        "{:#?}",
        report.server_errors
    );
    assert_eq!(report.transport_errors, 0, "{:?}", report.transport_samples);
    assert!(report.requests > 500, "{} requests", report.requests);
    assert!(report.probes > 100, "{} probes", report.probes);
    // Every probe kind ran, and the detectors had something to see.
    for kind in [
        "foreign_id",
        "foreign_id_write",
        "foreign_token",
        "foreign_host",
        "foreign_ws",
        "cache_warm",
        "export_link",
    ] {
        assert!(
            report.probes_by_kind.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} probe: {:?}",
            report.probes_by_kind
        );
    }
    assert_eq!(report.logins, 10);
    assert!(report.ws_events_own_marker > 0, "no WebSocket event seen");
    assert!(report.export_downloads >= 2, "exports were not downloaded");
    // The workload did what it says: every operation got the status it should.
    assert!(
        report.unexpected_statuses.is_empty(),
        "{:?} {:#?}",
        report.unexpected_statuses,
        report.unexpected_samples
    );
    assert!(report.passed);
}
