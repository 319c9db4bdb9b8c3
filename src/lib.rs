//! RoadLedger: survey rural road hazards, keep the remediation ledger, close them out.
//!
//! Layers: [`domain`] (pure rules), [`db`] (all SQL), [`http`] (axum), with [`photos`] (storage and image
//! processing), [`secrets`] (passwords and tokens), [`embedded_pg`] (the private default database), [`backup`]
//! (backup and restore), [`metrics`] (what `/metrics` reports), [`reports`] (the report documents: charts, PDFs, workbooks) and [`demo`] (the demo
//! dataset) at the edges.

pub mod backup;
pub mod cli;
pub mod closeout;
pub mod db;
pub mod demo;
pub mod domain;
pub mod embedded_pg;
#[cfg(test)]
mod fuzz_tests;
pub mod http;
pub mod import;
pub mod metrics;
pub mod photos;
pub mod reports;
pub mod secrets;
pub mod xml;
