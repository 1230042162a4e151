//! The handlers of each kind of job.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::{Job, JobKind, JobScope};
use crate::{Engine, TenantTx};

/// A boxed, sendable future borrowing for `'a` (what a handler returns).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub(crate) type TenantFnRef =
    dyn for<'a> Fn(&'a TenantTx, &'a Job) -> BoxFuture<'a, anyhow::Result<()>> + Send + Sync;
pub(crate) type PlatformFnRef =
    dyn for<'a> Fn(&'a Engine, &'a Job) -> BoxFuture<'a, anyhow::Result<()>> + Send + Sync;

#[derive(Clone)]
pub(crate) enum Handler {
    Tenant(Arc<TenantFnRef>),
    Platform(Arc<PlatformFnRef>),
}

/// Maps each job kind to its handler. Tenant handlers receive the job's tenant
/// transaction (commit is the worker's: it marks the job done in the same transaction);
/// platform handlers receive the engine and must be idempotent.
#[derive(Clone, Default)]
pub struct JobRegistry {
    handlers: HashMap<&'static str, Handler>,
}

impl JobRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Register the handler of a tenant kind:
    /// `registry.tenant(KIND, |tx, job| Box::pin(async move { … }))`.
    ///
    /// # Panics
    /// If `kind` is platform-wide (a programming error caught at start-up).
    #[allow(clippy::panic)]
    pub fn tenant<F>(&mut self, kind: JobKind, handler: F) -> &mut Self
    where
        F: for<'a> Fn(&'a TenantTx, &'a Job) -> BoxFuture<'a, anyhow::Result<()>>
            + Send
            + Sync
            + 'static,
    {
        if kind.scope() != JobScope::Tenant {
            panic!("{kind} is platform-wide; register it with JobRegistry::platform");
        }
        self.handlers
            .insert(kind.name(), Handler::Tenant(Arc::new(handler)));
        self
    }

    /// Register the handler of a platform-wide kind.
    ///
    /// # Panics
    /// If `kind` is not platform-wide.
    #[allow(clippy::panic)]
    pub fn platform<F>(&mut self, kind: JobKind, handler: F) -> &mut Self
    where
        F: for<'a> Fn(&'a Engine, &'a Job) -> BoxFuture<'a, anyhow::Result<()>>
            + Send
            + Sync
            + 'static,
    {
        if kind.scope() != JobScope::Platform {
            panic!("{kind} is not platform-wide; register it with JobRegistry::tenant");
        }
        self.handlers
            .insert(kind.name(), Handler::Platform(Arc::new(handler)));
        self
    }

    /// The kinds with a handler.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<_> = self.handlers.keys().copied().collect();
        kinds.sort_unstable();
        kinds
    }

    pub(crate) fn get(&self, kind: &str) -> Option<&Handler> {
        self.handlers.get(kind)
    }
}
