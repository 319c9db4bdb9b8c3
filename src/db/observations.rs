//! Recording observations: idempotent by the client's id, matched to an open site within 30 m or
//! opening a new one, written in one transaction with their photos and the site's event.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::photos::{NewPhoto, PhotoOwner};
use crate::domain::auth::{Actor, SiteScope};
use crate::domain::neighbourhood::{self, AdvisoryLock, LockMode};
use crate::domain::observation::{NamedSiteRefusal, NewObservation, check_named_site};
use crate::domain::site::{REPEAT_VISIT_RADIUS_M, SiteStatus};
use crate::domain::stake::Stake;

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Stored now.
    Created,
    /// Stored before with the same content: nothing written.
    Replayed,
    /// Stored before with different content: nothing written.
    Conflict,
    /// The site the observation names (`site_id`) does not exist in the caller's scope: nothing written.
    NoSuchSite(Uuid),
    /// The named site may not be joined (another kind, not open, too far): nothing written.
    SiteRefused(NamedSiteRefusal),
}

/// The stored content hash of an observation, if it exists.
pub async fn content_hash(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Vec<u8>>> {
    sqlx::query_scalar!("select content_sha256 from observation where id = $1", id).fetch_optional(conn).await
}

/// Where an observation is recorded: who sends it, with which scope, and how far a named site may be.
pub struct RecordContext<'a> {
    pub user_id: Uuid,
    pub scope: &'a SiteScope,
    pub county_admin_code: &'a str,
    /// A named site (`site_id`) farther than this from the observed place is refused (the look-back radius).
    pub named_site_radius_m: f64,
}

/// Records one observation with its photos. Replays and conflicts are decided under the observation id's
/// lock, and site matching under the locks of the cells around the place (`domain::neighbourhood`), so two
/// phones (or one phone retrying) can never open two sites for one place or store one observation twice,
/// while uploads at different places run side by side. An observation naming its site (`site_id`) joins that
/// site, checked under the site's row lock, or nothing is written.
pub async fn record(
    pool: &PgPool,
    obs: &NewObservation,
    ctx: &RecordContext<'_>,
    content_sha256: &[u8; 32],
    photos: &[NewPhoto],
) -> sqlx::Result<Outcome> {
    let mut tx = pool.begin().await?;
    let outcome = record_in(&mut tx, obs, ctx, content_sha256, photos).await?;
    // Anything but `Created` wrote nothing the caller should keep (only locks were taken).
    if outcome == Outcome::Created {
        tx.commit().await?;
    }
    Ok(outcome)
}

/// `record` inside the caller's transaction, which commits it (when `Created`) or rolls it back: accepting a
/// public report (`db::moderation`) writes the observation and the report's decision in one transaction.
pub async fn record_in(
    tx: &mut Transaction<'_, Postgres>,
    obs: &NewObservation,
    ctx: &RecordContext<'_>,
    content_sha256: &[u8; 32],
    photos: &[NewPhoto],
) -> sqlx::Result<Outcome> {
    let (user_id, county_admin_code) = (ctx.user_id, ctx.county_admin_code);
    // Matching reads `site` and then may insert into it, which row locks cannot protect: lock the cells of
    // the grid the place's 30 m buffer touches, and the observation id for the replay check. A named site
    // needs no cells: nothing is opened, and its row lock (below) guards the join.
    let place = obs.site_id.is_none().then_some(&obs.geometry);
    take_locks(tx, &neighbourhood::upload_locks(obs.id, obs.kind, place)).await?;
    if let Some(existing) = content_hash(tx, obs.id).await? {
        return Ok(if existing == content_sha256 { Outcome::Replayed } else { Outcome::Conflict });
    }

    let geojson = obs.geometry.to_geojson();
    let found = match obs.site_id {
        Some(named) => match lock_named_site(tx, named, &geojson, ctx.scope).await? {
            None => return Ok(Outcome::NoSuchSite(named)),
            Some(site) => {
                if let Err(refusal) =
                    check_named_site(obs.kind, &site.kind, &site.status, site.distance_m, ctx.named_site_radius_m)
                {
                    return Ok(Outcome::SiteRefused(refusal));
                }
                Some(named)
            }
        },
        None => find_open_site(tx, obs, &geojson).await?,
    };
    let site_id = match found {
        Some(site_id) => {
            join_site(tx, site_id, obs).await?;
            site_id
        }
        None => open_site(tx, obs, &geojson, county_admin_code).await?,
    };

    insert(tx, site_id, obs, user_id, content_sha256, photos).await?;

    // The event that records this visit points at the observation, so it is written after it.
    write_visit_event(tx, site_id, obs, user_id).await?;

    Ok(Outcome::Created)
}

/// Takes transaction-level advisory locks in the order given (`neighbourhood::upload_locks` sorts them by key,
/// the one order every upload follows, so two uploads never each hold what the other waits for), in one
/// statement: `unnest` yields the rows in array order and each lock is taken as its row is projected.
pub async fn take_locks(tx: &mut Transaction<'_, Postgres>, locks: &[AdvisoryLock]) -> sqlx::Result<()> {
    let keys: Vec<i64> = locks.iter().map(|l| l.key).collect();
    let exclusive: Vec<bool> = locks.iter().map(|l| l.mode == LockMode::Exclusive).collect();
    sqlx::query!(
        "select case when t.exclusive then pg_advisory_xact_lock(t.key) else pg_advisory_xact_lock_shared(t.key) end
         from unnest($1::int8[], $2::bool[]) as t(key, exclusive)",
        &keys,
        &exclusive
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes the observation row and its photos.
async fn insert(
    tx: &mut Transaction<'_, Postgres>,
    site_id: Uuid,
    obs: &NewObservation,
    user_id: Uuid,
    content_sha256: &[u8; 32],
    photos: &[NewPhoto],
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into observation (id, site_id, kind, inspector, observed_at, geom, accuracy_m, source_crs,
             hazard_types, checklist, notes, route_code, stake_text, content_sha256, user_id, look_back_result,
             location_source, location_confirmed)
         values ($1, $2, $3, $4, $5, st_setsrid(st_geomfromgeojson($6), 4326), $7, $8, $9, $10, $11, $12, $13, $14,
             $15, $16, $17, $18)",
        obs.id,
        site_id,
        obs.kind.as_str(),
        obs.inspector,
        obs.observed_at,
        obs.geometry.to_geojson(),
        obs.accuracy_m.map(|a| a as f32),
        obs.source_crs.as_str(),
        &obs.hazard_types,
        // The checklist as the phone sent it: item code → state.
        sqlx::types::Json(&obs.checklist) as _,
        obs.notes,
        obs.road_code,
        obs.stake.as_ref().map(Stake::to_string),
        content_sha256.as_slice(),
        user_id,
        obs.look_back.map(|l| l.result.as_str()),
        obs.location_source.map(|l| l.as_str()),
        obs.location_confirmed
    )
    .execute(&mut **tx)
    .await?;
    for (position, photo) in photos.iter().enumerate() {
        super::photos::insert(tx, PhotoOwner::Observation(obs.id), position as i16, photo).await?;
    }
    Ok(())
}

/// Records a look-back observation on the site it re-inspects, which the caller has locked: the visit, its
/// photos and the site's visit counters. The lifecycle move (pass or relapse) and its event, which points at
/// this observation, follow in the same transaction.
pub async fn insert_look_back(
    tx: &mut Transaction<'_, Postgres>,
    site_id: Uuid,
    obs: &NewObservation,
    user_id: Uuid,
    content_sha256: &[u8; 32],
    photos: &[NewPhoto],
) -> sqlx::Result<()> {
    insert(tx, site_id, obs, user_id, content_sha256, photos).await?;
    count_visit(tx, site_id, obs).await?;
    Ok(())
}

/// How far (metres, on the ellipsoid) a place is from a site's geometry.
pub async fn distance_to_site(conn: &mut PgConnection, site_id: Uuid, geojson: &str) -> sqlx::Result<f64> {
    sqlx::query_scalar!(
        r#"select st_distance(s.geom::geography, st_setsrid(st_geomfromgeojson($2), 4326)::geography) as "distance_m!"
         from site s where s.id = $1"#,
        site_id,
        geojson
    )
    .fetch_one(conn)
    .await
}

#[derive(sqlx::FromRow)]
struct NamedSite {
    kind: String,
    status: String,
    distance_m: f64,
}

/// The site an observation names, locked, with how far it is from the observed place (metres on the
/// ellipsoid, between the nearest points); none outside the scope.
async fn lock_named_site(
    tx: &mut Transaction<'_, Postgres>,
    site_id: Uuid,
    geojson: &str,
    scope: &SiteScope,
) -> sqlx::Result<Option<NamedSite>> {
    let sql = format!(
        "select s.kind, s.status,
             st_distance(s.geom::geography, st_setsrid(st_geomfromgeojson($2), 4326)::geography) as distance_m
         from site s where s.id = $1 and {} for update",
        super::sites::scope_condition(3)
    );
    super::sites::bind_scope(sqlx::query_as(&sql).bind(site_id).bind(geojson), scope).fetch_optional(&mut **tx).await
}

async fn find_open_site(
    tx: &mut Transaction<'_, Postgres>,
    obs: &NewObservation,
    geojson: &str,
) -> sqlx::Result<Option<Uuid>> {
    // Points: geodesic distance. Sections: the two lines must lie within the radius of each other
    // everywhere (Hausdorff distance, measured in metres in the Gauss-Krüger zone of the new line, `metric_srid`), not merely touch.
    sqlx::query_scalar!(
        "with g as (select st_setsrid(st_geomfromgeojson($1), 4326) as geom)
         select s.id from site s, g
         where s.kind = $2 and s.status = any($3)
           and st_dwithin(s.geom::geography, g.geom::geography, $4)
           and ($5 = false or st_hausdorffdistance(st_transform(s.geom, metric_srid(g.geom)), st_transform(g.geom, metric_srid(g.geom))) <= $4)
         order by s.geom::geography <-> g.geom::geography, s.created_at
         limit 1",
        geojson,
        obs.kind.as_str(),
        &SiteStatus::open_codes() as &[&str],
        REPEAT_VISIT_RADIUS_M,
        obs.kind.is_line()
    )
    .fetch_optional(&mut **tx)
    .await
}

async fn join_site(tx: &mut Transaction<'_, Postgres>, site_id: Uuid, obs: &NewObservation) -> sqlx::Result<()> {
    let newest = count_visit(tx, site_id, obs).await?;
    // The site's checklist shows the latest visit; an older visit uploaded late does not roll it back, and
    // only a reviewer's acceptance sets or clears `verified`.
    if newest {
        sqlx::query!(
            "update site_checklist_item i set
                 state = j.value,
                 reason = case when j.value = 'not_applicable' then '巡查员现场判定不适用' end,
                 updated_at = now()
             from jsonb_each_text($2) j
             where i.site_id = $1 and i.item_code = j.key and i.state <> 'verified'",
            site_id,
            sqlx::types::Json(&obs.checklist) as _
        )
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Counts a visit on its site: first and last seen, visits, hazard types. True when this is the newest visit.
async fn count_visit(tx: &mut Transaction<'_, Postgres>, site_id: Uuid, obs: &NewObservation) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"update site set
             first_observed_at = least(first_observed_at, $2),
             last_observed_at = greatest(last_observed_at, $2),
             observation_count = observation_count + 1,
             hazard_types = array(select distinct h from unnest(hazard_types || $3::text[]) h order by h),
             updated_at = now(),
             version = version + 1
         where id = $1
         returning last_observed_at = $2 as "newest!""#,
        site_id,
        obs.observed_at,
        &obs.hazard_types
    )
    .fetch_one(&mut **tx)
    .await
}

/// The road a site lies on and where along it: the named route, or else the nearest road within the
/// repeat-visit radius. Stakes are read off the road's calibrated measure, corrected by chainage breaks; the
/// rule is the SQL function `road_match` (migrations/0005), which a road re-import applies too.
struct RoadMatch {
    road_id: i32,
    route_code: Option<String>,
    stake_m: Option<f64>,
    end_stake_m: Option<f64>,
}

async fn match_road(
    tx: &mut Transaction<'_, Postgres>,
    obs: &NewObservation,
    geojson: &str,
    county_admin_code: &str,
) -> sqlx::Result<Option<RoadMatch>> {
    sqlx::query_as!(
        RoadMatch,
        r#"select road_id as "road_id!", route_code, stake_m, end_stake_m
         from road_match(st_setsrid(st_geomfromgeojson($1), 4326), $2, $3, $4)"#,
        geojson,
        obs.road_code,
        county_admin_code,
        REPEAT_VISIT_RADIUS_M
    )
    .fetch_optional(&mut **tx)
    .await
}

async fn open_site(
    tx: &mut Transaction<'_, Postgres>,
    obs: &NewObservation,
    geojson: &str,
    county_admin_code: &str,
) -> sqlx::Result<Uuid> {
    let road = match_road(tx, obs, geojson, county_admin_code).await?;
    let derived = |m: Option<f64>| m.and_then(Stake::derived);
    let (stake, end_stake) = match (&obs.stake, &road) {
        (Some(given), _) => (Some(given.clone()), None),
        (None, Some(r)) => (derived(r.stake_m), if obs.kind.is_line() { derived(r.end_stake_m) } else { None }),
        (None, None) => (None, None),
    };
    let route_code = obs.road_code.clone().or_else(|| road.as_ref().and_then(|r| r.route_code.clone()));

    let site_id = sqlx::query_scalar!(
        "with g as (select st_setsrid(st_geomfromgeojson($2), 4326) as geom)
         insert into site (kind, geom, town_id, road_id, route_code, stake_m, stake_text, end_stake_m,
             end_stake_text, template_code, hazard_types, first_observed_at, last_observed_at, observation_count,
             source)
         select $1, g.geom,
             (select t.id from town t
              where st_intersects(t.boundary,
                  case when geometrytype(g.geom) = 'LINESTRING' then st_lineinterpolatepoint(g.geom, 0.5) else g.geom end)
              order by t.id limit 1),
             $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, 1, $12
         from g
         returning id",
        obs.kind.as_str(),
        geojson,
        road.as_ref().map(|r| r.road_id),
        route_code,
        stake.as_ref().map(|s| s.metres),
        stake.as_ref().map(Stake::to_string),
        end_stake.as_ref().map(|s| s.metres),
        end_stake.as_ref().map(Stake::to_string),
        obs.kind.template_code(),
        &obs.hazard_types,
        obs.observed_at,
        obs.source.as_str()
    )
    .fetch_one(&mut **tx)
    .await?;

    sqlx::query!(
        "insert into site_checklist_item (site_id, template_code, item_code, state, reason)
         select $1, t.template_code, t.code, coalesce($3::jsonb ->> t.code, 'missing'),
             case when $3::jsonb ->> t.code = 'not_applicable' then '巡查员现场判定不适用' end
         from checklist_template_item t where t.template_code = $2",
        site_id,
        obs.kind.template_code(),
        sqlx::types::Json(&obs.checklist) as _
    )
    .execute(&mut **tx)
    .await?;
    Ok(site_id)
}

/// `opened` for the observation that opened the site, `observed` for a repeat visit.
async fn write_visit_event(
    tx: &mut Transaction<'_, Postgres>,
    site_id: Uuid,
    obs: &NewObservation,
    user_id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into site_event (site_id, actor, kind, from_status, to_status, data, observation_id, actor_user_id)
         select $1, $2,
             case when s.observation_count = 1 then 'opened' else 'observed' end,
             case when s.observation_count = 1 then null else s.status end,
             case when s.observation_count = 1 then s.status end,
             jsonb_build_object('observed_at', $4::timestamptz, 'hazard_types', $5::text[]),
             $3, $6
         from site s where s.id = $1",
        site_id,
        obs.inspector,
        obs.id,
        obs.observed_at,
        &obs.hazard_types,
        user_id
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An observation as the API shows it.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct ObservationView {
    pub id: Uuid,
    pub site_id: Uuid,
    pub kind: String,
    pub inspector: String,
    pub observed_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub geometry: sqlx::types::Json<serde_json::Value>,
    pub accuracy_m: Option<f32>,
    pub source_crs: String,
    pub hazard_types: Vec<String>,
    pub checklist: sqlx::types::Json<serde_json::Value>,
    pub notes: String,
    pub road_code: Option<String>,
    pub stake: Option<String>,
    /// `opened` when this observation opened its site, `joined` when it was a repeat visit, `look_back` when
    /// it re-inspected a closed site.
    pub site_match: String,
    /// What a look-back found: `pass` or `relapse`.
    pub look_back_result: Option<String>,
    /// `gps` (the phone's fix) or `map` (placed by hand); null when the phone did not say.
    pub location_source: Option<String>,
    /// The fix was stale or coarse and the inspector confirmed the place before queueing.
    pub location_confirmed: bool,
}

pub async fn get(pool: &PgPool, id: Uuid, scope: &SiteScope) -> sqlx::Result<Option<ObservationView>> {
    let sql = format!(
        "select o.id, o.site_id, o.kind, o.inspector, o.observed_at, o.received_at,
             st_asgeojson(o.geom, 9)::json as geometry, o.accuracy_m, o.source_crs, o.hazard_types, o.checklist,
             o.notes, o.route_code as road_code, o.stake_text as stake,
             case when o.look_back_result is not null then 'look_back'
                  when exists (select 1 from site_event e where e.observation_id = o.id and e.kind = 'opened')
                  then 'opened' else 'joined' end as site_match,
             o.look_back_result, o.location_source, o.location_confirmed
         from observation o join site s on s.id = o.site_id
         where o.id = $1 and {}",
        super::sites::scope_condition(2)
    );
    super::sites::bind_scope(sqlx::query_as(&sql).bind(id), scope).fetch_optional(pool).await
}

/// Who recorded an observation and when it arrived, if the user may see it.
pub async fn author(pool: &PgPool, id: Uuid, scope: &SiteScope) -> sqlx::Result<Option<(Uuid, DateTime<Utc>)>> {
    let sql = format!(
        "select o.user_id, o.received_at from observation o join site s on s.id = o.site_id
         where o.id = $1 and {}",
        super::sites::scope_condition(2)
    );
    super::sites::bind_scope(sqlx::query_as(&sql).bind(id), scope).fetch_optional(pool).await
}

/// Corrects an observation's notes and/or hazard types; the site's hazard types follow, and an
/// `observation_edited` event keeps both versions.
pub async fn edit(
    pool: &PgPool,
    id: Uuid,
    actor: &Actor,
    notes: Option<&str>,
    hazard_types: Option<&[String]>,
) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    let old = sqlx::query!("select site_id, notes, hazard_types from observation where id = $1 for update", id)
        .fetch_one(&mut *tx)
        .await?;
    let (site_id, old_notes, old_types) = (old.site_id, old.notes, old.hazard_types);
    sqlx::query!(
        "update observation set notes = coalesce($2, notes), hazard_types = coalesce($3, hazard_types) where id = $1",
        id,
        notes,
        hazard_types
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "update site set
             hazard_types = array(select distinct h from observation o, unnest(o.hazard_types) h
                                  where o.site_id = $1 order by h),
             updated_at = now(), version = version + 1
         where id = $1",
        site_id
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "insert into site_event (site_id, actor, actor_user_id, kind, data, observation_id)
         values ($1, $2, $3, 'observation_edited', $4, $5)",
        site_id,
        actor.display_name,
        actor.user_id,
        serde_json::json!({
            "before": {"notes": old_notes, "hazard_types": old_types},
            "after": {"notes": notes, "hazard_types": hazard_types},
        }),
        id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// A photo as the API shows it, with its stable URLs.
#[derive(Debug, Serialize)]
pub struct PhotoView {
    pub id: Uuid,
    pub observation_id: Uuid,
    pub position: i16,
    pub sha256: String,
    pub content_type: String,
    pub bytes: i32,
    pub width: i32,
    pub height: i32,
    pub exif_taken_at: Option<NaiveDateTime>,
    pub exif_location: Option<sqlx::types::Json<serde_json::Value>>,
    pub exif_direction_deg: Option<f32>,
    pub exif_orientation: Option<i16>,
    pub url: String,
    pub thumbnail_url: String,
    pub thumbnail_width: i32,
    pub thumbnail_height: i32,
    /// What the phone read from the original before resizing it (`photo_evidence` of the upload).
    pub original_taken_at: Option<NaiveDateTime>,
    pub original_utc_offset_s: Option<i32>,
    pub original_location: Option<sqlx::types::Json<serde_json::Value>>,
    pub original_direction_deg: Option<f32>,
    pub original_device: Option<String>,
    pub original_bytes: Option<i64>,
    pub original_width: Option<i32>,
    pub original_height: Option<i32>,
    /// Where the photo does not fit its observation (`domain::photo_evidence::EvidenceFlag`).
    pub evidence_flags: sqlx::types::Json<serde_json::Value>,
}

pub async fn photos(pool: &PgPool, observation_id: Uuid) -> sqlx::Result<Vec<PhotoView>> {
    sqlx::query_as!(
        PhotoView,
        r#"select p.id, p.observation_id as "observation_id!", p.position, encode(p.sha256, 'hex') as "sha256!",
             p.content_type, p.bytes, p.width, p.height, p.exif_taken_at,
             st_asgeojson(p.exif_location, 7)::json as "exif_location: sqlx::types::Json<serde_json::Value>",
             p.exif_direction_deg, p.exif_orientation,
             '/api/v1/photos/' || encode(p.sha256, 'hex') as "url!",
             '/api/v1/photos/' || encode(p.sha256, 'hex') || '/thumbnail' as "thumbnail_url!",
             p.thumbnail_width, p.thumbnail_height, p.original_taken_at, p.original_utc_offset_s,
             st_asgeojson(p.original_location, 7)::json as "original_location: sqlx::types::Json<serde_json::Value>",
             p.original_direction_deg, p.original_device, p.original_bytes, p.original_width, p.original_height,
             p.evidence_flags as "evidence_flags: sqlx::types::Json<serde_json::Value>"
         from photo p where p.observation_id = $1 order by p.position"#,
        observation_id
    )
    .fetch_all(pool)
    .await
}
