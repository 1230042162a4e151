//! `public.platform_audit`: every platform action and every cross-tenant attempt.

use std::net::IpAddr;

use serde_json::Value;
use zumodra_tenancy::TenantId;

use crate::http::error::ApiError;
use crate::state::AppState;

/// One platform audit row.
pub struct PlatformEvent<'a> {
    pub actor: Option<i64>,
    pub action: &'a str,
    pub tenant: Option<TenantId>,
    pub address: IpAddr,
    pub detail: Value,
}

/// Write a platform audit row.
pub async fn record(state: &AppState, event: PlatformEvent<'_>) -> Result<(), ApiError> {
    let conn = state.engine.shared().await?;
    conn.execute(
        "insert into public.platform_audit (actor_user_id, action, tenant_id, address, detail) \
         values ($1, $2, $3, $4, $5)",
        &[
            &event.actor,
            &event.action,
            &event.tenant.map(|t| t.0),
            &event.address.to_string(),
            &event.detail,
        ],
    )
    .await
    .map_err(zumodra_tenancy::Error::from)?;
    Ok(())
}
