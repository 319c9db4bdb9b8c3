//! Recording observations through `POST /api/v1/observations`, against a real PostGIS and photo store.

use crate::common;

use common::{ExifSpec, app, jpeg, jpeg_with_exif, north_of, observation, pixel_flood_png, sha256_hex};
use roadledger::domain::coords;
use serde_json::json;
use sqlx::PgPool;

const JUNCTION: [f64; 2] = [120.552_31, 31.871_17];

#[sqlx::test(migrations = "./migrations")]
async fn an_upload_with_a_camera_jpeg_keeps_the_original_reads_exif_and_makes_a_thumbnail(pool: PgPool) {
    let app = app(pool).await;
    let spec = ExifSpec {
        lon: 120.552_31,
        lat: 31.871_17,
        direction_deg: 135.5,
        taken_at: "2026:11:30 09:14:52",
        orientation: 6,
    };
    let photo = jpeg_with_exif(1600, 1200, &spec);
    let mut obs = observation("intersection", json!(JUNCTION));
    obs["hazard_types"] = json!(["no_signal", "missing_warning_sign"]);
    obs["checklist"] = json!({"warning_sign": "damaged", "speed_bump": "installed"});
    obs["photo_sha256"] = json!([sha256_hex(&photo)]);

    let answer = app.upload(&obs, &[&photo]).await;

    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.bytes));
    let body = answer.json();
    assert_eq!(answer.headers["location"], format!("/api/v1/observations/{}", obs["id"].as_str().unwrap()));
    assert_eq!(body["observation"]["id"], obs["id"]);
    assert_eq!(body["observation"]["site_match"], "opened");
    assert_eq!(body["observation"]["hazard_types"], json!(["missing_warning_sign", "no_signal"]));
    assert_eq!(body["site"]["properties"]["status"], "reported");
    assert_eq!(body["site"]["properties"]["checklist"], "1/5");

    let p = &body["photos"][0];
    assert_eq!(p["sha256"], sha256_hex(&photo));
    assert_eq!(p["content_type"], "image/jpeg");
    assert_eq!((p["width"].as_i64(), p["height"].as_i64()), (Some(1600), Some(1200)));
    assert_eq!(p["exif_taken_at"], "2026-11-30T09:14:52");
    assert_eq!(p["exif_orientation"], 6);
    assert!((p["exif_direction_deg"].as_f64().unwrap() - 135.5).abs() < 1e-3);
    let exif_lonlat = &p["exif_location"]["coordinates"];
    assert!((exif_lonlat[0].as_f64().unwrap() - spec.lon).abs() < 1e-6, "{exif_lonlat}");
    assert!((exif_lonlat[1].as_f64().unwrap() - spec.lat).abs() < 1e-6, "{exif_lonlat}");
    // Orientation 6 turns the 1600 × 1200 landscape into a 240 × 320 portrait thumbnail.
    assert_eq!((p["thumbnail_width"].as_i64(), p["thumbnail_height"].as_i64()), (Some(240), Some(320)));

    // The original comes back byte for byte, with its type and a year of caching.
    let original = app.get(p["url"].as_str().unwrap()).await;
    assert_eq!(original.status, 200);
    assert_eq!(original.bytes, photo);
    assert_eq!(original.headers["content-type"], "image/jpeg");
    assert_eq!(original.headers["cache-control"], "private, max-age=31536000, immutable");
    // …and is on disk unchanged.
    let on_disk: Vec<_> =
        app.stored_files().into_iter().filter(|f| f.to_string_lossy().contains("original/")).collect();
    assert_eq!(on_disk.len(), 1);
    assert_eq!(std::fs::read(&on_disk[0]).unwrap(), photo);

    let thumb = app.get(p["thumbnail_url"].as_str().unwrap()).await;
    assert_eq!(thumb.status, 200);
    assert_eq!(thumb.headers["content-type"], "image/jpeg");
    let decoded = image::load_from_memory(&thumb.bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (240, 320));

    // A browser revalidating gets 304 without the bytes.
    let etag = thumb.headers["etag"].to_str().unwrap().to_string();
    let again = app
        .send(
            axum::http::Request::get(p["thumbnail_url"].as_str().unwrap())
                .header("if-none-match", etag)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(again.status, 304);
    assert!(again.bytes.is_empty());
}

#[sqlx::test(migrations = "./migrations")]
async fn the_same_observation_sent_again_is_answered_200_with_the_same_body_and_stored_once(pool: PgPool) {
    let app = app(pool).await;
    let photo = jpeg(640, 480);
    let obs = observation("spot", json!(JUNCTION));

    let first = app.upload(&obs, &[&photo]).await;
    // Key order and whitespace differ, the content does not.
    let reordered = serde_json::to_string_pretty(&obs).unwrap();
    let second = app.upload_raw(reordered.as_bytes(), &[&photo]).await;

    assert_eq!(first.status, 201);
    assert_eq!(second.status, 200);
    assert_eq!(first.json(), second.json());
    assert_eq!(app.count("observation").await, 1);
    assert_eq!(app.count("site").await, 1);
    assert_eq!(app.count("photo").await, 1);
    assert_eq!(app.count("site_event").await, 1);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_same_id_with_different_content_is_a_conflict_and_changes_nothing(pool: PgPool) {
    let app = app(pool).await;
    let mut obs = observation("spot", json!(JUNCTION));
    assert_eq!(app.upload(&obs, &[]).await.status, 201);

    obs["notes"] = json!("换了内容");
    let answer = app.upload(&obs, &[]).await;

    assert_eq!(answer.status, 409);
    assert!(answer.detail().contains("already recorded with different content"), "{}", answer.detail());
    // A different photo set is different content too.
    obs["notes"] = json!("");
    assert_eq!(app.upload(&obs, &[&jpeg(64, 64)]).await.status, 409);
    assert_eq!(app.count("observation").await, 1);
    assert_eq!(app.count("photo").await, 0);
    let notes: String = sqlx::query_scalar("select notes from observation").fetch_one(&app.pool).await.unwrap();
    assert_eq!(notes, "");
}

#[sqlx::test(migrations = "./migrations")]
async fn an_observation_within_30_m_of_an_open_site_joins_it_and_one_at_40_m_opens_another(pool: PgPool) {
    let app = app(pool).await;
    let first = app.upload(&observation("intersection", json!(JUNCTION)), &[]).await.json();
    let site_id = first["site"]["id"].clone();

    let mut near = observation("intersection", json!(north_of(JUNCTION, 25.0)));
    near["hazard_types"] = json!(["poor_sight_distance"]);
    near["checklist"] = json!({"warning_post": "installed"});
    near["observed_at"] = json!("2026-11-30T10:00:00+08:00");
    let joined = app.upload(&near, &[]).await.json();
    let far = app.upload(&observation("intersection", json!(north_of(JUNCTION, 40.0))), &[]).await.json();
    // A spot is another kind of site: it does not join the intersection even at 5 m.
    let spot = app.upload(&observation("spot", json!(north_of(JUNCTION, 5.0))), &[]).await.json();

    assert_eq!(joined["site"]["id"], site_id);
    assert_eq!(joined["observation"]["site_match"], "joined");
    assert_eq!(joined["site"]["properties"]["observation_count"], 2);
    assert_eq!(joined["site"]["properties"]["hazard_types"], json!(["poor_sight_distance"]));
    assert_eq!(joined["site"]["properties"]["checklist"], "1/5");
    assert_ne!(far["site"]["id"], site_id);
    assert_eq!(far["observation"]["site_match"], "opened");
    assert_ne!(spot["site"]["id"], site_id);
    assert_eq!(app.count("site").await, 3);

    let events: Vec<(String, Option<String>)> =
        sqlx::query_as("select kind, to_status from site_event where site_id = $1::text::uuid order by id")
            .bind(site_id.as_str().unwrap())
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(events, vec![("opened".into(), Some("reported".into())), ("observed".into(), None)]);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_closed_site_is_not_joined(pool: PgPool) {
    let app = app(pool).await;
    let first = app.upload(&observation("intersection", json!(JUNCTION)), &[]).await.json();
    sqlx::query("update site set status = 'closed'").execute(&app.pool).await.unwrap();

    let again = app.upload(&observation("intersection", json!(north_of(JUNCTION, 3.0))), &[]).await.json();

    assert_ne!(again["site"]["id"], first["site"]["id"]);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_town_comes_from_the_boundaries(pool: PgPool) {
    let app = app(pool).await;
    app.add_town("320582100", "杨舍镇", [120.50, 31.84, 120.60, 31.90]).await;
    app.add_town("320582101", "塘桥镇", [120.60, 31.84, 120.70, 31.90]).await;

    let in_yangshe = app.upload(&observation("spot", json!([120.55, 31.87])), &[]).await.json();
    let in_tangqiao = app.upload(&observation("spot", json!([120.65, 31.87])), &[]).await.json();
    let outside = app.upload(&observation("spot", json!([120.45, 31.87])), &[]).await.json();
    // A section is placed by its midpoint: mostly in 塘桥镇 here.
    let section = app
        .upload(&observation("section", json!([[120.59, 31.86], [120.64, 31.86], [120.66, 31.86]])), &[])
        .await
        .json();

    assert_eq!(in_yangshe["site"]["properties"]["town"], "杨舍镇");
    assert_eq!(in_yangshe["site"]["properties"]["town_code"], "320582100");
    assert_eq!(in_tangqiao["site"]["properties"]["town"], "塘桥镇");
    assert_eq!(outside["site"]["properties"]["town"], serde_json::Value::Null);
    assert_eq!(section["site"]["properties"]["town"], "塘桥镇");
}

#[sqlx::test(migrations = "./migrations")]
async fn gcj02_and_bd09_coordinates_are_stored_as_wgs84_within_half_a_metre(pool: PgPool) {
    let app = app(pool).await;
    let (glon, glat) = coords::wgs84_to_gcj02(JUNCTION[0], JUNCTION[1]);
    let mut gcj = observation("intersection", json!([glon, glat]));
    gcj["source_crs"] = json!("gcj02");
    let (blon, blat) = coords::gcj02_to_bd09(glon, glat);
    let mut bd = observation("spot", json!([blon, blat]));
    bd["source_crs"] = json!("bd09");

    let gcj_answer = app.upload(&gcj, &[]).await.json();
    app.upload(&bd, &[]).await.json();

    assert_eq!(gcj_answer["observation"]["source_crs"], "gcj02");
    // Measured by PostGIS on the spheroid, independently of our own distance function.
    let distances: Vec<(String, f64)> = sqlx::query_as(
        "select source_crs, st_distance(geom::geography, st_setsrid(st_makepoint($1, $2), 4326)::geography)
         from observation order by source_crs",
    )
    .bind(JUNCTION[0])
    .bind(JUNCTION[1])
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(distances.len(), 2);
    for (crs, d) in distances {
        assert!(d < 0.5, "{crs}: {d} m from the WGS-84 truth");
    }
    // The raw GCJ-02 position is hundreds of metres off: the conversion really happened.
    assert!(coords::distance_m(glon, glat, JUNCTION[0], JUNCTION[1]) > 100.0);
}

#[sqlx::test(migrations = "./migrations")]
async fn roads_give_the_route_and_a_stake_when_the_inspector_gives_none(pool: PgPool) {
    let app = app(pool).await;
    // X202 runs due east from 120.50 along latitude 31.86, about 9.46 km per 0.1 degree.
    sqlx::query(
        "insert into road (route_code, admin_code, name, geom)
         values ('X202', '320582', '港丰公路', st_multi(st_geomfromtext('LINESTRING(120.50 31.86, 120.60 31.86)', 4326)))",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let on_road = app.upload(&observation("spot", json!([120.55, 31.8601])), &[]).await.json();
    let mut given = observation("spot", json!([120.52, 31.86]));
    given["road_code"] = json!("x202");
    given["stake"] = json!("K1+950.5");
    let given = app.upload(&given, &[]).await.json();

    let props = &on_road["site"]["properties"];
    assert_eq!(props["road_code"], "X202");
    let stake = props["stake"].as_str().unwrap();
    let metres: f64 = sqlx::query_scalar("select stake_m from site where route_code = 'X202' and stake_text = $1")
        .bind(stake)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    // Half of 0.1 degree of longitude at 31.86 N on the spheroid: 4 732 m, give or take a few.
    assert!((metres - 4732.0).abs() < 10.0, "{stake} = {metres} m");
    assert_eq!(given["site"]["properties"]["road_code"], "X202");
    assert_eq!(given["site"]["properties"]["stake"], "K1+950.5");
}

#[sqlx::test(migrations = "./migrations")]
async fn bad_input_is_a_clear_4xx_and_nothing_is_stored(pool: PgPool) {
    let app = app(pool).await;
    let photo = jpeg(800, 600);
    let truncated = &photo[..photo.len() * 3 / 10];
    let mut truncated_obs = observation("spot", json!(JUNCTION));
    truncated_obs["photo_sha256"] = json!([sha256_hex(&photo)]);
    let out_of_range = observation("spot", json!([220.0, 31.87]));
    let one_point_line = observation("section", json!([[120.55, 31.87]]));
    let mut unknown_hazard = observation("spot", json!(JUNCTION));
    unknown_hazard["hazard_types"] = json!(["dragons"]);
    let mut wrong_item = observation("spot", json!(JUNCTION));
    wrong_item["checklist"] = json!({"speed_bump": "missing"});
    let mut extra_field = observation("spot", json!(JUNCTION));
    extra_field["colour"] = json!("red");
    let ok = observation("spot", json!(JUNCTION));
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
    let heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic";

    let cases: Vec<(&str, common::Answer, u16, &str)> = vec![
        ("malformed JSON", app.upload_raw(b"{\"id\": \"not json", &[]).await, 400, "observation is not valid"),
        ("bad uuid", app.upload_raw(br#"{"id":"x"}"#, &[]).await, 400, "UUID"),
        ("unknown field", app.upload(&extra_field, &[]).await, 400, "unknown field `colour`"),
        ("out of range", app.upload(&out_of_range, &[]).await, 422, "out of range"),
        ("one-point line", app.upload(&one_point_line, &[]).await, 422, "at least 2 distinct positions"),
        ("unknown hazard", app.upload(&unknown_hazard, &[]).await, 422, "unknown codes dragons"),
        ("wrong checklist", app.upload(&wrong_item, &[]).await, 422, "not on the three_ones checklist"),
        ("non-image", app.upload(&ok, &[b"%PDF-1.7 not a photo"]).await, 415, "send JPEG (.jpg) or PNG (.png)"),
        ("GIF", app.upload(&ok, &[gif]).await, 415, "the file is GIF"),
        ("HEIC", app.upload(&ok, &[heic]).await, 415, "the file is HEIC/HEIF"),
        ("truncated, declared hash", app.upload(&truncated_obs, &[truncated]).await, 400, "cut short in transit"),
        ("truncated, no hash", app.upload(&ok, &[truncated]).await, 400, "truncated"),
        ("pixel flood", app.upload(&ok, &[&pixel_flood_png(100_000, 100_000)]).await, 422, "100000 × 100000 pixels"),
    ];

    for (what, answer, status, fragment) in cases {
        assert_eq!(answer.status, status, "{what}: {}", String::from_utf8_lossy(&answer.bytes));
        let detail = answer.detail();
        assert!(detail.contains(fragment), "{what}: {detail}");
    }
    assert_eq!(app.count("observation").await, 0);
    assert_eq!(app.count("site").await, 0);
    assert_eq!(app.count("photo").await, 0);
    assert_eq!(app.count("site_event").await, 0);
    assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());
}

#[sqlx::test(migrations = "./migrations")]
async fn requests_that_are_not_multipart_or_too_big_are_refused(pool: PgPool) {
    let settings = roadledger::http::Settings {
        photo_limits: roadledger::photos::PhotoLimits { bytes_max: 10_000, pixels_max: 50_000_000 },
        ..Default::default()
    };
    let app = common::app_with(pool, settings).await;
    let json_post = app
        .send(
            axum::http::Request::post("/api/v1/observations")
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{}"))
                .unwrap(),
        )
        .await;
    let too_big = app.upload(&observation("spot", json!(JUNCTION)), &[&jpeg(1000, 1000)]).await;
    let no_observation = app.upload_raw(b"", &[]).await;

    assert_eq!(json_post.status, 400);
    assert!(json_post.detail().contains("multipart/form-data"), "{}", json_post.detail());
    assert_eq!(too_big.status, 413);
    assert!(too_big.detail().contains("photo 1 is larger than the limit of 10000 bytes"), "{}", too_big.detail());
    assert_eq!(no_observation.status, 400);
    assert_eq!(app.count("observation").await, 0);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_author_may_correct_notes_and_hazard_types_within_the_window_and_it_is_recorded(pool: PgPool) {
    let app = app(pool).await;
    let obs = observation("spot", json!(JUNCTION));
    let id = obs["id"].as_str().unwrap().to_string();
    app.upload(&obs, &[]).await;
    let patch = |body: serde_json::Value| {
        axum::http::Request::patch(format!("/api/v1/observations/{id}"))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap()
    };

    let corrected = app.send(patch(json!({"notes": "弯道外侧无护栏", "hazard_types": ["sharp_curve"]}))).await;

    assert_eq!(corrected.status, 200, "{}", String::from_utf8_lossy(&corrected.bytes));
    let body = corrected.json();
    assert_eq!(body["observation"]["notes"], "弯道外侧无护栏");
    assert_eq!(body["site"]["properties"]["hazard_types"], json!(["sharp_curve"]));
    let (kind, data): (String, serde_json::Value) =
        sqlx::query_as("select kind, data from site_event where kind = 'observation_edited'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(kind, "observation_edited");
    assert_eq!(data["before"]["notes"], "");
    assert_eq!(data["after"]["hazard_types"], json!(["sharp_curve"]));

    // Place and time are evidence: not editable.
    let moved = app.send(patch(json!({"geometry": {"type": "Point", "coordinates": [120.0, 31.0]}}))).await;
    assert_eq!(moved.status, 400);
    assert!(moved.detail().contains("unknown field `geometry`"), "{}", moved.detail());

    // Another inspector may not; nor the author once the window has passed.
    let office = common::organisation(&app.pool, "city_office").await;
    let other = common::create_user(&app.pool, "li.na", "李娜", &["inspector"], office, common::DEFAULT_PASSWORD).await;
    let other_token = common::create_token(&app.pool, other).await;
    let mut by_other = patch(json!({"notes": "改"}));
    by_other.headers_mut().insert("authorization", format!("Bearer {other_token}").parse().unwrap());
    let refused = app.send(by_other).await;
    assert_eq!(refused.status, 403);
    assert!(refused.detail().contains("only the inspector who recorded"), "{}", refused.detail());
    sqlx::query("update observation set received_at = received_at - interval '25 hours'")
        .execute(&app.pool)
        .await
        .unwrap();
    let late = app.send(patch(json!({"notes": "改"}))).await;
    assert_eq!(late.status, 403);
    assert!(late.detail().contains("24 hours"), "{}", late.detail());
}
