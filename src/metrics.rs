//! The service's measurements, kept in process-wide atomics and written in the Prometheus text exposition
//! format (version 0.0.4) by `http::metrics` on its own listen address.
//!
//! Hand-written rather than the `prometheus` or `metrics` crates: every series here is known in advance
//! (the routes are the router's templates, the other labels are fixed lists), so a counter is one
//! `AtomicU64` and recording one request is a table look-up plus a few relaxed atomic adds — no lock, no
//! label hashing into a registry, no allocation. What varies only at scrape time (the pool, the queues) is
//! read when `/metrics` is asked, not kept.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// A count that only goes up.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub const fn new() -> Counter {
        Counter(AtomicU64::new(0))
    }

    pub fn inc(&self) {
        self.add(1);
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down (requests in flight, requests waiting for a slot).
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    pub const fn new() -> Gauge {
        Gauge(AtomicI64::new(0))
    }

    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }

    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }

    pub fn add(&self, n: i64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds one until the guard is dropped: what is waiting or in flight now, however the wait ends.
    pub fn track(&self) -> GaugeGuard<'_> {
        self.0.fetch_add(1, Ordering::Relaxed);
        GaugeGuard(self)
    }
}

pub struct GaugeGuard<'a>(&'a Gauge);

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Most buckets a histogram has (its bounds, then `+Inf`).
const BUCKETS_MAX: usize = 16;

/// A Prometheus histogram over integer observations (microseconds, bytes): cumulative buckets are written
/// from per-bucket counts at scrape time, so an observation is two atomic adds and one bucket add.
#[derive(Debug)]
pub struct Histogram {
    /// Upper bounds in the observation's unit, ascending; at most `BUCKETS_MAX - 1`.
    bounds: &'static [u64],
    /// Written values are observations divided by this (1e6 for microseconds → seconds).
    scale: f64,
    /// `buckets[i]` counts observations in `(bounds[i-1], bounds[i]]`; the last one those above every bound.
    buckets: [AtomicU64; BUCKETS_MAX],
    count: AtomicU64,
    sum: AtomicU64,
}

impl Histogram {
    pub const fn new(bounds: &'static [u64], scale: f64) -> Histogram {
        assert!(bounds.len() < BUCKETS_MAX);
        Histogram {
            bounds,
            scale,
            buckets: [const { AtomicU64::new(0) }; BUCKETS_MAX],
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value: u64) {
        let bucket = self.bounds.partition_point(|&bound| bound < value);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn observe_duration(&self, elapsed: Duration) {
        self.observe(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// `name_bucket{labels,le=…}` for every bound and `+Inf`, then `name_sum` and `name_count`. `labels` is
    /// empty or `key="value",…` without braces.
    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (i, bound) in self.bounds.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let le = *bound as f64 / self.scale;
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}");
        }
        cumulative += self.buckets[self.bounds.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {cumulative}");
        let braced = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let sum = self.sum.load(Ordering::Relaxed) as f64 / self.scale;
        let _ = writeln!(out, "{name}_sum{braced} {sum}");
        // The count is the buckets' total, so the `+Inf` bucket and `_count` always agree in one scrape.
        let _ = writeln!(out, "{name}_count{braced} {cumulative}");
    }
}

/// Request latency bounds in microseconds: 5 ms to 10 s.
const LATENCY_US: &[u64] =
    &[5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000];
/// Photo processing bounds in microseconds: 10 ms to 10 s.
const PHOTO_US: &[u64] = &[10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 10_000_000];
/// Upload body bounds in bytes: 16 KiB to 128 MiB.
const UPLOAD_BYTES: &[u64] =
    &[16 << 10, 64 << 10, 256 << 10, 1 << 20, 2 << 20, 4 << 20, 8 << 20, 16 << 20, 32 << 20, 64 << 20, 128 << 20];

/// HTTP methods as labelled; any other method is `other`.
pub const METHODS: [&str; 8] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"];
/// Status classes as labelled.
pub const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

fn method_index(method: &axum::http::Method) -> usize {
    METHODS[..7].iter().position(|m| *m == method.as_str()).unwrap_or(7)
}

fn class_index(status: u16) -> usize {
    usize::from((status / 100).clamp(1, 5) - 1)
}

/// One route's requests by method and status class, and its latency.
#[derive(Debug)]
pub struct RouteMetrics {
    requests: [[Counter; STATUS_CLASSES.len()]; METHODS.len()],
    pub latency: Histogram,
}

impl RouteMetrics {
    const fn new() -> RouteMetrics {
        RouteMetrics {
            requests: [const { [const { Counter::new() }; STATUS_CLASSES.len()] }; METHODS.len()],
            latency: Histogram::new(LATENCY_US, 1e6),
        }
    }

    pub fn requests(&self, method: &axum::http::Method, status: u16) -> u64 {
        self.requests[method_index(method)][class_index(status)].get()
    }
}

/// Routes the table holds; far more than the router has (about 90), so it never fills in practice. Should
/// it fill, further routes are counted under [`ROUTE_OVERFLOW`].
const ROUTE_SLOTS: usize = 256;
/// The label of requests no route template matched: pages and other files, and paths of no route.
pub const ROUTE_FALLBACK: &str = "(fallback)";
/// The label of routes beyond the table's room (never seen while the router has fewer than 256 routes).
pub const ROUTE_OVERFLOW: &str = "(other)";

struct RouteSlot {
    route: OnceLock<Box<str>>,
    metrics: RouteMetrics,
}

/// Per-route metrics, keyed by the route's template: an open-addressing table whose keys are set once
/// (`OnceLock`), so looking a route up never takes a lock and the label set is bounded by the router.
pub struct RouteTable {
    slots: [RouteSlot; ROUTE_SLOTS],
    overflow: RouteMetrics,
}

impl RouteTable {
    const fn new() -> RouteTable {
        RouteTable {
            slots: [const { RouteSlot { route: OnceLock::new(), metrics: RouteMetrics::new() } }; ROUTE_SLOTS],
            overflow: RouteMetrics::new(),
        }
    }

    /// The metrics of a route template, its slot taken on first use.
    pub fn route(&self, route: &str) -> &RouteMetrics {
        // FNV-1a: a template is short and the table small; any spread will do.
        let hash =
            route.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        let start = (hash % ROUTE_SLOTS as u64) as usize;
        for i in 0..ROUTE_SLOTS {
            let slot = &self.slots[(start + i) % ROUTE_SLOTS];
            // Two first requests of the same new route may race for a slot: one sets it and the other
            // finds the same key in it.
            let key = slot.route.get_or_init(|| route.into());
            if &**key == route {
                return &slot.metrics;
            }
        }
        &self.overflow
    }

    fn each(&self) -> impl Iterator<Item = (&str, &RouteMetrics)> {
        let mut routes: Vec<(&str, &RouteMetrics)> =
            self.slots.iter().filter_map(|s| s.route.get().map(|r| (&**r, &s.metrics))).collect();
        routes.sort_by_key(|(r, _)| *r);
        routes.into_iter().chain(std::iter::once((ROUTE_OVERFLOW, &self.overflow)))
    }
}

/// A background job's runs, failures and last success.
#[derive(Debug)]
pub struct Job {
    pub name: &'static str,
    runs: Counter,
    failures: Counter,
    /// Unix seconds of the last run that succeeded; 0: none yet.
    last_success_s: AtomicU64,
}

impl Job {
    const fn new(name: &'static str) -> Job {
        Job { name, runs: Counter::new(), failures: Counter::new(), last_success_s: AtomicU64::new(0) }
    }

    /// Counts one run, failed or not; a success sets the last-success time to now.
    pub fn record<T, E>(&self, result: &Result<T, E>) {
        self.runs.inc();
        match result {
            Ok(_) => {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                self.last_success_s.store(now.as_secs(), Ordering::Relaxed);
            }
            Err(_) => self.failures.inc(),
        }
    }

    pub fn runs(&self) -> u64 {
        self.runs.get()
    }

    pub fn failures(&self) -> u64 {
        self.failures.get()
    }
}

/// A queue in front of a few slots (a semaphore): requests waiting now, and those turned away (429, or 503
/// for the upload buffers).
#[derive(Debug)]
pub struct Queue {
    pub name: &'static str,
    pub waiting: Gauge,
    pub refused: Counter,
}

impl Queue {
    const fn new(name: &'static str) -> Queue {
        Queue { name, waiting: Gauge::new(), refused: Counter::new() }
    }
}

/// Everything the process counts.
pub struct Metrics {
    pub routes: RouteTable,
    pub in_flight: Gauge,
    /// Request bodies of observations (`kind="observation"`) and checklist evidence (`kind="evidence"`), as read.
    pub upload_observation_bytes: Histogram,
    pub upload_evidence_bytes: Histogram,
    /// Checking and thumbnailing one photo (`photos::process`), in its blocking thread.
    pub photo_process: Histogram,
    pub report_schedule: Job,
    pub tile_change_prune: Job,
    pub site_cell_compact: Job,
    pub pdf_render: Queue,
    pub ledger_export: Queue,
    pub site_export: Queue,
    /// Reads the read replica answered (`db::replica`).
    pub replica_reads: Counter,
    /// Reads sent to the primary because the replica had not replayed far enough within its wait.
    pub replica_fallback_behind: Counter,
    /// Reads sent to the primary because the replica was down, unreachable, not a standby, or resting after that.
    pub replica_fallback_down: Counter,
    /// Reads run again on the primary after the replica failed them.
    pub replica_fallback_failed: Counter,
    /// Whether the replica answered its last look (1) or not (0); -1: no replica configured or not looked at yet.
    pub replica_up: Gauge,
    /// How far behind the primary's write position the replica was at its last look, in WAL bytes.
    pub replica_lag_bytes: Gauge,
    /// Memory for upload bodies (`http::limits::UploadBuffers`): a queue whose slots are KiB, and the bytes
    /// buffered by uploads in progress now.
    pub upload_buffer: Queue,
    pub upload_buffer_slots: Gauge,
    pub upload_buffer_in_use: Gauge,
    pub upload_buffered_bytes: Gauge,
}

pub static METRICS: Metrics = Metrics {
    routes: RouteTable::new(),
    in_flight: Gauge::new(),
    upload_observation_bytes: Histogram::new(UPLOAD_BYTES, 1.0),
    upload_evidence_bytes: Histogram::new(UPLOAD_BYTES, 1.0),
    photo_process: Histogram::new(PHOTO_US, 1e6),
    report_schedule: Job::new("report_schedule"),
    tile_change_prune: Job::new("tile_change_prune"),
    site_cell_compact: Job::new("site_cell_compact"),
    pdf_render: Queue::new("pdf_render"),
    ledger_export: Queue::new("ledger_export"),
    site_export: Queue::new("site_export"),
    replica_reads: Counter::new(),
    replica_fallback_behind: Counter::new(),
    replica_fallback_down: Counter::new(),
    replica_fallback_failed: Counter::new(),
    replica_up: Gauge(AtomicI64::new(-1)),
    replica_lag_bytes: Gauge::new(),
    upload_buffer: Queue::new("upload_buffer"),
    upload_buffer_slots: Gauge::new(),
    upload_buffer_in_use: Gauge::new(),
    upload_buffered_bytes: Gauge::new(),
};

/// One request as answered: its route template (or [`ROUTE_FALLBACK`]), method, status and time to the
/// response head.
pub fn record_request(route: &str, method: &axum::http::Method, status: u16, elapsed: Duration) {
    let metrics = METRICS.routes.route(route);
    metrics.requests[method_index(method)][class_index(status)].inc();
    metrics.latency.observe_duration(elapsed);
}

/// What is read at scrape time rather than counted: the database pool and the queues' slots.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    pub pool_size: u32,
    pub pool_idle: usize,
    pub pool_max: u32,
    /// Slots of each queue (by name): in use and the most there are.
    pub queues: [(&'static str, usize, usize); 3],
}

/// A label value with `\`, `"` and newlines escaped (the exposition format's rule); route templates hold
/// none of them, but a template is the router's text, not ours.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The whole exposition: every metric with its `# HELP` and `# TYPE`.
pub fn render(snapshot: &Snapshot) -> String {
    let m = &METRICS;
    let mut out = String::with_capacity(64 * 1024);

    header(&mut out, "roadledger_build_info", "gauge", "The running release (always 1).");
    let _ = writeln!(out, "roadledger_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
    header(&mut out, "process_start_time_seconds", "gauge", "When the process started, in Unix seconds.");
    let _ = writeln!(out, "process_start_time_seconds {}", start_time_s());

    let routes: Vec<(&str, &RouteMetrics)> = m.routes.each().collect();
    header(
        &mut out,
        "roadledger_http_requests_total",
        "counter",
        "Requests answered, by route template, method and status class.",
    );
    for (route, metrics) in &routes {
        let route = label(route);
        for (mi, method) in METHODS.iter().enumerate() {
            for (ci, class) in STATUS_CLASSES.iter().enumerate() {
                let n = metrics.requests[mi][ci].get();
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "roadledger_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{class}\"}} {n}"
                    );
                }
            }
        }
    }
    header(
        &mut out,
        "roadledger_http_request_duration_seconds",
        "histogram",
        "Time from a request's arrival to its response head, by route template.",
    );
    for (route, metrics) in &routes {
        if metrics.latency.count() > 0 {
            metrics.latency.write(
                &mut out,
                "roadledger_http_request_duration_seconds",
                &format!("route=\"{}\"", label(route)),
            );
        }
    }
    header(&mut out, "roadledger_http_requests_in_flight", "gauge", "Requests being answered now.");
    let _ = writeln!(out, "roadledger_http_requests_in_flight {}", m.in_flight.get());

    header(
        &mut out,
        "roadledger_upload_bytes",
        "histogram",
        "Request bodies of uploads with photos as read, by kind (observation, evidence).",
    );
    m.upload_observation_bytes.write(&mut out, "roadledger_upload_bytes", "kind=\"observation\"");
    m.upload_evidence_bytes.write(&mut out, "roadledger_upload_bytes", "kind=\"evidence\"");
    header(
        &mut out,
        "roadledger_photo_process_seconds",
        "histogram",
        "Checking and thumbnailing one uploaded photo (decode, EXIF, thumbnail).",
    );
    m.photo_process.write(&mut out, "roadledger_photo_process_seconds", "");

    header(&mut out, "roadledger_db_pool_connections", "gauge", "Connections the database pool holds, idle or in use.");
    let _ = writeln!(out, "roadledger_db_pool_connections {}", snapshot.pool_size);
    header(&mut out, "roadledger_db_pool_idle_connections", "gauge", "Connections of the pool idle now.");
    let _ = writeln!(out, "roadledger_db_pool_idle_connections {}", snapshot.pool_idle);
    header(&mut out, "roadledger_db_pool_max_connections", "gauge", "The most connections the pool opens.");
    let _ = writeln!(out, "roadledger_db_pool_max_connections {}", snapshot.pool_max);

    let queues = [&m.pdf_render, &m.ledger_export, &m.site_export, &m.upload_buffer];
    // The upload buffers' slots are KiB, counted as they are taken rather than read off a semaphore: there
    // is one per router, and the router is not this module's to see.
    let upload_buffer = (
        m.upload_buffer.name,
        usize::try_from(m.upload_buffer_in_use.get()).unwrap_or(0),
        usize::try_from(m.upload_buffer_slots.get()).unwrap_or(0),
    );
    let slots: Vec<_> = snapshot.queues.into_iter().chain(std::iter::once(upload_buffer)).collect();
    header(
        &mut out,
        "roadledger_queue_slots_in_use",
        "gauge",
        "Slots of a bounded queue in use now (upload_buffer: KiB of upload bodies).",
    );
    for (name, in_use, _) in &slots {
        let _ = writeln!(out, "roadledger_queue_slots_in_use{{queue=\"{name}\"}} {in_use}");
    }
    header(&mut out, "roadledger_queue_slots", "gauge", "Slots of a bounded queue (upload_buffer: KiB).");
    for (name, _, max) in &slots {
        let _ = writeln!(out, "roadledger_queue_slots{{queue=\"{name}\"}} {max}");
    }
    header(&mut out, "roadledger_queue_waiting", "gauge", "Requests waiting for a slot of a bounded queue now.");
    for q in queues {
        let _ = writeln!(out, "roadledger_queue_waiting{{queue=\"{}\"}} {}", q.name, q.waiting.get());
    }
    header(
        &mut out,
        "roadledger_queue_refused_total",
        "counter",
        "Requests turned away (429; 503 for upload_buffer) after waiting too long for a slot.",
    );
    for q in queues {
        let _ = writeln!(out, "roadledger_queue_refused_total{{queue=\"{}\"}} {}", q.name, q.refused.get());
    }

    header(&mut out, "roadledger_replica_reads_total", "counter", "Reads the read replica answered.");
    let _ = writeln!(out, "roadledger_replica_reads_total {}", m.replica_reads.get());
    header(
        &mut out,
        "roadledger_replica_fallbacks_total",
        "counter",
        "Reads the primary answered instead of the replica, by reason: behind (not replayed far enough in time), \
         down (unreachable, not a standby, or resting after a failure), failed (the replica failed the read).",
    );
    for (reason, n) in [
        ("behind", &m.replica_fallback_behind),
        ("down", &m.replica_fallback_down),
        ("failed", &m.replica_fallback_failed),
    ] {
        let _ = writeln!(out, "roadledger_replica_fallbacks_total{{reason=\"{reason}\"}} {}", n.get());
    }
    header(
        &mut out,
        "roadledger_replica_up",
        "gauge",
        "Whether the read replica answered its last look (1) or not (0); -1: none configured or not looked at yet.",
    );
    let _ = writeln!(out, "roadledger_replica_up {}", m.replica_up.get());
    header(
        &mut out,
        "roadledger_replica_lag_bytes",
        "gauge",
        "WAL bytes the replica was behind the primary's write position at its last look.",
    );
    let _ = writeln!(out, "roadledger_replica_lag_bytes {}", m.replica_lag_bytes.get());
    header(
        &mut out,
        "roadledger_upload_buffered_bytes",
        "gauge",
        "Bytes of upload bodies held in memory by uploads in progress now.",
    );
    let _ = writeln!(out, "roadledger_upload_buffered_bytes {}", m.upload_buffered_bytes.get());

    let jobs = [&m.report_schedule, &m.tile_change_prune, &m.site_cell_compact];
    header(&mut out, "roadledger_job_runs_total", "counter", "Runs of a background job, failed or not.");
    for j in jobs {
        let _ = writeln!(out, "roadledger_job_runs_total{{job=\"{}\"}} {}", j.name, j.runs());
    }
    header(&mut out, "roadledger_job_failures_total", "counter", "Runs of a background job that failed.");
    for j in jobs {
        let _ = writeln!(out, "roadledger_job_failures_total{{job=\"{}\"}} {}", j.name, j.failures());
    }
    header(
        &mut out,
        "roadledger_job_last_success_timestamp_seconds",
        "gauge",
        "When a background job last succeeded, in Unix seconds (0: not yet since the start).",
    );
    for j in jobs {
        let _ = writeln!(
            out,
            "roadledger_job_last_success_timestamp_seconds{{job=\"{}\"}} {}",
            j.name,
            j.last_success_s.load(Ordering::Relaxed)
        );
    }
    out
}

static START_TIME_S: OnceLock<u64> = OnceLock::new();

/// Marks the process start (called once by `serve`; otherwise the first scrape's time).
pub fn mark_start() {
    start_time_s();
}

fn start_time_s() -> u64 {
    *START_TIME_S.get_or_init(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_agree_with_the_count() {
        static H: Histogram = Histogram::new(&[10, 100], 1.0);
        for v in [1, 10, 11, 100, 101, 5000] {
            H.observe(v);
        }
        let mut out = String::new();
        H.write(&mut out, "h", "k=\"v\"");
        assert_eq!(
            out,
            "h_bucket{k=\"v\",le=\"10\"} 2\nh_bucket{k=\"v\",le=\"100\"} 4\nh_bucket{k=\"v\",le=\"+Inf\"} 6\n\
             h_sum{k=\"v\"} 5223\nh_count{k=\"v\"} 6\n"
        );
    }

    #[test]
    fn a_route_keeps_its_slot_and_status_classes_are_by_hundreds() {
        let table = RouteTable::new();
        let a = table.route("/a/{id}") as *const RouteMetrics;
        let b = table.route("/b") as *const RouteMetrics;
        assert_ne!(a, b);
        assert_eq!(a, table.route("/a/{id}") as *const RouteMetrics);
        assert_eq!(
            [class_index(101), class_index(204), class_index(399), class_index(404), class_index(503)],
            [0, 1, 2, 3, 4]
        );
        assert_eq!(method_index(&axum::http::Method::from_bytes(b"PROPFIND").unwrap()), 7);
    }
}
