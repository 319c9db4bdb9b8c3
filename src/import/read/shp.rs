//! Shapefile reader: the .shp geometry file (ESRI Shapefile Technical Description, July 1998) read record by
//! record next to its .dbf ([`super::dbf`]). Our own reader rather than the `shapefile` crate so that every
//! count a header claims (file length, record length, parts, points) is checked against the bytes that are
//! really there before anything is allocated: a damaged upload gets a clear error, never a huge allocation.
//!
//! Z and M values are dropped (2-D). Polygons become MultiPolygons, rings grouped by orientation (outer rings
//! clockwise, holes counter-clockwise, each hole given to the outer ring that contains it). A PolyLine with one
//! part is a LineString, with several a MultiLineString.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use geo::{Contains, Coord, LineString, MultiPolygon, Point, Polygon};

use super::dbf::Dbf;
use super::{
    Feature, FeatureSource, Format, Progress, ProgressUnit, ReadError, ReadLimits, ReadOptions, file_name, group,
};
use crate::import::crs::Crs;

/// The files of one shapefile.
struct Parts {
    shp: PathBuf,
    shx: Option<PathBuf>,
    dbf: Option<PathBuf>,
    prj: Option<PathBuf>,
    cpg: Option<PathBuf>,
}

/// Finds the siblings of `roads.shp` (extensions compared case-insensitively: `ROADS.DBF` is common).
fn siblings(shp: &Path) -> Result<Parts, ReadError> {
    let dir = shp.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let stem = shp.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut parts = Parts { shp: shp.to_path_buf(), shx: None, dbf: None, prj: None, cpg: None };
    let entries = std::fs::read_dir(dir).map_err(|e| ReadError::io(shp, "cannot list the folder", e))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let (Some(s), Some(ext)) = (path.file_stem(), path.extension()) else { continue };
        if !s.to_string_lossy().eq_ignore_ascii_case(&stem) {
            continue;
        }
        let slot = match ext.to_string_lossy().to_ascii_lowercase().as_str() {
            "shx" => &mut parts.shx,
            "dbf" => &mut parts.dbf,
            "prj" => &mut parts.prj,
            "cpg" => &mut parts.cpg,
            _ => continue,
        };
        // An exact stem match wins over a case-insensitive one.
        if slot.is_none() || s.to_string_lossy() == stem {
            *slot = Some(path);
        }
    }
    Ok(parts)
}

/// The .shp files in a folder (and its sub-folders, as zips often have one), skipping macOS resource forks.
pub(super) fn find_shapefiles(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            let name = file_name(&path);
            if name.starts_with('.') || name == "__MACOSX" {
                continue;
            }
            if path.is_dir() {
                if depth < 4 {
                    walk(&path, depth + 1, out);
                }
            } else if name.to_ascii_lowercase().ends_with(".shp") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, 0, &mut out);
    out
}

/// Picks the shapefile named by `layer` (its name without .shp, case-insensitive), or the only one.
pub(super) fn choose(container: &str, shapefiles: &[PathBuf], layer: Option<&str>) -> Result<PathBuf, ReadError> {
    let stem = |p: &PathBuf| p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let names = || shapefiles.iter().map(stem).collect::<Vec<_>>().join(", ");
    match (layer, shapefiles) {
        (_, []) => Err(ReadError::MissingFile {
            file: format!("a .shp in {container}"),
            detail: "no shapefile found; a shapefile needs .shp, .shx and .dbf".into(),
        }),
        (Some(layer), _) => {
            let layer = layer.trim_end_matches(".shp").trim_end_matches(".SHP");
            shapefiles.iter().find(|p| stem(p).eq_ignore_ascii_case(layer)).cloned().ok_or_else(|| ReadError::Layer {
                file: container.to_string(),
                detail: format!("has no shapefile named \"{layer}\"; it holds: {}", names()),
            })
        }
        (None, [only]) => Ok(only.clone()),
        (None, _) => Err(ReadError::Layer {
            file: container.to_string(),
            detail: format!("holds {} shapefiles ({}); choose one with --layer NAME", shapefiles.len(), names()),
        }),
    }
}

pub(super) fn open_folder(dir: &Path, options: &ReadOptions) -> Result<Box<dyn FeatureSource>, ReadError> {
    let shapefiles = find_shapefiles(dir);
    let shp = choose(&file_name(dir), &shapefiles, options.layer.as_deref())?;
    open_shp(&shp, options)
}

struct ShpSource {
    file: String,
    reader: BufReader<File>,
    /// Where the records end: the smaller of the header's file length and the real one.
    end: u64,
    pos: u64,
    dbf: Dbf,
    dbf_name: String,
    crs: Option<Crs>,
    limits: ReadLimits,
    number: u64,
    deleted: u64,
    buf: Vec<u8>,
    failed: bool,
}

const SUPPORTED_SHAPES: &str = "Point, MultiPoint, PolyLine, Polygon and their Z and M variants";

pub(super) fn open_shp(shp: &Path, options: &ReadOptions) -> Result<Box<dyn FeatureSource>, ReadError> {
    let parts = siblings(shp)?;
    let file = file_name(shp);
    let stem = shp.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let needs = "a shapefile needs .shp, .shx and .dbf files with the same name side by side; upload all of them (a zip of the folder is easiest)";
    if parts.shx.is_none() {
        return Err(ReadError::MissingFile { file: format!("{stem}.shx"), detail: needs.into() });
    }
    let Some(dbf_path) = parts.dbf.as_deref() else {
        return Err(ReadError::MissingFile { file: format!("{stem}.dbf"), detail: needs.into() });
    };
    let crs = match &parts.prj {
        None => None,
        Some(prj) => {
            let mut text = String::new();
            File::open(prj)
                .and_then(|f| f.take(64 * 1024).read_to_string(&mut text))
                .map_err(|e| ReadError::io(prj, "cannot read", e))?;
            Some(Crs::from_wkt(&text).map_err(|source| ReadError::Crs { file: file_name(prj), source })?)
        }
    };
    let dbf = Dbf::open(dbf_path, parts.cpg.as_deref(), options.encoding, &options.limits)?;

    let f = File::open(&parts.shp).map_err(|e| ReadError::io(shp, "cannot open", e))?;
    let actual = f.metadata().map_err(|e| ReadError::io(shp, "cannot read", e))?.len();
    let mut reader = BufReader::new(f);
    if actual < 100 {
        return Err(ReadError::Truncated {
            file,
            detail: format!(
                "{actual} bytes, shorter than the 100-byte .shp header; the file is cut short — copy it again"
            ),
        });
    }
    let mut header = [0u8; 100];
    reader.read_exact(&mut header).map_err(|e| ReadError::io(shp, "cannot read the header", e))?;
    let code = i32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    if code != 9994 {
        return Err(ReadError::Corrupt {
            file,
            detail: format!("file code {code}, not 9994: this is not a .shp file"),
        });
    }
    // File length in 16-bit words (a u32 read so that a negative claim is just a huge one).
    let claimed = u64::from(u32::from_be_bytes([header[24], header[25], header[26], header[27]])) * 2;
    if claimed > actual {
        return Err(ReadError::Truncated {
            file,
            detail: format!(
                "the header claims {} bytes, the file has {}; it is cut short or damaged — copy it again",
                group(claimed),
                group(actual)
            ),
        });
    }
    let shape_type = i32::from_le_bytes([header[32], header[33], header[34], header[35]]);
    if !matches!(shape_type, 0 | 1 | 3 | 5 | 8 | 11 | 13 | 15 | 18 | 21 | 23 | 25 | 28) {
        return Err(ReadError::UnsupportedFormat {
            file,
            detail: format!("shape type {shape_type} is not supported (we read {SUPPORTED_SHAPES})"),
        });
    }
    Ok(Box::new(ShpSource {
        file,
        reader,
        end: claimed.max(100),
        pos: 100,
        dbf_name: file_name(dbf_path),
        dbf,
        crs,
        limits: options.limits,
        number: 0,
        deleted: 0,
        buf: Vec::new(),
        failed: false,
    }))
}

impl ShpSource {
    fn truncated(&self, detail: String) -> ReadError {
        ReadError::Truncated { file: self.file.clone(), detail }
    }

    /// Reads the next .shp record's geometry, None at the end of the file.
    fn next_shape(&mut self) -> Option<Result<Option<geo_types::Geometry<f64>>, ReadError>> {
        if self.pos >= self.end {
            return None;
        }
        let number = self.number;
        let remaining = self.end - self.pos;
        if remaining < 8 {
            return Some(Err(self.truncated(format!("record {number}: the file ends inside the record header"))));
        }
        let mut head = [0u8; 8];
        if let Err(e) = self.reader.read_exact(&mut head) {
            return Some(Err(ReadError::io(Path::new(&self.file), "cannot read", e)));
        }
        let content = u64::from(u32::from_be_bytes([head[4], head[5], head[6], head[7]])) * 2;
        if content > remaining - 8 {
            return Some(Err(self.truncated(format!(
                "record {number}: {} bytes claimed by the record header, the file has {} left; it is cut short — copy it again",
                group(content),
                group(remaining - 8)
            ))));
        }
        // The largest honest record: 44 header bytes, a part index and x, y, z, m per vertex, plus ranges.
        let record_max = 76 + 40 * self.limits.vertices_per_feature_max as u64;
        if content > record_max {
            return Some(Err(ReadError::Limit {
                file: self.file.clone(),
                detail: format!(
                    "record {number}: {} bytes, more than {} vertices can take; simplify the geometry",
                    group(content),
                    group(self.limits.vertices_per_feature_max as u64)
                ),
            }));
        }
        self.buf.resize(content as usize, 0);
        if let Err(e) = self.reader.read_exact(&mut self.buf) {
            return Some(Err(self.truncated(format!("record {number}: the file ends inside the record ({e})"))));
        }
        self.pos += 8 + content;
        Some(parse_shape(&self.buf, &self.file, number, &self.limits))
    }
}

fn f64le(b: &[u8], at: usize) -> f64 {
    f64::from_le_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]))
}

fn i32le(b: &[u8], at: usize) -> i32 {
    i32::from_le_bytes(b[at..at + 4].try_into().unwrap_or([0; 4]))
}

/// Parses one record's content (shape type first). Every count is checked against `b.len()`.
fn parse_shape(
    b: &[u8],
    file: &str,
    number: u64,
    limits: &ReadLimits,
) -> Result<Option<geo_types::Geometry<f64>>, ReadError> {
    let short = |what: String| ReadError::Truncated {
        file: file.to_string(),
        detail: format!(
            "record {number}: {what}, the record has {} bytes; the file is damaged — export it again",
            group(b.len() as u64)
        ),
    };
    let bad =
        |what: String| ReadError::BadGeometry { file: file.to_string(), detail: format!("record {number}: {what}") };
    if b.len() < 4 {
        return Err(short("no shape type".into()));
    }
    let shape_type = i32le(b, 0);
    let point = |at: usize| -> Result<Coord<f64>, ReadError> {
        let (x, y) = (f64le(b, at), f64le(b, at + 8));
        if x.is_finite() && y.is_finite() {
            Ok(Coord { x, y })
        } else {
            Err(bad(format!("a coordinate is not a number ({x}, {y})")))
        }
    };
    let count = |at: usize, what: &str| -> Result<usize, ReadError> {
        let n = i32le(b, at);
        usize::try_from(n).map_err(|_| bad(format!("{n} {what}")))
    };
    match shape_type {
        0 => Ok(None),
        1 | 11 | 21 => {
            if b.len() < 20 {
                return Err(short("a point needs 20 bytes".into()));
            }
            Ok(Some(Point(point(4)?).into()))
        }
        8 | 18 | 28 => {
            if b.len() < 40 {
                return Err(short("a multipoint header needs 40 bytes".into()));
            }
            let n = count(36, "points")?;
            check_vertices(n, file, number, limits)?;
            if 40 + 16 * n as u64 > b.len() as u64 {
                return Err(short(format!("{} points claimed", group(n as u64))));
            }
            let points = (0..n).map(|i| point(40 + 16 * i).map(Point)).collect::<Result<Vec<_>, _>>()?;
            if points.is_empty() {
                return Ok(None);
            }
            Ok(Some(geo_types::MultiPoint(points).into()))
        }
        3 | 5 | 13 | 15 | 23 | 25 => {
            if b.len() < 44 {
                return Err(short("a polyline/polygon header needs 44 bytes".into()));
            }
            let n_parts = count(36, "parts")?;
            let n_points = count(40, "points")?;
            check_vertices(n_points, file, number, limits)?;
            let points_at = 44 + 4 * n_parts as u64;
            if points_at + 16 * n_points as u64 > b.len() as u64 {
                return Err(short(format!(
                    "{} points in {} parts claimed",
                    group(n_points as u64),
                    group(n_parts as u64)
                )));
            }
            if n_points == 0 {
                return Ok(None);
            }
            if n_parts == 0 || n_parts > n_points {
                return Err(bad(format!("{n_parts} parts for {n_points} points")));
            }
            let points_at = points_at as usize;
            let mut starts = Vec::with_capacity(n_parts + 1);
            for i in 0..n_parts {
                starts.push(count(44 + 4 * i, "as a part start")?);
            }
            starts.push(n_points);
            if starts[0] != 0 || starts.windows(2).any(|w| w[0] >= w[1]) {
                return Err(bad(format!(
                    "part starts {:?} are not increasing from 0 below {n_points}",
                    &starts[..n_parts]
                )));
            }
            let mut lines = Vec::with_capacity(n_parts);
            for w in starts.windows(2) {
                let coords = (w[0]..w[1]).map(|i| point(points_at + 16 * i)).collect::<Result<Vec<_>, _>>()?;
                lines.push(LineString(coords));
            }
            if matches!(shape_type, 5 | 15 | 25) {
                polygons(lines, &bad).map(|mp| Some(mp.into()))
            } else if lines.len() == 1 {
                Ok(lines.pop().map(Into::into))
            } else {
                Ok(Some(geo_types::MultiLineString(lines).into()))
            }
        }
        other => Err(ReadError::UnsupportedFormat {
            file: file.to_string(),
            detail: format!("record {number}: shape type {other} is not supported (we read {SUPPORTED_SHAPES})"),
        }),
    }
}

fn check_vertices(n: usize, file: &str, number: u64, limits: &ReadLimits) -> Result<(), ReadError> {
    if n > limits.vertices_per_feature_max {
        return Err(ReadError::Limit {
            file: file.to_string(),
            detail: format!(
                "record {number}: {} points, more than the limit of {}; simplify the geometry",
                group(n as u64),
                group(limits.vertices_per_feature_max as u64)
            ),
        });
    }
    Ok(())
}

/// Twice the signed area (shoelace): negative for clockwise rings, which are outer rings in a shapefile.
fn signed_area2(ring: &LineString<f64>) -> f64 {
    ring.0.windows(2).map(|w| w[0].x * w[1].y - w[1].x * w[0].y).sum()
}

/// Groups rings into polygons: clockwise rings are outer rings, counter-clockwise ones holes of the outer
/// ring that contains them. Files from writers that ignore orientation (all rings counter-clockwise) get each
/// ring as its own polygon, as do holes that fit in no outer ring.
fn polygons(rings: Vec<LineString<f64>>, bad: &dyn Fn(String) -> ReadError) -> Result<MultiPolygon<f64>, ReadError> {
    let mut outers: Vec<(Polygon<f64>, Vec<LineString<f64>>)> = Vec::new();
    let mut holes = Vec::new();
    for (i, mut ring) in rings.into_iter().enumerate() {
        if ring.0.len() < 3 {
            return Err(bad(format!("ring {} has {} points; a ring needs at least 4", i + 1, ring.0.len())));
        }
        ring.close();
        if signed_area2(&ring) < 0.0 {
            outers.push((Polygon::new(ring, vec![]), Vec::new()));
        } else {
            holes.push(ring);
        }
    }
    if outers.is_empty() {
        return Ok(MultiPolygon(holes.into_iter().map(|r| Polygon::new(r, vec![])).collect()));
    }
    let mut lonely = Vec::new();
    for hole in holes {
        let probe = Point(hole.0[0]);
        match outers.iter_mut().find(|(outer, _)| outer.contains(&probe) || outer.exterior().contains(&probe)) {
            Some((_, inner)) => inner.push(hole),
            None => lonely.push(Polygon::new(hole, vec![])),
        }
    }
    let mut out: Vec<Polygon<f64>> =
        outers.into_iter().map(|(outer, inner)| Polygon::new(outer.into_inner().0, inner)).collect();
    out.extend(lonely);
    Ok(MultiPolygon(out))
}

impl FeatureSource for ShpSource {
    fn format(&self) -> Format {
        Format::Shapefile
    }

    fn declared_crs(&self) -> Option<Crs> {
        self.crs
    }

    fn encoding_used(&self) -> Option<String> {
        Some(self.dbf.encoding_note.clone())
    }

    fn progress(&self) -> Progress {
        Progress { done: self.number, total: self.dbf.records, unit: ProgressUnit::Features }
    }

    fn next_feature(&mut self) -> Option<Result<Feature, ReadError>> {
        if self.failed {
            return None;
        }
        let result = loop {
            self.number += 1;
            let shape = self.next_shape();
            let record = self.dbf.next_record();
            let (geometry, (deleted, attributes)) = match (shape, record) {
                (None, None) => {
                    self.number -= 1;
                    return None;
                }
                (Some(Err(e)), _) | (_, Some(Err(e))) => break Err(e),
                (Some(Ok(g)), Some(Ok(r))) => (g, r),
                (shapes_left, _) => {
                    let (more, fewer) =
                        if shapes_left.is_some() { (&self.file, &self.dbf_name) } else { (&self.dbf_name, &self.file) };
                    break Err(ReadError::Corrupt {
                        file: self.file.clone(),
                        detail: format!(
                            "{more} has more records than {fewer} ({fewer} ends at record {}); the files do not belong together or one is damaged — export them again",
                            self.number - 1
                        ),
                    });
                }
            };
            if deleted {
                self.deleted += 1;
                continue;
            }
            break Ok(Feature { number: self.number, attributes, geometry });
        };
        self.failed = result.is_err();
        Some(result)
    }

    fn warnings(&self) -> Vec<String> {
        if self.deleted > 0 {
            vec![format!("{} records skipped: marked deleted in {}", self.deleted, self.dbf_name)]
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(points: &[(f64, f64)]) -> LineString<f64> {
        LineString(points.iter().map(|&(x, y)| Coord { x, y }).collect())
    }

    #[test]
    fn rings_group_by_orientation() {
        let bad = |s: String| ReadError::BadGeometry { file: "t.shp".into(), detail: s };
        // Outer clockwise 0..10, a counter-clockwise hole 2..4 inside, a second clockwise outer 20..30.
        let outer = ring(&[(0., 0.), (0., 10.), (10., 10.), (10., 0.), (0., 0.)]);
        let hole = ring(&[(2., 2.), (4., 2.), (4., 4.), (2., 4.), (2., 2.)]);
        let outer2 = ring(&[(20., 0.), (20., 10.), (30., 10.), (30., 0.), (20., 0.)]);
        let mp = polygons(vec![outer, outer2, hole], &bad).unwrap();
        assert_eq!(mp.0.len(), 2);
        assert_eq!(mp.0[0].interiors().len(), 1);
        assert_eq!(mp.0[1].interiors().len(), 0);
    }

    #[test]
    fn claims_beyond_the_record_are_errors() {
        let limits = ReadLimits::default();
        let mut b = vec![0u8; 44 + 4 + 32];
        b[0..4].copy_from_slice(&3i32.to_le_bytes());
        b[36..40].copy_from_slice(&1i32.to_le_bytes());
        b[40..44].copy_from_slice(&i32::MAX.to_le_bytes());
        let err = parse_shape(&b, "roads.shp", 17, &limits).unwrap_err();
        assert_eq!(err.code(), "limit");
        b[40..44].copy_from_slice(&900_000i32.to_le_bytes());
        let err = parse_shape(&b, "roads.shp", 17, &limits).unwrap_err();
        assert_eq!(err.code(), "truncated");
        assert!(err.to_string().starts_with("roads.shp: record 17: 900 000 points in 1 parts claimed"), "{err}");
    }
}
