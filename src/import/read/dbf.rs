//! A small dBASE III (.dbf) reader for shapefile attributes: 32-byte header, 32-byte field descriptors ended
//! by 0x0D, fixed-width records. Written here rather than using the `dbase` crate because we need (1) every
//! header claim checked against the real file size before reading, and (2) strict text decoding in the
//! encoding chosen by `--encoding` / `.cpg` / the language driver byte, with an error naming the record and
//! field instead of a silent U+FFFD (a wrong encoding must stop the import, not garble town names).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use encoding_rs::Encoding;
use serde_json::{Map, Value};

use super::{ReadError, ReadLimits, file_name, group};

#[derive(Debug)]
struct Field {
    name: String,
    kind: u8,
    len: usize,
    decimals: u8,
}

/// One .dbf record: whether it is marked deleted, and its attributes.
pub(super) type Record = (bool, Map<String, Value>);

pub(super) struct Dbf {
    file: String,
    reader: BufReader<File>,
    fields: Vec<Field>,
    /// Records the header announces (checked against the file size).
    pub records: u64,
    encoding: &'static Encoding,
    /// "GBK (from roads.cpg)" etc.
    pub encoding_note: String,
    read: u64,
    buf: Vec<u8>,
}

/// Maps a `.cpg` text (what ArcGIS and GDAL write: a code page number or an encoding name) to an encoding.
pub(super) fn encoding_from_cpg(text: &str) -> Option<&'static Encoding> {
    let t = text.trim().trim_start_matches('\u{feff}').to_ascii_uppercase();
    let t = t.trim_start_matches("ANSI ").trim_start_matches("CP").trim_start_matches("WINDOWS-");
    match t {
        "936" | "GBK" | "GB2312" | "EUC-CN" | "MS936" => Some(encoding_rs::GBK),
        "GB18030" | "54936" => Some(encoding_rs::GB18030),
        "UTF-8" | "UTF8" | "65001" => Some(encoding_rs::UTF_8),
        "950" | "BIG5" => Some(encoding_rs::BIG5),
        "1252" => Some(encoding_rs::WINDOWS_1252),
        "932" => Some(encoding_rs::SHIFT_JIS),
        "949" => Some(encoding_rs::EUC_KR),
        _ => Encoding::for_label(t.as_bytes()).or_else(|| Encoding::for_label(text.trim().as_bytes())),
    }
}

/// The .dbf language driver id (byte 29) when it names a definite code page. 0x57 ("ANSI", the current
/// Windows code page) and 0x00 say nothing, so they fall through to UTF-8.
fn encoding_from_ldid(ldid: u8) -> Option<&'static Encoding> {
    match ldid {
        0x4D | 0x7A => Some(encoding_rs::GBK),       // 936 PRC GBK
        0x4F | 0x78 => Some(encoding_rs::BIG5),      // 950 Big5
        0x4E | 0x79 => Some(encoding_rs::EUC_KR),    // 949
        0x13 | 0x7B => Some(encoding_rs::SHIFT_JIS), // 932
        0x03 => Some(encoding_rs::WINDOWS_1252),
        _ => None,
    }
}

fn u16le(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

fn u32le(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

impl Dbf {
    /// Opens a .dbf and checks its header against the file. `cpg` is the sibling .cpg if there is one.
    pub(super) fn open(
        path: &Path,
        cpg: Option<&Path>,
        encoding_override: Option<&'static Encoding>,
        limits: &ReadLimits,
    ) -> Result<Dbf, ReadError> {
        let file = file_name(path);
        let f = File::open(path).map_err(|e| ReadError::io(path, "cannot open", e))?;
        let file_len = f.metadata().map_err(|e| ReadError::io(path, "cannot read", e))?.len();
        let mut reader = BufReader::new(f);
        let truncated = |detail: String| ReadError::Truncated { file: file.clone(), detail };
        if file_len < 32 {
            return Err(truncated(format!(
                "{file_len} bytes, shorter than the 32-byte .dbf header; the file is cut short or not a .dbf — copy it again"
            )));
        }
        let mut header = [0u8; 32];
        reader.read_exact(&mut header).map_err(|e| ReadError::io(path, "cannot read the header", e))?;
        let records = u64::from(u32le(&header[4..8]));
        let header_len = u64::from(u16le(&header[8..10]));
        let record_len = usize::from(u16le(&header[10..12]));
        let ldid = header[29];

        let (encoding, encoding_note) = if let Some(e) = encoding_override {
            (e, format!("{} (from --encoding)", e.name()))
        } else if let Some(cpg) = cpg {
            let cpg_name = file_name(cpg);
            let mut text = String::new();
            File::open(cpg)
                .and_then(|f| f.take(256).read_to_string(&mut text))
                .map_err(|e| ReadError::io(cpg, "cannot read", e))?;
            let e = encoding_from_cpg(&text).ok_or_else(|| ReadError::BadEncoding {
                file: cpg_name.clone(),
                detail: format!(
                    "names the encoding \"{}\", which we do not know; pass --encoding (e.g. gbk or utf-8) or fix the .cpg",
                    text.trim()
                ),
            })?;
            (e, format!("{} (from {cpg_name})", e.name()))
        } else if let Some(e) = encoding_from_ldid(ldid) {
            (e, format!("{} (from the .dbf language driver byte 0x{ldid:02X})", e.name()))
        } else {
            (encoding_rs::UTF_8, "UTF-8 (default: no .cpg and no language driver byte)".to_string())
        };

        if header_len < 33 || header_len > file_len {
            return Err(truncated(format!(
                "the header claims to be {} bytes long, the file has {} bytes; the file is cut short or damaged",
                group(header_len),
                group(file_len)
            )));
        }
        let mut descriptors = vec![0u8; header_len as usize - 32];
        reader.read_exact(&mut descriptors).map_err(|e| ReadError::io(path, "cannot read the field descriptors", e))?;
        let mut fields = Vec::new();
        for d in descriptors.chunks_exact(32) {
            if d[0] == 0x0D {
                break;
            }
            let raw_name = &d[..11];
            let raw_name = &raw_name[..raw_name.iter().position(|&b| b == 0).unwrap_or(11)];
            let name = decode(encoding, raw_name).ok_or_else(|| ReadError::BadEncoding {
                file: file.clone(),
                detail: format!(
                    "field {}'s name is not valid {}; {}",
                    fields.len() + 1,
                    encoding.name(),
                    hint(encoding)
                ),
            })?;
            fields.push(Field { name: name.trim().to_string(), kind: d[11], len: usize::from(d[16]), decimals: d[17] });
        }
        let fields_len: usize = 1 + fields.iter().map(|f| f.len).sum::<usize>();
        if fields_len > record_len {
            return Err(ReadError::Corrupt {
                file,
                detail: format!(
                    "the fields add up to {fields_len} bytes per record but the header says {record_len}; the file is damaged — export it again"
                ),
            });
        }
        if record_len > limits.attribute_bytes_max {
            return Err(ReadError::Limit {
                file,
                detail: format!(
                    "records of {} bytes, more than the limit of {} bytes of attributes per feature; drop unneeded fields",
                    group(record_len as u64),
                    group(limits.attribute_bytes_max as u64)
                ),
            });
        }
        let available = (file_len - header_len) / record_len.max(1) as u64;
        if records > available {
            return Err(truncated(format!(
                "the header claims {} records of {record_len} bytes, the file has room for {} ({} bytes); it is cut short — copy it again",
                group(records),
                group(available),
                group(file_len)
            )));
        }
        if records > limits.features_max {
            return Err(ReadError::Limit {
                file,
                detail: format!("{} records, more than the limit of {}", group(records), group(limits.features_max)),
            });
        }
        // Records start right after header_len bytes: the descriptors were read up to there, including any
        // gap some writers leave after the 0x0D terminator.
        Ok(Dbf { file, reader, fields, records, encoding, encoding_note, read: 0, buf: vec![0; record_len] })
    }

    /// The next record: `(deleted, attributes)`, None after the last one the header announces.
    pub(super) fn next_record(&mut self) -> Option<Result<Record, ReadError>> {
        if self.read >= self.records {
            return None;
        }
        self.read += 1;
        let number = self.read;
        if let Err(e) = self.reader.read_exact(&mut self.buf) {
            return Some(Err(ReadError::Truncated {
                file: self.file.clone(),
                detail: format!("record {number}: the file ends inside the record ({e}); copy it again"),
            }));
        }
        let deleted = self.buf[0] == b'*';
        let mut attributes = Map::with_capacity(self.fields.len());
        let mut at = 1;
        for field in &self.fields {
            let raw = &self.buf[at..at + field.len];
            at += field.len;
            match self.value(number, field, raw) {
                Ok(v) => {
                    attributes.insert(field.name.clone(), v);
                }
                Err(e) => return Some(Err(e)),
            }
        }
        Some(Ok((deleted, attributes)))
    }

    fn value(&self, number: u64, field: &Field, raw: &[u8]) -> Result<Value, ReadError> {
        let trim = |b: &[u8]| -> Vec<u8> {
            let s = b.iter().position(|&c| c != b' ' && c != 0).unwrap_or(b.len());
            let e = b.iter().rposition(|&c| c != b' ' && c != 0).map_or(s, |p| p + 1);
            b[s..e].to_vec()
        };
        let bad_value = |text: &str, what: &str| ReadError::BadValue {
            file: self.file.clone(),
            detail: format!(
                "record {number}, field {}: \"{text}\" is not {what}; fix the value or export the file again",
                field.name
            ),
        };
        match field.kind {
            b'N' | b'F' => {
                let t = trim(raw);
                if t.is_empty() || t.iter().all(|&c| c == b'*' || c == b'?' || c == b'-') {
                    return Ok(Value::Null);
                }
                let text = String::from_utf8_lossy(&t);
                if field.decimals == 0
                    && let Ok(i) = text.parse::<i64>()
                {
                    return Ok(Value::from(i));
                }
                text.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .ok_or_else(|| bad_value(&text, "a number"))
            }
            b'L' => Ok(match trim(raw).first() {
                Some(b'T' | b't' | b'Y' | b'y') => Value::Bool(true),
                Some(b'F' | b'f' | b'N' | b'n') => Value::Bool(false),
                _ => Value::Null,
            }),
            b'D' => {
                let t = trim(raw);
                if t.is_empty() || t.iter().all(|&c| c == b'0') {
                    return Ok(Value::Null);
                }
                let text = String::from_utf8_lossy(&t).into_owned();
                if t.len() == 8 && t.iter().all(u8::is_ascii_digit) {
                    Ok(Value::String(format!("{}-{}-{}", &text[..4], &text[4..6], &text[6..])))
                } else {
                    Err(bad_value(&text, "a date (YYYYMMDD)"))
                }
            }
            // Visual FoxPro binary integer and double.
            b'I' if raw.len() == 4 => Ok(Value::from(i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]))),
            b'O' if raw.len() == 8 => {
                let v = f64::from_le_bytes(raw.try_into().unwrap_or([0; 8]));
                Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
            }
            // Memo fields point into a .dbt we do not read.
            b'M' => Ok(Value::Null),
            // C and anything else: text in the file's encoding.
            _ => {
                let t = trim(raw);
                if t.is_empty() {
                    return Ok(Value::Null);
                }
                match decode(self.encoding, &t) {
                    Some(s) => Ok(Value::String(s)),
                    None => Err(ReadError::BadEncoding {
                        file: self.file.clone(),
                        detail: format!(
                            "record {number}, field {}: not valid {} ({}); {}",
                            field.name,
                            self.encoding.name(),
                            self.encoding_note,
                            hint(self.encoding)
                        ),
                    }),
                }
            }
        }
    }
}

/// Strict decoding: None when the bytes are not valid in the encoding (never U+FFFD).
fn decode(encoding: &'static Encoding, bytes: &[u8]) -> Option<String> {
    encoding.decode_without_bom_handling_and_without_replacement(bytes).map(|s| s.into_owned())
}

fn hint(encoding: &'static Encoding) -> &'static str {
    if encoding == encoding_rs::UTF_8 {
        "pass --encoding gbk (Chinese office files are usually GBK)"
    } else if encoding == encoding_rs::GBK {
        "pass --encoding with the encoding the file was written in (e.g. utf-8 or gb18030)"
    } else {
        "pass --encoding with the encoding the file was written in (Chinese office files are usually gbk)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpg_names() {
        for (text, enc) in [
            ("GBK", encoding_rs::GBK),
            ("936", encoding_rs::GBK),
            ("CP936", encoding_rs::GBK),
            ("ANSI 936", encoding_rs::GBK),
            ("GB2312\r\n", encoding_rs::GBK),
            ("gb18030", encoding_rs::GB18030),
            ("UTF-8", encoding_rs::UTF_8),
            ("65001", encoding_rs::UTF_8),
            ("Big5", encoding_rs::BIG5),
        ] {
            assert_eq!(encoding_from_cpg(text), Some(enc), "{text}");
        }
        assert_eq!(encoding_from_cpg("nonsense"), None);
    }

    #[test]
    fn language_driver() {
        assert_eq!(encoding_from_ldid(0x4D), Some(encoding_rs::GBK));
        assert_eq!(encoding_from_ldid(0x57), None);
        assert_eq!(encoding_from_ldid(0x00), None);
    }

    #[test]
    fn strict_decoding() {
        let gbk = encoding_rs::GBK.encode("杨舍镇").0.into_owned();
        assert_eq!(decode(encoding_rs::GBK, &gbk).as_deref(), Some("杨舍镇"));
        assert_eq!(decode(encoding_rs::UTF_8, &gbk), None);
    }
}
