//! Which attribute of a file is which field: the mapping an importer gives (`--admin-code-field QDZH`, or the
//! page's form), or else the names county files and OpenStreetMap use.

use serde_json::{Map, Value};

use crate::domain::places::{self, StakeUnit};

/// The attribute names a user maps to fields. `None`: look for the usual names ([`DEFAULT_NAMES`]).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMapping {
    pub admin_code: Option<String>,
    pub name: Option<String>,
    pub route_code: Option<String>,
    pub start_stake: Option<String>,
    pub end_stake: Option<String>,
    pub source_id: Option<String>,
}

/// Fields an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    AdminCode,
    Name,
    RouteCode,
    StartStake,
    EndStake,
    SourceId,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::AdminCode => "admin_code",
            Field::Name => "name",
            Field::RouteCode => "route_code",
            Field::StartStake => "start_stake",
            Field::EndStake => "end_stake",
            Field::SourceId => "source_id",
        }
    }
}

/// The attribute names understood without a mapping, in order of preference (compared without case). The
/// documented names come first; then the field names of Chinese road databases (路线编码 LXBM, 路线名称
/// LXMC, 起点桩号 QDZH, 止点桩号 ZDZH, 行政区划代码 XZQHDM), administrative division layers (XZQDM, XZQMC) and
/// OpenStreetMap (`ref`, `name`, `osm_id`).
pub const DEFAULT_NAMES: &[(Field, &[&str])] = &[
    (Field::AdminCode, &["admin_code", "xzqhdm", "xzqdm", "xzdm", "xzqh", "adcode", "code"]),
    (Field::Name, &["name", "name:zh", "lxmc", "xzqmc", "xzmc", "mc"]),
    (Field::RouteCode, &["route_code", "lxbm", "lxdm", "ref"]),
    (Field::StartStake, &["start_stake", "qdzh"]),
    (Field::EndStake, &["end_stake", "zdzh"]),
    (Field::SourceId, &["source_id", "osm_id", "id", "fid", "objectid"]),
];

impl FieldMapping {
    fn given(&self, field: Field) -> Option<&str> {
        match field {
            Field::AdminCode => self.admin_code.as_deref(),
            Field::Name => self.name.as_deref(),
            Field::RouteCode => self.route_code.as_deref(),
            Field::StartStake => self.start_stake.as_deref(),
            Field::EndStake => self.end_stake.as_deref(),
            Field::SourceId => self.source_id.as_deref(),
        }
        .map(str::trim)
        .filter(|s| !s.is_empty())
    }

    /// Resolves the mapping against the attribute names of a file (its first feature's). A mapped name the
    /// file does not have is an error naming the file's attributes, so a typo is seen before anything is read.
    pub fn resolve(&self, fields: &[Field], attribute_names: &[&str]) -> Result<Resolved, String> {
        let find = |wanted: &str| {
            attribute_names
                .iter()
                .find(|a| **a == wanted)
                .or_else(|| attribute_names.iter().find(|a| a.eq_ignore_ascii_case(wanted)))
                .map(|a| a.to_string())
        };
        let mut resolved = Resolved::default();
        for &field in fields {
            let key = match self.given(field) {
                Some(name) => Some(find(name).ok_or_else(|| {
                    format!(
                        "the file has no attribute {name:?} for {}; its attributes are: {}",
                        field.as_str(),
                        attribute_list(attribute_names)
                    )
                })?),
                None => DEFAULT_NAMES
                    .iter()
                    .find(|(f, _)| *f == field)
                    .and_then(|(_, names)| names.iter().find_map(|n| find(n))),
            };
            resolved.keys.push((field, key));
        }
        Ok(resolved)
    }
}

fn attribute_list(names: &[&str]) -> String {
    if names.is_empty() {
        return "(none)".into();
    }
    let shown: Vec<&str> = names.iter().take(40).copied().collect();
    let more = names.len().saturating_sub(shown.len());
    if more > 0 { format!("{} and {more} more", shown.join(", ")) } else { shown.join(", ") }
}

/// Field → the attribute that holds it in this file, if any.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resolved {
    keys: Vec<(Field, Option<String>)>,
}

impl Resolved {
    /// The attribute name that holds `field`, for reports.
    pub fn attribute(&self, field: Field) -> Option<&str> {
        self.keys.iter().find(|(f, _)| *f == field).and_then(|(_, k)| k.as_deref())
    }

    /// The value of `field` in a feature's attributes (`None` when unmapped or missing).
    pub fn value<'a>(&self, field: Field, attributes: &'a Map<String, Value>) -> Option<&'a Value> {
        self.attribute(field).and_then(|k| attributes.get(k)).filter(|v| !v.is_null())
    }

    /// The value as trimmed text: strings as they are, numbers written out (admin codes are often numeric
    /// in .dbf files: 320582100 reads as a number).
    pub fn text(&self, field: Field, attributes: &Map<String, Value>) -> Option<String> {
        let text = match self.value(field, attributes)? {
            Value::String(s) => s.trim().to_owned(),
            Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => i.to_string(),
                (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
                _ => n.to_string(),
            },
            Value::Bool(b) => b.to_string(),
            other => other.to_string(),
        };
        (!text.is_empty()).then_some(text)
    }

    pub fn stake(&self, field: Field, attributes: &Map<String, Value>, unit: StakeUnit) -> Result<Option<f64>, String> {
        match self.value(field, attributes) {
            None => Ok(None),
            Some(v) => places::stake_value(v, unit).map_err(|e| format!("{}: {e}", field.as_str())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn road_database_names_are_understood_without_a_mapping() {
        let resolved = FieldMapping::default()
            .resolve(
                &[Field::RouteCode, Field::Name, Field::StartStake, Field::EndStake, Field::AdminCode],
                &["OBJECTID", "LXBM", "LXMC", "QDZH", "ZDZH"],
            )
            .unwrap();
        assert_eq!(resolved.attribute(Field::RouteCode), Some("LXBM"));
        assert_eq!(resolved.attribute(Field::Name), Some("LXMC"));
        assert_eq!(resolved.attribute(Field::StartStake), Some("QDZH"));
        assert_eq!(resolved.attribute(Field::EndStake), Some("ZDZH"));
        assert_eq!(resolved.attribute(Field::AdminCode), None);
    }

    #[test]
    fn documented_names_win_over_the_others() {
        let resolved = FieldMapping::default().resolve(&[Field::Name], &["LXMC", "name", "ref"]).unwrap();
        assert_eq!(resolved.attribute(Field::Name), Some("name"));
    }

    #[test]
    fn a_mapped_name_the_file_lacks_is_an_error_listing_its_attributes() {
        let mapping = FieldMapping { start_stake: Some("QDZH".into()), ..Default::default() };
        let err = mapping.resolve(&[Field::StartStake], &["LXBM", "KSZH"]).unwrap_err();
        assert!(err.contains("\"QDZH\""), "{err}");
        assert!(err.contains("LXBM, KSZH"), "{err}");
        let mapping = FieldMapping { start_stake: Some("kszh".into()), ..Default::default() };
        let resolved = mapping.resolve(&[Field::StartStake], &["LXBM", "KSZH"]).unwrap();
        assert_eq!(resolved.attribute(Field::StartStake), Some("KSZH"));
    }

    #[test]
    fn numeric_codes_read_as_text() {
        let resolved = FieldMapping::default().resolve(&[Field::AdminCode], &["XZQDM"]).unwrap();
        let attrs = json!({"XZQDM": 320582100}).as_object().unwrap().clone();
        assert_eq!(resolved.text(Field::AdminCode, &attrs).as_deref(), Some("320582100"));
        let attrs = json!({"XZQDM": 320582100.0}).as_object().unwrap().clone();
        assert_eq!(resolved.text(Field::AdminCode, &attrs).as_deref(), Some("320582100"));
        let attrs = json!({"XZQDM": "  "}).as_object().unwrap().clone();
        assert_eq!(resolved.text(Field::AdminCode, &attrs), None);
    }
}
