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
}
