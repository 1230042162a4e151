//! Start-up and shut-down: [`Application::build`] binds the port and opens the
//! database; [`Application::run_until_stopped`] serves until Ctrl-C or SIGTERM, lets
//! in-flight requests finish, stops the cache invalidation task, and closes the
//! database last (stopping the embedded cluster when this process started it).

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;
use zumodra_tenancy::Engine;

use crate::config::Settings;
use crate::database::Database;
use crate::state::AppState;

/// A bound, not yet serving, server.
pub struct Application {
    listener: TcpListener,
    port: u16,
    state: AppState,
    db: Option<Database>,
}

impl Application {
    /// Bind `settings.bind` (port 0 picks a free port) and open the database.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = bind(&settings).await?;
        let db = Database::open(&settings).await?;
        let engine = db.engine.clone();
        Self::assemble(listener, settings, engine, Some(db))
    }

    /// Like [`Application::build`], on an engine the caller owns (tests, benchmarks).
    pub async fn with_engine(settings: Settings, engine: Engine) -> anyhow::Result<Self> {
        let listener = bind(&settings).await?;
        Self::assemble(listener, settings, engine, None)
    }

    fn assemble(
        listener: TcpListener,
        settings: Settings,
        engine: Engine,
        db: Option<Database>,
    ) -> anyhow::Result<Self> {
        let port = listener.local_addr()?.port();
        Ok(Self {
            listener,
            port,
            state: AppState::new(engine, settings)?,
            db,
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serve until Ctrl-C or SIGTERM.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serve until `stop` completes, then drain and close.
    pub async fn run_until(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            state,
            db,
            ..
        } = self;
        let invalidation =
            crate::tenants::invalidate::spawn(state.engine.clone(), state.resolver.clone());
        let events = state.events.clone().spawn_listener(state.engine.clone());
        let cache_listener = crate::cache::listen::spawn(state.engine.clone(), state.cache.clone());
        state.cache.connect(std::time::Duration::from_secs(1)).await;
        let workers = crate::background::spawn(state.engine.clone(), state.metrics.jobs.clone(), 2);
        let mailer = crate::mailer::spawn(state.engine.clone(), &state.settings);
        // Keeps tenant schemas built ahead of sign-ups (a no-op when the engine's
        // warm pool size is 0 and nothing is left from an earlier configuration).
        let warm_pool = state.engine.spawn_warm_pool();
        // Open WebSockets would keep graceful shutdown waiting: close them first.
        let hub = state.events.clone();
        let stop = async move {
            stop.await;
            hub.shutdown();
        };
        let app = crate::http::app(state).into_make_service_with_connect_info::<SocketAddr>();
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
            .context("serving HTTP");
        tracing::info!("server drained; shutting down");
        invalidation.abort();
        events.abort();
        cache_listener.abort();
        warm_pool.abort();
        workers.stop().await;
        mailer.stop().await;
        if let Some(db) = db {
            close(db).await;
        }
        result
    }

    /// Give up without serving (start-up failed after `build`).
    pub async fn close(self) {
        if let Some(db) = self.db {
            close(db).await;
        }
    }
}

async fn bind(settings: &Settings) -> anyhow::Result<TcpListener> {
    TcpListener::bind(settings.bind)
        .await
        .with_context(|| format!("binding {}", settings.bind))
}

// Stopping the embedded cluster blocks (it waits for PostgreSQL to exit).
async fn close(db: Database) {
    if let Err(e) = tokio::task::spawn_blocking(move || db.close()).await {
        tracing::error!(error = %e, "closing the database");
    }
}

/// Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown requested");
}

/// `zumodra serve` and `zumodra demo`.
pub async fn serve(settings: Settings, demo: bool) -> anyhow::Result<()> {
    crate::telemetry::init(settings.log_format);
    let base = settings.base_domain.clone();
    let app = Application::build(settings).await?;
    if demo {
        if let Err(e) = crate::demo::ensure(&app.state.engine).await {
            app.close().await;
            return Err(e);
        }
        crate::demo::print_welcome(&base, app.port());
    }
    tracing::info!(port = app.port(), "listening");
    app.run_until_stopped().await
}
