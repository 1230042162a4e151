//! Checking an e-mail and password, the same way for every login: always one argon2id
//! verification (against a dummy hash for an unknown e-mail), so neither the answer nor
//! its timing tells whether an account exists. Failures are rate-limited per e-mail and
//! per address.

use std::net::IpAddr;

use zumodra_tenancy::password::{dummy_hash, verify_blocking};

use crate::auth::limiter::{LOGIN_FAILURES_PER_ADDRESS, LOGIN_FAILURES_PER_EMAIL};
use crate::http::error::{ApiError, FieldErrors};
use crate::state::AppState;

/// A verified user.
#[derive(Debug, Clone)]
pub struct Verified {
    pub user_id: i64,
    pub is_platform_admin: bool,
}

/// Both fields present, or 422 naming the missing ones.
pub fn require_fields(
    email: Option<String>,
    password: Option<String>,
) -> Result<(String, String), ApiError> {
    let mut fields = FieldErrors::new();
    let email = email.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty());
    let password = password.filter(|p| !p.is_empty());
    if email.is_none() {
        fields.insert("email".into(), "required".into());
    }
    if password.is_none() {
        fields.insert("password".into(), "required".into());
    }
    match (email, password) {
        (Some(e), Some(p)) => Ok((e, p)),
        _ => Err(ApiError::Validation(fields)),
    }
}

/// Verify credentials; `None` for any kind of mismatch (unknown, wrong, disabled).
/// 429 once too many failures were counted for the e-mail or the address.
pub async fn verify(
    state: &AppState,
    email: &str,
    password: String,
    address: IpAddr,
) -> Result<Option<Verified>, ApiError> {
    let email_key = email.to_lowercase();
    let address_key = address.to_string();
    let limiters = &state.limiters;
    limiters
        .login_email
        .check(&email_key, LOGIN_FAILURES_PER_EMAIL)?;
    limiters
        .login_address
        .check(&address_key, LOGIN_FAILURES_PER_ADDRESS)?;

    let row = {
        let conn = state.engine.shared().await?;
        conn.query_opt(
            "select id, password_hash, disabled, is_platform_admin from public.users \
             where lower(email) = lower($1)",
            &[&email],
        )
        .await
        .map_err(zumodra_tenancy::Error::from)?
    };
    let (user, hash) = match &row {
        Some(row) => (
            Some((
                row.get::<_, i64>(0),
                row.get::<_, bool>(2),
                row.get::<_, bool>(3),
            )),
            row.get::<_, String>(1),
        ),
        None => (None, dummy_hash().to_owned()),
    };
    let matches = verify_blocking(password, hash).await;
    match user {
        Some((user_id, false, is_platform_admin)) if matches => {
            limiters.login_email.reset(&email_key);
            Ok(Some(Verified {
                user_id,
                is_platform_admin,
            }))
        }
        _ => {
            failed(state, email, address);
            Ok(None)
        }
    }
}

/// Count a failed login (also used when the password was right but the user may not
/// log in here, so that case is indistinguishable).
pub fn failed(state: &AppState, email: &str, address: IpAddr) {
    state.limiters.login_email.record(email.to_lowercase());
    state.limiters.login_address.record(address.to_string());
}
