//! Chinese labels for the codes the data model uses (DOMAIN.md §2, §3, §6), as officials read them in the
//! ledger (台账) and other reports. The codes stay English in the database and the API; only reports
//! translate them, and only here.
//!
//! Kinds, statuses and item states are enums, so a new variant without a label does not compile. Hazard
//! levels, sources and supervision levels are codes kept by check constraints only; their tables are
//! checked against the constraint lists by the tests below.

use super::site::{ItemState, SiteKind, SiteStatus};

pub fn site_kind(kind: SiteKind) -> &'static str {
    match kind {
        SiteKind::Intersection => "路口",
        SiteKind::Section => "路段",
        SiteKind::Spot => "隐患点",
    }
}

pub fn site_status(status: SiteStatus) -> &'static str {
    match status {
        SiteStatus::Reported => "已上报",
        SiteStatus::Verified => "已核实",
        SiteStatus::Rejected => "已驳回",
        SiteStatus::Duplicate => "重复",
        SiteStatus::Assigned => "已派单",
        SiteStatus::InProgress => "整改中",
        SiteStatus::PendingReview => "待审核",
        SiteStatus::Closed => "已销号",
        SiteStatus::Reopened => "已反弹",
        SiteStatus::Cancelled => "已撤销",
    }
}

pub fn item_state(state: ItemState) -> &'static str {
    match state {
        ItemState::Missing => "缺失",
        ItemState::Damaged => "损坏",
        ItemState::Installed => "已设置",
        ItemState::Verified => "已验收",
        ItemState::NotApplicable => "不适用",
    }
}

/// `site.hazard_level` (constraint `site_hazard_level_known`).
pub const HAZARD_LEVELS: &[(&str, &str)] = &[("general", "一般"), ("significant", "较大"), ("major", "重大")];

/// `site.source` (constraint `site_source_known`).
pub const SOURCES: &[(&str, &str)] = &[
    ("patrol", "日常巡查"),
    ("citizen_photo", "随手拍"),
    ("hotline", "热线（12345/122）"),
    ("crash_analysis", "事故分析"),
    ("drone", "无人机巡查"),
    ("smart_patrol", "智慧巡检"),
    ("leadership_inspection", "领导督查"),
    ("other_department", "部门移交"),
];

/// `site.supervision_level` (constraint `site_supervision_level_known`); `none` has no label.
pub const SUPERVISION_LEVELS: &[(&str, &str)] =
    &[("town", "镇级"), ("county", "县级"), ("prefecture", "市级"), ("province", "省级")];

/// `organisation.kind` (constraint `organisation_kind_known`), as DOMAIN.md §6 names them.
pub const ORGANISATION_KINDS: &[(&str, &str)] = &[
    ("city_office", "市交安办"),
    ("town", "区镇"),
    ("police_brigade", "交警大队"),
    ("police_squadron", "交警中队"),
    ("transport_bureau", "交通运输局"),
    ("highway_centre", "公路中心"),
    ("education_bureau", "教育局"),
    ("village_committee", "村委会"),
    ("responsible_unit", "责任单位"),
    ("contractor", "施工单位"),
];

/// The label of `code` in `table`, or `None` for a code the table does not know.
pub fn lookup(table: &[(&str, &'static str)], code: &str) -> Option<&'static str> {
    table.iter().find(|(c, _)| *c == code).map(|(_, label)| *label)
}

/// 挂牌督办 as one phrase: "县级挂牌督办（张家港市安委办，张安委〔2026〕3号）"; `None` when the site is not
/// under listed supervision. Body and document number are left out when unknown.
pub fn supervision(level: &str, body: Option<&str>, doc_no: Option<&str>) -> Option<String> {
    if level == "none" {
        return None;
    }
    let mut text = format!("{}挂牌督办", lookup(SUPERVISION_LEVELS, level).unwrap_or(level));
    let details: Vec<&str> = [body, doc_no].into_iter().flatten().map(str::trim).filter(|s| !s.is_empty()).collect();
    if !details.is_empty() {
        text.push('（');
        text.push_str(&details.join("，"));
        text.push('）');
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_of_the_schema_has_a_label() {
        // The lists of the check constraints in migrations/0001_schema_v1.sql.
        type Labels<'a> = &'a [(&'a str, &'a str)];
        let cases: [(Labels, &[&str]); 3] = [
            (HAZARD_LEVELS, &["general", "significant", "major"]),
            (
                SOURCES,
                &[
                    "patrol",
                    "citizen_photo",
                    "hotline",
                    "crash_analysis",
                    "drone",
                    "smart_patrol",
                    "leadership_inspection",
                    "other_department",
                ],
            ),
            (SUPERVISION_LEVELS, &["town", "county", "prefecture", "province"]),
        ];
        for (table, codes) in cases {
            let known: Vec<&str> = table.iter().map(|(c, _)| *c).collect();
            assert_eq!(known, codes);
        }
        let statuses: Vec<&str> = SiteStatus::ALL.iter().map(|s| site_status(*s)).collect();
        assert_eq!(
            statuses,
            ["已上报", "已核实", "已驳回", "重复", "已派单", "整改中", "待审核", "已销号", "已反弹", "已撤销"]
        );
    }

    #[test]
    fn supervision_phrases() {
        assert_eq!(supervision("none", Some("x"), None), None);
        assert_eq!(
            supervision("county", Some("张家港市安委办"), Some("张安委〔2026〕3号")).as_deref(),
            Some("县级挂牌督办（张家港市安委办，张安委〔2026〕3号）")
        );
        assert_eq!(supervision("province", None, Some(" ")).as_deref(), Some("省级挂牌督办"));
        assert_eq!(lookup(SOURCES, "citizen_photo"), Some("随手拍"));
        assert_eq!(lookup(SOURCES, "carrier_pigeon"), None);
    }
}
