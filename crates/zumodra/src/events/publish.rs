//! Every audited mutation is also a real-time event of its tenant: `job.created`,
//! `application.moved`, `time_off.approved`, … published in the same transaction, so it is
//! delivered exactly when the change commits.

use serde_json::{Map, Value};
use zumodra_tenancy::TenantTx;

use crate::http::error::ApiError;

/// The permission a member needs to receive events about `entity`; `None` for an entity
/// that has no events (nothing is published for it: no permission, no event).
fn view_permission(entity: &str) -> Option<&'static str> {
    Some(match entity {
        "job" => "jobs.view",
        "candidate" => "candidates.view",
        "application" => "applications.view",
        "employee" => "employees.view",
        "time_off" => "time_off.view_all",
        "service" => "services.view",
        "member" => "members.view",
        _ => return None,
    })
}

fn past_tense(action: &str) -> String {
    match action {
        "cancel" => "cancelled".into(),
        a if a.ends_with('e') => format!("{a}d"),
        a => format!("{a}ed"),
    }
}

/// The few fields of an object worth pushing: ids, names, states. Never whole documents.
const FIELDS: &[&str] = &[
    "title",
    "name",
    "status",
    "stage",
    "role",
    "kind",
    "job_id",
    "candidate_id",
    "employee_id",
];

/// Publish the event of one mutation of `entity` `id` inside `tx`.
pub async fn mutation(
    tx: &TenantTx,
    entity: &str,
    action: &str,
    id: i64,
    after: Option<&Value>,
) -> Result<(), ApiError> {
    let Some(permission) = view_permission(entity) else {
        return Ok(());
    };
    let mut data = Map::new();
    data.insert("id".into(), id.into());
    if let Some(Value::Object(object)) = after {
        for field in FIELDS {
            if let Some(value) = object
                .get(*field)
                .filter(|v| !v.is_object() && !v.is_array())
            {
                data.insert((*field).into(), value.clone());
            }
        }
    }
    let kind = format!("{entity}.{}", past_tense(action));
    tx.publish(&kind, Some(permission), Value::Object(data))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn kinds_read_as_past_events() {
        assert_eq!(super::past_tense("create"), "created");
        assert_eq!(super::past_tense("move"), "moved");
        assert_eq!(super::past_tense("publish"), "published");
        assert_eq!(super::past_tense("cancel"), "cancelled");
        assert_eq!(super::past_tense("approve"), "approved");
        assert!(super::view_permission("audit_log").is_none());
    }
}
