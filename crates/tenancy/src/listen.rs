//! `LISTEN` on a dedicated connection of the runtime role, for the notifications the
//! engine sends (today: `zumodra_tenant_changed` with the tenant's slug as payload, on
//! every status or domain change).
//!
//! The connection is not from the pool: a pooled connection would be recycled by other
//! work and `LISTEN` is session state. When the connection breaks, [`Listener::recv`]
//! returns `None` and the caller reconnects (and must assume it missed notifications).

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::error::Result;
use crate::Engine;

/// The channel of tenant status and domain changes; the payload is the tenant's slug.
pub const TENANT_CHANGED: &str = "zumodra_tenant_changed";

/// A live `LISTEN` on one channel.
pub struct Listener {
    // Kept so the session stays open; dropping the client ends it.
    _client: tokio_postgres::Client,
    rx: mpsc::UnboundedReceiver<String>,
    task: JoinHandle<()>,
}

impl Listener {
    /// The next notification's payload; `None` once the connection is lost.
    pub async fn recv(&mut self) -> Option<String> {
        self.rx.recv().await
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Engine {
    /// Listen for [`TENANT_CHANGED`] on a new connection of the runtime role.
    pub async fn listen_tenant_changes(&self) -> Result<Listener> {
        self.listen(TENANT_CHANGED).await
    }

    /// Listen on one of the engine's channels ([`TENANT_CHANGED`],
    /// [`crate::events::EVENTS_CHANNEL`]) on a new connection of the runtime role.
    pub async fn listen(&self, channel: &'static str) -> Result<Listener> {
        let mut config = self.inner.runtime_config.clone();
        config
            .application_name("zumodra-listen")
            .connect_timeout(Duration::from_secs(5))
            // A server that vanished without closing the socket is noticed in about a
            // minute instead of never.
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30));
        let (client, mut connection) = config.connect(NoTls).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(n)) if n.channel() == channel => {
                        if tx.send(n.payload().to_owned()).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "notification connection lost");
                        return;
                    }
                }
            }
        });
        client.batch_execute(&format!("listen {channel}")).await?;
        Ok(Listener {
            _client: client,
            rx,
            task,
        })
    }
}
