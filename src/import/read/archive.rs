//! Zipped uploads: a zip holding a shapefile (the usual way offices send one), or one GeoPackage / GeoJSON /
//! PBF file, extracted into a temporary folder that lives as long as the reader.
//!
//! Defences: an entry whose name would land outside the folder (`../evil`, `/etc/x`) or is a symbolic link
//! refuses the whole archive; the declared sizes of all entries are summed against
//! [`super::ReadLimits::unzipped_bytes_max`] before extracting, and the bytes really written are counted
//! too (a zip bomb can lie about sizes); more than 10 000 entries is refused.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{Feature, FeatureSource, Format, Progress, ReadError, ReadOptions, file_name, group, shp};
use crate::import::crs::Crs;

const ENTRIES_MAX: usize = 10_000;

/// A reader over extracted files; the folder is removed when it is dropped.
struct Extracted {
    inner: Box<dyn FeatureSource>,
    _dir: tempfile::TempDir,
}

impl FeatureSource for Extracted {
    fn format(&self) -> Format {
        self.inner.format()
    }
    fn declared_crs(&self) -> Option<Crs> {
        self.inner.declared_crs()
    }
    fn encoding_used(&self) -> Option<String> {
        self.inner.encoding_used()
    }
    fn progress(&self) -> Progress {
        self.inner.progress()
    }
    fn next_feature(&mut self) -> Option<Result<Feature, ReadError>> {
        self.inner.next_feature()
    }
    fn warnings(&self) -> Vec<String> {
        self.inner.warnings()
    }
    fn attribute_names(&self) -> Option<Vec<String>> {
        self.inner.attribute_names()
    }
}

pub(super) fn open_zip(path: &Path, options: &ReadOptions) -> Result<Box<dyn FeatureSource>, ReadError> {
    let name = file_name(path);
    let dir = tempfile::Builder::new()
        .prefix("roadledger-import-")
        .tempdir()
        .map_err(|e| ReadError::io(path, "cannot create a temporary folder to unzip into", e))?;
    extract(path, dir.path(), options.limits.unzipped_bytes_max)?;

    let shapefiles = shp::find_shapefiles(dir.path());
    let inner = if !shapefiles.is_empty() {
        let chosen = shp::choose(&name, &shapefiles, options.layer.as_deref())?;
        shp::open_shp(&chosen, options)?
    } else {
        let others = find_others(dir.path());
        let chosen = match others.as_slice() {
            [] => {
                return Err(ReadError::UnsupportedFormat {
                    file: name,
                    detail: "holds no shapefile (.shp with .shx and .dbf), GeoPackage, GeoJSON or .osm.pbf".into(),
                });
            }
            [only] => only.clone(),
            several => {
                let names: Vec<String> = several.iter().map(|p| file_name(p)).collect();
                return Err(ReadError::Layer {
                    file: name,
                    detail: format!("holds several files to import ({}); upload them one at a time", names.join(", ")),
                });
            }
        };
        super::open(&chosen, options)?
    };
    Ok(Box::new(Extracted { inner, _dir: dir }))
}

/// GeoPackage, GeoJSON and PBF files in the extracted folder (a zip inside a zip is not opened).
fn find_others(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), 0)];
    while let Some((d, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for path in entries.flatten().map(|e| e.path()) {
            let n = file_name(&path).to_ascii_lowercase();
            if n.starts_with('.') || n == "__macosx" {
                continue;
            }
            if path.is_dir() {
                if depth < 4 {
                    stack.push((path, depth + 1));
                }
            } else if [".gpkg", ".geojson", ".json", ".pbf"].iter().any(|e| n.ends_with(e)) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn extract(path: &Path, into: &Path, unzipped_max: u64) -> Result<(), ReadError> {
    let name = file_name(path);
    let bad_zip = |detail: String| ReadError::BadZip { file: name.clone(), detail };
    let file = File::open(path).map_err(|e| ReadError::io(path, "cannot open", e))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| bad_zip(format!("not a readable zip archive ({e}); zip the files again")))?;
    if archive.len() > ENTRIES_MAX {
        return Err(ReadError::Limit {
            file: name,
            detail: format!(
                "{} entries, more than {}; zip only the files to import",
                group(archive.len() as u64),
                group(ENTRIES_MAX as u64)
            ),
        });
    }
    // First pass over the central directory: names and declared sizes, before writing anything.
    let mut declared: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|e| bad_zip(format!("entry {}: {e}", i + 1)))?;
        let entry_name = entry.name().map(|n| n.into_owned()).unwrap_or_else(|_| format!("entry {}", i + 1));
        if entry.enclosed_name().is_none() {
            return Err(bad_zip(format!(
                "the entry \"{entry_name}\" would be written outside the archive's folder; refusing the archive — zip the files again without folders above them"
            )));
        }
        if entry.is_symlink() {
            return Err(bad_zip(format!("the entry \"{entry_name}\" is a symbolic link; zip the real files instead")));
        }
        declared = declared.saturating_add(entry.size());
    }
    if declared > unzipped_max {
        return Err(ReadError::Limit {
            file: name,
            detail: format!(
                "its entries unpack to {} bytes, more than the limit of {}; zip only the files to import",
                group(declared),
                group(unzipped_max)
            ),
        });
    }
    let mut written: u64 = 0;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| bad_zip(format!("entry {}: {e}", i + 1)))?;
        let Some(relative) = entry.enclosed_name() else { continue };
        let target = into.join(&relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&target).map_err(|e| ReadError::io(path, "cannot unzip", e))?;
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| ReadError::io(path, "cannot unzip", e))?;
        }
        let declared_size = entry.size();
        let mut out = File::create(&target).map_err(|e| ReadError::io(path, "cannot unzip", e))?;
        // Never trust the declared size: copy at most one byte more than the entry declares.
        let copied = std::io::copy(&mut (&mut entry).take(declared_size + 1), &mut out).map_err(|e| {
            bad_zip(format!("entry \"{}\" cannot be unpacked ({e}); zip the files again", relative.display()))
        })?;
        written += copied;
        if copied > declared_size || written > unzipped_max {
            return Err(ReadError::Limit {
                file: name,
                detail: format!(
                    "the entry \"{}\" unpacks to more than it declares or past the limit of {} bytes; refusing the archive",
                    relative.display(),
                    group(unzipped_max)
                ),
            });
        }
    }
    Ok(())
}
