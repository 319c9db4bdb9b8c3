//! The 12345 hotline platform's export of tickets (热线工单): a CSV in UTF-8 (with or without a BOM) or
//! GBK/GB18030, read with the platform's Chinese headers (工单编号, 来电时间, 诉求内容, 事发地址 …) or
//! English ones. The text is decoded and split by the crash import's reader (`crashes::read`), without its
//! dropping of personal columns: a ticket's caller phone and name are its contact data, kept for dispatchers
//! (and purged after the retention period); columns no field reads are never copied out of the reader.
//!
//! Per row, with reasons: each row is checked by `domain::hotline::check` (the form's rules) and stored through
//! `db::hotline::store`; a row that cannot be read is refused with its row number and reason, and the rest
//! are stored. A platform export holds a day's or a month's tickets, and one malformed row must not hold back
//! the others while callers wait; the operator fixes the refused rows and imports the file again, which
//! stores only what is new, because the ticket number is the key. Rows are stored in one transaction: a
//! database error stores nothing, and a dry run is the same transaction rolled back, so it counts exactly
//! what the import would store.

use std::collections::BTreeMap;
use std::time::Instant;

use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::crashes::columns::same_header;
use super::crashes::read::{Sheet, SheetRow, read_csv_dropping};
use super::crashes::row::parse_time;
use super::crashes::{CrashImportError, CrashLimits};
use crate::db::hotline::{self as db, Outcome};
use crate::domain::coords::SourceCrs;
use crate::domain::hotline::{FieldError, TicketInput, category_of_words, check};

/// Refused rows listed in a report; the rest are counted.
pub const REFUSED_LISTED_MAX: usize = 200;
const FILE_NAME_CHARS_MAX: usize = 255;

/// What one file may hold: a year of a county's road tickets is a few thousand rows.
pub fn default_limits() -> CrashLimits {
    CrashLimits { bytes_max: 16 << 20, rows_max: 20_000, columns_max: 200, cell_chars_max: 2000 }
}

/// The fields a ticket row may give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TicketField {
    TicketNo,
    CalledAt,
    Description,
    Address,
    Lon,
    Lat,
    CallerPhone,
    CallerName,
    Category,
}

impl TicketField {
    pub const ALL: [TicketField; 9] = [
        TicketField::TicketNo,
        TicketField::CalledAt,
        TicketField::Description,
        TicketField::Address,
        TicketField::Lon,
        TicketField::Lat,
        TicketField::CallerPhone,
        TicketField::CallerName,
        TicketField::Category,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketField::TicketNo => "ticket_no",
            TicketField::CalledAt => "called_at",
            TicketField::Description => "description",
            TicketField::Address => "address",
            TicketField::Lon => "lon",
            TicketField::Lat => "lat",
            TicketField::CallerPhone => "caller_phone",
            TicketField::CallerName => "caller_name",
            TicketField::Category => "category",
        }
    }

    /// The headers the hotline platforms' exports use, compared without case and spaces; README lists them.
    pub fn headers(self) -> &'static [&'static str] {
        match self {
            TicketField::TicketNo => &["工单编号", "工单号", "ticket_no", "工单编码", "ticket", "ticket_number"],
            TicketField::CalledAt => {
                &["来电时间", "受理时间", "called_at", "登记时间", "创建时间", "call_time", "time"]
            }
            TicketField::Description => {
                &["诉求内容", "问题描述", "description", "来电内容", "反映内容", "工单内容", "content"]
            }
            TicketField::Address => &["事发地址", "地址", "address", "事发地点", "发生地址", "诉求地址", "location"],
            TicketField::Lon => &["经度", "lon", "lng", "longitude"],
            TicketField::Lat => &["纬度", "lat", "latitude"],
            TicketField::CallerPhone => &["来电号码", "联系电话", "caller_phone", "phone", "来电电话", "联系方式"],
            TicketField::CallerName => &["来电人", "联系人", "caller_name", "name", "来电人姓名", "联系人姓名"],
            TicketField::Category => &["诉求类别", "category", "问题类别", "诉求分类", "工单类别", "类别"],
        }
    }
}

/// The file's column of every field it has.
fn resolve(headers: &[String]) -> BTreeMap<TicketField, usize> {
    TicketField::ALL
        .into_iter()
        .filter_map(|field| {
            let index = field.headers().iter().find_map(|name| headers.iter().position(|h| same_header(h, name)))?;
            Some((field, index))
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct HotlineImportOptions {
    pub dry_run: bool,
    /// The coordinates' system (12345 platforms often keep GCJ-02 or BD-09).
    pub crs: SourceCrs,
    pub encoding: Option<&'static encoding_rs::Encoding>,
    pub file_name: String,
    /// Who imports: every stored ticket's `entered_by`.
    pub imported_by: String,
    pub limits: CrashLimits,
}

impl HotlineImportOptions {
    pub fn new(file_name: impl Into<String>, imported_by: impl Into<String>) -> HotlineImportOptions {
        HotlineImportOptions {
            dry_run: false,
            crs: SourceCrs::Wgs84,
            encoding: None,
            file_name: file_name.into(),
            imported_by: imported_by.into(),
            limits: default_limits(),
        }
    }

    /// `crs` (wgs84, gcj02, bd09) and `encoding` (a WHATWG label: gbk, gb18030, utf-8) as text, checked.
    pub fn parse_text(&mut self, crs: Option<&str>, encoding: Option<&str>) -> Result<(), CrashImportError> {
        let refused = |m: String| CrashImportError::refused("hotline_import_options", m);
        if let Some(crs) = crs.map(str::trim).filter(|c| !c.is_empty()) {
            self.crs = crs.parse().map_err(|e: crate::domain::coords::ParseSourceCrsError| refused(e.to_string()))?;
        }
        if let Some(label) = encoding.map(str::trim).filter(|e| !e.is_empty()) {
            self.encoding = Some(encoding_rs::Encoding::for_label(label.as_bytes()).ok_or_else(|| {
                refused(format!(
                    "unknown encoding {:?}; use gbk, gb18030 or utf-8",
                    label.chars().take(32).collect::<String>()
                ))
            })?);
        }
        Ok(())
    }
}

/// A row refused: its row number (the header is row 1), its ticket number if readable, a stable code, the
/// field it concerns and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RefusedTicket {
    pub row: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket_no: Option<String>,
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
    pub reason: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct HotlineFile {
    pub name: String,
    pub sha256: String,
    pub bytes: u64,
    pub encoding: Option<String>,
    pub crs: SourceCrs,
}

/// What an import did, or a dry run would do.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HotlineImportReport {
    pub dry_run: bool,
    pub file: HotlineFile,
    /// Field → the header it was read from.
    pub columns: BTreeMap<&'static str, String>,
    /// Columns no field reads: never stored.
    pub ignored_columns: Vec<String>,
    pub rows_read: u64,
    /// New tickets stored (or, in a dry run, that would be).
    pub rows_stored: u64,
    /// Tickets stored before under the same number with the same content (a re-import).
    pub rows_known: u64,
    pub rows_refused: u64,
    /// The first `REFUSED_LISTED_MAX` refused rows, by row number.
    pub refused: Vec<RefusedTicket>,
    pub elapsed_ms: u64,
}

/// The reader's refusals in the hotline import's words (the reader is the crash import's).
fn from_reader(e: CrashImportError) -> CrashImportError {
    match e {
        CrashImportError::Refused { code, message } => {
            let code = match code {
                "crash_import_encoding" => "hotline_import_encoding",
                "crash_import_rows" => "hotline_import_rows",
                "crash_import_columns" => "hotline_import_columns",
                "crash_import_header" => "hotline_import_header",
                _ => "hotline_import_unreadable",
            };
            CrashImportError::Refused { code, message }
        }
        other => other,
    }
}

/// Reads, checks and (unless a dry run) stores the tickets of one file.
pub async fn import(
    pool: &PgPool,
    bytes: Vec<u8>,
    options: &HotlineImportOptions,
) -> Result<HotlineImportReport, CrashImportError> {
    let started = Instant::now();
    if bytes.len() as u64 > options.limits.bytes_max {
        return Err(CrashImportError::TooLarge(format!(
            "the file is {} bytes; a hotline export may have at most {}",
            bytes.len(),
            options.limits.bytes_max
        )));
    }
    let name_chars = options.file_name.chars().count();
    if name_chars == 0 || name_chars > FILE_NAME_CHARS_MAX {
        return Err(CrashImportError::refused("hotline_import_options", "a file name has 1–255 characters"));
    }
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let file_bytes = bytes.len() as u64;
    let (encoding, limits) = (options.encoding, options.limits);
    // Decoding and splitting is CPU work: off the async threads.
    let sheet = tokio::task::spawn_blocking(move || read_csv_dropping(&bytes, encoding, &limits, |_| false))
        .await
        .map_err(|e| CrashImportError::Internal(anyhow::anyhow!("the hotline file reader stopped: {e}")))?
        .map_err(from_reader)?;
    let columns = resolve(&sheet.headers);
    for needed in [TicketField::TicketNo, TicketField::Description] {
        if !columns.contains_key(&needed) {
            return Err(CrashImportError::refused(
                "hotline_import_columns",
                format!(
                    "the file has no column for {} ({}); its columns are: {}",
                    needed.as_str(),
                    needed.headers().join(", "),
                    sheet.headers.join(", ")
                ),
            ));
        }
    }
    let mut report = HotlineImportReport {
        dry_run: options.dry_run,
        file: HotlineFile {
            name: options.file_name.clone(),
            sha256,
            bytes: file_bytes,
            encoding: sheet.encoding.clone(),
            crs: options.crs,
        },
        columns: columns.iter().map(|(f, i)| (f.as_str(), sheet.headers[*i].clone())).collect(),
        ignored_columns: sheet
            .headers
            .iter()
            .enumerate()
            .filter(|(i, _)| !columns.values().any(|c| c == i))
            .map(|(_, h)| h.clone())
            .collect(),
        rows_read: sheet.rows.len() as u64,
        rows_stored: 0,
        rows_known: 0,
        rows_refused: 0,
        refused: Vec::new(),
        elapsed_ms: 0,
    };

    let mut refused = Vec::new();
    let now = chrono::Utc::now();
    let mut tx = pool.begin().await?;
    for row in &sheet.rows {
        let ticket = match read_row(&sheet, row, &columns, options, now) {
            Ok(ticket) => ticket,
            Err(r) => {
                refused.push(r);
                continue;
            }
        };
        match db::store(&mut tx, &ticket, &options.imported_by).await? {
            Outcome::Created(_) => report.rows_stored += 1,
            Outcome::Known(_) => report.rows_known += 1,
            Outcome::Conflict { fields, .. } => refused.push(RefusedTicket {
                row: row.number,
                ticket_no: Some(ticket.ticket_no.clone()),
                code: "ticket_conflict",
                field: Some("ticket_no"),
                reason: format!(
                    "ticket {} is stored already with a different {}; a ticket number names one ticket",
                    ticket.ticket_no,
                    fields.join(", ")
                ),
            }),
        }
    }
    report.rows_refused = refused.len() as u64;
    refused.truncate(REFUSED_LISTED_MAX);
    report.refused = refused;
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    if options.dry_run {
        // The same statements rolled back: a dry run counts exactly what the import would store.
        tx.rollback().await?;
    } else {
        tx.commit().await?;
        tracing::info!(
            file = %options.file_name,
            stored = report.rows_stored,
            known = report.rows_known,
            refused = report.rows_refused,
            "hotline tickets imported"
        );
    }
    Ok(report)
}

/// One row checked into a ticket, or refused with its reason.
fn read_row(
    sheet: &Sheet,
    row: &SheetRow,
    columns: &BTreeMap<TicketField, usize>,
    options: &HotlineImportOptions,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<crate::domain::hotline::Ticket, RefusedTicket> {
    let text = |field: TicketField| columns.get(&field).and_then(|&i| row.cells.get(i)).and_then(|c| c.as_deref());
    let ticket_no = text(TicketField::TicketNo).map(|t| t.chars().take(48).collect::<String>());
    let refuse = |code: &'static str, field: Option<&'static str>, reason: String| RefusedTicket {
        row: row.number,
        ticket_no: ticket_no.clone(),
        code,
        field,
        reason,
    };
    if let Some((i, _)) = row
        .cells
        .iter()
        .enumerate()
        .find(|(_, c)| c.as_ref().is_some_and(|c| c.chars().count() > options.limits.cell_chars_max))
    {
        let header = sheet.headers.get(i).map_or("?", String::as_str);
        return Err(refuse(
            "cell_too_long",
            None,
            format!("the cell of {header} is longer than {} characters", options.limits.cell_chars_max),
        ));
    }
    let called_at = match text(TicketField::CalledAt) {
        None => return Err(refuse("no_time", Some("called_at"), "no time of the call (来电时间)".into())),
        Some(t) => parse_time(t, false, now).map_err(|e| refuse("bad_time", Some("called_at"), e))?,
    };
    let number = |field: TicketField, t: &str| {
        t.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| refuse("bad_coordinates", Some(field.as_str()), format!("{t:?} is not a number of degrees")))
    };
    let point = match (text(TicketField::Lon), text(TicketField::Lat)) {
        (None, None) => None,
        (Some(lon), Some(lat)) => Some((number(TicketField::Lon, lon)?, number(TicketField::Lat, lat)?)),
        _ => {
            return Err(refuse("bad_coordinates", Some("lon"), "give both longitude and latitude, or neither".into()));
        }
    };
    let input = TicketInput {
        ticket_no: text(TicketField::TicketNo),
        called_at: Some(called_at),
        description: text(TicketField::Description),
        address: text(TicketField::Address),
        point,
        crs: options.crs,
        category: Some(text(TicketField::Category).map_or("other", category_of_words)),
        caller_phone: text(TicketField::CallerPhone),
        caller_name: text(TicketField::CallerName),
    };
    check(&input, now).map_err(|FieldError { field, message }| refuse("invalid_field", Some(field), message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_and_english_headers_resolve() {
        let zh: Vec<String> =
            ["工单号", "受理时间", "问题描述", "地址", "经度", "纬度", "联系电话", "联系人", "诉求类别", "办理状态"]
                .map(String::from)
                .into();
        let columns = resolve(&zh);
        assert_eq!(columns.len(), 9);
        assert_eq!(columns[&TicketField::CalledAt], 1);
        assert_eq!(columns[&TicketField::CallerName], 7);
        let en: Vec<String> = ["Ticket_No", "Called_At", "Description", "Address"].map(String::from).into();
        let columns = resolve(&en);
        assert_eq!(columns[&TicketField::TicketNo], 0);
        assert_eq!(columns[&TicketField::Address], 3);
        assert!(!columns.contains_key(&TicketField::Lon));
    }
}
