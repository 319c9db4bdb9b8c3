//! Crash records from the police crash database's exports (issue 12): CSV, XLSX or GeoJSON, read with the
//! headers police exports use (or a mapping), checked row by row, placed, and stored in one transaction.
//!
//! A row is placed by its coordinates (converted from the declared `crs` to WGS-84) when it has them; else by
//! its road + stake, located on the county's roads (an unknown route, or a stake a chainage break skips or
//! beyond the road's ends, refuses the row). With both, the coordinates place it and the road + stake are
//! recorded when the road is known. Rows that cannot be read or placed are refused with their row numbers;
//! the rest are imported. Refused rows are not errors: only a database error rolls the import back.
//!
//! Personal data is never stored: columns whose header names a person or a vehicle's identity are dropped as
//! the header is read (`columns::is_personal`), and the report lists them. The same file twice imports nothing
//! new: every crash has a stable key, `no:` + the police record number, or `sha256:` over its stored values.

pub mod columns;
pub mod read;
pub mod row;

use std::collections::HashMap;
use std::time::Instant;

use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::db::crashes::{self as db, CrashColumns, ImportRecord};
use crate::domain::coords::SourceCrs;
use crate::domain::places::{ChainageBreak, StakeOffRoad, measure_on_road, stake_at};
use crate::domain::stake::Stake;
use columns::{CrashField, CrashMapping};
use read::{CrashFormat, Sheet};
use row::{CrashRow, RefusedRow, RowRules};

/// Refused rows listed in a report; the rest are counted (`rows_refused`).
pub const REFUSED_LISTED_MAX: usize = 200;
const FILE_NAME_CHARS_MAX: usize = 255;

/// What an import reads at most; each limit is a clear refusal, never a partial import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrashLimits {
    pub bytes_max: u64,
    pub rows_max: usize,
    pub columns_max: usize,
    /// Longest cell (characters): a longer one refuses its row.
    pub cell_chars_max: usize,
}

impl Default for CrashLimits {
    fn default() -> Self {
        CrashLimits { bytes_max: 64 << 20, rows_max: 500_000, columns_max: 200, cell_chars_max: 1000 }
    }
}

#[derive(Debug, Clone)]
pub struct CrashImportOptions {
    pub dry_run: bool,
    pub crs: SourceCrs,
    pub encoding: Option<&'static encoding_rs::Encoding>,
    pub sheet: Option<String>,
    pub mapping: CrashMapping,
    /// The county of route codes that do not name one; `None`: any county's road of that code, if only one.
    pub county: Option<String>,
    pub file_name: String,
    pub imported_by: String,
    pub limits: CrashLimits,
}

impl CrashImportOptions {
    pub fn new(file_name: impl Into<String>, imported_by: impl Into<String>) -> CrashImportOptions {
        CrashImportOptions {
            dry_run: false,
            crs: SourceCrs::Wgs84,
            encoding: None,
            sheet: None,
            mapping: CrashMapping::default(),
            county: None,
            file_name: file_name.into(),
            imported_by: imported_by.into(),
            limits: CrashLimits::default(),
        }
    }

    /// The options as text (the command line, the upload's parts), checked: `crs` is wgs84, gcj02 or bd09,
    /// `encoding` a WHATWG label (gbk, gb18030, utf-8), the mapping JSON (see `CrashMapping::from_json`).
    pub fn parse_text(
        &mut self,
        crs: Option<&str>,
        encoding: Option<&str>,
        sheet: Option<&str>,
        mapping: Option<&str>,
    ) -> Result<(), CrashImportError> {
        let options = |m: String| CrashImportError::refused("crash_import_options", m);
        if let Some(crs) = crs.map(str::trim).filter(|c| !c.is_empty()) {
            self.crs = crs.parse().map_err(|e: crate::domain::coords::ParseSourceCrsError| options(e.to_string()))?;
        }
        if let Some(label) = encoding.map(str::trim).filter(|e| !e.is_empty()) {
            self.encoding = Some(encoding_rs::Encoding::for_label(label.as_bytes()).ok_or_else(|| {
                options(format!("unknown encoding {:?}; use gbk, gb18030 or utf-8", columns::clip(label)))
            })?);
        }
        if let Some(sheet) = sheet.map(str::trim).filter(|s| !s.is_empty()) {
            if sheet.chars().count() > 64 {
                return Err(options("a sheet name has at most 64 characters".into()));
            }
            self.sheet = Some(sheet.to_owned());
        }
        if let Some(mapping) = mapping.map(str::trim).filter(|m| !m.is_empty()) {
            self.mapping = CrashMapping::from_json(mapping).map_err(|e| {
                let code = if e.contains("personal data") { "crash_mapping_personal" } else { "crash_import_options" };
                CrashImportError::refused(code, e)
            })?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CrashImportError {
    /// The file is larger than the limit (413).
    #[error("{0}")]
    TooLarge(String),
    /// The file or the options cannot be used at all (422), with a stable code.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl CrashImportError {
    pub fn refused(code: &'static str, message: impl Into<String>) -> CrashImportError {
        CrashImportError::Refused { code, message: message.into() }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CrashFile {
    pub name: String,
    pub sha256: String,
    pub bytes: u64,
    pub format: CrashFormat,
    pub encoding: Option<String>,
    pub sheet: Option<String>,
    pub crs: SourceCrs,
}

/// What an import did, or a dry run would do: the API's answer, the command's output, `crash_import.report`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CrashImportReport {
    pub import_id: Option<i64>,
    pub dry_run: bool,
    pub file: CrashFile,
    /// Field → the header it was read from.
    pub columns: std::collections::BTreeMap<&'static str, String>,
    /// Columns of personal data: never read, never stored.
    pub dropped_columns: Vec<String>,
    /// Other columns no field reads.
    pub ignored_columns: Vec<String>,
    /// How values were read where a reader should know (e.g. 受伤人数 counted as slight injuries).
    pub notes: Vec<String>,
    pub rows_read: u64,
    pub rows_imported: u64,
    pub rows_known: u64,
    pub rows_refused: u64,
    /// The first `REFUSED_LISTED_MAX` refused rows, by row number.
    pub refused: Vec<RefusedRow>,
    pub elapsed_ms: u64,
}

/// Reads, checks, places and (unless a dry run) stores the crashes of one file.
pub async fn import(
    pool: &PgPool,
    bytes: Vec<u8>,
    options: &CrashImportOptions,
) -> Result<CrashImportReport, CrashImportError> {
    let started = Instant::now();
    if bytes.len() as u64 > options.limits.bytes_max {
        return Err(CrashImportError::TooLarge(format!(
            "the file is {} bytes; a crash file may have at most {}",
            bytes.len(),
            options.limits.bytes_max
        )));
    }
    let name_chars = options.file_name.chars().count();
    if name_chars == 0 || name_chars > FILE_NAME_CHARS_MAX {
        return Err(CrashImportError::refused("crash_import_options", "a file name has 1–255 characters"));
    }
    options.mapping.check_personal().map_err(|e| CrashImportError::refused("crash_mapping_personal", e))?;
    let sha256 = Sha256::digest(&bytes).to_vec();
    let format = CrashFormat::detect(&options.file_name, &bytes);
    let file_bytes = bytes.len() as u64;

    // Decoding and checking rows is CPU work: off the async threads.
    let checking = options.clone();
    let (sheet, checked) = tokio::task::spawn_blocking(move || check_file(&bytes, format, &checking))
        .await
        .map_err(|e| CrashImportError::Internal(anyhow::anyhow!("the crash file reader stopped: {e}")))??;
    let Checked { columns, rows, mut refused, notes } = checked;

    let mut report = CrashImportReport {
        import_id: None,
        dry_run: options.dry_run,
        file: CrashFile {
            name: options.file_name.clone(),
            sha256: hex::encode(&sha256),
            bytes: file_bytes,
            format,
            encoding: sheet.encoding.clone(),
            sheet: sheet.sheet.clone(),
            crs: options.crs,
        },
        columns: columns.0.iter().map(|(f, i)| (f.as_str(), sheet.headers[*i].clone())).collect(),
        dropped_columns: sheet.dropped.clone(),
        ignored_columns: sheet
            .headers
            .iter()
            .enumerate()
            .filter(|(i, _)| !columns.0.values().any(|c| c == i))
            .map(|(_, h)| h.clone())
            .collect(),
        notes,
        rows_read: sheet.rows.len() as u64,
        rows_imported: 0,
        rows_known: 0,
        rows_refused: 0,
        refused: Vec::new(),
        elapsed_ms: 0,
    };
    drop(sheet);

    let placed = place(pool, rows, options, &mut refused).await?;
    refused.sort_by_key(|r| r.row);
    report.rows_refused = refused.len() as u64;
    refused.truncate(REFUSED_LISTED_MAX);
    report.refused = refused;

    let mut tx = pool.begin().await?;
    let import_id = db::begin_import(
        &mut tx,
        &ImportRecord {
            file_name: &options.file_name,
            file_sha256: &sha256,
            format: format.as_str(),
            imported_by: &options.imported_by,
        },
    )
    .await?;
    let mut imported = 0;
    for batch in placed.chunks(INSERT_BATCH_ROWS) {
        imported += db::insert_crashes(&mut tx, import_id, &columns_of(batch, options.crs)).await?;
    }
    report.rows_imported = imported as u64;
    report.rows_known = placed.len() as u64 - report.rows_imported;
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    if options.dry_run {
        // The same statements rolled back: a dry run counts exactly what the import would store.
        tx.rollback().await?;
        return Ok(report);
    }
    report.import_id = Some(import_id);
    let count = |n: u64| i32::try_from(n).unwrap_or(i32::MAX);
    db::finish_import(
        &mut tx,
        import_id,
        count(report.rows_read),
        count(report.rows_imported),
        count(report.rows_known),
        count(report.rows_refused),
        &report.dropped_columns,
        &serde_json::to_value(&report).map_err(|e| CrashImportError::Internal(e.into()))?,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        import_id,
        file = %options.file_name,
        imported = report.rows_imported,
        known = report.rows_known,
        refused = report.rows_refused,
        "crash records imported"
    );
    Ok(report)
}

/// Crashes per insert statement: 20 arrays of this many values each stay well within a statement's size.
const INSERT_BATCH_ROWS: usize = 5_000;

struct Checked {
    columns: columns::Columns,
    rows: Vec<CrashRow>,
    refused: Vec<RefusedRow>,
    notes: Vec<String>,
}

fn check_file(
    bytes: &[u8],
    format: CrashFormat,
    options: &CrashImportOptions,
) -> Result<(Sheet, Checked), CrashImportError> {
    let limits = &options.limits;
    let sheet = match format {
        CrashFormat::Csv => read::read_csv(bytes, options.encoding, limits)?,
        CrashFormat::Xlsx => read::read_xlsx(bytes, options.sheet.as_deref(), limits)?,
        CrashFormat::GeoJson => read::read_geojson(bytes, limits)?,
    };
    let columns =
        options.mapping.resolve(&sheet.headers).map_err(|e| CrashImportError::refused("crash_import_columns", e))?;
    if !columns.has(CrashField::Time) {
        return Err(CrashImportError::refused(
            "crash_import_columns",
            format!(
                "the file has no time column (事故时间, time, 发生时间 …); give one in the mapping. Its columns are: {}",
                sheet.headers.join(", ")
            ),
        ));
    }
    let has_point = format == CrashFormat::GeoJson || (columns.has(CrashField::Lon) && columns.has(CrashField::Lat));
    let has_stake = columns.has(CrashField::RouteCode) && columns.has(CrashField::Stake);
    if !has_point && !has_stake {
        return Err(CrashImportError::refused(
            "crash_import_columns",
            format!(
                "the file has neither coordinates (经度 and 纬度) nor road and stake (路线编码 and 桩号), so no crash \
                 can be placed; give them in the mapping. Its columns are: {}",
                sheet.headers.join(", ")
            ),
        ));
    }
    let mut notes = Vec::new();
    if columns.has(CrashField::Injuries)
        && !columns.has(CrashField::SeriousInjuries)
        && !columns.has(CrashField::SlightInjuries)
    {
        notes.push(format!(
            "{} (injuries) counted as slight injuries: the file does not split serious from slight",
            sheet.headers[columns.get(CrashField::Injuries).unwrap_or_default()]
        ));
    }
    let rules = RowRules {
        columns: &columns,
        crs: options.crs,
        workbook: format == CrashFormat::Xlsx,
        cell_chars_max: limits.cell_chars_max,
        now: chrono::Utc::now(),
    };
    let (mut rows, mut refused) = (Vec::new(), Vec::new());
    for row in &sheet.rows {
        match rules.check(row) {
            Ok(crash) => rows.push(crash),
            Err(r) => refused.push(r),
        }
    }
    Ok((sheet, Checked { columns, rows, refused, notes }))
}

/// A crash with its point and road.
struct Placed {
    crash: CrashRow,
    point: [f64; 2],
    located_by_stake: bool,
    road_id: Option<i32>,
    route_code: Option<String>,
}

/// Places every row: by its coordinates, else its road + stake on the county's roads. Rows that cannot be
/// placed join `refused`.
async fn place(
    pool: &PgPool,
    rows: Vec<CrashRow>,
    options: &CrashImportOptions,
    refused: &mut Vec<RefusedRow>,
) -> Result<Vec<Placed>, CrashImportError> {
    let mut codes: Vec<String> = rows.iter().filter_map(|r| r.place.route.as_ref().map(|(c, _)| c.clone())).collect();
    codes.sort();
    codes.dedup();
    let roads = if codes.is_empty() { Vec::new() } else { db::roads_by_routes(pool, &codes).await? };
    let road_ids: Vec<i32> = roads.iter().map(|r| r.id).collect();
    let mut breaks: HashMap<i32, Vec<ChainageBreak>> = HashMap::new();
    if !road_ids.is_empty() {
        for (road_id, b) in db::breaks_of(pool, &road_ids).await? {
            breaks.entry(road_id).or_default().push(b);
        }
    }
    let no_breaks = Vec::new();

    let mut placed = Vec::with_capacity(rows.len());
    // Stake rows waiting for their point: (index in `placed`, road, measure, range for the message).
    let mut pending: Vec<(usize, i32, f64, String)> = Vec::new();
    for crash in rows {
        let refuse = |code: &'static str, reason: String| RefusedRow {
            row: crash.row,
            record_no: crash.record_no.clone(),
            code,
            field: Some("stake"),
            reason,
        };
        // The road the route names: in the county the code names (or the import's), and only one.
        let road = match &crash.place.route {
            None => Ok(None),
            Some((code, county)) => {
                let county = county.as_deref().or(options.county.as_deref());
                let found: Vec<&db::RoadExtent> = roads
                    .iter()
                    .filter(|r| &r.route_code == code && county.is_none_or(|c| r.admin_code == c))
                    .collect();
                match found.as_slice() {
                    [one] => Ok(Some(*one)),
                    [] => Err(refuse("unknown_route", format!("no road {code} in the county's roads"))),
                    _ => Err(refuse(
                        "ambiguous_route",
                        format!(
                            "{code} names roads in several counties; write the county in the code (e.g. {code}320582)"
                        ),
                    )),
                }
            }
        };
        if let Some(point) = crash.place.point {
            // Coordinates place the crash; the road + stake are kept when the road is known.
            let road = road.ok().flatten().filter(|_| crash.place.stake_m.is_some());
            placed.push(Placed {
                point,
                located_by_stake: false,
                road_id: road.map(|r| r.id),
                route_code: road.map(|r| r.route_code.clone()),
                crash,
            });
            continue;
        }
        let road = match road {
            Ok(Some(road)) => road,
            Ok(None) => unreachable!("a row without coordinates has a route (RowRules::check)"),
            Err(r) => {
                refused.push(r);
                continue;
            }
        };
        let (Some(low), Some(high)) = (road.low_m, road.high_m) else {
            refused.push(refuse("road_without_stakes", format!("road {} has no stakes", road.route_code)));
            continue;
        };
        let road_breaks = breaks.get(&road.id).unwrap_or(&no_breaks);
        let stake_text = |m: f64| Stake::derived(stake_at(m, road_breaks)).map(|s| s.to_string()).unwrap_or_default();
        let range = format!("{} runs from {} to {}", road.route_code, stake_text(low), stake_text(high));
        let stake_m = crash.place.stake_m.unwrap_or_default();
        match measure_on_road(stake_m, road_breaks, low, high) {
            Ok(measure) => {
                pending.push((placed.len(), road.id, measure, range));
                placed.push(Placed {
                    point: [0.0, 0.0],
                    located_by_stake: true,
                    road_id: Some(road.id),
                    route_code: Some(road.route_code.clone()),
                    crash,
                });
            }
            Err(StakeOffRoad::BeyondEnds) => {
                refused.push(refuse("stake_beyond_road", format!("the stake is beyond the road's ends: {range}")))
            }
            Err(StakeOffRoad::SkippedByBreak) => refused
                .push(refuse("stake_skipped", format!("a chainage break skips the stake on {}", road.route_code))),
        }
    }
    if pending.is_empty() {
        return Ok(placed);
    }
    let (ids, measures): (Vec<i32>, Vec<f64>) = pending.iter().map(|(_, road, m, _)| (*road, *m)).unzip();
    let mut found = vec![None; pending.len()];
    for (i, lon, lat) in db::points_at_measures(pool, &ids, &measures).await? {
        if let Some(slot) = found.get_mut(i as usize) {
            *slot = Some([lon, lat]);
        }
    }
    let mut gaps = Vec::new();
    for ((index, _, _, range), point) in pending.iter().zip(found) {
        match point {
            Some(point) => placed[*index].point = point,
            None => gaps.push((*index, range.clone())),
        }
    }
    // Stakes in a gap between a road's parts: refused, and out of the placed list (highest index first).
    for (index, range) in gaps.into_iter().rev() {
        let crash = placed.remove(index).crash;
        refused.push(RefusedRow {
            row: crash.row,
            record_no: crash.record_no,
            code: "stake_beyond_road",
            field: Some("stake"),
            reason: format!("the stake falls in a gap between the road's parts: {range}"),
        });
    }
    Ok(placed)
}

fn columns_of(batch: &[Placed], crs: SourceCrs) -> CrashColumns {
    let mut c = CrashColumns::default();
    for p in batch {
        let crash = &p.crash;
        c.source_key.push(crash.source_key.clone());
        c.record_no.push(crash.record_no.clone());
        c.occurred_at.push(crash.occurred_at);
        c.lon.push(p.point[0]);
        c.lat.push(p.point[1]);
        c.located_by.push(if p.located_by_stake { "stake" } else { "coordinates" });
        c.source_crs.push(if p.located_by_stake { SourceCrs::Wgs84.as_str() } else { crs.as_str() });
        c.road_id.push(p.road_id);
        c.route_code.push(p.route_code.clone());
        c.stake_m.push(p.road_id.and(crash.place.stake_m));
        c.stake_text.push(p.road_id.and(crash.place.stake_text.clone()));
        c.deaths.push(crash.deaths);
        c.serious_injuries.push(crash.serious_injuries);
        c.slight_injuries.push(crash.slight_injuries);
        c.crash_type.push(crash.crash_type.map(|t| t.as_str()));
        c.vehicle_types.push(crash.vehicle_types.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(","));
        c.weather.push(crash.weather.map(|w| w.as_str()));
        c.light.push(crash.light.map(|l| l.as_str()));
        c.road_surface.push(crash.road_surface.map(|r| r.as_str()));
        c.summary.push(crash.summary.clone());
    }
    c
}
