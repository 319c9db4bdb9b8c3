//! OpenStreetMap PBF reader: ways with a `highway` tag in the chosen list become LineString features
//! (EPSG:4326) with attributes `osm_id` ("w<id>"), `highway`, and `ref`, `name`, `name:zh` when tagged.
//!
//! Framing is checked first, by us, before `osmpbf` reads anything: every blob header (≤ 64 KiB) and blob
//! size (≤ 32 MiB, the PBF format's own maximum) is read and compared with the file length, so a truncated
//! download or an absurd size claim is a clear error ("truncated" / "limit") naming the byte and blob, never
//! a huge allocation or a panic deep in a decoder.
//!
//! Memory model (bounded by the number of road nodes, not the file size):
//! - pass 1 (in [`open`]): decode each block, collect the node ids of kept ways into a `Vec<i64>`, sorted and
//!   de-duplicated (re-sorted whenever it doubles, so duplicates cost at most 2×);
//! - pass 2 (first [`FeatureSource::next_feature`]): read node blocks, store each needed node's coordinates
//!   as two `i32` in 10⁻⁷ degrees (OSM's own precision; nanodegrees would overflow `i32`) in a parallel
//!   `Vec`: 16 bytes per distinct road node in all;
//! - pass 3: read the way blocks again and emit the kept ways one block at a time (one decoded block, at
//!   most 32 MiB, plus its ways, is held; never all ways).
//!
//! For a county extract that is a few MB; for all of China's roads (~30 million road nodes) ~500 MB.
//! Ways whose nodes are partly outside the extract keep their contiguous parts inside (a MultiLineString when
//! several); ways with fewer than two nodes inside are skipped. Both are counted in [`FeatureSource::warnings`].

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use osmpbf::{BlobDecode, BlobReader, ByteOffset, PrimitiveBlock};
use serde_json::{Map, Value};

use super::{
    Feature, FeatureSource, Format, OSM_HIGHWAYS_DEFAULT, Progress, ProgressUnit, ReadError, ReadLimits, ReadOptions,
    file_name, group,
};
use crate::import::crs::Crs;

/// PBF format limits (OSM wiki, "PBF Format": BlobHeader < 64 KiB, Blob < 32 MiB).
const BLOB_HEADER_MAX: u64 = 64 * 1024;
const BLOB_MAX: u64 = 32 * 1024 * 1024;
/// The attributes of a feature: the tags kept (each only when the way has it) and the way's id.
const ATTRIBUTES: [&str; 5] = ["highway", "ref", "name", "name:zh", "osm_id"];
/// A needed node whose coordinates were not found in the file.
const MISSING: i32 = i32::MIN;

/// One blob's place in the file, from our own framing scan.
#[derive(Debug, Clone, Copy)]
struct BlobSpan {
    offset: u64,
    len: u64,
    data: bool,
}

struct OsmSource {
    file: String,
    path: PathBuf,
    highways: Vec<String>,
    limits: ReadLimits,
    blobs: Vec<BlobSpan>,
    /// Sorted, distinct ids of nodes used by kept ways, and their coordinates (lon, lat in 10⁻⁷ degrees).
    needed: Vec<i64>,
    coords: Vec<(i32, i32)>,
    /// Blob indexes: the last holding nodes, the first holding a kept way.
    last_node_blob: Option<usize>,
    first_way_blob: Option<usize>,
    /// Pass 3 position (next blob index to read), None before pass 2 has run.
    next_blob: Option<usize>,
    reader: Option<BlobReader<BufReader<File>>>,
    pending: VecDeque<Feature>,
    number: u64,
    done_bytes: u64,
    total_bytes: u64,
    clipped: u64,
    skipped: u64,
    failed: bool,
}

pub(super) fn open(path: &Path, options: &ReadOptions) -> Result<Box<dyn FeatureSource>, ReadError> {
    let file = file_name(path);
    let blobs = scan_blobs(path, &file)?;
    let highways: Vec<String> = match &options.osm_highways {
        Some(list) => list.clone(),
        None => OSM_HIGHWAYS_DEFAULT.iter().map(|s| s.to_string()).collect(),
    };
    let file_len: u64 = blobs.last().map_or(0, |b| b.offset + b.len);
    let mut source = OsmSource {
        file,
        path: path.to_path_buf(),
        highways,
        limits: options.limits,
        blobs,
        needed: Vec::new(),
        coords: Vec::new(),
        last_node_blob: None,
        first_way_blob: None,
        next_blob: None,
        reader: None,
        pending: VecDeque::new(),
        number: 0,
        done_bytes: 0,
        total_bytes: file_len,
        clipped: 0,
        skipped: 0,
        failed: false,
    };
    source.pass1()?;
    let bytes = |range: std::ops::Range<usize>| -> u64 { source.blobs[range].iter().map(|b| b.len).sum() };
    let pass2 = source.last_node_blob.map_or(0, |last| bytes(0..last + 1));
    let pass3 = source.first_way_blob.map_or(0, |first| bytes(first..source.blobs.len()));
    source.done_bytes = file_len;
    source.total_bytes = file_len + pass2 + pass3;
    Ok(Box::new(source))
}

/// Reads a protobuf varint at `at`, None if it runs past the buffer or over 10 bytes.
fn varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..70).step_by(7) {
        let byte = *b.get(*at)?;
        *at += 1;
        v |= u64::from(byte & 0x7F) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The `datasize` (field 3) and whether `type` (field 1) is "OSMData", from a BlobHeader message.
fn parse_blob_header(b: &[u8]) -> Option<(u64, bool)> {
    let mut at = 0;
    let (mut datasize, mut data) = (None, false);
    while at < b.len() {
        let key = varint(b, &mut at)?;
        match key & 7 {
            0 => {
                let v = varint(b, &mut at)?;
                if key >> 3 == 3 {
                    datasize = Some(v);
                }
            }
            2 => {
                let len = usize::try_from(varint(b, &mut at)?).ok()?;
                let end = at.checked_add(len).filter(|&e| e <= b.len())?;
                if key >> 3 == 1 {
                    data = &b[at..end] == b"OSMData";
                }
                at = end;
            }
            1 => at += 8,
            5 => at += 4,
            _ => return None,
        }
    }
    Some((datasize?, data))
}

/// Walks the blob framing (4-byte length, BlobHeader, Blob) and checks every claim against the file.
fn scan_blobs(path: &Path, file: &str) -> Result<Vec<BlobSpan>, ReadError> {
    let f = File::open(path).map_err(|e| ReadError::io(path, "cannot open", e))?;
    let len = f.metadata().map_err(|e| ReadError::io(path, "cannot read", e))?.len();
    let mut r = BufReader::new(f);
    let mut blobs = Vec::new();
    let mut pos = 0u64;
    let truncated = |detail: String| ReadError::Truncated { file: file.to_string(), detail };
    let redownload = "the download or copy was cut short; get the file again";
    while pos < len {
        let k = blobs.len() + 1;
        if len - pos < 4 {
            return Err(truncated(format!(
                "truncated at byte {} (inside the length of blob {k}); {redownload}",
                group(len)
            )));
        }
        let mut four = [0u8; 4];
        r.read_exact(&mut four).map_err(|e| ReadError::io(path, "cannot read", e))?;
        let header_len = u64::from(u32::from_be_bytes(four));
        if header_len > BLOB_HEADER_MAX {
            return Err(ReadError::Limit {
                file: file.to_string(),
                detail: format!(
                    "blob {k} at byte {} claims a {}-byte header, more than the format's 64 KiB; the file is damaged or not OSM PBF",
                    group(pos),
                    group(header_len)
                ),
            });
        }
        if pos + 4 + header_len > len {
            return Err(truncated(format!(
                "truncated at byte {} (inside the header of blob {k}, which ends at byte {}); {redownload}",
                group(len),
                group(pos + 4 + header_len)
            )));
        }
        let mut header = vec![0u8; header_len as usize];
        r.read_exact(&mut header).map_err(|e| ReadError::io(path, "cannot read", e))?;
        let (datasize, data) = parse_blob_header(&header).ok_or_else(|| ReadError::Corrupt {
            file: file.to_string(),
            detail: format!(
                "blob {k} at byte {}: the blob header cannot be read; the file is damaged or not OSM PBF",
                group(pos)
            ),
        })?;
        if datasize > BLOB_MAX {
            return Err(ReadError::Limit {
                file: file.to_string(),
                detail: format!(
                    "blob {k} at byte {} claims {} bytes, more than the format's 32 MiB; the file is damaged or not OSM PBF",
                    group(pos),
                    group(datasize)
                ),
            });
        }
        let end = pos + 4 + header_len + datasize;
        if end > len {
            return Err(truncated(format!(
                "truncated at byte {} (blob {k} of {} bytes starting at byte {} should end at byte {}); {redownload}",
                group(len),
                group(datasize),
                group(pos),
                group(end)
            )));
        }
        r.seek(SeekFrom::Start(end)).map_err(|e| ReadError::io(path, "cannot read", e))?;
        blobs.push(BlobSpan { offset: pos, len: end - pos, data });
        pos = end;
    }
    if blobs.is_empty() {
        return Err(truncated("the file is empty".into()));
    }
    Ok(blobs)
}

impl OsmSource {
    fn corrupt(&self, blob: usize, e: osmpbf::Error) -> ReadError {
        ReadError::Corrupt {
            file: self.file.clone(),
            detail: format!(
                "blob {} at byte {} cannot be decoded ({e}); the file is damaged — get it again",
                blob + 1,
                group(self.blobs[blob].offset)
            ),
        }
    }

    fn keep(&self, highway: Option<&str>) -> bool {
        highway.is_some_and(|h| self.highways.iter().any(|k| k == h))
    }

    /// Decodes blob `i` (must be an OSMData blob) from `reader`, positioned anywhere.
    fn block(&self, reader: &mut BlobReader<BufReader<File>>, i: usize) -> Result<Option<PrimitiveBlock>, ReadError> {
        let blob = reader.blob_from_offset(ByteOffset(self.blobs[i].offset)).map_err(|e| self.corrupt(i, e))?;
        match blob.decode().map_err(|e| self.corrupt(i, e))? {
            BlobDecode::OsmData(block) => Ok(Some(block)),
            _ => Ok(None),
        }
    }

    fn reader(&self) -> Result<BlobReader<BufReader<File>>, ReadError> {
        BlobReader::seekable_from_path(&self.path).map_err(|e| ReadError::Io {
            file: self.file.clone(),
            detail: "cannot open".into(),
            source: std::io::Error::other(e.to_string()),
        })
    }

    fn pass1(&mut self) -> Result<(), ReadError> {
        let mut reader = self.reader()?;
        let mut kept: u64 = 0;
        let mut sorted_len = 0;
        for i in 0..self.blobs.len() {
            if !self.blobs[i].data {
                continue;
            }
            let Some(block) = self.block(&mut reader, i)? else { continue };
            for blocks_group in block.groups() {
                if blocks_group.nodes().next().is_some() || blocks_group.dense_nodes().next().is_some() {
                    self.last_node_blob = Some(i);
                }
                for way in blocks_group.ways() {
                    let highway = way.tags().find(|(k, _)| *k == "highway").map(|(_, v)| v);
                    if !self.keep(highway) {
                        continue;
                    }
                    kept += 1;
                    if kept > self.limits.features_max {
                        return Err(ReadError::Limit {
                            file: self.file.clone(),
                            detail: format!(
                                "more than {} roads; cut a smaller extract (osmium extract -b …)",
                                group(self.limits.features_max)
                            ),
                        });
                    }
                    self.first_way_blob.get_or_insert(i);
                    self.needed.extend(way.refs());
                    if self.needed.len() > 2 * sorted_len.max(1 << 16) {
                        self.needed.sort_unstable();
                        self.needed.dedup();
                        sorted_len = self.needed.len();
                    }
                }
            }
        }
        self.needed.sort_unstable();
        self.needed.dedup();
        self.needed.shrink_to_fit();
        Ok(())
    }

    fn pass2(&mut self) -> Result<(), ReadError> {
        let mut reader = self.reader()?;
        self.coords = vec![(MISSING, MISSING); self.needed.len()];
        let last = match self.last_node_blob {
            Some(last) if !self.needed.is_empty() => last,
            _ => return Ok(()),
        };
        for i in 0..=last {
            self.done_bytes += self.blobs[i].len;
            if !self.blobs[i].data {
                continue;
            }
            let Some(block) = self.block(&mut reader, i)? else { continue };
            for blocks_group in block.groups() {
                for node in blocks_group.nodes() {
                    if let Ok(at) = self.needed.binary_search(&node.id()) {
                        self.coords[at] = (node.decimicro_lon(), node.decimicro_lat());
                    }
                }
                for node in blocks_group.dense_nodes() {
                    if let Ok(at) = self.needed.binary_search(&node.id()) {
                        self.coords[at] = (node.decimicro_lon(), node.decimicro_lat());
                    }
                }
            }
        }
        Ok(())
    }

    /// Decodes the next blob holding kept ways into `pending`. False when no blobs are left.
    fn pass3_block(&mut self) -> Result<bool, ReadError> {
        let Some(i) = self.next_blob.filter(|&i| i < self.blobs.len()) else { return Ok(false) };
        self.next_blob = Some(i + 1);
        self.done_bytes += self.blobs[i].len;
        if !self.blobs[i].data {
            return Ok(true);
        }
        let mut reader = match self.reader.take() {
            Some(r) => r,
            None => self.reader()?,
        };
        let block = self.block(&mut reader, i);
        self.reader = Some(reader);
        let Some(block) = block? else { return Ok(true) };
        for blocks_group in block.groups() {
            for way in blocks_group.ways() {
                let mut attributes = Map::new();
                let mut highway = None;
                for (k, v) in way.tags() {
                    match k {
                        "highway" => highway = Some(v),
                        "ref" | "name" | "name:zh" => {}
                        _ => continue,
                    }
                    attributes.insert(k.to_string(), Value::String(v.to_string()));
                }
                if !self.keep(highway) {
                    continue;
                }
                self.number += 1;
                let number = self.number;
                let refs = way.raw_refs().len();
                if refs > self.limits.vertices_per_feature_max {
                    return Err(ReadError::Limit {
                        file: self.file.clone(),
                        detail: format!(
                            "way {} (road {number}): {} nodes, more than the limit of {}",
                            way.id(),
                            group(refs as u64),
                            group(self.limits.vertices_per_feature_max as u64)
                        ),
                    });
                }
                attributes.insert("osm_id".into(), Value::String(format!("w{}", way.id())));
                // Contiguous runs of nodes whose coordinates are in the file.
                let mut parts: Vec<Vec<geo_types::Coord<f64>>> = vec![Vec::new()];
                let mut missing = false;
                for id in way.refs() {
                    let found =
                        self.needed.binary_search(&id).ok().map(|at| self.coords[at]).filter(|c| c.0 != MISSING);
                    match found {
                        Some((lon, lat)) => parts.last_mut().into_iter().for_each(|p| {
                            p.push(geo_types::Coord { x: f64::from(lon) * 1e-7, y: f64::from(lat) * 1e-7 })
                        }),
                        None => {
                            missing = true;
                            parts.push(Vec::new());
                        }
                    }
                }
                let mut lines: Vec<geo_types::LineString<f64>> =
                    parts.into_iter().filter(|p| p.len() >= 2).map(geo_types::LineString).collect();
                let geometry: geo_types::Geometry<f64> = match lines.len() {
                    0 => {
                        self.skipped += 1;
                        continue;
                    }
                    1 => lines.remove(0).into(),
                    _ => geo_types::MultiLineString(lines).into(),
                };
                if missing {
                    self.clipped += 1;
                }
                self.pending.push_back(Feature { number, attributes, geometry: Some(geometry) });
            }
        }
        Ok(true)
    }
}

impl FeatureSource for OsmSource {
    fn format(&self) -> Format {
        Format::OsmPbf
    }

    fn declared_crs(&self) -> Option<Crs> {
        Some(Crs::Epsg(4326))
    }

    fn encoding_used(&self) -> Option<String> {
        None
    }

    fn progress(&self) -> Progress {
        Progress { done: self.done_bytes.min(self.total_bytes), total: self.total_bytes, unit: ProgressUnit::Bytes }
    }

    fn next_feature(&mut self) -> Option<Result<Feature, ReadError>> {
        if self.failed {
            return None;
        }
        if self.next_blob.is_none() {
            if let Err(e) = self.pass2() {
                self.failed = true;
                return Some(Err(e));
            }
            self.next_blob = Some(self.first_way_blob.unwrap_or(self.blobs.len()));
        }
        loop {
            if let Some(f) = self.pending.pop_front() {
                return Some(Ok(f));
            }
            match self.pass3_block() {
                Ok(true) => {}
                Ok(false) => {
                    self.done_bytes = self.total_bytes;
                    return None;
                }
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }

    fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.skipped > 0 {
            out.push(format!("{} ways skipped: nodes outside the extract", group(self.skipped)));
        }
        if self.clipped > 0 {
            out.push(format!("{} ways cut at the extract's edge: kept their parts inside", group(self.clipped)));
        }
        out
    }

    /// A way has only the tags it has: the first kept way often has no `ref` or no `name`, and mapping
    /// fields from its tags alone would drop every route code of the file.
    fn attribute_names(&self) -> Option<Vec<String>> {
        Some(ATTRIBUTES.iter().map(|a| a.to_string()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_header_fields() {
        // type = "OSMData" (field 1), datasize = 300 (field 3, varint 0xAC 0x02)
        let mut h = vec![0x0A, 7];
        h.extend(b"OSMData");
        h.extend([0x18, 0xAC, 0x02]);
        assert_eq!(parse_blob_header(&h), Some((300, true)));
        assert_eq!(parse_blob_header(&h[..h.len() - 1]), None);
        assert_eq!(parse_blob_header(&[0x0A, 200]), None);
    }
}
