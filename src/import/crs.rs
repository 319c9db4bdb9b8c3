//! Coordinate reference systems of imported files (temporary stub; the readers branch replaces it).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crs {
    Epsg(u32),
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CrsError(pub String);

impl Crs {
    pub fn is_geographic(&self) -> bool {
        matches!(self, Crs::Epsg(4326 | 4490))
    }
    pub fn from_wkt(_wkt: &str) -> Result<Crs, CrsError> {
        Err(CrsError("stub".into()))
    }
    pub fn from_name(name: &str) -> Result<Crs, CrsError> {
        let n = name.trim().to_ascii_lowercase();
        let n = n.trim_start_matches("epsg:");
        n.parse().map(Crs::Epsg).map_err(|_| CrsError(format!("unknown CRS {name}")))
    }
}

impl std::fmt::Display for Crs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Crs::Epsg(code) => write!(f, "EPSG:{code}"),
        }
    }
}
