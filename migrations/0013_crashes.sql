-- Crash records, black-spot screening and patrol detections (issue 12): hazards found from data and confirmed
-- by people. Crashes come from the police crash database's exports; screening runs find where they cluster;
-- smart-patrol and drone systems send detections. Both kinds of finding land as **candidates**, never in the
-- ledger: a dispatcher confirms a candidate (a site is opened, or an open site within 50 m is linked) or
-- dismisses it with a reason. Words as in DOMAIN.md § 7: a black spot (事故多发点段) is crash-based, a hazard
-- site (隐患点段) condition-based.

-- A system that sends detections signs in with an API token of an account holding the `detector` role.
alter table app_user drop constraint app_user_roles_known;
alter table app_user add constraint app_user_roles_known check (
    cardinality(roles) >= 1 and roles <@ array['inspector', 'town_officer', 'unit_officer', 'dispatcher',
        'reviewer', 'leader', 'admin', 'detector']);

-- ---------------------------------------------------------------------------------------------------------
-- Crash records.

-- One file taken in (`roadledger import crashes FILE`, or the dispatchers' upload): what it held and what
-- became of each row. A dry run writes nothing, this row included.
create table crash_import (
    id               bigint generated always as identity primary key,
    file_name        text not null,
    file_sha256      bytea not null,
    format           text not null,
    imported_at      timestamptz not null default now(),
    imported_by      text not null,
    rows_read        integer not null,
    -- New crashes stored.
    rows_imported    integer not null,
    -- Rows whose key was already stored (the same file twice imports nothing new).
    rows_known       integer not null,
    -- Rows refused (cannot be placed, bad values), each with its row number in `report`.
    rows_refused     integer not null,
    -- Columns never stored because they hold personal data (names, plates, ID numbers, phones).
    dropped_columns  text[] not null default '{}',
    -- The whole import report as the API answered it (row numbers and reasons, the column mapping used).
    report           jsonb not null default '{}',
    constraint crash_import_format_known check (format in ('csv', 'xlsx', 'geojson')),
    constraint crash_import_file_sha256_length check (octet_length(file_sha256) = 32),
    constraint crash_import_file_name_length check (char_length(file_name) between 1 and 255),
    constraint crash_import_counts_nonnegative check (
        rows_read >= 0 and rows_imported >= 0 and rows_known >= 0 and rows_refused >= 0)
);

-- One crash. No personal data: the import drops names, plates, ID numbers and phone numbers before a row is
-- read. Severity follows the counts: fatal when anyone died, injury when anyone was hurt, else property damage
-- only.
create table crash (
    id                bigint generated always as identity primary key,
    -- Stable key of the source row: 'no:' || the police record number (事故编号) when the file has one, else
    -- 'sha256:' || a hash of the row's stored values. Re-importing a file finds every row already here.
    source_key        text not null,
    record_no         text,
    import_id         bigint constraint crash_import_fkey references crash_import (id),
    occurred_at       timestamptz not null,
    geom              geometry(Point, 4326) not null,
    -- How the point was found: the row's own coordinates (converted to WGS-84), or its road + stake located
    -- on the county's road network.
    located_by        text not null,
    source_crs        text not null default 'wgs84',
    road_id           integer constraint crash_road_fkey references road (id),
    route_code        text,
    stake_m           double precision,
    stake_text        text,
    -- The town whose boundary holds the point when the crash was stored.
    town_id           integer constraint crash_town_fkey references town (id),
    deaths            smallint not null default 0,
    serious_injuries  smallint not null default 0,
    slight_injuries   smallint not null default 0,
    severity          text generated always as (
        case when deaths > 0 then 'fatal'
             when serious_injuries + slight_injuries > 0 then 'injury'
             else 'property_damage_only' end) stored,
    crash_type        text,
    vehicle_types     text[] not null default '{}',
    weather           text,
    light             text,
    road_surface      text,
    -- A short description as the source gives it (no personal data), for the candidate's crash list.
    summary           text not null default '',
    created_at        timestamptz not null default now(),
    constraint crash_source_key_key unique (source_key),
    constraint crash_source_key_format check (source_key ~ '^(no:.{1,64}|sha256:[0-9a-f]{64})$'),
    constraint crash_located_by_known check (located_by in ('coordinates', 'stake')),
    constraint crash_source_crs_known check (source_crs in ('wgs84', 'gcj02', 'bd09')),
    constraint crash_stake_located check (located_by <> 'stake' or (road_id is not null and stake_m is not null)),
    constraint crash_stake_nonnegative check (stake_m >= 0),
    constraint crash_route_code_format check (route_code ~ '^[GSXYCZ][0-9]{3}$'),
    constraint crash_casualties_range check (
        deaths between 0 and 999 and serious_injuries between 0 and 999 and slight_injuries between 0 and 999),
    constraint crash_type_known check (crash_type in (
        'rear_end', 'angle', 'head_on', 'sideswipe', 'single_vehicle', 'pedestrian', 'non_motor', 'other')),
    constraint crash_vehicle_types_known check (vehicle_types <@ array[
        'e_bike', 'bicycle', 'motorcycle', 'tricycle', 'farm_vehicle', 'car', 'minivan', 'bus', 'coach', 'truck',
        'hazmat', 'other']),
    constraint crash_weather_known check (weather in ('clear', 'cloudy', 'rain', 'fog', 'snow', 'other')),
    constraint crash_light_known check (light in ('daylight', 'dawn_dusk', 'dark_lit', 'dark_unlit')),
    constraint crash_road_surface_known check (road_surface in ('dry', 'wet', 'icy', 'other')),
    constraint crash_record_no_length check (char_length(record_no) between 1 and 64),
    constraint crash_summary_length check (char_length(summary) <= 1000),
    constraint crash_geom_valid check (not st_isempty(geom))
);
create index crash_geom_gix on crash using gist (geom);
create index crash_geog_gix on crash using gist ((geom::geography));
create index crash_occurred_at_idx on crash (occurred_at);
create index crash_road_idx on crash (road_id, stake_m) where road_id is not null;

-- The hour band of an instant in county time, as `domain::crash::TimeBand::of_hour` (the same rule; a test
-- compares them hour by hour).
create function crash_time_band(p_at timestamptz) returns text language sql stable parallel safe as $$
    select case
        when h < 6 then 'small_hours'
        when h < 9 then 'morning_peak'
        when h < 16 then 'daytime'
        when h < 19 then 'evening_peak'
        else 'night' end
    from (select extract(hour from p_at at time zone 'Asia/Shanghai')::integer as h) as hour
$$;

-- Public holidays and their make-up working days (调休), for the time patterns' "holiday" and "weekend" bands:
-- a Saturday that is a working day is not a weekend, a Wednesday that is a holiday is.
create table calendar_day (
    day    date primary key,
    kind   text not null,
    name   text not null,
    constraint calendar_day_kind_known check (kind in ('holiday', 'workday')),
    constraint calendar_day_name_length check (char_length(name) between 1 and 32)
);

-- ---------------------------------------------------------------------------------------------------------
-- Screening runs: reproducible. A run stores its method, parameters, data window and the fingerprint of the
-- crashes it read; the same method, parameters and crashes give the same candidates in the same order.

create table screening_run (
    id              bigint generated always as identity primary key,
    method          text not null,
    parameters      jsonb not null,
    -- The crashes read: occurred_at in [window_start, window_end), county time.
    window_start    date not null,
    window_end      date not null,
    run_at          timestamptz not null default now(),
    run_by          text not null,
    crashes_read    integer not null,
    -- SHA-256 over the ids and source keys of the crashes read, in id order: the run's inputs.
    inputs_sha256   bytea not null,
    candidates      integer not null,
    elapsed_ms      integer not null,
    constraint screening_run_method_known check (method in ('sliding_window', 'junction', 'dbscan')),
    constraint screening_run_window_order check (window_start < window_end),
    constraint screening_run_inputs_sha256_length check (octet_length(inputs_sha256) = 32)
);

-- ---------------------------------------------------------------------------------------------------------
-- Detections from smart-patrol vehicles and drones: a type, a confidence, a time, a place and an image.

create table detection (
    -- Made by the sending system, so a retried POST is recognised (same id and same content: the stored
    -- answer; same id, other content: 409), as observations are.
    id                uuid primary key,
    platform          text not null,
    -- The account (role `detector`) whose token sent it, or the person who imported the file.
    sent_by           text not null,
    detected_at       timestamptz not null,
    received_at       timestamptz not null default now(),
    geom              geometry(Point, 4326) not null,
    source_crs        text not null default 'wgs84',
    -- A hazard type code (hazard_type), when the detector's class maps to one; else null with `label`.
    hazard_type       text constraint detection_hazard_type_fkey references hazard_type (code),
    -- The detector's own class name, kept as sent (e.g. "missing_sign", "faded_marking").
    label             text not null,
    confidence        real not null,
    -- The image, in the photo store under content-addressed keys like observation photos.
    image_sha256      bytea,
    image_key         text,
    thumbnail_key     text,
    image_width       integer,
    image_height      integer,
    content_sha256    bytea not null,
    constraint detection_platform_known check (platform in ('smart_patrol', 'drone')),
    constraint detection_confidence_range check (confidence >= 0 and confidence <= 1),
    constraint detection_source_crs_known check (source_crs in ('wgs84', 'gcj02', 'bd09')),
    constraint detection_label_length check (char_length(label) between 1 and 64),
    constraint detection_sent_by_length check (char_length(sent_by) between 1 and 64),
    constraint detection_image_complete check (
        (image_sha256 is null) = (image_key is null) and (image_key is null) = (thumbnail_key is null)),
    constraint detection_content_sha256_length check (octet_length(content_sha256) = 32)
);
create index detection_geom_gix on detection using gist (geom);

-- ---------------------------------------------------------------------------------------------------------
-- Candidates: what a screening run or a detection proposes, waiting for a person.

create table candidate (
    id                   bigint generated always as identity primary key,
    -- The site `source` a confirmed candidate gets: crash analysis (a screening run), smart patrol or drone
    -- (a detection).
    source               text not null,
    screening_run_id     bigint constraint candidate_screening_run_fkey references screening_run (id),
    detection_id         uuid constraint candidate_detection_fkey references detection (id),
    -- The site kind it would open: a junction cluster is an intersection, a window along a road a section,
    -- a density cluster or a detection a spot.
    kind                 text not null,
    -- A point, or for a window the stretch of road it covers.
    geom                 geometry(Geometry, 4326) not null,
    town_id              integer constraint candidate_town_fkey references town (id),
    road_id              integer constraint candidate_road_fkey references road (id),
    route_code           text,
    stake_m              double precision,
    end_stake_m          double precision,
    -- Screening: the run's score (crash count or EPDO-weighted), its rank within the run (1 = worst), the
    -- crashes behind it and what dominates them. Detections: score = confidence, no crashes.
    score                double precision not null,
    rank                 integer,
    crash_count          integer not null default 0,
    deaths               integer not null default 0,
    injuries             integer not null default 0,
    dominant_crash_type  text,
    dominant_time_band   text,
    status               text not null default 'open',
    decided_at           timestamptz,
    decided_by           text,
    -- Why it was dismissed (required then), or a note on confirming.
    reason               text,
    -- The site a confirmed candidate opened or was linked to.
    site_id              uuid constraint candidate_site_fkey references site (id),
    created_at           timestamptz not null default now(),
    constraint candidate_source_known check (source in ('crash_analysis', 'smart_patrol', 'drone')),
    constraint candidate_origin_one check (
        case source when 'crash_analysis' then screening_run_id is not null and detection_id is null
                    else detection_id is not null and screening_run_id is null end),
    constraint candidate_kind_known check (kind in ('intersection', 'section', 'spot')),
    constraint candidate_geom_matches_kind check (
        case kind when 'section' then geometrytype(geom) = 'LINESTRING' else geometrytype(geom) = 'POINT' end),
    constraint candidate_status_known check (status in ('open', 'confirmed', 'dismissed')),
    constraint candidate_decision_complete check (
        case status when 'open' then decided_at is null and site_id is null
                    when 'confirmed' then decided_at is not null and site_id is not null
                    else decided_at is not null and reason is not null and site_id is null end),
    constraint candidate_reason_length check (char_length(reason) between 1 and 1000),
    constraint candidate_rank_positive check (rank >= 1),
    constraint candidate_route_code_format check (route_code ~ '^[GSXYCZ][0-9]{3}$')
);
create index candidate_geom_gix on candidate using gist (geom);
create index candidate_open_idx on candidate (source, score desc) where status = 'open';
create index candidate_run_idx on candidate (screening_run_id, rank) where screening_run_id is not null;
create unique index candidate_detection_key on candidate (detection_id) where detection_id is not null;
create index candidate_site_idx on candidate (site_id) where site_id is not null;

-- The crashes behind a screening candidate (a crash may stand behind candidates of several runs).
create table candidate_crash (
    candidate_id  bigint not null constraint candidate_crash_candidate_fkey references candidate (id) on delete cascade,
    crash_id      bigint not null constraint candidate_crash_crash_fkey references crash (id),
    constraint candidate_crash_pkey primary key (candidate_id, crash_id)
);
create index candidate_crash_crash_idx on candidate_crash (crash_id);
