//! What `GET /api/v1/settings` tells the map page about base maps and vendor files, and how MapLibre is served
//! under `/vendor/`: versioned and cached for good, unversioned and revalidated (src/http/vendor.rs).

use axum::body::Body;
use axum::http::Request;
use serde_json::json;
use sqlx::PgPool;

use crate::common::{self, app};
use roadledger::domain::coords::SourceCrs;
use roadledger::http::settings::{CustomBaseMap, parse_base_map};

/// MapLibre's version as `npm ci` installed it: what the versioned path must name.
fn maplibre_version() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/web/node_modules/maplibre-gl/package.json");
    let package: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    package["version"].as_str().unwrap().to_owned()
}

#[sqlx::test(migrations = "./migrations")]
async fn the_settings_list_the_base_maps_and_the_versioned_vendor_path(pool: PgPool) {
    let amap = "高德=https://webrd0{1-4}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8\
                &x={x}&y={y}&z={z},crs=gcj02";
    let settings = roadledger::http::Settings {
        tianditu_key: Some("0123456789abcdef0123456789abcdef".parse().unwrap()),
        base_maps: vec![
            parse_base_map(amap).unwrap(),
            CustomBaseMap {
                name: "OSM".into(),
                tiles: vec!["https://osm.example/{z}/{x}/{y}.png".into()],
                crs: SourceCrs::Wgs84,
            },
        ],
        ..Default::default()
    };
    let app = common::app_with(pool, settings).await;

    let answer = app.get("/api/v1/settings").await;

    assert_eq!(answer.status, 200);
    let s = answer.json();
    let maps = s["base_maps"].as_array().unwrap();
    let ids: Vec<_> = maps.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["tianditu_vec", "tianditu_img", "xyz1", "xyz2"]);
    let vec = &maps[0];
    assert_eq!(vec["name"], "天地图矢量");
    assert_eq!(vec["name_en"], "Tianditu vector");
    assert_eq!(vec["crs"], "wgs84");
    assert_eq!(vec["attribution"], "天地图");
    assert_eq!(vec["max_zoom"], 18);
    assert_eq!(vec["tiles"].as_array().unwrap().len(), 8);
    assert_eq!(
        vec["tiles"][7],
        "https://t7.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec&STYLE=default\
         &TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=0123456789abcdef0123456789abcdef"
    );
    assert_eq!(
        vec["overlay_tiles"][0],
        "https://t0.tianditu.gov.cn/cva_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=cva&STYLE=default\
         &TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=0123456789abcdef0123456789abcdef"
    );
    let img = &maps[1];
    assert_eq!((img["name"].as_str(), img["name_en"].as_str()), (Some("天地图影像"), Some("Tianditu imagery")));
    assert!(img["tiles"][0].as_str().unwrap().starts_with("https://t0.tianditu.gov.cn/img_w/wmts?"));
    assert!(img["overlay_tiles"][0].as_str().unwrap().starts_with("https://t0.tianditu.gov.cn/cia_w/wmts?"));
    assert!(img["overlay_tiles"][0].as_str().unwrap().contains("&LAYER=cia&"));
    assert_eq!(
        maps[2],
        json!({
            "id": "xyz1", "name": "高德", "name_en": "高德", "crs": "gcj02", "attribution": "高德", "max_zoom": 18,
            "overlay_tiles": [],
            "tiles": (1..=4).map(|n| format!(
                "https://webrd0{n}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={{x}}&y={{y}}&z={{z}}"
            )).collect::<Vec<_>>(),
        })
    );
    assert_eq!(maps[3]["crs"], "wgs84");
    assert_eq!(s["vendor"]["maplibre"], format!("/vendor/maplibre-gl@{}", maplibre_version()));
}

#[sqlx::test(migrations = "./migrations")]
async fn without_a_key_or_entries_there_are_no_base_maps(pool: PgPool) {
    let app = app(pool).await;

    let s = app.get("/api/v1/settings").await.json();

    assert_eq!(s["base_maps"], json!([]));
    assert_eq!(s["base_map_url"], json!(null));
}

/// An anonymous GET (vendor files are public: the sign-in page is drawn before anyone signs in).
async fn get(app: &common::TestApp, path: &str, headers: &[(&str, &str)]) -> common::Answer {
    let mut request = Request::get(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.send_as_is(request.body(Body::empty()).unwrap()).await
}

#[sqlx::test(migrations = "./migrations")]
async fn maplibre_is_cached_for_good_under_its_versioned_path(pool: PgPool) {
    let app = app(pool).await;
    let prefix = format!("/vendor/maplibre-gl@{}", maplibre_version());
    let on_disk = |name: &str| {
        std::fs::read(format!("{}/web/node_modules/maplibre-gl/dist/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    };

    for name in ["maplibre-gl.mjs", "maplibre-gl-worker.mjs", "maplibre-gl.css"] {
        let answer = get(&app, &format!("{prefix}/{name}"), &[]).await;

        assert_eq!(answer.status, 200, "{name}");
        assert_eq!(answer.headers["cache-control"], "public, max-age=31536000, immutable", "{name}");
        assert_eq!(answer.bytes, on_disk(name), "{name}");
    }
    // The worker as MapLibre asks for it (`?v=<version>`), compressed as the browser accepts.
    let worker = get(&app, &format!("{prefix}/maplibre-gl-worker.mjs?v=1"), &[("accept-encoding", "br")]).await;
    assert_eq!(worker.status, 200);
    assert_eq!(worker.headers["content-encoding"], "br");
    assert_eq!(worker.headers["cache-control"], "public, max-age=31536000, immutable");
    // A file that is not there is not kept for a year.
    let missing = get(&app, &format!("{prefix}/no-such-file.js"), &[]).await;
    assert_eq!(missing.status, 404);
    assert!(missing.headers.get("cache-control").is_none_or(|v| !v.to_str().unwrap().contains("immutable")));
    // Another version is not this one.
    assert_eq!(get(&app, "/vendor/maplibre-gl@0.0.1/maplibre-gl.mjs", &[]).await.status, 404);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_unversioned_module_is_a_small_revalidated_pointer_to_the_versioned_one(pool: PgPool) {
    let app = app(pool).await;
    let version = maplibre_version();

    let module = get(&app, "/vendor/maplibre-gl/maplibre-gl.mjs", &[]).await;

    assert_eq!(module.status, 200);
    assert_eq!(module.headers["cache-control"], "no-cache");
    assert!(module.headers["content-type"].to_str().unwrap().starts_with("text/javascript"));
    let text = String::from_utf8(module.bytes.clone()).unwrap();
    assert!(text.contains(&format!("export * from '/vendor/maplibre-gl@{version}/maplibre-gl.mjs';")), "{text}");
    assert!(text.len() < 300, "{text}");
    let etag = module.headers["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, format!("\"maplibre-gl@{version}\""));

    // Revalidation: a 304 without a body while the version is the same, the module again otherwise.
    let again = get(&app, "/vendor/maplibre-gl/maplibre-gl.mjs", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, 304);
    assert!(again.bytes.is_empty());
    assert_eq!(again.headers["etag"], etag.as_str());
    let weak =
        get(&app, "/vendor/maplibre-gl/maplibre-gl.mjs", &[("if-none-match", &format!("\"x\", W/{etag}"))]).await;
    assert_eq!(weak.status, 304);
    let stale = get(&app, "/vendor/maplibre-gl/maplibre-gl.mjs", &[("if-none-match", "\"maplibre-gl@0.0.1\"")]).await;
    assert_eq!(stale.status, 200);
    assert_eq!(stale.bytes, module.bytes);

    // The other unversioned files are the files themselves, revalidated (a 304 by date).
    let css = get(&app, "/vendor/maplibre-gl/maplibre-gl.css", &[]).await;
    assert_eq!(css.status, 200);
    assert_eq!(css.headers["cache-control"], "no-cache");
    let modified = css.headers["last-modified"].to_str().unwrap().to_owned();
    let css_again = get(&app, "/vendor/maplibre-gl/maplibre-gl.css", &[("if-modified-since", &modified)]).await;
    assert_eq!(css_again.status, 304);
    let worker = get(&app, "/vendor/maplibre-gl/maplibre-gl-worker.mjs", &[]).await;
    assert_eq!(worker.status, 200);
    assert_eq!(worker.headers["cache-control"], "no-cache");
}

/// The real binary says what is wrong with a base map flag and stops before it starts anything (the data
/// directory given does not exist and is never created).
#[test]
fn serve_refuses_a_bad_tianditu_key_or_base_map_at_start_up() {
    let missing = tempfile::tempdir().unwrap().path().join("never-created");
    let amap = "高德=https://webrd0{1-4}.is.autonavi.com/appmaptile?x={x}&y={y}&z={z},crs=gcj02";
    let twice = [amap, amap].join("\n");
    // (arguments, environment, what the message says)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 5] = [
        (&["--tianditu-key", "abc"], &[], "a Tianditu key is the 32 hexadecimal characters"),
        (&[], &[("ROADLEDGER_TIANDITU_KEY", "0123456789abcdef0123456789abcdeX")], "not all of them 0-9 or a-f"),
        (&["--base-map", "OSM=https://tile.example.org/{z}/{x}.png"], &[], "the URL has no {y}"),
        (&["--base-map-url", "ftp://tile.example.org/{z}/{x}/{y}.png"], &[], "--base-map-url: the URL must start"),
        (&[], &[("ROADLEDGER_BASE_MAPS", twice.as_str())], "two --base-map entries are named 高德"),
    ];
    for (args, env, why) in cases {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_roadledger"))
            .args(["serve", "--data-dir"])
            .arg(&missing)
            .args(args)
            .envs(env.iter().copied())
            .env_remove("DATABASE_URL")
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap();

        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} {env:?}: {stderr}");
        assert!(stderr.contains(why), "{args:?} {env:?}: {stderr}");
        assert!(!missing.exists(), "{args:?} {env:?} started something");
    }
}
