//! File readers (temporary stub with the agreed API; the readers branch replaces it).

use super::crs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    GeoJson,
    Shapefile,
    GeoPackage,
    OsmPbf,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::GeoJson => "geojson",
            Format::Shapefile => "shapefile",
            Format::GeoPackage => "geopackage",
            Format::OsmPbf => "osm_pbf",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub encoding: Option<&'static encoding_rs::Encoding>,
    pub layer: Option<String>,
    pub osm_highways: Option<Vec<String>>,
    pub limits: ReadLimits,
}

#[derive(Debug, Clone)]
pub struct ReadLimits {
    pub features_max: u64,
    pub vertices_per_feature_max: usize,
    pub attribute_bytes_max: usize,
    pub unzipped_bytes_max: u64,
    pub file_bytes_max: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            features_max: 5_000_000,
            vertices_per_feature_max: 1_000_000,
            attribute_bytes_max: 65_536,
            unzipped_bytes_max: 4 << 30,
            file_bytes_max: 512 << 20,
        }
    }
}

pub struct Feature {
    pub number: u64,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub geometry: Option<geo::Geometry<f64>>,
}

#[derive(Debug, Clone, Copy)]
pub enum ProgressUnit {
    Bytes,
    Features,
}

#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
    pub unit: ProgressUnit,
}

pub trait FeatureSource: Send {
    fn format(&self) -> Format;
    fn declared_crs(&self) -> Option<crs::Crs>;
    fn encoding_used(&self) -> Option<String>;
    fn progress(&self) -> Progress;
    fn next_feature(&mut self) -> Option<Result<Feature, ReadError>>;
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

#[derive(thiserror::Error, Debug)]
pub enum ReadError {
    #[error("{0}")]
    Unsupported(String),
}

impl ReadError {
    pub fn code(&self) -> &'static str {
        "unsupported_format"
    }
}

pub fn open(path: &std::path::Path, _options: &ReadOptions) -> Result<Box<dyn FeatureSource>, ReadError> {
    Err(ReadError::Unsupported(format!("{}: readers not merged yet", path.display())))
}
