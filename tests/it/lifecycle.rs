//! The close-out lifecycle end to end through the HTTP API, on a real database: report → verify → dispatch
//! → accept → evidence → close-out → review → closed → look-back, and the side roads (return and rework,
//! extension, relapse and reopen, merge, cancel), with stale writes refused.

use crate::common;

use axum::body::Body;
use axum::http::Request;
use common::{DEFAULT_PASSWORD, TestApp, create_token, create_user, jpeg, north_of, observation};
use roadledger::domain::observation::LookBackResult;
use roadledger::domain::site::{ItemState, SiteStatus};
use serde_json::{Value, json};
use sqlx::PgPool;

/// The people of one county office, each with an API token.
struct Office {
    app: TestApp,
    dispatcher: String,
    unit_officer: String,
    town_officer: String,
    reviewer: String,
    unit_id: i32,
}

async fn office(pool: PgPool) -> Office {
    office_with(pool, roadledger::http::Settings::default()).await
}

async fn office_with(pool: PgPool, settings: roadledger::http::Settings) -> Office {
    let app = common::app_with(pool, settings).await;
    let common::CountyOffice { unit_id, dispatcher, unit_officer, town_officer, reviewer, .. } =
        common::county_office(&app).await;
    Office { app, dispatcher, unit_officer, town_officer, reviewer, unit_id }
}

impl Office {
    async fn report(&self, kind: &str, at: [f64; 2]) -> String {
        let answer = self.app.upload(&observation(kind, json!(at)), &[&jpeg(320, 240)]).await;
        assert_eq!(answer.status, 201);
        answer.json()["site"]["id"].as_str().unwrap().to_string()
    }

    async fn get(&self, token: &str, site: &str) -> common::Answer {
        self.app.site_as(token, site).await
    }

    /// Reads the site's ETag, then acts with it in If-Match, as a page does.
    async fn act(&self, token: &str, site: &str, body: Value) -> common::Answer {
        self.app.act(token, site, &body).await
    }

    async fn act_with(&self, token: &str, site: &str, body: Value, if_match: Option<&str>) -> common::Answer {
        self.app.act_with(token, site, &body, if_match).await
    }

    /// Evidence for one item: state installed, quantities, an after-photo, and a night photo when asked.
    async fn evidence(&self, token: &str, site: &str, item: &str, night: bool) -> common::Answer {
        let json = json!({"state": "installed", "quantity": 2, "installed_on": "2026-11-20", "installer": "张家港交通工程公司",
                          "measured": {"distance_m": 35}});
        self.app.evidence_as(token, site, item, &json, night).await
    }

    /// The site's status, read through the typed detail (which checks that the type holds the whole body).
    async fn status(&self, site: &str) -> String {
        self.get(&self.dispatcher, site).await.site_detail().properties.status.to_string()
    }

    /// Verify, dispatch to the unit, and accept: the site is in progress.
    async fn bring_into_progress(&self, site: &str) {
        assert_eq!(self.act(&self.dispatcher, site, json!({"action": "verify"})).await.status, 200);
        let dispatched = self
            .act(
                &self.dispatcher,
                site,
                json!({"action": "dispatch", "responsible_unit_id": self.unit_id, "hazard_level": "general"}),
            )
            .await;
        assert_eq!(dispatched.status, 200, "{}", String::from_utf8_lossy(&dispatched.bytes));
        assert_eq!(self.act(&self.unit_officer, site, json!({"action": "accept"})).await.status, 200);
    }

    async fn all_evidence(&self, site: &str, token: &str) {
        for (item, night) in [("line", false), ("sign", false), ("lamp", true)] {
            let answer = self.evidence(token, site, item, night).await;
            assert_eq!(answer.status, 201, "{item}: {}", String::from_utf8_lossy(&answer.bytes));
        }
    }

    /// Report, bring into progress, evidence, close-out, approval: a closed site.
    async fn closed_site(&self, kind: &str, at: [f64; 2]) -> String {
        let site = self.report(kind, at).await;
        self.close(&site).await;
        site
    }

    async fn close(&self, site: &str) {
        self.bring_into_progress(site).await;
        self.all_evidence(site, &self.unit_officer).await;
        self.act(&self.unit_officer, site, json!({"action": "request_close_out"})).await;
        assert_eq!(self.act(&self.reviewer, site, json!({"action": "approve"})).await.status, 200);
    }

    /// The inspector's look-back visit, standing at `at`.
    fn look_back_observation(
        &self,
        site: &str,
        kind: &str,
        at: [f64; 2],
        result: &str,
        checklist: Value,
        notes: &str,
    ) -> Value {
        // Where the inspector stands: a point, whatever the site's kind.
        let mut obs = observation("spot", json!(at));
        obs["kind"] = kind.into();
        obs["look_back"] = json!({"site_id": site, "result": result});
        obs["checklist"] = checklist;
        obs["notes"] = notes.into();
        obs
    }

    async fn events(&self, site: &str) -> Vec<(String, Option<String>, String)> {
        sqlx::query_as("select kind, to_status, actor from site_event where site_id = $1::text::uuid order by id")
            .bind(site)
            .fetch_all(&self.app.pool)
            .await
            .unwrap()
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn report_to_closed_with_evidence_and_an_independent_review(pool: PgPool) {
    let o = office(pool).await;
    let site = o.report("spot", [120.55, 31.87]).await;

    o.bring_into_progress(&site).await;
    let detail = o.get(&o.unit_officer, &site).await.json();
    let deadline = detail["properties"]["deadline"].as_str().unwrap().to_string();
    let expected = (roadledger::domain::lifecycle::china_date(chrono::Utc::now()) + chrono::Days::new(30)).to_string();
    assert_eq!(deadline, expected, "general hazards default to 30 days");
    assert_eq!(detail["properties"]["responsible_unit"], "农村公路管理处");

    // Close-out before the work is refused, naming every unmet item.
    let early = o.act(&o.unit_officer, &site, json!({"action": "request_close_out"})).await;
    assert_eq!(early.status, 409);
    assert_eq!(early.json()["unmet_items"], json!(["line", "sign", "lamp"]));
    assert_eq!(early.json()["code"], "unmet_items");
    // The lamp needs its night photo too.
    o.evidence(&o.unit_officer, &site, "line", false).await;
    o.evidence(&o.unit_officer, &site, "sign", false).await;
    o.evidence(&o.unit_officer, &site, "lamp", false).await;
    let no_night = o.act(&o.unit_officer, &site, json!({"action": "request_close_out"})).await;
    assert_eq!(no_night.json()["unmet_items"], json!(["lamp"]));
    assert_eq!(o.evidence(&o.unit_officer, &site, "lamp", true).await.status, 201);

    let requested = o.act(&o.unit_officer, &site, json!({"action": "request_close_out"})).await;
    assert_eq!(requested.status, 200);
    assert_eq!(requested.json()["properties"]["status"], "pending_review");
    let approved = o.act(&o.reviewer, &site, json!({"action": "approve"})).await;
    assert_eq!(approved.status, 200);

    let closed = approved.json();
    assert_eq!(closed["properties"]["status"], "closed");
    let items = closed["properties"]["checklist_items"].as_array().unwrap();
    assert!(items.iter().all(|i| i["state"] == "verified"), "{items:?}");
    let lamp = items.iter().find(|i| i["code"] == "lamp").unwrap();
    let roles: Vec<&str> =
        lamp["evidence"][0]["photos"].as_array().unwrap().iter().map(|p| p["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["after", "night"]);
    assert_eq!(lamp["evidence"][0]["installer"], "张家港交通工程公司");
    // The after-photo is served like any photo.
    let after = lamp["evidence"][0]["photos"][0]["url"].as_str().unwrap();
    assert_eq!(o.app.get(after).await.status, 200);

    let timeline: Vec<(String, Option<String>)> = o.events(&site).await.into_iter().map(|(k, to, _)| (k, to)).collect();
    let moves: Vec<(&str, Option<&str>)> =
        timeline.iter().map(|(k, t)| (k.as_str(), t.as_deref())).filter(|(k, _)| *k != "evidence_submitted").collect();
    assert_eq!(
        moves,
        [
            ("opened", Some("reported")),
            ("verify", Some("verified")),
            ("dispatch", Some("assigned")),
            ("accept", Some("in_progress")),
            ("request_close_out", Some("pending_review")),
            ("approve", Some("closed")),
        ]
    );
    assert_eq!(timeline.iter().filter(|(k, _)| k == "evidence_submitted").count(), 4);
    let actors: Vec<String> = o.events(&site).await.into_iter().map(|(_, _, a)| a).collect();
    assert_eq!(actors.last().unwrap(), "李验收");
}

#[sqlx::test(migrations = "./migrations")]
async fn a_returned_close_out_is_reworked_and_then_approved(pool: PgPool) {
    let o = office(pool).await;
    let site = o.report("spot", [120.55, 31.87]).await;
    o.bring_into_progress(&site).await;
    o.all_evidence(&site, &o.unit_officer).await;
    o.act(&o.unit_officer, &site, json!({"action": "request_close_out"})).await;

    let no_reason = o.act(&o.reviewer, &site, json!({"action": "return"})).await;
    let returned = o.act(&o.reviewer, &site, json!({"action": "return", "reason": "标线长度不足，夜间灯不亮"})).await;

    assert_eq!(no_reason.status, 422);
    assert_eq!(returned.status, 200);
    assert_eq!(returned.json()["properties"]["status"], "in_progress");
    assert_eq!(returned.json()["properties"]["return_count"], 1);
    // Rework, then the same reviewer approves (they did not do the work).
    assert_eq!(o.evidence(&o.unit_officer, &site, "lamp", true).await.status, 201);
    assert_eq!(o.act(&o.unit_officer, &site, json!({"action": "request_close_out"})).await.status, 200);
    assert_eq!(o.act(&o.reviewer, &site, json!({"action": "approve"})).await.status, 200);
    let reason: Option<String> =
        sqlx::query_scalar("select reason from site_event where kind = 'return'").fetch_one(&o.app.pool).await.unwrap();
    assert_eq!(reason.as_deref(), Some("标线长度不足，夜间灯不亮"));
}

#[sqlx::test(migrations = "./migrations")]
async fn the_reviewer_may_not_approve_work_they_submitted(pool: PgPool) {
    let o = office(pool).await;
    // Someone who is both a unit officer and a reviewer.
    let both =
        create_user(&o.app.pool, "both", "周兼任", &["unit_officer", "reviewer"], o.unit_id, DEFAULT_PASSWORD).await;
    let both = create_token(&o.app.pool, both).await;
    let site = o.report("spot", [120.55, 31.87]).await;
    o.bring_into_progress(&site).await;
    o.all_evidence(&site, &both).await;
    o.act(&o.unit_officer, &site, json!({"action": "request_close_out"})).await;

    let own = o.act(&both, &site, json!({"action": "approve"})).await;

    assert_eq!(own.status, 403);
    assert!(own.detail().contains("must not be the person"), "{}", own.detail());
    assert_eq!(o.status(&site).await, "pending_review");
}

#[sqlx::test(migrations = "./migrations")]
async fn an_extension_moves_the_deadline_and_keeps_the_reason(pool: PgPool) {
    let o = office(pool).await;
    let site = o.report("spot", [120.55, 31.87]).await;
    o.bring_into_progress(&site).await;
    let old = o.get(&o.dispatcher, &site).await.json()["properties"]["deadline"].as_str().unwrap().to_string();
    let new = (roadledger::domain::lifecycle::china_date(chrono::Utc::now()) + chrono::Days::new(60)).to_string();

    let asked = o
        .act(&o.town_officer, &site, json!({"action": "request_extension", "deadline": new, "reason": "雨季无法施工"}))
        .await;
    let twice =
        o.act(&o.town_officer, &site, json!({"action": "request_extension", "deadline": new, "reason": "再次"})).await;
    let pending = o.get(&o.dispatcher, &site).await.site_detail();
    // The work page's extension queue reads the request from the list, without opening each site.
    let listed = o.app.get("/api/v1/sites?status=in_progress").await.json();
    let decided =
        o.act(&o.dispatcher, &site, json!({"action": "decide_extension", "approve": true, "reason": "同意"})).await;

    assert_eq!(asked.status, 200, "{}", String::from_utf8_lossy(&asked.bytes));
    assert_eq!(twice.status, 409);
    let pending = pending.properties.pending_extension.expect("the request waits for a decision");
    assert_eq!(pending.new_deadline.to_string(), new);
    assert_eq!(pending.reason, "雨季无法施工");
    assert_eq!(listed["features"][0]["properties"]["pending_extension"]["reason"], "雨季无法施工");
    assert_eq!(decided.status, 200);
    let decided = decided.site_detail().properties;
    assert_eq!(decided.deadline.map(|d| d.to_string()), Some(new.clone()));
    assert_eq!(decided.pending_extension, None);
    let data: Value = sqlx::query_scalar("select data from site_event where kind = 'decide_extension'")
        .fetch_one(&o.app.pool)
        .await
        .unwrap();
    assert_eq!(data, json!({"approved": true, "old_deadline": old, "new_deadline": new}));
    let request_reason: Option<String> =
        sqlx::query_scalar("select reason from site_event where kind = 'request_extension'")
            .fetch_one(&o.app.pool)
            .await
            .unwrap();
    assert_eq!(request_reason.as_deref(), Some("雨季无法施工"));
}

#[sqlx::test(migrations = "./migrations")]
async fn a_relapse_found_on_site_reopens_the_site_and_counts_against_it(pool: PgPool) {
    let o = office(pool).await;
    let at = [120.55, 31.87];
    let site = o.closed_site("spot", at).await;
    let visits_before = o.app.count("observation").await;
    // Closed long ago: its remediation deadline has passed.
    sqlx::query("update site set deadline = current_date - 200 where id = $1::text::uuid")
        .bind(&site)
        .execute(&o.app.pool)
        .await
        .unwrap();

    let relapse = o.look_back_observation(
        &site,
        "spot",
        north_of(at, 40.0),
        "relapse",
        json!({"lamp": "damaged", "line": "installed"}),
        "警示灯灯罩破损，夜间不亮",
    );
    let answer = o.app.upload(&relapse, &[&jpeg(320, 240)]).await;
    let replayed = o.app.upload(&relapse, &[&jpeg(320, 240)]).await;

    assert_eq!(answer.status, 201, "{}", answer.detail());
    let body = answer.json();
    assert_eq!(body["observation"]["site_match"], "look_back");
    assert_eq!(body["observation"]["look_back_result"], "relapse");
    assert_eq!(body["site"]["id"], site.as_str());
    assert_eq!(replayed.status, 200, "a retry of the same look-back is a replay, not a second relapse");
    let props = o.get(&o.dispatcher, &site).await.site_detail().properties;
    assert_eq!(props.status, SiteStatus::Reopened);
    assert_eq!(props.relapse_count, 1);
    // The reopened site has a new deadline (the general hazard's 30 days from today), not the one that passed.
    let expected = roadledger::domain::lifecycle::china_date(chrono::Utc::now()) + chrono::Days::new(30);
    assert_eq!(props.deadline, Some(expected));
    assert!(!props.overdue);
    let state = |code: &str| props.checklist_items.iter().find(|i| i.code == code).unwrap().state;
    assert_eq!(
        (state("lamp"), state("line")),
        (ItemState::Damaged, ItemState::Verified),
        "only the failed item goes back"
    );
    // The relapse is recorded by the look-back observation: the detail shows it with its result.
    assert_eq!(props.observations[0].look_back_result, Some(LookBackResult::Relapse));
    assert_eq!(o.app.count("observation").await, visits_before + 1);

    // The timeline's relapse carries the visit (and so its photos) and the inspector's words as the reason.
    let (kind, reason, observation_id, data): (String, Option<String>, Option<uuid::Uuid>, Value) = sqlx::query_as(
        "select kind, reason, observation_id, data from site_event where site_id = $1::text::uuid order by id desc limit 1",
    )
    .bind(&site)
    .fetch_one(&o.app.pool)
    .await
    .unwrap();
    assert_eq!(kind, "look_back_relapse");
    assert_eq!(reason.as_deref(), Some("警示灯灯罩破损，夜间不亮"));
    assert_eq!(observation_id.map(|id| id.to_string()), relapse["id"].as_str().map(String::from));
    assert_eq!(data["failed_items"], json!(["lamp"]));
    // Nobody planned this one: it is kept as a manual look-back task, done by this observation.
    let (policy, result, task_observation): (String, String, uuid::Uuid) =
        sqlx::query_as("select policy, result, observation_id from look_back_task where site_id = $1::text::uuid")
            .bind(&site)
            .fetch_one(&o.app.pool)
            .await
            .unwrap();
    assert_eq!((policy.as_str(), result.as_str()), ("manual", "relapse"));
    assert_eq!(Some(task_observation), observation_id);

    // The town officer restarts the work.
    let restarted = o.act(&o.town_officer, &site, json!({"action": "start"})).await;
    assert_eq!(restarted.json()["properties"]["status"], "in_progress");
}

#[sqlx::test(migrations = "./migrations")]
async fn a_look_back_is_refused_off_site_off_status_without_a_photo_or_as_a_desk_action(pool: PgPool) {
    let o = office(pool).await;
    let at = [120.55, 31.87];
    let closed = o.closed_site("spot", at).await;
    let open = o.report("spot", [120.57, 31.87]).await;
    let observations = o.app.count("observation").await;
    let events = o.app.count("site_event").await;
    let pass = |site: &str, kind: &str, where_: [f64; 2]| {
        o.look_back_observation(site, kind, where_, "pass", json!({"lamp": "installed"}), "")
    };

    let far = o.app.upload(&pass(&closed, "spot", north_of(at, 500.0)), &[&jpeg(320, 240)]).await;
    let not_closed = o.app.upload(&pass(&open, "spot", [120.57, 31.87]), &[&jpeg(320, 240)]).await;
    let no_photo = o.app.upload(&pass(&closed, "spot", at), &[]).await;
    let wrong_kind = o.app.upload(&pass(&closed, "intersection", at), &[&jpeg(320, 240)]).await;
    let mut contradictory = pass(&closed, "spot", at);
    contradictory["checklist"] = json!({"lamp": "missing"});
    let contradictory = o.app.upload(&contradictory, &[&jpeg(320, 240)]).await;
    let desk = o.act(&o.app.token, &closed, json!({"action": "look_back_pass"})).await;

    assert_eq!(far.status, 422);
    assert!(far.detail().contains("m from the site; it is done on site, within 100 m"), "{}", far.detail());
    assert_eq!(far.json()["code"], "look_back_too_far");
    assert!(far.json()["distance_m"].as_f64().unwrap() > 490.0, "{}", far.json());
    assert_eq!(not_closed.status, 409, "{}", not_closed.detail());
    assert!(not_closed.detail().contains("look_back_pass"), "{}", not_closed.detail());
    assert_eq!(no_photo.status, 422);
    assert!(no_photo.detail().contains("photo"), "{}", no_photo.detail());
    assert_eq!(wrong_kind.status, 422);
    assert_eq!(contradictory.status, 422);
    assert!(contradictory.detail().contains("relapse, not a pass"), "{}", contradictory.detail());
    assert_eq!(desk.status, 422);
    assert!(desk.detail().contains("POST /api/v1/observations"), "{}", desk.detail());
    assert_eq!(desk.json()["code"], "look_back_on_site");
    assert_eq!(o.app.count("observation").await, observations, "nothing is half-written");
    assert_eq!(o.app.count("site_event").await, events);
    assert_eq!(o.status(&closed).await, "closed");
}

#[sqlx::test(migrations = "./migrations")]
async fn merging_a_duplicate_moves_its_observations_to_the_surviving_site(pool: PgPool) {
    let o = office(pool).await;
    let survivor = o.report("intersection", [120.55, 31.87]).await;
    let duplicate = o.report("intersection", [120.551, 31.8705]).await; // ~110 m away: not joined automatically
    assert_ne!(survivor, duplicate);

    let itself = o.act(&o.dispatcher, &duplicate, json!({"action": "merge", "into": duplicate})).await;
    let merged = o.act(&o.dispatcher, &duplicate, json!({"action": "merge", "into": survivor})).await;

    assert_eq!(itself.status, 422);
    assert_eq!(merged.status, 200);
    let merged = merged.site_detail().properties;
    assert_eq!(merged.status, SiteStatus::Duplicate);
    assert_eq!(merged.duplicate_of.map(|id| id.to_string()), Some(survivor.clone()));
    let kept = o.get(&o.dispatcher, &survivor).await.json();
    assert_eq!(kept["properties"]["observation_count"], 2);
    assert_eq!(kept["properties"]["observations"].as_array().unwrap().len(), 2);
    assert_eq!(kept["properties"]["observations"][1]["photos"].as_array().unwrap().len(), 1);
    let kinds: Vec<String> = o.events(&survivor).await.into_iter().map(|(k, _, _)| k).collect();
    assert_eq!(kinds, ["opened", "merged_in"]);
    // A duplicate is not open: nothing more happens to it.
    let again = o.act(&o.dispatcher, &duplicate, json!({"action": "verify"})).await;
    assert_eq!(again.status, 409);
}

#[sqlx::test(migrations = "./migrations")]
async fn stale_and_unconditional_writes_are_refused(pool: PgPool) {
    let o = office(pool).await;
    let site = o.report("spot", [120.55, 31.87]).await;
    let etag = o.get(&o.dispatcher, &site).await.headers["etag"].to_str().unwrap().to_string();
    // Someone else moves the site first.
    assert_eq!(o.act(&o.dispatcher, &site, json!({"action": "verify"})).await.status, 200);

    let stale = o.act_with(&o.dispatcher, &site, json!({"action": "reject", "reason": "重复"}), Some(&etag)).await;
    let blind = o.act_with(&o.dispatcher, &site, json!({"action": "cancel", "reason": "x"}), None).await;

    assert_eq!(stale.status, 412);
    assert!(stale.detail().contains("changed since you loaded it"), "{}", stale.detail());
    assert_eq!(blind.status, 428);
    assert_eq!(o.status(&site).await, "verified");
}

#[sqlx::test(migrations = "./migrations")]
async fn evidence_is_recorded_against_the_version_its_author_saw(pool: PgPool) {
    let o = office(pool).await;
    let site = o.report("spot", [120.55, 31.87]).await;
    o.bring_into_progress(&site).await;
    let seen = o.get(&o.unit_officer, &site).await.headers["etag"].to_str().unwrap().to_string();
    assert_eq!(o.evidence(&o.unit_officer, &site, "line", false).await.status, 201);

    let send = async |if_match: Option<&str>| {
        let boundary = "stale-evidence";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"evidence\"\r\n\r\n{}\r\n",
            json!({"state": "installed", "quantity": 1})
        )
        .into_bytes();
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p.jpg\"\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(&common::jpeg(320, 240));
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let mut request = axum::http::Request::post(format!("/api/v1/sites/{site}/items/sign/evidence"))
            .header("authorization", format!("Bearer {}", o.unit_officer))
            .header("content-type", format!("multipart/form-data; boundary={boundary}"));
        if let Some(etag) = if_match {
            request = request.header("if-match", etag);
        }
        o.app.send(request.body(axum::body::Body::from(body)).unwrap()).await
    };
    // The version seen before the line's evidence is stale now; no version at all is refused too.
    let files = o.app.stored_files().len();
    assert_eq!(send(Some(&seen)).await.status, 412);
    assert_eq!(send(None).await.status, 428);
    assert_eq!(o.app.count("item_evidence").await, 1, "neither refused upload recorded anything");
    assert_eq!(o.app.stored_files().len(), files, "the refused photos were not stored");
}

#[sqlx::test(migrations = "./migrations")]
async fn refusals_say_why_and_leave_no_trace(pool: PgPool) {
    let o = office(pool).await;
    let site = o.report("spot", [120.55, 31.87]).await;
    let before = o.events(&site).await.len();

    // Refusals by a lifecycle rule carry a stable `code` and the facts their message names, for clients to
    // say in their own words.
    let cases = [
        (
            &o.town_officer,
            json!({"action": "verify"}),
            403,
            "needs the dispatcher role",
            json!({"code": "not_your_move", "party": "dispatcher"}),
        ),
        (
            &o.dispatcher,
            json!({"action": "approve"}),
            403,
            "needs the reviewer role",
            json!({"code": "not_your_move", "party": "reviewer"}),
        ),
        (
            &o.dispatcher,
            json!({"action": "dispatch", "responsible_unit_id": o.unit_id}),
            409,
            "cannot dispatch a site that is reported",
            json!({"code": "wrong_status", "action": "dispatch", "site_status": "reported", "allowed_from": ["verified"]}),
        ),
        (
            &o.dispatcher,
            json!({"action": "cancel"}),
            422,
            "cancel needs a reason",
            json!({"code": "reason_required", "action": "cancel"}),
        ),
        (&o.dispatcher, json!({"action": "fly"}), 422, "accepted values: verify, reject", json!({})),
        (
            &o.dispatcher,
            json!({"action": "verify", "approve": true}),
            422,
            "approve does not apply to verify",
            json!({}),
        ),
        // Unknown and misplaced fields are named, never ignored: dispatch too (it once skipped this check).
        (&o.dispatcher, json!({"action": "verify", "colour": 1}), 422, "unknown field `colour`", json!({})),
        (
            &o.dispatcher,
            json!({"action": "dispatch", "responsible_unit_id": o.unit_id, "approve": true}),
            422,
            "approve does not apply to dispatch",
            json!({}),
        ),
        (&o.dispatcher, json!({"action": "merge"}), 422, "into: the id of the surviving site", json!({})),
        (
            &o.dispatcher,
            json!({"action": "dispatch", "responsible_unit_id": o.unit_id, "hazard_level": "extreme"}),
            422,
            "unknown variant `extreme`, expected one of `general`, `significant`, `major`",
            json!({}),
        ),
        (&o.dispatcher, json!({"reason": "x"}), 422, "action: which move to make", json!({})),
    ];
    for (token, body, status, fragment, members) in cases {
        let answer = o.act(token, &site, body.clone()).await;
        assert_eq!(answer.status, status, "{body}: {}", String::from_utf8_lossy(&answer.bytes));
        assert!(answer.detail().contains(fragment), "{body}: {}", answer.detail());
        let problem = answer.json();
        for (member, value) in members.as_object().unwrap() {
            assert_eq!(&problem[member], value, "{body}: {problem}");
        }
        if members.as_object().unwrap().is_empty() {
            assert!(problem.get("code").is_none(), "{body}: {problem}");
        }
    }
    assert_eq!(o.events(&site).await.len(), before);
    // A major hazard's deadline must be given.
    o.act(&o.dispatcher, &site, json!({"action": "verify"})).await;
    let major = o
        .act(
            &o.dispatcher,
            &site,
            json!({"action": "dispatch", "responsible_unit_id": o.unit_id, "hazard_level": "major"}),
        )
        .await;
    assert_eq!(major.status, 422);
    assert!(major.detail().contains("approved plan"), "{}", major.detail());
    assert_eq!(major.json()["code"], "deadline_required");
    let cancelled = o.act(&o.dispatcher, &site, json!({"action": "cancel", "reason": "道路已改建"})).await;
    assert_eq!(cancelled.json()["properties"]["status"], "cancelled");
}

#[sqlx::test(migrations = "./migrations")]
async fn the_look_back_policy_plans_tasks_that_a_pass_or_relapse_completes(pool: PgPool) {
    let o = office(pool).await;
    let major = o.report("spot", [120.55, 31.87]).await;
    let general = o.report("spot", [120.57, 31.87]).await;
    for (site, level) in [(&major, "major"), (&general, "general")] {
        o.act(&o.dispatcher, site, json!({"action": "verify"})).await;
        let deadline =
            (roadledger::domain::lifecycle::china_date(chrono::Utc::now()) + chrono::Days::new(200)).to_string();
        let dispatched = o
            .act(&o.dispatcher, site, json!({"action": "dispatch", "responsible_unit_id": o.unit_id, "hazard_level": level, "deadline": deadline}))
            .await;
        assert_eq!(dispatched.status, 200);
        o.act(&o.unit_officer, site, json!({"action": "accept"})).await;
        o.all_evidence(site, &o.unit_officer).await;
        o.act(&o.unit_officer, site, json!({"action": "request_close_out"})).await;
        assert_eq!(o.act(&o.reviewer, site, json!({"action": "approve"})).await.status, 200);
    }
    let plan = |token: &str| {
        Request::post("/api/v1/look-backs/plan")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };

    // Just closed: nothing is due yet. Only dispatchers plan.
    assert_eq!(o.app.send(plan(&o.reviewer)).await.status, 403);
    assert_eq!(o.app.send(plan(&o.dispatcher)).await.json(), json!({"quarterly_major": 0, "monthly_sample": 0}));

    // A hundred days on, with every other closed site sampled: both are due, once.
    let later = roadledger::domain::lifecycle::china_date(chrono::Utc::now()) + chrono::Days::new(100);
    let policy = roadledger::domain::policy::LookBackPolicy { sample_percent: 100, ..Default::default() };
    let dispatcher: uuid::Uuid =
        sqlx::query_scalar("select id from app_user where name = 'disp'").fetch_one(&o.app.pool).await.unwrap();
    let actor = roadledger::domain::auth::Actor {
        user_id: dispatcher,
        name: "disp".into(),
        display_name: "赵调度".into(),
        roles: vec![roadledger::domain::auth::Role::Dispatcher],
        organisation_id: 1,
        town_id: None,
    };
    let planned = roadledger::db::lookback::plan(&o.app.pool, &policy, &actor, later).await.unwrap();
    let again = roadledger::db::lookback::plan(&o.app.pool, &policy, &actor, later).await.unwrap();
    assert_eq!((planned.quarterly_major, planned.monthly_sample), (1, 1));
    assert_eq!((again.quarterly_major, again.monthly_sample), (0, 0));
    let tasks = o.app.get("/api/v1/look-backs").await.json();
    let mut policies: Vec<(String, String)> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["site_id"].as_str().unwrap().to_string(), t["policy"].as_str().unwrap().to_string()))
        .collect();
    policies.sort_by_key(|(site, _)| site != &major);
    assert_eq!(
        policies,
        [(major.clone(), "quarterly_major".to_string()), (general.clone(), "monthly_sample".to_string())]
    );

    // The inspector's pass, recorded on site, completes the planned task; the site stays closed.
    let pass =
        o.look_back_observation(&major, "spot", [120.55, 31.87], "pass", json!({"lamp": "installed"}), "设施完好");
    let passed = o.app.upload(&pass, &[&jpeg(320, 240)]).await;
    assert_eq!(passed.status, 201, "{}", passed.detail());
    assert_eq!(passed.json()["site"]["properties"]["status"], "closed");
    let left = o.app.get("/api/v1/look-backs").await.json();
    assert_eq!(left.as_array().unwrap().len(), 1);
    let (policy, result, observation): (String, String, uuid::Uuid) = sqlx::query_as(
        "select policy, result, observation_id from look_back_task where site_id = $1::text::uuid and done_at is not null",
    )
    .bind(&major)
    .fetch_one(&o.app.pool)
    .await
    .unwrap();
    assert_eq!((policy.as_str(), result.as_str()), ("quarterly_major", "pass"));
    assert_eq!(observation.to_string(), pass["id"].as_str().unwrap());
    let due_events: i64 =
        sqlx::query_scalar("select count(*) from site_event where kind = 'look_back_due' and from_status = 'closed'")
            .fetch_one(&o.app.pool)
            .await
            .unwrap();
    assert_eq!(due_events, 2);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_dispatcher_lists_a_site_for_supervision(pool: PgPool) {
    let o = office(pool).await;
    let site = o.report("spot", [120.55, 31.87]).await;

    let incomplete = o.act(&o.dispatcher, &site, json!({"action": "supervise", "supervision_level": "county"})).await;
    let by_officer = o
        .act(&o.town_officer, &site, json!({"action": "supervise", "supervision_level": "county", "supervision_body": "x", "supervision_doc_no": "y"}))
        .await;
    let listed = o
        .act(
            &o.dispatcher,
            &site,
            json!({"action": "supervise", "supervision_level": "county", "supervision_body": "张家港市道路交通安全委员会",
                   "supervision_doc_no": "张交安委〔2026〕12号", "supervision_due": "2026-12-31"}),
        )
        .await;

    assert_eq!(incomplete.status, 422);
    assert!(incomplete.detail().contains("issuing body"), "{}", incomplete.detail());
    assert_eq!(by_officer.status, 403);
    assert_eq!(listed.status, 200, "{}", String::from_utf8_lossy(&listed.bytes));
    let props = &listed.json()["properties"];
    assert_eq!(props["status"], "reported", "listing is a flag, not a state");
    assert_eq!(props["supervision_level"], "county");
    assert_eq!(props["supervision_doc_no"], "张交安委〔2026〕12号");
    assert_eq!(props["supervision_due"], "2026-12-31");
    let (kind, to): (String, Option<String>) = sqlx::query_as(
        "select kind, to_status from site_event where site_id = $1::text::uuid order by id desc limit 1",
    )
    .bind(&site)
    .fetch_one(&o.app.pool)
    .await
    .unwrap();
    assert_eq!((kind.as_str(), to), ("supervise", None));
}

#[sqlx::test(migrations = "./migrations")]
async fn relapses_count_against_their_town(pool: PgPool) {
    let o = office(pool).await;
    o.app.add_town("320582101", "金港镇", [120.60, 31.84, 120.70, 31.90]).await;
    let (yangshe_at, jingang_at) = ([120.55, 31.87], [120.65, 31.87]);
    let relapsed = o.closed_site("spot", yangshe_at).await;
    let passed = o.closed_site("spot", jingang_at).await;
    let waiting = o.closed_site("spot", [120.66, 31.88]).await;
    let relapse =
        o.look_back_observation(&relapsed, "spot", yangshe_at, "relapse", json!({"sign": "missing"}), "标志牌被盗");
    let pass = o.look_back_observation(&passed, "spot", jingang_at, "pass", json!({}), "");
    for visit in [relapse, pass] {
        assert_eq!(o.app.upload(&visit, &[&jpeg(320, 240)]).await.status, 201);
    }
    sqlx::query(
        "insert into look_back_task (site_id, due_on, policy) values ($1::text::uuid, current_date - 3, 'manual')",
    )
    .bind(&waiting)
    .execute(&o.app.pool)
    .await
    .unwrap();

    let summary = o.app.get("/api/v1/look-backs/towns").await;
    let town_officer = o
        .app
        .send(
            Request::get("/api/v1/look-backs/towns")
                .header("authorization", format!("Bearer {}", o.town_officer))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let backwards = o.app.get("/api/v1/look-backs/towns?from=2026-12-01&to=2026-11-01").await;
    let unknown = o.app.get("/api/v1/look-backs/towns?since=2026-01-01").await;

    assert_eq!(summary.status, 200);
    let rows: Vec<(String, i64, i64, i64, i64, i64)> = summary.json()["towns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let n = |k: &str| t[k].as_i64().unwrap();
            (t["town"].as_str().unwrap().to_string(), n("done"), n("passed"), n("relapsed"), n("open"), n("overdue"))
        })
        .collect();
    // Most relapses first.
    assert_eq!(rows, [("杨舍镇".to_string(), 1, 0, 1, 0, 0), ("金港镇".to_string(), 1, 1, 0, 1, 1)]);
    assert_eq!(summary.json()["total"], json!({"done": 2, "passed": 1, "relapsed": 1, "open": 1, "overdue": 1}));
    // A town officer sees their own town only.
    let own: Vec<String> =
        town_officer.json()["towns"].as_array().unwrap().iter().map(|t| t["town"].as_str().unwrap().into()).collect();
    assert_eq!(own, ["杨舍镇"]);
    assert_eq!(backwards.status, 422);
    assert_eq!(unknown.status, 400);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_section_is_looked_back_at_from_a_point_beside_it(pool: PgPool) {
    let o = office(pool).await;
    let (start, end) = ([120.55, 31.87], [120.56, 31.87]);
    let reported = o.app.upload(&observation("section", json!([start, end])), &[&jpeg(320, 240)]).await;
    assert_eq!(reported.status, 201);
    let site = reported.json()["site"]["id"].as_str().unwrap().to_string();
    o.close(&site).await;
    // Halfway along the section, 30 m off it: near the line, though 470 m from either end.
    let beside = north_of([120.555, 31.87], 30.0);

    let pass = o.look_back_observation(&site, "section", beside, "pass", json!({"line": "installed"}), "标线清晰");
    let answer = o.app.upload(&pass, &[&jpeg(320, 240)]).await;

    assert_eq!(answer.status, 201, "{}", answer.detail());
    assert_eq!(answer.json()["observation"]["geometry"]["type"], "Point");
    assert_eq!(o.status(&site).await, "closed");
}

#[sqlx::test(migrations = "./migrations")]
async fn the_look_back_radius_is_a_setting_the_phone_page_reads(pool: PgPool) {
    let settings = roadledger::http::Settings { look_back_radius_m: 20.0, ..Default::default() };
    let o = office_with(pool, settings).await;
    let at = [120.55, 31.87];
    let site = o.closed_site("spot", at).await;

    let pass = |north_m: f64| {
        o.look_back_observation(&site, "spot", north_of(at, north_m), "pass", json!({"lamp": "installed"}), "")
    };
    let far = o.app.upload(&pass(30.0), &[&jpeg(320, 240)]).await;
    let near = o.app.upload(&pass(10.0), &[&jpeg(320, 240)]).await;
    let published = o.app.get("/api/v1/settings").await.json();

    assert_eq!(far.status, 422);
    assert_eq!(far.json()["radius_m"], 20.0);
    assert_eq!(near.status, 201, "{}", near.detail());
    assert_eq!(published["look_back_radius_m"], 20.0);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_stored_code_the_domain_does_not_know_is_an_error_never_a_default(pool: PgPool) {
    use roadledger::domain::site::{HazardLevel, SiteStatus};
    let known: SiteStatus = sqlx::query_scalar("select 'closed'").fetch_one(&pool).await.unwrap();
    assert_eq!(known, SiteStatus::Closed);
    let unknown = sqlx::query_scalar::<_, HazardLevel>("select 'extreme'").fetch_one(&pool).await.unwrap_err();
    assert!(unknown.to_string().contains("accepted values: general, significant, major"), "{unknown}");
}

/// Evidence photos carry their originals' EXIF like observation photos (`photo_evidence` in the evidence
/// part, one entry per photo): stored with each photo, checked against the site's place and the upload's
/// time (taken 6.2 km away: flagged, not refused), and malformed evidence is a 422 naming the field that
/// records nothing.
#[sqlx::test(migrations = "./migrations")]
async fn evidence_photos_keep_their_originals_exif_and_a_far_one_is_flagged(pool: PgPool) {
    let o = office(pool).await;
    let here = [120.55, 31.87];
    let site = o.report("spot", here).await;
    o.bring_into_progress(&site).await;
    let far = common::north_of(here, 6_200.0);
    let mut evidence = json!({"state": "installed", "quantity": 2, "photo_evidence": [
        {"lon": far[0], "lat": far[1], "device": "HUAWEI ELS-AN00", "original_bytes": 4_213_331},
        {"device": "HUAWEI ELS-AN00"},
    ]});

    // Two entries for one photo: refused, nothing recorded.
    let refused = o.app.evidence_as(&o.unit_officer, &site, "line", &evidence, false).await;
    assert_eq!(refused.status, 422, "{}", String::from_utf8_lossy(&refused.bytes));
    assert!(refused.json()["detail"].as_str().unwrap().contains("photo_evidence"), "{}", refused.json());
    assert_eq!(o.app.count("item_evidence").await, 0);

    evidence["photo_evidence"].as_array_mut().unwrap().pop();
    let answer = o.app.evidence_as(&o.unit_officer, &site, "line", &evidence, false).await;
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.bytes));
    let detail = o.get(&o.dispatcher, &site).await.site_detail();
    let item = detail.properties.checklist_items.iter().find(|i| i.code == "line").unwrap();
    let photo = &item.evidence[0].photos[0];
    assert_eq!(photo.original_device.as_deref(), Some("HUAWEI ELS-AN00"));
    assert_eq!(
        serde_json::to_value(&photo.evidence_flags).unwrap(),
        json!([{"code": "far_from_record", "distance_m": 6200.0}])
    );
}
