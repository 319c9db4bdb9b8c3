//! Weekly summaries, monthly bulletins and the ranking, against a hand-made history whose every number is
//! known: five sites in two towns, their events written with the times they happened (China time), the
//! figures of October 2026 worked out by hand below. Then later events, and October's report must not move.

use crate::common;

use axum::body::Body;
use axum::http::Request;
use chrono::{DateTime, Utc};
use common::{TestApp, add_organisation, app, token_for};
use roadledger::domain::report::ReportKind;
use roadledger::http::AppState;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

const TOWN_A: (&str, &str, [f64; 4]) = ("320582100", "杨舍镇", [120.50, 31.84, 120.60, 31.90]);
const TOWN_B: (&str, &str, [f64; 4]) = ("320582101", "塘桥镇", [120.60, 31.84, 120.70, 31.90]);

/// An instant written in China time, `2026-10-08 10:00`.
fn cst(at: &str) -> DateTime<Utc> {
    DateTime::parse_from_str(&format!("{at} +0800"), "%Y-%m-%d %H:%M %z").unwrap().with_timezone(&Utc)
}

struct History {
    app: TestApp,
    unit_u: i32,
    s1: Uuid,
    s3: Uuid,
    s5: Uuid,
    town_a: i32,
    town_b: i32,
}

async fn site(pool: &PgPool, town: i32, at: [f64; 2], status: &str) -> Uuid {
    sqlx::query_scalar(
        "insert into site (kind, geom, status, template_code, town_id, first_observed_at, last_observed_at)
         values ('spot', st_point($1, $2, 4326), $3, 'three_ones', $4, now(), now()) returning id",
    )
    .bind(at[0])
    .bind(at[1])
    .bind(status)
    .bind(town)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn event(pool: &PgPool, site: Uuid, at: &str, kind: &str, to: Option<&str>, data: Value) {
    sqlx::query(
        "insert into site_event (site_id, actor, kind, to_status, data, at) values ($1, '测试', $2, $3, $4, $5)",
    )
    .bind(site)
    .bind(kind)
    .bind(to)
    .bind(data)
    .bind(cst(at))
    .execute(pool)
    .await
    .unwrap();
}

/// The history. October's figures, by hand:
///
/// | | s1 (A) | s2 (A) | s5 (A then) | s3 (B) | s4 (B) |
/// |---|---|---|---|---|---|
/// | found | Sep | Oct | Oct (last minute) | Oct | Aug |
/// | Oct moves | closed on time, look-back pass | verified, dispatched, accepted, extension asked and approved, returned, closed late | | verified, dispatched, accepted, listed for supervision | relapsed |
/// | end of Oct | closed | closed | reported | in progress, overdue (deadline 10-20) | reopened (deadline 11-30) |
async fn history(pool: PgPool) -> History {
    let app = app(pool).await;
    let pool = &app.pool;
    for (code, name, rect) in [TOWN_A, TOWN_B] {
        app.add_town(code, name, rect).await;
    }
    let town = |code: &'static str| async move {
        sqlx::query_scalar::<_, i32>("select id from town where admin_code = $1")
            .bind(code)
            .fetch_one(pool)
            .await
            .unwrap()
    };
    let (town_a, town_b) = (town(TOWN_A.0).await, town(TOWN_B.0).await);
    let unit_u = add_organisation(pool, "农村公路管理处", "responsible_unit", None).await;
    let unit_v = add_organisation(pool, "塘桥镇城建办", "responsible_unit", None).await;
    let dispatch = |unit: i32, deadline: &str| json!({ "responsible_unit_id": unit, "deadline": deadline });

    let s1 = site(pool, town_a, [120.55, 31.87], "closed").await;
    event(pool, s1, "2026-09-20 10:00", "opened", Some("reported"), json!({})).await;
    event(pool, s1, "2026-09-21 10:00", "verify", Some("verified"), json!({})).await;
    event(pool, s1, "2026-09-22 10:00", "dispatch", Some("assigned"), dispatch(unit_u, "2026-10-10")).await;
    event(pool, s1, "2026-09-23 10:00", "accept", Some("in_progress"), json!({})).await;
    event(pool, s1, "2026-10-05 10:00", "request_close_out", Some("pending_review"), json!({})).await;
    event(pool, s1, "2026-10-08 10:00", "approve", Some("closed"), json!({})).await;
    event(pool, s1, "2026-10-30 10:00", "look_back_pass", Some("closed"), json!({})).await;

    let s2 = site(pool, town_a, [120.56, 31.87], "closed").await;
    event(pool, s2, "2026-10-02 09:00", "opened", Some("reported"), json!({})).await;
    event(pool, s2, "2026-10-02 12:00", "verify", Some("verified"), json!({})).await;
    event(pool, s2, "2026-10-04 09:00", "dispatch", Some("assigned"), dispatch(unit_u, "2026-10-20")).await;
    event(pool, s2, "2026-10-06 09:00", "accept", Some("in_progress"), json!({})).await;
    event(
        pool,
        s2,
        "2026-10-15 09:00",
        "request_extension",
        Some("in_progress"),
        json!({ "new_deadline": "2026-10-25" }),
    )
    .await;
    let approved = json!({ "approved": true, "old_deadline": "2026-10-20", "new_deadline": "2026-10-25" });
    event(pool, s2, "2026-10-16 09:00", "decide_extension", Some("in_progress"), approved).await;
    event(pool, s2, "2026-10-24 09:00", "request_close_out", Some("pending_review"), json!({})).await;
    event(pool, s2, "2026-10-26 09:00", "return", Some("in_progress"), json!({})).await;
    event(pool, s2, "2026-10-28 09:00", "request_close_out", Some("pending_review"), json!({})).await;
    event(pool, s2, "2026-10-29 09:00", "approve", Some("closed"), json!({})).await;

    let s3 = site(pool, town_b, [120.65, 31.87], "in_progress").await;
    event(pool, s3, "2026-10-10 08:00", "opened", Some("reported"), json!({})).await;
    event(pool, s3, "2026-10-10 09:00", "verify", Some("verified"), json!({})).await;
    event(pool, s3, "2026-10-11 08:00", "dispatch", Some("assigned"), dispatch(unit_v, "2026-10-20")).await;
    event(pool, s3, "2026-10-12 08:00", "accept", Some("in_progress"), json!({})).await;
    event(pool, s3, "2026-10-21 08:00", "supervise", Some("in_progress"), json!({ "level": "county" })).await;

    let s4 = site(pool, town_b, [120.66, 31.87], "reopened").await;
    event(pool, s4, "2026-08-01 08:00", "opened", Some("reported"), json!({})).await;
    event(pool, s4, "2026-08-02 08:00", "dispatch", Some("assigned"), dispatch(unit_v, "2026-08-20")).await;
    event(pool, s4, "2026-08-03 08:00", "accept", Some("in_progress"), json!({})).await;
    event(pool, s4, "2026-08-15 08:00", "approve", Some("closed"), json!({})).await;
    event(pool, s4, "2026-10-18 08:00", "look_back_relapse", Some("reopened"), json!({ "deadline": "2026-11-30" }))
        .await;

    // In town A until a boundary import moved it to B in November; opened a minute before October ended.
    let s5 = site(pool, town_b, [120.595, 31.87], "reported").await;
    event(pool, s5, "2026-10-31 23:59", "opened", Some("reported"), json!({})).await;
    event(pool, s5, "2026-11-10 09:00", "town_changed", None, json!({ "from": TOWN_A.0, "to": TOWN_B.0 })).await;
    // Opened a minute into November: not October's.
    let s6 = site(pool, town_a, [120.57, 31.87], "reported").await;
    event(pool, s6, "2026-11-01 00:01", "opened", Some("reported"), json!({})).await;

    History { app, unit_u, s1, s3, s5, town_a, town_b }
}

async fn get_as(app: &TestApp, token: &str, uri: &str) -> common::Answer {
    app.send(Request::get(uri).header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap()).await
}

async fn post_as(app: &TestApp, token: &str, uri: &str, body: Value) -> common::Answer {
    let request = Request::post(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    app.send(request).await
}

fn town<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["towns"].as_array().unwrap().iter().find(|t| t["name"] == name).unwrap_or_else(|| panic!("no {name}"))
}

#[sqlx::test(migrations = "./migrations")]
async fn october_figures_are_the_hand_counted_ones_and_stay_so(pool: PgPool) {
    let h = history(pool).await;
    let leader =
        token_for(&h.app.pool, "leader", "周领导", "leader", common::organisation(&h.app.pool, "city_office").await)
            .await;
    let answer = get_as(&h.app, &leader, "/api/v1/reports/monthly?period=2026-10").await;
    assert_eq!(answer.status, 200, "{}", answer.detail());
    let october = answer.json();
    assert_eq!(october["period"]["code"], "2026-10");
    assert_eq!(october["as_of"], "2026-10-31T16:00:00Z");
    assert_eq!(october["previous_period"]["code"], "2026-09");

    let a = &town(&october, "杨舍镇")["figures"];
    let expected_a = json!({
        "found": 2, "verified": 1, "dispatched": 1, "closed": 2, "closed_on_time": 1, "overdue": 0, "open": 1,
        "returned": 1, "look_backs": 1, "relapsed": 0, "extensions_requested": 1, "extensions_approved": 1,
        "supervision_listed": 0, "supervision_lifted": 0, "supervision_open": 0,
        "median_days_report_to_dispatch": 2.0, "median_days_dispatch_to_accept": 2.0,
        "median_days_dispatch_to_close": 20.5,
    });
    assert_eq!(*a, expected_a, "杨舍镇");
    let b = &town(&october, "塘桥镇")["figures"];
    let expected_b = json!({
        "found": 1, "verified": 1, "dispatched": 1, "closed": 0, "closed_on_time": 0, "overdue": 1, "open": 2,
        "returned": 0, "look_backs": 1, "relapsed": 1, "extensions_requested": 0, "extensions_approved": 0,
        "supervision_listed": 1, "supervision_lifted": 0, "supervision_open": 1,
        "median_days_report_to_dispatch": 1.0, "median_days_dispatch_to_accept": 1.0,
        "median_days_dispatch_to_close": null,
    });
    assert_eq!(*b, expected_b, "塘桥镇");
    let totals = &october["totals"];
    for (figure, n) in [
        ("found", 3),
        ("verified", 2),
        ("dispatched", 2),
        ("closed", 2),
        ("closed_on_time", 1),
        ("overdue", 1),
        ("open", 3),
        ("returned", 1),
        ("look_backs", 2),
        ("relapsed", 1),
        ("supervision_open", 1),
    ] {
        assert_eq!(totals[figure], n, "county {figure}");
    }
    assert_eq!(totals["median_days_report_to_dispatch"], 1.5);
    assert_eq!(totals["median_days_dispatch_to_close"], 20.5);
    // September: s1 found, verified, dispatched; s1 open at its end (s4 closed in August).
    let sep = &october["previous_totals"];
    assert_eq!((sep["found"].as_i64(), sep["dispatched"].as_i64(), sep["open"].as_i64()), (Some(1), Some(1), Some(1)));
    assert_eq!(sep["closed"], 0);

    let worst = october["worst_overdue"].as_array().unwrap();
    assert_eq!(worst.len(), 1);
    assert_eq!(
        (worst[0]["id"].as_str(), worst[0]["days_overdue"].as_i64()),
        (Some(h.s3.to_string().as_str()), Some(12))
    );
    assert_eq!(worst[0]["responsible_unit"], "塘桥镇城建办");
    let statuses: Vec<(String, i64)> = october["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["status"].as_str().unwrap().to_string(), s["sites"].as_i64().unwrap()))
        .collect();
    let expected: Vec<(String, i64)> =
        [("closed", 2), ("in_progress", 1), ("reopened", 1), ("reported", 1)].map(|(s, n)| (s.to_string(), n)).into();
    assert_eq!(statuses, expected);
    let trend = october["trend"].as_array().unwrap();
    assert_eq!(trend.len(), 8);
    assert_eq!(trend[7], json!({ "code": "2026-10", "found": 3, "closed": 2, "open": 3 }));
    assert_eq!(trend[5], json!({ "code": "2026-08", "found": 1, "closed": 1, "open": 0 }));
    for chart in ["trend", "towns", "statuses"] {
        let svg = october["charts"][chart].as_str().unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("塘桥镇") == (chart == "towns"), "{chart}: {svg:.200}");
    }

    // Later events: s3 closed, s6 dispatched, a site moved. October's figures and fingerprint do not change.
    let pool = &h.app.pool;
    event(pool, h.s3, "2026-11-05 08:00", "approve", Some("closed"), json!({})).await;
    event(pool, h.s1, "2026-12-01 08:00", "look_back_relapse", Some("reopened"), json!({ "deadline": "2026-12-30" }))
        .await;
    sqlx::query("update site set town_id = $2 where id = $1").bind(h.s1).bind(h.town_b).execute(pool).await.unwrap();
    event(pool, h.s1, "2026-12-02 08:00", "town_changed", None, json!({ "from": TOWN_A.0, "to": TOWN_B.0 })).await;
    let again = get_as(&h.app, &leader, "/api/v1/reports/monthly?period=2026-10").await.json();
    assert_eq!(again, october, "a past month's report is the same whatever happened since");

    // November sees them: s3 closed late; s4 overdue now (its relapse deadline, 11-30, has passed when
    // November ends); s5, found in October, now in B.
    let november = get_as(&h.app, &leader, "/api/v1/reports/monthly?period=2026-11").await.json();
    let b = &town(&november, "塘桥镇")["figures"];
    assert_eq!(
        (b["closed"].as_i64(), b["closed_on_time"].as_i64(), b["overdue"].as_i64()),
        (Some(1), Some(0), Some(1))
    );
    assert_eq!(b["open"], 2, "s4 reopened and s5, moved to 塘桥镇 in November");
    assert_eq!(town(&november, "杨舍镇")["figures"]["found"], 1, "s6, a minute into November");

    // A week: 2026-W44 is Oct 26 – Nov 1: s2's return and close-out, s1's look-back, s5 found.
    let week = get_as(&h.app, &leader, "/api/v1/reports/weekly?period=2026-W44").await.json();
    let w = &week["totals"];
    assert_eq!(
        (w["returned"].as_i64(), w["closed"].as_i64(), w["look_backs"].as_i64(), w["found"].as_i64()),
        (Some(1), Some(1), Some(1), Some(2))
    );
    let _ = h.s5;
}

#[sqlx::test(migrations = "./migrations")]
async fn scopes_narrow_reports_and_bad_parameters_are_named(pool: PgPool) {
    let h = history(pool).await;
    let pool = &h.app.pool;
    let city = common::organisation(pool, "city_office").await;
    let leader = token_for(pool, "leader", "周领导", "leader", city).await;
    let town_org = add_organisation(pool, "杨舍镇人民政府", "town", Some(h.town_a)).await;
    let town_officer = token_for(pool, "town", "孙区镇", "town_officer", town_org).await;
    let unit_officer = token_for(pool, "unit", "钱整改", "unit_officer", h.unit_u).await;

    // A town officer gets their town whatever they ask, and another town is not theirs.
    let mine = get_as(&h.app, &town_officer, "/api/v1/reports/monthly?period=2026-10").await.json();
    assert_eq!(mine["scope"]["name"], "杨舍镇");
    assert_eq!(mine["towns"].as_array().unwrap().len(), 1);
    assert_eq!(mine["totals"]["found"], 2);
    let other =
        get_as(&h.app, &town_officer, &format!("/api/v1/reports/monthly?period=2026-10&town={}", TOWN_B.0)).await;
    assert_eq!(other.status, 404, "{}", other.detail());
    assert_eq!(get_as(&h.app, &town_officer, "/api/v1/rankings/2026Q4").await.status, 403);

    // A unit officer: the sites dispatched to their unit (s1, s2), both closed in October.
    let unit = get_as(&h.app, &unit_officer, "/api/v1/reports/monthly?period=2026-10").await.json();
    assert_eq!(unit["scope"]["kind"], "unit");
    assert_eq!((unit["totals"]["closed"].as_i64(), unit["totals"]["found"].as_i64()), (Some(2), Some(1)));

    // The leader may ask for a town.
    let b = get_as(&h.app, &leader, &format!("/api/v1/reports/monthly?period=2026-10&town={}", TOWN_B.0)).await.json();
    assert_eq!((b["scope"]["code"].as_str(), b["totals"]["overdue"].as_i64()), (Some(TOWN_B.0), Some(1)));

    for (uri, status, says) in [
        ("/api/v1/reports/monthly?period=2026-13", 400, "no month 13"),
        ("/api/v1/reports/monthly?period=2026-W44", 400, "not a month"),
        ("/api/v1/reports/weekly?period=1999-W01", 400, "outside 2000"),
        ("/api/v1/reports/monthly?town=999", 404, "no town"),
        ("/api/v1/reports/monthly?unit=99999", 404, "no organisation"),
        ("/api/v1/reports/monthly?colour=red", 400, "the parameters are period, town, unit"),
        ("/api/v1/rankings/2026Q5", 400, "quarters are 1–4"),
        ("/api/v1/rankings/2026Q4.docx", 404, ".pdf, .xlsx"),
        ("/api/v1/publications?kind=yearly", 400, "weekly, monthly or ranking"),
        ("/api/v1/publications/abc", 400, "not a publication id"),
        ("/api/v1/publications/42", 404, "no publication 42"),
    ] {
        let answer = get_as(&h.app, &leader, uri).await;
        assert_eq!(answer.status, status, "{uri}: {}", answer.detail());
        assert!(answer.detail().contains(says), "{uri}: {}", answer.detail());
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn the_board_ranks_bands_and_publications_are_immutable(pool: PgPool) {
    let h = history(pool).await;
    let pool = &h.app.pool;
    let city = common::organisation(pool, "city_office").await;
    let leader = token_for(pool, "leader", "周领导", "leader", city).await;
    let dispatcher = token_for(pool, "disp", "赵调度", "dispatcher", city).await;
    let town_org = add_organisation(pool, "杨舍镇人民政府", "town", Some(h.town_a)).await;
    let town_officer = token_for(pool, "town", "孙区镇", "town_officer", town_org).await;

    // Q4 so far: 杨舍镇 closed two (one on time) with nothing overdue; 塘桥镇 one overdue, a relapse.
    let board = get_as(&h.app, &leader, "/api/v1/rankings/2026Q4").await.json();
    let towns = board["towns"].as_array().unwrap();
    assert_eq!(towns.len(), 2);
    assert_eq!(
        (towns[0]["name"].as_str(), towns[0]["rank"].as_i64(), towns[0]["band"].as_str()),
        (Some("杨舍镇"), Some(1), Some("sunny"))
    );
    assert_eq!((towns[1]["name"].as_str(), towns[1]["band"].as_str()), (Some("塘桥镇"), Some("rainy")));
    // 杨舍镇 is best on every measure but response (2 days against 1): 100 on four, 0 on response (weight
    // 10). 塘桥镇 has no return rate (nothing reviewed): the mean of the others' scores, 100; and 100 on
    // response. Weights 35/25/15/15/10.
    assert_eq!(towns[0]["measures"]["on_time_rate"], 0.5);
    assert_eq!((towns[0]["score"].as_f64(), towns[1]["score"].as_f64()), (Some(90.0), Some(25.0)));

    // Publishing: dispatchers and leaders; the second needs `corrects`, naming the latest.
    let first =
        post_as(&h.app, &dispatcher, "/api/v1/reports/monthly/publish?period=2026-10", json!({ "note": "十月通报" }))
            .await;
    assert_eq!(first.status, 201, "{}", first.detail());
    let first = first.json();
    assert_eq!((first["version"].as_i64(), first["published_by"].as_str()), (Some(1), Some("赵调度")));
    let again = post_as(&h.app, &leader, "/api/v1/reports/monthly/publish?period=2026-10", json!({})).await;
    assert_eq!(again.status, 409);
    assert!(again.detail().contains(&format!("\"corrects\": {}", first["id"])), "{}", again.detail());
    let wrong =
        post_as(&h.app, &leader, "/api/v1/reports/monthly/publish?period=2026-10", json!({ "corrects": 999 })).await;
    assert_eq!(wrong.status, 409);
    let long = post_as(
        &h.app,
        &leader,
        "/api/v1/reports/monthly/publish?period=2026-10",
        json!({ "corrects": first["id"], "note": "长".repeat(1001) }),
    )
    .await;
    assert_eq!(long.status, 422);
    let correction = post_as(
        &h.app,
        &leader,
        "/api/v1/reports/monthly/publish?period=2026-10",
        json!({ "corrects": first["id"], "note": "更正：塘桥镇逾期数" }),
    )
    .await;
    assert_eq!(correction.status, 201, "{}", correction.detail());
    let correction = correction.json();
    assert_eq!((correction["version"].as_i64(), correction["corrects"].clone()), (Some(2), first["id"].clone()));
    assert_eq!(post_as(&h.app, &town_officer, "/api/v1/rankings/2026Q3/publish", json!({})).await.status, 403);
    assert_eq!(post_as(&h.app, &leader, "/api/v1/reports/monthly/publish?period=2027-01", json!({})).await.status, 422);

    // The town officer sees both versions, and the stored body as it was published.
    let listed = get_as(&h.app, &town_officer, "/api/v1/publications?kind=monthly").await.json();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let stored = get_as(&h.app, &town_officer, &format!("/api/v1/publications/{}", first["id"])).await.json();
    assert_eq!(stored["body"]["totals"]["overdue"], 1);
    assert_eq!(stored["body"]["towns"].as_array().unwrap().len(), 2, "the county's bulletin, every town");
    assert!(stored["charts"]["statuses"].as_str().unwrap().starts_with("<svg"));
    // The live report lists its publications.
    let live = get_as(&h.app, &leader, "/api/v1/reports/monthly?period=2026-10").await.json();
    assert_eq!(live["published"].as_array().unwrap().len(), 2);

    // The database refuses any change to a publication.
    for sql in [
        "update report_publication set note = 'edited'",
        "delete from report_publication",
        "truncate report_publication cascade",
    ] {
        let e = sqlx::query(sql).execute(pool).await.unwrap_err();
        assert!(e.to_string().contains("immutable"), "{sql}: {e}");
    }

    // A published period's draft is not prepared again.
    let redo = post_as(&h.app, &leader, "/api/v1/reports/monthly/draft?period=2026-10", json!({})).await;
    assert_eq!(redo.status, 409, "{}", redo.detail());
    let draft = post_as(&h.app, &leader, "/api/v1/reports/monthly/draft?period=2026-09", json!({})).await;
    assert_eq!(draft.status, 200, "{}", draft.detail());
    assert_eq!(draft.json()["published"], false);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_schedule_prepares_each_draft_once_with_two_servers(pool: PgPool) {
    let h = history(pool).await;
    let state = |pool: &PgPool| AppState {
        pool: pool.clone(),
        replica: None,
        photos: roadledger::photos::PhotoStore::local(h.app.photo_dir.path()).unwrap(),
        settings: Default::default(),
    };
    let (one, two) = (state(&h.app.pool), state(&h.app.pool));
    // Monday 2026-12-07 09:00 China time: last week's, last month's and last quarter's drafts are due.
    let now = cst("2026-12-07 09:00");
    let (a, b) = tokio::join!(
        roadledger::http::reports::prepare_due_drafts(&one, now),
        roadledger::http::reports::prepare_due_drafts(&two, now)
    );
    let mut made: Vec<(ReportKind, String)> = a.unwrap().into_iter().chain(b.unwrap()).collect();
    made.sort_by_key(|(k, p)| (k.as_str(), p.clone()));
    let expected: Vec<(ReportKind, String)> = vec![
        (ReportKind::Monthly, "2026-11".into()),
        (ReportKind::Ranking, "2026Q3".into()),
        (ReportKind::Weekly, "2026-W49".into()),
    ];
    assert_eq!(made, expected, "each draft made by one of the two servers, once");
    let rows: i64 = sqlx::query_scalar("select count(*) from report_draft").fetch_one(&h.app.pool).await.unwrap();
    assert_eq!(rows, 3);
    assert!(roadledger::http::reports::prepare_due_drafts(&one, now).await.unwrap().is_empty());
    // Before 08:00 on the Monday, last week is not due yet.
    let early = roadledger::http::reports::prepare_due_drafts(&one, cst("2026-12-14 07:59")).await.unwrap();
    assert!(early.is_empty(), "{early:?}");
    let due = roadledger::http::reports::prepare_due_drafts(&two, cst("2026-12-14 08:00")).await.unwrap();
    assert_eq!(due, [(ReportKind::Weekly, "2026-W50".to_string())]);
    let body: Value = sqlx::query_scalar("select body from report_draft where kind = 'monthly'")
        .fetch_one(&h.app.pool)
        .await
        .unwrap();
    assert_eq!(body["period"]["code"], "2026-11");
    assert_eq!(body["totals"]["found"], 1, "s6, opened a minute into November");
}

#[sqlx::test(migrations = "./migrations")]
async fn a_figure_is_a_filter_of_the_map_and_the_ledger(pool: PgPool) {
    let h = history(pool).await;
    let leader =
        token_for(&h.app.pool, "leader", "周领导", "leader", common::organisation(&h.app.pool, "city_office").await)
            .await;
    let counts = |q: &'static str| {
        let (app, leader) = (&h.app, &leader);
        async move { get_as(app, leader, &format!("/api/v1/sites/counts?{q}")).await.json() }
    };
    let overdue = counts("figure=month:2026-10:overdue").await;
    assert_eq!((overdue["total"].as_i64(), overdue["by_status"]["in_progress"].as_i64()), (Some(1), Some(1)));
    assert_eq!(counts("figure=month:2026-10:found").await["total"], 3);
    assert_eq!(counts("figure=month:2026-10:closed_on_time").await["total"], 1);
    assert_eq!(counts("figure=quarter:2026Q4:relapsed&town=320582101").await["total"], 1);
    assert_eq!(counts("figure=month:2026-10:closed&status=reported").await["total"], 0);
    let bad = get_as(&h.app, &leader, "/api/v1/sites/counts?figure=month:2026-10:speed").await;
    assert_eq!(bad.status, 400);
    assert!(bad.detail().contains("unknown figure"), "{}", bad.detail());

    let ledger = get_as(&h.app, &leader, "/api/v1/ledger.csv?figure=month:2026-10:closed").await;
    assert_eq!(ledger.status, 200, "{}", ledger.detail());
    let rows = String::from_utf8(ledger.bytes.to_vec()).unwrap().lines().count();
    assert_eq!(rows, 3, "the header and the two sites closed in October");
    let _ = (h.s1, h.s5);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_bulletin_prints_and_tabulates_the_hand_counted_figures(pool: PgPool) {
    use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
    let h = history(pool).await;
    let city = common::organisation(&h.app.pool, "city_office").await;
    let leader = token_for(&h.app.pool, "leader", "周领导", "leader", city).await;

    let pdf = get_as(&h.app, &leader, "/api/v1/reports/monthly.pdf?period=2026-10").await;
    assert_eq!(pdf.status, 200);
    let disposition = pdf.headers["content-disposition"].to_str().unwrap();
    assert!(disposition.contains("monthly-2026-10.pdf") && disposition.contains("filename*=UTF-8''"), "{disposition}");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &pdf.bytes).unwrap();
    let output = std::process::Command::new("pdftotext").arg(file.path()).arg("-").output().expect("poppler-utils");
    let text = String::from_utf8(output.stdout).unwrap();
    for expected in ["月通报", "2026年10月", "杨舍镇", "塘桥镇", "本期发现隐患 3 处（较上期 +2）", "塘桥镇城建办"]
    {
        assert!(text.contains(expected), "{expected:?} not in the PDF:\n{text}");
    }

    let xlsx = get_as(&h.app, &leader, "/api/v1/reports/monthly.xlsx?period=2026-10").await;
    assert_eq!(xlsx.status, 200);
    let mut book: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(xlsx.bytes.clone())).unwrap();
    let towns = book.worksheet_range("分区镇").unwrap();
    let row = |name: &str| {
        (0..towns.height())
            .find(|r| towns.get((*r, 1)) == Some(&Data::String(name.into())))
            .unwrap_or_else(|| panic!("no row for {name}"))
    };
    let (a, b) = (row("杨舍镇"), row("塘桥镇"));
    assert_eq!(towns.get((0, 2)), Some(&Data::String("发现".into())));
    assert_eq!(towns.get((a, 2)), Some(&Data::Float(2.0)), "杨舍镇 found");
    assert_eq!(towns.get((b, 7)), Some(&Data::Float(1.0)), "塘桥镇 overdue");
    assert_eq!(towns.get((a, 7)), Some(&Data::Float(0.0)), "杨舍镇 overdue");

    // The board as a PDF names the bands.
    let board = get_as(&h.app, &leader, "/api/v1/rankings/2026Q4.pdf").await;
    assert_eq!(board.status, 200);
    std::fs::write(file.path(), &board.bytes).unwrap();
    let output = std::process::Command::new("pdftotext").arg(file.path()).arg("-").output().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("晴雨榜") && text.contains("杨舍镇") && text.contains("90.00"), "{text}");
}
