//! The Chinese font of the close-out sheet: found at run time, loaded once per process, measured for layout.
//!
//! The sheet embeds a *subset* of the font (krilla keeps only the glyphs used), so the PDF stays small while
//! the font file is ~20 MB. Reading and hashing that file costs tens of milliseconds, so it is done once and
//! kept in a `OnceLock`; a failed load is not kept, so installing the font later needs no restart.
//!
//! Where the font comes from: the file configured with `serve --cjk-font` (or `ROADLEDGER_CJK_FONT`) if set,
//! otherwise the first of the
//! Debian `fonts-noto-cjk` paths in [`DEFAULT_PATHS`] that exists. A collection (`.ttc`) holds one font per
//! region; the Simplified Chinese member (`… SC`) is chosen, because the sheet is read in mainland China and
//! the SC glyph forms are the ones readers expect.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use krilla::text::{Font, GlyphId, KrillaGlyph};
use skrifa::instance::{LocationRef, Size};
use skrifa::raw::{FileRef, FontRef};
use skrifa::string::StringId;
use skrifa::{MetadataProvider, Tag};

/// The environment variable behind `serve --cjk-font`, named in refusals when no font is found.
pub const FONT_ENV: &str = "ROADLEDGER_CJK_FONT";

/// Where Debian's `fonts-noto-cjk` puts its fonts, in order of preference (sans reads best at small sizes).
pub const DEFAULT_PATHS: &[&str] = &[
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
];

/// Fonts larger than this are refused rather than read into memory (Noto Sans CJK Regular is ~20 MB).
pub const FONT_BYTES_MAX: u64 = 64 * 1024 * 1024;

/// A character every font fit for the sheet has: the 销 of 销号单.
const PROBE_CHAR: char = '销';

#[derive(Debug, thiserror::Error)]
pub enum FontError {
    #[error(
        "no Chinese font found (looked for {}); install the Debian package fonts-noto-cjk, or give serve --cjk-font ({FONT_ENV}) an \
         OpenType font with Chinese glyphs",
        .searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NotFound { searched: Vec<PathBuf> },
    #[error("the Chinese font {path} cannot be used: {reason}")]
    Unusable { path: PathBuf, reason: String },
}

/// A loaded font: the bytes, which member of a collection, and krilla's handle (cheap to clone).
pub struct CjkFont {
    path: PathBuf,
    data: Arc<Vec<u8>>,
    index: u32,
    family: String,
    units_per_em: f32,
    krilla: Font,
}

impl std::fmt::Debug for CjkFont {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CjkFont")
            .field("path", &self.path)
            .field("index", &self.index)
            .field("family", &self.family)
            .finish()
    }
}

static LOADED: OnceLock<CjkFont> = OnceLock::new();

impl CjkFont {
    /// The process-wide font, loaded on first use from `configured` (an OpenType `.otf`/`.ttf` or a
    /// collection `.ttc`) or else the first default path that exists. Blocking (file I/O and parsing): call
    /// it from `spawn_blocking`. Two first calls at once may both load; one result is kept.
    pub fn shared(configured: Option<&Path>) -> Result<&'static CjkFont, FontError> {
        if let Some(font) = LOADED.get() {
            return Ok(font);
        }
        let font = CjkFont::load(&locate_in(configured.map(Path::to_path_buf), DEFAULT_PATHS)?)?;
        tracing::info!(path = %font.path.display(), family = %font.family, "loaded the close-out sheet font");
        Ok(LOADED.get_or_init(|| font))
    }

    /// Reads and checks a font file, choosing the Simplified Chinese member of a collection.
    pub fn load(path: &Path) -> Result<CjkFont, FontError> {
        let unusable = |reason: String| FontError::Unusable { path: path.to_path_buf(), reason };
        let size = std::fs::metadata(path).map_err(|e| unusable(e.to_string()))?.len();
        if size > FONT_BYTES_MAX {
            return Err(unusable(format!("{size} bytes; the limit is {FONT_BYTES_MAX}")));
        }
        let data = Arc::new(std::fs::read(path).map_err(|e| unusable(e.to_string()))?);
        let (index, family) = choose_member(&data).map_err(unusable)?;
        let font = FontRef::from_index(&data, index).map_err(|e| unusable(e.to_string()))?;
        let metrics = font.metrics(Size::unscaled(), LocationRef::default());
        let units_per_em = f32::from(metrics.units_per_em.max(1));
        let krilla = Font::new(data.clone().into(), index)
            .ok_or_else(|| unusable(format!("krilla cannot read member {index}")))?;
        Ok(CjkFont { path: path.to_path_buf(), data, index, family, units_per_em, krilla })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The family name of the member in use, e.g. "Noto Sans CJK SC".
    pub fn family(&self) -> &str {
        &self.family
    }

    pub(crate) fn krilla(&self) -> Font {
        self.krilla.clone()
    }

    fn font_ref(&self) -> FontRef<'_> {
        // Checked in `load`: the same bytes and index parsed then.
        FontRef::from_index(&self.data, self.index).expect("font checked at load")
    }

    /// Glyphs for one line of text, with advances in ems. No shaping beyond the character map: Chinese, digits
    /// and Latin letters need none, and the sheet has no right-to-left or combining text. Characters the font
    /// lacks become its `.notdef` box, visibly, rather than vanishing.
    pub(crate) fn glyphs(&self, text: &str) -> Vec<KrillaGlyph> {
        let font = self.font_ref();
        let charmap = font.charmap();
        let metrics = font.glyph_metrics(Size::unscaled(), LocationRef::default());
        text.char_indices()
            .map(|(at, ch)| {
                let glyph = charmap.map(ch).unwrap_or_default();
                KrillaGlyph {
                    glyph_id: GlyphId::new(glyph.to_u32()),
                    text_range: at..at + ch.len_utf8(),
                    x_advance: metrics.advance_width(glyph).unwrap_or(0.0) / self.units_per_em,
                    x_offset: 0.0,
                    y_offset: 0.0,
                    y_advance: 0.0,
                    location: None,
                }
            })
            .collect()
    }

    /// Whether the font has a glyph for `ch` (else it would draw its `.notdef` box).
    pub(crate) fn has_glyph(&self, ch: char) -> bool {
        self.font_ref().charmap().map(ch).is_some()
    }

    /// Width of `text` at `size` points, in points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        self.char_widths(text, size).iter().sum()
    }

    /// Width of each character of `text` at `size` points.
    pub(crate) fn char_widths(&self, text: &str, size: f32) -> Vec<f32> {
        let font = self.font_ref();
        let charmap = font.charmap();
        let metrics = font.glyph_metrics(Size::unscaled(), LocationRef::default());
        text.chars()
            .map(|ch| {
                metrics.advance_width(charmap.map(ch).unwrap_or_default()).unwrap_or(0.0) / self.units_per_em * size
            })
            .collect()
    }
}

fn locate_in(configured: Option<PathBuf>, defaults: &[&str]) -> Result<PathBuf, FontError> {
    // A configured path is used or refused, never silently replaced by a default: a typo must show.
    let candidates: Vec<PathBuf> = match configured {
        Some(path) => vec![path],
        None => defaults.iter().map(PathBuf::from).collect(),
    };
    candidates.iter().find(|p| p.is_file()).cloned().ok_or(FontError::NotFound { searched: candidates })
}

/// The member of a font file to use, with its family name: in a collection, the first whose family name
/// ends in "SC" (Simplified Chinese), else the first that has Chinese glyphs at all.
fn choose_member(data: &[u8]) -> Result<(u32, String), String> {
    let members: Vec<(u32, FontRef<'_>)> = match FileRef::new(data).map_err(|e| format!("not a font: {e}"))? {
        FileRef::Font(font) => vec![(0, font)],
        FileRef::Collection(collection) => {
            (0..collection.len()).filter_map(|i| collection.get(i).ok().map(|f| (i, f))).collect()
        }
    };
    let chinese: Vec<(u32, String)> = members
        .iter()
        .filter(|(_, font)| font.charmap().map(PROBE_CHAR).is_some())
        // CFF2 (variable) outlines are left out: the subsetter embeds static CFF and TrueType outlines.
        .filter(|(_, font)| font.table_data(Tag::new(b"CFF2")).is_none())
        .map(|(i, font)| {
            let family = font
                .localized_strings(StringId::FAMILY_NAME)
                .english_or_first()
                .map(|s| s.to_string())
                .unwrap_or_default();
            (*i, family)
        })
        .collect();
    let is_sc = |family: &str| family.ends_with(" SC") && !family.contains("Mono");
    chinese
        .iter()
        .find(|(_, family)| is_sc(family))
        .or_else(|| chinese.first())
        .cloned()
        .ok_or_else(|| format!("no member of the file has Chinese glyphs (no {PROBE_CHAR:?})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_font_names_the_debian_package() {
        let err = locate_in(None, &["/nonexistent/NotoSansCJK-Regular.ttc"]).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("fonts-noto-cjk"), "{message}");
        assert!(message.contains("/nonexistent/NotoSansCJK-Regular.ttc"), "{message}");
        assert!(message.contains(FONT_ENV), "{message}");
    }

    #[test]
    fn a_configured_path_is_not_replaced_by_a_default() {
        let existing = std::env::current_exe().unwrap();
        let err = locate_in(Some("/nonexistent/my.otf".into()), &[existing.to_str().unwrap()]).unwrap_err();
        assert!(
            matches!(err, FontError::NotFound { ref searched } if searched == &[PathBuf::from("/nonexistent/my.otf")])
        );
    }

    #[test]
    fn a_file_that_is_not_a_font_is_unusable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fake.ttc");
        std::fs::write(&path, b"not a font at all").unwrap();
        let err = CjkFont::load(&path).unwrap_err();
        assert!(matches!(err, FontError::Unusable { .. }), "{err}");
    }
}
