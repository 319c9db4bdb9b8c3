//! The read replica (`--database-replica-url`) on a real hot standby: a primary cluster, a standby made by
//! `pg_basebackup -R` streaming from it, and the router with both pools. Which server answered a read is read
//! from the servers themselves (`pg_stat_activity`: the last statement of each connection), not from our own
//! counters alone.

use std::process::Command;
use std::time::{Duration, Instant};

use axum::response::IntoResponse;
use mvt_reader::feature::Value as Mvt;
use roadledger::db::{self, Replica};
use roadledger::embedded_pg::{EmbeddedPg, client_program};
use roadledger::http::{AppState, Settings, router};
use roadledger::metrics::METRICS;
use roadledger::photos::PhotoStore;
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgPool};

use crate::common::{self, TestApp, jpeg, observation};
use crate::tiles::tile_of;

/// A cluster in a temporary directory, stopped when dropped.
struct Cluster {
    pg: Option<EmbeddedPg>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn pg(&self) -> &EmbeddedPg {
        self.pg.as_ref().expect("the cluster is running")
    }

    fn stop(&mut self) {
        if let Some(pg) = self.pg.take() {
            pg.stop().unwrap();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(pg) = self.pg.take() {
            let _ = pg.stop();
        }
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// A PostgreSQL program, as the `postgres` user when we are root (the server's files are that user's).
fn pg_program(program: &str) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(client_program(program));
        command
    } else {
        Command::new(client_program(program))
    }
}

/// A directory the `postgres` user can reach (tempdir makes it 0700).
fn reachable_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    dir
}

/// The unix socket directory of a cluster, from its URL (`…?host=/tmp/roadledger-…`).
fn socket_dir(pg: &EmbeddedPg) -> String {
    pg.url().split("host=").nth(1).unwrap().to_string()
}

/// A primary, and a hot standby of it streaming over the primary's unix socket.
fn primary_and_standby() -> (Cluster, Cluster) {
    let primary_dir = reachable_tempdir();
    let primary = EmbeddedPg::start(primary_dir.path()).unwrap();
    let primary = Cluster { pg: Some(primary), _dir: primary_dir };

    // The standby's data directory, made by pg_basebackup from the running primary, with `-R`: the
    // primary_conninfo and standby.signal that make it a standby of it.
    let standby_dir = reachable_tempdir();
    let pg_data = standby_dir.path().join("pg");
    std::fs::create_dir(&pg_data).unwrap();
    std::fs::set_permissions(&pg_data, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    if is_root() {
        assert!(Command::new("chown").arg("postgres:postgres").arg(&pg_data).status().unwrap().success());
    }
    let output = pg_program("pg_basebackup")
        .args(["-R", "-X", "stream", "--checkpoint=fast", "-U", "roadledger", "-h"])
        .arg(socket_dir(primary.pg()))
        .arg("-D")
        .arg(&pg_data)
        .output()
        .unwrap();
    assert!(output.status.success(), "pg_basebackup: {}", String::from_utf8_lossy(&output.stderr));
    assert!(pg_data.join("standby.signal").exists());
    // The embedded cluster's start: not fresh (no initdb), its own socket directory.
    let standby = EmbeddedPg::start(standby_dir.path()).unwrap();
    assert_ne!(socket_dir(&standby), socket_dir(primary.pg()));
    (primary, Cluster { pg: Some(standby), _dir: standby_dir })
}

async fn pool(pg: &EmbeddedPg) -> PgPool {
    PgPoolOptions::new().max_connections(4).connect_with(pg.connect_options()).await.unwrap()
}

/// Waits until `standby` has replayed everything `primary` has written.
async fn caught_up(primary: &PgPool, standby: &PgPool) {
    let target: String = sqlx::query_scalar("select pg_current_wal_lsn()::text").fetch_one(primary).await.unwrap();
    let start = Instant::now();
    loop {
        let replayed: bool = sqlx::query_scalar("select pg_last_wal_replay_lsn() >= $1::text::pg_lsn")
            .bind(&target)
            .fetch_one(standby)
            .await
            .unwrap();
        if replayed {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "the standby did not replay to {target} in 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The last statement of every client connection to the roadledger database of `server`, but this one.
async fn last_statements(server: &EmbeddedPg) -> Vec<String> {
    let mut conn = sqlx::PgConnection::connect_with(&server.connect_options()).await.unwrap();
    sqlx::query_scalar(
        "select query from pg_stat_activity
         where datname = current_database() and backend_type = 'client backend' and pid <> pg_backend_pid()",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

async fn ran_on(server: &EmbeddedPg, marker: &str) -> bool {
    last_statements(server).await.iter().any(|q| q.contains(marker))
}

/// The statuses of the sites of one tile.
async fn tile_statuses(app: &TestApp, path: &str) -> Vec<String> {
    let answer = app.get(path).await;
    assert_eq!(answer.status, 200, "{path}: {}", String::from_utf8_lossy(&answer.bytes));
    statuses(&answer)
}

fn statuses(answer: &common::Answer) -> Vec<String> {
    if answer.bytes.is_empty() {
        return Vec::new();
    }
    let reader = mvt_reader::Reader::new(answer.bytes.clone()).expect("a vector tile");
    reader
        .get_features(0)
        .unwrap()
        .into_iter()
        .map(|f| match f.properties.unwrap_or_default().get("status") {
            Some(Mvt::String(s)) => s.clone(),
            other => panic!("status is {other:?}"),
        })
        .collect()
}

/// Asks for the paths in turn, after the replica has caught up, until one is answered by the replica
/// (`roadledger_replica_reads_total` grows): on a busy machine the standby may take longer than the 50 ms a
/// read waits for it, and then the primary answers. Tiles are drawn once and then cached, so each try is
/// another tile.
async fn on_replica(app: &TestApp, primary: &PgPool, replica: &PgPool, paths: &[String]) -> common::Answer {
    for n in 0..3 {
        caught_up(primary, replica).await;
        let before = METRICS.replica_reads.get();
        let answer = app.get(&paths[n.min(paths.len() - 1)]).await;
        assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.bytes));
        if METRICS.replica_reads.get() > before {
            return answer;
        }
        tokio::time::sleep(roadledger::db::replica::BEHIND_REST).await;
    }
    panic!("the replica answered none of {paths:?}");
}

async fn replica_status(replica: &PgPool, site: &str) -> String {
    sqlx::query_scalar("select status from site where id = $1::uuid").bind(site).fetch_one(replica).await.unwrap()
}

#[tokio::test]
async fn the_replica_serves_the_map_and_exports_never_stale_never_written_and_never_needed() {
    let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter("roadledger=warn").try_init();
    let (primary, mut standby) = tokio::task::spawn_blocking(primary_and_standby).await.unwrap();
    let primary_pool = pool(primary.pg()).await;
    // Set up for replication as configured, not by luck: WAL for a standby, senders, and a replication entry
    // for the local socket.
    let wal_level: String = sqlx::query_scalar("show wal_level").fetch_one(&primary_pool).await.unwrap();
    assert_eq!(wal_level, "replica");
    let replication_rules: i64 = sqlx::query_scalar(
        "select count(*) from pg_hba_file_rules where type = 'local' and 'replication' = any(database)",
    )
    .fetch_one(&primary_pool)
    .await
    .unwrap();
    assert!(replication_rules > 0);
    let start = Instant::now();
    loop {
        let streaming: i64 = sqlx::query_scalar("select count(*) from pg_stat_replication where state = 'streaming'")
            .fetch_one(&primary_pool)
            .await
            .unwrap();
        if streaming == 1 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "the standby is not streaming after 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    db::MIGRATOR.run(&primary_pool).await.unwrap();
    let replica_pool = pool(standby.pg()).await;
    caught_up(&primary_pool, &replica_pool).await;
    let in_recovery: bool = sqlx::query_scalar("select pg_is_in_recovery()").fetch_one(&replica_pool).await.unwrap();
    assert!(in_recovery, "the standby is a standby");

    // The test app's accounts, then its router with both pools.
    let mut app = common::app(primary_pool.clone()).await;
    let office = common::county_office(&app).await;
    let state = AppState {
        pool: primary_pool.clone(),
        replica: None,
        photos: PhotoStore::local(app.photo_dir.path()).unwrap(),
        settings: std::sync::Arc::new(Settings::default()),
    };
    app.router = router(state.with_replica(Replica::connect_lazy(standby.pg().connect_options())));
    // /readyz names the replica's state (and opens the pool's first connection to it).
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200);
    assert!(ready.json()["replica"].as_str().unwrap().starts_with("streaming"), "{}", ready.json());

    // Writes go to the primary: on the standby each would fail ("cannot execute INSERT in a read-only
    // transaction"), and so would the answer.
    let at = [120.55, 31.87];
    let created = app.upload(&observation("spot", json!(at)), &[&jpeg(320, 240)]).await;
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.bytes));
    let site = created.json()["site"]["id"].as_str().unwrap().to_string();
    let (x, y) = tile_of(at, 16);
    let tile = format!("/tiles/sites/16/{x}/{y}.mvt");

    // The map's reads go to the replica once it has caught up: a tile (the first tile request also starts the
    // change log's prune on the primary, so a towns tile goes first), the legend's counts, the GIS export.
    // Each shows the new site, and its statement ran on the replica.
    let (tx, ty) = tile_of(at, 12);
    assert_eq!(app.get(&format!("/tiles/towns/12/{tx}/{ty}.mvt")).await.status, 200);
    let (x15, y15) = tile_of(at, 15);
    let (x17, y17) = tile_of(at, 17);
    let tiles = [tile.clone(), format!("/tiles/sites/15/{x15}/{y15}.mvt"), format!("/tiles/sites/17/{x17}/{y17}.mvt")];
    let drawn = on_replica(&app, &primary_pool, &replica_pool, &tiles).await;
    assert_eq!(statuses(&drawn), ["reported"]);
    assert!(ran_on(standby.pg(), "st_asmvt").await, "the tile was drawn on the replica");

    let counts = on_replica(&app, &primary_pool, &replica_pool, &["/api/v1/sites/counts".into()]).await;
    assert_eq!(counts.json()["by_status"]["reported"], 1);
    // (pg_stat_activity keeps a statement's first 1 KB: the markers are at the start.)
    assert!(ran_on(standby.pg(), "select s.status, count(*), count(*) filter").await, "the legend was counted there");
    let export = on_replica(&app, &primary_pool, &replica_pool, &["/api/v1/sites/export.geojson".into()]).await;
    assert_eq!(export.json()["features"].as_array().unwrap().len(), 1);
    assert!(
        ran_on(standby.pg(), "select s.id, json_build_object('type', 'Feature'").await,
        "the export was read there"
    );

    // A status move followed at once by its tile: the move shows (the read waited for the replica to replay
    // it, or went to the primary).
    assert_eq!(app.act(&office.dispatcher, &site, &json!({"action": "verify"})).await.status, 200);
    assert_eq!(tile_statuses(&app, &tile).await, ["verified"]);

    // A replica that cannot keep up: replay paused, so the standby still has the site verified while the
    // primary moves it on. The map shows the move anyway, from the primary, and says why in /metrics.
    caught_up(&primary_pool, &replica_pool).await;
    sqlx::query("select pg_wal_replay_pause()").execute(&replica_pool).await.unwrap();
    let start = Instant::now();
    while sqlx::query_scalar::<_, String>("select pg_get_wal_replay_pause_state()")
        .fetch_one(&replica_pool)
        .await
        .unwrap()
        != "paused"
    {
        assert!(start.elapsed() < Duration::from_secs(10), "replay did not pause");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let behind = METRICS.replica_fallback_behind.get();
    let dispatch = json!({"action": "dispatch", "responsible_unit_id": office.unit_id, "hazard_level": "general"});
    let dispatched = app.act(&office.dispatcher, &site, &dispatch).await;
    assert_eq!(dispatched.status, 200, "{}", String::from_utf8_lossy(&dispatched.bytes));
    let now = dispatched.site_detail().properties.status.as_str().to_string();
    assert_ne!(now, "verified");
    assert_eq!(replica_status(&replica_pool, &site).await, "verified", "the replica is behind");
    assert_eq!(tile_statuses(&app, &tile).await, [now.as_str()]);
    let counts = app.get("/api/v1/sites/counts").await.json();
    assert_eq!(counts["by_status"][&now], 1, "{counts}");
    assert!(METRICS.replica_fallback_behind.get() >= behind + 2);

    // Caught up again: the replica answers again, with the move. (A replica found behind is left alone a
    // moment, so that every read does not wait for it: `on_replica` waits that long between tries.)
    sqlx::query("select pg_wal_replay_resume()").execute(&replica_pool).await.unwrap();
    tokio::time::sleep(roadledger::db::replica::BEHIND_REST).await;
    let counts = on_replica(&app, &primary_pool, &replica_pool, &["/api/v1/sites/counts".into()]).await.json();
    assert_eq!(counts["by_status"][&now], 1, "{counts}");
    assert_eq!(replica_status(&replica_pool, &site).await, now);

    // A write sent to the replica by mistake fails there, and the error is a 503 to the client, not a 500.
    let refused = sqlx::query("update site set status = status")
        .execute(&replica_pool)
        .await
        .expect_err("a hot standby refuses writes");
    let code = refused.as_database_error().and_then(|e| e.code()).map(|c| c.to_string());
    assert_eq!(code.as_deref(), Some("25006"), "{refused}");
    assert_eq!(roadledger::http::Error::from(refused).into_response().status(), 503);
    replica_pool.close().await;

    // The replica stopped: the map, the legend and the export answer from the primary; /readyz stays ready
    // and says why the replica is not used; /metrics counts the fallbacks.
    let down = METRICS.replica_fallback_down.get();
    standby.stop();
    // The tile above is cached (and checked on the primary); a tile not drawn yet needs a drawing.
    assert_eq!(tile_statuses(&app, &tile).await, [now.as_str()]);
    let (x, y) = tile_of(at, 14);
    assert_eq!(tile_statuses(&app, &format!("/tiles/sites/14/{x}/{y}.mvt")).await, [now.as_str()]);
    let counts = app.get("/api/v1/sites/counts").await;
    assert_eq!(counts.status, 200);
    assert_eq!(counts.json()["by_status"][&now], 1);
    assert_eq!(app.get("/api/v1/sites/export.geojson").await.status, 200);
    assert!(METRICS.replica_fallback_down.get() >= down + 3);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.json());
    assert_eq!(ready.json()["database"], "ok");
    let said = ready.json()["replica"].as_str().unwrap().to_string();
    assert!(said.ends_with("reads go to the primary"), "{said}");
    let exposition = roadledger::metrics::render(&roadledger::metrics::Snapshot {
        pool_size: 0,
        pool_idle: 0,
        pool_max: 0,
        queues: [("pdf_render", 0, 1), ("ledger_export", 0, 1), ("site_export", 0, 1)],
    });
    assert!(exposition.contains("roadledger_replica_up 0"), "{exposition}");
    assert!(exposition.contains("roadledger_replica_fallbacks_total{reason=\"down\"}"));
    // And writes go on.
    let again = app.upload(&observation("spot", json!([120.56, 31.88])), &[&jpeg(320, 240)]).await;
    assert_eq!(again.status, 201);
}
