//! Laying a [`Sheet`] out on A4 pages and writing the PDF with krilla.
//!
//! Layout is a simple flow: blocks (the info table, one block per checklist item, the sign-off table) are
//! measured first and start a new page when they do not fit, so an item is never split from its photos.
//! Pages are collected as drawing operations and written only once their number is known, for the
//! "第 i 页 / 共 n 页" footer. Coordinates are PDF points (1/72 inch) from the top-left corner, y down.

use std::sync::Arc;

use krilla::Document;
use krilla::color::{luma, rgb};
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::image::Image;
use krilla::metadata::{DateTime as PdfDateTime, Metadata};
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;

use chrono::{DateTime, Datelike, FixedOffset, Timelike};

use super::{CjkFont, PhotoUse, Sheet, SheetItem, Stamp};

/// A4 portrait (210 × 297 mm) in points.
pub const PAGE_W: f32 = 595.28;
pub const PAGE_H: f32 = 841.89;
/// 15 mm on every side: inside what office printers can print.
pub(crate) const MARGIN: f32 = 42.5;
pub(crate) const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
/// Space kept free above the bottom margin for the footer.
const FOOTER_H: f32 = 22.0;
pub(crate) const BODY_BOTTOM: f32 = PAGE_H - MARGIN - FOOTER_H;

pub(crate) const TITLE: f32 = 20.0;
const HEADING: f32 = 11.5;
pub(crate) const BODY: f32 = 9.5;
const SMALL: f32 = 7.5;
/// Line height as a multiple of the font size.
pub(crate) const LEADING: f32 = 1.45;
pub(crate) const PAD: f32 = 4.0;
const RULE: f32 = 0.6;
/// Grey levels (0 black … 255 white).
pub(crate) const INK: u8 = 0;
pub(crate) const MUTED: u8 = 90;
const LABEL_BG: u8 = 236;
const FRAME: u8 = 150;
/// Top of the ideographic em box above the baseline, as a fraction of the em. Noto CJK (like most CJK fonts)
/// draws ideographs in a box from 0.88 em above to 0.12 em below the baseline; centring that box centres
/// the text.
const EM_TOP: f32 = 0.88;

/// Photo slots per item: before, after, night.
const SLOTS: usize = 3;
const SLOT_GAP: f32 = 6.0;
const SLOT_W: f32 = (CONTENT_W - 2.0 * PAD - (SLOTS as f32 - 1.0) * SLOT_GAP) / SLOTS as f32;
/// Phone photos are 4:3.
const PHOTO_H: f32 = SLOT_W * 0.75;

/// Writes the sheet as a PDF. CPU work (layout, font subsetting, compression): call from `spawn_blocking`.
pub fn render(sheet: &Sheet, font: &CjkFont) -> anyhow::Result<Vec<u8>> {
    let pages = layout(sheet, font);
    write_pdf(sheet, font, &pages)
}

/// The number of pages the sheet takes.
pub fn page_count(sheet: &Sheet, font: &CjkFont) -> usize {
    layout(sheet, font).len()
}

#[derive(Debug, Clone)]
pub(crate) enum Op {
    Text {
        x: f32,
        baseline: f32,
        size: f32,
        text: String,
        bold: bool,
        grey: u8,
    },
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        fill: Option<u8>,
        stroke: Option<(f32, u8)>,
    },
    /// A polygon (`closed`) or a polyline in colour (RGB): the bars, lines and wedges of a report's charts.
    Shape {
        points: Vec<(f32, f32)>,
        closed: bool,
        fill: Option<[u8; 3]>,
        stroke: Option<(f32, [u8; 3])>,
    },
    /// A photo fitted into the box, keeping its proportions; a missing or unreadable photo is said so.
    Photo {
        photo: usize,
        x: f32,
        y: f32,
        w: f32,
        h: f32,
    },
}

/// One cell of a table row: its width, its text, and whether it is a label (shaded, centred).
pub(crate) struct Cell {
    w: f32,
    text: String,
    label: bool,
    /// Centred across the cell without the label's shading: a number in a table of numbers.
    centre: bool,
}

pub(crate) fn label(w: f32, text: &str) -> Cell {
    Cell { w, text: text.to_string(), label: true, centre: true }
}

pub(crate) fn value(w: f32, text: impl Into<String>) -> Cell {
    Cell { w, text: text.into(), label: false, centre: false }
}

pub(crate) fn number(w: f32, text: impl Into<String>) -> Cell {
    Cell { w, text: text.into(), label: false, centre: true }
}

pub(crate) struct Flow<'a> {
    pub(crate) font: &'a CjkFont,
    /// What a continuation page says at its top, left and right, in case the pages are separated.
    continued: (String, String),
    pub(crate) pages: Vec<Vec<Op>>,
    /// Top of the free space on the current page.
    pub(crate) y: f32,
    /// Where the body of the current page starts, to know whether anything has been drawn on it.
    body_top: f32,
}

impl<'a> Flow<'a> {
    /// A flow with its first page started.
    pub(crate) fn new(font: &'a CjkFont, continued: (String, String)) -> Flow<'a> {
        let mut flow = Flow { font, continued, pages: Vec::new(), y: MARGIN, body_top: MARGIN };
        flow.start_page();
        flow
    }

    pub(crate) fn ops(&mut self) -> &mut Vec<Op> {
        self.pages.last_mut().expect("a page is started first")
    }

    pub(crate) fn start_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = MARGIN;
        if self.pages.len() > 1 {
            // Continuation pages say what they continue, in case the pages are separated.
            let baseline = self.baseline(MARGIN, BODY);
            let (left, right) = self.continued.clone();
            self.text(MARGIN, baseline, BODY, &left, true, INK);
            self.text_right(PAGE_W - MARGIN, baseline, BODY, &right, false, INK);
            self.rule(MARGIN + BODY * LEADING + 2.0);
            self.y = MARGIN + BODY * LEADING + 10.0;
        }
        self.body_top = self.y;
    }

    /// Starts a new page unless `h` points fit on this one (or nothing is on this one yet: a block taller
    /// than a page is drawn anyway rather than looping).
    pub(crate) fn ensure(&mut self, h: f32) {
        if self.y + h > BODY_BOTTOM && self.y > self.body_top {
            self.start_page();
        }
    }

    /// Baseline of a line of text of `size` whose line box starts at `top`.
    pub(crate) fn baseline(&self, top: f32, size: f32) -> f32 {
        top + (size * LEADING - size) / 2.0 + EM_TOP * size
    }

    pub(crate) fn text(&mut self, x: f32, baseline: f32, size: f32, text: &str, bold: bool, grey: u8) {
        if !text.is_empty() {
            self.ops().push(Op::Text { x, baseline, size, text: text.to_string(), bold, grey });
        }
    }

    pub(crate) fn text_right(&mut self, right: f32, baseline: f32, size: f32, text: &str, bold: bool, grey: u8) {
        let w = self.font.width(text, size);
        self.text(right - w, baseline, size, text, bold, grey);
    }

    pub(crate) fn text_centre(&mut self, centre: f32, baseline: f32, size: f32, text: &str, bold: bool, grey: u8) {
        let w = self.font.width(text, size);
        self.text(centre - w / 2.0, baseline, size, text, bold, grey);
    }

    pub(crate) fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, fill: Option<u8>, stroke: Option<(f32, u8)>) {
        self.ops().push(Op::Rect { x, y, w, h, fill, stroke });
    }

    /// A thin horizontal rule across the content width at `y`.
    pub(crate) fn rule(&mut self, y: f32) {
        self.rect(MARGIN, y, CONTENT_W, 0.0, None, Some((0.5, MUTED)));
    }

    /// The height of a table row.
    pub(crate) fn row_height(&self, cells: &[Cell], min_lines: usize) -> f32 {
        let lines = cells.iter().map(|c| wrap(self.font, &c.text, BODY, c.w - 2.0 * PAD).len()).max().unwrap_or(1);
        lines.max(min_lines) as f32 * BODY * LEADING + 2.0 * PAD
    }

    /// Draws one table row at the current position; cells share borders with the rows around them.
    pub(crate) fn row(&mut self, cells: &[Cell], min_lines: usize) {
        let h = self.row_height(cells, min_lines);
        self.ensure(h);
        let (mut x, y) = (MARGIN, self.y);
        for cell in cells {
            let fill = cell.label.then_some(LABEL_BG);
            self.rect(x, y, cell.w, h, fill, Some((RULE, INK)));
            let lines = wrap(self.font, &cell.text, BODY, cell.w - 2.0 * PAD);
            // Text is centred vertically in its cell; labels are centred across it too, values start at its left.
            let top = y + (h - lines.len() as f32 * BODY * LEADING) / 2.0;
            for (i, line) in lines.iter().enumerate() {
                let baseline = self.baseline(top + i as f32 * BODY * LEADING, BODY);
                if cell.centre {
                    self.text_centre(x + cell.w / 2.0, baseline, BODY, line, false, INK);
                } else {
                    self.text(x + PAD, baseline, BODY, line, false, INK);
                }
            }
            x += cell.w;
        }
        self.y += h;
    }

    pub(crate) fn heading(&mut self, text: &str, keep_with: f32) {
        let h = HEADING * LEADING + 6.0;
        self.ensure(h + keep_with);
        let y = self.y + 2.0;
        // A short bar before the heading, as on printed government forms.
        self.rect(MARGIN, y + 2.0, 3.0, HEADING * LEADING - 4.0, Some(INK), None);
        let baseline = self.baseline(y, HEADING);
        self.text(MARGIN + 8.0, baseline, HEADING, text, true, INK);
        self.y += h;
    }
}

fn layout(sheet: &Sheet, font: &CjkFont) -> Vec<Vec<Op>> {
    let continued = ("道路交通安全隐患销号单（续）".to_string(), format!("编号：{}", sheet.code));
    let mut flow = Flow::new(font, continued);

    // Title and number.
    let baseline = flow.baseline(flow.y, TITLE);
    flow.text_centre(PAGE_W / 2.0, baseline, TITLE, "道路交通安全隐患销号单", true, INK);
    flow.y += TITLE * LEADING + 6.0;
    let baseline = flow.baseline(flow.y, BODY);
    flow.text(MARGIN, baseline, BODY, "状态：已销号", false, INK);
    let number = format!("编号：{}", sheet.code);
    flow.text_right(PAGE_W - MARGIN, baseline, BODY, &number, false, INK);
    flow.y += BODY * LEADING + 4.0;

    // The site: two label/value pairs per row, long values across the row.
    let (lw, vw) = (76.0, (CONTENT_W - 2.0 * 76.0) / 2.0);
    let wide = CONTENT_W - lw;
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "—".to_string());
    let stamp_time = |s: &Option<Stamp>| or_dash(s.as_ref().map(|s| minutes(s.at)));
    flow.row(
        &[label(lw, "隐患编号"), value(vw, &sheet.code), label(lw, "所属区镇"), value(vw, or_dash(sheet.town.clone()))],
        1,
    );
    flow.row(
        &[
            label(lw, "道路及桩号"),
            value(vw, or_dash(sheet.road_and_stake.clone())),
            label(lw, "点位类型"),
            value(vw, &sheet.kind),
        ],
        1,
    );
    let hazards = if sheet.hazard_types.is_empty() { "—".to_string() } else { sheet.hazard_types.join("、") };
    flow.row(&[label(lw, "隐患类型"), value(wide, hazards)], 1);
    flow.row(
        &[
            label(lw, "隐患等级"),
            value(vw, or_dash(sheet.hazard_level.clone())),
            label(lw, "整改时限"),
            value(vw, or_dash(sheet.deadline.map(|d| d.format("%Y-%m-%d").to_string()))),
        ],
        1,
    );
    flow.row(&[label(lw, "责任单位"), value(wide, or_dash(sheet.responsible_unit.clone()))], 1);
    if let Some(supervision) = &sheet.supervision {
        flow.row(&[label(lw, "挂牌督办"), value(wide, supervision)], 1);
    }
    flow.row(
        &[
            label(lw, "建账日期"),
            value(vw, stamp_time(&sheet.opened)),
            label(lw, "派单日期"),
            value(vw, stamp_time(&sheet.dispatched)),
        ],
        1,
    );
    flow.row(
        &[
            label(lw, "申请销号"),
            value(vw, stamp_time(&sheet.close_out_requested)),
            label(lw, "验收通过"),
            value(vw, stamp_time(&sheet.approved)),
        ],
        1,
    );
    flow.y += 10.0;

    let first_item = sheet.items.first().map_or(0.0, |i| item_height(&flow, i));
    flow.heading("整改项目及整改前后照片", first_item);
    for (n, item) in sheet.items.iter().enumerate() {
        draw_item(&mut flow, n + 1, item);
    }
    flow.y += 6.0;

    let sign_off = sign_off_rows(sheet, lw);
    let sign_off_h: f32 = sign_off.iter().map(|(cells, lines)| flow.row_height(cells, *lines)).sum();
    flow.heading("整改及验收", sign_off_h);
    for (cells, lines) in &sign_off {
        flow.row(cells, *lines);
    }

    let mut pages = flow.pages;
    let generated = format!("生成时间：{}（北京时间）　RoadLedger 道路隐患台账", seconds(sheet.generated_at));
    footers(&mut pages, &generated, font);
    pages
}

fn item_rows(item: &SheetItem) -> Vec<Cell> {
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "—".to_string());
    if item.reason.is_some() && item.after.is_none() {
        return vec![label(76.0, "不适用理由"), value(CONTENT_W - 76.0, or_dash(item.reason.clone()))];
    }
    let widths = [48.0, 44.0, 56.0, 72.0, 56.0];
    let rest = CONTENT_W - widths.iter().sum::<f32>();
    vec![
        label(widths[0], "数量"),
        value(widths[1], or_dash(item.quantity.map(|q| q.to_string()))),
        label(widths[2], "安装日期"),
        value(widths[3], or_dash(item.installed_on.map(|d| d.format("%Y-%m-%d").to_string()))),
        label(widths[4], "施工单位"),
        value(rest, or_dash(item.installer.clone())),
    ]
}

/// Which photo slots an item shows: before and after always (an empty one says so), night when there is a
/// night photo or the template asks for one.
fn slots(item: &SheetItem) -> Vec<(&'static str, &Option<PhotoUse>)> {
    let mut slots = vec![("整改前", &item.before), ("整改后", &item.after)];
    if item.night.is_some() || item.night_expected {
        slots.push(("夜间", &item.night));
    }
    slots
}

const ITEM_HEADER_H: f32 = BODY * LEADING + 2.0 * PAD;
const CAPTION_H: f32 = SMALL * LEADING;
const PHOTOS_H: f32 = PAD + PHOTO_H + 2.0 + CAPTION_H + PAD;
const ITEM_GAP: f32 = 8.0;

fn item_height(flow: &Flow<'_>, item: &SheetItem) -> f32 {
    ITEM_HEADER_H + flow.row_height(&item_rows(item), 1) + PHOTOS_H + ITEM_GAP
}

/// One checklist item: a header bar, its facts, and its photos side by side, kept together on one page.
fn draw_item(flow: &mut Flow<'_>, n: usize, item: &SheetItem) {
    flow.ensure(item_height(flow, item));
    let y = flow.y;
    flow.rect(MARGIN, y, CONTENT_W, ITEM_HEADER_H, Some(LABEL_BG), Some((RULE, INK)));
    let baseline = flow.baseline(y + PAD, BODY);
    flow.text(MARGIN + PAD, baseline, BODY, &format!("{n}．{}", item.name), true, INK);
    flow.text_right(MARGIN + CONTENT_W - PAD, baseline, BODY, &format!("状态：{}", item.state), false, INK);
    flow.y += ITEM_HEADER_H;
    flow.row(&item_rows(item), 1);

    let y = flow.y;
    flow.rect(MARGIN, y, CONTENT_W, PHOTOS_H, None, Some((RULE, INK)));
    for (i, (title, photo)) in slots(item).into_iter().enumerate() {
        let x = MARGIN + PAD + i as f32 * (SLOT_W + SLOT_GAP);
        let top = y + PAD;
        flow.rect(x, top, SLOT_W, PHOTO_H, None, Some((0.4, FRAME)));
        let caption = match photo {
            Some(u) => {
                flow.ops().push(Op::Photo {
                    photo: u.photo,
                    x: x + 1.0,
                    y: top + 1.0,
                    w: SLOT_W - 2.0,
                    h: PHOTO_H - 2.0,
                });
                let when = u.at.map(minutes).unwrap_or_default();
                format!("{title}　{} {when}", u.by).trim_end().to_string()
            }
            None => {
                let baseline = flow.baseline(top + PHOTO_H / 2.0 - BODY * LEADING / 2.0, BODY);
                flow.text_centre(x + SLOT_W / 2.0, baseline, BODY, "无照片", false, MUTED);
                title.to_string()
            }
        };
        let caption = fit(flow.font, &caption, SMALL, SLOT_W);
        let baseline = flow.baseline(top + PHOTO_H + 2.0, SMALL);
        flow.text_centre(x + SLOT_W / 2.0, baseline, SMALL, &caption, false, MUTED);
    }
    flow.y += PHOTOS_H + ITEM_GAP;
}

/// Who did the work and who accepted it, with space for signatures and seals on the printed sheet.
fn sign_off_rows(sheet: &Sheet, lw: f32) -> Vec<(Vec<Cell>, usize)> {
    let wide = CONTENT_W - lw;
    let vw = (CONTENT_W - 2.0 * lw) / 2.0;
    let or_dash = |v: Vec<String>| if v.is_empty() { "—".to_string() } else { v.join("、") };
    let who_when = |s: &Option<Stamp>| match s {
        Some(s) => format!("{}　{}", s.actor, minutes(s.at)),
        None => "—".to_string(),
    };
    let (reviewer, approved_at) = match &sheet.approved {
        Some(s) => (s.actor.clone(), minutes(s.at)),
        None => ("—".to_string(), "—".to_string()),
    };
    vec![
        (vec![label(lw, "整改单位"), value(wide, sheet.responsible_unit.clone().unwrap_or_else(|| "—".into()))], 1),
        (vec![label(lw, "施工单位"), value(wide, or_dash(sheet.installers()))], 1),
        (vec![label(lw, "整改资料提交"), value(wide, or_dash(sheet.submitters()))], 1),
        (vec![label(lw, "申请销号"), value(wide, who_when(&sheet.close_out_requested))], 1),
        (vec![label(lw, "验收人"), value(vw, reviewer), label(lw, "验收时间"), value(vw, approved_at)], 1),
        (vec![label(lw, "验收结论"), value(wide, "审核通过，准予销号")], 1),
        (vec![label(lw, "整改单位签章"), value(vw, ""), label(lw, "验收单位签章"), value(vw, "")], 3),
    ]
}

/// A footer line (`left`: what the document is, when it was made) and page numbers on every page.
pub(crate) fn footers(pages: &mut [Vec<Op>], left: &str, font: &CjkFont) {
    let total = pages.len();
    let rule_y = PAGE_H - MARGIN - FOOTER_H + 8.0;
    let baseline = PAGE_H - MARGIN - 2.0;
    for (i, ops) in pages.iter_mut().enumerate() {
        ops.push(Op::Rect { x: MARGIN, y: rule_y, w: CONTENT_W, h: 0.0, fill: None, stroke: Some((0.5, MUTED)) });
        ops.push(Op::Text { x: MARGIN, baseline, size: SMALL, text: left.to_string(), bold: false, grey: MUTED });
        let number = format!("第 {} 页 / 共 {total} 页", i + 1);
        let w = font.width(&number, SMALL);
        ops.push(Op::Text { x: PAGE_W - MARGIN - w, baseline, size: SMALL, text: number, bold: false, grey: MUTED });
    }
}

fn minutes(t: DateTime<FixedOffset>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

fn seconds(t: DateTime<FixedOffset>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Breaks `text` into lines no wider than `max_w`. Chinese may break between any two characters; a run of
/// Latin letters and digits (a stake, a code) is kept whole when it fits on a line of its own.
pub(crate) fn wrap(font: &CjkFont, text: &str, size: f32, max_w: f32) -> Vec<String> {
    let text: String = text.chars().map(|c| if c.is_control() && c != '\n' { ' ' } else { c }).collect();
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let chars: Vec<char> = paragraph.chars().collect();
        let widths = font.char_widths(paragraph, size);
        let mut start = 0;
        while start < chars.len() {
            let mut end = start;
            let mut w = 0.0;
            while end < chars.len() && (end == start || w + widths[end] <= max_w) {
                w += widths[end];
                end += 1;
            }
            if end < chars.len() {
                // Move the break back to the start of a Latin word cut in two, if the line keeps something.
                let word = |c: char| c.is_ascii_alphanumeric() || "+-.:/_".contains(c);
                if word(chars[end])
                    && word(chars[end - 1])
                    && let Some(b) = (start + 1..end).rev().find(|&b| !word(chars[b - 1]))
                {
                    end = b;
                }
                // No line starts with closing punctuation (GB/T 15834 line-breaking practice): take the
                // character before it along to the next line.
                if "）》」』，。、；：！？".contains(chars[end]) && end - start > 1 {
                    end -= 1;
                }
            }
            lines.push(chars[start..end].iter().collect::<String>().trim().to_string());
            start = end;
            while start < chars.len() && chars[start] == ' ' {
                start += 1;
            }
        }
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

/// `text` shortened with an ellipsis to fit one line of `max_w`.
pub(crate) fn fit(font: &CjkFont, text: &str, size: f32, max_w: f32) -> String {
    if font.width(text, size) <= max_w {
        return text.to_string();
    }
    let ellipsis_w = font.width("…", size);
    let mut out = String::new();
    let mut w = 0.0;
    for (ch, cw) in text.chars().zip(font.char_widths(text, size)) {
        if w + cw + ellipsis_w > max_w {
            break;
        }
        out.push(ch);
        w += cw;
    }
    out.push('…');
    out
}

fn grey(level: u8) -> luma::Color {
    luma::Color::new(level)
}

fn write_pdf(sheet: &Sheet, font: &CjkFont, pages: &[Vec<Op>]) -> anyhow::Result<Vec<u8>> {
    // Each photo is read once (its header only: krilla embeds the JPEG bytes as they are) and drawn as often
    // as it is used; krilla writes one image object per distinct photo.
    let images: Vec<Option<Image>> = sheet
        .photos
        .iter()
        .map(|p| {
            let bytes = p.jpeg.clone()?;
            let data: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::new(bytes);
            match Image::from_jpeg(data.into(), true) {
                Ok(image) => Some(image),
                Err(e) => {
                    tracing::warn!(sha256 = %p.sha256, error = %e, "a close-out photo is not a readable JPEG");
                    None
                }
            }
        })
        .collect();

    let title = format!("道路交通安全隐患销号单 {}", sheet.code);
    write_document(&title, sheet.generated_at, font, &images, pages)
        .map_err(|e| anyhow::anyhow!("writing the close-out PDF: {e}"))
}

/// Writes laid-out A4 pages as a PDF titled `title` (the document's metadata, in Chinese), made at `at`.
pub(crate) fn write_document(
    title: &str,
    at: DateTime<FixedOffset>,
    font: &CjkFont,
    images: &[Option<Image>],
    pages: &[Vec<Op>],
) -> anyhow::Result<Vec<u8>> {
    let mut document = Document::new();
    let offset_minutes = at.offset().local_minus_utc() / 60;
    document.set_metadata(
        Metadata::new()
            .title(title.to_string())
            .creator("RoadLedger".to_string())
            .language("zh-CN".to_string())
            .creation_date(
                PdfDateTime::new(at.year().clamp(0, 9999) as u16)
                    .month(at.month() as u8)
                    .day(at.day() as u8)
                    .hour(at.hour() as u8)
                    .minute(at.minute() as u8)
                    .second(at.second() as u8)
                    .utc_offset_hour((offset_minutes / 60) as i8)
                    .utc_offset_minute((offset_minutes.abs() % 60) as u8),
            ),
    );
    let size = Size::from_wh(PAGE_W, PAGE_H).expect("A4 is a valid size");
    for ops in pages {
        let mut page = document.start_page_with(PageSettings::new(size));
        let mut surface = page.surface();
        for op in ops {
            draw(&mut surface, font, images, op);
        }
        surface.finish();
        page.finish();
    }
    document.finish().map_err(|e| anyhow::anyhow!("{e:?}"))
}

fn draw(surface: &mut Surface<'_>, font: &CjkFont, images: &[Option<Image>], op: &Op) {
    match op {
        Op::Text { x, baseline, size, text, bold, grey: level } => {
            surface.set_fill(Some(Fill { paint: grey(*level).into(), ..Fill::default() }));
            // Bold without a second 20 MB font: the glyphs are stroked as well as filled, thinly.
            surface.set_stroke(bold.then(|| Stroke {
                paint: grey(*level).into(),
                width: size * 0.04,
                ..Stroke::default()
            }));
            let glyphs = font.glyphs(text);
            surface.draw_glyphs(Point::from_xy(*x, *baseline), &glyphs, font.krilla(), text, *size, false);
            surface.set_stroke(None);
        }
        Op::Rect { x, y, w, h, fill, stroke } => {
            let mut path = PathBuilder::new();
            if *h == 0.0 {
                path.move_to(*x, *y);
                path.line_to(x + w, *y);
            } else if let Some(rect) = Rect::from_xywh(*x, *y, *w, *h) {
                path.push_rect(rect);
            }
            let Some(path) = path.finish() else { return };
            surface.set_fill(fill.map(|level| Fill { paint: grey(level).into(), ..Fill::default() }));
            surface.set_stroke(stroke.map(|(width, level)| Stroke {
                paint: grey(level).into(),
                width,
                ..Stroke::default()
            }));
            surface.draw_path(&path);
            surface.set_stroke(None);
        }
        Op::Shape { points, closed, fill, stroke } => {
            let mut path = PathBuilder::new();
            for (i, (x, y)) in points.iter().enumerate() {
                if i == 0 { path.move_to(*x, *y) } else { path.line_to(*x, *y) }
            }
            if *closed {
                path.close();
            }
            let Some(path) = path.finish() else { return };
            let rgb = |[r, g, b]: [u8; 3]| rgb::Color::new(r, g, b);
            surface.set_fill(fill.map(|c| Fill { paint: rgb(c).into(), ..Fill::default() }));
            surface.set_stroke(stroke.map(|(width, c)| Stroke { paint: rgb(c).into(), width, ..Stroke::default() }));
            surface.draw_path(&path);
            surface.set_stroke(None);
        }
        Op::Photo { photo, x, y, w, h } => match images.get(*photo).cloned().flatten() {
            Some(image) => {
                let (iw, ih) = image.size();
                let scale = (w / iw.max(1) as f32).min(h / ih.max(1) as f32);
                let (dw, dh) = (iw as f32 * scale, ih as f32 * scale);
                let Some(size) = Size::from_wh(dw, dh) else { return };
                surface.push_transform(&Transform::from_translate(x + (w - dw) / 2.0, y + (h - dh) / 2.0));
                surface.draw_image(image, size);
                surface.pop();
            }
            None => {
                let text = "照片缺失或无法读取";
                let tw = font.width(text, BODY);
                let baseline = y + h / 2.0 + (EM_TOP - 0.5) * BODY;
                let op = Op::Text {
                    x: x + (w - tw) / 2.0,
                    baseline,
                    size: BODY,
                    text: text.into(),
                    bold: false,
                    grey: MUTED,
                };
                draw(surface, font, images, &op);
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn font() -> &'static CjkFont {
        // A system package, like PostGIS for the database tests: scripts/test.sh installs it.
        CjkFont::shared(None).expect("a Chinese font: install the Debian package fonts-noto-cjk")
    }

    #[test]
    fn wrapping_keeps_latin_words_and_breaks_chinese_anywhere() {
        let font = font();
        let w = font.width("张家港交通", BODY);
        assert_eq!(wrap(font, "张家港交通工程公司", BODY, w + 0.1), ["张家港交通", "工程公司"]);
        let stake = "X202 K12+300";
        let narrow = font.width("X202 K12+", BODY);
        assert_eq!(wrap(font, stake, BODY, narrow), ["X202", "K12+300"]);
        assert_eq!(wrap(font, "", BODY, 100.0), [""]);
        assert_eq!(wrap(font, "一\n二", BODY, 100.0), ["一", "二"]);
        let w = font.width("整改单位（签章", BODY);
        assert_eq!(wrap(font, "整改单位（签章）", BODY, w + 0.1), ["整改单位（签", "章）"]);
    }

    #[test]
    fn fitting_cuts_with_an_ellipsis() {
        let font = font();
        let long = "整改后　张家港市杨舍镇农村公路管理处工程科 2026-11-30 10:00";
        let cut = fit(font, long, SMALL, SLOT_W);
        assert!(cut.ends_with('…') && font.width(&cut, SMALL) <= SLOT_W, "{cut}");
        assert_eq!(fit(font, "整改前", SMALL, SLOT_W), "整改前");
    }

    /// An intersection's five must-haves, one not applicable, long names, no photo bytes: every block stays
    /// inside the page body, items are never split from their photos, and the footer counts the pages.
    #[test]
    fn a_long_sheet_flows_onto_whole_pages() {
        let font = font();
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-30T10:00:00+08:00").unwrap();
        let photo = |photo| Some(PhotoUse { photo, by: "钱整改".into(), at: Some(at) });
        let item = |name: &str, applies: bool| SheetItem {
            name: name.into(),
            state: if applies { "已验收" } else { "不适用" }.into(),
            quantity: Some(4),
            installed_on: Some(at.date_naive()),
            installer: Some("张家港市杨舍镇农村公路管理处下属交通安全设施工程施工队第三分队".repeat(2)),
            reason: (!applies).then(|| "路口已改为信号控制，由交警大队另行设置".to_string()),
            before: photo(0),
            after: if applies { photo(1) } else { None },
            night: None,
            night_expected: name == "交通信号灯",
        };
        let sheet = Sheet {
            code: "YH-000042".into(),
            town: Some("杨舍镇".into()),
            road_and_stake: Some("X202 K12+300～K13+100".into()),
            kind: "路口（五必上）".into(),
            hazard_types: ["缺少警告标志", "缺少让行控制", "标线磨损", "无减速设施", "无警示桩", "视距不良"]
                .map(String::from)
                .to_vec(),
            hazard_level: Some("较大".into()),
            supervision: Some("县级挂牌督办".into()),
            responsible_unit: Some("农村公路管理处".into()),
            deadline: Some(at.date_naive()),
            opened: None,
            dispatched: None,
            close_out_requested: None,
            approved: Some(Stamp { actor: "李验收".into(), at }),
            items: vec![
                item("警告标志", true),
                item("道路标线", true),
                item("减速带", true),
                item("警示桩", true),
                item("交通信号灯", false),
            ],
            photos: vec![super::super::Photo { sha256: "a".into(), jpeg: None }; 2],
            generated_at: at,
        };

        let pages = layout(&sheet, font);

        assert_eq!(pages.len(), 3);
        for ops in &pages {
            for op in ops {
                let bottom = match op {
                    Op::Text { baseline, .. } => *baseline,
                    Op::Rect { y, h, .. } | Op::Photo { y, h, .. } => y + h,
                    Op::Shape { points, .. } => points.iter().map(|p| p.1).fold(0.0, f32::max),
                };
                assert!(bottom <= PAGE_H - MARGIN + 0.01, "{op:?} runs into the bottom margin");
            }
        }
        let texts: Vec<&str> = pages[2]
            .iter()
            .filter_map(|op| match op {
                Op::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert!(texts.contains(&"第 3 页 / 共 3 页"), "{texts:?}");
        // The not-applicable item says why instead of showing an after-photo.
        let all: Vec<&str> = pages
            .iter()
            .flatten()
            .filter_map(|op| match op {
                Op::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert!(all.contains(&"不适用理由"), "{all:?}");
        let pdf = write_pdf(&sheet, font, &pages).unwrap();
        if let Some(out) = std::env::var_os("CLOSEOUT_LONG_PDF_OUT") {
            std::fs::write(out, &pdf).unwrap();
        }
    }
}
