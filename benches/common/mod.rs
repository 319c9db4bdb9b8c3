//! Shared by the benchmarks: an account with an API token, so requests pay for authentication like a real
//! client's, and peak-RSS measurement.
#![allow(dead_code)] // each benchmark uses its own part

pub mod slow_upload;

use roadledger::db::accounts;
use roadledger::domain::auth::Role;

/// The password of the bench accounts (the map's first-render benchmark signs in with it).
pub const BENCH_PASSWORD: &str = "bench password 2026";

/// A live API token of a `bench-<role>` account (created on first use, with an organisation if none exists).
pub async fn bench_token(pool: &sqlx::PgPool, role: Role) -> String {
    let name = format!("bench-{}", role.as_str().replace('_', "-"));
    let user = match accounts::user_by_name(pool, &name).await.unwrap() {
        Some(user) => user.id,
        None => {
            let org: i32 = sqlx::query_scalar(
                "with new as (insert into organisation (name, kind) select '基准测试', 'city_office'
                              where not exists (select 1 from organisation) returning id)
                 select id from new union all select id from organisation order by id limit 1",
            )
            .fetch_one(pool)
            .await
            .unwrap();
            let hash = roadledger::secrets::hash_password(BENCH_PASSWORD).unwrap();
            let new = accounts::NewUser {
                name: &name,
                display_name: "基准测试",
                organisation_id: org,
                roles: &[role],
                password_hash: &hash,
            };
            match accounts::create_user(pool, &new).await.unwrap() {
                accounts::CreateOutcome::Created(id) => id,
                _ => panic!("cannot create the bench account {name}"),
            }
        }
    };
    let token = roadledger::secrets::random_token("rl_");
    accounts::create_token(pool, user, "bench", &token, None).await.unwrap();
    token
}

/// Resets the kernel's peak-RSS counter (VmHWM) of this process (Linux `clear_refs` 5); returns the current RSS
/// in MiB.
pub fn reset_peak_rss() -> f64 {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    status_mib("VmRSS:")
}

/// The process's peak RSS since the last reset, MiB.
pub fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

fn status_mib(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// The server a benchmark works on, with `database` created on it if missing: `DATABASE_URL` when set, else the
/// private cluster under `target/bench-db` (as `roadledger db start --data-dir target/bench-db` does), which
/// runs while the returned handle lives.
pub async fn bench_server(
    database: &str,
) -> (sqlx::postgres::PgConnectOptions, Option<roadledger::embedded_pg::EmbeddedPg>) {
    use sqlx::Connection;
    let (server, cluster) = match std::env::var("DATABASE_URL") {
        Ok(url) => (url.parse::<sqlx::postgres::PgConnectOptions>().expect("DATABASE_URL"), None),
        Err(_) => {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-db");
            let pg =
                roadledger::embedded_pg::EmbeddedPg::start(&dir).expect("the private cluster under target/bench-db");
            (pg.connect_options(), Some(pg))
        }
    };
    let mut conn = sqlx::PgConnection::connect_with(&server).await.expect("the PostgreSQL server");
    let exists: bool = sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
        .bind(database)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    if !exists {
        // Bench databases are named by the benchmarks' own constants, never by input.
        sqlx::query(&format!("create database {database}")).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();
    (server, cluster)
}

/// An observation upload's body with one photo part, and its content type.
pub fn multipart(observation: &[u8], photo: &[u8]) -> (String, Vec<u8>) {
    let boundary = "bench-boundary-1f4c";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"observation\"\r\n\r\n").into_bytes();
    body.extend_from_slice(observation);
    body.extend_from_slice(
        format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p.jpg\"\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(photo);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
