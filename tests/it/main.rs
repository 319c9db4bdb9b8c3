//! The integration tests, as one test binary (one link instead of one per file): the API against a real
//! PostGIS (a fresh database per test), the real binary, the import readers, and the pages in headless
//! Chromium. `common` is the shared test support.

mod common;

mod authz;
mod backup;
mod browser;
mod closeout;
mod coords_sql;
mod county_guide;
mod crash_import;
mod crash_schema;
mod demo;
mod dynamic_sql;
mod embedded;
mod hardening;
mod import;
mod import_read;
mod ledger;
mod lifecycle;
mod observability;
mod observations;
mod ogc;
mod openapi;
mod photo_evidence;
mod place;
mod reports;
mod security;
mod site_cells;
mod sites;
mod tiles;
mod upload_locks;
mod vendor;
