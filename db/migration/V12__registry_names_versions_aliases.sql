-- A name is a registered model (or patch): its artifacts are its versions, numbered 1, 2, 3 ... per (type, name) in
-- the order they were registered. A version not given by the client is that number, and the highest number is the
-- latest. Aliases name one version of a name and move; labels and a description may change after registration,
-- and each change is kept.
alter table artifact add column version_number integer;

update artifact a set version_number = numbered.n
from (select id, row_number() over (partition by type, name order by created_at, id) as n from artifact) numbered
where a.id = numbered.id;

alter table artifact alter column version_number set not null;
alter table artifact add constraint artifact_name_version_number unique (type, name, version_number);

-- Rows registered without a version take their number, unless a sibling already uses that text as its version.
update artifact a set version = a.version_number::text
where a.version is null
  and not exists (select 1 from artifact b where b.type = a.type and b.name = a.name and b.version = a.version_number::text);

alter table artifact add column description text;

-- Name prefix searches (like 'x%') use it; substring searches scan.
create index artifact_type_name_pattern on artifact (type, name varchar_pattern_ops);

create table artifact_alias (
    type        varchar(16)  not null,
    name        varchar(200) not null,
    alias       varchar(64)  not null,
    artifact_id uuid         not null references artifact (id) on delete cascade,
    updated_at  timestamptz  not null,
    primary key (type, name, alias)
);

create index artifact_alias_artifact on artifact_alias (artifact_id);

-- What changed on an artifact after registration (labels, description, aliases), by whom and when.
create table artifact_change (
    id          uuid         primary key,
    artifact_id uuid         not null references artifact (id) on delete cascade,
    changed_at  timestamptz  not null,
    role        varchar(10),
    request_id  varchar(128),
    changes     text         not null
);

create index artifact_change_artifact on artifact_change (artifact_id, changed_at);
