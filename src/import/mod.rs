//! County data import: towns, roads, chainage breaks and organisations from the files county offices and
//! open data have (GeoJSON, Shapefile, GeoPackage, OpenStreetMap PBF, CSV).
//!
//! [`read`] turns a file into a stream of [`read::Feature`]s with the coordinate system it declares
//! ([`crs`]). This module maps attributes to fields ([`fields`]), shifts GCJ-02/BD-09 to WGS-84, and streams
//! the features into a staging table of one transaction; `db::places` validates, compares and applies them
//! there. A dry run is the same transaction rolled back, so it reports exactly what the import would do.
//!
//! Invariants: all or nothing (any problem refuses the whole file); a re-import of the same file changes
//! nothing and records nothing; memory is bounded by the batch size, not the file (the reader runs on a
//! blocking thread and hands batches over a bounded channel).

pub mod crashes;
pub mod crs;
pub mod fields;
pub mod hotline;
pub mod read;
mod tables;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use geo::{BoundingRect, CoordsIter, Geometry, MapCoords};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio::sync::mpsc;

use crate::db::places::{self as db, RoadRow, TownRow};
use crate::domain::coords::{self, SourceCrs};
use crate::domain::places::{self as rules, StakeUnit};
use fields::{Field, FieldMapping, Resolved};
use read::{Feature, FeatureSource, Format, ReadOptions};

pub use tables::{import_chainage_breaks, import_organisations};

/// Features staged per statement: big enough to amortise the round trip, small enough to bound memory.
const BATCH_FEATURES: usize = 2_000;
/// Problems listed in a report; the rest are counted.
pub const PROBLEMS_LISTED_MAX: usize = 200;
/// Longest name of a town or road.
const NAME_CHARS_MAX: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    Towns,
    Roads,
    Organisations,
    ChainageBreaks,
}

impl ImportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Towns => "towns",
            ImportKind::Roads => "roads",
            ImportKind::Organisations => "organisations",
            ImportKind::ChainageBreaks => "chainage_breaks",
        }
    }
}

/// The coordinate system of a file's coordinates: what it declares, or what the importer says. Files never
/// say GCJ-02 or BD-09 (the offsets of consumer maps), so those come only from the importer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoordSystem {
    Epsg(u32),
    Gcj02,
    Bd09,
}

impl CoordSystem {
    /// `EPSG:4549`, `4549`, `wgs84`, `cgcs2000`, `gcj02`, `bd09` (any case).
    pub fn parse(text: &str) -> Result<CoordSystem, String> {
        match text.trim().to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "gcj02" => Ok(CoordSystem::Gcj02),
            "bd09" => Ok(CoordSystem::Bd09),
            _ => crs::Crs::from_name(text).map(|crs::Crs::Epsg(code)| CoordSystem::Epsg(code)).map_err(|e| {
                format!("{e}; the coordinate systems understood are EPSG:4326 (WGS-84), EPSG:4490 (CGCS2000), EPSG:4513–4554 (CGCS2000 Gauss-Krüger 3° zones), gcj02 and bd09")
            }),
        }
    }

    pub fn label(self) -> String {
        match self {
            CoordSystem::Epsg(code) => format!("EPSG:{code}"),
            CoordSystem::Gcj02 => "GCJ-02".into(),
            CoordSystem::Bd09 => "BD-09".into(),
        }
    }

    fn is_geographic(self) -> bool {
        match self {
            CoordSystem::Epsg(code) => crs::Crs::Epsg(code).is_geographic(),
            CoordSystem::Gcj02 | CoordSystem::Bd09 => true,
        }
    }

    /// The SRID the coordinates are handed to PostGIS in. CGCS2000 geographic (EPSG:4490) is taken as WGS-84:
    /// the two frames differ by centimetres to a few decimetres, far below a phone's GPS error. GCJ-02 and
    /// BD-09 are shifted to WGS-84 here first (PROJ does not know them).
    fn postgis_srid(self) -> u32 {
        match self {
            CoordSystem::Epsg(4490) | CoordSystem::Gcj02 | CoordSystem::Bd09 => 4326,
            CoordSystem::Epsg(code) => code,
        }
    }

    fn shift(self) -> Option<SourceCrs> {
        match self {
            CoordSystem::Gcj02 => Some(SourceCrs::Gcj02),
            CoordSystem::Bd09 => Some(SourceCrs::Bd09),
            CoordSystem::Epsg(_) => None,
        }
    }
}

/// Who imports: an account, or the command line.
#[derive(Debug, Clone)]
pub struct Importer {
    pub name: String,
    pub user_id: Option<uuid::Uuid>,
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub dry_run: bool,
    pub crs: Option<CoordSystem>,
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// The county (6 digits) a file's features belong to when they do not say; when given, features of
    /// another county are refused.
    pub county: Option<String>,
    pub layer: Option<String>,
    pub mapping: FieldMapping,
    pub stake_unit: StakeUnit,
    /// OSM `highway` values kept; `None`: the reader's default list of roads for vehicles.
    pub osm_highways: Option<Vec<String>>,
    /// A chainage break table (CSV) to apply with a road import.
    pub breaks: Option<PathBuf>,
    /// The file's name as the importer knows it (an upload's name, not the temporary path).
    pub file_name: String,
    pub importer: Importer,
}

impl ImportOptions {
    pub fn new(file_name: impl Into<String>, importer: Importer) -> ImportOptions {
        ImportOptions {
            dry_run: false,
            crs: None,
            encoding: None,
            county: None,
            layer: None,
            mapping: FieldMapping::default(),
            stake_unit: StakeUnit::M,
            osm_highways: None,
            breaks: None,
            file_name: file_name.into(),
            importer,
        }
    }
}

/// Import options as people give them (the command line's flags, the page's form), before checking.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionsInput {
    #[serde(default)]
    pub dry_run: bool,
    pub crs: Option<String>,
    pub encoding: Option<String>,
    pub county: Option<String>,
    pub layer: Option<String>,
    #[serde(default)]
    pub mapping: FieldMapping,
    pub stake_unit: Option<String>,
    pub osm_highways: Option<Vec<String>>,
}

/// Longest option text accepted (a layer name, an attribute name).
const OPTION_CHARS_MAX: usize = 64;

impl OptionsInput {
    /// Checks the options; an error says which one is wrong and what it may be.
    pub fn into_options(self, file_name: &str, importer: Importer) -> Result<ImportOptions, String> {
        let texts = [&self.crs, &self.encoding, &self.county, &self.layer, &self.stake_unit]
            .into_iter()
            .chain([
                &self.mapping.admin_code,
                &self.mapping.name,
                &self.mapping.route_code,
                &self.mapping.start_stake,
                &self.mapping.end_stake,
                &self.mapping.source_id,
            ])
            .flatten();
        for text in texts {
            if text.chars().count() > OPTION_CHARS_MAX {
                return Err(format!("an option is longer than {OPTION_CHARS_MAX} characters"));
            }
        }
        let blank = |o: Option<String>| o.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let mut options = ImportOptions::new(file_name, importer);
        options.dry_run = self.dry_run;
        options.crs = blank(self.crs).map(|c| CoordSystem::parse(&c)).transpose()?;
        options.encoding = blank(self.encoding).map(|e| encoding(&e)).transpose()?;
        options.county = blank(self.county).map(|c| rules::county_admin_code(&c)).transpose()?;
        options.layer = blank(self.layer);
        options.mapping = self.mapping;
        options.stake_unit = match blank(self.stake_unit).as_deref() {
            None | Some("m") => StakeUnit::M,
            Some("km") => StakeUnit::Km,
            Some(other) => return Err(format!("stake unit {other:?}: use m or km")),
        };
        if let Some(highways) = &self.osm_highways
            && (highways.len() > 64 || highways.iter().any(|h| h.len() > OPTION_CHARS_MAX))
        {
            return Err("at most 64 highway values of at most 64 characters".into());
        }
        options.osm_highways = self.osm_highways;
        Ok(options)
    }
}

/// A text encoding by name: the WHATWG labels (gbk, gb18030, utf-8 …) and the Windows code page numbers
/// Chinese GIS tools write into `.cpg` files (936, cp936, 65001).
pub fn encoding(label: &str) -> Result<&'static encoding_rs::Encoding, String> {
    let label = label.trim().to_ascii_lowercase();
    let label = match label.as_str() {
        "936" | "cp936" | "ms936" | "windows-936" => "gbk",
        "65001" | "cp65001" | "utf8" => "utf-8",
        "54936" | "cp54936" => "gb18030",
        other => other,
    };
    encoding_rs::Encoding::for_label(label.as_bytes())
        .ok_or_else(|| format!("unknown encoding {label:?}: use gbk, gb18030 or utf-8"))
}

/// Runs an import of any kind.
pub async fn run(
    pool: &PgPool,
    kind: ImportKind,
    path: &Path,
    options: &ImportOptions,
    progress: Arc<ImportProgress>,
) -> Result<ImportReport, ImportError> {
    match kind {
        ImportKind::Towns | ImportKind::Roads => import_places(pool, kind, path, options, progress).await,
        ImportKind::Organisations => import_organisations(pool, path, options, progress).await,
        ImportKind::ChainageBreaks => import_chainage_breaks(pool, path, options, progress).await,
    }
}

/// What an import is doing, shared with whoever shows it (the command line's bar, the page's poll).
#[derive(Debug, Default)]
pub struct ImportProgress {
    /// One of the `ImportProgress::` phases.
    pub phase: AtomicU64,
    pub done: AtomicU64,
    pub total: AtomicU64,
    pub features: AtomicU64,
}

impl ImportProgress {
    pub const OPENING: u64 = 0;
    pub const READING: u64 = 1;
    pub const CHECKING: u64 = 2;
    pub const WRITING: u64 = 3;
    pub const DONE: u64 = 4;
    /// An upload still arriving (`done` counts its bytes).
    pub const RECEIVING: u64 = 5;

    pub fn snapshot(&self) -> serde_json::Value {
        let phase = ["opening", "reading", "checking", "writing", "done", "receiving"]
            .get(self.phase.load(Ordering::Relaxed) as usize)
            .copied()
            .unwrap_or("done");
        serde_json::json!({
            "phase": phase,
            "done": self.done.load(Ordering::Relaxed),
            "total": self.total.load(Ordering::Relaxed),
            "features": self.features.load(Ordering::Relaxed),
        })
    }

    pub fn set_phase(&self, phase: u64) {
        self.phase.store(phase, Ordering::Relaxed);
    }
}

/// One problem that refuses the import: the feature (1-based, or the CSV line), the key it would have had, and
/// what is wrong.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Problem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub problem: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A repair made (an invalid boundary made valid) or a note on one feature.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Repair {
    pub feature: u64,
    pub key: String,
    pub repair: String,
}

/// An open site whose road, stake or town the import changed (its own geometry never moves).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SiteChange {
    pub site_id: uuid::Uuid,
    pub code: Option<String>,
    pub field: &'static str,
    pub before: String,
    pub after: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileInfo {
    pub name: String,
    pub sha256: String,
    pub bytes: u64,
    pub format: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crs: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// Attribute → field, as understood (mapped or by the usual names).
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// What an import did (or, for a dry run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub kind: ImportKind,
    pub dry_run: bool,
    /// True when the database changed: not a dry run, no problem, and something new.
    pub applied: bool,
    pub file: FileInfo,
    pub features_read: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Places in the database that the file does not hold. They are kept: sites may point at them.
    pub not_in_file: u64,
    pub repaired: Vec<Repair>,
    pub warnings: Vec<String>,
    pub problems: Vec<Problem>,
    pub problems_total: u64,
    pub sites_changed: Vec<SiteChange>,
    pub import_id: Option<i32>,
    pub elapsed_ms: u64,
}

impl ImportReport {
    pub(crate) fn new(kind: ImportKind, dry_run: bool, file: FileInfo) -> ImportReport {
        ImportReport {
            kind,
            dry_run,
            applied: false,
            file,
            features_read: 0,
            inserted: 0,
            updated: 0,
            unchanged: 0,
            not_in_file: 0,
            repaired: Vec::new(),
            warnings: Vec::new(),
            problems: Vec::new(),
            problems_total: 0,
            sites_changed: Vec::new(),
            import_id: None,
            elapsed_ms: 0,
        }
    }

    pub(crate) fn problem(&mut self, problem: Problem) {
        self.problems_total += 1;
        if self.problems.len() < PROBLEMS_LISTED_MAX {
            self.problems.push(problem);
        }
    }

    /// Inserted, updated, unchanged and not in the file, as the database counted them.
    pub(crate) fn set_counts(&mut self, (inserted, updated, unchanged, not_in_file): (i64, i64, i64, i64)) {
        self.inserted = inserted as u64;
        self.updated = updated as u64;
        self.unchanged = unchanged as u64;
        self.not_in_file = not_in_file as u64;
    }

    /// Whether anything would change.
    pub fn changes(&self) -> bool {
        self.inserted + self.updated > 0 || !self.sites_changed.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// An option, the mapping or the coordinate system is wrong or missing: nothing was read.
    #[error("{0}")]
    Options(String),
    #[error("{0}")]
    Read(#[from] read::ReadError),
    /// The file was read and has problems; the report lists them. Nothing was written.
    #[error("{} problem(s) in {}; nothing was imported", .0.problems_total, .0.file.name)]
    Refused(Box<ImportReport>),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// SHA-256 (hex) and size of a file, or of every file in a folder (sorted by name), for the import history.
pub fn file_digest(path: &Path) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut bytes = 0;
    let mut files = if path.is_dir() {
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(path)?.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
        entries.sort();
        entries
    } else {
        vec![path.to_path_buf()]
    };
    for file in files.drain(..) {
        let mut f = std::fs::File::open(&file)?;
        bytes += std::io::copy(&mut f, &mut hasher)?;
    }
    Ok((hex::encode(hasher.finalize()), bytes))
}

/// Imports towns (polygons) or roads (lines) from a file: reads, checks, compares with the database and,
/// unless it is a dry run or a problem was found, applies the changes in one transaction.
pub async fn import_places(
    pool: &PgPool,
    kind: ImportKind,
    path: &Path,
    options: &ImportOptions,
    progress: Arc<ImportProgress>,
) -> Result<ImportReport, ImportError> {
    assert!(matches!(kind, ImportKind::Towns | ImportKind::Roads), "import_places reads towns or roads");
    let started = Instant::now();
    let county = options.county.as_deref().map(rules::county_admin_code).transpose().map_err(ImportError::Options)?;

    let read_options = ReadOptions {
        encoding: options.encoding,
        layer: options.layer.clone(),
        osm_highways: options.osm_highways.clone(),
        ..Default::default()
    };
    let opened_path = path.to_path_buf();
    let (source, (sha256, bytes)) = tokio::task::spawn_blocking(move || {
        let digest = file_digest(&opened_path).map_err(|e| {
            ImportError::Options(format!("cannot read {}: {e}", opened_path.file_name().unwrap_or_default().display()))
        })?;
        let source = read::open(&opened_path, &read_options)?;
        Ok::<_, ImportError>((source, digest))
    })
    .await
    .map_err(|e| anyhow::anyhow!("reader task: {e}"))??;

    let system = coordinate_system(source.as_ref(), options)?;
    let mut report = ImportReport::new(
        kind,
        options.dry_run,
        FileInfo {
            name: options.file_name.clone(),
            sha256,
            bytes,
            format: source.format().as_str().to_owned(),
            crs: Some(system.label()),
            encoding: source.encoding_used(),
            fields: Default::default(),
        },
    );
    if let (Some(CoordSystem::Epsg(given)), Some(crs::Crs::Epsg(declared))) = (options.crs, source.declared_crs())
        && given != declared
    {
        report.warnings.push(format!("the file declares EPSG:{declared}; read as EPSG:{given}, as asked"));
    }

    // The reader runs on a blocking thread; batches cross a bounded channel, so memory stays bounded.
    progress.set_phase(ImportProgress::READING);
    let (sender, mut batches) = mpsc::channel::<Batch>(4);
    // Roads that name no county belong to the one the importer gives, or else to the only county whose towns
    // are loaded: the usual order is towns first, then roads.
    let default_county = match (&county, kind) {
        (Some(c), _) => Some(c.clone()),
        (None, ImportKind::Roads) => {
            let only = db::only_county(pool).await?;
            if let Some(c) = &only {
                report.warnings.push(format!(
                    "roads that name no county are taken to be in {c}, the county whose towns are loaded"
                ));
            }
            only
        }
        (None, _) => None,
    };
    let mapper = Mapper {
        kind,
        mapping: options.mapping.clone(),
        county: county.clone(),
        default_county,
        stake_unit: options.stake_unit,
        system,
        osm: source.format() == Format::OsmPbf,
    };
    let reader_progress = progress.clone();
    let reader = tokio::task::spawn_blocking(move || mapper.run(source, sender, &reader_progress));

    let mut tx = pool.begin().await?;
    db::lock_imports(&mut tx).await?;
    db::create_stage(&mut tx, kind).await?;
    while let Some(batch) = batches.recv().await {
        match batch {
            Batch::Towns(rows) => db::stage_towns(&mut tx, &rows, system.postgis_srid()).await?,
            Batch::Roads(rows) => db::stage_roads(&mut tx, &rows, system.postgis_srid()).await?,
        }
    }
    let outcome = reader.await.map_err(|e| anyhow::anyhow!("reader task: {e}"))??;
    report.features_read = outcome.features;
    report.file.fields = outcome.fields;
    report.warnings.extend(outcome.warnings);
    for problem in outcome.problems {
        report.problem(problem);
    }
    report.problems_total += outcome.problems_unlisted;
    if report.features_read == 0 {
        report.problem(Problem {
            feature: None,
            key: None,
            problem: format!("{} holds no {}", options.file_name, kind.as_str()),
            attributes: None,
        });
    }

    progress.set_phase(ImportProgress::CHECKING);
    match kind {
        ImportKind::Towns => db::check_towns(&mut tx, county.as_deref(), &mut report).await?,
        _ => db::check_roads(&mut tx, &mut report).await?,
    }
    if report.problems_total > 0 {
        tx.rollback().await?;
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        progress.set_phase(ImportProgress::DONE);
        return Err(ImportError::Refused(Box::new(report)));
    }

    progress.set_phase(ImportProgress::WRITING);
    let import_id = db::begin_import(&mut tx, &report, county.as_deref(), &options.importer).await?;
    match kind {
        ImportKind::Towns => db::apply_towns(&mut tx, import_id, &mut report).await?,
        _ => {
            db::apply_roads(&mut tx, import_id, report.file.format == Format::OsmPbf.as_str(), &mut report).await?;
            if let Some(breaks) = &options.breaks {
                let default_county = county.clone();
                let rows = tables::read_breaks(breaks, options.encoding, default_county.as_deref())
                    .map_err(ImportError::Options)?;
                if let Err(problems) = db::apply_breaks(&mut tx, &rows).await? {
                    for p in problems {
                        report.problem(p);
                    }
                }
            }
        }
    }
    if report.problems_total > 0 {
        tx.rollback().await?;
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        progress.set_phase(ImportProgress::DONE);
        return Err(ImportError::Refused(Box::new(report)));
    }
    let site_county = match (&county, kind) {
        (Some(c), _) => Some(c.clone()),
        (None, ImportKind::Roads) => db::staged_county(&mut tx).await?,
        (None, _) => None,
    };
    db::rederive_sites(&mut tx, kind, import_id, site_county.as_deref(), &options.importer.name, &mut report).await?;
    finish(tx, import_id, report, started, &progress).await
}

/// Rolls back a dry run or an import that changed nothing; otherwise records the report and commits.
pub(crate) async fn finish(
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    import_id: i32,
    mut report: ImportReport,
    started: Instant,
    progress: &ImportProgress,
) -> Result<ImportReport, ImportError> {
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    if report.dry_run || !report.changes() {
        tx.rollback().await?;
    } else {
        report.applied = true;
        report.import_id = Some(import_id);
        db::finish_import(&mut tx, import_id, &report).await?;
        tx.commit().await?;
    }
    progress.set_phase(ImportProgress::DONE);
    Ok(report)
}

/// Which coordinate system to read a file in: the importer's word, else the file's. A file that declares
/// none (a shapefile without .prj) is refused rather than guessed.
fn coordinate_system(source: &dyn FeatureSource, options: &ImportOptions) -> Result<CoordSystem, ImportError> {
    let declared = source.declared_crs();
    match (options.crs, declared) {
        (Some(shifted @ (CoordSystem::Gcj02 | CoordSystem::Bd09)), Some(crs)) if !crs.is_geographic() => {
            Err(ImportError::Options(format!(
                "{} is an offset of longitude and latitude, but {} declares {crs}, a projected system",
                shifted.label(),
                options.file_name
            )))
        }
        (Some(given), _) => Ok(given),
        (None, Some(crs::Crs::Epsg(code))) => Ok(CoordSystem::Epsg(code)),
        (None, None) => Err(ImportError::Options(format!(
            "{} does not say which coordinate system it is in (a shapefile needs its .prj): give one with \
             --crs, e.g. EPSG:4326 (WGS-84), EPSG:4490 (CGCS2000), EPSG:4549 (CGCS2000 3° Gauss-Krüger, CM 120°E), \
             gcj02 (AMap, Tencent) or bd09 (Baidu)",
            options.file_name
        ))),
    }
}

enum Batch {
    Towns(Vec<TownRow>),
    Roads(Vec<RoadRow>),
}

struct ReadOutcome {
    features: u64,
    problems: Vec<Problem>,
    problems_unlisted: u64,
    warnings: Vec<String>,
    fields: serde_json::Map<String, serde_json::Value>,
}

/// Turns features into rows: fields from attributes, coordinates checked and shifted, geometry as WKB.
struct Mapper {
    kind: ImportKind,
    mapping: FieldMapping,
    /// Features of another county are refused.
    county: Option<String>,
    /// The county of features that name none.
    default_county: Option<String>,
    stake_unit: StakeUnit,
    system: CoordSystem,
    osm: bool,
}

impl Mapper {
    fn fields(&self) -> &'static [Field] {
        match self.kind {
            ImportKind::Towns => &[Field::AdminCode, Field::Name],
            _ => {
                &[Field::RouteCode, Field::Name, Field::AdminCode, Field::StartStake, Field::EndStake, Field::SourceId]
            }
        }
    }

    fn run(
        self,
        mut source: Box<dyn FeatureSource>,
        sender: mpsc::Sender<Batch>,
        progress: &ImportProgress,
    ) -> Result<ReadOutcome, ImportError> {
        let mut outcome = ReadOutcome {
            features: 0,
            problems: Vec::new(),
            problems_unlisted: 0,
            warnings: Vec::new(),
            fields: Default::default(),
        };
        let mut resolved: Option<Resolved> = None;
        let mut towns = Vec::new();
        let mut roads = Vec::new();
        let mut uncoded_refs = 0u64;
        let mut defaulted = 0u64;
        while let Some(feature) = source.next_feature() {
            let feature = feature?;
            outcome.features += 1;
            let resolved = match &resolved {
                Some(r) => r,
                None => {
                    let declared = source.attribute_names();
                    let names: Vec<&str> = match &declared {
                        Some(names) => names.iter().map(String::as_str).collect(),
                        None => feature.attributes.keys().map(String::as_str).collect(),
                    };
                    let r = self.mapping.resolve(self.fields(), &names).map_err(ImportError::Options)?;
                    if let Some(missing) = self.required_missing(&r) {
                        return Err(ImportError::Options(format!(
                            "the file has no attribute for {missing}; map one (e.g. --{}-field NAME); its attributes are: {}",
                            missing.replace('_', "-"),
                            names.join(", ")
                        )));
                    }
                    for &field in self.fields() {
                        if let Some(attribute) = r.attribute(field) {
                            outcome.fields.insert(attribute.to_owned(), field.as_str().into());
                        }
                    }
                    resolved.insert(r)
                }
            };
            let result = match self.kind {
                ImportKind::Towns => self.town(&feature, resolved).map(|row| towns.push(row)),
                _ => self.road(&feature, resolved, &mut uncoded_refs, &mut defaulted).map(|row| roads.push(row)),
            };
            if let Err(problem) = result {
                // Every problem counts; the first few hundred are kept with their attributes.
                if outcome.problems.len() < PROBLEMS_LISTED_MAX {
                    outcome.problems.push(Problem {
                        feature: Some(feature.number),
                        key: None,
                        problem,
                        attributes: Some(clipped(&feature.attributes)),
                    });
                } else {
                    outcome.problems_unlisted += 1;
                }
            }
            if towns.len() >= BATCH_FEATURES {
                send(&sender, Batch::Towns(std::mem::take(&mut towns)))?;
            }
            if roads.len() >= BATCH_FEATURES {
                send(&sender, Batch::Roads(std::mem::take(&mut roads)))?;
            }
            if outcome.features.is_multiple_of(1024) {
                let p = source.progress();
                progress.done.store(p.done, Ordering::Relaxed);
                progress.total.store(p.total, Ordering::Relaxed);
                progress.features.store(outcome.features, Ordering::Relaxed);
            }
        }
        if !towns.is_empty() {
            send(&sender, Batch::Towns(towns))?;
        }
        if !roads.is_empty() {
            send(&sender, Batch::Roads(roads))?;
        }
        let p = source.progress();
        progress.done.store(p.total, Ordering::Relaxed);
        progress.total.store(p.total, Ordering::Relaxed);
        progress.features.store(outcome.features, Ordering::Relaxed);
        if defaulted > 0 && self.county.is_none() {
            outcome.warnings.push(format!(
                "{defaulted} roads name no county and are taken to be in {}, the county whose towns are loaded",
                self.default_county.as_deref().unwrap_or("?")
            ));
        }
        if uncoded_refs > 0 {
            outcome
                .warnings
                .push(format!("{uncoded_refs} ways have a ref that is not a route code; imported as uncoded roads"));
        }
        outcome.warnings.extend(source.warnings());
        Ok(outcome)
    }

    fn required_missing(&self, resolved: &Resolved) -> Option<&'static str> {
        match self.kind {
            ImportKind::Towns => [Field::AdminCode, Field::Name]
                .into_iter()
                .find(|f| resolved.attribute(*f).is_none())
                .map(Field::as_str),
            _ => None,
        }
    }

    fn town(&self, feature: &Feature, fields: &Resolved) -> Result<TownRow, String> {
        let code = fields.text(Field::AdminCode, &feature.attributes).ok_or("no admin code")?;
        let admin_code = rules::town_admin_code(&code)?;
        if let Some(county) = &self.county
            && !admin_code.starts_with(county.as_str())
        {
            return Err(format!("town {admin_code} is not in county {county}"));
        }
        let name = fields.text(Field::Name, &feature.attributes).ok_or("no name")?;
        check_name(&name)?;
        let geometry = self.geometry(feature, &["Polygon", "MultiPolygon"])?;
        Ok(TownRow { number: feature.number, admin_code, name, wkb: geometry })
    }

    fn road(
        &self,
        feature: &Feature,
        fields: &Resolved,
        uncoded_refs: &mut u64,
        defaulted: &mut u64,
    ) -> Result<RoadRow, String> {
        let attrs = &feature.attributes;
        let route = match fields.text(Field::RouteCode, attrs).as_deref().map(rules::route_code) {
            None => None,
            Some(Ok(route)) => route,
            // OpenStreetMap refs are free text ("S228 旧线"): such a way is a road all the same.
            Some(Err(_)) if self.osm => {
                *uncoded_refs += 1;
                None
            }
            Some(Err(e)) => return Err(e),
        };
        let county_of_feature = match fields.text(Field::AdminCode, attrs) {
            Some(code) => Some(rules::county_admin_code(&code)?),
            None => route.as_ref().and_then(|(_, county)| county.clone()),
        };
        let admin_code = match (county_of_feature, self.county.as_ref().or(self.default_county.as_ref())) {
            (Some(own), Some(county)) if self.county.is_some() && &own != county => {
                return Err(format!("the road is in county {own}, not in {county}"));
            }
            (Some(own), _) => own,
            (None, Some(default)) => {
                *defaulted += 1;
                default.clone()
            }
            (None, None) => {
                return Err("no county: the file names none for this road, and no towns are loaded; give the county \
                     (--county, or the county on the admin page)"
                    .into());
            }
        };
        let name = fields.text(Field::Name, attrs);
        if let Some(name) = &name {
            check_name(name)?;
        }
        let wkb = self.geometry(feature, &["LineString", "MultiLineString"])?;
        let (route_code, source_id, start_m, end_m) = match route {
            Some((code, _)) => (
                Some(code),
                None,
                fields.stake(Field::StartStake, attrs, self.stake_unit)?,
                fields.stake(Field::EndStake, attrs, self.stake_unit)?,
            ),
            None => {
                let id = match fields.text(Field::SourceId, attrs) {
                    Some(id) if self.osm => format!("osm:{id}"),
                    Some(id) => id,
                    // Without an id, the line itself is the key: the same file re-imported finds the same road.
                    None => format!("geom:{}", &hex::encode(Sha256::digest(&wkb))[..16]),
                };
                if id.chars().count() > 128 {
                    return Err(format!("source id is {} characters, more than 128", id.chars().count()));
                }
                (None, Some(id), None, None)
            }
        };
        Ok(RoadRow { number: feature.number, route_code, admin_code, source_id, name, start_m, end_m, wkb })
    }

    /// The feature's geometry as WKB in the SRID handed to PostGIS: of an expected type, coordinates that
    /// make sense for the coordinate system, GCJ-02/BD-09 shifted to WGS-84.
    fn geometry(&self, feature: &Feature, types: &[&str]) -> Result<Vec<u8>, String> {
        let geometry = feature.geometry.as_ref().ok_or("no geometry")?;
        let kind = geometry_type(geometry);
        if !types.contains(&kind) {
            return Err(format!("a {kind}; expected {}", types.join(" or ")));
        }
        let rect = geometry.bounding_rect().ok_or("an empty geometry")?;
        if rect.min().x.is_nan() || rect.max().x.is_nan() || !rect.min().y.is_finite() || !rect.max().x.is_finite() {
            return Err("coordinates that are not numbers".into());
        }
        if self.system.is_geographic() {
            if rect.min().x < -180.0 || rect.max().x > 180.0 || rect.min().y < -90.0 || rect.max().y > 90.0 {
                return Err(format!(
                    "coordinates ({:.0}, {:.0}) are not longitude and latitude, but the file is read in {}: is it projected? give its system with --crs",
                    rect.min().x,
                    rect.min().y,
                    self.system.label()
                ));
            }
        } else if rect.max().x.abs() <= 180.0 && rect.max().y.abs() <= 90.0 {
            return Err(format!(
                "coordinates ({}, {}) look like longitude and latitude, but the file is read in {}, a projected system: give --crs EPSG:4326 or EPSG:4490",
                rect.min().x,
                rect.min().y,
                self.system.label()
            ));
        }
        let shifted;
        let geometry = match self.system.shift() {
            Some(from) => {
                shifted = geometry.map_coords(|c| {
                    let (x, y) = coords::to_wgs84(from, c.x, c.y);
                    geo::Coord { x, y }
                });
                &shifted
            }
            None => geometry,
        };
        let mut wkb = Vec::with_capacity(16 + 16 * geometry.coords_count());
        wkb::writer::write_geometry(&mut wkb, geometry, &Default::default()).map_err(|e| format!("geometry: {e}"))?;
        Ok(wkb)
    }
}

fn send(sender: &mpsc::Sender<Batch>, batch: Batch) -> Result<(), ImportError> {
    // The receiver only goes away when the writer failed; its error is the one reported.
    sender.blocking_send(batch).map_err(|_| ImportError::Internal(anyhow::anyhow!("the import's writer stopped")))
}

fn check_name(name: &str) -> Result<(), String> {
    let chars = name.chars().count();
    if chars > NAME_CHARS_MAX {
        return Err(format!("name is {chars} characters long, more than {NAME_CHARS_MAX}"));
    }
    Ok(())
}

fn geometry_type(geometry: &Geometry) -> &'static str {
    match geometry {
        Geometry::Point(_) => "Point",
        Geometry::Line(_) => "Line",
        Geometry::LineString(_) => "LineString",
        Geometry::Polygon(_) => "Polygon",
        Geometry::MultiPoint(_) => "MultiPoint",
        Geometry::MultiLineString(_) => "MultiLineString",
        Geometry::MultiPolygon(_) => "MultiPolygon",
        Geometry::GeometryCollection(_) => "GeometryCollection",
        Geometry::Rect(_) => "Rect",
        Geometry::Triangle(_) => "Triangle",
    }
}

/// A feature's attributes for a problem report: at most 20, each at most 64 characters.
fn clipped(attributes: &serde_json::Map<String, serde_json::Value>) -> serde_json::Map<String, serde_json::Value> {
    attributes
        .iter()
        .take(20)
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::String(s) => serde_json::Value::String(s.chars().take(64).collect()),
                other => other.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}
