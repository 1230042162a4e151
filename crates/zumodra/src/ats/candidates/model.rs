//! A candidate as clients see it, what they may send, and the rules it obeys.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zumodra_tenancy::tokio_postgres::{Error as PgError, Row};

use crate::http::error::{ApiError, FieldErrors};
use crate::rows::{bad, check_len};

/// The columns every candidate query reads, in [`Candidate::from_row`]'s order.
pub const COLUMNS: &str =
    "id, name, email, phone, resume_text, source, tags, version, created_at, updated_at";

/// Where a candidate came from.
pub const SOURCES: &[&str] = &[
    "career_page",
    "referral",
    "linkedin",
    "agency",
    "direct",
    "imported",
    "other",
];

/// A candidate of the tenant (`ats_candidate`).
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub resume_text: String,
    pub source: String,
    pub tags: Vec<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Candidate {
    /// From a row of [`COLUMNS`].
    pub fn from_row(r: &Row) -> Result<Self, PgError> {
        Ok(Self {
            id: r.try_get(0)?,
            name: r.try_get(1)?,
            email: r.try_get(2)?,
            phone: r.try_get(3)?,
            resume_text: r.try_get(4)?,
            source: r.try_get(5)?,
            tags: r.try_get(6)?,
            version: r.try_get(7)?,
            created_at: r.try_get(8)?,
            updated_at: r.try_get(9)?,
        })
    }

    /// The writable part, to apply a patch to.
    pub fn draft(&self) -> Draft {
        Draft {
            name: self.name.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            resume_text: self.resume_text.clone(),
            source: self.source.clone(),
            tags: self.tags.clone(),
        }
    }
}

/// The writable fields of a candidate, valid once [`Input::apply`] said so.
#[derive(Debug, Clone)]
pub struct Draft {
    pub name: String,
    pub email: String,
    pub phone: String,
    pub resume_text: String,
    pub source: String,
    pub tags: Vec<String>,
}

impl Default for Draft {
    fn default() -> Self {
        Self {
            name: String::new(),
            email: String::new(),
            phone: String::new(),
            resume_text: String::new(),
            source: "direct".into(),
            tags: Vec::new(),
        }
    }
}

/// What a client sends to create or change a candidate; absent fields keep their value.
#[derive(Debug, Default, Deserialize)]
pub struct Input {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub resume_text: Option<String>,
    pub source: Option<String>,
    pub tags: Option<Vec<String>>,
    /// `PATCH` only: the version the client last saw (409 if it changed since).
    pub version: Option<i32>,
}

impl Input {
    /// Apply onto `d` and check the result; 422 with every problem at once.
    pub fn apply(self, mut d: Draft) -> Result<Draft, ApiError> {
        let mut fields = FieldErrors::new();
        if let Some(v) = self.name {
            d.name = v.trim().to_owned();
        }
        if let Some(v) = self.email {
            d.email = v.trim().to_owned();
        }
        if let Some(v) = self.phone {
            d.phone = v.trim().to_owned();
        }
        if let Some(v) = self.resume_text {
            d.resume_text = v;
        }
        if let Some(v) = self.source {
            d.source = v;
        }
        if let Some(v) = self.tags {
            d.tags = v.into_iter().map(|t| t.trim().to_owned()).collect();
        }
        check_len(&mut fields, "name", &d.name, true, 200);
        match zumodra_tenancy::catalog::parse_email(&d.email) {
            Ok(email) => d.email = email,
            Err(_) => bad(&mut fields, "email", "an e-mail address"),
        }
        check_len(&mut fields, "phone", &d.phone, false, 50);
        check_len(&mut fields, "resume_text", &d.resume_text, false, 100_000);
        if !SOURCES.contains(&d.source.as_str()) {
            bad(
                &mut fields,
                "source",
                "one of career_page, referral, linkedin, agency, direct, imported, other",
            );
        }
        if d.tags.len() > 50
            || d.tags
                .iter()
                .any(|t| t.is_empty() || t.chars().count() > 50)
        {
            bad(&mut fields, "tags", "at most 50 tags of 1 to 50 characters");
        }
        if fields.is_empty() {
            Ok(d)
        } else {
            Err(ApiError::Validation(fields))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_listed_together() {
        let Err(ApiError::Validation(f)) = Input {
            email: Some("nope".into()),
            source: Some("tv".into()),
            tags: Some(vec![String::new()]),
            ..Default::default()
        }
        .apply(Draft::default()) else {
            panic!("expected a validation error")
        };
        for k in ["name", "email", "source", "tags"] {
            assert!(f.contains_key(k), "{k}: {f:?}");
        }
        let ok = Input {
            name: Some(" Ann ".into()),
            email: Some("Ann@Example.com".into()),
            ..Default::default()
        }
        .apply(Draft::default())
        .unwrap();
        assert_eq!(ok.name, "Ann");
    }
}
