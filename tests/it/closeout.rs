//! The close-out sheet (销号单) PDF through the HTTP API, on a real database: a site is closed the way an office
//! closes it (report with a photo, dispatch, evidence with after and night photos, close-out, independent
//! review), then its sheet is downloaded and read back with poppler's `pdftotext`, `pdfinfo` and `pdfimages`
//! (Debian `poppler-utils`), which know nothing of how it was written.

use crate::common;

use std::process::Command;

use axum::body::Body;
use axum::http::Request;
use common::{DEFAULT_PASSWORD, TestApp, add_organisation, app, create_token, create_user, jpeg, observation};
use roadledger::domain::auth::SiteScope;
use roadledger::domain::site::SiteStatus;
use roadledger::domain::site_detail::{PhotoRole, SiteDetail};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

/// The people of one county office, each with an API token (as in tests/lifecycle.rs).
struct Office {
    app: TestApp,
    dispatcher: String,
    unit_officer: String,
    reviewer: String,
    unit_id: i32,
}

async fn office(pool: PgPool) -> Office {
    let app = app(pool).await;
    let common::CountyOffice { unit_id, dispatcher, unit_officer, reviewer, .. } = common::county_office(&app).await;
    Office { app, dispatcher, unit_officer, reviewer, unit_id }
}

impl Office {
    /// An inspector reports a hazard spot on a sharp curve, with one photo: the "before" of the sheet.
    async fn report(&self, at: [f64; 2]) -> String {
        let mut obs = observation("spot", json!(at));
        obs["hazard_types"] = json!(["sharp_curve"]);
        let answer = self.app.upload(&obs, &[&jpeg(320, 240)]).await;
        assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.bytes));
        answer.json()["site"]["id"].as_str().unwrap().to_string()
    }

    async fn get(&self, token: &str, site: &str) -> common::Answer {
        self.app.site_as(token, site).await
    }

    async fn act(&self, token: &str, site: &str, body: Value) -> common::Answer {
        self.app.act(token, site, &body).await
    }

    /// Evidence for one item: installed, with an after-photo, and a night photo when asked.
    async fn evidence(&self, site: &str, item: &str, night: bool) -> common::Answer {
        let json = json!({"state": "installed", "quantity": 2, "installed_on": "2026-11-20",
                          "installer": "张家港交通工程公司"});
        self.app.evidence_as(&self.unit_officer, site, item, &json, night).await
    }

    /// Verify, dispatch to the unit, and accept: the site is in progress.
    async fn bring_into_progress(&self, site: &str) {
        assert_eq!(self.act(&self.dispatcher, site, json!({"action": "verify"})).await.status, 200);
        let dispatch = json!({"action": "dispatch", "responsible_unit_id": self.unit_id, "hazard_level": "general"});
        let dispatched = self.act(&self.dispatcher, site, dispatch).await;
        assert_eq!(dispatched.status, 200, "{}", String::from_utf8_lossy(&dispatched.bytes));
        assert_eq!(self.act(&self.unit_officer, site, json!({"action": "accept"})).await.status, 200);
    }

    /// The whole loop: in progress, evidence for the three ones (the lamp with its night photo), close-out
    /// requested by the unit, approved by the police reviewer.
    async fn close(&self, site: &str) {
        self.bring_into_progress(site).await;
        for (item, night) in [("line", false), ("sign", false), ("lamp", true)] {
            let answer = self.evidence(site, item, night).await;
            assert_eq!(answer.status, 201, "{item}: {}", String::from_utf8_lossy(&answer.bytes));
        }
        assert_eq!(self.act(&self.unit_officer, site, json!({"action": "request_close_out"})).await.status, 200);
        let approved = self.act(&self.reviewer, site, json!({"action": "approve"})).await;
        assert_eq!(approved.site_detail().properties.status, SiteStatus::Closed);
    }

    async fn sheet(&self, token: Option<&str>, site: &str) -> common::Answer {
        let mut request = Request::get(format!("/api/v1/sites/{site}/closeout.pdf"));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        self.app.send_as_is(request.body(Body::empty()).unwrap()).await
    }
}

/// Runs a poppler tool on the PDF and returns its standard output.
fn poppler(tool: &str, args: &[&str], pdf: &std::path::Path) -> String {
    let output = Command::new(tool)
        .args(args)
        .arg(pdf)
        .args(if tool == "pdftotext" { &["-"][..] } else { &[][..] })
        .output()
        .unwrap_or_else(|e| panic!("{tool} ({e}): install Debian poppler-utils (scripts/test.sh does)"));
    assert!(output.status.success(), "{tool}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[sqlx::test(migrations = "./migrations")]
async fn a_closed_site_prints_a_readable_close_out_sheet(pool: PgPool) {
    let o = office(pool).await;
    let site = o.report([120.55, 31.87]).await;
    o.close(&site).await;
    let code = o.get(&o.dispatcher, &site).await.json()["properties"]["code"].as_str().unwrap().to_string();

    let answer = o.sheet(Some(&o.dispatcher), &site).await;

    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.bytes));
    assert_eq!(answer.headers["content-type"], "application/pdf");
    // 销号单-<code>.pdf, percent-encoded as RFC 5987 asks.
    assert_eq!(
        answer.headers["content-disposition"].to_str().unwrap(),
        format!("inline; filename=\"closeout-{code}.pdf\"; filename*=UTF-8''%E9%94%80%E5%8F%B7%E5%8D%95-{code}.pdf")
    );
    assert!(answer.bytes.starts_with(b"%PDF-"));
    // The font is subset: a few glyphs, not the 20 MB of the font file.
    assert!(answer.bytes.len() < 400_000, "{} bytes", answer.bytes.len());
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("sheet.pdf");
    std::fs::write(&pdf, &answer.bytes).unwrap();
    // To look at the sheet: CLOSEOUT_PDF_OUT=/tmp/sheet.pdf cargo nextest run --test closeout
    if let Some(out) = std::env::var_os("CLOSEOUT_PDF_OUT") {
        std::fs::write(out, &answer.bytes).unwrap();
    }

    let text = poppler("pdftotext", &[], &pdf);
    for expected in [
        "道路交通安全隐患销号单",
        code.as_str(),
        "杨舍镇",
        "隐患点（三个一）",
        "急弯",
        "一般",
        "农村公路管理处",
        "一条线",
        "一块牌",
        "一盏灯",
        "已验收",
        "张家港交通工程公司",
        "2026-11-20",
        "钱整改",
        "李验收",
        "整改前",
        "整改后",
        "夜间",
    ] {
        assert!(text.contains(expected), "{expected:?} is not in the sheet:\n{text}");
    }
    // pdftotext drops the narrow spaces between Chinese and digits.
    let squeezed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    for expected in ["第1页/共2页", "第2页/共2页", "验收人李验收", "整改单位签章"] {
        assert!(squeezed.contains(expected), "{expected:?} is not in the sheet:\n{text}");
    }
    // The reviewer's acceptance, with its date, is on the sheet.
    let today = chrono::Utc::now().with_timezone(&roadledger::closeout::china_time()).format("%Y-%m-%d").to_string();
    assert!(text.contains(&today), "{text}");

    // A spot's three items with their photos take two A4 pages: two items on the first, after the site's
    // facts; the third and the sign-off on the second.
    let info = poppler("pdfinfo", &[], &pdf);
    assert!(info.lines().any(|l| l.split_whitespace().eq(["Pages:", "2"])), "{info}");
    assert!(info.contains("595.28 x 841.89 pts (A4)"), "{info}");

    // Images: the before-photo (drawn once per item), three after-photos and the lamp's night photo, all JPEG
    // passed through as they are.
    let images = poppler("pdfimages", &["-list"], &pdf);
    let rows: Vec<&str> = images.lines().skip(2).collect();
    assert!(rows.len() >= 2, "{images}");
    assert_eq!(rows.len(), 7, "{images}");
    assert!(rows.iter().all(|r| r.split_whitespace().nth(8) == Some("jpeg")), "{images}");
}

#[sqlx::test(migrations = "./migrations")]
async fn only_a_closed_site_has_a_sheet(pool: PgPool) {
    let o = office(pool).await;
    let site = o.report([120.55, 31.87]).await;
    o.bring_into_progress(&site).await;

    let answer = o.sheet(Some(&o.dispatcher), &site).await;

    assert_eq!(answer.status, 409);
    let detail = answer.detail();
    assert!(detail.contains("in_progress") && detail.contains("整改中") && detail.contains("closed"), "{detail}");
}

#[sqlx::test(migrations = "./migrations")]
async fn the_sheet_needs_a_sign_in_and_keeps_to_the_scope(pool: PgPool) {
    let o = office(pool).await;
    let site = o.report([120.55, 31.87]).await;
    o.close(&site).await;
    let other_unit = add_organisation(&o.app.pool, "另一责任单位", "responsible_unit", None).await;
    let outsider = create_user(&o.app.pool, "other", "周其他", &["unit_officer"], other_unit, DEFAULT_PASSWORD).await;
    let outsider = create_token(&o.app.pool, outsider).await;

    let anonymous = o.sheet(None, &site).await;
    let out_of_scope = o.sheet(Some(&outsider), &site).await;
    let unknown = o.sheet(Some(&o.dispatcher), &uuid::Uuid::new_v4().to_string()).await;
    let malformed = o.sheet(Some(&o.dispatcher), "YH-000001").await;
    let own_unit = o.sheet(Some(&o.unit_officer), &site).await;

    assert_eq!(anonymous.status, 401);
    assert_eq!(out_of_scope.status, 404, "a site outside the scope does not exist for the user");
    assert_eq!(unknown.status, 404);
    assert_eq!(malformed.status, 400);
    assert_eq!(own_unit.status, 200);
    assert_eq!(own_unit.headers["content-type"], "application/pdf");
}

/// The detail as PostgreSQL writes it (`db::sites::detail_json`), as JSON.
async fn postgres_detail(o: &Office, site: &str) -> Value {
    let id = Uuid::parse_str(site).unwrap();
    let (json, _) = roadledger::db::sites::detail_json(&o.app.pool, id, &SiteScope { all: true, ..Default::default() })
        .await
        .unwrap()
        .unwrap();
    serde_json::from_str(&json).unwrap()
}

#[sqlx::test(migrations = "./migrations")]
async fn the_site_detail_is_served_as_postgresql_writes_it_through_the_type(pool: PgPool) {
    let o = office(pool).await;
    let site = o.report([120.55, 31.87]).await;
    o.bring_into_progress(&site).await;
    assert_eq!(o.evidence(&site, "lamp", true).await.status, 201);
    let new_deadline =
        (roadledger::domain::lifecycle::china_date(chrono::Utc::now()) + chrono::Days::new(90)).to_string();
    let asked = json!({"action": "request_extension", "deadline": new_deadline, "reason": "灯具到货晚"});
    assert_eq!(o.act(&o.unit_officer, &site, asked).await.status, 200);

    // In progress, with evidence (after and night photos) and an extension waiting: every optional part
    // of the detail is there.
    let in_progress = o.get(&o.dispatcher, &site).await;
    let typed = in_progress.site_detail();
    assert_eq!(in_progress.json(), postgres_detail(&o, &site).await, "the API answers what PostgreSQL wrote");
    let p = &typed.properties;
    assert_eq!(p.status, SiteStatus::InProgress);
    assert_eq!(p.pending_extension.as_ref().map(|x| x.reason.as_str()), Some("灯具到货晚"));
    let lamp = p.checklist_items.iter().find(|i| i.code == "lamp").unwrap();
    let roles: Vec<PhotoRole> = lamp.evidence[0].photos.iter().map(|ph| ph.role).collect();
    assert_eq!(roles, [PhotoRole::After, PhotoRole::Night]);
    assert_eq!(p.observations[0].photos.len(), 1);
    assert!(p.events.iter().any(|e| e.kind == "request_extension"));
    assert_eq!(in_progress.headers["etag"].to_str().unwrap(), format!("\"v{}\"", p.version));

    // Closed: every event of the loop, and the same again.
    assert_eq!(
        o.act(&o.dispatcher, &site, json!({"action": "decide_extension", "approve": true, "reason": "同意"}))
            .await
            .status,
        200
    );
    for item in ["line", "sign"] {
        assert_eq!(o.evidence(&site, item, false).await.status, 201);
    }
    assert_eq!(o.act(&o.unit_officer, &site, json!({"action": "request_close_out"})).await.status, 200);
    assert_eq!(o.act(&o.reviewer, &site, json!({"action": "approve"})).await.status, 200);
    let closed = o.get(&o.dispatcher, &site).await;
    let typed: SiteDetail = closed.site_detail();
    assert_eq!(closed.json(), postgres_detail(&o, &site).await);
    assert_eq!(typed.properties.status, SiteStatus::Closed);
    assert!(typed.properties.events.iter().any(|e| e.to_status == Some(SiteStatus::Closed)));
}
