-- The flagged patch-audit findings an admin acknowledged to compose a recipe anyway (JSON); null when none was flagged.
alter table composition add column audit_acknowledgement text;
