-- A recipe may opt out of refusing NaN and infinities in its result (PEFT's safe_merge=False).
alter table composition add column safe_merge boolean not null default true;
