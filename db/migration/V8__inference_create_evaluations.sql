-- Evaluations outlive the replica that ran them: any replica answers a poll or a listing.
create table evaluation (
    id             uuid primary key,
    status         varchar(16) not null,
    examples_done  bigint      not null,
    examples_total bigint      not null,
    correct        bigint      not null,
    duration_ms    bigint,
    error          text,
    created_at     timestamptz not null
);

create index evaluation_status_created on evaluation (status, created_at desc);
create index evaluation_created on evaluation (created_at desc);
