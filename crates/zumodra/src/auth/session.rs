//! Session tokens: 256 random bits, shown once to the client as hex, stored only as
//! their SHA-256 in `public.sessions`, bound to one tenant (or to the platform host).

use axum::http::{header, HeaderMap};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use zumodra_tenancy::TenantId;

use crate::cache::{CacheScope, Invalidation, TenantKey, INVALIDATION_CHANNEL};
use crate::http::error::ApiError;
use crate::state::AppState;

/// A new token and the hash to store.
pub fn new_token() -> (String, Vec<u8>) {
    let bytes: [u8; 32] = rand::random();
    let token = hex::encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The bearer token of a request, if it sent one that looks like ours.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && token.len() == 64).then_some(token)
}

/// A live session and its user.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Session {
    pub token_hash: Vec<u8>,
    pub user_id: i64,
    pub email: String,
    pub display_name: String,
    pub is_platform_admin: bool,
    /// `None` for a platform-host session.
    pub tenant_id: Option<TenantId>,
    /// The platform admin acting as this user (an impersonation session), if any.
    pub impersonator_id: Option<i64>,
    /// Why the admin impersonates (impersonation sessions only).
    pub reason: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// The live (not expired, not revoked) session of a token, its user not disabled. An
/// impersonation session lives only while its impersonator is an enabled platform admin.
pub async fn lookup(state: &AppState, token: &str) -> Result<Option<Session>, ApiError> {
    let hash = hash_token(token);
    let conn = state.engine.shared().await?;
    let row = conn
        .query_opt(
            "select s.user_id, s.tenant_id, u.email, u.display_name, u.is_platform_admin, \
             s.impersonator_id, s.reason, s.expires_at \
             from public.sessions s join public.users u on u.id = s.user_id \
             where s.token_hash = $1 and s.revoked_at is null and s.expires_at > now() \
             and not u.disabled and (s.impersonator_id is null or exists (select 1 \
             from public.users i where i.id = s.impersonator_id and i.is_platform_admin \
             and not i.disabled))",
            &[&hash],
        )
        .await
        .map_err(zumodra_tenancy::Error::from)?;
    Ok(row.map(|row| Session {
        token_hash: hash,
        user_id: row.get(0),
        tenant_id: row.get::<_, Option<i64>>(1).map(TenantId),
        email: row.get(2),
        display_name: row.get(3),
        is_platform_admin: row.get(4),
        impersonator_id: row.get(5),
        reason: row.get(6),
        expires_at: row.get(7),
    }))
}

/// How long a session found on a tenant host may be served from the tenant's cache.
/// Revocations (logout, a member removed) drop it at once on every instance; a user
/// disabled on the platform is refused within this time at most.
const SESSION_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// Why a lookup is not cached: no live session (random tokens must not fill the
/// cache), an impersonation session (it must end the moment its admin is demoted), or
/// an error.
enum Uncached {
    NoSession,
    Impersonation(Session),
    Failed(ApiError),
}

/// [`lookup`] for a request on `host`'s tenant host, through the tenant's cache.
pub async fn lookup_on_tenant(
    state: &AppState,
    host: TenantId,
    token: &str,
) -> Result<Option<Session>, ApiError> {
    let key = TenantKey::new(host, "session", hex::encode(hash_token(token)));
    let found = state
        .cache
        .get_or_load(&key, SESSION_CACHE_TTL, || async {
            match lookup(state, token).await {
                Ok(Some(s)) if s.impersonator_id.is_some() => Err(Uncached::Impersonation(s)),
                Ok(Some(session)) => Ok(session),
                Ok(None) => Err(Uncached::NoSession),
                Err(e) => Err(Uncached::Failed(e)),
            }
        })
        .await;
    match found {
        // A cached session still ends at its own expiry.
        Ok(session) if session.expires_at > Utc::now() => Ok(Some(session)),
        Ok(_) | Err(Uncached::NoSession) => Ok(None),
        Err(Uncached::Impersonation(session)) => Ok(Some(session)),
        Err(Uncached::Failed(e)) => Err(e),
    }
}

/// Drop `tenant`'s cached entries here and on every other instance (sessions revoked).
async fn invalidate(state: &AppState, tenant: TenantId) -> Result<(), ApiError> {
    state.cache.invalidate_tenant(tenant).await;
    let payload = Invalidation(CacheScope::Tenant(tenant)).payload();
    let conn = state.engine.shared().await?;
    conn.execute(
        "select pg_notify($1, $2)",
        &[&INVALIDATION_CHANNEL, &payload.as_str()],
    )
    .await
    .map_err(zumodra_tenancy::Error::from)?;
    Ok(())
}

/// Store a new session; returns the token and its expiry.
pub async fn create(
    state: &AppState,
    user_id: i64,
    tenant: Option<TenantId>,
) -> Result<(String, DateTime<Utc>), ApiError> {
    let (token, hash) = new_token();
    let ttl = chrono::Duration::from_std(state.settings.session_ttl)
        .unwrap_or_else(|_| chrono::Duration::hours(12));
    let expires_at = Utc::now() + ttl;
    let conn = state.engine.shared().await?;
    conn.execute(
        "insert into public.sessions (token_hash, user_id, tenant_id, expires_at) \
         values ($1, $2, $3, $4)",
        &[&hash, &user_id, &tenant.map(|t| t.0), &expires_at],
    )
    .await
    .map_err(zumodra_tenancy::Error::from)?;
    Ok((token, expires_at))
}

/// Revoke one session.
pub async fn revoke(state: &AppState, token_hash: &[u8]) -> Result<(), ApiError> {
    let conn = state.engine.shared().await?;
    let row = conn
        .query_opt(
            "update public.sessions set revoked_at = now() where token_hash = $1 and revoked_at is null \
             returning tenant_id",
            &[&token_hash],
        )
        .await
        .map_err(zumodra_tenancy::Error::from)?;
    if let Some(tenant) = row.and_then(|r| r.get::<_, Option<i64>>(0)) {
        invalidate(state, TenantId(tenant)).await?;
    }
    Ok(())
}

/// Revoke every session of a user in one tenant (removed from the tenant).
pub async fn revoke_user_in_tenant(
    state: &AppState,
    user_id: i64,
    tenant: TenantId,
) -> Result<(), ApiError> {
    let conn = state.engine.shared().await?;
    conn.execute(
        "update public.sessions set revoked_at = now() \
         where user_id = $1 and tenant_id = $2 and revoked_at is null",
        &[&user_id, &tenant.0],
    )
    .await
    .map_err(zumodra_tenancy::Error::from)?;
    invalidate(state, tenant).await
}
