-- roadledger schema v1.
--
-- Read this file first: it is the shape of the whole product (see ../shared/DOMAIN.md for every word).
-- Conventions: every geometry is EPSG:4326 (WGS-84) with a typmod; metric work is done in EPSG:4549
-- (CGCS2000 / 3-degree Gauss-Kruger CM 120E) or on geography. Codes are lowercase English words from the
-- glossary, kept as text with check constraints (easy to extend, readable in psql). Constraints are named so
-- the http layer can turn them into precise 4xx answers.

create extension if not exists postgis;

-- ---------------------------------------------------------------------------------------------------------
-- Places: towns and roads.

-- A town or sub-district (区镇/街道). Sites get their town from these boundaries, never from user input.
create table town (
    id          integer generated always as identity primary key,
    admin_code  text not null,
    name        text not null,
    name_en     text,
    boundary    geometry(MultiPolygon, 4326) not null,
    constraint town_admin_code_key unique (admin_code),
    constraint town_admin_code_format check (admin_code ~ '^[0-9]{9}$'),
    constraint town_name_length check (char_length(name) between 1 and 64),
    constraint town_boundary_valid check (st_isvalid(boundary))
);
create index town_boundary_gix on town using gist (boundary);

-- A road route. X/Y/C numbers repeat between counties, so the key is route code + county admin code.
create table road (
    id          integer generated always as identity primary key,
    route_code  text not null,
    class       char(1) generated always as (left(route_code, 1)) stored,
    admin_code  text not null,
    name        text,
    geom        geometry(MultiLineString, 4326) not null,
    constraint road_route_key unique (route_code, admin_code),
    constraint road_route_code_format check (route_code ~ '^[GSXYCZ][0-9]{3}$'),
    constraint road_admin_code_format check (admin_code ~ '^[0-9]{6}$')
);
create index road_geom_gix on road using gist (geom);

-- Chainage breaks (断链): where the stake jumps, stake != distance along the line. At `measure_m` metres
-- along the geometry the stake reads `stake_back_m` behind and `stake_ahead_m` ahead.
create table road_chainage_break (
    road_id        integer not null constraint road_chainage_break_road_fkey references road (id) on delete cascade,
    measure_m      double precision not null,
    stake_back_m   double precision not null,
    stake_ahead_m  double precision not null,
    constraint road_chainage_break_pkey primary key (road_id, measure_m),
    constraint road_chainage_break_measure_nonnegative check (measure_m >= 0)
);

-- ---------------------------------------------------------------------------------------------------------
-- Organisations (towns, police, bureaus, responsible units, contractors). Accounts come later.

create table organisation (
    id        integer generated always as identity primary key,
    name      text not null,
    kind      text not null,
    town_id   integer constraint organisation_town_fkey references town (id),
    constraint organisation_name_key unique (name),
    constraint organisation_kind_known check (kind in (
        'city_office', 'town', 'police_brigade', 'police_squadron', 'transport_bureau', 'highway_centre',
        'education_bureau', 'village_committee', 'responsible_unit', 'contractor')),
    constraint organisation_name_length check (char_length(name) between 1 and 128)
);

-- ---------------------------------------------------------------------------------------------------------
-- Checklist templates: data, not code. The two built-in lists are inserted below.

create table checklist_template (
    code        text primary key,
    name        text not null,
    name_en     text not null,
    site_kinds  text[] not null,
    constraint checklist_template_code_format check (code ~ '^[a-z][a-z0-9_]{0,31}$'),
    constraint checklist_template_site_kinds_known check (site_kinds <@ array['intersection', 'section', 'spot'])
);

create table checklist_template_item (
    template_code         text not null constraint checklist_template_item_template_fkey references checklist_template (code),
    code                  text not null,
    position              smallint not null,
    name                  text not null,
    name_en               text not null,
    required              boolean not null default true,
    -- Required minimum quantity, recorded for the reviewer, not enforced (DOMAIN.md §2).
    quantity_min          integer,
    -- What an inspector records as evidence, as a list of field codes (e.g. {"distance_m","quantity"}).
    evidence_fields       text[] not null default '{}',
    night_evidence        boolean not null default false,
    constraint checklist_template_item_pkey primary key (template_code, code),
    constraint checklist_template_item_position_key unique (template_code, position),
    constraint checklist_template_item_code_format check (code ~ '^[a-z][a-z0-9_]{0,31}$')
);

insert into checklist_template (code, name, name_en, site_kinds) values
    ('five_must_haves', '五必上', 'five must-haves', array['intersection']),
    ('three_ones', '三个一', 'three ones', array['spot', 'section']);

insert into checklist_template_item
    (template_code, code, position, name, name_en, quantity_min, evidence_fields, night_evidence) values
    ('five_must_haves', 'warning_sign', 1, '警告标志', 'warning sign', 1,
        array['approach', 'distance_m', 'quantity', 'size_cm', 'condition'], false),
    ('five_must_haves', 'road_marking', 2, '道路标线', 'road marking', null,
        array['marking_types', 'length_m', 'material', 'wear'], false),
    ('five_must_haves', 'speed_bump', 3, '减速带', 'speed bump', 1,
        array['approach', 'distance_m', 'strips', 'full_width', 'condition'], false),
    ('five_must_haves', 'warning_post', 4, '警示桩', 'warning post', 4,
        array['quantity', 'required', 'damaged'], false),
    ('five_must_haves', 'signal_light', 5, '交通信号灯', 'signal light', 1,
        array['type', 'power_source', 'works_day', 'works_night'], true),
    ('three_ones', 'line', 1, '一条线', 'one line', null, array['type', 'length_m'], false),
    ('three_ones', 'sign', 2, '一块牌', 'one sign', 1, array['subtype', 'distance_m'], false),
    ('three_ones', 'lamp', 3, '一盏灯', 'one lamp', 1, array['type', 'power_source'], true);

-- ---------------------------------------------------------------------------------------------------------
-- Hazard types (grouped, DOMAIN.md §3). Data, so a county can add its own.

create table hazard_type (
    code      text primary key,
    grp       text not null,
    name      text not null,
    name_en   text not null,
    constraint hazard_type_code_format check (code ~ '^[a-z][a-z0-9_]{0,47}$'),
    constraint hazard_type_group_known check (grp in ('intersection', 'section', 'roadside', 'stop', 'work_zone'))
);

insert into hazard_type (code, grp, name, name_en) values
    ('missing_warning_sign', 'intersection', '缺少警告标志', 'missing warning sign'),
    ('missing_yield_control', 'intersection', '缺少让行控制', 'missing yield control'),
    ('worn_markings', 'intersection', '标线磨损', 'worn markings'),
    ('no_speed_control', 'intersection', '无减速设施', 'no speed control'),
    ('no_warning_posts', 'intersection', '无警示桩', 'no warning posts'),
    ('no_signal', 'intersection', '无信号灯/警示灯', 'no signal or beacon'),
    ('signal_fault', 'intersection', '信号灯故障', 'signal fault'),
    ('poor_sight_distance', 'intersection', '视距不良', 'poor sight distance'),
    ('bad_geometry', 'intersection', '路口线形不良', 'bad geometry'),
    ('no_lighting_intersection', 'intersection', '路口无照明', 'no lighting'),
    ('sharp_curve', 'section', '急弯', 'sharp curve'),
    ('continuous_curves', 'section', '连续弯道', 'continuous curves'),
    ('steep_grade', 'section', '陡坡', 'steep grade'),
    ('water_adjacent', 'section', '临水无护栏', 'water-adjacent without barrier'),
    ('roadside_drop', 'section', '临崖/路侧落差', 'roadside drop'),
    ('guardrail_missing', 'section', '护栏缺失或损坏', 'guardrail missing or damaged'),
    ('no_median_barrier', 'section', '无中央隔离', 'no median barrier'),
    ('no_separation', 'section', '机非混行无隔离', 'no motor/non-motor separation'),
    ('too_many_openings', 'section', '开口过多', 'too many openings'),
    ('narrow_road', 'section', '路面狭窄', 'narrow road'),
    ('pavement_defect', 'section', '路面病害', 'pavement defect'),
    ('narrow_bridge', 'section', '窄桥', 'narrow bridge'),
    ('village_through_road', 'section', '穿村路段', 'village through-road'),
    ('school_zone', 'section', '学校路段', 'school zone'),
    ('signs_markings_missing', 'section', '标志标线缺失', 'signs or markings missing'),
    ('no_delineation', 'section', '无轮廓标', 'no delineation'),
    ('no_lighting_section', 'section', '路段无照明', 'no lighting'),
    ('ponding', 'section', '积水', 'ponding'),
    ('crop_drying', 'roadside', '晒粮占道', 'crop drying on road'),
    ('stalls_stacking', 'roadside', '占道摆摊堆物', 'stalls or stacking'),
    ('illegal_access', 'roadside', '违法开口接入', 'illegal access'),
    ('obstruction', 'roadside', '绿化/广告牌遮挡', 'vegetation or billboard obstruction'),
    ('irregular_bus_stop', 'stop', '公交站设置不规范', 'irregular bus stop'),
    ('school_bus_stop', 'stop', '校车停靠站无设施', 'school-bus stop without facilities'),
    ('work_zone', 'work_zone', '施工作业区不规范', 'work zone non-compliant');

-- ---------------------------------------------------------------------------------------------------------
-- Sites: the persistent places that observations hang off and that the ledger counts.

create sequence site_code_seq;

create table site (
    id                    uuid primary key default gen_random_uuid(),
    -- Human ledger number, e.g. YH-000123 (隐患).
    code                  text not null default 'YH-' || lpad(nextval('site_code_seq')::text, 6, '0'),
    kind                  text not null,
    geom                  geometry(Geometry, 4326) not null,
    town_id               integer constraint site_town_fkey references town (id),
    road_id               integer constraint site_road_fkey references road (id),
    route_code            text,
    stake_m               double precision,
    stake_text            text,
    end_stake_m           double precision,
    end_stake_text        text,
    status                text not null default 'reported',
    template_code         text not null constraint site_template_fkey references checklist_template (code),
    hazard_types          text[] not null default '{}',
    hazard_level          text,
    rectification_mode    text,
    source                text not null default 'patrol',
    responsible_unit_id   integer constraint site_responsible_unit_fkey references organisation (id),
    lead_unit_id          integer constraint site_lead_unit_fkey references organisation (id),
    supporting_unit_ids   integer[] not null default '{}',
    deadline              date,
    supervision_level     text not null default 'none',
    supervision_body      text,
    supervision_doc_no    text,
    supervision_due       date,
    duplicate_of          uuid constraint site_duplicate_of_fkey references site (id),
    first_observed_at     timestamptz not null,
    last_observed_at      timestamptz not null,
    observation_count     integer not null default 0,
    created_at            timestamptz not null default now(),
    updated_at            timestamptz not null default now(),
    -- Optimistic locking: every state-changing write bumps it; a stale writer gets 409/412.
    version               integer not null default 1,
    constraint site_code_key unique (code),
    constraint site_kind_known check (kind in ('intersection', 'section', 'spot')),
    constraint site_geom_matches_kind check (
        case kind when 'section' then geometrytype(geom) = 'LINESTRING' else geometrytype(geom) = 'POINT' end),
    constraint site_geom_valid check (st_isvalid(geom) and not st_isempty(geom)),
    constraint site_status_known check (status in (
        'reported', 'verified', 'rejected', 'duplicate', 'assigned', 'in_progress', 'pending_review',
        'closed', 'reopened', 'cancelled')),
    constraint site_duplicate_has_target check ((status = 'duplicate') = (duplicate_of is not null)),
    constraint site_hazard_level_known check (hazard_level in ('general', 'significant', 'major')),
    constraint site_rectification_mode_known check (rectification_mode in ('immediate', 'deadline', 'project')),
    constraint site_source_known check (source in (
        'patrol', 'citizen_photo', 'hotline', 'crash_analysis', 'drone', 'smart_patrol',
        'leadership_inspection', 'other_department')),
    constraint site_supervision_level_known check (
        supervision_level in ('none', 'town', 'county', 'prefecture', 'province')),
    constraint site_route_code_format check (route_code ~ '^[GSXYCZ][0-9]{3}$'),
    constraint site_stake_nonnegative check (stake_m >= 0 and end_stake_m >= 0),
    constraint site_stake_has_text check ((stake_m is null) = (stake_text is null)),
    constraint site_version_positive check (version >= 1)
);
create index site_geom_gix on site using gist (geom);
-- Repeat-visit matching measures metres on the spheroid; this index serves ST_DWithin(geography).
create index site_geog_gix on site using gist ((geom::geography));
create index site_status_idx on site (status);
create index site_town_idx on site (town_id);

-- The site's checklist: one row per item of its template, with the current state.
create table site_checklist_item (
    site_id        uuid not null constraint site_checklist_item_site_fkey references site (id) on delete cascade,
    template_code  text not null,
    item_code      text not null,
    state          text not null default 'missing',
    quantity       integer,
    measured       jsonb not null default '{}',
    installed_on   date,
    installer      text,
    reason         text,
    updated_at     timestamptz not null default now(),
    constraint site_checklist_item_pkey primary key (site_id, item_code),
    constraint site_checklist_item_template_item_fkey foreign key (template_code, item_code)
        references checklist_template_item (template_code, code),
    constraint site_checklist_item_state_known check (
        state in ('missing', 'damaged', 'installed', 'verified', 'not_applicable')),
    constraint site_checklist_item_not_applicable_has_reason check (state <> 'not_applicable' or reason is not null),
    constraint site_checklist_item_quantity_nonnegative check (quantity >= 0)
);

-- ---------------------------------------------------------------------------------------------------------
-- Observations (排查记录) and their photos.

create table observation (
    -- Made by the phone, so a retried upload is recognised and never duplicated.
    id               uuid primary key,
    site_id          uuid not null constraint observation_site_fkey references site (id),
    kind             text not null,
    inspector        text not null,
    observed_at      timestamptz not null,
    received_at      timestamptz not null default now(),
    geom             geometry(Geometry, 4326) not null,
    accuracy_m       real,
    source_crs       text not null default 'wgs84',
    hazard_types     text[] not null default '{}',
    -- Item code -> state, as seen on this visit.
    checklist        jsonb not null default '{}',
    notes            text not null default '',
    route_code       text,
    stake_text       text,
    -- SHA-256 of the canonical request (JSON + photo hashes): same id + same hash = replay, else conflict.
    content_sha256   bytea not null,
    constraint observation_kind_known check (kind in ('intersection', 'section', 'spot')),
    constraint observation_source_crs_known check (source_crs in ('wgs84', 'gcj02', 'bd09')),
    constraint observation_accuracy_range check (accuracy_m >= 0 and accuracy_m <= 10000),
    constraint observation_notes_length check (char_length(notes) <= 4000),
    constraint observation_inspector_length check (char_length(inspector) between 1 and 64),
    constraint observation_content_sha256_length check (octet_length(content_sha256) = 32),
    constraint observation_geom_valid check (st_isvalid(geom) and not st_isempty(geom))
);
create index observation_site_idx on observation (site_id, observed_at);

create table photo (
    id                  uuid primary key default gen_random_uuid(),
    observation_id      uuid not null constraint photo_observation_fkey references observation (id),
    position            smallint not null,
    sha256              bytea not null,
    content_type        text not null,
    bytes               integer not null,
    width               integer not null,
    height              integer not null,
    -- EXIF as found in the file: corroborating evidence only (browsers often strip it).
    exif_taken_at       timestamp,
    exif_location       geometry(Point, 4326),
    exif_direction_deg  real,
    exif_orientation    smallint,
    original_key        text not null,
    thumbnail_key       text not null,
    thumbnail_width     integer not null,
    thumbnail_height    integer not null,
    created_at          timestamptz not null default now(),
    constraint photo_observation_position_key unique (observation_id, position),
    constraint photo_sha256_length check (octet_length(sha256) = 32),
    constraint photo_content_type_known check (content_type in ('image/jpeg', 'image/png')),
    constraint photo_dimensions_positive check (width > 0 and height > 0 and bytes > 0),
    constraint photo_direction_range check (exif_direction_deg >= 0 and exif_direction_deg <= 360),
    constraint photo_orientation_range check (exif_orientation between 1 and 8)
);
create index photo_sha256_idx on photo (sha256);

-- ---------------------------------------------------------------------------------------------------------
-- Site events: the append-only history every bulletin and ranking is computed from.

create table site_event (
    id           bigint generated always as identity primary key,
    site_id      uuid not null constraint site_event_site_fkey references site (id),
    at           timestamptz not null default now(),
    actor        text not null,
    kind         text not null,
    from_status  text,
    to_status    text,
    reason       text,
    data         jsonb not null default '{}',
    observation_id uuid constraint site_event_observation_fkey references observation (id),
    constraint site_event_kind_format check (kind ~ '^[a-z][a-z_]{0,47}$')
);
create index site_event_site_idx on site_event (site_id, id);

create function site_event_is_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'site_event is append-only: % is not allowed', tg_op
        using errcode = 'restrict_violation';
end;
$$;

create trigger site_event_no_update before update or delete on site_event
    for each row execute function site_event_is_append_only();
create trigger site_event_no_truncate before truncate on site_event
    for each statement execute function site_event_is_append_only();
