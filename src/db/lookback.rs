//! Look-back (回头看) planning: closed sites are re-inspected later so that problems do not come back.
//!
//! The policy (DOMAIN.md §6, configurable): every major or supervised closed site once a quarter, and a sample
//! of the other closed sites each month. Sampling is deterministic per site and month (a hash, not
//! `random()`), so planning twice in a month picks the same sites and a run can be reproduced.

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::auth::{Actor, SiteScope};
use crate::domain::policy::LookBackPolicy;

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Planned {
    pub quarterly_major: i64,
    pub monthly_sample: i64,
}

/// Creates look-back tasks per the policy for closed sites that have no open task; records a
/// `look_back_due` event on each. Returns how many of each kind were made.
pub async fn plan(pool: &PgPool, policy: &LookBackPolicy, actor: &Actor, today: NaiveDate) -> sqlx::Result<Planned> {
    let mut tx = pool.begin().await?;
    let rows = sqlx::query!(
        r#"with last_seen as (
             select s.id, s.hazard_level, s.supervision_level,
                 greatest(
                     (select max(e.at) from site_event e where e.site_id = s.id and e.kind = 'approve'),
                     (select max(t.done_at) from look_back_task t where t.site_id = s.id)
                 )::date as since
             from site s
             where s.status = 'closed'
               and not exists (select 1 from look_back_task t where t.site_id = s.id and t.done_at is null)),
         chosen as (
             select id, 'quarterly_major' as policy from last_seen
             where (hazard_level = 'major' or supervision_level <> 'none')
               and coalesce(since, '-infinity'::date) <= $1::date - $2::int
             union all
             select id, 'monthly_sample' from last_seen
             where not (hazard_level is not distinct from 'major' or supervision_level <> 'none')
               and coalesce(since, '-infinity'::date) <= $1::date - $4::int
               -- Deterministic sample: a hash of the site and the month, below the percentage.
               and ('x' || substr(md5(id::text || to_char($1::date, 'YYYY-MM')), 1, 8))::bit(32)::int & 2147483647
                   < (2147483647::bigint * $3 / 100))
         insert into look_back_task (site_id, due_on, policy)
         select id, $1::date + $5::int, policy from chosen
         returning site_id, policy, due_on"#,
        today,
        policy.major_interval_days,
        i64::from(policy.sample_percent.clamp(0, 100)),
        policy.sample_min_age_days,
        policy.due_in_days
    )
    .fetch_all(&mut *tx)
    .await?;
    for row in &rows {
        sqlx::query!(
            "insert into site_event (site_id, actor, actor_user_id, kind, from_status, data)
             values ($1, $2, $3, 'look_back_due', 'closed', $4)",
            row.site_id,
            actor.display_name,
            actor.user_id,
            serde_json::json!({ "policy": row.policy, "due_on": row.due_on })
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let count = |p: &str| rows.iter().filter(|r| r.policy == p).count() as i64;
    Ok(Planned { quarterly_major: count("quarterly_major"), monthly_sample: count("monthly_sample") })
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Task {
    pub id: Uuid,
    pub site_id: Uuid,
    pub site_code: String,
    pub kind: String,
    pub town: Option<String>,
    pub road_code: Option<String>,
    pub stake: Option<String>,
    pub policy: String,
    pub due_on: NaiveDate,
    pub geometry: sqlx::types::Json<serde_json::Value>,
}

/// Most tasks one answer lists.
pub const TASKS_MAX: i64 = 2000;

/// Open look-back tasks in the user's scope, soonest due first.
pub async fn open_tasks(pool: &PgPool, scope: &SiteScope) -> sqlx::Result<Vec<Task>> {
    let sql = format!(
        "select t.id, t.site_id, s.code as site_code, s.kind, tw.name as town, s.route_code as road_code, s.stake_text as stake,
             t.policy, t.due_on, st_asgeojson(s.geom, 6)::json as geometry
         from look_back_task t join site s on s.id = t.site_id left join town tw on tw.id = s.town_id
         where t.done_at is null and {}
         order by t.due_on, s.code
         limit {TASKS_MAX}",
        super::sites::scope_condition(1)
    );
    super::sites::bind_scope(sqlx::query_as(&sql), scope).fetch_all(pool).await
}

/// One town's look-backs: what was re-inspected in the period and what it found, and what is still open.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct TownLookBacks {
    pub town_id: Option<i32>,
    pub town: Option<String>,
    /// Done in the period: passes plus relapses.
    pub done: i64,
    pub passed: i64,
    /// Relapses (反弹) found in the period: they count against the town.
    pub relapsed: i64,
    /// Open tasks now, and how many of them are past their due date.
    pub open: i64,
    pub overdue: i64,
}

/// Look-backs per town, in the user's scope: tasks done between `from` and `to` (county dates, inclusive)
/// and tasks open on `today`. Most relapses first: the ranking a bulletin prints.
pub async fn by_town(
    pool: &PgPool,
    scope: &SiteScope,
    from: NaiveDate,
    to: NaiveDate,
    today: NaiveDate,
) -> sqlx::Result<Vec<TownLookBacks>> {
    let sql = format!(
        "select tw.id as town_id, tw.name as town,
             count(*) filter (where k.done_at is not null) as done,
             count(*) filter (where k.result = 'pass') as passed,
             count(*) filter (where k.result = 'relapse') as relapsed,
             count(*) filter (where k.done_at is null) as open,
             count(*) filter (where k.done_at is null and k.due_on < $3) as overdue
         from look_back_task k join site s on s.id = k.site_id left join town tw on tw.id = s.town_id
         where (k.done_at is null or (k.done_at at time zone 'Asia/Shanghai')::date between $1 and $2) and {}
         group by tw.id, tw.name
         order by relapsed desc, done desc, tw.name",
        super::sites::scope_condition(4)
    );
    super::sites::bind_scope(sqlx::query_as(&sql).bind(from).bind(to).bind(today), scope).fetch_all(pool).await
}
