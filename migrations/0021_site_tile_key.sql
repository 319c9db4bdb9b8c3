-- The map's site tiles from z13 on, read in the order of the map (issue 9).
--
-- A dense z14 tile holds ~1 700 sites. Found through the GiST index, each is a random page of the heap: a
-- ledger is written in the order inspectors walk, not in the order of the map, so neighbours on the map are
-- pages apart in the table. Most of a tile's drawing time went on those page reads.
--
-- Here every point site (intersections and spots) gets a key on a Z-order (Morton) curve over Web Mercator
-- at level 24 (cells of about 2.4 m at the equator): the bits of its column and row, interleaved. Every tile
-- of every zoom is one range of that curve, and so is every cell around it. A B-tree on the key that carries
-- the tile's columns (INCLUDE) then answers a tile from a few dozen consecutive index pages, without the heap
-- (an index-only scan), however the sites were inserted: the index keeps itself in map order.
--
-- Sections (lines) are not keyed: a line is not in one cell. They get a GiST index of their own, so the tile
-- statement's second half reads sections alone.
--
-- `db::tiles::key_ranges` computes a tile's ranges in Rust with the same level and bit order; a test checks
-- that the two agree.

-- The low 24 bits of v spread over the even bits of a bigint (bit i to bit 2i).
create function tile_key_spread(v bigint) returns bigint
    language plpgsql immutable strict parallel safe as $$
begin
    v := v & 16777215;                              -- 0xFFFFFF: 24 bits
    v := (v | (v << 16)) & 281470681808895;         -- 0x0000FFFF0000FFFF
    v := (v | (v << 8)) & 71777214294589695;        -- 0x00FF00FF00FF00FF
    v := (v | (v << 4)) & 1085102592571150095;      -- 0x0F0F0F0F0F0F0F0F
    v := (v | (v << 2)) & 3689348814741910323;      -- 0x3333333333333333
    return (v | (v << 1)) & 6148914691236517205;    -- 0x5555555555555555
end $$;

-- A Web Mercator point's key: its level-24 column on the even bits, its row (counted from the top, as tile
-- rows are) on the odd bits.
create function tile_key_of(p geometry) returns bigint
    language sql immutable strict parallel safe
    return tile_key_spread(least(greatest(floor((st_x(p) + 20037508.342789244) / 40075016.68557849 * 16777216), 0),
                                 16777215)::bigint)
         | (tile_key_spread(least(greatest(floor((20037508.342789244 - st_y(p)) / 40075016.68557849 * 16777216), 0),
                                   16777215)::bigint) << 1);

-- A generated column is computed before the check constraints run: a point site given a line must reach
-- site_geom_matches_kind's refusal, not an error from st_x, so the key asks for a point too.
alter table site
    add column tile_key bigint
        generated always as (case when kind <> 'section' and geometrytype(geom) = 'POINT'
                                  then tile_key_of(st_transform(geom, 3857)) end) stored;

-- Every column the unfiltered site tile reads (`db::tiles`, SITES_KEYED), so that it never visits the heap.
-- A test fails when the statement reads a column this leaves out (its plan is no longer index-only).
create index site_tile_key_idx on site (tile_key)
    include (geom_3857, code, kind, status, hazard_level, deadline, supervision_level, return_count, town_id,
             route_code, stake_text)
    where kind <> 'section';

create index site_section_geom_3857_gix on site using gist (geom_3857) where kind = 'section';
