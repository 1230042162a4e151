//! Row mapping shared by the feature modules: a row that does not fit its type is a
//! server bug (500, logged), never a client's fault.

use zumodra_tenancy::tokio_postgres::{Error as PgError, Row};

use crate::http::error::ApiError;

/// Map every row with `f`.
pub fn all<T>(rows: &[Row], f: fn(&Row) -> Result<T, PgError>) -> Result<Vec<T>, ApiError> {
    rows.iter().map(|r| one(r, f)).collect()
}

/// Map one row with `f`.
pub fn one<T>(row: &Row, f: fn(&Row) -> Result<T, PgError>) -> Result<T, ApiError> {
    f(row).map_err(|e| ApiError::from(zumodra_tenancy::Error::from(e)))
}

/// Map an optional row with `f`.
pub fn opt<T>(row: Option<Row>, f: fn(&Row) -> Result<T, PgError>) -> Result<Option<T>, ApiError> {
    row.as_ref().map(|r| one(r, f)).transpose()
}

/// Record a problem with `field` unless one is already recorded.
pub fn bad(fields: &mut crate::http::error::FieldErrors, field: &str, problem: &str) {
    fields.entry(field.into()).or_insert_with(|| problem.into());
}

/// `Some(problem)` when `value` is longer than `max` characters (or empty and required).
pub fn check_len(
    fields: &mut crate::http::error::FieldErrors,
    field: &str,
    value: &str,
    required: bool,
    max: usize,
) {
    let n = value.chars().count();
    if required && n == 0 {
        bad(fields, field, "required");
    } else if n > max {
        bad(fields, field, &format!("at most {max} characters"));
    }
}

/// A `serde` helper: `Some(None)` for an explicit `null`, `None` for an absent field.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    use serde::Deserialize;
    Option::<T>::deserialize(d).map(Some)
}
