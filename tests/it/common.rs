//! Test support: the real router over a real (per-test) PostGIS database and a real photo directory,
//! request builders, and real image files made on the spot.
#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use roadledger::domain::site_detail::SiteDetail;
use roadledger::http::{AppState, Settings, router};
use roadledger::photos::PhotoStore;
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt;
use uuid::Uuid;

pub struct TestApp {
    pub router: Router,
    pub pool: PgPool,
    pub photo_dir: tempfile::TempDir,
    /// API token of the default account, inspector 张伟 (`zhangwei`) of the city office, which `send` uses
    /// unless the request carries its own credentials.
    pub token: String,
}

/// The real router on this test's database, with a photo directory of its own and a signed-in inspector.
pub async fn app(pool: PgPool) -> TestApp {
    app_with(pool, Settings::default()).await
}

pub async fn app_with(pool: PgPool, settings: Settings) -> TestApp {
    let photo_dir = tempfile::tempdir().unwrap();
    let photos = PhotoStore::local(photo_dir.path()).unwrap();
    app_on(pool, settings, photo_dir, photos).await
}

/// The real router with the given photo store (e.g. S3); its `photo_dir` stays empty.
pub async fn app_with_store(pool: PgPool, photos: PhotoStore) -> TestApp {
    app_on(pool, Settings::default(), tempfile::tempdir().unwrap(), photos).await
}

async fn app_on(pool: PgPool, mut settings: Settings, photo_dir: tempfile::TempDir, photos: PhotoStore) -> TestApp {
    // Server errors are logged once, in the error type; show them in a failing test's output.
    let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter("roadledger=warn").try_init();
    // The repository's pages, unless a test serves its own copy.
    if settings.web_dir == std::path::Path::new("web") {
        settings.web_dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("web");
    }
    let router = router(AppState { pool: pool.clone(), replica: None, photos, settings: Arc::new(settings) });
    let city_office = organisation(&pool, "city_office").await;
    let user = create_user(&pool, "zhangwei", "张伟", &["inspector"], city_office, DEFAULT_PASSWORD).await;
    let token = create_token(&pool, user).await;
    TestApp { router, pool, photo_dir, token }
}

/// The password every test account gets.
pub const DEFAULT_PASSWORD: &str = "correct horse battery staple";

/// The first organisation of a kind (migrations create the city office).
pub async fn organisation(pool: &PgPool, kind: &str) -> i32 {
    sqlx::query_scalar("select id from organisation where kind = $1 order by id limit 1")
        .bind(kind)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("no {kind} organisation: {e}"))
}

pub async fn add_organisation(pool: &PgPool, name: &str, kind: &str, town_id: Option<i32>) -> i32 {
    sqlx::query_scalar("insert into organisation (name, kind, town_id) values ($1, $2, $3) returning id")
        .bind(name)
        .bind(kind)
        .bind(town_id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Creates an account through the same code the admin API uses (Argon2id hash included).
pub async fn create_user(
    pool: &PgPool,
    name: &str,
    display_name: &str,
    roles: &[&str],
    organisation_id: i32,
    password: &str,
) -> Uuid {
    let roles =
        roadledger::domain::auth::parse_roles(&roles.iter().map(|r| r.to_string()).collect::<Vec<_>>()).unwrap();
    let hash = roadledger::secrets::hash_password(password).unwrap();
    let new =
        roadledger::db::accounts::NewUser { name, display_name, organisation_id, roles: &roles, password_hash: &hash };
    match roadledger::db::accounts::create_user(pool, &new).await.unwrap() {
        roadledger::db::accounts::CreateOutcome::Created(id) => id,
        _ => panic!("cannot create user {name}"),
    }
}

pub async fn create_token(pool: &PgPool, user_id: Uuid) -> String {
    let token = roadledger::secrets::random_token("rl_");
    roadledger::db::accounts::create_token(pool, user_id, "test", &token, None).await.unwrap();
    token
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.bytes)))
    }

    /// The body of a site answer (`GET /api/v1/sites/{id}`, an action's answer) as the typed `SiteDetail`,
    /// checking on the way that the type holds every field of the body, unchanged.
    pub fn site_detail(&self) -> SiteDetail {
        let body = self.json();
        let detail: SiteDetail = serde_json::from_value(body.clone())
            .unwrap_or_else(|e| panic!("not a SiteDetail ({e}): {}", String::from_utf8_lossy(&self.bytes)));
        assert_eq!(serde_json::to_value(&detail).unwrap(), body, "SiteDetail loses or changes a field");
        detail
    }

    /// The `detail` of a problem+json answer.
    pub fn detail(&self) -> String {
        assert_eq!(
            self.headers.get("content-type").map(|v| v.to_str().unwrap()),
            Some("application/problem+json"),
            "{}",
            String::from_utf8_lossy(&self.bytes)
        );
        self.json()["detail"].as_str().unwrap().to_string()
    }
}

impl TestApp {
    /// Sends a request as the default inspector, unless it carries its own `Authorization` or `Cookie`.
    pub async fn send(&self, mut request: Request<Body>) -> Answer {
        let headers = request.headers_mut();
        if !headers.contains_key("authorization") && !headers.contains_key("cookie") {
            headers.insert("authorization", format!("Bearer {}", self.token).parse().unwrap());
        }
        self.send_as_is(request).await
    }

    /// Sends a request exactly as given (no credentials added).
    pub async fn send_as_is(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        Answer { status, headers, bytes }
    }

    pub async fn get(&self, uri: &str) -> Answer {
        self.send(Request::get(uri).body(Body::empty()).unwrap()).await
    }

    /// `POST /api/v1/observations` with the JSON part and photo parts.
    pub async fn upload(&self, observation: &Value, photos: &[&[u8]]) -> Answer {
        self.upload_raw(observation.to_string().as_bytes(), photos).await
    }

    pub async fn upload_raw(&self, observation: &[u8], photos: &[&[u8]]) -> Answer {
        let (content_type, body) = multipart(observation, photos);
        let request =
            Request::post("/api/v1/observations").header("content-type", content_type).body(Body::from(body)).unwrap();
        self.send(request).await
    }

    pub async fn count(&self, table: &str) -> i64 {
        // Test-only: `table` is a literal from the test code.
        sqlx::query_scalar(&format!("select count(*) from {table}")).fetch_one(&self.pool).await.unwrap()
    }

    /// Every file in the photo store.
    pub fn stored_files(&self) -> Vec<std::path::PathBuf> {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() { walk(&path, out) } else { out.push(path) }
            }
        }
        let mut out = Vec::new();
        walk(self.photo_dir.path(), &mut out);
        out
    }

    /// Adds a town whose boundary is the given rectangle (lon/lat degrees).
    pub async fn add_town(&self, admin_code: &str, name: &str, [minx, miny, maxx, maxy]: [f64; 4]) {
        sqlx::query(
            "insert into town (admin_code, name, boundary)
             values ($1, $2, st_multi(st_makeenvelope($3, $4, $5, $6, 4326)))",
        )
        .bind(admin_code)
        .bind(name)
        .bind(minx)
        .bind(miny)
        .bind(maxx)
        .bind(maxy)
        .execute(&self.pool)
        .await
        .unwrap();
    }
}

pub fn multipart(observation: &[u8], photos: &[&[u8]]) -> (String, Vec<u8>) {
    let boundary = "----roadledger-test-boundary-7c1f";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"observation\"\r\n\
             Content-Type: application/json\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(observation);
    body.extend_from_slice(b"\r\n");
    for (i, photo) in photos.iter().enumerate() {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p{i}.jpg\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(photo);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// An observation as a phone sends it; change fields with `obs["field"] = …`.
pub fn observation(kind: &str, coordinates: Value) -> Value {
    let geometry = if kind == "section" {
        json!({"type": "LineString", "coordinates": coordinates})
    } else {
        json!({"type": "Point", "coordinates": coordinates})
    };
    json!({
        "id": Uuid::new_v4(),
        "kind": kind,
        "geometry": geometry,
        "accuracy_m": 6.5,
        "observed_at": "2026-11-30T09:15:00+08:00",
        "hazard_types": [],
        "checklist": {},
        "notes": "",
    })
}

/// Moves a point `north_m` metres north (on a 6 371 008.8 m sphere; good to millimetres over 100 m).
pub fn north_of([lon, lat]: [f64; 2], north_m: f64) -> [f64; 2] {
    [lon, lat + (north_m / 6_371_008.8).to_degrees()]
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A real JPEG of a gradient (enough detail that it is not trivially small).
pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 255 / width.max(1)) as u8, (y * 255 / height.max(1)) as u8, ((x ^ y) % 256) as u8])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 88).encode_image(&img).unwrap();
    out
}

/// EXIF facts to write into a test JPEG.
pub struct ExifSpec {
    pub lon: f64,
    pub lat: f64,
    pub direction_deg: f64,
    pub taken_at: &'static str,
    pub orientation: u16,
}

/// Degrees as EXIF writes a GPS latitude or longitude: degrees, minutes and seconds (to 1/10 000 s).
fn exif_dms(deg: f64) -> exif::Value {
    use exif::Rational;
    let d = deg.trunc();
    let m = ((deg - d) * 60.0).trunc();
    let s = ((deg - d) * 60.0 - m) * 60.0;
    exif::Value::Rational(vec![
        Rational::from((d as u32, 1)),
        Rational::from((m as u32, 1)),
        Rational::from(((s * 10_000.0).round() as u32, 10_000)),
    ])
}

/// A JPEG with an APP1 EXIF segment carrying GPS position, direction, time and orientation, as a phone
/// camera writes it.
pub fn jpeg_with_exif(width: u32, height: u32, spec: &ExifSpec) -> Vec<u8> {
    use exif::{Field, In, Rational, Tag, Value};
    let dms = exif_dms;
    let field = |tag, value| Field { tag, ifd_num: In::PRIMARY, value };
    let fields = [
        field(Tag::Orientation, Value::Short(vec![spec.orientation])),
        field(Tag::DateTimeOriginal, Value::Ascii(vec![spec.taken_at.as_bytes().to_vec()])),
        field(Tag::GPSLatitudeRef, Value::Ascii(vec![b"N".to_vec()])),
        field(Tag::GPSLatitude, dms(spec.lat)),
        field(Tag::GPSLongitudeRef, Value::Ascii(vec![b"E".to_vec()])),
        field(Tag::GPSLongitude, dms(spec.lon)),
        field(Tag::GPSImgDirection, Value::Rational(vec![Rational::from(((spec.direction_deg * 100.0) as u32, 100))])),
    ];
    let mut writer = exif::experimental::Writer::new();
    for f in &fields {
        writer.push_field(f);
    }
    let mut tiff = std::io::Cursor::new(Vec::new());
    writer.write(&mut tiff, false).unwrap();
    let tiff = tiff.into_inner();

    let plain = jpeg(width, height);
    // SOI, then APP1 "Exif\0\0" + TIFF, then the rest of the encoded file.
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&((tiff.len() + 8) as u16).to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(&tiff);
    out.extend_from_slice(&plain[2..]);
    out
}

/// A PNG whose header claims `width` × `height` pixels but whose data is a few bytes: a decompression bomb
/// as far as any decoder that trusts the header is concerned.
pub fn pixel_flood_png(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    }
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter, no interlace
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    // zlib header, one final stored block of 4 zero bytes, Adler-32 of them.
    chunk(&mut out, b"IDAT", &[0x78, 0x01, 0x01, 0x04, 0x00, 0xFB, 0xFF, 0, 0, 0, 0, 0x00, 0x04, 0x00, 0x01]);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// Serves the app on a real loopback port (for browsers and HTTP clients); returns its base URL.
pub async fn serve(app: &TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// The people of one county office around 杨舍镇, each with an API token: the city office's dispatcher, the
/// town officer, an officer of a responsible unit and the traffic police's reviewer.
pub struct CountyOffice {
    pub town_id: i32,
    pub unit_id: i32,
    pub dispatcher: String,
    pub unit_officer: String,
    pub town_officer: String,
    pub reviewer: String,
}

/// 杨舍镇 as the tests draw it: a rectangle in lon/lat degrees.
pub const YANGSHE: [f64; 4] = [120.50, 31.84, 120.60, 31.90];

/// Adds 杨舍镇 and its county office: the organisations and one account per part of the lifecycle.
pub async fn county_office(app: &TestApp) -> CountyOffice {
    app.add_town("320582100", "杨舍镇", YANGSHE).await;
    let town_id: i32 =
        sqlx::query_scalar("select id from town where admin_code = '320582100'").fetch_one(&app.pool).await.unwrap();
    let city = organisation(&app.pool, "city_office").await;
    let town_org = add_organisation(&app.pool, "杨舍镇人民政府", "town", Some(town_id)).await;
    let unit_id = add_organisation(&app.pool, "农村公路管理处", "responsible_unit", None).await;
    let police = add_organisation(&app.pool, "交警大队", "police_brigade", None).await;
    let token =
        async |name: &str, display: &str, role: &str, org: i32| token_for(&app.pool, name, display, role, org).await;
    CountyOffice {
        town_id,
        unit_id,
        dispatcher: token("disp", "赵调度", "dispatcher", city).await,
        unit_officer: token("unit", "钱整改", "unit_officer", unit_id).await,
        town_officer: token("town", "孙区镇", "town_officer", town_org).await,
        reviewer: token("review", "李验收", "reviewer", police).await,
    }
}

/// A new account with one role and its API token.
pub async fn token_for(pool: &PgPool, name: &str, display_name: &str, role: &str, organisation_id: i32) -> String {
    let id = create_user(pool, name, display_name, &[role], organisation_id, DEFAULT_PASSWORD).await;
    create_token(pool, id).await
}

impl TestApp {
    /// `GET /api/v1/sites/{site}` with someone's token.
    pub async fn site_as(&self, token: &str, site: &str) -> Answer {
        let request = Request::get(format!("/api/v1/sites/{site}"))
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        self.send(request).await
    }

    /// A lifecycle action with the given `If-Match` (none: the request goes without).
    pub async fn act_with(&self, token: &str, site: &str, body: &Value, if_match: Option<&str>) -> Answer {
        let mut request = Request::post(format!("/api/v1/sites/{site}/actions"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json");
        if let Some(etag) = if_match {
            request = request.header("if-match", etag);
        }
        self.send(request.body(Body::from(body.to_string())).unwrap()).await
    }

    /// A lifecycle action after reading the site's ETag, as a page does.
    pub async fn act(&self, token: &str, site: &str, body: &Value) -> Answer {
        let etag = self.site_as(token, site).await.headers["etag"].to_str().unwrap().to_string();
        self.act_with(token, site, body, Some(&etag)).await
    }

    /// Checklist evidence: the `evidence` JSON, one after-photo, and a night photo when asked.
    pub async fn evidence_as(&self, token: &str, site: &str, item: &str, evidence: &Value, night: bool) -> Answer {
        let after = jpeg(640, 480);
        let dark = jpeg(200, 150);
        let mut photos: Vec<(&str, &[u8])> = vec![("photo", &after)];
        if night {
            photos.push(("night_photo", &dark));
        }
        let boundary = "evidence-boundary";
        let mut body =
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"evidence\"\r\n\r\n{evidence}\r\n")
                .into_bytes();
        for (name, bytes) in photos {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"p.jpg\"\r\n\r\n")
                    .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        // Like every change of a site, evidence is recorded against the version its author saw.
        let etag = self.site_as(token, site).await.headers.get("etag").map(|v| v.to_str().unwrap().to_owned());
        let request = Request::post(format!("/api/v1/sites/{site}/items/{item}/evidence"))
            .header("authorization", format!("Bearer {token}"))
            .header("if-match", etag.unwrap_or_else(|| "\"v0\"".into()))
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }
}

/// A camera-like photo: sky and road gradients with texture at several scales and a little sensor noise, so
/// it compresses as a real 12 MP photo does (megabytes at quality 92), not as a flat test card.
pub fn camera_photo(width: u32, height: u32, seed: u32) -> Vec<u8> {
    // A repeatable hash noise in 0..256 (no RNG dependency; `seed` makes photos differ).
    let hash = |x: u32, y: u32, s: u32| {
        let mut h = x.wrapping_mul(374_761_393) ^ y.wrapping_mul(668_265_263) ^ s.wrapping_mul(2_246_822_519);
        h = (h ^ (h >> 13)).wrapping_mul(1_274_126_177);
        (h ^ (h >> 16)) & 0xFF
    };
    // Value noise on a lattice of `cell` pixels, bilinear between lattice points: texture of that size.
    let smooth = |x: u32, y: u32, cell: u32, s: u32| {
        let (gx, gy) = (x / cell, y / cell);
        let (fx, fy) = ((x % cell) as f32 / cell as f32, (y % cell) as f32 / cell as f32);
        let v = |dx, dy| hash(gx + dx, gy + dy, s) as f32;
        let top = v(0, 0) * (1.0 - fx) + v(1, 0) * fx;
        let bottom = v(0, 1) * (1.0 - fx) + v(1, 1) * fx;
        top * (1.0 - fy) + bottom * fy - 128.0
    };
    let horizon = height * 2 / 5;
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        let texture = 0.25 * smooth(x, y, 64, seed) + 0.18 * smooth(x, y, 9, seed + 1);
        let grain = (hash(x, y, seed + 2) as f32 - 128.0) / 16.0;
        let (r, g, b) = if y < horizon {
            let t = y as f32 / horizon as f32;
            (110.0 + 60.0 * t, 150.0 + 50.0 * t, 220.0 - 20.0 * t)
        } else {
            let t = (y - horizon) as f32 / (height - horizon) as f32;
            (95.0 + 40.0 * t, 100.0 + 30.0 * t, 90.0 + 25.0 * t)
        };
        let px = |c: f32| (c + texture + grain).clamp(0.0, 255.0) as u8;
        image::Rgb([px(r), px(g), px(b)])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92).encode_image(&img).unwrap();
    out
}

/// What a phone camera writes into a photo's EXIF: make and model (HUAWEI ELS-AN00), `orientation`, the local
/// time it was taken (China time, with its offset), where (`[lon, lat]`, degrees-minutes-seconds) and which
/// way (135.5°). For [`with_exif`].
pub fn camera_exif([lon, lat]: [f64; 2], orientation: u16, taken: chrono::NaiveDateTime) -> Vec<exif::Field> {
    use exif::{Field, In, Rational, Tag, Value};
    let dms = exif_dms;
    let ascii = |s: &str| Value::Ascii(vec![s.as_bytes().to_vec()]);
    let field = |tag, value| Field { tag, ifd_num: In::PRIMARY, value };
    vec![
        field(Tag::Make, ascii("HUAWEI")),
        field(Tag::Model, ascii("ELS-AN00")),
        field(Tag::Orientation, Value::Short(vec![orientation])),
        field(Tag::DateTimeOriginal, ascii(&taken.format("%Y:%m:%d %H:%M:%S").to_string())),
        field(Tag::OffsetTimeOriginal, ascii("+08:00")),
        field(Tag::GPSLatitudeRef, ascii("N")),
        field(Tag::GPSLatitude, dms(lat)),
        field(Tag::GPSLongitudeRef, ascii("E")),
        field(Tag::GPSLongitude, dms(lon)),
        field(Tag::GPSImgDirection, Value::Rational(vec![Rational::from((13_550, 100))])),
    ]
}

/// China time `minutes` ago, as a camera's clock writes it (local, no offset).
pub fn china_minutes_ago(minutes: i64) -> chrono::NaiveDateTime {
    let china = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    (chrono::Utc::now().with_timezone(&china) - chrono::Duration::minutes(minutes)).naive_local()
}

/// Puts an APP1 EXIF segment with `fields` right after a JPEG's SOI marker, as a camera writes it (TIFF
/// big-endian, "MM").
pub fn with_exif(jpeg: &[u8], fields: &[exif::Field]) -> Vec<u8> {
    with_exif_in(jpeg, fields, false)
}

/// [`with_exif`] with the TIFF byte order chosen: little-endian ("II") as most phones write it, or big.
pub fn with_exif_in(jpeg: &[u8], fields: &[exif::Field], little_endian: bool) -> Vec<u8> {
    let mut writer = exif::experimental::Writer::new();
    for f in fields {
        writer.push_field(f);
    }
    let mut tiff = std::io::Cursor::new(Vec::new());
    writer.write(&mut tiff, little_endian).unwrap();
    let tiff = tiff.into_inner();
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&u16::try_from(tiff.len() + 8).unwrap().to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(&tiff);
    out.extend_from_slice(&jpeg[2..]);
    out
}

impl TestApp {
    /// A file import's multipart request (`POST uri` with a `file` part named `file_name` and text parts), as
    /// `token`'s account.
    pub async fn upload_file_as(
        &self,
        token: &str,
        uri: &str,
        file_name: &str,
        file: &[u8],
        parts: &[(&str, &str)],
    ) -> Answer {
        let boundary = "----file-import-test";
        let mut body = Vec::new();
        for (name, value) in parts {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
                 Content-Type: text/csv\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let request = Request::post(uri)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }
}

/// This test's own database, as a URL for the binary (the commands' tests run it against the test's data).
pub fn database_url(pool: &PgPool) -> String {
    let mut url = reqwest::Url::parse(&std::env::var("DATABASE_URL").expect("DATABASE_URL")).unwrap();
    url.set_path(pool.connect_options().get_database().unwrap());
    url.to_string()
}

/// `roadledger import KIND FILE EXTRA…` (the real binary) on this test's database.
pub fn import_command(pool: &PgPool, kind: &str, file: &std::path::Path, extra: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_roadledger"))
        .args(["import", kind])
        .arg(file)
        .args(extra)
        .env("DATABASE_URL", database_url(pool))
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}
