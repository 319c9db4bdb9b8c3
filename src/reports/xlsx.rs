//! The weekly summary or monthly bulletin, and the quarterly ranking, as workbooks for the office to sort,
//! filter and paste into its own reports. Numbers are written as numbers, dates as dates and rates as
//! fractions with a percent format, so a sum or a chart in Excel works on them; nothing to measure is an
//! empty cell, never a zero. Built in memory (a report is a few hundred rows): CPU work, run it in
//! `spawn_blocking`.

use chrono::NaiveDate;
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use crate::closeout::china_time;
use crate::domain::labels;
use crate::domain::report::{Figure, Figures, Ranking, Report};
use crate::reports::chart::status_style;
use crate::reports::{band_zh, report_title};

/// One cell as the workbook stores it.
enum Value {
    Text(String),
    Int(i64),
    /// Days, to one decimal; `None` is an empty cell.
    Days(Option<f64>),
    /// A fraction shown as a percentage; `None` is an empty cell.
    Rate(Option<f64>),
    Date(NaiveDate),
}

fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

/// Writes a header row and the rows under it from row `top`, bold header, frozen when it is the first row.
fn write_table(sheet: &mut Worksheet, top: u32, headers: &[&str], rows: &[Vec<Value>]) -> Result<(), XlsxError> {
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let days = Format::new().set_num_format("0.0");
    let rate = Format::new().set_num_format("0.0%");
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string_with_format(top, c as u16, *h, &bold)?;
        // CJK characters are about two columns wide.
        sheet.set_column_width(c as u16, (2 * h.chars().count() + 4).max(10) as f64)?;
    }
    if top == 0 {
        sheet.set_freeze_panes(1, 0)?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = top + 1 + r as u32;
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                // Nothing known is an empty cell, as for numbers.
                Value::Text(s) if s.is_empty() => continue,
                Value::Text(s) => sheet.write_string(r, c, s)?,
                Value::Int(n) => sheet.write_number(r, c, *n as f64)?,
                Value::Days(Some(d)) => sheet.write_number_with_format(r, c, *d, &days)?,
                Value::Rate(Some(x)) => sheet.write_number_with_format(r, c, *x, &rate)?,
                Value::Days(None) | Value::Rate(None) => continue,
                Value::Date(d) => sheet.write_date_with_format(r, c, d, &date)?,
            };
        }
    }
    Ok(())
}

/// The three medians with their Chinese names, as columns after the counts.
fn medians(f: &Figures) -> [(&'static str, Option<f64>); 3] {
    [
        ("上报至派单中位天数", f.median_days_report_to_dispatch),
        ("派单至响应中位天数", f.median_days_dispatch_to_accept),
        ("派单至销号中位天数", f.median_days_dispatch_to_close),
    ]
}

/// Four sheets: 汇总 (the totals against the previous period), 分区镇 (every figure of every town), 逾期隐患
/// (the longest overdue) and 趋势 (the trend's periods).
pub fn report_xlsx(report: &Report) -> anyhow::Result<Vec<u8>> {
    let mut workbook = Workbook::new();
    summary_sheet(workbook.add_worksheet().set_name("汇总")?, report)?;
    towns_sheet(workbook.add_worksheet().set_name("分区镇")?, report)?;
    overdue_sheet(workbook.add_worksheet().set_name("逾期隐患")?, report)?;
    trend_sheet(workbook.add_worksheet().set_name("趋势")?, report)?;
    Ok(workbook.save_to_buffer()?)
}

fn summary_sheet(sheet: &mut Worksheet, report: &Report) -> Result<(), XlsxError> {
    let (now, before) = (&report.totals, &report.previous_totals);
    let mut rows: Vec<Vec<Value>> = Figure::ALL
        .iter()
        .map(|f| {
            let (a, b) = (f.of(now), f.of(before));
            vec![text(f.label_zh()), Value::Int(a), Value::Int(b), Value::Int(a - b)]
        })
        .collect();
    for ((name, a), (_, b)) in medians(now).into_iter().zip(medians(before)) {
        let change = a.zip(b).map(|(a, b)| a - b);
        rows.push(vec![text(name), Value::Days(a), Value::Days(b), Value::Days(change)]);
    }
    let this = format!("本期（{}）", report.period.code());
    let previous = format!("上期（{}）", report.previous_period.code());
    write_table(sheet, 0, &["指标", &this, &previous, "增减"], &rows)?;
    // Under the table: what the numbers are, so a copied sheet still says it.
    let at = report.as_of.with_timezone(&china_time()).naive_local();
    let about = rows.len() as u32 + 2;
    let when = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    sheet.write_string(about, 0, "报告")?;
    sheet.write_string(about, 1, format!("{} {}", report_title(report), report.period.title_zh()))?;
    sheet.write_string(about + 1, 0, "统计截至（北京时间）")?;
    sheet.write_datetime_with_format(about + 1, 1, at, &when)?;
    sheet.write_string(about + 2, 0, "数据指纹 SHA-256")?;
    sheet.write_string(about + 2, 1, &report.inputs_sha256)?;
    sheet.set_column_width(0, 22)?;
    Ok(())
}

fn towns_sheet(sheet: &mut Worksheet, report: &Report) -> Result<(), XlsxError> {
    let mut headers = vec!["区镇代码", "区镇"];
    headers.extend(Figure::ALL.iter().map(|f| f.label_zh()));
    headers.extend(medians(&report.totals).map(|(name, _)| name));
    let row = |code: &str, name: &str, f: &Figures| {
        let mut cells = vec![text(code), text(name)];
        cells.extend(Figure::ALL.iter().map(|fig| Value::Int(fig.of(f))));
        cells.extend(medians(f).map(|(_, d)| Value::Days(d)));
        cells
    };
    let mut rows: Vec<Vec<Value>> =
        report.towns.iter().map(|t| row(t.code.as_deref().unwrap_or(""), &t.name, &t.figures)).collect();
    rows.push(row("", "合计", &report.totals));
    write_table(sheet, 0, &headers, &rows)
}

fn overdue_sheet(sheet: &mut Worksheet, report: &Report) -> Result<(), XlsxError> {
    let headers = ["编号", "区镇", "路段桩号", "点位类型", "隐患等级", "责任单位", "状态", "整改期限", "逾期天数"];
    let or_empty = |v: &Option<String>| text(v.clone().unwrap_or_default());
    let rows: Vec<Vec<Value>> = report
        .worst_overdue
        .iter()
        .map(|s| {
            let kind = s.kind.parse().map_or_else(|_| s.kind.clone(), |k| labels::site_kind(k).to_string());
            let level = s.hazard_level.as_deref().map(|l| labels::lookup(labels::HAZARD_LEVELS, l).unwrap_or(l));
            vec![
                text(&s.code),
                or_empty(&s.town),
                or_empty(&s.road),
                text(kind),
                text(level.unwrap_or_default()),
                or_empty(&s.responsible_unit),
                text(status_style(&s.status).0),
                Value::Date(s.deadline),
                Value::Int(s.days_overdue),
            ]
        })
        .collect();
    write_table(sheet, 0, &headers, &rows)
}

fn trend_sheet(sheet: &mut Worksheet, report: &Report) -> Result<(), XlsxError> {
    let rows: Vec<Vec<Value>> = report
        .trend
        .iter()
        .map(|p| vec![text(&p.code), Value::Int(p.found), Value::Int(p.closed), Value::Int(p.open)])
        .collect();
    write_table(sheet, 0, &["期间", "发现", "销号", "期末在办"], &rows)
}

/// Two sheets: 晴雨榜 (the board, measures as numbers) and 权重 (the weights and bands it was ranked with).
pub fn ranking_xlsx(ranking: &Ranking) -> anyhow::Result<Vec<u8>> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet().set_name("晴雨榜")?;
    let headers = ["名次", "区镇代码", "区镇", "得分", "按期整改率", "逾期", "退回率", "反弹率", "响应天数", "晴雨"];
    let rows: Vec<Vec<Value>> = ranking
        .towns
        .iter()
        .map(|t| {
            let m = &t.measures;
            vec![
                Value::Int(t.rank as i64),
                text(&t.code),
                text(&t.name),
                Value::Days(Some(t.score)),
                Value::Rate(m.on_time_rate),
                Value::Int(m.overdue),
                Value::Rate(m.return_rate),
                Value::Rate(m.relapse_rate),
                Value::Days(m.response_days),
                text(band_zh(t.band)),
            ]
        })
        .collect();
    write_table(sheet, 0, &headers, &rows)?;
    // The score keeps its two decimals.
    sheet.set_column_format(3, &Format::new().set_num_format("0.00"))?;

    let sheet = workbook.add_worksheet().set_name("权重")?;
    let w = &ranking.weights;
    let points = |p: f64| Value::Days(Some(p));
    let rows = vec![
        vec![text("按期整改率"), points(w.on_time_rate)],
        vec![text("逾期数"), points(w.overdue)],
        vec![text("退回率"), points(w.return_rate)],
        vec![text("反弹率"), points(w.relapse_rate)],
        vec![text("响应时间"), points(w.response_days)],
        vec![text("晴（前几名）"), Value::Int(ranking.bands.sunny as i64)],
        vec![text("雨（后几名）"), Value::Int(ranking.bands.rainy as i64)],
        vec![text("数据指纹 SHA-256"), text(&ranking.inputs_sha256)],
    ];
    write_table(sheet, 0, &["项目", "权重"], &rows)?;
    Ok(workbook.save_to_buffer()?)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use calamine::{Data, Reader, Xlsx};

    use super::*;
    use crate::reports::fixtures::{sample_ranking, sample_report};

    fn open(bytes: Vec<u8>) -> Xlsx<Cursor<Vec<u8>>> {
        Xlsx::new(Cursor::new(bytes)).expect("a readable workbook")
    }

    /// The cell at a row and column (0-based) of a sheet.
    fn cell(book: &mut Xlsx<Cursor<Vec<u8>>>, sheet: &str, row: u32, col: u32) -> Data {
        let range = book.worksheet_range(sheet).unwrap_or_else(|e| panic!("sheet {sheet}: {e}"));
        range.get_value((row, col)).cloned().unwrap_or(Data::Empty)
    }

    fn s(v: &str) -> Data {
        Data::String(v.to_string())
    }

    #[test]
    fn a_report_workbook_has_four_sheets_of_numbers_and_dates() {
        let report = sample_report();
        let mut book = open(report_xlsx(&report).unwrap());

        assert_eq!(book.sheet_names(), ["汇总", "分区镇", "逾期隐患", "趋势"]);
        // 汇总: 销号 (the fourth figure) is 12 against 6.
        assert_eq!(cell(&mut book, "汇总", 0, 1), s("本期（2026-W48）"));
        assert_eq!(cell(&mut book, "汇总", 4, 0), s("销号"));
        assert_eq!(
            [1, 2, 3].map(|c| cell(&mut book, "汇总", 4, c)),
            [Data::Float(12.0), Data::Float(6.0), Data::Float(6.0)]
        );
        assert_eq!(cell(&mut book, "汇总", 16, 0), s("上报至派单中位天数"));
        assert_eq!(cell(&mut book, "汇总", 16, 1), Data::Float(1.5));
        let hash_row = Figure::ALL.len() as u32 + 3 + 2 + 2;
        assert_eq!(cell(&mut book, "汇总", hash_row, 1), s(&report.inputs_sha256));

        // 分区镇: every figure, then the medians; 杨舍镇 is the second town.
        assert_eq!(cell(&mut book, "分区镇", 0, 2), s("发现"));
        assert_eq!(cell(&mut book, "分区镇", 0, 16), s("督办在办"));
        assert_eq!(cell(&mut book, "分区镇", 0, 19), s("派单至销号中位天数"));
        assert_eq!(cell(&mut book, "分区镇", 2, 0), s("320582002"));
        assert_eq!(cell(&mut book, "分区镇", 2, 1), s("杨舍镇"));
        assert_eq!(cell(&mut book, "分区镇", 2, 7), Data::Float(4.0), "杨舍镇's overdue");
        assert_eq!(cell(&mut book, "分区镇", 2, 18), Data::Float(4.5), "its median days to respond");
        assert_eq!(cell(&mut book, "分区镇", 4, 1), s("合计"));
        assert_eq!(cell(&mut book, "分区镇", 4, 5), Data::Float(12.0));

        // 逾期隐患: the deadline is a date cell, the codes are in Chinese.
        assert_eq!(cell(&mut book, "逾期隐患", 1, 0), s("YH-000017"));
        assert_eq!(cell(&mut book, "逾期隐患", 1, 3), s("隐患点"));
        assert_eq!(cell(&mut book, "逾期隐患", 1, 4), s("较大"));
        assert_eq!(cell(&mut book, "逾期隐患", 1, 6), s("整改中"));
        let Data::DateTime(deadline) = cell(&mut book, "逾期隐患", 1, 7) else {
            panic!("the deadline is not a date")
        };
        assert!(deadline.is_datetime());
        assert_eq!(deadline.to_ymd_hms_milli(), (2026, 10, 31, 0, 0, 0, 0));
        assert_eq!(cell(&mut book, "逾期隐患", 1, 8), Data::Float(30.0));
        assert_eq!(cell(&mut book, "逾期隐患", 3, 2), Data::Empty, "no road: an empty cell");

        // 趋势: eight periods, oldest first.
        assert_eq!(cell(&mut book, "趋势", 1, 0), s("2026-W41"));
        assert_eq!(cell(&mut book, "趋势", 8, 0), s("2026-W48"));
        assert_eq!(cell(&mut book, "趋势", 8, 2), Data::Float(12.0));
    }

    #[test]
    fn a_ranking_workbook_keeps_rates_as_fractions_and_nothing_as_empty() {
        let mut book = open(ranking_xlsx(&sample_ranking()).unwrap());

        assert_eq!(book.sheet_names(), ["晴雨榜", "权重"]);
        assert_eq!(cell(&mut book, "晴雨榜", 1, 2), s("金港镇"));
        assert_eq!(cell(&mut book, "晴雨榜", 1, 3), Data::Float(96.5));
        assert_eq!(cell(&mut book, "晴雨榜", 1, 4), Data::Float(0.95));
        assert_eq!(cell(&mut book, "晴雨榜", 1, 9), s("晴"));
        // 锦丰镇 has nothing to measure: empty cells, not zeros.
        assert_eq!(cell(&mut book, "晴雨榜", 3, 2), s("锦丰镇"));
        assert_eq!(cell(&mut book, "晴雨榜", 3, 4), Data::Empty);
        assert_eq!(cell(&mut book, "晴雨榜", 3, 5), Data::Float(0.0));
        assert_eq!(cell(&mut book, "晴雨榜", 4, 9), s("雨"));
        assert_eq!(cell(&mut book, "权重", 1, 1), Data::Float(35.0));
        assert_eq!(cell(&mut book, "权重", 6, 1), Data::Float(1.0));
    }
}
