//! The WebSocket endpoint and its tickets.
//!
//! Browsers cannot set an `Authorization` header on a WebSocket, so besides the bearer
//! token a client may first `POST /api/v1/events/ticket` (authenticated as usual) and
//! connect with `?ticket=…`: a session of this tenant and member that lives 60 seconds
//! and is revoked on use.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use crate::auth::session;
use crate::http::error::{ApiError, ApiResult};
use crate::rbac::{Ctx, Member};
use crate::state::AppState;

const TICKET_TTL: Duration = Duration::from_secs(60);
/// Close codes (RFC 6455 §7.4: 4000–4999 are the application's).
const CLOSE_SLOW: u16 = 4008;
const CLOSE_GOING_AWAY: u16 = 1001;

/// `POST /api/v1/events/ticket` → `{ticket, expires_at}`.
pub async fn ticket(
    State(state): State<AppState>,
    ctx: Ctx,
) -> ApiResult<(StatusCode, axum::Json<serde_json::Value>)> {
    let (token, hash) = session::new_token();
    let expires_at = Utc::now() + chrono::Duration::from_std(TICKET_TTL).unwrap_or_default();
    let conn = state.engine.shared().await?;
    conn.execute(
        "insert into public.sessions (token_hash, user_id, tenant_id, expires_at, reason) \
         values ($1, $2, $3, $4, 'websocket ticket')",
        &[
            &hash,
            &ctx.member.user_id,
            &ctx.tenant.tenant.id.0,
            &expires_at,
        ],
    )
    .await
    .map_err(zumodra_tenancy::Error::from)?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "ticket": token, "expires_at": expires_at })),
    ))
}

/// Moves `?ticket=` into the `Authorization` header, so the usual extractor
/// authenticates the upgrade; the ticket is revoked once used.
pub struct Ticketed {
    ctx: Ctx,
}

impl FromRequestParts<AppState> for Ticketed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ticket = parts
            .uri
            .query()
            .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("ticket=")))
            .map(str::to_owned);
        if let Some(ticket) = &ticket {
            let value = HeaderValue::from_str(&format!("Bearer {ticket}"))
                .map_err(|_| ApiError::Unauthenticated)?;
            parts.headers.insert(header::AUTHORIZATION, value);
        }
        let ctx = Ctx::from_request_parts(parts, state).await?;
        if ticket.is_some() {
            session::revoke(state, &ctx.session.token_hash).await?;
        }
        Ok(Self { ctx })
    }
}

/// `GET /api/v1/events` → 101 Switching Protocols.
pub async fn upgrade(
    State(state): State<AppState>,
    Ticketed { ctx }: Ticketed,
    ws: WebSocketUpgrade,
) -> Response {
    let Ctx {
        tenant, member, tx, ..
    } = ctx;
    // Nothing to read from the tenant's tables any more: end the transaction now.
    drop(tx);
    let receiver = state.events.subscribe(tenant.tenant.id);
    let shutdown = state.events.on_shutdown();
    ws.on_upgrade(move |socket| serve(socket, member, receiver, shutdown))
        .into_response()
}

async fn serve(
    mut socket: WebSocket,
    member: Member,
    mut events: tokio::sync::broadcast::Receiver<
        std::sync::Arc<zumodra_tenancy::events::TenantEvent>,
    >,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let close = |code: u16, reason: &'static str| {
        Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        }))
    };
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => {
                    let allowed = event
                        .permission
                        .as_deref()
                        .is_none_or(|p| member.permissions.iter().any(|m| m.as_str() == p));
                    if !allowed {
                        continue;
                    }
                    let text = json!({ "kind": event.kind, "data": event.data }).to_string();
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    let _ = socket.send(close(CLOSE_SLOW, "too slow: events were dropped; reconnect")).await;
                    return;
                }
                Err(RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                // Clients have nothing to say: pings are answered by the library, text
                // and binary messages are ignored, whatever they contain.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            _ = shutdown.changed() => {
                let _ = socket.send(close(CLOSE_GOING_AWAY, "server shutting down")).await;
                return;
            }
        }
    }
}
