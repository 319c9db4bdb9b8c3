-- The public's hazards (issue 13): citizens' photo reports (随手拍), 12345 hotline tickets and requests that
-- civic platforms send over Open311 GeoReport v2. All three land as a **public report** in one moderation
-- queue, never in the ledger: a dispatcher accepts one (it becomes an observation of a new or a nearby open
-- site, whose `source` is `citizen_photo` or `hotline`), merges it into a named site, or rejects it with a
-- reason the public may read. From then on the report's public status follows its site, through triggers,
-- so a citizen's tracking link and an Open311 client always read where the site stands.

-- 12345 hotline operators enter and import tickets, and read the queue; nothing else.
alter table app_user drop constraint app_user_roles_known;
alter table app_user add constraint app_user_roles_known check (
    cardinality(roles) >= 1 and roles <@ array['inspector', 'town_officer', 'unit_officer', 'dispatcher',
        'reviewer', 'leader', 'admin', 'detector', 'hotline']);

-- ---------------------------------------------------------------------------------------------------------
-- Systems that speak Open311 (a city platform, an app): each has its own key, issued by an admin. Only the
-- key's SHA-256 is kept; the key is shown once.

create table open311_client (
    id            integer generated always as identity primary key,
    name          text not null,
    key_sha256    bytea not null,
    -- The first characters of the key, so an admin can tell keys apart in the list.
    key_prefix    text not null,
    created_at    timestamptz not null default now(),
    created_by    text not null,
    revoked_at    timestamptz,
    last_used_at  timestamptz,
    constraint open311_client_name_length check (char_length(name) between 1 and 64),
    constraint open311_client_key_sha256_length check (octet_length(key_sha256) = 32),
    constraint open311_client_key_sha256_key unique (key_sha256)
);

-- ---------------------------------------------------------------------------------------------------------
-- Public reports.

create table public_report (
    -- Also the Open311 `service_request_id`.
    id                 bigint generated always as identity primary key,
    -- How it came: the public report page, the hotline (form or CSV), an Open311 client.
    channel            text not null,
    -- Made by the sender so a retried submission is recognised (the page makes one per draft; Open311 has none).
    submission_id      uuid,
    -- The unguessable part of the citizen's tracking link (`/track.html#<token>`): 32 hex characters, from
    -- the operating system's random source. Also the Open311 `token`.
    tracking_token     text not null,
    -- A public category (`domain::public_report::CATEGORIES`, which is also Open311's service list).
    category           text not null,
    description        text not null default '',
    -- Where: a point (WGS-84, converted on the way in), or for a hotline ticket only an address in words.
    geom               geometry(Point, 4326),
    source_crs         text not null default 'wgs84',
    accuracy_m         real,
    address_text       text,
    -- The 12345 hotline's own ticket number (工单号): the key of a CSV re-import, kept on the site's ledger row.
    ticket_no          text,
    -- When the caller rang (the ticket's time) or the citizen submitted; `received_at` is when it reached us.
    reported_at        timestamptz not null,
    received_at        timestamptz not null default now(),
    open311_client_id  integer constraint public_report_open311_client_fkey references open311_client (id),
    -- Personal data: dispatchers only, purged after the retention period (`contact_purged_at`).
    contact_name       text,
    contact_phone      text,
    contact_email      text,
    -- The abuse limits' keys: a salted SHA-256 of the sender's address and of the page's device id.
    -- Purged with the contact data.
    sender_hash        bytea,
    device_hash        bytea,
    contact_purged_at  timestamptz,
    -- Who entered a hotline ticket or imported its file.
    entered_by         text,
    -- Moderation.
    status             text not null default 'received',
    decided_at         timestamptz,
    decided_by         text,
    -- Shown to the public (tracking page, Open311) when rejected or as a note on accepting.
    public_reason      text,
    -- Staff only.
    internal_note      text,
    -- Rejected as spam or abuse: never listed publicly (the tracking link still says "not accepted").
    hidden             boolean not null default false,
    -- The site it became or was merged into, and the observation it became.
    site_id            uuid constraint public_report_site_fkey references site (id),
    observation_id     uuid constraint public_report_observation_fkey references observation (id),
    -- What the public reads, kept by the triggers below from `status` and the site's status:
    -- received (待处理), in_progress (处理中), fixed (已整改), not_accepted (不予受理).
    public_status      text not null default 'received',
    -- When `public_status` last changed (Open311 `updated_datetime`).
    updated_at         timestamptz not null default now(),
    constraint public_report_channel_known check (channel in ('citizen', 'hotline', 'open311')),
    constraint public_report_tracking_token_format check (tracking_token ~ '^[0-9a-f]{32}$'),
    constraint public_report_tracking_token_key unique (tracking_token),
    constraint public_report_category_known check (category in (
        'sign_marking', 'intersection', 'curve_slope', 'barrier', 'lighting', 'pavement', 'roadside',
        'school_zone', 'other')),
    constraint public_report_description_length check (char_length(description) <= 2000),
    constraint public_report_source_crs_known check (source_crs in ('wgs84', 'gcj02', 'bd09')),
    constraint public_report_accuracy_range check (accuracy_m >= 0 and accuracy_m <= 10000),
    constraint public_report_address_length check (char_length(address_text) between 1 and 200),
    constraint public_report_has_place check (geom is not null or address_text is not null),
    constraint public_report_geom_valid check (st_isvalid(geom) and not st_isempty(geom)),
    constraint public_report_ticket_no_format check (ticket_no ~ '^[0-9A-Za-z_-]{1,40}$'),
    constraint public_report_ticket_only_hotline check (ticket_no is null or channel = 'hotline'),
    constraint public_report_client_only_open311 check ((open311_client_id is not null) = (channel = 'open311')),
    constraint public_report_contact_name_length check (char_length(contact_name) between 1 and 64),
    constraint public_report_contact_phone_format check (contact_phone ~ '^\+?[0-9]{5,20}$'),
    constraint public_report_contact_email_length check (char_length(contact_email) between 3 and 254),
    constraint public_report_purged_has_no_contact check (
        contact_purged_at is null or num_nonnulls(contact_name, contact_phone, contact_email, sender_hash,
            device_hash) = 0),
    constraint public_report_status_known check (status in ('received', 'accepted', 'merged', 'rejected')),
    constraint public_report_decision_complete check (
        case status when 'received' then decided_at is null and site_id is null and observation_id is null
                    when 'rejected' then decided_at is not null and public_reason is not null and site_id is null
                    else decided_at is not null and site_id is not null end),
    constraint public_report_hidden_only_rejected check (not hidden or status = 'rejected'),
    constraint public_report_public_reason_length check (char_length(public_reason) between 1 and 500),
    constraint public_report_internal_note_length check (char_length(internal_note) <= 2000),
    constraint public_report_public_status_known check (
        public_status in ('received', 'in_progress', 'fixed', 'not_accepted'))
);
create unique index public_report_submission_key on public_report (submission_id) where submission_id is not null;
create unique index public_report_ticket_no_key on public_report (ticket_no) where ticket_no is not null;
create index public_report_geom_gix on public_report using gist (geom);
-- The moderation queue, oldest first; Open311's lists, newest first.
create index public_report_status_idx on public_report (status, received_at, id);
create index public_report_received_idx on public_report (received_at desc, id desc);
create index public_report_site_idx on public_report (site_id) where site_id is not null;
-- The retention purge finds reports whose contact data is still kept.
create index public_report_contact_kept_idx on public_report (received_at) where contact_purged_at is null;

-- Photos of a citizen report (1–3). Three files in the photo store under content-addressed keys:
-- `original_key`, the file as sent, EXIF and all: evidence, served to staff only; `public_key`, the same
-- picture re-encoded with its orientation applied and **no metadata at all**, the only copy a public page,
-- Open311 or anything shared serves; `thumbnail_key`, a small re-encoded copy (no metadata either). An
-- accepted report's observation gets photo rows naming the public copy, so nothing of the ledger (site page,
-- close-out sheet, exports) carries a citizen's EXIF; the original stays with the report, for staff.
create table public_report_photo (
    report_id        bigint not null constraint public_report_photo_report_fkey references public_report (id),
    position         smallint not null,
    sha256           bytea not null,
    content_type     text not null,
    bytes            integer not null,
    width            integer not null,
    height           integer not null,
    original_key     text not null,
    public_key       text not null,
    public_sha256    bytea not null,
    thumbnail_key    text not null,
    thumbnail_width  integer not null,
    thumbnail_height integer not null,
    -- EXIF as found in the original: corroborating evidence for staff.
    exif_taken_at    timestamp,
    exif_location    geometry(Point, 4326),
    constraint public_report_photo_pkey primary key (report_id, position),
    constraint public_report_photo_position_range check (position between 0 and 2),
    constraint public_report_photo_sha256_length check (octet_length(sha256) = 32),
    constraint public_report_photo_public_sha256_length check (octet_length(public_sha256) = 32),
    constraint public_report_photo_size_positive check (bytes > 0 and width > 0 and height > 0)
);

-- Every change of a report's public status, in order: the tracking page's timeline and Open311's
-- `servicerequestupdates` (mySociety's extension), whose `update_id` is this id.
create table public_report_update (
    id             bigint generated always as identity primary key,
    report_id      bigint not null constraint public_report_update_report_fkey references public_report (id),
    public_status  text not null,
    -- The public part of why (a rejection's reason), else null.
    description    text,
    at             timestamptz not null default now(),
    constraint public_report_update_public_status_known check (
        public_status in ('received', 'in_progress', 'fixed', 'not_accepted'))
);
create index public_report_update_report_idx on public_report_update (report_id, id);
create index public_report_update_at_idx on public_report_update (at, id);

-- The abuse limits' counters: hits per key (`addr:<hash>`, `device:<hash>`, `day`, `open311:<client>`) per
-- window start. Old windows are deleted as new ones are written.
create table public_rate_hit (
    bucket        text not null,
    window_start  timestamptz not null,
    hits          integer not null,
    constraint public_rate_hit_pkey primary key (bucket, window_start),
    constraint public_rate_hit_bucket_length check (char_length(bucket) between 1 and 100),
    constraint public_rate_hit_hits_positive check (hits >= 1)
);
create index public_rate_hit_window_idx on public_rate_hit (window_start);

-- ---------------------------------------------------------------------------------------------------------
-- The public status: one rule, read by the triggers.

-- What the public reads of a report in moderation state `status` linked to site `site`: a site merged into
-- another (`duplicate`) is read through the site it points at.
create function public_report_public_status(status text, site uuid) returns text
language sql stable as $$
    select case
        when status = 'received' then 'received'
        when status = 'rejected' then 'not_accepted'
        else coalesce((
            select case coalesce(d.status, s.status)
                       when 'closed' then 'fixed'
                       when 'rejected' then 'not_accepted'
                       when 'cancelled' then 'not_accepted'
                       else 'in_progress' end
            from site s left join site d on d.id = s.duplicate_of
            where s.id = site), 'in_progress')
    end
$$;

create function public_report_status_kept() returns trigger
language plpgsql as $$
begin
    new.public_status := public_report_public_status(new.status, new.site_id);
    if tg_op = 'INSERT' or new.public_status is distinct from old.public_status then
        new.updated_at := now();
    end if;
    return new;
end
$$;
create trigger public_report_status_kept before insert or update on public_report
    for each row execute function public_report_status_kept();

create function public_report_update_logged() returns trigger
language plpgsql as $$
begin
    if tg_op = 'INSERT' or new.public_status is distinct from old.public_status then
        insert into public_report_update (report_id, public_status, description, at)
        values (new.id, new.public_status,
                case when new.public_status = 'not_accepted' and new.status = 'rejected' then new.public_reason end,
                new.updated_at);
    end if;
    return null;
end
$$;
create trigger public_report_update_logged after insert or update on public_report
    for each row execute function public_report_update_logged();

-- A site's move reaches the reports linked to it, or to a site merged into it.
create function public_report_follows_site() returns trigger
language plpgsql as $$
begin
    update public_report r set public_status = public_report_public_status(r.status, r.site_id)
    where (r.site_id = new.id or r.site_id in (select s.id from site s where s.duplicate_of = new.id))
      and r.public_status is distinct from public_report_public_status(r.status, r.site_id);
    return null;
end
$$;
create trigger public_report_follows_site after update of status on site
    for each row when (old.status is distinct from new.status) execute function public_report_follows_site();

-- ---------------------------------------------------------------------------------------------------------
-- The map: reports waiting for moderation are their own vector-tile layer, never stale (migration 0006).

alter table map_change drop constraint map_change_layer_known;
alter table map_change add constraint map_change_layer_known check (
    layer in ('sites', 'towns', 'roads', 'candidates', 'public_reports'));

create trigger public_report_map_insert after insert on public_report referencing new table as new_rows
    for each statement execute function map_change_logged('public_reports', 'geom');
create trigger public_report_map_update after update on public_report referencing old table as old_rows new table as new_rows
    for each statement execute function map_change_logged('public_reports', 'geom');
create trigger public_report_map_delete after delete on public_report referencing old table as old_rows
    for each statement execute function map_change_logged('public_reports', 'geom');
create trigger public_report_map_truncate after truncate on public_report
    for each statement execute function map_change_logged('public_reports');
