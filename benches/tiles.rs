//! Benchmark: the map's vector tiles over the shared deterministic 1 M-site dataset, in one run against
//! - **Martin** serving the same table (same geometry column, a similar set of properties), when `MARTIN`
//!   names its binary;
//! - the **SQL ceiling**: pgbench, 8 clients, running our own tile statement on the same tiles;
//! - our server with its tile cache off ("uncached") and on ("cached", after one warming pass).
//!
//! Every load is 8 connections for `TILE_BENCH_SECONDS` (default 20) per zoom band, cycling through the band's
//! tile list from `../shared/bench/tiles_z*.txt`, asking for gzip. Then the p99 of an empty tile while z10 load
//! runs (cheap tiles must not wait behind heavy ones).
//!
//! Run: `benches/tiles.sh` (a scratch cluster, the dataset, Martin if built), or by hand:
//! `DATABASE_URL=… MARTIN=… cargo bench --bench tiles` on a scratch database (it loads the dataset when the
//! database has fewer than 1 M sites; see docs/benchmarks.md).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use roadledger::db::tiles;
use roadledger::domain::site::SiteStatus;
use roadledger::http::{AppState, Settings, router};
use roadledger::photos::PhotoStore;

const CONNECTIONS: usize = 8;
/// A tile address, z/x/y.
type Tile = (u8, u32, u32);
/// A zoom band and its tiles.
type Band = (u8, Vec<Tile>);
const BANDS: [u8; 4] = [10, 12, 14, 16];
/// A tile no site is near (the Pacific at z16).
const EMPTY_TILE: Tile = (16, 60000, 30000);

#[tokio::main]
async fn main() {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        println!("set DATABASE_URL (a scratch database) to run this benchmark");
        return;
    };
    let seconds: u64 = std::env::var("TILE_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench");
    let pool = roadledger::db::connect(url.parse().unwrap()).await.unwrap();
    roadledger::db::MIGRATOR.run(&pool).await.unwrap();
    ensure_dataset(&pool, &url, &shared).await;
    let bands: Vec<Band> = BANDS.iter().map(|&z| (z, tile_list(&shared, z))).collect();
    store_tile_lists(&pool, &bands).await;
    // `TILE_BENCH_BANDS=14,16` measures those bands alone and stops there (for quick comparisons of a change).
    let only: Option<Vec<u8>> = std::env::var("TILE_BENCH_BANDS")
        .ok()
        .map(|list| list.split(',').filter_map(|z| z.trim().parse().ok()).collect());

    let token = common::bench_token(&pool, roadledger::domain::auth::Role::Leader).await;
    let dir = tempfile::tempdir().unwrap();
    let uncached = serve(&pool, dir.path(), 0).await;
    let cached = serve(&pool, dir.path(), roadledger::http::tiles::CACHE_BYTES_MAX).await;
    let martin = std::env::var_os("MARTIN").map(|bin| Martin::start(Path::new(&bin), &url));
    let client = reqwest::Client::builder().pool_max_idle_per_host(CONNECTIONS).build().unwrap();

    let sites: i64 = sqlx::query_scalar("select count(*) from site").fetch_one(&pool).await.unwrap();
    println!("{sites} sites; {CONNECTIONS} connections, {seconds} s per load, gzip asked for");
    println!(
        "{:<5} {:<16} {:>9} {:>9} {:>9} {:>10} {:>10}",
        "zoom", "server", "tiles/s", "p50 ms", "p99 ms", "avg KiB", "max KiB"
    );
    let duration = Duration::from_secs(seconds);
    for (z, list) in bands.iter().filter(|(z, _)| only.as_ref().is_none_or(|only| only.contains(z))) {
        let ours = |base: &str| -> Vec<String> {
            list.iter().map(|(z, x, y)| format!("{base}/tiles/sites/{z}/{x}/{y}.mvt")).collect()
        };
        if let Some(martin) = &martin {
            let urls: Vec<String> =
                list.iter().map(|(z, x, y)| format!("{}/site_bench/{z}/{x}/{y}", martin.base)).collect();
            report(&format!("z{z}"), "Martin", &load(&client, &urls, None, duration).await);
        }
        report(&format!("z{z}"), "ours, uncached", &load(&client, &ours(&uncached), Some(&token), duration).await);
        if let Some(tps) = pgbench_ceiling(&url, *z, list.len(), seconds) {
            println!("{:<5} {:<16} {:>9.1}", format!("z{z}"), "SQL ceiling", tps);
        }
        let warm = ours(&cached);
        load_once(&client, &warm, &token).await;
        report(&format!("z{z}"), "ours, cached", &load(&client, &warm, Some(&token), duration).await);
    }

    if only.is_some() {
        return;
    }

    // An empty tile's latency while z10 tiles are drawn (uncached) by 8 other connections.
    let z10: Vec<String> =
        bands[0].1.iter().map(|(z, x, y)| format!("{uncached}/tiles/sites/{z}/{x}/{y}.mvt")).collect();
    let (z, x, y) = EMPTY_TILE;
    let empty = vec![format!("{uncached}/tiles/sites/{z}/{x}/{y}.mvt")];
    let heavy = load(&client, &z10, Some(&token), duration);
    let light = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        load_with(&client, &empty, Some(&token), duration - Duration::from_secs(2), 1).await
    };
    let (heavy, light) = tokio::join!(heavy, light);
    report("z10", "z10 load", &heavy);
    report("z16", "empty, during", &light);

    // Mixed viewing at a steady pace (open loop: a request leaves every 1/MIX_RATE s whether or not the last
    // one has answered, so a slow answer cannot hide by holding the next one back), on the cached server as
    // users meet it: first alone, then while phones upload observations that change sites under the tiles.
    let mix = viewing_mix(&bands, &cached);
    load_once(&client, &mix, &token).await;
    report("mix", "quiet", &paced(&client, &mix, &token, MIX_RATE, duration).await);
    let inspector = common::bench_token(&pool, roadledger::domain::auth::Role::Inspector).await;
    // Uploads at a steady rate far above a county's (a province's busiest hour), then as fast as four phones
    // can send them back to back (a storm: every tile under a new site is drawn again on its next request).
    for (label, rate) in [("uploads 10/s", Some(UPLOAD_RATE)), ("upload storm", None)] {
        let (busy, uploads) = tokio::join!(
            paced(&client, &mix, &token, MIX_RATE, duration),
            upload_loop(&client, &cached, &inspector, duration, rate)
        );
        report("mix", &format!("with {label}"), &busy);
        println!(
            "{:<5} {:<16} {:>9.1} {:>9.1} {:>9.1}  (observations/s, {UPLOADERS} phones{})",
            "",
            "uploads",
            uploads.latencies.len() as f64 / uploads.elapsed.as_secs_f64(),
            percentile(&uploads.latencies, 0.5),
            percentile(&uploads.latencies, 0.99),
            if uploads.errors > 0 { format!(", {} errors", uploads.errors) } else { String::new() },
        );
    }

    // The map page's first render over the whole county in headless Chromium, when node and the page's
    // modules are there.
    for (server, label) in [(&uncached, " (tile cache off)"), (&cached, " (tile cache on)")] {
        if let Some(figures) = first_render(server, label, &pool).await {
            println!("{figures}");
        }
    }
}

/// Tile requests per second of the mixed viewing load.
const MIX_RATE: f64 = 50.0;
/// Phones uploading at once during the mixed load.
const UPLOADERS: usize = 4;
/// Observations per second of the steady upload load (36 000 an hour).
const UPLOAD_RATE: f64 = 10.0;

/// What map viewers ask for: each band's site tiles with the towns and roads of the same tile, the bands
/// interleaved (a viewer pans and zooms), in a fixed order.
fn viewing_mix(bands: &[Band], base: &str) -> Vec<String> {
    let longest = bands.iter().map(|(_, l)| l.len()).max().unwrap_or(0);
    let mut urls = Vec::new();
    for i in 0..longest {
        for (_, list) in bands {
            if let Some((z, x, y)) = list.get(i) {
                for layer in ["sites", "towns", "roads"] {
                    urls.push(format!("{base}/tiles/{layer}/{z}/{x}/{y}.mvt"));
                }
            }
        }
    }
    urls
}

fn percentile(latencies: &[Duration], p: f64) -> f64 {
    let mut l = latencies.to_vec();
    l.sort();
    l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1))).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Requests `urls` in turn at `rate` per second for `duration`, each on its own task.
async fn paced(client: &reqwest::Client, urls: &[String], token: &str, rate: f64, duration: Duration) -> Stats {
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut i = 0;
    while started.elapsed() < duration {
        ticker.tick().await;
        let request = client.get(&urls[i % urls.len()]).bearer_auth(token).header("accept-encoding", "gzip");
        i += 1;
        tasks.spawn(async move {
            let t = Instant::now();
            match request.send().await {
                Ok(response) if response.status().is_success() => {
                    response.bytes().await.ok().map(|b| (t.elapsed(), b.len()))
                }
                _ => None,
            }
        });
    }
    let mut out = Stats { latencies: Vec::new(), bytes: Vec::new(), elapsed: Duration::ZERO, errors: 0 };
    while let Some(done) = tasks.join_next().await {
        match done.unwrap() {
            Some((latency, bytes)) => {
                out.latencies.push(latency);
                out.bytes.push(bytes);
            }
            None => out.errors += 1,
        }
    }
    out.elapsed = started.elapsed();
    out
}

/// [`UPLOADERS`] phones sending observations (no photos) at points across the dataset's box, each opening or
/// joining a site, for `duration`: together `rate` a second, or back to back when None. Latencies are per
/// observation.
async fn upload_loop(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    duration: Duration,
    rate: Option<f64>,
) -> Stats {
    let started = Instant::now();
    let tasks: Vec<_> = (0..UPLOADERS)
        .map(|phone| {
            let (client, url, token) = (client.clone(), format!("{base}/api/v1/observations"), token.to_string());
            tokio::spawn(async move {
                let mut out = Stats { latencies: Vec::new(), bytes: Vec::new(), elapsed: Duration::ZERO, errors: 0 };
                // A fixed walk per phone (a linear congruential generator), so every run uploads the same points.
                let mut seed: u64 = 0x9e37_79b9_7f4a_7c15 ^ phone as u64;
                let mut next = || {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                    (seed >> 11) as f64 / (1u64 << 53) as f64
                };
                let mut ticker = rate.map(|r| tokio::time::interval(Duration::from_secs_f64(UPLOADERS as f64 / r)));
                while started.elapsed() < duration {
                    if let Some(ticker) = &mut ticker {
                        ticker.tick().await;
                    }
                    let (lon, lat) = (120.3 + 0.5 * next(), 31.75 + 0.3 * next());
                    let observation = serde_json::json!({
                        "id": uuid::Uuid::new_v4(), "kind": "spot",
                        "geometry": {"type": "Point", "coordinates": [lon, lat]},
                        "accuracy_m": 5.0, "observed_at": "2026-12-01T09:00:00+08:00",
                        "hazard_types": [], "checklist": {}, "notes": "",
                    });
                    let boundary = "bench-boundary-51c3";
                    let body = format!(
                        "--{boundary}\r\nContent-Disposition: form-data; name=\"observation\"\r\n\
                         Content-Type: application/json\r\n\r\n{observation}\r\n--{boundary}--\r\n"
                    );
                    let t = Instant::now();
                    let answer = client
                        .post(&url)
                        .bearer_auth(&token)
                        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
                        .body(body)
                        .send()
                        .await;
                    match answer {
                        Ok(response) if response.status().is_success() => out.latencies.push(t.elapsed()),
                        _ => out.errors += 1,
                    }
                }
                out
            })
        })
        .collect();
    gather(tasks, started).await
}

/// Runs `benches/map_render.mjs` against `base` as the bench leader: the map page opened on the whole
/// dataset in a fresh browser (see the script). None when node or the page's modules are missing.
async fn first_render(base: &str, label: &str, pool: &sqlx::PgPool) -> Option<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !root.join("web/node_modules/playwright-core").is_dir() {
        println!("(first render skipped: run `npm ci --prefix web` for playwright-core)");
        return None;
    }
    common::bench_token(pool, roadledger::domain::auth::Role::Leader).await; // makes sure the account exists
    let output = tokio::process::Command::new("node")
        .arg(root.join("benches/map_render.mjs"))
        .arg(base)
        .arg(label)
        .env("E2E_USER", "bench-leader")
        .env("E2E_PASSWORD", common::BENCH_PASSWORD)
        .current_dir(root)
        .output()
        .await
        .ok()?;
    if !output.status.success() {
        println!("(first render failed: {})", String::from_utf8_lossy(&output.stderr));
        return None;
    }
    Some(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Results of one load.
struct Stats {
    latencies: Vec<Duration>,
    bytes: Vec<usize>,
    elapsed: Duration,
    errors: usize,
}

fn report(band: &str, server: &str, s: &Stats) {
    let mut l = s.latencies.clone();
    l.sort();
    let pct =
        |p: f64| l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1))).copied().unwrap_or_default();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let avg = s.bytes.iter().sum::<usize>() as f64 / s.bytes.len().max(1) as f64 / 1024.0;
    let max = s.bytes.iter().max().copied().unwrap_or(0) as f64 / 1024.0;
    println!(
        "{:<5} {:<16} {:>9.1} {:>9.1} {:>9.1} {:>10.1} {:>10.1}{}",
        band,
        server,
        l.len() as f64 / s.elapsed.as_secs_f64(),
        ms(pct(0.5)),
        ms(pct(0.99)),
        avg,
        max,
        if s.errors > 0 { format!("  ({} errors)", s.errors) } else { String::new() }
    );
}

async fn load(client: &reqwest::Client, urls: &[String], token: Option<&str>, duration: Duration) -> Stats {
    load_with(client, urls, token, duration, CONNECTIONS).await
}

/// `connections` loops, each cycling through `urls` from its own offset, until `duration` has passed.
async fn load_with(
    client: &reqwest::Client,
    urls: &[String],
    token: Option<&str>,
    duration: Duration,
    connections: usize,
) -> Stats {
    let urls = Arc::new(urls.to_vec());
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let (client, urls, token) = (client.clone(), urls.clone(), token.map(str::to_string));
            tokio::spawn(async move {
                let mut out = Stats { latencies: Vec::new(), bytes: Vec::new(), elapsed: Duration::ZERO, errors: 0 };
                let mut i = c * urls.len() / connections.max(1);
                while started.elapsed() < duration {
                    let url = &urls[i % urls.len()];
                    i += 1;
                    let t = Instant::now();
                    let mut request = client.get(url).header("accept-encoding", "gzip");
                    if let Some(token) = &token {
                        request = request.bearer_auth(token);
                    }
                    match request.send().await {
                        Ok(response) if response.status().is_success() => {
                            let body = response.bytes().await.map(|b| b.len()).unwrap_or(0);
                            out.latencies.push(t.elapsed());
                            out.bytes.push(body);
                        }
                        _ => out.errors += 1,
                    }
                }
                out
            })
        })
        .collect();
    gather(tasks, started).await
}

/// The loads' results together, over the time since `started`.
async fn gather(tasks: Vec<tokio::task::JoinHandle<Stats>>, started: Instant) -> Stats {
    let mut all = Stats { latencies: Vec::new(), bytes: Vec::new(), elapsed: Duration::ZERO, errors: 0 };
    for task in tasks {
        let s = task.await.unwrap();
        all.latencies.extend(s.latencies);
        all.bytes.extend(s.bytes);
        all.errors += s.errors;
    }
    all.elapsed = started.elapsed();
    all
}

async fn load_once(client: &reqwest::Client, urls: &[String], token: &str) {
    for url in urls {
        client.get(url).bearer_auth(token).header("accept-encoding", "gzip").send().await.unwrap();
    }
}

async fn serve(pool: &sqlx::PgPool, photo_dir: &Path, tile_cache_bytes: usize) -> String {
    let photos = PhotoStore::local(photo_dir).unwrap();
    let settings = Settings { tile_cache_bytes, ..Settings::default() };
    let app = router(AppState { pool: pool.clone(), replica: None, photos, settings: Arc::new(settings) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn tile_list(shared: &Path, z: u8) -> Vec<Tile> {
    let text = std::fs::read_to_string(shared.join(format!("tiles_z{z}.txt"))).unwrap();
    text.lines()
        .filter_map(|line| {
            let mut parts = line.trim().trim_start_matches("/site/").split('/');
            Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
        })
        .collect()
}

/// The shared recipe's sites in our schema: the same geometries in the same order; its kinds mapped to ours
/// (lines are sections, "intersection" points intersections, the other points spots), "draft" as reported,
/// and deadlines and levels spread deterministically.
async fn ensure_dataset(pool: &sqlx::PgPool, url: &str, shared: &Path) {
    let sites: i64 = sqlx::query_scalar("select count(*) from site").fetch_one(pool).await.unwrap();
    if sites >= 1_000_000 {
        return;
    }
    println!("loading the 1 M-site dataset (a few minutes)…");
    let started = Instant::now();
    // The recipe drops and creates a bare `site`: a placeholder in the schema searched first makes its
    // `drop table site` find that one, not ours.
    sqlx::raw_sql("create schema if not exists recipe; create table if not exists recipe.site ()")
        .execute(pool)
        .await
        .unwrap();
    let status = Command::new("psql")
        .arg(url)
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-o", "/dev/null", "-f"])
        .arg(shared.join("sites-1m.sql"))
        .env("PGOPTIONS", "-c search_path=recipe,public")
        .stderr(Stdio::inherit())
        .status()
        .expect("psql runs");
    assert!(status.success(), "the recipe failed");
    sqlx::raw_sql(include_str!("recipe_into_site.sql")).execute(pool).await.unwrap();
    // On its own: VACUUM cannot run inside the implicit transaction of several statements.
    sqlx::query("vacuum analyze site").execute(pool).await.unwrap();
    println!("loaded in {:.0} s", started.elapsed().as_secs_f64());
}

async fn store_tile_lists(pool: &sqlx::PgPool, bands: &[Band]) {
    // With each tile's key ranges, which the server computes per request and pgbench reads from here.
    sqlx::raw_sql(
        "drop table if exists bench_tile;
         create table bench_tile (z int, n int, x int, y int, lows int8[], highs int8[])",
    )
    .execute(pool)
    .await
    .unwrap();
    for (z, list) in bands {
        for (n, (_, x, y)) in list.iter().enumerate() {
            let (lows, highs) = tiles::key_ranges(tiles::TileId::new(*z, *x, *y).unwrap());
            sqlx::query("insert into bench_tile values ($1, $2, $3, $4, $5, $6)")
                .bind(i32::from(*z))
                .bind(n as i32 + 1)
                .bind(*x as i32)
                .bind(*y as i32)
                .bind(lows)
                .bind(highs)
                .execute(pool)
                .await
                .unwrap();
        }
    }
}

/// pgbench, 8 clients, running the server's own statement for this band on random tiles of the list;
/// answers transactions per second (one tile each, plus a lookup of its address by primary key-sized table).
fn pgbench_ceiling(url: &str, z: u8, tiles: usize, seconds: u64) -> Option<f64> {
    // What the server runs for a leader's unfiltered tile: from z13 the keyed site statement (the tile's key
    // ranges read from `bench_tile`); below it, the sum of the grid counts for every site (`db::site_cells`).
    let sql = if z >= tiles::FEATURE_ZOOM {
        let open = format!("'{{{}}}'::text[]", SiteStatus::open_codes().join(","));
        let this = "from bench_tile where z = :z and n = :n";
        tiles::keyed_statement()
            .replace("$6", &open)
            .replace("$5", &format!("(select highs {this})"))
            .replace("$4", &format!("(select lows {this})"))
            .replace("$3", ":y")
            .replace("$2", ":x")
            .replace("$1", ":z")
    } else {
        roadledger::db::site_cells::statement()
            .replace("$4", "null::int")
            .replace("$3", ":y")
            .replace("$2", ":x")
            .replace("$1", ":z")
    };
    let script = format!(
        "\\set n random(1, {tiles})\nselect z, x, y from bench_tile where z = {z} and n = :n \\gset\n{};\n",
        // One line for pgbench: comments dropped first, or they would swallow the rest of the statement.
        sql.lines()
            .map(|l| l.split("--").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join(" ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    );
    let file = tempfile::NamedTempFile::new().ok()?;
    std::fs::write(file.path(), script).ok()?;
    let out = Command::new("pgbench")
        .args(["-n", "-c", "8", "-j", "2", "-T", &seconds.to_string(), "-f"])
        .arg(file.path())
        .arg(url)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        eprintln!("pgbench failed: {}{}", text, String::from_utf8_lossy(&out.stderr));
        return None;
    }
    text.lines().find(|l| l.starts_with("tps = ")).and_then(|l| l[6..].split_whitespace().next()?.parse().ok())
}

/// Martin on the same database and table: the Mercator geometry column our tiles use and the properties a
/// map colours and labels by. Its own tile cache is off.
struct Martin {
    child: std::process::Child,
    base: String,
    _config: PathBuf,
}

impl Martin {
    fn start(bin: &Path, url: &str) -> Martin {
        let config = std::env::temp_dir().join(format!("roadledger-martin-{}.yaml", std::process::id()));
        std::fs::write(
            &config,
            format!(
                "listen_addresses: '127.0.0.1:3999'
cache_size_mb: 0
postgres:
  connection_string: '{url}'
  auto_publish: false
  tables:
    site_bench:
      schema: public
      table: site
      srid: 3857
      geometry_column: geom_3857
      geometry_type: GEOMETRY
      properties:
        code: text
        kind: text
        status: text
        hazard_level: text
"
            ),
        )
        .unwrap();
        let child =
            Command::new(bin).arg("--config").arg(&config).stdout(Stdio::null()).spawn().expect("martin starts");
        let base = "http://127.0.0.1:3999".to_string();
        for _ in 0..100 {
            if std::net::TcpStream::connect("127.0.0.1:3999").is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Martin { child, base, _config: config }
    }
}

impl Drop for Martin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self._config);
    }
}
