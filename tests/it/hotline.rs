//! 12345 hotline tickets (issue 13): the operators' form (`POST /api/v1/hotline-tickets`) with its repeat,
//! conflict and field refusals; the platform's CSV export (`POST /api/v1/hotline-imports` and the real
//! binary) in UTF-8 and GBK with Chinese headers, idempotent by ticket number, with a dry run, refused rows by
//! number and limits; and the ticket numbers in the ledger's CSV and XLSX once a ticket is accepted into a
//! site.

use crate::common;

use std::io::Cursor;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use common::{Answer, TestApp, app, app_with, county_office, observation, organisation, token_for};
use roadledger::http::Settings;
use serde_json::{Value, json};
use sqlx::PgPool;

/// A hotline operator (王热线) and a dispatcher, besides the default inspector.
struct Hotline {
    app: TestApp,
    operator: String,
    dispatcher: String,
}

async fn hotline(app: TestApp) -> Hotline {
    let city = organisation(&app.pool, "city_office").await;
    let operator = token_for(&app.pool, "rexian", "王热线", "hotline", city).await;
    let dispatcher = token_for(&app.pool, "diaodu", "赵调度", "dispatcher", city).await;
    Hotline { app, operator, dispatcher }
}

impl Hotline {
    async fn enter(&self, token: &str, body: &Value) -> Answer {
        let request = Request::post("/api/v1/hotline-tickets")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.app.send(request).await
    }

    async fn import(&self, file_name: &str, file: &[u8], parts: &[(&str, &str)]) -> Answer {
        self.app.upload_file_as(&self.operator, "/api/v1/hotline-imports", file_name, file, parts).await
    }

    async fn tickets(&self) -> Vec<String> {
        sqlx::query_scalar("select ticket_no from public_report where channel = 'hotline' order by ticket_no")
            .fetch_all(&self.app.pool)
            .await
            .unwrap()
    }
}

fn ticket() -> Value {
    json!({
        "ticket_no": "GD20261207-0001",
        "called_at": "2026-12-07 09:30",
        "description": "港丰公路东街村口路灯不亮，夜里看不清路口",
        "address": "杨舍镇东街村村口",
        "location": {"lon": 120.561, "lat": 31.873, "crs": "gcj02"},
        "category": "lighting",
        "caller_phone": "138-1234-5678",
        "caller_name": "李女士",
    })
}

#[sqlx::test(migrations = "./migrations")]
async fn an_operator_enters_a_ticket_and_the_same_ticket_again_answers_the_stored_one(pool: PgPool) {
    let h = hotline(app(pool).await).await;

    let created = h.enter(&h.operator, &ticket()).await;

    assert_eq!(created.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&created.bytes));
    let body = created.json();
    let id = body["id"].as_i64().unwrap();
    assert_eq!(created.headers["location"], id.to_string().as_str());
    assert_eq!(body["ticket_no"], "GD20261207-0001");
    assert_eq!(body["called_at"], "2026-12-07T01:30:00Z", "county time, UTC+8");
    assert_eq!(body["category"], "lighting");
    assert_eq!(body["status"], "received");
    assert_eq!(body["public_status"], "received");
    assert_eq!(body["entered_by"], "王热线");
    // An operator is not a dispatcher: the caller's phone comes back masked.
    assert_eq!(body["caller_phone"], "138****5678");
    assert_eq!(body["tracking_token"].as_str().unwrap().len(), 32);
    // The point was picked on a GCJ-02 map and is kept in WGS-84: some hundreds of metres away.
    let [lon, lat] = [body["location"][0].as_f64().unwrap(), body["location"][1].as_f64().unwrap()];
    assert!((lon - 120.561).abs() > 0.003 && (lon - 120.561).abs() < 0.01, "{lon}");
    assert!((lat - 31.873).abs() > 0.001 && (lat - 31.873).abs() < 0.01, "{lat}");
    let stored: (String, String, Option<String>, String, i64) = sqlx::query_as(
        "select channel, source_crs, contact_phone, status,
                (select count(*) from public_report_update u where u.report_id = r.id)
         from public_report r where id = $1",
    )
    .bind(id)
    .fetch_one(&h.app.pool)
    .await
    .unwrap();
    assert_eq!(stored, ("hotline".into(), "gcj02".into(), Some("13812345678".into()), "received".into(), 1));

    // The same ticket again, from a dispatcher (who reads the phone in full): the stored one, nothing new.
    let again = h.enter(&h.dispatcher, &ticket()).await;
    assert_eq!(again.status, StatusCode::OK, "{}", String::from_utf8_lossy(&again.bytes));
    assert_eq!(again.json()["id"], id);
    assert_eq!(again.json()["caller_phone"], "13812345678");
    assert_eq!(again.json()["tracking_token"], body["tracking_token"]);
    assert_eq!(h.app.count("public_report").await, 1);
    assert_eq!(h.app.count("public_report_update").await, 1);

    // Sent without a time, a ticket takes now's; sent again (a retry after a lost answer), it is the same one.
    let mut untimed = ticket();
    untimed["ticket_no"] = json!("GD20261207-0002");
    untimed.as_object_mut().unwrap().remove("called_at");
    let first = h.enter(&h.operator, &untimed).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let retry = h.enter(&h.operator, &untimed).await;
    assert_eq!((retry.status, retry.json()["id"].clone()), (StatusCode::OK, first.json()["id"].clone()));
    assert_eq!(retry.json()["called_at"], first.json()["called_at"]);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_known_number_with_other_content_is_a_conflict_naming_the_number(pool: PgPool) {
    let h = hotline(app(pool).await).await;
    assert_eq!(h.enter(&h.operator, &ticket()).await.status, StatusCode::CREATED);
    let mut other = ticket();
    other["description"] = json!("另一件事：路面塌陷");
    other["category"] = json!("pavement");

    let answer = h.enter(&h.operator, &other).await;

    assert_eq!(answer.status, StatusCode::CONFLICT);
    let detail = answer.detail();
    assert!(detail.contains("GD20261207-0001") && detail.contains("description, category"), "{detail}");
    assert_eq!(answer.json()["code"], "ticket_conflict");
    assert_eq!(answer.json()["ticket_no"], "GD20261207-0001");
    let description: String =
        sqlx::query_scalar("select description from public_report").fetch_one(&h.app.pool).await.unwrap();
    assert!(description.contains("路灯不亮"), "the stored ticket is unchanged: {description}");
    assert_eq!(h.app.count("public_report").await, 1);
}

#[sqlx::test(migrations = "./migrations")]
async fn each_broken_rule_is_a_422_naming_its_field_and_stores_nothing(pool: PgPool) {
    let h = hotline(app(pool).await).await;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("ticket_no", json!(null), "required"),
        ("ticket_no", json!("GD 2026/1"), "letters, digits"),
        ("ticket_no", json!("9".repeat(41)), "at most 40"),
        ("called_at", json!("yesterday"), "not a time"),
        ("called_at", json!("2099-01-01 08:00"), "future"),
        ("description", json!(""), "what the caller reported"),
        ("description", json!("坑".repeat(2001)), "at most 2000"),
        ("address", json!("路".repeat(201)), "at most 200"),
        ("category", json!("potholes"), "unknown category"),
        ("caller_phone", json!("138abc"), "digits only"),
        ("caller_name", json!("名".repeat(65)), "at most 64"),
        ("location", json!({"lon": 2.35, "lat": 48.85}), "not a point in China"),
    ];
    for (field, value, words) in cases {
        let mut body = ticket();
        body[field] = value;
        let answer = h.enter(&h.operator, &body).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {}",
            String::from_utf8_lossy(&answer.bytes)
        );
        assert_eq!(answer.json()["field"], field);
        let detail = answer.detail();
        assert!(detail.starts_with(&format!("{field}: ")) && detail.contains(words), "{field}: {detail}");
    }
    // No place at all: the address is what is missing.
    let mut body = ticket();
    body.as_object_mut().unwrap().remove("address");
    body.as_object_mut().unwrap().remove("location");
    let answer = h.enter(&h.operator, &body).await;
    assert_eq!((answer.status, answer.json()["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("address")));
    // Not this shape at all: 400.
    let mut body = ticket();
    body["priority"] = json!("high");
    assert_eq!(h.enter(&h.operator, &body).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(h.app.count("public_report").await, 0);

    // An address alone places a ticket, with the default category.
    let mut body = ticket();
    body.as_object_mut().unwrap().remove("location");
    body.as_object_mut().unwrap().remove("category");
    let answer = h.enter(&h.operator, &body).await;
    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!((answer.json()["category"].clone(), answer.json()["location"].clone()), (json!("other"), json!(null)));
}

#[sqlx::test(migrations = "./migrations")]
async fn operators_and_dispatchers_enter_tickets_and_nobody_else(pool: PgPool) {
    let h = hotline(app(pool).await).await;
    let city = organisation(&h.app.pool, "city_office").await;
    for role in ["inspector", "reviewer", "leader", "admin", "town_officer"] {
        let token = token_for(&h.app.pool, &format!("x-{}", role.replace('_', "")), "某人", role, city).await;
        let answer = h.enter(&token, &ticket()).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{role}");
        let import = h.app.upload_file_as(&token, "/api/v1/hotline-imports", "t.csv", CSV.as_bytes(), &[]).await;
        assert_eq!(import.status, StatusCode::FORBIDDEN, "{role}");
    }
    let anonymous = Request::post("/api/v1/hotline-tickets")
        .header("content-type", "application/json")
        .body(Body::from(ticket().to_string()))
        .unwrap();
    assert_eq!(h.app.send_as_is(anonymous).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.app.count("public_report").await, 0);
    assert_eq!(h.enter(&h.dispatcher, &ticket()).await.status, StatusCode::CREATED);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_hotline_account_sees_no_site_and_is_sent_to_its_page(pool: PgPool) {
    let h = hotline(app(pool).await).await;
    let office = county_office(&h.app).await;
    let site = h.app.upload(&observation("spot", json!([120.55, 31.87])), &[]).await.json()["site"]["id"].clone();
    let site = site.as_str().unwrap().to_owned();
    assert_eq!(h.app.site_as(&office.dispatcher, &site).await.status, StatusCode::OK);

    let get = async |uri: &str| {
        let request = Request::get(uri).header("authorization", format!("Bearer {}", h.operator));
        h.app.send(request.body(Body::empty()).unwrap()).await
    };
    for uri in ["/api/v1/sites", &format!("/api/v1/sites/{site}"), "/api/v1/ledger.csv", "/api/v1/towns"] {
        let answer = get(uri).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{uri}");
        assert!(answer.detail().contains("hotline operator"), "{uri}");
    }
    assert_eq!(get("/api/v1/tokens").await.status, StatusCode::OK);
    for page in ["/", "/index.html", "/work.html"] {
        let answer = get(page).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{page}");
        assert_eq!(answer.headers["location"], "/hotline.html", "{page}");
    }
    assert_eq!(get("/hotline.html").await.status, StatusCode::OK);
}
/// A 12345 platform's export: a BOM, the platform's Chinese headers (工单编号, 来电时间 …), columns no field
/// reads (办理状态), and rows 5–9 each wrong in one way (the header is row 1).
const CSV: &str = "\u{feff}工单编号,来电时间,诉求内容,事发地址,经度,纬度,来电号码,来电人,诉求类别,办理状态
RX-0001,2026-12-01 08:15,东街村口路灯坏了一个月,杨舍镇东街村村口,120.5612,31.8731,13812345678,李女士,城市管理/路灯不亮,已派单
RX-0002,2026/12/02 19:40,学校门口没有减速带,杨舍镇实验小学南门,,,0512-58881234,,交通设施/学校周边,已派单
RX-0003,2026年12月3日 07时05分,港丰公路K3附近护栏被撞断,,120.5402,31.8655,,王先生,道路护栏,办理中
,2026-12-03 10:00,没有工单号的一行,杨舍镇,,,,,其他,
RX-0005,下周二,时间写错的一行,杨舍镇,,,,,其他,
RX-0006,2026-12-04 09:00,只有经度的一行,杨舍镇,120.55,,,,其他,
RX-0007,2026-12-04 09:30,没有地址也没有坐标,,,,,,其他,
RX-0008,2026-12-04 10:00,电话写错了,杨舍镇,,,138-abc,,其他,
";

fn refused(report: &Value) -> Vec<(u64, String, String)> {
    report["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (r["row"].as_u64().unwrap(), r["code"].as_str().unwrap().into(), r["field"].as_str().unwrap_or("").into())
        })
        .collect()
}

#[sqlx::test(migrations = "./migrations")]
async fn an_export_stores_its_good_rows_reports_the_bad_ones_and_a_reimport_stores_nothing(pool: PgPool) {
    let h = hotline(app(pool).await).await;

    let dry = h.import("12345工单.csv", CSV.as_bytes(), &[("dry_run", "true")]).await;
    assert_eq!(dry.status, StatusCode::OK, "{}", String::from_utf8_lossy(&dry.bytes));
    let report = dry.json();
    assert_eq!(report["dry_run"], true);
    assert_eq!(
        [&report["rows_read"], &report["rows_stored"], &report["rows_known"], &report["rows_refused"]],
        [8, 3, 0, 5]
    );
    assert_eq!(h.app.count("public_report").await, 0, "a dry run stores nothing");

    let answer = h.import("12345工单.csv", CSV.as_bytes(), &[]).await;

    assert_eq!(answer.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&answer.bytes));
    let report = answer.json();
    assert_eq!(report["dry_run"], false);
    assert_eq!(report["file"]["encoding"], "UTF-8");
    assert_eq!(report["columns"]["ticket_no"], "工单编号");
    assert_eq!(report["columns"]["called_at"], "来电时间");
    assert_eq!(report["ignored_columns"], json!(["办理状态"]));
    assert_eq!(
        [&report["rows_read"], &report["rows_stored"], &report["rows_known"], &report["rows_refused"]],
        [8, 3, 0, 5]
    );
    let expected: Vec<(u64, String, String)> = [
        (5, "invalid_field", "ticket_no"),
        (6, "bad_time", "called_at"),
        (7, "bad_coordinates", "lon"),
        (8, "invalid_field", "address"),
        (9, "invalid_field", "caller_phone"),
    ]
    .map(|(row, code, field)| (row, code.to_string(), field.to_string()))
    .into();
    assert_eq!(refused(&report), expected);
    assert_eq!(report["refused"][1]["ticket_no"], "RX-0005");
    assert_eq!(h.tickets().await, ["RX-0001", "RX-0002", "RX-0003"]);
    // Number, category, phone, name, placed, call time in county time.
    type Stored = (String, String, Option<String>, Option<String>, bool, String);
    let rows: Vec<Stored> = sqlx::query_as(
        "select ticket_no, category, contact_phone, contact_name, geom is not null,
                to_char(reported_at at time zone 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI')
         from public_report order by ticket_no",
    )
    .fetch_all(&h.app.pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        [
            (
                "RX-0001".into(),
                "lighting".into(),
                Some("13812345678".into()),
                Some("李女士".into()),
                true,
                "2026-12-01 08:15".into()
            ),
            (
                "RX-0002".into(),
                "school_zone".into(),
                Some("051258881234".into()),
                None,
                false,
                "2026-12-02 19:40".into()
            ),
            ("RX-0003".into(), "barrier".into(), None, Some("王先生".into()), true, "2026-12-03 07:05".into()),
        ]
    );

    // The same file again: every good row is known, nothing stored, the same rows refused.
    let again = h.import("12345工单.csv", CSV.as_bytes(), &[]).await.json();
    assert_eq!([&again["rows_stored"], &again["rows_known"], &again["rows_refused"]], [0, 3, 5]);
    assert_eq!(h.app.count("public_report").await, 3);
    assert_eq!(h.app.count("public_report_update").await, 3);

    // A later export with one ticket changed under its number, and a new one: the change is refused by row.
    let later = "工单号,受理时间,问题描述,地址\nRX-0001,2026-12-01 08:15,东街村口路灯已经修好了,杨舍镇东街村村口\n\
                 RX-0009,2026-12-05 08:00,新的一张工单,杨舍镇西街\n";
    let report = h.import("later.csv", later.as_bytes(), &[]).await.json();
    assert_eq!([&report["rows_stored"], &report["rows_known"], &report["rows_refused"]], [1, 0, 1]);
    assert_eq!(refused(&report), [(2, "ticket_conflict".to_string(), "ticket_no".to_string())]);
    let reason = report["refused"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("RX-0001") && reason.contains("description"), "{reason}");
}

#[sqlx::test(migrations = "./migrations")]
async fn a_gbk_export_with_english_headers_and_bd09_points_is_read(pool: PgPool) {
    let h = hotline(app(pool).await).await;
    let text = "ticket_no,called_at,description,address,lon,lat,caller_phone,caller_name,category\n\
                GBK-1,2026-12-06T08:00:00+08:00,桥头急弯没有警示标志,塘桥镇桥头,120.5712,31.8812,,,急弯陡坡\n\
                GBK-2,2026-12-06 09:00,路面坑洼积水,,120.5801,31.8702,,,路面坑洼\n";
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable && std::str::from_utf8(&gbk).is_err(), "the test file is really GBK");

    let answer = h.import("tickets.csv", &gbk, &[("crs", "bd09")]).await;

    assert_eq!(answer.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&answer.bytes));
    let report = answer.json();
    assert_eq!(report["file"]["encoding"], "GB18030");
    assert_eq!(report["file"]["crs"], "bd09");
    assert_eq!([&report["rows_stored"], &report["rows_refused"]], [2, 0]);
    let rows: Vec<(String, String, String, f64)> =
        sqlx::query_as("select ticket_no, category, description, st_x(geom) from public_report order by ticket_no")
            .fetch_all(&h.app.pool)
            .await
            .unwrap();
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_str(), rows[0].2.as_str()),
        ("GBK-1", "curve_slope", "桥头急弯没有警示标志")
    );
    assert_eq!(rows[1].1, "pavement");
    // BD-09 is about 0.011° east of WGS-84 here: the stored point moved west.
    assert!(rows[0].3 < 120.5712 - 0.008, "{}", rows[0].3);

    // Told the encoding, the same bytes read the same; told a wrong one, the file is refused.
    let utf8 = h.import("tickets.csv", &gbk, &[("crs", "bd09"), ("encoding", "gbk")]).await.json();
    assert_eq!([&utf8["rows_known"], &utf8["rows_stored"]], [2, 0]);
    let wrong = h.import("tickets.csv", &gbk, &[("encoding", "utf-8")]).await;
    assert_eq!(
        (wrong.status, wrong.json()["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("hotline_import_encoding"))
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn limits_and_unusable_files_are_refusals_that_store_nothing(pool: PgPool) {
    let settings = Settings { hotline_import_bytes_max: 64 * 1024, ..Settings::default() };
    let h = hotline(app_with(pool, settings).await).await;

    let big = format!("工单号,来电时间,诉求内容,地址\n{}", "X-1,2026-12-01 08:00,很长的描述,地址\n".repeat(2000));
    let answer = h.import("big.csv", big.as_bytes(), &[]).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", String::from_utf8_lossy(&answer.bytes));

    let no_ticket_column = h.import("x.csv", "编号,时间,内容\n1,2026-12-01 08:00,x\n".as_bytes(), &[]).await;
    assert_eq!(no_ticket_column.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(no_ticket_column.json()["code"], "hotline_import_columns");
    assert!(no_ticket_column.detail().contains("工单编号"), "{}", no_ticket_column.detail());

    let long_cell = format!("工单号,来电时间,诉求内容,地址\nL-1,2026-12-01 08:00,{},地址\n", "长".repeat(2001));
    let report = h.import("long.csv", long_cell.as_bytes(), &[]).await.json();
    assert_eq!(refused(&report), [(2, "cell_too_long".to_string(), String::new())]);

    for (parts, what) in [(vec![("crs", "utm")], "crs"), (vec![("encoding", "klingon")], "encoding")] {
        let answer = h.import("t.csv", CSV.as_bytes(), &parts).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{what}");
    }
    let answer = h.import("t.csv", CSV.as_bytes(), &[("dry_run", "maybe")]).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(h.app.count("public_report").await, 0);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_file_of_more_rows_than_the_limit_is_refused_whole(pool: PgPool) {
    let h = hotline(app(pool).await).await;
    let rows: String = (0..20_001).map(|i| format!("R{i},2026-12-01 08:00,d,a\n")).collect();
    let many = format!("工单号,来电时间,诉求内容,地址\n{rows}");

    let answer = h.import("many.csv", many.as_bytes(), &[]).await;

    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", String::from_utf8_lossy(&answer.bytes));
    assert_eq!(answer.json()["code"], "hotline_import_rows");
    assert!(answer.detail().contains("20000"), "{}", answer.detail());
    assert_eq!(h.app.count("public_report").await, 0);
}

/// The ledger's cell of column `header` in the row of site `code`, from a CSV or a workbook read back.
fn ledger_cell(headers: &[String], rows: &[Vec<String>], code: &str, header: &str) -> String {
    let column = headers.iter().position(|h| h == header).unwrap_or_else(|| panic!("no {header} in {headers:?}"));
    let row = rows.iter().find(|r| r[0] == code).unwrap_or_else(|| panic!("no row {code}"));
    row[column].clone()
}

#[sqlx::test(migrations = "./migrations")]
async fn accepted_tickets_show_their_numbers_in_the_ledger_csv_and_xlsx(pool: PgPool) {
    let h = hotline(app(pool).await).await;
    let office = county_office(&h.app).await;
    let recorded = h.app.upload(&observation("spot", json!([120.5612, 31.8731])), &[]).await;
    assert_eq!(recorded.status, StatusCode::CREATED);
    let site_id = recorded.json()["site"]["id"].as_str().unwrap().to_owned();
    let other = h.app.upload(&observation("spot", json!([120.58, 31.88])), &[]).await.json()["site"]["id"].clone();
    assert_eq!(h.import("t.csv", CSV.as_bytes(), &[]).await.json()["rows_stored"], 3);
    // What accepting stores (the moderation's accept is built elsewhere): RX-0003 and RX-0001 into the site;
    // RX-0002 rejected, which no ledger shows.
    sqlx::query(
        "update public_report set status = 'accepted', decided_at = now(), decided_by = '赵调度', site_id = $1::uuid
         where ticket_no in ('RX-0003', 'RX-0001')",
    )
    .bind(&site_id)
    .execute(&h.app.pool)
    .await
    .unwrap();
    sqlx::query(
        "update public_report set status = 'rejected', decided_at = now(), decided_by = '赵调度',
                public_reason = '不属于道路安全隐患'
         where ticket_no = 'RX-0002'",
    )
    .execute(&h.app.pool)
    .await
    .unwrap();
    let code: String = sqlx::query_scalar("select code from site where id = $1::uuid")
        .bind(&site_id)
        .fetch_one(&h.app.pool)
        .await
        .unwrap();
    let other_code: String = sqlx::query_scalar("select code from site where id = $1::uuid")
        .bind(other.as_str().unwrap())
        .fetch_one(&h.app.pool)
        .await
        .unwrap();
    let download = async |uri: &str| {
        let request = Request::get(uri).header("authorization", format!("Bearer {}", office.dispatcher));
        let answer = h.app.send(request.body(Body::empty()).unwrap()).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}");
        answer.bytes
    };

    let csv_bytes = download("/api/v1/ledger.csv").await;
    let mut reader = csv::ReaderBuilder::new().from_reader(&csv_bytes[3..]);
    let headers: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    let rows: Vec<Vec<String>> = reader.records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect();
    assert_eq!(ledger_cell(&headers, &rows, &code, "热线工单号"), "RX-0001、RX-0003");
    assert_eq!(ledger_cell(&headers, &rows, &other_code, "热线工单号"), "");

    let xlsx_bytes = download("/api/v1/ledger.xlsx").await;
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(xlsx_bytes)).unwrap();
    let range = workbook.worksheet_range("台账").unwrap();
    let text = |c: &Data| match c {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => other.to_string(),
    };
    let mut sheet = range.rows().map(|r| r.iter().map(text).collect::<Vec<String>>());
    let headers = sheet.next().unwrap();
    let rows: Vec<Vec<String>> = sheet.collect();
    assert_eq!(ledger_cell(&headers, &rows, &code, "热线工单号"), "RX-0001、RX-0003");
    assert_eq!(ledger_cell(&headers, &rows, &other_code, "热线工单号"), "");

    // Merged into the site later, RX-0002's number joins them: the column is read, never copied.
    sqlx::query(
        "update public_report set status = 'merged', public_reason = null, site_id = $1::uuid
         where ticket_no = 'RX-0002'",
    )
    .bind(&site_id)
    .execute(&h.app.pool)
    .await
    .unwrap();
    let csv_bytes = download("/api/v1/ledger.csv").await;
    let mut reader = csv::ReaderBuilder::new().from_reader(&csv_bytes[3..]);
    let headers: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    let rows: Vec<Vec<String>> = reader.records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect();
    assert_eq!(ledger_cell(&headers, &rows, &code, "热线工单号"), "RX-0001、RX-0002、RX-0003");
}

#[sqlx::test(migrations = "./migrations")]
async fn the_command_imports_an_export_and_prints_its_report(pool: PgPool) {
    let h = hotline(app(pool.clone()).await).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("12345工单.csv");
    std::fs::write(&file, CSV).unwrap();
    let run = |extra: &[&str]| common::import_command(&pool, "hotline", &file, extra);
    let dry = run(&["--dry-run"]);
    let stdout = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&dry.stderr));
    assert!(stdout.contains("would store 3, 0 already stored, 5 refused — dry run"), "{stdout}");
    assert!(stdout.contains("refused: row 6 (RX-0005): "), "{stdout}");
    assert_eq!(h.app.count("public_report").await, 0);

    let real = run(&["--json"]);
    assert!(real.status.success(), "{}", String::from_utf8_lossy(&real.stderr));
    let report: Value = serde_json::from_slice(&real.stdout).unwrap();
    assert_eq!([&report["rows_stored"], &report["rows_refused"]], [3, 5]);
    let again = run(&[]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("stored 0, 3 already stored, 5 refused"));
    let entered_by: Vec<String> =
        sqlx::query_scalar("select distinct entered_by from public_report").fetch_all(&h.app.pool).await.unwrap();
    assert_eq!(entered_by.len(), 1);
    assert!(entered_by[0].starts_with("命令行"), "{entered_by:?}");
}
