-- Compositions: a recipe (base + weighted patches + merge method), its progress and its cached result.
create table composition (
    id              uuid primary key,
    recipe_digest   varchar(64)      not null unique,
    base_model_id   uuid             not null references artifact (id),
    method          varchar(20)      not null,
    density         double precision not null,
    majority_sign   varchar(10),
    seed            bigint           not null,
    output_dtype    varchar(8),
    materialize     boolean          not null,
    status          varchar(10)      not null check (status in ('PENDING', 'RUNNING', 'READY', 'FAILED')),
    tensors_done    integer          not null,
    tensors_total   integer          not null,
    bytes_done      bigint           not null,
    bytes_total     bigint           not null,
    result_digest   varchar(64),
    result_model_id uuid             references artifact (id) on delete set null,
    error           text,
    created_at      timestamptz      not null,
    started_at      timestamptz,
    finished_at     timestamptz
);

create index composition_status on composition (status);

create table composition_term (
    composition_id uuid             not null references composition (id) on delete cascade,
    ordinal        integer          not null,
    patch_id       uuid             not null references artifact (id),
    weight         double precision not null,
    primary key (composition_id, ordinal)
);

create index composition_term_patch on composition_term (patch_id);
