-- Deletion through the platform API (issue #6): `DELETE /platform/v1/tenants/{slug}`
-- cancels the tenant and schedules its deletion after a grace period; `resume` within
-- the grace period clears the schedule; once due, a platform job drops the tenant.
alter table public.tenants add column deletion_scheduled_at timestamptz;
create index tenants_deletion_due on public.tenants (deletion_scheduled_at)
    where deletion_scheduled_at is not null;
