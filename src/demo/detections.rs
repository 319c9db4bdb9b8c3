//! The demo's patrol and drone detections (issue 12): a dozen findings along the demo's roads, each with a
//! picture of the demo's own drawing and its candidate in the queue, drawn from the demo's constant seed. A
//! few are below the default confidence and so hidden until the queue is asked for every score. They are
//! recorded through `db::candidates::record_detection`, as the API records them.

use anyhow::Context;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::pictures;
use super::rng::Rng;
use crate::db::candidates::{DetectionImage, record_detection};
use crate::domain::coords::SourceCrs;
use crate::domain::crash::DetectionPlatform;
use crate::domain::detection::NewDetection;
use crate::photos::PhotoStore;
use crate::photos::process::{self, PhotoLimits};

/// How many detections the demo has.
const DETECTIONS: usize = 12;
/// What the systems report: their class name and the hazard type it maps to, if any.
const CLASSES: [(&str, Option<&str>); 5] = [
    ("faded_marking", Some("worn_markings")),
    ("missing_sign", Some("missing_warning_sign")),
    ("pothole", None),
    ("vegetation_sightline", None),
    ("damaged_guardrail", None),
];

/// Records the demo's detections with their candidates; the photo store gets their pictures.
pub async fn load(pool: &PgPool, photos: &PhotoStore, county_admin_code: &str) -> anyhow::Result<usize> {
    let mut rng = Rng::stream("detections");
    let roads: Vec<i32> =
        sqlx::query_scalar("select id from road where route_code is not null order by id").fetch_all(pool).await?;
    anyhow::ensure!(!roads.is_empty(), "the demo's detections lie on its roads, and there are none");
    let now = chrono::Utc::now();
    for i in 0..DETECTIONS {
        let road = *rng.pick(&roads);
        let along = rng.range(0.05, 0.95);
        let (lon, lat): (f64, f64) = sqlx::query_as(
            "select st_x(p), st_y(p) from (
                 select st_lineinterpolatepoint(st_geometryn(geom, 1), $2) as p from road where id = $1) x",
        )
        .bind(road)
        .bind(along)
        .fetch_one(pool)
        .await?;
        let (label, hazard_type) = *rng.pick(&CLASSES);
        let platform = if i % 3 == 0 { DetectionPlatform::Drone } else { DetectionPlatform::SmartPatrol };
        // Most are sure; one in four is below the queue's default minimum (0.5).
        let confidence = if rng.chance(0.25) { rng.range(0.3, 0.49) } else { rng.range(0.55, 0.97) };
        let detection = NewDetection {
            id: rng.uuid(),
            platform,
            detected_at: now - chrono::Duration::hours(rng.int(2, 24 * 40)),
            lon,
            lat,
            crs: SourceCrs::Wgs84,
            label: label.to_string(),
            hazard_type: hazard_type.map(str::to_string),
            confidence: (confidence * 100.0).round() / 100.0,
        };
        let jpeg = pictures::render(pictures::BEFORE.start + rng.index(pictures::BEFORE.len()));
        let processed = tokio::task::spawn_blocking({
            let jpeg = jpeg.clone();
            move || process::process(&jpeg, PhotoLimits::default())
        })
        .await?
        .context("a demo detection's picture")?;
        let sha = processed.sha256_hex();
        let image = DetectionImage {
            sha256: processed.sha256,
            key: PhotoStore::original_key(&sha, processed.format.extension()),
            thumbnail_key: PhotoStore::thumbnail_key(&sha),
            width: processed.width as i32,
            height: processed.height as i32,
        };
        photos.put(&image.key, Bytes::from(jpeg)).await?;
        photos.put(&image.thumbnail_key, Bytes::from(processed.thumbnail_jpeg)).await?;
        let sent_by = match platform {
            DetectionPlatform::Drone => "演示·无人机巡检",
            DetectionPlatform::SmartPatrol => "演示·智能巡检车",
        };
        let content: [u8; 32] = Sha256::digest(detection.id.as_bytes()).into();
        record_detection(pool, &detection, sent_by, Some(&image), &content, county_admin_code).await?;
    }
    Ok(DETECTIONS)
}
