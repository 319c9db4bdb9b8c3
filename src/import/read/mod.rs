//! File readers for county data import: turn a GeoJSON, Shapefile (file, folder or zip), GeoPackage or
//! OpenStreetMap PBF file into a stream of [`Feature`]s with the coordinate system the file declares.
//!
//! Readers do not convert coordinates, map attributes or validate meaning: they read what is there, refuse
//! what is broken with an error that names the file and record and says how to fix it, and put a limit on
//! everything a file header can claim ([`ReadLimits`]) so a hostile or damaged upload cannot make the server
//! allocate gigabytes or panic.
//!
//! Code map: [`open`] sniffs the content and picks a reader — `geojson.rs` (whole-file parse), `shp.rs` +
//! `dbf.rs` (our own Shapefile/dBASE readers, for strict text decoding and header checks), `gpkg.rs`
//! (SQLite, rows streamed in batches) with `wkb.rs`, `osm.rs` (two passes over the PBF), `archive.rs`
//! (zip extraction with limits).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde::Serialize;

use super::crs::{self, CrsError};

mod archive;
mod dbf;
mod geojson;
mod gpkg;
mod osm;
mod shp;
mod wkb;

/// The file formats we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Format {
    #[serde(rename = "geojson")]
    GeoJson,
    #[serde(rename = "shapefile")]
    Shapefile,
    #[serde(rename = "geopackage")]
    GeoPackage,
    #[serde(rename = "osm_pbf")]
    OsmPbf,
}

impl Format {
    /// The same lower-case name as the JSON form: "geojson", "shapefile", "geopackage", "osm_pbf".
    pub fn as_str(&self) -> &'static str {
        match self {
            Format::GeoJson => "geojson",
            Format::Shapefile => "shapefile",
            Format::GeoPackage => "geopackage",
            Format::OsmPbf => "osm_pbf",
        }
    }
}

/// The `highway` values kept from OSM when [`ReadOptions::osm_highways`] is `None`: roads that carry motor
/// vehicles. `track` (field and forest tracks) is left out on purpose: in China it is mostly farm tracks
/// that are not in the rural road network (农村公路); pass it explicitly to include it. Footways, paths,
/// cycleways, steps, service roads (parking aisles, driveways) and construction/proposed ways are left out.
pub const OSM_HIGHWAYS_DEFAULT: &[&str] = &[
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "road",
];

/// How to read a file.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Attribute text encoding override (e.g. from `--encoding gbk`); else from `.cpg`, else the .dbf
    /// language driver byte, else UTF-8 (strict).
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// GeoPackage table / shapefile name in a folder or zip with several; None = the only one (error listing
    /// them if several).
    pub layer: Option<String>,
    /// OSM: keep ways whose `highway` tag is in this list (None = [`OSM_HIGHWAYS_DEFAULT`]).
    pub osm_highways: Option<Vec<String>>,
    pub limits: ReadLimits,
}

/// Upper bounds on what a file may make us do. Every header claim is checked against these and against
/// the real file size before anything is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Features in one file (a county has thousands of roads; OSM for a province has a few hundred thousand).
    pub features_max: u64,
    /// Vertices in one feature's geometry.
    pub vertices_per_feature_max: usize,
    /// Bytes of attribute text in one feature (a .dbf record, a GeoJSON feature's properties).
    pub attribute_bytes_max: usize,
    /// Total bytes extracted from a zip.
    pub unzipped_bytes_max: u64,
    /// Bytes of a file read whole into memory (GeoJSON).
    pub file_bytes_max: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            features_max: 5_000_000,
            vertices_per_feature_max: 1_000_000,
            attribute_bytes_max: 64 * 1024,
            unzipped_bytes_max: 4 * 1024 * 1024 * 1024,
            file_bytes_max: 512 * 1024 * 1024,
        }
    }
}

/// One feature as read from the file, coordinates in the file's declared system.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    /// 1-based position in the file (record number for .dbf/.shp, feature index for GeoJSON, row order for
    /// gpkg, way order among kept ways for OSM): used in error reports.
    pub number: u64,
    /// Strings trimmed of dbf padding; numbers as numbers; null for dbf blanks.
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// None for a null/empty shape. Always 2-D (Z and M are dropped).
    pub geometry: Option<geo_types::Geometry<f64>>,
}

/// What [`Progress::done`] and [`Progress::total`] count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgressUnit {
    Bytes,
    Features,
}

/// How far a reader is, for a progress bar. `total` may be an estimate (OSM: bytes of all passes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
    pub unit: ProgressUnit,
}

/// A stream of features from one file.
pub trait FeatureSource: Send {
    fn format(&self) -> Format;
    /// The coordinate system the file declares (EPSG code), None if it declares none (shapefile without .prj).
    fn declared_crs(&self) -> Option<crs::Crs>;
    /// What text encoding was used for attributes and why (e.g. "GBK (from .cpg)"), None for formats that
    /// are always UTF-8.
    fn encoding_used(&self) -> Option<String>;
    fn progress(&self) -> Progress;
    /// Next feature; an Err is fatal for the import (the caller stops).
    fn next_feature(&mut self) -> Option<Result<Feature, ReadError>>;
    /// Short, aggregated notes about what was skipped, e.g. "12 ways skipped: nodes outside the extract".
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
    /// Every attribute a feature may have, when the format fixes them up front whatever the first feature
    /// holds (OSM: the tags the reader keeps). Fields are mapped from these names; `None`: from the first
    /// feature's attributes (a Shapefile's or GeoPackage's features all have the same ones).
    fn attribute_names(&self) -> Option<Vec<String>> {
        None
    }
}

/// A reading error. Every message names the file (file name only) and the record when there is one, says
/// what is wrong and how to fix it. [`ReadError::code`] is stable for programs.
#[derive(thiserror::Error, Debug)]
pub enum ReadError {
    /// A required file is missing (a shapefile's .dbf, the path itself).
    #[error("{file} is missing: {detail}")]
    MissingFile { file: String, detail: String },
    /// Attribute text is not valid in the encoding used.
    #[error("{file}: {detail}")]
    BadEncoding { file: String, detail: String },
    /// The file ends before what its headers announce.
    #[error("{file}: {detail}")]
    Truncated { file: String, detail: String },
    /// A claim or a count beyond [`ReadLimits`] (or a format's own maximum).
    #[error("{file}: {detail}")]
    Limit { file: String, detail: String },
    /// Not a format we read, or the extension does not match the content.
    #[error("{file}: {detail}")]
    UnsupportedFormat { file: String, detail: String },
    /// A geometry that cannot be read (bad WKB, parts out of order, NaN coordinates).
    #[error("{file}: {detail}")]
    BadGeometry { file: String, detail: String },
    /// Structures that contradict each other (a .dbf whose record length differs from its fields, bad JSON).
    #[error("{file}: {detail}")]
    Corrupt { file: String, detail: String },
    /// A zip entry that would be written outside the extraction folder, or an unreadable archive.
    #[error("{file}: {detail}")]
    BadZip { file: String, detail: String },
    /// Several layers and none chosen, or the chosen one is not there.
    #[error("{file}: {detail}")]
    Layer { file: String, detail: String },
    /// The declared coordinate system is not one we support or cannot be read.
    #[error("{file}: {source}")]
    Crs {
        file: String,
        #[source]
        source: CrsError,
    },
    /// An attribute value that cannot be read (a numeric field holding text).
    #[error("{file}: {detail}")]
    BadValue { file: String, detail: String },
    #[error("{file}: {detail}: {source}")]
    Io {
        file: String,
        detail: String,
        #[source]
        source: std::io::Error,
    },
}

impl ReadError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ReadError::MissingFile { .. } => "missing_file",
            ReadError::BadEncoding { .. } => "bad_encoding",
            ReadError::Truncated { .. } => "truncated",
            ReadError::Limit { .. } => "limit",
            ReadError::UnsupportedFormat { .. } => "unsupported_format",
            ReadError::BadGeometry { .. } => "bad_geometry",
            ReadError::Corrupt { .. } => "corrupt",
            ReadError::BadZip { .. } => "bad_zip",
            ReadError::Layer { .. } => "layer",
            ReadError::Crs { .. } => "unsupported_crs",
            ReadError::BadValue { .. } => "bad_value",
            ReadError::Io { .. } => "io",
        }
    }

    pub(crate) fn io(path: &Path, detail: &str, source: std::io::Error) -> ReadError {
        if source.kind() == std::io::ErrorKind::NotFound {
            return ReadError::MissingFile { file: file_name(path), detail: format!("{detail}: no such file") };
        }
        ReadError::Io { file: file_name(path), detail: detail.to_string(), source }
    }
}

/// The file name for messages (never the full path: it may reveal server folders).
pub(crate) fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string())
}

/// Groups digits by thousands with spaces, as in "2 147 483 647", so big claims are easy to read.
pub(crate) fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// What the first bytes say a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sniffed {
    Zip,
    Sqlite,
    Pbf,
    Shp,
    Json,
    Empty,
    Unknown,
}

impl Sniffed {
    fn describe(self) -> &'static str {
        match self {
            Sniffed::Zip => "a zip archive",
            Sniffed::Sqlite => "an SQLite database (GeoPackage)",
            Sniffed::Pbf => "an OpenStreetMap PBF file",
            Sniffed::Shp => "a shapefile .shp",
            Sniffed::Json => "JSON text (GeoJSON)",
            Sniffed::Empty => "empty",
            Sniffed::Unknown => "of an unknown format",
        }
    }
}

fn sniff(head: &[u8]) -> Sniffed {
    if head.is_empty() {
        return Sniffed::Empty;
    }
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Sniffed::Zip;
    }
    if head.starts_with(b"SQLite format 3\0") {
        return Sniffed::Sqlite;
    }
    // .shp: big-endian file code 9994.
    if head.starts_with(&[0x00, 0x00, 0x27, 0x0A]) {
        return Sniffed::Shp;
    }
    // OSM PBF: a 4-byte big-endian BlobHeader length, then field 1 (type, string) = "OSMHeader".
    if head.len() >= 15 && head[..2] == [0, 0] && head[4] == 0x0A && head[5] == 9 && &head[6..15] == b"OSMHeader" {
        return Sniffed::Pbf;
    }
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    if let Some(c) = text.iter().find(|c| !c.is_ascii_whitespace())
        && (*c == b'{' || *c == b'[')
    {
        return Sniffed::Json;
    }
    Sniffed::Unknown
}

/// Opens a file by its content and extension: `.geojson`/`.json`, `.shp` (with siblings
/// .shx/.dbf/.prj/.cpg), a folder holding a shapefile, a `.zip` holding one (or one GeoPackage / GeoJSON),
/// `.gpkg`, `.osm.pbf`/`.pbf`. The content decides; an extension that contradicts it is an error (the user
/// probably picked the wrong file).
pub fn open(path: &Path, options: &ReadOptions) -> Result<Box<dyn FeatureSource>, ReadError> {
    let meta = std::fs::metadata(path).map_err(|e| ReadError::io(path, "cannot open", e))?;
    if meta.is_dir() {
        return shp::open_folder(path, options);
    }
    let name = file_name(path);
    let lower = name.to_lowercase();
    let by_extension = if lower.ends_with(".geojson") || lower.ends_with(".json") {
        Some(Sniffed::Json)
    } else if lower.ends_with(".shp") {
        Some(Sniffed::Shp)
    } else if lower.ends_with(".zip") {
        Some(Sniffed::Zip)
    } else if lower.ends_with(".gpkg") {
        Some(Sniffed::Sqlite)
    } else if lower.ends_with(".pbf") {
        Some(Sniffed::Pbf)
    } else if [".dbf", ".shx", ".prj", ".cpg"].iter().any(|e| lower.ends_with(e)) {
        return Err(ReadError::UnsupportedFormat {
            file: name,
            detail:
                "is part of a shapefile: open the .shp (with its .shx and .dbf beside it), the folder or a zip of them"
                    .into(),
        });
    } else {
        None
    };
    let mut head = Vec::with_capacity(64);
    File::open(path)
        .and_then(|f| f.take(64).read_to_end(&mut head))
        .map_err(|e| ReadError::io(path, "cannot read", e))?;
    let sniffed = sniff(&head);
    const SUPPORTED: &str = "GeoJSON (.geojson), Shapefile (.shp with .shx and .dbf, a folder or a .zip of them), \
GeoPackage (.gpkg) or OpenStreetMap (.osm.pbf)";
    match (by_extension, sniffed) {
        (_, Sniffed::Empty) => {
            Err(ReadError::Truncated { file: name, detail: "the file is empty (0 bytes); upload it again".into() })
        }
        (Some(expected), found) if expected != found => Err(ReadError::UnsupportedFormat {
            detail: format!(
                "the name says {} but the content is {}; check you picked the right file, or rename it",
                expected.describe(),
                found.describe()
            ),
            file: name,
        }),
        (_, Sniffed::Json) => geojson::open(path, options),
        (_, Sniffed::Shp) => shp::open_shp(path, options),
        (_, Sniffed::Zip) => archive::open_zip(path, options),
        (_, Sniffed::Sqlite) => gpkg::open(path, options),
        (_, Sniffed::Pbf) => osm::open(path, options),
        (_, Sniffed::Unknown) => Err(ReadError::UnsupportedFormat {
            file: name,
            detail: format!("not a file format we read; supported: {SUPPORTED}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_digits() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1_204), "1 204");
        assert_eq!(group(2_147_483_647), "2 147 483 647");
    }

    #[test]
    fn sniffs_magic_bytes() {
        assert_eq!(sniff(b"PK\x03\x04rest"), Sniffed::Zip);
        assert_eq!(sniff(b"SQLite format 3\0...."), Sniffed::Sqlite);
        assert_eq!(sniff(&[0, 0, 0x27, 0x0A, 0, 0]), Sniffed::Shp);
        assert_eq!(sniff(b"\0\0\0\x0d\x0a\x09OSMHeader\x18"), Sniffed::Pbf);
        assert_eq!(sniff(b"\xEF\xBB\xBF \n{\"type\""), Sniffed::Json);
        assert_eq!(sniff(b""), Sniffed::Empty);
        assert_eq!(sniff(b"hello"), Sniffed::Unknown);
    }

    #[test]
    fn format_names() {
        assert_eq!(serde_json::to_value(Format::OsmPbf).unwrap(), "osm_pbf");
        assert_eq!(serde_json::to_value(Format::GeoJson).unwrap(), Format::GeoJson.as_str());
        assert_eq!(serde_json::to_value(Format::GeoPackage).unwrap(), "geopackage");
    }
}
