-- The first tenant schema. Runs inside the tenant's schema as the tenant's role, so every
-- table, index and sequence here is owned by that role. Everything after the
-- `-- @owner` line runs as the installation owner: the audit log belongs to the owner and
-- the tenant role may only insert and read it. {{tenant}} is the tenant role, quoted.
-- Foreign keys are DEFERRABLE (checked immediately unless a transaction defers them) so
-- an import can load tables in any order.

create table settings (
    id boolean primary key default true check (id),
    branding jsonb not null default '{}',
    timezone text not null default 'UTC',
    pipeline_stages text[] not null
        default '{new,screening,interview,offer,hired,rejected}',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
insert into settings default values;

-- Membership: a user (public.users.id) who is not a member does not exist here. No
-- foreign key leaves the tenant schema (SPEC §1: ready for schema-based sharding).
create table members (
    user_id bigint primary key,
    role text not null check (role in
        ('owner', 'admin', 'hr_manager', 'recruiter', 'hiring_manager', 'employee', 'viewer')),
    active boolean not null default true,
    joined_at timestamptz not null default now(),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table custom_permissions (
    user_id bigint not null references members (user_id) on delete cascade deferrable,
    permission text not null,
    granted boolean not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (user_id, permission)
);

create table ats_job (
    id bigint generated always as identity primary key,
    title text not null,
    description text not null default '',
    department text not null default '',
    location text not null default '',
    employment_type text not null default 'full_time',
    remote_policy text not null default 'onsite',
    salary_min bigint,
    salary_max bigint,
    salary_currency text,
    positions integer not null default 1,
    deadline date,
    status text not null default 'draft' check (status in
        ('draft', 'open', 'on_hold', 'closed', 'filled', 'cancelled')),
    created_by bigint,
    version integer not null default 1,
    published_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index ats_job_status on ats_job (status, id);

create table ats_candidate (
    id bigint generated always as identity primary key,
    name text not null,
    email text not null,
    phone text not null default '',
    resume_text text not null default '',
    source text not null default 'direct',
    tags text[] not null default '{}',
    version integer not null default 1,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create unique index ats_candidate_email on ats_candidate (lower(email));

create table ats_application (
    id bigint generated always as identity primary key,
    job_id bigint not null references ats_job (id) on delete cascade deferrable,
    candidate_id bigint not null references ats_candidate (id) on delete cascade deferrable,
    stage text not null,
    rating smallint check (rating between 0 and 5),
    version integer not null default 1,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (job_id, candidate_id)
);
create index ats_application_candidate on ats_application (candidate_id);

create table ats_application_history (
    id bigint generated always as identity primary key,
    application_id bigint not null references ats_application (id) on delete cascade deferrable,
    from_stage text,
    to_stage text not null,
    moved_by bigint,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index ats_application_history_app on ats_application_history (application_id, id);

create table hr_core_employee (
    id bigint generated always as identity primary key,
    user_id bigint unique,
    name text not null,
    email text not null,
    job_title text not null default '',
    department text not null default '',
    manager_id bigint references hr_core_employee (id) deferrable,
    hire_date date,
    employment_type text not null default 'full_time',
    status text not null default 'active',
    pto_balance_days numeric(6, 1) not null default 0 check (pto_balance_days >= 0),
    version integer not null default 1,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create unique index hr_core_employee_email on hr_core_employee (lower(email));

create table hr_core_timeoff (
    id bigint generated always as identity primary key,
    employee_id bigint not null references hr_core_employee (id) on delete cascade deferrable,
    kind text not null check (kind in ('vacation', 'sick', 'unpaid', 'other')),
    start_date date not null,
    end_date date not null,
    half_day boolean not null default false,
    total_days numeric(6, 1) not null,
    status text not null default 'pending' check (status in ('pending', 'approved', 'rejected', 'cancelled')),
    reason text not null default '',
    decided_by bigint,
    decided_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check (end_date >= start_date)
);
create index hr_core_timeoff_employee on hr_core_timeoff (employee_id, start_date);

create table services_listing (
    id bigint generated always as identity primary key,
    title text not null,
    description text not null default '',
    category text not null default '',
    kind text not null default 'fixed',
    price_minor bigint,
    currency text,
    delivery text not null default 'remote',
    status text not null default 'draft',
    version integer not null default 1,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- @owner
create table audit_log (
    id bigint generated always as identity primary key,
    at timestamptz not null default now(),
    actor_user_id bigint,
    impersonator_id bigint,
    action text not null,
    entity text not null,
    entity_id text,
    before jsonb,
    after jsonb,
    request_id text,
    address text,
    -- Position in the hash chain, set by the trigger below (ids are handed out before
    -- the chain lock is taken, so they may commit out of order; seq never does).
    seq bigint not null default 0,
    prev_hash bytea,
    hash bytea not null default '',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create unique index audit_log_seq on audit_log (seq);
create index audit_log_entity on audit_log (entity, entity_id);
create index audit_log_at on audit_log (at);

-- The digest of one row: sha256(previous hash || canonical jsonb text of the row). jsonb
-- text is canonical (sorted keys, one spelling per value) and the time is taken as
-- microseconds since the epoch, so no session setting changes the digest. The body is
-- SQL-standard (`begin atomic`, PostgreSQL 14+): names are bound when it is created.
create function audit_log_digest(prev bytea, r audit_log) returns bytea
    language sql immutable
begin atomic
    select sha256(coalesce(prev, ''::bytea) || convert_to(jsonb_build_object(
        'seq', r.seq,
        'at', (extract(epoch from r.at) * 1000000)::bigint,
        'actor', r.actor_user_id,
        'impersonator', r.impersonator_id,
        'action', r.action,
        'entity', r.entity,
        'entity_id', r.entity_id,
        'before', r.before,
        'after', r.after,
        'request_id', r.request_id,
        'address', r.address)::text, 'UTF8'));
end;

-- Chains every new row to the previous one. Writers of one tenant are serialized by a
-- transaction-level advisory lock (held until commit), so each row reads the hash of
-- the last committed row. The table name comes from the trigger's own arguments.
create function audit_log_chain() returns trigger
    language plpgsql
as $$
declare
    last_seq bigint;
    last_hash bytea;
begin
    -- The table's owner (an import restoring an archive) writes rows as they were, chain
    -- included, so `audit verify` checks the archived chain; everyone else, the tenant
    -- role above all, gets the next position and a computed hash.
    if length(new.hash) > 0
       and pg_has_role(current_user, (select relowner from pg_catalog.pg_class where oid = tg_relid), 'member') then
        return new;
    end if;
    perform pg_advisory_xact_lock(hashtext(tg_table_schema || '.audit_log'));
    execute format('select seq, hash from %I.%I order by seq desc limit 1',
                   tg_table_schema, tg_table_name)
        into last_seq, last_hash;
    new.seq := coalesce(last_seq, 0) + 1;
    new.at := clock_timestamp();
    new.prev_hash := last_hash;
    new.hash := audit_log_digest(last_hash, new);
    return new;
end;
$$;

create trigger audit_log_chain before insert on audit_log
    for each row execute function audit_log_chain();
grant select, insert on audit_log to {{tenant}};
