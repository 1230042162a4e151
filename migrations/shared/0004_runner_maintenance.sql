-- The fleet migration runner records, in the same transaction, that it put a tenant in
-- maintenance for a `-- @locking` migration. A run killed mid-step leaves the mark, and
-- the rerun takes the tenant out of maintenance (an operator's maintenance, set before,
-- is never marked and stays).
alter table public.tenant_migrations
    add column maintenance_by_runner boolean not null default false;
