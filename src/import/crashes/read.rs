//! A crash file as a sheet of text cells: CSV (UTF-8 with or without a BOM, or GBK/GB18030), XLSX (the first
//! sheet or a named one) or GeoJSON (Point features, properties as columns). Columns of personal data are
//! dropped as the header is read: their cells are never copied out of the reader.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};

use super::columns::{HEADER_CHARS_MAX, clip, is_personal};
use super::{CrashImportError, CrashLimits};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CrashFormat {
    Csv,
    Xlsx,
    GeoJson,
}

impl CrashFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            CrashFormat::Csv => "csv",
            CrashFormat::Xlsx => "xlsx",
            CrashFormat::GeoJson => "geojson",
        }
    }

    /// By the file name's extension, else by the first bytes (a zip is a workbook, `{` GeoJSON, else CSV).
    pub fn detect(file_name: &str, bytes: &[u8]) -> CrashFormat {
        let lower = file_name.to_ascii_lowercase();
        if lower.ends_with(".xlsx") {
            CrashFormat::Xlsx
        } else if lower.ends_with(".geojson") || lower.ends_with(".json") {
            CrashFormat::GeoJson
        } else if lower.ends_with(".csv") || lower.ends_with(".txt") {
            CrashFormat::Csv
        } else if bytes.starts_with(b"PK\x03\x04") {
            CrashFormat::Xlsx
        } else if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            CrashFormat::GeoJson
        } else {
            CrashFormat::Csv
        }
    }
}

/// One row: its number as the user sees it (a spreadsheet's row, header = 1; a GeoJSON feature's position,
/// first = 1), its kept cells, and for GeoJSON the feature's point or why it has none usable.
#[derive(Debug, Clone, PartialEq)]
pub struct SheetRow {
    pub number: u64,
    pub cells: Vec<Option<String>>,
    pub point: Option<Result<[f64; 2], String>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sheet {
    /// The kept headers, in order (the cells of each row follow them).
    pub headers: Vec<String>,
    /// Headers of personal data, dropped.
    pub dropped: Vec<String>,
    pub rows: Vec<SheetRow>,
    /// The text encoding a CSV was read in.
    pub encoding: Option<String>,
    /// The sheet a workbook was read from.
    pub sheet: Option<String>,
}

/// A header split: the indexes of the kept columns, their headers, and the dropped (personal) headers.
type SplitHeader = (Vec<usize>, Vec<String>, Vec<String>);

/// Which columns to keep, from the header: every one but those `dropped` names (personal data, for a crash
/// file). Refuses too many columns, headers too long, and the same header twice (a mapping could not tell
/// them apart).
fn split_header(
    raw: &[String],
    limits: &CrashLimits,
    dropped_if: fn(&str) -> bool,
) -> Result<SplitHeader, CrashImportError> {
    if raw.len() > limits.columns_max {
        return Err(CrashImportError::refused(
            "crash_import_columns",
            format!("the file has {} columns; at most {} are read", raw.len(), limits.columns_max),
        ));
    }
    let (mut keep, mut headers, mut dropped) = (Vec::new(), Vec::new(), Vec::new());
    for (i, header) in raw.iter().enumerate() {
        let header = header.trim().trim_start_matches('\u{feff}').to_owned();
        if header.chars().count() > HEADER_CHARS_MAX {
            return Err(CrashImportError::refused(
                "crash_import_header",
                format!("column {} has a header longer than {HEADER_CHARS_MAX} characters", i + 1),
            ));
        }
        if dropped_if(&header) {
            dropped.push(header);
        } else if !header.is_empty() {
            if headers.contains(&header) {
                return Err(CrashImportError::refused(
                    "crash_import_header",
                    format!("the header {:?} appears twice", clip(&header)),
                ));
            }
            keep.push(i);
            headers.push(header);
        }
    }
    Ok((keep, headers, dropped))
}

fn too_many_rows(limits: &CrashLimits) -> CrashImportError {
    CrashImportError::refused(
        "crash_import_rows",
        format!("the file has more than {} rows; split it into several files", limits.rows_max),
    )
}

/// A CSV's text: in the encoding given, else UTF-8 when it is valid UTF-8, else GB18030 (a superset of GBK,
/// what Excel on Chinese Windows saves). A BOM is dropped.
pub fn decode_text(
    bytes: &[u8],
    encoding: Option<&'static encoding_rs::Encoding>,
) -> Result<(String, String), CrashImportError> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let unreadable = |name: &str| {
        CrashImportError::refused(
            "crash_import_encoding",
            format!("the file is not valid {name}; say its encoding (gbk, gb18030, utf-8)"),
        )
    };
    match encoding {
        Some(encoding) => {
            let (text, had_errors) = encoding.decode_without_bom_handling(body);
            if had_errors {
                return Err(unreadable(encoding.name()));
            }
            Ok((text.into_owned(), encoding.name().to_owned()))
        }
        None => match std::str::from_utf8(body) {
            Ok(text) => Ok((text.to_owned(), "UTF-8".into())),
            Err(_) => {
                let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(body);
                if had_errors {
                    return Err(unreadable("UTF-8 or GB18030"));
                }
                Ok((text.into_owned(), "GB18030".into()))
            }
        },
    }
}

pub fn read_csv(
    bytes: &[u8],
    encoding: Option<&'static encoding_rs::Encoding>,
    limits: &CrashLimits,
) -> Result<Sheet, CrashImportError> {
    read_csv_dropping(bytes, encoding, limits, is_personal)
}

/// A CSV as `read_csv` reads it, dropping the columns whose header `dropped_if` names. The hotline's export
/// is read with it: its caller's phone and name are the ticket's contact data, kept for dispatchers.
pub fn read_csv_dropping(
    bytes: &[u8],
    encoding: Option<&'static encoding_rs::Encoding>,
    limits: &CrashLimits,
    dropped_if: fn(&str) -> bool,
) -> Result<Sheet, CrashImportError> {
    let (text, encoding) = decode_text(bytes, encoding)?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let unreadable =
        |e: csv::Error| CrashImportError::refused("crash_import_unreadable", format!("the CSV cannot be read: {e}"));
    let raw: Vec<String> = reader.headers().map_err(unreadable)?.iter().map(str::to_owned).collect();
    let (keep, headers, dropped) = split_header(&raw, limits, dropped_if)?;
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(unreadable)? {
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if rows.len() == limits.rows_max {
            return Err(too_many_rows(limits));
        }
        let number = record.position().map_or(0, |p| p.line());
        let cells =
            keep.iter().map(|&i| record.get(i).map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned)).collect();
        rows.push(SheetRow { number, cells, point: None });
    }
    Ok(Sheet { headers, dropped, rows, encoding: Some(encoding), sheet: None })
}

/// An XLSX cell as text: numbers as written (integers without a decimal point), dates as their Excel serial
/// number (the time field reads serials; a date cell is one).
fn cell_text(cell: &Data) -> Option<String> {
    let text = match cell {
        Data::Empty => return None,
        Data::String(s) => s.trim().to_owned(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => format!("{}", d.as_f64()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    };
    (!text.is_empty()).then_some(text)
}

pub fn read_xlsx(bytes: &[u8], sheet: Option<&str>, limits: &CrashLimits) -> Result<Sheet, CrashImportError> {
    let unreadable =
        |e: String| CrashImportError::refused("crash_import_unreadable", format!("the workbook cannot be read: {e}"));
    let mut workbook = Xlsx::new(Cursor::new(bytes)).map_err(|e| unreadable(e.to_string()))?;
    let names = workbook.sheet_names();
    let name = match sheet {
        Some(wanted) => names.iter().find(|n| n.as_str() == wanted).cloned().ok_or_else(|| {
            CrashImportError::refused(
                "crash_import_sheet",
                format!("the workbook has no sheet {:?}; its sheets are: {}", clip(wanted), names.join(", ")),
            )
        })?,
        None => names.first().cloned().ok_or_else(|| unreadable("it has no sheet".into()))?,
    };
    let range = workbook.worksheet_range(&name).map_err(|e| unreadable(e.to_string()))?;
    let first_row = range.start().map_or(0, |(row, _)| row as u64);
    let mut rows_iter = range.rows();
    let raw: Vec<String> =
        rows_iter.next().map(|r| r.iter().map(|c| cell_text(c).unwrap_or_default()).collect()).unwrap_or_default();
    let (keep, headers, dropped) = split_header(&raw, limits, is_personal)?;
    let mut rows = Vec::new();
    for (i, row) in rows_iter.enumerate() {
        let cells: Vec<Option<String>> = keep.iter().map(|&c| row.get(c).and_then(cell_text)).collect();
        if cells.iter().all(Option::is_none) {
            continue;
        }
        if rows.len() == limits.rows_max {
            return Err(too_many_rows(limits));
        }
        // Spreadsheet rows count from 1, and the header is the range's first row.
        rows.push(SheetRow { number: first_row + i as u64 + 2, cells, point: None });
    }
    Ok(Sheet { headers, dropped, rows, encoding: None, sheet: Some(name) })
}

/// A GeoJSON property value as cell text.
fn property_text(value: &serde_json::Value) -> Option<String> {
    let text = match value {
        serde_json::Value::Null => return None,
        serde_json::Value::String(s) => s.trim().to_owned(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    };
    (!text.is_empty()).then_some(text)
}

pub fn read_geojson(bytes: &[u8], limits: &CrashLimits) -> Result<Sheet, CrashImportError> {
    let unreadable =
        |e: String| CrashImportError::refused("crash_import_unreadable", format!("the GeoJSON cannot be read: {e}"));
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
        .map_err(|_| unreadable("GeoJSON is UTF-8 (RFC 7946)".into()))?;
    let collection: geojson::FeatureCollection = text.parse().map_err(|e: geojson::Error| unreadable(e.to_string()))?;
    if collection.features.len() > limits.rows_max {
        return Err(too_many_rows(limits));
    }
    // The columns are every property name, in the order first seen.
    let mut raw: Vec<String> = Vec::new();
    for feature in &collection.features {
        for key in feature.properties.iter().flat_map(|p| p.keys()) {
            if !raw.contains(key) {
                if raw.len() > limits.columns_max {
                    break;
                }
                raw.push(key.clone());
            }
        }
    }
    let (keep, headers, dropped) = split_header(&raw, limits, is_personal)?;
    let kept: Vec<&str> = keep.iter().map(|&i| raw[i].as_str()).collect();
    let mut rows = Vec::new();
    for (i, feature) in collection.features.iter().enumerate() {
        let cells = kept
            .iter()
            .map(|key| feature.properties.as_ref().and_then(|p| p.get(*key)).and_then(property_text))
            .collect();
        let point = feature.geometry.as_ref().map(|g| match &g.value {
            geojson::GeometryValue::Point { coordinates } if coordinates.len() >= 2 => {
                Ok([coordinates[0], coordinates[1]])
            }
            other => Err(format!("a crash is a Point, not a {}", other.type_name())),
        });
        rows.push(SheetRow { number: i as u64 + 1, cells, point });
    }
    Ok(Sheet { headers, dropped, rows, encoding: None, sheet: None })
}
