//! The demo's citizens' photo reports (随手拍, issue 13) across the demo county (its 12345 hotline tickets are
//! `hotline.rs`'s). Most wait in the dispatchers' queue (along the demo's roads, with the demo's pictures);
//! some stand behind the demo sites that were opened from a citizen's photo, at whatever status those sites
//! reached, so tracking shows 处理中 and 已整改; two were rejected, one of them as spam. Every report is stored through `db::public_reports::insert`, as the
//! channels store them; the decided ones then get their decision as it was made then.
//!
//! The demo's pictures are drawn by the demo and carry no EXIF, so each serves as both the original and the
//! public copy (the public page's re-encoding is the citizen channel's; here there is nothing to strip).

use anyhow::Context;
use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::pictures;
use super::rng::Rng;
use crate::db::public_reports::{NewPublicReport, NewReportPhoto, Stored, insert};
use crate::domain::coords::SourceCrs;
use crate::domain::public_report::{CATEGORIES, Channel, tracking_token};
use crate::photos::PhotoStore;
use crate::photos::process::{self, PhotoLimits};

/// Reports waiting for a dispatcher.
const WAITING: usize = 18;
/// Of the demo's sites opened from a citizen's photo, how many get their report.
const BEHIND_SITES: i64 = 16;

/// What people say, per category (the demo's words, not a real person's).
fn description(category: &str, rng: &mut Rng) -> String {
    let lines: &[&str] = match category {
        "sign_marking" => &["路口的让行标志被树挡住了，开车过来根本看不到", "路面标线磨得看不清了，晚上更看不见"],
        "intersection" => {
            &["这个路口没有减速带，小车开得很快，差点撞到电动车", "村道和县道交叉口没有警示桩，经常有车抢行"]
        }
        "curve_slope" => &["这里是个急弯，没有任何提示，外地车经常冲出去", "下坡很陡，坡底就是村口，没有减速提示"],
        "barrier" => &["路边就是河，没有护栏，晚上骑车很危险", "护栏被撞断了一截，一直没人修"],
        "lighting" => &["路口晚上一片漆黑，路灯坏了好几个月", "村口没有路灯，晚上行人看不清"],
        "pavement" => &["路面有个大坑，下雨积水看不出来，已经有人摔倒", "路面塌陷了一块，车辆都绕着走"],
        "roadside" => &["有人在路上晒稻谷，占了半条路", "路边堆了很多建材，挡住了视线"],
        "school_zone" => &["学校门口放学时车很多，没有减速带和斑马线", "校车停靠点没有任何警示标志"],
        _ => &["这段路有安全隐患，请派人来看看"],
    };
    (*rng.pick(lines)).to_string()
}

const SURNAMES: [&str; 8] = ["王", "李", "张", "刘", "陈", "杨", "黄", "周"];

/// Loads the demo's public reports; the photo store gets the waiting reports' pictures. Answers how many.
pub async fn load(pool: &PgPool, photos: &PhotoStore) -> anyhow::Result<usize> {
    let mut rng = Rng::stream("public_reports");
    let now = Utc::now();
    let roads: Vec<i32> =
        sqlx::query_scalar("select id from road where route_code is not null order by id").fetch_all(pool).await?;
    anyhow::ensure!(!roads.is_empty(), "the demo's public reports lie along its roads, and there are none");
    let mut count = 0;

    for i in 0..WAITING {
        let road = *rng.pick(&roads);
        let (lon, lat): (f64, f64) = sqlx::query_as(
            "select st_x(p), st_y(p) from (
                 select st_lineinterpolatepoint(st_geometryn(geom, 1), $2) as p from road where id = $1) x",
        )
        .bind(road)
        .bind(rng.range(0.05, 0.95))
        .fetch_one(pool)
        .await?;
        let category = rng.pick(CATEGORIES).code;
        let reported_at = now - Duration::hours(rng.int(2, 24 * 10));
        let mut report = base(&mut rng, category, reported_at);
        report.photos = pictures_of(photos, &mut rng, 1 + (i % 2)).await?;
        report.point = Some((lon, lat));
        store(pool, &report).await?;
        count += 1;
    }

    // The demo sites opened from a citizen's photo: the report behind each, accepted as the observation that
    // opened the site. Their public status follows the site (处理中, 已整改, …).
    type Opened = (Uuid, Uuid, DateTime<Utc>, f64, f64);
    let opened: Vec<Opened> = sqlx::query_as(
        "select s.id, o.id, o.observed_at, st_x(st_pointonsurface(o.geom)), st_y(st_pointonsurface(o.geom))
         from (select s.*, row_number() over (partition by s.status order by s.code) as n
               from site s where s.source = 'citizen_photo' and s.duplicate_of is null) s
         join lateral (
             select * from observation o where o.site_id = s.id order by o.observed_at, o.id limit 1) o on true
         -- A few of every status, so the reports read every public status a site can give them.
         order by s.n, s.status
         limit $1",
    )
    .bind(BEHIND_SITES)
    .fetch_all(pool)
    .await?;
    for (k, (site, observation, observed_at, lon, lat)) in opened.into_iter().enumerate() {
        let category = CATEGORIES[k % CATEGORIES.len()].code;
        let reported_at = observed_at - Duration::hours(rng.int(1, 20));
        let mut report = base(&mut rng, category, reported_at);
        report.point = Some((lon, lat));
        report.photos = observation_pictures(pool, observation).await?;
        let id = store(pool, &report).await?;
        decide(pool, id, "accepted", observed_at, Some(site), Some(observation), None, false).await?;
        count += 1;
    }

    // Two rejected: a report about something else, and an advertisement hidden as spam.
    for (k, (reason, hidden)) in
        [("经核实，反映的是小区内部道路，已转物业处理", false), ("与道路安全无关", true)].into_iter().enumerate()
    {
        let road = *rng.pick(&roads);
        let (lon, lat): (f64, f64) = sqlx::query_as(
            "select st_x(p), st_y(p) from (select st_lineinterpolatepoint(st_geometryn(geom, 1), 0.5) as p from road where id = $1) x",
        )
        .bind(road)
        .fetch_one(pool)
        .await?;
        let at = now - Duration::days(3 + k as i64);
        let mut report = base(&mut rng, "other", at);
        report.point = Some((lon, lat));
        if hidden {
            report.description = "低价出售二手车，联系微信……".into();
        }
        let id = store(pool, &report).await?;
        decide(pool, id, "rejected", at + Duration::hours(5), None, None, Some(reason), hidden).await?;
        count += 1;
    }
    Ok(count)
}

/// A citizen's report of `category` at `reported_at`, with a contact; the caller sets place and photos.
fn base(rng: &mut Rng, category: &'static str, reported_at: DateTime<Utc>) -> NewPublicReport {
    let surname = *rng.pick(&SURNAMES);
    let title = if rng.chance(0.5) { "先生" } else { "女士" };
    NewPublicReport {
        channel: Channel::Citizen,
        submission_id: Some(rng.uuid()),
        tracking_token: tracking_token(),
        category,
        description: description(category, rng),
        point: None,
        source_crs: SourceCrs::Wgs84,
        accuracy_m: Some(rng.range(5.0, 30.0).round()),
        address_text: None,
        ticket_no: None,
        reported_at,
        open311_client_id: None,
        contact_name: Some(format!("{surname}{title}")),
        // Demo numbers: the 139 0000 block, never a real subscriber's.
        contact_phone: Some(format!("1390000{:04}", rng.int(0, 9999))),
        contact_email: None,
        sender_hash: None,
        device_hash: None,
        entered_by: None,
        photos: Vec::new(),
    }
}

/// `n` of the demo's "before" pictures, stored with their thumbnails; each is its own public copy (the demo's
/// drawings carry no EXIF).
async fn pictures_of(photos: &PhotoStore, rng: &mut Rng, n: usize) -> anyhow::Result<Vec<NewReportPhoto>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let jpeg = pictures::render(pictures::BEFORE.start + rng.index(pictures::BEFORE.len()));
        let processed = tokio::task::spawn_blocking({
            let jpeg = jpeg.clone();
            move || process::process(&jpeg, PhotoLimits::default())
        })
        .await?
        .context("a demo report's picture")?;
        let sha = processed.sha256_hex();
        let key = PhotoStore::original_key(&sha, processed.format.extension());
        let thumbnail_key = PhotoStore::thumbnail_key(&sha);
        photos.put(&key, Bytes::from(jpeg)).await?;
        photos.put(&thumbnail_key, Bytes::from(processed.thumbnail_jpeg)).await?;
        out.push(NewReportPhoto {
            sha256: processed.sha256,
            content_type: processed.format.content_type(),
            bytes: i32::try_from(processed.bytes)?,
            width: i32::try_from(processed.width)?,
            height: i32::try_from(processed.height)?,
            original_key: key.clone(),
            public_key: key,
            public_sha256: processed.sha256,
            thumbnail_key,
            thumbnail_width: i32::try_from(processed.thumbnail_width)?,
            thumbnail_height: i32::try_from(processed.thumbnail_height)?,
            exif_taken_at: None,
            exif_location: None,
            original: None,
        });
    }
    Ok(out)
}

/// The photos of the observation a report became: the same files (the demo's drawings, without EXIF) are
/// the report's photos, as an accept names the report photos' public copies in the observation's rows.
async fn observation_pictures(pool: &PgPool, observation: Uuid) -> anyhow::Result<Vec<NewReportPhoto>> {
    type Row = (Vec<u8>, String, i32, i32, i32, String, String, i32, i32);
    let rows: Vec<Row> = sqlx::query_as(
        "select sha256, content_type, bytes, width, height, original_key, thumbnail_key, thumbnail_width,
             thumbnail_height
         from photo where observation_id = $1 order by position limit 3",
    )
    .bind(observation)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(sha, content_type, bytes, width, height, key, thumbnail_key, tw, th)| {
            let sha256: [u8; 32] = sha.as_slice().try_into().context("a photo's SHA-256")?;
            Ok(NewReportPhoto {
                sha256,
                content_type: if content_type == "image/png" { "image/png" } else { "image/jpeg" },
                bytes,
                width,
                height,
                original_key: key.clone(),
                public_key: key,
                public_sha256: sha256,
                thumbnail_key,
                thumbnail_width: tw,
                thumbnail_height: th,
                exif_taken_at: None,
                exif_location: None,
                original: None,
            })
        })
        .collect()
}

/// Stores a report as received when it was sent (`received_at` a few minutes after `reported_at`).
async fn store(pool: &PgPool, report: &NewPublicReport) -> anyhow::Result<i64> {
    let mut tx = pool.begin().await?;
    let Stored::Created { id, .. } = insert(&mut tx, report).await? else {
        anyhow::bail!("a demo report was stored before");
    };
    let received = report.reported_at + Duration::minutes(3);
    sqlx::query("update public_report set received_at = $2, updated_at = $2 where id = $1")
        .bind(id)
        .bind(received)
        .execute(&mut *tx)
        .await?;
    sqlx::query("update public_report_update set at = $2 where report_id = $1")
        .bind(id)
        .bind(received)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(id)
}

/// A dispatcher's decision as it was made at `at`: the triggers derive the public status from it (and the
/// site's status), and the update they log is dated then; an accepted report's site that was closed since
/// logs `fixed` at its approval.
#[allow(clippy::too_many_arguments)]
async fn decide(
    pool: &PgPool,
    id: i64,
    status: &str,
    at: DateTime<Utc>,
    site: Option<Uuid>,
    observation: Option<Uuid>,
    public_reason: Option<&str>,
    hidden: bool,
) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let before: i64 = sqlx::query_scalar("select coalesce(max(id), 0) from public_report_update where report_id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    // A site closed, rejected or cancelled since: the report was 处理中 first, from the decision until then
    // (the trigger, seeing only where the site stands now, logs the last step alone).
    let settled: bool = sqlx::query_scalar(
        "select coalesce(d.status, s.status) in ('closed', 'rejected', 'cancelled')
         from site s left join site d on d.id = s.duplicate_of where s.id = $1",
    )
    .bind(site)
    .fetch_optional(&mut *tx)
    .await?
    .unwrap_or(false);
    if settled {
        sqlx::query("insert into public_report_update (report_id, public_status, at) values ($1, 'in_progress', $2)")
            .bind(id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "update public_report set status = $2, decided_at = $3, decided_by = '演示·市交安办', site_id = $4,
             observation_id = $5, public_reason = $6, hidden = $7
         where id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(at)
    .bind(site)
    .bind(observation)
    .bind(public_reason)
    .bind(hidden)
    .execute(&mut *tx)
    .await?;
    // When the site reached where it stands, for a report that reads `fixed` or `not_accepted` through it.
    let closed: Option<DateTime<Utc>> = sqlx::query_scalar(
        "select max(e.at) from site_event e join site s on s.id = e.site_id
         where s.id = $1 and s.status in ('closed', 'rejected', 'cancelled') and e.to_status = s.status",
    )
    .bind(site)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "update public_report_update set at = case when public_status in ('fixed', 'not_accepted') then coalesce($3, $2) else $2 end
         where report_id = $1 and id > $4 and not (public_status = 'in_progress' and $5)",
    )
    .bind(id)
    .bind(at)
    .bind(closed)
    .bind(before)
    .bind(settled)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "update public_report r set updated_at = (select max(u.at) from public_report_update u where u.report_id = r.id)
         where r.id = $1",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
