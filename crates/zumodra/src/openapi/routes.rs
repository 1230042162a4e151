//! Every route of the server, for the OpenAPI document. `tests/api/openapi.rs` fails
//! when the source registers a route that is missing here.

/// One operation.
pub struct Op {
    pub method: &'static str,
    pub path: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    /// Query parameters (all optional).
    pub query: &'static [&'static str],
    /// The request body's schema.
    pub request: Option<&'static str>,
    /// Success status and body schema (`[]X`: a page of X).
    pub response: (u16, Option<&'static str>),
    /// Needs a bearer token.
    pub auth: bool,
    /// An HTML page (form body, HTML answer).
    pub html: bool,
}

const PAGE: &[&str] = &["limit", "cursor"];

const fn op(
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
) -> Op {
    Op {
        method,
        path,
        tag,
        summary,
        query: &[],
        request: None,
        response: (200, None),
        auth: true,
        html: false,
    }
}

const fn q(mut o: Op, query: &'static [&'static str]) -> Op {
    o.query = query;
    o
}

const fn req(mut o: Op, schema: &'static str) -> Op {
    o.request = Some(schema);
    o
}

const fn res(mut o: Op, status: u16, schema: &'static str) -> Op {
    o.response = (status, Some(schema));
    o
}

const fn none(mut o: Op, status: u16) -> Op {
    o.response = (status, None);
    o
}

const fn public(mut o: Op) -> Op {
    o.auth = false;
    o
}

const fn html(mut o: Op) -> Op {
    o.html = true;
    o.auth = false;
    o
}

/// The table.
pub const ROUTES: &[Op] = &[
    public(res(
        op("get", "/healthz", "ops", "The process is alive"),
        200,
        "Status",
    )),
    public(res(
        op("get", "/readyz", "ops", "The database answers (503 if not)"),
        200,
        "Status",
    )),
    public(res(
        op(
            "get",
            "/metrics",
            "ops",
            "Prometheus metrics (allow-listed addresses)",
        ),
        200,
        "Text",
    )),
    public(res(
        op("get", "/api/v1/openapi.json", "ops", "This document"),
        200,
        "Object",
    )),
    // Auth and members.
    public(req(
        res(
            op(
                "post",
                "/api/v1/auth/login",
                "auth",
                "Log in to this tenant",
            ),
            200,
            "Token",
        ),
        "Credentials",
    )),
    none(
        op("post", "/api/v1/auth/logout", "auth", "Revoke this token"),
        204,
    ),
    res(
        op(
            "get",
            "/api/v1/me",
            "auth",
            "The user, role and permissions here",
        ),
        200,
        "Me",
    ),
    q(
        res(
            op("get", "/api/v1/members", "members", "List members"),
            200,
            "[]Member",
        ),
        PAGE,
    ),
    req(
        res(
            op("post", "/api/v1/members", "members", "Add a member"),
            201,
            "Member",
        ),
        "NewMember",
    ),
    req(
        res(
            op(
                "patch",
                "/api/v1/members/{user_id}",
                "members",
                "Change a member's role or state",
            ),
            200,
            "Member",
        ),
        "MemberChange",
    ),
    none(
        op(
            "delete",
            "/api/v1/members/{user_id}",
            "members",
            "Remove a member",
        ),
        204,
    ),
    // Events.
    res(
        op(
            "get",
            "/api/v1/events",
            "events",
            "WebSocket of this tenant's events (upgrade)",
        ),
        101,
        "Object",
    ),
    res(
        op(
            "post",
            "/api/v1/events/ticket",
            "events",
            "A short-lived ticket to open the WebSocket",
        ),
        200,
        "Object",
    ),
    // Jobs.
    q(
        res(op("get", "/api/v1/jobs", "jobs", "List jobs"), 200, "[]Job"),
        &["limit", "cursor", "status"],
    ),
    req(
        res(
            op(
                "post",
                "/api/v1/jobs",
                "jobs",
                "Create a job (quota max_jobs)",
            ),
            201,
            "Job",
        ),
        "JobInput",
    ),
    res(
        op("get", "/api/v1/jobs/{id}", "jobs", "One job"),
        200,
        "Job",
    ),
    req(
        res(
            op(
                "patch",
                "/api/v1/jobs/{id}",
                "jobs",
                "Change a job (version guards)",
            ),
            200,
            "Job",
        ),
        "JobInput",
    ),
    none(
        op("delete", "/api/v1/jobs/{id}", "jobs", "Delete a job"),
        204,
    ),
    res(
        op("post", "/api/v1/jobs/{id}/publish", "jobs", "Open a job"),
        200,
        "Job",
    ),
    res(
        op("post", "/api/v1/jobs/{id}/close", "jobs", "Close a job"),
        200,
        "Job",
    ),
    // Candidates.
    q(
        res(
            op(
                "get",
                "/api/v1/candidates",
                "candidates",
                "List or search candidates",
            ),
            200,
            "[]Candidate",
        ),
        &["limit", "cursor", "q", "source"],
    ),
    req(
        res(
            op(
                "post",
                "/api/v1/candidates",
                "candidates",
                "Create a candidate (quota max_candidates_per_month)",
            ),
            201,
            "Candidate",
        ),
        "CandidateInput",
    ),
    res(
        op(
            "get",
            "/api/v1/candidates/{id}",
            "candidates",
            "One candidate",
        ),
        200,
        "Candidate",
    ),
    req(
        res(
            op(
                "patch",
                "/api/v1/candidates/{id}",
                "candidates",
                "Change a candidate",
            ),
            200,
            "Candidate",
        ),
        "CandidateInput",
    ),
    none(
        op(
            "delete",
            "/api/v1/candidates/{id}",
            "candidates",
            "Delete a candidate",
        ),
        204,
    ),
    req(
        res(
            op(
                "post",
                "/api/v1/candidates/import",
                "candidates",
                "Import candidates, all or nothing (quota max_candidates_per_month)",
            ),
            201,
            "Imported",
        ),
        "CandidateBatch",
    ),
    // Applications.
    q(
        res(
            op(
                "get",
                "/api/v1/applications",
                "applications",
                "List applications",
            ),
            200,
            "[]Application",
        ),
        &["limit", "cursor", "job_id", "candidate_id", "stage"],
    ),
    req(
        res(
            op(
                "post",
                "/api/v1/applications",
                "applications",
                "Create an application",
            ),
            201,
            "Application",
        ),
        "NewApplication",
    ),
    res(
        op(
            "get",
            "/api/v1/applications/{id}",
            "applications",
            "One application with its history",
        ),
        200,
        "ApplicationDetail",
    ),
    req(
        res(
            op(
                "patch",
                "/api/v1/applications/{id}",
                "applications",
                "Rate an application",
            ),
            200,
            "Application",
        ),
        "ApplicationChange",
    ),
    req(
        res(
            op(
                "post",
                "/api/v1/applications/{id}/move",
                "applications",
                "Move to a pipeline stage",
            ),
            200,
            "Application",
        ),
        "MoveTo",
    ),
    // HR.
    q(
        res(
            op("get", "/api/v1/employees", "employees", "List employees"),
            200,
            "[]Employee",
        ),
        &["limit", "cursor", "status", "department"],
    ),
    req(
        res(
            op(
                "post",
                "/api/v1/employees",
                "employees",
                "Create an employee (quota max_employees)",
            ),
            201,
            "Employee",
        ),
        "EmployeeInput",
    ),
    res(
        op("get", "/api/v1/employees/{id}", "employees", "One employee"),
        200,
        "Employee",
    ),
    req(
        res(
            op(
                "patch",
                "/api/v1/employees/{id}",
                "employees",
                "Change an employee",
            ),
            200,
            "Employee",
        ),
        "EmployeeInput",
    ),
    none(
        op(
            "delete",
            "/api/v1/employees/{id}",
            "employees",
            "Delete an employee",
        ),
        204,
    ),
    q(
        res(
            op(
                "get",
                "/api/v1/time-off",
                "time_off",
                "List time off (own, or all for HR)",
            ),
            200,
            "[]TimeOff",
        ),
        &["limit", "cursor", "status", "employee_id"],
    ),
    req(
        res(
            op("post", "/api/v1/time-off", "time_off", "Request time off"),
            201,
            "TimeOff",
        ),
        "TimeOffInput",
    ),
    res(
        op("get", "/api/v1/time-off/{id}", "time_off", "One request"),
        200,
        "TimeOff",
    ),
    res(
        op(
            "post",
            "/api/v1/time-off/{id}/approve",
            "time_off",
            "Approve (deducts vacation days)",
        ),
        200,
        "TimeOff",
    ),
    res(
        op("post", "/api/v1/time-off/{id}/reject", "time_off", "Reject"),
        200,
        "TimeOff",
    ),
    res(
        op(
            "post",
            "/api/v1/time-off/{id}/cancel",
            "time_off",
            "Cancel (refunds approved vacation)",
        ),
        200,
        "TimeOff",
    ),
    // Services.
    q(
        res(
            op(
                "get",
                "/api/v1/services",
                "services",
                "List service listings",
            ),
            200,
            "[]Service",
        ),
        &["limit", "cursor", "status", "category"],
    ),
    req(
        res(
            op("post", "/api/v1/services", "services", "Create a listing"),
            201,
            "Service",
        ),
        "ServiceInput",
    ),
    res(
        op("get", "/api/v1/services/{id}", "services", "One listing"),
        200,
        "Service",
    ),
    req(
        res(
            op(
                "patch",
                "/api/v1/services/{id}",
                "services",
                "Change a listing",
            ),
            200,
            "Service",
        ),
        "ServiceInput",
    ),
    none(
        op(
            "delete",
            "/api/v1/services/{id}",
            "services",
            "Delete a listing",
        ),
        204,
    ),
    // Settings.
    res(
        op(
            "get",
            "/api/v1/settings",
            "settings",
            "Pipeline stages, timezone, branding",
        ),
        200,
        "Settings",
    ),
    req(
        res(
            op(
                "patch",
                "/api/v1/settings",
                "settings",
                "Change settings (owner, admin)",
            ),
            200,
            "Settings",
        ),
        "SettingsInput",
    ),
    // Data export.
    res(
        op(
            "post",
            "/api/v1/exports",
            "exports",
            "Queue an export of this tenant (data.export)",
        ),
        202,
        "Object",
    ),
    res(
        op(
            "get",
            "/api/v1/exports/{id}",
            "exports",
            "An export's status and, once done, a signed download link",
        ),
        200,
        "Object",
    ),
    public(q(
        res(
            op(
                "get",
                "/api/v1/exports/{id}/download",
                "exports",
                "The archive (gzip'd tar), through the signed link",
            ),
            200,
            "Text",
        ),
        &["expires", "sig"],
    )),
    // Audit and usage.
    q(
        res(
            op(
                "get",
                "/api/v1/audit-log",
                "audit",
                "The tenant's audit log",
            ),
            200,
            "[]AuditEntry",
        ),
        &["limit", "cursor", "entity", "actor", "from", "to"],
    ),
    res(
        op(
            "get",
            "/api/v1/usage",
            "usage",
            "Usage against the plan's limits",
        ),
        200,
        "Usage",
    ),
    // Public careers.
    public(q(
        res(
            op("get", "/api/v1/public/jobs", "careers", "Open jobs"),
            200,
            "[]PublicJob",
        ),
        PAGE,
    )),
    public(res(
        op("get", "/api/v1/public/jobs/{id}", "careers", "One open job"),
        200,
        "PublicJob",
    )),
    public(req(
        res(
            op(
                "post",
                "/api/v1/public/jobs/{id}/apply",
                "careers",
                "Apply (rate-limited per address)",
            ),
            201,
            "Received",
        ),
        "PublicApplication",
    )),
    html(res(
        op("get", "/careers", "careers", "The careers page (HTML)"),
        200,
        "Text",
    )),
    html(req(
        res(
            op(
                "post",
                "/careers/jobs/{id}/apply",
                "careers",
                "Apply through the page's form",
            ),
            200,
            "Text",
        ),
        "PublicApplication",
    )),
    // Platform host.
    public(req(
        res(
            op(
                "post",
                "/platform/v1/auth/login",
                "platform",
                "Platform admin login (allow-listed)",
            ),
            200,
            "Token",
        ),
        "Credentials",
    )),
    none(
        op(
            "post",
            "/platform/v1/auth/logout",
            "platform",
            "Revoke this platform token",
        ),
        204,
    ),
    public(req(
        res(
            op(
                "post",
                "/platform/v1/signup",
                "platform",
                "Self-service sign-up (free plan, trial)",
            ),
            201,
            "Object",
        ),
        "Signup",
    )),
    q(
        res(
            op("get", "/platform/v1/tenants", "platform", "List tenants"),
            200,
            "[]Tenant",
        ),
        PAGE,
    ),
    req(
        res(
            op(
                "post",
                "/platform/v1/tenants",
                "platform",
                "Create a tenant with its owner",
            ),
            201,
            "Tenant",
        ),
        "NewTenant",
    ),
    res(
        op(
            "get",
            "/platform/v1/tenants/{slug}",
            "platform",
            "One tenant",
        ),
        200,
        "Tenant",
    ),
    req(
        res(
            op(
                "patch",
                "/platform/v1/tenants/{slug}",
                "platform",
                "Rename, change plan, maintenance",
            ),
            200,
            "Tenant",
        ),
        "TenantChange",
    ),
    none(
        op(
            "delete",
            "/platform/v1/tenants/{slug}",
            "platform",
            "Delete a tenant",
        ),
        202,
    ),
    req(
        res(
            op(
                "post",
                "/platform/v1/tenants/{slug}/suspend",
                "platform",
                "Suspend",
            ),
            200,
            "Tenant",
        ),
        "Reason",
    ),
    res(
        op(
            "post",
            "/platform/v1/tenants/{slug}/resume",
            "platform",
            "Resume",
        ),
        200,
        "Tenant",
    ),
    req(
        res(
            op(
                "post",
                "/platform/v1/tenants/{slug}/cancel",
                "platform",
                "Cancel",
            ),
            200,
            "Tenant",
        ),
        "Reason",
    ),
    req(
        res(
            op(
                "post",
                "/platform/v1/tenants/{slug}/domains",
                "platform",
                "Add a custom domain",
            ),
            201,
            "Object",
        ),
        "Domain",
    ),
    req(
        none(
            op(
                "delete",
                "/platform/v1/tenants/{slug}/domains",
                "platform",
                "Remove a custom domain",
            ),
            204,
        ),
        "Domain",
    ),
    req(
        res(
            op(
                "post",
                "/platform/v1/tenants/{slug}/impersonate",
                "platform",
                "A short-lived token as the tenant's owner, audited",
            ),
            200,
            "Token",
        ),
        "Reason",
    ),
    req(
        res(
            op(
                "post",
                "/platform/v1/tenants/{slug}/maintenance",
                "platform",
                "Turn maintenance mode on or off",
            ),
            200,
            "Tenant",
        ),
        "Object",
    ),
    q(
        res(
            op(
                "get",
                "/platform/v1/reports/usage",
                "platform",
                "Per-tenant usage across all tenants (json or csv)",
            ),
            200,
            "Object",
        ),
        &["format", "sort"],
    ),
    q(
        res(
            op(
                "get",
                "/platform/v1/audit",
                "platform",
                "The platform audit log",
            ),
            200,
            "Object",
        ),
        &["limit", "cursor", "action", "tenant"],
    ),
];
