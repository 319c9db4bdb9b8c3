-- Accounts, sessions, API tokens and sign-in throttling; attribution of observations and events to users.
--
-- Secrets are never stored: passwords as Argon2id PHC strings, session and API tokens as SHA-256 of the
-- random value the client holds.

create table app_user (
    id               uuid primary key default gen_random_uuid(),
    -- Sign-in name: lowercase letters, digits, dot, dash, underscore.
    name             text not null,
    display_name     text not null,
    organisation_id  integer not null constraint app_user_organisation_fkey references organisation (id),
    roles            text[] not null,
    password_hash    text not null,
    disabled_at      timestamptz,
    created_at       timestamptz not null default now(),
    password_changed_at timestamptz not null default now(),
    last_login_at    timestamptz,
    constraint app_user_name_key unique (name),
    constraint app_user_name_format check (name ~ '^[a-z0-9][a-z0-9._-]{1,31}$'),
    constraint app_user_display_name_length check (char_length(display_name) between 1 and 64),
    constraint app_user_roles_known check (
        cardinality(roles) >= 1 and roles <@ array['inspector', 'town_officer', 'unit_officer', 'dispatcher',
            'reviewer', 'leader', 'admin']),
    constraint app_user_password_hash_argon2id check (password_hash like '$argon2id$%')
);

-- A browser session. The cookie holds a random token; only its SHA-256 is here.
create table user_session (
    token_sha256   bytea primary key,
    user_id        uuid not null constraint user_session_user_fkey references app_user (id) on delete cascade,
    -- Synchroniser token for CSRF: sent back by the page in X-CSRF-Token on every state-changing request.
    csrf_token     text not null,
    created_at     timestamptz not null default now(),
    last_seen_at   timestamptz not null default now(),
    expires_at     timestamptz not null,
    constraint user_session_token_length check (octet_length(token_sha256) = 32)
);
create index user_session_user_idx on user_session (user_id);

-- Personal API tokens for the phone page and integrations. Shown once at creation.
create table api_token (
    id             uuid primary key default gen_random_uuid(),
    user_id        uuid not null constraint api_token_user_fkey references app_user (id) on delete cascade,
    name           text not null,
    token_sha256   bytea not null,
    -- First characters of the token, to recognise it in a list without revealing it.
    prefix         text not null,
    created_at     timestamptz not null default now(),
    last_used_at   timestamptz,
    revoked_at     timestamptz,
    constraint api_token_sha256_key unique (token_sha256),
    constraint api_token_name_length check (char_length(name) between 1 and 64)
);
create index api_token_user_idx on api_token (user_id);

-- Failed sign-ins, for throttling per account name and per client address. In the database so that a
-- restart does not reset the count.
create table login_failure (
    id           bigint generated always as identity primary key,
    account      text not null,
    client_addr  text not null,
    at           timestamptz not null default now()
);
create index login_failure_account_idx on login_failure (account, at);
create index login_failure_client_idx on login_failure (client_addr, at);

-- Every deployment has the city road-safety office (市交安办): the first admin belongs to it.
insert into organisation (name, kind)
select '市交安办', 'city_office'
where not exists (select 1 from organisation where kind = 'city_office');

-- Attribution. Rows recorded before accounts existed belong to a disabled placeholder account.
insert into app_user (name, display_name, organisation_id, roles, password_hash, disabled_at)
select 'legacy-import', '导入数据', (select id from organisation where kind = 'city_office' order by id limit 1),
    array['inspector'], '$argon2id$disabled', now()
where exists (select 1 from observation);

alter table observation add column user_id uuid constraint observation_user_fkey references app_user (id);
update observation set user_id = (select id from app_user where name = 'legacy-import');
alter table observation alter column user_id set not null;
create index observation_user_idx on observation (user_id, received_at);

-- Events made by a person carry their account; events made by the system (look-back due) carry none.
alter table site_event add column actor_user_id uuid constraint site_event_actor_user_fkey references app_user (id);
create index site_site_event_actor_idx on site_event (actor_user_id);
-- (Earlier events keep their actor's name only: site_event is append-only, even for a migration.)

create index site_responsible_unit_idx on site (responsible_unit_id);
