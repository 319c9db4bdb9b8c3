//! Open311 GeoReport v2 (issue 13) against the real router and PostGIS: every resource in JSON and in XML
//! (parsed with a real XML parser), each element checked against the spec's field lists; keys issued once
//! and revoked; a posted request in the moderation queue, its status following its site; errors in the
//! spec's shape; the per-key rate limit; and what GETs never show.

use crate::common;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::Request;
use common::{Answer, TestApp, app, app_with, county_office, observation, token_for};
use roadledger::http::Settings;
use serde_json::{Value, json};
use sqlx::PgPool;

// The GeoReport v2 field lists (wiki.open311.org/GeoReport_v2), and mySociety's `servicerequestupdates`.
const DISCOVERY_FIELDS: &[&str] = &["changeset", "contact", "key_service", "endpoints"];
const ENDPOINT_FIELDS: &[&str] = &["specification", "url", "changeset", "type", "formats"];
const SERVICE_FIELDS: &[&str] =
    &["service_code", "service_name", "description", "metadata", "type", "keywords", "group"];
const DEFINITION_FIELDS: &[&str] = &["service_code", "attributes"];
const REQUEST_FIELDS: &[&str] = &[
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
];
const POSTED_FIELDS: &[&str] = &["service_request_id", "service_notice", "account_id"];
const TOKEN_FIELDS: &[&str] = &["service_request_id", "token"];
const UPDATE_FIELDS: &[&str] =
    &["update_id", "service_request_id", "status", "updated_datetime", "description", "media_url"];
const ERROR_FIELDS: &[&str] = &["code", "description"];

/// An XML element: its name, its text and its child elements, in order.
#[derive(Debug, Clone)]
struct Node {
    name: String,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn child(&self, name: &str) -> &Node {
        self.children.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("<{}> has no <{name}>", self.name))
    }

    fn names(&self) -> Vec<&str> {
        self.children.iter().map(|c| c.name.as_str()).collect()
    }
}

/// Parses a whole document with quick-xml: the UTF-8 declaration first, then exactly one root element.
fn parse_xml(answer: &Answer) -> Node {
    use quick_xml::events::Event;
    assert_eq!(answer.headers["content-type"], "text/xml; charset=utf-8");
    let text = std::str::from_utf8(&answer.bytes).unwrap();
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    let mut root = None;
    let mut declared = false;
    loop {
        match reader.read_event().unwrap_or_else(|e| panic!("not XML ({e}): {text}")) {
            Event::Decl(d) => {
                assert_eq!(d.encoding().unwrap().unwrap().as_ref(), "utf-8");
                declared = true;
            }
            Event::Start(e) => {
                stack.push(Node { name: e.name().as_ref().to_string(), text: String::new(), children: Vec::new() })
            }
            Event::Empty(e) => {
                let node = Node { name: e.name().as_ref().to_string(), text: String::new(), children: Vec::new() };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(t) => {
                if let Some(node) = stack.last_mut() {
                    node.text.push_str(&t);
                }
            }
            Event::GeneralRef(r) => {
                let resolved = quick_xml::escape::resolve_predefined_entity(&r).expect("a predefined entity");
                stack.last_mut().unwrap().text.push_str(resolved);
            }
            Event::End(_) => {
                let node = stack.pop().unwrap();
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => {
                        assert!(root.is_none(), "two root elements: {text}");
                        root = Some(node);
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(declared, "no XML declaration: {text}");
    root.unwrap_or_else(|| panic!("no root element: {text}"))
}

/// A JSON object has exactly the spec's fields.
fn check_json_fields(object: &Value, fields: &[&str]) {
    let keys: BTreeSet<&str> =
        object.as_object().unwrap_or_else(|| panic!("not an object: {object}")).keys().map(String::as_str).collect();
    assert_eq!(keys, fields.iter().copied().collect::<BTreeSet<_>>(), "{object}");
}

/// An XML element has exactly the spec's child elements, in the spec's order.
fn check_xml_fields(node: &Node, fields: &[&str]) {
    assert_eq!(node.names(), fields, "<{}>", node.name);
}

/// A JSON list of records with the spec's fields; answers the list.
fn json_list(answer: &Answer, fields: &[&str]) -> Vec<Value> {
    assert_eq!(answer.headers["content-type"], "application/json; charset=utf-8");
    let list = answer.json().as_array().unwrap_or_else(|| panic!("not a list: {}", answer.json())).clone();
    for item in &list {
        check_json_fields(item, fields);
    }
    list
}

/// An XML list `<root><item>…</item>…</root>` of records with the spec's fields; answers the items.
fn xml_list(answer: &Answer, root: &str, item: &str, fields: &[&str]) -> Vec<Node> {
    let node = parse_xml(answer);
    assert_eq!(node.name, root);
    for child in &node.children {
        assert_eq!(child.name, item);
        check_xml_fields(child, fields);
    }
    node.children
}

/// The spec's error, in JSON and in XML: one `{code, description}` with the HTTP status as its code.
fn json_error(answer: &Answer, status: u16) -> String {
    assert_eq!(answer.status.as_u16(), status, "{}", String::from_utf8_lossy(&answer.bytes));
    let list = json_list(answer, ERROR_FIELDS);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["code"], json!(status));
    list[0]["description"].as_str().unwrap().to_string()
}

fn xml_error(answer: &Answer, status: u16) -> String {
    assert_eq!(answer.status.as_u16(), status, "{}", String::from_utf8_lossy(&answer.bytes));
    let errors = xml_list(answer, "errors", "error", ERROR_FIELDS);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].child("code").text, status.to_string());
    errors[0].child("description").text.clone()
}

pub(crate) async fn get(app: &TestApp, uri: &str) -> Answer {
    app.send_as_is(Request::get(uri).header("host", "roadledger.example.cn").body(Body::empty()).unwrap()).await
}

/// A form POST to `requests.{format}`.
pub(crate) async fn post(app: &TestApp, format: &str, form: &[(&str, &str)]) -> Answer {
    let body = serde_urlencoded::to_string(form).unwrap();
    let request = Request::post(format!("/open311/v2/requests.{format}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    app.send_as_is(request).await
}

pub(crate) async fn admin(app: &TestApp) -> String {
    let city = common::organisation(&app.pool, "city_office").await;
    token_for(&app.pool, "admin", "管理员", "admin", city).await
}

/// An admin issues a key: (client id, key).
pub(crate) async fn issue_key(app: &TestApp, admin: &str, name: &str) -> (i64, String) {
    let request = Request::post("/api/v1/open311-clients")
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", "application/json")
        .body(Body::from(json!({ "name": name }).to_string()))
        .unwrap();
    let answer = app.send(request).await;
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.bytes));
    let body = answer.json();
    (body["id"].as_i64().unwrap(), body["key"].as_str().unwrap().to_string())
}

/// A point in 杨舍镇.
const AT: [f64; 2] = [120.55, 31.87];

pub(crate) fn good_form(key: &str) -> Vec<(&str, &str)> {
    vec![
        ("api_key", key),
        ("jurisdiction_id", "320582"),
        ("service_code", "pavement"),
        ("lat", "31.87"),
        ("long", "120.55"),
        ("description", "村道路口有个大坑，晚上看不见"),
        ("first_name", "小明"),
        ("last_name", "王"),
        ("email", "wang.xiaoming@example.cn"),
        ("phone", "138 1234 5678"),
        ("media_url", "https://photos.example.cn/1.jpg"),
        ("device_id", "device-42"),
        ("account_id", "acct-7"),
    ]
}

/// Nothing personal, nothing staff: the contact data a form sent appears in no GET answer.
pub(crate) fn assert_no_personal_data(answer: &Answer) {
    let text = String::from_utf8_lossy(&answer.bytes);
    for secret in ["13812345678", "5678", "wang.xiaoming", "小明", "device-42", "photos.example.cn", "赵调度", "disp"]
    {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[sqlx::test]
async fn discovery_services_and_definitions_in_both_formats(pool: PgPool) {
    let app = app(pool).await;

    let discovery = get(&app, "/open311/v2/discovery.json").await;
    assert_eq!(discovery.status, 200);
    let body = discovery.json();
    check_json_fields(&body, DISCOVERY_FIELDS);
    let endpoints = body["endpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), 1);
    check_json_fields(&endpoints[0], ENDPOINT_FIELDS);
    assert_eq!(endpoints[0]["specification"], "http://wiki.open311.org/GeoReport_v2");
    assert_eq!(endpoints[0]["url"], "http://roadledger.example.cn/open311/v2");
    assert_eq!(endpoints[0]["formats"], json!(["text/xml", "application/json"]));
    let xml = parse_xml(&get(&app, "/open311/v2/discovery.xml").await);
    assert_eq!(xml.name, "discovery");
    check_xml_fields(&xml, DISCOVERY_FIELDS);
    let endpoint = xml.child("endpoints").child("endpoint");
    check_xml_fields(endpoint, ENDPOINT_FIELDS);
    assert_eq!(endpoint.child("url").text, "http://roadledger.example.cn/open311/v2");
    let formats: Vec<&str> = endpoint.child("formats").children.iter().map(|f| f.text.as_str()).collect();
    assert_eq!(formats, ["text/xml", "application/json"]);

    // The services are the public categories, in both formats, with every field.
    let codes: Vec<&str> = roadledger::domain::public_report::CATEGORIES.iter().map(|c| c.code).collect();
    let services = json_list(&get(&app, "/open311/v2/services.json").await, SERVICE_FIELDS);
    assert_eq!(services.iter().map(|s| s["service_code"].as_str().unwrap()).collect::<Vec<_>>(), codes);
    assert!(services.iter().all(|s| s["metadata"] == json!(false) && s["type"] == "realtime"));
    assert_eq!(services[5]["service_name"], "路面坑洼、积水");
    let xml = xml_list(&get(&app, "/open311/v2/services.xml").await, "services", "service", SERVICE_FIELDS);
    assert_eq!(xml.iter().map(|s| s.child("service_code").text.as_str()).collect::<Vec<_>>(), codes);
    assert!(xml.iter().all(|s| s.child("metadata").text == "false" && s.child("type").text == "realtime"));
    assert_eq!(xml[5].child("keywords").text, "坑洼,积水,pothole,flooding");

    // A service's definition: its code and no attributes.
    let definition = get(&app, "/open311/v2/services/pavement.json").await;
    assert_eq!(definition.status, 200);
    check_json_fields(&definition.json(), DEFINITION_FIELDS);
    assert_eq!(definition.json(), json!({"service_code": "pavement", "attributes": []}));
    let xml = parse_xml(&get(&app, "/open311/v2/services/pavement.xml").await);
    assert_eq!(xml.name, "service_definition");
    check_xml_fields(&xml, DEFINITION_FIELDS);
    assert!(xml.child("attributes").children.is_empty());

    // Unknown services, resources and formats: the spec's 404 in the format asked for (JSON when unknown).
    assert!(json_error(&get(&app, "/open311/v2/services/nothing.json").await, 404).contains("nothing"));
    assert!(xml_error(&get(&app, "/open311/v2/services/nothing.xml").await, 404).contains("nothing"));
    json_error(&get(&app, "/open311/v2/services.csv").await, 404);
    xml_error(&get(&app, "/open311/v2/everything.xml").await, 404);
    // A jurisdiction that is not ours.
    assert!(json_error(&get(&app, "/open311/v2/services.json?jurisdiction_id=110000").await, 400).contains("320582"));
    assert_eq!(get(&app, "/open311/v2/services.json?jurisdiction_id=320582").await.status, 200);
}

#[sqlx::test]
async fn keys_are_shown_once_stored_as_hashes_and_revoked(pool: PgPool) {
    let app = app(pool).await;
    let admin = admin(&app).await;
    let (id, key) = issue_key(&app, &admin, "市12345政务服务平台").await;
    assert!(key.starts_with("o311_") && key.len() == 69, "{key}");

    // The list shows the client and its prefix, never the key; the database holds only its SHA-256.
    let list = app
        .send(
            Request::get("/api/v1/open311-clients")
                .header("authorization", format!("Bearer {admin}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(list.status, 200);
    assert!(!String::from_utf8_lossy(&list.bytes).contains(&key));
    let clients = list.json();
    assert_eq!(clients[0]["id"], json!(id));
    assert_eq!(clients[0]["key_prefix"], json!(&key[..11]));
    assert_eq!(clients[0]["created_by"], "admin");
    let stored: Vec<u8> = sqlx::query_scalar("select key_sha256 from open311_client where id = $1")
        .bind(id as i32)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, roadledger::secrets::sha256(&key).to_vec());
    let dump: String =
        sqlx::query_scalar("select string_agg(t::text, ' ') from open311_client t").fetch_one(&app.pool).await.unwrap();
    assert!(!dump.contains(&key[11..]), "{dump}");

    // The key works, a wrong one does not (403, the spec's error).
    assert_eq!(post(&app, "json", &good_form(&key)).await.status, 201);
    assert!(json_error(&post(&app, "json", &good_form("o311_nope")).await, 403).contains("not a valid key"));

    // Only admins issue and revoke.
    let city = common::organisation(&app.pool, "city_office").await;
    let dispatcher = token_for(&app.pool, "disp", "赵调度", "dispatcher", city).await;
    let refused = app
        .send(
            Request::post(format!("/api/v1/open311-clients/{id}/revoke"))
                .header("authorization", format!("Bearer {dispatcher}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(refused.status, 403);
    let revoked = app
        .send(
            Request::post(format!("/api/v1/open311-clients/{id}/revoke"))
                .header("authorization", format!("Bearer {admin}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(revoked.status, 200);
    assert!(revoked.json()["revoked_at"].is_string());
    let before = app.count("public_report").await;
    assert!(xml_error(&post(&app, "xml", &good_form(&key)).await, 403).contains("revoked"));
    assert_eq!(app.count("public_report").await, before, "a revoked key stores nothing");
    let missing = app
        .send(
            Request::post("/api/v1/open311-clients/999/revoke")
                .header("authorization", format!("Bearer {admin}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(missing.status, 404);
}

#[sqlx::test]
async fn a_posted_request_waits_for_moderation_and_then_follows_its_site(pool: PgPool) {
    let app = app(pool).await;
    let office = county_office(&app).await;
    let admin = admin(&app).await;
    let (client, key) = issue_key(&app, &admin, "城市服务App").await;

    // Posted in XML: the spec's answer, then a `received` report of channel open311 in the queue.
    let posted = post(&app, "xml", &good_form(&key)).await;
    assert_eq!(posted.status, 201, "{}", String::from_utf8_lossy(&posted.bytes));
    let answer = xml_list(&posted, "service_requests", "request", POSTED_FIELDS);
    assert_eq!(answer.len(), 1);
    assert_eq!(answer[0].child("account_id").text, "acct-7");
    assert!(answer[0].child("service_notice").text.contains("交安办"));
    let id: i64 = answer[0].child("service_request_id").text.parse().unwrap();
    let row: Value = sqlx::query_scalar(
        "select json_build_object('channel', channel, 'status', status, 'category', category,
             'client', open311_client_id, 'name', contact_name, 'phone', contact_phone, 'email', contact_email)
         from public_report where id = $1",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        row,
        json!({"channel": "open311", "status": "received", "category": "pavement", "client": client,
               "name": "小明 王", "phone": "13812345678", "email": "wang.xiaoming@example.cn"})
    );
    let token: String = sqlx::query_scalar("select tracking_token from public_report where id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let queue: Vec<i64> =
        sqlx::query_scalar("select id from public_report where status = 'received' order by received_at, id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(queue, [id]);
    // The client's media_url is neither fetched nor kept: no photo rows, and no column holds it.
    assert_eq!(app.count("public_report_photo").await, 0);
    let dump: String = sqlx::query_scalar("select t::text from public_report t where id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!dump.contains("photos.example.cn"), "{dump}");

    // Before moderation: listed as open, without its description (unmoderated text) or any personal data.
    let one = get(&app, &format!("/open311/v2/requests/{id}.json")).await;
    assert_eq!(one.status, 200);
    let list = json_list(&one, REQUEST_FIELDS);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["service_request_id"], json!(id.to_string()));
    assert_eq!(list[0]["status"], "open");
    assert_eq!(list[0]["service_code"], "pavement");
    assert_eq!(list[0]["description"], Value::Null);
    assert_eq!(list[0]["media_url"], Value::Null);
    assert_eq!((list[0]["lat"].as_f64(), list[0]["long"].as_f64()), (Some(31.87), Some(120.55)));
    assert_no_personal_data(&one);
    let xml_one = get(&app, &format!("/open311/v2/requests/{id}.xml")).await;
    let items = xml_list(&xml_one, "service_requests", "request", REQUEST_FIELDS);
    assert_eq!(items[0].child("status").text, "open");
    assert_eq!(items[0].child("description").text, "");
    assert_no_personal_data(&xml_one);
    // The token names it too.
    let by_token = json_list(&get(&app, &format!("/open311/v2/tokens/{token}.json")).await, TOKEN_FIELDS);
    assert_eq!(by_token, [json!({"service_request_id": id.to_string(), "token": token})]);
    let by_token = xml_list(
        &get(&app, &format!("/open311/v2/tokens/{token}.xml")).await,
        "service_requests",
        "request",
        TOKEN_FIELDS,
    );
    assert_eq!(by_token[0].child("service_request_id").text, id.to_string());

    // A dispatcher accepts it into a site recorded through the observations API (the moderation branch's
    // accept, simulated in SQL as it stores it), with a photo whose public copy the request then links.
    let recorded = app.upload(&observation("spot", json!(AT)), &[]).await;
    assert_eq!(recorded.status, 201, "{}", String::from_utf8_lossy(&recorded.bytes));
    let site = recorded.json()["site"]["id"].as_str().unwrap().to_string();
    sqlx::query(
        "insert into public_report_photo (report_id, position, sha256, content_type, bytes, width, height,
             original_key, public_key, public_sha256, thumbnail_key, thumbnail_width, thumbnail_height)
         values ($1, 0, sha256('o'), 'image/jpeg', 10, 4, 3, 'orig', 'pub', sha256('p'), 'thumb', 4, 3)",
    )
    .bind(id)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "update public_report set status = 'accepted', decided_at = now(), decided_by = 'disp', site_id = $2::uuid
         where id = $1",
    )
    .bind(id)
    .bind(&site)
    .execute(&app.pool)
    .await
    .unwrap();
    let accepted = get(&app, &format!("/open311/v2/requests/{id}.json")).await;
    let list = json_list(&accepted, REQUEST_FIELDS);
    assert_eq!(list[0]["status"], "open");
    assert_eq!(list[0]["description"], "村道路口有个大坑，晚上看不见");
    assert_eq!(list[0]["media_url"], json!(format!("http://roadledger.example.cn/api/v1/public/photos/{id}/0")));
    assert_no_personal_data(&accepted);

    // The site is cancelled through the lifecycle API: the request closes, with the update listed.
    let cancelled = app.act(&office.dispatcher, &site, &json!({"action": "cancel", "reason": "道路已改建"})).await;
    assert_eq!(cancelled.status, 200, "{}", String::from_utf8_lossy(&cancelled.bytes));
    let closed = get(&app, &format!("/open311/v2/requests/{id}.xml")).await;
    let items = xml_list(&closed, "service_requests", "request", REQUEST_FIELDS);
    assert_eq!(items[0].child("status").text, "closed");
    assert_no_personal_data(&closed);

    let updates = get(&app, "/open311/v2/servicerequestupdates.json").await;
    assert_eq!(updates.status, 200);
    let updates = json_list(&updates, UPDATE_FIELDS);
    let mine: Vec<&Value> = updates.iter().filter(|u| u["service_request_id"] == json!(id.to_string())).collect();
    let statuses: Vec<&str> = mine.iter().map(|u| u["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["open", "open", "closed"], "{updates:?}");
    let descriptions: Vec<&str> = mine.iter().map(|u| u["description"].as_str().unwrap()).collect();
    assert_eq!(descriptions, ["已受理，待核实", "处理中", "不予受理"]);
    let ids: Vec<i64> = mine.iter().map(|u| u["update_id"].as_str().unwrap().parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let xml_updates = xml_list(
        &get(&app, "/open311/v2/servicerequestupdates.xml").await,
        "service_request_updates",
        "request_update",
        UPDATE_FIELDS,
    );
    let statuses: Vec<&str> = xml_updates.iter().map(|u| u.child("status").text.as_str()).collect();
    assert_eq!(statuses, ["open", "open", "closed"]);
    // A window after the last update holds none.
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let empty = get(&app, &format!("/open311/v2/servicerequestupdates.json?start_date={}", urlencode(&later))).await;
    assert_eq!(json_list(&empty, UPDATE_FIELDS).len(), 0);

    // The list's filters: status, service_code, ids.
    let closed = json_list(&get(&app, "/open311/v2/requests.json?status=closed").await, REQUEST_FIELDS);
    assert_eq!(closed.len(), 1);
    assert!(json_list(&get(&app, "/open311/v2/requests.json?status=open").await, REQUEST_FIELDS).is_empty());
    assert!(json_list(&get(&app, "/open311/v2/requests.json?service_code=barrier").await, REQUEST_FIELDS).is_empty());
    let both = json_list(
        &get(&app, &format!("/open311/v2/requests.json?service_request_id={id},99999")).await,
        REQUEST_FIELDS,
    );
    assert_eq!(both.len(), 1);
    let xml_all = xml_list(
        &get(&app, "/open311/v2/requests.xml?status=open,closed").await,
        "service_requests",
        "request",
        REQUEST_FIELDS,
    );
    assert_eq!(xml_all.len(), 1);
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)]).unwrap()[1..].to_string()
}

#[sqlx::test]
async fn bad_requests_get_the_specs_errors_and_store_nothing(pool: PgPool) {
    let app = app(pool).await;
    let admin = admin(&app).await;
    let (_, key) = issue_key(&app, &admin, "测试平台").await;
    let long: &'static str = "坑".repeat(2001).leak();
    let with = |changes: &[(&'static str, Option<&'static str>)]| {
        let mut form: Vec<(&str, String)> = good_form(&key).into_iter().map(|(k, v)| (k, v.to_string())).collect();
        for &(name, value) in changes {
            form.retain(|(k, _)| *k != name);
            if let Some(v) = value {
                form.push((name, v.to_string()));
            }
        }
        form
    };
    // (the form, the status, what the description says)
    type Case<'a> = (Vec<(&'a str, String)>, u16, &'static str);
    let cases: Vec<Case> = vec![
        (with(&[("api_key", None)]), 400, "api_key is missing"),
        (with(&[("service_code", None)]), 400, "service_code is missing"),
        (with(&[("service_code", Some("graffiti"))]), 400, "no service \"graffiti\""),
        (with(&[("lat", None), ("long", None)]), 400, "address_string"),
        (with(&[("long", None)]), 400, "both lat and long"),
        (with(&[("lat", Some("north"))]), 400, "lat: a number"),
        (with(&[("lat", Some("51.5")), ("long", Some("-0.12"))]), 400, "not in China"),
        (with(&[("jurisdiction_id", Some("110000"))]), 400, "jurisdiction"),
        (with(&[("phone", Some("call me"))]), 400, "phone"),
        (with(&[("email", Some("nobody"))]), 400, "email"),
        (with(&[("address_id", Some("17"))]), 400, "address_id"),
        (with(&[("colour", Some("red"))]), 400, "unknown parameter \"colour\""),
        (with(&[("attribute[depth]", Some("30"))]), 400, "no attributes"),
        (with(&[("description", Some(long))]), 400, "at most 2000"),
        (with(&[("api_key", Some("o311_0000"))]), 403, "not a valid key"),
    ];
    for (form, status, says) in &cases {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let description = json_error(&post(&app, "json", &pairs).await, *status);
        assert!(description.contains(says), "{says:?} not in {description:?}");
        let description = xml_error(&post(&app, "xml", &pairs).await, *status);
        assert!(description.contains(says), "{says:?} not in {description:?}");
    }
    // Not a form, and a form too large.
    let json_body = app
        .send_as_is(
            Request::post("/open311/v2/requests.json")
                .header("content-type", "application/json")
                .body(Body::from(json!({"api_key": key}).to_string()))
                .unwrap(),
        )
        .await;
    assert!(json_error(&json_body, 400).contains("x-www-form-urlencoded"));
    let big = format!("api_key={key}&description={}", "a".repeat(70_000));
    let too_big = app
        .send_as_is(
            Request::post("/open311/v2/requests.xml")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(big))
                .unwrap(),
        )
        .await;
    xml_error(&too_big, 413);
    // Only requests take a POST.
    let elsewhere = app
        .send_as_is(
            Request::post("/open311/v2/services.json")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(format!("api_key={key}")))
                .unwrap(),
        )
        .await;
    json_error(&elsewhere, 404);
    assert_eq!(app.count("public_report").await, 0, "no refused request is stored");

    // GET's filters say what is wrong too.
    for (query, says) in [
        ("start_date=yesterday", "start_date"),
        ("status=pending", "open or closed"),
        ("service_request_id=abc", "service_request_id"),
        ("service_code=graffiti", "graffiti"),
        ("page=2", "unknown parameter"),
        ("start_date=2026-12-02T00:00:00Z&end_date=2026-12-01T00:00:00Z", "after end_date"),
    ] {
        let description = json_error(&get(&app, &format!("/open311/v2/requests.json?{query}")).await, 400);
        assert!(description.contains(says), "{query}: {description}");
    }
    xml_error(&get(&app, "/open311/v2/servicerequestupdates.xml?end_date=soon").await, 400);
    json_error(&get(&app, "/open311/v2/requests/abc.json").await, 404);
    xml_error(&get(&app, "/open311/v2/tokens/not-a-token.xml").await, 404);
}

#[sqlx::test]
async fn the_rate_limit_answers_429_and_stores_nothing(pool: PgPool) {
    let app = app_with(pool, Settings { open311_posts_per_hour: 2, ..Settings::default() }).await;
    let admin = admin(&app).await;
    let (client, key) = issue_key(&app, &admin, "刷单平台").await;
    let (_, other) = issue_key(&app, &admin, "正常平台").await;
    assert_eq!(post(&app, "json", &good_form(&key)).await.status, 201);
    assert_eq!(post(&app, "json", &good_form(&key)).await.status, 201);
    let refused = post(&app, "xml", &good_form(&key)).await;
    assert!(xml_error(&refused, 429).contains("2 requests an hour"));
    let retry: u64 = refused.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    assert_eq!(app.count("public_report").await, 2);
    let hits: i32 = sqlx::query_scalar("select hits from public_rate_hit where bucket = $1")
        .bind(format!("open311:{client}"))
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(hits, 3);
    // Another client's key has its own budget.
    assert_eq!(post(&app, "json", &good_form(&other)).await.status, 201);
    assert_eq!(app.count("public_report").await, 3);
}

#[sqlx::test]
async fn hidden_reports_and_other_channels_private_text_never_show(pool: PgPool) {
    let app = app(pool).await;
    let admin = admin(&app).await;
    let (_, key) = issue_key(&app, &admin, "测试平台").await;
    let posted = json_list(&post(&app, "json", &good_form(&key)).await, POSTED_FIELDS);
    let spam: i64 = posted[0]["service_request_id"].as_str().unwrap().parse().unwrap();
    // A hotline ticket with only an address, still waiting: listed without its address or its caller.
    let ticket: i64 = sqlx::query_scalar(
        "insert into public_report (channel, tracking_token, category, description, address_text, ticket_no,
             reported_at, contact_name, contact_phone, entered_by)
         values ('hotline', md5('t'), 'lighting', '来电人称家门口路灯不亮', '杨舍镇某村东头', 'GD2026001', now(),
             '李四', '13900001111', 'hotline-operator')
         returning id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    // The spam is rejected as abuse and hidden.
    sqlx::query(
        "update public_report set status = 'rejected', decided_at = now(), decided_by = 'disp',
             public_reason = '重复提交', hidden = true where id = $1",
    )
    .bind(spam)
    .execute(&app.pool)
    .await
    .unwrap();

    let all = get(&app, "/open311/v2/requests.json").await;
    let list = json_list(&all, REQUEST_FIELDS);
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["service_request_id"], json!(ticket.to_string()));
    assert_eq!(list[0]["address"], Value::Null);
    assert_eq!(list[0]["description"], Value::Null);
    assert_eq!((list[0]["lat"].clone(), list[0]["long"].clone()), (Value::Null, Value::Null));
    let text = String::from_utf8_lossy(&all.bytes);
    for secret in ["李四", "13900001111", "hotline-operator", "来电人", "某村东头", "GD2026001"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    json_error(&get(&app, &format!("/open311/v2/requests/{spam}.json")).await, 404);
    let spam_token: String = sqlx::query_scalar("select tracking_token from public_report where id = $1")
        .bind(spam)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    xml_error(&get(&app, &format!("/open311/v2/tokens/{spam_token}.xml")).await, 404);
    let updates = json_list(&get(&app, "/open311/v2/servicerequestupdates.json").await, UPDATE_FIELDS);
    assert!(updates.iter().all(|u| u["service_request_id"] == json!(ticket.to_string())), "{updates:?}");
    assert_eq!(updates.len(), 1);
}

#[sqlx::test]
async fn the_demos_published_key_posts_and_is_created_once(pool: PgPool) {
    let app = app(pool).await;
    let mut conn = app.pool.acquire().await.unwrap();
    for _ in 0..2 {
        roadledger::db::open311::ensure_demo_client(&mut conn, roadledger::demo::DEMO_OPEN311_KEY).await.unwrap();
    }
    assert_eq!(app.count("open311_client").await, 1);
    let posted = post(&app, "json", &good_form(roadledger::demo::DEMO_OPEN311_KEY)).await;
    assert_eq!(posted.status, 201, "{}", String::from_utf8_lossy(&posted.bytes));
}

#[sqlx::test]
async fn a_list_covers_the_last_90_days_unless_asked_otherwise(pool: PgPool) {
    let app = app(pool).await;
    let ids: Vec<i64> = sqlx::query_scalar(
        "insert into public_report (channel, tracking_token, category, address_text, ticket_no, reported_at, received_at)
         select 'hotline', md5(d::text), 'other', '某村', 'T' || d, now() - make_interval(days => d),
             now() - make_interval(days => d)
         from unnest(array[1, 100]) d
         returning id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let listed = |answer: &Answer| -> Vec<i64> {
        json_list(answer, REQUEST_FIELDS)
            .iter()
            .map(|r| r["service_request_id"].as_str().unwrap().parse().unwrap())
            .collect()
    };
    assert_eq!(listed(&get(&app, "/open311/v2/requests.json").await), [ids[0]]);
    let since = urlencode(&(chrono::Utc::now() - chrono::Duration::days(120)).to_rfc3339());
    // From a start date: 90 days on from it, so only the older one.
    assert_eq!(listed(&get(&app, &format!("/open311/v2/requests.json?start_date={since}")).await), [ids[1]]);
    let until = urlencode(&chrono::Utc::now().to_rfc3339());
    let both = listed(&get(&app, &format!("/open311/v2/requests.json?start_date={since}&end_date={until}")).await);
    assert_eq!(both, [ids[0], ids[1]], "newest first");
    // Named ids override the window.
    assert_eq!(listed(&get(&app, &format!("/open311/v2/requests.json?service_request_id={}", ids[1])).await), [ids[1]]);
    json_error(&get(&app, "/open311/v2/nothing/1.json").await, 404);
    // An unknown format is answered in JSON.
    json_error(&get(&app, "/open311/v2/requests/1.csv").await, 404);
}
