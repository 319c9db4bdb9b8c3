-- Vector tiles of the map (src/db/tiles.rs): sites kept in Web Mercator for the tile queries, and a log of
-- map changes that tells a cached tile whether anything it shows has changed since it was drawn.

-- A province-size ledger passes a million sites: `lpad(n, 6)` cut the millionth code back to six digits
-- (YH-1000000 became YH-100000, a duplicate). Codes keep at least six digits and never lose one.
create function site_code(n bigint) returns text
language sql immutable parallel safe as $$
    select 'YH-' || lpad(n::text, greatest(6, length(n::text)), '0')
$$;
alter table site alter column code set default site_code(nextval('site_code_seq'));
-- The number in the code is the site's feature id in vector tiles (db::tiles), so the code keeps this shape.
alter table site add constraint site_code_format check (code ~ '^YH-[0-9]{6,}$');

-- Tiles are cut in EPSG:3857. Transforming a million geometries per request is most of a tile's cost, so the
-- site keeps its geometry in Mercator too, and an anchor point for the low-zoom aggregates: every site is
-- counted in exactly one grid cell (sections by a point on the line), so cell counts add up to the total.
alter table site
    add column geom_3857 geometry(Geometry, 3857) generated always as (st_transform(geom, 3857)) stored,
    add column anchor_3857 geometry(Point, 3857)
        generated always as (st_transform(st_pointonsurface(geom), 3857)) stored;
create index site_geom_3857_gix on site using gist (geom_3857);
create index site_anchor_3857_gix on site using gist (anchor_3857);

-- One row per statement that changed what a map layer shows: the layer, the writing transaction and the
-- Mercator extent of the rows it touched (old and new places; null = anywhere, e.g. truncate). A tile drawn
-- under snapshot S is still right unless a row here has a transaction S does not see whose extent meets the
-- tile: rows become visible only when their transaction commits, so a tile is never kept past a committed
-- change, and writers never wait on each other (inserts only, no shared counter row).
create table map_change (
    layer      text not null,
    xid        xid8 not null default pg_current_xact_id(),
    extent     geometry(Polygon, 3857),
    -- Rows older than any cached tile are pruned by this time (db::tiles::prune_changes).
    written_at timestamptz not null default clock_timestamp(),
    constraint map_change_layer_known check (layer in ('sites', 'towns', 'roads'))
);
create index map_change_layer_xid_idx on map_change (layer, xid);
create index map_change_written_at_idx on map_change (written_at);

-- The extent of a set of 4326 geometries as a 3857 box (null when the set is empty).
create function map_extent(geoms geometry[]) returns geometry
language sql immutable parallel safe as $$
    select st_setsrid(st_transform(st_setsrid(st_extent(g)::geometry, 4326), 3857), 3857)
    from unnest(geoms) g
$$;

-- Statement-level triggers with transition tables: one log row per statement, whatever its row count.
create function map_change_logged() returns trigger
language plpgsql as $$
declare
    layer text := tg_argv[0];
    touched geometry;
begin
    if tg_op = 'TRUNCATE' then
        insert into map_change (layer) values (layer);
        return null;
    end if;
    -- Where the rows were and where they are now: a moved site leaves both tiles.
    execute format(case tg_op
            when 'INSERT' then 'select map_extent(array_agg(%1$I)) from new_rows'
            when 'DELETE' then 'select map_extent(array_agg(%1$I)) from old_rows'
            else 'select map_extent(array_agg(g)) from
                  (select %1$I as g from old_rows union all select %1$I from new_rows) r' end,
        tg_argv[1]) into touched;
    if touched is not null then
        -- One site's extent is a point; the log keeps boxes (a metre around it).
        insert into map_change (layer, extent) values (layer, st_expand(st_envelope(touched), 1));
    end if;
    return null;
end $$;

create trigger site_map_insert after insert on site referencing new table as new_rows
    for each statement execute function map_change_logged('sites', 'geom');
create trigger site_map_update after update on site referencing old table as old_rows new table as new_rows
    for each statement execute function map_change_logged('sites', 'geom');
create trigger site_map_delete after delete on site referencing old table as old_rows
    for each statement execute function map_change_logged('sites', 'geom');
create trigger site_map_truncate after truncate on site
    for each statement execute function map_change_logged('sites');

create trigger town_map_insert after insert on town referencing new table as new_rows
    for each statement execute function map_change_logged('towns', 'boundary');
create trigger town_map_update after update on town referencing old table as old_rows new table as new_rows
    for each statement execute function map_change_logged('towns', 'boundary');
create trigger town_map_delete after delete on town referencing old table as old_rows
    for each statement execute function map_change_logged('towns', 'boundary');
create trigger town_map_truncate after truncate on town
    for each statement execute function map_change_logged('towns');

create trigger road_map_insert after insert on road referencing new table as new_rows
    for each statement execute function map_change_logged('roads', 'geom');
create trigger road_map_update after update on road referencing old table as old_rows new table as new_rows
    for each statement execute function map_change_logged('roads', 'geom');
create trigger road_map_delete after delete on road referencing old table as old_rows
    for each statement execute function map_change_logged('roads', 'geom');
create trigger road_map_truncate after truncate on road
    for each statement execute function map_change_logged('roads');
