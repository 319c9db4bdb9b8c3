//! The close-out sheet (销号单, DOMAIN.md §8) of a closed site as a printable A4 PDF: the site's facts, each
//! checklist item with its before and after photos side by side, who did the work and who accepted it.
//!
//! Three steps, so that each can be tested and timed on its own:
//! 1. [`Sheet::from_detail`] reads the site's detail (the typed `SiteDetail` that `GET /api/v1/sites/{id}`
//!    answers) into plain fields with Chinese labels, and lists the photos it needs;
//! 2. the caller fills in the photos' thumbnail bytes ([`Sheet::photos`]), which is I/O;
//! 3. [`render`] lays the sheet out on pages and writes the PDF, which is CPU work (run it in
//!    `spawn_blocking`). The font is [`CjkFont`], loaded once per process.
//!
//! The PDF is written by krilla: it embeds only the glyphs the sheet uses (a few kB of the 20 MB font) with a
//! ToUnicode map, so the text can be searched and copied, and it passes the JPEG thumbnails through as they
//! are (`DCTDecode`), without decoding them.

mod font;
pub(crate) mod render;

use std::collections::HashMap;

use bytes::Bytes;
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde_json::Value;

pub use font::{CjkFont, DEFAULT_PATHS, FONT_ENV, FontError};
pub use render::{PAGE_H, PAGE_W, page_count, render};

use crate::domain::labels;
use crate::domain::site_detail::{Event, PhotoRole, SiteDetail, Timestamp};

/// The sheet shows times in China Standard Time (UTC+8), where the county is; it says so in its footer.
pub fn china_time() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// Everything printed on one close-out sheet, already in the words the sheet uses.
#[derive(Debug, Clone)]
pub struct Sheet {
    /// Ledger number, e.g. `YH-000123`.
    pub code: String,
    pub town: Option<String>,
    /// Route code and stake(s), e.g. `X202 K12+300`, or `None` when the site is on no known road.
    pub road_and_stake: Option<String>,
    /// Kind with its checklist, e.g. `隐患点（三个一）`.
    pub kind: String,
    /// Hazard type names, e.g. `急弯`.
    pub hazard_types: Vec<String>,
    pub hazard_level: Option<String>,
    /// 挂牌督办, when the site is under listed supervision.
    pub supervision: Option<String>,
    pub responsible_unit: Option<String>,
    pub deadline: Option<NaiveDate>,
    /// 建账: the first event of the site.
    pub opened: Option<Stamp>,
    pub dispatched: Option<Stamp>,
    pub close_out_requested: Option<Stamp>,
    /// The reviewer's approval (验收): who and when.
    pub approved: Option<Stamp>,
    pub items: Vec<SheetItem>,
    /// Every photo the sheet shows, once; items refer to them by index.
    pub photos: Vec<Photo>,
    pub generated_at: DateTime<FixedOffset>,
}

/// Who did something, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Stamp {
    pub actor: String,
    pub at: DateTime<FixedOffset>,
}

/// One checklist item as the sheet shows it.
#[derive(Debug, Clone)]
pub struct SheetItem {
    /// e.g. `一条线`.
    pub name: String,
    /// e.g. `已验收`.
    pub state: String,
    pub quantity: Option<i64>,
    pub installed_on: Option<NaiveDate>,
    /// The contractor or team that installed it (施工单位).
    pub installer: Option<String>,
    /// Why the item does not apply, for `not_applicable`.
    pub reason: Option<String>,
    /// The site as the inspector found it (the first photo of the first observation with photos).
    pub before: Option<PhotoUse>,
    /// The after-photo of the item's latest evidence that has one, and who submitted it.
    pub after: Option<PhotoUse>,
    /// The night photo of the latest evidence that has one (lamps and beacons must work at night).
    pub night: Option<PhotoUse>,
    /// The template asks for night evidence: an empty night slot is shown as missing.
    pub night_expected: bool,
}

/// One place a photo is shown: which photo, taken or submitted by whom and when.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoUse {
    pub photo: usize,
    pub by: String,
    pub at: Option<DateTime<FixedOffset>>,
}

/// A photo the sheet needs, by its SHA-256; `jpeg` is its thumbnail, filled in by the caller (`None`: the
/// sheet says the photo is missing rather than failing).
#[derive(Debug, Clone)]
pub struct Photo {
    pub sha256: String,
    pub jpeg: Option<Bytes>,
}

/// Names of coded reference data that the sheet prints: hazard types and checklist templates (both data,
/// configurable per county, so they come from the database rather than from code).
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub hazard_types: HashMap<String, String>,
    pub templates: HashMap<String, String>,
}

impl Names {
    /// From the JSON of `db::reference::hazard_types_json` and `db::reference::templates_json`: arrays of
    /// objects with `code` and `name`.
    pub fn from_reference_json(hazard_types: &str, templates: &str) -> Result<Names, serde_json::Error> {
        let map = |json: &str| -> Result<HashMap<String, String>, serde_json::Error> {
            let rows: Vec<Value> = serde_json::from_str(json)?;
            Ok(rows
                .iter()
                .filter_map(|r| Some((r["code"].as_str()?.to_string(), r["name"].as_str()?.to_string())))
                .collect())
        };
        Ok(Names { hazard_types: map(hazard_types)?, templates: map(templates)? })
    }
}

impl Sheet {
    /// Reads the site's detail (`db::sites::detail`) into a sheet. The caller checks that the site is closed.
    pub fn from_detail(detail: &SiteDetail, names: &Names, generated_at: DateTime<FixedOffset>) -> Sheet {
        let p = &detail.properties;
        let kind = labels::site_kind(p.kind).to_string();
        let kind = match names.templates.get(&p.template) {
            Some(template) => format!("{kind}（{template}）"),
            None => kind,
        };
        let road_and_stake =
            match (text(p.road_code.as_deref()), text(p.stake.as_deref()), text(p.end_stake.as_deref())) {
                (None, None, _) => None,
                (road, stake, end) => {
                    let stakes = match (stake, end) {
                        (Some(s), Some(e)) => format!("{s}～{e}"),
                        (Some(s), None) => s,
                        (None, _) => String::new(),
                    };
                    Some([road.unwrap_or_default(), stakes].join(" ").trim().to_string())
                }
            };
        let hazard_types =
            p.hazard_types.iter().map(|c| names.hazard_types.get(c).cloned().unwrap_or_else(|| c.clone())).collect();
        let hazard_level = p.hazard_level.map(|l| {
            labels::lookup(labels::HAZARD_LEVELS, l.as_str()).map_or_else(|| l.as_str().to_string(), str::to_string)
        });
        let supervision = labels::supervision(p.supervision_level.as_str(), None, None);

        let events = &p.events;
        let stamp = |e: &Event| Some(Stamp { actor: e.actor.trim().to_string(), at: time(&e.at)? });
        let first = |kind: &str| events.iter().find(|e| e.kind == kind).and_then(stamp);
        // A site can go round the loop (returned, reopened): the latest dispatch, request and approval are
        // the ones that led to this close-out.
        let last = |kind: &str| events.iter().rev().find(|e| e.kind == kind).and_then(stamp);
        let opened = first("opened").or_else(|| events.first().and_then(stamp));

        let mut photos: Vec<Photo> = Vec::new();
        let mut photo_index = |sha: &str| -> usize {
            match photos.iter().position(|p| p.sha256 == sha) {
                Some(i) => i,
                None => {
                    photos.push(Photo { sha256: sha.to_string(), jpeg: None });
                    photos.len() - 1
                }
            }
        };

        // Observations come newest first: the before-photo is from the earliest one that has photos.
        let before = p.observations.iter().rev().find_map(|o| {
            let sha = o.photos.iter().find_map(|ph| text(Some(&ph.sha256)))?;
            Some((sha, o.inspector.trim().to_string(), time(&o.observed_at)))
        });
        let before = before.map(|(sha, by, at)| PhotoUse { photo: photo_index(&sha), by, at });

        let mut items = Vec::new();
        for item in &p.checklist_items {
            // Evidence comes newest first.
            let evidence = &item.evidence;
            let mut latest_photo = |role: PhotoRole| {
                evidence.iter().find_map(|e| {
                    let sha = e.photos.iter().find(|ph| ph.role == role).and_then(|ph| text(Some(&ph.sha256)))?;
                    Some(PhotoUse {
                        photo: photo_index(&sha),
                        by: e.submitted_by.trim().to_string(),
                        at: time(&e.submitted_at),
                    })
                })
            };
            let after = latest_photo(PhotoRole::After);
            let night = latest_photo(PhotoRole::Night);
            let latest = evidence.first();
            items.push(SheetItem {
                name: text(Some(&item.name)).unwrap_or_else(|| item.code.clone()),
                state: labels::item_state(item.state).to_string(),
                quantity: item.quantity.or_else(|| latest.and_then(|e| e.quantity)).map(i64::from),
                installed_on: item.installed_on.or_else(|| latest.and_then(|e| e.installed_on)),
                installer: text(item.installer.as_deref())
                    .or_else(|| latest.and_then(|e| text(e.installer.as_deref()))),
                reason: text(item.reason.as_deref()),
                before: before.clone(),
                after,
                night,
                night_expected: item.night_evidence,
            });
        }

        Sheet {
            code: p.code.clone(),
            town: text(p.town.as_deref()),
            road_and_stake,
            kind,
            hazard_types,
            hazard_level,
            supervision,
            responsible_unit: text(p.responsible_unit.as_deref()),
            deadline: p.deadline,
            opened,
            dispatched: last("dispatch"),
            close_out_requested: last("request_close_out"),
            approved: last("approve"),
            items,
            photos,
            generated_at,
        }
    }

    /// The installers of all items (施工单位), each once, in checklist order.
    pub fn installers(&self) -> Vec<String> {
        distinct(self.items.iter().filter_map(|i| i.installer.clone()))
    }

    /// Who submitted the evidence shown (整改资料提交人), each once.
    pub fn submitters(&self) -> Vec<String> {
        distinct(self.items.iter().flat_map(|i| [&i.after, &i.night]).flatten().map(|u| u.by.clone()))
    }
}

fn distinct(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names.filter(|n| !n.trim().is_empty()) {
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// A non-empty string field.
fn text(v: Option<&str>) -> Option<String> {
    v.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// A timestamp in China time.
fn time(t: &Timestamp) -> Option<DateTime<FixedOffset>> {
    t.at().map(|t| t.with_timezone(&china_time()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use uuid::Uuid;

    use super::*;

    fn names() -> Names {
        Names {
            hazard_types: [("sharp_curve".to_string(), "急弯".to_string())].into(),
            templates: [("three_ones".to_string(), "三个一".to_string())].into(),
        }
    }

    /// `given` with every field it leaves out taken from `defaults` (objects only, one level).
    fn filled(defaults: &Value, given: Value) -> Value {
        let mut out = defaults.clone();
        for (k, v) in given.as_object().unwrap() {
            out[k] = v.clone();
        }
        out
    }

    /// The detail of a closed spot, written as briefly as the test needs; the other fields are filled in.
    fn detail() -> SiteDetail {
        let photo = json!({"id": Uuid::nil(), "sha256": "", "content_type": "image/jpeg", "width": 4, "height": 3,
            "exif_taken_at": null, "exif_location": null, "exif_direction_deg": null, "url": "", "thumbnail_url": ""});
        let evidence_photo =
            json!({"role": "after", "sha256": "", "width": 4, "height": 3, "url": "", "thumbnail_url": ""});
        let observation = json!({"id": Uuid::nil(), "inspector": "", "observed_at": "2026-11-27T01:15:00+00:00",
            "received_at": "2026-11-27T01:15:00+00:00", "geometry": {"type": "Point", "coordinates": [120.5, 31.9]},
            "accuracy_m": null, "source_crs": "wgs84", "hazard_types": [], "checklist": {}, "notes": "",
            "look_back_result": null, "photos": []});
        let item = json!({"code": "", "name": "", "name_en": "", "required": true, "state": "missing",
            "quantity": null, "quantity_min": null, "measured": {}, "installed_on": null, "installer": null,
            "reason": null, "night_evidence": false, "evidence": []});
        let evidence = json!({"id": Uuid::nil(), "state": "installed", "quantity": null, "measured": {},
            "installed_on": null, "installer": null, "reason": null, "submitted_by": "",
            "submitted_at": "2026-11-27T01:15:00+00:00", "photos": []});
        let event = json!({"id": 1, "at": "2026-11-27T01:15:00+00:00", "actor": "", "kind": "", "from_status": null,
            "to_status": null, "reason": null, "data": {}, "observation_id": null});
        let site = json!({"id": Uuid::nil(), "code": "", "kind": "spot", "status": "closed", "town": null,
            "town_code": null, "road_code": null, "road_name": null, "stake": null, "end_stake": null,
            "hazard_types": [], "hazard_level": null, "checklist": "0/0", "deadline": null, "overdue": false,
            "town_id": null, "responsible_unit_id": null, "first_observed_at": "2026-11-27T01:15:00+00:00",
            "return_count": 0, "pending_extension": null, "supervision_level": "none", "observation_count": 0,
            "last_observed_at": "2026-11-27T01:15:00+00:00", "source": "patrol", "rectification_mode": null,
            "template": "", "duplicate_of": null, "version": 1, "responsible_unit": null, "lead_unit_id": null,
            "supporting_unit_ids": [], "relapse_count": 0, "supervision_body": null, "supervision_doc_no": null,
            "supervision_due": null, "close_out_requested_by": null, "created_at": "2026-11-27T01:15:00+00:00",
            "updated_at": "2026-11-27T01:15:00+00:00", "checklist_items": [], "observations": [], "events": []});

        let after = |sha: &str| json!({"role": "after", "sha256": sha});
        let brief = json!({"type": "Feature", "properties": {
            "code": "YH-000007", "kind": "spot", "template": "three_ones", "status": "closed",
            "town": "杨舍镇", "road_code": "X202", "stake": "K12+300", "end_stake": null,
            "hazard_types": ["sharp_curve", "county_special"], "hazard_level": "general",
            "supervision_level": "county", "responsible_unit": "农村公路管理处", "deadline": "2026-12-30",
            "observations": [
                {"inspector": "王二", "observed_at": "2026-11-29T02:00:00+00:00", "photos": [{"sha256": "bb"}]},
                {"inspector": "张伟", "observed_at": "2026-11-28T01:15:00+00:00", "photos": [{"sha256": "aa"}, {"sha256": "a2"}]},
                {"inspector": "无图", "observed_at": "2026-11-27T01:15:00+00:00", "photos": []}
            ],
            "checklist_items": [
                {"code": "line", "name": "一条线", "state": "verified", "quantity": 2, "installed_on": "2026-11-20",
                 "installer": "张家港交通工程公司", "night_evidence": false, "evidence": [
                    {"submitted_by": "钱整改", "submitted_at": "2026-11-30T02:00:00.5+00:00", "photos": [after("c2")]},
                    {"submitted_by": "孙区镇", "submitted_at": "2026-11-29T02:00:00+00:00", "photos": [after("c1")]}]},
                {"code": "lamp", "name": "一盏灯", "state": "verified", "quantity": null, "installed_on": null,
                 "installer": null, "night_evidence": true, "evidence": [
                    {"submitted_by": "钱整改", "submitted_at": "2026-11-30T02:00:00+00:00", "quantity": 1,
                     "installed_on": "2026-11-21", "installer": "路灯所", "photos": [after("d1"), {"role": "night", "sha256": "d2"}]}]},
                {"code": "sign", "name": "一块牌", "state": "not_applicable", "reason": "已有标志", "evidence": []}
            ],
            "events": [
                {"kind": "opened", "actor": "张伟", "at": "2026-11-28T01:15:00+00:00"},
                {"kind": "dispatch", "actor": "赵调度", "at": "2026-11-28T03:00:00+00:00"},
                {"kind": "dispatch", "actor": "赵调度", "at": "2026-11-28T04:00:00+00:00"},
                {"kind": "request_close_out", "actor": "钱整改", "at": "2026-11-30T02:10:00+00:00"},
                {"kind": "approve", "actor": "李验收", "at": "2026-11-30T03:20:00+00:00"}
            ]
        }});
        let mut p = filled(&site, brief["properties"].clone());
        let fill_all = |list: &Value, defaults: &Value| -> Value {
            Value::Array(list.as_array().unwrap().iter().map(|v| filled(defaults, v.clone())).collect())
        };
        for o in p["observations"].as_array_mut().unwrap() {
            let photos = fill_all(&o["photos"], &photo);
            *o = filled(&observation, o.clone());
            o["photos"] = photos;
        }
        for i in p["checklist_items"].as_array_mut().unwrap() {
            for e in i["evidence"].as_array_mut().unwrap() {
                let photos = fill_all(&e["photos"], &evidence_photo);
                *e = filled(&evidence, e.clone());
                e["photos"] = photos;
            }
            *i = filled(&item, i.clone());
        }
        p["events"] = fill_all(&p["events"], &event);
        let feature = json!({"type": "Feature", "id": Uuid::nil(),
            "geometry": {"type": "Point", "coordinates": [120.5, 31.9]}, "properties": p});
        SiteDetail::from_postgres_json(&feature.to_string()).unwrap()
    }

    #[test]
    fn a_detail_becomes_a_sheet_in_chinese() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T08:00:00+08:00").unwrap();
        let sheet = Sheet::from_detail(&detail(), &names(), now);

        assert_eq!(sheet.code, "YH-000007");
        assert_eq!(sheet.kind, "隐患点（三个一）");
        assert_eq!(sheet.road_and_stake.as_deref(), Some("X202 K12+300"));
        // An unknown code is printed as it is rather than dropped.
        assert_eq!(sheet.hazard_types, ["急弯", "county_special"]);
        assert_eq!(sheet.hazard_level.as_deref(), Some("一般"));
        assert_eq!(sheet.supervision.as_deref(), Some("县级挂牌督办"));
        assert_eq!(sheet.deadline, NaiveDate::from_ymd_opt(2026, 12, 30));
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap();
        assert_eq!(sheet.opened, Some(Stamp { actor: "张伟".into(), at: at("2026-11-28T09:15:00+08:00") }));
        assert_eq!(sheet.dispatched.as_ref().unwrap().at, at("2026-11-28T12:00:00+08:00"), "the latest dispatch");
        assert_eq!(sheet.approved.as_ref().unwrap().actor, "李验收");
        assert_eq!(sheet.approved.as_ref().unwrap().at.offset(), &china_time());

        let [line, lamp, sign] = &sheet.items[..] else { panic!("{:?}", sheet.items) };
        let sha = |u: &Option<PhotoUse>| u.as_ref().map(|u| sheet.photos[u.photo].sha256.as_str());
        // Before: the first photo of the earliest observation that has photos.
        assert_eq!(sha(&line.before), Some("aa"));
        assert_eq!(line.before.as_ref().unwrap().by, "张伟");
        assert_eq!(sha(&line.after), Some("c2"), "the latest evidence");
        assert_eq!(line.after.as_ref().unwrap().by, "钱整改");
        assert_eq!((line.state.as_str(), line.quantity), ("已验收", Some(2)));
        // Item fields fall back to the latest evidence.
        assert_eq!(lamp.installer.as_deref(), Some("路灯所"));
        assert_eq!(lamp.installed_on, NaiveDate::from_ymd_opt(2026, 11, 21));
        assert_eq!((sha(&lamp.after), sha(&lamp.night), lamp.night_expected), (Some("d1"), Some("d2"), true));
        assert_eq!(
            (sign.state.as_str(), sign.reason.as_deref(), sign.after.is_none()),
            ("不适用", Some("已有标志"), true)
        );
        // Each photo once, whatever the number of places it is shown.
        let shas: Vec<&str> = sheet.photos.iter().map(|p| p.sha256.as_str()).collect();
        assert_eq!(shas, ["aa", "c2", "d1", "d2"]);
        assert_eq!(sheet.installers(), ["张家港交通工程公司", "路灯所"]);
        assert_eq!(sheet.submitters(), ["钱整改"]);
    }

    #[test]
    fn a_detail_without_a_code_does_not_read() {
        let mut feature = serde_json::to_value(detail()).unwrap();
        feature["properties"].as_object_mut().unwrap().remove("code");
        let refused = SiteDetail::from_postgres_json(&feature.to_string()).unwrap_err();
        assert!(refused.to_string().contains("missing field `code`"), "{refused}");
    }
}
