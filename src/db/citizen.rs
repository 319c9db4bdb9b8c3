//! The public report page's abuse limits, kept in the database so that every server counts the same hits
//! (`public_rate_hit`, migration 0018) and checks challenges with the same secret (`public_report_secret`,
//! migration 0019).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

/// The shared secret (32 bytes) that salts senders' hashes and keys the proof-of-work challenges.
pub async fn secret(pool: &PgPool) -> sqlx::Result<[u8; 32]> {
    let bytes = sqlx::query_scalar!("select secret from public_report_secret").fetch_one(pool).await?;
    // The table's check constraint holds it at 32 bytes.
    Ok(bytes.try_into().unwrap_or([0; 32]))
}

/// One counter a submission must pass: at most `limit` hits in the window that starts at `window_start`.
#[derive(Debug, Clone)]
pub struct Bucket {
    pub key: String,
    pub window_start: DateTime<Utc>,
    pub limit: i32,
}

/// Counts one hit in every bucket, in the caller's transaction, or none: the first bucket already at its
/// limit is answered (its index) and the caller rolls back, so a refused submission leaves no trace. Each
/// upsert takes the bucket's row lock, so concurrent submissions count one after another and never pass a
/// limit together; buckets are taken in key order, so two submissions cannot deadlock.
pub async fn hit(conn: &mut PgConnection, buckets: &[Bucket]) -> sqlx::Result<Option<usize>> {
    let mut order: Vec<usize> = (0..buckets.len()).collect();
    order.sort_by(|&a, &b| buckets[a].key.cmp(&buckets[b].key));
    for i in order {
        let b = &buckets[i];
        if b.limit < 1 {
            return Ok(Some(i));
        }
        let counted = sqlx::query_scalar!(
            "insert into public_rate_hit (bucket, window_start, hits) values ($1, $2, 1)
             on conflict (bucket, window_start) do update set hits = public_rate_hit.hits + 1
                 where public_rate_hit.hits < $3
             returning hits",
            b.key,
            b.window_start,
            b.limit
        )
        .fetch_optional(&mut *conn)
        .await?;
        if counted.is_none() {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// Deletes the counters of windows that ended long ago (the longest window is a day).
pub async fn forget_old(conn: &mut PgConnection, now: DateTime<Utc>) -> sqlx::Result<u64> {
    let before = now - chrono::Duration::days(2);
    Ok(sqlx::query!("delete from public_rate_hit where window_start < $1", before).execute(conn).await?.rows_affected())
}

/// A citizen photo by report and position, for the public: its public copy's key, only once a dispatcher
/// has accepted the report or merged it into a site. A photo waiting for moderation may show a face, a
/// number plate or anything a spammer sends, and a rejected report's photos (spam or not) are never shown.
pub async fn public_photo_key(pool: &PgPool, report_id: i64, position: i16) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!(
        "select p.public_key from public_report_photo p join public_report r on r.id = p.report_id
         where p.report_id = $1 and p.position = $2 and not r.hidden and r.status in ('accepted', 'merged')",
        report_id,
        position
    )
    .fetch_optional(pool)
    .await
}

/// The report a submission stored before (a retry from the page): its id and tracking token.
pub async fn by_submission(pool: &PgPool, submission: uuid::Uuid) -> sqlx::Result<Option<(i64, String)>> {
    let row = sqlx::query!("select id, tracking_token from public_report where submission_id = $1", submission)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|r| (r.id, r.tracking_token)))
}

/// The middle of the county's towns (their extent's centre), where the public page's map opens when the
/// phone has no fix; `None` before any town is loaded.
pub async fn county_centre(pool: &PgPool) -> sqlx::Result<Option<(f64, f64)>> {
    let row = sqlx::query!(
        r#"select st_x(st_centroid(st_extent(boundary)::geometry)) as "lon?",
                  st_y(st_centroid(st_extent(boundary)::geometry)) as "lat?"
           from town"#
    )
    .fetch_one(pool)
    .await?;
    Ok(row.lon.zip(row.lat))
}
