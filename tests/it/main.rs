//! The integration tests, as one test binary (one link instead of one per file): the API against a real
//! PostGIS (a fresh database per test), the real binary, the import readers, and the pages in headless
//! Chromium. `common` is the shared test support.

mod common;

mod authz;
mod backup;
mod browser;
mod candidates;
mod citizen;
mod closeout;
mod coords_sql;
mod county_guide;
mod crash_import;
mod crash_patterns;
mod crash_schema;
mod demo;
mod disk_full;
mod dynamic_sql;
mod embedded;
mod faults;
mod hardening;
mod hotline;
mod import;
mod import_read;
mod ledger;
mod lifecycle;
mod moderation;
mod observability;
mod observations;
mod ogc;
mod open311;
mod openapi;
mod photo_evidence;
mod place;
mod public_flow;
mod replica;
mod reports;
mod s3;
mod screening;
mod security;
mod site_cells;
mod sites;
mod slow_clients;
mod tiles;
mod upload_locks;
mod vendor;
