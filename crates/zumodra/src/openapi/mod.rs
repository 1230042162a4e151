//! `GET /api/v1/openapi.json`: an OpenAPI 3.1 description of every route, built from one
//! table ([`routes::ROUTES`]) and the schemas in [`schemas`]. A test compares the table
//! with the routes the source registers, so a route cannot be added without it.

pub mod routes;
pub mod schemas;

use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};

use self::routes::{Op, ROUTES};
use crate::state::AppState;

/// The route of the document itself.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(document))
}

async fn document() -> axum::Json<Value> {
    axum::Json(build())
}

fn schema_ref(name: &str) -> Value {
    match name.strip_prefix("[]") {
        Some(item) => json!({
            "type": "object",
            "required": ["items", "next_cursor"],
            "properties": {
                "items": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}},
                "next_cursor": {"type": ["string", "null"]}
            }
        }),
        None => json!({"$ref": format!("#/components/schemas/{name}")}),
    }
}

fn operation(op: &Op) -> Value {
    let mut parameters: Vec<Value> = op
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let ty = if name == "slug" { "string" } else { "integer" };
            json!({"name": name, "in": "path", "required": true, "schema": {"type": ty}})
        })
        .collect();
    for q in op.query {
        parameters.push(
            json!({"name": q, "in": "query", "required": false, "schema": {"type": "string"}}),
        );
    }
    let mut responses = Map::new();
    let (status, body) = op.response;
    let ok = match body {
        Some(_) if op.html => {
            json!({"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}})
        }
        Some(name) => {
            json!({"description": "Success", "content": {"application/json": {"schema": schema_ref(name)}}})
        }
        None => json!({"description": "Success, no body"}),
    };
    responses.insert(status.to_string(), ok);
    responses.insert(
        "default".into(),
        json!({"description": "An error of SPEC §3's table", "content": {"application/json": {"schema": schema_ref("Error")}}}),
    );
    let mut o = json!({
        "tags": [op.tag],
        "summary": op.summary,
        "operationId": format!("{}_{}", op.method, op.path.replace(['/', '{', '}', '-', '.'], "_").trim_matches('_')),
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(req) = op.request {
        let media = if op.html {
            "application/x-www-form-urlencoded"
        } else {
            "application/json"
        };
        o["requestBody"] =
            json!({"required": true, "content": {media: {"schema": schema_ref(req)}}});
    }
    if op.auth {
        o["security"] = json!([{"bearer": []}]);
    }
    o
}

/// The whole document.
pub fn build() -> Value {
    let mut paths = Map::new();
    for op in ROUTES {
        let entry = paths.entry(op.path.to_owned()).or_insert_with(|| json!({}));
        entry[op.method] = operation(op);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Zumodra API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Multi-tenant HR and recruiting. Tenant routes are served on <slug>.<base domain>; platform routes on the base domain. Errors: {\"error\": {\"code\", \"message\", ...}}."
        },
        "servers": [{"url": "http://{tenant}.localhost:8080", "variables": {"tenant": {"default": "acme"}}}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas::all(),
        }
    })
}
