//! Benchmark: rendering one close-out sheet (销号单) PDF, without the database or HTTP.
//!
//! The sheet is a hazard spot with the three ones (三个一), as `tests/it/closeout.rs` closes it: three items, a
//! before-photo, an after-photo per item and the lamp's night photo, as 320 × 240 JPEG thumbnails like the
//! photo store keeps. Prints, with time and peak-RSS growth (VmHWM, reset before each row):
//! - the first render of the process, which loads the ~20 MB font (`CjkFont::shared`);
//! - loading the font alone (`CjkFont::load`, not cached), the part of the first render that is paid once;
//! - warm renders (font cached), the cost of every later sheet;
//! - baselines in the same run: the same sheet without photos (layout, text and font subsetting only), and
//!   the layout alone (no PDF written).
//!
//! Run: `cargo bench --bench closeout` (needs the Debian package fonts-noto-cjk).

mod common;

use common::{peak_rss_mib, reset_peak_rss};

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, NaiveDate};
use roadledger::closeout::{self, CjkFont, Photo, PhotoUse, Sheet, SheetItem, Stamp};

const RUNS: usize = 15;

fn main() {
    let sheet = spot_sheet();
    let photo_bytes: usize = sheet.photos.iter().filter_map(|p| p.jpeg.as_ref()).map(Bytes::len).sum();
    println!(
        "sheet: {} items, {} distinct JPEG thumbnails ({photo_bytes} bytes)",
        sheet.items.len(),
        sheet.photos.len()
    );
    println!(
        "{:<46} {:>5} {:>10} {:>10} {:>14} {:>10}",
        "what", "runs", "median ms", "min ms", "peak RSS +MiB", "PDF bytes"
    );

    // First: nothing is loaded yet in this process.
    let base = reset_peak_rss();
    let start = Instant::now();
    let font = CjkFont::shared(None).expect("a Chinese font: install the Debian package fonts-noto-cjk");
    let pdf = closeout::render(&sheet, font).unwrap();
    let first = start.elapsed();
    report("first render (loads the font)", 1, first, first, peak_rss_mib() - base, pdf.len());

    let path = font.path().to_path_buf();
    let base = reset_peak_rss();
    let (median, min) = time(|| {
        black_box(CjkFont::load(&path).unwrap());
    });
    report("baseline: font load only (uncached)", RUNS, median, min, peak_rss_mib() - base, 0);

    let base = reset_peak_rss();
    let mut size = 0;
    let (median, min) = time(|| size = black_box(closeout::render(&sheet, font).unwrap()).len());
    report("warm render, with 5 photos", RUNS, median, min, peak_rss_mib() - base, size);

    let mut no_photos = sheet.clone();
    no_photos.photos.iter_mut().for_each(|p| p.jpeg = None);
    let base = reset_peak_rss();
    let (median, min) = time(|| size = black_box(closeout::render(&no_photos, font).unwrap()).len());
    report("baseline: warm render, no photos", RUNS, median, min, peak_rss_mib() - base, size);

    let base = reset_peak_rss();
    let (median, min) = time(|| {
        black_box(closeout::page_count(&sheet, font));
    });
    report("baseline: layout only (no PDF)", RUNS, median, min, peak_rss_mib() - base, 0);

    println!("pages: {}; font: {} ({})", closeout::page_count(&sheet, font), font.family(), path.display());
    println!("process peak RSS: {:.1} MiB", peak_rss_mib());
}

/// The sheet of a closed hazard spot, as `Sheet::from_detail` makes it for the test site.
fn spot_sheet() -> Sheet {
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap();
    let photos: Vec<Photo> = (0..5)
        .map(|i| Photo { sha256: format!("{i:064x}"), jpeg: Some(Bytes::from(thumbnail(i as u64 + 1, i == 4))) })
        .collect();
    let before = PhotoUse { photo: 0, by: "张伟".into(), at: Some(at("2026-11-28T09:15:00+08:00")) };
    let after = |photo| PhotoUse { photo, by: "钱整改".into(), at: Some(at("2026-11-30T10:02:00+08:00")) };
    let item = |name: &str, photo, night: Option<usize>| SheetItem {
        name: name.into(),
        state: "已验收".into(),
        quantity: Some(2),
        installed_on: NaiveDate::from_ymd_opt(2026, 11, 20),
        installer: Some("张家港交通工程公司".into()),
        reason: None,
        before: Some(before.clone()),
        after: Some(after(photo)),
        night: night.map(after),
        night_expected: night.is_some(),
    };
    let stamp = |actor: &str, t: &str| Some(Stamp { actor: actor.into(), at: at(t) });
    Sheet {
        code: "YH-000123".into(),
        town: Some("杨舍镇".into()),
        road_and_stake: Some("X202 K12+300".into()),
        kind: "隐患点（三个一）".into(),
        hazard_types: vec!["急弯".into(), "临水无护栏".into()],
        hazard_level: Some("一般".into()),
        supervision: None,
        responsible_unit: Some("农村公路管理处".into()),
        deadline: NaiveDate::from_ymd_opt(2026, 12, 28),
        opened: stamp("张伟", "2026-11-28T09:15:00+08:00"),
        dispatched: stamp("赵调度", "2026-11-28T14:00:00+08:00"),
        close_out_requested: stamp("钱整改", "2026-11-30T10:10:00+08:00"),
        approved: stamp("李验收", "2026-11-30T15:30:00+08:00"),
        items: vec![item("一条线", 1, None), item("一块牌", 2, None), item("一盏灯", 3, Some(4))],
        photos,
        generated_at: at("2026-12-01T09:00:00+08:00"),
    }
}

/// A 320 × 240 JPEG that compresses like a phone photo's thumbnail (sky, road, noise), ~20–30 kB.
fn thumbnail(seed: u64, night: bool) -> Vec<u8> {
    let (w, h) = (320u32, 240u32);
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ seed;
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let noise = (state % 24) as u8;
        let dim = |v: u8| if night { v / 5 } else { v };
        if y < h / 2 {
            image::Rgb([dim(120 + noise), dim(170 + noise), dim(230u8.saturating_sub(noise))])
        } else {
            let stripe = if (x / 10) % 5 == 0 && y % 60 < 30 { 200 } else { 80 };
            image::Rgb([dim(stripe + noise / 2), dim(stripe + noise / 2), dim(stripe + noise)])
        }
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80).encode_image(&img).unwrap();
    out
}

fn time(mut f: impl FnMut()) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    (times[times.len() / 2], times[0])
}

fn report(what: &str, runs: usize, median: Duration, min: Duration, rss_mib: f64, pdf_bytes: usize) {
    println!(
        "{what:<46} {runs:>5} {:>10.1} {:>10.1} {:>14.1} {:>10}",
        median.as_secs_f64() * 1e3,
        min.as_secs_f64() * 1e3,
        rss_mib,
        if pdf_bytes == 0 { "—".to_string() } else { pdf_bytes.to_string() }
    );
}
