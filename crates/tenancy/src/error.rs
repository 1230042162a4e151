//! The engine's error type.

use crate::names::SlugError;

/// What can go wrong in the tenancy engine. Callers map these to their own surface
/// (HTTP codes, command-line messages); none of them carries SQL text for a client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// PostgreSQL cannot be reached, or no pooled connection came free in time.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The slug is already used by another tenant (or by a tombstone of a deleted one).
    #[error("the slug '{0}' is taken")]
    SlugTaken(String),
    #[error(transparent)]
    InvalidSlug(#[from] SlugError),
    #[error("no tenant '{0}'")]
    TenantNotFound(String),
    #[error("no plan '{0}'")]
    UnknownPlan(String),
    #[error("the domain '{0}' is already in use")]
    DomainTaken(String),
    #[error("'{0}' is not a valid domain name")]
    InvalidDomain(String),
    #[error("no domain '{0}'")]
    DomainNotFound(String),
    #[error("the primary domain of a tenant cannot be removed")]
    PrimaryDomain,
    #[error("a tenant that is {from} cannot be {action}")]
    InvalidTransition { from: String, action: &'static str },
    #[error("a user with the e-mail '{0}' already exists")]
    EmailTaken(String),
    #[error("{0}")]
    Invalid(String),
    /// A tenant archive was refused; nothing was created.
    #[error(transparent)]
    Archive(#[from] crate::archive::ArchiveError),
    /// Anything else from PostgreSQL.
    #[error("database error: {0}")]
    Db(tokio_postgres::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<tokio_postgres::Error> for Error {
    fn from(err: tokio_postgres::Error) -> Self {
        let state = err.code().map(|c| c.code()).unwrap_or("");
        // No SQLSTATE: the connection broke, or never came up. Class 08 (connection
        // exception), 57P01–57P03 (the server is shutting down, crashed, or not yet
        // accepting connections) and 53300 (too many connections) all mean "try later".
        let unavailable = err.is_closed()
            || (err.as_db_error().is_none() && err.code().is_none())
            || state.starts_with("08")
            || matches!(state, "57P01" | "57P02" | "57P03" | "53300");
        if unavailable {
            Error::Unavailable(err.to_string())
        } else {
            Error::Db(err)
        }
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        match err {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => Error::Unavailable(other.to_string()),
        }
    }
}

impl Error {
    /// The SQLSTATE of a database error, if any.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Error::Db(e) => e.code().map(|c| c.code()),
            _ => None,
        }
    }

    /// The name of the violated constraint for a unique or foreign-key violation.
    pub fn constraint(&self) -> Option<&str> {
        match self {
            Error::Db(e) => e.as_db_error().and_then(|d| d.constraint()),
            _ => None,
        }
    }
}
