//! Throw-away installations: a database with a unique name and a fresh role prefix on a
//! given PostgreSQL server, and the clean-up that drops both. The tests
//! (`testing::TestDb`), the isolation soak and the benchmarks each make their own.
//!
//! The database is `<kind>_<unix seconds>_<random>`, and the role prefix is
//! `z<random>_` with the same random part. So a database left behind by a killed run
//! names the roles to drop with it, and its age says whether the run is over
//! ([`Scratch::parse`]).

use std::time::{SystemTime, UNIX_EPOCH};

use tokio_postgres::NoTls;

use crate::names::RolePrefix;

/// A database and a role prefix of one throw-away installation.
#[derive(Debug, Clone)]
pub struct Scratch {
    /// The database's name.
    pub name: String,
    /// The role prefix the installation's engine should use (`EngineConfig::new_role_prefix`).
    pub prefix: RolePrefix,
    /// A login to the server (any database but this one), for creating and dropping.
    pub server: tokio_postgres::Config,
}

/// What [`Scratch::remove`] did.
#[derive(Debug, Default)]
pub struct Removed {
    pub roles_dropped: usize,
    /// What failed, one line each (the clean-up goes on past a failure).
    pub errors: Vec<String>,
}

async fn connect(
    config: &tokio_postgres::Config,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

impl Scratch {
    /// Create `<kind>_<unix seconds>_<random>` on `server`. `kind` is a short lower-case
    /// word (`zt` for tests, `zsoak`, …); anything else is refused.
    pub async fn create(server: &tokio_postgres::Config, kind: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(
            !kind.is_empty() && kind.len() <= 16 && kind.bytes().all(|b| b.is_ascii_lowercase()),
            "a scratch database kind is lower-case letters, got {kind:?}"
        );
        let prefix = RolePrefix::random();
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let name = format!("{kind}_{secs}_{}", body(&prefix));
        let scratch = Self {
            name,
            prefix,
            server: server.clone(),
        };
        // The name is ours: a kind of letters, digits, and the prefix's lower-case body.
        connect(server)
            .await?
            .batch_execute(&format!("create database {}", scratch.name))
            .await?;
        Ok(scratch)
    }

    /// The server's login, on this database.
    pub fn database(&self) -> tokio_postgres::Config {
        let mut config = self.server.clone();
        config.dbname(&self.name);
        config
    }

    /// A database name made by [`Scratch::create`] with this `kind`: its creation time
    /// (unix seconds) and role prefix; `None` for any other name.
    pub fn parse(name: &str, kind: &str) -> Option<(u64, RolePrefix)> {
        let rest = name.strip_prefix(kind)?.strip_prefix('_')?;
        let (secs, body) = rest.split_once('_')?;
        Some((secs.parse().ok()?, RolePrefix::parse(&format!("z{body}_"))?))
    }

    /// Drop the database (closing every connection to it) and every role of the prefix.
    pub async fn remove(&self) -> Removed {
        let mut removed = Removed::default();
        let client = match connect(&self.server).await {
            Ok(client) => client,
            Err(e) => {
                removed
                    .errors
                    .push(format!("connecting to drop {}: {e}", self.name));
                return removed;
            }
        };
        if let Err(e) = client
            .batch_execute(&format!(
                "drop database if exists {} with (force)",
                self.name
            ))
            .await
        {
            removed.errors.push(format!("dropping {}: {e}", self.name));
        }
        let roles: Vec<String> = match client
            .query(
                "select rolname::text from pg_roles where rolname like $1",
                &[&self.prefix.like_pattern()],
            )
            .await
        {
            Ok(rows) => rows.iter().map(|r| r.get(0)).collect(),
            Err(e) => {
                removed
                    .errors
                    .push(format!("listing the roles {}*: {e}", self.prefix.as_str()));
                return removed;
            }
        };
        for role in roles {
            // From pg_roles under our random prefix: lower-case letters, digits, `_`.
            match client
                .batch_execute(&format!("drop role if exists \"{role}\""))
                .await
            {
                Ok(()) => removed.roles_dropped += 1,
                Err(e) => removed.errors.push(format!("dropping role {role}: {e}")),
            }
        }
        removed
    }
}

/// The random part of a prefix: `zab12cd34_` → `ab12cd34`.
fn body(prefix: &RolePrefix) -> &str {
    prefix
        .as_str()
        .trim_start_matches('z')
        .trim_end_matches('_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_gives_back_its_time_and_prefix() {
        let prefix = RolePrefix::random();
        let name = format!("zt_1795800000_{}", body(&prefix));
        let (secs, parsed) = Scratch::parse(&name, "zt").unwrap();
        assert_eq!(secs, 1_795_800_000);
        assert_eq!(parsed.as_str(), prefix.as_str());
        assert!(Scratch::parse(&name, "zsoak").is_none());
        assert!(Scratch::parse("zt_x_abc", "zt").is_none());
        assert!(Scratch::parse("zt_1795800000_UPPER", "zt").is_none());
    }
}
