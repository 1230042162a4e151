-- The warm pool (issue #7): tenant schemas and roles built ahead of demand, fully
-- migrated, under placeholder names (schema `warm_<hex>`, role `<prefix>w_<hex>`).
-- Creating a tenant claims one row here (`for update skip locked`, so two creations
-- never get the same schema), renames the role and the schema to the tenant's names and
-- deletes the row, all in the creation's one transaction: a crash at any point leaves
-- the row and its schema in the pool. `version` is the tenant migration the schema is
-- at; only schemas at the engine's latest version are claimed, older ones are migrated
-- by `zumodra migrate` and the top-up task. Owner-only: no other role may read it.
create table public.warm_schemas (
    id bigint generated always as identity primary key,
    schema_name text not null unique check (schema_name ~ '^warm_[0-9a-f]{16}$'),
    role_name text not null unique,
    version integer not null check (version >= 1),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index warm_schemas_version on public.warm_schemas (version, id);
revoke all on public.warm_schemas from public;
