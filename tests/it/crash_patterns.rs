//! Crash time patterns (issue 12): hand-made crashes at chosen county times — the minute before and after
//! midnight, a make-up Saturday, a Spring Festival day, the autumn farming season — counted by hour, weekday,
//! month and period with the exact exposure and ratio; the filters; one candidate's crashes; the candidate's
//! sheet read back with `pdftotext`; who may read; bad parameters; the holiday calendar's seed and its
//! replacement by an admin.

use crate::common;

use axum::body::Body;
use axum::http::Request;
use common::{TestApp, county_office, token_for};
use roadledger::http::Settings;
use serde_json::{Value, json};
use sqlx::PgPool;

/// 塘桥镇, east of 杨舍镇 (common::YANGSHE).
pub(crate) const TANGQIAO_CODE: &str = "320582101";
const TANGQIAO: [f64; 4] = [120.60, 31.84, 120.70, 31.90];

struct Crash<'a> {
    key: &'a str,
    /// County time with its offset, as police records read.
    at: &'a str,
    in_tangqiao: bool,
    casualties: [i16; 3],
    crash_type: &'a str,
    vehicles: &'a [&'a str],
    light: Option<&'a str>,
}

async fn insert(pool: &PgPool, c: &Crash<'_>) -> i64 {
    let (lon, admin_code) = if c.in_tangqiao { (120.65, TANGQIAO_CODE) } else { (120.55, "320582100") };
    sqlx::query_scalar(
        "insert into crash (source_key, occurred_at, geom, located_by, town_id, deaths, serious_injuries,
                            slight_injuries, crash_type, vehicle_types, weather, light)
         values ('no:' || $1, $2::timestamptz, st_setsrid(st_makepoint($3, 31.87), 4326), 'coordinates',
                 (select id from town where admin_code = $4), $5, $6, $7, $8, $9, 'clear', $10)
         returning id",
    )
    .bind(c.key)
    .bind(c.at)
    .bind(lon)
    .bind(admin_code)
    .bind(c.casualties[0])
    .bind(c.casualties[1])
    .bind(c.casualties[2])
    .bind(c.crash_type)
    .bind(c.vehicles.iter().map(|v| v.to_string()).collect::<Vec<_>>())
    .bind(c.light)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The crashes, in `CRASHES` order; the last two fall outside 2025.
const CRASHES: [Crash<'static>; 9] = [
    // The Spring Festival holiday (a Wednesday).
    Crash {
        key: "F1",
        at: "2025-01-29T10:00:00+08:00",
        in_tangqiao: false,
        casualties: [0, 0, 1],
        crash_type: "rear_end",
        vehicles: &["car"],
        light: Some("daylight"),
    },
    // A make-up Saturday (a working day), the minute before midnight, no light recorded.
    Crash {
        key: "S1",
        at: "2025-02-08T23:59:00+08:00",
        in_tangqiao: false,
        casualties: [1, 0, 0],
        crash_type: "head_on",
        vehicles: &["truck", "e_bike"],
        light: None,
    },
    // Two minutes later: the Sunday, hour 0 (15:01 UTC on Saturday).
    Crash {
        key: "S2",
        at: "2025-02-08T16:01:00Z",
        in_tangqiao: false,
        casualties: [0, 0, 0],
        crash_type: "single_vehicle",
        vehicles: &["e_bike"],
        light: Some("dark_unlit"),
    },
    // The autumn farming season (三秋): Monday to Wednesday.
    Crash {
        key: "A1",
        at: "2025-10-20T18:30:00+08:00",
        in_tangqiao: false,
        casualties: [0, 1, 0],
        crash_type: "angle",
        vehicles: &["farm_vehicle"],
        light: Some("dawn_dusk"),
    },
    Crash {
        key: "A2",
        at: "2025-10-21T07:15:00+08:00",
        in_tangqiao: true,
        casualties: [0, 0, 2],
        crash_type: "pedestrian",
        vehicles: &["car"],
        light: Some("daylight"),
    },
    Crash {
        key: "A3",
        at: "2025-10-22T16:40:00+08:00",
        in_tangqiao: false,
        casualties: [0, 0, 0],
        crash_type: "rear_end",
        vehicles: &["car"],
        light: Some("daylight"),
    },
    // The last minute of 2025 in county time (a Wednesday).
    Crash {
        key: "E1",
        at: "2025-12-31T23:59:00+08:00",
        in_tangqiao: false,
        casualties: [0, 0, 0],
        crash_type: "other",
        vehicles: &[],
        light: None,
    },
    // Outside: the minute before 2025 began and the minute after it ended, in county time.
    Crash {
        key: "X1",
        at: "2024-12-31T23:59:00+08:00",
        in_tangqiao: false,
        casualties: [0, 0, 1],
        crash_type: "other",
        vehicles: &[],
        light: None,
    },
    Crash {
        key: "X2",
        at: "2025-12-31T16:01:00Z",
        in_tangqiao: false,
        casualties: [0, 0, 1],
        crash_type: "other",
        vehicles: &[],
        light: None,
    },
];

/// The crashes, two towns' accounts and two candidates (also the browser test's world, `browser.rs`).
pub(crate) struct World {
    pub(crate) app: TestApp,
    /// API tokens; the dispatcher's account is `disp`, signed in with `common::DEFAULT_PASSWORD`.
    pub(crate) dispatcher: String,
    town_officer: String,
    unit_officer: String,
    leader: String,
    admin: String,
    /// The candidate of 杨舍镇 holding S1, S2 and A1; and one of 塘桥镇 holding A2.
    pub(crate) candidate: i64,
    other_candidate: i64,
}

pub(crate) async fn world(pool: PgPool) -> World {
    world_with(pool, Settings::default()).await
}

async fn world_with(pool: PgPool, settings: Settings) -> World {
    let app = common::app_with(pool, settings).await;
    let office = county_office(&app).await;
    app.add_town(TANGQIAO_CODE, "塘桥镇", TANGQIAO).await;
    let city = common::organisation(&app.pool, "city_office").await;
    let leader = token_for(&app.pool, "leader", "周领导", "leader", city).await;
    let admin = token_for(&app.pool, "admin", "吴管理", "admin", city).await;
    let mut ids = Vec::new();
    for c in &CRASHES {
        ids.push(insert(&app.pool, c).await);
    }
    let run: i64 = sqlx::query_scalar(
        "insert into screening_run (method, parameters, window_start, window_end, run_by, crashes_read,
                                    inputs_sha256, candidates, elapsed_ms)
         values ('sliding_window', '{\"window_m\": 500, \"step_m\": 100, \"min_crashes\": 3}', '2025-01-01',
                 '2026-01-01', 'disp', 7, sha256('t'), 2, 12)
         returning id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let candidate = |town: &'static str, rank: i32, lon: f64| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "insert into candidate (source, screening_run_id, kind, geom, town_id, route_code, stake_m,
                                        end_stake_m, score, rank, crash_count, deaths, injuries)
                 values ('crash_analysis', $1, 'section',
                         st_setsrid(st_makeline(st_makepoint($2, 31.87), st_makepoint($2 + 0.005, 31.87)), 4326),
                         (select id from town where admin_code = $3), 'X203', 12300, 12800, $4, $5, 3, 1, 1)
                 returning id",
            )
            .bind(run)
            .bind(lon)
            .bind(town)
            .bind(10.0 - f64::from(rank))
            .bind(rank)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let own = candidate("320582100", 1, 120.55).await;
    let other = candidate(TANGQIAO_CODE, 2, 120.65).await;
    for (candidate, crash) in [(own, ids[1]), (own, ids[2]), (own, ids[3]), (other, ids[4])] {
        sqlx::query("insert into candidate_crash (candidate_id, crash_id) values ($1, $2)")
            .bind(candidate)
            .bind(crash)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    World {
        app,
        dispatcher: office.dispatcher,
        town_officer: office.town_officer,
        unit_officer: office.unit_officer,
        leader,
        admin,
        candidate: own,
        other_candidate: other,
    }
}

impl World {
    async fn get(&self, token: &str, uri: &str) -> common::Answer {
        let request = Request::get(uri).header("authorization", format!("Bearer {token}")).body(Body::empty());
        self.app.send(request.unwrap()).await
    }

    async fn patterns(&self, token: &str, query: &str) -> Value {
        let answer = self.get(token, &format!("/api/v1/crash-patterns?{query}")).await;
        assert_eq!(answer.status, 200, "{query}: {}", String::from_utf8_lossy(&answer.bytes));
        answer.json()
    }
}

fn crashes_of(rows: &Value) -> Vec<i64> {
    rows.as_array().unwrap().iter().map(|r| r["crashes"].as_i64().unwrap()).collect()
}

fn period<'a>(p: &'a Value, code: &str) -> &'a Value {
    p["periods"].as_array().unwrap().iter().find(|r| r["period"] == code).unwrap_or_else(|| panic!("{code}: {p}"))
}

fn close(value: &Value, expected: f64) -> bool {
    (value.as_f64().unwrap() - expected).abs() < 1e-9
}

#[sqlx::test(migrations = "./migrations")]
async fn the_county_pattern_counts_every_crash_of_the_window_in_county_time(pool: PgPool) {
    let w = world(pool).await;
    let p = w.patterns(&w.dispatcher, "from=2025-01-01&to=2025-12-31").await;

    assert_eq!(p["window"], json!({ "from": "2025-01-01", "to": "2025-12-31", "days": 365 }));
    assert_eq!(p["totals"], json!({ "crashes": 7, "deaths": 1, "injuries": 4, "fatal": 1 }));
    let mut hours = vec![0; 24];
    for (h, n) in [(10, 1), (23, 2), (0, 1), (18, 1), (7, 1), (16, 1)] {
        hours[h] = n;
    }
    assert_eq!(crashes_of(&p["hours"]), hours, "23:59 and 00:01 fall in their own county hours");
    assert_eq!(p["hours"][23]["deaths"], 1);
    // Saturday holds the 23:59 crash of 02-08 and Sunday the 00:01 one of 02-09.
    assert_eq!(crashes_of(&p["weekdays"]), [1, 1, 3, 0, 0, 1, 1]);
    assert_eq!(crashes_of(&p["months"]), [1, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 1]);
    let bands: Vec<(String, i64)> = p["bands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["band"].as_str().unwrap().to_string(), b["crashes"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        bands,
        [
            ("small_hours".into(), 1),
            ("morning_peak".into(), 1),
            ("daytime".into(), 1),
            ("evening_peak".into(), 2),
            ("night".into(), 2)
        ]
    );

    // 三秋 (10-15..11-30): 47 of 365 days, 3 of 7 crashes.
    let autumn = period(&p, "farming_autumn");
    assert_eq!((autumn["crashes"].as_i64(), autumn["days"].as_i64()), (Some(3), Some(47)));
    assert!(close(&autumn["crash_share"], 3.0 / 7.0));
    assert!(close(&autumn["exposure_share"], 47.0 / 365.0));
    assert!(close(&autumn["ratio"], (3.0 / 7.0) / (47.0 / 365.0)));
    assert_eq!(autumn["over_represented"], true);
    // The winter holiday (01-21..02-19) and the summer holiday (07-06..08-31): 87 days, 3 crashes.
    let school_holiday = period(&p, "school_holiday");
    assert_eq!((school_holiday["crashes"].as_i64(), school_holiday["days"].as_i64()), (Some(3), Some(30 + 57)));
    assert_eq!(
        p["over_represented"],
        json!(["三秋农忙期间占统计期 13% 的天数，发生 43% 的事故", "寒暑假期间占统计期 24% 的天数，发生 43% 的事故"])
    );
    // The Spring Festival: the 8 days named 春节 in the seeded calendar; one crash is too few to call.
    let festival = period(&p, "spring_festival");
    assert_eq!((festival["crashes"].as_i64(), festival["days"].as_i64()), (Some(1), Some(8)));
    assert!(close(&festival["ratio"], (1.0 / 7.0) / (8.0 / 365.0)));
    assert_eq!(festival["over_represented"], false);
    // Rest days from the calendar: the make-up Saturday 02-08 is a working day, the festival's Wednesday
    // is not. 2025: 104 weekend days + 28 holiday days − 10 holidays at a weekend − 5 make-up days.
    let (rest, working) = (period(&p, "rest_day"), period(&p, "working_day"));
    assert_eq!((rest["crashes"].as_i64(), rest["days"].as_i64()), (Some(2), Some(117)));
    assert_eq!((working["crashes"].as_i64(), working["days"].as_i64()), (Some(5), Some(248)));
    assert_eq!(period(&p, "public_holiday")["days"], 28);
    // Night: dark light recorded (S2), or no light and 19:00–05:59 (S1, E1); dawn/dusk from A1's light.
    let night = period(&p, "night");
    assert_eq!(night["crashes"], 3);
    assert!(close(&night["exposure_share"], 11.0 / 24.0));
    assert_eq!(period(&p, "dawn_dusk")["crashes"], 1);
    assert_eq!(period(&p, "farming_summer")["crashes"], 0);
    assert_eq!(period(&p, "farming_summer")["days"], 22);

    assert_eq!(p["scope"]["kind"], "county");
    for chart in ["hours", "weekdays", "months", "periods"] {
        let svg = p["charts"][chart].as_str().unwrap();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{chart}: {svg}");
    }
    assert!(p["charts"]["periods"].as_str().unwrap().contains("三秋农忙"));
    assert!(p["charts"]["weekdays"].as_str().unwrap().contains("周六"));

    // One day: the make-up Saturday and the Sunday after it.
    let p = w.patterns(&w.dispatcher, "from=2025-02-08&to=2025-02-09").await;
    assert_eq!(p["totals"]["crashes"], 2);
    assert_eq!(
        (period(&p, "working_day")["days"].as_i64(), period(&p, "rest_day")["days"].as_i64()),
        (Some(1), Some(1))
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn filters_narrow_the_crashes_and_a_town_officer_reads_their_town(pool: PgPool) {
    let w = world(pool).await;
    let total = |p: &Value| p["totals"]["crashes"].as_i64().unwrap();
    let window = "from=2025-01-01&to=2025-12-31";
    assert_eq!(total(&w.patterns(&w.leader, &format!("{window}&town=320582101")).await), 1);
    assert_eq!(total(&w.patterns(&w.leader, &format!("{window}&severity=fatal")).await), 1);
    assert_eq!(total(&w.patterns(&w.leader, &format!("{window}&crash_type=rear_end")).await), 2);
    assert_eq!(total(&w.patterns(&w.leader, &format!("{window}&vehicle=e_bike")).await), 2);
    assert_eq!(total(&w.patterns(&w.leader, &format!("{window}&vehicle=e_bike&severity=fatal")).await), 1);
    // The window's edges are county midnights: X1 and X2 join when the window reaches them.
    assert_eq!(total(&w.patterns(&w.leader, "from=2024-12-31&to=2026-01-01").await), 9);

    let own = w.patterns(&w.town_officer, window).await;
    assert_eq!(total(&own), 6, "杨舍镇's crashes only");
    let elsewhere = w.get(&w.town_officer, &format!("/api/v1/crash-patterns?{window}&town=320582101")).await;
    assert_eq!(elsewhere.status, 404, "{}", elsewhere.detail());
    let other = w.get(&w.town_officer, &format!("/api/v1/crash-patterns?candidate={}", w.other_candidate)).await;
    assert_eq!(other.status, 404);
    assert_eq!(w.get(&w.unit_officer, "/api/v1/crash-patterns").await.status, 403);
    // The default account is an inspector.
    assert_eq!(w.app.get("/api/v1/crash-patterns").await.status, 403);
    let anonymous = w.app.send_as_is(Request::get("/api/v1/crash-patterns").body(Body::empty()).unwrap()).await;
    assert_eq!(anonymous.status, 401);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_candidate_pattern_counts_its_crashes_over_its_runs_window(pool: PgPool) {
    let w = world(pool).await;
    let p = w.patterns(&w.town_officer, &format!("candidate={}", w.candidate)).await;
    assert_eq!(p["scope"]["kind"], "candidate");
    assert_eq!(p["scope"]["candidate"], w.candidate);
    // The run read [2025-01-01, 2026-01-01): the days 2025-01-01 to 2025-12-31.
    assert_eq!(p["window"], json!({ "from": "2025-01-01", "to": "2025-12-31", "days": 365 }));
    assert_eq!(p["totals"], json!({ "crashes": 3, "deaths": 1, "injuries": 1, "fatal": 1 }));
    let hours = crashes_of(&p["hours"]);
    assert_eq!((hours[23], hours[0], hours[18]), (1, 1, 1));
    assert_eq!(period(&p, "farming_autumn")["crashes"], 1);
    assert_eq!(period(&p, "night")["crashes"], 2);
    // Filters apply within the candidate too.
    let fatal = w.patterns(&w.dispatcher, &format!("candidate={}&severity=fatal", w.candidate)).await;
    assert_eq!(fatal["totals"]["crashes"], 1);

    // Confirmed into a site, the candidate's crashes are the site's.
    let recorded = w.app.upload(&common::observation("section", json!([[120.55, 31.87], [120.555, 31.87]])), &[]).await;
    assert_eq!(recorded.status, 201, "{}", String::from_utf8_lossy(&recorded.bytes));
    let site = recorded.json()["site"]["id"].as_str().unwrap().to_string();
    let site_url = format!("site={site}");
    assert_eq!(w.patterns(&w.dispatcher, &site_url).await["totals"]["crashes"], 0, "nothing confirmed yet");
    sqlx::query("update candidate set status = 'confirmed', decided_at = now(), decided_by = 'disp', site_id = $2::uuid where id = $1")
        .bind(w.candidate)
        .bind(&site)
        .execute(&w.app.pool)
        .await
        .unwrap();
    let p = w.patterns(&w.town_officer, &site_url).await;
    assert_eq!((p["scope"]["kind"].as_str(), p["scope"]["site"].as_str()), (Some("site"), Some(site.as_str())));
    assert_eq!(p["window"]["days"], 365);
    assert_eq!(p["totals"]["crashes"], 3);
}

#[sqlx::test(migrations = "./migrations")]
async fn bad_parameters_are_refused_with_what_is_wrong(pool: PgPool) {
    let w = world(pool).await;
    for (query, status, words) in [
        ("from=2025-13-01", 400, "not a date"),
        ("from=2025-06-01&to=2025-05-01", 400, "after"),
        ("from=2015-01-01&to=2025-12-31", 400, "ten years"),
        ("severity=deadly", 400, "fatal, injury, property_damage_only"),
        ("crash_type=crash", 400, "rear_end"),
        ("vehicle=spaceship", 400, "e_bike"),
        ("colour=red", 400, "the parameters are"),
        ("candidate=abc", 400, "not a candidate id"),
        ("candidate=999999", 404, "no candidate"),
        ("candidate=1&site=2", 400, "not both"),
        ("site=nope", 400, "UUID"),
        ("site=00000000-0000-0000-0000-000000000000", 404, "no site"),
        ("town=999999999", 404, "no town"),
    ] {
        let answer = w.get(&w.dispatcher, &format!("/api/v1/crash-patterns?{query}")).await;
        assert_eq!(answer.status, status, "{query}");
        assert!(answer.detail().contains(words), "{query}: {}", answer.detail());
    }
    let long = "x".repeat(100);
    assert_eq!(w.get(&w.dispatcher, &format!("/api/v1/crash-patterns?town={long}")).await.status, 400);
    assert_eq!(w.get(&w.dispatcher, "/api/v1/candidates/abc/sheet.pdf").await.status, 400);
    assert_eq!(w.get(&w.dispatcher, "/api/v1/candidates/999999/sheet.pdf").await.status, 404);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_candidates_sheet_lists_its_crashes_and_patterns(pool: PgPool) {
    let w = world(pool).await;
    let pdf = w.get(&w.dispatcher, &format!("/api/v1/candidates/{}/sheet.pdf", w.candidate)).await;
    assert_eq!(pdf.status, 200, "{}", String::from_utf8_lossy(&pdf.bytes));
    assert_eq!(pdf.headers["content-type"], "application/pdf");
    assert!(pdf.headers["content-disposition"].to_str().unwrap().contains(&format!("candidate-{}.pdf", w.candidate)));
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &pdf.bytes).unwrap();
    let output = std::process::Command::new("pdftotext").arg(file.path()).arg("-").output().expect("poppler-utils");
    assert!(output.status.success());
    // pdftotext drops the narrow spaces between Chinese and digits, so compare without spaces.
    let text = String::from_utf8(output.stdout).unwrap().replace([' ', '\u{a0}'], "");
    for expected in [
        format!("事故多发点段候选#{}", w.candidate),
        "待确认".into(),
        "X203".into(),
        "K12+300至K12+800".into(),
        "杨舍镇".into(),
        "滑动窗口".into(),
        "2025-01-01至2025-12-31".into(),
        "第1名（共2个候选）".into(),
        "window_m".into(),
        "事故清单（3起）".into(),
        "2025-02-0823:59".into(),
        "2025-02-0900:01".into(),
        "2025-10-2018:30".into(),
        "正面相撞".into(),
        "货车、电动自行车".into(),
        "夜间无路灯照明".into(),
        "1/0/0".into(),
        "按小时分布".into(),
        "各时段事故占比与时间占比".into(),
    ] {
        assert!(text.contains(&expected), "{expected:?} not in the PDF:\n{text}");
    }
    assert!(!text.contains("2025-10-2107:15"), "a crash of another candidate is not listed");

    // A town officer prints their town's candidates, not another town's.
    let other = w.get(&w.town_officer, &format!("/api/v1/candidates/{}/sheet.pdf", w.other_candidate)).await;
    assert_eq!(other.status, 404);
    assert_eq!(w.get(&w.unit_officer, &format!("/api/v1/candidates/{}/sheet.pdf", w.candidate)).await.status, 403);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_calendar_is_seeded_and_an_admin_replaces_a_year(pool: PgPool) {
    let w = world(pool).await;
    let year = w.get(&w.dispatcher, "/api/v1/calendar/2025").await.json();
    let days = year["days"].as_array().unwrap();
    assert_eq!(days.len(), 33);
    assert!(days.contains(&json!({ "day": "2025-01-26", "kind": "workday", "name": "春节" })));
    assert!(days.contains(&json!({ "day": "2025-02-08", "kind": "workday", "name": "春节" })));
    assert_eq!(days.iter().filter(|d| d["name"] == "春节" && d["kind"] == "holiday").count(), 8);
    // Every seeded make-up day is a weekend day; 2023–2026 are seeded.
    for y in [2023, 2024, 2026] {
        assert!(
            !w.get(&w.dispatcher, &format!("/api/v1/calendar/{y}")).await.json()["days"].as_array().unwrap().is_empty()
        );
    }

    let put = |token: String, body: Value| {
        let app = &w.app;
        async move {
            let request = Request::put("/api/v1/calendar/2027")
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap();
            app.send(request).await
        }
    };
    let festival = json!({ "days": [
        { "day": "2027-02-06", "kind": "holiday", "name": "春节" },
        { "day": "2027-02-07", "kind": "holiday", "name": "春节" },
        { "day": "2027-02-20", "kind": "workday", "name": "春节" },
    ]});
    assert_eq!(put(w.dispatcher.clone(), festival.clone()).await.status, 403);
    let weekday = json!({ "days": [{ "day": "2027-02-22", "kind": "workday", "name": "春节" }] });
    let refused = put(w.admin.clone(), weekday).await;
    assert_eq!(refused.status, 400);
    assert!(refused.detail().contains("Saturday or Sunday"), "{}", refused.detail());
    let wrong_year = json!({ "days": [{ "day": "2026-02-22", "kind": "holiday", "name": "春节" }] });
    assert_eq!(put(w.admin.clone(), wrong_year).await.status, 400);
    let unknown = json!({ "days": [{ "day": "2027-02-06", "kind": "vacation", "name": "春节" }] });
    assert_eq!(put(w.admin.clone(), unknown).await.status, 400);

    let stored = put(w.admin.clone(), festival).await;
    assert_eq!(stored.status, 200, "{}", String::from_utf8_lossy(&stored.bytes));
    assert_eq!(stored.json()["days"].as_array().unwrap().len(), 3);
    // The patterns read it: 2027-02-20, a Saturday, is now a working day.
    let p = w.patterns(&w.dispatcher, "from=2027-02-06&to=2027-02-20").await;
    assert_eq!(period(&p, "spring_festival")["days"], 2);
    // 2027-02-06 to 02-20: 15 days, 5 of them Saturdays or Sundays (the festival's two among them), one
    // of those worked.
    assert_eq!(period(&p, "working_day")["days"], 15 - 5 + 1);
    // Replacing leaves only the new list.
    let smaller = json!({ "days": [{ "day": "2027-01-01", "kind": "holiday", "name": "元旦" }] });
    assert_eq!(put(w.admin.clone(), smaller).await.status, 200);
    assert_eq!(w.get(&w.admin, "/api/v1/calendar/2027").await.json()["days"].as_array().unwrap().len(), 1);
    assert_eq!(w.get(&w.admin, "/api/v1/calendar/2025").await.json()["days"].as_array().unwrap().len(), 33);
    assert_eq!(w.get(&w.admin, "/api/v1/calendar/20x5").await.status, 400);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_countys_own_farming_seasons_and_school_terms_are_used(pool: PgPool) {
    // This year the autumn harvest is two days in October, and school runs all year but August.
    let mut settings = Settings::default();
    settings.period_rules.farming = "autumn=10-20..10-21".parse().unwrap();
    settings.period_rules.school_terms = "09-01..07-31".parse().unwrap();
    let w = world_with(pool, settings).await;
    let p = w.patterns(&w.dispatcher, "from=2025-01-01&to=2025-12-31").await;
    let autumn = period(&p, "farming_autumn");
    assert_eq!((autumn["crashes"].as_i64(), autumn["days"].as_i64()), (Some(2), Some(2)));
    assert_eq!(autumn["definition"], "10月20日至10月21日");
    assert_eq!(period(&p, "farming_summer")["days"], 22, "the summer season keeps its default");
    let holiday = period(&p, "school_holiday");
    assert_eq!((holiday["crashes"].as_i64(), holiday["days"].as_i64()), (Some(0), Some(31)));
}
