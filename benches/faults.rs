//! The load and fault harness in its long form (the short form runs in CI as `tests/it/faults.rs`; the
//! scenarios are in `tests/faults/mod.rs`): each scenario starts its own PostgreSQL cluster and
//! `roadledger serve` processes, plays the load with its faults and prints its figures and any promise it
//! found broken.
//!
//! Run: `cargo bench --bench faults -- all` (or `storm`, `restart` (a crash), `restart-fast` (a fast stop),
//! `two-servers`), with `--phones N`,
//! `--per-phone N`, `--outage-s N`, `--drop-reply F`, `--reset-upload F` to change the sizes
//! (50 phones × 200 observations, 10 % of replies lost, 3 % of uploads cut off, a 10 s outage).
//! Exits with status 1 when a promise broke.

#[path = "../tests/faults/mod.rs"]
mod harness;

use std::time::Duration;

/// Every scenario, in the order `all` runs them.
const ALL: [&str; 4] = ["storm", "restart", "restart-fast", "two-servers"];

fn main() {
    let mut options = harness::Options::long();
    let mut scenarios = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().unwrap_or_else(|| panic!("{name} needs a value"));
        match arg.as_str() {
            "--phones" => options.phones = value("--phones").parse().expect("--phones: a count"),
            "--per-phone" => options.per_phone = value("--per-phone").parse().expect("--per-phone: a count"),
            "--outage-s" => {
                options.outage = Duration::from_secs(value("--outage-s").parse().expect("--outage-s: seconds"))
            }
            "--drop-reply" => {
                options.drop_reply = value("--drop-reply").parse().expect("--drop-reply: a share, e.g. 0.1")
            }
            "--reset-upload" => {
                options.reset_upload = value("--reset-upload").parse().expect("--reset-upload: a share")
            }
            "storm" | "restart" | "restart-fast" | "two-servers" => scenarios.push(arg),
            "all" => scenarios.extend(ALL.map(String::from)),
            // `cargo bench` passes `--bench`; other flags are cargo's too.
            _ if arg.starts_with("--") => {}
            other => panic!("unknown scenario {other}: storm, restart, restart-fast, two-servers or all"),
        }
    }
    if scenarios.is_empty() {
        scenarios.extend(ALL.map(String::from));
    }
    println!("fault harness: {options:?}; load average {}", load_average());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let mut broken = false;
    for scenario in &scenarios {
        let outcome = runtime.block_on(async {
            match scenario.as_str() {
                "storm" => harness::storm(&options).await,
                "restart" => harness::restart(&options).await,
                "restart-fast" => {
                    harness::restart(&harness::Options { stop: harness::Stop::Fast, ..options.clone() }).await
                }
                _ => harness::two_servers(&options).await,
            }
        });
        println!("{outcome}");
        broken |= !outcome.violations.is_empty();
    }
    println!("load average after: {}", load_average());
    if broken {
        std::process::exit(1);
    }
}

/// The machine's load average (1, 5, 15 minutes): the figures depend on what else runs.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
