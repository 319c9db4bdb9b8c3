-- Crashes and candidates name roads by the route codes roads have: migration 0005 let national and provincial
-- routes have 1 to 4 digits (G2, G15, S38, G1501), but 0013 copied the older three-digit rule, so a crash on
-- G15 located by its stake was refused by the database. The same rule as `road_route_code_format` now.
alter table crash drop constraint crash_route_code_format;
alter table crash add constraint crash_route_code_format check (route_code ~ '^([GS][0-9]{1,4}|[XYCZ][0-9]{3})$');
alter table candidate drop constraint candidate_route_code_format;
alter table candidate add constraint candidate_route_code_format
    check (route_code ~ '^([GS][0-9]{1,4}|[XYCZ][0-9]{3})$');
