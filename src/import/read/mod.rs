//! File readers (placeholder, filled by the readers branch).
