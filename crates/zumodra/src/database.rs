//! Opening the database: the configured server, or the embedded cluster by default.

use anyhow::Context;
use zumodra_tenancy::embedded::{ClusterOptions, EmbeddedPostgres};
use zumodra_tenancy::{Engine, EngineConfig, Recycling};

use crate::config::Settings;

/// The engine, and the embedded cluster when this process runs one.
pub struct Database {
    pub engine: Engine,
    embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// Connect (starting or joining the embedded cluster when no URL is set) and bring
    /// the shared catalog up to date.
    pub async fn open(settings: &Settings) -> anyhow::Result<Self> {
        let (database, embedded) = match &settings.database_url {
            Some(url) => (url.parse().context("ZUMODRA_DATABASE_URL")?, None),
            None => {
                let dir = settings.data_dir.clone();
                let cluster = tokio::task::spawn_blocking(move || {
                    EmbeddedPostgres::start(&dir, &ClusterOptions::default())
                })
                .await??;
                let config = cluster.database().await?;
                (config, Some(cluster))
            }
        };
        let mut config = EngineConfig::new(database, settings.base_domain.clone());
        config.pool_size = settings.pool_size;
        config.admin_pool_size = settings.admin_pool_size;
        config.pool_timeout = settings.pool_timeout;
        config.warm_pool_size = settings.warm_pool_size;
        config.recycling = Recycling {
            max_age: settings.pool_max_age,
            max_uses: settings.pool_max_uses,
        };
        let engine = Engine::connect(config)
            .await
            .context("connecting to PostgreSQL")?;
        Ok(Self { engine, embedded })
    }

    /// `true` when this process started the embedded cluster.
    pub fn runs_embedded_cluster(&self) -> bool {
        self.embedded.as_ref().is_some_and(|c| c.started_here())
    }

    /// Stop the embedded cluster if this process started it. Call last, after the
    /// server has drained.
    pub fn close(mut self) {
        drop(self.engine);
        if let Some(mut cluster) = self.embedded.take() {
            if let Err(e) = cluster.stop() {
                eprintln!("warning: stopping the embedded PostgreSQL: {e:#}");
            }
        }
    }
}
