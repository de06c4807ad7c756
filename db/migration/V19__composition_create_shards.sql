-- A composition larger than one shard is computed shard by shard: each shard (a run of output tensors,
-- cut as save_pretrained cuts them) is a unit of the shared queue, claimed and leased as a composition
-- is, so that several instances compute one composition together and a reader of one shard waits for
-- that shard alone. Its digest, once computed, checks every instance's copy of it.
create table composition_shard (
    composition_id uuid        not null references composition (id) on delete cascade,
    shard_index    integer     not null,
    tensor_from    integer     not null,
    tensor_to      integer     not null,
    status         varchar(16) not null,
    claimed_by     varchar(100),
    heartbeat_at   timestamptz,
    digest         varchar(64),
    primary key (composition_id, shard_index)
);

create index composition_shard_claimable on composition_shard (status, heartbeat_at)
    where status in ('PENDING', 'RUNNING');
