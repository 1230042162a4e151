//! The component schemas, written compactly: `field: type` where a type is `string`,
//! `integer`, `number`, `boolean`, `date`, `date-time`, `object`, `[string]`, a schema
//! name, or any of those followed by `?` (nullable).

use serde_json::{json, Map, Value};

fn ty(spec: &str) -> Value {
    if let Some(inner) = spec.strip_suffix('?') {
        return json!({"anyOf": [ty(inner), {"type": "null"}]});
    }
    if let Some(item) = spec.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        return json!({"type": "array", "items": ty(item)});
    }
    match spec {
        "string" | "integer" | "number" | "boolean" | "object" => json!({"type": spec}),
        "date" | "date-time" => json!({"type": "string", "format": spec}),
        name => json!({"$ref": format!("#/components/schemas/{name}")}),
    }
}

fn obj(fields: &[(&str, &str)]) -> Value {
    let props: Map<String, Value> = fields
        .iter()
        .map(|(k, t)| ((*k).to_owned(), ty(t)))
        .collect();
    json!({"type": "object", "properties": props})
}

const JOB: &[(&str, &str)] = &[
    ("id", "integer"),
    ("title", "string"),
    ("description", "string"),
    ("department", "string"),
    ("location", "string"),
    ("employment_type", "string"),
    ("remote_policy", "string"),
    ("salary_min", "integer?"),
    ("salary_max", "integer?"),
    ("salary_currency", "string?"),
    ("positions", "integer"),
    ("deadline", "date?"),
    ("status", "string"),
    ("created_by", "integer?"),
    ("version", "integer"),
    ("published_at", "date-time?"),
    ("created_at", "date-time"),
    ("updated_at", "date-time"),
];
const CANDIDATE: &[(&str, &str)] = &[
    ("id", "integer"),
    ("name", "string"),
    ("email", "string"),
    ("phone", "string"),
    ("resume_text", "string"),
    ("source", "string"),
    ("tags", "[string]"),
    ("version", "integer"),
    ("created_at", "date-time"),
    ("updated_at", "date-time"),
];
const APPLICATION: &[(&str, &str)] = &[
    ("id", "integer"),
    ("job_id", "integer"),
    ("candidate_id", "integer"),
    ("stage", "string"),
    ("rating", "integer?"),
    ("version", "integer"),
    ("created_at", "date-time"),
    ("updated_at", "date-time"),
];
const EMPLOYEE: &[(&str, &str)] = &[
    ("id", "integer"),
    ("user_id", "integer?"),
    ("name", "string"),
    ("email", "string"),
    ("job_title", "string"),
    ("department", "string"),
    ("manager_id", "integer?"),
    ("hire_date", "date?"),
    ("employment_type", "string"),
    ("status", "string"),
    ("pto_balance_days", "number"),
    ("version", "integer"),
    ("created_at", "date-time"),
    ("updated_at", "date-time"),
];
const TIME_OFF: &[(&str, &str)] = &[
    ("id", "integer"),
    ("employee_id", "integer"),
    ("kind", "string"),
    ("start_date", "date"),
    ("end_date", "date"),
    ("half_day", "boolean"),
    ("total_days", "number"),
    ("status", "string"),
    ("reason", "string"),
    ("decided_by", "integer?"),
    ("decided_at", "date-time?"),
    ("created_at", "date-time"),
    ("updated_at", "date-time"),
];
const SERVICE: &[(&str, &str)] = &[
    ("id", "integer"),
    ("title", "string"),
    ("description", "string"),
    ("category", "string"),
    ("type", "string"),
    ("price_minor", "integer?"),
    ("currency", "string?"),
    ("delivery", "string"),
    ("status", "string"),
    ("version", "integer"),
    ("created_at", "date-time"),
    ("updated_at", "date-time"),
];

/// Writable fields of `fields` (no id or timestamps), plus `version` for PATCH.
fn input(fields: &[(&str, &str)]) -> Value {
    let writable: Vec<(&str, &str)> = fields
        .iter()
        .copied()
        .filter(|(k, _)| {
            !matches!(
                *k,
                "id" | "created_at"
                    | "updated_at"
                    | "created_by"
                    | "published_at"
                    | "decided_by"
                    | "decided_at"
            )
        })
        .collect();
    obj(&writable)
}

/// Every schema by name.
pub fn all() -> Value {
    let mut s = Map::new();
    let mut put = |name: &str, v: Value| {
        s.insert(name.to_owned(), v);
    };
    put(
        "Error",
        json!({"type": "object", "required": ["error"], "properties": {"error": obj(&[
        ("code", "string"), ("message", "string"), ("fields", "object"), ("permission", "string"),
        ("limit", "string"), ("feature", "string")])}}),
    );
    put("Status", obj(&[("status", "string")]));
    put("Text", json!({"type": "string"}));
    put("Object", json!({"type": "object"}));
    put(
        "Credentials",
        obj(&[("email", "string"), ("password", "string")]),
    );
    put(
        "Token",
        obj(&[("token", "string"), ("expires_at", "date-time")]),
    );
    put(
        "Me",
        obj(&[
            ("user", "object"),
            ("role", "string"),
            ("permissions", "[string]"),
        ]),
    );
    put(
        "Member",
        obj(&[
            ("user_id", "integer"),
            ("email", "string"),
            ("display_name", "string"),
            ("role", "string"),
            ("active", "boolean"),
            ("joined_at", "date-time"),
        ]),
    );
    put(
        "NewMember",
        obj(&[
            ("email", "string"),
            ("role", "string"),
            ("password", "string?"),
        ]),
    );
    put(
        "MemberChange",
        obj(&[("role", "string"), ("active", "boolean")]),
    );
    put("Job", obj(JOB));
    put("JobInput", input(JOB));
    put("Candidate", obj(CANDIDATE));
    put("CandidateInput", input(CANDIDATE));
    put("CandidateBatch", obj(&[("candidates", "[CandidateInput]")]));
    put(
        "Imported",
        obj(&[("created", "[integer]"), ("skipped", "[string]")]),
    );
    put("Application", obj(APPLICATION));
    put("ApplicationDetail", {
        let mut d = obj(APPLICATION);
        d["properties"]["history"] = ty("[Move]");
        d
    });
    put(
        "Move",
        obj(&[
            ("id", "integer"),
            ("from_stage", "string?"),
            ("to_stage", "string"),
            ("moved_by", "integer?"),
            ("created_at", "date-time"),
        ]),
    );
    put(
        "NewApplication",
        obj(&[
            ("job_id", "integer"),
            ("candidate_id", "integer"),
            ("stage", "string"),
            ("rating", "integer"),
        ]),
    );
    put(
        "ApplicationChange",
        obj(&[("rating", "integer?"), ("version", "integer")]),
    );
    put(
        "MoveTo",
        obj(&[("stage", "string"), ("version", "integer")]),
    );
    put("Employee", obj(EMPLOYEE));
    put("EmployeeInput", input(EMPLOYEE));
    put("TimeOff", obj(TIME_OFF));
    put(
        "TimeOffInput",
        obj(&[
            ("employee_id", "integer"),
            ("kind", "string"),
            ("start_date", "date"),
            ("end_date", "date"),
            ("half_day", "boolean"),
            ("reason", "string"),
        ]),
    );
    put("Service", obj(SERVICE));
    put("ServiceInput", input(SERVICE));
    put(
        "AuditEntry",
        obj(&[
            ("id", "integer"),
            ("seq", "integer"),
            ("at", "date-time"),
            ("actor_user_id", "integer?"),
            ("action", "string"),
            ("entity", "string"),
            ("entity_id", "string?"),
            ("before", "object?"),
            ("after", "object?"),
            ("request_id", "string?"),
            ("address", "string?"),
            ("hash", "string"),
        ]),
    );
    put(
        "Usage",
        obj(&[
            ("plan", "string"),
            ("limits", "[Meter]"),
            ("requests_per_minute", "integer"),
            ("features", "[string]"),
        ]),
    );
    put(
        "Meter",
        obj(&[("limit", "string"), ("used", "integer"), ("max", "integer")]),
    );
    put(
        "PublicJob",
        obj(&[
            ("id", "integer"),
            ("title", "string"),
            ("description", "string"),
            ("department", "string"),
            ("location", "string"),
            ("employment_type", "string"),
            ("remote_policy", "string"),
            ("salary_min", "integer?"),
            ("salary_max", "integer?"),
            ("salary_currency", "string?"),
            ("deadline", "date?"),
            ("published_at", "date-time?"),
        ]),
    );
    put(
        "PublicApplication",
        obj(&[
            ("name", "string"),
            ("email", "string"),
            ("resume_text", "string"),
        ]),
    );
    put(
        "Received",
        obj(&[("received", "boolean"), ("job_id", "integer")]),
    );
    put(
        "Signup",
        obj(&[
            ("slug", "string"),
            ("name", "string"),
            ("email", "string"),
            ("password", "string"),
        ]),
    );
    put(
        "Tenant",
        obj(&[
            ("id", "integer"),
            ("slug", "string"),
            ("name", "string"),
            ("plan", "string"),
            ("status", "string"),
            ("created_at", "date-time"),
            ("updated_at", "date-time"),
        ]),
    );
    put(
        "NewTenant",
        obj(&[
            ("slug", "string"),
            ("name", "string"),
            ("plan", "string"),
            ("owner_email", "string"),
            ("owner_password", "string"),
        ]),
    );
    put(
        "TenantChange",
        obj(&[
            ("name", "string"),
            ("plan", "string"),
            ("maintenance", "boolean"),
        ]),
    );
    put("Reason", obj(&[("reason", "string?")]));
    put("Domain", obj(&[("domain", "string")]));
    put(
        "Settings",
        obj(&[
            ("pipeline_stages", "[string]"),
            ("timezone", "string"),
            ("branding", "object"),
            ("updated_at", "date-time"),
        ]),
    );
    put(
        "SettingsInput",
        obj(&[
            ("pipeline_stages", "[string]"),
            ("timezone", "string"),
            ("branding", "object"),
        ]),
    );
    Value::Object(s)
}
