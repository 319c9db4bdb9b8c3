-- The public report page's abuse limits (issue 13) need one secret every server shares: it salts the SHA-256
-- of a sender's address and device id (`public_report.sender_hash`, `device_hash`, the `public_rate_hit`
-- buckets), so a stored hash cannot be reversed by hashing every IPv4 address, and it keys the HMAC of the
-- proof-of-work challenges the page solves, so a challenge made by one server is checked by any other. Made
-- once, here, from PostgreSQL's random UUIDs (two v4 UUIDs: 244 random bits); never leaves the database
-- except into the servers' memory.
create table public_report_secret (
    only_row  boolean primary key default true,
    secret    bytea not null default decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'),
    constraint public_report_secret_one_row check (only_row),
    constraint public_report_secret_length check (octet_length(secret) = 32)
);
insert into public_report_secret default values;
