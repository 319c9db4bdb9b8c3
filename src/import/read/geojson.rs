//! GeoJSON reader: a FeatureCollection, a single Feature or a bare geometry, parsed whole (files are
//! refused above [`super::ReadLimits::file_bytes_max`] before reading). RFC 7946 §4: coordinates are
//! WGS 84 unless the legacy (2008) `crs` member names another system, which older GIS exports still write.

use std::path::Path;

use geo::CoordsIter;

use super::{
    Feature, FeatureSource, Format, Progress, ProgressUnit, ReadError, ReadLimits, ReadOptions, file_name, group,
};
use crate::import::crs::Crs;

struct GeoJsonSource {
    file: String,
    crs: Crs,
    features: std::vec::IntoIter<geojson::Feature>,
    /// Every property name of any feature, in first-seen order: features need not all have the same ones.
    attributes: Vec<String>,
    total: u64,
    done: u64,
    limits: ReadLimits,
}

pub(super) fn open(path: &Path, options: &ReadOptions) -> Result<Box<dyn FeatureSource>, ReadError> {
    let file = file_name(path);
    let limits = options.limits;
    let bytes = std::fs::metadata(path).map_err(|e| ReadError::io(path, "cannot open", e))?.len();
    if bytes > limits.file_bytes_max {
        return Err(ReadError::Limit {
            file,
            detail: format!(
                "{} bytes, more than the {} bytes a GeoJSON file may have (it is read whole); \
                 convert it to GeoPackage (ogr2ogr -f GPKG out.gpkg in.geojson) or split it",
                group(bytes),
                group(limits.file_bytes_max)
            ),
        });
    }
    let text = std::fs::read(path).map_err(|e| ReadError::io(path, "cannot read", e))?;
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&text);
    let value: serde_json::Value = serde_json::from_slice(text).map_err(|e| ReadError::Corrupt {
        file: file.clone(),
        detail: format!("not valid JSON: {e}; the file may be cut short or not be GeoJSON — export it again"),
    })?;
    let crs = legacy_crs(&value).map_err(|source| ReadError::Crs { file: file.clone(), source })?;
    let geojson: geojson::GeoJson = serde_json::from_value(value).map_err(|e| ReadError::Corrupt {
        file: file.clone(),
        detail: format!("valid JSON but not GeoJSON: {e}; expected a FeatureCollection, a Feature or a geometry"),
    })?;
    let features = match geojson {
        geojson::GeoJson::FeatureCollection(fc) => fc.features,
        geojson::GeoJson::Feature(f) => vec![f],
        geojson::GeoJson::Geometry(g) => vec![geojson::Feature { geometry: Some(g), ..Default::default() }],
    };
    let total = features.len() as u64;
    if total > limits.features_max {
        return Err(ReadError::Limit {
            file,
            detail: format!(
                "{} features, more than the limit of {}; split the file",
                group(total),
                group(limits.features_max)
            ),
        });
    }
    let mut attributes: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for key in features.iter().filter_map(|f| f.properties.as_ref()).flat_map(|p| p.keys()) {
        if seen.insert(key.as_str()) {
            attributes.push(key.clone());
        }
    }
    Ok(Box::new(GeoJsonSource { file, crs, features: features.into_iter(), attributes, total, done: 0, limits }))
}

/// The legacy `crs` member: `{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::4549"}}` or
/// `{"type":"EPSG","properties":{"code":4549}}`; absent or null means WGS 84.
fn legacy_crs(value: &serde_json::Value) -> Result<Crs, crate::import::crs::CrsError> {
    let Some(crs) = value.get("crs").filter(|c| !c.is_null()) else {
        return Ok(Crs::Epsg(4326));
    };
    let props = crs.get("properties");
    if let Some(name) = props.and_then(|p| p.get("name")).and_then(|n| n.as_str()) {
        return Crs::from_name(name);
    }
    if let Some(code) = props.and_then(|p| p.get("code")).and_then(|c| c.as_u64()) {
        return Crs::from_name(&code.to_string());
    }
    Err(crate::import::crs::CrsError::BadName { name: crs.to_string() })
}

impl GeoJsonSource {
    fn convert(&self, number: u64, feature: geojson::Feature) -> Result<Feature, ReadError> {
        let attributes = feature.properties.unwrap_or_default();
        let attribute_bytes: usize = attributes.iter().map(|(k, v)| k.len() + value_bytes(v)).sum();
        if attribute_bytes > self.limits.attribute_bytes_max {
            return Err(ReadError::Limit {
                file: self.file.clone(),
                detail: format!(
                    "feature {number}: {} bytes of properties, more than the limit of {}",
                    group(attribute_bytes as u64),
                    group(self.limits.attribute_bytes_max as u64)
                ),
            });
        }
        let geometry = match feature.geometry {
            None => None,
            Some(g) => {
                let g = geo_types::Geometry::<f64>::try_from(g).map_err(|e| ReadError::BadGeometry {
                    file: self.file.clone(),
                    detail: format!("feature {number}: {e}"),
                })?;
                let vertices = g.coords_count();
                if vertices > self.limits.vertices_per_feature_max {
                    return Err(ReadError::Limit {
                        file: self.file.clone(),
                        detail: format!(
                            "feature {number}: {} vertices, more than the limit of {}; simplify the geometry",
                            group(vertices as u64),
                            group(self.limits.vertices_per_feature_max as u64)
                        ),
                    });
                }
                (vertices > 0).then_some(g)
            }
        };
        Ok(Feature { number, attributes, geometry })
    }
}

/// Rough size of a JSON value's text, for the attribute limit.
fn value_bytes(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::String(s) => s.len(),
        serde_json::Value::Array(a) => a.iter().map(value_bytes).sum(),
        serde_json::Value::Object(o) => o.iter().map(|(k, v)| k.len() + value_bytes(v)).sum(),
        _ => 8,
    }
}

impl FeatureSource for GeoJsonSource {
    fn format(&self) -> Format {
        Format::GeoJson
    }

    /// GeoJSON features carry only the properties they have: the first one may lack `route_code`.
    fn attribute_names(&self) -> Option<Vec<String>> {
        Some(self.attributes.clone())
    }

    fn declared_crs(&self) -> Option<Crs> {
        Some(self.crs)
    }

    fn encoding_used(&self) -> Option<String> {
        None
    }

    fn progress(&self) -> Progress {
        Progress { done: self.done, total: self.total, unit: ProgressUnit::Features }
    }

    fn next_feature(&mut self) -> Option<Result<Feature, ReadError>> {
        let feature = self.features.next()?;
        self.done += 1;
        Some(self.convert(self.done, feature))
    }
}
