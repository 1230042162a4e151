//! Logs: JSON lines (or human-readable) on stderr, filtered by `RUST_LOG` (default
//! `info`). Every line inside a request carries the request span's fields: request id,
//! method, path, tenant slug and user id.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Install the global subscriber; a second call does nothing.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}
