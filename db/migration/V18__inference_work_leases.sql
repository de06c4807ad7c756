-- A replica holds the sweeps and evaluations it runs by a lease it renews while they run; one whose
-- lease has lapsed belongs to a replica that is gone, and another replica takes it over. An evaluation
-- keeps its request (references resolved) so that it can be run again elsewhere.
alter table sweep add column claimed_by varchar(100);
alter table sweep add column heartbeat_at timestamptz;
alter table evaluation add column claimed_by varchar(100);
alter table evaluation add column heartbeat_at timestamptz;
alter table evaluation add column request text;
