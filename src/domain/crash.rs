//! Crash records, black-spot screening and detections (DOMAIN.md §7): the codes of migration 0013 as enums,
//! with the Chinese labels officials read. A black spot (事故多发点段) is crash-based; a hazard site (隐患点段)
//! condition-based. Screening and detections only propose **candidates**; a person confirms each one.

use super::site::coded_enum;

coded_enum! {
    /// How a crash happened (事故形态), as police crash databases group it.
    CrashType {
        RearEnd = "rear_end",
        Angle = "angle",
        HeadOn = "head_on",
        Sideswipe = "sideswipe",
        SingleVehicle = "single_vehicle",
        Pedestrian = "pedestrian",
        NonMotor = "non_motor",
        Other = "other",
    }
}

impl CrashType {
    pub fn label(self) -> &'static str {
        match self {
            CrashType::RearEnd => "追尾",
            CrashType::Angle => "侧面相撞",
            CrashType::HeadOn => "正面相撞",
            CrashType::Sideswipe => "刮擦",
            CrashType::SingleVehicle => "单车事故",
            CrashType::Pedestrian => "碰撞行人",
            CrashType::NonMotor => "碰撞非机动车",
            CrashType::Other => "其他",
        }
    }
}

coded_enum! {
    /// A vehicle involved (车辆类型), with the key vehicles of rural campaigns: e-bikes, tricycles, farm
    /// vehicles, and 两客一危一货一面 (coaches, buses, hazardous goods, heavy trucks, minivans).
    VehicleType {
        EBike = "e_bike",
        Bicycle = "bicycle",
        Motorcycle = "motorcycle",
        Tricycle = "tricycle",
        FarmVehicle = "farm_vehicle",
        Car = "car",
        Minivan = "minivan",
        Bus = "bus",
        Coach = "coach",
        Truck = "truck",
        Hazmat = "hazmat",
        Other = "other",
    }
}

impl VehicleType {
    pub fn label(self) -> &'static str {
        match self {
            VehicleType::EBike => "电动自行车",
            VehicleType::Bicycle => "自行车",
            VehicleType::Motorcycle => "摩托车",
            VehicleType::Tricycle => "三轮车",
            VehicleType::FarmVehicle => "农用车",
            VehicleType::Car => "小型汽车",
            VehicleType::Minivan => "面包车",
            VehicleType::Bus => "客车",
            VehicleType::Coach => "旅游包车",
            VehicleType::Truck => "货车",
            VehicleType::Hazmat => "危化品运输车",
            VehicleType::Other => "其他",
        }
    }
}

coded_enum! {
    /// Weather at the time of the crash (天气).
    Weather {
        Clear = "clear",
        Cloudy = "cloudy",
        Rain = "rain",
        Fog = "fog",
        Snow = "snow",
        Other = "other",
    }
}

impl Weather {
    pub fn label(self) -> &'static str {
        match self {
            Weather::Clear => "晴",
            Weather::Cloudy => "阴",
            Weather::Rain => "雨",
            Weather::Fog => "雾",
            Weather::Snow => "雪",
            Weather::Other => "其他",
        }
    }
}

coded_enum! {
    /// Light (照明条件).
    Light {
        Daylight = "daylight",
        DawnDusk = "dawn_dusk",
        DarkLit = "dark_lit",
        DarkUnlit = "dark_unlit",
    }
}

impl Light {
    pub fn label(self) -> &'static str {
        match self {
            Light::Daylight => "白天",
            Light::DawnDusk => "黎明/黄昏",
            Light::DarkLit => "夜间有路灯照明",
            Light::DarkUnlit => "夜间无路灯照明",
        }
    }
}

coded_enum! {
    /// Road surface (路面状况).
    RoadSurface {
        Dry = "dry",
        Wet = "wet",
        Icy = "icy",
        Other = "other",
    }
}

impl RoadSurface {
    pub fn label(self) -> &'static str {
        match self {
            RoadSurface::Dry => "干燥",
            RoadSurface::Wet => "潮湿",
            RoadSurface::Icy => "冰雪",
            RoadSurface::Other => "其他",
        }
    }
}

coded_enum! {
    /// Severity, derived from the casualty counts (the stored column `crash.severity`): fatal when anyone
    /// died, injury when anyone was hurt, else property damage only.
    Severity {
        Fatal = "fatal",
        Injury = "injury",
        PropertyDamageOnly = "property_damage_only",
    }
}

impl Severity {
    pub fn of(deaths: u32, serious_injuries: u32, slight_injuries: u32) -> Severity {
        if deaths > 0 {
            Severity::Fatal
        } else if serious_injuries + slight_injuries > 0 {
            Severity::Injury
        } else {
            Severity::PropertyDamageOnly
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Severity::Fatal => "死亡事故",
            Severity::Injury => "伤人事故",
            Severity::PropertyDamageOnly => "财产损失事故",
        }
    }
}

coded_enum! {
    /// How a screening run looks for black spots (DOMAIN.md §7): a window slid along each road (e.g. 500 m,
    /// 100 m steps), crashes within a radius of a junction of the road network or an intersection site, or
    /// density clusters (DBSCAN) on metric coordinates for places off the network.
    ScreeningMethod {
        SlidingWindow = "sliding_window",
        Junction = "junction",
        Dbscan = "dbscan",
    }
}

coded_enum! {
    /// Where a candidate came from; also the `source` of the site a confirmed candidate opens.
    CandidateSource {
        CrashAnalysis = "crash_analysis",
        SmartPatrol = "smart_patrol",
        Drone = "drone",
    }
}

coded_enum! {
    /// A candidate waits for a person: open, then confirmed into a site or dismissed with a reason. A later
    /// screening run of the same method that finds the same place again (a crash in common) supersedes an
    /// open one (migration 0015); decided ones are never touched.
    CandidateStatus {
        Open = "open",
        Confirmed = "confirmed",
        Dismissed = "dismissed",
        Superseded = "superseded",
    }
}

coded_enum! {
    /// The system that sent a detection.
    DetectionPlatform {
        SmartPatrol = "smart_patrol",
        Drone = "drone",
    }
}

impl From<DetectionPlatform> for CandidateSource {
    fn from(platform: DetectionPlatform) -> CandidateSource {
        match platform {
            DetectionPlatform::SmartPatrol => CandidateSource::SmartPatrol,
            DetectionPlatform::Drone => CandidateSource::Drone,
        }
    }
}

coded_enum! {
    /// The hour bands of a crash's county time (DOMAIN.md §7): 06–09 the morning commute and school run,
    /// 09–16 daytime, 16–19 the evening commute, 19–24 night, 00–06 small hours. The SQL function
    /// `crash_time_band` (migration 0013) is the same rule.
    TimeBand {
        SmallHours = "small_hours",
        MorningPeak = "morning_peak",
        Daytime = "daytime",
        EveningPeak = "evening_peak",
        Night = "night",
    }
}

impl TimeBand {
    /// The band of an hour of the day (0–23, county time).
    pub fn of_hour(hour: u32) -> TimeBand {
        match hour {
            0..6 => TimeBand::SmallHours,
            6..9 => TimeBand::MorningPeak,
            9..16 => TimeBand::Daytime,
            16..19 => TimeBand::EveningPeak,
            _ => TimeBand::Night,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TimeBand::SmallHours => "凌晨（0–6时）",
            TimeBand::MorningPeak => "早高峰（6–9时）",
            TimeBand::Daytime => "白天（9–16时）",
            TimeBand::EveningPeak => "晚高峰（16–19时）",
            TimeBand::Night => "夜间（19–24时）",
        }
    }
}

/// Label text as police exports write it: without spaces (full-width ones too) and the usual trailing
/// words, so 追尾碰撞 and 追尾 compare alike.
fn normalise_label(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace() && *c != '\u{3000}').collect::<String>().to_lowercase()
}

/// The first of `table`'s entries one of whose labels is `text` exactly (after normalising), else the
/// first whose label `text` contains. Codes and the enums' own labels are tried first by the callers.
fn lookup<T: Copy>(text: &str, table: &[(T, &[&str])]) -> Option<T> {
    let text = normalise_label(text);
    if text.is_empty() {
        return None;
    }
    table
        .iter()
        .find(|(_, labels)| labels.iter().any(|l| *l == text))
        .or_else(|| table.iter().find(|(_, labels)| labels.iter().any(|l| text.contains(l))))
        .map(|(value, _)| *value)
}

/// A coded value from its code, its own label, or the first table entry that names it (see [`lookup`]).
fn from_label_in<T: Copy + std::str::FromStr>(
    text: &str,
    all: &[T],
    label: fn(T) -> &'static str,
    table: &[(T, &[&str])],
) -> Option<T> {
    let trimmed = text.trim();
    trimmed.parse().ok().or_else(|| all.iter().copied().find(|c| label(*c) == trimmed)).or_else(|| lookup(text, table))
}

/// The police crash database's forms of a crash type (事故形态), and English words.
const CRASH_TYPE_LABELS: &[(CrashType, &[&str])] = &[
    (CrashType::RearEnd, &["追尾", "追尾碰撞", "同向碰撞", "rear-end", "rear_end", "rearend"]),
    (CrashType::HeadOn, &["正面相撞", "正面碰撞", "对向碰撞", "正碰", "head-on", "head_on", "headon"]),
    (CrashType::Angle, &["侧面相撞", "侧面碰撞", "直角碰撞", "侧碰", "angle", "side-impact"]),
    (CrashType::Sideswipe, &["刮擦", "同向刮擦", "对向刮擦", "sideswipe"]),
    (CrashType::Pedestrian, &["碰撞行人", "刮撞行人", "撞行人", "碾压行人", "行人", "pedestrian"]),
    (CrashType::NonMotor, &["碰撞非机动车", "撞非机动车", "非机动车", "non-motor", "non_motor", "cyclist"]),
    (
        CrashType::SingleVehicle,
        &[
            "单车",
            "单车事故",
            "撞固定物",
            "撞静止物",
            "翻车",
            "坠车",
            "侧翻",
            "失控",
            "single-vehicle",
            "single_vehicle",
        ],
    ),
    (CrashType::Other, &["其他", "其它", "other"]),
];

impl CrashType {
    /// A crash type as an export writes it: the code, the label, or a police form (追尾, 正面相撞, 刮擦, 单车,
    /// 碰撞行人 …). `None` for text that names none.
    pub fn from_label(text: &str) -> Option<CrashType> {
        from_label_in(text, CrashType::ALL, CrashType::label, CRASH_TYPE_LABELS)
    }
}

/// Vehicle words, most specific first: 电动自行车 before 自行车, 三轮摩托 before 摩托, 危化品 before 货车.
const VEHICLE_TYPE_LABELS: &[(VehicleType, &[&str])] = &[
    (VehicleType::EBike, &["电动自行车", "电动车", "电瓶车", "电动两轮车", "e-bike", "e_bike", "ebike"]),
    (VehicleType::Tricycle, &["三轮", "tricycle"]),
    (VehicleType::Bicycle, &["自行车", "单车", "bicycle", "bike"]),
    (VehicleType::Motorcycle, &["摩托", "motorcycle", "motorbike"]),
    (VehicleType::FarmVehicle, &["拖拉机", "农用", "农机", "低速货车", "低速汽车", "farm", "tractor"]),
    (VehicleType::Hazmat, &["危化品", "危险品", "危险货物", "hazmat"]),
    (VehicleType::Minivan, &["面包车", "微型客车", "minivan"]),
    (VehicleType::Coach, &["旅游", "包车", "coach"]),
    (VehicleType::Bus, &["公交", "客车", "大巴", "校车", "bus"]),
    (VehicleType::Truck, &["货车", "卡车", "挂车", "牵引车", "渣土车", "搅拌车", "truck", "lorry"]),
    (VehicleType::Car, &["轿车", "小型汽车", "小汽车", "越野车", "suv", "汽车", "car"]),
    (VehicleType::Other, &["其他", "其它", "other"]),
];

impl VehicleType {
    /// One vehicle as an export writes it (小型轿车, 电动自行车, 重型半挂牵引车 …), or its code or label.
    pub fn from_label(text: &str) -> Option<VehicleType> {
        from_label_in(text, VehicleType::ALL, VehicleType::label, VEHICLE_TYPE_LABELS)
    }

    /// A list of vehicles ("小型轿车,电动自行车", split on , ， 、 / ; ；), each once, in the order given.
    /// `Err` names the first word that is no vehicle.
    pub fn list_from_labels(text: &str) -> Result<Vec<VehicleType>, String> {
        let mut out = Vec::new();
        for word in text.split([',', '，', '、', '/', ';', '；']).map(str::trim).filter(|w| !w.is_empty()) {
            let vehicle = VehicleType::from_label(word).ok_or_else(|| word.chars().take(32).collect::<String>())?;
            if !out.contains(&vehicle) {
                out.push(vehicle);
            }
        }
        Ok(out)
    }
}

const WEATHER_LABELS: &[(Weather, &[&str])] = &[
    (Weather::Clear, &["晴", "晴天", "晴朗", "clear", "sunny", "fine"]),
    (Weather::Cloudy, &["阴", "阴天", "多云", "cloudy", "overcast"]),
    (Weather::Fog, &["雾", "霾", "fog", "haze"]),
    (Weather::Snow, &["雪", "冰雹", "snow", "hail"]),
    (Weather::Rain, &["雨", "rain"]),
    (Weather::Other, &["大风", "沙尘", "其他", "其它", "other", "wind"]),
];

impl Weather {
    /// 晴, 阴, 多云, 小雨, 大雨, 雾, 雨夹雪 (snow), … or the code.
    pub fn from_label(text: &str) -> Option<Weather> {
        from_label_in(text, Weather::ALL, Weather::label, WEATHER_LABELS)
    }
}

const LIGHT_LABELS: &[(Light, &[&str])] = &[
    (Light::DarkUnlit, &["夜间无路灯照明", "夜间无照明", "夜间无路灯", "无路灯", "无照明", "dark_unlit", "dark-unlit"]),
    (Light::DarkLit, &["夜间有路灯照明", "夜间有照明", "夜间有路灯", "有路灯", "dark_lit", "dark-lit"]),
    (Light::DawnDusk, &["黎明", "黄昏", "晨昏", "dawn", "dusk"]),
    (Light::Daylight, &["白天", "白昼", "昼间", "日间", "daylight", "day"]),
];

impl Light {
    /// 白天, 夜间有路灯照明, 夜间无路灯照明, 黎明, 黄昏 (and 黎明/黄昏), or the code.
    pub fn from_label(text: &str) -> Option<Light> {
        from_label_in(text, Light::ALL, Light::label, LIGHT_LABELS)
    }
}

const ROAD_SURFACE_LABELS: &[(RoadSurface, &[&str])] = &[
    (RoadSurface::Dry, &["干燥", "干", "dry"]),
    (RoadSurface::Icy, &["冰", "雪", "icy", "ice", "snow"]),
    (RoadSurface::Wet, &["潮湿", "湿", "积水", "wet"]),
    (RoadSurface::Other, &["泥泞", "其他", "其它", "other"]),
];

impl RoadSurface {
    /// 干燥, 潮湿, 积水, 冰雪, 结冰, 泥泞, … or the code.
    pub fn from_label(text: &str) -> Option<RoadSurface> {
        from_label_in(text, RoadSurface::ALL, RoadSurface::label, ROAD_SURFACE_LABELS)
    }
}

/// A confirmed candidate links to an open site of its kind within this distance instead of opening a new one.
pub const CONFIRM_LINK_RADIUS_M: f64 = 50.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_follows_the_counts() {
        assert_eq!(Severity::of(1, 0, 0), Severity::Fatal);
        assert_eq!(Severity::of(0, 0, 2), Severity::Injury);
        assert_eq!(Severity::of(0, 1, 0), Severity::Injury);
        assert_eq!(Severity::of(0, 0, 0), Severity::PropertyDamageOnly);
    }

    #[test]
    fn codes_are_those_of_migration_0013() {
        let codes = |all: Vec<&'static str>| all.join(",");
        assert_eq!(
            codes(CrashType::ALL.iter().map(|c| c.as_str()).collect()),
            "rear_end,angle,head_on,sideswipe,single_vehicle,pedestrian,non_motor,other"
        );
        assert_eq!(
            codes(VehicleType::ALL.iter().map(|c| c.as_str()).collect()),
            "e_bike,bicycle,motorcycle,tricycle,farm_vehicle,car,minivan,bus,coach,truck,hazmat,other"
        );
        assert_eq!(codes(Weather::ALL.iter().map(|c| c.as_str()).collect()), "clear,cloudy,rain,fog,snow,other");
        assert_eq!(codes(Light::ALL.iter().map(|c| c.as_str()).collect()), "daylight,dawn_dusk,dark_lit,dark_unlit");
        assert_eq!(codes(RoadSurface::ALL.iter().map(|c| c.as_str()).collect()), "dry,wet,icy,other");
        assert_eq!(CandidateSource::from(DetectionPlatform::Drone), CandidateSource::Drone);
    }

    #[test]
    fn time_bands_cover_the_day() {
        let bands: Vec<&str> = (0..24).map(|h| TimeBand::of_hour(h).as_str()).collect();
        assert_eq!(&bands[..6], ["small_hours"; 6]);
        assert_eq!(&bands[6..9], ["morning_peak"; 3]);
        assert_eq!(&bands[9..16], ["daytime"; 7]);
        assert_eq!(&bands[16..19], ["evening_peak"; 3]);
        assert_eq!(&bands[19..], ["night"; 5]);
    }

    #[test]
    fn police_export_labels_read_as_codes() {
        let types = [
            ("追尾", CrashType::RearEnd),
            ("正面相撞", CrashType::HeadOn),
            ("侧面相撞", CrashType::Angle),
            ("刮擦", CrashType::Sideswipe),
            ("单车", CrashType::SingleVehicle),
            ("单车事故", CrashType::SingleVehicle),
            ("碰撞行人", CrashType::Pedestrian),
            ("碰撞非机动车", CrashType::NonMotor),
            (" 追尾碰撞 ", CrashType::RearEnd),
            ("head_on", CrashType::HeadOn),
            ("Rear-end", CrashType::RearEnd),
            ("其它", CrashType::Other),
        ];
        for (text, expected) in types {
            assert_eq!(CrashType::from_label(text), Some(expected), "{text}");
        }
        assert_eq!(CrashType::from_label("飞碟"), None);
        assert_eq!(CrashType::from_label(""), None);
        for c in CrashType::ALL {
            assert_eq!(CrashType::from_label(c.label()), Some(*c));
            assert_eq!(CrashType::from_label(c.as_str()), Some(*c));
        }

        let weather = [
            ("晴", Weather::Clear),
            ("阴", Weather::Cloudy),
            ("多云", Weather::Cloudy),
            ("小雨", Weather::Rain),
            ("雨", Weather::Rain),
            ("雾", Weather::Fog),
            ("雪", Weather::Snow),
            ("雨夹雪", Weather::Snow),
        ];
        for (text, expected) in weather {
            assert_eq!(Weather::from_label(text), Some(expected), "{text}");
        }
        let light = [
            ("白天", Light::Daylight),
            ("夜间有路灯照明", Light::DarkLit),
            ("夜间无路灯照明", Light::DarkUnlit),
            ("黎明", Light::DawnDusk),
            ("黄昏", Light::DawnDusk),
            ("黎明/黄昏", Light::DawnDusk),
        ];
        for (text, expected) in light {
            assert_eq!(Light::from_label(text), Some(expected), "{text}");
        }
        assert_eq!(Light::from_label("月光"), None);
        let surface = [
            ("干燥", RoadSurface::Dry),
            ("潮湿", RoadSurface::Wet),
            ("积水", RoadSurface::Wet),
            ("冰雪", RoadSurface::Icy),
            ("结冰", RoadSurface::Icy),
            ("泥泞", RoadSurface::Other),
        ];
        for (text, expected) in surface {
            assert_eq!(RoadSurface::from_label(text), Some(expected), "{text}");
        }
        for w in Weather::ALL {
            assert_eq!(Weather::from_label(w.label()), Some(*w));
        }
        for l in Light::ALL {
            assert_eq!(Light::from_label(l.label()), Some(*l));
        }
        for r in RoadSurface::ALL {
            assert_eq!(RoadSurface::from_label(r.label()), Some(*r));
        }
    }

    #[test]
    fn vehicle_lists_split_on_every_separator_and_name_the_unknown_word() {
        use VehicleType::*;
        assert_eq!(VehicleType::list_from_labels("小型轿车,电动自行车"), Ok(vec![Car, EBike]));
        assert_eq!(
            VehicleType::list_from_labels("重型半挂牵引车，电动三轮车、自行车/两轮摩托车;拖拉机；大型普通客车"),
            Ok(vec![Truck, Tricycle, Bicycle, Motorcycle, FarmVehicle, Bus])
        );
        assert_eq!(VehicleType::list_from_labels("面包车, 面包车 ,危化品运输车"), Ok(vec![Minivan, Hazmat]));
        assert_eq!(VehicleType::list_from_labels("旅游客车"), Ok(vec![Coach]));
        assert_eq!(VehicleType::list_from_labels(""), Ok(vec![]));
        assert_eq!(VehicleType::list_from_labels("轿车,飞艇"), Err("飞艇".to_string()));
        for v in VehicleType::ALL {
            assert_eq!(VehicleType::from_label(v.label()), Some(*v), "{v}");
            assert_eq!(VehicleType::from_label(v.as_str()), Some(*v), "{v}");
        }
    }
}
