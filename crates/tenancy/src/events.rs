//! Tenant events (`job.created`, `application.moved`, …) for real-time clients.
//!
//! An event is published inside the tenant transaction that caused it, with
//! `pg_notify`: PostgreSQL delivers notifications only when the transaction commits, so
//! a rolled-back change publishes nothing, and every server instance listening on
//! [`EVENTS_CHANNEL`] receives every committed event. The tenant id in the payload is
//! the transaction's own, never a caller's value.

use serde::{Deserialize, Serialize};

use crate::catalog::TenantId;
use crate::error::{Error, Result};
use crate::TenantTx;

/// The notification channel of tenant events.
pub const EVENTS_CHANNEL: &str = "zumodra_events";

// PostgreSQL refuses notification payloads of 8,000 bytes or more.
const MAX_PAYLOAD: usize = 7_900;

/// One event, as it travels between server instances.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TenantEvent {
    pub tenant_id: TenantId,
    /// `job.created`, `application.moved`, …
    pub kind: String,
    /// The permission a member needs to receive it (`candidates.view`…); `None`: every
    /// member.
    pub permission: Option<String>,
    /// Small: ids and a few fields, never whole documents.
    pub data: serde_json::Value,
}

impl TenantTx {
    /// Publish an event of this transaction's tenant, delivered if and when it commits.
    pub async fn publish(
        &self,
        kind: &str,
        permission: Option<&str>,
        data: serde_json::Value,
    ) -> Result<()> {
        let event = TenantEvent {
            tenant_id: self.tenant_id(),
            kind: kind.to_owned(),
            permission: permission.map(str::to_owned),
            data,
        };
        let payload = serde_json::to_string(&event).map_err(|e| Error::Other(e.into()))?;
        if payload.len() > MAX_PAYLOAD {
            return Err(Error::Invalid(format!(
                "event {kind} is too large to publish ({} bytes)",
                payload.len()
            )));
        }
        self.execute("select pg_notify('zumodra_events', $1)", &[&payload])
            .await?;
        Ok(())
    }
}
