//! Pure domain types and rules: no I/O, no axum, no sqlx.

pub mod auth;
pub mod citizen;
pub mod coords;
pub mod cql2;
pub mod crash;
pub mod crash_patterns;
pub mod detection;
pub mod hotline;
pub mod labels;
pub mod lifecycle;
pub mod neighbourhood;
pub mod observation;
pub mod ogc;
pub mod photo_evidence;
pub mod places;
pub mod policy;
pub mod public_report;
pub mod report;
pub mod screening;
pub mod site;
pub mod site_detail;
pub mod site_filter;
pub mod stake;
