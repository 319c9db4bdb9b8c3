//! Benchmark: importing 100 000 crash records from a police export (CSV, Chinese headers, a personal column).
//!
//! Prints, on one scratch database, against a baseline in the same run:
//! - baseline: PostgreSQL `COPY` of the same 100 000 rows as CSV text into a scratch table of text columns
//!   (no parsing, no checks, no geometry, no key): the floor any import through PostgreSQL stands on;
//! - `import::crashes::import` of the file into an empty `crash` table (read, decode, check every row, place
//!   by coordinates or by road + stake, town from the boundaries, nearest road within 30 m, insert with the
//!   stable key), a dry run of it, and the same file again (every row already stored).
//!
//! Run: `DATABASE_URL=<a scratch database> cargo bench --bench crash_import` (see docs/benchmarks.md). The
//! database is migrated; its crashes and crash imports are deleted before each timed run.

use std::time::Instant;

use roadledger::import::crashes::{self, CrashImportOptions};
use sqlx::postgres::PgPoolOptions;

const ROWS: usize = 100_000;

/// A deterministic export: four in five rows with coordinates in the town, one in five by road + stake.
fn police_export() -> Vec<u8> {
    let types = ["追尾", "正面相撞", "侧面相撞", "刮擦", "单车", "碰撞行人", "碰撞非机动车"];
    let vehicles = ["小型轿车,电动自行车", "货车", "三轮车、农用车", "摩托车", "面包车/小型轿车"];
    let weather = ["晴", "阴", "小雨", "雾", "雪"];
    let light = ["白天", "夜间有路灯照明", "夜间无路灯照明", "黎明", "黄昏"];
    let mut out = String::from(
        "\u{feff}事故编号,事故时间,经度,纬度,路线编码,桩号,当事人姓名,死亡人数,重伤人数,轻伤人数,事故形态,车辆类型,天气,照明,事故地点\n",
    );
    let mut seed: u64 = 0x2026_1207;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..ROWS {
        let r = next();
        let (day, minute) = (r % 1000, (r >> 10) % 1440);
        let date = chrono::NaiveDate::from_ymd_opt(2023, 1, 1).unwrap() + chrono::Duration::days(day as i64);
        let time = format!("{date} {:02}:{:02}", minute / 60, minute % 60);
        let place = if i % 5 == 4 {
            format!(",,X202,K{}+{:03}", (r >> 20) % 9, (r >> 30) % 1000)
        } else {
            let lon = 120.50 + ((r >> 20) % 100_000) as f64 / 1e6;
            let lat = 31.84 + ((r >> 37) % 60_000) as f64 / 1e6;
            format!("{lon:.6},{lat:.6},,")
        };
        let pick = |list: &[&str], shift: u32| list[((r >> shift) as usize) % list.len()].to_owned();
        out.push_str(&format!(
            "JB{i:07},{time},{place},当事人{i},{},{},{},{},\"{}\",{},{},某路口\n",
            u64::from((r >> 41) % 50 == 0),
            (r >> 44) % 2,
            (r >> 46) % 3,
            pick(&types, 48),
            pick(&vehicles, 51),
            pick(&weather, 54),
            pick(&light, 57),
        ));
    }
    out.into_bytes()
}

#[tokio::main]
async fn main() {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        println!("set DATABASE_URL (a scratch database) to run this benchmark");
        return;
    };
    let pool = PgPoolOptions::new().max_connections(4).connect(&url).await.unwrap();
    roadledger::db::MIGRATOR.run(&pool).await.unwrap();
    sqlx::query(
        "insert into town (admin_code, name, boundary)
         select '320582100', '杨舍镇', st_multi(st_makeenvelope(120.50, 31.84, 120.60, 31.90, 4326))
         where not exists (select 1 from town where admin_code = '320582100')",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into road (route_code, admin_code, name, geom)
         select 'X202', '320582', '港丰公路', st_multi(st_geomfromtext('LINESTRING(120.50 31.86, 120.60 31.86)', 4326))
         where not exists (select 1 from road where route_code = 'X202')",
    )
    .execute(&pool)
    .await
    .unwrap();

    let file = police_export();
    println!("file: {ROWS} rows, {} bytes (CSV, UTF-8, Chinese headers)", file.len());
    println!("{:<58} {:>9} {:>11}", "what", "seconds", "rows/s");
    let report = |what: &str, seconds: f64| println!("{what:<58} {seconds:>9.2} {:>11.0}", ROWS as f64 / seconds);

    // Baseline: the same bytes through COPY into text columns.
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query(
        "create temp table copy_baseline (record_no text, at text, lon text, lat text, route text, stake text,
             person text, deaths text, serious text, slight text, kind text, vehicles text, weather text,
             light text, place text)",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    let started = Instant::now();
    let mut copy = conn.copy_in_raw("copy copy_baseline from stdin with (format csv, header true)").await.unwrap();
    copy.send(&file[3..]).await.unwrap();
    let copied = copy.finish().await.unwrap();
    report("baseline: COPY into text columns", started.elapsed().as_secs_f64());
    assert_eq!(copied as usize, ROWS);
    drop(conn);

    let clear = || async {
        sqlx::query("truncate crash, crash_import cascade").execute(&pool).await.unwrap();
    };
    let options = CrashImportOptions::new("bench.csv", "bench");
    let mut dry = options.clone();
    dry.dry_run = true;

    clear().await;
    let started = Instant::now();
    let r = crashes::import(&pool, file.clone(), &dry).await.unwrap();
    report("import::crashes, dry run (rolled back)", started.elapsed().as_secs_f64());
    assert_eq!(r.rows_imported as usize, ROWS - r.rows_refused as usize);

    let started = Instant::now();
    let r = crashes::import(&pool, file.clone(), &options).await.unwrap();
    report("import::crashes, into an empty table", started.elapsed().as_secs_f64());
    println!("  imported {}, refused {} (stakes past the road's end)", r.rows_imported, r.rows_refused);

    let started = Instant::now();
    let again = crashes::import(&pool, file.clone(), &options).await.unwrap();
    report("import::crashes, the same file again (all known)", started.elapsed().as_secs_f64());
    assert_eq!(again.rows_imported, 0);
    assert_eq!(again.rows_known, r.rows_imported);
}
