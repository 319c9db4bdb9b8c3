-- GCJ-02 in the database: the map draws our sites, towns and roads over base maps that are in GCJ-02
-- (AMap/高德, Tencent), so their tiles can be cut from geometries shifted to GCJ-02 (`crs=gcj02`). Stored
-- geometries stay WGS-84 (ARCHITECTURE.md): this shift is for display only.
--
-- The formula is the public one, exactly as `domain::coords::wgs84_to_gcj02` writes it: the same constants
-- (Krasovsky 1940 a and e²), the same order of operations, the same bounding box of China (a vertex outside it
-- is not moved). tests/it/coords_sql.rs checks both agree to 1e-9° and keep every geometry's structure.
--
-- Cost (`explain analyze` on PostgreSQL 15 + PostGIS 3.3, a 2-core development machine under load), about
-- 3 µs a vertex: 100 000 points one by one 0.30 s; one linestring of 100 000 vertices 0.32 s; 10 000 polygons
-- of 9 vertices 0.57 s. A first version calling a PL/pgSQL or non-inlined SQL function per vertex took 1.7 s
-- for the same points and 6.7 s for the polygons, hence the inlined arithmetic and one statement per geometry.

-- The formula in small SQL functions, one expression each (no FROM, not strict), so PostgreSQL inlines them into
-- whatever calls them: no function call per vertex. Numbers are float8 throughout, like the f64 of coords.rs
-- (a literal is cast to float8 where it meets a float8, and the constants are cast explicitly so that
-- `1 - e²` is a float8 subtraction, not an exact numeric one).

-- gcj_shift_lat of coords.rs, term by term (x = lon - 105, y = lat - 35).
create function gcj02_shift_lat(x float8, y float8) returns float8
language sql immutable parallel safe as $$
    select -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt(abs(x))
        + (20.0 * sin(6.0 * x * pi()) + 20.0 * sin(2.0 * x * pi())) * 2.0 / 3.0
        + (20.0 * sin(y * pi()) + 40.0 * sin(y / 3.0 * pi())) * 2.0 / 3.0
        + (160.0 * sin(y / 12.0 * pi()) + 320.0 * sin(y * pi() / 30.0)) * 2.0 / 3.0
$$;

-- gcj_shift_lon of coords.rs, term by term.
create function gcj02_shift_lon(x float8, y float8) returns float8
language sql immutable parallel safe as $$
    select 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt(abs(x))
        + (20.0 * sin(6.0 * x * pi()) + 20.0 * sin(2.0 * x * pi())) * 2.0 / 3.0
        + (20.0 * sin(x * pi()) + 40.0 * sin(x / 3.0 * pi())) * 2.0 / 3.0
        + (150.0 * sin(x / 12.0 * pi()) + 300.0 * sin(x / 30.0 * pi())) * 2.0 / 3.0
$$;

-- `magic` of coords.rs: 1 - e² sin²(lat) on the Krasovsky 1940 ellipsoid (e² = 0.006693421622965943).
create function gcj02_magic(lat float8) returns float8
language sql immutable parallel safe as $$
    select 1.0 - 0.00669342162296594323::float8 * sin(lat / 180.0 * pi()) * sin(lat / 180.0 * pi())
$$;

-- Whether the formula shifts this position: inside its box of China (coords.rs CHINA_*, bounds included).
create function gcj02_shifts(lon float8, lat float8) returns boolean
language sql immutable parallel safe as $$
    select lon between 72.004 and 137.8347 and lat between 0.8293 and 55.8271
$$;

-- The GCJ-02 longitude and latitude of a WGS-84 position (degrees in, degrees out); unchanged outside the box.
-- The Krasovsky 1940 semi-major axis is 6378245 m.
create function gcj02_lon_from_wgs84(lon float8, lat float8) returns float8
language sql immutable parallel safe as $$
    select case when gcj02_shifts(lon, lat) then
        lon + (gcj02_shift_lon(lon - 105.0, lat - 35.0) * 180.0)
            / (6378245.0::float8 / sqrt(gcj02_magic(lat)) * cos(lat / 180.0 * pi()) * pi())
    else lon end
$$;
create function gcj02_lat_from_wgs84(lon float8, lat float8) returns float8
language sql immutable parallel safe as $$
    select case when gcj02_shifts(lon, lat) then
        lat + (gcj02_shift_lat(lon - 105.0, lat - 35.0) * 180.0)
            / ((6378245.0::float8 * (1.0 - 0.00669342162296594323::float8))
               / (gcj02_magic(lat) * sqrt(gcj02_magic(lat))) * pi())
    else lat end
$$;

-- A point shifted (2D, no SRID: the caller sets it once for the whole geometry).
create function gcj02_point_from_wgs84(p geometry) returns geometry
language sql immutable parallel safe as $$
    select st_makepoint(gcj02_lon_from_wgs84(st_x(p), st_y(p)), gcj02_lat_from_wgs84(st_x(p), st_y(p)))
$$;

-- Every vertex of a 2D geometry shifted from WGS-84 to GCJ-02, keeping the type, the parts, the rings (holes
-- included), the vertex order and the SRID. Points, linestrings, polygons, the multi types and geometry
-- collections (nested too) are shifted; Z and M are dropped (the map is 2D); curves and surfaces are refused.
-- Each type is rebuilt by one statement over st_dumppoints, whose path numbers every vertex: {i} on a line,
-- {ring, i} on a polygon, {part, …} on a multi geometry. A collection shifts its parts one by one.
create function gcj02_from_wgs84(g geometry) returns geometry
language plpgsql immutable strict parallel safe as $$
declare
    flat geometry := st_force2d(g);
    kind text := st_geometrytype(flat);
    shifted geometry;
begin
    if st_isempty(flat) then
        return flat;
    end if;
    case kind
    when 'ST_Point' then
        shifted := gcj02_point_from_wgs84(flat);
    when 'ST_MultiPoint' then
        select st_multi(st_collect(gcj02_point_from_wgs84(p.geom) order by p.path)) into shifted
        from st_dumppoints(flat) p;
    when 'ST_LineString' then
        select st_makeline(gcj02_point_from_wgs84(p.geom) order by p.path) into shifted
        from st_dumppoints(flat) p;
    when 'ST_MultiLineString' then
        select st_multi(st_collect(line order by part)) into shifted
        from (select p.path[1] as part, st_makeline(gcj02_point_from_wgs84(p.geom) order by p.path[2]) as line
              from st_dumppoints(flat) p
              group by p.path[1]) lines;
    when 'ST_Polygon', 'ST_MultiPolygon' then
        -- A polygon is part 1 of itself; ring 1 of each part is its shell, the others its holes in order.
        select st_collect(polygon order by part) into shifted
        from (select part, st_makepolygon((array_agg(ring order by ring_no))[1],
                                          (array_agg(ring order by ring_no))[2:]) as polygon
              from (select case when kind = 'ST_Polygon' then 1 else p.path[1] end as part,
                           p.path[array_length(p.path, 1) - 1] as ring_no,
                           st_makeline(gcj02_point_from_wgs84(p.geom) order by p.path[array_length(p.path, 1)]) as ring
                    from st_dumppoints(flat) p
                    group by 1, 2) rings
              group by part) polygons;
        -- st_collect made a multipolygon: a polygon is its only part.
        if kind = 'ST_Polygon' then
            shifted := st_geometryn(shifted, 1);
        end if;
    when 'ST_GeometryCollection' then
        -- st_collect makes a Multi* of parts of one type: force a collection back.
        select st_forcecollection(st_collect(gcj02_from_wgs84(st_geometryn(flat, i)) order by i)) into shifted
        from generate_series(1, st_numgeometries(flat)) i;
    else
        raise exception 'gcj02_from_wgs84: % is not supported', kind using errcode = '22023';
    end case;
    return st_setsrid(shifted, st_srid(flat));
end
$$;
