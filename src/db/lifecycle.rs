//! Writing the lifecycle: every move changes the site and appends its event in one transaction, under a row
//! lock and a version check, so a stale writer is refused rather than silently overwriting.

use chrono::NaiveDate;
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::domain::auth::{Actor, SiteScope};
use crate::domain::lifecycle::{Dispatch, Move, Relapse, SiteFacts, Supervision, Transition};
use crate::domain::observation::{SiteGeometry, Wgs84Point};
use crate::domain::site::{HazardLevel, RectificationMode, SiteStatus};

/// A site as the lifecycle sees it, locked for the rest of the transaction.
#[derive(Debug, sqlx::FromRow)]
pub struct LockedSite {
    pub id: Uuid,
    pub kind: String,
    pub status: SiteStatus,
    pub version: i32,
    pub town_id: Option<i32>,
    pub responsible_unit_id: Option<i32>,
    pub lead_unit_id: Option<i32>,
    pub supporting_unit_ids: Vec<i32>,
    pub deadline: Option<NaiveDate>,
    pub close_out_requested_by: Option<Uuid>,
    pub hazard_level: Option<HazardLevel>,
    pub rectification_mode: Option<RectificationMode>,
}

impl LockedSite {
    pub fn status(&self) -> SiteStatus {
        self.status
    }
}

/// Locks a site the actor may see (`None`: not found or out of scope, both answered 404).
pub async fn lock(tx: &mut PgConnection, id: Uuid, scope: &SiteScope) -> sqlx::Result<Option<LockedSite>> {
    let sql = format!(
        "select s.id, s.kind, s.status, s.version, s.town_id, s.responsible_unit_id, s.lead_unit_id,
             s.supporting_unit_ids, s.deadline, s.close_out_requested_by, s.hazard_level, s.rectification_mode
         from site s where s.id = $1 and {} for update",
        super::sites::scope_condition(2)
    );
    super::sites::bind_scope(sqlx::query_as(&sql).bind(id), scope).fetch_optional(tx).await
}

/// What the transition function needs to know besides the status.
pub async fn facts(tx: &mut PgConnection, site: &LockedSite) -> sqlx::Result<SiteFacts> {
    let unmet_items = unmet_items(&mut *tx, site.id).await?;
    let evidence_by =
        sqlx::query_scalar!("select distinct submitted_by from item_evidence where site_id = $1", site.id)
            .fetch_all(&mut *tx)
            .await?;
    let extension_pending = sqlx::query_scalar!(
        r#"select exists (select 1 from extension_request where site_id = $1 and decided_at is null) as "pending!""#,
        site.id
    )
    .fetch_one(&mut *tx)
    .await?;
    let unit_ids = site
        .responsible_unit_id
        .into_iter()
        .chain(site.lead_unit_id)
        .chain(site.supporting_unit_ids.iter().copied())
        .collect();
    Ok(SiteFacts {
        town_id: site.town_id,
        unit_ids,
        unmet_items,
        close_out_requested_by: site.close_out_requested_by,
        evidence_by,
        extension_pending,
    })
}

/// Required items that are not yet in place with their evidence: `installed` or `verified` with an
/// after-photo (and a night photo where the template asks for one), or `not_applicable` with a reason.
pub async fn unmet_items(tx: &mut PgConnection, site_id: Uuid) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        "select i.item_code
         from site_checklist_item i
         join checklist_template_item t on t.template_code = i.template_code and t.code = i.item_code
         where i.site_id = $1 and t.required
           and not (
               i.state = 'not_applicable'
               or (i.state in ('installed', 'verified')
                   and exists (select 1 from item_evidence e join photo p on p.evidence_id = e.id
                               where e.site_id = i.site_id and e.item_code = i.item_code and p.role = 'after')
                   and (not t.night_evidence
                        or exists (select 1 from item_evidence e join photo p on p.evidence_id = e.id
                                   where e.site_id = i.site_id and e.item_code = i.item_code and p.role = 'night'))))
         order by t.position",
        site_id
    )
    .fetch_all(tx)
    .await
}

/// Applies a decided transition: the site's new state, the side effects of the move, and its event (with the
/// reason, when the move gives one). Each move with side effects has its own function; each returns what its
/// event records.
pub async fn apply(
    tx: &mut Transaction<'_, Postgres>,
    site: &LockedSite,
    t: &Transition,
    actor: &Actor,
    reason: Option<&str>,
    action: &Move,
) -> sqlx::Result<()> {
    debug_assert_eq!(t.event, action.kind(), "the transition was decided for this move");
    let data = match action {
        Move::Dispatch(d) => dispatch(tx, site, d).await?,
        Move::Merge { into } => merge(tx, site, *into, actor).await?,
        Move::RequestExtension { deadline } => request_extension(tx, site, *deadline, actor, reason).await?,
        Move::DecideExtension { approve } => decide_extension(tx, site, *approve, actor, reason).await?,
        Move::Supervise(s) => supervise(tx, site, s).await?,
        Move::RequestCloseOut => request_close_out(tx, site, actor).await?,
        Move::Approve => approve(tx, site).await?,
        Move::Return => return_close_out(tx, site).await?,
        Move::LookBackPass { observation_id } => look_back(tx, site, *observation_id, "pass", actor).await?,
        Move::LookBackRelapse(r) => relapse(tx, site, r, actor).await?,
        Move::Verify | Move::Reject | Move::Accept | Move::Start | Move::Cancel => json!({}),
    };
    sqlx::query!(
        "update site set status = $2, version = version + 1, updated_at = now() where id = $1",
        site.id,
        t.to.as_str()
    )
    .execute(&mut **tx)
    .await?;
    let event = NewEvent {
        from: Some(t.from),
        to: Some(t.to),
        reason,
        data,
        observation_id: action.observation_id(),
        ..NewEvent::new(t.event.as_str())
    };
    insert_event(tx, site.id, actor, event).await
}

async fn dispatch(tx: &mut Transaction<'_, Postgres>, site: &LockedSite, d: &Dispatch) -> sqlx::Result<Value> {
    sqlx::query!(
        "update site set responsible_unit_id = $2, lead_unit_id = $3, supporting_unit_ids = $4,
             hazard_level = $5, rectification_mode = $6, deadline = $7
         where id = $1",
        site.id,
        d.responsible_unit_id,
        d.lead_unit_id,
        &d.supporting_unit_ids,
        d.hazard_level.as_str(),
        d.rectification_mode.as_str(),
        d.deadline
    )
    .execute(&mut **tx)
    .await?;
    Ok(json!({
        "responsible_unit_id": d.responsible_unit_id, "lead_unit_id": d.lead_unit_id,
        "supporting_unit_ids": d.supporting_unit_ids, "hazard_level": d.hazard_level,
        "rectification_mode": d.rectification_mode, "deadline": d.deadline,
    }))
}

async fn merge(
    tx: &mut Transaction<'_, Postgres>,
    site: &LockedSite,
    into: Uuid,
    actor: &Actor,
) -> sqlx::Result<Value> {
    // Status and target together: the schema insists a duplicate always names its survivor.
    sqlx::query!("update site set duplicate_of = $2, status = 'duplicate' where id = $1", site.id, into)
        .execute(&mut **tx)
        .await?;
    merge_observations(tx, site.id, into, actor).await?;
    Ok(json!({ "into": into }))
}

async fn request_extension(
    tx: &mut Transaction<'_, Postgres>,
    site: &LockedSite,
    new_deadline: NaiveDate,
    actor: &Actor,
    reason: Option<&str>,
) -> sqlx::Result<Value> {
    sqlx::query!(
        "insert into extension_request (site_id, requested_by, old_deadline, new_deadline, reason)
         values ($1, $2, $3, $4, $5)",
        site.id,
        actor.user_id,
        site.deadline,
        new_deadline,
        reason
    )
    .execute(&mut **tx)
    .await?;
    Ok(json!({ "old_deadline": site.deadline, "new_deadline": new_deadline }))
}

async fn decide_extension(
    tx: &mut Transaction<'_, Postgres>,
    site: &LockedSite,
    approve: bool,
    actor: &Actor,
    reason: Option<&str>,
) -> sqlx::Result<Value> {
    let new_deadline = sqlx::query_scalar!(
        "update extension_request set decided_by = $2, decided_at = now(), approved = $3, decision_reason = $4
         where site_id = $1 and decided_at is null
         returning new_deadline",
        site.id,
        actor.user_id,
        approve,
        reason
    )
    .fetch_one(&mut **tx)
    .await?;
    if approve {
        sqlx::query!("update site set deadline = $2 where id = $1", site.id, new_deadline).execute(&mut **tx).await?;
    }
    Ok(json!({ "approved": approve, "old_deadline": site.deadline, "new_deadline": new_deadline }))
}

async fn supervise(tx: &mut Transaction<'_, Postgres>, site: &LockedSite, s: &Supervision) -> sqlx::Result<Value> {
    sqlx::query!(
        "update site set supervision_level = $2, supervision_body = $3, supervision_doc_no = $4,
             supervision_due = $5
         where id = $1",
        site.id,
        s.level.as_str(),
        s.body,
        s.doc_no,
        s.due
    )
    .execute(&mut **tx)
    .await?;
    Ok(json!({ "level": s.level, "body": s.body, "doc_no": s.doc_no, "due": s.due }))
}

async fn request_close_out(
    tx: &mut Transaction<'_, Postgres>,
    site: &LockedSite,
    actor: &Actor,
) -> sqlx::Result<Value> {
    sqlx::query!("update site set close_out_requested_by = $2 where id = $1", site.id, actor.user_id)
        .execute(&mut **tx)
        .await?;
    Ok(json!({}))
}

async fn approve(tx: &mut Transaction<'_, Postgres>, site: &LockedSite) -> sqlx::Result<Value> {
    // Acceptance verifies what was installed.
    sqlx::query!(
        "update site_checklist_item set state = 'verified', updated_at = now() where site_id = $1 and state = 'installed'",
        site.id
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query!("update site set close_out_requested_by = null where id = $1", site.id).execute(&mut **tx).await?;
    Ok(json!({ "close_out_requested_by": site.close_out_requested_by }))
}

async fn return_close_out(tx: &mut Transaction<'_, Postgres>, site: &LockedSite) -> sqlx::Result<Value> {
    sqlx::query!(
        "update site set return_count = return_count + 1, close_out_requested_by = null where id = $1",
        site.id
    )
    .execute(&mut **tx)
    .await?;
    Ok(json!({}))
}

/// Completes the site's look-back task with the observation that did it. The task the policy made, if any; a
/// look-back nobody planned is kept as a manual task, so every look-back counts the same way in the statistics.
async fn look_back(
    tx: &mut Transaction<'_, Postgres>,
    site: &LockedSite,
    observation_id: Uuid,
    result: &str,
    actor: &Actor,
) -> sqlx::Result<Value> {
    sqlx::query!(
        "with done as (
             update look_back_task set done_at = now(), done_by = $2, result = $3, observation_id = $4
             where site_id = $1 and done_at is null
             returning id)
         insert into look_back_task (site_id, due_on, policy, done_at, done_by, result, observation_id)
         select $1, (now() at time zone 'Asia/Shanghai')::date, 'manual', now(), $2, $3, $4
         where not exists (select 1 from done)",
        site.id,
        actor.user_id,
        result,
        observation_id
    )
    .execute(&mut **tx)
    .await?;
    Ok(json!({ "observation_id": observation_id }))
}

/// A relapse counts against the site (and so its town) and sets a new deadline (the old one has passed); the
/// failed items take the state the inspector found, undoing their verification.
async fn relapse(
    tx: &mut Transaction<'_, Postgres>,
    site: &LockedSite,
    r: &Relapse,
    actor: &Actor,
) -> sqlx::Result<Value> {
    let mut data = look_back(tx, site, r.observation_id, "relapse", actor).await?;
    sqlx::query!("update site set relapse_count = relapse_count + 1, deadline = $2 where id = $1", site.id, r.deadline)
        .execute(&mut **tx)
        .await?;
    sqlx::query!(
        "update site_checklist_item i set state = o.checklist ->> i.item_code, updated_at = now()
         from observation o
         where o.id = $2 and i.site_id = $1 and i.item_code = any($3)",
        site.id,
        r.observation_id,
        &r.failed_items
    )
    .execute(&mut **tx)
    .await?;
    data["failed_items"] = json!(r.failed_items);
    data["old_deadline"] = json!(site.deadline);
    data["deadline"] = json!(r.deadline);
    Ok(data)
}

/// The surviving site keeps the history: the duplicate's observations (and so their photos) move to it, and
/// both sites' timelines say so.
async fn merge_observations(
    tx: &mut Transaction<'_, Postgres>,
    from: Uuid,
    into: Uuid,
    actor: &Actor,
) -> sqlx::Result<()> {
    let moved = sqlx::query_scalar!("update observation set site_id = $2 where site_id = $1 returning id", from, into)
        .fetch_all(&mut **tx)
        .await?;
    sqlx::query!(
        "update site t set
             observation_count = (select count(*) from observation where site_id = t.id),
             first_observed_at = least(t.first_observed_at, f.first_observed_at),
             last_observed_at = greatest(t.last_observed_at, f.last_observed_at),
             hazard_types = array(select distinct h from unnest(t.hazard_types || f.hazard_types) h order by h),
             version = t.version + 1, updated_at = now()
         from site f where f.id = $1 and t.id = $2",
        from,
        into
    )
    .execute(&mut **tx)
    .await?;
    let status = sqlx::query_scalar!(r#"select status as "status: SiteStatus" from site where id = $1"#, into)
        .fetch_one(&mut **tx)
        .await?;
    let status = Some(status);
    let event =
        NewEvent { from: status, data: json!({ "from": from, "observations": moved }), ..NewEvent::new("merged_in") };
    insert_event(tx, into, actor, event).await
}

/// One entry for a site's timeline. `to` is recorded only when it differs from `from`.
#[derive(Debug)]
pub struct NewEvent<'a> {
    pub kind: &'a str,
    pub from: Option<SiteStatus>,
    pub to: Option<SiteStatus>,
    pub reason: Option<&'a str>,
    pub data: Value,
    /// The visit this event records, whose photos the timeline shows.
    pub observation_id: Option<Uuid>,
}

impl<'a> NewEvent<'a> {
    pub fn new(kind: &'a str) -> Self {
        NewEvent { kind, from: None, to: None, reason: None, data: json!({}), observation_id: None }
    }
}

/// Appends an event (the table refuses updates and deletes).
pub async fn insert_event(
    tx: &mut Transaction<'_, Postgres>,
    site_id: Uuid,
    actor: &Actor,
    e: NewEvent<'_>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into site_event (site_id, actor, actor_user_id, kind, from_status, to_status, reason, data,
             observation_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        site_id,
        actor.display_name,
        actor.user_id,
        e.kind,
        e.from.map(SiteStatus::as_str),
        e.to.filter(|to| Some(*to) != e.from).map(SiteStatus::as_str),
        e.reason,
        e.data,
        e.observation_id
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A merge target: in scope, open, another site of the same kind.
pub async fn merge_target_ok(
    tx: &mut PgConnection,
    from: &LockedSite,
    into: Uuid,
    scope: &SiteScope,
) -> sqlx::Result<Result<(), &'static str>> {
    if into == from.id {
        return Ok(Err("a site cannot be merged into itself"));
    }
    let sql = format!(
        "select s.kind, s.status from site s where s.id = $1 and {} for update",
        super::sites::scope_condition(2)
    );
    // The status decodes as a `SiteStatus`: a stored code the domain does not know is an error, not "closed".
    let target: Option<(String, SiteStatus)> =
        super::sites::bind_scope(sqlx::query_as(&sql).bind(into), scope).fetch_optional(tx).await?;
    Ok(match target {
        None => Err("into: no such site"),
        Some((kind, _)) if kind != from.kind => Err("into: the surviving site must be of the same kind"),
        Some((_, status)) if !status.is_open() => Err("into: the surviving site must be open"),
        Some(_) => Ok(()),
    })
}

/// The given organisation ids that do not exist (any kind of organisation may be given work).
pub async fn missing_organisations(pool: &PgPool, ids: &[i32]) -> sqlx::Result<Vec<i32>> {
    sqlx::query_scalar!(
        r#"select i as "i!" from unnest($1::int[]) i where not exists (select 1 from organisation o where o.id = i)"#,
        ids
    )
    .fetch_all(pool)
    .await
}

/// The site's place, WGS-84 (a point, or a section's vertices in order): what an evidence photo's original is
/// checked against (`domain::photo_evidence::check`).
pub async fn site_place(conn: &mut PgConnection, site_id: Uuid) -> sqlx::Result<SiteGeometry> {
    let rows = sqlx::query!(
        r#"select st_x(d.geom) as "lon!", st_y(d.geom) as "lat!"
         from site s, st_dumppoints(s.geom) d where s.id = $1 order by d.path"#,
        site_id
    )
    .fetch_all(conn)
    .await?;
    let mut points: Vec<Wgs84Point> = rows.into_iter().map(|r| Wgs84Point { lon: r.lon, lat: r.lat }).collect();
    // The schema holds a point site to one vertex and a section to a line (site_geom_matches_kind).
    Ok(if points.len() == 1 { SiteGeometry::Point(points.remove(0)) } else { SiteGeometry::Line(points) })
}

/// Whether the site's checklist has the item.
pub async fn has_item(conn: &mut PgConnection, site_id: Uuid, item_code: &str) -> sqlx::Result<bool> {
    let found = sqlx::query_scalar!(
        r#"select true as "found!" from site_checklist_item where site_id = $1 and item_code = $2"#,
        site_id,
        item_code
    )
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// What a rectifier records for one checklist item: its state, quantity, measured values, who installed it
/// and when, and the reason for `not_applicable`.
#[derive(Debug, Clone)]
pub struct EvidenceRecord {
    pub state: crate::domain::site::ItemState,
    pub quantity: Option<i32>,
    pub measured: serde_json::Map<String, Value>,
    pub installed_on: Option<NaiveDate>,
    pub installer: Option<String>,
    pub reason: Option<String>,
}

/// Records evidence for an item: the `item_evidence` row (returned), the item's current state, and a new
/// site version. The caller holds the site's lock, adds the photos and the event.
pub async fn record_evidence(
    conn: &mut PgConnection,
    site_id: Uuid,
    item_code: &str,
    evidence: &EvidenceRecord,
    actor: &Actor,
) -> sqlx::Result<Uuid> {
    // One statement: the evidence row, the item's current state taken from it, and a new site version.
    let evidence_id = sqlx::query_scalar!(
        r#"with e as (
             insert into item_evidence (site_id, item_code, state, quantity, measured, installed_on, installer, reason,
                 submitted_by)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             returning id, site_id, item_code, state, quantity, measured, installed_on, installer, reason),
         item as (
             update site_checklist_item i set state = e.state, quantity = e.quantity, measured = e.measured,
                 installed_on = e.installed_on, installer = e.installer, reason = e.reason, updated_at = now()
             from e where i.site_id = e.site_id and i.item_code = e.item_code),
         version as (update site set version = version + 1, updated_at = now() where id = $1)
         select id as "id!" from e"#,
        site_id,
        item_code,
        evidence.state.as_str(),
        evidence.quantity,
        Value::Object(evidence.measured.clone()),
        evidence.installed_on,
        evidence.installer,
        evidence.reason,
        actor.user_id
    )
    .fetch_one(conn)
    .await?;
    Ok(evidence_id)
}
