//! `GET /api/v1/sites/export.geojson` and `GET /api/v1/sites/export.kml`: the filtered sites in the caller's
//! scope as files for GIS software (QGIS, ArcGIS, Google Earth, 奥维互动地图), with the site filter of the map
//! (`domain::site_filter`) and an optional bbox of any size.
//!
//! - Both are streamed: the sites are read a page at a time (keyset, [`PAGE_SITES`] per page, through
//!   `db::sites::list`, so the features carry exactly the list's properties) and each page is written out
//!   before the next is read, so memory stays flat however many sites match. A database error midway aborts
//!   the response, so the client sees a failed download rather than a file that looks complete.
//! - More than `Settings::export_sites_max` matching sites (200 000 by default) is a 400 that says to narrow
//!   the filter, answered before anything is streamed. At most [`EXPORTS_CONCURRENT_MAX`] exports stream at
//!   once; a request that waited [`EXPORT_QUEUE_WAIT`] for a slot gets a 429 with `Retry-After`.
//! - KML 2.2 (OGC 07-147r2): one `Style` per status, its icon and line in the status colour of the pages
//!   (`web/common.js` `STATUS_COLOUR`, written `aabbggrr` as KML wants), and one `Folder` per status holding
//!   its sites, each a `Placemark` named by code, road and stake, with the main properties as `ExtendedData`;
//!   points are `Point`s and sections `LineString`s. All text is XML-escaped; the file is UTF-8.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{FixedOffset, NaiveDate, Utc};
use futures::{StreamExt, stream};
use serde_json::Value;
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

use super::sites::{FilterParams, QueryPairs, parse_bbox, site_filter};
use super::{AppState, Error, Result};
use crate::db::ReadPool;
use crate::db::sites::{self, SiteFilter};
use crate::domain::auth::Actor;
use crate::domain::labels;
use crate::domain::site::SiteStatus;

/// Sites read from the database per page of an export.
const PAGE_SITES: i64 = 2000;
/// Exports streaming at once, server-wide: each reads page after page for as long as its client downloads.
pub const EXPORTS_CONCURRENT_MAX: usize = 4;
static EXPORTS: Semaphore = Semaphore::const_new(EXPORTS_CONCURRENT_MAX);

/// Export slots taken now (for `/metrics`).
pub(super) fn exports_in_use() -> usize {
    EXPORTS_CONCURRENT_MAX.saturating_sub(EXPORTS.available_permits())
}
/// How long a request waits for a running export to finish before it is turned away with 429.
const EXPORT_QUEUE_WAIT: Duration = Duration::from_secs(10);
/// The default of `Settings::export_sites_max`.
pub const EXPORT_SITES_MAX: i64 = 200_000;

/// The export's own parameter.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Read from the query's pairs; this type documents it.
pub struct ExportParams {
    /// `minlon,minlat,maxlon,maxlat` in WGS-84 degrees, of any size (optional).
    bbox: Option<String>,
}

/// The status colours of `web/common.js` (`STATUS_COLOUR`), as KML's `aabbggrr` (opaque). A unit test holds
/// the two equal.
const STATUS_KML_COLOUR: [(SiteStatus, &str); 10] = [
    (SiteStatus::Reported, "ff1f30d7"),
    (SiteStatus::Verified, "ff0e5ab8"),
    (SiteStatus::Assigned, "ff006f94"),
    (SiteStatus::InProgress, "ffb4781f"),
    (SiteStatus::PendingReview, "ffc7527b"),
    (SiteStatus::Closed, "ff4a8023"),
    (SiteStatus::Reopened, "ff7a18c2"),
    (SiteStatus::Rejected, "ff707070"),
    (SiteStatus::Duplicate, "ff3c5e8b"),
    (SiteStatus::Cancelled, "ff4a4a4a"),
];

/// The filtered sites as one GeoJSON FeatureCollection (the list's properties), for GIS software.
#[utoipa::path(
    get,
    path = "/sites/export.geojson",
    operation_id = "export_sites_geojson",
    tag = "sites",
    params(ExportParams, FilterParams),
    responses(
        (status = 200, description = "Every site the filter selects in your scope, as a GeoJSON FeatureCollection (an attachment)", body = Object, content_type = "application/geo+json"),
        (status = 400, description = "A parameter is malformed or unknown, or more sites match than an export holds (the message says which)"),
        (status = 429, description = "Too many exports are running; try again after Retry-After seconds"),
    )
)]
pub async fn geojson(State(state): State<AppState>, actor: Actor, params: QueryPairs) -> Result<Response> {
    let (reads, filter, permit) = start(&state, &actor, &params).await?;
    let pages = Pages { reads, filter, by_status: Vec::new(), done: false, _permit: permit };
    let head = stream::once(async {
        Ok::<_, std::io::Error>(Bytes::from_static(b"{\"type\":\"FeatureCollection\",\"features\":[\n"))
    });
    // The state: the pages, whether a feature was written yet, whether the stream has ended.
    let body = stream::unfold((pages, false, false), |(mut pages, written, ended)| async move {
        if ended {
            return None;
        }
        match pages.next_page().await {
            Err(e) => Some((Err(e), (pages, written, true))),
            Ok(None) => Some((Ok(Bytes::from_static(b"\n]}\n")), (pages, written, true))),
            Ok(Some((_, features))) => {
                let mut chunk = String::with_capacity(features.iter().map(|f| f.len() + 2).sum());
                let mut written = written;
                for feature in features {
                    if written {
                        chunk.push_str(",\n");
                    }
                    chunk.push_str(&feature);
                    written = true;
                }
                Some((Ok(Bytes::from(chunk)), (pages, written, false)))
            }
        }
    });
    Ok(attachment("application/geo+json", "geojson", Body::from_stream(head.chain(body).fuse())))
}

/// The filtered sites as KML 2.2: a folder per status, a placemark per site.
#[utoipa::path(
    get,
    path = "/sites/export.kml",
    operation_id = "export_sites_kml",
    tag = "sites",
    params(ExportParams, FilterParams),
    responses(
        (status = 200, description = "Every site the filter selects in your scope, as a KML 2.2 Document with a Folder per status (an attachment)", body = String, content_type = "application/vnd.google-earth.kml+xml"),
        (status = 400, description = "A parameter is malformed or unknown, or more sites match than an export holds (the message says which)"),
        (status = 429, description = "Too many exports are running; try again after Retry-After seconds"),
    )
)]
pub async fn kml(State(state): State<AppState>, actor: Actor, params: QueryPairs) -> Result<Response> {
    let (reads, filter, permit) = start(&state, &actor, &params).await?;
    // One pass per status the filter allows, in the pages' order of statuses: a folder each (a stack, so
    // reversed).
    let by_status: Vec<SiteStatus> = SiteStatus::ALL
        .iter()
        .copied()
        .filter(|s| filter.criteria.statuses.is_empty() || filter.criteria.statuses.contains(s))
        .rev()
        .collect();
    let mut pages = Pages { reads, filter, by_status, done: false, _permit: permit };
    pages.next_status();
    let head = stream::once(async { Ok::<_, std::io::Error>(Bytes::from(kml_head())) });
    // The state: the pages, the status whose folder is open (if any), whether the stream has ended.
    let body = stream::unfold((pages, None::<SiteStatus>, false), |(mut pages, open, ended)| async move {
        if ended {
            return None;
        }
        let (status, features) = match pages.next_page().await {
            Err(e) => return Some((Err(e), (pages, open, true))),
            Ok(None) => {
                let close = if open.is_some() { "</Folder>\n" } else { "" };
                return Some((Ok(Bytes::from(format!("{close}</Document>\n</kml>\n"))), (pages, None, true)));
            }
            Ok(Some(page)) => page,
        };
        let mut chunk = String::new();
        let mut open = open;
        // A status without sites has no folder. A KML pass always has its status (`next_status`).
        if let Some(status) = status.filter(|_| !features.is_empty())
            && open != Some(status)
        {
            if open.is_some() {
                chunk.push_str("</Folder>\n");
            }
            chunk.push_str(&format!(
                "<Folder><name>{} ({})</name>\n",
                crate::xml::escape(labels::site_status(status)),
                status.as_str()
            ));
            open = Some(status);
        }
        for feature in &features {
            if let Err(e) = placemark(&mut chunk, feature) {
                tracing::warn!(error = %e, "a site export met a feature it cannot write");
                return Some((Err(std::io::Error::other(e)), (pages, open, true)));
            }
        }
        Some((Ok(Bytes::from(chunk)), (pages, open, false)))
    });
    Ok(attachment("application/vnd.google-earth.kml+xml", "kml", Body::from_stream(head.chain(body).fuse())))
}

/// Reads the filter, refuses too large an export, and answers the pool to read the export from (the replica
/// when it has caught up), the filter with the caller's scope, and the export's slot.
async fn start(
    state: &AppState,
    actor: &Actor,
    params: &QueryPairs,
) -> Result<(ReadPool, SiteFilter, SemaphorePermit<'static>)> {
    let (criteria, others) = site_filter(state, params, &["bbox"]).await?;
    // Any size: the row cap bounds the work.
    let bbox = others.get("bbox").map(|b| parse_bbox(b, None)).transpose()?;
    let filter = SiteFilter { bbox, criteria, after: None, limit: PAGE_SITES, scope: actor.site_scope() };
    // Every page is read from the pool the count was: a replica that caught up for the count stays caught up.
    let reads = state.reader().await?;
    let matching: i64 = sites::counts_by_status(&reads, &filter).await?.iter().map(|(_, n, _)| n).sum();
    let max = state.settings.export_sites_max;
    if matching > max {
        return Err(Error::BadRequest(format!(
            "{matching} sites match; an export holds at most {max}. Narrow the filter (town, status, kind, \
             hazard_type, level, from, to, bbox, …)"
        )));
    }
    let queue = &crate::metrics::METRICS.site_export;
    let waiting = queue.waiting.track();
    let permit = tokio::time::timeout(EXPORT_QUEUE_WAIT, EXPORTS.acquire()).await.ok().and_then(|p| p.ok());
    drop(waiting);
    if permit.is_none() {
        queue.refused.inc();
    }
    let permit = permit.ok_or_else(|| Error::TooManyRequests {
        message: format!("{EXPORTS_CONCURRENT_MAX} site exports are running; try again in a few seconds"),
        retry_after_s: 5,
    })?;
    Ok((reads, filter, permit))
}

/// The filter's sites page by page, in id order; for KML, status by status (`by_status` is a stack of the
/// statuses still to read; empty for GeoJSON, which reads every status in one pass).
struct Pages {
    reads: ReadPool,
    filter: SiteFilter,
    by_status: Vec<SiteStatus>,
    done: bool,
    /// The export's slot, given back when the body is dropped (finished, failed or abandoned).
    _permit: SemaphorePermit<'static>,
}

impl Pages {
    /// Moves on to the next status of the stack; false when none is left.
    fn next_status(&mut self) -> bool {
        match self.by_status.pop() {
            Some(status) => {
                self.filter.criteria.statuses = vec![status];
                self.filter.after = None;
                true
            }
            None => false,
        }
    }

    /// The next page and, for KML, the status it is of (the filter's, never a made-up default); `None` after
    /// the last.
    async fn next_page(&mut self) -> std::io::Result<Option<(Option<SiteStatus>, Vec<String>)>> {
        if self.done {
            return Ok(None);
        }
        // KML narrows the filter to one status per pass; GeoJSON ignores this.
        let status = self.filter.criteria.statuses.first().copied();
        let (features, next) = sites::list(&self.reads, &self.filter).await.map_err(|e| {
            tracing::warn!(error = %e, "a site export failed midway");
            std::io::Error::other("the database failed during the export")
        })?;
        match next {
            Some(after) => self.filter.after = Some(after),
            None if self.next_status() => {}
            None => self.done = true,
        }
        Ok(Some((status, features)))
    }
}

fn kml_head() -> String {
    let mut head = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<kml xmlns=\"http://www.opengis.net/kml/2.2\">\n<Document>\n\
         <name>RoadLedger 道路隐患点</name>\n",
    );
    for (status, colour) in STATUS_KML_COLOUR {
        head.push_str(&format!(
            "<Style id=\"status-{code}\"><IconStyle><color>{colour}</color>\
             <Icon><href>http://maps.google.com/mapfiles/kml/shapes/placemark_circle.png</href></Icon></IconStyle>\
             <LineStyle><color>{colour}</color><width>4</width></LineStyle></Style>\n",
            code = status.as_str()
        ));
    }
    head
}

/// The list properties written as `ExtendedData`, in this order (null ones left out).
const EXTENDED_DATA: [&str; 18] = [
    "code",
    "kind",
    "status",
    "town",
    "town_code",
    "road_code",
    "road_name",
    "stake",
    "end_stake",
    "hazard_types",
    "hazard_level",
    "checklist",
    "deadline",
    "overdue",
    "supervision_level",
    "first_observed_at",
    "last_observed_at",
    "observation_count",
];

/// One site feature (the list's GeoJSON) as a KML Placemark.
fn placemark(out: &mut String, feature: &str) -> std::result::Result<(), String> {
    let feature: Value = serde_json::from_str(feature).map_err(|e| e.to_string())?;
    let p = &feature["properties"];
    let text = |key: &str| p[key].as_str().filter(|s| !s.is_empty());
    let road = text("road_code").or(text("road_name"));
    let name: Vec<&str> = [text("code"), road, text("stake")].into_iter().flatten().collect();
    out.push_str(&format!(
        "<Placemark><name>{}</name><styleUrl>#status-{}</styleUrl>\n<ExtendedData>",
        crate::xml::escape(&name.join(" ")),
        crate::xml::escape(text("status").unwrap_or(""))
    ));
    for key in EXTENDED_DATA {
        let value = match &p[key] {
            Value::Null => continue,
            Value::String(s) => s.clone(),
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","),
            other => other.to_string(),
        };
        out.push_str(&format!("<Data name=\"{key}\"><value>{}</value></Data>", crate::xml::escape(&value)));
    }
    out.push_str("</ExtendedData>\n");
    let coordinates = |points: &[Value]| {
        points
            .iter()
            .filter_map(|pt| Some(format!("{},{}", pt.get(0)?.as_f64()?, pt.get(1)?.as_f64()?)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let geometry = &feature["geometry"];
    match (geometry["type"].as_str(), &geometry["coordinates"]) {
        (Some("Point"), Value::Array(point)) => {
            out.push_str(&format!(
                "<Point><coordinates>{}</coordinates></Point>",
                coordinates(&[Value::Array(point.clone())])
            ));
        }
        (Some("LineString"), Value::Array(points)) => {
            out.push_str(&format!(
                "<LineString><tessellate>1</tessellate><coordinates>{}</coordinates></LineString>",
                coordinates(points)
            ));
        }
        (kind, _) => return Err(format!("a site geometry of type {kind:?}")),
    }
    out.push_str("</Placemark>\n");
    Ok(())
}

/// The county's date (UTC+8 all year: China has no summer time), for the file name.
fn county_today() -> NaiveDate {
    Utc::now().with_timezone(&FixedOffset::east_opt(8 * 3600).expect("a valid offset")).date_naive()
}

/// The response around a streamed body: its type, and `Content-Disposition: attachment` named
/// `roadledger-sites-<date>.<extension>` (RFC 6266, with the same name in `filename*`, RFC 5987).
fn attachment(content_type: &'static str, extension: &str, body: Body) -> Response {
    let name = format!("roadledger-sites-{}.{extension}", county_today());
    let disposition = format!("attachment; filename=\"{name}\"; filename*=UTF-8''{name}");
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).expect("an ASCII file name")),
        (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
    ];
    (headers, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kml_colours_are_the_pages_status_colours() {
        let js = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/web/common.js")).unwrap();
        let table = &js[js.find("STATUS_COLOUR = {").expect("STATUS_COLOUR in web/common.js")..];
        let table = &table[..table.find('}').unwrap()];
        for (status, kml) in STATUS_KML_COLOUR {
            let line = table.lines().find(|l| l.trim().starts_with(&format!("{}:", status.as_str()))).unwrap();
            let hex = line.split('#').nth(1).unwrap().get(..6).unwrap().to_lowercase();
            let (r, g, b) = (&hex[0..2], &hex[2..4], &hex[4..6]);
            assert_eq!(kml, format!("ff{b}{g}{r}"), "{status}");
        }
        assert_eq!(STATUS_KML_COLOUR.len(), SiteStatus::ALL.len());
    }

    #[test]
    fn placemarks_escape_their_text_and_keep_chinese() {
        let feature = serde_json::json!({
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [[120.5, 31.8], [120.51, 31.81]]},
            "properties": {"code": "YH-000001", "status": "reported", "road_name": "A&B<路>", "stake": "K1+200",
                           "town": "杨舍镇", "hazard_types": ["a", "b"], "overdue": false, "deadline": null}
        });
        let mut out = String::new();
        placemark(&mut out, &feature.to_string()).unwrap();
        assert!(out.contains("<name>YH-000001 A&amp;B&lt;路&gt; K1+200</name>"), "{out}");
        assert!(out.contains("<Data name=\"town\"><value>杨舍镇</value></Data>"), "{out}");
        assert!(out.contains("<Data name=\"hazard_types\"><value>a,b</value></Data>"), "{out}");
        assert!(out.contains("<Data name=\"overdue\"><value>false</value></Data>"), "{out}");
        assert!(!out.contains("deadline"), "{out}");
        assert!(out.contains("<coordinates>120.5,31.8 120.51,31.81</coordinates>"), "{out}");
    }
}
