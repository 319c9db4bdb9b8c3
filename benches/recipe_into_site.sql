-- The shared map recipe's bare sites (../shared/bench/sites-1m.sql, loaded into schema `recipe`) moved into our
-- own `site` table, every trigger running: lines are sections, "intersection" points intersections, other
-- points spots; "draft" is reported; deadlines and levels spread deterministically. Used by benches/tiles.rs
-- and benches/province_size.sh, so both weigh and draw the same sites.
insert into site (kind, geom, status, template_code, hazard_level, deadline, first_observed_at,
                  last_observed_at, observation_count)
select k.kind, r.geom,
       case r.status when 'draft' then 'reported' else r.status end,
       case k.kind when 'intersection' then 'five_must_haves' else 'three_ones' end,
       (array['general', 'significant', 'major'])[1 + r.id % 3],
       date '2026-06-01' + (r.id % 400)::int,
       timestamptz '2026-01-01 08:00+08' + (r.id % 300) * interval '1 day',
       timestamptz '2026-01-01 08:00+08' + (r.id % 300) * interval '1 day', 1
from recipe.site r
cross join lateral (select case when geometrytype(r.geom) = 'LINESTRING' then 'section'
                                when r.kind = 'intersection' then 'intersection'
                                else 'spot' end as kind) k
order by r.id;
drop schema recipe cascade;
