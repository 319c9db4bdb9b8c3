//! Crash records (issue 12, part 1): police exports in every format — CSV in UTF-8 and GBK, XLSX, GeoJSON —
//! with Chinese or English headers or a mapping, through `POST /api/v1/crash-imports` and the real binary;
//! bad rows reported with their row numbers and the rest stored; personal columns dropped and nowhere in the
//! database; the same file twice imports nothing new; a dry run writes nothing; limits; who may read what.

use crate::common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{Answer, TestApp, YANGSHE, add_organisation, app, app_with, organisation, token_for};
use roadledger::domain::coords;
use roadledger::http::Settings;
use roadledger::import::crashes::{self, CrashImportError, CrashImportOptions};
use serde_json::{Value, json};
use sqlx::PgPool;

/// 杨舍镇 (YANGSHE) with X202 running due east through it along 31.86 N, about 9.46 km from 120.50 to 120.60
/// (stakes K0+000 to about K9+460), and a dispatcher.
struct County {
    app: TestApp,
    dispatcher: String,
    town_id: i32,
}

async fn county(app: TestApp) -> County {
    app.add_town("320582100", "杨舍镇", YANGSHE).await;
    let town_id: i32 =
        sqlx::query_scalar("select id from town where admin_code = '320582100'").fetch_one(&app.pool).await.unwrap();
    add_road(&app, "X202", "港丰公路", "LINESTRING(120.50 31.86, 120.60 31.86)").await;
    let city = organisation(&app.pool, "city_office").await;
    let dispatcher = token_for(&app.pool, "diaodu", "赵调度", "dispatcher", city).await;
    County { app, dispatcher, town_id }
}

/// A coded road of county 320582, measured from its start (K0+000).
async fn add_road(app: &TestApp, route_code: &str, name: &str, wkt: &str) {
    sqlx::query(
        "insert into road (route_code, admin_code, name, geom)
         values ($1, '320582', $2, st_multi(st_geomfromtext($3, 4326)))",
    )
    .bind(route_code)
    .bind(name)
    .bind(wkt)
    .execute(&app.pool)
    .await
    .unwrap();
}

/// `POST /api/v1/crash-imports` with the file and text parts.
async fn upload(app: &TestApp, token: &str, file_name: &str, file: &[u8], parts: &[(&str, &str)]) -> Answer {
    let boundary = "----crash-import-test";
    let mut body = Vec::new();
    for (name, value) in parts {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let request = Request::post("/api/v1/crash-imports")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(Body::from(body))
        .unwrap();
    app.send(request).await
}

async fn get_as(app: &TestApp, token: &str, uri: &str) -> Answer {
    app.send(Request::get(uri).header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap()).await
}

/// The police export of the story: Chinese headers, three personal columns, and a row for each way a row can
/// fail between good ones. Rows are numbered as a spreadsheet shows them (the header is row 1).
const POLICE_CSV: &str = "\
事故编号,事故时间,经度,纬度,路线编码,桩号,当事人姓名,号牌号码,身份证号,死亡人数,重伤人数,轻伤人数,事故形态,车辆类型,天气,照明,路面状况,事故地点
A001,2025-03-04 18:20,120.5512,31.8705,,,张三,苏E12345,320582199001011234,1,0,2,追尾,\"小型轿车,电动自行车\",晴,夜间无路灯照明,干燥,港丰公路与南环路交叉口
A002,2025/3/5 7:05:00,,,X202,K2+300,李四,苏E54321,320582199202022345,0,1,0,正面相撞,货车、三轮车,雨,白天,潮湿,
A003,2025-03-06 09:00,,,,,王五,苏E00001,320582199303033456,0,0,0,刮擦,小型轿车,阴,白天,干燥,
A004,2025-03-07 10:00,,,X202,K12+000,赵六,苏E00002,320582199404044567,0,0,1,单车,摩托车,晴,白天,干燥,
A005,2025-03-08 11:00,,,X999,K1+000,钱七,苏E00003,320582199505055678,0,0,0,单车,摩托车,晴,白天,干燥,
A006,昨天傍晚,120.56,31.87,,,孙八,苏E00004,320582199606066789,0,0,0,刮擦,小型轿车,晴,白天,干燥,
A007,2025-03-09 12:00,120.56,31.87,,,周九,苏E00005,320582199707077890,两,0,0,刮擦,小型轿车,晴,白天,干燥,
A008,2025-03-10 20:30,120.5301,31.8601,X202,K3+000,吴十,苏E00006,320582199808088901,0,0,0,碰撞非机动车,电动自行车,雾,夜间有路灯照明,潮湿,
";

/// Every personal value of `POLICE_CSV`.
const PERSONAL_VALUES: [&str; 6] = ["张三", "李四", "苏E12345", "320582199001011234", "吴十", "苏E00006"];

/// A stored crash, every column the tests look at.
#[derive(Debug, sqlx::FromRow)]
struct Crash {
    occurred_at: chrono::DateTime<chrono::Utc>,
    located_by: String,
    source_crs: String,
    source_key: String,
    severity: String,
    road_id: Option<i32>,
    route_code: Option<String>,
    stake_m: Option<f64>,
    stake_text: Option<String>,
    town_id: Option<i32>,
    serious_injuries: i16,
    slight_injuries: i16,
    crash_type: Option<String>,
    vehicle_types: Vec<String>,
    weather: Option<String>,
    light: Option<String>,
    road_surface: Option<String>,
    summary: String,
    lon: f64,
    lat: f64,
}

const CRASH_COLUMNS: &str = "occurred_at, located_by, source_crs, source_key, severity, road_id, route_code, stake_m, \
    stake_text, town_id, serious_injuries, slight_injuries, crash_type, vehicle_types, weather, light, road_surface, \
    summary, st_x(geom) as lon, st_y(geom) as lat";

fn refused_rows(report: &Value) -> Vec<(u64, String)> {
    report["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["row"].as_u64().unwrap(), r["code"].as_str().unwrap().to_owned()))
        .collect()
}

#[sqlx::test(migrations = "./migrations")]
async fn a_police_export_imports_its_good_rows_and_reports_each_bad_one_by_row_number(pool: PgPool) {
    let County { app, dispatcher, town_id } = county(app(pool).await).await;
    // Excel writes a BOM before UTF-8.
    let file = [b"\xEF\xBB\xBF".as_slice(), POLICE_CSV.as_bytes()].concat();

    // A dry run first: the same report, nothing written.
    let dry = upload(&app, &dispatcher, "事故.csv", &file, &[("dry_run", "true")]).await;
    assert_eq!(dry.status, StatusCode::OK, "{}", dry.detail());
    let dry = dry.json();
    assert_eq!(
        (dry["dry_run"].as_bool(), dry["rows_imported"].as_u64(), dry["import_id"].as_i64()),
        (Some(true), Some(3), None)
    );
    assert_eq!(app.count("crash").await, 0);
    assert_eq!(app.count("crash_import").await, 0);

    let answer = upload(&app, &dispatcher, "事故.csv", &file, &[]).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.detail());
    let report = answer.json();
    assert_eq!(report["rows_read"], 8);
    assert_eq!(report["rows_imported"], 3);
    assert_eq!(report["rows_known"], 0);
    assert_eq!(report["rows_refused"], 5);
    assert_eq!(report["file"]["encoding"], "UTF-8");
    assert_eq!(report["file"]["format"], "csv");
    assert_eq!(
        refused_rows(&report),
        [
            (4, "no_place".to_owned()),
            (5, "stake_beyond_road".to_owned()),
            (6, "unknown_route".to_owned()),
            (7, "bad_time".to_owned()),
            (8, "bad_number".to_owned()),
        ]
    );
    let reasons: Vec<&str> =
        report["refused"].as_array().unwrap().iter().map(|r| r["reason"].as_str().unwrap()).collect();
    assert!(reasons[1].contains("X202 runs from K0+000 to K9+4"), "{}", reasons[1]);
    assert!(reasons[2].contains("no road X999"), "{}", reasons[2]);
    assert_eq!(report["refused"][3]["record_no"], "A006");
    assert_eq!(report["dropped_columns"], json!(["当事人姓名", "号牌号码", "身份证号"]));
    assert_eq!(report["columns"]["time"], "事故时间");
    assert_eq!(report["columns"]["location"], "事故地点");

    // The fatal rear-end crash, by its coordinates, in county time, coded.
    let a001: Crash = sqlx::query_as(&format!("select {CRASH_COLUMNS} from crash where record_no = 'A001'"))
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(a001.occurred_at.to_rfc3339(), "2025-03-04T10:20:00+00:00");
    assert_eq!((a001.located_by.as_str(), a001.severity.as_str()), ("coordinates", "fatal"));
    assert_eq!(a001.crash_type.as_deref(), Some("rear_end"));
    assert_eq!(a001.vehicle_types, ["car", "e_bike"]);
    assert_eq!(
        (a001.weather.as_deref(), a001.light.as_deref(), a001.road_surface.as_deref()),
        (Some("clear"), Some("dark_unlit"), Some("dry"))
    );
    assert_eq!(a001.town_id, Some(town_id));
    assert_eq!(a001.source_key, "no:A001");
    assert_eq!(a001.summary, "港丰公路与南环路交叉口");
    assert_eq!((a001.lon, a001.lat), (120.5512, 31.8705));

    // Road + stake alone: located on X202, 2 300 m from its start.
    let a002: Crash = sqlx::query_as(&format!("select {CRASH_COLUMNS} from crash where record_no = 'A002'"))
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(a002.located_by, "stake");
    assert!(a002.road_id.is_some());
    assert_eq!((a002.stake_m, a002.stake_text.as_deref()), (Some(2300.0), Some("K2+300")));
    assert_eq!(a002.town_id, Some(town_id));
    assert!((coords::distance_m(120.50, 31.86, a002.lon, a002.lat) - 2300.0).abs() < 10.0, "{} {}", a002.lon, a002.lat);
    assert_eq!(a002.severity, "injury");
    assert_eq!(a002.vehicle_types, ["truck", "tricycle"]);

    // Both: the coordinates place it, the road + stake are recorded.
    let a008: Crash = sqlx::query_as(&format!("select {CRASH_COLUMNS} from crash where record_no = 'A008'"))
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        (a008.located_by.as_str(), a008.route_code.as_deref(), a008.stake_m, a008.lon),
        ("coordinates", Some("X202"), Some(3000.0), 120.5301)
    );

    // No personal value anywhere: not in the crashes, not in the import's report.
    for value in PERSONAL_VALUES {
        let found: i64 = sqlx::query_scalar(
            "select (select count(*) from crash c where c::text like '%' || $1 || '%')
                  + (select count(*) from crash_import i where i::text like '%' || $1 || '%')",
        )
        .bind(value)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(found, 0, "{value} was stored");
    }
    let stored: (i32, i32, i32, Vec<String>, String) =
        sqlx::query_as("select rows_read, rows_imported, rows_refused, dropped_columns, format from crash_import")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((stored.0, stored.1, stored.2), (8, 3, 5));
    assert_eq!(stored.3, ["当事人姓名", "号牌号码", "身份证号"]);
    assert_eq!(stored.4, "csv");

    // The same file again: nothing new.
    let again = upload(&app, &dispatcher, "事故.csv", &file, &[]).await.json();
    assert_eq!(
        (again["rows_imported"].as_u64(), again["rows_known"].as_u64(), again["rows_refused"].as_u64()),
        (Some(0), Some(3), Some(5))
    );
    assert_eq!(app.count("crash").await, 3);

    // The list and one crash, as GeoJSON in county time.
    let list = get_as(&app, &dispatcher, "/api/v1/crashes").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.detail());
    let list = list.json();
    let times: Vec<&str> =
        list["features"].as_array().unwrap().iter().map(|f| f["properties"]["time"].as_str().unwrap()).collect();
    assert_eq!(times, ["2025-03-10T20:30:00+08:00", "2025-03-05T07:05:00+08:00", "2025-03-04T18:20:00+08:00"]);
    let id = list["features"][2]["id"].as_i64().unwrap();
    let one = get_as(&app, &dispatcher, &format!("/api/v1/crashes/{id}")).await.json();
    assert_eq!(one["properties"]["record_no"], "A001");
    assert_eq!(one["properties"]["town"], "杨舍镇");
    assert_eq!(one["properties"]["deaths"], 1);
    assert_eq!(one["geometry"]["coordinates"], json!([120.5512, 31.8705]));
    let imports = get_as(&app, &dispatcher, "/api/v1/crash-imports").await.json();
    assert_eq!(imports.as_array().unwrap().len(), 2, "the dry run recorded nothing");
    assert_eq!(imports[0]["rows_known"], 3);
}

#[sqlx::test(migrations = "./migrations")]
async fn gbk_csv_is_read_with_or_without_the_encoding_and_english_headers_with_gcj02(pool: PgPool) {
    let County { app, dispatcher, .. } = county(app(pool).await).await;
    let text = "事故编号,发生时间,经度,纬度,死亡人数,受伤人数,事故形态,车辆类型,天气,照明,驾驶人\n\
                G001,2025-06-01 08:00,120.55,31.87,0,2,碰撞行人,电动自行车,小雨,黎明,王某\n";
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&gbk).is_err(), "the test file is really GBK");

    let detected = upload(&app, &dispatcher, "gbk.csv", &gbk, &[("dry_run", "true")]).await.json();
    assert_eq!(detected["file"]["encoding"], "GB18030");
    assert_eq!(detected["rows_imported"], 1);
    let report = upload(&app, &dispatcher, "gbk.csv", &gbk, &[("encoding", "gbk")]).await.json();
    assert_eq!(report["file"]["encoding"], "GBK");
    assert_eq!(report["dropped_columns"], json!(["驾驶人"]));
    // 受伤人数 alone counts as slight injuries, and the report says so.
    assert!(report["notes"][0].as_str().unwrap().contains("受伤人数"), "{report}");
    let g: Crash = sqlx::query_as(&format!("select {CRASH_COLUMNS} from crash where record_no = 'G001'"))
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!((g.serious_injuries, g.slight_injuries), (0, 2));
    assert_eq!(
        (g.crash_type.as_deref(), g.weather.as_deref(), g.light.as_deref()),
        (Some("pedestrian"), Some("rain"), Some("dawn_dusk"))
    );

    // English headers, coordinates in GCJ-02 shifted to WGS-84, no record number: the key is the row's hash.
    let english = "time,lon,lat,deaths,serious_injuries,slight_injuries,crash_type,vehicle_types,weather,light,road_surface,driver_name,phone\n\
                   2025-06-02T21:15:00+08:00,120.56,31.87,0,0,0,angle,car/truck,fog,dark_lit,wet,Zhang San,13800000000\n";
    let report = upload(&app, &dispatcher, "english.csv", english.as_bytes(), &[("crs", "gcj02")]).await;
    assert_eq!(report.status, StatusCode::CREATED, "{}", report.detail());
    let report = report.json();
    assert_eq!(report["dropped_columns"], json!(["driver_name", "phone"]));
    let e: Crash = sqlx::query_as(&format!("select {CRASH_COLUMNS} from crash where record_no is null"))
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let (lon, lat) = coords::gcj02_to_wgs84(120.56, 31.87);
    assert!((e.lon - lon).abs() < 1e-7 && (e.lat - lat).abs() < 1e-7, "{} {}", e.lon, e.lat);
    assert!(coords::distance_m(120.56, 31.87, e.lon, e.lat) > 100.0, "shifted");
    assert_eq!(e.source_crs, "gcj02");
    assert!(e.source_key.starts_with("sha256:") && e.source_key.len() == 71, "{}", e.source_key);
    assert_eq!(e.vehicle_types, ["car", "truck"]);
    let again = upload(&app, &dispatcher, "english.csv", english.as_bytes(), &[("crs", "gcj02")]).await.json();
    assert_eq!((again["rows_imported"].as_u64(), again["rows_known"].as_u64()), (Some(0), Some(1)));
    for value in ["王某", "Zhang San", "13800000000"] {
        let found: i64 = sqlx::query_scalar("select count(*) from crash c where c::text like '%' || $1 || '%'")
            .bind(value)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(found, 0, "{value}");
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn a_workbook_is_read_from_a_named_sheet_with_excel_dates(pool: PgPool) {
    use rust_xlsxwriter::{Format, Workbook};
    let County { app, dispatcher, .. } = county(app(pool).await).await;
    let mut workbook = Workbook::new();
    workbook.add_worksheet().set_name("说明").unwrap().write_string(0, 0, "导出说明").unwrap();
    let sheet = workbook.add_worksheet().set_name("事故").unwrap();
    let headers = [
        "事故编号",
        "事故时间",
        "路线编码",
        "桩号",
        "死亡人数",
        "重伤人数",
        "轻伤人数",
        "事故形态",
        "车辆类型",
        "号牌号码",
    ];
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    let when = chrono::NaiveDate::from_ymd_opt(2025, 7, 1).unwrap().and_hms_opt(19, 45, 0).unwrap();
    let date_format = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    sheet.write_string(1, 0, "X1").unwrap();
    sheet.write_datetime_with_format(1, 1, when, &date_format).unwrap();
    sheet.write_string(1, 2, "X202").unwrap();
    sheet.write_number(1, 3, 4500).unwrap();
    sheet.write_number(1, 4, 0).unwrap();
    sheet.write_number(1, 5, 0).unwrap();
    sheet.write_number(1, 6, 1).unwrap();
    sheet.write_string(1, 7, "侧面相撞").unwrap();
    sheet.write_string(1, 8, "农用车").unwrap();
    sheet.write_string(1, 9, "苏E99999").unwrap();
    // A row whose time is text the export wrote, and one whose stake is past the road's end.
    sheet.write_string(2, 0, "X2").unwrap();
    sheet.write_string(2, 1, "2025-07-02 06:30").unwrap();
    sheet.write_string(2, 2, "X202").unwrap();
    sheet.write_string(2, 3, "K1+200").unwrap();
    sheet.write_string(3, 0, "X3").unwrap();
    sheet.write_string(3, 1, "2025-07-03 06:30").unwrap();
    sheet.write_string(3, 2, "X202").unwrap();
    sheet.write_string(3, 3, "K30+000").unwrap();
    let bytes = workbook.save_to_buffer().unwrap();

    let wrong = upload(&app, &dispatcher, "crashes.xlsx", &bytes, &[]).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "the first sheet has no time column");
    assert_eq!(wrong.json()["code"], "crash_import_columns");
    let missing = upload(&app, &dispatcher, "crashes.xlsx", &bytes, &[("sheet", "Sheet9")]).await;
    assert_eq!(missing.json()["code"], "crash_import_sheet");

    let answer = upload(&app, &dispatcher, "crashes.xlsx", &bytes, &[("sheet", "事故")]).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.detail());
    let report = answer.json();
    assert_eq!(report["file"]["sheet"], "事故");
    assert_eq!(report["dropped_columns"], json!(["号牌号码"]));
    assert_eq!(refused_rows(&report), [(4, "stake_beyond_road".to_owned())]);
    let rows: Vec<Crash> = sqlx::query_as(&format!("select {CRASH_COLUMNS} from crash order by record_no"))
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].occurred_at.to_rfc3339(), "2025-07-01T11:45:00+00:00", "an Excel date in county time");
    assert_eq!(rows[0].stake_m, Some(4500.0));
    assert_eq!(
        (rows[0].crash_type.as_deref(), rows[0].vehicle_types.clone()),
        (Some("angle"), vec!["farm_vehicle".to_owned()])
    );
    assert_eq!(rows[1].occurred_at.to_rfc3339(), "2025-07-01T22:30:00+00:00");
    assert_eq!(rows[1].stake_m, Some(1200.0));
}

#[sqlx::test(migrations = "./migrations")]
async fn geojson_points_are_crashes_and_other_geometries_are_refused(pool: PgPool) {
    let County { app, dispatcher, .. } = county(app(pool).await).await;
    let file = json!({
        "type": "FeatureCollection",
        "features": [
            { "type": "Feature", "geometry": { "type": "Point", "coordinates": [120.57, 31.88] },
              "properties": { "事故编号": "J1", "事故时间": "2025-08-01 12:00", "死亡人数": 0, "重伤人数": 1, "事故形态": "单车事故", "手机": "13900000000" } },
            { "type": "Feature", "geometry": { "type": "LineString", "coordinates": [[120.5, 31.8], [120.6, 31.8]] },
              "properties": { "事故编号": "J2", "事故时间": "2025-08-02 12:00" } },
            { "type": "Feature", "geometry": null,
              "properties": { "事故编号": "J3", "事故时间": "2025-08-03 12:00", "路线编码": "X202", "桩号": "K0+500" } },
            { "type": "Feature", "geometry": { "type": "Point", "coordinates": [-0.12, 51.5] },
              "properties": { "事故编号": "J4", "事故时间": "2025-08-04 12:00" } },
            { "type": "Feature", "geometry": null,
              "properties": { "事故编号": "J5", "事故时间": "2025-08-05 12:00", "路线编码": "G15", "桩号": 800 } }
        ]
    });
    // An expressway's route code has two digits (migration 0014 lets crashes name it, as roads do).
    add_road(&app, "G15", "沈海高速", "LINESTRING(120.51 31.85, 120.51 31.89)").await;
    let answer = upload(&app, &dispatcher, "crashes.geojson", file.to_string().as_bytes(), &[]).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.detail());
    let report = answer.json();
    assert_eq!(report["file"]["format"], "geojson");
    assert_eq!(report["dropped_columns"], json!(["手机"]));
    assert_eq!(refused_rows(&report), [(2, "bad_coordinates".to_owned()), (4, "outside_china".to_owned())]);
    let placed: Vec<(String, String)> = sqlx::query_as("select record_no, located_by from crash order by record_no")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        placed,
        [("J1".into(), "coordinates".into()), ("J3".into(), "stake".into()), ("J5".into(), "stake".into())]
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn a_mapping_names_the_columns_and_may_not_name_personal_ones(pool: PgPool) {
    let County { app, dispatcher, .. } = county(app(pool).await).await;
    let csv = "案件号,案发时刻,东经,北纬,亡,形态\nM1,2025-09-01 10:00,120.55,31.87,1,追尾\n";
    let unmapped = upload(&app, &dispatcher, "m.csv", csv.as_bytes(), &[]).await;
    assert_eq!(unmapped.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unmapped.detail().contains("案件号, 案发时刻"), "{}", unmapped.detail());

    let mapping = r#"{"record_no": "案件号", "time": "案发时刻", "lon": "东经", "lat": "北纬", "deaths": "亡", "crash_type": "形态"}"#;
    let answer = upload(&app, &dispatcher, "m.csv", csv.as_bytes(), &[("mapping", mapping)]).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.detail());
    assert_eq!(answer.json()["columns"]["time"], "案发时刻");
    let (severity, crash_type): (String, String) =
        sqlx::query_as("select severity, crash_type from crash where record_no = 'M1'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((severity.as_str(), crash_type.as_str()), ("fatal", "rear_end"));

    let personal =
        upload(&app, &dispatcher, "m.csv", csv.as_bytes(), &[("mapping", r#"{"record_no": "身份证号码"}"#)]).await;
    assert_eq!(personal.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(personal.json()["code"], "crash_mapping_personal");
    let typo = upload(&app, &dispatcher, "m.csv", csv.as_bytes(), &[("mapping", r#"{"time": "案发时间"}"#)]).await;
    assert_eq!(typo.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("crash_import").await, 1, "refusals record nothing");
}

#[sqlx::test(migrations = "./migrations")]
async fn limits_are_refusals_that_write_nothing(pool: PgPool) {
    let settings = Settings { crash_import_bytes_max: 1000, ..Settings::default() };
    let County { app, dispatcher, .. } = county(app_with(pool.clone(), settings).await).await;
    let mut big = String::from("事故时间,经度,纬度\n");
    while big.len() <= 1000 {
        big.push_str("2025-01-01 10:00,120.55,31.87\n");
    }
    let answer = upload(&app, &dispatcher, "big.csv", big.as_bytes(), &[]).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", answer.detail());

    let long_cell = format!("事故时间,经度,纬度,事故地点\n2025-01-01 10:00,120.55,31.87,{}\n", "路".repeat(300));
    let report = upload(&app, &dispatcher, "long.csv", long_cell.as_bytes(), &[]).await;
    assert_eq!(report.status, StatusCode::CREATED, "a long cell is 900 bytes, within the file limit");
    assert_eq!(report.json()["rows_imported"], 1);
    let bad_options = upload(&app, &dispatcher, "x.csv", b"a\n", &[("crs", "mars")]).await;
    assert_eq!(bad_options.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad_options.json()["code"], "crash_import_options");
    let not_bool = upload(&app, &dispatcher, "x.csv", b"a\n", &[("dry_run", "maybe")]).await;
    assert_eq!(not_bool.status, StatusCode::BAD_REQUEST);

    // Rows, columns and cells, through the library with small limits.
    let rows = "事故时间,经度,纬度\n2025-01-01 10:00,120.55,31.87\n2025-01-02 10:00,120.55,31.87\n2025-01-03 10:00,120.55,31.87\n";
    let mut options = CrashImportOptions::new("rows.csv", "测试");
    options.limits.rows_max = 2;
    match crashes::import(&pool, rows.as_bytes().to_vec(), &options).await {
        Err(CrashImportError::Refused { code, message }) => {
            assert_eq!(code, "crash_import_rows");
            assert!(message.contains("more than 2 rows"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let mut options = CrashImportOptions::new("cells.csv", "测试");
    options.limits.cell_chars_max = 10;
    let report = crashes::import(&pool, long_cell.into_bytes(), &options).await.unwrap();
    assert_eq!((report.rows_imported, report.refused[0].code), (0, "cell_too_long"));
    let mut options = CrashImportOptions::new("cols.csv", "测试");
    options.limits.columns_max = 2;
    let err = crashes::import(&pool, rows.as_bytes().to_vec(), &options).await.unwrap_err();
    assert!(matches!(err, CrashImportError::Refused { code: "crash_import_columns", .. }), "{err:?}");
    assert_eq!(app.count("crash").await, 1);
}

#[sqlx::test(migrations = "./migrations")]
async fn dispatchers_import_and_town_officers_read_only_their_towns_crashes(pool: PgPool) {
    let County { app, dispatcher, town_id } = county(app(pool).await).await;
    app.add_town("320582101", "塘桥镇", [120.60, 31.84, 120.70, 31.90]).await;
    let city = organisation(&app.pool, "city_office").await;
    let town_org = add_organisation(&app.pool, "杨舍镇交安办", "town", Some(town_id)).await;
    let town_officer = token_for(&app.pool, "zhen", "孙区镇", "town_officer", town_org).await;
    let reviewer = token_for(&app.pool, "jiaojing", "李交警", "reviewer", city).await;
    let inspector = app.token.clone();
    let csv = "事故编号,事故时间,经度,纬度,死亡人数,轻伤人数,事故形态\n\
               T1,2025-10-01 10:00,120.55,31.87,1,0,追尾\n\
               T2,2025-10-02 10:00,120.65,31.87,0,1,刮擦\n\
               T3,2025-10-03 10:00,120.56,31.87,0,0,刮擦\n";
    for token in [&inspector, &town_officer, &reviewer] {
        assert_eq!(upload(&app, token, "t.csv", csv.as_bytes(), &[]).await.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(upload(&app, &dispatcher, "t.csv", csv.as_bytes(), &[]).await.status, StatusCode::CREATED);

    let ids = |answer: Answer| -> Vec<String> {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.detail());
        answer.json()["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["properties"]["record_no"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(get_as(&app, &reviewer, "/api/v1/crashes").await), ["T3", "T2", "T1"]);
    assert_eq!(ids(get_as(&app, &town_officer, "/api/v1/crashes").await), ["T3", "T1"]);
    assert_eq!(get_as(&app, &inspector, "/api/v1/crashes").await.status, StatusCode::FORBIDDEN);
    assert_eq!(get_as(&app, &town_officer, "/api/v1/crash-imports").await.status, StatusCode::FORBIDDEN);
    let t2: i64 = sqlx::query_scalar("select id from crash where record_no = 'T2'").fetch_one(&app.pool).await.unwrap();
    assert_eq!(get_as(&app, &town_officer, &format!("/api/v1/crashes/{t2}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get_as(&app, &reviewer, &format!("/api/v1/crashes/{t2}")).await.status, StatusCode::OK);

    // Filters and pages.
    assert_eq!(ids(get_as(&app, &reviewer, "/api/v1/crashes?severity=fatal").await), ["T1"]);
    assert_eq!(
        ids(get_as(&app, &reviewer, "/api/v1/crashes?crash_type=sideswipe&from=2025-10-03&to=2025-10-03").await),
        ["T3"]
    );
    assert_eq!(ids(get_as(&app, &reviewer, &format!("/api/v1/crashes?town={town_id}")).await), ["T3", "T1"]);
    assert_eq!(ids(get_as(&app, &reviewer, "/api/v1/crashes?bbox=120.60,31.80,120.70,31.90").await), ["T2"]);
    let page = get_as(&app, &reviewer, "/api/v1/crashes?limit=2&severity=").await.json();
    assert_eq!(page["features"].as_array().unwrap().len(), 2);
    let next = page["next"].as_str().unwrap().to_owned();
    assert_eq!(ids(get_as(&app, &reviewer, &next).await), ["T1"]);
    for bad in
        ["bbox=100,20,120,40", "severity=deadly", "from=yesterday", "limit=0", "limit=5000", "before=x", "colour=red"]
    {
        let answer = get_as(&app, &reviewer, &format!("/api/v1/crashes?{bad}")).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn the_command_imports_a_file_and_prints_its_report(pool: PgPool) {
    let County { app, .. } = county(app(pool.clone()).await).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("事故.csv");
    std::fs::write(&file, POLICE_CSV).unwrap();
    let run = |extra: &[&str]| common::import_command(&pool, "crashes", &file, extra);
    let dry = run(&["--dry-run"]);
    let stdout = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&dry.stderr));
    assert!(stdout.contains("would import 3, 0 already stored, 5 refused — dry run"), "{stdout}");
    assert!(stdout.contains("dropped (personal data, never stored): 当事人姓名, 号牌号码, 身份证号"), "{stdout}");
    assert!(stdout.contains("refused: row 5 (A004): the stake is beyond the road's ends"), "{stdout}");
    assert_eq!(app.count("crash").await, 0);

    let real = run(&["--json"]);
    assert!(real.status.success(), "{}", String::from_utf8_lossy(&real.stderr));
    let report: Value = serde_json::from_slice(&real.stdout).unwrap();
    assert_eq!((report["rows_imported"].as_u64(), report["rows_refused"].as_u64()), (Some(3), Some(5)));
    assert_eq!(app.count("crash").await, 3);
    let imported_by: String =
        sqlx::query_scalar("select imported_by from crash_import").fetch_one(&app.pool).await.unwrap();
    assert!(imported_by.starts_with("命令行"), "{imported_by}");
}
