-- Hardening found in review (issue 14, part 7): API tokens that expire, and the indexes a county of a million
-- sites needs. Each index names the query it serves.

-- An API token may be given an end (`POST /api/v1/tokens` with `expires_at`); null lives until revoked.
-- `db::accounts::token_actor` refuses a token at or after its end, as if revoked.
alter table api_token add column expires_at timestamptz;
alter table api_token add constraint api_token_expires_after_creation check (expires_at > created_at);

-- Scope of a unit officer (`db::sites::scope_condition`: `s.lead_unit_id = $unit`), which every scoped read of
-- sites, observations, photos and look-backs carries. `responsible_unit_id` and `town_id` have theirs
-- (site_responsible_unit_idx, site_town_idx); with this one each arm of the scope's OR has an index.
create index site_lead_unit_idx on site (lead_unit_id) where lead_unit_id is not null;

-- The same scope's `s.supporting_unit_ids @> array[$unit]` (a supporting unit sees the site): an array
-- containment only a GIN index answers.
create index site_supporting_units_gin on site using gin (supporting_unit_ids);

-- `db::observations::get` (`GET /api/v1/observations/{id}`: did it open its site? `exists (select 1 from site_event e where
-- e.observation_id = o.id and e.kind = 'opened')`), and the foreign key site_event_observation_fkey. Most
-- events name no observation, so only those that do are indexed.
create index site_event_observation_idx on site_event (observation_id) where observation_id is not null;

-- The foreign key site_duplicate_of_fkey (checking a site's referrers when its id changes or it is deleted)
-- and "which sites were marked duplicates of this one"; few sites are duplicates, so only those are indexed.
create index site_duplicate_of_idx on site (duplicate_of) where duplicate_of is not null;

-- Open look-back tasks by due date: `db::lookback::open_tasks` (`where done_at is null … order by due_on`) and
-- the overdue count of `db::lookback::by_town` (`done_at is null and due_on < $today`). Done tasks, which are
-- most of them in time, are left out.
create index look_back_task_open_due_idx on look_back_task (due_on) where done_at is null;

-- Roads on the sphere: `road_match` (migration 0005: the nearest road within a radius of a new site,
-- `st_dwithin(road.geom::geography, …)` ordered by `road.geom::geography <-> …`) and `db::places::locate_point`
-- cast roads to geography; road_geom_gix on the geometry cannot serve an expression on the cast.
create index road_geog_gix on road using gist ((geom::geography));
