//! The originals' EXIF sent as fields with an observation (`photo_evidence`): stored per photo, checked
//! against the record (far or late photos flagged, never refused), malformed evidence refused naming the
//! field, and the county's setting that asks phones for originals.

use crate::common;

use common::{ExifSpec, app, app_with, jpeg, jpeg_with_exif, north_of, observation};
use roadledger::http::Settings;
use serde_json::json;
use sqlx::PgPool;

const JUNCTION: [f64; 2] = [120.552_31, 31.871_17];

#[sqlx::test(migrations = "./migrations")]
async fn evidence_is_stored_and_a_far_or_late_photo_is_flagged_not_refused(pool: PgPool) {
    let app = app(pool).await;
    let far = north_of(JUNCTION, 6_200.0);
    let mut obs = observation("intersection", json!(JUNCTION)); // observed 2026-11-30 09:15 China time
    obs["photo_evidence"] = json!([
        {"taken_at": "2026-11-30T09:14:52", "utc_offset": "+08:00", "lon": JUNCTION[0], "lat": JUNCTION[1],
         "direction_deg": 135.5, "device": "HUAWEI ELS-AN00", "original_bytes": 4_213_331,
         "original_width": 4000, "original_height": 3000},
        {"taken_at": "2026-11-26T09:15:00", "lon": far[0], "lat": far[1]},
    ]);
    let (a, b) = (jpeg(640, 480), jpeg(480, 640));

    let answer = app.upload(&obs, &[&a, &b]).await;

    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.bytes));
    let photos = &answer.json()["photos"];
    let on_site = &photos[0];
    assert_eq!(on_site["original_taken_at"], "2026-11-30T09:14:52");
    assert_eq!(on_site["original_utc_offset_s"], 8 * 3600);
    assert_eq!(on_site["original_location"]["coordinates"], json!(JUNCTION));
    assert_eq!(on_site["original_direction_deg"], 135.5);
    assert_eq!(on_site["original_device"], "HUAWEI ELS-AN00");
    assert_eq!(
        (&on_site["original_bytes"], &on_site["original_width"], &on_site["original_height"]),
        (&json!(4_213_331), &json!(4000), &json!(3000))
    );
    assert_eq!(on_site["evidence_flags"], json!([]));
    // 6.2 km away and four days before: both flagged, with the numbers; the observation is recorded.
    assert_eq!(
        photos[1]["evidence_flags"],
        json!([{"code": "far_from_record", "distance_m": 6200.0}, {"code": "before_record", "hours": 96.0}])
    );
    assert_eq!(app.count("observation").await, 1);

    // The site page reads the flags on the photo.
    let site_id = answer.json()["site"]["id"].as_str().unwrap().to_string();
    let site = app.get(&format!("/api/v1/sites/{site_id}")).await.site_detail();
    let seen = &site.properties.observations[0].photos;
    assert_eq!(seen[0].evidence_flags, vec![]);
    assert_eq!(seen[0].original_device.as_deref(), Some("HUAWEI ELS-AN00"));
    assert_eq!(
        serde_json::to_value(&seen[1].evidence_flags).unwrap(),
        json!([{"code": "far_from_record", "distance_m": 6200.0}, {"code": "before_record", "hours": 96.0}])
    );

    // The evidence is part of the observation's content: a retry is a replay, other evidence a conflict.
    assert_eq!(app.upload(&obs, &[&a, &b]).await.status, 200);
    let mut other = obs.clone();
    other["photo_evidence"][1]["taken_at"] = json!("2026-11-30T09:15:00");
    assert_eq!(app.upload(&other, &[&a, &b]).await.status, 409);
    assert_eq!(app.count("photo").await, 2);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_photo_after_the_record_and_a_file_whose_exif_disagrees_are_flagged(pool: PgPool) {
    let app = app(pool).await;
    // The camera's original still has its EXIF (a county that asks for originals): it says 08:00 at the
    // junction, the fields say 09:14 and 400 m north.
    let spec = ExifSpec {
        lon: JUNCTION[0],
        lat: JUNCTION[1],
        direction_deg: 90.0,
        taken_at: "2026:11:30 08:00:00",
        orientation: 1,
    };
    let original = jpeg_with_exif(800, 600, &spec);
    let moved = north_of(JUNCTION, 400.0);
    let mut obs = observation("intersection", json!(JUNCTION));
    obs["photo_evidence"] = json!([
        {"taken_at": "2026-11-30T09:14:00", "lon": moved[0], "lat": moved[1]},
        {"taken_at": "2026-12-04T10:15:00", "utc_offset": "+08:00"},
    ]);
    let later = jpeg(320, 240);

    let answer = app.upload(&obs, &[&original, &later]).await;

    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.bytes));
    let photos = &answer.json()["photos"];
    assert_eq!(
        photos[0]["evidence_flags"],
        json!([{"code": "file_exif_differs", "what": "taken_at"}, {"code": "file_exif_differs", "what": "location"}])
    );
    assert_eq!(photos[1]["evidence_flags"], json!([{"code": "after_record", "hours": 97.0}]));

    // Without fields, the file's own EXIF is the evidence and is checked against the record.
    let far = north_of(JUNCTION, 8_000.0);
    let far_file =
        jpeg_with_exif(800, 600, &ExifSpec { lon: far[0], lat: far[1], taken_at: "2026:11:30 09:10:00", ..spec });
    let obs = observation("spot", json!(JUNCTION));
    let answer = app.upload(&obs, &[&far_file]).await;
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.bytes));
    assert_eq!(
        answer.json()["photos"][0]["evidence_flags"],
        json!([{"code": "far_from_record", "distance_m": 8000.0}])
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn malformed_evidence_is_a_422_naming_the_field_and_nothing_is_stored(pool: PgPool) {
    let app = app(pool).await;
    let photo = jpeg(320, 240);
    let cases = [
        (json!([{"taken_at": "2026:11:30 09:14:52"}]), "photo_evidence[0].taken_at"),
        (json!([{"lon": 120.5}]), "photo_evidence[0].lon"),
        (json!([{"direction_deg": -1}]), "photo_evidence[0].direction_deg"),
        (json!([{"device": "相机".repeat(40)}]), "photo_evidence[0].device"),
        (json!([{}, {}]), "2 entries for 1 photos"),
    ];
    for (evidence, fragment) in cases {
        let mut obs = observation("intersection", json!(JUNCTION));
        obs["photo_evidence"] = evidence.clone();
        let answer = app.upload(&obs, &[&photo]).await;
        assert_eq!(answer.status, 422, "{evidence}: {}", String::from_utf8_lossy(&answer.bytes));
        assert!(answer.detail().contains(fragment), "{evidence}: {}", answer.detail());
    }
    // An unknown field or a wrong type is a 400 naming it, like the rest of the observation.
    let mut obs = observation("intersection", json!(JUNCTION));
    obs["photo_evidence"] = json!([{"taken_at": "2026-11-30T09:14:52", "altitude": 12}]);
    let answer = app.upload(&obs, &[&photo]).await;
    assert_eq!(answer.status, 400);
    assert!(answer.detail().contains("altitude"), "{}", answer.detail());
    assert_eq!(app.count("observation").await, 0);
    assert_eq!(app.count("photo").await, 0);
}

#[sqlx::test(migrations = "./migrations")]
async fn phones_resize_photos_unless_the_county_asks_for_originals(pool: PgPool) {
    let app = app(pool).await;
    assert_eq!(app.get("/api/v1/settings").await.json()["require_original_photos"], false);
}

#[sqlx::test(migrations = "./migrations")]
async fn where_the_county_requires_originals_a_resized_photo_is_flagged(pool: PgPool) {
    let app = app_with(pool, Settings { require_original_photos: true, ..Settings::default() }).await;
    assert_eq!(app.get("/api/v1/settings").await.json()["require_original_photos"], true);
    let (original, resized) = (jpeg(800, 600), jpeg(400, 300));
    let mut obs = observation("intersection", json!(JUNCTION));
    obs["photo_evidence"] = json!([{"original_bytes": original.len()}, {"original_bytes": original.len()}]);

    let answer = app.upload(&obs, &[&original, &resized]).await;

    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.bytes));
    let photos = &answer.json()["photos"];
    assert_eq!(photos[0]["evidence_flags"], json!([]));
    assert_eq!(
        photos[1]["evidence_flags"],
        json!([{"code": "not_original", "original_bytes": original.len(), "bytes": resized.len()}])
    );
}
