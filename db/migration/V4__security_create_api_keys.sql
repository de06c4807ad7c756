-- API keys. Only a SHA-256 of each key is stored: keys are 256-bit random, so a fast hash is enough to make the
-- table useless to whoever reads it, and lookups stay a single index probe per request.
create table api_key (
    id         uuid primary key,
    name       varchar(100) not null,
    role       varchar(10)  not null check (role in ('READER', 'PUBLISHER', 'ADMIN')),
    key_hash   varchar(64)  not null unique,
    -- The first characters of the key, so a person can tell keys apart in a listing.
    prefix     varchar(12)  not null,
    created_at timestamptz  not null
);
