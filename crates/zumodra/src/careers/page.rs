//! The careers page: plain server-rendered HTML, every value escaped, a form per open
//! job that works without JavaScript (urlencoded `POST`, then a thank-you page). Errors
//! are HTML pages with the status of the JSON contract (SPEC §3).

use axum::body::Body;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::apply::{self, Application, Origin, PublicJob};
use crate::audit_log::RequestId;
use crate::http::error::{ApiError, FieldErrors};
use crate::http::extract::{ClientAddr, PathId};
use crate::http::pagination::Page;
use crate::rbac::context::TenantHost;
use crate::state::AppState;

/// Escape text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>body{{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}}\
         .job{{border:1px solid #ddd;border-radius:8px;padding:1rem;margin:1rem 0}}label{{display:block;margin:.5rem 0}}\
         input,textarea{{width:100%}}.error{{color:#b00}}</style></head><body>{}</body></html>",
        escape(title),
        body
    )
}

/// An error as an HTML page with the JSON contract's status (and `Retry-After`).
pub fn error_page(err: ApiError) -> Response {
    let message = match &err {
        ApiError::NotFound => "This job is not open (any more).",
        ApiError::Conflict(_) => "You have already applied to this job.",
        ApiError::RateLimited { .. } => {
            "Too many applications from your address; please try again later."
        }
        ApiError::QuotaExceeded(_) => "This company cannot take new applications right now.",
        ApiError::FeatureNotInPlan(_) => "This company has no careers page.",
        ApiError::UnsupportedMediaType | ApiError::InvalidJson(_) => "Please send the form.",
        _ if err.status().is_server_error() => "Something went wrong; please try again later.",
        _ => "This request cannot be answered.",
    };
    let generic = err.into_response();
    let mut response = Response::new(Body::from(layout(
        "Careers",
        &format!("<h1>Sorry</h1><p class=\"error\">{}</p><p><a href=\"/careers\">Back to the jobs</a></p>", escape(message)),
    )));
    *response.status_mut() = generic.status();
    if let Some(retry) = generic.headers().get(header::RETRY_AFTER) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, retry.clone());
    }
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

fn job_html(job: &PublicJob, values: &Application, problems: Option<&FieldErrors>) -> String {
    let mut facts = vec![
        job.employment_type.replace('_', " "),
        job.remote_policy.clone(),
    ];
    for extra in [&job.department, &job.location] {
        if !extra.is_empty() {
            facts.push(extra.clone());
        }
    }
    if let (Some(min), Some(max), Some(cur)) =
        (job.salary_min, job.salary_max, &job.salary_currency)
    {
        facts.push(format!("{min}–{max} {cur}"));
    }
    let problem = |field: &str| {
        problems
            .and_then(|p| p.get(field))
            .map(|p| format!(" <span class=\"error\">{}</span>", escape(p)))
            .unwrap_or_default()
    };
    format!(
        "<section class=\"job\" id=\"job-{id}\"><h2>{title}</h2><p class=\"facts\">{facts}</p><p>{desc}</p>\
         <form method=\"post\" action=\"/careers/jobs/{id}/apply\">\
         <label>Name <input name=\"name\" required maxlength=\"200\" value=\"{name}\">{pn}</label>\
         <label>E-mail <input name=\"email\" type=\"email\" required value=\"{email}\">{pe}</label>\
         <label>Résumé <textarea name=\"resume_text\" rows=\"6\">{resume}</textarea>{pr}</label>\
         <button type=\"submit\">Apply for {title}</button></form></section>",
        id = job.id,
        title = escape(&job.title),
        facts = escape(&facts.join(" · ")),
        desc = escape(&job.description).replace('\n', "<br>"),
        name = escape(&values.name),
        email = escape(&values.email),
        resume = escape(&values.resume_text),
        pn = problem("name"),
        pe = problem("email"),
        pr = problem("resume_text"),
    )
}

/// `GET /careers`: the tenant's name and its open jobs, each with an apply form.
pub async fn index(State(state): State<AppState>, TenantHost(tenant): TenantHost) -> Response {
    let result = async {
        let tx = super::begin(&state, &tenant).await?;
        let page = Page {
            limit: 200,
            before: None,
        };
        apply::open_jobs(&tx, page).await
    }
    .await;
    let jobs = match result {
        Ok(jobs) => jobs,
        Err(e) => return error_page(e),
    };
    let name = escape(&tenant.tenant.name);
    let mut body = format!("<header><h1>Careers at {name}</h1></header><main>");
    if jobs.is_empty() {
        body.push_str("<p>No open positions right now. Please check back soon.</p>");
    }
    for job in jobs.iter().take(200) {
        body.push_str(&job_html(job, &Application::default(), None));
    }
    body.push_str("</main>");
    Html(layout(&format!("Careers at {}", tenant.tenant.name), &body)).into_response()
}

/// `POST /careers/jobs/{id}/apply` (a form): a thank-you page, or the form again with
/// the problems (422).
pub async fn apply_form(
    State(state): State<AppState>,
    TenantHost(tenant): TenantHost,
    address: ClientAddr,
    rid: RequestId,
    PathId(id): PathId,
    form: Result<Form<Application>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return error_page(ApiError::UnsupportedMediaType);
    };
    if let Err(e) = super::limit(&state, &tenant, &address) {
        return error_page(e);
    }
    let tx = match super::begin(&state, &tenant).await {
        Ok(tx) => tx,
        Err(e) => return error_page(e),
    };
    let origin = Origin {
        address: address.0.to_string(),
        request_id: rid.0.as_deref(),
    };
    let values = Application {
        name: form.name.clone(),
        email: form.email.clone(),
        resume_text: form.resume_text.clone(),
    };
    match apply::apply(&tx, &tenant.plan.code, id, form, &origin).await {
        Ok(_) => {}
        Err(ApiError::Validation(fields)) => {
            let job = match apply::open_job(&tx, id).await {
                Ok(Some(job)) => job,
                Ok(None) => return error_page(ApiError::NotFound),
                Err(e) => return error_page(e),
            };
            let body = format!(
                "<h1>Careers at {}</h1><p class=\"error\">Please correct the form.</p>{}",
                escape(&tenant.tenant.name),
                job_html(&job, &values, Some(&fields))
            );
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Html(layout("Careers", &body)),
            )
                .into_response();
        }
        Err(e) => return error_page(e),
    }
    if let Err(e) = tx.commit().await {
        return error_page(e.into());
    }
    // The application is audited: drop the tenant's cache here before answering.
    state.cache.invalidate_tenant(tenant.tenant.id).await;
    let body = format!(
        "<h1>Thank you, {}!</h1><p id=\"thanks\">Your application to {} has been received.</p>\
         <p><a href=\"/careers\">Back to the jobs</a></p>",
        escape(&values.name),
        escape(&tenant.tenant.name)
    );
    Html(layout("Thank you", &body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_that_matters_is_escaped() {
        assert_eq!(
            escape("<script>\"x\" & 'y'</script>"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }
}
