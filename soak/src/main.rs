//! The `zumodra-soak` command; see the crate documentation and docs/reliability.md.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("isolation") => match zumodra_soak::isolation::Options::parse(&args[1..]) {
            Ok(options) => zumodra_soak::isolation::run(options).await,
            Err(e) => Err(e),
        },
        _ => Err(anyhow::anyhow!(
            "usage: zumodra-soak isolation [--tenants 1000] [--clients 64] [--duration 10m] \
             [--url postgres://postgres@127.0.0.1:5432] [--out soak-result.json] \
             [--server PATH|in-process] [--max-requests N] [--probe-percent 25] \
             [--ws-subscribers 32] [--exporters 4] [--jobs 5] [--candidates 20] [--applications 5]"
        )),
    };
    match result {
        Ok(report) if report.passed => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("zumodra-soak: {e:#}");
            ExitCode::from(2)
        }
    }
}
