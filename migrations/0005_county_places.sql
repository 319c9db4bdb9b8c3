-- A real county's own places: towns and roads imported from its files, calibrated stakes, metric work
-- anywhere in China, and the history of every import.

-- ---------------------------------------------------------------------------------------------------------
-- Metric work anywhere in China.
--
-- Distances between shapes (the Hausdorff distance of two sections) and linear measures need a metric plane.
-- One fixed zone (EPSG:4549, central meridian 120°E) is wrong far from 120°E: at 87°E the Transverse Mercator
-- scale error is several percent. The CGCS2000 3-degree Gauss-Krüger zones EPSG:4534–4554 have central
-- meridians 75°E, 78°E … 135°E; the one nearest the geometry's centre keeps the scale error below 0.02 %.
create function metric_srid(g geometry) returns integer
language sql immutable strict parallel safe as $$
    select 4534 + least(20, greatest(0, round((st_x(st_centroid(st_envelope(g))) - 75.0) / 3.0)::integer))
$$;

-- ---------------------------------------------------------------------------------------------------------
-- Imports: who imported what, when, from which file. Every import that changed something has a row here; a
-- dry run or a re-import that changes nothing leaves none.

create table place_import (
    id            integer generated always as identity primary key,
    kind          text not null,
    file_name     text not null,
    file_sha256   bytea not null,
    format        text not null,
    -- The coordinate system the coordinates were read in, e.g. 'EPSG:4549' or 'GCJ-02'.
    crs           text,
    county_code   text,
    imported_by   text not null,
    user_id       uuid constraint place_import_user_fkey references app_user (id),
    imported_at   timestamptz not null default now(),
    -- The report shown to the importer: counts, repairs, warnings and the sites whose road or town changed.
    report        jsonb not null,
    constraint place_import_kind_known check (kind in ('towns', 'roads', 'organisations', 'chainage_breaks')),
    constraint place_import_file_sha256_length check (octet_length(file_sha256) = 32),
    constraint place_import_file_name_length check (char_length(file_name) between 1 and 255),
    constraint place_import_county_code_format check (county_code ~ '^[0-9]{6}$')
);

-- ---------------------------------------------------------------------------------------------------------
-- Towns: the import that last changed each, and what it replaced.

alter table town add column import_id integer constraint town_import_fkey references place_import (id);

create table town_history (
    import_id   integer not null constraint town_history_import_fkey references place_import (id),
    town_id     integer not null constraint town_history_town_fkey references town (id) on delete cascade,
    admin_code  text not null,
    name        text not null,
    boundary    geometry(MultiPolygon, 4326) not null,
    constraint town_history_pkey primary key (import_id, town_id)
);

-- ---------------------------------------------------------------------------------------------------------
-- Roads.
--
-- Route codes: county, township, village and special routes have three digits (X202); national and
-- provincial routes and expressways one to four (G2, G15, S38, G228, G1501). As domain::places::is_route_code.
alter table road drop constraint road_route_code_format;
alter table road add constraint road_route_code_format check (route_code ~ '^([GS][0-9]{1,4}|[XYCZ][0-9]{3})$');
alter table site drop constraint site_route_code_format;
alter table site add constraint site_route_code_format check (route_code ~ '^([GS][0-9]{1,4}|[XYCZ][0-9]{3})$');

-- Most village roads have no route code. They are roads all the same: sites snap to them and show their name,
-- but they carry no stakes. Their key is the source's own id (an OSM way, a feature id, a name).
alter table road alter column route_code drop not null;
alter table road add column source_id text;
alter table road add constraint road_has_key check (route_code is not null or source_id is not null);
alter table road add constraint road_source_id_length check (char_length(source_id) between 1 and 128);
alter table road add constraint road_name_length check (char_length(name) <= 128);
-- One key for both: the route code, or `~` and the source id (route codes never start with `~`).
create unique index road_key on road (admin_code, coalesce(route_code, '~' || source_id));

-- Calibrated stakes. `geom_m` is the road with a measure at every vertex: the stake in metres of continuous
-- chainage (before chainage breaks), from the start and end stakes the road database gives each part, or
-- measured from K0+000 when it gives none. Stakes are read off it with st_interpolatepoint and points found
-- with st_locatealong, so a route drawn in several parts, each with its own start stake, is measured right.
-- Chainage breaks (road_chainage_break, whose measure_m is on this scale) are applied on top.
alter table road add column geom_m geometry(MultiLineStringM, 4326);
alter table road add constraint road_geom_m_coded check (geom_m is null or route_code is not null);
alter table road add column import_id integer constraint road_import_fkey references place_import (id);

-- The measured line of one part: `start_m` at its first vertex, `end_m` at its last (when the road database
-- gives both, the stakes absorb the difference between the drawn and the surveyed length), or start_m plus its
-- geodesic length. Measures are spread in the part's own Gauss-Krüger zone, where lengths are true.
create function calibrate_line(line geometry, start_m double precision, end_m double precision)
returns geometry
language sql immutable parallel safe as $$
    select st_transform(
        st_addmeasure(st_transform(line, metric_srid(line)), start_m,
            coalesce(end_m, start_m + st_length(line::geography))),
        4326)
$$;

-- A coded road imported or drawn without stakes is measured from K0+000 at the start of its first part, its
-- parts one after another in drawn order.
create function road_default_measure() returns trigger language plpgsql as $$
begin
    if new.route_code is not null and new.geom_m is null then
        new.geom_m := (
            select st_multi(st_collect(calibrate_line(p.geom, p.start_m, null) order by p.path))
            from (select d.path, d.geom,
                      coalesce(sum(st_length(d.geom::geography)) over (order by d.path
                          rows between unbounded preceding and 1 preceding), 0) as start_m
                  from st_dump(new.geom) d) p);
    end if;
    return new;
end
$$;
create trigger road_default_measure before insert or update of geom, geom_m, route_code on road
    for each row execute function road_default_measure();
update road set geom_m = null where route_code is not null;

-- The stake (metres) of the point of a road nearest to p: the measure there, plus the chainage breaks behind.
-- Null for a road without stakes.
create function road_stake_at(road integer, p geometry) returns double precision
language sql stable parallel safe as $$
    with part as (
        select d.geom from road r, st_dump(r.geom_m) d where r.id = road
        order by d.geom <-> p limit 1),
    m as (select st_interpolatepoint(part.geom, p) as m from part)
    select m.m + coalesce((select sum(b.stake_ahead_m - b.stake_back_m) from road_chainage_break b
                           where b.road_id = road and b.measure_m <= m.m), 0)
    from m
$$;

-- The road a site lies on and its stakes, the same rule for a new observation and for a re-import: the named
-- route in the county when the site has one, else the nearest road within `radius_m` of the site's point (a
-- section's start). A section gets an end stake too.
create function road_match(g geometry, route text, county text, radius_m double precision)
returns table (road_id integer, route_code text, stake_m double precision, end_stake_m double precision)
language sql stable parallel safe as $$
    with a as (
        select case when geometrytype(g) = 'LINESTRING' then st_startpoint(g) else g end as s,
               case when geometrytype(g) = 'LINESTRING' then st_endpoint(g) end as e),
    r as (
        select road.id, road.route_code, a.s, a.e from road, a
        where (route is not null and road.route_code = route and road.admin_code = county)
           or (route is null and st_dwithin(road.geom::geography, a.s::geography, radius_m))
        order by road.geom::geography <-> a.s::geography
        limit 1)
    select r.id, r.route_code, road_stake_at(r.id, r.s), case when r.e is not null then road_stake_at(r.id, r.e) end
    from r
$$;

create table road_history (
    import_id   integer not null constraint road_history_import_fkey references place_import (id),
    road_id     integer not null constraint road_history_road_fkey references road (id) on delete cascade,
    route_code  text,
    source_id   text,
    admin_code  text not null,
    name        text,
    geom        geometry(MultiLineString, 4326) not null,
    geom_m      geometry(MultiLineStringM, 4326),
    constraint road_history_pkey primary key (import_id, road_id)
);

-- Organisations: which import last wrote each (null: created by hand or by the demo).
alter table organisation add column import_id integer constraint organisation_import_fkey references place_import (id);
