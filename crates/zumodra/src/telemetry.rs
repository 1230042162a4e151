//! Logs: JSON lines (or human-readable) on stderr, filtered by `RUST_LOG` (default
//! `info`). Every line inside a request carries the request span's fields: request id,
//! method, path, tenant slug and user id.

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Install the global subscriber; a second call does nothing.
pub fn init(format: LogFormat) {
    let spec = std::env::var(EnvFilter::DEFAULT_ENV).unwrap_or_else(|_| "info".into());
    let _ = subscriber(format, filter(&spec), std::io::stderr).try_init();
}

/// The filter for `spec` (`RUST_LOG` syntax; `info` when unset or unreadable), with
/// tokio-postgres capped at `info` whatever `spec` says: at `debug` it logs every
/// query's parameters, and those carry secrets (an export link's signing secret in its
/// job's payload) and personal data.
pub fn filter(spec: &str) -> EnvFilter {
    let filter = EnvFilter::try_new(spec).unwrap_or_else(|_| EnvFilter::new("info"));
    match "tokio_postgres=info".parse() {
        Ok(cap) => filter.add_directive(cap),
        Err(_) => filter,
    }
}

/// The subscriber [`init`] installs, writing to `writer` instead of stderr. Tests that
/// read the server's logs (no secret may appear in them) install it for their own
/// thread, so they check exactly the lines production would write.
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Json => Box::new(
            builder
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
        ),
        LogFormat::Pretty => Box::new(builder.finish()),
    }
}
