//! The people, organisations and phrases of the demo dataset (all invented; the words are the field's).

use super::towns::TOWNS;

// Organisations (DOMAIN.md §6). Town governments and squadrons come from `TOWNS`.
pub const CITY_OFFICE: &str = "张家港市道路交通安全委员会办公室";
pub const POLICE_BRIGADE: &str = "张家港市公安局交通警察大队";
pub const TRANSPORT_BUREAU: &str = "张家港市交通运输局";
pub const HIGHWAY_CENTRE: &str = "张家港市公路事业发展中心";
pub const EDUCATION_BUREAU: &str = "张家港市教育局";
pub const RURAL_ROADS_OFFICE: &str = "张家港市农村公路管理处";
pub const WATER_BUREAU: &str = "张家港市水务局";
pub const HOUSING_BUREAU: &str = "张家港市住房和城乡建设局";
pub const CONTRACTORS: [&str; 4] = [
    "张家港市通达交通设施工程有限公司",
    "苏州路安交通安全设施有限公司",
    "张家港港城道路养护工程有限公司",
    "江苏畅行标志标线工程有限公司",
];
/// The crews that do the work (施工班组), by contractor: what an evidence record names as the installer.
pub const CREWS: [&str; 8] = [
    "通达交通设施公司第一施工队",
    "通达交通设施公司第二施工队",
    "路安交通设施公司张家港项目部",
    "路安交通设施公司安装二班",
    "港城道路养护公司养护三班",
    "港城道路养护公司标线作业队",
    "畅行标志标线公司标线一队",
    "畅行标志标线公司标志安装班",
];
const VILLAGE_COMMITTEES: [(&str, &str); 3] =
    [("永联村村民委员会", "320582106"), ("长江村村民委员会", "320582102"), ("善港村村民委员会", "320582100")];

#[derive(Debug, Clone, PartialEq)]
pub struct Organisation {
    pub name: &'static str,
    pub kind: &'static str,
    /// Admin code of the organisation's town, for kinds that belong to one.
    pub town_code: Option<&'static str>,
}

pub fn organisations() -> Vec<Organisation> {
    let org = |name, kind, town_code| Organisation { name, kind, town_code };
    let mut out = vec![org(CITY_OFFICE, "city_office", None)];
    out.extend(TOWNS.iter().map(|t| org(t.org, "town", Some(t.admin_code))));
    out.push(org(POLICE_BRIGADE, "police_brigade", None));
    for t in &TOWNS {
        if !out.iter().any(|o| o.name == t.squadron) {
            out.push(org(t.squadron, "police_squadron", None));
        }
    }
    out.push(org(TRANSPORT_BUREAU, "transport_bureau", None));
    out.push(org(HIGHWAY_CENTRE, "highway_centre", None));
    out.push(org(EDUCATION_BUREAU, "education_bureau", None));
    out.extend(VILLAGE_COMMITTEES.iter().map(|&(name, town)| org(name, "village_committee", Some(town))));
    for name in [RURAL_ROADS_OFFICE, WATER_BUREAU, HOUSING_BUREAU] {
        out.push(org(name, "responsible_unit", None));
    }
    out.extend(CONTRACTORS.iter().map(|&name| org(name, "contractor", None)));
    out
}

// People. Each has an account (`accounts::people`), which their observations and events carry.
/// 市交安办 dispatchers: verify, dispatch, approve extensions, list for supervision.
pub const DISPATCHERS: [&str; 2] = ["沈建国", "钱卫东"];
/// Acceptance reviewers: traffic police for intersections, transport for the rest.
pub const POLICE_REVIEWERS: [&str; 2] = ["顾文杰", "季晓峰"];
pub const TRANSPORT_REVIEWERS: [&str; 2] = ["陆海峰", "缪红"];
/// City-level inspectors who patrol trunk roads.
pub const CITY_INSPECTORS: [&str; 2] = ["曹磊", "严志强"];
/// Intake channels rather than people; their observations belong to a channel account.
pub const CITIZEN: &str = "市民（随手拍）";
pub const SMART_PATROL: &str = "智慧巡检系统";

/// The officer of each (non-town) responsible unit who accepts the work and asks for close-out.
pub const UNIT_OFFICERS: [(&str, &str); 5] = [
    (HIGHWAY_CENTRE, "黄志刚"),
    (TRANSPORT_BUREAU, "葛伟"),
    (RURAL_ROADS_OFFICE, "施燕"),
    (WATER_BUREAU, "顾建新"),
    (HOUSING_BUREAU, "陈国华"),
];

/// The officer of a (non-town) responsible unit.
pub fn unit_officer(unit: &str) -> &'static str {
    UNIT_OFFICERS.iter().find(|(u, _)| *u == unit).map_or(UNIT_OFFICERS[4].1, |(_, officer)| officer)
}

// Hazard types by site kind, with weights (codes of the `hazard_type` table).
pub const INTERSECTION_HAZARDS: &[(&str, u32)] = &[
    ("missing_warning_sign", 20),
    ("missing_yield_control", 14),
    ("worn_markings", 16),
    ("no_speed_control", 14),
    ("no_warning_posts", 16),
    ("no_signal", 12),
    ("signal_fault", 3),
    ("poor_sight_distance", 10),
    ("bad_geometry", 4),
    ("no_lighting_intersection", 6),
];
/// Occasionally added to an intersection's hazards.
pub const INTERSECTION_EXTRAS: &[(&str, u32)] =
    &[("obstruction", 5), ("illegal_access", 2), ("irregular_bus_stop", 2), ("crop_drying", 2)];
pub const SPOT_HAZARDS: &[(&str, u32)] = &[
    ("sharp_curve", 12),
    ("narrow_bridge", 10),
    ("school_zone", 8),
    ("village_through_road", 8),
    ("water_adjacent", 10),
    ("roadside_drop", 4),
    ("ponding", 5),
    ("pavement_defect", 6),
    ("crop_drying", 8),
    ("stalls_stacking", 5),
    ("illegal_access", 5),
    ("obstruction", 6),
    ("irregular_bus_stop", 5),
    ("school_bus_stop", 4),
    ("work_zone", 3),
    ("no_lighting_section", 6),
    ("signs_markings_missing", 8),
];
pub const SECTION_HAZARDS: &[(&str, u32)] = &[
    ("continuous_curves", 8),
    ("water_adjacent", 16),
    ("guardrail_missing", 12),
    ("no_median_barrier", 6),
    ("no_separation", 10),
    ("too_many_openings", 8),
    ("narrow_road", 10),
    ("pavement_defect", 8),
    ("village_through_road", 10),
    ("school_zone", 5),
    ("signs_markings_missing", 10),
    ("no_delineation", 8),
    ("no_lighting_section", 8),
    ("steep_grade", 1),
    ("narrow_bridge", 3),
];

/// What a hazard says about the checklist as found: (item code, state).
pub fn implied_item(hazard: &str) -> Option<(&'static str, &'static str)> {
    Some(match hazard {
        "missing_warning_sign" => ("warning_sign", "missing"),
        "missing_yield_control" => ("road_marking", "missing"),
        "worn_markings" => ("road_marking", "damaged"),
        "no_speed_control" => ("speed_bump", "missing"),
        "no_warning_posts" => ("warning_post", "missing"),
        "no_signal" | "no_lighting_intersection" => ("signal_light", "missing"),
        "signal_fault" => ("signal_light", "damaged"),
        "signs_markings_missing"
        | "sharp_curve"
        | "continuous_curves"
        | "narrow_bridge"
        | "school_zone"
        | "village_through_road"
        | "steep_grade" => ("sign", "missing"),
        "no_delineation" | "too_many_openings" => ("line", "missing"),
        "no_lighting_section" => ("lamp", "missing"),
        _ => return None,
    })
}

/// Why an item is not applicable here (the schema insists on a reason).
pub fn not_applicable_reason(item: &str) -> &'static str {
    match item {
        "signal_light" => "低流量村道路口，经评估无需设置警示灯",
        "speed_bump" => "主路为干线公路，按规范不设减速带",
        "warning_post" => "路口两侧为建筑物，无设置条件",
        "lamp" => "路段已有市政路灯照明",
        "line" => "路面宽度不足3.5米，不具备施划条件",
        "road_marking" => "砂石路面，暂不具备施划条件",
        _ => "现场条件不具备，经评估不适用",
    }
}

pub const INTERSECTION_CONTEXTS: &[&str] = &[
    "早晚高峰电动自行车流量大，支路车辆直接驶入主路",
    "周边有学校，上下学时段学生较多",
    "夜间无照明，事故隐患突出",
    "农忙季节农机车辆频繁出入",
    "群众反映近期多次发生剐蹭事故",
    "大货车通行较多，支路视线受绿化遮挡",
    "路口较宽，车辆通过速度快",
    "周末乡村旅游车辆较多",
];
pub const SPOT_CONTEXTS: &[&str] = &[
    "临近村庄，行人和非机动车较多",
    "夜间行车视线差",
    "外地车辆不熟悉路况，易发生事故",
    "雨天路面湿滑",
    "三秋期间晒粮占道现象突出",
    "紧邻河道，无防护设施",
    "弯道半径小，视距不足",
];
pub const SECTION_CONTEXTS: &[&str] = &[
    "路段沿河，临水侧无护栏",
    "路侧开口多，车辆随意掉头",
    "路面窄，会车困难",
    "机非混行，电动自行车与货车抢道",
    "连续弯道，缺少警示标志",
    "穿村路段车速快，村民横穿频繁",
];

pub const REJECT_REASONS: &[&str] = &[
    "经现场核实不构成交通安全隐患",
    "非公路范围内问题，已转城管部门处理",
    "照片与定位不符，无法核实",
    "属道路日常养护问题，已转养护单位处理",
];
pub const CANCEL_REASONS: &[&str] = &[
    "道路改扩建工程已覆盖该点位，不再单独整改",
    "该路口已封闭，隐患消除",
    "纳入年度安防工程统一实施",
    "经复核与相邻点位属同一隐患，已合并整改",
];
/// Why a reviewer returns a close-out: (the item it concerns, or "" for any item; the reason; whether the
/// work is redone rather than only photographed again). Either way the item gets new evidence.
pub const RETURN_REASONS: &[(&str, &str, bool)] = &[
    ("warning_post", "警示桩数量不足，请补齐后重新提交", true),
    ("signal_light", "夜间照片未能反映警示灯工作状态，请重新拍摄", false),
    ("speed_bump", "减速带未全幅设置，请整改到位", true),
    ("warning_sign", "警告标志设置距离不足，请按规范调整", true),
    ("road_marking", "标线施划不完整，请补划", true),
    ("line", "减速标线施划长度不足，请补划", true),
    ("sign", "标志牌被路侧树木遮挡，请调整设置位置", true),
    ("lamp", "夜间照片未能反映爆闪灯工作状态，请重新拍摄", false),
    ("", "整改后照片不清晰，请重新上传", false),
];
pub const EXTENSION_REASONS: &[&str] = &[
    "材料采购周期长，申请延期",
    "涉及管线迁改，需协调供电部门",
    "雨季施工条件不足，申请延期",
    "需结合道路大中修工程实施",
];
/// After a relapse the old deadline has long passed: the unit asks for a new one.
pub const RELAPSE_EXTENSION_REASON: &str = "回头看发现设施反弹，需重新采购安装，申请重新确定整改时限";
/// Why the dispatcher refuses an extension: in general, for an immediate fix, for a supervised site.
pub const EXTENSION_REFUSALS: &[&str] =
    &["理由不充分，请加派力量按原时限完成", "可先设置临时警示设施，请按原时限完成整改"];
pub const EXTENSION_REFUSAL_IMMEDIATE: &str = "属立行立改事项，不予延期";
pub const EXTENSION_REFUSAL_SUPERVISED: &str = "已列入挂牌督办，须按期完成，不予延期";
/// (item code, what the look-back found, the state it leaves the item in).
pub const RELAPSE_FINDINGS: &[(&str, &str, &str)] = &[
    ("warning_post", "警示桩被车辆撞倒2根", "damaged"),
    ("signal_light", "太阳能警示灯夜间不亮", "damaged"),
    ("signal_light", "警示灯被盗", "missing"),
    ("warning_sign", "警告标志被树木遮挡", "damaged"),
    ("speed_bump", "减速带破损脱落", "damaged"),
    ("speed_bump", "减速带被拆除", "missing"),
    ("road_marking", "标线磨损严重", "damaged"),
    ("lamp", "爆闪灯损坏", "damaged"),
    ("lamp", "太阳能爆闪灯被盗", "missing"),
    ("sign", "警告标志牌被撞歪", "damaged"),
    ("line", "减速标线磨损", "damaged"),
];
