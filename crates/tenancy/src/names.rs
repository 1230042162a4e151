//! Validated names: the only values the engine ever formats into SQL.
//!
//! A tenant's slug decides its schema and role names. Each type here can only be
//! built through a parser that accepts `[a-z0-9_-]` text, and formats itself
//! double-quoted, so no name from a client can break out of an identifier.

use std::fmt;

/// Words that may not be a slug: they are hosts of the platform itself, or would be
/// confusing as a company's subdomain.
pub const RESERVED_SLUGS: &[&str] = &[
    "admin",
    "api",
    "app",
    "apps",
    "assets",
    "auth",
    "billing",
    "blog",
    "cdn",
    "dashboard",
    "dev",
    "docs",
    "ftp",
    "help",
    "internal",
    "localhost",
    "login",
    "mail",
    "metrics",
    "ns1",
    "ns2",
    "platform",
    "postgres",
    "public",
    "root",
    "signup",
    "smtp",
    "static",
    "status",
    "support",
    "system",
    "test",
    "www",
];

/// Why a slug was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    #[error("a slug is 3 to 32 characters: lower-case letters, digits and '-', starting with a letter and not ending with '-'")]
    Pattern,
    #[error("'{0}' is a reserved word and cannot be a slug")]
    Reserved(String),
}

/// A tenant's slug: `^[a-z][a-z0-9-]{1,30}[a-z0-9]$`, not a reserved word.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    pub fn parse(input: &str) -> Result<Self, SlugError> {
        let bytes = input.as_bytes();
        let len_ok = (3..=32).contains(&bytes.len());
        let first_ok = bytes.first().is_some_and(|b| b.is_ascii_lowercase());
        let last_ok = bytes
            .last()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let body_ok = bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
        if !(len_ok && first_ok && last_ok && body_ok) {
            return Err(SlugError::Pattern);
        }
        if RESERVED_SLUGS.contains(&input) {
            return Err(SlugError::Reserved(input.to_owned()));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The slug as an identifier fragment (`-` becomes `_`). Injective, because a slug
    /// never contains `_`.
    fn ident_fragment(&self) -> String {
        self.0.replace('-', "_")
    }

    /// `tenant_<slug with - as _>`.
    pub fn schema_name(&self) -> SchemaName {
        SchemaName(format!("tenant_{}", self.ident_fragment()))
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// Quote an identifier for SQL. Only ever called on the validated names of this module.
fn quote(f: &mut fmt::Formatter<'_>, ident: &str) -> fmt::Result {
    write!(f, "\"{}\"", ident.replace('"', "\"\""))
}

/// A tenant schema name, `tenant_<slug>`. `Display` writes it quoted for SQL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SchemaName(String);

impl SchemaName {
    /// Accepts a schema name read back from the catalog, checking its shape again.
    pub fn parse(input: &str) -> Option<Self> {
        let rest = input.strip_prefix("tenant_")?;
        // `-` never appears in a schema name (the slug's `-` is written `_`): without
        // this, `tenant_a-b` and `tenant_a_b` both parsed (checked by zumodra's tests/fuzz.rs).
        if rest.contains('-') {
            return None;
        }
        Slug::parse(&rest.replace('_', "-")).ok()?;
        Some(Self(input.to_owned()))
    }

    /// The placeholder name of a warm-pool schema (`warm_<16 hex digits>`): built ahead
    /// of demand and renamed to `tenant_<slug>` when a tenant claims it. Never a tenant
    /// schema name, which always starts with `tenant_`.
    pub fn warm(token: u64) -> Self {
        Self(format!("warm_{token:016x}"))
    }

    /// Accepts a warm-pool schema name read back from the catalog.
    pub fn parse_warm(input: &str) -> Option<Self> {
        let hex = input.strip_prefix("warm_")?;
        let ok = hex.len() == 16
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| Self(input.to_owned()))
    }

    /// The bare name, for comparisons with catalog values (never for SQL text).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SchemaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        quote(f, &self.0)
    }
}

/// The prefix of every PostgreSQL role of one installation (one database): role names
/// are global to a cluster, so two installations or two test runs on one server must
/// never share one. Shape: `z` + 4..16 of `[a-z0-9]` + `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RolePrefix(String);

impl RolePrefix {
    pub fn parse(input: &str) -> Option<Self> {
        let body = input.strip_prefix('z')?.strip_suffix('_')?;
        let ok = (4..=16).contains(&body.len())
            && body
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        ok.then(|| Self(input.to_owned()))
    }

    /// A fresh random prefix.
    pub fn random() -> Self {
        use rand::Rng;
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut rng = rand::thread_rng();
        let body: String = (0..8)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
            .collect();
        Self(format!("z{body}_"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `NOINHERIT` login role the server's request pool uses.
    pub fn runtime_role(&self) -> RoleName {
        RoleName(format!("{}app", self.0))
    }

    /// The group every tenant role belongs to; it holds the few shared-table rights a
    /// tenant transaction needs.
    pub fn tenants_group(&self) -> RoleName {
        RoleName(format!("{}tenants", self.0))
    }

    /// The role that owns one tenant's schema.
    pub fn tenant_role(&self, slug: &Slug) -> RoleName {
        RoleName(format!("{}t_{}", self.0, slug.ident_fragment()))
    }

    /// The placeholder role of a warm-pool schema (`<prefix>w_<16 hex digits>`), renamed
    /// to the tenant's role when a tenant claims the schema. `w_` never collides with a
    /// tenant role (`t_`), the runtime role or the tenants group.
    pub fn warm_role(&self, token: u64) -> RoleName {
        RoleName(format!("{}w_{token:016x}", self.0))
    }

    /// The `LIKE` pattern that matches every role of this installation.
    pub fn like_pattern(&self) -> String {
        format!("{}%", self.0.replace('_', "\\_"))
    }
}

/// A PostgreSQL role of this installation. `Display` writes it quoted for SQL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoleName(String);

impl RoleName {
    /// Accepts a role name read back from the catalog if it belongs to `prefix`.
    pub fn parse(prefix: &RolePrefix, input: &str) -> Option<Self> {
        let rest = input.strip_prefix(prefix.as_str())?;
        let ok = !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        (ok && input.len() <= 63).then(|| Self(input.to_owned()))
    }

    /// The bare name, for comparisons and connection parameters (never for SQL text).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        quote(f, &self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_accepts_the_spec_pattern() {
        for ok in [
            "acme",
            "globex",
            "a1b",
            "acme-corp",
            "a-b-c",
            &"a".repeat(32),
        ] {
            assert!(Slug::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn slug_refuses_bad_shapes_and_reserved_words() {
        for bad in [
            "",
            "ab",
            "Acme",
            "1acme",
            "acme-",
            "-acme",
            "ac_me",
            "ac.me",
            "acmé",
            "ac me",
            &"a".repeat(33),
            "acme\0",
            "tenant\"x",
        ] {
            assert_eq!(Slug::parse(bad), Err(SlugError::Pattern), "{bad:?}");
        }
        for reserved in ["www", "api", "admin", "platform", "public", "static"] {
            assert!(matches!(Slug::parse(reserved), Err(SlugError::Reserved(_))));
        }
    }

    #[test]
    fn names_derive_from_the_slug_and_are_quoted() {
        let slug = Slug::parse("acme-corp").unwrap();
        assert_eq!(slug.schema_name().to_string(), "\"tenant_acme_corp\"");
        let prefix = RolePrefix::parse("zabcd1234_").unwrap();
        assert_eq!(prefix.tenant_role(&slug).as_str(), "zabcd1234_t_acme_corp");
        assert_eq!(prefix.runtime_role().to_string(), "\"zabcd1234_app\"");
        assert!(
            prefix
                .tenant_role(&Slug::parse(&"a".repeat(32)).unwrap())
                .as_str()
                .len()
                <= 63
        );
    }

    #[test]
    fn parsers_refuse_foreign_names() {
        assert!(SchemaName::parse("tenant_acme").is_some());
        assert!(SchemaName::parse("public").is_none());
        assert!(SchemaName::parse("tenant_acme\"; drop").is_none());
        let prefix = RolePrefix::random();
        assert!(RolePrefix::parse(prefix.as_str()).is_some());
        assert!(RolePrefix::parse("postgres").is_none());
        assert!(RoleName::parse(&prefix, "postgres").is_none());
        assert!(RoleName::parse(&prefix, &format!("{}t_x\"y", prefix.as_str())).is_none());
    }

    #[test]
    fn warm_names_never_look_like_tenant_names() {
        let schema = SchemaName::warm(0xdead_beef);
        assert_eq!(schema.as_str(), "warm_00000000deadbeef");
        assert_eq!(
            SchemaName::parse_warm(schema.as_str()),
            Some(schema.clone())
        );
        assert!(SchemaName::parse(schema.as_str()).is_none());
        for bad in [
            "warm_",
            "warm_xyz",
            "warm_00000000DEADBEEF",
            "tenant_acme",
            "warm_00000000deadbeef0",
        ] {
            assert!(SchemaName::parse_warm(bad).is_none(), "{bad}");
        }
        let prefix = RolePrefix::parse("zabcd1234_").unwrap();
        let role = prefix.warm_role(u64::MAX);
        assert_eq!(role.as_str(), "zabcd1234_w_ffffffffffffffff");
        assert_eq!(RoleName::parse(&prefix, role.as_str()), Some(role));
    }
}
