//! Black-spot screening runs (issue 12): read the crashes of a data window once, find where they cluster by one
//! method, and store the run with its candidates, all in one repeatable-read transaction.
//!
//! The spatial work is PostGIS: crashes placed on road measures (`st_interpolatepoint` on `road_measured`),
//! junction nodes (`st_intersection` of road pairs, plus intersection sites), density clusters
//! (`st_clusterdbscan` in the county's metric zone). What passes, the score, the rank and the dominant crash
//! type and time band are `domain::screening`'s, so the same crashes and parameters give the same candidates.
//!
//! The queries work on temporary tables of the run's transaction (`screening_input` and its helpers), which
//! `query!` cannot check at build time: they are static text run by the screening tests, every one of them.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::Value;
use sqlx::{PgConnection, PgPool, Row};

use crate::domain::crash::{CrashType, ScreeningMethod, Severity, TimeBand};
use crate::domain::screening::{
    self, Along, CrashFacts, DataWindow, Dbscan, Found, Junction, Parameters, Scored, SlidingWindow, Stretch,
};

/// A run reads at most this many crashes (a county sees a few thousand a year; 200 000 is decades of a large
/// one). More is refused: narrow the data window.
pub const CRASHES_READ_MAX: i64 = 200_000;
/// A run stores at most this many candidates; more is refused: raise the thresholds.
pub const CANDIDATES_MAX: usize = 10_000;
/// The run's transaction is cancelled after this long (a 100 000-crash run takes a few seconds, see
/// docs/benchmarks.md).
pub const STATEMENT_TIMEOUT: &str = "120s";

/// What a run is asked to do.
#[derive(Debug, Clone)]
pub struct RunRequest<'a> {
    pub parameters: Parameters,
    pub window: DataWindow,
    pub run_by: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the data window holds more than {max} crashes; narrow it")]
    TooManyCrashes { max: i64 },
    #[error("the run finds {found} candidates, more than {max}; raise the thresholds")]
    TooManyCandidates { found: usize, max: usize },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A place a method found, as `candidate` stores it: a stretch of a road part, or a point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Place {
    Stretch(Stretch),
    Point { lon: f64, lat: f64 },
}

/// Runs one screening and stores it; answers the run's id.
pub async fn run(pool: &PgPool, request: &RunRequest<'_>) -> Result<i64, RunError> {
    let started = Instant::now();
    let mut tx = pool.begin().await?;
    // One snapshot for every statement: the crashes read, the roads and the sites all as of the same moment.
    sqlx::query("set transaction isolation level repeatable read").execute(&mut *tx).await?;
    sqlx::query(&format!("set local statement_timeout = '{STATEMENT_TIMEOUT}'")).execute(&mut *tx).await?;

    let (crashes_read, inputs_sha256) = read_input(&mut tx, &request.window).await?;
    let facts = crash_facts(&mut tx).await?;
    let weights = *request.parameters.weights();
    let scored: Vec<Scored<Place>> = match &request.parameters {
        Parameters::SlidingWindow(p) => {
            let found = sliding_window(&mut tx, p, &facts).await?;
            let found = found.into_iter().map(|f| Found { place: Place::Stretch(f.place), crash_ids: f.crash_ids });
            screening::rank(found.collect(), &facts, &weights)
        }
        Parameters::Junction(p) => screening::rank(junctions(&mut tx, p, &facts).await?, &facts, &weights),
        Parameters::Dbscan(p) => screening::rank(dbscan(&mut tx, p).await?, &facts, &weights),
    };
    if scored.len() > CANDIDATES_MAX {
        return Err(RunError::TooManyCandidates { found: scored.len(), max: CANDIDATES_MAX });
    }

    let run_id: i64 = sqlx::query_scalar(
        "insert into screening_run (method, parameters, window_start, window_end, run_by, crashes_read,
             inputs_sha256, candidates, elapsed_ms)
         values ($1, $2, $3, $4, $5, $6, $7, $8, 0)
         returning id",
    )
    .bind(request.parameters.method())
    .bind(request.parameters.to_json())
    .bind(request.window.start)
    .bind(request.window.end)
    .bind(request.run_by)
    .bind(crashes_read as i32)
    .bind(&inputs_sha256)
    .bind(scored.len() as i32)
    .fetch_one(&mut *tx)
    .await?;
    let snap_m = match &request.parameters {
        Parameters::SlidingWindow(p) => p.snap_m,
        Parameters::Junction(p) => p.radius_m,
        Parameters::Dbscan(p) => p.snap_m,
    };
    let point_kind = match request.parameters.method() {
        ScreeningMethod::Junction => "intersection",
        _ => "spot",
    };
    insert_candidates(&mut tx, run_id, &scored, point_kind, snap_m).await?;
    supersede(&mut tx, run_id, request.parameters.method()).await?;
    let elapsed_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    sqlx::query("update screening_run set elapsed_ms = $2 where id = $1")
        .bind(run_id)
        .bind(elapsed_ms)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(run_id)
}

/// Reads the crashes of the window into `screening_input`, once, and answers how many and their fingerprint:
/// SHA-256 over `id source_key` lines in id order, so one more, one fewer or one re-keyed crash changes it.
async fn read_input(conn: &mut PgConnection, window: &DataWindow) -> Result<(i64, Vec<u8>), RunError> {
    sqlx::query(
        "create temp table screening_input (
             id bigint primary key, source_key text not null, geom geometry(Point, 4326) not null,
             located_by text not null, road_id integer, severity text not null, deaths integer not null,
             injuries integer not null, crash_type text, time_band text not null) on commit drop",
    )
    .execute(&mut *conn)
    .await?;
    // The measured road parts a window lies along (filled by the sliding window only; the candidates'
    // insert reads it for every method).
    sqlx::query(
        "create temp table screening_part (road_id integer not null, part integer not null, geom geometry not null,
             primary key (road_id, part)) on commit drop",
    )
    .execute(&mut *conn)
    .await?;
    // The window's dates are county dates: [start 00:00, end 00:00) in Asia/Shanghai. One row past the limit
    // is read to tell "exactly the limit" from "more".
    sqlx::query(
        "insert into screening_input
         select c.id, c.source_key, c.geom, c.located_by, c.road_id, c.severity, c.deaths,
                c.serious_injuries + c.slight_injuries, c.crash_type, crash_time_band(c.occurred_at)
         from crash c
         where c.occurred_at >= $1::date::timestamp at time zone 'Asia/Shanghai'
           and c.occurred_at < $2::date::timestamp at time zone 'Asia/Shanghai'
         order by c.id
         limit $3",
    )
    .bind(window.start)
    .bind(window.end)
    .bind(CRASHES_READ_MAX + 1)
    .execute(&mut *conn)
    .await?;
    let row = sqlx::query(
        "select count(*),
                sha256(convert_to(coalesce(string_agg(id::text || ' ' || source_key, E'\\n' order by id), ''), 'UTF8'))
         from screening_input",
    )
    .fetch_one(&mut *conn)
    .await?;
    let count: i64 = row.get(0);
    if count > CRASHES_READ_MAX {
        return Err(RunError::TooManyCrashes { max: CRASHES_READ_MAX });
    }
    sqlx::query("analyze screening_input").execute(&mut *conn).await?;
    Ok((count, row.get(1)))
}

async fn crash_facts(conn: &mut PgConnection) -> sqlx::Result<BTreeMap<i64, CrashFacts>> {
    let rows = sqlx::query("select id, severity, deaths, injuries, crash_type, time_band from screening_input")
        .fetch_all(&mut *conn)
        .await?;
    let mut out = BTreeMap::new();
    for row in rows {
        let id: i64 = row.try_get("id")?;
        out.insert(
            id,
            CrashFacts {
                id,
                severity: row.try_get::<Severity, _>("severity")?,
                deaths: row.try_get("deaths")?,
                injuries: row.try_get("injuries")?,
                crash_type: row.try_get::<Option<CrashType>, _>("crash_type")?,
                time_band: row.try_get::<TimeBand, _>("time_band")?,
            },
        );
    }
    Ok(out)
}

/// Places every crash along a road part and slides the window (`domain::screening::windows`).
async fn sliding_window(
    conn: &mut PgConnection,
    p: &SlidingWindow,
    facts: &BTreeMap<i64, CrashFacts>,
) -> sqlx::Result<Vec<Found<Stretch>>> {
    let along = crashes_along_roads(conn, p.snap_m).await?;
    Ok(screening::windows(&along, p, facts))
}

/// Each crash's road, part and measure. A crash placed by stake belongs to its road; one placed by
/// coordinates to the nearest road within `snap_m` (the lower id on a tie); others to none. The measure is
/// where the crash projects onto the nearest part of that road's measured line (`road_measured`: its
/// calibrated chainage, or metres from its start), so windows follow the road as stakes do.
/// Fills `screening_part` (the measured parts) for the stretches' geometry.
pub async fn crashes_along_roads(conn: &mut PgConnection, snap_m: f64) -> sqlx::Result<Vec<Along>> {
    sqlx::query(
        "create temp table screening_placed (id bigint primary key, geom geometry(Point, 4326) not null,
             road_id integer) on commit drop",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "insert into screening_placed
         select i.id, i.geom, coalesce(case when i.located_by = 'stake' then i.road_id end, near.id)
         from screening_input i
         left join lateral (
             select r.id from road r
             where i.located_by <> 'stake' and st_dwithin(r.geom::geography, i.geom::geography, $1)
             order by r.geom::geography <-> i.geom::geography, r.id
             limit 1) near on true",
    )
    .bind(snap_m)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "insert into screening_part
         select r.id, coalesce(d.path[1], 1), d.geom
         from road r, st_dump(road_measured(r.geom, r.geom_m)) d
         where r.id in (select road_id from screening_placed where road_id is not null)",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query("analyze screening_part").execute(&mut *conn).await?;
    // Measures are rounded to the centimetre: projecting a point placed at K0+300 gives 299.9999999…, which
    // would move it out of the windows that start at 300 m.
    let rows = sqlx::query(
        "select p.id, p.road_id, part.part,
                round(st_interpolatepoint(part.geom, p.geom)::numeric, 2)::float8 as measure_m
         from screening_placed p
         cross join lateral (
             select sp.part, sp.geom from screening_part sp where sp.road_id = p.road_id
             order by sp.geom <-> p.geom, sp.part
             limit 1) part
         where p.road_id is not null",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Along { crash_id: r.try_get(0)?, road_id: r.try_get(1)?, part: r.try_get(2)?, measure_m: r.try_get(3)? })
        })
        .collect()
}

/// The junctions of the road network: every point where two roads meet or cross (the points of
/// `st_intersection` of each pair of roads, and the ends of a road within 2 m of another, so a T where one
/// road ends on another counts even when drawn a little short; a road's own branches do not), plus the intersection sites of the ledger that are not rejected, duplicates or
/// cancelled. Nodes within `radius_m` of each other are one junction (their centroid), since their crashes
/// could not be told apart. Each crash within `radius_m` of a junction counts for its nearest one.
async fn junctions(
    conn: &mut PgConnection,
    p: &Junction,
    facts: &BTreeMap<i64, CrashFacts>,
) -> sqlx::Result<Vec<Found<Place>>> {
    junction_nodes(conn, p.radius_m).await?;
    let rows = sqlx::query(
        "select n.node, i.id, st_x(n.geom), st_y(n.geom)
         from screening_input i
         cross join lateral (
             select n.node, n.geom from screening_node n
             where st_dwithin(n.geom::geography, i.geom::geography, $1)
             order by n.geom::geography <-> i.geom::geography, n.node
             limit 1) n
         order by n.node, i.id",
    )
    .bind(p.radius_m)
    .fetch_all(&mut *conn)
    .await?;
    let mut by_node: BTreeMap<i64, Found<Place>> = BTreeMap::new();
    for row in rows {
        let node: i64 = row.try_get(0)?;
        let place = Place::Point { lon: row.try_get(2)?, lat: row.try_get(3)? };
        by_node.entry(node).or_insert_with(|| Found { place, crash_ids: Vec::new() }).crash_ids.push(row.try_get(1)?);
    }
    Ok(by_node
        .into_values()
        .filter(|f| {
            let cs: Vec<&CrashFacts> = f.crash_ids.iter().filter_map(|id| facts.get(id)).collect();
            let fatal = cs.iter().filter(|c| c.severity == Severity::Fatal).count() as u32;
            p.threshold.passes(cs.len() as u32, fatal, screening::score(&cs, &p.epdo_weights))
        })
        .collect())
}

/// Builds `screening_node`: the junction nodes, merged within `radius_m`, numbered west to east (then south
/// to north) so the numbering is the same on every run.
pub async fn junction_nodes(conn: &mut PgConnection, radius_m: f64) -> sqlx::Result<()> {
    sqlx::query(
        "create temp table screening_node (node bigint primary key, geom geometry(Point, 4326) not null)
         on commit drop",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "insert into screening_node (node, geom)
         with raw as (
             select d.geom as g
             from road a
             join road b on a.id < b.id and st_intersects(a.geom, b.geom)
             cross join lateral st_dump(st_intersection(a.geom, b.geom)) d
             where geometrytype(d.geom) = 'POINT'
             union all
             -- A road that ends within 2 m of another meets it there (a T drawn a little short or long).
             select e.p
             from road a
             cross join lateral st_dump(a.geom) d
             cross join lateral (values (st_startpoint(d.geom)), (st_endpoint(d.geom))) as e (p)
             join road b on b.id <> a.id and st_dwithin(b.geom::geography, e.p::geography, 2.0)
             union all
             select s.geom from site s
             where s.kind = 'intersection' and geometrytype(s.geom) = 'POINT'
               and s.status not in ('rejected', 'duplicate', 'cancelled')),
         zone as (select metric_srid(st_envelope(st_collect(g))) as srid from raw),
         clustered as (
             select g, st_clusterdbscan(st_transform(g, zone.srid), eps => $1, minpoints => 1) over () as cid
             from raw, zone),
         merged as (
             select st_centroid(st_collect(g order by st_x(g), st_y(g))) as geom from clustered group by cid)
         select row_number() over (order by st_x(geom), st_y(geom)), geom from merged",
    )
    .bind(radius_m)
    .execute(&mut *conn)
    .await?;
    sqlx::query("create index on screening_node using gist ((geom::geography))").execute(&mut *conn).await?;
    Ok(())
}

/// Density clusters: `st_clusterdbscan` with ε = `eps_m` and `min_points` on the crashes in the county's
/// metric zone (`metric_srid` of their extent), fed in id order so that a border point reachable from two
/// clusters joins the same one on every run. Noise is no candidate. With `off_network_only`, only crashes
/// farther than `snap_m` from every road are clustered.
async fn dbscan(conn: &mut PgConnection, p: &Dbscan) -> sqlx::Result<Vec<Found<Place>>> {
    let rows = sqlx::query(
        "with zone as (select metric_srid(st_envelope(st_collect(geom))) as srid from screening_input),
         points as (
             select i.id, i.geom from screening_input i
             where not $3 or not exists (
                 select 1 from road r where st_dwithin(r.geom::geography, i.geom::geography, $4))
             order by i.id),
         clustered as (
             select id, geom, st_clusterdbscan(st_transform(geom, zone.srid), eps => $1, minpoints => $2) over () as cid
             from points, zone)
         select array_agg(id order by id), st_x(st_centroid(st_collect(geom order by id))),
                st_y(st_centroid(st_collect(geom order by id)))
         from clustered where cid is not null
         group by cid",
    )
    .bind(p.eps_m)
    .bind(p.min_points as i32)
    .bind(p.off_network_only)
    .bind(p.snap_m)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok(Found { crash_ids: r.try_get(0)?, place: Place::Point { lon: r.try_get(1)?, lat: r.try_get(2)? } }))
        .collect()
}

/// Stores the candidates of a run and the crashes behind each. A stretch's line is the part of its road
/// between the stretch's measures (`st_locatebetween`); a point is stored as found. The town is the one
/// holding the point or the stretch's middle; the road and stakes are the stretch's own, or for a point the
/// nearest road's within `snap_m`.
async fn insert_candidates(
    conn: &mut PgConnection,
    run_id: i64,
    scored: &[Scored<Place>],
    point_kind: &str,
    snap_m: f64,
) -> sqlx::Result<()> {
    // A window's stretch is a section; a junction's point an intersection, a density cluster's a spot.
    let kind = |p: &Place| match p {
        Place::Stretch(_) => "section",
        Place::Point { .. } => point_kind,
    };
    let stretch = |s: &Scored<Place>| match s.place {
        Place::Stretch(st) => Some(st),
        Place::Point { .. } => None,
    };
    let point = |s: &Scored<Place>| match s.place {
        Place::Point { lon, lat } => Some((lon, lat)),
        Place::Stretch(_) => None,
    };
    let kinds: Vec<&str> = scored.iter().map(|s| kind(&s.place)).collect();
    let road_ids: Vec<Option<i32>> = scored.iter().map(|s| stretch(s).map(|st| st.road_id)).collect();
    let parts: Vec<Option<i32>> = scored.iter().map(|s| stretch(s).map(|st| st.part)).collect();
    let from_m: Vec<Option<f64>> = scored.iter().map(|s| stretch(s).map(|st| st.from_m)).collect();
    let to_m: Vec<Option<f64>> = scored.iter().map(|s| stretch(s).map(|st| st.to_m)).collect();
    let lon: Vec<Option<f64>> = scored.iter().map(|s| point(s).map(|p| p.0)).collect();
    let lat: Vec<Option<f64>> = scored.iter().map(|s| point(s).map(|p| p.1)).collect();
    let score: Vec<f64> = scored.iter().map(|s| s.score).collect();
    let rank: Vec<i32> = scored.iter().map(|s| s.rank).collect();
    let count: Vec<i32> = scored.iter().map(|s| s.crash_count).collect();
    let deaths: Vec<i32> = scored.iter().map(|s| s.deaths).collect();
    let injuries: Vec<i32> = scored.iter().map(|s| s.injuries).collect();
    let types: Vec<Option<&str>> = scored.iter().map(|s| s.dominant_crash_type.map(|t| t.as_str())).collect();
    let bands: Vec<Option<&str>> = scored.iter().map(|s| s.dominant_time_band.map(|t| t.as_str())).collect();
    sqlx::query(
        "insert into candidate (source, screening_run_id, kind, geom, town_id, road_id, route_code, stake_m,
             end_stake_m, score, rank, crash_count, deaths, injuries, dominant_crash_type, dominant_time_band)
         select 'crash_analysis', $1,
                c.kind, g.geom,
                (select t.id from town t where st_intersects(t.boundary, g.mid) order by t.id limit 1),
                coalesce(c.road_id, m.road_id), coalesce(r.route_code, m.route_code),
                case when c.road_id is not null then road_stake_at(c.road_id, st_startpoint(g.geom)) else m.stake_m end,
                case when c.road_id is not null then road_stake_at(c.road_id, st_endpoint(g.geom)) end,
                c.score, c.rank, c.crash_count, c.deaths, c.injuries, c.crash_type, c.time_band
         from unnest($2::text[], $3::int4[], $4::int4[], $5::float8[], $6::float8[], $7::float8[], $8::float8[],
                     $9::float8[], $10::int4[], $11::int4[], $12::int4[], $13::int4[], $14::text[], $15::text[])
              as c (kind, road_id, part, from_m, to_m, lon, lat, score, rank, crash_count, deaths, injuries,
                    crash_type, time_band)
         cross join lateral (
             -- The stretch: the road part between the measures, as a plain line. A window reaching past the
             -- part's end is cut at the end; should the cut leave no line (a lone crash exactly at the end),
             -- the whole part stands for it.
             select case when c.part is null then st_setsrid(st_makepoint(c.lon, c.lat), 4326)
                         else (select coalesce(
                                   case when geometrytype(l.line) = 'LINESTRING' then l.line
                                        when geometrytype(l.line) = 'MULTILINESTRING' then st_geometryn(l.line, 1) end,
                                   st_force2d(sp.geom))
                               from screening_part sp
                               cross join lateral (
                                   select st_force2d(st_linemerge(st_locatebetween(sp.geom, c.from_m, c.to_m)))
                                       as line) l
                               where sp.road_id = c.road_id and sp.part = c.part) end as geom) g0
         cross join lateral (
             select g0.geom,
                    case when geometrytype(g0.geom) = 'LINESTRING' then st_lineinterpolatepoint(g0.geom, 0.5)
                         else g0.geom end as mid) g
         left join road r on r.id = c.road_id
         -- A point's road: the nearest within snap_m, the lower id on a tie (a junction is on both roads).
         left join lateral (
             select n.id as road_id, n.route_code, road_stake_at(n.id, g.geom) as stake_m from road n
             where c.road_id is null and st_dwithin(n.geom::geography, g.geom::geography, $16)
             order by n.geom::geography <-> g.geom::geography, n.id
             limit 1) m on true
         order by c.rank",
    )
    .bind(run_id)
    .bind(&kinds)
    .bind(&road_ids)
    .bind(&parts)
    .bind(&from_m)
    .bind(&to_m)
    .bind(&lon)
    .bind(&lat)
    .bind(&score)
    .bind(&rank)
    .bind(&count)
    .bind(&deaths)
    .bind(&injuries)
    .bind(&types)
    .bind(&bands)
    .bind(snap_m)
    .execute(&mut *conn)
    .await?;
    let (ranks, crash_ids): (Vec<i32>, Vec<i64>) =
        scored.iter().flat_map(|s| s.crash_ids.iter().map(move |id| (s.rank, *id))).unzip();
    sqlx::query(
        "insert into candidate_crash (candidate_id, crash_id)
         select c.id, x.crash_id
         from unnest($2::int4[], $3::int8[]) as x (rank, crash_id)
         join candidate c on c.screening_run_id = $1 and c.rank = x.rank",
    )
    .bind(run_id)
    .bind(&ranks)
    .bind(&crash_ids)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An open candidate of an earlier run of the same method that shares a crash with one of this run's is the
/// same place found again: superseded by this run (migration 0015). Decided candidates are never touched.
async fn supersede(conn: &mut PgConnection, run_id: i64, method: ScreeningMethod) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "update candidate old set status = 'superseded', decided_at = now(), superseded_by = $1
         from screening_run r
         where r.id = old.screening_run_id and r.method = $2 and r.id < $1 and old.status = 'open'
           and exists (
               select 1 from candidate_crash oc
               join candidate_crash nc on nc.crash_id = oc.crash_id
               join candidate n on n.id = nc.candidate_id
               where oc.candidate_id = old.id and n.screening_run_id = $1)",
    )
    .bind(run_id)
    .bind(method)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// One run and its candidates (rank order) as the API answers them, built by PostgreSQL; None if no such run.
pub async fn show(pool: &PgPool, id: i64) -> sqlx::Result<Option<Value>> {
    sqlx::query_scalar(
        "select json_build_object(
             'run', json_build_object(
                 'id', r.id, 'method', r.method, 'parameters', r.parameters,
                 'window', json_build_object('start', r.window_start, 'end', r.window_end),
                 'run_at', r.run_at, 'run_by', r.run_by, 'crashes_read', r.crashes_read,
                 'inputs_sha256', encode(r.inputs_sha256, 'hex'), 'candidates', r.candidates,
                 'elapsed_ms', r.elapsed_ms),
             'candidates', coalesce((
                 select json_agg(json_build_object(
                     'id', c.id, 'rank', c.rank, 'kind', c.kind, 'status', c.status,
                     'superseded_by', c.superseded_by, 'score', c.score, 'crash_count', c.crash_count,
                     'deaths', c.deaths, 'injuries', c.injuries,
                     'dominant_crash_type', c.dominant_crash_type, 'dominant_time_band', c.dominant_time_band,
                     'town_id', c.town_id, 'town', t.name, 'road_id', c.road_id, 'route_code', c.route_code,
                     'stake_m', c.stake_m, 'end_stake_m', c.end_stake_m,
                     'centre', json_build_array(round(st_x(mid.p)::numeric, 7), round(st_y(mid.p)::numeric, 7)),
                     'geometry', st_asgeojson(c.geom, 7)::json,
                     'crash_ids', (select json_agg(cc.crash_id order by cc.crash_id)
                                   from candidate_crash cc where cc.candidate_id = c.id))
                     order by c.rank)
                 from candidate c
                 left join town t on t.id = c.town_id
                 cross join lateral (
                     select case when geometrytype(c.geom) = 'LINESTRING' then st_lineinterpolatepoint(c.geom, 0.5)
                                 else c.geom end as p) mid
                 where c.screening_run_id = r.id), '[]'::json))
         from screening_run r where r.id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Recent runs, newest first: a page of them and how many there are.
pub async fn list(pool: &PgPool, limit: i64, offset: i64) -> sqlx::Result<Value> {
    sqlx::query_scalar(
        "select json_build_object(
             'total', (select count(*) from screening_run),
             'runs', coalesce((
                 select json_agg(json_build_object(
                     'id', r.id, 'method', r.method, 'parameters', r.parameters,
                     'window', json_build_object('start', r.window_start, 'end', r.window_end),
                     'run_at', r.run_at, 'run_by', r.run_by, 'crashes_read', r.crashes_read,
                     'inputs_sha256', encode(r.inputs_sha256, 'hex'), 'candidates', r.candidates,
                     'elapsed_ms', r.elapsed_ms) order by r.id desc)
                 from (select * from screening_run order by id desc limit $1 offset $2) r), '[]'::json))",
    )
    .bind(limit)
    .bind(offset)
    .fetch_one(pool)
    .await
}
