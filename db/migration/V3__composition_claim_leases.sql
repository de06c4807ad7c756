-- Several instances share the composition queue: a worker holds a composition by a lease that it renews
-- while it computes. A lease left to expire (the instance was killed) lets another instance take the job over.
alter table composition add column claimed_by varchar(100);
alter table composition add column heartbeat_at timestamptz;

create index composition_claimable on composition (status, heartbeat_at) where status in ('PENDING', 'RUNNING');
