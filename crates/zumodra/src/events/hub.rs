//! The fan-out of tenant events to the sockets of their tenant.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use zumodra_tenancy::events::{TenantEvent, EVENTS_CHANNEL};
use zumodra_tenancy::{Engine, TenantId};

/// Events a socket may have waiting before it counts as too slow.
pub const SOCKET_BUFFER: usize = 256;

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// One broadcast channel per tenant with connected sockets.
pub struct Hub {
    tenants: Mutex<HashMap<TenantId, broadcast::Sender<Arc<TenantEvent>>>>,
    shutdown: watch::Sender<bool>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            tenants: Mutex::new(HashMap::new()),
            shutdown: watch::channel(false).0,
        }
    }
}

impl Hub {
    /// A receiver of `tenant`'s events only.
    pub fn subscribe(&self, tenant: TenantId) -> broadcast::Receiver<Arc<TenantEvent>> {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        tenants
            .entry(tenant)
            .or_insert_with(|| broadcast::channel(SOCKET_BUFFER).0)
            .subscribe()
    }

    /// Hand an event to the sockets of its own tenant.
    pub fn dispatch(&self, event: TenantEvent) {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = tenants.get(&event.tenant_id) {
            if sender.send(Arc::new(event)).is_err() {
                // Nobody listens any more: forget the channel.
                tenants.retain(|_, s| s.receiver_count() > 0);
            }
        }
    }

    /// Sockets open for `tenant` on this instance.
    pub fn sockets(&self, tenant: TenantId) -> usize {
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        tenants.get(&tenant).map_or(0, |s| s.receiver_count())
    }

    /// Resolves when the server shuts down (sockets close then, so draining ends).
    pub fn on_shutdown(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Ask every socket to close.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    /// `LISTEN zumodra_events` and dispatch, reconnecting with backoff. Abort the
    /// handle to stop.
    pub fn spawn_listener(self: Arc<Self>, engine: Engine) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut backoff = MIN_BACKOFF;
            loop {
                match engine.listen(EVENTS_CHANNEL).await {
                    Ok(mut listener) => {
                        backoff = MIN_BACKOFF;
                        while let Some(payload) = listener.recv().await {
                            match serde_json::from_str::<TenantEvent>(&payload) {
                                Ok(event) => self.dispatch(event),
                                Err(e) => tracing::warn!(error = %e, "unreadable event"),
                            }
                        }
                        tracing::warn!("lost the event listener; reconnecting");
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot listen for events"),
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(tenant: i64, kind: &str) -> TenantEvent {
        TenantEvent {
            tenant_id: TenantId(tenant),
            kind: kind.into(),
            permission: None,
            data: serde_json::json!({}),
        }
    }

    #[tokio::test]
    async fn a_subscriber_gets_its_tenants_events_only() {
        let hub = Hub::default();
        let mut a = hub.subscribe(TenantId(1));
        let mut b = hub.subscribe(TenantId(2));
        hub.dispatch(event(2, "for b"));
        hub.dispatch(event(1, "for a"));
        hub.dispatch(event(3, "for nobody"));
        assert_eq!(a.recv().await.unwrap().kind, "for a");
        assert_eq!(b.recv().await.unwrap().kind, "for b");
        assert!(a.try_recv().is_err());
        assert!(b.try_recv().is_err());
        assert_eq!(hub.sockets(TenantId(1)), 1);
    }

    #[tokio::test]
    async fn a_slow_subscriber_lags_without_blocking_the_hub() {
        let hub = Hub::default();
        let mut slow = hub.subscribe(TenantId(1));
        for i in 0..SOCKET_BUFFER + 10 {
            hub.dispatch(event(1, &format!("e{i}")));
        }
        assert!(matches!(
            slow.recv().await,
            Err(broadcast::error::RecvError::Lagged(_))
        ));
    }
}
