//! Detections and the candidates queue (issue 12 parts 4 and 5): a detection is stored with its candidate in
//! one transaction, idempotent by the sender's id; candidates are listed, read with what stands behind them
//! (crashes or the detection), and decided by a person: confirmed into the ledger (a new site, or an open site
//! within 50 m linked) or dismissed with a reason, each under the candidate's row lock.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::domain::auth::Actor;
use crate::domain::crash::{CONFIRM_LINK_RADIUS_M, CandidateSource};
use crate::domain::detection::NewDetection;
use crate::domain::lifecycle::RecordKind;
use crate::domain::site::{REPEAT_VISIT_RADIUS_M, SiteKind, SiteStatus};
use crate::domain::stake::Stake;

/// A detection's image, already in the photo store under content-addressed keys.
#[derive(Debug, Clone)]
pub struct DetectionImage {
    pub sha256: [u8; 32],
    pub key: String,
    pub thumbnail_key: String,
    pub width: i32,
    pub height: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// Stored now, with its candidate.
    Created,
    /// Stored before with the same content: nothing written.
    Replayed,
    /// Stored before with other content: nothing written.
    Conflict,
}

/// Stores a detection and its candidate (source = the platform, kind spot, score = confidence, town, road and
/// stake derived like a site's). The replay check runs under a transaction lock on the detection's id, so two
/// retries racing each other store it once.
pub async fn record_detection(
    pool: &PgPool,
    d: &NewDetection,
    sent_by: &str,
    image: Option<&DetectionImage>,
    content_sha256: &[u8; 32],
    county_admin_code: &str,
) -> sqlx::Result<Recorded> {
    let mut tx = pool.begin().await?;
    sqlx::query!("select pg_advisory_xact_lock(hashtextextended('detection:' || $1::uuid::text, 0))", d.id)
        .execute(&mut *tx)
        .await?;
    if let Some(stored) =
        sqlx::query_scalar!("select content_sha256 from detection where id = $1", d.id).fetch_optional(&mut *tx).await?
    {
        return Ok(if stored == content_sha256 { Recorded::Replayed } else { Recorded::Conflict });
    }
    sqlx::query!(
        "insert into detection (id, platform, sent_by, detected_at, geom, source_crs, hazard_type, label, confidence,
             image_sha256, image_key, thumbnail_key, image_width, image_height, content_sha256)
         values ($1, $2, $3, $4, st_setsrid(st_makepoint($5, $6), 4326), $7, $8, $9, $10, $11, $12, $13, $14, $15,
             $16)",
        d.id,
        d.platform.as_str(),
        sent_by,
        d.detected_at,
        d.lon,
        d.lat,
        d.crs.as_str(),
        d.hazard_type,
        d.label,
        d.confidence as f32,
        image.map(|i| i.sha256.as_slice()),
        image.map(|i| i.key.as_str()),
        image.map(|i| i.thumbnail_key.as_str()),
        image.map(|i| i.width),
        image.map(|i| i.height),
        content_sha256.as_slice()
    )
    .execute(&mut *tx)
    .await?;
    // The candidate's place is derived as a new site's is (`db::observations::open_site`): the town from the
    // boundaries, the road and stake from `road_match` within the repeat-visit radius.
    sqlx::query!(
        "with g as (select st_setsrid(st_makepoint($3, $4), 4326) as geom),
              r as (select m.* from g, road_match(g.geom, null, $6, $7) m)
         insert into candidate (source, detection_id, kind, geom, town_id, road_id, route_code, stake_m, score)
         select $1, $2, 'spot', g.geom,
             (select t.id from town t where st_intersects(t.boundary, g.geom) order by t.id limit 1),
             (select road_id from r), (select route_code from r), (select stake_m from r), $5
         from g",
        CandidateSource::from(d.platform).as_str(),
        d.id,
        d.lon,
        d.lat,
        d.confidence,
        county_admin_code,
        REPEAT_VISIT_RADIUS_M
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Recorded::Created)
}

/// The stored content hash of a detection, if it exists (a replay check before anything else is done).
pub async fn detection_content_hash(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<Vec<u8>>> {
    sqlx::query_scalar!("select content_sha256 from detection where id = $1", id).fetch_optional(pool).await
}

/// A detection as the API answers it, with its candidate and image links.
pub async fn detection(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<Value>> {
    sqlx::query_scalar!(
        r#"select json_build_object(
             'id', d.id, 'platform', d.platform, 'detected_at', d.detected_at, 'received_at', d.received_at,
             'geometry', st_asgeojson(d.geom, 7)::json, 'source_crs', d.source_crs, 'label', d.label,
             'hazard_type', d.hazard_type, 'confidence', d.confidence, 'sent_by', d.sent_by,
             'image_url', case when d.image_key is not null then '/api/v1/detections/' || d.id || '/image' end,
             'thumbnail_url', case when d.image_key is not null then '/api/v1/detections/' || d.id || '/thumbnail' end,
             'image_width', d.image_width, 'image_height', d.image_height,
             'candidate', json_build_object('id', c.id, 'status', c.status, 'score', c.score))::jsonb
             as "body!: Value"
         from detection d join candidate c on c.detection_id = d.id
         where d.id = $1"#,
        id
    )
    .fetch_optional(pool)
    .await
}

/// Where a detection's image and thumbnail are kept, if it has an image.
pub async fn image_keys(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<(String, String, Vec<u8>)>> {
    let row = sqlx::query!(
        r#"select image_key as "image_key!", thumbnail_key as "thumbnail_key!", image_sha256 as "image_sha256!"
         from detection where id = $1 and image_key is not null"#,
        id
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.image_key, r.thumbnail_key, r.image_sha256)))
}

/// Which candidates a list asks for. `None` means "any"; `town_scope` is the caller's (`Actor::candidate_town`).
#[derive(Debug, Clone, Default)]
pub struct CandidateFilter {
    pub status: Option<String>,
    pub source: Option<String>,
    pub kind: Option<String>,
    pub town_code: Option<String>,
    pub bbox: Option<[f64; 4]>,
    /// Every candidate below this score is left out; `None`: detections below `detection_min_confidence`.
    pub min_score: Option<f64>,
    pub detection_min_confidence: f64,
    pub town_scope: Option<Option<i32>>,
    pub limit: i64,
    /// Keyset paging: the (score, id) of the last candidate of the previous page.
    pub after: Option<(f64, i64)>,
}

/// Candidates as a GeoJSON FeatureCollection, best score first (ties by id), built by PostgreSQL. Returns the
/// collection and the cursor of its last feature when the page is full.
pub async fn list(pool: &PgPool, f: &CandidateFilter) -> sqlx::Result<(String, Option<(f64, i64)>)> {
    let (town_all, town_id) = match f.town_scope {
        None => (true, None),
        Some(t) => (false, t),
    };
    let bbox = f.bbox.map(|b| b.to_vec());
    let row = sqlx::query!(
        r#"with page as (
             select c.*, t.name as town_name, t.admin_code as town_code
             from candidate c left join town t on t.id = c.town_id
             where ($1::text is null or c.status = $1)
               and ($2::text is null or c.source = $2)
               and ($3::text is null or c.kind = $3)
               and ($4::text is null or t.admin_code = $4)
               and ($5::float8[] is null or c.geom && st_makeenvelope($5[1], $5[2], $5[3], $5[4], 4326))
               and c.score >= coalesce($6, case when c.detection_id is null then '-infinity'::float8 else $7 end)
               and ($8 or c.town_id = $9)
               and ($10::float8 is null or c.score < $10 or (c.score = $10 and c.id > $11))
             order by c.score desc, c.id
             limit $12)
         select
             json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object(
                 'type', 'Feature', 'id', p.id,
                 'geometry', st_asgeojson(p.geom, 7)::json,
                 'properties', json_build_object(
                     'id', p.id, 'source', p.source, 'kind', p.kind, 'status', p.status, 'score', p.score,
                     'rank', p.rank, 'crash_count', p.crash_count, 'deaths', p.deaths, 'injuries', p.injuries,
                     'dominant_crash_type', p.dominant_crash_type, 'dominant_time_band', p.dominant_time_band,
                     'town', p.town_name, 'town_code', p.town_code, 'road_code', p.route_code,
                     'stake_m', p.stake_m, 'end_stake_m', p.end_stake_m,
                     'screening_run_id', p.screening_run_id, 'detection_id', p.detection_id,
                     'thumbnail_url', (select '/api/v1/detections/' || d.id || '/thumbnail' from detection d
                                       where d.id = p.detection_id and d.image_key is not null),
                     'label', (select d.label from detection d where d.id = p.detection_id),
                     'site_id', p.site_id, 'created_at', p.created_at))
                 order by p.score desc, p.id), '[]'::json))::text as "body!",
             count(*) as "count!",
             (array_agg(p.score order by p.score desc, p.id))[count(*)] as last_score,
             (array_agg(p.id order by p.score desc, p.id))[count(*)] as last_id
         from page p"#,
        f.status,
        f.source,
        f.kind,
        f.town_code,
        bbox.as_deref(),
        f.min_score,
        f.detection_min_confidence,
        town_all,
        town_id,
        f.after.map(|a| a.0),
        f.after.map(|a| a.1),
        f.limit
    )
    .fetch_one(pool)
    .await?;
    let next = match (row.count == f.limit, row.last_score, row.last_id) {
        (true, Some(score), Some(id)) => Some((score, id)),
        _ => None,
    };
    Ok((row.body, next))
}

/// One candidate with what stands behind it: its crashes (newest first, at most 500) or its detection. `None`
/// outside the caller's town scope.
pub async fn detail(pool: &PgPool, id: i64, town_scope: Option<Option<i32>>) -> sqlx::Result<Option<Value>> {
    let (town_all, town_id) = match town_scope {
        None => (true, None),
        Some(t) => (false, t),
    };
    sqlx::query_scalar!(
        r#"select json_build_object(
             'type', 'Feature', 'id', c.id, 'geometry', st_asgeojson(c.geom, 7)::json,
             'properties', json_build_object(
                 'id', c.id, 'source', c.source, 'kind', c.kind, 'status', c.status, 'score', c.score,
                 'rank', c.rank, 'crash_count', c.crash_count, 'deaths', c.deaths, 'injuries', c.injuries,
                 'dominant_crash_type', c.dominant_crash_type, 'dominant_time_band', c.dominant_time_band,
                 'town', t.name, 'town_code', t.admin_code, 'road_code', c.route_code, 'stake_m', c.stake_m,
                 'end_stake_m', c.end_stake_m, 'screening_run_id', c.screening_run_id,
                 'decided_at', c.decided_at, 'decided_by', c.decided_by, 'reason', c.reason,
                 'site_id', c.site_id, 'site_code', (select s.code from site s where s.id = c.site_id),
                 'created_at', c.created_at,
                 'pdf_url', '/api/v1/candidates/' || c.id || '/sheet.pdf',
                 'crashes', coalesce((
                     select json_agg(x order by x.occurred_at desc) from (
                         select k.id, k.occurred_at, k.severity, k.crash_type, k.deaths,
                             k.serious_injuries + k.slight_injuries as injuries, k.weather, k.light, k.summary,
                             crash_time_band(k.occurred_at) as time_band
                         from candidate_crash cc join crash k on k.id = cc.crash_id
                         where cc.candidate_id = c.id
                         order by k.occurred_at desc limit 500) x), '[]'::json),
                 'detection', (
                     select json_build_object(
                         'id', d.id, 'platform', d.platform, 'detected_at', d.detected_at, 'label', d.label,
                         'hazard_type', d.hazard_type, 'confidence', d.confidence, 'sent_by', d.sent_by,
                         'image_url', case when d.image_key is not null then '/api/v1/detections/' || d.id || '/image' end,
                         'thumbnail_url', case when d.image_key is not null
                                          then '/api/v1/detections/' || d.id || '/thumbnail' end)
                     from detection d where d.id = c.detection_id)))::jsonb as "body!: Value"
         from candidate c left join town t on t.id = c.town_id
         where c.id = $1 and ($2 or c.town_id = $3)"#,
        id,
        town_all,
        town_id
    )
    .fetch_optional(pool)
    .await
}

/// The open sites of the candidate's kind within `CONFIRM_LINK_RADIUS_M` of it, nearest first: what a
/// confirmation may link instead of opening a new site.
pub async fn nearby_sites(conn: &mut PgConnection, id: i64) -> sqlx::Result<Value> {
    sqlx::query_scalar!(
        r#"select coalesce(json_agg(n order by n.distance_m, n.code), '[]'::json)::jsonb as "sites!: Value" from (
             select s.id, s.code, s.kind, s.status, s.source, t.name as town, s.route_code as road_code,
                 s.stake_text as stake,
                 round(st_distance(s.geom::geography, c.geom::geography)::numeric, 1)::float8 as distance_m
             from candidate c join site s on s.kind = c.kind and s.status = any($2)
                 and st_dwithin(s.geom::geography, c.geom::geography, $3)
             left join town t on t.id = s.town_id
             where c.id = $1
             order by st_distance(s.geom::geography, c.geom::geography), s.code
             limit 20) n"#,
        id,
        &SiteStatus::open_codes() as &[&str],
        CONFIRM_LINK_RADIUS_M
    )
    .fetch_one(conn)
    .await
}

/// What a dispatcher decides about an open candidate.
#[derive(Debug, Clone)]
pub enum Decision {
    /// Open a new site for it.
    OpenSite,
    /// Link it to this open site of its kind within 50 m.
    LinkSite(Uuid),
    /// Not a hazard: the reason says why.
    Dismiss(String),
}

/// Why a decision was refused; nothing is written.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    NoSuchCandidate,
    /// Someone decided it already.
    AlreadyDecided {
        status: String,
        decided_by: Option<String>,
    },
    NoSuchSite(Uuid),
    /// The site to link is not open, not of the candidate's kind, or too far.
    SiteNotLinkable {
        reason: &'static str,
        distance_m: f64,
    },
}

struct Locked {
    source: String,
    kind: String,
    status: String,
    decided_by: Option<String>,
    geojson: String,
    town_id: Option<i32>,
    road_id: Option<i32>,
    route_code: Option<String>,
    stake_m: Option<f64>,
    end_stake_m: Option<f64>,
    hazard_type: Option<String>,
    found_at: DateTime<Utc>,
}

/// Decides an open candidate in one transaction under its row lock: the candidate's row, and for a
/// confirmation the site it opens (with its checklist and `opened` event naming the candidate) or the site it
/// links (locked, checked, with a `candidate_linked` event). Returns the site's id for a confirmation.
pub async fn decide(
    pool: &PgPool,
    id: i64,
    decision: &Decision,
    actor: &Actor,
    town_scope: Option<Option<i32>>,
) -> sqlx::Result<Result<Option<Uuid>, Refusal>> {
    let (town_all, town_id) = match town_scope {
        None => (true, None),
        Some(t) => (false, t),
    };
    let mut tx = pool.begin().await?;
    let Some(c) = sqlx::query_as!(
        Locked,
        r#"select c.source, c.kind, c.status, c.decided_by, st_asgeojson(c.geom, 9) as "geojson!", c.town_id,
             c.road_id, c.route_code, c.stake_m, c.end_stake_m,
             (select d.hazard_type from detection d where d.id = c.detection_id) as hazard_type,
             coalesce((select d.detected_at from detection d where d.id = c.detection_id),
                      (select max(k.occurred_at) from candidate_crash cc join crash k on k.id = cc.crash_id
                       where cc.candidate_id = c.id),
                      c.created_at) as "found_at!"
         from candidate c where c.id = $1 and ($2 or c.town_id = $3) for update of c"#,
        id,
        town_all,
        town_id
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(Err(Refusal::NoSuchCandidate));
    };
    if c.status != "open" {
        return Ok(Err(Refusal::AlreadyDecided { status: c.status, decided_by: c.decided_by }));
    }
    let (status, reason, site_id) = match decision {
        Decision::Dismiss(reason) => ("dismissed", Some(reason.as_str()), None),
        Decision::LinkSite(site_id) => {
            if let Err(refusal) = link_site(&mut tx, id, &c, *site_id, actor).await? {
                return Ok(Err(refusal));
            }
            ("confirmed", None, Some(*site_id))
        }
        Decision::OpenSite => ("confirmed", None, Some(open_site(&mut tx, id, &c, actor).await?)),
    };
    sqlx::query!(
        "update candidate set status = $2, decided_at = now(), decided_by = $3, reason = $4, site_id = $5
         where id = $1",
        id,
        status,
        actor.display_name,
        reason,
        site_id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Ok(site_id))
}

async fn link_site(
    tx: &mut Transaction<'_, Postgres>,
    id: i64,
    c: &Locked,
    site_id: Uuid,
    actor: &Actor,
) -> sqlx::Result<Result<(), Refusal>> {
    let Some(site) = sqlx::query!(
        r#"select s.kind, s.status,
             st_distance(s.geom::geography, st_setsrid(st_geomfromgeojson($2), 4326)::geography) as "distance_m!"
         from site s where s.id = $1 for update"#,
        site_id,
        c.geojson
    )
    .fetch_optional(&mut **tx)
    .await?
    else {
        return Ok(Err(Refusal::NoSuchSite(site_id)));
    };
    let open = site.status.parse::<SiteStatus>().is_ok_and(SiteStatus::is_open);
    let reason = if site.kind != c.kind {
        Some("site_other_kind")
    } else if !open {
        Some("site_not_open")
    } else if site.distance_m > CONFIRM_LINK_RADIUS_M {
        Some("site_too_far")
    } else {
        None
    };
    if let Some(reason) = reason {
        return Ok(Err(Refusal::SiteNotLinkable { reason, distance_m: site.distance_m }));
    }
    sqlx::query!(
        "update site set hazard_types = array(select distinct h from unnest(hazard_types || $2::text[]) h order by h),
             updated_at = now(), version = version + 1
         where id = $1",
        site_id,
        &c.hazard_type.iter().cloned().collect::<Vec<_>>()
    )
    .execute(&mut **tx)
    .await?;
    write_event(tx, site_id, RecordKind::CandidateLinked, id, &c.source, actor).await?;
    Ok(Ok(()))
}

/// Opens a site for a confirmed candidate: status `reported` like every new site, whatever found it (the
/// dispatcher's next move, verify, sets its level and mode through the lifecycle), its source the candidate's,
/// its place, town, road and stakes the candidate's (derived when the candidate was made), its checklist all
/// missing, and an `opened` event naming the candidate so reports count it as found.
async fn open_site(tx: &mut Transaction<'_, Postgres>, id: i64, c: &Locked, actor: &Actor) -> sqlx::Result<Uuid> {
    let kind: SiteKind = c.kind.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let stake = c.stake_m.and_then(Stake::derived);
    let end_stake = if kind.is_line() { c.end_stake_m.and_then(Stake::derived) } else { None };
    let hazard_types: Vec<String> = c.hazard_type.iter().cloned().collect();
    let site_id = sqlx::query_scalar!(
        "insert into site (kind, geom, town_id, road_id, route_code, stake_m, stake_text, end_stake_m,
             end_stake_text, template_code, hazard_types, source, first_observed_at, last_observed_at,
             observation_count)
         values ($1, st_setsrid(st_geomfromgeojson($2), 4326), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, 0)
         returning id",
        kind.as_str(),
        c.geojson,
        c.town_id,
        c.road_id,
        c.route_code,
        stake.as_ref().map(|s| s.metres),
        stake.as_ref().map(Stake::to_string),
        end_stake.as_ref().map(|s| s.metres),
        end_stake.as_ref().map(Stake::to_string),
        kind.template_code(),
        &hazard_types,
        c.source,
        c.found_at
    )
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query!(
        "insert into site_checklist_item (site_id, template_code, item_code, state)
         select $1, t.template_code, t.code, 'missing' from checklist_template_item t where t.template_code = $2",
        site_id,
        kind.template_code()
    )
    .execute(&mut **tx)
    .await?;
    write_event(tx, site_id, RecordKind::Opened, id, &c.source, actor).await?;
    Ok(site_id)
}

/// The site event of a confirmation, naming the candidate and its source: `opened` (with the status the site
/// opened in) for a new site, `candidate_linked` for an open site it joined.
async fn write_event(
    tx: &mut Transaction<'_, Postgres>,
    site_id: Uuid,
    kind: RecordKind,
    candidate_id: i64,
    source: &str,
    actor: &Actor,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into site_event (site_id, actor, actor_user_id, kind, to_status, data)
         select $1, $2, $3, $4, case when $4 = 'opened' then s.status end,
             jsonb_build_object('candidate_id', $5::int8, 'source', $6::text, 'hazard_types', s.hazard_types)
         from site s where s.id = $1",
        site_id,
        actor.display_name,
        actor.user_id,
        kind.as_str(),
        candidate_id,
        source
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Crashes within this distance of a site count in its before/after comparison (the link radius: what a
/// confirmation treats as the same place).
pub const BEFORE_AFTER_RADIUS_M: f64 = CONFIRM_LINK_RADIUS_M;
/// The comparison's periods are at most this long (three years, the usual black-spot window).
pub const BEFORE_AFTER_DAYS_MAX: i32 = 3 * 365;

/// A site's crashes (the crashes behind the candidates confirmed into it, newest first, at most 500) and,
/// once it is closed, the crashes within `BEFORE_AFTER_RADIUS_M` before and after the treatment: equal
/// periods either side, as many days before the first dispatch as have passed since the last close, capped
/// at `BEFORE_AFTER_DAYS_MAX`. The caller checks the site is in the user's scope.
pub async fn site_crashes(pool: &PgPool, site_id: Uuid) -> sqlx::Result<Value> {
    sqlx::query_scalar!(
        r#"with s as (select * from site where id = $1),
              closed as (
                  select max(e.at) as at from site_event e, s
                  where e.site_id = s.id and e.kind = 'approve' and s.status = 'closed'),
              treated as (
                  select coalesce(min(e.at), (select created_at from s)) as at from site_event e
                  where e.site_id = $1 and e.kind in ('dispatch', 'dispatched')),
              span as (
                  select closed.at as closed_at, treated.at as treated_at,
                      least(greatest(extract(epoch from now() - closed.at) / 86400, 0), $3::int)::int as days
                  from closed, treated where closed.at is not null),
              near as (
                  select k.* from crash k, s where st_dwithin(k.geom::geography, s.geom::geography, $2)),
              counts as (
                  select span.*,
                      (select json_build_object('from', span.treated_at - make_interval(days => span.days),
                           'to', span.treated_at, 'crashes', count(*), 'deaths', coalesce(sum(deaths), 0),
                           'injuries', coalesce(sum(serious_injuries + slight_injuries), 0))
                       from near where occurred_at >= span.treated_at - make_interval(days => span.days)
                           and occurred_at < span.treated_at) as before,
                      (select json_build_object('from', span.closed_at,
                           'to', span.closed_at + make_interval(days => span.days),
                           'crashes', count(*), 'deaths', coalesce(sum(deaths), 0),
                           'injuries', coalesce(sum(serious_injuries + slight_injuries), 0))
                       from near where occurred_at >= span.closed_at
                           and occurred_at < span.closed_at + make_interval(days => span.days)) as after
                  from span)
         select json_build_object(
             'crashes', coalesce((
                 select json_agg(x order by x.occurred_at desc) from (
                     select distinct on (k.id) k.id, k.occurred_at, k.severity, k.crash_type, k.deaths,
                         k.serious_injuries + k.slight_injuries as injuries, k.summary,
                         crash_time_band(k.occurred_at) as time_band, c.id as candidate_id
                     from candidate c join candidate_crash cc on cc.candidate_id = c.id
                     join crash k on k.id = cc.crash_id
                     where c.site_id = $1 and c.status = 'confirmed'
                     order by k.id, c.id
                     limit 500) x), '[]'::json),
             'before_after', (select json_build_object('closed_at', closed_at, 'treated_at', treated_at,
                 'days', days, 'radius_m', $2::float8, 'before', before, 'after', after) from counts))::jsonb
             as "body!: Value""#,
        site_id,
        BEFORE_AFTER_RADIUS_M,
        BEFORE_AFTER_DAYS_MAX
    )
    .fetch_one(pool)
    .await
}
