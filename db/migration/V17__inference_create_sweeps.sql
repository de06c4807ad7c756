-- Strength sweeps outlive the replica that ran them: any replica answers a poll, a listing
-- or a chart, and results arrive one grid point at a time.
create table sweep (
    id           uuid primary key,
    status       varchar(16) not null,
    request      text        not null,
    points_done  integer     not null,
    points_total integer     not null,
    duration_ms  bigint,
    error        text,
    created_at   timestamptz not null
);

create index sweep_status_created on sweep (status, created_at desc);
create index sweep_created on sweep (created_at desc);

create table sweep_result (
    sweep_id uuid    not null references sweep (id) on delete cascade,
    ordinal  integer not null,
    weights  text    not null,
    accuracy text    not null,
    primary key (sweep_id, ordinal)
);
