-- Registry of models, patches and datasets. Bytes live in the blob store; rows point at them by sha256.
create table artifact (
    id              uuid primary key,
    type            varchar(16)  not null check (type in ('MODEL', 'PATCH', 'DATASET')),
    patch_kind      varchar(16)  check (patch_kind in ('DIFF', 'RWS', 'LORA')),
    name            varchar(200) not null,
    version         varchar(100),
    family          varchar(100),
    base_model_id   uuid references artifact (id),
    size_bytes      bigint       not null,
    parameter_count bigint       not null,
    -- Kind-specific settings as JSON: the PEFT adapter_config for lora, quantization for rws.
    config          text,
    -- The composition a materialized model came from.
    composition_id  uuid,
    created_at      timestamptz  not null,
    constraint artifact_patch_kind check ((type = 'PATCH') = (patch_kind is not null)),
    constraint artifact_name_version unique nulls not distinct (type, name, version)
);

create index artifact_base_model on artifact (base_model_id);

create table artifact_label (
    artifact_id uuid         not null references artifact (id) on delete cascade,
    key         varchar(100) not null,
    value       varchar(200) not null,
    primary key (artifact_id, key)
);

-- Every file an artifact was uploaded as, in upload order: weight shards, index, graph, adapter parts.
create table artifact_file (
    artifact_id uuid         not null references artifact (id) on delete cascade,
    ordinal     integer      not null,
    role        varchar(20)  not null,
    file_name   varchar(255) not null,
    digest      varchar(64)  not null check (digest ~ '^[0-9a-f]{64}$'),
    size_bytes  bigint       not null,
    primary key (artifact_id, ordinal)
);

create index artifact_file_digest on artifact_file (digest);

-- The tensor manifest: where each tensor's bytes lie inside one of the artifact's files.
create table artifact_tensor (
    artifact_id  uuid         not null references artifact (id) on delete cascade,
    ordinal      integer      not null,
    name         varchar(500) not null,
    dtype        varchar(8)   not null,
    shape        bigint[]     not null,
    file_ordinal integer      not null,
    data_offset  bigint       not null,
    primary key (artifact_id, ordinal)
);

-- Which artifacts an artifact was derived from, and how (base, finetuned, clean, robust, pretrained, patch).
create table artifact_lineage (
    artifact_id uuid        not null references artifact (id) on delete cascade,
    ordinal     integer     not null,
    source_id   uuid        not null references artifact (id),
    relation    varchar(32) not null,
    primary key (artifact_id, ordinal)
);

create index artifact_lineage_source on artifact_lineage (source_id);
