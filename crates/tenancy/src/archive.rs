//! Export a whole tenant to one portable archive, and import an archive as a new tenant.
//!
//! The archive is a gzip'd tar: `manifest.json` (format version, tenant, migration
//! version, and for every part its row count and SHA-256), `users.jsonl` (the member
//! users: id, e-mail, display name — never password hashes) and one JSON Lines file per
//! tenant table, `tables/<table>.jsonl`. Rows are streamed from one repeatable-read
//! snapshot through temporary files, so memory stays flat whatever the tenant's size.
//!
//! Import verifies every checksum and row count before touching the database, then
//! provisions the tenant, loads the rows, migrates them forward to the current version
//! and activates the tenant — all in one transaction: all or nothing.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use futures::{pin_mut, TryStreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalog::{Tenant, TenantStatus};
use crate::error::{Error, Result};
use crate::provision::{activate, schema_script, NewTenant};
use crate::Engine;

/// The archive format this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
const FORMAT_NAME: &str = "zumodra-tenant-archive";
/// Rows sent to PostgreSQL per insert when importing.
const LOAD_BATCH: usize = 500;

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub tenant: ArchivedTenant,
    pub migration_version: i32,
    pub exported_at: DateTime<Utc>,
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ArchivedTenant {
    pub slug: String,
    pub name: String,
    pub plan: String,
}

/// One file of the archive.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Part {
    pub file: String,
    /// The tenant table it holds; `None` for `users.jsonl`.
    pub table: Option<String>,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// Why an archive was refused. Each names the part that failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("the archive cannot be read as gzip'd tar ({0}); it may be truncated or corrupt")]
    Unreadable(String),
    #[error("the archive has no manifest.json")]
    NoManifest,
    #[error("manifest.json is not a valid manifest: {0}")]
    BadManifest(String),
    #[error("the archive's format version {0} is newer than this Zumodra reads ({FORMAT_VERSION}); upgrade Zumodra")]
    NewerFormat(u32),
    #[error(
        "the archive's schema version {0} is newer than this Zumodra's ({1}); upgrade Zumodra"
    )]
    NewerSchema(i32, i32),
    #[error("part {0} is listed in the manifest but missing from the archive")]
    MissingPart(String),
    #[error("part {0} failed its checksum: the manifest says {1}, the file is {2}")]
    Checksum(String, String, String),
    #[error("part {0} has {1} rows; the manifest says {2}")]
    RowCount(String, u64, u64),
    #[error("part {0}, line {1}, is not a JSON object")]
    BadLine(String, u64),
    #[error("unexpected entry '{0}' in the archive")]
    UnexpectedEntry(String),
    #[error("the data of part {0} does not fit the schema: {1}")]
    Load(String, String),
}

fn io(e: std::io::Error) -> Error {
    Error::Other(anyhow::anyhow!(e))
}

/// A table name read from the catalog or an archive: `[a-z0-9_]`, quoted when formatted.
fn table_ident(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    ok.then(|| format!("\"{name}\""))
}

/// Writes one JSON Lines part while hashing and counting it.
struct PartWriter {
    file: BufWriter<File>,
    hasher: Sha256,
    rows: u64,
    bytes: u64,
}

impl PartWriter {
    fn create(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        Ok(Self {
            file: BufWriter::new(File::create(path).map_err(io)?),
            hasher: Sha256::new(),
            rows: 0,
            bytes: 0,
        })
    }

    fn line(&mut self, json: &str) -> Result<()> {
        for chunk in [json.as_bytes(), b"\n"] {
            self.file.write_all(chunk).map_err(io)?;
            self.hasher.update(chunk);
            self.bytes += chunk.len() as u64;
        }
        self.rows += 1;
        Ok(())
    }

    fn finish(mut self, file: String, table: Option<String>) -> Result<Part> {
        self.file.flush().map_err(io)?;
        Ok(Part {
            file,
            table,
            rows: self.rows,
            bytes: self.bytes,
            sha256: hex::encode(self.hasher.finalize()),
        })
    }
}

impl Engine {
    /// Export a tenant to `out` (written to a temporary file, then renamed into place).
    /// `progress(table, rows)` is called after each table.
    pub async fn export_tenant(
        &self,
        slug: &str,
        out: &Path,
        progress: &(dyn Fn(&str, u64) + Send + Sync),
    ) -> Result<Manifest> {
        let tenant = self.tenant(slug).await?;
        if matches!(
            tenant.status,
            TenantStatus::Deleting | TenantStatus::Deleted | TenantStatus::Provisioning
        ) {
            return Err(Error::TenantNotFound(slug.to_owned()));
        }
        let version: i32 = self
            .shared()
            .await?
            .query_one(
                "select version from public.tenant_migrations where tenant_id = $1",
                &[&tenant.id.0],
            )
            .await?
            .get(0);
        let parent = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let work = tempfile::tempdir_in(parent).map_err(io)?;
        let tx = self.begin_snapshot(&tenant.as_ref()).await?;
        let tables: Vec<String> = tx
            .query(
                "select c.relname::text from pg_class c join pg_namespace n on n.oid = c.relnamespace \
                 where n.nspname = current_schema() and c.relkind in ('r', 'p') order by 1",
                &[],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut parts = Vec::new();
        for table in &tables {
            let ident = table_ident(table)
                .ok_or_else(|| Error::Invalid(format!("odd table name {table}")))?;
            let file = format!("tables/{table}.jsonl");
            let mut writer = PartWriter::create(&work.path().join(&file))?;
            // Sorted by content so two exports of the same data are byte-identical.
            let rows = tx
                .client_for_engine()
                .await?
                .query_raw(
                    &format!("select to_jsonb(t)::text as j from {ident} t order by 1"),
                    std::iter::empty::<i32>(),
                )
                .await?;
            pin_mut!(rows);
            while let Some(row) = rows.try_next().await? {
                writer.line(row.get::<_, &str>(0))?;
            }
            let part = writer.finish(file, Some(table.to_string()))?;
            progress(table, part.rows);
            parts.push(part);
        }
        let member_ids: Vec<i64> = tx
            .query("select user_id from members order by 1", &[])
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        tx.rollback().await?;
        let mut users = PartWriter::create(&work.path().join("users.jsonl"))?;
        for row in self
            .shared()
            .await?
            .query(
                "select jsonb_build_object('id', id, 'email', email, 'display_name', display_name)::text \
                 from public.users where id = any($1) order by id",
                &[&member_ids],
            )
            .await?
        {
            users.line(row.get::<_, &str>(0))?;
        }
        parts.push(users.finish("users.jsonl".into(), None)?);
        let manifest = Manifest {
            format: FORMAT_NAME.into(),
            format_version: FORMAT_VERSION,
            tenant: ArchivedTenant {
                slug: tenant.slug.to_string(),
                name: tenant.name.clone(),
                plan: tenant.plan.clone(),
            },
            migration_version: version,
            exported_at: Utc::now(),
            parts,
        };
        let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Other(e.into()))?;
        std::fs::write(work.path().join("manifest.json"), json).map_err(io)?;
        let (dir, target, m) = (
            work.path().to_path_buf(),
            out.to_path_buf(),
            manifest.clone(),
        );
        tokio::task::spawn_blocking(move || pack(&dir, &m, &target))
            .await
            .map_err(|e| Error::Other(e.into()))??;
        Ok(manifest)
    }

    /// Create a new tenant from an archive. The archive is verified completely before
    /// anything is created; the tenant then appears whole, or not at all. An empty
    /// `new.name` or `new.plan` takes the archived tenant's.
    pub async fn import_tenant(
        &self,
        archive: &Path,
        new: NewTenant,
        progress: &(dyn Fn(&str, u64) + Send + Sync),
    ) -> Result<Tenant> {
        let parent = std::env::temp_dir();
        let work = tempfile::tempdir_in(parent).map_err(io)?;
        let (src, dir) = (archive.to_path_buf(), work.path().to_path_buf());
        let manifest = tokio::task::spawn_blocking(move || unpack_and_verify(&src, &dir))
            .await
            .map_err(|e| Error::Other(e.into()))??;
        let latest = self.inner.tenant_migrations.latest();
        if manifest.migration_version > latest {
            return Err(ArchiveError::NewerSchema(manifest.migration_version, latest).into());
        }
        // An empty name or plan means "as in the archive".
        let new = NewTenant {
            name: if new.name.trim().is_empty() {
                manifest.tenant.name.clone()
            } else {
                new.name
            },
            plan: if new.plan.is_empty() {
                manifest.tenant.plan.clone()
            } else {
                new.plan
            },
            owner: None,
            ..new
        };
        let prepared = self
            .prepare_tenant(new, Some(manifest.migration_version))
            .await?;
        let schema = prepared.slug.schema_name();
        let role = self.inner.prefix.tenant_role(&prepared.slug);

        let mut conn = self.admin().await?;
        let tx = conn.transaction().await?;
        // Built, not claimed: the archive's version may be older than the pool's.
        let (id, _) = self.provision_in(&tx, &prepared, None, false).await?;

        // Member users: matched by e-mail, created (with no usable password) if new.
        let mut user_map = std::collections::HashMap::new();
        for line in read_lines(&work.path().join("users.jsonl"))? {
            let user: serde_json::Value =
                serde_json::from_str(&line).map_err(|e| Error::Other(e.into()))?;
            let (old, email, name) = (
                user["id"].as_i64(),
                user["email"].as_str(),
                user["display_name"].as_str(),
            );
            let (Some(old), Some(email)) = (old, email) else {
                return Err(ArchiveError::BadLine("users.jsonl".into(), 0).into());
            };
            let row = tx
                .query_one(
                    "with found as (select id from public.users where lower(email) = lower($1)), \
                     made as (insert into public.users (email, password_hash, display_name) \
                              select $1, '!', $2 where not exists (select 1 from found) returning id) \
                     select id from found union all select id from made",
                    &[&email, &name.unwrap_or("")],
                )
                .await?;
            user_map.insert(old, row.get::<_, i64>(0));
        }

        // Load every table as its owner (the tenant role; the owner for the audit log),
        // foreign keys checked at the end.
        tx.batch_execute(&format!(
            "set constraints all deferred; set local search_path = {schema}"
        ))
        .await?;
        for part in manifest.parts.iter().filter(|p| p.table.is_some()) {
            let table = part.table.as_deref().unwrap_or_default();
            if table == "audit_log" {
                tx.batch_execute("set local role none").await?;
            } else {
                tx.batch_execute(&format!("set local role {role}")).await?;
            }
            let ident = table_ident(table)
                .ok_or_else(|| ArchiveError::UnexpectedEntry(part.file.clone()))?;
            let columns: Vec<String> = tx
                .query(
                    "select a.attname::text from pg_attribute a join pg_class c on c.oid = a.attrelid \
                     join pg_namespace n on n.oid = c.relnamespace \
                     where n.nspname = current_schema() and c.relname = $1 and a.attnum > 0 \
                       and not a.attisdropped order by a.attnum",
                    &[&table],
                )
                .await?
                .iter()
                .map(|r| format!("\"{}\"", r.get::<_, String>(0)))
                .collect();
            if columns.is_empty() {
                return Err(ArchiveError::Load(
                    part.file.clone(),
                    format!("no table {table} in the schema"),
                )
                .into());
            }
            let cols = columns.join(", ");
            if table != "audit_log" {
                // Rows the migrations seeded (the settings row) give way to the archive's.
                tx.batch_execute(&format!("delete from {ident}")).await?;
            }
            let insert = format!(
                "insert into {ident} ({cols}) overriding system value \
                 select {cols} from jsonb_populate_recordset(null::{ident}, $1::text::jsonb)"
            );
            let remap = matches!(table, "members" | "custom_permissions");
            let mut batch: Vec<String> = Vec::with_capacity(LOAD_BATCH);
            let mut loaded = 0u64;
            for line in read_lines(&work.path().join(&part.file))? {
                let line = if remap {
                    remap_user(&line, &user_map)?
                } else {
                    line
                };
                batch.push(line);
                if batch.len() == LOAD_BATCH {
                    load_batch(&tx, &insert, &batch, &part.file).await?;
                    loaded += batch.len() as u64;
                    batch.clear();
                }
            }
            if !batch.is_empty() {
                load_batch(&tx, &insert, &batch, &part.file).await?;
                loaded += batch.len() as u64;
            }
            // Identity sequences continue after the highest imported id.
            for row in tx
                .query(
                    "select a.attname::text from pg_attribute a join pg_class c on c.oid = a.attrelid \
                     join pg_namespace n on n.oid = c.relnamespace \
                     where n.nspname = current_schema() and c.relname = $1 and a.attidentity <> ''",
                    &[&table],
                )
                .await?
            {
                let column: String = row.get(0);
                tx.execute(
                    &format!(
                        "select setval(pg_get_serial_sequence($1, $2), coalesce(max(\"{column}\"), 0) + 1, false) from {ident}"
                    ),
                    &[&format!("{}.{ident}", schema), &column],
                )
                .await?;
            }
            progress(table, loaded);
        }
        tx.batch_execute("set local role none").await?;

        // Older archives are migrated forward in the same transaction.
        if manifest.migration_version < latest {
            tx.batch_execute(&schema_script(
                self,
                &schema,
                &role,
                manifest.migration_version,
                latest,
            ))
            .await?;
        }
        tx.batch_execute("set constraints all immediate")
            .await
            .map_err(|e| {
                ArchiveError::Load(
                    "tables".into(),
                    e.as_db_error()
                        .map_or(e.to_string(), |d| d.message().to_owned()),
                )
            })?;
        let tenant = activate(&tx, id, &prepared, latest, None).await?;
        tx.commit().await?;
        tracing::info!(tenant = %prepared.slug, "tenant imported");
        Ok(tenant)
    }
}

async fn load_batch(
    tx: &deadpool_postgres::Transaction<'_>,
    insert: &str,
    batch: &[String],
    file: &str,
) -> Result<()> {
    let array = format!("[{}]", batch.join(","));
    tx.execute(insert, &[&array]).await.map_err(|e| {
        let why = e
            .as_db_error()
            .map_or(e.to_string(), |d| d.message().to_owned());
        Error::from(ArchiveError::Load(file.to_owned(), why))
    })?;
    Ok(())
}

fn remap_user(line: &str, map: &std::collections::HashMap<i64, i64>) -> Result<String> {
    let mut row: serde_json::Value =
        serde_json::from_str(line).map_err(|e| Error::Other(e.into()))?;
    if let Some(old) = row["user_id"].as_i64() {
        let new = map.get(&old).copied().ok_or_else(|| {
            ArchiveError::Load(
                "members".into(),
                format!("member {old} is not in users.jsonl"),
            )
        })?;
        row["user_id"] = new.into();
    }
    Ok(row.to_string())
}

fn read_lines(path: &Path) -> Result<impl Iterator<Item = String>> {
    let file = File::open(path).map_err(io)?;
    Ok(BufReader::new(file)
        .lines()
        .map_while(std::result::Result::ok))
}

/// Write `manifest.json` first, then every part, into a gzip'd tar at `target`.
fn pack(dir: &Path, manifest: &Manifest, target: &Path) -> Result<()> {
    let partial = target.with_extension("partial");
    let file = File::create(&partial).map_err(io)?;
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        BufWriter::new(file),
        flate2::Compression::fast(),
    ));
    tar.append_path_with_name(dir.join("manifest.json"), "manifest.json")
        .map_err(io)?;
    for part in &manifest.parts {
        tar.append_path_with_name(dir.join(&part.file), &part.file)
            .map_err(io)?;
    }
    let gz = tar.into_inner().map_err(io)?;
    let mut buf = gz.finish().map_err(io)?;
    buf.flush().map_err(io)?;
    drop(buf);
    std::fs::rename(&partial, target).map_err(io)?;
    Ok(())
}

/// Whether an archive may hold an entry of this name: the manifest, the users, or one
/// part per tenant table (`tables/<table>.jsonl`, a plain table name).
fn entry_allowed(name: &str) -> bool {
    name == "manifest.json"
        || name == "users.jsonl"
        || name
            .strip_prefix("tables/")
            .and_then(|n| n.strip_suffix(".jsonl"))
            .is_some_and(|t| table_ident(t).is_some())
}

/// Read a tar stream, handing each entry to `store`. Refuses any name an archive may
/// not hold, and anything but a plain file (no links, no directories): nothing else
/// ever reaches the disk.
fn read_entries(
    tar: impl Read,
    mut store: impl FnMut(&str, &mut dyn Read) -> Result<()>,
) -> Result<()> {
    let mut tar = tar::Archive::new(tar);
    let entries = tar
        .entries()
        .map_err(|e| ArchiveError::Unreadable(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| ArchiveError::Unreadable(e.to_string()))?;
        let name = entry
            .path()
            .map_err(|e| ArchiveError::Unreadable(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        if !entry_allowed(&name) || !entry.header().entry_type().is_file() {
            return Err(ArchiveError::UnexpectedEntry(name).into());
        }
        store(&name, &mut entry)?;
    }
    Ok(())
}

/// Parse `manifest.json` and check what it says before any part is read: the format,
/// a version this build reads, a users part, and every part named after its table.
/// (The schema version is checked by the caller, which knows the migrations.)
pub fn read_manifest(text: &[u8]) -> Result<Manifest, ArchiveError> {
    let manifest: Manifest =
        serde_json::from_slice(text).map_err(|e| ArchiveError::BadManifest(e.to_string()))?;
    if manifest.format != FORMAT_NAME {
        return Err(ArchiveError::BadManifest(format!(
            "format is '{}'",
            manifest.format
        )));
    }
    if manifest.format_version > FORMAT_VERSION {
        return Err(ArchiveError::NewerFormat(manifest.format_version));
    }
    if !manifest.parts.iter().any(|p| p.file == "users.jsonl") {
        return Err(ArchiveError::MissingPart("users.jsonl".into()));
    }
    for part in &manifest.parts {
        let expected_name = match &part.table {
            Some(t) => format!("tables/{t}.jsonl"),
            None => "users.jsonl".into(),
        };
        if part.file != expected_name
            || part
                .table
                .as_deref()
                .is_some_and(|t| table_ident(t).is_none())
        {
            return Err(ArchiveError::UnexpectedEntry(part.file.clone()));
        }
    }
    Ok(manifest)
}

/// Verify one part against its manifest entry in a single pass: the checksum first (a
/// tampered file says so rather than "bad line"), then the row count, then every line
/// a JSON object. The checksum covers each line followed by `\n`.
pub fn verify_part(part: &Part, data: impl BufRead) -> Result<()> {
    let mut hasher = Sha256::new();
    let mut rows = 0u64;
    let mut first_bad = None;
    for line in data.split(b'\n') {
        let line = line.map_err(|e| ArchiveError::Unreadable(e.to_string()))?;
        hasher.update(&line);
        hasher.update(b"\n");
        rows += 1;
        // Bytes, not text: a line that is not UTF-8 is a bad line like any other.
        let object = matches!(
            serde_json::from_slice::<serde_json::Value>(&line),
            Ok(serde_json::Value::Object(_))
        );
        if !object && first_bad.is_none() {
            first_bad = Some(rows);
        }
    }
    let found = hex::encode(hasher.finalize());
    if found != part.sha256 {
        return Err(ArchiveError::Checksum(part.file.clone(), part.sha256.clone(), found).into());
    }
    if rows != part.rows {
        return Err(ArchiveError::RowCount(part.file.clone(), rows, part.rows).into());
    }
    if let Some(n) = first_bad {
        return Err(ArchiveError::BadLine(part.file.clone(), n).into());
    }
    Ok(())
}

/// Unpack into `dir`, accepting only the names an archive may hold, and verify every part.
fn unpack_and_verify(archive: &Path, dir: &Path) -> Result<Manifest> {
    let file = File::open(archive).map_err(io)?;
    read_entries(
        flate2::read::GzDecoder::new(BufReader::new(file)),
        |name, entry| {
            let target: PathBuf = dir.join(name);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            let mut out = File::create(&target).map_err(io)?;
            std::io::copy(entry, &mut out).map_err(|e| ArchiveError::Unreadable(e.to_string()))?;
            Ok(())
        },
    )?;
    let text = std::fs::read(dir.join("manifest.json")).map_err(|_| ArchiveError::NoManifest)?;
    let manifest = read_manifest(&text)?;
    for part in &manifest.parts {
        let file = File::open(dir.join(&part.file))
            .map_err(|_| ArchiveError::MissingPart(part.file.clone()))?;
        verify_part(part, BufReader::new(file))?;
    }
    Ok(manifest)
}

/// The same reading and verification as an import, in memory and without a database,
/// over an uncompressed tar stream (an archive file is this, gzip'd). For the fuzz
/// targets and their corpus replay test (`fuzz/`); an import uses the disk.
#[doc(hidden)]
pub fn verify_tar(tar: impl Read) -> Result<Manifest> {
    let mut files = std::collections::HashMap::new();
    read_entries(tar, |name, entry| {
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| ArchiveError::Unreadable(e.to_string()))?;
        files.insert(name.to_owned(), bytes);
        Ok(())
    })?;
    let text = files.get("manifest.json").ok_or(ArchiveError::NoManifest)?;
    let manifest = read_manifest(text)?;
    for part in &manifest.parts {
        let data = files
            .get(&part.file)
            .ok_or_else(|| ArchiveError::MissingPart(part.file.clone()))?;
        verify_part(part, data.as_slice())?;
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part_of(data: &[u8]) -> Part {
        Part {
            file: "tables/jobs.jsonl".into(),
            table: Some("jobs".into()),
            rows: data.split(|b| *b == b'\n').count() as u64,
            bytes: data.len() as u64,
            sha256: hex::encode(Sha256::digest(
                data.split(|b| *b == b'\n')
                    .flat_map(|l| [l, b"\n"])
                    .flatten()
                    .copied()
                    .collect::<Vec<u8>>(),
            )),
        }
    }

    #[test]
    fn a_line_that_is_not_utf8_is_a_bad_line() {
        // Found while factoring this out for the `archive` fuzz target: the second pass
        // read lines as text, so a non-UTF-8 line with a right checksum was an untyped
        // I/O error, not `BadLine`.
        let data = b"{\"id\": 1}\n{\"x\": \"\xff\"}";
        let err = verify_part(&part_of(data), &data[..]).unwrap_err();
        assert!(
            matches!(err, Error::Archive(ArchiveError::BadLine(_, 2))),
            "{err:?}"
        );
    }

    #[test]
    fn checksum_is_checked_before_lines() {
        let data = b"not json";
        let mut part = part_of(data);
        part.sha256 = "00".into();
        let err = verify_part(&part, &data[..]).unwrap_err();
        assert!(
            matches!(err, Error::Archive(ArchiveError::Checksum(..))),
            "{err:?}"
        );
        let ok = b"{\"a\": 1}\n{}";
        assert!(verify_part(&part_of(ok), &ok[..]).is_ok());
    }
}
