//! `POST /platform/v1/signup` `{slug, name, email, password}`: a self-service tenant on
//! the free plan, in `trial`, with the caller as owner. Rate-limited per address. An
//! existing account may sign up again (another company) only with its own password.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use zumodra_tenancy::catalog::{check_password, parse_email};
use zumodra_tenancy::{NewOwner, NewTenant, TenantStatus};

use super::PlatformHost;
use crate::audit::{self, PlatformEvent};
use crate::auth::credentials;
use crate::auth::limiter::SIGNUPS_PER_ADDRESS;
use crate::http::error::{ApiError, ApiResult, FieldErrors};
use crate::http::extract::{ClientAddr, Json};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct Signup {
    pub slug: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
}

pub async fn signup(
    State(state): State<AppState>,
    _: PlatformHost,
    ClientAddr(address): ClientAddr,
    Json(body): Json<Signup>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    state
        .limiters
        .signup_address
        .hit(address.to_string(), SIGNUPS_PER_ADDRESS)?;
    let mut fields = FieldErrors::new();
    let slug = body.slug.unwrap_or_default();
    let name = body.name.unwrap_or_default();
    let email = body.email.unwrap_or_default();
    let password = body.password.unwrap_or_default();
    if let Err(e) = zumodra_tenancy::Slug::parse(&slug) {
        fields.insert("slug".into(), e.to_string());
    }
    if name.trim().is_empty() || name.chars().count() > 200 {
        fields.insert("name".into(), "1 to 200 characters".into());
    }
    if parse_email(&email).is_err() {
        fields.insert("email".into(), "an e-mail address".into());
    }
    if check_password(&password).is_err() {
        fields.insert("password".into(), "8 to 1024 characters".into());
    }
    if !fields.is_empty() {
        return Err(ApiError::Validation(fields));
    }
    if state.engine.user_by_email(&email).await?.is_some()
        && credentials::verify(&state, &email, password.clone(), address)
            .await?
            .is_none()
    {
        return Err(ApiError::Conflict(
            "An account with this e-mail exists; sign up with its password.".into(),
        ));
    }
    let tenant = state
        .engine
        .create_tenant(NewTenant {
            slug,
            name,
            plan: "free".into(),
            status: TenantStatus::Trial,
            owner: Some(NewOwner {
                email: email.clone(),
                password,
                display_name: String::new(),
            }),
        })
        .await?;
    let owner = state.engine.user_by_email(&email).await?.map(|u| u.id);
    audit::record(
        &state,
        PlatformEvent {
            actor: owner,
            action: "signup",
            tenant: Some(tenant.id),
            address,
            detail: json!({ "slug": tenant.slug }),
        },
    )
    .await?;
    let mut value = super::tenants::view(&state, &tenant).await?;
    value["url"] = json!(format!(
        "http://{}.{}/",
        tenant.slug,
        state.engine.base_domain()
    ));
    Ok((StatusCode::CREATED, axum::Json(value)))
}
