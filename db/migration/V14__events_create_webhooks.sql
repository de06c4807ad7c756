-- Events and webhooks. An event is written in the transaction of the change it reports, together with one
-- pending delivery per webhook subscribed to its type (an outbox): a change and its event commit or roll back
-- as one, and whichever replica claims a delivery sends it, however many replicas there are.
create table webhook (
    id         uuid primary key,
    url        varchar(2000) not null,
    -- Kept to sign each delivery (HMAC-SHA256), so it cannot be stored hashed; never returned by the API.
    secret     varchar(200)  not null,
    created_at timestamptz   not null
);

create table webhook_event (
    webhook_id uuid        not null references webhook (id) on delete cascade,
    event_type varchar(64) not null,
    primary key (webhook_id, event_type)
);

create index webhook_event_type on webhook_event (event_type);

create table event_log (
    id             uuid primary key,
    -- The order events are read in by a composition's event stream (its SSE id).
    seq            bigint generated always as identity unique,
    type           varchar(64) not null,
    composition_id uuid,
    occurred_at    timestamptz not null,
    -- The JSON document delivered, byte for byte: {id, type, occurredAt, data}.
    body           text        not null
);

create index event_log_composition on event_log (composition_id, seq) where composition_id is not null;
create index event_log_occurred on event_log (occurred_at);

create table webhook_delivery (
    id              uuid primary key,
    webhook_id      uuid         not null references webhook (id) on delete cascade,
    event_id        uuid         not null references event_log (id) on delete cascade,
    status          varchar(16)  not null check (status in ('PENDING', 'DELIVERED', 'FAILED')),
    attempts        integer      not null,
    last_status     integer,
    last_error      varchar(500),
    -- When a pending delivery is next due; a claim moves it past the attempt's timeout, so a delivery whose
    -- replica died mid-attempt is taken up again.
    next_attempt_at timestamptz  not null,
    created_at      timestamptz  not null,
    finished_at     timestamptz
);

create index webhook_delivery_due on webhook_delivery (next_attempt_at) where status = 'PENDING';
create index webhook_delivery_webhook on webhook_delivery (webhook_id, created_at desc);
create index webhook_delivery_event on webhook_delivery (event_id);
