-- Where an observation's place came from and whether the inspector vouched for it (issue 10, item 4).
-- `location_source`: 'gps' (the phone's fix) or 'map' (a point placed by hand on the page's map); null for
-- observations recorded before phones said. `location_confirmed`: the fix was stale or coarse (older than
-- 30 s or worse than 50 m) and the inspector confirmed it before queueing.
alter table observation add column location_source text;
alter table observation add constraint observation_location_source_known
    check (location_source in ('gps', 'map'));
alter table observation add column location_confirmed boolean not null default false;
