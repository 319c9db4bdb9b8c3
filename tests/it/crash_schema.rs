//! The rules migration 0013 keeps in SQL against their Rust twins in `domain::crash`: the hour bands of
//! `crash_time_band` (county time, every hour of a day and the minutes either side of a band's edge) and the
//! severity the `crash` table derives from its casualty counts.

use chrono::{DateTime, Duration};
use roadledger::domain::crash::{Severity, TimeBand};
use sqlx::PgPool;

#[sqlx::test]
async fn the_sql_time_band_is_the_rust_one(pool: PgPool) {
    // 16:00 UTC is midnight in the county: an instant's band follows county time, not the server's.
    let midnight = DateTime::parse_from_rfc3339("2026-03-01T16:00:00Z").unwrap().to_utc();
    let mut instants = Vec::new();
    for hour in 0..24 {
        let at = midnight + Duration::hours(hour);
        instants.extend([(at, hour as u32), (at + Duration::minutes(59), hour as u32)]);
    }
    let ats: Vec<_> = instants.iter().map(|(at, _)| *at).collect();
    let bands: Vec<String> = sqlx::query_scalar(
        "select crash_time_band(a) from unnest($1::timestamptz[]) with ordinality as t (a, n) order by n",
    )
    .bind(&ats)
    .fetch_all(&pool)
    .await
    .unwrap();
    for ((at, hour), band) in instants.iter().zip(&bands) {
        assert_eq!(band, TimeBand::of_hour(*hour).as_str(), "{at}");
    }
}

#[sqlx::test]
async fn a_crash_severity_follows_its_casualties(pool: PgPool) {
    let counts = [(1, 0, 0), (0, 1, 0), (0, 0, 3), (0, 0, 0)];
    for (n, (deaths, serious, slight)) in counts.into_iter().enumerate() {
        let severity: String = sqlx::query_scalar(
            "insert into crash (source_key, occurred_at, geom, located_by, deaths, serious_injuries, slight_injuries)
             values ($1, now(), st_setsrid(st_makepoint(120.5, 31.9), 4326), 'coordinates', $2, $3, $4)
             returning severity",
        )
        .bind(format!("no:T{n}"))
        .bind(deaths as i16)
        .bind(serious as i16)
        .bind(slight as i16)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(severity, Severity::of(deaths, serious, slight).as_str());
    }
    // The same record number twice is refused: a re-import finds its rows by this key.
    let again = sqlx::query(
        "insert into crash (source_key, occurred_at, geom, located_by)
         values ('no:T0', now(), st_setsrid(st_makepoint(120.5, 31.9), 4326), 'coordinates')",
    )
    .execute(&pool)
    .await
    .unwrap_err();
    assert!(again.to_string().contains("crash_source_key_key"), "{again}");
}
