//! Coordinate reference systems of imported files (placeholder, filled by the readers branch).
