-- The shared catalog: plans, tenants, domains, users, sessions, platform audit, and the
-- ledger of tenant migrations. Owned by the installation owner (the role that runs
-- migrations). {{runtime}} is this installation's NOINHERIT login role, {{tenants}} the
-- group of every tenant role; the engine substitutes both, quoted.

create table public.plans (
    code text primary key check (code ~ '^[a-z][a-z0-9_]{1,31}$'),
    name text not null,
    max_users integer not null check (max_users >= 0),
    max_jobs integer not null check (max_jobs >= 0),
    max_candidates_per_month integer not null check (max_candidates_per_month >= 0),
    max_employees integer not null check (max_employees >= 0),
    storage_mb integer not null check (storage_mb >= 0),
    requests_per_minute integer not null check (requests_per_minute >= 0),
    features text[] not null default '{}',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- 0 means unlimited. Users, jobs, candidates and storage follow the public price list of
-- the system this replaces; employees and request rates are ours (docs/decisions.md).
insert into public.plans (code, name, max_users, max_jobs, max_candidates_per_month,
                          max_employees, storage_mb, requests_per_minute, features) values
    ('free', 'Free', 3, 3, 50, 10, 1024, 300,
        '{ats,career_pages}'),
    ('starter', 'Starter', 10, 10, 200, 50, 10240, 1200,
        '{ats,hr_core,services,career_pages,realtime}'),
    ('professional', 'Professional', 50, 50, 1000, 250, 51200, 6000,
        '{ats,hr_core,services,career_pages,audit_logs,data_export,realtime}'),
    ('enterprise', 'Enterprise', 500, 500, 10000, 0, 512000, 0,
        '{ats,hr_core,services,career_pages,audit_logs,data_export,custom_domains,realtime}');

create table public.tenants (
    id bigint generated always as identity primary key,
    slug text not null unique,
    name text not null check (length(name) between 1 and 200),
    plan text not null references public.plans (code),
    status text not null check (status in
        ('provisioning', 'trial', 'active', 'suspended', 'cancelled', 'deleting', 'deleted')),
    status_reason text,
    maintenance boolean not null default false,
    schema_name text not null unique,
    role_name text not null unique,
    -- Which PostgreSQL server holds the tenant's schema: a catalog fact, so a
    -- distributed engine can place schemas without code assuming one server.
    placement text not null default 'primary',
    trial_ends_at timestamptz,
    deleted_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table public.domains (
    domain text primary key check (domain = lower(domain) and domain !~ '[:/ ]'),
    tenant_id bigint not null references public.tenants (id),
    is_primary boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index domains_tenant on public.domains (tenant_id);

create table public.users (
    id bigint generated always as identity primary key,
    email text not null check (position('@' in email) > 1),
    password_hash text not null,
    display_name text not null default '',
    is_platform_admin boolean not null default false,
    disabled boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create unique index users_email_lower on public.users (lower(email));

create table public.sessions (
    token_hash bytea primary key check (length(token_hash) = 32),
    user_id bigint not null references public.users (id),
    -- null for a platform-host session of a platform admin
    tenant_id bigint references public.tenants (id),
    impersonator_id bigint references public.users (id),
    reason text,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    revoked_at timestamptz
);
create index sessions_user on public.sessions (user_id);
create index sessions_expiry on public.sessions (expires_at);

create table public.platform_audit (
    id bigint generated always as identity primary key,
    at timestamptz not null default now(),
    actor_user_id bigint references public.users (id),
    action text not null,
    tenant_id bigint references public.tenants (id),
    address text,
    detail jsonb not null default '{}'
);
create index platform_audit_at on public.platform_audit (at);

-- One row per tenant: the tenant migration version its schema is at.
create table public.tenant_migrations (
    tenant_id bigint primary key references public.tenants (id),
    version integer not null,
    status text not null check (status in ('ok', 'running', 'failed')),
    started_at timestamptz,
    finished_at timestamptz,
    error text,
    updated_at timestamptz not null default now()
);
create index tenant_migrations_version on public.tenant_migrations (version, status);

grant select on public.plans to {{runtime}}, {{tenants}};
grant select, insert, update on public.tenants, public.domains, public.users to {{runtime}};
grant delete on public.domains to {{runtime}};
grant select, insert, update, delete on public.sessions to {{runtime}};
grant select, insert on public.platform_audit to {{runtime}};
grant select on public.tenant_migrations to {{runtime}};

-- Background jobs, the e-mail outbox and usage counters (issue #5, SPEC §2 guarantee 8).
--
-- A tenant enqueues inside its own transaction, as its own role, so a rolled-back
-- request enqueues nothing. The tenant id of such a row is never a parameter: the
-- column default maps current_user (the tenant role, set by the engine) to its tenant,
-- the tenants group may insert only the columns below (not tenant_id, status,
-- attempts, locks), and row-level security checks the mapping again and lets a tenant
-- see only its own rows. The runtime role (NOINHERIT, so the tenants policies never
-- apply to it) runs the workers and sees every row. All names in these functions are
-- schema-qualified: a SECURITY DEFINER function must not resolve a name through the
-- caller's schemas.

-- The tenant whose role is `role_name`; null for any other role (runtime, owner).
create function public.zumodra_role_tenant(role_name text) returns bigint
    language sql stable security definer
    as $$ select t.id from public.tenants t where t.role_name operator(pg_catalog.=) $1 $$;
revoke all on function public.zumodra_role_tenant(text) from public;
grant execute on function public.zumodra_role_tenant(text) to {{runtime}}, {{tenants}};

create table public.jobs (
    id bigint generated always as identity primary key,
    -- null: a platform-wide job (the worker refuses kinds not declared so).
    tenant_id bigint references public.tenants (id)
        default public.zumodra_role_tenant(current_user::text),
    kind text not null check (kind ~ '^[a-z][a-z0-9_.]{0,63}$'),
    payload jsonb not null default '{}',
    status text not null default 'queued'
        check (status in ('queued', 'running', 'done', 'dead')),
    attempts integer not null default 0 check (attempts >= 0),
    max_attempts integer not null default 5 check (max_attempts between 1 and 100),
    run_at timestamptz not null default now(),
    -- The lease: `<worker>:<random>`, secret to the worker holding it, and its expiry.
    locked_by text,
    locked_until timestamptz,
    last_error text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index jobs_ready on public.jobs (run_at, id) where status = 'queued';
create index jobs_leased on public.jobs (locked_until) where status = 'running';
create index jobs_tenant_kind on public.jobs (tenant_id, kind, status);
create index jobs_dead on public.jobs (updated_at) where status = 'dead';

alter table public.jobs enable row level security;
create policy jobs_runtime on public.jobs to {{runtime}} using (true) with check (true);
create policy jobs_tenant_insert on public.jobs for insert to {{tenants}}
    with check (tenant_id = public.zumodra_role_tenant(current_user::text));
create policy jobs_tenant_select on public.jobs for select to {{tenants}}
    using (tenant_id = public.zumodra_role_tenant(current_user::text));
grant select, insert, update, delete on public.jobs to {{runtime}};
grant insert (kind, payload, max_attempts, run_at) on public.jobs to {{tenants}};
grant select (id, kind, status, run_at, created_at) on public.jobs to {{tenants}};

-- Marks a running job done if `lease` still holds it. Called by the worker inside the
-- job's tenant transaction (as the tenant role), so the job's effects and its `done`
-- commit together or not at all; a worker whose lease was taken over gets false and
-- rolls back. Only the holder knows the lease: no role but the runtime can read it.
create function public.zumodra_job_finish(job_id bigint, lease text) returns boolean
    language sql security definer
    as $$
        update public.jobs
           set status = 'done', locked_by = null, locked_until = null, last_error = null,
               updated_at = pg_catalog.now()
         where id operator(pg_catalog.=) job_id
           and locked_by operator(pg_catalog.=) lease
           and status operator(pg_catalog.=) 'running'
        returning true
    $$;
revoke all on function public.zumodra_job_finish(bigint, text) from public;
grant execute on function public.zumodra_job_finish(bigint, text) to {{runtime}}, {{tenants}};

-- One row per periodic kind: the instance that moves next_run_at enqueues that period.
create table public.job_schedule (
    kind text primary key,
    next_run_at timestamptz not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
grant select, insert, update on public.job_schedule to {{runtime}};

-- E-mails to send: written by tenant work (as the tenant role, like jobs), sent by the
-- platform's mailer, which marks them sent.
create table public.outbox_emails (
    id bigint generated always as identity primary key,
    tenant_id bigint references public.tenants (id)
        default public.zumodra_role_tenant(current_user::text),
    to_address text not null check (position('@' in to_address) > 1),
    subject text not null,
    body text not null,
    attempts integer not null default 0,
    last_error text,
    sent_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index outbox_emails_unsent on public.outbox_emails (id) where sent_at is null;
alter table public.outbox_emails enable row level security;
create policy outbox_runtime on public.outbox_emails to {{runtime}} using (true) with check (true);
create policy outbox_tenant_insert on public.outbox_emails for insert to {{tenants}}
    with check (tenant_id = public.zumodra_role_tenant(current_user::text));
create policy outbox_tenant_select on public.outbox_emails for select to {{tenants}}
    using (tenant_id = public.zumodra_role_tenant(current_user::text));
grant select, insert, update, delete on public.outbox_emails to {{runtime}};
grant insert (to_address, subject, body) on public.outbox_emails to {{tenants}};
grant select (id, created_at, sent_at) on public.outbox_emails to {{tenants}};

-- Usage counters, recomputed per tenant by a periodic job inside the tenant's
-- transaction (its own row only), read by the platform's usage report.
create table public.tenant_usage (
    tenant_id bigint primary key references public.tenants (id)
        default public.zumodra_role_tenant(current_user::text),
    members integer not null default 0,
    jobs integer not null default 0,
    open_jobs integer not null default 0,
    candidates integer not null default 0,
    candidates_this_month integer not null default 0,
    applications integer not null default 0,
    employees integer not null default 0,
    computed_at timestamptz not null default now(),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
alter table public.tenant_usage enable row level security;
create policy usage_runtime on public.tenant_usage to {{runtime}} using (true) with check (true);
create policy usage_tenant on public.tenant_usage to {{tenants}}
    using (tenant_id = public.zumodra_role_tenant(current_user::text))
    with check (tenant_id = public.zumodra_role_tenant(current_user::text));
grant select, insert, update on public.tenant_usage to {{runtime}};
grant select (tenant_id, members, jobs, open_jobs, candidates, candidates_this_month,
              applications, employees, computed_at),
      insert (members, jobs, open_jobs, candidates, candidates_this_month, applications,
              employees, computed_at),
      update (members, jobs, open_jobs, candidates, candidates_this_month, applications,
              employees, computed_at, updated_at)
    on public.tenant_usage to {{tenants}};
