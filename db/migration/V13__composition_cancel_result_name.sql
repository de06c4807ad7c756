-- A composition may be cancelled, queued or running; and a request may name the model its result is registered as.
alter table composition drop constraint composition_status_check;
alter table composition add constraint composition_status_check
    check (status in ('PENDING', 'RUNNING', 'READY', 'FAILED', 'CANCELLED'));
alter table composition add column result_name varchar(200);
