//! Which column is which field of a crash: an explicit mapping (field → header, as JSON), or the headers police
//! exports use, in Chinese or English. Columns that hold personal data are recognised by their header alone and
//! never read.

use std::collections::BTreeMap;

/// The fields a crash row may give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CrashField {
    RecordNo,
    Time,
    Lon,
    Lat,
    RouteCode,
    Stake,
    Deaths,
    SeriousInjuries,
    SlightInjuries,
    Injuries,
    CrashType,
    VehicleTypes,
    Weather,
    Light,
    RoadSurface,
    Location,
}

impl CrashField {
    pub const ALL: [CrashField; 16] = [
        CrashField::RecordNo,
        CrashField::Time,
        CrashField::Lon,
        CrashField::Lat,
        CrashField::RouteCode,
        CrashField::Stake,
        CrashField::Deaths,
        CrashField::SeriousInjuries,
        CrashField::SlightInjuries,
        CrashField::Injuries,
        CrashField::CrashType,
        CrashField::VehicleTypes,
        CrashField::Weather,
        CrashField::Light,
        CrashField::RoadSurface,
        CrashField::Location,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CrashField::RecordNo => "record_no",
            CrashField::Time => "time",
            CrashField::Lon => "lon",
            CrashField::Lat => "lat",
            CrashField::RouteCode => "route_code",
            CrashField::Stake => "stake",
            CrashField::Deaths => "deaths",
            CrashField::SeriousInjuries => "serious_injuries",
            CrashField::SlightInjuries => "slight_injuries",
            CrashField::Injuries => "injuries",
            CrashField::CrashType => "crash_type",
            CrashField::VehicleTypes => "vehicle_types",
            CrashField::Weather => "weather",
            CrashField::Light => "light",
            CrashField::RoadSurface => "road_surface",
            CrashField::Location => "location",
        }
    }

    /// The headers understood without a mapping, compared without case and spaces; the issue's names
    /// first, then the variants police exports and spreadsheets use. README lists them.
    pub fn default_headers(self) -> &'static [&'static str] {
        match self {
            CrashField::RecordNo => &["事故编号", "record_no", "事故编码", "案件编号", "accident_no", "case_no"],
            CrashField::Time => &["事故时间", "time", "发生时间", "事故发生时间", "occurred_at", "datetime"],
            CrashField::Lon => &["经度", "lon", "lng", "longitude", "x"],
            CrashField::Lat => &["纬度", "lat", "latitude", "y"],
            CrashField::RouteCode => &["路线编码", "route_code", "路线编号", "道路编码", "lxbm"],
            CrashField::Stake => &["桩号", "stake", "公里桩号", "里程桩号"],
            CrashField::Deaths => &["死亡人数", "deaths", "死亡"],
            CrashField::SeriousInjuries => &["重伤人数", "serious_injuries", "重伤"],
            CrashField::SlightInjuries => &["轻伤人数", "slight_injuries", "轻伤"],
            CrashField::Injuries => &["受伤人数", "injuries", "受伤"],
            CrashField::CrashType => &["事故形态", "crash_type", "事故类型"],
            CrashField::VehicleTypes => &["车辆类型", "vehicle_types", "涉事车辆", "车型"],
            CrashField::Weather => &["天气", "weather"],
            CrashField::Light => &["照明", "light", "照明条件"],
            CrashField::RoadSurface => &["路面状况", "road_surface", "路面"],
            CrashField::Location => &["事故地点", "location", "地点"],
        }
    }
}

impl std::str::FromStr for CrashField {
    type Err = String;

    fn from_str(s: &str) -> Result<CrashField, String> {
        CrashField::ALL.iter().copied().find(|f| f.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = CrashField::ALL.iter().map(|f| f.as_str()).collect();
            format!("the mapping names no field {:?}; the fields are {}", clip(s), names.join(", "))
        })
    }
}

/// Header words that name a person or a vehicle's identity: a column whose header holds one is never read.
const PERSONAL_WORDS_ZH: &[&str] = &[
    "姓名",
    "名字",
    "当事人",
    "驾驶人",
    "驾驶员",
    "驾驶证",
    "身份证",
    "证件",
    "号牌",
    "车牌",
    "电话",
    "手机",
    "联系方式",
    "住址",
    "户籍",
    "乘车人",
    "伤者",
    "死者",
];
/// The same in English, as whole words of the header (split on anything not a letter or digit).
const PERSONAL_WORDS_EN: &[&str] = &[
    "name",
    "names",
    "driver",
    "drivers",
    "party",
    "parties",
    "plate",
    "plates",
    "phone",
    "mobile",
    "tel",
    "telephone",
    "contact",
    "address",
    "passport",
    "licence",
    "license",
    "idcard",
    "identity",
    "victim",
    "victims",
];

/// Whether a header names personal data (names, ID numbers, plates, phones, addresses). An English header
/// `id` alone is a record's id, not a person's; `id_card`, `id_no` and `id_number` are a person's.
pub fn is_personal(header: &str) -> bool {
    let lower = header.to_lowercase();
    if PERSONAL_WORDS_ZH.iter().any(|w| lower.contains(w)) {
        return true;
    }
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    if words.iter().any(|w| PERSONAL_WORDS_EN.contains(w)) {
        return true;
    }
    words.windows(2).any(|pair| pair[0] == "id" && ["card", "no", "number", "num"].contains(&pair[1]))
}

/// Headers compare without case and without spaces (Excel headers often carry stray ones).
pub(crate) fn same_header(a: &str, b: &str) -> bool {
    let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_lowercase();
    squash(a) == squash(b)
}

/// Field → column header, as given (`--mapping FILE.json`, the upload's `mapping` part).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CrashMapping(pub BTreeMap<CrashField, String>);

/// Longest header a mapping may name.
pub const HEADER_CHARS_MAX: usize = 128;

impl CrashMapping {
    /// A JSON object of field → header. Refused: unknown fields, headers that are not text or are too long,
    /// and any field mapped to a column of personal data.
    pub fn from_json(text: &str) -> Result<CrashMapping, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("the mapping is not JSON: {e}"))?;
        let object = value.as_object().ok_or("the mapping is a JSON object of field → column header")?;
        let mut mapping = BTreeMap::new();
        for (field, header) in object {
            let field: CrashField = field.parse()?;
            let header = header
                .as_str()
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .ok_or_else(|| format!("the mapping of {} is not a column header (text)", field.as_str()))?;
            if header.chars().count() > HEADER_CHARS_MAX {
                return Err(format!("the mapping of {} is longer than {HEADER_CHARS_MAX} characters", field.as_str()));
            }
            mapping.insert(field, header.to_owned());
        }
        let mapping = CrashMapping(mapping);
        mapping.check_personal()?;
        Ok(mapping)
    }

    /// A mapping may not make a column of personal data into a field: refused before the file is read.
    pub fn check_personal(&self) -> Result<(), String> {
        match self.0.iter().find(|(_, header)| is_personal(header)) {
            Some((field, header)) => Err(format!(
                "the mapping maps {} to the column {:?}, which holds personal data (names, ID numbers, plates, \
                 phones, addresses): such columns are never imported",
                field.as_str(),
                clip(header)
            )),
            None => Ok(()),
        }
    }

    /// The column index of every field the file has, by the mapping or else by the default headers. A mapped
    /// header the file lacks is an error listing the file's headers.
    pub fn resolve(&self, headers: &[String]) -> Result<Columns, String> {
        let mut columns = Columns::default();
        for field in CrashField::ALL {
            let index = match self.0.get(&field) {
                Some(wanted) => Some(headers.iter().position(|h| same_header(h, wanted)).ok_or_else(|| {
                    format!(
                        "the file has no column {:?} for {}; its columns are: {}",
                        clip(wanted),
                        field.as_str(),
                        header_list(headers)
                    )
                })?),
                None => {
                    field.default_headers().iter().find_map(|name| headers.iter().position(|h| same_header(h, name)))
                }
            };
            if let Some(index) = index {
                columns.0.insert(field, index);
            }
        }
        Ok(columns)
    }
}

/// Field → column index in the rows as read (personal columns already gone).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Columns(pub BTreeMap<CrashField, usize>);

impl Columns {
    pub fn get(&self, field: CrashField) -> Option<usize> {
        self.0.get(&field).copied()
    }

    pub fn has(&self, field: CrashField) -> bool {
        self.0.contains_key(&field)
    }
}

pub(crate) fn clip(text: &str) -> String {
    let mut out: String = text.chars().take(48).collect();
    if text.chars().count() > 48 {
        out.push('…');
    }
    out
}

fn header_list(headers: &[String]) -> String {
    let shown: Vec<&str> = headers.iter().take(40).map(String::as_str).collect();
    if shown.is_empty() { "(none)".into() } else { shown.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_headers_are_recognised_in_chinese_and_english() {
        for header in [
            "当事人姓名",
            "驾驶人",
            "身份证号",
            "证件号码",
            "号牌号码",
            "车牌",
            "联系电话",
            "手机",
            "联系方式",
            "住址",
            "Driver Name",
            "driver",
            "plate_no",
            "Phone",
            "id_card",
            "ID Number",
            "home address",
            "licence_no",
        ] {
            assert!(is_personal(header), "{header}");
        }
        for header in
            ["事故编号", "事故时间", "车辆类型", "死亡人数", "id", "record_no", "route_code", "天气", "事故地点"]
        {
            assert!(!is_personal(header), "{header}");
        }
    }

    #[test]
    fn default_headers_resolve_in_chinese_and_english_and_a_mapping_wins() {
        let zh: Vec<String> =
            ["事故编号", "发生时间", "经度", "纬度", " 死亡人数 ", "受伤人数"].map(String::from).into();
        let columns = CrashMapping::default().resolve(&zh).unwrap();
        assert_eq!(columns.get(CrashField::RecordNo), Some(0));
        assert_eq!(columns.get(CrashField::Time), Some(1));
        assert_eq!(columns.get(CrashField::Deaths), Some(4));
        assert_eq!(columns.get(CrashField::Injuries), Some(5));
        assert_eq!(columns.get(CrashField::Stake), None);
        let en: Vec<String> = ["Record_No", "TIME", "lon", "lat"].map(String::from).into();
        assert_eq!(CrashMapping::default().resolve(&en).unwrap().get(CrashField::Time), Some(1));

        let mapping = CrashMapping::from_json(r#"{"time": "案发时刻", "lon": "东经"}"#).unwrap();
        let headers: Vec<String> = ["东经", "案发时刻", "事故时间"].map(String::from).into();
        let columns = mapping.resolve(&headers).unwrap();
        assert_eq!(columns.get(CrashField::Time), Some(1));
        assert_eq!(columns.get(CrashField::Lon), Some(0));
        let err = CrashMapping::from_json(r#"{"time": "时刻"}"#).unwrap().resolve(&headers).unwrap_err();
        assert!(err.contains("东经, 案发时刻, 事故时间"), "{err}");
    }

    #[test]
    fn a_mapping_to_a_personal_column_or_an_unknown_field_is_refused() {
        let err = CrashMapping::from_json(r#"{"record_no": "驾驶人身份证号"}"#).unwrap_err();
        assert!(err.contains("personal data"), "{err}");
        let err = CrashMapping::from_json(r#"{"plate": "号牌"}"#).unwrap_err();
        assert!(err.contains("no field \"plate\""), "{err}");
        assert!(CrashMapping::from_json(r#"["time"]"#).is_err());
        assert!(CrashMapping::from_json(r#"{"time": 3}"#).is_err());
    }
}
