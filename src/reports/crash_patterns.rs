//! The crash time patterns as charts (hour, weekday and month bars, and the periods against their
//! exposure), and a screening candidate's sheet (事故多发点段候选核查表) as an A4 PDF: where it is, where it
//! came from, its crashes and their patterns. Pure: built from `domain::crash_patterns::Patterns` and the
//! sheet's own rows, so the page's SVG and the PDF's drawings are the same shapes.

use anyhow::Context as _;
use chrono::{DateTime, FixedOffset};

use crate::closeout::CjkFont;
use crate::closeout::render::{BODY, CONTENT_W, Cell, Flow, INK, footers, label, number, value};
use crate::domain::crash_patterns::{Patterns, WEEKDAYS_ZH, over_represented_zh};
use crate::reports::chart::{self, Chart, ExposureBar};
use crate::reports::pdf::{draw_charts, no_decoration, paragraph, table, title_block};

/// The flags of the buckets holding the most crashes (the peak drawn red); none when all are empty.
fn peaks(counts: &[i64]) -> Vec<bool> {
    let max = counts.iter().copied().max().unwrap_or(0);
    counts.iter().map(|c| max > 0 && *c == max).collect()
}

fn bars(title: &str, labels: Vec<String>, counts: Vec<i64>) -> Chart {
    let highlight = peaks(&counts);
    chart::count_bars(title, &labels, &counts, &highlight)
}

/// The four charts of a pattern: by hour of day, by weekday, by month, and the periods against their time.
pub fn charts(p: &Patterns) -> [Chart; 4] {
    let crashes = |rows: &[crate::domain::crash_patterns::Tally]| rows.iter().map(|t| t.crashes).collect();
    let exposure: Vec<ExposureBar> = p
        .periods
        .iter()
        .map(|r| ExposureBar {
            label: r.label.clone(),
            crash_share: r.crash_share.unwrap_or(0.0),
            exposure_share: r.exposure_share,
            over_represented: r.over_represented,
        })
        .collect();
    [
        bars("按小时分布（北京时间）", (0..24).map(|h| h.to_string()).collect(), crashes(&p.hours)),
        bars("按星期分布", WEEKDAYS_ZH.iter().map(|d| d.to_string()).collect(), crashes(&p.weekdays)),
        bars("按月份分布", (1..=12).map(|m| format!("{m}月")).collect(), crashes(&p.months)),
        chart::exposure(&exposure),
    ]
}

/// One crash as the sheet lists it, its values already in words.
#[derive(Debug, Clone, PartialEq)]
pub struct CrashRow {
    /// County time, `2025-01-29 10:15`.
    pub time: String,
    pub severity: String,
    /// Deaths / serious / slight injuries: `1/0/2`.
    pub casualties: String,
    pub crash_type: String,
    pub vehicles: String,
    /// Weather and light: `雨 / 夜间无路灯照明`.
    pub conditions: String,
}

/// A candidate's sheet.
#[derive(Debug, Clone)]
pub struct CandidateSheet {
    pub id: i64,
    /// 事故多发点段候选 for a screening candidate, 隐患候选 for a detection.
    pub title: String,
    /// 待确认, 已确认（YH-000123）, 已排除.
    pub status: String,
    /// Where: road, stakes, town, the point — label and value.
    pub location: Vec<(String, String)>,
    /// Where from: source, run, method, parameters, window, score and rank, crashes.
    pub source: Vec<(String, String)>,
    pub crashes: Vec<CrashRow>,
    /// All its crashes, when more than `crashes` lists.
    pub crashes_total: i64,
    pub patterns: Patterns,
    pub generated_at: DateTime<FixedOffset>,
}

/// The sheet as an A4 PDF. CPU work: call from `spawn_blocking` (the render queue does).
pub fn candidate_pdf(sheet: &CandidateSheet, font: &CjkFont) -> anyhow::Result<Vec<u8>> {
    let title = format!("{} #{}", sheet.title, sheet.id);
    let mut flow = Flow::new(font, (format!("{title}（续）"), sheet.status.clone()));
    let made = format!("生成于 {}（北京时间）", sheet.generated_at.format("%Y-%m-%d %H:%M"));
    title_block(&mut flow, &title, &format!("状态：{}", sheet.status), &made);
    facts_table(&mut flow, "一、位置", &sheet.location);
    facts_table(&mut flow, "二、来源与评分", &sheet.source);
    crash_table(&mut flow, sheet);
    patterns_section(&mut flow, &sheet.patterns);
    let mut pages = flow.pages;
    footers(&mut pages, "候选须经人工核查确认后方可列入隐患台账", font);
    crate::closeout::render::write_document(&title, sheet.generated_at, font, &[], &pages)
        .context("writing the candidate sheet PDF")
}

/// Label–value rows, two pairs to a row.
fn facts_table(flow: &mut Flow<'_>, heading: &str, rows: &[(String, String)]) {
    let (lw, vw) = (CONTENT_W * 0.16, CONTENT_W * 0.34);
    let cells: Vec<Vec<Cell>> = rows
        .chunks(2)
        .map(|pair| {
            let mut cells = Vec::new();
            for (name, text) in pair {
                cells.push(label(lw, name));
                cells.push(value(vw, text.as_str()));
            }
            if pair.len() == 1 {
                // A long last value (the parameters, the place) takes the rest of the row.
                cells.pop();
                cells.push(value(vw + lw + vw, pair[0].1.as_str()));
            }
            cells
        })
        .collect();
    flow.heading(heading, BODY * 3.0);
    for row in cells {
        flow.row(&row, 1);
    }
    flow.y += 12.0;
}

fn crash_table(flow: &mut Flow<'_>, sheet: &CandidateSheet) {
    const WIDTHS: [f32; 6] = [92.0, 76.0, 52.0, 72.0, 92.0, 0.0];
    const TITLES: [&str; 6] = ["时间", "严重程度", "死/重/轻", "事故形态", "车辆", "天气/照明"];
    let last = CONTENT_W - WIDTHS.iter().sum::<f32>();
    let width = |i: usize| if i == 5 { last } else { WIDTHS[i] };
    let heading = format!("三、事故清单（{} 起）", sheet.crashes_total);
    if sheet.crashes.is_empty() {
        flow.heading(&heading, BODY * 2.0);
        paragraph(flow, "该候选没有关联的事故记录。", BODY, INK);
        return;
    }
    let header = || TITLES.iter().enumerate().map(|(i, t)| label(width(i), t)).collect();
    let rows = sheet
        .crashes
        .iter()
        .map(|c| {
            vec![
                number(width(0), c.time.as_str()),
                value(width(1), c.severity.as_str()),
                number(width(2), c.casualties.as_str()),
                value(width(3), c.crash_type.as_str()),
                value(width(4), c.vehicles.as_str()),
                value(width(5), c.conditions.as_str()),
            ]
        })
        .collect();
    table(flow, &heading, &header, rows, &no_decoration);
    if sheet.crashes_total > sheet.crashes.len() as i64 {
        let note = format!("仅列出最早的 {} 起；全部事故见时段规律页面。", sheet.crashes.len());
        paragraph(flow, &note, BODY, INK);
    }
}

fn patterns_section(flow: &mut Flow<'_>, p: &Patterns) {
    let mut words: Vec<String> = p.periods.iter().filter_map(over_represented_zh).collect();
    if words.is_empty() {
        words.push("各时段事故占比与其时间占比相当，未见明显偏高的时段。".to_string());
    }
    let window = format!(
        "统计期 {} 至 {}（{} 天），共 {} 起事故，死亡 {} 人，受伤 {} 人。",
        p.window.from, p.window.to, p.window.days, p.totals.crashes, p.totals.deaths, p.totals.injuries
    );
    flow.heading("四、时段规律", BODY * 4.0);
    paragraph(flow, &window, BODY, INK);
    for w in words {
        paragraph(flow, &format!("· {w}。"), BODY, INK);
    }
    draw_charts(flow, "五、图表", &charts(p));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_is_flagged_and_an_empty_series_has_none() {
        assert_eq!(peaks(&[1, 3, 3, 0]), [false, true, true, false]);
        assert_eq!(peaks(&[0, 0]), [false, false]);
    }
}
