//! The README's "Setting up a real county", command by command, with the real binary on an empty database:
//! towns, roads, organisations, the first accounts; then a town officer sees only their town's sites.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::observation;
use serde_json::json;
use sqlx::PgPool;

const BIN: &str = env!("CARGO_BIN_EXE_roadledger");

/// This test's own database, as a URL for the binary.
fn database_url(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let database = pool.connect_options().get_database().expect("a database name").to_owned();
    let (scheme, rest) = base.split_once("://").unwrap();
    let path_at = rest.find('/').unwrap_or(rest.len());
    let query = rest.find('?').map_or("", |q| &rest[q..]);
    format!("{scheme}://{}/{database}{query}", &rest[..path_at])
}

fn roadledger(url: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DATABASE_URL", url)
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    if let Some(text) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn ok(output: Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

#[sqlx::test]
async fn the_readme_guide_sets_up_a_county_from_an_empty_database(pool: PgPool) {
    let url = database_url(&pool);
    assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/county/organisations.csv").exists());

    let dry = ok(roadledger(&url, &["import", "towns", "tests/data/county/towns.geojson", "--dry-run"], None));
    assert!(dry.contains("would insert 3") && dry.contains("dry run, nothing written"), "{dry}");
    let towns: i64 = sqlx::query_scalar("select count(*) from town").fetch_one(&pool).await.unwrap();
    assert_eq!(towns, 0);
    let imported = ok(roadledger(&url, &["import", "towns", "tests/data/county/towns.geojson"], None));
    assert!(imported.contains("inserted 3") && imported.contains("recorded"), "{imported}");
    let roads = ok(roadledger(&url, &["import", "roads", "tests/data/county/roads-gbk", "--json"], None));
    let report: serde_json::Value = serde_json::from_str(&roads).unwrap();
    assert_eq!((report["inserted"].as_u64(), report["applied"].as_bool()), (Some(8), Some(true)), "{report:#}");
    ok(roadledger(&url, &["import", "organisations", "tests/data/county/organisations.csv"], None));
    // `org add --town` names a town that was imported.
    ok(roadledger(&url, &["org", "add", "--name", "塘桥镇交安办", "--kind", "town", "--town", "320582101"], None));
    ok(roadledger(
        &url,
        &[
            "user",
            "add",
            "--name",
            "admin",
            "--display-name",
            "管理员",
            "--role",
            "admin",
            "--org",
            "市交安办",
            "--password-stdin",
        ],
        Some("Admin-Pass-2026-county\n"),
    ));
    ok(roadledger(
        &url,
        &[
            "user",
            "add",
            "--name",
            "yangshe",
            "--display-name",
            "杨舍镇交安办",
            "--role",
            "town_officer",
            "--org",
            "杨舍镇人民政府",
            "--password-stdin",
        ],
        Some("Officer-Pass-2026-town\n"),
    ));
    let token = ok(roadledger(&url, &["token", "create", "--user", "yangshe"], None)).trim().to_owned();

    // A file with a problem fails the command, says what is wrong, and changes nothing.
    let broken = roadledger(&url, &["import", "roads", "tests/data/county/towns.geojson"], None);
    assert!(!broken.status.success());
    let said = String::from_utf8_lossy(&broken.stdout);
    assert!(said.contains("problem: feature 1") && said.contains("expected LineString or MultiLineString"), "{said}");

    // Sites recorded now get their town, road and stake; the town officer sees only 杨舍镇's.
    let app = common::app(pool.clone()).await;
    for at in [[120.53, 31.85], [120.60, 31.85]] {
        assert_eq!(app.upload(&observation("intersection", json!(at)), &[]).await.status, StatusCode::CREATED);
    }
    let request = Request::get("/api/v1/sites?bbox=120.4,31.7,120.8,32.0")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let seen = app.send(request).await.json();
    let towns: Vec<&str> =
        seen["features"].as_array().unwrap().iter().map(|f| f["properties"]["town"].as_str().unwrap()).collect();
    assert_eq!(towns, ["杨舍镇"]);
    let imports: Vec<String> =
        sqlx::query_scalar("select kind from place_import order by id").fetch_all(&pool).await.unwrap();
    assert_eq!(imports, ["towns", "roads", "organisations"]);
}
