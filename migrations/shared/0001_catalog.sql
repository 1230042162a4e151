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
