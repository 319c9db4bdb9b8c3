-- The candidates queue (issue 12, parts 4 and 5): candidates are drawn on the map as their own vector-tile
-- layer, cached like the others and kept never stale the same way: every statement that writes `candidate`
-- logs its transaction and the extent it touched in `map_change` (migration 0006), so a confirmed or
-- dismissed candidate leaves its tile at the next request.

alter table map_change drop constraint map_change_layer_known;
alter table map_change add constraint map_change_layer_known check (layer in ('sites', 'towns', 'roads', 'candidates'));

create trigger candidate_map_insert after insert on candidate referencing new table as new_rows
    for each statement execute function map_change_logged('candidates', 'geom');
create trigger candidate_map_update after update on candidate referencing old table as old_rows new table as new_rows
    for each statement execute function map_change_logged('candidates', 'geom');
create trigger candidate_map_delete after delete on candidate referencing old table as old_rows
    for each statement execute function map_change_logged('candidates', 'geom');
create trigger candidate_map_truncate after truncate on candidate
    for each statement execute function map_change_logged('candidates');

-- The queue reads open candidates best first from every source (`GET /api/v1/candidates?status=open`); the
-- index of migration 0013 leads with the source, which the queue filters on only sometimes.
create index candidate_status_score_idx on candidate (status, score desc, id);
