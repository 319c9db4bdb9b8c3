//! Reading sites (bbox, filters, paging, detail), health, and the rules the database itself enforces.

use crate::common;

use common::{app, jpeg, observation};
use serde_json::{Value, json};
use sqlx::PgPool;

fn ids(collection: &Value) -> Vec<String> {
    let mut ids: Vec<String> = collection["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["code"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// Four sites: three intersections spread over the county and one section.
async fn seed(app: &common::TestApp) -> Vec<Value> {
    let mut answers = Vec::new();
    for (kind, coords) in [
        ("intersection", json!([120.40, 31.80])),
        ("intersection", json!([120.55, 31.87])),
        ("intersection", json!([120.75, 32.00])),
        ("section", json!([[120.551, 31.871], [120.556, 31.873]])),
    ] {
        let answer = app.upload(&observation(kind, coords), &[]).await;
        assert_eq!(answer.status, 201);
        answers.push(answer.json());
    }
    answers
}

#[sqlx::test(migrations = "./migrations")]
async fn the_bbox_selects_the_sites_inside_it(pool: PgPool) {
    let app = app(pool).await;
    let seeded = seed(&app).await;
    let code = |i: usize| seeded[i]["site"]["properties"]["code"].as_str().unwrap().to_string();

    let centre = app.get("/api/v1/sites?bbox=120.5,31.85,120.6,31.9").await;
    let all = app.get("/api/v1/sites?bbox=120.3,31.75,120.8,32.05").await;

    assert_eq!(centre.status, 200);
    assert_eq!(centre.headers["content-type"], "application/geo+json");
    let centre = centre.json();
    assert_eq!(centre["type"], "FeatureCollection");
    assert_eq!(ids(&centre), vec![code(1), code(3)]);
    assert_eq!(ids(&all.json()).len(), 4);
    let section = centre["features"].as_array().unwrap().iter().find(|f| f["properties"]["kind"] == "section").unwrap();
    assert_eq!(section["geometry"]["type"], "LineString");
    let props = &centre["features"][0]["properties"];
    for key in ["id", "kind", "status", "town", "road_code", "stake", "hazard_types", "checklist", "last_observed_at"] {
        assert!(props.get(key).is_some(), "missing property {key}: {props}");
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn filters_and_paging(pool: PgPool) {
    let app = app(pool).await;
    let seeded = seed(&app).await;
    sqlx::query("update site set status = 'closed' where id = $1::text::uuid")
        .bind(seeded[0]["site"]["id"].as_str().unwrap())
        .execute(&app.pool)
        .await
        .unwrap();

    let closed = app.get("/api/v1/sites?status=closed").await.json();
    let open_or_review = app.get("/api/v1/sites?status=reported,pending_review").await.json();
    let sections = app.get("/api/v1/sites?kind=section").await.json();

    assert_eq!(ids(&closed), vec![seeded[0]["site"]["properties"]["code"].as_str().unwrap()]);
    assert_eq!(ids(&open_or_review).len(), 3);
    assert_eq!(ids(&sections).len(), 1);

    // Two pages of two, then nothing left.
    let page1 = app.get("/api/v1/sites?limit=2").await.json();
    let after = page1["next_after"].as_str().unwrap().to_string();
    let page2 = app.get(&format!("/api/v1/sites?limit=2&after={after}")).await.json();
    assert_eq!(page2["next_after"], Value::Null);
    let mut all = ids(&page1);
    all.extend(ids(&page2));
    all.sort();
    assert_eq!(all.len(), 4);
    all.dedup();
    assert_eq!(all.len(), 4);
}

#[sqlx::test(migrations = "./migrations")]
async fn list_parameters_have_limits_and_clear_errors(pool: PgPool) {
    let app = app(pool).await;
    let cases = [
        ("/api/v1/sites?bbox=100,20,120,40", "the limit is 1"),
        ("/api/v1/sites?bbox=120.8,31.75,120.3,32.05", "minimum must be smaller"),
        ("/api/v1/sites?bbox=1,2,3", "four numbers"),
        ("/api/v1/sites?bbox=a,b,c,d", "not a number"),
        ("/api/v1/sites?limit=5001", "from 1 to 5000"),
        ("/api/v1/sites?limit=0", "from 1 to 5000"),
        ("/api/v1/sites?status=done", "unknown SiteStatus \"done\""),
        ("/api/v1/sites?kind=road", "accepted values: intersection, section, spot"),
        ("/api/v1/sites?after=yesterday", "next_after"),
        ("/api/v1/sites?colour=red", "unknown parameter \"colour\"; the parameters are town, status"),
        ("/api/v1/sites/not-a-uuid", "neither a site id (a UUID) nor a site code"),
        ("/api/v1/photos/abc", "64 hexadecimal digits"),
    ];
    for (uri, fragment) in cases {
        let answer = app.get(uri).await;
        assert_eq!(answer.status, 400, "{uri}");
        assert!(answer.detail().contains(fragment), "{uri}: {}", answer.detail());
    }
    let missing = app.get("/api/v1/sites/00000000-0000-4000-8000-000000000000").await;
    assert_eq!(missing.status, 404);
    let no_photo = app.get(&format!("/api/v1/photos/{}", "ab".repeat(32))).await;
    assert_eq!(no_photo.status, 404);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_site_in_detail_has_its_checklist_observations_photos_and_events(pool: PgPool) {
    let app = app(pool).await;
    let photo = jpeg(400, 300);
    let mut obs = observation("intersection", json!([120.55, 31.87]));
    obs["checklist"] = json!({"signal_light": "not_applicable", "speed_bump": "installed"});
    let created = app.upload(&obs, &[&photo]).await.json();
    let id = created["site"]["id"].as_str().unwrap();

    let detail = app.get(&format!("/api/v1/sites/{id}")).await;

    assert_eq!(detail.status, 200);
    let detail = detail.json();
    let props = &detail["properties"];
    assert_eq!(props["template"], "five_must_haves");
    assert_eq!(props["checklist"], "2/5");
    let items = props["checklist_items"].as_array().unwrap();
    let codes: Vec<&str> = items.iter().map(|i| i["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["warning_sign", "road_marking", "speed_bump", "warning_post", "signal_light"]);
    assert_eq!(items[0]["name"], "警告标志");
    assert_eq!(items[2]["state"], "installed");
    assert_eq!(items[4]["state"], "not_applicable");
    assert!(items[4]["reason"].as_str().is_some());
    let observation = &props["observations"][0];
    assert_eq!(observation["id"], obs["id"]);
    assert_eq!(observation["inspector"], "张伟");
    let photo_url = observation["photos"][0]["url"].as_str().unwrap();
    assert_eq!(app.get(photo_url).await.bytes, photo);
    assert_eq!(props["events"][0]["kind"], "opened");
    assert_eq!(props["events"][0]["actor"], "张伟");

    // Map tiles name a site by its code: the same site answers by it.
    let code = props["code"].as_str().unwrap();
    let by_code = app.get(&format!("/api/v1/sites/{code}")).await;
    assert_eq!(by_code.status, 200);
    assert_eq!(by_code.json(), detail);
    assert_eq!(app.get("/api/v1/sites/YH-999999").await.status, 404);
    let junk = app.get("/api/v1/sites/YH-12").await;
    assert_eq!(junk.status, 400);
    assert!(junk.detail().contains("site code"), "{}", junk.detail());

    let counts = app.get("/api/v1/sites/counts").await.json();
    assert_eq!(counts, json!({"total": 1, "by_status": {"reported": 1}, "overdue": 0, "filter": ""}));
}

#[sqlx::test(migrations = "./migrations")]
async fn site_events_are_append_only_in_the_database_itself(pool: PgPool) {
    let app = app(pool).await;
    app.upload(&observation("spot", json!([120.55, 31.87])), &[]).await;

    let update = sqlx::query("update site_event set actor = 'someone else'").execute(&app.pool).await;
    let delete = sqlx::query("delete from site_event").execute(&app.pool).await;
    let truncate = sqlx::query("truncate site_event cascade").execute(&app.pool).await;

    for (what, result) in [("update", update), ("delete", delete), ("truncate", truncate)] {
        let err = result.expect_err(what).to_string();
        assert!(err.contains("site_event is append-only"), "{what}: {err}");
    }
    let actor: String = sqlx::query_scalar("select actor from site_event").fetch_one(&app.pool).await.unwrap();
    assert_eq!(actor, "张伟");
}

#[sqlx::test(migrations = "./migrations")]
async fn the_schema_refuses_what_the_domain_forbids(pool: PgPool) {
    let app = app(pool).await;
    app.upload(&observation("spot", json!([120.55, 31.87])), &[]).await;
    let attempts = [
        ("update site set status = 'done'", "site_status_known"),
        (
            "update site set geom = st_setsrid(st_makeline(st_makepoint(120, 31), st_makepoint(121, 31)), 4326)",
            "site_geom_matches_kind",
        ),
        ("update site set status = 'duplicate'", "site_duplicate_has_target"),
        (
            "update site_checklist_item set state = 'not_applicable', reason = null",
            "site_checklist_item_not_applicable_has_reason",
        ),
        ("update site set route_code = 'K12'", "site_route_code_format"),
    ];
    for (sql, constraint) in attempts {
        let err = sqlx::query(sql).execute(&app.pool).await.expect_err(sql);
        let db_err = err.as_database_error().expect(sql);
        assert_eq!(db_err.constraint(), Some(constraint), "{sql}: {db_err}");
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn health_is_200_when_the_database_answers_and_503_when_it_does_not(pool: PgPool) {
    let app = app(pool.clone()).await;
    let healthy = app.get("/healthz").await;
    assert_eq!(healthy.status, 200);
    assert_eq!(healthy.json()["database"], "ok");

    pool.close().await;
    let unhealthy = app.get("/healthz").await;
    let list = app.get("/api/v1/sites").await;

    assert_eq!(unhealthy.status, 503);
    assert_eq!(list.status, 503);
    assert_eq!(list.headers["retry-after"], "5");
    assert!(list.detail().contains("database is not answering"));
}

#[sqlx::test(migrations = "./migrations")]
async fn reference_data_for_the_pages(pool: PgPool) {
    let app = app(pool).await;
    let templates = app.get("/api/v1/checklist-templates").await.json();
    let hazard_types = app.get("/api/v1/hazard-types").await.json();

    let five = templates.as_array().unwrap().iter().find(|t| t["code"] == "five_must_haves").unwrap();
    assert_eq!(five["name"], "五必上");
    assert_eq!(five["items"].as_array().unwrap().len(), 5);
    let three = templates.as_array().unwrap().iter().find(|t| t["code"] == "three_ones").unwrap();
    let three_codes: Vec<&str> =
        three["items"].as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap()).collect();
    assert_eq!(three_codes, ["line", "sign", "lamp"]);
    assert!(hazard_types.as_array().unwrap().iter().any(|h| h["code"] == "crop_drying" && h["name"] == "晒粮占道"));
    assert_eq!(app.get("/api/v1/towns").await.json()["features"], json!([]));
    assert_eq!(app.get("/api/v1/nothing-here").await.status, 404);
}

#[sqlx::test(migrations = "./migrations")]
async fn responses_are_compressed_as_the_client_accepts(pool: PgPool) {
    use axum::body::Body;
    use axum::http::Request;
    use std::io::Read;
    let app = app(pool).await;
    seed(&app).await;
    let get = |path: &str, encoding: Option<&str>| {
        let mut request = Request::get(path);
        if let Some(encoding) = encoding {
            request = request.header("accept-encoding", encoding);
        }
        app.send(request.body(Body::empty()).unwrap())
    };

    let plain = get("/api/v1/sites", None).await;
    assert_eq!(plain.status, 200);
    assert!(plain.headers.get("content-encoding").is_none());
    let zipped = get("/api/v1/sites", Some("gzip")).await;
    assert_eq!(zipped.headers["content-encoding"], "gzip");
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&zipped.bytes[..]).read_to_end(&mut unzipped).unwrap();
    assert_eq!(unzipped, plain.bytes);
    assert!(zipped.bytes.len() < plain.bytes.len());

    // Streamed exports too: the encoder polls the body once more after its end, which the stream must bear.
    for path in ["/api/v1/sites/export.geojson", "/api/v1/sites/export.kml"] {
        let plain = get(path, None).await;
        let zipped = get(path, Some("gzip")).await;
        assert_eq!(zipped.status, 200, "{path}");
        assert_eq!(zipped.headers["content-encoding"], "gzip", "{path}");
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&zipped.bytes[..]).read_to_end(&mut unzipped).unwrap();
        assert_eq!(unzipped, plain.bytes, "{path}");
    }

    // Pages and MapLibre too, with brotli when the browser prefers it.
    let script = get("/vendor/maplibre-gl/maplibre-gl.css", Some("br, gzip")).await;
    assert_eq!(script.status, 200);
    assert_eq!(script.headers["content-encoding"], "br");
    let page = get("/", Some("gzip")).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.headers["content-encoding"], "gzip");
    // Photos are JPEGs already: sent as they are.
    let photo = jpeg(64, 48);
    let answer = app.upload(&observation("spot", json!([120.61, 31.9])), &[&photo]).await;
    assert_eq!(answer.status, 201);
    let sha = common::sha256_hex(&photo);
    let stored = get(&format!("/api/v1/photos/{sha}"), Some("gzip")).await;
    assert_eq!(stored.status, 200);
    assert!(stored.headers.get("content-encoding").is_none());
}

/// Four sites for the filter tests, by letter, with their codes:
/// - A: spot in 杨舍镇, reported, overdue, hazard `missing_warning_sign`, major, from a hotline call, first
///   observed at the first instant of 2026-11-01 (county time);
/// - B: intersection in 杨舍镇, closed (past its deadline, but closed is never overdue), hazards
///   `worn_markings` and `missing_yield_control`, general, listed by the county, first observed at the last
///   second of 2026-11-30;
/// - C: section in 塘桥<&>镇 (a name that needs escaping), reported, relapsed twice, significant, from a drone,
///   first observed at the last second of 2026-10-31;
/// - D: spot in 塘桥<&>镇, reported, nothing else, first observed at the first instant of 2026-12-01.
async fn filter_seed(app: &common::TestApp) -> Vec<(char, String)> {
    common::county_office(app).await;
    app.add_town("320582101", TANGQIAO, [120.60, 31.84, 120.70, 31.90]).await;
    let mut sites = Vec::new();
    for (letter, kind, coords, update) in [
        (
            'A',
            "spot",
            json!([120.55, 31.87]),
            "hazard_types = '{missing_warning_sign}', hazard_level = 'major', deadline = '2020-01-01',
             source = 'hotline', first_observed_at = '2026-11-01 00:00:00+08'",
        ),
        (
            'B',
            "intersection",
            json!([120.52, 31.86]),
            "hazard_types = '{worn_markings,missing_yield_control}', hazard_level = 'general', status = 'closed',
             deadline = '2020-01-01', supervision_level = 'county', first_observed_at = '2026-11-30 23:59:59+08'",
        ),
        (
            'C',
            "section",
            json!([[120.65, 31.87], [120.655, 31.872]]),
            "relapse_count = 2, hazard_level = 'significant', source = 'drone',
             first_observed_at = '2026-10-31 23:59:59+08'",
        ),
        ('D', "spot", json!([120.68, 31.88]), "first_observed_at = '2026-12-01 00:00:00+08'"),
    ] {
        let answer = app.upload(&observation(kind, coords), &[]).await;
        assert_eq!(answer.status, 201, "{}", answer.detail());
        let site = &answer.json()["site"];
        sqlx::query(&format!("update site set {update} where id = $1::text::uuid"))
            .bind(site["id"].as_str().unwrap())
            .execute(&app.pool)
            .await
            .unwrap();
        sites.push((letter, site["properties"]["code"].as_str().unwrap().to_string()));
    }
    sites
}

const TANGQIAO: &str = "塘桥<&>镇";

/// The letters of the sites a list holds.
fn letters(sites: &[(char, String)], collection: &Value) -> String {
    let codes = ids(collection);
    sites.iter().filter(|(_, code)| codes.contains(code)).map(|(letter, _)| *letter).collect()
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.,=".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[sqlx::test(migrations = "./migrations")]
async fn each_filter_narrows_the_list_and_the_counts(pool: PgPool) {
    let app = app(pool).await;
    let sites = filter_seed(&app).await;
    let tangqiao = encode(TANGQIAO);
    let cases = [
        (String::new(), "ABCD"),
        ("town=320582100".into(), "AB"),
        (format!("town={tangqiao}"), "CD"),
        (format!("town={},320582100", encode("杨舍镇")), "AB"),
        (format!("town=320582100,{tangqiao}"), "ABCD"),
        ("status=closed".into(), "B"),
        ("status=reported,closed".into(), "ABCD"),
        ("kind=spot".into(), "AD"),
        ("kind=section,spot".into(), "ACD"),
        ("hazard_type=worn_markings".into(), "B"),
        ("hazard_type=missing_warning_sign,missing_yield_control".into(), "AB"),
        ("level=major,significant".into(), "AC"),
        ("overdue=true".into(), "A"),
        ("overdue=false".into(), "BCD"),
        ("supervised=true".into(), "B"),
        ("supervised=false".into(), "ACD"),
        ("relapsed=true".into(), "C"),
        ("relapsed=false".into(), "ABD"),
        // Inclusive county dates: the first instant of `from` and the last second of `to` are in.
        ("from=2026-11-01".into(), "ABD"),
        ("to=2026-11-30".into(), "ABC"),
        ("from=2026-11-01&to=2026-11-30".into(), "AB"),
        ("from=2026-11-30&to=2026-11-30".into(), "B"),
        ("from=2026-10-31&to=2026-10-31".into(), "C"),
        ("source=hotline,drone".into(), "AC"),
        ("source=patrol".into(), "BD"),
        ("town=320582100&kind=spot&overdue=true&level=major".into(), "A"),
        ("status=&town=&overdue=".into(), "ABCD"),
    ];
    for (query, expected) in cases {
        let list = app.get(&format!("/api/v1/sites?{query}")).await;
        assert_eq!(list.status, 200, "{query}: {}", list.detail());
        assert_eq!(letters(&sites, &list.json()), expected, "list ?{query}");

        let counts = app.get(&format!("/api/v1/sites/counts?{query}")).await;
        assert_eq!(counts.status, 200, "{query}: {}", counts.detail());
        let counts = counts.json();
        assert_eq!(counts["total"], expected.len(), "counts ?{query}: {counts}");
        let closed = usize::from(expected.contains('B'));
        let reported = expected.len() - closed;
        let mut by_status = serde_json::Map::new();
        if reported > 0 {
            by_status.insert("reported".into(), json!(reported));
        }
        if closed > 0 {
            by_status.insert("closed".into(), json!(closed));
        }
        assert_eq!(counts["by_status"], Value::Object(by_status), "counts ?{query}");
        assert_eq!(counts["overdue"], usize::from(expected.contains('A')), "counts ?{query}");
    }

    // The counts name their filter canonically: sorted, deduplicated, in a fixed order, encoded.
    let counts = app.get(&format!("/api/v1/sites/counts?status=reported,closed,reported&town={tangqiao}")).await;
    assert_eq!(
        counts.json()["filter"],
        format!("town={}&status=closed,reported", "%E5%A1%98%E6%A1%A5%3C%26%3E%E9%95%87")
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn bad_filter_values_are_400s_naming_the_parameter(pool: PgPool) {
    let app = app(pool).await;
    let towns = (0..51).map(|n| n.to_string()).collect::<Vec<_>>().join(",");
    let cases = [
        ("hazard_type=nope,worn_markings".to_string(), "hazard_type: unknown codes nope"),
        ("level=huge".into(), "level: unknown HazardLevel \"huge\""),
        ("overdue=yes".into(), "overdue: \"yes\" is neither true nor false"),
        ("supervised=1".into(), "supervised:"),
        ("relapsed=TRUE".into(), "relapsed:"),
        ("from=2026-13-01".into(), "from: \"2026-13-01\" is not a date"),
        ("to=yesterday".into(), "to: \"yesterday\" is not a date"),
        ("from=2026-12-02&to=2026-12-01".into(), "from: 2026-12-02 is after to=2026-12-01"),
        ("source=rumour".into(), "source: unknown source \"rumour\""),
        (format!("town={towns}"), "town: at most 50 values"),
        (format!("town={}", "x".repeat(65)), "town: "),
        ("kind=spot&kind=section".into(), "kind: given twice"),
        ("colour=red".into(), "colour: unknown parameter"),
    ];
    for path in ["/api/v1/sites", "/api/v1/sites/counts", "/api/v1/sites/export.geojson", "/api/v1/sites/export.kml"] {
        for (query, fragment) in &cases {
            let answer = app.get(&format!("{path}?{query}")).await;
            assert_eq!(answer.status, 400, "{path}?{query}");
            assert!(answer.detail().contains(fragment), "{path}?{query}: {}", answer.detail());
        }
    }
    // The legend counts the whole jurisdiction: no bbox there.
    let counts = app.get("/api/v1/sites/counts?bbox=120.5,31.8,120.6,31.9").await;
    assert_eq!(counts.status, 400);
    assert!(counts.detail().contains("unknown parameter \"bbox\""), "{}", counts.detail());
}

/// What a KML document holds: its placemarks' and folders' names, and the text of every `<value>`.
struct Kml {
    placemarks: Vec<String>,
    folders: Vec<String>,
    values: Vec<String>,
    points: usize,
    lines: usize,
}

/// Reads KML with an XML parser (which refuses text that is not well-formed XML).
fn read_kml(text: &str) -> Kml {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut kml = Kml { placemarks: vec![], folders: vec![], values: vec![], points: 0, lines: 0 };
    let mut path: Vec<String> = Vec::new();
    let mut buffer = String::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => {
                let name = e.name().as_ref().to_string();
                match name.as_str() {
                    "Point" => kml.points += 1,
                    "LineString" => kml.lines += 1,
                    _ => {}
                }
                path.push(name);
                buffer.clear();
            }
            Event::Text(t) => buffer.push_str(&t),
            Event::GeneralRef(r) => {
                let resolved = quick_xml::escape::resolve_predefined_entity(&r).expect("a predefined entity");
                buffer.push_str(resolved);
            }
            Event::End(_) => {
                let name = path.pop().unwrap();
                let parent = path.last().map(String::as_str);
                match (name.as_str(), parent) {
                    ("name", Some("Placemark")) => kml.placemarks.push(buffer.clone()),
                    ("name", Some("Folder")) => kml.folders.push(buffer.clone()),
                    ("value", _) => kml.values.push(buffer.clone()),
                    _ => {}
                }
                buffer.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(path.is_empty(), "every element closed");
    kml
}

#[sqlx::test(migrations = "./migrations")]
async fn exports_hold_the_filtered_sites_as_geojson_and_kml(pool: PgPool) {
    let app = app(pool).await;
    let sites = filter_seed(&app).await;
    let code = |letter: char| sites.iter().find(|(l, _)| *l == letter).unwrap().1.clone();

    // GeoJSON: a FeatureCollection of the filtered sites with the list's properties, as an attachment.
    let all = app.get("/api/v1/sites/export.geojson").await;
    assert_eq!(all.status, 200, "{}", all.detail());
    assert_eq!(all.headers["content-type"], "application/geo+json");
    // Named by the county's date (UTC+8).
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    assert_eq!(
        all.headers["content-disposition"],
        format!(
            "attachment; filename=\"roadledger-sites-{today}.geojson\"; filename*=UTF-8''roadledger-sites-{today}.geojson"
        )
    );
    let all = all.json();
    assert_eq!(all["type"], "FeatureCollection");
    assert_eq!(letters(&sites, &all), "ABCD");
    let listed = app.get("/api/v1/sites").await.json();
    let by_code = |collection: &Value, code: &str| {
        collection["features"].as_array().unwrap().iter().find(|f| f["properties"]["code"] == code).cloned().unwrap()
    };
    assert_eq!(by_code(&all, &code('C'))["properties"], by_code(&listed, &code('C'))["properties"]);

    let filtered = app.get("/api/v1/sites/export.geojson?kind=spot&town=320582101,320582100").await.json();
    assert_eq!(letters(&sites, &filtered), "AD");
    // The bbox may be larger than the list's 1 square degree.
    let wide = app.get("/api/v1/sites/export.geojson?bbox=110,25,125,35&relapsed=false").await;
    assert_eq!(wide.status, 200, "{}", wide.detail());
    assert_eq!(letters(&sites, &wide.json()), "ABD");
    let none = app.get("/api/v1/sites/export.geojson?bbox=100,20,101,21").await.json();
    assert_eq!(none["features"], json!([]));

    // KML: a folder per status, a placemark per site named by code, road and stake, text escaped, Chinese
    // intact; sections are lines.
    let kml = app.get("/api/v1/sites/export.kml").await;
    assert_eq!(kml.status, 200, "{}", kml.detail());
    assert_eq!(kml.headers["content-type"], "application/vnd.google-earth.kml+xml");
    assert_eq!(
        kml.headers["content-disposition"],
        format!("attachment; filename=\"roadledger-sites-{today}.kml\"; filename*=UTF-8''roadledger-sites-{today}.kml")
    );
    let text = String::from_utf8(kml.bytes.to_vec()).unwrap();
    assert!(text.contains("<Data name=\"town\"><value>塘桥&lt;&amp;&gt;镇</value></Data>"), "escaped as it should");
    let read = read_kml(&text);
    assert_eq!(read.placemarks.len(), 4);
    assert_eq!((read.points, read.lines), (3, 1));
    assert_eq!(read.folders, ["已上报 (reported)", "已销号 (closed)"]);
    for letter in ['A', 'B', 'C', 'D'] {
        assert!(read.placemarks.iter().any(|name| name.starts_with(&code(letter))), "{letter}: {:?}", read.placemarks);
    }
    assert_eq!(read.values.iter().filter(|v| *v == TANGQIAO).count(), 2, "{:?}", read.values);
    assert_eq!(read.values.iter().filter(|v| *v == "杨舍镇").count(), 2);
    assert!(text.contains("<Style id=\"status-reported\"><IconStyle><color>ff1f30d7</color>"));

    let kml = app.get(&format!("/api/v1/sites/export.kml?town={}", encode(TANGQIAO))).await;
    let read = read_kml(std::str::from_utf8(&kml.bytes).unwrap());
    assert_eq!(read.placemarks.len(), 2);
    assert_eq!(read.folders, ["已上报 (reported)"]);
    let empty = app.get("/api/v1/sites/export.kml?status=cancelled").await;
    let read = read_kml(std::str::from_utf8(&empty.bytes).unwrap());
    assert!(read.placemarks.is_empty() && read.folders.is_empty());
}

#[sqlx::test(migrations = "./migrations")]
async fn an_export_over_its_cap_is_refused_before_anything_is_sent(pool: PgPool) {
    let settings = roadledger::http::Settings { export_sites_max: 3, ..Default::default() };
    let app = common::app_with(pool, settings).await;
    let sites = filter_seed(&app).await;
    assert_eq!(sites.len(), 4);
    for path in ["/api/v1/sites/export.geojson", "/api/v1/sites/export.kml"] {
        let answer = app.get(path).await;
        assert_eq!(answer.status, 400, "{path}");
        assert!(
            answer.detail().contains("4 sites match; an export holds at most 3. Narrow the filter"),
            "{}",
            answer.detail()
        );
        // Narrowed, it goes through.
        assert_eq!(app.get(&format!("{path}?status=reported")).await.status, 200, "{path}");
    }
}
