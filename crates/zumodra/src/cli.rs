//! The `zumodra` command line. Every command reads the same configuration as `serve` and
//! calls the same engine functions the server uses.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use zumodra_tenancy::{MigrateOptions, NewOwner, NewTenant, TenantOutcome, TenantStatus};

use crate::config::Settings;
use crate::database::Database;

#[derive(Parser, Debug)]
#[command(
    name = "zumodra",
    version,
    about = "Zumodra: multi-tenant HR and recruiting server"
)]
pub struct Cli {
    /// Configuration file (TOML); default ./zumodra.toml when present.
    #[arg(long, global = true, env = "ZUMODRA_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server.
    Serve,
    /// Create the demo tenants acme and globex with sample data, then serve.
    Demo,
    /// Migrate the shared schema, then every tenant schema.
    Migrate(MigrateArgs),
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage a tenant's custom domains.
    #[command(subcommand)]
    Domain(DomainCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Cross-tenant reports.
    #[command(subcommand)]
    Report(ReportCommand),
    /// A tenant's audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Run background jobs (the workers `serve` also runs) until stopped.
    Worker(crate::background::WorkerArgs),
    /// Inspect and retry background jobs.
    #[command(subcommand)]
    Jobs(crate::background::JobsCommand),
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Walk the tenant's hash chain; report the first broken row (exit status 1).
    Verify { slug: String },
}

#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// Print tenants per migration version and the failed ones; change nothing.
    #[arg(long)]
    pub status: bool,
    /// Tenants migrated at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// The longest wait for a lock, per step, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub lock_timeout_ms: u64,
}

#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    /// Create a tenant with its owner.
    Create {
        slug: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "free")]
        plan: String,
        #[arg(long)]
        owner_email: Option<String>,
        #[arg(long)]
        owner_password: Option<String>,
        /// Start in `trial` rather than `active`.
        #[arg(long)]
        trial: bool,
    },
    /// List tenants.
    List,
    /// Show one tenant.
    Show { slug: String },
    /// Suspend a tenant (its users get 403 tenant_suspended).
    Suspend {
        slug: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Resume a suspended or cancelled tenant.
    Resume { slug: String },
    /// Cancel a tenant.
    Cancel {
        slug: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Delete a tenant: its tables, schema and role; the catalog row stays as a tombstone.
    Delete { slug: String },
    /// Clear a deleted tenant's tombstone so its slug can be used again.
    Purge { slug: String },
    /// Turn maintenance mode on or off (users get 503 tenant_unavailable).
    Maintenance {
        /// `on` or `off`.
        state: String,
        slug: String,
    },
    /// Export a whole tenant to one archive (gzip'd tar of JSON Lines + manifest).
    Export {
        slug: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Create a new tenant from an archive (verified first; all or nothing).
    Import {
        file: PathBuf,
        #[arg(long)]
        slug: String,
        /// The new tenant's name (default: the archived tenant's).
        #[arg(long)]
        name: Option<String>,
        /// The new tenant's plan (default: the archived tenant's).
        #[arg(long)]
        plan: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// Per-tenant usage: members, jobs by status, candidates, applications, employees,
    /// services, storage, last activity — read through each tenant's own role.
    Usage {
        /// `json` or `csv`.
        #[arg(long, default_value = "json")]
        format: String,
        /// Sort by this column (descending for numbers); default: slug.
        #[arg(long, default_value = "slug")]
        sort: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum DomainCommand {
    /// Add a custom domain to a tenant.
    Add { slug: String, domain: String },
    /// Remove a custom domain from a tenant.
    Remove { slug: String, domain: String },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long)]
        platform_admin: bool,
    },
}

/// Run a command. Errors come back as one line for `main` to print.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => crate::startup::serve(settings, false).await,
        Command::Demo => crate::startup::serve(settings, true).await,
        Command::Worker(args) => crate::background::run_worker(settings, args).await,
        other => {
            let db = Database::open(&settings).await?;
            // Ctrl-C still stops the embedded cluster this process started.
            let result = tokio::select! {
                result = run_admin(&db, other) => result,
                _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
            };
            db.close();
            result
        }
    }
}

async fn run_admin(db: &Database, command: Command) -> anyhow::Result<()> {
    let engine = &db.engine;
    match command {
        Command::Serve | Command::Demo | Command::Worker(_) => unreachable_command(),
        Command::Jobs(cmd) => crate::background::run_jobs(engine, cmd).await,
        Command::Migrate(args) => migrate(engine, args).await,
        Command::Tenant(cmd) => match cmd {
            TenantCommand::Create {
                slug,
                name,
                plan,
                owner_email,
                owner_password,
                trial,
            } => {
                let owner = match (owner_email, owner_password) {
                    (Some(email), Some(password)) => Some(NewOwner {
                        email,
                        password,
                        display_name: String::new(),
                    }),
                    (None, None) => None,
                    _ => bail!("--owner-email and --owner-password go together"),
                };
                let status = if trial {
                    TenantStatus::Trial
                } else {
                    TenantStatus::Active
                };
                let started = std::time::Instant::now();
                let tenant = engine
                    .create_tenant(NewTenant {
                        slug,
                        name,
                        plan,
                        status,
                        owner,
                    })
                    .await?;
                println!(
                    "created tenant {} ({}) in {} ms: http://{}.{}/",
                    tenant.slug,
                    tenant.status,
                    started.elapsed().as_millis(),
                    tenant.slug,
                    engine.base_domain()
                );
                Ok(())
            }
            TenantCommand::List => {
                println!(
                    "{:<6} {:<24} {:<14} {:<13} name",
                    "id", "slug", "plan", "status"
                );
                for t in engine.tenants().await? {
                    let status = if t.maintenance {
                        format!("{}*", t.status)
                    } else {
                        t.status.to_string()
                    };
                    println!(
                        "{:<6} {:<24} {:<14} {:<13} {}",
                        t.id.0, t.slug, t.plan, status, t.name
                    );
                }
                Ok(())
            }
            TenantCommand::Show { slug } => {
                let tenant = engine.tenant(&slug).await?;
                let domains = engine.domains(tenant.id).await?;
                let mut value = serde_json::to_value(&tenant)?;
                value["domains"] = serde_json::to_value(domains)?;
                println!("{}", serde_json::to_string_pretty(&value)?);
                Ok(())
            }
            TenantCommand::Suspend { slug, reason } => {
                let t = engine.suspend_tenant(&slug, reason.as_deref()).await?;
                println!("tenant {} is {}", t.slug, t.status);
                Ok(())
            }
            TenantCommand::Resume { slug } => {
                let t = engine.resume_tenant(&slug).await?;
                println!("tenant {} is {}", t.slug, t.status);
                Ok(())
            }
            TenantCommand::Cancel { slug, reason } => {
                let t = engine.cancel_tenant(&slug, reason.as_deref()).await?;
                println!("tenant {} is {}", t.slug, t.status);
                Ok(())
            }
            TenantCommand::Delete { slug } => {
                engine.delete_tenant(&slug).await?;
                println!("tenant {slug} deleted (its catalog row is kept as a tombstone)");
                Ok(())
            }
            TenantCommand::Purge { slug } => {
                engine.purge_tenant(&slug).await?;
                println!("the tombstone of {slug} is cleared; the slug is free again");
                Ok(())
            }
            TenantCommand::Maintenance { state, slug } => {
                let on = match state.as_str() {
                    "on" => true,
                    "off" => false,
                    other => bail!("maintenance takes 'on' or 'off', not '{other}'"),
                };
                let t = engine.set_maintenance(&slug, on).await?;
                println!(
                    "tenant {} maintenance {}",
                    t.slug,
                    if t.maintenance { "on" } else { "off" }
                );
                Ok(())
            }
            TenantCommand::Export { slug, out } => {
                let bar = table_progress("exporting");
                let manifest = engine
                    .export_tenant(&slug, &out, &|table, rows| {
                        bar.println(format!("{table:<28} {rows:>9} rows"));
                        bar.tick();
                    })
                    .await?;
                bar.finish_and_clear();
                let rows: u64 = manifest.parts.iter().map(|p| p.rows).sum();
                println!(
                    "exported {slug} ({} parts, {rows} rows, schema version {}) to {}",
                    manifest.parts.len(),
                    manifest.migration_version,
                    out.display()
                );
                Ok(())
            }
            TenantCommand::Import {
                file,
                slug,
                name,
                plan,
            } => {
                let bar = table_progress("importing");
                let new = NewTenant {
                    slug,
                    name: name.unwrap_or_default(),
                    plan: plan.unwrap_or_default(),
                    status: TenantStatus::Active,
                    owner: None,
                };
                let tenant = engine
                    .import_tenant(&file, new, &|table, rows| {
                        bar.println(format!("{table:<28} {rows:>9} rows"));
                        bar.tick();
                    })
                    .await?;
                bar.finish_and_clear();
                println!(
                    "imported {} as tenant {} ({}): http://{}.{}/",
                    file.display(),
                    tenant.slug,
                    tenant.status,
                    tenant.slug,
                    engine.base_domain()
                );
                Ok(())
            }
        },
        Command::Domain(cmd) => match cmd {
            DomainCommand::Add { slug, domain } => {
                let d = engine.add_domain(&slug, &domain).await?;
                println!("{} now serves tenant {slug}", d.domain);
                Ok(())
            }
            DomainCommand::Remove { slug, domain } => {
                engine.remove_domain(&slug, &domain).await?;
                println!("{domain} removed from tenant {slug}");
                Ok(())
            }
        },
        Command::Report(ReportCommand::Usage { format, sort }) => {
            use zumodra_tenancy::report::UsageRow;
            let key: fn(&UsageRow) -> i64 = match sort.as_str() {
                "slug" => |_| 0,
                "members" => |r| r.members,
                "jobs" => |r| r.jobs_by_status.values().sum(),
                "candidates" => |r| r.candidates,
                "applications" => |r| r.applications,
                "employees" => |r| r.employees,
                "services" => |r| r.services,
                "storage_bytes" => |r| r.storage_bytes,
                "last_activity" => |r| r.last_activity.map_or(0, |t| t.timestamp()),
                other => bail!("cannot sort by '{other}'"),
            };
            let mut rows = engine.usage_report(8).await?;
            // Largest first; the report comes sorted by slug, and the sort is stable.
            rows.sort_by_key(|r| std::cmp::Reverse(key(r)));
            match format.as_str() {
                "json" => println!("{}", serde_json::to_string_pretty(&rows)?),
                "csv" => print!("{}", zumodra_tenancy::report::usage_csv(&rows)),
                other => bail!("--format is json or csv, not '{other}'"),
            }
            Ok(())
        }
        Command::Audit(AuditCommand::Verify { slug }) => {
            let report = crate::audit_log::verify::verify_tenant(engine, &slug).await?;
            match report.first_broken {
                None => {
                    println!("audit log of {slug}: {} rows, chain intact", report.rows);
                    Ok(())
                }
                Some(b) => bail!(
                    "audit log of {slug}: row id {} (position {}) is broken: {} ({} rows checked)",
                    b.id,
                    b.seq,
                    b.reason,
                    report.rows
                ),
            }
        }
        Command::User(UserCommand::Create {
            email,
            password,
            name,
            platform_admin,
        }) => {
            let user = engine
                .create_user(&email, &password, &name, platform_admin)
                .await?;
            println!(
                "created user {} ({}){}",
                user.id,
                user.email,
                if user.is_platform_admin {
                    ", platform admin"
                } else {
                    ""
                }
            );
            Ok(())
        }
    }
}

fn table_progress(what: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_message(what.to_owned());
    bar
}

fn unreachable_command() -> anyhow::Result<()> {
    bail!("this command is not an administrative command")
}

async fn migrate(engine: &zumodra_tenancy::Engine, args: MigrateArgs) -> anyhow::Result<()> {
    if args.status {
        let status = engine.migration_status().await?;
        println!("latest tenant migration: {}", status.latest);
        println!("{:<8} {:<8} tenants", "version", "status");
        for (version, state, count) in &status.counts {
            println!("{version:<8} {state:<8} {count}");
        }
        for (slug, version, error) in &status.failed {
            println!("failed: {slug} at version {version}: {error}");
        }
        println!(
            "warm pool: {} schemas ready at version {}",
            engine.warm_ready().await?,
            status.latest
        );
        return Ok(());
    }
    // The shared schema is migrated when the engine connects.
    println!("shared schema: up to date");
    // Warm schemas first: a tenant created while the fleet migrates then claims a
    // current schema instead of building one.
    let warm = engine.migrate_warm_pool().await?;
    if warm > 0 {
        println!("warm pool: {warm} schemas migrated");
    }
    let pending = engine.pending_tenants().await?;
    if pending.is_empty() {
        println!(
            "tenants: all at version {}",
            engine.tenant_migrations().latest()
        );
        return Ok(());
    }
    let bar = ProgressBar::new(pending.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} tenants {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let opts = MigrateOptions {
        concurrency: args.concurrency.max(1),
        lock_timeout: Duration::from_millis(args.lock_timeout_ms.max(1)),
        ..MigrateOptions::default()
    };
    let on_done = |outcome: &TenantOutcome| {
        if let TenantOutcome::Failed { slug, error, .. } = outcome {
            bar.println(format!("failed: {slug}: {error}"));
        }
        bar.inc(1);
    };
    let report = engine.migrate_tenants(pending, &opts, &on_done).await?;
    bar.finish_and_clear();
    println!(
        "tenants migrated: {}, failed: {}",
        report.migrated,
        report.failed.len()
    );
    if !report.failed.is_empty() {
        bail!(
            "{} tenants failed to migrate; fix the cause and run migrate again",
            report.failed.len()
        );
    }
    Ok(())
}
