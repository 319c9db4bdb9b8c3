//! Who may do what, as one table: every route × every kind of user × a site inside or outside their scope,
//! walked against the real router on a real database. `docs/authz.md` shows the same table: a test renders
//! it from `MATRIX` and compares (run with `UPDATE_AUTHZ_MD=1` to rewrite the document's copy).

use crate::common;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::Request;
use common::{DEFAULT_PASSWORD, TestApp, add_organisation, app, create_user, jpeg, observation, organisation};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

/// What a row's `{site}`, `{observation}`, `{photo}` or `{token}` names, seen from the actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// The route names no site and no token.
    Any,
    /// Site "own": in town A and assigned to unit U, so inside every actor's scope. Tokens: the actor's own.
    Own,
    /// Site "other": in town B and assigned to unit V, outside the town and unit officers' scope. Tokens:
    /// another account's.
    Other,
}

use Scope::{Any, Other, Own};

/// The columns of `MATRIX`. `author` is the inspector who recorded both sites' observations (the default
/// account of `common::app`); `inspector` is a second inspector of the same office.
const ACTORS: [&str; 9] =
    ["anonymous", "author", "inspector", "town_officer", "unit_officer", "dispatcher", "reviewer", "leader", "admin"];

/// The expected status of every request, per actor. Rows run top to bottom, each actor in column order, on
/// one database: a write that succeeds never changes a later row's answer (new observations land outside
/// both towns, tokens revoked are spare ones, the account the admin rows act on is a bystander).
///
/// Requests use `Authorization: Bearer` with each actor's API token; pages accept it too (the page gate
/// authenticates like the API). `pages_and_the_session_follow_the_session_cookie` covers the cookie.
#[rustfmt::skip]
const MATRIX: &[(&str, Scope, [u16; 9])] = &[
    // request                                          scope   anon auth insp town unit disp rev  lead admin
    ("GET /healthz",                                      Any,   [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    // Readiness is public like liveness: a load balancer asks without credentials.
    ("GET /readyz",                                       Any,   [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    // /metrics is served only on --metrics-listen, never by this router: a page that does not exist.
    ("GET /metrics",                                      Any,   [404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("GET /",                                             Any,   [303, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /admin.html",                                   Any,   [303, 303, 303, 303, 303, 303, 303, 303, 200]),
    ("GET /login.html",                                   Any,   [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    // The API describes itself to anyone: the OpenAPI document and the page that reads it.
    ("GET /api.html",                                     Any,   [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/openapi.json",                          Any,   [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/no-such-route",                         Any,   [404, 404, 404, 404, 404, 404, 404, 404, 404]),
    // The browser tests' tools live in web/node_modules too: not served to anyone (MapLibre is, under /vendor/).
    ("GET /node_modules/axe-core/axe.min.js",             Any,   [404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("GET /package.json",                                 Any,   [404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("GET /package-lock.json",                            Any,   [404, 404, 404, 404, 404, 404, 404, 404, 404]),
    // What pages load holds no data: the service worker and MapLibre are public like scripts and styles.
    ("GET /sw.js",                                        Any,   [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /vendor/maplibre-gl/maplibre-gl.mjs",           Any,   [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    // A path no file can have is a 404, not the file service's 500 (issue 14).
    ("GET /{1000×a}",                                     Any,   [404, 404, 404, 404, 404, 404, 404, 404, 404]),
    // Sites: everyone signed in reads; town and unit officers only their own (404 outside, never 403).
    ("GET /api/v1/sites",                                 Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/sites/counts",                          Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/sites/nearby?lon=120.55&lat=31.87",     Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/sites/export.geojson",                  Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/sites/export.kml",                      Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /tiles/sites/14/13680/6647.mvt",                Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    // Towns and roads are the county's published geography: the public report page's map reads them without
    // an account.
    ("GET /tiles/towns/10/855/411.mvt",                   Any,   [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /tiles/roads/14/13680/6647.mvt",                Any,   [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    // The ledger (台账) as files: everyone signed in, their scope's sites.
    ("GET /api/v1/ledger.csv",                            Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/ledger.xlsx",                           Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /ogc",                                          Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /ogc/conformance",                              Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /ogc/collections",                              Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /ogc/collections/sites",                        Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /ogc/collections/sites/items",                  Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /ogc/api",                                      Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /ogc/collections/sites/queryables",             Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /ogc/collections/sites/items/{site}",           Own,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /ogc/collections/sites/items/{site}",           Other, [401, 200, 200, 404, 404, 200, 200, 200, 200]),
    ("GET /api/v1/sites/{site}",                          Own,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/sites/{site}",                          Other, [401, 200, 200, 404, 404, 200, 200, 200, 200]),
    // The close-out sheet exists once a site is closed (409 before); outside the scope, no site at all.
    ("GET /api/v1/sites/{site}/closeout.pdf",             Own,   [401, 409, 409, 409, 409, 409, 409, 409, 409]),
    ("GET /api/v1/sites/{site}/closeout.pdf",             Other, [401, 409, 409, 404, 404, 409, 409, 409, 409]),
    // Lifecycle moves (with the site's ETag): the party comes first, then the status. Approving a reported
    // site: only the reviewer is the approving party (then 409: not pending review); everyone else 403.
    ("POST /api/v1/sites/{site}/actions",                 Own,   [401, 403, 403, 403, 403, 403, 409, 403, 403]),
    ("POST /api/v1/sites/{site}/actions",                 Other, [401, 403, 403, 404, 404, 403, 409, 403, 403]),
    // Evidence is recorded while a site is in progress, by its rectifiers: on a reported site everyone in
    // scope is told the status (409), outside it there is no site (404).
    ("POST /api/v1/sites/{site}/items/{item}/evidence",   Own,   [401, 409, 409, 409, 409, 409, 409, 409, 409]),
    ("POST /api/v1/sites/{site}/items/{item}/evidence",   Other, [401, 409, 409, 404, 404, 409, 409, 409, 409]),
    ("GET /api/v1/observations/{observation}",            Own,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/observations/{observation}",            Other, [401, 200, 200, 404, 404, 200, 200, 200, 200]),
    ("GET /api/v1/photos/{photo}",                        Own,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/photos/{photo}",                        Other, [401, 200, 200, 404, 404, 200, 200, 200, 200]),
    ("GET /api/v1/photos/{photo}/thumbnail",              Own,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/photos/{photo}/thumbnail",              Other, [401, 200, 200, 404, 404, 200, 200, 200, 200]),
    // Recording needs the inspector role; correcting needs authorship (and the site in scope, else 404).
    ("POST /api/v1/observations",                         Any,   [401, 201, 201, 403, 403, 403, 403, 403, 403]),
    ("PATCH /api/v1/observations/{observation}",          Own,   [401, 200, 403, 403, 403, 403, 403, 403, 403]),
    ("PATCH /api/v1/observations/{observation}",          Other, [401, 200, 403, 404, 404, 403, 403, 403, 403]),
    // Look-backs: everyone signed in reads the tasks and the towns' figures (scoped); dispatchers plan.
    ("GET /api/v1/look-backs",                            Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/look-backs/towns",                      Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST /api/v1/look-backs/plan",                      Any,   [401, 403, 403, 403, 403, 200, 403, 403, 403]),
    // Reports: everyone signed in reads the figures of their scope; the live board compares every town, so
    // town and unit officers read the published ones. Dispatchers, leaders and admins prepare and publish: the
    // first publication of a period is 201, the next without `corrects` a 409.
    ("GET /api/v1/reports/weekly",                        Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/reports/monthly?period=2026-11",        Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/reports/monthly.xlsx?period=2026-11",   Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/reports/monthly.pdf?period=2026-11",    Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/reports/weekly.xlsx?period=2026-W45",   Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/reports/weekly.pdf?period=2026-W45",    Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/rankings/2026Q4",                       Any,   [401, 200, 200, 403, 403, 200, 200, 200, 200]),
    ("GET /api/v1/rankings/2026Q4.xlsx",                  Any,   [401, 200, 200, 403, 403, 200, 200, 200, 200]),
    ("GET /api/v1/reports/drafts",                        Any,   [401, 403, 403, 403, 403, 200, 403, 200, 200]),
    ("POST /api/v1/reports/weekly/draft?period=2026-W45", Any,   [401, 403, 403, 403, 403, 200, 403, 200, 200]),
    ("POST /api/v1/reports/monthly/draft?period=2026-09", Any,   [401, 403, 403, 403, 403, 200, 403, 200, 200]),
    ("POST /api/v1/reports/monthly/publish?period=2026-10", Any, [401, 403, 403, 403, 403, 201, 403, 409, 409]),
    ("POST /api/v1/reports/weekly/publish?period=2026-W44", Any, [401, 403, 403, 403, 403, 201, 403, 409, 409]),
    ("POST /api/v1/rankings/2026Q3/publish",              Any,   [401, 403, 403, 403, 403, 201, 403, 409, 409]),
    ("GET /api/v1/publications",                          Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/publications/1",                        Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/publications/1/report.xlsx",            Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/publications/1/report.pdf",             Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    // Crash time patterns and candidates' sheets: the county office, and town officers for their town (no
    // candidate exists here: 404 once the role may read). The calendar: anyone reads, admins replace a year.
    ("GET /api/v1/crash-patterns",                        Any,   [401, 403, 403, 200, 403, 200, 200, 200, 200]),
    ("GET /api/v1/candidates/999/sheet.pdf",              Any,   [401, 403, 403, 404, 403, 404, 404, 404, 404]),
    ("GET /api/v1/calendar/2025",                         Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("PUT /api/v1/calendar/2030",                         Any,   [401, 403, 403, 403, 403, 403, 403, 403, 200]),
    // Black-spot screening: dispatchers and admins run it (on this world's no crashes: a run with no
    // candidates), and the roles that decide on or oversee candidates read the runs.
    ("POST /api/v1/screenings",                           Any,   [401, 403, 403, 403, 403, 201, 403, 403, 201]),
    ("GET /api/v1/screenings",                            Any,   [401, 403, 403, 403, 403, 200, 200, 200, 200]),
    ("GET /api/v1/screenings/1",                          Any,   [401, 403, 403, 403, 403, 200, 200, 200, 200]),
    // Reference data: anyone signed in.
    ("GET /api/v1/towns",                                 Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/roads",                                 Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/hazard-types",                          Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/checklist-templates",                   Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/settings",                              Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/organisations",                         Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    // Sign-in takes a name and password, not a credential (anonymous signs in as the author). GET answers the
    // browser session only, so a Bearer token gets 401. DELETE with a token has no session to end.
    ("POST /api/v1/session",                              Any,   [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/session",                               Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("DELETE /api/v1/session",                            Any,   [401, 204, 204, 204, 204, 204, 204, 204, 204]),
    // Personal API tokens: everyone manages their own; someone else's token does not exist for them.
    ("GET /api/v1/tokens",                                Any,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST /api/v1/tokens",                               Any,   [401, 201, 201, 201, 201, 201, 201, 201, 201]),
    ("DELETE /api/v1/tokens/{token}",                     Own,   [401, 204, 204, 204, 204, 204, 204, 204, 204]),
    ("DELETE /api/v1/tokens/{token}",                     Other, [401, 404, 404, 404, 404, 404, 404, 404, 404]),
    // A county's places: admins import (a dry run here) and list; anyone signed in locates a point on the roads
    // (this world has no roads, so the answer is 404 "no road within 100 m").
    ("GET /api/v1/imports",                               Any,   [401, 403, 403, 403, 403, 403, 403, 403, 200]),
    ("POST /api/v1/imports/organisations",                Any,   [401, 403, 403, 403, 403, 403, 403, 403, 200]),
    ("GET /api/v1/places/towns",                          Any,   [401, 403, 403, 403, 403, 403, 403, 403, 200]),
    ("GET /api/v1/places/roads",                          Any,   [401, 403, 403, 403, 403, 403, 403, 403, 200]),
    ("GET /api/v1/roads/locate?lon=120.55&lat=31.87",     Any,   [401, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("GET /api/v1/roads/X001/locate?stake=K1%2B000",      Any,   [401, 404, 404, 404, 404, 404, 404, 404, 404]),
    // An import's progress: admins only (no import runs here, so 404 for them).
    ("GET /api/v1/imports/progress/{token}",              Any,   [401, 403, 403, 403, 403, 403, 403, 403, 404]),
    // Crash records: dispatchers and admins import (a dry run here); dispatchers, reviewers (traffic police),
    // leaders and admins read every crash, town officers their own town's (404 outside it).
    ("POST /api/v1/crash-imports",                        Any,   [401, 403, 403, 403, 403, 200, 403, 403, 200]),
    ("GET /api/v1/crash-imports",                         Any,   [401, 403, 403, 403, 403, 200, 200, 200, 200]),
    ("GET /api/v1/crashes",                               Any,   [401, 403, 403, 200, 403, 200, 200, 200, 200]),
    ("GET /api/v1/crashes/{crash}",                       Own,   [401, 403, 403, 200, 403, 200, 200, 200, 200]),
    ("GET /api/v1/crashes/{crash}",                       Other, [401, 403, 403, 404, 403, 200, 200, 200, 200]),
    // Accounts: admins only.
    ("GET /api/v1/users",                                 Any,   [401, 403, 403, 403, 403, 403, 403, 403, 200]),
    ("POST /api/v1/users",                                Any,   [401, 403, 403, 403, 403, 403, 403, 403, 201]),
    ("POST /api/v1/users/{user}/disable",                 Any,   [401, 403, 403, 403, 403, 403, 403, 403, 200]),
    ("POST /api/v1/users/{user}/enable",                  Any,   [401, 403, 403, 403, 403, 403, 403, 403, 200]),
    ("POST /api/v1/users/{user}/password",                Any,   [401, 403, 403, 403, 403, 403, 403, 403, 204]),
    // The public's reports (随手拍): no account, the same answer for everyone, credentials or not. The POST
    // here has no body (400: the report part is missing); tests/it/citizen.rs sends real ones. A report's
    // photo is public only once moderated (none is here: 404).
    ("GET /report.html",                                  Any,   [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /track.html",                                   Any,   [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST /api/v1/public/reports",                       Any,   [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    ("GET /api/v1/public/reports/0123456789abcdef0123456789abcdef", Any, [404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("GET /api/v1/public/categories",                     Any,   [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/public/challenge",                      Any,   [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/public/photos/1/0",                     Any,   [404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("GET /api/v1/public/map",                            Any,   [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    // Detections come from a detection system's token only (see `a_detector_token_opens_nothing_but_detections`);
    // people read them with the candidates queue. The fixture detection has no image.
    ("POST /api/v1/detections",                           Any,   [401, 403, 403, 403, 403, 403, 403, 403, 403]),
    // A file of detections (here one feature, outside both towns): dispatchers and admins; the admin's is the
    // same id from another account, a conflict that refuses the file (422).
    ("POST /api/v1/detection-imports",                    Any,   [401, 403, 403, 403, 403, 200, 403, 403, 422]),
    ("GET /api/v1/detections/{detection}",                Any,   [401, 403, 403, 200, 403, 200, 200, 200, 200]),
    ("GET /api/v1/detections/{detection}/image",          Any,   [401, 403, 403, 404, 403, 404, 404, 404, 404]),
    ("GET /api/v1/detections/{detection}/thumbnail",      Any,   [401, 403, 403, 404, 403, 404, 404, 404, 404]),
    // The candidates queue: dispatchers, reviewers, leaders and admins read it, a town office its town's (the
    // fixtures are in town A); dispatchers alone confirm and dismiss, once (then 409 for a dispatcher).
    ("GET /api/v1/candidates",                            Any,   [401, 403, 403, 200, 403, 200, 200, 200, 200]),
    ("GET /api/v1/candidates/{candidate}",                Any,   [401, 403, 403, 200, 403, 200, 200, 200, 200]),
    ("GET /api/v1/candidates/{candidate}/nearby-sites",   Any,   [401, 403, 403, 200, 403, 200, 200, 200, 200]),
    ("GET /tiles/candidates/15/27359/13319.mvt",          Any,   [401, 403, 403, 200, 403, 200, 200, 200, 200]),
    ("POST /api/v1/candidates/{candidate}/confirm",       Any,   [401, 403, 403, 403, 403, 200, 403, 403, 403]),
    ("POST /api/v1/candidates/{candidate2}/dismiss",      Any,   [401, 403, 403, 403, 403, 200, 403, 403, 403]),
    // Public reports (随手拍, hotline, Open311): dispatchers, reviewers, leaders and admins read the queue (and
    // hotline operators, not a column here); dispatchers alone decide, once. The fixture reports have no photo.
    ("GET /api/v1/public-reports",                        Any,   [401, 403, 403, 403, 403, 200, 200, 200, 200]),
    ("GET /api/v1/public-reports/{report}",               Any,   [401, 403, 403, 403, 403, 200, 200, 200, 200]),
    ("GET /api/v1/public-reports/{report}/photos/0/original", Any, [401, 403, 403, 403, 403, 404, 404, 404, 404]),
    ("GET /api/v1/public-reports/{report}/photos/0/thumbnail", Any, [401, 403, 403, 403, 403, 404, 404, 404, 404]),
    ("GET /api/v1/public-reports/{report}/nearby-sites",  Any,   [401, 403, 403, 403, 403, 200, 200, 200, 200]),
    ("GET /tiles/public_reports/15/27359/13319.mvt",      Any,   [401, 403, 403, 403, 403, 200, 200, 200, 200]),
    ("POST /api/v1/public-reports/{report}/accept",       Any,   [401, 403, 403, 403, 403, 200, 403, 403, 403]),
    ("POST /api/v1/public-reports/{report2}/merge",       Any,   [401, 403, 403, 403, 403, 200, 403, 403, 403]),
    ("POST /api/v1/public-reports/{report3}/reject",      Any,   [401, 403, 403, 403, 403, 200, 403, 403, 403]),
    // The reports behind a site: as the site itself is read (their descriptions only for the queue's readers).
    ("GET /api/v1/sites/{site}/public-reports",           Own,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/sites/{site}/public-reports",           Other, [401, 200, 200, 404, 404, 200, 200, 200, 200]),
    // A site's crashes (none here) and before/after counts: as the site itself is read.
    ("GET /api/v1/sites/{site}/crashes",                  Own,   [401, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /api/v1/sites/{site}/crashes",                  Other, [401, 200, 200, 404, 404, 200, 200, 200, 200]),
    // 12345 hotline tickets: hotline operators (not a column: see `a_hotline_token_reaches_its_routes_only`)
    // and dispatchers enter one and import an export (a dry run here).
    ("POST /api/v1/hotline-tickets",                      Any,   [401, 403, 403, 403, 403, 201, 403, 403, 403]),
    ("POST /api/v1/hotline-imports",                      Any,   [401, 403, 403, 403, 403, 200, 403, 403, 403]),
    // An admin makes a detection system's token; the bystander is a person, whose tokens are their own (422).
    ("POST /api/v1/users/{user}/tokens",                  Any,   [401, 403, 403, 403, 403, 403, 403, 403, 422]),
    // Open311 client systems' keys: admins issue, list and revoke them (the row before issues client 1).
    ("GET /api/v1/open311-clients",                       Any,   [401, 403, 403, 403, 403, 403, 403, 403, 200]),
    ("POST /api/v1/open311-clients",                      Any,   [401, 403, 403, 403, 403, 403, 403, 403, 201]),
    ("POST /api/v1/open311-clients/1/revoke",             Any,   [401, 403, 403, 403, 403, 403, 403, 403, 200]),
    // Open311 GeoReport v2 is public like the public report page: no account is involved; a POST's credential
    // is its form's api_key, so a body without one is a 400 whoever sends it (tests/it/open311.rs).
    ("GET /open311/v2/discovery.json",                    Any,   [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /open311/v2/services.xml",                      Any,   [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /open311/v2/services/pavement.json",            Any,   [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /open311/v2/requests.json",                     Any,   [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("GET /open311/v2/requests/999999.xml",               Any,   [404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("GET /open311/v2/tokens/0123456789abcdef0123456789abcdef.json", Any, [404, 404, 404, 404, 404, 404, 404, 404, 404]),
    ("GET /open311/v2/servicerequestupdates.xml",         Any,   [200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ("POST /open311/v2/requests.json",                    Any,   [400, 400, 400, 400, 400, 400, 400, 400, 400]),
    // Everyone changes their own password (giving the current one). Last: it changes every account's password.
    ("POST /api/v1/session/password",                     Any,   [401, 204, 204, 204, 204, 204, 204, 204, 204]),
];

/// Routes the router has outside `/api/v1` (which the OpenAPI document lists): found in the source of
/// `http::router`, `http::vendor::routes` and `http::open311::routes` as `.route("PATH", METHOD(…))`, so a route
/// added there is seen here.
fn non_api_routes() -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for file in ["src/http/mod.rs", "src/http/vendor.rs", "src/http/open311.rs"] {
        let source = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
        for piece in source.split(".route(").skip(1) {
            let piece = piece.trim_start();
            let Some(rest) = piece.strip_prefix('"') else { continue };
            let (path, after) = rest.split_once('"').unwrap();
            let method = after.trim_start_matches([',', ' ', '\n']).split('(').next().unwrap().trim();
            routes.insert((method.to_uppercase(), path.to_string()));
        }
    }
    routes
}

/// Every route of the application: the OpenAPI document's operations (under `/api/v1`) and the rest.
fn every_route() -> BTreeSet<(String, String)> {
    let doc = serde_json::to_value(roadledger::http::openapi::document()).unwrap();
    let mut routes = non_api_routes();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "put", "post", "delete", "patch", "head", "options"] {
            if item.get(method).is_some() {
                routes.insert((method.to_uppercase(), format!("/api/v1{path}")));
            }
        }
    }
    routes
}

/// The route (method, template) a matrix row's request reaches: `{…}` segments of a template take any value
/// (a row's own `{site}`, `{token}` … too), and as in the router a literal segment wins over a parameter.
fn route_of_row<'a>(row: &str, routes: &'a BTreeSet<(String, String)>) -> Option<&'a (String, String)> {
    let (method, target) = row.split_once(' ').unwrap();
    let path = target.split('?').next().unwrap();
    let segments: Vec<&str> = path.split('/').collect();
    routes
        .iter()
        .filter(|(m, template)| {
            let parts: Vec<&str> = template.split('/').collect();
            m == method
                && (parts.len() == segments.len() || parts.last().is_some_and(|p| p.starts_with("{*")))
                && parts.iter().zip(&segments).all(|(p, s)| p.starts_with('{') || p == s)
        })
        .max_by_key(|(_, template)| template.split('/').filter(|p| !p.starts_with('{')).count())
}

#[test]
fn the_matrix_has_a_row_for_every_route() {
    let routes = every_route();
    assert!(routes.len() > 60, "the route list is read from the document and the router: {routes:?}");
    let covered: BTreeSet<&(String, String)> =
        MATRIX.iter().filter_map(|(row, _, _)| route_of_row(row, &routes)).collect();
    let missing: Vec<String> =
        routes.iter().filter(|r| !covered.contains(r)).map(|(m, p)| format!("{m} {p}")).collect();
    assert!(
        missing.is_empty(),
        "routes without a row in the authorization matrix (add one to MATRIX in tests/it/authz.rs, then \
         UPDATE_AUTHZ_MD=1 cargo nextest run docs_authz):\n{}",
        missing.join("\n")
    );
}

/// Town A holds site "own", town B site "other" (rectangles in lon/lat degrees, side by side).
const TOWN_A: (&str, &str, [f64; 4]) = ("320582100", "杨舍镇", [120.50, 31.84, 120.60, 31.90]);
const TOWN_B: (&str, &str, [f64; 4]) = ("320582101", "塘桥镇", [120.60, 31.84, 120.70, 31.90]);
const OWN_AT: [f64; 2] = [120.55, 31.87];
const OTHER_AT: [f64; 2] = [120.65, 31.87];
/// Where the matrix's new observations go: outside both towns, far from both sites.
const ELSEWHERE_AT: [f64; 2] = [120.80, 31.95];

/// Sign-in names, per column of `ACTORS` after `anonymous` ("zhangwei" is `common::app`'s default account).
const NAMES: [&str; 8] = ["zhangwei", "lisi", "wangfang", "zhaoqiang", "chenjing", "liuyang", "sunli", "zhoumin"];

struct Site {
    id: String,
    observation: String,
    photo_sha256: String,
}

struct Account {
    name: &'static str,
    user_id: Uuid,
    /// The API token every matrix request of this account carries.
    token: String,
    /// A second token of the account's, for the "revoke your own token" row.
    spare_token: Uuid,
}

/// The fixtures: two towns, two units, an account per role, two sites with an observation and a photo each.
struct World {
    app: TestApp,
    /// One per column of `ACTORS` after `anonymous`.
    accounts: Vec<Account>,
    own: Site,
    other: Site,
    unit_u: i32,
    unit_v: i32,
    /// Not a column: the account the admin rows act on, and the owner of the "someone else's token".
    bystander: Uuid,
    bystander_token: Uuid,
    /// A detection system's account: not a column (see `a_detector_token_opens_nothing_but_detections`).
    detector: Account,
    /// A 12345 hotline operator's account: not a column (see `a_hotline_token_reaches_its_routes_only`).
    hotline: Account,
    /// Two open candidates in town A (a drone detection's and a black spot's) and the detection.
    candidates: [i64; 2],
    /// Three public reports waiting, outside both towns: to accept, merge and reject.
    reports: [i64; 3],
    detection: Uuid,
    /// Crashes in town A and town B.
    own_crash: i64,
    other_crash: i64,
}

impl World {
    async fn build(pool: PgPool) -> World {
        let app = app(pool).await;
        let pool = app.pool.clone();
        app.add_town(TOWN_A.0, TOWN_A.1, TOWN_A.2).await;
        app.add_town(TOWN_B.0, TOWN_B.1, TOWN_B.2).await;
        let (town_a, town_b) = (town_id(&pool, TOWN_A.0).await, town_id(&pool, TOWN_B.0).await);

        let city_office = organisation(&pool, "city_office").await;
        let town_office = add_organisation(&pool, "杨舍镇交安办", "town", Some(town_a)).await;
        let unit_u = add_organisation(&pool, "杨舍公路养护站", "responsible_unit", None).await;
        let unit_v = add_organisation(&pool, "塘桥公路养护站", "responsible_unit", None).await;
        let police = add_organisation(&pool, "张家港交警大队", "police_brigade", None).await;

        let author: Uuid =
            sqlx::query_scalar("select id from app_user where name = 'zhangwei'").fetch_one(&pool).await.unwrap();
        let others = [
            ("lisi", "李四", "inspector", city_office),
            ("wangfang", "王芳", "town_officer", town_office),
            ("zhaoqiang", "赵强", "unit_officer", unit_u),
            ("chenjing", "陈静", "dispatcher", city_office),
            ("liuyang", "刘洋", "reviewer", police),
            ("sunli", "孙丽", "leader", city_office),
            ("zhoumin", "周敏", "admin", city_office),
        ];
        let mut accounts =
            vec![Account { name: "zhangwei", user_id: author, token: app.token.clone(), spare_token: Uuid::nil() }];
        for (name, display_name, role, org) in others {
            let user_id = create_user(&pool, name, display_name, &[role], org, DEFAULT_PASSWORD).await;
            let token = common::create_token(&pool, user_id).await;
            accounts.push(Account { name, user_id, token, spare_token: Uuid::nil() });
        }
        for account in &mut accounts {
            account.spare_token = spare_token(&pool, account.user_id).await;
        }
        assert_eq!(accounts.iter().map(|a| a.name).collect::<Vec<_>>(), NAMES);
        let bystander = create_user(&pool, "bystander", "路人", &["inspector"], city_office, DEFAULT_PASSWORD).await;
        let bystander_token = spare_token(&pool, bystander).await;

        // Both observations are the author's, each with its own photo (different bytes, different hashes).
        let own = record_site(&app, OWN_AT, Some(&jpeg(64, 48))).await;
        let other = record_site(&app, OTHER_AT, Some(&jpeg(48, 64))).await;
        assign(&pool, &own.id, unit_u).await;
        assign(&pool, &other.id, unit_v).await;
        let towns: Vec<Option<i32>> = sqlx::query_scalar("select town_id from site where id = any($1) order by code")
            .bind([own.id.parse::<Uuid>().unwrap(), other.id.parse::<Uuid>().unwrap()])
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(towns, [Some(town_a), Some(town_b)], "the towns come from the boundaries");

        let detector_id =
            create_user(&pool, "drone.1", "无人机巡检", &["detector"], city_office, DEFAULT_PASSWORD).await;
        let detector = Account {
            name: "drone.1",
            user_id: detector_id,
            token: common::create_token(&pool, detector_id).await,
            spare_token: spare_token(&pool, detector_id).await,
        };
        let hotline_id = create_user(&pool, "rexian", "王热线", &["hotline"], city_office, DEFAULT_PASSWORD).await;
        let hotline = Account {
            name: "rexian",
            user_id: hotline_id,
            token: common::create_token(&pool, hotline_id).await,
            spare_token: spare_token(&pool, hotline_id).await,
        };
        let (detection, candidates) = candidates(&pool).await;
        let reports = public_reports(&pool).await;

        let own_crash = crash_at(&pool, "own", OWN_AT).await;
        let other_crash = crash_at(&pool, "other", OTHER_AT).await;

        World {
            app,
            accounts,
            own,
            other,
            unit_u,
            unit_v,
            bystander,
            bystander_token,
            detector,
            hotline,
            candidates,
            reports,
            detection,
            own_crash,
            other_crash,
        }
    }

    fn account(&self, column: usize) -> Option<&Account> {
        column.checked_sub(1).map(|i| &self.accounts[i])
    }

    fn by_role(&self, role: &str) -> &Account {
        let column = ACTORS.iter().position(|a| *a == role).unwrap();
        self.account(column).unwrap()
    }

    /// The request of a matrix row as the actor of `column` sends it.
    async fn request(&self, route: &str, scope: Scope, column: usize) -> Request<Body> {
        self.request_by(route, scope, self.account(column), ACTORS[column]).await
    }

    /// The request of a matrix row as `actor` (none: anonymous) sends it; `label` names them in bodies.
    async fn request_by(&self, route: &str, scope: Scope, actor: Option<&Account>, label: &str) -> Request<Body> {
        let (method, template) = route.split_once(' ').unwrap();
        let site = match scope {
            Other => &self.other,
            Own | Any => &self.own,
        };
        let token = match (scope, actor) {
            (Own, Some(account)) => account.spare_token,
            _ => self.bystander_token,
        };
        let crash = if scope == Other { self.other_crash } else { self.own_crash };
        let uri = template
            .replace("{crash}", &crash.to_string())
            .replace("{site}", &site.id)
            .replace("{observation}", &site.observation)
            .replace("{photo}", &site.photo_sha256)
            .replace("{token}", &token.to_string())
            .replace("{user}", &self.bystander.to_string())
            .replace("{item}", "warning_sign")
            .replace("{candidate}", &self.candidates[0].to_string())
            .replace("{candidate2}", &self.candidates[1].to_string())
            .replace("{report}", &self.reports[0].to_string())
            .replace("{report2}", &self.reports[1].to_string())
            .replace("{report3}", &self.reports[2].to_string())
            .replace("{detection}", &self.detection.to_string())
            .replace("{1000×a}", &"a".repeat(1000));

        let mut request = Request::builder().method(method).uri(&uri);
        if let Some(account) = actor {
            request = bearer(request, account);
        }
        // Moves and evidence are made against the site's current version (its ETag).
        if template.starts_with("/api/v1/sites/{site}/") && method == "POST" {
            let version: i32 = sqlx::query_scalar("select version from site where id = $1")
                .bind(site.id.parse::<Uuid>().unwrap())
                .fetch_one(&self.app.pool)
                .await
                .unwrap();
            request = request.header("if-match", format!("\"v{version}\""));
        }
        let json_body = |value: Value| (Some("application/json".to_string()), value.to_string().into_bytes());
        let (content_type, body) = match (method, template) {
            ("POST", "/api/v1/observations") => {
                let (content_type, body) =
                    common::multipart(observation("spot", json!(ELSEWHERE_AT)).to_string().as_bytes(), &[]);
                (Some(content_type), body)
            }
            ("PATCH", _) => json_body(json!({ "notes": format!("checked again by {label}") })),
            ("POST", "/api/v1/session") => json_body(json!({
                // Anonymous signs in as the author: anyone may try a name and password.
                "name": actor.map_or(NAMES[0], |a| a.name),
                "password": DEFAULT_PASSWORD,
            })),
            ("POST", "/api/v1/tokens" | "/api/v1/users/{user}/tokens") => json_body(json!({ "name": "matrix" })),
            ("POST", "/api/v1/candidates/{candidate}/confirm") => json_body(json!({ "new_site": true })),
            ("POST", "/api/v1/public-reports/{report}/accept") => json_body(json!({})),
            ("POST", "/api/v1/public-reports/{report2}/merge") => json_body(json!({ "site_id": self.own.id })),
            ("POST", "/api/v1/public-reports/{report3}/reject") => json_body(json!({ "public_reason": "矩阵核查" })),
            ("POST", "/api/v1/open311-clients") => json_body(json!({ "name": "矩阵平台" })),
            ("POST", "/api/v1/detection-imports") => json_body(json!({
                "type": "FeatureCollection",
                "features": [{
                    "type": "Feature",
                    "geometry": { "type": "Point", "coordinates": ELSEWHERE_AT },
                    "properties": {
                        "id": "6f1c2b1e-3a52-4bd7-9d43-6a0f1f0c9e11", "platform": "drone",
                        "detected_at": chrono::Utc::now().to_rfc3339(), "label": "pothole", "confidence": 0.9,
                    },
                }],
            })),
            ("POST", "/api/v1/candidates/{candidate2}/dismiss") => json_body(json!({ "reason": "矩阵核查：不是隐患" })),
            ("POST", "/api/v1/detections") => {
                let detection = json!({
                    "id": Uuid::new_v4(), "platform": "smart_patrol", "detected_at": chrono::Utc::now().to_rfc3339(),
                    "lon": ELSEWHERE_AT[0], "lat": ELSEWHERE_AT[1], "label": "missing_sign", "confidence": 0.9,
                });
                let boundary = "matrix-detection";
                let body = format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"detection\"\r\n\r\n{detection}\r\n--{boundary}--\r\n"
                );
                (Some(format!("multipart/form-data; boundary={boundary}")), body.into_bytes())
            }
            ("PUT", "/api/v1/calendar/2030") => {
                json_body(json!({ "days": [{ "day": "2030-01-01", "kind": "holiday", "name": "元旦" }] }))
            }
            ("POST", "/api/v1/screenings") => json_body(json!({ "method": "junction" })),
            ("POST", "/api/v1/hotline-tickets") => json_body(json!({
                "ticket_no": format!("MATRIX-{label}"), "description": "矩阵核查", "address": "杨舍镇",
            })),
            ("POST", "/api/v1/hotline-imports") => {
                let boundary = "matrix-hotline";
                let body = format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"dry_run\"\r\n\r\ntrue\r\n\
                     --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"12345.csv\"\r\n\r\n\
                     工单号,来电时间,诉求内容,地址\nM-1,2026-12-01 08:00,矩阵核查,杨舍镇\n\r\n--{boundary}--\r\n"
                );
                (Some(format!("multipart/form-data; boundary={boundary}")), body.into_bytes())
            }
            ("POST", "/api/v1/imports/organisations") => {
                let boundary = "matrix-import";
                let body = format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"options\"\r\n\r\n{{\"dry_run\": true}}\r\n\
                     --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"units.csv\"\r\n\r\n\
                     name,kind,town\n矩阵单位,责任单位,\n\r\n--{boundary}--\r\n"
                );
                (Some(format!("multipart/form-data; boundary={boundary}")), body.into_bytes())
            }
            ("POST", "/api/v1/crash-imports") => {
                let boundary = "matrix-crashes";
                let body = format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"dry_run\"\r\n\r\ntrue\r\n\
                     --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"crashes.csv\"\r\n\r\n\
                     事故时间,经度,纬度\n2025-03-04 18:20,120.55,31.87\n\r\n--{boundary}--\r\n"
                );
                (Some(format!("multipart/form-data; boundary={boundary}")), body.into_bytes())
            }
            ("POST", "/api/v1/users") => json_body(json!({
                "name": format!("new.{label}"),
                "display_name": "新用户",
                "organisation_id": self.unit_v,
                "roles": ["unit_officer"],
                "password": DEFAULT_PASSWORD,
            })),
            ("POST", "/api/v1/session/password") => json_body(json!({
                "current_password": DEFAULT_PASSWORD,
                "new_password": "a brand new passphrase",
            })),
            ("POST", t) if t.ends_with("/password") => json_body(json!({ "password": "a brand new passphrase" })),
            ("POST", "/api/v1/sites/{site}/actions") => json_body(json!({ "action": "approve" })),
            ("POST", "/api/v1/sites/{site}/items/{item}/evidence") => {
                let (content_type, body) = evidence_multipart(&jpeg(64, 48));
                (Some(content_type), body)
            }
            _ => (None, Vec::new()),
        };
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.body(Body::from(body)).unwrap()
    }
}

/// A crash at `at`, in the town whose boundary holds it.
async fn crash_at(pool: &PgPool, key: &str, at: [f64; 2]) -> i64 {
    sqlx::query_scalar(
        "insert into crash (source_key, occurred_at, geom, located_by, town_id)
         select 'no:' || $1, now() - interval '1 day', st_setsrid(st_point($2, $3), 4326), 'coordinates',
             (select id from town where st_intersects(boundary, st_setsrid(st_point($2, $3), 4326)))
         returning id",
    )
    .bind(key)
    .bind(at[0])
    .bind(at[1])
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn town_id(pool: &PgPool, admin_code: &str) -> i32 {
    sqlx::query_scalar("select id from town where admin_code = $1").bind(admin_code).fetch_one(pool).await.unwrap()
}

async fn spare_token(pool: &PgPool, user_id: Uuid) -> Uuid {
    let token = roadledger::secrets::random_token("rl_");
    roadledger::db::accounts::create_token(pool, user_id, "spare", &token, None).await.unwrap().id
}

/// The queue's fixtures in town A, away from site "own": a drone detection with its candidate, and a black
/// spot of a screening run. Answers the detection and the two candidates.
/// Three citizen reports waiting for moderation, outside both towns (an accept opens its site there).
async fn public_reports(pool: &PgPool) -> [i64; 3] {
    use roadledger::db::public_reports::{NewPublicReport, Stored, insert};
    use roadledger::domain::public_report::{Channel, tracking_token};
    let mut ids = [0; 3];
    for id in &mut ids {
        let report = NewPublicReport {
            channel: Channel::Citizen,
            submission_id: Some(Uuid::new_v4()),
            tracking_token: tracking_token(),
            category: "pavement",
            description: "路面坑洼".into(),
            point: Some((ELSEWHERE_AT[0], ELSEWHERE_AT[1])),
            source_crs: roadledger::domain::coords::SourceCrs::Wgs84,
            accuracy_m: None,
            address_text: None,
            ticket_no: None,
            reported_at: chrono::Utc::now(),
            open311_client_id: None,
            contact_name: None,
            contact_phone: Some("13800000000".into()),
            contact_email: None,
            sender_hash: None,
            device_hash: None,
            entered_by: None,
            photos: Vec::new(),
        };
        let mut tx = pool.begin().await.unwrap();
        let Stored::Created { id: stored, .. } = insert(&mut tx, &report).await.unwrap() else { panic!("stored") };
        tx.commit().await.unwrap();
        *id = stored;
    }
    ids
}

async fn candidates(pool: &PgPool) -> (Uuid, [i64; 2]) {
    let detection = Uuid::new_v4();
    sqlx::query(
        "insert into detection (id, platform, sent_by, detected_at, geom, label, confidence, content_sha256)
         values ($1, 'drone', '无人机巡检', now(), st_setsrid(st_makepoint(120.58, 31.88), 4326), 'pothole', 0.9,
             sha256('d'))",
    )
    .bind(detection)
    .execute(pool)
    .await
    .unwrap();
    let run: i64 = sqlx::query_scalar(
        "insert into screening_run (method, parameters, window_start, window_end, run_by, crashes_read,
             inputs_sha256, candidates, elapsed_ms)
         values ('dbscan', '{}', '2025-01-01', '2026-01-01', 'matrix', 0, sha256('r'), 1, 1) returning id",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let ids: Vec<i64> = sqlx::query_scalar(
        "insert into candidate (source, detection_id, screening_run_id, kind, geom, town_id, score)
         select source, d, r, 'spot', st_setsrid(st_makepoint(lon, 31.88), 4326),
             (select id from town where admin_code = '320582100'), 0.9
         from (values ('drone', $1::uuid, null::int8, 120.58), ('crash_analysis', null, $2, 120.585)) v(source, d, r, lon)
         returning id",
    )
    .bind(detection)
    .bind(run)
    .fetch_all(pool)
    .await
    .unwrap();
    (detection, [ids[0], ids[1]])
}

/// Records an intersection as the author (the default account) and returns its site, observation and photo.
async fn record_site(app: &TestApp, at: [f64; 2], photo: Option<&[u8]>) -> Site {
    let photos: Vec<&[u8]> = photo.into_iter().collect();
    let answer = app.upload(&observation("intersection", json!(at)), &photos).await;
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.bytes));
    let body = answer.json();
    assert_eq!(body["observation"]["site_match"], "opened", "each fixture opens a site of its own");
    Site {
        id: body["site"]["id"].as_str().unwrap().to_string(),
        observation: body["observation"]["id"].as_str().unwrap().to_string(),
        photo_sha256: photo.map(common::sha256_hex).unwrap_or_default(),
    }
}

/// Dispatching is not built yet: the fixtures set the responsible unit directly.
async fn assign(pool: &PgPool, site_id: &str, unit_id: i32) {
    sqlx::query("update site set responsible_unit_id = $2 where id = $1")
        .bind(site_id.parse::<Uuid>().unwrap())
        .bind(unit_id)
        .execute(pool)
        .await
        .unwrap();
}

/// Checklist evidence with one after-photo, as the rectifier's page sends it.
fn evidence_multipart(photo: &[u8]) -> (String, Vec<u8>) {
    let boundary = "matrix-evidence";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"evidence\"\r\n\r\n{{\"state\": \"installed\", \"quantity\": 1}}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p.jpg\"\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(photo);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn bearer(request: axum::http::request::Builder, account: &Account) -> axum::http::request::Builder {
    request.header("authorization", format!("Bearer {}", account.token))
}

#[sqlx::test(migrations = "./migrations")]
async fn every_route_answers_every_actor_as_the_matrix_says(pool: PgPool) {
    let world = World::build(pool).await;

    let mut wrong = Vec::new();
    for &(route, scope, expected) in MATRIX {
        for (column, actor) in ACTORS.iter().enumerate() {
            let answer = world.app.send_as_is(world.request(route, scope, column).await).await;
            let status = answer.status.as_u16();
            let header = |name: &str| answer.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
            let body: String = String::from_utf8_lossy(&answer.bytes).chars().take(160).collect();
            let at = format!("{route} [{scope:?}] as {actor}");
            if status != expected[column] {
                wrong.push(format!("{at}: expected {}, got {status}: {body}", expected[column]));
                continue;
            }
            // The shape of each refusal: API errors are problem+json, a 401 says how to authenticate, a page
            // sends strangers to sign in and signed-in non-admins back to the map.
            let path = route.split_once(' ').unwrap().1;
            if status >= 400 && path.starts_with("/api/") && header("content-type") != "application/problem+json" {
                wrong.push(format!("{at}: {status} is not problem+json but {:?}", header("content-type")));
            }
            if status == 401 && header("www-authenticate") != "Bearer realm=\"roadledger\"" {
                wrong.push(format!("{at}: 401 without WWW-Authenticate"));
            }
            if status == 303 {
                let to = if column == 0 { format!("/login.html?next={path}") } else { "/".to_string() };
                if header("location") != to {
                    wrong.push(format!("{at}: redirects to {:?}, expected {to:?}", header("location")));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{} answers differ from the matrix:\n{}", wrong.len(), wrong.join("\n"));
}

/// A detection system's token opens nothing but the detection routes: every row of the matrix, sent with it,
/// is refused (401 or 403) where anonymous is refused, answers as to anonymous (or 403) where the route is public, and
/// only `POST /api/v1/detections` records. (Not a column of `MATRIX`, which holds the people.)
#[sqlx::test(migrations = "./migrations")]
async fn a_detector_token_opens_nothing_but_detections(pool: PgPool) {
    let world = World::build(pool).await;
    let mut wrong = Vec::new();
    for &(route, scope, expected) in MATRIX {
        let answer =
            world.app.send_as_is(world.request_by(route, scope, Some(&world.detector), "detector").await).await;
        let status = answer.status.as_u16();
        let anonymous = expected[0];
        let ok = match route {
            "POST /api/v1/detections" => status == 201,
            // Signing in as itself: a detection system has no pages, so no session either.
            "POST /api/v1/session" => status == 403,
            _ if anonymous == 401 || anonymous == 303 => status == 401 || status == 403,
            // A public route that reads credentials when they are sent (the towns and roads tiles) refuses
            // the detector's: its token opens nothing, not even what needs no token.
            _ => status == anonymous || status == 403,
        };
        if !ok {
            let body: String = String::from_utf8_lossy(&answer.bytes).chars().take(160).collect();
            wrong.push(format!("{route} [{scope:?}] as the detector: got {status}: {body}"));
        }
    }
    assert!(wrong.is_empty(), "{} answers to the detector's token are wrong:\n{}", wrong.len(), wrong.join("\n"));
    let sessions: i64 = sqlx::query_scalar("select count(*) from user_session where user_id = $1")
        .bind(world.detector.user_id)
        .fetch_one(&world.app.pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0);
}

/// A hotline operator's token reaches only its own routes: entering and importing tickets, and what
/// `http::auth::HOTLINE_PATHS` names (its session, tokens, the settings, the public reports' queue), which it
/// is answered as an inspector is; every other API route is refused (403), pages send it to the hotline page,
/// and public routes answer as to anonymous. So it reads no site, no ledger, no report.
#[sqlx::test(migrations = "./migrations")]
async fn a_hotline_token_reaches_its_routes_only(pool: PgPool) {
    let world = World::build(pool).await;
    let inspector = ACTORS.iter().position(|a| *a == "inspector").unwrap();
    let mut wrong = Vec::new();
    for &(route, scope, expected) in MATRIX {
        let answer = world.app.send_as_is(world.request_by(route, scope, Some(&world.hotline), "hotline").await).await;
        let status = answer.status.as_u16();
        let path = route.split_once(' ').unwrap().1.split('?').next().unwrap();
        let location = answer.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or("");
        let ok = match route {
            "POST /api/v1/hotline-tickets" => status == 201,
            "POST /api/v1/hotline-imports" => status == 200,
            // The public reports' queue and its map layer: read as a reviewer reads them, but no nearby site
            // (the operator sees no site) and no decision (dispatchers').
            _ if path.starts_with("/api/v1/public-reports") || path.starts_with("/tiles/public_reports/") => {
                if route.starts_with("POST ") || path.ends_with("/nearby-sites") {
                    status == 403
                } else {
                    status == expected[ACTORS.iter().position(|a| *a == "reviewer").unwrap()]
                }
            }
            _ if roadledger::http::auth::hotline_may_reach(path) => status == expected[inspector],
            _ if expected[0] == 401 => status == 403,
            _ if expected[0] == 303 => status == 303 && location == "/hotline.html",
            _ => status == expected[0],
        };
        if !ok {
            let body: String = String::from_utf8_lossy(&answer.bytes).chars().take(160).collect();
            wrong.push(format!("{route} [{scope:?}] as the hotline operator: got {status}: {body}"));
        }
    }
    assert!(wrong.is_empty(), "{} answers to the hotline token are wrong:\n{}", wrong.len(), wrong.join("\n"));
}

fn feature_ids(collection: &Value) -> BTreeSet<String> {
    collection["features"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_string()).collect()
}

#[sqlx::test(migrations = "./migrations")]
async fn lists_and_counts_hold_exactly_the_sites_in_scope(pool: PgPool) {
    let world = World::build(pool).await;
    // Two more sites tell a town scope from a unit scope: one in town A assigned to unit V (the town officer's
    // town, not the unit officer's unit), and one in town B assigned to unit U (the other way round).
    let a_v = record_site(&world.app, [120.56, 31.86], None).await;
    let b_u = record_site(&world.app, [120.66, 31.86], None).await;
    assign(&world.app.pool, &a_v.id, world.unit_v).await;
    assign(&world.app.pool, &b_u.id, world.unit_u).await;
    let set = |sites: &[&Site]| sites.iter().map(|s| s.id.clone()).collect::<BTreeSet<_>>();
    let everything = set(&[&world.own, &world.other, &a_v, &b_u]);

    for (column, actor) in ACTORS.iter().enumerate().skip(1) {
        let account = world.account(column).unwrap();
        let expected = match *actor {
            "town_officer" => set(&[&world.own, &a_v]),
            "unit_officer" => set(&[&world.own, &b_u]),
            _ => everything.clone(),
        };
        let get = |uri: &str| world.app.send_as_is(bearer(Request::get(uri), account).body(Body::empty()).unwrap());

        let list = get("/api/v1/sites").await;
        let counts = get("/api/v1/sites/counts").await;
        let in_town_b = get(&format!("/api/v1/sites?town={}", TOWN_B.0)).await;
        let in_bbox_b = get("/api/v1/sites?bbox=120.6,31.84,120.7,31.9").await;

        assert_eq!(list.status, 200, "{actor}");
        assert_eq!(feature_ids(&list.json()), expected, "{actor}: GET /api/v1/sites");
        assert_eq!(
            counts.json(),
            json!({ "total": expected.len(), "by_status": { "reported": expected.len() }, "overdue": 0, "filter": "" }),
            "{actor}: GET /api/v1/sites/counts"
        );
        // Filters narrow the scope; they never widen it.
        let b_sites = set(&[&world.other, &b_u]);
        let expected_b: BTreeSet<String> = expected.intersection(&b_sites).cloned().collect();
        assert_eq!(feature_ids(&in_town_b.json()), expected_b, "{actor}: ?town=B");
        assert_eq!(feature_ids(&in_bbox_b.json()), expected_b, "{actor}: ?bbox=B");
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn token_lists_hold_only_the_callers_own_tokens(pool: PgPool) {
    let world = World::build(pool).await;
    for account in &world.accounts {
        let answer =
            world.app.send_as_is(bearer(Request::get("/api/v1/tokens"), account).body(Body::empty()).unwrap()).await;
        let listed: BTreeSet<String> =
            answer.json().as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_string()).collect();
        let own: BTreeSet<String> = sqlx::query_scalar::<_, Uuid>("select id from api_token where user_id = $1")
            .bind(account.user_id)
            .fetch_all(&world.app.pool)
            .await
            .unwrap()
            .into_iter()
            .map(|id| id.to_string())
            .collect();
        assert_eq!(listed, own, "{}", account.name);
        assert_eq!(listed.len(), 2, "{}: the matrix token and the spare one", account.name);
        let body = String::from_utf8_lossy(&answer.bytes);
        assert!(!body.contains(&account.token), "{}: a listed token never shows its secret", account.name);
    }
}

/// Signs in through the API and returns the session cookie (`name=value`) and the CSRF token.
async fn sign_in(app: &TestApp, name: &str) -> (String, String) {
    let answer = app
        .send_as_is(
            Request::post("/api/v1/session")
                .header("content-type", "application/json")
                .body(Body::from(json!({ "name": name, "password": DEFAULT_PASSWORD }).to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(answer.status, 200, "{name}: {}", String::from_utf8_lossy(&answer.bytes));
    let set_cookie = answer.headers["set-cookie"].to_str().unwrap();
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    (cookie, answer.json()["csrf_token"].as_str().unwrap().to_string())
}

#[sqlx::test(migrations = "./migrations")]
async fn pages_and_the_session_follow_the_session_cookie(pool: PgPool) {
    let world = World::build(pool).await;
    let app = &world.app;
    let with_cookie = |method: &str, uri: &str, cookie: &str| {
        Request::builder().method(method).uri(uri).header("cookie", cookie).body(Body::empty()).unwrap()
    };

    let (town_cookie, town_csrf) = sign_in(app, world.by_role("town_officer").name).await;
    let (admin_cookie, _) = sign_in(app, world.by_role("admin").name).await;

    let map = app.send_as_is(with_cookie("GET", "/", &town_cookie)).await;
    let admin_page = app.send_as_is(with_cookie("GET", "/admin.html", &town_cookie)).await;
    let admin_page_for_admin = app.send_as_is(with_cookie("GET", "/admin.html", &admin_cookie)).await;
    let session = app.send_as_is(with_cookie("GET", "/api/v1/session", &town_cookie)).await;
    let other_site =
        app.send_as_is(with_cookie("GET", &format!("/api/v1/sites/{}", world.other.id), &town_cookie)).await;
    let own_site = app.send_as_is(with_cookie("GET", &format!("/api/v1/sites/{}", world.own.id), &town_cookie)).await;

    assert_eq!(map.status, 200);
    assert_eq!(admin_page.status, 303);
    assert_eq!(admin_page.headers["location"], "/");
    assert_eq!(admin_page_for_admin.status, 200);
    assert_eq!(session.status, 200);
    assert_eq!(session.json()["user"]["name"], "wangfang");
    assert_eq!(session.json()["csrf_token"], town_csrf.as_str());
    // The scope is the account's, whichever credential carries it.
    assert_eq!(own_site.status, 200);
    assert_eq!(other_site.status, 404);

    // A state-changing cookie request needs the session's CSRF token; the scope check comes after it.
    let patch = |csrf: Option<&str>| {
        let mut request = Request::patch(format!("/api/v1/observations/{}", world.own.observation))
            .header("cookie", &town_cookie)
            .header("content-type", "application/json");
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request.body(Body::from(json!({ "notes": "x" }).to_string())).unwrap()
    };
    assert_eq!(app.send_as_is(patch(None)).await.status, 403);
    assert_eq!(app.send_as_is(patch(Some("wrong"))).await.status, 403);
    let with_csrf = app.send_as_is(patch(Some(&town_csrf))).await;
    assert_eq!(with_csrf.status, 403, "past CSRF, a town officer is still not the author");
    assert!(with_csrf.detail().contains("only the inspector who recorded"), "{}", with_csrf.detail());
}

#[sqlx::test(migrations = "./migrations")]
async fn the_page_gate_cannot_be_sidestepped_by_spelling_a_path_differently(pool: PgPool) {
    let world = World::build(pool).await;
    let leader = world.by_role("leader");
    // The static file server percent-decodes the path and skips empty and `.` segments, so each of these
    // names a gated page. Whatever the answer (a redirect or 404), it must not be the page.
    let cases: [(&str, Option<&Account>); 7] = [
        ("/index%2Ehtml", None),
        ("/index%2ehtml", None),
        ("/inspect%2Ehtml", None),
        ("//admin.html", Some(leader)),
        ("/./admin.html", Some(leader)),
        ("/admin%2Ehtml", Some(leader)),
        ("/%61dmin.html", Some(leader)),
    ];
    let mut served = Vec::new();
    for (path, account) in cases {
        let mut request = Request::get(path);
        if let Some(account) = account {
            request = bearer(request, account);
        }
        let answer = world.app.send_as_is(request.body(Body::empty()).unwrap()).await;
        let who = account.map_or("anonymous", |a| a.name);
        if answer.status == 200 {
            served.push(format!("GET {path} as {who}: 200"));
        }
    }
    assert!(served.is_empty(), "the page gate let these through:\n{}", served.join("\n"));
}

/// The Markdown table of `MATRIX`, as `docs/authz.md` shows it.
fn matrix_markdown() -> String {
    let mut out = String::from("| request | site | ");
    out.push_str(&ACTORS.join(" | "));
    out.push_str(" |\n|---|---|");
    out.push_str(&"---:|".repeat(ACTORS.len()));
    out.push('\n');
    for (route, scope, statuses) in MATRIX {
        let scope = match scope {
            Any => "",
            Own => "own",
            Other => "other",
        };
        let statuses: Vec<String> = statuses.iter().map(u16::to_string).collect();
        out.push_str(&format!("| `{route}` | {scope} | {} |\n", statuses.join(" | ")));
    }
    out
}

const DOC_BEGIN: &str =
    "<!-- matrix:begin (generated from tests/it/authz.rs: UPDATE_AUTHZ_MD=1 cargo nextest run authz::) -->\n";
const DOC_END: &str = "<!-- matrix:end -->";

#[test]
fn docs_authz_md_shows_this_matrix() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/authz.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let start = doc.find(DOC_BEGIN).expect("docs/authz.md has the matrix:begin marker") + DOC_BEGIN.len();
    let end = start + doc[start..].find(DOC_END).expect("docs/authz.md has the matrix:end marker");
    let rendered = matrix_markdown();
    if std::env::var_os("UPDATE_AUTHZ_MD").is_some() {
        std::fs::write(&path, format!("{}{rendered}{}", &doc[..start], &doc[end..])).unwrap();
        return;
    }
    assert_eq!(
        doc[start..end],
        rendered,
        "docs/authz.md shows a different matrix; rewrite it with UPDATE_AUTHZ_MD=1 cargo nextest run authz::"
    );
}
