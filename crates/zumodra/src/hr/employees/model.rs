//! An employee as clients see it, what they may send, and the rules it obeys.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use zumodra_tenancy::tokio_postgres::{Error as PgError, Row};

use crate::http::error::{ApiError, FieldErrors};
use crate::rows::{bad, check_len, nullable};

/// The columns every employee query reads, in [`Employee::from_row`]'s order.
pub const COLUMNS: &str =
    "id, user_id, name, email, job_title, department, manager_id, hire_date, \
     employment_type, status, pto_balance_days::float8, version, created_at, updated_at";

pub const EMPLOYMENT_TYPES: &[&str] = &[
    "full_time",
    "part_time",
    "contract",
    "internship",
    "temporary",
];
pub const STATUSES: &[&str] = &["active", "on_leave", "probation", "suspended", "terminated"];

/// An employee of the tenant (`hr_core_employee`).
#[derive(Debug, Clone, Serialize)]
pub struct Employee {
    pub id: i64,
    /// The member (user id) this employee is, if any: their own time off.
    pub user_id: Option<i64>,
    pub name: String,
    pub email: String,
    pub job_title: String,
    pub department: String,
    pub manager_id: Option<i64>,
    pub hire_date: Option<NaiveDate>,
    pub employment_type: String,
    pub status: String,
    pub pto_balance_days: f64,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Employee {
    /// From a row of [`COLUMNS`].
    pub fn from_row(r: &Row) -> Result<Self, PgError> {
        Ok(Self {
            id: r.try_get(0)?,
            user_id: r.try_get(1)?,
            name: r.try_get(2)?,
            email: r.try_get(3)?,
            job_title: r.try_get(4)?,
            department: r.try_get(5)?,
            manager_id: r.try_get(6)?,
            hire_date: r.try_get(7)?,
            employment_type: r.try_get(8)?,
            status: r.try_get(9)?,
            pto_balance_days: r.try_get(10)?,
            version: r.try_get(11)?,
            created_at: r.try_get(12)?,
            updated_at: r.try_get(13)?,
        })
    }

    /// The writable part, to apply a patch to.
    pub fn draft(&self) -> Draft {
        Draft {
            user_id: self.user_id,
            name: self.name.clone(),
            email: self.email.clone(),
            job_title: self.job_title.clone(),
            department: self.department.clone(),
            manager_id: self.manager_id,
            hire_date: self.hire_date,
            employment_type: self.employment_type.clone(),
            status: self.status.clone(),
            pto_balance_days: self.pto_balance_days,
        }
    }
}

/// The writable fields of an employee.
#[derive(Debug, Clone)]
pub struct Draft {
    pub user_id: Option<i64>,
    pub name: String,
    pub email: String,
    pub job_title: String,
    pub department: String,
    pub manager_id: Option<i64>,
    pub hire_date: Option<NaiveDate>,
    pub employment_type: String,
    pub status: String,
    pub pto_balance_days: f64,
}

impl Default for Draft {
    fn default() -> Self {
        Self {
            user_id: None,
            name: String::new(),
            email: String::new(),
            job_title: String::new(),
            department: String::new(),
            manager_id: None,
            hire_date: None,
            employment_type: "full_time".into(),
            status: "active".into(),
            pto_balance_days: 0.0,
        }
    }
}

/// What a client sends to create or change an employee; `null` clears a nullable field.
#[derive(Debug, Default, Deserialize)]
pub struct Input {
    #[serde(default, deserialize_with = "nullable")]
    pub user_id: Option<Option<i64>>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub manager_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    pub hire_date: Option<Option<String>>,
    pub employment_type: Option<String>,
    pub status: Option<String>,
    pub pto_balance_days: Option<f64>,
    /// `PATCH` only: the version the client last saw.
    pub version: Option<i32>,
}

impl Input {
    /// Apply onto `d` and check the result; 422 with every problem at once. Whether the
    /// manager exists is checked against the database by the caller.
    pub fn apply(self, mut d: Draft) -> Result<Draft, ApiError> {
        let mut fields = FieldErrors::new();
        if let Some(v) = self.user_id {
            d.user_id = v;
        }
        if let Some(v) = self.name {
            d.name = v.trim().to_owned();
        }
        if let Some(v) = self.email {
            d.email = v.trim().to_owned();
        }
        if let Some(v) = self.job_title {
            d.job_title = v.trim().to_owned();
        }
        if let Some(v) = self.department {
            d.department = v.trim().to_owned();
        }
        if let Some(v) = self.manager_id {
            d.manager_id = v;
        }
        if let Some(v) = self.hire_date {
            d.hire_date = match v.map(|s| s.parse::<NaiveDate>()) {
                None => None,
                Some(Ok(date)) => Some(date),
                Some(Err(_)) => {
                    bad(&mut fields, "hire_date", "a date as YYYY-MM-DD");
                    None
                }
            };
        }
        if let Some(v) = self.employment_type {
            d.employment_type = v;
        }
        if let Some(v) = self.status {
            d.status = v;
        }
        if let Some(v) = self.pto_balance_days {
            d.pto_balance_days = v;
        }
        check_len(&mut fields, "name", &d.name, true, 200);
        match zumodra_tenancy::catalog::parse_email(&d.email) {
            Ok(email) => d.email = email,
            Err(_) => bad(&mut fields, "email", "an e-mail address"),
        }
        check_len(&mut fields, "job_title", &d.job_title, false, 200);
        check_len(&mut fields, "department", &d.department, false, 200);
        if !EMPLOYMENT_TYPES.contains(&d.employment_type.as_str()) {
            bad(
                &mut fields,
                "employment_type",
                "one of full_time, part_time, contract, internship, temporary",
            );
        }
        if !STATUSES.contains(&d.status.as_str()) {
            bad(
                &mut fields,
                "status",
                "one of active, on_leave, probation, suspended, terminated",
            );
        }
        let b = d.pto_balance_days;
        if !(0.0..=1000.0).contains(&b) || (b * 2.0).fract() != 0.0 {
            bad(
                &mut fields,
                "pto_balance_days",
                "from 0 to 1000 in half days",
            );
        }
        if d.user_id.is_some_and(|u| u <= 0) {
            bad(&mut fields, "user_id", "a user id");
        }
        if fields.is_empty() {
            Ok(d)
        } else {
            Err(ApiError::Validation(fields))
        }
    }
}
