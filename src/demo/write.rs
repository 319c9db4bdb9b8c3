//! Writing the demo dataset: bulk inserts of column arrays through `unnest`, a thousand rows a statement,
//! all on the caller's transaction.
//!
//! Towns and stakes are not taken from the generator: as for a real observation (db/observations.rs), the
//! town comes from `st_intersects` with the boundaries and the stake from the road's calibrated measure
//! (`road_stake_at`), corrected by the chainage breaks.

use std::collections::HashMap;

use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::photos::PhotoOwner;
use crate::domain::lifecycle::Supervision;

use super::crashes::DemoCrash;
use super::ledger::{
    Catalogue, Event, Evidence, Extension, Item, LookBackTask, Observation, Photo, Site, TemplateItem,
};
use super::names::{self, Organisation};
use super::plan;
use super::plane;
use super::roads::{COUNTY_ADMIN_CODE, ChainageBreak, Road};
use super::towns::Town;

const BATCH_ROWS: usize = 1_000;

/// A picture as stored in the photo store, for photo rows.
#[derive(Debug, Clone)]
pub struct StoredPicture {
    pub sha256: [u8; 32],
    pub content_type: &'static str,
    pub bytes: i32,
    pub width: i32,
    pub height: i32,
    pub original_key: String,
    pub thumbnail_key: String,
    pub thumbnail_width: i32,
    pub thumbnail_height: i32,
}

/// The checklist items and hazard types the migrations installed.
pub async fn catalogue(conn: &mut PgConnection) -> sqlx::Result<Catalogue> {
    let items: Vec<(String, String, String, bool)> = sqlx::query_as(
        "select template_code, code, name, night_evidence from checklist_template_item
         order by template_code, position",
    )
    .fetch_all(&mut *conn)
    .await?;
    let hazards: Vec<(String, String)> =
        sqlx::query_as("select code, name from hazard_type").fetch_all(&mut *conn).await?;
    Ok(Catalogue {
        items: items
            .into_iter()
            .map(|(template_code, code, name, night_evidence)| TemplateItem {
                template_code,
                code,
                name,
                night_evidence,
            })
            .collect(),
        hazard_names: hazards.into_iter().collect(),
    })
}

pub async fn towns(conn: &mut PgConnection, towns: &[Town]) -> sqlx::Result<()> {
    let codes: Vec<&str> = towns.iter().map(|t| t.spec.admin_code).collect();
    let names: Vec<&str> = towns.iter().map(|t| t.spec.name).collect();
    let names_en: Vec<&str> = towns.iter().map(|t| t.spec.name_en).collect();
    let wkt: Vec<String> = towns.iter().map(|t| plane::wkt_multipolygon(&t.ring)).collect();
    sqlx::query(
        "insert into town (admin_code, name, name_en, boundary)
         select u.admin_code, u.name, u.name_en, st_setsrid(st_geomfromtext(u.wkt), 4326)
         from unnest($1::text[], $2::text[], $3::text[], $4::text[]) as u(admin_code, name, name_en, wkt)",
    )
    .bind(&codes)
    .bind(&names)
    .bind(&names_en)
    .bind(&wkt)
    .execute(conn)
    .await?;
    Ok(())
}

/// Inserts the roads; returns their ids in the same order.
pub async fn roads(conn: &mut PgConnection, roads: &[Road]) -> sqlx::Result<Vec<i32>> {
    let codes: Vec<&str> = roads.iter().map(|r| r.code.as_str()).collect();
    let names: Vec<&str> = roads.iter().map(|r| r.name.as_str()).collect();
    let wkt: Vec<String> = roads.iter().map(|r| plane::wkt_multilinestring(r.line.points())).collect();
    let ids: Vec<(String, i32)> = sqlx::query_as(
        "insert into road (route_code, admin_code, name, geom)
         select u.route_code, $4, u.name, st_setsrid(st_geomfromtext(u.wkt), 4326)
         from unnest($1::text[], $2::text[], $3::text[]) as u(route_code, name, wkt)
         returning route_code, id",
    )
    .bind(&codes)
    .bind(&names)
    .bind(&wkt)
    .bind(COUNTY_ADMIN_CODE)
    .fetch_all(conn)
    .await?;
    let by_code: HashMap<String, i32> = ids.into_iter().collect();
    Ok(roads.iter().map(|r| by_code[&r.code]).collect())
}

pub async fn chainage_breaks(conn: &mut PgConnection, breaks: &[ChainageBreak]) -> sqlx::Result<()> {
    let codes: Vec<&str> = breaks.iter().map(|b| b.route_code).collect();
    let measure: Vec<f64> = breaks.iter().map(|b| b.measure_m).collect();
    let back: Vec<f64> = breaks.iter().map(|b| b.stake_back_m).collect();
    let ahead: Vec<f64> = breaks.iter().map(|b| b.stake_ahead_m).collect();
    sqlx::query(
        "insert into road_chainage_break (road_id, measure_m, stake_back_m, stake_ahead_m)
         select r.id, u.measure_m, u.stake_back_m, u.stake_ahead_m
         from unnest($1::text[], $2::float8[], $3::float8[], $4::float8[])
             as u(route_code, measure_m, stake_back_m, stake_ahead_m)
         join road r on r.route_code = u.route_code and r.admin_code = $5",
    )
    .bind(&codes)
    .bind(&measure)
    .bind(&back)
    .bind(&ahead)
    .bind(COUNTY_ADMIN_CODE)
    .execute(conn)
    .await?;
    Ok(())
}

/// Inserts the organisations; returns name -> id. The migrations made the city office (市交安办, where the
/// first admin belongs): the demo's city office is that one, renamed, not a second one.
pub async fn organisations(conn: &mut PgConnection, orgs: &[Organisation]) -> sqlx::Result<HashMap<String, i32>> {
    let mut ids = HashMap::new();
    if let Some(office) = orgs.iter().find(|o| o.kind == "city_office") {
        let id: Option<i32> = sqlx::query_scalar(
            "update organisation set name = $1
             where id = (select id from organisation where kind = 'city_office' order by id limit 1)
             returning id",
        )
        .bind(office.name)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(id) = id {
            ids.insert(office.name.to_string(), id);
        }
    }
    let new: Vec<&Organisation> = orgs.iter().filter(|o| !ids.contains_key(o.name)).collect();
    let names: Vec<&str> = new.iter().map(|o| o.name).collect();
    let kinds: Vec<&str> = new.iter().map(|o| o.kind).collect();
    let towns: Vec<Option<&str>> = new.iter().map(|o| o.town_code).collect();
    let inserted: Vec<(String, i32)> = sqlx::query_as(
        "insert into organisation (name, kind, town_id)
         select u.name, u.kind, t.id
         from unnest($1::text[], $2::text[], $3::text[]) with ordinality as u(name, kind, town_code, ord)
         left join town t on t.admin_code = u.town_code
         order by u.ord
         returning name, id",
    )
    .bind(&names)
    .bind(&kinds)
    .bind(&towns)
    .fetch_all(conn)
    .await?;
    ids.extend(inserted);
    Ok(ids)
}

/// The ids of the named organisations that exist; `city_office` stands for the city office whatever its
/// name (the migrations call it 市交安办).
pub async fn organisation_ids(
    conn: &mut PgConnection,
    names: &[&str],
    city_office: &str,
) -> sqlx::Result<HashMap<String, i32>> {
    let rows: Vec<(String, Option<i32>)> = sqlx::query_as(
        "select u.name, coalesce(o.id, case when u.name = $2
             then (select id from organisation where kind = 'city_office' order by id limit 1) end)
         from unnest($1::text[]) as u(name) left join organisation o on o.name = u.name",
    )
    .bind(names)
    .bind(city_office)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().filter_map(|(name, id)| Some((name, id?))).collect())
}

/// An account to create, with one role.
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    pub name: &'a str,
    pub display_name: &'a str,
    pub organisation_id: i32,
    pub role: &'a str,
    pub password_hash: &'a str,
}

/// Creates the accounts whose names are free (an existing account of the same name is kept as it is);
/// returns name -> id for all of them, new or existing.
pub async fn accounts(conn: &mut PgConnection, accounts: &[NewAccount<'_>]) -> sqlx::Result<HashMap<String, Uuid>> {
    let names: Vec<&str> = accounts.iter().map(|a| a.name).collect();
    // The outer select sees the table as it was before the insert, so the two halves never overlap.
    let ids: Vec<(String, Uuid)> = sqlx::query_as(
        "with new as (
             insert into app_user (name, display_name, organisation_id, roles, password_hash)
             select u.name, u.display_name, u.organisation_id, array[u.role], u.password_hash
             from unnest($1::text[], $2::text[], $3::integer[], $4::text[], $5::text[])
                 as u(name, display_name, organisation_id, role, password_hash)
             on conflict (name) do nothing
             returning name, id)
         select name, id from new
         union all
         select name, id from app_user where name = any($1)",
    )
    .bind(&names)
    .bind(accounts.iter().map(|a| a.display_name).collect::<Vec<_>>())
    .bind(accounts.iter().map(|a| a.organisation_id).collect::<Vec<_>>())
    .bind(accounts.iter().map(|a| a.role).collect::<Vec<_>>())
    .bind(accounts.iter().map(|a| a.password_hash).collect::<Vec<_>>())
    .fetch_all(conn)
    .await?;
    Ok(ids.into_iter().collect())
}

/// Inserts sites in ledger order (a duplicate always comes after the site it points at). The person who
/// asked for a close-out under review is named by their account (`users`).
pub async fn sites(
    conn: &mut PgConnection,
    sites: &[Site],
    road_ids: &[i32],
    org_ids: &HashMap<String, i32>,
    users: &HashMap<&str, Uuid>,
) -> anyhow::Result<()> {
    let org = |name: Option<&str>| -> anyhow::Result<Option<i32>> {
        name.map(|n| org_ids.get(n).copied().ok_or_else(|| anyhow::anyhow!("unknown organisation {n}"))).transpose()
    };
    for chunk in sites.chunks(BATCH_ROWS) {
        let mut supporting = Vec::with_capacity(chunk.len());
        let mut responsible = Vec::with_capacity(chunk.len());
        let mut lead = Vec::with_capacity(chunk.len());
        let mut requesters = Vec::with_capacity(chunk.len());
        for s in chunk {
            let ids: Vec<String> = s
                .supporting_units
                .iter()
                .map(|n| org(Some(n)).map(|id| id.unwrap_or_default().to_string()))
                .collect::<Result<_, _>>()?;
            supporting.push(ids.join(","));
            responsible.push(org(s.responsible_unit)?);
            lead.push(org(s.lead_unit)?);
            requesters.push(s.close_out_requested_by.map(|p| account(users, p)).transpose()?);
        }
        fn supervision(s: &Site) -> Option<&Supervision> {
            s.supervision.as_ref()
        }
        sqlx::query(
            "insert into site (id, code, kind, geom, town_id, road_id, route_code, stake_m, stake_text, end_stake_m,
                 end_stake_text, status, template_code, hazard_types, hazard_level, rectification_mode, source,
                 responsible_unit_id, lead_unit_id, supporting_unit_ids, deadline, supervision_level,
                 supervision_body, supervision_doc_no, supervision_due, duplicate_of, first_observed_at,
                 last_observed_at, observation_count, created_at, updated_at, version, close_out_requested_by,
                 return_count, relapse_count)
             select u.id, u.code, u.kind, g.geom,
                 (select t.id from town t
                  where st_intersects(t.boundary,
                      case when u.kind = 'section' then st_lineinterpolatepoint(g.geom, 0.5) else g.geom end)
                  order by t.id limit 1),
                 r.id, r.route_code,
                 k.s_m, 'K' || (k.s_m::bigint / 1000) || '+' || lpad((k.s_m::bigint % 1000)::text, 3, '0'),
                 k.e_m, 'K' || (k.e_m::bigint / 1000) || '+' || lpad((k.e_m::bigint % 1000)::text, 3, '0'),
                 u.status, u.template_code, string_to_array(u.hazard_types, ','), u.hazard_level,
                 u.rectification_mode, u.source, u.responsible_unit_id, u.lead_unit_id,
                 string_to_array(u.supporting_unit_ids, ',')::integer[], u.deadline,
                 coalesce(u.supervision_level, 'none'), u.supervision_body, u.supervision_doc_no, u.supervision_due,
                 u.duplicate_of, u.first_observed_at, u.last_observed_at, u.observation_count, u.created_at,
                 u.updated_at, u.version, u.close_out_requested_by, u.return_count, u.relapse_count
             from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::text[], $7::text[],
                     $8::text[], $9::text[], $10::text[], $11::text[], $12::integer[], $13::integer[], $14::text[],
                     $15::date[], $16::text[], $17::text[], $18::text[], $19::date[], $20::uuid[],
                     $21::timestamptz[], $22::timestamptz[], $23::integer[], $24::timestamptz[],
                     $25::timestamptz[], $26::integer[], $27::uuid[], $28::integer[], $29::integer[])
                 with ordinality as u(id, code, kind, wkt, road_id, status, template_code, hazard_types,
                     hazard_level, rectification_mode, source, responsible_unit_id, lead_unit_id,
                     supporting_unit_ids, deadline, supervision_level, supervision_body, supervision_doc_no,
                     supervision_due, duplicate_of, first_observed_at, last_observed_at, observation_count,
                     created_at, updated_at, version, close_out_requested_by, return_count, relapse_count, ord)
             cross join lateral (select st_setsrid(st_geomfromtext(u.wkt), 4326) as geom) g
             join road r on r.id = u.road_id
             -- The stake as every new observation gets it: the road's measure, then the chainage breaks behind
             -- (road_stake_at, migrations/0005).
             cross join lateral (select
                 round(road_stake_at(r.id, case when u.kind = 'section' then st_startpoint(g.geom) else g.geom end))
                     as s_m,
                 case when u.kind = 'section' then round(road_stake_at(r.id, st_endpoint(g.geom))) end as e_m) k
             order by u.ord",
        )
        .bind(chunk.iter().map(|s| s.id).collect::<Vec<Uuid>>())
        .bind(chunk.iter().map(|s| s.code.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.kind.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.geom.wkt()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| road_ids[s.road]).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.status.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.kind.template_code()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.hazard_types.join(",")).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.hazard_level.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.rectification_mode.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.source).collect::<Vec<_>>())
        .bind(&responsible)
        .bind(&lead)
        .bind(&supporting)
        .bind(chunk.iter().map(|s| s.deadline).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| supervision(s).map(|v| v.level.as_str())).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| supervision(s).and_then(|v| v.body.as_deref())).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| supervision(s).and_then(|v| v.doc_no.as_deref())).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| supervision(s).and_then(|v| v.due)).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.duplicate_of).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.first_observed_at).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.last_observed_at).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.observation_count).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.created_at).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.updated_at).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.version).collect::<Vec<_>>())
        .bind(&requesters)
        .bind(chunk.iter().map(|s| s.return_count).collect::<Vec<_>>())
        .bind(chunk.iter().map(|s| s.relapse_count).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The account of a person the ledger names.
fn account(users: &HashMap<&str, Uuid>, name: &str) -> anyhow::Result<Uuid> {
    users.get(name).copied().ok_or_else(|| anyhow::anyhow!("{name} has no account"))
}

pub async fn items(conn: &mut PgConnection, items: &[Item]) -> sqlx::Result<()> {
    for chunk in items.chunks(BATCH_ROWS) {
        sqlx::query(
            "insert into site_checklist_item (site_id, template_code, item_code, state, quantity, measured,
                 installed_on, installer, reason, updated_at)
             select u.site_id, u.template_code, u.item_code, u.state, u.quantity, u.measured::jsonb,
                 u.installed_on, u.installer, u.reason, u.updated_at
             from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::text[], $7::date[],
                 $8::text[], $9::text[], $10::timestamptz[])
                 as u(site_id, template_code, item_code, state, quantity, measured, installed_on, installer,
                     reason, updated_at)",
        )
        .bind(chunk.iter().map(|i| i.site_id).collect::<Vec<_>>())
        .bind(chunk.iter().map(|i| i.template_code.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|i| i.item_code.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|i| i.state.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|i| i.quantity).collect::<Vec<_>>())
        .bind(chunk.iter().map(|i| i.measured.to_string()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|i| i.installed_on).collect::<Vec<_>>())
        .bind(chunk.iter().map(|i| i.installer).collect::<Vec<_>>())
        .bind(chunk.iter().map(|i| i.reason).collect::<Vec<_>>())
        .bind(chunk.iter().map(|i| i.updated_at).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Observations take the route (and, when the inspector typed it, the stake) from their site, and belong to
/// the account of their inspector (`users`: the ledger's name -> account id).
pub async fn observations(
    conn: &mut PgConnection,
    observations: &[Observation],
    users: &HashMap<&str, Uuid>,
) -> anyhow::Result<()> {
    for chunk in observations.chunks(BATCH_ROWS) {
        let user_ids: Vec<Uuid> = chunk.iter().map(|o| account(users, o.inspector)).collect::<Result<_, _>>()?;
        sqlx::query(
            "insert into observation (id, site_id, kind, inspector, observed_at, received_at, geom, accuracy_m,
                 source_crs, hazard_types, checklist, notes, route_code, stake_text, content_sha256, user_id,
                 look_back_result)
             select u.id, u.site_id, u.kind, u.inspector, u.observed_at, u.received_at,
                 st_setsrid(st_geomfromtext(u.wkt), 4326), u.accuracy_m, 'wgs84',
                 string_to_array(u.hazard_types, ','), u.checklist::jsonb, u.notes,
                 s.route_code, case when u.with_stake then s.stake_text end, u.content_sha256, u.user_id,
                 u.look_back_result
             from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
                 $7::text[], $8::real[], $9::text[], $10::text[], $11::text[], $12::boolean[], $13::bytea[],
                 $14::uuid[], $15::text[])
                 as u(id, site_id, kind, inspector, observed_at, received_at, wkt, accuracy_m, hazard_types,
                     checklist, notes, with_stake, content_sha256, user_id, look_back_result)
             join site s on s.id = u.site_id",
        )
        .bind(chunk.iter().map(|o| o.id).collect::<Vec<_>>())
        .bind(chunk.iter().map(|o| o.site_id).collect::<Vec<_>>())
        .bind(chunk.iter().map(|o| o.kind.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|o| o.inspector).collect::<Vec<_>>())
        .bind(chunk.iter().map(|o| o.observed_at).collect::<Vec<_>>())
        .bind(chunk.iter().map(|o| o.received_at).collect::<Vec<_>>())
        .bind(chunk.iter().map(|o| o.geom.wkt()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|o| o.accuracy_m).collect::<Vec<_>>())
        .bind(chunk.iter().map(|o| o.hazard_types.join(",")).collect::<Vec<_>>())
        .bind(chunk.iter().map(|o| o.checklist.to_string()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|o| o.notes.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|o| o.with_stake).collect::<Vec<_>>())
        .bind(chunk.iter().map(|o| o.content_sha256.to_vec()).collect::<Vec<_>>())
        .bind(&user_ids)
        .bind(chunk.iter().map(|o| o.look_back_result.map(|r| r.as_str())).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Remediation evidence, after the checklist items it is for; by the account of whoever submitted it.
pub async fn evidence(
    conn: &mut PgConnection,
    evidence: &[Evidence],
    users: &HashMap<&str, Uuid>,
) -> anyhow::Result<()> {
    for chunk in evidence.chunks(BATCH_ROWS) {
        let submitters: Vec<Uuid> = chunk.iter().map(|e| account(users, e.submitted_by)).collect::<Result<_, _>>()?;
        sqlx::query(
            "insert into item_evidence (id, site_id, item_code, state, quantity, measured, installed_on, installer,
                 submitted_by, submitted_at)
             select u.id, u.site_id, u.item_code, 'installed', u.quantity, u.measured::jsonb, u.installed_on,
                 u.installer, u.submitted_by, u.submitted_at
             from unnest($1::uuid[], $2::uuid[], $3::text[], $4::integer[], $5::text[], $6::date[], $7::text[],
                 $8::uuid[], $9::timestamptz[])
                 as u(id, site_id, item_code, quantity, measured, installed_on, installer, submitted_by,
                     submitted_at)",
        )
        .bind(chunk.iter().map(|e| e.id).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.site_id).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.item_code.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.quantity).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.measured.to_string()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.installed_on).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.installer).collect::<Vec<_>>())
        .bind(&submitters)
        .bind(chunk.iter().map(|e| e.submitted_at).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Photos of observations (before) and of evidence (after, night), after the rows they belong to.
pub async fn photos(conn: &mut PgConnection, photos: &[Photo], pictures: &[StoredPicture]) -> sqlx::Result<()> {
    for chunk in photos.chunks(BATCH_ROWS) {
        let pic = |p: &Photo| &pictures[p.picture];
        sqlx::query(
            "insert into photo (id, observation_id, position, sha256, content_type, bytes, width, height,
                 original_key, thumbnail_key, thumbnail_width, thumbnail_height, created_at, evidence_id, role)
             select * from unnest($1::uuid[], $2::uuid[], $3::smallint[], $4::bytea[], $5::text[], $6::integer[],
                 $7::integer[], $8::integer[], $9::text[], $10::text[], $11::integer[], $12::integer[],
                 $13::timestamptz[], $14::uuid[], $15::text[])",
        )
        .bind(chunk.iter().map(|p| p.id).collect::<Vec<_>>())
        .bind(chunk.iter().map(|p| owner(p).0).collect::<Vec<_>>())
        .bind(chunk.iter().map(|p| p.position).collect::<Vec<_>>())
        .bind(chunk.iter().map(|p| pic(p).sha256.to_vec()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|p| pic(p).content_type).collect::<Vec<_>>())
        .bind(chunk.iter().map(|p| pic(p).bytes).collect::<Vec<_>>())
        .bind(chunk.iter().map(|p| pic(p).width).collect::<Vec<_>>())
        .bind(chunk.iter().map(|p| pic(p).height).collect::<Vec<_>>())
        .bind(chunk.iter().map(|p| pic(p).original_key.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|p| pic(p).thumbnail_key.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|p| pic(p).thumbnail_width).collect::<Vec<_>>())
        .bind(chunk.iter().map(|p| pic(p).thumbnail_height).collect::<Vec<_>>())
        .bind(chunk.iter().map(|p| p.created_at).collect::<Vec<_>>())
        .bind(chunk.iter().map(|p| owner(p).1).collect::<Vec<_>>())
        .bind(chunk.iter().map(|p| owner(p).2).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A photo's observation, evidence and role, as db/photos.rs records them.
fn owner(p: &Photo) -> (Option<Uuid>, Option<Uuid>, &'static str) {
    match p.owner {
        PhotoOwner::Observation(id) => (Some(id), None, "before"),
        PhotoOwner::EvidenceAfter(id) => (None, Some(id), "after"),
        PhotoOwner::EvidenceNight(id) => (None, Some(id), "night"),
    }
}

/// Look-back tasks, after the observations that completed them.
pub async fn look_backs(
    conn: &mut PgConnection,
    tasks: &[LookBackTask],
    users: &HashMap<&str, Uuid>,
) -> anyhow::Result<()> {
    for chunk in tasks.chunks(BATCH_ROWS) {
        let done_by: Vec<Option<Uuid>> = chunk
            .iter()
            .map(|t| t.done.as_ref().map(|d| account(users, d.by)).transpose())
            .collect::<Result<_, _>>()?;
        sqlx::query(
            "insert into look_back_task (id, site_id, due_on, policy, created_at, done_at, done_by, result,
                 observation_id)
             select * from unnest($1::uuid[], $2::uuid[], $3::date[], $4::text[], $5::timestamptz[],
                 $6::timestamptz[], $7::uuid[], $8::text[], $9::uuid[])",
        )
        .bind(chunk.iter().map(|t| t.id).collect::<Vec<_>>())
        .bind(chunk.iter().map(|t| t.site_id).collect::<Vec<_>>())
        .bind(chunk.iter().map(|t| t.due_on).collect::<Vec<_>>())
        .bind(chunk.iter().map(|t| t.policy).collect::<Vec<_>>())
        .bind(chunk.iter().map(|t| t.created_at).collect::<Vec<_>>())
        .bind(chunk.iter().map(|t| t.done.as_ref().map(|d| d.at)).collect::<Vec<_>>())
        .bind(&done_by)
        .bind(chunk.iter().map(|t| t.done.as_ref().map(|d| d.result.as_str())).collect::<Vec<_>>())
        .bind(chunk.iter().map(|t| t.done.as_ref().map(|d| d.observation_id)).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Extension requests with the dispatcher's decision where there is one.
pub async fn extensions(
    conn: &mut PgConnection,
    requests: &[Extension],
    users: &HashMap<&str, Uuid>,
) -> anyhow::Result<()> {
    for chunk in requests.chunks(BATCH_ROWS) {
        let requested_by: Vec<Uuid> = chunk.iter().map(|x| account(users, x.requested_by)).collect::<Result<_, _>>()?;
        let decided_by: Vec<Option<Uuid>> = chunk
            .iter()
            .map(|x| x.decision.as_ref().map(|d| account(users, d.by)).transpose())
            .collect::<Result<_, _>>()?;
        sqlx::query(
            "insert into extension_request (id, site_id, requested_by, requested_at, old_deadline, new_deadline,
                 reason, decided_by, decided_at, approved, decision_reason)
             select * from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::timestamptz[], $5::date[], $6::date[],
                 $7::text[], $8::uuid[], $9::timestamptz[], $10::boolean[], $11::text[])",
        )
        .bind(chunk.iter().map(|x| x.id).collect::<Vec<_>>())
        .bind(chunk.iter().map(|x| x.site_id).collect::<Vec<_>>())
        .bind(&requested_by)
        .bind(chunk.iter().map(|x| x.requested_at).collect::<Vec<_>>())
        .bind(chunk.iter().map(|x| x.old_deadline).collect::<Vec<_>>())
        .bind(chunk.iter().map(|x| x.new_deadline).collect::<Vec<_>>())
        .bind(chunk.iter().map(|x| x.reason).collect::<Vec<_>>())
        .bind(&decided_by)
        .bind(chunk.iter().map(|x| x.decision.as_ref().map(|d| d.at)).collect::<Vec<_>>())
        .bind(chunk.iter().map(|x| x.decision.as_ref().map(|d| d.approved)).collect::<Vec<_>>())
        .bind(chunk.iter().map(|x| x.decision.as_ref().and_then(|d| d.reason)).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Events in time order, so their ids (identity) follow time as they would have been written. An event
/// whose actor has an account (`users`) carries it; others (none in the demo today) are the system's. The
/// organisations and people an event's data names get their database ids (`org_ids`, `users`).
pub async fn events(
    conn: &mut PgConnection,
    events: &[Event],
    users: &HashMap<&str, Uuid>,
    org_ids: &HashMap<String, i32>,
) -> anyhow::Result<()> {
    let organisations: Vec<&str> = names::organisations().iter().map(|o| o.name).collect();
    let organisation = |number: i32| -> anyhow::Result<i32> {
        let name = plan::organisation_name(&organisations, number)
            .ok_or_else(|| anyhow::anyhow!("no organisation number {number}"))?;
        org_ids.get(name).copied().ok_or_else(|| anyhow::anyhow!("unknown organisation {name}"))
    };
    for chunk in events.chunks(BATCH_ROWS) {
        let data: Vec<String> = chunk
            .iter()
            .map(|e| e.data.to_json(organisation, |name| account(users, name)).map(|v| v.to_string()))
            .collect::<Result<_, _>>()?;
        sqlx::query(
            "insert into site_event (site_id, at, actor, kind, from_status, to_status, reason, data, observation_id,
                 actor_user_id)
             select u.site_id, u.at, u.actor, u.kind, u.from_status, u.to_status, u.reason, u.data::jsonb,
                 u.observation_id, u.actor_user_id
             from unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                 $8::text[], $9::uuid[], $10::uuid[])
                 with ordinality as u(site_id, at, actor, kind, from_status, to_status, reason, data,
                     observation_id, actor_user_id, ord)
             order by u.ord",
        )
        .bind(chunk.iter().map(|e| e.site_id).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.at).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.actor).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.from_status.map(|s| s.as_str())).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.to_status.map(|s| s.as_str())).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.reason.as_deref()).collect::<Vec<_>>())
        .bind(&data)
        .bind(chunk.iter().map(|e| e.observation_id).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| users.get(e.actor).copied()).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The demo's crashes, a thousand a statement. A crash the police located by stake gets its road, route and
/// the stake PostGIS reads off the road's measure there; every crash gets the town whose boundary holds it.
pub async fn crashes(conn: &mut PgConnection, crashes: &[DemoCrash], road_ids: &[i32]) -> sqlx::Result<()> {
    for chunk in crashes.chunks(1000) {
        let record_no: Vec<&str> = chunk.iter().map(|c| c.record_no.as_str()).collect();
        let at: Vec<chrono::DateTime<chrono::Utc>> = chunk.iter().map(|c| c.occurred_at).collect();
        let lon: Vec<f64> = chunk.iter().map(|c| c.lon).collect();
        let lat: Vec<f64> = chunk.iter().map(|c| c.lat).collect();
        let road: Vec<Option<i32>> = chunk.iter().map(|c| c.road.filter(|_| c.by_stake).map(|r| road_ids[r])).collect();
        let deaths: Vec<i16> = chunk.iter().map(|c| c.deaths).collect();
        let serious: Vec<i16> = chunk.iter().map(|c| c.serious_injuries).collect();
        let slight: Vec<i16> = chunk.iter().map(|c| c.slight_injuries).collect();
        let types: Vec<&str> = chunk.iter().map(|c| c.crash_type.as_str()).collect();
        let vehicles: Vec<String> =
            chunk.iter().map(|c| c.vehicle_types.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(",")).collect();
        let weather: Vec<&str> = chunk.iter().map(|c| c.weather.as_str()).collect();
        let light: Vec<&str> = chunk.iter().map(|c| c.light.as_str()).collect();
        let surface: Vec<&str> = chunk.iter().map(|c| c.road_surface.as_str()).collect();
        let summary: Vec<&str> = chunk.iter().map(|c| c.summary.as_str()).collect();
        sqlx::query(
            "insert into crash (source_key, record_no, occurred_at, geom, located_by, road_id, route_code, stake_m,
                 town_id, deaths, serious_injuries, slight_injuries, crash_type, vehicle_types, weather, light,
                 road_surface, summary)
             select 'no:' || u.record_no, u.record_no, u.at, g.geom,
                    case when u.road_id is null then 'coordinates' else 'stake' end,
                    u.road_id, r.route_code, road_stake_at(u.road_id, g.geom),
                    (select t.id from town t where st_intersects(t.boundary, g.geom) order by t.id limit 1),
                    u.deaths, u.serious, u.slight, u.crash_type, string_to_array(u.vehicles, ','), u.weather,
                    u.light, u.surface, u.summary
             from unnest($1::text[], $2::timestamptz[], $3::float8[], $4::float8[], $5::int4[], $6::int2[],
                         $7::int2[], $8::int2[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
                         $14::text[])
                  as u (record_no, at, lon, lat, road_id, deaths, serious, slight, crash_type, vehicles, weather,
                        light, surface, summary)
             cross join lateral (select st_setsrid(st_makepoint(u.lon, u.lat), 4326) as geom) g
             left join road r on r.id = u.road_id",
        )
        .bind(&record_no)
        .bind(&at)
        .bind(&lon)
        .bind(&lat)
        .bind(&road)
        .bind(&deaths)
        .bind(&serious)
        .bind(&slight)
        .bind(&types)
        .bind(&vehicles)
        .bind(&weather)
        .bind(&light)
        .bind(&surface)
        .bind(&summary)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
