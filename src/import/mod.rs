//! County data import: towns, roads, chainage breaks and organisations from the files county offices and
//! open data have (GeoJSON, Shapefile, GeoPackage, OpenStreetMap PBF, CSV).
//!
//! [`read`] turns a file into a stream of [`read::Feature`]s with their declared coordinate system
//! ([`crs`]); the rest of this module maps attributes to fields, converts coordinates and writes one
//! transaction.

pub mod crs;
pub mod read;
