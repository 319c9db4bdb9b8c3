//! The charts of a report (trend, towns, statuses) as a short list of vector primitives in a fixed box, so
//! that one drawing serves both the page (`Chart::to_svg`) and the PDF (`reports::pdf` draws the same shapes
//! as krilla paths): what the reader sees on screen is what is printed.
//!
//! Coordinates are abstract units in a box [`WIDTH`] wide, y down (as SVG and our PDF layout), text placed
//! at its baseline. Every builder takes empty or all-zero data without dividing by zero: no data is drawn as
//! a "无数据" note in the box.

use std::fmt::Write as _;

use crate::domain::labels;
use crate::domain::report::{StatusCount, TownFigures, TrendPoint};
use crate::domain::site::SiteStatus;

/// Width of every chart's box.
pub const WIDTH: f32 = 600.0;
/// Height of the trend and status charts.
pub const HEIGHT: f32 = 300.0;
/// Most height of the towns chart: room for [`TOWN_BARS_MAX`] towns; fewer towns take less.
pub const TOWNS_HEIGHT: f32 = 520.0;
/// Room per town in the towns chart when there is room.
const TOWN_PITCH: f32 = 36.0;
/// The towns chart shows at most this many towns (the ones furthest behind); a county of 100 towns would
/// otherwise get bars too thin to read. The table lists them all.
pub const TOWN_BARS_MAX: usize = 30;

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colour(pub u8, pub u8, pub u8);

impl Colour {
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// Lightness for a grey rendition (ITU-R BT.601 weights), for text drawn in grey in the PDF.
    pub fn luma(self) -> u8 {
        (0.299 * f32::from(self.0) + 0.587 * f32::from(self.1) + 0.114 * f32::from(self.2)).round() as u8
    }
}

/// The colour of each site status, copied from `STATUS_COLOUR` in `web/common.js` (the map's markers and
/// badges), so a status has one colour on the map and in the reports. Keep the two tables together.
pub const STATUS_COLOURS: [(SiteStatus, Colour); 10] = [
    (SiteStatus::Reported, Colour(0xd7, 0x30, 0x1f)),
    (SiteStatus::Verified, Colour(0xb8, 0x5a, 0x0e)),
    (SiteStatus::Assigned, Colour(0x94, 0x6f, 0x00)),
    (SiteStatus::InProgress, Colour(0x1f, 0x78, 0xb4)),
    (SiteStatus::PendingReview, Colour(0x7b, 0x52, 0xc7)),
    (SiteStatus::Closed, Colour(0x23, 0x80, 0x4a)),
    (SiteStatus::Reopened, Colour(0xc2, 0x18, 0x7a)),
    (SiteStatus::Rejected, Colour(0x70, 0x70, 0x70)),
    (SiteStatus::Duplicate, Colour(0x8b, 0x5e, 0x3c)),
    (SiteStatus::Cancelled, Colour(0x4a, 0x4a, 0x4a)),
];
/// A status code the table does not know is drawn grey, as the map does.
pub const UNKNOWN_STATUS: Colour = Colour(0x70, 0x70, 0x70);

/// The series colours reuse the status palette: found as reported (red would alarm, so blue, in progress),
/// closed as closed (green), open as verified (orange); overdue is the reported red.
const FOUND: Colour = Colour(0x1f, 0x78, 0xb4);
const CLOSED: Colour = Colour(0x23, 0x80, 0x4a);
const OPEN: Colour = Colour(0xb8, 0x5a, 0x0e);
const OVERDUE: Colour = Colour(0xd7, 0x30, 0x1f);
const INK: Colour = Colour(0x22, 0x22, 0x22);
const MUTED: Colour = Colour(0x66, 0x66, 0x66);
const GRID: Colour = Colour(0xd0, 0xd0, 0xd0);

const TITLE_SIZE: f32 = 15.0;
const LABEL_SIZE: f32 = 11.0;

/// Where a text's x is: its start, middle or end (SVG `text-anchor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

/// One drawing primitive.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        fill: Colour,
    },
    /// An open polyline.
    Line {
        points: Vec<(f32, f32)>,
        stroke: Colour,
        width: f32,
    },
    /// A closed, filled polygon: a donut's wedge, its arcs flattened to short segments.
    Polygon {
        points: Vec<(f32, f32)>,
        fill: Colour,
    },
    /// `y` is the baseline.
    Text {
        x: f32,
        y: f32,
        size: f32,
        text: String,
        anchor: Anchor,
        fill: Colour,
    },
}

/// A chart: its box, its title (also its accessible name) and its shapes in drawing order.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub width: f32,
    pub height: f32,
    pub title: String,
    pub shapes: Vec<Shape>,
}

impl Chart {
    fn new(title: &str, height: f32) -> Chart {
        let mut chart = Chart { width: WIDTH, height, title: title.to_string(), shapes: Vec::new() };
        chart.text(12.0, 24.0, TITLE_SIZE, title, Anchor::Start, INK);
        chart
    }

    fn text(&mut self, x: f32, y: f32, size: f32, text: &str, anchor: Anchor, fill: Colour) {
        self.shapes.push(Shape::Text { x, y, size, text: text.to_string(), anchor, fill });
    }

    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, fill: Colour) {
        self.shapes.push(Shape::Rect { x, y, w, h, fill });
    }

    fn line(&mut self, points: Vec<(f32, f32)>, stroke: Colour, width: f32) {
        self.shapes.push(Shape::Line { points, stroke, width });
    }

    /// The note of a chart with nothing to draw.
    fn no_data(mut self) -> Chart {
        let (x, y) = (self.width / 2.0, self.height / 2.0);
        self.text(x, y, 14.0, "无数据", Anchor::Middle, MUTED);
        self
    }

    /// A legend row from `x`: a swatch and a label per series.
    fn legend(&mut self, mut x: f32, y: f32, series: &[(&str, Colour)]) {
        for (name, colour) in series {
            self.rect(x, y - 9.0, 10.0, 10.0, *colour);
            self.text(x + 14.0, y, LABEL_SIZE, name, Anchor::Start, INK);
            // Labels are short Chinese words: a full-width character is about 1 em.
            x += 14.0 + LABEL_SIZE * name.chars().count() as f32 + 16.0;
        }
    }

    /// The standalone SVG: a `viewBox` of the chart's box, `role="img"` named by the title, every text
    /// escaped. Numbers are written with at most two decimals, so the same chart gives the same bytes.
    pub fn to_svg(&self) -> String {
        let title = crate::xml::escape(&self.title);
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" \
             role=\"img\" aria-label=\"{title}\" font-family=\"'Noto Sans CJK SC', 'Noto Sans SC', sans-serif\">\
             <title>{title}</title>",
            w = num(self.width),
            h = num(self.height),
        );
        for shape in &self.shapes {
            svg_shape(&mut svg, shape);
        }
        svg.push_str("</svg>");
        svg
    }
}

fn svg_shape(svg: &mut String, shape: &Shape) {
    // Writing to a String cannot fail.
    let _ = match shape {
        Shape::Rect { x, y, w, h, fill } => write!(
            svg,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"/>",
            num(*x),
            num(*y),
            num(*w),
            num(*h),
            fill.hex()
        ),
        Shape::Line { points, stroke, width } => write!(
            svg,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\"/>",
            svg_points(points),
            stroke.hex(),
            num(*width)
        ),
        Shape::Polygon { points, fill } => {
            write!(svg, "<path d=\"M{}Z\" fill=\"{}\"/>", svg_points(points).replace(' ', " L"), fill.hex())
        }
        Shape::Text { x, y, size, text, anchor, fill } => {
            let anchor = match anchor {
                Anchor::Start => "start",
                Anchor::Middle => "middle",
                Anchor::End => "end",
            };
            write!(
                svg,
                "<text x=\"{}\" y=\"{}\" font-size=\"{}\" text-anchor=\"{anchor}\" fill=\"{}\">{}</text>",
                num(*x),
                num(*y),
                num(*size),
                fill.hex(),
                crate::xml::escape(text)
            )
        }
    };
}

fn svg_points(points: &[(f32, f32)]) -> String {
    points.iter().map(|(x, y)| format!("{},{}", num(*x), num(*y))).collect::<Vec<_>>().join(" ")
}

/// A number with at most two decimals and no trailing zeros (`-0` written `0`).
fn num(v: f32) -> String {
    let s = format!("{:.2}", v);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".to_string() } else { s.to_string() }
}

/// An axis from 0 to a round number at or above `max`, with its step: 1, 2 or 5 times a power of ten, about
/// four steps. `max` 0 gives 0–1, so an all-zero series still has an axis and no division by zero.
fn axis(max: i64) -> (f64, f64) {
    let max = max.max(1) as f64;
    let raw = max / 4.0;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * power).find(|s| *s >= raw).unwrap_or(10.0 * power);
    let step = step.max(1.0);
    ((max / step).ceil() * step, step)
}

/// Found and closed per period as grouped bars, and the sites open at each period's end as a line over
/// them, on one count axis: whether the county closes as fast as it finds, and whether the backlog shrinks.
pub fn trend(points: &[TrendPoint]) -> Chart {
    let mut chart = Chart::new("发现、销号与期末在办趋势", HEIGHT);
    if points.is_empty() {
        return chart.no_data();
    }
    chart.legend(330.0, 24.0, &[("发现", FOUND), ("销号", CLOSED), ("期末在办", OPEN)]);
    let (left, right, top, bottom) = (56.0, WIDTH - 16.0, 48.0, HEIGHT - 40.0);
    let max = points.iter().map(|p| p.found.max(p.closed).max(p.open)).max().unwrap_or(0);
    let (top_value, step) = axis(max);
    let y_of = |v: i64| bottom - (bottom - top) * (v as f64 / top_value) as f32;
    value_axis(&mut chart, (left, right), top_value, step, |v| y_of(v as i64));

    let group = (right - left) / points.len() as f32;
    let bar = (group * 0.3).min(28.0);
    let mut open_line = Vec::new();
    for (i, p) in points.iter().enumerate() {
        let centre = left + group * (i as f32 + 0.5);
        chart.rect(centre - bar, y_of(p.found), bar, bottom - y_of(p.found), FOUND);
        chart.rect(centre, y_of(p.closed), bar, bottom - y_of(p.closed), CLOSED);
        chart.text(centre, bottom + 18.0, 10.0, &p.code, Anchor::Middle, INK);
        open_line.push((centre, y_of(p.open)));
    }
    for (x, y) in &open_line {
        chart.rect(x - 3.0, y - 3.0, 6.0, 6.0, OPEN);
    }
    chart.line(open_line, OPEN, 2.0);
    chart
}

/// Horizontal gridlines with their values, from 0 to `top_value` every `step`.
fn value_axis(chart: &mut Chart, (left, right): (f32, f32), top_value: f64, step: f64, y_of: impl Fn(f64) -> f32) {
    let ticks = (top_value / step).round() as usize;
    for t in 0..=ticks {
        let v = t as f64 * step;
        let y = y_of(v);
        chart.line(vec![(left, y), (right, y)], if t == 0 { MUTED } else { GRID }, if t == 0 { 1.0 } else { 0.5 });
        chart.text(left - 6.0, y + 4.0, 10.0, &format!("{v}"), Anchor::End, MUTED);
    }
}

/// Town by town, what a county leader asks first: who is behind. Each town has two bars: the sites still
/// open at the period's end, split into overdue (red) and within their deadline (orange), and under it the
/// close-outs of the period (green), so a long red bar next to a short green one stands out. Towns are
/// ordered by overdue sites, then open sites, most first; at most [`TOWN_BARS_MAX`] are drawn, and the
/// chart says how many it left out.
pub fn towns(rows: &[TownFigures]) -> Chart {
    let shown_n = rows.len().clamp(1, TOWN_BARS_MAX);
    let height = (88.0 + TOWN_PITCH * shown_n as f32).min(TOWNS_HEIGHT);
    let mut chart = Chart::new("各区镇在办、逾期与本期销号", height);
    if rows.is_empty() {
        return chart.no_data();
    }
    chart.legend(300.0, 24.0, &[("逾期", OVERDUE), ("未逾期在办", OPEN), ("本期销号", CLOSED)]);
    let mut order: Vec<&TownFigures> = rows.iter().collect();
    // A stable sort keeps the table's (code) order among equals.
    order.sort_by_key(|t| (std::cmp::Reverse(t.figures.overdue), std::cmp::Reverse(t.figures.open)));
    let shown = &order[..order.len().min(TOWN_BARS_MAX)];

    let (left, right, top, bottom) = (112.0, WIDTH - 64.0, 44.0, height - 44.0);
    let max = shown.iter().map(|t| t.figures.open.max(t.figures.closed)).max().unwrap_or(0);
    let (top_value, step) = axis(max);
    let x_of = |v: i64| left + (right - left) * (v as f64 / top_value) as f32;
    // Vertical gridlines with their values under the bars.
    let ticks = (top_value / step).round() as usize;
    for t in 0..=ticks {
        let v = t as f64 * step;
        let x = x_of(v as i64);
        chart.line(vec![(x, top), (x, bottom)], if t == 0 { MUTED } else { GRID }, if t == 0 { 1.0 } else { 0.5 });
        chart.text(x, bottom + 16.0, 10.0, &format!("{v}"), Anchor::Middle, MUTED);
    }
    let pitch = (bottom - top) / shown.len() as f32;
    let size = (pitch * 0.62).min(LABEL_SIZE);
    let bar = pitch * 0.36;
    for (i, t) in shown.iter().enumerate() {
        let y = top + pitch * i as f32 + pitch * 0.1;
        let f = &t.figures;
        let overdue = f.overdue.min(f.open);
        chart.rect(left, y, x_of(overdue) - left, bar, OVERDUE);
        chart.rect(x_of(overdue), y, x_of(f.open) - x_of(overdue), bar, OPEN);
        chart.rect(left, y + bar, x_of(f.closed) - left, bar, CLOSED);
        chart.text(left - 6.0, y + bar + size * 0.4, size, &t.name, Anchor::End, INK);
        let open = format!("{}（逾期{}）", f.open, f.overdue);
        chart.text(x_of(f.open) + 4.0, y + bar * 0.85, size * 0.85, &open, Anchor::Start, MUTED);
        chart.text(x_of(f.closed) + 4.0, y + bar * 1.85, size * 0.85, &f.closed.to_string(), Anchor::Start, MUTED);
    }
    if order.len() > shown.len() {
        let note = format!("另有 {} 个区镇逾期、在办较少，未列出", order.len() - shown.len());
        chart.text(WIDTH - 12.0, height - 8.0, 10.0, &note, Anchor::End, MUTED);
    }
    chart
}

/// Crashes per bucket (hour of day, weekday, month) as vertical bars on a count axis, each bar labelled
/// underneath and its count written over it when there is room. Buckets whose flag is set in `highlight`
/// (the over-represented ones) are drawn in the alarm red, the rest in the "found" blue.
pub fn count_bars(title: &str, labels: &[String], counts: &[i64], highlight: &[bool]) -> Chart {
    let mut chart = Chart::new(title, HEIGHT);
    if counts.iter().all(|c| *c <= 0) {
        return chart.no_data();
    }
    let (left, right, top, bottom) = (48.0, WIDTH - 12.0, 44.0, HEIGHT - 34.0);
    let (top_value, step) = axis(counts.iter().copied().max().unwrap_or(0));
    let y_of = |v: i64| bottom - (bottom - top) * (v as f64 / top_value) as f32;
    value_axis(&mut chart, (left, right), top_value, step, |v| y_of(v as i64));
    let pitch = (right - left) / counts.len().max(1) as f32;
    let bar = pitch * 0.7;
    // Numbers over 24 narrow bars would run into each other; the axis says enough there.
    let label_size = (pitch * 0.55).min(10.0);
    for (i, count) in counts.iter().enumerate() {
        let centre = left + pitch * (i as f32 + 0.5);
        let colour = if highlight.get(i).copied().unwrap_or(false) { OVERDUE } else { FOUND };
        let count = (*count).max(0);
        chart.rect(centre - bar / 2.0, y_of(count), bar, bottom - y_of(count), colour);
        if let Some(label) = labels.get(i) {
            chart.text(centre, bottom + 16.0, label_size, label, Anchor::Middle, INK);
        }
        if count > 0 {
            chart.text(centre, y_of(count) - 3.0, label_size, &count.to_string(), Anchor::Middle, MUTED);
        }
    }
    chart
}

/// One period of [`exposure`]: its name, its share of the crashes and of the time (0–1), and whether it is
/// over-represented.
#[derive(Debug, Clone, PartialEq)]
pub struct ExposureBar {
    pub label: String,
    pub crash_share: f64,
    pub exposure_share: f64,
    pub over_represented: bool,
}

/// Height of the periods chart: room for ten periods.
pub const EXPOSURE_HEIGHT: f32 = 420.0;

/// Each period's share of the crashes (red when over-represented, else blue) over its share of the days or
/// hours (grey), on one 0–100 % axis, with the ratio at the bar's end: a red bar longer than its grey one is
/// a period with more crashes than its time would give.
pub fn exposure(rows: &[ExposureBar]) -> Chart {
    let mut chart = Chart::new("各时段事故占比与时间占比", EXPOSURE_HEIGHT);
    if rows.is_empty() || rows.iter().all(|r| r.crash_share <= 0.0) {
        return chart.no_data();
    }
    chart.legend(300.0, 24.0, &[("事故占比", FOUND), ("偏高", OVERDUE), ("时间占比", GRID)]);
    let (left, right, top, bottom) = (96.0, WIDTH - 72.0, 44.0, EXPOSURE_HEIGHT - 30.0);
    let x_of = |share: f64| left + (right - left) * share.clamp(0.0, 1.0) as f32;
    for t in 0..=4 {
        let share = f64::from(t) * 0.25;
        let x = x_of(share);
        chart.line(vec![(x, top), (x, bottom)], if t == 0 { MUTED } else { GRID }, if t == 0 { 1.0 } else { 0.5 });
        chart.text(x, bottom + 16.0, 10.0, &format!("{}%", t * 25), Anchor::Middle, MUTED);
    }
    let pitch = (bottom - top) / rows.len() as f32;
    let bar = pitch * 0.36;
    for (i, r) in rows.iter().enumerate() {
        let y = top + pitch * i as f32 + pitch * 0.12;
        let colour = if r.over_represented { OVERDUE } else { FOUND };
        chart.rect(left, y, x_of(r.crash_share) - left, bar, colour);
        chart.rect(left, y + bar, x_of(r.exposure_share) - left, bar, GRID);
        chart.text(left - 6.0, y + bar + 4.0, LABEL_SIZE, &r.label, Anchor::End, INK);
        let note = if r.exposure_share > 0.0 {
            format!(
                "{:.0}% / {:.0}%（×{:.2}）",
                r.crash_share * 100.0,
                r.exposure_share * 100.0,
                r.crash_share / r.exposure_share
            )
        } else {
            format!("{:.0}% / 0%", r.crash_share * 100.0)
        };
        let end = x_of(r.crash_share.max(r.exposure_share)) + 4.0;
        chart.text(end, y + bar + 4.0, 9.0, &note, Anchor::Start, MUTED);
    }
    chart
}

/// The Chinese name and colour of a status code; an unknown code is shown as it is, in grey.
pub fn status_style(code: &str) -> (String, Colour) {
    match code.parse::<SiteStatus>() {
        Ok(status) => {
            let colour = STATUS_COLOURS.iter().find(|(s, _)| *s == status).map_or(UNKNOWN_STATUS, |(_, c)| *c);
            (labels::site_status(status).to_string(), colour)
        }
        Err(_) => (code.to_string(), UNKNOWN_STATUS),
    }
}

/// Segments per full turn when a wedge's arcs are flattened: under 2° each, smooth at print sizes.
const ARC_STEPS: f32 = 192.0;

/// Sites per status at the period's end as a donut, the statuses in the order given, clockwise from the
/// top, with a legend of name, count and share. Statuses with no sites get no wedge but keep their legend row.
pub fn statuses(counts: &[StatusCount]) -> Chart {
    let mut chart = Chart::new("期末各状态隐患分布", HEIGHT);
    let total: i64 = counts.iter().map(|c| c.sites.max(0)).sum();
    if total == 0 {
        return chart.no_data();
    }
    let (cx, cy, outer, inner) = (160.0, 165.0, 110.0, 62.0);
    let mut start = 0.0_f32;
    for c in counts.iter().filter(|c| c.sites > 0) {
        let sweep = c.sites as f32 / total as f32 * std::f32::consts::TAU;
        let (_, colour) = status_style(&c.status);
        chart.shapes.push(Shape::Polygon { points: wedge((cx, cy), (inner, outer), start, sweep), fill: colour });
        start += sweep;
    }
    chart.text(cx, cy + 4.0, 22.0, &total.to_string(), Anchor::Middle, INK);
    chart.text(cx, cy + 24.0, LABEL_SIZE, "处", Anchor::Middle, MUTED);
    let pitch = (230.0 / counts.len().max(1) as f32).min(24.0);
    for (i, c) in counts.iter().enumerate() {
        let (name, colour) = status_style(&c.status);
        let y = 64.0 + pitch * i as f32;
        chart.rect(320.0, y - 10.0, 12.0, 12.0, colour);
        let share = c.sites.max(0) as f64 / total as f64 * 100.0;
        let text = format!("{name}  {}（{share:.1}%）", c.sites);
        chart.text(340.0, y, LABEL_SIZE, &text, Anchor::Start, INK);
    }
    chart
}

/// A ring sector from angle `start` (radians clockwise from 12 o'clock) through `sweep`: the outer arc
/// forward, the inner arc back. A full turn leaves a seam of no width, invisible under a non-zero fill.
fn wedge((cx, cy): (f32, f32), (inner, outer): (f32, f32), start: f32, sweep: f32) -> Vec<(f32, f32)> {
    let steps = ((sweep / std::f32::consts::TAU) * ARC_STEPS).ceil().max(1.0) as usize;
    let at = |r: f32, a: f32| (cx + r * a.sin(), cy - r * a.cos());
    let mut points: Vec<(f32, f32)> = (0..=steps).map(|i| at(outer, start + sweep * i as f32 / steps as f32)).collect();
    points.extend((0..=steps).rev().map(|i| at(inner, start + sweep * i as f32 / steps as f32)));
    points
}

#[cfg(test)]
mod tests {
    use quick_xml::Reader;
    use quick_xml::events::Event;

    use super::*;
    use crate::reports::fixtures::{report_with_towns, sample_report};

    /// The SVG's elements by name and the text of each `<text>`/`<title>`, entities resolved, read by an XML
    /// parser (which fails on anything malformed).
    fn parse(svg: &str) -> (Vec<String>, Vec<String>) {
        let mut reader = Reader::from_str(svg);
        let (mut elements, mut texts, mut buffer) = (Vec::new(), Vec::new(), String::new());
        loop {
            match reader.read_event().unwrap_or_else(|e| panic!("not XML: {e}\n{svg}")) {
                Event::Start(e) | Event::Empty(e) => {
                    elements.push(e.name().as_ref().to_string());
                    buffer.clear();
                }
                Event::Text(t) => buffer.push_str(&t),
                Event::GeneralRef(r) => {
                    buffer.push_str(quick_xml::escape::resolve_predefined_entity(&r).expect("a predefined entity"))
                }
                Event::End(_) if !buffer.is_empty() => texts.push(std::mem::take(&mut buffer)),
                Event::Eof => break,
                _ => {}
            }
        }
        (elements, texts)
    }

    fn count(elements: &[String], name: &str) -> usize {
        elements.iter().filter(|e| *e == name).count()
    }

    #[test]
    fn the_trend_has_two_bars_per_period_a_line_and_the_codes() {
        let report = sample_report();
        let chart = trend(&report.trend);
        let svg = chart.to_svg();
        let (elements, texts) = parse(&svg);

        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 600 300\""), "{svg}");
        assert!(svg.contains("role=\"img\" aria-label=\"发现、销号与期末在办趋势\""));
        assert_eq!(count(&elements, "title"), 1);
        // Three legend swatches, two bars and a marker per period.
        assert_eq!(count(&elements, "rect"), 3 + 3 * report.trend.len());
        // Gridlines and the open line.
        assert!(svg.contains("stroke=\"#b85a0e\" stroke-width=\"2\""));
        for p in &report.trend {
            assert!(texts.contains(&p.code), "{} missing: {texts:?}", p.code);
        }
        // Axis 0–20 in steps of 5 for a largest value of 18.
        for tick in ["0", "5", "10", "15", "20"] {
            assert!(texts.iter().any(|t| t == tick), "tick {tick}: {texts:?}");
        }
    }

    #[test]
    fn the_towns_chart_draws_three_bars_per_town_worst_first() {
        let report = sample_report();
        let chart = towns(&report.towns);
        let (elements, texts) = parse(&chart.to_svg());

        assert_eq!(count(&elements, "rect"), 3 + 3 * report.towns.len());
        let names: Vec<&String> = texts.iter().filter(|t| t.ends_with('镇')).collect();
        // 杨舍镇 has the most overdue sites, then 塘桥镇; 金港镇 has none.
        assert_eq!(names, ["杨舍镇", "塘桥镇", "金港镇"]);
        assert!(texts.contains(&"7（逾期4）".to_string()), "{texts:?}");
    }

    #[test]
    fn a_hundred_towns_are_cut_to_the_worst_thirty_with_a_note() {
        let report = report_with_towns(100);
        let chart = towns(&report.towns);
        let (elements, texts) = parse(&chart.to_svg());
        assert_eq!(count(&elements, "rect"), 3 + 3 * TOWN_BARS_MAX);
        assert!(texts.contains(&"另有 70 个区镇逾期、在办较少，未列出".to_string()), "{texts:?}");
        for shape in &chart.shapes {
            if let Shape::Rect { y, h, .. } = shape {
                assert!(*y >= 0.0 && y + h <= chart.height, "{shape:?} leaves the box");
            }
        }
    }

    #[test]
    fn the_donut_has_a_wedge_per_status_with_sites_in_the_map_colours() {
        let report = sample_report();
        let chart = statuses(&report.statuses);
        let (elements, texts) = parse(&chart.to_svg());

        let with_sites = report.statuses.iter().filter(|s| s.sites > 0).count();
        assert_eq!(count(&elements, "path"), with_sites);
        // web/common.js: in_progress #1f78b4, closed #23804a.
        assert!(chart.to_svg().contains("<path d=\"M160,55 L"), "the first wedge starts at 12 o'clock");
        let fills: Vec<Colour> = chart
            .shapes
            .iter()
            .filter_map(|s| match s {
                Shape::Polygon { fill, .. } => Some(*fill),
                _ => None,
            })
            .collect();
        assert_eq!(fills[0].hex(), "#d7301f");
        assert!(fills.iter().any(|c| c.hex() == "#23804a"));
        assert!(texts.iter().any(|t| t.starts_with("已销号  20（")), "{texts:?}");
        assert!(texts.contains(&"42".to_string()), "the total in the hole: {texts:?}");
    }

    #[test]
    fn empty_data_says_so_in_every_chart() {
        let zero = [StatusCount { status: "closed".into(), sites: 0 }];
        for chart in [trend(&[]), towns(&[]), statuses(&[]), statuses(&zero)] {
            let (_, texts) = parse(&chart.to_svg());
            assert!(texts.contains(&"无数据".to_string()), "{}: {texts:?}", chart.title);
        }
        // All zeros still draw an axis (0–1) without dividing by zero.
        let flat = [TrendPoint { code: "2026-W01".into(), found: 0, closed: 0, open: 0 }];
        let svg = trend(&flat).to_svg();
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    }

    #[test]
    fn text_is_escaped_and_output_is_deterministic() {
        let mut report = sample_report();
        report.towns[0].name = "<镇> & \"村\"".into();
        let chart = towns(&report.towns);
        let svg = chart.to_svg();
        let (_, texts) = parse(&svg);
        assert!(svg.contains("&lt;镇&gt; &amp; &quot;村&quot;"), "{svg}");
        assert!(texts.contains(&"<镇> & \"村\"".to_string()), "{texts:?}");
        assert_eq!(svg, towns(&report.towns).to_svg());
        assert_eq!(statuses(&report.statuses).to_svg(), statuses(&report.statuses).to_svg());
    }

    #[test]
    fn count_bars_draw_a_bar_per_bucket_and_highlight_in_red() {
        let labels: Vec<String> = (0..24).map(|h| h.to_string()).collect();
        let mut counts = vec![0; 24];
        counts[7] = 5;
        counts[23] = 2;
        let mut highlight = vec![false; 24];
        highlight[7] = true;
        let chart = count_bars("按小时", &labels, &counts, &highlight);
        let svg = chart.to_svg();
        let (elements, texts) = parse(&svg);
        assert_eq!(count(&elements, "rect"), 24);
        assert!(texts.contains(&"23".to_string()) && texts.contains(&"5".to_string()), "{texts:?}");
        let reds = chart.shapes.iter().filter(|s| matches!(s, Shape::Rect { fill, .. } if *fill == OVERDUE)).count();
        assert_eq!(reds, 1);
        let (_, texts) = parse(&count_bars("空", &labels, &[0; 24], &[]).to_svg());
        assert!(texts.contains(&"无数据".to_string()));
    }

    #[test]
    fn the_exposure_chart_writes_each_ratio() {
        let rows = [
            ExposureBar {
                label: "三秋农忙".into(), crash_share: 0.24, exposure_share: 0.13, over_represented: true
            },
            ExposureBar {
                label: "三夏农忙".into(), crash_share: 0.0, exposure_share: 0.0, over_represented: false
            },
        ];
        let chart = exposure(&rows);
        let (elements, texts) = parse(&chart.to_svg());
        assert_eq!(count(&elements, "rect"), 3 + 2 * rows.len());
        assert!(texts.contains(&"24% / 13%（×1.85）".to_string()), "{texts:?}");
        assert!(texts.contains(&"0% / 0%".to_string()), "{texts:?}");
        assert!(texts.contains(&"三秋农忙".to_string()));
        let svg = chart.to_svg();
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    }

    #[test]
    fn the_status_colours_are_the_maps() {
        // Read the table the map uses and hold ours to it.
        let js = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/web/common.js")).unwrap();
        for (status, colour) in STATUS_COLOURS {
            let line = format!("{}: '{}'", status.as_str(), colour.hex());
            assert!(js.contains(&line), "web/common.js has no {line:?}");
        }
        assert_eq!(STATUS_COLOURS.len(), SiteStatus::ALL.len());
        assert_eq!(status_style("in_progress"), ("整改中".to_string(), Colour(0x1f, 0x78, 0xb4)));
        assert_eq!(status_style("mystery"), ("mystery".to_string(), UNKNOWN_STATUS));
    }
}
