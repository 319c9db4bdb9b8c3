-- Grid counts of sites, kept as sites change, so a low-zoom site tile (src/db/tiles.rs) sums at most a few
-- thousand rows instead of reading every site under it: a z10 tile over a million-site county read 400 000
-- sites (docs/benchmarks.md).
--
-- A site tile at zoom z ≤ 12 has 32 × 32 grid cells, which are exactly the tiles of zoom z + 5. So `site_cell`
-- holds, for every cell level 5–17 (tile zooms 0–12), per cell, town and status: how many sites have their
-- anchor (`site.anchor_3857`) in the cell, how many of them are overdue, and the sums of their anchors'
-- Mercator coordinates (for the cell's mean position). Cells are numbered from the bottom left of the
-- Mercator square, half-open like the tile grid: x = floor((X + H) / size), y = floor((Y + H) / size).
--
-- Writers only ever insert: a statement that changes sites adds one signed row per touched (level, cell, town,
-- status), summed over its rows, so concurrent uploads never wait on a shared counter row. Readers sum all the
-- rows of a cell. `site_cell_compact()` folds the rows added since the last compaction into one settled row
-- per key (the tile server runs it every few minutes).
--
-- Overdue depends on the date: a site is overdue when it is open and its deadline is before the county's
-- today. The counts are kept as of `site_cell_day.as_of`; `site_cell_roll(today)` moves them to a new day by
-- adding the open sites whose deadline fell in between (a few rows, not a recount), and the tile server calls
-- it before it uses the counts on a new day. Writers take `as_of` with FOR SHARE and the roll with FOR UPDATE,
-- so a site written during a roll is counted against the day it was written under.

-- The open statuses (domain::site::SiteStatus::is_open; a test checks the two agree).
create function site_status_open(status text) returns boolean
language sql immutable parallel safe as $$
    select status in ('reported', 'verified', 'assigned', 'in_progress', 'pending_review', 'reopened')
$$;

create table site_cell (
    level   smallint not null,
    x       integer not null,
    y       integer not null,
    -- 0 for a site outside every town.
    town_id integer not null,
    status  text not null,
    n       integer not null,
    overdue integer not null,
    sum_x   double precision not null,
    sum_y   double precision not null,
    -- False for rows added by writers since the last compaction.
    settled boolean not null default false,
    constraint site_cell_level_range check (level between 5 and 17)
);
create index site_cell_cell_idx on site_cell (level, x, y);
create index site_cell_unsettled_idx on site_cell (level, x, y, town_id, status) where not settled;

create table site_cell_day (as_of date not null);
insert into site_cell_day values ((now() at time zone 'Asia/Shanghai')::date);
-- Finding the sites that become overdue on a new day.
create index site_open_deadline_idx on site (deadline) where site_status_open(status);

-- The cell of Mercator coordinate `v` at `level` (H is half the Mercator square's side).
create function site_cell_index(v double precision, level integer) returns integer
language sql immutable parallel safe as $$
    select floor((v + 20037508.342789244) / (2 * 20037508.342789244 / (2 ^ level)))::integer
$$;

-- The SQL condition "old row `o` and new row `n` of a site are counted differently" (for the trigger below).
create function site_cell_moved(o text, n text) returns text
language sql immutable parallel safe as $$
    select format('(st_x(%1$s.anchor_3857), st_y(%1$s.anchor_3857), coalesce(%1$s.town_id, 0), %1$s.status,
                    coalesce(site_status_open(%1$s.status) and %1$s.deadline < $1, false))
                   is distinct from
                   (st_x(%2$s.anchor_3857), st_y(%2$s.anchor_3857), coalesce(%2$s.town_id, 0), %2$s.status,
                    coalesce(site_status_open(%2$s.status) and %2$s.deadline < $1, false))', o, n)
$$;

-- Adds the signed contributions of the changed rows (old rows count -1, new rows +1) at every level.
create function site_cell_counted() returns trigger
language plpgsql as $$
declare
    day date;
    changed text;
begin
    if tg_op = 'TRUNCATE' then
        truncate site_cell;
        return null;
    end if;
    select as_of into day from site_cell_day for share;
    -- An update counts only the rows whose counted facts changed (most updates are a note or a version):
    -- subtracting and adding the same coordinates back need not cancel exactly in floating point.
    changed := case tg_op
        when 'INSERT' then 'select 1 as sign, * from new_rows'
        when 'DELETE' then 'select -1 as sign, * from old_rows'
        else 'select -1 as sign, o.* from old_rows o join new_rows n using (id) where ' || site_cell_moved('o', 'n')
             || ' union all select 1, n.* from new_rows n join old_rows o using (id) where ' || site_cell_moved('o', 'n')
        end;
    execute format(
        'insert into site_cell (level, x, y, town_id, status, n, overdue, sum_x, sum_y)
         select l.level, site_cell_index(st_x(r.anchor_3857), l.level), site_cell_index(st_y(r.anchor_3857), l.level),
                coalesce(r.town_id, 0), r.status, sum(r.sign)::integer,
                sum(r.sign * coalesce(site_status_open(r.status) and r.deadline < $1, false)::integer)::integer,
                sum(r.sign * st_x(r.anchor_3857)), sum(r.sign * st_y(r.anchor_3857))
         from (%s) r
         cross join generate_series(5, 17) l(level)
         group by 1, 2, 3, 4, 5
         -- An update that moved nothing counted (a note, a version) cancels out and adds no row.
         having sum(r.sign) <> 0 or sum(r.sign * coalesce(site_status_open(r.status) and r.deadline < $1, false)::integer) <> 0
             or sum(r.sign * st_x(r.anchor_3857)) <> 0 or sum(r.sign * st_y(r.anchor_3857)) <> 0',
        changed) using day;
    return null;
end $$;

create trigger site_cell_insert after insert on site referencing new table as new_rows
    for each statement execute function site_cell_counted();
create trigger site_cell_update after update on site referencing old table as old_rows new table as new_rows
    for each statement execute function site_cell_counted();
create trigger site_cell_delete after delete on site referencing old table as old_rows
    for each statement execute function site_cell_counted();
create trigger site_cell_truncate after truncate on site
    for each statement execute function site_cell_counted();

-- Moves the overdue counts to `today`: the open sites whose deadline is in [as_of, today) became overdue.
create function site_cell_roll(today date) returns void
language plpgsql as $$
declare
    day date;
begin
    select as_of into day from site_cell_day for update;
    if day >= today then
        return;
    end if;
    insert into site_cell (level, x, y, town_id, status, n, overdue, sum_x, sum_y)
    select l.level, site_cell_index(st_x(s.anchor_3857), l.level), site_cell_index(st_y(s.anchor_3857), l.level),
           coalesce(s.town_id, 0), s.status, 0, count(*)::integer, 0, 0
    from site s
    cross join generate_series(5, 17) l(level)
    where site_status_open(s.status) and s.deadline >= day and s.deadline < today
    group by 1, 2, 3, 4, 5;
    update site_cell_day set as_of = today;
end $$;

-- Folds the rows writers added into one settled row per (level, cell, town, status); keys whose sites are
-- all gone disappear. Returns the number of rows folded. One compaction at a time.
create function site_cell_compact() returns bigint
language plpgsql as $$
declare
    folded bigint;
begin
    perform pg_advisory_xact_lock(hashtext('site_cell_compact'));
    with touched as (
        select distinct level, x, y, town_id, status from site_cell where not settled
    ), gone as (
        delete from site_cell c using touched t
        where c.level = t.level and c.x = t.x and c.y = t.y and c.town_id = t.town_id and c.status = t.status
        returning c.*
    ), kept as (
        insert into site_cell (level, x, y, town_id, status, n, overdue, sum_x, sum_y, settled)
        select level, x, y, town_id, status, sum(n), sum(overdue), sum(sum_x), sum(sum_y), true
        from gone group by 1, 2, 3, 4, 5
        having sum(n) <> 0
        returning 1
    )
    select count(*) into folded from gone;
    return folded;
end $$;

-- Counts every site again from scratch, as of `site_cell_day.as_of` (the migration's first count, and a
-- repair for an operator: the result equals what the writers' rows add up to).
create function site_cell_rebuild() returns void
language plpgsql as $$
declare
    day date;
begin
    select as_of into day from site_cell_day for update;
    perform pg_advisory_xact_lock(hashtext('site_cell_compact'));
    lock table site in share mode;
    truncate site_cell;
    insert into site_cell (level, x, y, town_id, status, n, overdue, sum_x, sum_y, settled)
    select l.level, site_cell_index(st_x(s.anchor_3857), l.level), site_cell_index(st_y(s.anchor_3857), l.level),
           coalesce(s.town_id, 0), s.status, count(*)::integer,
           count(*) filter (where site_status_open(s.status) and s.deadline < day)::integer,
           sum(st_x(s.anchor_3857)), sum(st_y(s.anchor_3857)), true
    from site s
    cross join generate_series(5, 17) l(level)
    group by 1, 2, 3, 4, 5;
end $$;

select site_cell_rebuild();
