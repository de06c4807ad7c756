-- mergekit-dialect recipes: method parameters, whole models as terms, recipes without a base.
alter table composition alter column base_model_id drop not null;
alter table composition add column dialect varchar(10);
alter table composition add column parameters text;

alter table composition_term alter column patch_id drop not null;
alter table composition_term add column model_id uuid references artifact (id);
alter table composition_term add column parameters text;

create index composition_term_model on composition_term (model_id);
