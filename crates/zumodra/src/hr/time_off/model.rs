//! A time-off request as clients see it, what they may send, and how days are counted.

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use serde::{Deserialize, Serialize};
use zumodra_tenancy::tokio_postgres::{Error as PgError, Row};

use crate::http::error::{ApiError, FieldErrors};
use crate::rows::{bad, check_len};

/// The columns every time-off query reads, in [`TimeOff::from_row`]'s order.
pub const COLUMNS: &str =
    "id, employee_id, kind, start_date, end_date, half_day, total_days::float8, \
     status, reason, decided_by, decided_at, created_at, updated_at";

pub const KINDS: &[&str] = &["vacation", "sick", "unpaid", "other"];
pub const STATUSES: &[&str] = &["pending", "approved", "rejected", "cancelled"];
/// The kind that is paid from the employee's balance.
pub const PAID: &str = "vacation";

/// A time-off request (`hr_core_timeoff`).
#[derive(Debug, Clone, Serialize)]
pub struct TimeOff {
    pub id: i64,
    pub employee_id: i64,
    pub kind: String,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub half_day: bool,
    pub total_days: f64,
    pub status: String,
    pub reason: String,
    pub decided_by: Option<i64>,
    pub decided_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TimeOff {
    /// From a row of [`COLUMNS`].
    pub fn from_row(r: &Row) -> Result<Self, PgError> {
        Ok(Self {
            id: r.try_get(0)?,
            employee_id: r.try_get(1)?,
            kind: r.try_get(2)?,
            start_date: r.try_get(3)?,
            end_date: r.try_get(4)?,
            half_day: r.try_get(5)?,
            total_days: r.try_get(6)?,
            status: r.try_get(7)?,
            reason: r.try_get(8)?,
            decided_by: r.try_get(9)?,
            decided_at: r.try_get(10)?,
            created_at: r.try_get(11)?,
            updated_at: r.try_get(12)?,
        })
    }
}

/// `POST /api/v1/time-off`.
#[derive(Debug, Default, Deserialize)]
pub struct Input {
    /// Someone else's request: only for members who approve time off.
    pub employee_id: Option<i64>,
    pub kind: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    #[serde(default)]
    pub half_day: bool,
    #[serde(default)]
    pub reason: String,
}

/// A checked request.
#[derive(Debug, Clone)]
pub struct Draft {
    pub kind: String,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub half_day: bool,
    pub total_days: f64,
    pub reason: String,
}

/// Working days (Monday to Friday) from `start` to `end`, both included.
pub fn working_days(start: NaiveDate, end: NaiveDate) -> f64 {
    start
        .iter_days()
        .take_while(|d| *d <= end)
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .count() as f64
}

impl Input {
    /// Check and count the days; 422 with every problem at once.
    pub fn check(self) -> Result<Draft, ApiError> {
        let mut fields = FieldErrors::new();
        let kind = self.kind.unwrap_or_default();
        if !KINDS.contains(&kind.as_str()) {
            bad(&mut fields, "kind", "one of vacation, sick, unpaid, other");
        }
        let mut date = |name: &str, v: Option<String>| match v.map(|s| s.parse::<NaiveDate>()) {
            Some(Ok(d)) => Some(d),
            None => {
                bad(&mut fields, name, "required");
                None
            }
            Some(Err(_)) => {
                bad(&mut fields, name, "a date as YYYY-MM-DD");
                None
            }
        };
        let start = date("start_date", self.start_date);
        let end = date("end_date", self.end_date);
        check_len(&mut fields, "reason", &self.reason, false, 2000);
        let mut total = 0.0;
        if let (Some(s), Some(e)) = (start, end) {
            if e < s {
                bad(&mut fields, "end_date", "on or after start_date");
            } else if self.half_day && s != e {
                bad(&mut fields, "half_day", "only for a single day");
            } else if (e - s).num_days() > 366 {
                bad(&mut fields, "end_date", "at most a year after start_date");
            } else {
                total = working_days(s, e);
                if total == 0.0 {
                    bad(&mut fields, "end_date", "the period has no working day");
                } else if self.half_day {
                    total = 0.5;
                }
            }
        }
        match (start, end, fields.is_empty()) {
            (Some(start_date), Some(end_date), true) => Ok(Draft {
                kind,
                start_date,
                end_date,
                half_day: self.half_day,
                total_days: total,
                reason: self.reason,
            }),
            _ => Err(ApiError::Validation(fields)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_skip_weekends_and_half_days_are_single() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        // 2026-11-23 is a Monday.
        assert_eq!(working_days(d("2026-11-23"), d("2026-11-29")), 5.0);
        assert_eq!(working_days(d("2026-11-28"), d("2026-11-29")), 0.0);
        let half = Input {
            kind: Some("vacation".into()),
            start_date: Some("2026-11-23".into()),
            end_date: Some("2026-11-23".into()),
            half_day: true,
            ..Default::default()
        };
        assert_eq!(half.check().unwrap().total_days, 0.5);
        let Err(ApiError::Validation(f)) = Input::default().check() else {
            panic!()
        };
        assert!(
            f.contains_key("kind") && f.contains_key("start_date") && f.contains_key("end_date")
        );
    }
}
