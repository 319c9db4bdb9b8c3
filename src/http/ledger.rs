//! `GET /api/v1/ledger.csv` and `GET /api/v1/ledger.xlsx`: the ledger (台账, DOMAIN.md §8). One row per site
//! with Chinese headers, for every site `GET /api/v1/sites` would list with the same filters (bbox, status,
//! kind, town) and the same scope, without paging, up to `db::ledger::LEDGER_ROWS_MAX` rows.
//!
//! - CSV is streamed: rows go into the response as PostgreSQL sends them, so memory stays flat whatever the
//!   size. UTF-8 with a BOM (Excel on Chinese Windows needs it to read UTF-8), RFC 4180 quoting, CRLF.
//!   A database error midway aborts the response, so the client sees a failed download rather than a file
//!   that looks complete.
//! - XLSX is built in `spawn_blocking` (zipping is CPU work) by rust_xlsxwriter in constant-memory mode,
//!   which writes each row to a temporary file as it comes, then saved to an unlinked temporary file and
//!   sent with its length. An error before the first byte is an ordinary problem+json answer.
//!
//! Limits: more than `LEDGER_ROWS_MAX` matching sites is a 400 that says how to narrow the filter; at most
//! `EXPORTS_CONCURRENT_MAX` exports run at once, and a request that waited `EXPORT_QUEUE_WAIT` for a slot
//! gets a 429 with `Retry-After`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, BufWriter, Seek as _};
use std::time::Duration;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::NaiveDate;
use futures::{StreamExt, stream};
use rust_xlsxwriter::{Format, Workbook};
use serde::Deserialize;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{Semaphore, SemaphorePermit};

use super::sites::{ListParams, parse_filter};
use super::{AppState, Error, Result};
use crate::db::ledger::{self, Export, ExportError, ItemColumn, LedgerRow};
use crate::domain::auth::Actor;
use crate::domain::labels;
use crate::domain::site::{ItemState, SiteKind, SiteStatus};

/// Exports running at once, server-wide. Each holds a database connection (of the pool's 16) for as long as
/// its rows are read, which for a CSV is as long as the client takes to download it.
pub const EXPORTS_CONCURRENT_MAX: usize = 4;
static EXPORTS: Semaphore = Semaphore::const_new(EXPORTS_CONCURRENT_MAX);

/// Export slots taken now (for `/metrics`).
pub(super) fn exports_in_use() -> usize {
    EXPORTS_CONCURRENT_MAX.saturating_sub(EXPORTS.available_permits())
}
/// How long a request waits for a running export to finish before it is turned away with 429.
const EXPORT_QUEUE_WAIT: Duration = Duration::from_secs(10);

/// CSV rows are sent in chunks of about this size rather than one frame per row.
const CSV_CHUNK_BYTES: usize = 64 * 1024;
const SHEET_NAME: &str = "台账";

/// The sites list's filters, without its paging: a ledger is always whole.
/// The sites list's filter (`GET /api/v1/sites`), without paging: the ledger has every site it selects.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LedgerParams {
    /// `minlon,minlat,maxlon,maxlat` in WGS-84 degrees.
    bbox: Option<String>,
    /// Statuses, comma-separated.
    status: Option<String>,
    /// `intersection`, `section` or `spot`.
    kind: Option<String>,
    /// A town's admin code or name.
    town: Option<String>,
    /// The sites one figure of a report counts, e.g. `month:2026-11:overdue` (a report's click-through).
    figure: Option<String>,
}

/// Columns before the checklist items: header and a width (Excel character units) that fits typical content.
const LEADING_COLUMNS: [(&str, f64); 11] = [
    ("编号", 11.0),
    ("区镇", 10.0),
    ("道路", 6.0),
    ("桩号", 18.0),
    ("类型", 6.0),
    ("隐患类型", 30.0),
    ("隐患等级", 6.0),
    ("来源", 10.0),
    ("责任单位", 20.0),
    ("整改时限", 11.0),
    ("状态", 7.0),
];

/// Columns after the checklist items.
const TRAILING_COLUMNS: [(&str, f64); 13] = [
    ("上报日期", 11.0),
    ("核实日期", 11.0),
    ("派单日期", 11.0),
    ("签收日期", 11.0),
    ("申请销号日期", 11.0),
    ("销号日期", 11.0),
    ("超期天数", 6.0),
    ("退回次数", 6.0),
    ("反弹次数", 6.0),
    ("挂牌督办", 30.0),
    ("经度", 12.0),
    ("纬度", 11.0),
    // The 12345 tickets the site came from or took in (accepted or merged), so a hotline office finds its
    // tickets in the ledger it is sent.
    ("热线工单号", 20.0),
];

/// The ledger (台账) of the sites the filter selects, as CSV for Excel.
#[utoipa::path(
    get,
    path = "/ledger.csv",
    operation_id = "ledger_csv",
    tag = "ledger",
    params(LedgerParams),
    responses(
        (status = 200, description = "The ledger (台账) as CSV with a UTF-8 BOM, one row per site", body = String, content_type = "text/csv"),
        (status = 400, description = "A parameter is malformed (the message says which)"),
    )
)]
pub async fn csv(
    State(state): State<AppState>,
    actor: Actor,
    params: std::result::Result<Query<LedgerParams>, QueryRejection>,
) -> Result<Response> {
    let (mut export, permit) = start(&state, &actor, params).await?;
    let layout = Layout::new(&export.item_columns, std::mem::take(&mut export.hazard_type_names));
    let mut head = String::from("\u{feff}");
    csv_row(&mut head, layout.headers.iter().map(|(title, _)| Cell::Text(Cow::Borrowed(title.as_str()))));
    let filename = attachment(export.today, "csv");
    let rows = CsvRows { expected: export.row_count, sent: 0, rows: export.rows, layout, _permit: permit };
    let body = stream::once(async { Ok(Bytes::from(head)) }).chain(stream::unfold(Some(rows), next_csv_chunk));
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
        (header::CONTENT_DISPOSITION, filename),
        (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
    ];
    Ok((headers, Body::from_stream(body)).into_response())
}

/// The ledger (台账) of the sites the filter selects, as an Excel workbook.
#[utoipa::path(
    get,
    path = "/ledger.xlsx",
    operation_id = "ledger_xlsx",
    tag = "ledger",
    params(LedgerParams),
    responses(
        (status = 200, description = "The ledger as an Excel workbook", body = String, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 400, description = "A parameter is malformed (the message says which)"),
    )
)]
pub async fn xlsx(
    State(state): State<AppState>,
    actor: Actor,
    params: std::result::Result<Query<LedgerParams>, QueryRejection>,
) -> Result<Response> {
    let (export, permit) = start(&state, &actor, params).await?;
    let filename = attachment(export.today, "xlsx");
    let (file, bytes) = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        write_xlsx(export)
    })
    .await
    .map_err(internal)??;
    let file = tokio::fs::File::from_std(file);
    let body = stream::try_unfold(file, |mut file| async move {
        let mut buffer = vec![0; 64 * 1024];
        let n = file.read(&mut buffer).await?;
        buffer.truncate(n);
        Ok::<_, io::Error>((n > 0).then(|| (Bytes::from(buffer), file)))
    });
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ),
        (header::CONTENT_LENGTH, HeaderValue::from(bytes)),
        (header::CONTENT_DISPOSITION, filename),
        (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
    ];
    Ok((headers, Body::from_stream(body)).into_response())
}

/// Parses the filters, takes an export slot and starts the export in the actor's scope.
async fn start(
    state: &AppState,
    actor: &Actor,
    params: std::result::Result<Query<LedgerParams>, QueryRejection>,
) -> Result<(Export, SemaphorePermit<'static>)> {
    let Query(p) = params.map_err(|e| {
        Error::BadRequest(format!(
            "{}; parameters are bbox, status, kind, town, figure (a ledger has no paging)",
            e.body_text()
        ))
    })?;
    let mut filter = parse_filter(ListParams {
        bbox: p.bbox,
        status: p.status,
        kind: p.kind,
        town: p.town,
        figure: p.figure,
        limit: None,
        after: None,
    })?;
    filter.scope = actor.site_scope();
    let queue = &crate::metrics::METRICS.ledger_export;
    let waiting = queue.waiting.track();
    let permit = tokio::time::timeout(EXPORT_QUEUE_WAIT, EXPORTS.acquire()).await.ok().and_then(Result::ok);
    drop(waiting);
    if permit.is_none() {
        queue.refused.inc();
    }
    let permit = permit.ok_or_else(|| Error::TooManyRequests {
        message: format!("{EXPORTS_CONCURRENT_MAX} ledger exports are running; try again in a few seconds"),
        retry_after_s: 5,
    })?;
    // The export reads in one repeatable-read transaction, on the replica once it has caught up.
    let reads = state.reader().await?;
    let export = ledger::export(reads, &filter, ledger::LEDGER_ROWS_MAX).await.map_err(refusal)?;
    Ok((export, permit))
}

fn refusal(e: ExportError) -> Error {
    match e {
        ExportError::TooManyRows { rows, max } => Error::BadRequest(format!(
            "{rows} sites match; a ledger export holds at most {max}. Narrow it with town, status, kind or bbox"
        )),
        ExportError::Database(e) => e.into(),
    }
}

fn internal(e: impl Into<anyhow::Error>) -> Error {
    Error::Internal(e.into())
}

/// `attachment` with an ASCII `filename` for old clients and the Chinese name as RFC 5987 `filename*`
/// (RFC 6266 §4.3): 台账-2026-11-30.csv.
fn attachment(today: NaiveDate, extension: &str) -> HeaderValue {
    let chinese = percent_encode_attr(&format!("台账-{today}.{extension}"));
    let value = format!("attachment; filename=\"ledger-{today}.{extension}\"; filename*=UTF-8''{chinese}");
    HeaderValue::from_str(&value).expect("percent-encoded ASCII is a valid header value")
}

/// RFC 5987 §3.2.1 `value-chars`: `attr-char`s as they are, every other byte of the UTF-8 as `%XX`.
fn percent_encode_attr(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// One cell, typed so that the spreadsheet gets real dates and numbers and the CSV their plain text.
#[derive(Debug, Clone, PartialEq)]
enum Cell<'a> {
    Empty,
    Text(Cow<'a, str>),
    Date(NaiveDate),
    Int(i32),
    /// WGS-84 degrees, shown with 6 decimals (about 0.1 m).
    Degrees(f64),
}

impl<'a> Cell<'a> {
    fn text(text: Option<&'a str>) -> Cell<'a> {
        text.map_or(Cell::Empty, |t| Cell::Text(Cow::Borrowed(t)))
    }

    fn label(label: &'static str) -> Cell<'a> {
        Cell::Text(Cow::Borrowed(label))
    }

    fn date(date: Option<NaiveDate>) -> Cell<'a> {
        date.map_or(Cell::Empty, Cell::Date)
    }
}

/// The columns of one export: fixed ones around one per checklist item of every template.
struct Layout {
    /// Header and column width.
    headers: Vec<(String, f64)>,
    items: usize,
    hazard_type_names: HashMap<String, String>,
}

impl Layout {
    fn new(items: &[ItemColumn], hazard_type_names: HashMap<String, String>) -> Layout {
        let fixed = |(title, width): &(&str, f64)| (title.to_string(), width.max(header_width(title)));
        let item = |c: &ItemColumn| {
            let title = format!("{}·{}", c.template_name, c.item_name);
            let width = header_width(&title).max(7.0);
            (title, width)
        };
        let headers = LEADING_COLUMNS
            .iter()
            .map(fixed)
            .chain(items.iter().map(item))
            .chain(TRAILING_COLUMNS.iter().map(fixed))
            .collect();
        Layout { headers, items: items.len(), hazard_type_names }
    }

    /// One row's cells, in header order. Codes become their Chinese labels; a code without one (which the
    /// schema's check constraints rule out) is shown as it is rather than dropped.
    fn cells<'r>(&self, row: &'r LedgerRow) -> Vec<Cell<'r>> {
        let mut cells = Vec::with_capacity(self.headers.len());
        cells.push(Cell::Text(Cow::Borrowed(&row.code)));
        cells.push(Cell::text(row.town.as_deref()));
        cells.push(Cell::text(row.route_code.as_deref()));
        cells.push(match (&row.stake, &row.end_stake) {
            (Some(start), Some(end)) => Cell::Text(Cow::Owned(format!("{start}～{end}"))),
            (start, end) => Cell::text(start.as_deref().or(end.as_deref())),
        });
        cells.push(coded(&row.kind, |k| k.parse::<SiteKind>().ok().map(labels::site_kind)));
        // Names joined with 、, the list separator of Chinese; a code without a name is shown as it is.
        let hazards: Vec<&str> = row
            .hazard_types
            .iter()
            .map(|code| self.hazard_type_names.get(code).map_or(code.as_str(), String::as_str))
            .collect();
        cells.push(if hazards.is_empty() { Cell::Empty } else { Cell::Text(Cow::Owned(hazards.join("、"))) });
        cells.push(
            row.hazard_level.as_deref().map_or(Cell::Empty, |l| coded(l, |l| labels::lookup(labels::HAZARD_LEVELS, l))),
        );
        cells.push(coded(&row.source, |s| labels::lookup(labels::SOURCES, s)));
        cells.push(Cell::text(row.responsible_unit.as_deref()));
        cells.push(Cell::date(row.deadline));
        cells.push(coded(&row.status, |s| s.parse::<SiteStatus>().ok().map(labels::site_status)));

        let first_item = cells.len();
        cells.resize(first_item + self.items, Cell::Empty);
        for (column, state) in row.item_columns.iter().zip(&row.item_states) {
            if let Some(cell) = usize::try_from(*column).ok().filter(|c| *c < self.items) {
                cells[first_item + cell] = coded(state, |s| s.parse::<ItemState>().ok().map(labels::item_state));
            }
        }

        cells.extend([
            Cell::date(row.opened_on),
            Cell::date(row.verified_on),
            Cell::date(row.dispatched_on),
            Cell::date(row.accepted_on),
            Cell::date(row.close_out_requested_on),
            Cell::date(row.closed_on),
            row.overdue_days.map_or(Cell::Empty, Cell::Int),
            Cell::Int(row.return_count),
            Cell::Int(row.relapse_count),
            labels::supervision(
                &row.supervision_level,
                row.supervision_body.as_deref(),
                row.supervision_doc_no.as_deref(),
            )
            .map_or(Cell::Empty, |s| Cell::Text(Cow::Owned(s))),
            Cell::Degrees(round6(row.lon)),
            Cell::Degrees(round6(row.lat)),
            Cell::text(row.ticket_nos.as_deref()),
        ]);
        cells
    }
}

/// The label of a code, or the code itself when it has none.
fn coded<'r>(code: &'r str, label: impl FnOnce(&str) -> Option<&'static str>) -> Cell<'r> {
    match label(code) {
        Some(label) => Cell::label(label),
        None => Cell::Text(Cow::Borrowed(code)),
    }
}

fn round6(degrees: f64) -> f64 {
    (degrees * 1e6).round() / 1e6
}

/// Width in Excel character units: CJK characters take two; two more for the filter button.
fn header_width(title: &str) -> f64 {
    title.chars().map(|c| if c.is_ascii() { 1.0 } else { 2.0 }).sum::<f64>() + 2.0
}

/// Appends one CSV record (RFC 4180): fields separated by commas, quoted when they hold a comma, quote or line
/// break, with quotes doubled; CRLF at the end.
fn csv_row<'a>(out: &mut String, cells: impl IntoIterator<Item = Cell<'a>>) {
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match cell {
            Cell::Empty => {}
            Cell::Text(text) => csv_text(out, &text),
            Cell::Date(date) => {
                let _ = write!(out, "{date}");
            }
            Cell::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Cell::Degrees(x) => {
                let _ = write!(out, "{x:.6}");
            }
        }
    }
    out.push_str("\r\n");
}

fn csv_text(out: &mut String, text: &str) {
    // Excel runs a field that starts with = + - @ (or a tab or CR before one) as a formula; a leading
    // apostrophe keeps it text (OWASP, "CSV Injection"). Names and document numbers are typed by people.
    let guard = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = text.contains([',', '"', '\r', '\n']);
    if quote {
        out.push('"');
    }
    if guard {
        out.push('\'');
    }
    if quote {
        for c in text.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
    } else {
        out.push_str(text);
    }
}

/// The CSV body after its header: rows as they arrive, batched into chunks.
struct CsvRows {
    rows: tokio::sync::mpsc::Receiver<sqlx::Result<LedgerRow>>,
    layout: Layout,
    /// The count taken in the export's snapshot, to tell a complete ledger from one cut short.
    expected: i64,
    sent: i64,
    _permit: SemaphorePermit<'static>,
}

/// Waits for one row, then takes every row already waiting, up to a chunk. `None` ends the body.
async fn next_csv_chunk(state: Option<CsvRows>) -> Option<(io::Result<Bytes>, Option<CsvRows>)> {
    let mut rows = state?;
    let mut chunk = String::with_capacity(CSV_CHUNK_BYTES + 4096);
    loop {
        let next = if chunk.is_empty() {
            rows.rows.recv().await
        } else {
            match rows.rows.try_recv() {
                Ok(row) => Some(row),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => None,
            }
        };
        match next {
            Some(Ok(row)) => {
                csv_row(&mut chunk, rows.layout.cells(&row));
                rows.sent += 1;
                if chunk.len() >= CSV_CHUNK_BYTES {
                    break;
                }
            }
            Some(Err(e)) => {
                tracing::error!(error = %e, sent = rows.sent, "ledger CSV export failed midway; the download is cut short");
                return Some((Err(io::Error::other("the ledger export failed")), None));
            }
            None if rows.sent != rows.expected => {
                tracing::error!(sent = rows.sent, expected = rows.expected, "ledger CSV export ended early");
                return Some((Err(io::Error::other("the ledger export ended early")), None));
            }
            None => return (!chunk.is_empty()).then(|| (Ok(Bytes::from(chunk)), None)),
        }
    }
    Some((Ok(Bytes::from(chunk)), Some(rows)))
}

/// Writes the workbook row by row as the rows arrive (blocking: run it in `spawn_blocking`), then saves it
/// to a temporary file that is already unlinked, so nothing is left behind whatever happens next. Answers
/// the file, rewound, and its length.
fn write_xlsx(mut export: Export) -> Result<(std::fs::File, u64)> {
    let layout = Layout::new(&export.item_columns, std::mem::take(&mut export.hazard_type_names));
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet_with_constant_memory().map_err(internal)?;
    sheet.set_name(SHEET_NAME).map_err(internal)?;
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let degrees = Format::new().set_num_format("0.000000");
    let last_column = (layout.headers.len() - 1) as u16;
    for (column, (title, width)) in layout.headers.iter().enumerate() {
        let column = column as u16;
        sheet.set_column_width(column, *width).map_err(internal)?;
        sheet.write_string_with_format(0, column, title, &bold).map_err(internal)?;
    }
    sheet.set_freeze_panes(1, 0).map_err(internal)?;

    let mut last_row: u32 = 0;
    while let Some(row) = export.rows.blocking_recv() {
        let row = row?;
        last_row += 1;
        for (column, cell) in layout.cells(&row).into_iter().enumerate() {
            let column = column as u16;
            match cell {
                Cell::Empty => continue,
                Cell::Text(text) => sheet.write_string(last_row, column, text),
                Cell::Date(day) => sheet.write_date_with_format(last_row, column, day, &date),
                Cell::Int(n) => sheet.write_number(last_row, column, n),
                Cell::Degrees(x) => sheet.write_number_with_format(last_row, column, x, &degrees),
            }
            .map_err(internal)?;
        }
    }
    if i64::from(last_row) != export.row_count {
        return Err(internal(anyhow::anyhow!("ledger export ended after {last_row} of {} rows", export.row_count)));
    }
    sheet.autofilter(0, 0, last_row, last_column).map_err(internal)?;

    let path = std::env::temp_dir().join(format!("roadledger-ledger-{}.xlsx", uuid::Uuid::new_v4()));
    let file = std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path).map_err(internal)?;
    // The open handle keeps the data; the name is not needed and would only be left behind by a crash.
    std::fs::remove_file(&path).map_err(internal)?;
    let mut writer = BufWriter::new(file);
    workbook.save_to_writer(&mut writer).map_err(internal)?;
    let mut file = writer.into_inner().map_err(|e| internal(e.into_error()))?;
    let bytes = file.stream_position().map_err(internal)?;
    file.rewind().map_err(internal)?;
    Ok((file, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_by_rfc_4180_and_formulas_are_neutralised() {
        let mut out = String::new();
        let cells = [
            Cell::Text("plain".into()),
            Cell::Text("a,b".into()),
            Cell::Text("say \"hi\"".into()),
            Cell::Text("two\nlines".into()),
            Cell::Empty,
            Cell::Text("=1+2".into()),
            Cell::Text("-1,2".into()),
            Cell::Date(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()),
            Cell::Int(-3),
            Cell::Degrees(120.5),
        ];
        csv_row(&mut out, cells);
        assert_eq!(
            out,
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",,'=1+2,\"'-1,2\",2026-11-30,-3,120.500000\r\n"
        );
    }

    #[test]
    fn the_filename_is_ascii_with_the_chinese_name_in_rfc_5987() {
        let value = attachment(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(), "csv");
        assert_eq!(
            value.to_str().unwrap(),
            "attachment; filename=\"ledger-2026-11-30.csv\"; filename*=UTF-8''%E5%8F%B0%E8%B4%A6-2026-11-30.csv"
        );
        assert_eq!(percent_encode_attr("a b/ü"), "a%20b%2F%C3%BC");
    }

    #[test]
    fn too_many_rows_is_a_bad_request_that_says_how_to_narrow_it() {
        let e = refusal(ExportError::TooManyRows { rows: 200_001, max: 200_000 });
        assert_eq!(e.status(), 400);
        assert_eq!(
            e.to_string(),
            "200001 sites match; a ledger export holds at most 200000. Narrow it with town, status, kind or bbox"
        );
    }

    #[test]
    fn coordinates_round_to_six_decimals() {
        assert_eq!(round6(120.123_456_7), 120.123_457);
        assert_eq!(round6(-0.000_000_4), 0.0);
    }
}
