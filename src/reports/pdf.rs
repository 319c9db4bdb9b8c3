//! The weekly summary or monthly bulletin, and the quarterly ranking, as printable A4 PDFs.
//!
//! The layout is the close-out sheet's (`closeout::render`): the same page flow, table rows, Chinese text
//! laid out by the font's advances and the same embedded font subset. Long tables continue on the next page
//! with their header row repeated. The charts are drawn from the same [`Chart`] shapes as the SVG the page
//! shows, as PDF paths, so print and screen agree. CPU work: call from `spawn_blocking`.

use anyhow::Context as _;

use crate::closeout::CjkFont;
use crate::closeout::china_time;
use crate::closeout::render::{
    BODY, BODY_BOTTOM, CONTENT_W, Cell, Flow, INK, LEADING, MARGIN, MUTED, Op, PAGE_W, TITLE, footers, label, number,
    value, wrap, write_document,
};
use crate::domain::report::{Band, Figure, Figures, Ranking, Report};
use crate::reports::chart::{self, Anchor, Chart, Shape};
use crate::reports::{band_zh, china_minutes, days, percent, report_title, with_change};

/// The per-town table's figures, after the town's name: what a bulletin compares town by town.
const TOWN_COLUMNS: [Figure; 8] = [
    Figure::Found,
    Figure::Dispatched,
    Figure::Closed,
    Figure::ClosedOnTime,
    Figure::Overdue,
    Figure::Returned,
    Figure::Relapsed,
    Figure::Open,
];

/// Cell backgrounds of the ranking's band column: warm for 晴, cool for 雨, light enough for black text.
const SUNNY_BG: [u8; 3] = [0xfd, 0xe2, 0x86];
const RAINY_BG: [u8; 3] = [0xbd, 0xd7, 0xee];

/// The weekly summary or monthly bulletin as a PDF.
pub fn report_pdf(report: &Report, font: &CjkFont) -> anyhow::Result<Vec<u8>> {
    let pages = report_pages(report, font);
    let title = format!("{} {}", report_title(report), report.period.title_zh());
    write_document(&title, report.as_of.with_timezone(&china_time()), font, &[], &pages)
        .context("writing the report PDF")
}

/// The quarterly ranking (晴雨榜) as a PDF.
pub fn ranking_pdf(ranking: &Ranking, font: &CjkFont) -> anyhow::Result<Vec<u8>> {
    let pages = ranking_pages(ranking, font);
    let title = format!("{} 晴雨榜", ranking.period.title_zh());
    write_document(&title, ranking.as_of.with_timezone(&china_time()), font, &[], &pages)
        .context("writing the ranking PDF")
}

fn report_pages(report: &Report, font: &CjkFont) -> Vec<Vec<Op>> {
    let title = report_title(report);
    let period = report.period;
    let mut flow = Flow::new(font, (format!("{title}（续）"), period.title_zh()));
    let dates = format!("{}（{} 至 {}）", period.title_zh(), period.start, period.last_day());
    title_block(&mut flow, &title, &dates, &format!("统计截至 {}（北京时间）", china_minutes(report.as_of)));
    totals(&mut flow, report);
    town_table(&mut flow, report);
    overdue_table(&mut flow, report);
    charts(&mut flow, report);
    let mut pages = flow.pages;
    footers(&mut pages, &format!("数据指纹 SHA-256：{}", report.inputs_sha256), font);
    pages
}

/// The title centred (over two lines if it must), then one line with the period left and the time right.
pub(crate) fn title_block(flow: &mut Flow<'_>, title: &str, left: &str, right: &str) {
    for line in wrap(flow.font, title, TITLE, CONTENT_W) {
        let baseline = flow.baseline(flow.y, TITLE);
        flow.text_centre(PAGE_W / 2.0, baseline, TITLE, &line, true, INK);
        flow.y += TITLE * LEADING;
    }
    flow.y += 4.0;
    let baseline = flow.baseline(flow.y, BODY);
    flow.text(MARGIN, baseline, BODY, left, false, INK);
    flow.text_right(PAGE_W - MARGIN, baseline, BODY, right, false, INK);
    flow.y += BODY * LEADING + 8.0;
}

/// Text across the content width, wrapped, each line kept on a page.
pub(crate) fn paragraph(flow: &mut Flow<'_>, text: &str, size: f32, grey: u8) {
    for line in wrap(flow.font, text, size, CONTENT_W) {
        flow.ensure(size * LEADING);
        let baseline = flow.baseline(flow.y, size);
        flow.text(MARGIN, baseline, size, &line, false, grey);
        flow.y += size * LEADING;
    }
    flow.y += 4.0;
}

/// A table whose header row is repeated at the top of every page it runs onto. `decorate` may put shapes
/// under a row's cells (a coloured background), given the row's index, top and height.
pub(crate) fn table(
    flow: &mut Flow<'_>,
    heading: &str,
    header: &dyn Fn() -> Vec<Cell>,
    rows: Vec<Vec<Cell>>,
    decorate: &dyn Fn(usize, f32, f32) -> Option<Op>,
) {
    let header_h = flow.row_height(&header(), 1);
    let first_h = rows.first().map_or(0.0, |r| flow.row_height(r, 1));
    flow.heading(heading, header_h + first_h);
    flow.row(&header(), 1);
    for (i, row) in rows.into_iter().enumerate() {
        let h = flow.row_height(&row, 1);
        if flow.y + h > BODY_BOTTOM {
            flow.start_page();
            flow.row(&header(), 1);
        }
        if let Some(op) = decorate(i, flow.y, h) {
            flow.ops().push(op);
        }
        flow.row(&row, 1);
    }
    flow.y += 12.0;
}

pub(crate) fn no_decoration(_: usize, _: f32, _: f32) -> Option<Op> {
    None
}

/// The county's (or the scope's) totals with their change against the previous period, four to a row,
/// then the medians, and a sentence that says the essentials in words.
fn totals(flow: &mut Flow<'_>, report: &Report) {
    let (now, before) = (&report.totals, &report.previous_totals);
    let summary = format!(
        "本期发现隐患 {} 处（较上期 {}），销号 {} 处（{}），其中按期销号 {} 处；期末在办 {} 处，其中逾期 {} 处（{}）。",
        now.found,
        crate::reports::change(now.found, before.found),
        now.closed,
        crate::reports::change(now.closed, before.closed),
        now.closed_on_time,
        now.open,
        now.overdue,
        crate::reports::change(now.overdue, before.overdue),
    );
    flow.heading("一、总体情况（括号内为较上期增减）", 4.0 * BODY * LEADING);
    paragraph(flow, &summary, BODY, INK);
    let (lw, vw) = (CONTENT_W / 4.0 * 0.45, CONTENT_W / 4.0 * 0.55);
    for figures in Figure::ALL.chunks(4) {
        let mut cells = Vec::new();
        for f in figures {
            cells.push(label(lw, f.label_zh()));
            cells.push(number(vw, with_change(f.of(now), f.of(before))));
        }
        // A short last row is filled out so the table keeps its right edge.
        while cells.len() < 8 {
            cells.push(label(lw, ""));
            cells.push(value(vw, ""));
        }
        flow.row(&cells, 1);
    }
    let medians = medians(now, before);
    let cells: Vec<Cell> = medians
        .into_iter()
        .flat_map(|(name, text)| [label(CONTENT_W / 3.0 * 0.55, name), number(CONTENT_W / 3.0 * 0.45, text)])
        .collect();
    flow.row(&cells, 1);
    flow.y += 12.0;
}

/// The three medians, named for the table, with the previous period's value.
fn medians(now: &Figures, before: &Figures) -> [(&'static str, String); 3] {
    let pair = |a: Option<f64>, b: Option<f64>| format!("{}（上期 {}）", days(a), days(b));
    [
        ("上报至派单（天）", pair(now.median_days_report_to_dispatch, before.median_days_report_to_dispatch)),
        ("派单至响应（天）", pair(now.median_days_dispatch_to_accept, before.median_days_dispatch_to_accept)),
        ("派单至销号（天）", pair(now.median_days_dispatch_to_close, before.median_days_dispatch_to_close)),
    ]
}

fn town_table(flow: &mut Flow<'_>, report: &Report) {
    let name_w = CONTENT_W - TOWN_COLUMNS.len() as f32 * 54.0;
    let header = || {
        let mut cells = vec![label(name_w, "区镇")];
        cells.extend(TOWN_COLUMNS.iter().map(|f| label(54.0, f.label_zh())));
        cells
    };
    let row = |name: &str, now: &Figures, before: &Figures| {
        let mut cells = vec![value(name_w, name)];
        cells.extend(TOWN_COLUMNS.iter().map(|f| number(54.0, with_change(f.of(now), f.of(before)))));
        cells
    };
    let mut rows: Vec<Vec<Cell>> = report.towns.iter().map(|t| row(&t.name, &t.figures, &t.previous)).collect();
    if report.towns.len() > 1 {
        rows.push(row("合计", &report.totals, &report.previous_totals));
    }
    table(flow, "二、分区镇情况", &header, rows, &no_decoration);
}

fn overdue_table(flow: &mut Flow<'_>, report: &Report) {
    const WIDTHS: [f32; 6] = [68.0, 62.0, 100.0, 146.0, 72.0, 62.0];
    let heading = "三、逾期时间最长的隐患";
    if report.worst_overdue.is_empty() {
        flow.heading(heading, BODY * LEADING);
        paragraph(flow, "期末无逾期隐患。", BODY, INK);
        return;
    }
    let header = || {
        ["编号", "区镇", "路段桩号", "责任单位", "整改期限", "逾期天数"]
            .iter()
            .zip(WIDTHS)
            .map(|(t, w)| label(w, t))
            .collect()
    };
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".to_string());
    let rows = report
        .worst_overdue
        .iter()
        .map(|s| {
            vec![
                value(WIDTHS[0], &s.code),
                value(WIDTHS[1], dash(&s.town)),
                value(WIDTHS[2], dash(&s.road)),
                value(WIDTHS[3], dash(&s.responsible_unit)),
                number(WIDTHS[4], s.deadline.format("%Y-%m-%d").to_string()),
                number(WIDTHS[5], s.days_overdue.to_string()),
            ]
        })
        .collect();
    table(flow, heading, &header, rows, &no_decoration);
}

/// The three charts across the content width, each kept whole on a page.
fn charts(flow: &mut Flow<'_>, report: &Report) {
    let charts = [chart::trend(&report.trend), chart::towns(&report.towns), chart::statuses(&report.statuses)];
    draw_charts(flow, "四、图表", &charts);
}

/// Charts under a heading, across the content width, each kept whole on a page.
pub(crate) fn draw_charts(flow: &mut Flow<'_>, heading: &str, charts: &[Chart]) {
    let scale = CONTENT_W / chart::WIDTH;
    flow.heading(heading, charts.first().map_or(0.0, |c| c.height * scale));
    for chart in charts {
        let h = chart.height * scale;
        flow.ensure(h + 8.0);
        let (x, y) = (MARGIN, flow.y);
        let ops = chart_ops(chart, flow.font, (x, y), scale);
        flow.ops().extend(ops);
        flow.rect(x, y, CONTENT_W, h, None, Some((0.4, MUTED)));
        flow.y += h + 10.0;
    }
}

/// A chart's shapes as page drawing operations, its box placed at `origin` and scaled by `scale`. Text is
/// drawn in the grey of its colour (chart text is dark: titles, labels, values).
pub(crate) fn chart_ops(chart: &Chart, font: &CjkFont, (x0, y0): (f32, f32), scale: f32) -> Vec<Op> {
    let at = |x: f32, y: f32| (x0 + x * scale, y0 + y * scale);
    let rgb = |c: chart::Colour| [c.0, c.1, c.2];
    chart
        .shapes
        .iter()
        .map(|shape| match shape {
            Shape::Rect { x, y, w, h, fill } => Op::Shape {
                points: vec![at(*x, *y), at(x + w, *y), at(x + w, y + h), at(*x, y + h)],
                closed: true,
                fill: Some(rgb(*fill)),
                stroke: None,
            },
            Shape::Line { points, stroke, width } => Op::Shape {
                points: points.iter().map(|(x, y)| at(*x, *y)).collect(),
                closed: false,
                fill: None,
                stroke: Some((width * scale, rgb(*stroke))),
            },
            Shape::Polygon { points, fill } => Op::Shape {
                points: points.iter().map(|(x, y)| at(*x, *y)).collect(),
                closed: true,
                fill: Some(rgb(*fill)),
                stroke: None,
            },
            Shape::Text { x, y, size, text, anchor, fill } => {
                let size = size * scale;
                let w = font.width(text, size);
                let (px, baseline) = at(*x, *y);
                let x = match anchor {
                    Anchor::Start => px,
                    Anchor::Middle => px - w / 2.0,
                    Anchor::End => px - w,
                };
                Op::Text { x, baseline, size, text: text.clone(), bold: false, grey: fill.luma() }
            }
        })
        .collect()
}

fn ranking_pages(ranking: &Ranking, font: &CjkFont) -> Vec<Vec<Op>> {
    let title = format!("{} 晴雨榜", ranking.period.title_zh());
    let mut flow = Flow::new(font, (format!("{title}（续）"), String::new()));
    let as_of = format!("统计截至 {}（北京时间）", china_minutes(ranking.as_of));
    title_block(&mut flow, &title, "各区镇农村道路交通安全隐患排查整治工作排名", &as_of);
    let w = &ranking.weights;
    let weights = format!(
        "权重：按期整改率 {}、逾期数 {}、退回率 {}、反弹率 {}、响应时间 {}。晴：前 {} 名；雨：后 {} 名。",
        w.on_time_rate,
        w.overdue,
        w.return_rate,
        w.relapse_rate,
        w.response_days,
        ranking.bands.sunny,
        ranking.bands.rainy
    );
    paragraph(&mut flow, &weights, BODY, INK);
    ranking_table(&mut flow, ranking);
    flow.heading("计分方法", 3.0 * BODY * LEADING);
    paragraph(&mut flow, SCORING, BODY, INK);
    let mut pages = flow.pages;
    footers(&mut pages, &format!("数据指纹 SHA-256：{}", ranking.inputs_sha256), font);
    pages
}

/// How the score is computed, in the words of `domain::report::rank`'s doc comment.
const SCORING: &str = "每项指标在有该项数值的区镇之间折算为 0–100 分：最好者 100 分，最差者 0 分，其间按比例折算（全部相同时均为 \
100 分）。按期整改率越高越好；逾期数、退回率、反弹率、响应天数越低越好。某项无数值的区镇（如本季度无销号、无回头看）取其他区镇该项得分的\
平均值，既不加分也不减分。总分为五项得分按权重的加权平均，保留两位小数。同分时依次比较按期整改率（无者最低）、逾期数（少者在前）、\
区镇代码。前若干名为晴、后若干名为雨，各不超过全部区镇的一半。";

fn ranking_table(flow: &mut Flow<'_>, ranking: &Ranking) {
    const WIDTHS: [f32; 9] = [36.0, 84.0, 50.0, 70.0, 40.0, 56.0, 56.0, 60.0, 58.0];
    const TITLES: [&str; 9] = ["名次", "区镇", "得分", "按期整改率", "逾期", "退回率", "反弹率", "响应天数", "晴雨"];
    // The sun and umbrella say the band at a glance where the font draws them; the word is always there.
    let mark = |band: Band, symbol: char| {
        let word = band_zh(band);
        if flow.font.has_glyph(symbol) { format!("{symbol} {word}") } else { word.to_string() }
    };
    let (sunny, rainy) = (mark(Band::Sunny, '☀'), mark(Band::Rainy, '☂'));
    let header = || TITLES.iter().zip(WIDTHS).map(|(t, w)| label(w, t)).collect();
    let rows = ranking
        .towns
        .iter()
        .map(|t| {
            let m = &t.measures;
            let band = match t.band {
                Band::Sunny => sunny.clone(),
                Band::Middle => String::new(),
                Band::Rainy => rainy.clone(),
            };
            vec![
                number(WIDTHS[0], t.rank.to_string()),
                value(WIDTHS[1], &t.name),
                number(WIDTHS[2], format!("{:.2}", t.score)),
                number(WIDTHS[3], percent(m.on_time_rate)),
                number(WIDTHS[4], m.overdue.to_string()),
                number(WIDTHS[5], percent(m.return_rate)),
                number(WIDTHS[6], percent(m.relapse_rate)),
                number(WIDTHS[7], days(m.response_days)),
                number(WIDTHS[8], band),
            ]
        })
        .collect();
    let band_x = MARGIN + WIDTHS[..8].iter().sum::<f32>();
    let bands: Vec<Band> = ranking.towns.iter().map(|t| t.band).collect();
    let decorate = |i: usize, y: f32, h: f32| {
        let fill = match bands[i] {
            Band::Sunny => SUNNY_BG,
            Band::Rainy => RAINY_BG,
            Band::Middle => return None,
        };
        let (x, w) = (band_x, WIDTHS[8]);
        Some(Op::Shape {
            points: vec![(x, y), (x + w, y), (x + w, y + h), (x, y + h)],
            closed: true,
            fill: Some(fill),
            stroke: None,
        })
    };
    table(flow, "排名", &header, rows, &decorate);
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;
    use crate::closeout::render::{PAD, PAGE_H};
    use crate::reports::fixtures::{report_with_towns, sample_ranking, sample_report};

    fn font() -> &'static CjkFont {
        // A system package, like PostGIS for the database tests: scripts/test.sh installs it.
        CjkFont::shared(None).expect("a Chinese font: install the Debian package fonts-noto-cjk")
    }

    /// Runs a poppler tool on the PDF and returns its standard output.
    fn poppler(tool: &str, args: &[&str], pdf: &[u8]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.pdf");
        std::fs::write(&path, pdf).unwrap();
        let output = Command::new(tool)
            .args(args)
            .arg(&path)
            .arg("-")
            .output()
            .unwrap_or_else(|e| panic!("{tool} ({e}): install Debian poppler-utils (scripts/test.sh does)"));
        assert!(output.status.success(), "{tool}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    }

    /// The text of a PDF without whitespace: pdftotext breaks lines and drops narrow spaces as it likes.
    fn squeezed(text: &str) -> String {
        text.chars().filter(|c| !c.is_whitespace()).collect()
    }

    fn texts(page: &[Op]) -> Vec<&str> {
        page.iter()
            .filter_map(|op| match op {
                Op::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    fn shapes(page: &[Op]) -> usize {
        page.iter().filter(|op| matches!(op, Op::Shape { .. })).count()
    }

    #[test]
    fn a_weekly_summary_prints_its_figures_tables_and_charts() {
        let report = sample_report();

        let pdf = report_pdf(&report, font()).unwrap();

        assert!(pdf.starts_with(b"%PDF-"));
        if let Some(out) = std::env::var_os("REPORT_PDF_OUT") {
            std::fs::write(out, &pdf).unwrap();
        }
        let text = squeezed(&poppler("pdftotext", &[], &pdf));
        for expected in [
            "全县农村道路交通安全隐患排查整治周总结",
            "2026年第48周（2026-11-23至2026-11-29）",
            "统计截至2026-11-3000:00（北京时间）",
            // Totals with their change: 12 closed against 6.
            "销号12（+6）",
            "逾期6（+2）",
            // The town table, in code order, and its total row.
            "金港镇3（+1）3（+1）4（+3）4（+3）0（0）",
            "合计",
            // The worst overdue site.
            "YH-000017杨舍镇X202K12+300杨舍镇农村公路管理所2026-10-3130",
            // Chart labels only the charts print: an early week of the trend, the donut's title and legend.
            "2026-W41",
            "期末各状态隐患分布",
            "已销号20（47.6%）",
            "7（逾期4）",
            "数据指纹SHA-256：5f2b5f2b",
        ] {
            assert!(text.contains(expected), "{expected:?} is not in the PDF:\n{text}");
        }
    }

    /// The fill colours poppler's cairo backend draws on a page, as 8-bit RGB.
    fn fills(pdf: &[u8], page: usize) -> Vec<[u8; 3]> {
        let page = page.to_string();
        let svg = poppler("pdftocairo", &["-svg", "-f", &page, "-l", &page], pdf);
        svg.split("fill:rgb(")
            .skip(1)
            .map(|rest| {
                let channels: Vec<u8> = rest[..rest.find(')').unwrap()]
                    .split(',')
                    .map(|c| (c.trim_end_matches('%').parse::<f32>().unwrap() * 2.55).round() as u8)
                    .collect();
                [channels[0], channels[1], channels[2]]
            })
            .collect()
    }

    /// The charts are drawn, not only named: the pages hold one path per bar, line and wedge of the three
    /// charts (and the tables none), and poppler paints every status with sites in its map colour on the
    /// donut's page, where the table pages have no colour at all.
    #[test]
    fn the_charts_are_vector_drawings_in_the_pdf() {
        let report = sample_report();
        let pages = report_pages(&report, font());
        let charts = [chart::trend(&report.trend), chart::towns(&report.towns), chart::statuses(&report.statuses)];
        let drawn: usize = charts.iter().flat_map(|c| &c.shapes).filter(|s| !matches!(s, Shape::Text { .. })).count();
        assert_eq!(pages.iter().map(|p| shapes(p)).sum::<usize>(), drawn);
        assert_eq!(shapes(&pages[0]), 0, "the first page is tables only");

        let pdf = report_pdf(&report, font()).unwrap();
        let donut = fills(&pdf, pages.len());
        for status in report.statuses.iter().filter(|s| s.sites > 0) {
            let chart::Colour(r, g, b) = chart::status_style(&status.status).1;
            assert!(donut.contains(&[r, g, b]), "{} is not painted: {donut:?}", status.status);
        }
        let grey = |c: &[u8; 3]| c[0] == c[1] && c[1] == c[2];
        assert!(fills(&pdf, 1).iter().all(grey), "the tables are black and grey");
    }

    #[test]
    fn a_hundred_towns_run_over_pages_with_the_header_repeated() {
        let report = report_with_towns(100);
        let pages = report_pages(&report, font());

        assert!(pages.len() > 2, "{} pages", pages.len());
        for (i, page) in pages.iter().enumerate() {
            for op in page {
                let bottom = match op {
                    Op::Text { baseline, .. } => *baseline,
                    Op::Rect { y, h, .. } | Op::Photo { y, h, .. } => y + h,
                    Op::Shape { points, .. } => points.iter().map(|p| p.1).fold(0.0, f32::max),
                };
                assert!(bottom <= PAGE_H - MARGIN + 0.01, "page {}: {op:?} runs into the bottom margin", i + 1);
            }
        }
        // Every page the town table runs onto starts with its header. (A table cell's text starts a cell's
        // padding from the margin; the towns chart's labels do not.)
        let in_table = |op: &Op| matches!(op, Op::Text { x, text, .. } if *x == MARGIN + PAD && text.starts_with('第'));
        let town_pages: Vec<&Vec<Op>> = pages.iter().filter(|p| p.iter().any(in_table)).collect();
        assert!(town_pages.len() > 1);
        for page in &town_pages[1..] {
            assert!(texts(page).contains(&"区镇"), "a continued page without the header");
        }
        let pdf = report_pdf(&report, font()).unwrap();
        if let Some(out) = std::env::var_os("REPORT_100_PDF_OUT") {
            std::fs::write(out, &pdf).unwrap();
        }
        let text = squeezed(&poppler("pdftotext", &[], &pdf));
        for i in 1..=100 {
            assert!(text.contains(&format!("第{i}镇")), "第{i}镇 is missing");
        }
        assert!(text.contains(&format!("第1页/共{}页", pages.len())), "{text}");
    }

    #[test]
    fn an_empty_report_and_board_still_print() {
        let mut report = sample_report();
        report.towns.clear();
        report.worst_overdue.clear();
        report.trend.clear();
        report.statuses.clear();
        let mut ranking = sample_ranking();
        ranking.towns.clear();

        let text = squeezed(&poppler("pdftotext", &[], &report_pdf(&report, font()).unwrap()));
        assert!(text.contains("期末无逾期隐患。"), "{text}");
        assert_eq!(text.matches("无数据").count(), 3, "{text}");
        let text = squeezed(&poppler("pdftotext", &[], &ranking_pdf(&ranking, font()).unwrap()));
        assert!(text.contains("计分方法"), "{text}");
        assert!(crate::reports::xlsx::report_xlsx(&report).is_ok());
        assert!(crate::reports::xlsx::ranking_xlsx(&ranking).is_ok());
    }

    #[test]
    fn a_ranking_prints_the_board_the_weights_and_the_rule() {
        let ranking = sample_ranking();
        let font = font();

        let pdf = ranking_pdf(&ranking, font).unwrap();

        if let Some(out) = std::env::var_os("RANKING_PDF_OUT") {
            std::fs::write(out, &pdf).unwrap();
        }
        let text = squeezed(&poppler("pdftotext", &[], &pdf));
        for expected in [
            "2026年第四季度晴雨榜",
            "权重：按期整改率35、逾期数25、退回率15、反弹率15、响应时间10",
            // Rank, town, score, on-time rate (38/40), overdue, return rate, relapse rate, response days, band.
            "1金港镇96.5095.0%00.0%0.0%0.5",
            "3锦丰镇50.00—0———",
            "计分方法",
            "最好者100分",
        ] {
            assert!(text.contains(expected), "{expected:?} is not in the PDF:\n{text}");
        }
        // The band is a word, with its symbol when the font has one.
        let sun = if font.has_glyph('☀') { "☀晴" } else { "晴" };
        let rain = if font.has_glyph('☂') { "☂雨" } else { "雨" };
        assert!(text.contains(sun) && text.contains(rain), "{text}");
        // And a coloured cell: the sunny and the rainy rows' band cells are filled.
        let pages = ranking_pages(&ranking, font);
        let fills: Vec<[u8; 3]> = pages
            .iter()
            .flatten()
            .filter_map(|op| match op {
                Op::Shape { fill: Some(fill), .. } => Some(*fill),
                _ => None,
            })
            .collect();
        assert_eq!(fills, [SUNNY_BG, RAINY_BG]);
    }
}
