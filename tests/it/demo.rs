//! The demo dataset, loaded into a real database the way `roadledger serve --demo` does, read back
//! through the API.

use crate::common;

use std::collections::{BTreeSet, HashMap};

use roadledger::domain::auth::{Actor, Role};
use roadledger::domain::lifecycle::{ActionKind, EventKind, RecordKind, SiteFacts, transition};
use roadledger::domain::site::SiteStatus;
use roadledger::photos::PhotoStore;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

#[sqlx::test(migrations = "./migrations")]
async fn the_demo_dataset_is_a_living_map_of_zhangjiagang(pool: PgPool) {
    let app = common::app(pool.clone()).await;
    let photos = PhotoStore::local(app.photo_dir.path()).unwrap();

    roadledger::demo::load_if_empty(&pool, &photos).await.unwrap();

    assert!(app.count("town").await >= 8);
    let classes: Vec<String> =
        sqlx::query_scalar("select distinct class::text from road order by 1").fetch_all(&pool).await.unwrap();
    for class in ["C", "G", "S", "X", "Y"] {
        assert!(classes.contains(&class.to_string()), "no {class} road: {classes:?}");
    }
    let counts = app.get("/api/v1/sites/counts").await.json();
    assert!(counts["total"].as_i64().unwrap() >= 2000, "{counts}");
    for status in roadledger::domain::site::SiteStatus::ALL {
        assert!(counts["by_status"][status.as_str()].as_i64().unwrap_or(0) > 0, "no {status} site: {counts}");
    }
    let templates: Vec<String> =
        sqlx::query_scalar("select distinct template_code from site order by 1").fetch_all(&pool).await.unwrap();
    assert_eq!(templates, ["five_must_haves", "three_ones"]);
    // Every site has a town from the boundaries and lies inside the demo area.
    let (no_town, outside): (i64, i64) = sqlx::query_as(
        "select count(*) filter (where town_id is null),
                count(*) filter (where not st_within(geom, st_makeenvelope(120.3, 31.75, 120.8, 32.05, 4326)))
         from site",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((no_town, outside), (0, 0));
    // Patrol and drone detections wait in the candidates queue, each on a road in a town with its picture; a
    // few below the default confidence.
    let (detections, placed, pictured, unsure): (i64, i64, i64, i64) = sqlx::query_as(
        "select count(*), count(c.town_id) filter (where c.road_id is not null), count(d.image_key),
                count(*) filter (where d.confidence < 0.5)
         from candidate c join detection d on d.id = c.detection_id where c.status = 'open'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((detections, placed, pictured), (12, 12, 12));
    assert!((1..12).contains(&unsure), "{unsure} low-confidence detections");

    // 12345 hotline tickets wait for moderation, three placed on the roads and three by address only; one is
    // merged into an open site, whose ledger row shows its number.
    let (tickets, placed, merged): (i64, i64, i64) = sqlx::query_as(
        "select count(*), count(geom), count(*) filter (where status = 'merged' and site_id is not null)
         from public_report where channel = 'hotline' and ticket_no is not null and entered_by is not null",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((tickets, placed, merged), (6, 3, 1));

    // Citizens' photo reports (随手拍) wait in the dispatchers' queue, others stand behind the demo sites opened
    // from them and follow their status (处理中 and 已整改 both occur), and two were rejected, one hidden as spam.
    let by_status: Vec<(String, String, i64)> = sqlx::query_as(
        "select status, public_status, count(*) from public_report where channel = 'citizen'
         group by 1, 2 order by 1, 2",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let count =
        |status: &str, public: &str| by_status.iter().find(|r| r.0 == status && r.1 == public).map_or(0, |r| r.2);
    assert_eq!(count("received", "received"), 18, "{by_status:?}");
    assert!(count("accepted", "in_progress") > 0 && count("accepted", "fixed") > 0, "{by_status:?}");
    assert_eq!(count("rejected", "not_accepted"), 2, "{by_status:?}");
    let mismatched: i64 = sqlx::query_scalar(
        "select count(*) from public_report r join site s on s.id = r.site_id
         join observation o on o.id = r.observation_id
         where o.site_id <> s.id or s.source <> case r.channel when 'hotline' then 'hotline' else 'citizen_photo' end",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(mismatched, 0, "an accepted report names its site's opening observation and the site's source");
    let hidden: i64 =
        sqlx::query_scalar("select count(*) from public_report where hidden").fetch_one(&pool).await.unwrap();
    assert_eq!(hidden, 1);
    // A fixed report's timeline: received, in progress, fixed, in time order.
    let timelines: Vec<(i64, Vec<String>, bool)> = sqlx::query_as(
        "select r.id, array_agg(u.public_status order by u.id),
                bool_and(u.at >= r.received_at) and array_agg(u.at order by u.id) = array_agg(u.at order by u.at, u.id)
         from public_report r join public_report_update u on u.report_id = r.id
         where r.public_status = 'fixed' group by r.id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for (id, statuses, ordered) in &timelines {
        assert_eq!(statuses, &["received", "in_progress", "fixed"], "report {id}");
        assert!(ordered, "report {id}: its updates are in time order");
    }
    let keys: Vec<(String, String, String)> =
        sqlx::query_as("select original_key, public_key, thumbnail_key from public_report_photo")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(keys.len() >= 18, "{} report photos", keys.len());
    for (original, public, thumbnail) in &keys {
        for key in [original, public, thumbnail] {
            assert!(photos.exists(key).await.unwrap(), "{key} is not in the photo store");
        }
        let bytes = photos.get(public).await.unwrap();
        assert!(
            exif::Reader::new().read_from_container(&mut std::io::Cursor::new(&bytes[..])).is_err(),
            "a public copy carries EXIF"
        );
    }

    // The map's query for the whole area pages through every site.
    let mut seen = BTreeSet::new();
    let mut after = String::new();
    loop {
        let page = app.get(&format!("/api/v1/sites?bbox=120.3,31.75,120.8,32.05&limit=1000&after={after}")).await;
        assert_eq!(page.status, 200);
        let page = page.json();
        for f in page["features"].as_array().unwrap() {
            seen.insert(f["id"].as_str().unwrap().to_string());
        }
        match &page["next_after"] {
            Value::String(next) => after = next.clone(),
            _ => break,
        }
    }
    assert_eq!(seen.len() as i64, counts["total"].as_i64().unwrap());

    // A closed site has its evidence: photos that load and a history that ends in `closed`.
    let closed = app.get("/api/v1/sites?status=closed&limit=1").await.json();
    let id = closed["features"][0]["id"].as_str().unwrap();
    let detail = app.get(&format!("/api/v1/sites/{id}")).await.json();
    let props = &detail["properties"];
    let events = props["events"].as_array().unwrap();
    assert_eq!(events.first().unwrap()["kind"], "opened");
    let last_status = events.iter().rev().find_map(|e| e["to_status"].as_str()).unwrap();
    assert_eq!(last_status, "closed");
    let thumb = props["observations"][0]["photos"][0]["thumbnail_url"].as_str().unwrap();
    let thumb = app.get(thumb).await;
    assert_eq!(thumb.status, 200);
    image::load_from_memory(&thumb.bytes).unwrap();

    // The leader published October's bulletin and the third quarter's board: every town has figures in both.
    let published = app.get("/api/v1/publications").await.json();
    let kinds: BTreeSet<String> = published
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{} {}", p["kind"].as_str().unwrap(), p["period"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, BTreeSet::from(["monthly 2026-10".to_string(), "ranking 2026Q3".to_string()]));
    let october = app.get("/api/v1/reports/monthly?period=2026-10").await.json();
    assert!(october["totals"]["closed"].as_i64().unwrap() > 50, "{}", october["totals"]);
    assert!(october["towns"].as_array().unwrap().iter().all(|t| t["figures"]["found"].as_i64().unwrap() > 0));
    let board = app.get("/api/v1/rankings/2026Q3").await.json();
    let bands: Vec<&str> = board["towns"].as_array().unwrap().iter().map(|t| t["band"].as_str().unwrap()).collect();
    assert!(bands.first() == Some(&"sunny") && bands.last() == Some(&"rainy"), "{bands:?}");

    // Three years of crashes, screened once by each method by the demo dispatcher: every run found candidates,
    // and the worst junction holds more crashes than the default threshold by far.
    let crashes = app.count("crash").await;
    assert!((3_000..=6_000).contains(&crashes), "{crashes} crashes");
    let office = common::organisation(&pool, "city_office").await;
    let leader = common::token_for(&pool, "leader-demo-test", "领导", "leader", office).await;
    let runs = app
        .send(
            axum::http::Request::get("/api/v1/screenings")
                .header("authorization", format!("Bearer {leader}"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .json();
    let methods: BTreeSet<&str> =
        runs["runs"].as_array().unwrap().iter().map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(methods, BTreeSet::from(["dbscan", "junction", "sliding_window"]));
    for run in runs["runs"].as_array().unwrap() {
        assert_eq!((run["crashes_read"].as_i64(), run["run_by"].as_str()), (Some(crashes), Some("demo-dispatcher")));
        assert!(run["candidates"].as_i64().unwrap() >= 5, "{run}");
    }
    let worst_junction: i32 = sqlx::query_scalar(
        "select c.crash_count from candidate c join screening_run r on r.id = c.screening_run_id
         where r.method = 'junction' and c.rank = 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(worst_junction >= 10, "{worst_junction}");

    // Loading again into a database that has sites changes nothing.
    let before = app.count("site").await;
    roadledger::demo::load_if_empty(&pool, &photos).await.unwrap();
    assert_eq!(app.count("site").await, before);
}

/// Loads the demo into this test's database and photo directory, as `roadledger serve --demo` does.
async fn load(pool: &PgPool) -> common::TestApp {
    let app = common::app(pool.clone()).await;
    let photos = PhotoStore::local(app.photo_dir.path()).unwrap();
    roadledger::demo::load_if_empty(pool, &photos).await.unwrap();
    app
}

/// Rows an invariant query finds broken: each query below selects the offenders, which must be none.
async fn offenders(pool: &PgPool, what: &str, sql: &str) {
    let rows: Vec<String> = sqlx::query_scalar(sql).fetch_all(pool).await.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(rows.is_empty(), "{what}: {} offenders, e.g. {:?}", rows.len(), &rows[..rows.len().min(5)]);
}

#[sqlx::test(migrations = "./migrations")]
async fn sites_under_review_or_closed_have_the_evidence_close_out_needs(pool: PgPool) {
    let app = load(&pool).await;

    // The close-out rule, as the lifecycle applies it to a request, holds for every site that was asked to close.
    let reviewed: Vec<(uuid::Uuid, String)> =
        sqlx::query_as("select id, code from site where status in ('pending_review', 'closed') order by code")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(reviewed.len() > 800, "{}", reviewed.len());
    let mut conn = pool.acquire().await.unwrap();
    for (id, code) in &reviewed {
        let unmet = roadledger::db::lifecycle::unmet_items(&mut conn, *id).await.unwrap();
        assert!(unmet.is_empty(), "{code}: {unmet:?}");
    }
    drop(conn);

    let (evidence, after, night, night_items): (i64, i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from item_evidence),
                (select count(*) from photo where role = 'after'),
                (select count(*) from photo where role = 'night'),
                (select count(distinct e.item_code) from item_evidence e join photo p on p.evidence_id = e.id
                 where p.role = 'night')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(evidence > 3000 && after >= evidence && night > 500, "{evidence} evidence, {after} after, {night} night");
    assert_eq!(night_items, 2, "signal lights and lamps have night photos");

    offenders(
        &pool,
        "installed or verified items of reviewed sites without installed evidence",
        "select s.code || ' ' || i.item_code from site_checklist_item i join site s on s.id = i.site_id
         where s.status in ('pending_review', 'closed') and i.state in ('installed', 'verified')
           and not exists (select 1 from item_evidence e
                           where e.site_id = i.site_id and e.item_code = i.item_code and e.state = 'installed')",
    )
    .await;
    offenders(
        &pool,
        "evidence of night-evidence items without a night photo, or any evidence without an after-photo",
        "select e.id::text from item_evidence e join site s on s.id = e.site_id
         join checklist_template_item t on t.template_code = s.template_code and t.code = e.item_code
         where not exists (select 1 from photo p where p.evidence_id = e.id and p.role = 'after')
            or (t.night_evidence and not exists (select 1 from photo p where p.evidence_id = e.id and p.role = 'night'))",
    )
    .await;
    // Evidence comes from the officer who accepted the work, while it was in progress; the reviewer who
    // approved submitted none of it (four eyes).
    offenders(
        &pool,
        "evidence not submitted by the accepting officer, or installed outside acceptance..request",
        "select s.code from item_evidence e join site s on s.id = e.site_id
         where e.submitted_by <> (select a.actor_user_id from site_event a where a.site_id = s.id and a.kind = 'accept'
                                  order by a.id limit 1)
            or e.installed_on < (select min(a.at at time zone 'Asia/Shanghai')::date from site_event a
                                 where a.site_id = s.id and a.kind = 'accept')
            or (s.status in ('pending_review', 'closed') and e.submitted_at > (select max(r.at) from site_event r
                 where r.site_id = s.id and r.kind = 'request_close_out'))",
    )
    .await;
    offenders(
        &pool,
        "closed sites approved by someone who submitted evidence or asked for the close-out",
        "select s.code from site s join site_event a on a.site_id = s.id and a.kind = 'approve'
         where s.status = 'closed'
           and (a.actor_user_id in (select e.submitted_by from item_evidence e where e.site_id = s.id)
                or a.actor_user_id = (select r.actor_user_id from site_event r where r.site_id = s.id
                                      and r.kind = 'request_close_out' and r.at < a.at order by r.at desc limit 1))",
    )
    .await;
    offenders(
        &pool,
        "sites under review that do not name who asked for the close-out",
        "select code from site where (status = 'pending_review') <> (close_out_requested_by is not null)",
    )
    .await;
    // Every evidence event names an evidence row: same site, item, submitter, time and photos.
    offenders(
        &pool,
        "evidence_submitted events that do not match their item_evidence row",
        "select e.id::text from site_event e left join item_evidence v on v.id = (e.data ->> 'evidence_id')::uuid
         where e.kind = 'evidence_submitted'
           and (v.id is null or v.site_id <> e.site_id or v.item_code <> e.data ->> 'item'
                or v.submitted_by <> e.actor_user_id or v.submitted_at <> e.at or e.data ->> 'state' <> 'installed'
                or e.data -> 'photos' <> (select jsonb_agg(jsonb_build_object('sha256', encode(p.sha256, 'hex'),
                                                  'role', p.role) order by p.position)
                                          from photo p where p.evidence_id = v.id))",
    )
    .await;
    let events: i64 = sqlx::query_scalar("select count(*) from site_event where kind = 'evidence_submitted'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(events, evidence);

    // Every evidence picture loads through the API and decodes.
    let pictures: Vec<(String, String)> = sqlx::query_as(
        "select distinct encode(sha256, 'hex'), role from photo where evidence_id is not null order by 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(pictures.iter().any(|(_, role)| role == "night") && pictures.len() > 20, "{pictures:?}");
    for (sha, role) in &pictures {
        let photo = app.get(&format!("/api/v1/photos/{sha}")).await;
        assert_eq!(photo.status, 200, "{role} photo {sha}");
        let image = image::load_from_memory(&photo.bytes).unwrap();
        assert_eq!((image.width(), image.height()), (640, 480));
    }

    // The close-out sheet of a closed site with a signal light shows its evidence.
    let site: String = sqlx::query_scalar(
        "select s.id::text from site s join site_checklist_item i on i.site_id = s.id
         where s.status = 'closed' and i.item_code = 'signal_light' and i.state = 'verified' order by s.code limit 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let detail = app.get(&format!("/api/v1/sites/{site}")).await.json();
    let items = detail["properties"]["checklist_items"].as_array().unwrap();
    let signal = items.iter().find(|i| i["code"] == "signal_light").unwrap();
    let roles: Vec<&str> =
        signal["evidence"][0]["photos"].as_array().unwrap().iter().map(|p| p["role"].as_str().unwrap()).collect();
    assert!(roles.contains(&"after") && roles.contains(&"night"), "{roles:?}");
    let sheet = app.get(&format!("/api/v1/sites/{site}/closeout.pdf")).await;
    assert_eq!(sheet.status, 200);
    assert!(sheet.bytes.starts_with(b"%PDF"));
}

#[sqlx::test(migrations = "./migrations")]
async fn extensions_and_look_backs_are_records_behind_their_events(pool: PgPool) {
    let app = load(&pool).await;

    // One extension request per request_extension event, decided as the decide_extension event says.
    offenders(
        &pool,
        "request_extension events without their request",
        "select e.id::text from site_event e where e.kind = 'request_extension' and not exists (
             select 1 from extension_request x where x.site_id = e.site_id and x.requested_at = e.at
                 and x.requested_by = e.actor_user_id and x.reason = e.reason
                 and x.old_deadline is not distinct from (e.data ->> 'old_deadline')::date
                 and x.new_deadline = (e.data ->> 'new_deadline')::date)",
    )
    .await;
    offenders(
        &pool,
        "decide_extension events without their decision",
        "select e.id::text from site_event e where e.kind = 'decide_extension' and not exists (
             select 1 from extension_request x where x.site_id = e.site_id and x.decided_at = e.at
                 and x.decided_by = e.actor_user_id and x.approved = (e.data ->> 'approved')::boolean
                 and x.decision_reason is not distinct from e.reason)",
    )
    .await;
    let counts: (i64, i64, i64, i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from extension_request),
                (select count(*) from site_event where kind = 'request_extension'),
                (select count(*) from extension_request where decided_at is not null),
                (select count(*) from site_event where kind = 'decide_extension'),
                (select count(*) from extension_request where not approved),
                (select count(*) from extension_request where decided_at is null)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let (requests, asked, decisions, decided, refused, pending) = counts;
    assert_eq!((requests, decisions), (asked, decided));
    assert!(refused > 0 && pending > 0, "{counts:?}");
    // An approved extension moves the deadline (nothing after it does); a pending one waits on work in progress.
    offenders(
        &pool,
        "sites whose deadline is not the last one an approved extension or a relapse set",
        "select s.code from site s cross join lateral (
             select m.deadline from (
                 select x.decided_at as at, x.new_deadline as deadline from extension_request x
                 where x.site_id = s.id and x.approved
                 union all
                 select e.at, (e.data ->> 'deadline')::date from site_event e
                 where e.site_id = s.id and e.kind = 'look_back_relapse') m
             order by m.at desc limit 1) m
         where s.deadline is distinct from m.deadline",
    )
    .await;
    offenders(
        &pool,
        "pending extension requests on sites not in progress",
        "select s.code from extension_request x join site s on s.id = x.site_id
         where x.decided_at is null and s.status <> 'in_progress'",
    )
    .await;

    // A done look-back task was completed by an observation on site that says what it found, and the pass or
    // relapse event points at it.
    offenders(
        &pool,
        "done look-back tasks without their observation or event",
        "select t.id::text from look_back_task t join site s on s.id = t.site_id
         left join observation o on o.id = t.observation_id
         where t.done_at is not null and (
             o.id is null or o.site_id <> t.site_id or o.look_back_result is distinct from t.result
             or o.user_id <> t.done_by or geometrytype(o.geom) <> 'POINT'
             or not st_dwithin(o.geom::geography, s.geom::geography, 100)
             or not exists (select 1 from site_event e where e.site_id = t.site_id
                                and e.kind = 'look_back_' || t.result and e.observation_id = o.id
                                and e.data ->> 'observation_id' = o.id::text and e.actor_user_id = t.done_by
                                and e.at = t.done_at))",
    )
    .await;
    offenders(
        &pool,
        "look-back tasks without the look_back_due event that planned them",
        "select t.id::text from look_back_task t where not exists (
             select 1 from site_event e where e.site_id = t.site_id and e.kind = 'look_back_due' and e.at = t.created_at
                 and e.data = jsonb_build_object('policy', t.policy, 'due_on', t.due_on))",
    )
    .await;
    offenders(
        &pool,
        "look-back events without a task, relapses whose failed items were seen in place",
        "select e.id::text from site_event e left join observation o on o.id = e.observation_id
         where e.kind in ('look_back_pass', 'look_back_relapse')
           and (not exists (select 1 from look_back_task t where t.observation_id = e.observation_id)
                or (e.kind = 'look_back_relapse' and (e.reason is distinct from o.notes or exists (
                    select 1 from jsonb_array_elements_text(e.data -> 'failed_items') f(item)
                    where o.checklist ->> f.item not in ('missing', 'damaged')))))",
    )
    .await;
    offenders(
        &pool,
        "sites whose visit counters or return and relapse counts disagree with their records",
        "select s.code from site s where s.observation_count <> (select count(*) from observation o where o.site_id = s.id)
            or s.last_observed_at <> (select max(o.observed_at) from observation o where o.site_id = s.id)
            or s.return_count <> (select count(*) from site_event e where e.site_id = s.id and e.kind = 'return')
            or s.relapse_count <> (select count(*) from site_event e where e.site_id = s.id
                                   and e.kind = 'look_back_relapse')",
    )
    .await;

    // Some closed sites wait for their look-back, and the app lists them.
    let (open, overdue, passes, relapses): (i64, i64, i64, i64) = sqlx::query_as(
        "select count(*) filter (where t.done_at is null),
                count(*) filter (where t.done_at is null and t.due_on < (now() at time zone 'Asia/Shanghai')::date),
                count(*) filter (where t.result = 'pass'), count(*) filter (where t.result = 'relapse')
         from look_back_task t",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(open > 20 && overdue > 0 && passes > 50 && relapses > 50, "{open} open, {overdue} overdue");
    let listed = app.get("/api/v1/look-backs").await.json();
    assert_eq!(listed.as_array().unwrap().len() as i64, open);
}

/// The demo goes through the rules: every site's stored history, replayed event by event through the
/// lifecycle's own `transition` (with the actor's account and the site's units and town as the server loads
/// them), is allowed at every move, records the statuses the lifecycle decides and ends in the stored status
/// and version. Every event kind is one the domain knows. (Which items close-out waits for is not replayed:
/// the close-out rule is checked on the stored checklists by the test above.)
#[sqlx::test(migrations = "./migrations")]
async fn every_demo_history_replays_through_the_lifecycle(pool: PgPool) {
    let _app = load(&pool).await;

    type AccountRow = (Uuid, String, String, Vec<String>, i32, Option<i32>);
    let accounts: Vec<AccountRow> = sqlx::query_as(
        "select u.id, u.name, u.display_name, u.roles, u.organisation_id, o.town_id
         from app_user u join organisation o on o.id = u.organisation_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let actors: HashMap<Uuid, Actor> = accounts
        .into_iter()
        .map(|(user_id, name, display_name, roles, organisation_id, town_id)| {
            let roles = roles.iter().map(|r| r.parse::<Role>().unwrap()).collect();
            (user_id, Actor { user_id, name, display_name, roles, organisation_id, town_id })
        })
        .collect();

    type SiteRow = (Uuid, String, String, i32, Option<i32>, Option<i32>, Option<i32>, Vec<i32>, i64);
    let sites: Vec<SiteRow> = sqlx::query_as(
        "select s.id, s.code, s.status, s.version, s.town_id, s.responsible_unit_id, s.lead_unit_id,
             s.supporting_unit_ids,
             (select count(*) from observation o where o.site_id = s.id and o.look_back_result is not null)
         from site s order by s.code",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    type EventRow = (Uuid, String, Option<String>, Option<String>, Option<String>, Option<Uuid>);
    let rows: Vec<EventRow> = sqlx::query_as(
        "select site_id, kind, from_status, to_status, reason, actor_user_id from site_event order by site_id, id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut histories: HashMap<Uuid, Vec<&EventRow>> = HashMap::new();
    for row in &rows {
        histories.entry(row.0).or_default().push(row);
    }
    let status = |s: &Option<String>| s.as_deref().map(|s| s.parse::<SiteStatus>().unwrap());

    let mut moves: HashMap<ActionKind, usize> = HashMap::new();
    for (id, code, stored, version, town_id, responsible, lead, supporting, visits) in &sites {
        let mut facts = SiteFacts {
            town_id: *town_id,
            unit_ids: responsible.iter().chain(lead).chain(supporting).copied().collect(),
            ..SiteFacts::default()
        };
        let (mut now, mut versions) = (None, 0);
        for (_, kind, from, to, reason, actor) in &histories[id] {
            let kind: EventKind = kind.parse().unwrap_or_else(|e| panic!("{code}: {e}"));
            assert_eq!(status(from), now, "{code}: {kind} does not start where the history is");
            let actor = &actors[&actor.unwrap_or_else(|| panic!("{code}: {kind} has no actor"))];
            match kind {
                EventKind::Record(RecordKind::Opened) => {
                    now = status(to);
                    versions = 1;
                }
                EventKind::Record(RecordKind::EvidenceSubmitted) => {
                    assert_eq!(status(to), None, "{code}");
                    facts.evidence_by.push(actor.user_id);
                    versions += 1;
                }
                EventKind::Record(RecordKind::LookBackDue) => assert_eq!(status(to), None, "{code}"),
                EventKind::Record(other) => panic!("{code}: the demo records no {other} events"),
                EventKind::Move(action) => {
                    let from = now.unwrap_or_else(|| panic!("{code}: {action} before the site was opened"));
                    let decided = transition(from, action, actor, &facts, reason.as_deref())
                        .unwrap_or_else(|e| panic!("{code}: {action} by {}: {e}", actor.display_name));
                    assert_eq!(status(to), (decided.to != from).then_some(decided.to), "{code}: {action}");
                    now = Some(decided.to);
                    versions += 1;
                    *moves.entry(action).or_default() += 1;
                    match action {
                        ActionKind::RequestExtension => facts.extension_pending = true,
                        ActionKind::DecideExtension => facts.extension_pending = false,
                        ActionKind::RequestCloseOut => facts.close_out_requested_by = Some(actor.user_id),
                        ActionKind::Approve | ActionKind::Return => facts.close_out_requested_by = None,
                        _ => {}
                    }
                }
            }
        }
        assert_eq!(now, Some(stored.parse::<SiteStatus>().unwrap()), "{code}: the history ends elsewhere");
        // A look-back's visit is a version of its own, before its move (db::observations::insert_look_back).
        assert_eq!(versions + *visits as i32, *version, "{code}: version");
    }
    // Every move the demo tells of occurs, so none of them escapes the replay.
    let absent: Vec<&ActionKind> = ActionKind::ALL.iter().filter(|a| !moves.contains_key(a)).collect();
    assert!(absent.is_empty(), "the demo has no {absent:?}: {moves:?}");
}
