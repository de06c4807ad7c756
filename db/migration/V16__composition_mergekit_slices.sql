-- mergekit slices: a slice's sources are terms with their slice and layer range, and the
-- composition keeps each slice's own parameters.
alter table composition add column slices text;

alter table composition_term add column slice_index integer;
alter table composition_term add column layer_from integer;
alter table composition_term add column layer_to integer;

-- mergekit's dtype: the half precision inputs are rounded to before the method runs.
alter table composition add column compute_dtype varchar(10);
