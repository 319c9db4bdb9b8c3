//! The ledger (台账, DOMAIN.md §8): every site of a filter and scope as one flat row, with its checklist
//! states and the dates of its lifecycle steps, streamed out of PostgreSQL row by row.
//!
//! An export runs in one read-only REPEATABLE READ transaction, so the row count checked against the limit,
//! the checklist columns and the rows all come from one snapshot. A spawned task reads the rows with
//! `fetch()` and hands them over through a bounded channel: a slow reader holds back the query instead of
//! the rows piling up in memory, and a reader that goes away stops it.

use super::ReadPool;
use std::collections::HashMap;
use std::time::Duration;

use chrono::NaiveDate;
use futures::StreamExt;
use sqlx::PgConnection;
use tokio::sync::mpsc;

use super::sites::{FILTER_PARAMS, SiteFilter, bind_filter, filter_condition};
use crate::domain::site::SiteStatus;

/// Most rows one export may hold. A whole county is a few thousand sites; this leaves room for a province
/// while keeping one export to well under a minute and a spreadsheet Excel opens comfortably (the format's
/// own limit is 1 048 576 rows).
pub const LEDGER_ROWS_MAX: i64 = 200_000;

/// Dates in the ledger are calendar days where the sites are (China Standard Time, UTC+8, no DST).
pub const LEDGER_TIME_ZONE: &str = "Asia/Shanghai";

/// Rows decoded ahead of the writer. Bounded: the query waits for the writer, never the other way round.
const ROWS_IN_FLIGHT: usize = 512;

/// A reader that takes no row for this long (a download that stalled) is given up on, so that it does not
/// hold a connection and a snapshot open indefinitely.
pub const READER_STALL_MAX: Duration = Duration::from_secs(60);

/// One checklist item column: every item of every template, in template then position order.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ItemColumn {
    pub template_code: String,
    pub item_code: String,
    pub template_name: String,
    pub item_name: String,
}

/// One site as the ledger shows it, still in codes: the report layer turns codes into labels.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct LedgerRow {
    pub code: String,
    pub town: Option<String>,
    pub route_code: Option<String>,
    pub stake: Option<String>,
    pub end_stake: Option<String>,
    pub kind: String,
    /// Codes, in the site's order; [`Export::hazard_type_names`] has their names.
    pub hazard_types: Vec<String>,
    pub hazard_level: Option<String>,
    pub source: String,
    pub responsible_unit: Option<String>,
    pub deadline: Option<NaiveDate>,
    pub status: String,
    /// Indexes into [`Export::item_columns`] of the site's items, and each item's state, pairwise.
    pub item_columns: Vec<i32>,
    pub item_states: Vec<String>,
    /// The latest event of each step, as a date in [`LEDGER_TIME_ZONE`].
    pub opened_on: Option<NaiveDate>,
    pub verified_on: Option<NaiveDate>,
    pub dispatched_on: Option<NaiveDate>,
    pub accepted_on: Option<NaiveDate>,
    pub close_out_requested_on: Option<NaiveDate>,
    pub closed_on: Option<NaiveDate>,
    /// Days past the deadline of an open site, counted from today in [`LEDGER_TIME_ZONE`].
    pub overdue_days: Option<i32>,
    pub return_count: i32,
    pub relapse_count: i32,
    pub supervision_level: String,
    pub supervision_body: Option<String>,
    pub supervision_doc_no: Option<String>,
    /// WGS-84 degrees of the point, or of a section's first vertex.
    pub lon: f64,
    pub lat: f64,
    /// The 12345 hotline ticket numbers (工单号) accepted or merged into the site, joined with `、` in number
    /// order: read from `public_report` at every export, never copied onto the site.
    pub ticket_nos: Option<String>,
}

/// An export under way: what the header needs, and the rows as they arrive. An `Err` is the last item.
#[derive(Debug)]
pub struct Export {
    /// Today in [`LEDGER_TIME_ZONE`], as the database saw it when the export began.
    pub today: NaiveDate,
    pub row_count: i64,
    pub item_columns: Vec<ItemColumn>,
    /// Hazard type code → Chinese name. Looked up here rather than per row in SQL, where it cost a third of
    /// the query's time.
    pub hazard_type_names: HashMap<String, String>,
    pub rows: mpsc::Receiver<sqlx::Result<LedgerRow>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{rows} sites match; a ledger export holds at most {max}")]
    TooManyRows { rows: i64, max: i64 },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What an export's connection calls itself in `pg_stat_activity` while the export runs.
pub const EXPORT_APPLICATION_NAME: &str = "roadledger ledger export";

/// The columns and the rows come from the same order: template code, then position.
const ITEM_COLUMNS: &str = "
    select ti.template_code, ti.code as item_code, t.name as template_name, ti.name as item_name,
           (row_number() over (order by ti.template_code, ti.position))::int - 1 as n
    from checklist_template_item ti
    join checklist_template t on t.code = ti.template_code";

/// Starts an export of every site `filter` selects (its `after` and `limit` are ignored), or refuses when
/// more than `rows_max` match.
pub async fn export(reads: impl Into<ReadPool>, filter: &SiteFilter, rows_max: i64) -> Result<Export, ExportError> {
    let reads: ReadPool = reads.into();
    let mut tx = reads.pool().begin_with("begin isolation level repeatable read, read only").await?;
    // The planner's cost estimate for a whole ledger crosses the JIT threshold, and compiling the query took
    // 0.6 s of a 3 s export of 100 000 sites, before the first row; per-row work here gains nothing from it.
    // The application name shows a running export in pg_stat_activity (both last until the transaction ends).
    sqlx::query!(
        r#"select set_config('jit', 'off', true) as "jit", set_config('application_name', $1, true) as "name""#,
        EXPORT_APPLICATION_NAME
    )
    .fetch_one(&mut *tx)
    .await?;
    let (row_count, today): (i64, NaiveDate) = bind_filter(
        sqlx::query_as(&format!(
            "select count(*), (now() at time zone ${tz}::text)::date from site s where {filter}",
            filter = filter_condition(1),
            tz = FILTER_PARAMS + 1,
        )),
        filter,
    )
    .bind(LEDGER_TIME_ZONE)
    .fetch_one(&mut *tx)
    .await?;
    if row_count > rows_max {
        return Err(ExportError::TooManyRows { rows: row_count, max: rows_max });
    }
    let item_columns =
        sqlx::query_as(&format!("select * from ({ITEM_COLUMNS}) c order by n")).fetch_all(&mut *tx).await?;
    let hazard_type_names = sqlx::query!("select code, name from hazard_type")
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| (r.code, r.name))
        .collect();

    let (sender, rows) = mpsc::channel(ROWS_IN_FLIGHT);
    let filter = filter.clone();
    tokio::spawn(async move {
        // Read-only: commit and rollback end it alike. After an error or a reader gone midway, dropping the
        // transaction rolls it back when the connection is next used.
        if forward_rows(&mut tx, &filter, &sender).await
            && let Err(e) = tx.commit().await
        {
            tracing::warn!(error = %e, "ending a ledger export's transaction failed");
        }
    });
    Ok(Export { today, row_count, item_columns, hazard_type_names, rows })
}

/// Sends every row; stops early after an error (which it sends on), when the reader is gone, or when it
/// stalls for [`READER_STALL_MAX`]. Answers whether every row was sent.
async fn forward_rows(
    conn: &mut PgConnection,
    filter: &SiteFilter,
    sender: &mpsc::Sender<sqlx::Result<LedgerRow>>,
) -> bool {
    let sql = rows_sql();
    let open: Vec<&str> = SiteStatus::open_codes();
    let mut rows =
        bind_filter(sqlx::query_as::<_, LedgerRow>(&sql), filter).bind(LEDGER_TIME_ZONE).bind(open).fetch(&mut *conn);
    while let Some(row) = rows.next().await {
        let failed = row.is_err();
        match tokio::time::timeout(READER_STALL_MAX, sender.send(row)).await {
            Ok(Ok(())) if !failed => {}
            Ok(_) => return false,
            Err(_) => {
                tracing::warn!(stalled_s = READER_STALL_MAX.as_secs(), "ledger export abandoned: its reader stalled");
                return false;
            }
        }
    }
    true
}

/// Each site's 12345 ticket numbers (热线工单号), joined with `、` in number order. A report has a site only once
/// accepted or merged (`public_report_decision_complete`). Grouped once and hash-joined rather than read per
/// site like the laterals below: over 100 000 sites that costs about half as much (`benches/ledger.rs`), and
/// the hotline's tickets are a small table.
const TICKET_NOS: &str = "
    select r.site_id, string_agg(r.ticket_no, '、' order by r.ticket_no) as ticket_nos
    from public_report r
    where r.site_id is not null and r.ticket_no is not null
    group by r.site_id";

/// The ledger query: parameters as [`filter_condition`], then the time zone and the open statuses.
/// Each site's checklist items and events are read through its own index range (laterals), so the cost
/// grows with the rows selected, not with the whole tables.
fn rows_sql() -> String {
    format!(
        "with item_column as ({ITEM_COLUMNS})
         select s.code, t.name as town, s.route_code, s.stake_text as stake, s.end_stake_text as end_stake, s.kind,
             s.hazard_types,
             s.hazard_level, s.source, u.name as responsible_unit, s.deadline, s.status,
             ck.item_columns, ck.item_states,
             (ev.opened at time zone ${tz}::text)::date as opened_on,
             (ev.verified at time zone ${tz}::text)::date as verified_on,
             (ev.dispatched at time zone ${tz}::text)::date as dispatched_on,
             (ev.accepted at time zone ${tz}::text)::date as accepted_on,
             (ev.close_out_requested at time zone ${tz}::text)::date as close_out_requested_on,
             (ev.closed at time zone ${tz}::text)::date as closed_on,
             case when s.deadline < (now() at time zone ${tz}::text)::date and s.status = any(${open}::text[])
                  then (now() at time zone ${tz}::text)::date - s.deadline end as overdue_days,
             s.return_count, s.relapse_count,
             s.supervision_level, s.supervision_body, s.supervision_doc_no,
             st_x(p.point) as lon, st_y(p.point) as lat, hr.ticket_nos
         from site s
         left join town t on t.id = s.town_id
         left join organisation u on u.id = s.responsible_unit_id
         cross join lateral (
             select coalesce(array_agg(c.n order by c.n), '{{}}') as item_columns,
                    coalesce(array_agg(i.state order by c.n), '{{}}') as item_states
             from site_checklist_item i
             join item_column c on c.template_code = i.template_code and c.item_code = i.item_code
             where i.site_id = s.id) ck
         cross join lateral (
             select max(e.at) filter (where e.kind = 'opened') as opened,
                    max(e.at) filter (where e.kind = 'verify') as verified,
                    max(e.at) filter (where e.kind = 'dispatch') as dispatched,
                    max(e.at) filter (where e.kind = 'accept') as accepted,
                    max(e.at) filter (where e.kind = 'request_close_out') as close_out_requested,
                    max(e.at) filter (where e.kind = 'approve') as closed
             from site_event e
             where e.site_id = s.id) ev
         cross join lateral (
             select case when s.kind = 'section' then st_startpoint(s.geom) else s.geom end as point) p
         left join ({TICKET_NOS}) hr on hr.site_id = s.id
         where {filter}
         order by s.code",
        filter = filter_condition(1),
        tz = FILTER_PARAMS + 1,
        open = FILTER_PARAMS + 2,
    )
}
