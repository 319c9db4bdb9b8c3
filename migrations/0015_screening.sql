-- Black-spot screening runs (issue 12, part 2): what a later run does to the open candidates of an earlier one,
-- and the measured road a sliding window walks along.

-- A run re-states what its method finds now. An open candidate of an earlier run of the same method that shares
-- a crash with a candidate of the new run is the same place found again: it is marked superseded by the new
-- run, so the queue holds each place once. Candidates a person decided (confirmed, dismissed) are never
-- touched, and open ones the new run does not find again stay open for a person to dismiss.
alter table candidate add column superseded_by bigint constraint candidate_superseded_by_fkey references screening_run (id);
alter table candidate drop constraint candidate_status_known;
alter table candidate add constraint candidate_status_known check (
    status in ('open', 'confirmed', 'dismissed', 'superseded'));
alter table candidate drop constraint candidate_decision_complete;
alter table candidate add constraint candidate_decision_complete check (
    case status when 'open' then decided_at is null and site_id is null and superseded_by is null
                when 'confirmed' then decided_at is not null and site_id is not null and superseded_by is null
                when 'superseded' then decided_at is not null and site_id is null and superseded_by is not null
                else decided_at is not null and reason is not null and site_id is null and superseded_by is null end);
alter table candidate add constraint candidate_superseded_by_crash_analysis check (
    superseded_by is null or source = 'crash_analysis');

-- The road's measured line: its calibrated `geom_m` when it has one, else measured from 0 at the start of its
-- first part, its parts one after another in drawn order (the rule `road_default_measure` applies to coded
-- roads). Windows are laid along these measures.
create function road_measured(geom geometry, geom_m geometry) returns geometry
language sql immutable parallel safe as $$
    select coalesce(geom_m, (
        select st_multi(st_collect(calibrate_line(p.geom, p.start_m, null) order by p.path))
        from (select d.path, d.geom,
                  coalesce(sum(st_length(d.geom::geography)) over (order by d.path
                      rows between unbounded preceding and 1 preceding), 0) as start_m
              from st_dump(geom) d) p))
$$;
