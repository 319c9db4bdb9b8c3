//! GeoPackage reader (OGC 12-128r18): opened read-only, the features table chosen from `gpkg_contents`, its
//! geometry column from `gpkg_geometry_columns`, the coordinate system from `gpkg_spatial_ref_sys`.
//!
//! Rows are streamed in batches of [`BATCH_ROWS`] by primary key (keyset pagination: `where pk > last order
//! by pk limit n`), so memory stays bounded whatever the table size; a rusqlite `Rows` cannot be kept in the
//! reader because it borrows the connection. Table and column names come from the file's own catalogue and
//! are quoted as identifiers; no user text goes into SQL.

use std::collections::VecDeque;
use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde_json::{Map, Value};

use super::wkb::parse_gpkg;
use super::{
    Feature, FeatureSource, Format, Progress, ProgressUnit, ReadError, ReadLimits, ReadOptions, file_name, group,
};
use crate::import::crs::Crs;

const BATCH_ROWS: i64 = 256;

/// A row read ahead: attributes and the geometry blob.
type Row = (Map<String, Value>, Option<Vec<u8>>);

struct GpkgSource {
    file: String,
    conn: Connection,
    /// `select pk, attr1, …, geom from "table" where pk > ?1 order by pk limit ?2`
    sql: String,
    columns: Vec<String>,
    crs: Option<Crs>,
    limits: ReadLimits,
    last_pk: Option<i64>,
    batch: VecDeque<Row>,
    exhausted: bool,
    number: u64,
    total: u64,
    failed: bool,
}

/// Quotes an SQL identifier ("a""b").
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub(super) fn open(path: &Path, options: &ReadOptions) -> Result<Box<dyn FeatureSource>, ReadError> {
    let file = file_name(path);
    let corrupt = |e: rusqlite::Error| ReadError::Corrupt {
        file: file.clone(),
        detail: format!(
            "cannot read the GeoPackage ({e}); it may be damaged or still open in another program — export it again"
        ),
    };
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(corrupt)?;
    let is_gpkg: bool = conn
        .query_row(
            "select count(*) from sqlite_master where type in ('table','view') and name = 'gpkg_contents'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(corrupt)?
        > 0;
    if !is_gpkg {
        return Err(ReadError::UnsupportedFormat {
            file,
            detail: "an SQLite database but not a GeoPackage (it has no gpkg_contents table)".into(),
        });
    }
    let tables: Vec<String> = {
        let mut stmt = conn
            .prepare("select table_name from gpkg_contents where data_type = 'features' order by table_name")
            .map_err(corrupt)?;
        stmt.query_map([], |r| r.get(0)).map_err(corrupt)?.collect::<Result<_, _>>().map_err(corrupt)?
    };
    let table = match (options.layer.as_deref(), tables.as_slice()) {
        (_, []) => {
            return Err(ReadError::MissingFile {
                file: format!("a features table in {file}"),
                detail: "gpkg_contents lists no table with data_type 'features'".into(),
            });
        }
        (Some(layer), _) => {
            tables.iter().find(|t| t.eq_ignore_ascii_case(layer)).cloned().ok_or_else(|| ReadError::Layer {
                file: file.clone(),
                detail: format!("has no features table named \"{layer}\"; it holds: {}", tables.join(", ")),
            })?
        }
        (None, [only]) => only.clone(),
        (None, several) => {
            return Err(ReadError::Layer {
                file,
                detail: format!(
                    "holds {} features tables ({}); choose one with --layer NAME",
                    several.len(),
                    several.join(", ")
                ),
            });
        }
    };
    let (geometry_column, srs_id): (String, i64) = conn
        .query_row("select column_name, srs_id from gpkg_geometry_columns where table_name = ?1", [&table], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(corrupt)?
        .ok_or_else(|| ReadError::Corrupt {
            file: file.clone(),
            detail: format!("table \"{table}\" has no row in gpkg_geometry_columns; export the GeoPackage again"),
        })?;
    let crs = declared_crs(&conn, srs_id)
        .map_err(corrupt)?
        .transpose()
        .map_err(|source| ReadError::Crs { file: file.clone(), source })?;

    // Columns: the integer primary key (row order), the geometry, everything else is an attribute.
    let mut pk = None;
    let mut columns = Vec::new();
    {
        let mut stmt = conn.prepare(&format!("pragma table_info({})", quote(&table))).map_err(corrupt)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(5)?)))
            .map_err(corrupt)?;
        for row in rows {
            let (name, kind, is_pk) = row.map_err(corrupt)?;
            if is_pk == 1 && kind.eq_ignore_ascii_case("INTEGER") {
                pk = Some(name);
            } else if name != geometry_column {
                columns.push(name);
            }
        }
    }
    let pk = pk.map_or_else(|| "rowid".to_string(), |p| quote(&p));
    let mut select = vec![pk.clone()];
    select.extend(columns.iter().map(|c| quote(c)));
    select.push(quote(&geometry_column));
    let sql = format!("select {} from {} where {pk} > ?1 order by {pk} limit ?2", select.join(", "), quote(&table));
    let total: i64 =
        conn.query_row(&format!("select count(*) from {}", quote(&table)), [], |r| r.get(0)).map_err(corrupt)?;
    let total = total.max(0) as u64;
    if total > options.limits.features_max {
        return Err(ReadError::Limit {
            file,
            detail: format!("{} features, more than the limit of {}", group(total), group(options.limits.features_max)),
        });
    }
    Ok(Box::new(GpkgSource {
        file,
        conn,
        sql,
        columns,
        crs,
        limits: options.limits,
        last_pk: None,
        batch: VecDeque::new(),
        exhausted: false,
        number: 0,
        total,
        failed: false,
    }))
}

/// The system of `srs_id`: EPSG organisation code, else the WKT definition. srs_id -1 and 0 are the
/// GeoPackage's "undefined" systems: None.
fn declared_crs(conn: &Connection, srs_id: i64) -> rusqlite::Result<Option<Result<Crs, crate::import::crs::CrsError>>> {
    if srs_id <= 0 {
        return Ok(None);
    }
    let row: Option<(String, i64, String)> = conn
        .query_row(
            "select organization, organization_coordsys_id, definition from gpkg_spatial_ref_sys where srs_id = ?1",
            [srs_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    Ok(Some(match row {
        Some((org, code, _)) if org.eq_ignore_ascii_case("EPSG") => Crs::from_name(&code.to_string()),
        Some((_, _, definition)) => Crs::from_wkt(&definition),
        None => Crs::from_name(&srs_id.to_string()),
    }))
}

impl GpkgSource {
    fn fill(&mut self) -> Result<(), ReadError> {
        let file = self.file.clone();
        let corrupt = |e: rusqlite::Error| ReadError::Corrupt {
            file: file.clone(),
            detail: format!("cannot read rows ({e}); the GeoPackage may be damaged — export it again"),
        };
        let mut stmt = self.conn.prepare_cached(&self.sql).map_err(corrupt)?;
        let mut rows = stmt.query(rusqlite::params![self.last_pk.unwrap_or(i64::MIN), BATCH_ROWS]).map_err(corrupt)?;
        let mut n = 0;
        let geometry_index = self.columns.len() + 1;
        while let Some(row) = rows.next().map_err(corrupt)? {
            n += 1;
            let number = self.number + self.batch.len() as u64 + 1;
            self.last_pk = Some(row.get(0).map_err(corrupt)?);
            let mut attributes = Map::with_capacity(self.columns.len());
            let mut bytes = 0;
            for (i, name) in self.columns.iter().enumerate() {
                let value = match row.get_ref(i + 1).map_err(corrupt)? {
                    ValueRef::Null | ValueRef::Blob(_) => Value::Null,
                    ValueRef::Integer(v) => Value::from(v),
                    ValueRef::Real(v) => serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
                    ValueRef::Text(t) => {
                        bytes += t.len();
                        Value::String(String::from_utf8(t.to_vec()).map_err(|_| ReadError::BadEncoding {
                            file: file.clone(),
                            detail: format!(
                                "row {number}, column {name}: not valid UTF-8, which GeoPackage requires; export the file again with UTF-8 text"
                            ),
                        })?)
                    }
                };
                attributes.insert(name.clone(), value);
            }
            if bytes > self.limits.attribute_bytes_max {
                return Err(ReadError::Limit {
                    file,
                    detail: format!(
                        "row {number}: {} bytes of attributes, more than the limit of {}",
                        group(bytes as u64),
                        group(self.limits.attribute_bytes_max as u64)
                    ),
                });
            }
            let blob = match row.get_ref(geometry_index).map_err(corrupt)? {
                ValueRef::Blob(b) => Some(b.to_vec()),
                _ => None,
            };
            self.batch.push_back((attributes, blob));
        }
        if n < BATCH_ROWS {
            self.exhausted = true;
        }
        Ok(())
    }
}

impl FeatureSource for GpkgSource {
    fn format(&self) -> Format {
        Format::GeoPackage
    }

    fn declared_crs(&self) -> Option<Crs> {
        self.crs
    }

    fn encoding_used(&self) -> Option<String> {
        None
    }

    fn progress(&self) -> Progress {
        Progress { done: self.number, total: self.total, unit: ProgressUnit::Features }
    }

    fn next_feature(&mut self) -> Option<Result<Feature, ReadError>> {
        if self.failed {
            return None;
        }
        if self.batch.is_empty()
            && !self.exhausted
            && let Err(e) = self.fill()
        {
            self.failed = true;
            return Some(Err(e));
        }
        let (attributes, blob) = self.batch.pop_front()?;
        self.number += 1;
        let number = self.number;
        let geometry = match blob {
            None => None,
            Some(b) => match parse_gpkg(&b, self.limits.vertices_per_feature_max) {
                Ok(g) => g.geometry,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(ReadError::BadGeometry {
                        file: self.file.clone(),
                        detail: format!("row {number}: {e}"),
                    }));
                }
            },
        };
        Some(Ok(Feature { number, attributes, geometry }))
    }
}
