//! The migration files, embedded at build time from `migrations/shared` and
//! `migrations/tenant`, and their templating.
//!
//! A tenant migration has two parts split by a line `-- @owner`: the first runs as the
//! tenant's role (so what it creates belongs to the tenant), the second as the
//! installation owner (for objects the tenant must not own, like the audit log).
//! `{{tenant}}`, `{{runtime}}` and `{{tenants}}` are replaced by quoted role names.

use crate::names::RoleName;

/// One versioned migration.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    /// Runs as the tenant role (tenant migrations) or the owner (shared migrations).
    pub sql: String,
    /// Tenant migrations only: runs as the installation owner.
    pub owner_sql: String,
    /// A line `-- @locking` marks a tenant migration that takes long or strong locks:
    /// the runner puts the tenant in maintenance (503 to its users) while it runs.
    pub locking: bool,
}

impl Migration {
    fn parse(version: i32, name: &'static str, text: &str) -> Self {
        let (sql, owner_sql) = match text.split_once("\n-- @owner\n") {
            Some((a, b)) => (a.to_owned(), b.to_owned()),
            None => (text.to_owned(), String::new()),
        };
        let locking = text.lines().any(|l| l.trim() == "-- @locking");
        Self {
            version,
            name,
            sql,
            owner_sql,
            locking,
        }
    }
}

/// An ordered list of migrations of one kind.
#[derive(Debug, Clone, Default)]
pub struct Migrations {
    list: Vec<Migration>,
}

impl Migrations {
    /// Build from `(version, name, sql)`; versions must be 1, 2, 3, … in order.
    pub fn new(files: &[(i32, &'static str, &str)]) -> Self {
        let list: Vec<Migration> = files
            .iter()
            .map(|(v, name, text)| Migration::parse(*v, name, text))
            .collect();
        for (i, m) in list.iter().enumerate() {
            assert_eq!(
                m.version as usize,
                i + 1,
                "migration versions must be 1, 2, 3, …"
            );
        }
        Self { list }
    }

    /// The shared-catalog migrations of this build.
    pub fn shared() -> Self {
        Self::new(&[
            (
                1,
                "catalog",
                include_str!("../../../migrations/shared/0001_catalog.sql"),
            ),
            (
                2,
                "deletion",
                include_str!("../../../migrations/shared/0002_deletion.sql"),
            ),
            (
                3,
                "warm_pool",
                include_str!("../../../migrations/shared/0003_warm_pool.sql"),
            ),
            (
                4,
                "runner_maintenance",
                include_str!("../../../migrations/shared/0004_runner_maintenance.sql"),
            ),
        ])
    }

    /// The tenant migrations of this build.
    pub fn tenant() -> Self {
        Self::new(&[(
            1,
            "initial",
            include_str!("../../../migrations/tenant/0001_initial.sql"),
        )])
    }

    /// A copy with one more migration at the end (tests and benchmarks).
    pub fn with(mut self, name: &'static str, text: &str) -> Self {
        let version = self.latest() + 1;
        self.list.push(Migration::parse(version, name, text));
        self
    }

    /// Whether the migration to `version` is marked `-- @locking`.
    pub fn is_locking(&self, version: i32) -> bool {
        self.list.iter().any(|m| m.version == version && m.locking)
    }

    /// The version a fully migrated schema is at (0 when there are none).
    pub fn latest(&self) -> i32 {
        self.list.last().map_or(0, |m| m.version)
    }

    /// Migrations newer than `version`, oldest first.
    pub fn after(&self, version: i32) -> impl Iterator<Item = &Migration> {
        self.list.iter().filter(move |m| m.version > version)
    }
}

/// Replace `{{name}}` placeholders with quoted role names.
pub(crate) fn render(sql: &str, roles: &[(&str, &RoleName)]) -> String {
    roles.iter().fold(sql.to_owned(), |text, (key, role)| {
        text.replace(&format!("{{{{{key}}}}}"), &role.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_migrations_parse() {
        let tenant = Migrations::tenant();
        assert!(tenant.latest() >= 1);
        let first = tenant.after(0).next().unwrap();
        assert!(first.sql.contains("create table ats_job"));
        assert!(first.owner_sql.contains("create table audit_log"));
        assert!(!first.sql.contains("audit_log ("));
        assert!(Migrations::shared().latest() >= 1);
    }

    #[test]
    fn render_quotes_roles() {
        let prefix = crate::names::RolePrefix::parse("zabcd_").unwrap();
        let out = render(
            "grant x to {{runtime}};",
            &[("runtime", &prefix.runtime_role())],
        );
        assert_eq!(out, "grant x to \"zabcd_app\";");
    }
}
