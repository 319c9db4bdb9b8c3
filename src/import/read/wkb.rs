//! GeoPackage geometry blobs (GeoPackage 1.3 §2.1.3: "GP" header, flags, srs_id, optional envelope) and the
//! standard WKB that follows (OGC 06-103r4; ISO Z/M type codes 1001…3007 and extended-WKB high-bit flags
//! both accepted). Z and M are dropped. Written here (small) so that every count is checked against the
//! bytes left before anything is allocated, and the vertex limit applies while parsing.

use geo_types::{
    Coord, Geometry, GeometryCollection, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon,
};

/// A parsed GeoPackage blob: the geometry (None when empty). The blob's own srs_id is not used: the
/// table's `gpkg_geometry_columns.srs_id` is the declared system.
#[derive(Debug)]
pub(super) struct GpkgGeometry {
    pub geometry: Option<Geometry<f64>>,
}

pub(super) fn parse_gpkg(blob: &[u8], vertices_max: usize) -> Result<GpkgGeometry, String> {
    if blob.len() < 8 || &blob[..2] != b"GP" {
        return Err("not a GeoPackage geometry (no \"GP\" header)".into());
    }
    let flags = blob[3];
    if flags & 0x20 != 0 {
        return Err("an extended GeoPackage geometry type, which we do not read".into());
    }
    let envelope = match (flags >> 1) & 0b111 {
        0 => 0,
        1 => 32,
        2 | 3 => 48,
        4 => 64,
        other => return Err(format!("envelope indicator {other} is invalid")),
    };
    let start = 8 + envelope;
    if blob.len() < start {
        return Err("the blob ends inside its envelope".into());
    }
    if flags & 0x10 != 0 {
        return Ok(GpkgGeometry { geometry: None });
    }
    let geometry = parse_wkb(&blob[start..], vertices_max)?;
    Ok(GpkgGeometry { geometry })
}

/// Parses WKB into a 2-D geometry, None for an empty one.
pub(super) fn parse_wkb(bytes: &[u8], vertices_max: usize) -> Result<Option<Geometry<f64>>, String> {
    let mut r = Reader { b: bytes, at: 0, vertices: 0, vertices_max };
    let g = r.geometry(0)?;
    Ok(g.filter(|g| !is_empty(g)))
}

fn is_empty(g: &Geometry<f64>) -> bool {
    match g {
        Geometry::LineString(l) => l.0.is_empty(),
        Geometry::Polygon(p) => p.exterior().0.is_empty(),
        Geometry::MultiPoint(m) => m.0.is_empty(),
        Geometry::MultiLineString(m) => m.0.is_empty(),
        Geometry::MultiPolygon(m) => m.0.is_empty(),
        Geometry::GeometryCollection(c) => c.0.is_empty(),
        _ => false,
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
    vertices: usize,
    vertices_max: usize,
}

struct Header {
    little: bool,
    kind: u32,
    dims: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if self.b.len() - self.at < n {
            return Err(format!("the WKB ends at byte {} while {n} more were expected", self.b.len()));
        }
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    fn u32(&mut self, little: bool) -> Result<u32, String> {
        let b: [u8; 4] = self.take(4)?.try_into().map_err(|_| "short read")?;
        Ok(if little { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
    }

    fn f64(&mut self, little: bool) -> Result<f64, String> {
        let b: [u8; 8] = self.take(8)?.try_into().map_err(|_| "short read")?;
        Ok(if little { f64::from_le_bytes(b) } else { f64::from_be_bytes(b) })
    }

    fn header(&mut self) -> Result<Header, String> {
        let order = self.take(1)?[0];
        let little = match order {
            0 => false,
            1 => true,
            other => return Err(format!("byte order {other} is not 0 or 1")),
        };
        let raw = self.u32(little)?;
        // Extended WKB (PostGIS) flags in the high bits.
        let (mut z, mut m) = (raw & 0x8000_0000 != 0, raw & 0x4000_0000 != 0);
        if raw & 0x2000_0000 != 0 {
            self.u32(little)?; // embedded SRID
        }
        let iso = raw & 0x0FFF_FFFF;
        let kind = iso % 1000;
        match iso / 1000 {
            0 => {}
            1 => z = true,
            2 => m = true,
            3 => (z, m) = (true, true),
            _ => return Err(format!("geometry type {iso} is not a WKB type")),
        }
        Ok(Header { little, kind, dims: 2 + usize::from(z) + usize::from(m) })
    }

    /// A count of items that each take at least `min_bytes`, checked against what is left.
    fn count(&mut self, little: bool, min_bytes: usize, what: &str) -> Result<usize, String> {
        let n = self.u32(little)? as usize;
        let left = self.b.len() - self.at;
        if n.saturating_mul(min_bytes) > left {
            return Err(format!("{n} {what} claimed but only {left} bytes are left"));
        }
        Ok(n)
    }

    fn coord(&mut self, h: &Header) -> Result<Coord<f64>, String> {
        let x = self.f64(h.little)?;
        let y = self.f64(h.little)?;
        for _ in 2..h.dims {
            self.f64(h.little)?;
        }
        Ok(Coord { x, y })
    }

    fn coords(&mut self, h: &Header) -> Result<Vec<Coord<f64>>, String> {
        let n = self.count(h.little, 8 * h.dims, "points")?;
        self.vertices += n;
        if self.vertices > self.vertices_max {
            return Err(format!("more than {} vertices", self.vertices_max));
        }
        let coords = (0..n).map(|_| self.coord(h)).collect::<Result<Vec<_>, _>>()?;
        if coords.iter().any(|c| !c.x.is_finite() || !c.y.is_finite()) {
            return Err("a coordinate is not a number".into());
        }
        Ok(coords)
    }

    fn polygon(&mut self, h: &Header) -> Result<Polygon<f64>, String> {
        let n = self.count(h.little, 4, "rings")?;
        let mut rings = (0..n).map(|_| self.coords(h).map(LineString)).collect::<Result<Vec<_>, _>>()?;
        if rings.is_empty() {
            return Ok(Polygon::new(LineString(vec![]), vec![]));
        }
        let exterior = rings.remove(0);
        Ok(Polygon::new(exterior, rings))
    }

    /// Parts of a multi-geometry: each a full WKB geometry of the expected kind.
    fn parts<T>(
        &mut self,
        h: &Header,
        depth: usize,
        kind: u32,
        f: fn(Geometry<f64>) -> Option<T>,
    ) -> Result<Vec<T>, String> {
        let n = self.count(h.little, 5, "parts")?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            match self.geometry(depth + 1)? {
                None => {}
                Some(g) => out.push(f(g).ok_or(format!("a part of a multi-geometry is not of type {kind}"))?),
            }
        }
        Ok(out)
    }

    fn geometry(&mut self, depth: usize) -> Result<Option<Geometry<f64>>, String> {
        if depth > 16 {
            return Err("geometries nested more than 16 deep".into());
        }
        let h = self.header()?;
        Ok(Some(match h.kind {
            1 => {
                let c = self.coord(&h)?;
                // An empty point is written as NaN, NaN.
                if c.x.is_nan() && c.y.is_nan() {
                    return Ok(None);
                }
                if !c.x.is_finite() || !c.y.is_finite() {
                    return Err("a coordinate is not a number".into());
                }
                self.vertices += 1;
                Point(c).into()
            }
            2 => LineString(self.coords(&h)?).into(),
            3 => self.polygon(&h)?.into(),
            4 => MultiPoint(self.parts(&h, depth, 1, |g| Point::try_from(g).ok())?).into(),
            5 => MultiLineString(self.parts(&h, depth, 2, |g| LineString::try_from(g).ok())?).into(),
            6 => MultiPolygon(self.parts(&h, depth, 3, |g| Polygon::try_from(g).ok())?).into(),
            7 => Geometry::GeometryCollection(GeometryCollection(self.parts(&h, depth, 7, Some)?)),
            other => return Err(format!("WKB geometry type {other} is not supported (curves, surfaces, TINs)")),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le_linestring(points: &[(f64, f64)], kind: u32, dims: usize) -> Vec<u8> {
        let mut b = vec![1u8];
        b.extend(kind.to_le_bytes());
        b.extend((points.len() as u32).to_le_bytes());
        for &(x, y) in points {
            b.extend(x.to_le_bytes());
            b.extend(y.to_le_bytes());
            for _ in 2..dims {
                b.extend(7.0f64.to_le_bytes());
            }
        }
        b
    }

    #[test]
    fn linestrings_2d_z_and_extended() {
        let pts = [(120.6, 31.8), (120.7, 31.9)];
        let expected: Geometry<f64> = LineString::from(vec![(120.6, 31.8), (120.7, 31.9)]).into();
        for (kind, dims) in [(2, 2), (1002, 3), (3002, 4), (0x8000_0002, 3)] {
            let g = parse_wkb(&le_linestring(&pts, kind, dims), 10).unwrap();
            assert_eq!(g, Some(expected.clone()), "type {kind:#x}");
        }
    }

    #[test]
    fn claims_beyond_the_bytes_are_errors() {
        let mut b = le_linestring(&[(1.0, 2.0)], 2, 2);
        b[5..9].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse_wkb(&b, usize::MAX).unwrap_err().contains("claimed"));
        let b = le_linestring(&[(1.0, 2.0), (3.0, 4.0), (5.0, 6.0)], 2, 2);
        assert!(parse_wkb(&b, 2).unwrap_err().contains("more than 2 vertices"));
    }

    #[test]
    fn gpkg_header_with_envelope_and_empty_flag() {
        let wkb = le_linestring(&[(1.0, 2.0), (3.0, 4.0)], 2, 2);
        let mut blob = vec![b'G', b'P', 0, 0b0000_0011];
        blob.extend(4326i32.to_le_bytes());
        blob.extend([0u8; 32]);
        blob.extend(&wkb);
        let g = parse_gpkg(&blob, 10).unwrap();
        assert!(matches!(g.geometry, Some(Geometry::LineString(_))));
        blob[3] |= 0x10;
        assert!(parse_gpkg(&blob, 10).unwrap().geometry.is_none());
    }
}
