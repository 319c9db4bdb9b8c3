//! The tables a county imports beside its maps, as CSV: organisations (name, kind, town) and chainage breaks
//! (route, county, stake behind, stake ahead). UTF-8 (with or without a BOM, as Excel writes it) or, with
//! `--encoding`, GBK and the like.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use sqlx::PgPool;

use super::{
    FileInfo, ImportError, ImportKind, ImportOptions, ImportProgress, ImportReport, Problem, file_digest, finish,
};
use crate::db::places::{self as db, BreakRow};
use crate::domain::labels::ORGANISATION_KINDS;
use crate::domain::places::{self as rules, StakeUnit};

/// Largest table accepted: a county has hundreds of organisations and breaks, not millions.
const TABLE_BYTES_MAX: u64 = 16 << 20;
const TABLE_ROWS_MAX: usize = 100_000;
const ORGANISATION_NAME_CHARS_MAX: usize = 128;

/// A CSV file as header names and rows, each row with its line number (the header is line 1).
struct Table {
    headers: Vec<String>,
    rows: Vec<(u64, Vec<String>)>,
}

impl Table {
    fn read(path: &Path, encoding: Option<&'static encoding_rs::Encoding>) -> Result<Table, String> {
        let name = path.file_name().unwrap_or_default().display().to_string();
        let bytes = std::fs::metadata(path).map_err(|e| format!("cannot read {name}: {e}"))?.len();
        if bytes > TABLE_BYTES_MAX {
            return Err(format!("{name} is {bytes} bytes; a table may have at most {TABLE_BYTES_MAX}"));
        }
        let raw = std::fs::read(path).map_err(|e| format!("cannot read {name}: {e}"))?;
        let text = match encoding {
            Some(encoding) => {
                let (text, had_errors) = encoding.decode_without_bom_handling(raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&raw));
                if had_errors {
                    return Err(format!("{name} is not valid {}", encoding.name()));
                }
                text.into_owned()
            }
            None => String::from_utf8(raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&raw).to_vec()).map_err(|_| {
                format!("{name} is not UTF-8; pass --encoding gbk (tables saved by Excel on Chinese Windows are usually GBK)")
            })?,
        };
        let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
        let headers =
            reader.headers().map_err(|e| format!("{name}: {e}"))?.iter().map(|h| h.trim().to_owned()).collect();
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| format!("{name}: {e}"))?;
            if rows.len() == TABLE_ROWS_MAX {
                return Err(format!("{name} has more than {TABLE_ROWS_MAX} rows"));
            }
            if record.iter().all(str::is_empty) {
                continue;
            }
            let line = record.position().map_or(0, |p| p.line());
            rows.push((line, record.iter().map(str::to_owned).collect()));
        }
        Ok(Table { headers, rows })
    }

    /// The column of the first of `names` the table has (compared without case), or an error listing its headers.
    fn column(&self, field: &str, names: &[&str], required: bool) -> Result<Option<usize>, String> {
        let found = names.iter().find_map(|n| self.headers.iter().position(|h| h.eq_ignore_ascii_case(n)));
        match found {
            None if required => Err(format!(
                "the table has no column for {field} (one of {}); its columns are: {}",
                names.join(", "),
                self.headers.join(", ")
            )),
            found => Ok(found),
        }
    }
}

fn cell(row: &[String], column: Option<usize>) -> Option<&str> {
    column.and_then(|c| row.get(c)).map(String::as_str).filter(|s| !s.is_empty())
}

fn table_report(kind: ImportKind, path: &Path, options: &ImportOptions) -> Result<ImportReport, ImportError> {
    let (sha256, bytes) =
        file_digest(path).map_err(|e| ImportError::Options(format!("cannot read {}: {e}", options.file_name)))?;
    Ok(ImportReport::new(
        kind,
        options.dry_run,
        FileInfo {
            name: options.file_name.clone(),
            sha256,
            bytes,
            format: "csv".into(),
            crs: None,
            encoding: Some(options.encoding.map_or("UTF-8".into(), |e| e.name().to_owned())),
            fields: Default::default(),
        },
    ))
}

/// Imports organisations from a CSV of `name`, `kind` and `town` (the town's admin code or name; needed for
/// kind `town`). Kinds are the codes (`responsible_unit`) or their Chinese names (责任单位). Organisations are
/// matched by name: new ones are added, changed ones updated, none removed (accounts belong to them).
pub async fn import_organisations(
    pool: &PgPool,
    path: &Path,
    options: &ImportOptions,
    progress: Arc<ImportProgress>,
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let mut report = table_report(ImportKind::Organisations, path, options)?;
    let table = Table::read(path, options.encoding).map_err(ImportError::Options)?;
    let name_col =
        table.column("name", &["name", "名称", "单位名称", "organisation"], true).map_err(ImportError::Options)?;
    let kind_col = table.column("kind", &["kind", "类型", "单位类型"], true).map_err(ImportError::Options)?;
    let town_col = table
        .column("town", &["town", "town_admin_code", "admin_code", "区镇代码", "区镇", "所属区镇"], false)
        .map_err(ImportError::Options)?;
    progress.set_phase(ImportProgress::CHECKING);

    let towns: Vec<(i32, String, String)> = sqlx::query!("select id, admin_code, name from town")
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|t| (t.id, t.admin_code, t.name))
        .collect();
    let mut seen = std::collections::HashMap::new();
    let mut rows = Vec::new();
    for (line, row) in &table.rows {
        report.features_read += 1;
        let mut fail = |problem: String| {
            report.problem(Problem {
                feature: Some(*line),
                key: cell(row, name_col).map(str::to_owned),
                problem,
                attributes: None,
            })
        };
        let Some(name) = cell(row, name_col) else {
            fail("no name".into());
            continue;
        };
        if name.chars().count() > ORGANISATION_NAME_CHARS_MAX {
            fail(format!("name is longer than {ORGANISATION_NAME_CHARS_MAX} characters"));
            continue;
        }
        if let Some(first) = seen.insert(name.to_owned(), *line) {
            fail(format!("{name} is listed twice (lines {first} and {line})"));
            continue;
        }
        let given_kind = cell(row, kind_col).unwrap_or("");
        let Some(kind) = ORGANISATION_KINDS
            .iter()
            .find(|(code, label)| *code == given_kind || *label == given_kind)
            .map(|(c, _)| *c)
        else {
            let known: Vec<String> = ORGANISATION_KINDS.iter().map(|(c, l)| format!("{c} ({l})")).collect();
            fail(format!("unknown kind {given_kind:?}; use one of {}", known.join(", ")));
            continue;
        };
        let town_id = match cell(row, town_col) {
            None if kind == "town" => {
                fail("a town organisation needs its town (admin code or name)".into());
                continue;
            }
            None => None,
            Some(town) => {
                let code = rules::town_admin_code(town).ok();
                match towns.iter().find(|(_, c, n)| Some(c) == code.as_ref() || n == town) {
                    Some((id, _, _)) => Some(*id),
                    None => {
                        fail(format!("no town {town}: import the towns first (roadledger import towns)"));
                        continue;
                    }
                }
            }
        };
        rows.push((name.to_owned(), kind, town_id));
    }
    if report.problems_total > 0 {
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        return Err(ImportError::Refused(Box::new(report)));
    }

    progress.set_phase(ImportProgress::WRITING);
    let mut tx = pool.begin().await?;
    db::lock_imports(&mut tx).await?;
    let import_id = db::begin_import(&mut tx, &report, None, &options.importer).await?;
    let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let kinds: Vec<&str> = rows.iter().map(|r| r.1).collect();
    let town_ids: Vec<Option<i32>> = rows.iter().map(|r| r.2).collect();
    let counts = sqlx::query!(
        r#"with u as (select * from unnest($1::text[], $2::text[], $3::int[]) as u(name, kind, town_id)),
         updated as (
             update organisation o set kind = u.kind, town_id = u.town_id, import_id = $4 from u
             where o.name = u.name and (o.kind <> u.kind or o.town_id is distinct from u.town_id) returning o.id),
         inserted as (
             insert into organisation (name, kind, town_id, import_id)
             select u.name, u.kind, u.town_id, $4 from u where not exists (select 1 from organisation o where o.name = u.name)
             returning id)
         select (select count(*) from inserted) as "inserted!", (select count(*) from updated) as "updated!""#,
        &names as &[&str],
        &kinds as &[&str],
        &town_ids as &[Option<i32>],
        import_id
    )
    .fetch_one(&mut *tx)
    .await?;
    let (inserted, updated) = (counts.inserted, counts.updated);
    report.inserted = inserted as u64;
    report.updated = updated as u64;
    report.unchanged = rows.len() as u64 - report.inserted - report.updated;
    finish(tx, import_id, report, started, &progress).await
}

/// Reads a chainage break table: `route_code`, optional `admin_code` (else `county`), `stake_back` and
/// `stake_ahead` (stake text or numbers in metres).
pub(crate) fn read_breaks(
    path: &Path,
    encoding: Option<&'static encoding_rs::Encoding>,
    county: Option<&str>,
) -> Result<Vec<BreakRow>, String> {
    let table = Table::read(path, encoding)?;
    let route_col = table.column("route_code", &["route_code", "路线编码", "lxbm"], true)?;
    let county_col = table.column("admin_code", &["admin_code", "行政区划代码", "xzqhdm"], false)?;
    let back_col = table.column("stake_back", &["stake_back", "断链前桩号", "back"], true)?;
    let ahead_col = table.column("stake_ahead", &["stake_ahead", "断链后桩号", "ahead"], true)?;
    let mut out = Vec::new();
    for (line, row) in &table.rows {
        let at = |e: String| format!("line {line}: {e}");
        let (route_code, county_in_code) = rules::route_code(cell(row, route_col).unwrap_or(""))
            .map_err(at)?
            .ok_or_else(|| at("no route code".into()))?;
        let admin_code = match cell(row, county_col) {
            Some(code) => rules::county_admin_code(code).map_err(at)?,
            None => county_in_code
                .or(county.map(str::to_owned))
                .ok_or_else(|| at("no county: add an admin_code column or pass --county".into()))?,
        };
        let stake = |col| {
            rules::stake_value(&serde_json::Value::String(cell(row, col).unwrap_or("").to_owned()), StakeUnit::M)
                .map_err(at)?
                .ok_or_else(|| at("a break needs both stakes".into()))
        };
        out.push(BreakRow {
            line: *line,
            route_code,
            admin_code,
            stake_back_m: stake(back_col)?,
            stake_ahead_m: stake(ahead_col)?,
        });
    }
    Ok(out)
}

/// Imports a chainage break table on its own (replacing the breaks of the routes it names), then re-derives the
/// stakes of open sites on those routes.
pub async fn import_chainage_breaks(
    pool: &PgPool,
    path: &Path,
    options: &ImportOptions,
    progress: Arc<ImportProgress>,
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let mut report = table_report(ImportKind::ChainageBreaks, path, options)?;
    let county = match options.county.as_deref() {
        Some(c) => Some(rules::county_admin_code(c).map_err(ImportError::Options)?),
        None => db::only_county(pool).await?,
    };
    let rows = read_breaks(path, options.encoding, county.as_deref()).map_err(ImportError::Options)?;
    report.features_read = rows.len() as u64;
    let mut tx = pool.begin().await?;
    db::lock_imports(&mut tx).await?;
    sqlx::query("create temp table touched_road (id integer primary key) on commit drop").execute(&mut *tx).await?;
    let before = all_breaks(&mut tx).await?;
    let import_id = db::begin_import(&mut tx, &report, county.as_deref(), &options.importer).await?;
    match db::apply_breaks(&mut tx, &rows).await? {
        Ok(count) => report.inserted = count,
        Err(problems) => {
            for p in problems {
                report.problem(p);
            }
            tx.rollback().await?;
            report.elapsed_ms = started.elapsed().as_millis() as u64;
            return Err(ImportError::Refused(Box::new(report)));
        }
    }
    let after = all_breaks(&mut tx).await?;
    if before == after {
        report.unchanged = report.inserted;
        report.inserted = 0;
    }
    db::rederive_sites(
        &mut tx,
        ImportKind::ChainageBreaks,
        import_id,
        county.as_deref(),
        &options.importer.name,
        &mut report,
    )
    .await?;
    finish(tx, import_id, report, started, &progress).await
}

/// Every chainage break of every road, in order: compared before and after an import to tell a re-import that
/// changed nothing.
async fn all_breaks(conn: &mut sqlx::PgConnection) -> sqlx::Result<Vec<(i32, f64, f64, f64)>> {
    let rows = sqlx::query!(
        "select road_id, measure_m, stake_back_m, stake_ahead_m from road_chainage_break order by road_id, measure_m"
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.road_id, r.measure_m, r.stake_back_m, r.stake_ahead_m)).collect())
}
