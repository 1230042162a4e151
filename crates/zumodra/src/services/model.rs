//! A service listing as clients see it, what they may send, and its rules.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zumodra_tenancy::tokio_postgres::{Error as PgError, Row};

use crate::http::error::{ApiError, FieldErrors};
use crate::rows::{bad, check_len, nullable};

/// The columns every listing query reads, in [`Listing::from_row`]'s order.
pub const COLUMNS: &str =
    "id, title, description, category, kind, price_minor, currency, delivery, \
     status, version, created_at, updated_at";

pub const KINDS: &[&str] = &["fixed", "hourly", "custom"];
pub const DELIVERY: &[&str] = &["remote", "onsite", "hybrid"];
pub const STATUSES: &[&str] = &["draft", "published", "archived"];

/// A service listing (`services_listing`). `type` on the wire, `kind` in SQL.
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub category: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub price_minor: Option<i64>,
    pub currency: Option<String>,
    pub delivery: String,
    pub status: String,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Listing {
    /// From a row of [`COLUMNS`].
    pub fn from_row(r: &Row) -> Result<Self, PgError> {
        Ok(Self {
            id: r.try_get(0)?,
            title: r.try_get(1)?,
            description: r.try_get(2)?,
            category: r.try_get(3)?,
            kind: r.try_get(4)?,
            price_minor: r.try_get(5)?,
            currency: r.try_get(6)?,
            delivery: r.try_get(7)?,
            status: r.try_get(8)?,
            version: r.try_get(9)?,
            created_at: r.try_get(10)?,
            updated_at: r.try_get(11)?,
        })
    }

    /// The writable part, to apply a patch to.
    pub fn draft(&self) -> Draft {
        Draft {
            title: self.title.clone(),
            description: self.description.clone(),
            category: self.category.clone(),
            kind: self.kind.clone(),
            price_minor: self.price_minor,
            currency: self.currency.clone(),
            delivery: self.delivery.clone(),
            status: self.status.clone(),
        }
    }
}

/// The writable fields of a listing.
#[derive(Debug, Clone)]
pub struct Draft {
    pub title: String,
    pub description: String,
    pub category: String,
    pub kind: String,
    pub price_minor: Option<i64>,
    pub currency: Option<String>,
    pub delivery: String,
    pub status: String,
}

impl Default for Draft {
    fn default() -> Self {
        Self {
            title: String::new(),
            description: String::new(),
            category: String::new(),
            kind: "fixed".into(),
            price_minor: None,
            currency: None,
            delivery: "remote".into(),
            status: "draft".into(),
        }
    }
}

/// What a client sends to create or change a listing.
#[derive(Debug, Default, Deserialize)]
pub struct Input {
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub price_minor: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    pub currency: Option<Option<String>>,
    pub delivery: Option<String>,
    pub status: Option<String>,
    pub version: Option<i32>,
}

impl Input {
    /// Apply onto `d` and check the result; 422 with every problem at once.
    pub fn apply(self, mut d: Draft) -> Result<Draft, ApiError> {
        let mut fields = FieldErrors::new();
        if let Some(v) = self.title {
            d.title = v.trim().to_owned();
        }
        if let Some(v) = self.description {
            d.description = v;
        }
        if let Some(v) = self.category {
            d.category = v.trim().to_owned();
        }
        if let Some(v) = self.kind {
            d.kind = v;
        }
        if let Some(v) = self.price_minor {
            d.price_minor = v;
        }
        if let Some(v) = self.currency {
            d.currency = v.map(|c| c.trim().to_uppercase());
        }
        if let Some(v) = self.delivery {
            d.delivery = v;
        }
        if let Some(v) = self.status {
            d.status = v;
        }
        check_len(&mut fields, "title", &d.title, true, 200);
        check_len(&mut fields, "description", &d.description, false, 20_000);
        check_len(&mut fields, "category", &d.category, false, 100);
        if !KINDS.contains(&d.kind.as_str()) {
            bad(&mut fields, "type", "one of fixed, hourly, custom");
        }
        if !DELIVERY.contains(&d.delivery.as_str()) {
            bad(&mut fields, "delivery", "one of remote, onsite, hybrid");
        }
        if !STATUSES.contains(&d.status.as_str()) {
            bad(&mut fields, "status", "one of draft, published, archived");
        }
        if d.price_minor.is_some_and(|p| p < 0) {
            bad(&mut fields, "price_minor", "zero or more");
        }
        if let Some(c) = &d.currency {
            if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
                bad(&mut fields, "currency", "an ISO 4217 code such as EUR");
            }
        }
        if d.price_minor.is_some() && d.currency.is_none() {
            bad(&mut fields, "currency", "required with a price");
        }
        if d.kind != "custom" && d.status == "published" && d.price_minor.is_none() {
            bad(
                &mut fields,
                "price_minor",
                "required to publish a fixed or hourly service",
            );
        }
        if fields.is_empty() {
            Ok(d)
        } else {
            Err(ApiError::Validation(fields))
        }
    }
}
