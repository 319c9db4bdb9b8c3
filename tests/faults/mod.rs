//! The load and fault harness: what a county deployment meets, played against the real binary.
//!
//! One copy of the scenarios, used twice: the short form is `tests/it/faults.rs` (small sizes, assertions, in
//! CI) and the long form is `benches/faults.rs` (the sizes, figures for docs/benchmarks.md). Each
//! scenario starts its own PostgreSQL cluster (`roadledger db start`), never the shared test cluster, because
//! the restart scenario crashes it, and runs `roadledger serve` processes on free ports against it.
//!
//! - **storm**: phones send observations with photos through a loopback proxy that loses some replies after
//!   the server has answered and cuts some uploads off halfway; phones retry the same observation id like
//!   `web/outbox.js`. Then the database must hold every observation once, one site per place and kind, and
//!   the photo files its rows name, and no answer may have been a 5xx.
//! - **restart**: the same load straight to the server while PostgreSQL is stopped and started again: crashed
//!   (SIGQUIT to the postmaster, PostgreSQL's immediate shutdown: no checkpoint, crash recovery at the next
//!   start) or stopped fast (SIGINT: sessions ended with an error, a checkpoint).
//!   During the outage every answer must be a 503 with `Retry-After` within a bound; after it, service must be
//!   back within 3 s of the database accepting connections; nothing acknowledged may be lost.
//! - **two servers**: two `serve` processes on one database behind the proxy (round-robin per request): the
//!   storm, a session signed in on one and used on the other, a stale ETag after a move on the other, the
//!   sign-in throttle counted across both, and the scheduled report drafts made once.
#![allow(dead_code)] // the test and the bench each use their part

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use uuid::Uuid;

pub const BIN: &str = env!("CARGO_BIN_EXE_roadledger");

/// The password of every harness account.
const PASSWORD: &str = "fault harness 2026";

/// The sizes and faults of a run.
#[derive(Debug, Clone)]
pub struct Options {
    pub phones: usize,
    pub per_phone: usize,
    /// Share of replies the proxy reads from the server and then drops (the client's connection is closed).
    pub drop_reply: f64,
    /// Share of uploads the proxy cuts off after half of their body (both connections closed).
    pub reset_upload: f64,
    /// How long PostgreSQL stays down in the restart scenario.
    pub outage: Duration,
    /// Every this many observations, a phone observes at a place its partner phone also observes.
    pub shared_every: usize,
    /// How the restart scenario stops PostgreSQL.
    pub stop: Stop,
}

/// How PostgreSQL is stopped mid-load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// SIGQUIT: immediate shutdown, a crash as far as the data is concerned (recovery at the next start).
    Crash,
    /// SIGINT: fast shutdown; every session is ended with a FATAL `57P01` error, then a checkpoint.
    Fast,
}

impl Stop {
    fn signal(self) -> &'static str {
        match self {
            Stop::Crash => "-QUIT",
            Stop::Fast => "-INT",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Stop::Crash => "crashed (SIGQUIT, immediate shutdown)",
            Stop::Fast => "stopped (SIGINT, fast shutdown)",
        }
    }
}

impl Options {
    /// The sizes: 50 phones × 200 observations, 10 % of replies lost, a 10 s outage.
    pub fn long() -> Self {
        Options {
            phones: 50,
            per_phone: 200,
            drop_reply: 0.10,
            reset_upload: 0.03,
            outage: Duration::from_secs(10),
            shared_every: 5,
            stop: Stop::Crash,
        }
    }

    /// Small enough for CI on a loaded 2-core machine, large enough that every fault happens several times.
    pub fn short() -> Self {
        Options {
            phones: 6,
            per_phone: 20,
            drop_reply: 0.10,
            reset_upload: 0.05,
            outage: Duration::from_secs(4),
            shared_every: 4,
            stop: Stop::Crash,
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// The database cluster and the servers
// ---------------------------------------------------------------------------------------------------------

/// A private PostgreSQL cluster in a temporary directory, stopped when dropped.
pub struct Cluster {
    dir: tempfile::TempDir,
    pub url: String,
}

impl Cluster {
    pub fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        // tempdir is 0700; as root the server runs as `postgres`, which must reach the cluster under it.
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let url = db_start(dir.path());
        Cluster { dir, url }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops PostgreSQL by a signal to the postmaster: SIGQUIT is its immediate shutdown (every backend quits
    /// at once, no checkpoint; the next start replays the WAL), SIGINT its fast shutdown. Returns once the
    /// postmaster has exited.
    pub fn stop(&self, how: Stop) {
        let pid_file = self.dir.path().join("pg/postmaster.pid");
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let pid = pid.lines().next().unwrap().trim().to_string();
        assert!(Command::new("kill").args([how.signal(), &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(30);
        // Gone, or a zombie: in a container nothing may reap the daemonised postmaster.
        let exited = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map_or(true, |stat| stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')))
        };
        while !exited() {
            assert!(Instant::now() < deadline, "PostgreSQL did not exit within 30 s of SIGQUIT");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts PostgreSQL again and returns when it accepts a connection (polled every 20 ms while
    /// `roadledger db start` runs), so the time is when the database came back, not when the command returned;
    /// and when the last refused attempt began (it came back between the two).
    pub async fn start_again(&self) -> (Instant, Instant) {
        let dir = self.dir.path().to_path_buf();
        let start = tokio::task::spawn_blocking(move || db_start(&dir));
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut refused = Instant::now();
        let back = loop {
            let attempt = Instant::now();
            if let Ok(Ok(conn)) = tokio::time::timeout(
                Duration::from_secs(1),
                <sqlx::PgConnection as sqlx::Connection>::connect(&self.url),
            )
            .await
            {
                let _ = sqlx::Connection::close(conn).await;
                break Instant::now();
            }
            refused = attempt;
            assert!(Instant::now() < deadline, "PostgreSQL did not come back within 60 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(start.await.unwrap(), self.url);
        (refused, back)
    }

    pub async fn pool(&self) -> sqlx::PgPool {
        sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(&self.url).await.unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(BIN)
            .args(["db", "stop", "--data-dir"])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `roadledger db start`: its DATABASE_URL.
fn db_start(dir: &Path) -> String {
    let out =
        Command::new(BIN).args(["db", "start", "--data-dir"]).arg(dir).env_remove("DATABASE_URL").output().unwrap();
    assert!(out.status.success(), "db start failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A `roadledger serve` process, terminated when dropped; its log lines are kept.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub base: String,
    metrics_addr: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts a server on free ports with the shared photo directory; waits until it serves.
    pub fn start(cluster: &Cluster, photo_dir: &Path) -> Server {
        Server::start_many(cluster, photo_dir, 1).pop().unwrap()
    }

    /// Starts `n` servers at the same moment (so their start-up work, migrations and the report schedule's
    /// first run, races as it would in a deployment), then waits for each.
    pub fn start_many(cluster: &Cluster, photo_dir: &Path, n: usize) -> Vec<Server> {
        let starting: Vec<_> = (0..n)
            .map(|_| {
                let mut child = Command::new(BIN)
                    .args(["serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--database-url"])
                    .arg(&cluster.url)
                    .arg("--data-dir")
                    .arg(cluster.dir())
                    .arg("--photo-dir")
                    .arg(photo_dir)
                    .arg("--web-dir")
                    .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("web"))
                    .env_remove("DATABASE_URL")
                    .env("NO_COLOR", "1")
                    .env("RUST_LOG", "roadledger=info")
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                let logs = Arc::new(Mutex::new(Vec::new()));
                let (tx, rx) = std::sync::mpsc::channel();
                let stderr = child.stderr.take().unwrap();
                let kept = logs.clone();
                std::thread::spawn(move || {
                    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                        for (what, marker) in
                            [("metrics", "metrics are served on http://"), ("app", "serving on http://")]
                        {
                            if let Some(rest) = line.split(marker).nth(1) {
                                let addr: SocketAddr = rest.split('/').next().unwrap().parse().unwrap();
                                let _ = tx.send((what, addr));
                            }
                        }
                        kept.lock().unwrap().push(line);
                    }
                });
                (child, logs, rx)
            })
            .collect();
        starting
            .into_iter()
            .map(|(child, logs, rx)| {
                let mut addrs = HashMap::new();
                while addrs.len() < 2 {
                    let (what, addr) = rx.recv_timeout(Duration::from_secs(120)).unwrap_or_else(|_| {
                        panic!("the server did not start within 120 s:\n{}", logs.lock().unwrap().join("\n"))
                    });
                    addrs.insert(what, addr);
                }
                let addr = addrs["app"];
                Server { child, addr, base: format!("http://{addr}"), metrics_addr: addrs["metrics"], logs }
            })
            .collect()
    }

    /// How many of its log lines contain `text`.
    pub fn log_lines(&self, text: &str) -> usize {
        self.logs.lock().unwrap().iter().filter(|l| l.contains(text)).count()
    }

    /// Its `/metrics` text.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://{}/metrics", self.metrics_addr)).await.unwrap().text().await.unwrap()
    }

    /// Requests it answered with a 5xx, by route, from its own count (`/metrics`): this sees the answers the
    /// proxy dropped, which no client saw.
    pub async fn server_errors(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for line in self.metrics().await.lines() {
            if line.starts_with("roadledger_http_requests_total{") && line.contains("status=\"5xx\"") {
                let route = line.split("route=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or("?");
                let n: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
                *out.entry(route.to_string()).or_default() += n;
            }
        }
        out
    }

    /// How often a background job has run, from `/metrics`.
    pub async fn job_runs(&self, job: &str) -> u64 {
        let prefix = format!("roadledger_job_runs_total{{job=\"{job}\"}} ");
        let text = self.metrics().await;
        text.lines().find_map(|l| l.strip_prefix(&prefix)).map_or(0, |n| n.trim().parse().unwrap())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `roadledger` with arguments and standard input; its standard output (the command must succeed).
pub fn cli(args: &[&str], stdin: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "roadledger {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// An account made with the command line (`user add --password-stdin`, `token create`) and its API token.
pub fn account(cluster: &Cluster, name: &str, role: &str) -> String {
    let url = cluster.url.as_str();
    cli(
        &[
            "user",
            "add",
            "--database-url",
            url,
            "--name",
            name,
            "--role",
            role,
            "--org",
            "市交安办",
            "--password-stdin",
        ],
        PASSWORD,
    );
    let out = cli(&["token", "create", "--database-url", url, "--user", name, "--name", "fault harness"], "");
    out.split_whitespace().find(|w| w.starts_with("rl_")).unwrap_or_else(|| panic!("no token in {out:?}")).to_string()
}

// ---------------------------------------------------------------------------------------------------------
// The proxy
// ---------------------------------------------------------------------------------------------------------

/// What the proxy did.
#[derive(Debug, Default)]
pub struct ProxyStats {
    pub requests: AtomicU64,
    pub replies_dropped: AtomicU64,
    pub uploads_reset: AtomicU64,
    pub upstream_errors: AtomicU64,
}

/// A loopback HTTP/1.1 proxy that forwards each request to the next upstream in turn and, for a share of
/// them, loses the reply after the server has answered or cuts the upload off halfway.
pub struct Proxy {
    pub base: String,
    pub stats: Arc<ProxyStats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct ProxyShared {
    upstreams: Vec<SocketAddr>,
    drop_reply: f64,
    reset_upload: f64,
    next: AtomicU64,
    stats: Arc<ProxyStats>,
}

#[derive(PartialEq)]
enum Fate {
    Forward,
    DropReply,
    ResetUpload,
}

impl ProxyShared {
    /// The next request's fate and upstream, from a fixed sequence (runs are repeatable as far as the
    /// scheduler lets them be).
    fn next(&self, has_body: bool) -> (Fate, usize) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let roll = unit_interval(n);
        let fate = if has_body && roll < self.reset_upload {
            Fate::ResetUpload
        } else if roll >= self.reset_upload && roll < self.reset_upload + self.drop_reply {
            Fate::DropReply
        } else {
            Fate::Forward
        };
        (fate, n as usize % self.upstreams.len())
    }
}

pub async fn proxy(upstreams: Vec<SocketAddr>, drop_reply: f64, reset_upload: f64) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stats = Arc::new(ProxyStats::default());
    let shared =
        Arc::new(ProxyShared { upstreams, drop_reply, reset_upload, next: AtomicU64::new(0), stats: stats.clone() });
    let task = tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else { continue };
            let shared = shared.clone();
            tokio::spawn(async move {
                let _ = proxy_connection(client, &shared).await;
            });
        }
    });
    Proxy { base, stats, task }
}

/// One client connection: requests one after another (keep-alive), each to the next upstream, over one
/// connection per upstream kept for this client. Any fault or error ends the client connection.
async fn proxy_connection(client: TcpStream, shared: &ProxyShared) -> std::io::Result<()> {
    let mut client = tokio::io::BufReader::new(client);
    let mut upstreams: Vec<Option<tokio::io::BufReader<TcpStream>>> = shared.upstreams.iter().map(|_| None).collect();
    loop {
        let Some(head) = read_head(&mut client).await? else { return Ok(()) };
        let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
        let is_head = text.starts_with("head ");
        if header_value(&text, "transfer-encoding").is_some() {
            // Every client of the harness sends a Content-Length; a chunked upload is not ours.
            return Ok(());
        }
        let length: usize = header_value(&text, "content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; length];
        client.read_exact(&mut body).await?;
        let (fate, i) = shared.next(length > 0);
        shared.stats.requests.fetch_add(1, Ordering::Relaxed);
        let upstream = match &mut upstreams[i] {
            Some(upstream) => upstream,
            slot => match TcpStream::connect(shared.upstreams[i]).await {
                Ok(stream) => slot.insert(tokio::io::BufReader::new(stream)),
                Err(e) => {
                    shared.stats.upstream_errors.fetch_add(1, Ordering::Relaxed);
                    return Err(e);
                }
            },
        };
        if fate == Fate::ResetUpload {
            upstream.get_mut().write_all(&head).await?;
            upstream.get_mut().write_all(&body[..length / 2]).await?;
            upstream.get_mut().flush().await?;
            shared.stats.uploads_reset.fetch_add(1, Ordering::Relaxed);
            return Ok(()); // both connections close here, the upload half sent
        }
        let exchange = async {
            upstream.get_mut().write_all(&head).await?;
            upstream.get_mut().write_all(&body).await?;
            read_response(upstream, is_head).await
        };
        let (reply, close) = match exchange.await {
            Ok(reply) => reply,
            Err(e) => {
                shared.stats.upstream_errors.fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        if fate == Fate::DropReply {
            shared.stats.replies_dropped.fetch_add(1, Ordering::Relaxed);
            return Ok(()); // the server has answered; the client never hears it
        }
        client.get_mut().write_all(&reply).await?;
        if close {
            return Ok(());
        }
    }
}

/// The head of a message, through the blank line; None at a clean end of the connection.
async fn read_head<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        if reader.read_until(b'\n', &mut head).await? == 0 {
            return if head.is_empty() { Ok(None) } else { Err(std::io::ErrorKind::UnexpectedEof.into()) };
        }
        if head.len() > 64 * 1024 {
            return Err(std::io::Error::other("message head over 64 KiB"));
        }
        if &head[before..] == b"\r\n" {
            return Ok(Some(head));
        }
    }
}

/// A header's value in a lowercased head.
fn header_value<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| l.strip_prefix(name)?.strip_prefix(':')).map(str::trim)
}

/// A whole response as bytes (head and body: Content-Length, chunked, or until the server closes), and
/// whether the connection ends after it.
async fn read_response<R: tokio::io::AsyncBufRead + Unpin>(
    up: &mut R,
    is_head: bool,
) -> std::io::Result<(Vec<u8>, bool)> {
    let mut out = read_head(up).await?.ok_or(std::io::ErrorKind::UnexpectedEof)?;
    let text = String::from_utf8_lossy(&out).to_ascii_lowercase();
    let status: u16 = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let close = header_value(&text, "connection") == Some("close");
    if is_head || status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok((out, close));
    }
    if header_value(&text, "transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let start = out.len();
            up.read_until(b'\n', &mut out).await?;
            let line = String::from_utf8_lossy(&out[start..]).to_string();
            let size = usize::from_str_radix(line.split(';').next().unwrap().trim(), 16)
                .map_err(|_| std::io::Error::other("bad chunk size"))?;
            if size == 0 {
                while read_line_into(up, &mut out).await? != b"\r\n" {}
                return Ok((out, close));
            }
            let start = out.len();
            out.resize(start + size + 2, 0);
            up.read_exact(&mut out[start..]).await?;
        }
    }
    match header_value(&text, "content-length").and_then(|v| v.parse::<usize>().ok()) {
        Some(n) => {
            let start = out.len();
            out.resize(start + n, 0);
            up.read_exact(&mut out[start..]).await?;
            Ok((out, close))
        }
        None => {
            up.read_to_end(&mut out).await?;
            Ok((out, true))
        }
    }
}

async fn read_line_into<R: tokio::io::AsyncBufRead + Unpin>(up: &mut R, out: &mut Vec<u8>) -> std::io::Result<Vec<u8>> {
    let start = out.len();
    if up.read_until(b'\n', out).await? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(out[start..].to_vec())
}

/// A number in [0, 1) from a counter (SplitMix64): the proxy's and the phones' dice, with no dependency.
fn unit_interval(n: u64) -> f64 {
    let mut z = n.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

// ---------------------------------------------------------------------------------------------------------
// The phones
// ---------------------------------------------------------------------------------------------------------

/// One HTTP attempt as a phone saw it: when it was sent and answered (since the run's start), and the
/// status (None: the connection failed or timed out).
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    pub sent: Duration,
    pub answered: Duration,
    pub status: Option<u16>,
    pub retry_after: bool,
}

/// Everything the phones did.
#[derive(Debug, Default)]
pub struct Load {
    /// Every observation a phone sent, with its place key and photo count.
    pub sent: Vec<Sent>,
    /// The ids the server acknowledged (200 or 201) at least once.
    pub acknowledged: HashSet<Uuid>,
    /// Observations given up on, with why (a 4xx that is not a retry, or too many attempts).
    pub given_up: Vec<(Uuid, String)>,
    pub attempts: Vec<Attempt>,
    pub elapsed: Duration,
}

#[derive(Debug, Clone)]
pub struct Sent {
    pub id: Uuid,
    /// Observations of one place and kind have one key; distinct keys are ≥ 100 m apart.
    pub place: (usize, usize),
    pub kind: &'static str,
    pub photos: usize,
}

/// Phones: `phones` tasks, each sending `per_phone` observations in turn to `base` (through the proxy or
/// straight to a server) with its token, retrying the same id on a connection error, a timeout, a 408, 429
/// or 5xx (after `Retry-After` when the answer has one, else a doubling backoff with ±30 % jitter, as
/// `web/outbox.js`), until the server acknowledges it. Phone 2k and 2k+1 are partners: every
/// `shared_every`-th observation of both is at one place (5 m apart), so they meet under the same
/// neighbourhood locks.
pub async fn run_phones(options: &Options, base: &str, tokens: &[String], clock: Instant) -> Load {
    let started = Instant::now();
    let tasks: Vec<_> = (0..options.phones)
        .map(|phone| {
            let base = base.to_string();
            let token = tokens[phone % tokens.len()].clone();
            let options = options.clone();
            tokio::spawn(async move { phone_task(phone, &options, &base, &token, clock).await })
        })
        .collect();
    let mut load = Load::default();
    for task in tasks {
        let one = task.await.unwrap();
        load.sent.extend(one.sent);
        load.acknowledged.extend(one.acknowledged);
        load.given_up.extend(one.given_up);
        load.attempts.extend(one.attempts);
    }
    load.elapsed = started.elapsed();
    load
}

/// Attempts after which a phone gives an observation up (a real outbox never does; the harness must end).
const ATTEMPTS_MAX: u32 = 40;

async fn phone_task(phone: usize, options: &Options, base: &str, token: &str, clock: Instant) -> Load {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let url = format!("{base}/api/v1/observations");
    let mut load = Load::default();
    let mut dice = (phone as u64) << 32;
    for j in 0..options.per_phone {
        let sent = observation_of(phone, j, options.shared_every);
        let (content_type, body) = upload_body(&sent, phone, j);
        let mut backoff = Duration::from_millis(100);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let t0 = clock.elapsed();
            let result = client
                .post(&url)
                .bearer_auth(token)
                .header("content-type", &content_type)
                .body(body.clone())
                .send()
                .await;
            let (status, retry_after) = match result {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                        .map(Duration::from_secs);
                    // A reply cut off in its body is a connection failure, as for the outbox's XHR.
                    match response.bytes().await {
                        Ok(bytes) => (Some((status, bytes)), retry_after),
                        Err(_) => (None, None),
                    }
                }
                Err(_) => (None, None),
            };
            load.attempts.push(Attempt {
                sent: t0,
                answered: clock.elapsed(),
                status: status.as_ref().map(|(s, _)| *s),
                retry_after: retry_after.is_some(),
            });
            match &status {
                Some((200 | 201, _)) => {
                    load.acknowledged.insert(sent.id);
                    break;
                }
                Some((s, bytes)) if !(*s >= 500 || *s == 408 || *s == 429) => {
                    load.given_up.push((sent.id, format!("{s}: {}", String::from_utf8_lossy(bytes))));
                    break;
                }
                _ if attempt >= ATTEMPTS_MAX => {
                    load.given_up.push((sent.id, format!("still failing after {ATTEMPTS_MAX} attempts")));
                    break;
                }
                _ => {}
            }
            dice += 1;
            let jitter = 0.7 + 0.6 * unit_interval(dice);
            let wait = retry_after.unwrap_or(backoff).mul_f64(jitter);
            backoff = (backoff * 2).min(Duration::from_secs(2));
            tokio::time::sleep(wait).await;
        }
        load.sent.push(sent);
    }
    load
}

/// Where and what observation `j` of `phone` is.
fn observation_of(phone: usize, j: usize, shared_every: usize) -> Sent {
    let shared = shared_every > 0 && j.is_multiple_of(shared_every);
    // Shared places belong to the pair (phone / 2); own places to the phone. Keys never collide: a shared
    // key's first part is offset by 10 000.
    let place = if shared { (10_000 + phone / 2, j) } else { (phone, j) };
    let kind = if j % 3 == 1 { "intersection" } else { "spot" };
    Sent { id: Uuid::new_v4(), place, kind, photos: 1 + j % 2 }
}

/// A place key's point: a row of places per phone, 0.002° (≈ 220 m) apart both ways, and the pairs' shared
/// rows halfway between; the odd partner of a shared place stands 5 m north of the even one.
fn point_of(place: (usize, usize), phone: usize) -> [f64; 2] {
    let (row, north_m) = match place.0.checked_sub(10_000) {
        Some(pair) => (pair as f64 + 0.5, if phone % 2 == 1 { 5.0 } else { 0.0 }),
        None => (place.0 as f64, 0.0),
    };
    let lon = 120.30 + place.1 as f64 * 0.002;
    let lat = 31.60 + row * 0.002;
    [lon, lat + (north_m / 6_371_008.8f64).to_degrees()]
}

/// The multipart body of an observation, as the phone page sends it: the JSON part and its photos.
fn upload_body(sent: &Sent, phone: usize, j: usize) -> (String, Vec<u8>) {
    let observation = json!({
        "id": sent.id,
        "kind": sent.kind,
        "geometry": {"type": "Point", "coordinates": point_of(sent.place, phone)},
        "accuracy_m": 6.5,
        "observed_at": chrono::Utc::now().to_rfc3339(),
        "hazard_types": [],
        "checklist": {},
        "notes": format!("fault harness: phone {phone}, observation {j}"),
    });
    let boundary = "----roadledger-faults-boundary";
    let mut body = Vec::new();
    let _ = write!(
        Bytes(&mut body),
        "--{boundary}\r\nContent-Disposition: form-data; name=\"observation\"\r\nContent-Type: application/json\r\n\r\n{observation}\r\n"
    );
    for k in 0..sent.photos {
        let _ = write!(
            Bytes(&mut body),
            "--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p{k}.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
        );
        body.extend_from_slice(&photo(phone, j, k));
        body.extend_from_slice(b"\r\n");
    }
    let _ = write!(Bytes(&mut body), "--{boundary}--\r\n");
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// `write!` into a byte vector.
struct Bytes<'a>(&'a mut Vec<u8>);

impl fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// A small real JPEG, different for every phone, observation and photo: a gradient with the three numbers
/// written into its colours.
fn photo(phone: usize, j: usize, k: usize) -> Vec<u8> {
    let (w, h) = (96u32, 72u32);
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x * 255 / w) as u8 ^ (phone as u8),
            (y * 255 / h) as u8 ^ (j as u8),
            ((x + y) as u8) ^ (k as u8 * 85) ^ ((j >> 8) as u8),
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).encode_image(&img).unwrap();
    out
}

// ---------------------------------------------------------------------------------------------------------
// What the database holds afterwards
// ---------------------------------------------------------------------------------------------------------

/// The database after a load, checked against what the phones sent.
#[derive(Debug, Default)]
pub struct Stored {
    pub observations: usize,
    pub missing: Vec<Uuid>,
    pub unexpected: usize,
    pub acknowledged_missing: usize,
    pub sites: usize,
    pub sites_expected: usize,
    /// Pairs of open sites of one kind within 30 m of each other (a place matched twice).
    pub duplicate_site_pairs: i64,
    /// Observations recorded by more than one site event.
    pub multiply_recorded: i64,
    pub photos: usize,
    pub photos_expected: usize,
    pub photo_files_missing: usize,
}

pub async fn check_database(cluster: &Cluster, photo_dir: &Path, load: &Load) -> Stored {
    let pool = cluster.pool().await;
    let stored: Vec<Uuid> = sqlx::query_scalar("select id from observation").fetch_all(&pool).await.unwrap();
    let stored: HashSet<Uuid> = stored.into_iter().collect();
    let sent: HashSet<Uuid> = load.sent.iter().map(|s| s.id).collect();
    let places: HashSet<_> = load.sent.iter().map(|s| (s.place, s.kind)).collect();
    let duplicate_site_pairs: i64 = sqlx::query_scalar(
        "select count(*) from site a join site b
           on a.id < b.id and a.kind = b.kind and st_dwithin(a.geom::geography, b.geom::geography, 30)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let multiply_recorded: i64 = sqlx::query_scalar(
        "select count(*) from (select observation_id from site_event where observation_id is not null
                                group by observation_id having count(*) > 1) twice",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let sites: i64 = sqlx::query_scalar("select count(*) from site").fetch_one(&pool).await.unwrap();
    let keys: Vec<(String, String)> =
        sqlx::query_as("select original_key, thumbnail_key from photo").fetch_all(&pool).await.unwrap();
    let photo_files_missing =
        keys.iter().flat_map(|(a, b)| [a, b]).filter(|key| !photo_dir.join(key.as_str()).is_file()).count();
    pool.close().await;
    Stored {
        observations: stored.len(),
        missing: sent.difference(&stored).copied().collect(),
        unexpected: stored.difference(&sent).count(),
        acknowledged_missing: load.acknowledged.difference(&stored).count(),
        sites: sites as usize,
        sites_expected: places.len(),
        duplicate_site_pairs,
        multiply_recorded,
        photos: keys.len(),
        photos_expected: load.sent.iter().filter(|s| stored.contains(&s.id)).map(|s| s.photos).sum(),
        photo_files_missing,
    }
}

impl Stored {
    fn violations(&self, out: &mut Vec<String>) {
        let mut check = |ok: bool, what: String| {
            if !ok {
                out.push(what);
            }
        };
        check(self.missing.is_empty(), format!("{} observations sent were not stored", self.missing.len()));
        check(self.acknowledged_missing == 0, format!("{} acknowledged observations lost", self.acknowledged_missing));
        check(self.unexpected == 0, format!("{} observations stored that no phone sent", self.unexpected));
        check(self.multiply_recorded == 0, format!("{} observations recorded twice", self.multiply_recorded));
        check(
            self.duplicate_site_pairs == 0,
            format!("{} pairs of sites for one place and kind", self.duplicate_site_pairs),
        );
        check(self.sites == self.sites_expected, format!("{} sites for {} places", self.sites, self.sites_expected));
        check(
            self.photos == self.photos_expected,
            format!("{} photo rows, {} expected", self.photos, self.photos_expected),
        );
        check(self.photo_files_missing == 0, format!("{} photo files missing", self.photo_files_missing));
    }
}

impl fmt::Display for Stored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  stored: {} observations ({} sent and not stored, {} acknowledged and lost, {} recorded twice), \
             {} sites for {} places and kinds ({} duplicate pairs), {} photos ({} expected, {} files missing)",
            self.observations,
            self.missing.len(),
            self.acknowledged_missing,
            self.multiply_recorded,
            self.sites,
            self.sites_expected,
            self.duplicate_site_pairs,
            self.photos,
            self.photos_expected,
            self.photo_files_missing
        )
    }
}

// ---------------------------------------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------------------------------------

/// Figures of a load: rate, latency of acknowledged attempts, retries, statuses.
pub fn load_figures(load: &Load) -> String {
    let mut ok: Vec<f64> = load
        .attempts
        .iter()
        .filter(|a| matches!(a.status, Some(200 | 201)))
        .map(|a| (a.answered - a.sent).as_secs_f64() * 1000.0)
        .collect();
    ok.sort_by(f64::total_cmp);
    let pct = |p: f64| ok.get(((ok.len() as f64 * p) as usize).min(ok.len().saturating_sub(1))).copied().unwrap_or(0.0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  load: {} observations ({} photos) in {:.1} s = {:.1} observations/s; acknowledged latency p50 {:.0} ms, \
         p99 {:.0} ms; {} attempts, {} retries; {} given up",
        load.sent.len(),
        load.sent.iter().map(|s| s.photos).sum::<usize>(),
        load.elapsed.as_secs_f64(),
        load.sent.len() as f64 / load.elapsed.as_secs_f64(),
        pct(0.5),
        pct(0.99),
        load.attempts.len(),
        load.attempts.len() - load.sent.len(),
        load.given_up.len()
    );
    let _ = writeln!(out, "  statuses seen by the phones: {}", statuses(load.attempts.iter()));
    for (id, why) in load.given_up.iter().take(5) {
        let _ = writeln!(out, "    given up {id}: {why}");
    }
    out
}

/// `201 × 950, 200 × 48, connection failed × 100`.
fn statuses<'a>(attempts: impl Iterator<Item = &'a Attempt>) -> String {
    let mut counts: BTreeMap<Option<u16>, usize> = BTreeMap::new();
    for a in attempts {
        *counts.entry(a.status).or_default() += 1;
    }
    counts
        .iter()
        .map(|(s, n)| match s {
            Some(s) => format!("{s} × {n}"),
            None => format!("connection failed or timed out × {n}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn proxy_figures(stats: &ProxyStats) -> String {
    format!(
        "  proxy: {} requests, {} replies dropped after the server answered, {} uploads cut off halfway, {} upstream errors\n",
        stats.requests.load(Ordering::Relaxed),
        stats.replies_dropped.load(Ordering::Relaxed),
        stats.uploads_reset.load(Ordering::Relaxed),
        stats.upstream_errors.load(Ordering::Relaxed)
    )
}

/// A scenario's outcome: its figures, and the promises it found broken (none, when all is well).
pub struct Outcome {
    pub name: &'static str,
    pub figures: String,
    pub violations: Vec<String>,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}:", self.name)?;
        write!(f, "{}", self.figures)?;
        if self.violations.is_empty() {
            writeln!(f, "  every promise held")
        } else {
            self.violations.iter().try_for_each(|v| writeln!(f, "  BROKEN: {v}"))
        }
    }
}

impl Outcome {
    /// Panics with the figures when a promise broke (the short form's assertion).
    pub fn assert_held(&self) {
        assert!(self.violations.is_empty(), "{self}");
    }
}

/// What every load must leave: no 5xx seen, none counted by the servers, everything stored once.
async fn load_violations(load: &Load, stored: &Stored, servers: &[&Server], out: &mut Vec<String>) {
    let server_errors: usize = load.attempts.iter().filter(|a| a.status.is_some_and(|s| s >= 500)).count();
    if server_errors > 0 {
        out.push(format!("{server_errors} answers were 5xx"));
    }
    for server in servers {
        let counted = server.server_errors().await;
        if !counted.is_empty() {
            out.push(format!("{} counted 5xx answers: {counted:?}", server.base));
        }
    }
    if !load.given_up.is_empty() {
        out.push(format!("{} observations given up, e.g. {:?}", load.given_up.len(), load.given_up.first()));
    }
    stored.violations(out);
}

// ---------------------------------------------------------------------------------------------------------
// The scenarios
// ---------------------------------------------------------------------------------------------------------

/// Inspector accounts the phones share, by token (each phone uses one of them).
const INSPECTORS: usize = 4;

fn inspector_tokens(cluster: &Cluster) -> Vec<String> {
    (0..INSPECTORS).map(|i| account(cluster, &format!("phone{i}"), "inspector")).collect()
}

/// The retry storm: phones through the lossy proxy to one server.
pub async fn storm(options: &Options) -> Outcome {
    let cluster = Cluster::start();
    let photos = tempfile::tempdir().unwrap();
    let server = Server::start(&cluster, photos.path());
    let tokens = inspector_tokens(&cluster);
    let proxy = proxy(vec![server.addr], options.drop_reply, options.reset_upload).await;
    let load = run_phones(options, &proxy.base, &tokens, Instant::now()).await;
    let stored = check_database(&cluster, photos.path(), &load).await;
    let mut violations = Vec::new();
    load_violations(&load, &stored, &[&server], &mut violations).await;
    if proxy.stats.replies_dropped.load(Ordering::Relaxed) == 0
        || proxy.stats.uploads_reset.load(Ordering::Relaxed) == 0
    {
        violations.push("the proxy lost no reply or cut no upload: the storm tested nothing".into());
    }
    let figures = storm_figures("through one proxy to one server", options, &load, &proxy.stats, &stored);
    Outcome { name: "storm", figures, violations }
}

/// The figures of a storm: its size and path, the load, what the proxy did, what was stored.
fn storm_figures(path: &str, options: &Options, load: &Load, proxy: &ProxyStats, stored: &Stored) -> String {
    format!(
        "  {} phones × {} observations {path}\n{}{}{stored}",
        options.phones,
        options.per_phone,
        load_figures(load),
        proxy_figures(proxy),
    )
}

/// How long an answer may take while the database is down (the pool's 3 s acquire timeout and some margin).
pub const OUTAGE_ANSWER_MAX: Duration = Duration::from_secs(5);
/// How soon after the database accepts connections again the service must answer 2xx.
pub const RECOVERY_MAX: Duration = Duration::from_secs(3);

/// The database restart: phones straight to one server, PostgreSQL crashed after a quarter of the load and
/// started again `options.outage` later, and a prober asking every 100 ms for the signed-in account (which
/// needs the database).
pub async fn restart(options: &Options) -> Outcome {
    let cluster = Cluster::start();
    let photos = tempfile::tempdir().unwrap();
    let server = Server::start(&cluster, photos.path());
    let tokens = inspector_tokens(&cluster);
    let clock = Instant::now();
    let phones = {
        let (options, base, tokens) = (options.clone(), server.base.clone(), tokens.clone());
        tokio::spawn(async move { run_phones(&options, &base, &tokens, clock).await })
    };
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let prober = tokio::spawn(probe(server.base.clone(), tokens[0].clone(), clock, stop.clone()));

    // A quarter of the load in (counted by the server's own log of recorded observations), then the crash.
    let quarter = options.phones * options.per_phone / 4;
    let deadline = Instant::now() + Duration::from_secs(300);
    while server.log_lines("observation recorded") < quarter.max(1) {
        assert!(Instant::now() < deadline, "a quarter of the load was not recorded within 300 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let crash_at = clock.elapsed();
    let c = &cluster;
    tokio::task::block_in_place(|| c.stop(options.stop));
    // The outage counts from the postmaster's exit: a request answered between the signal and the exit may
    // still have been served.
    let down_at = clock.elapsed();
    tokio::time::sleep(options.outage).await;
    let start_at = clock.elapsed();
    let (refused_at, back_at) = cluster.start_again().await;
    let (refused_at, back_at) = (refused_at.duration_since(clock), back_at.duration_since(clock));

    let load = phones.await.unwrap();
    stop.store(true, Ordering::Relaxed);
    let probes = prober.await.unwrap();
    let stored = check_database(&cluster, photos.path(), &load).await;

    // Answers to requests sent while the database was down, or answered before it came back.
    let all: Vec<Attempt> = load.attempts.iter().chain(&probes).copied().collect();
    let in_outage: Vec<&Attempt> = all.iter().filter(|a| a.sent >= down_at && a.sent < back_at).collect();
    let slowest = in_outage.iter().map(|a| a.answered - a.sent).max().unwrap_or_default();
    let without_retry_after = in_outage.iter().filter(|a| a.status == Some(503) && !a.retry_after).count();
    let recovered =
        probes.iter().filter(|a| a.sent >= back_at && matches!(a.status, Some(200..=299))).map(|a| a.answered).min();
    let recovery = recovered.map(|t| t.saturating_sub(back_at));
    // A 503 is the promised answer while the database is down, and for a request that was waiting for a
    // connection when it came back (up to the pool's acquire timeout later).
    let late_503 = all.iter().filter(|a| a.status == Some(503) && a.sent > back_at + Duration::from_secs(3)).count();

    let mut violations = Vec::new();
    let other_5xx = all.iter().filter(|a| a.status.is_some_and(|s| s >= 500 && s != 503)).count();
    if other_5xx > 0 {
        violations.push(format!("{other_5xx} answers were 5xx other than 503"));
    }
    let counted = server.server_errors().await;
    // A request sent during the outage waits up to the pool's acquire timeout for a connection, so one sent
    // near its end may be served once the database is back: a 2xx is right then, and only then.
    let wrong = |a: &&&Attempt| match a.status {
        Some(503) => false,
        Some(200..=299) => a.answered < refused_at,
        _ => true,
    };
    if in_outage.iter().any(|a| wrong(&a)) {
        violations.push(format!("answers during the outage other than 503: {}", statuses(in_outage.iter().copied())));
    }
    if in_outage.iter().all(|a| a.status != Some(503)) {
        violations.push("no 503 during the outage: the restart tested nothing".into());
    }
    if slowest > OUTAGE_ANSWER_MAX {
        violations.push(format!("an answer during the outage took {slowest:?} (at most {OUTAGE_ANSWER_MAX:?})"));
    }
    if in_outage.iter().any(|a| a.status.is_none()) {
        violations.push("a request during the outage got no answer (connection failed or timed out)".into());
    }
    if without_retry_after > 0 {
        violations.push(format!("{without_retry_after} 503s without Retry-After"));
    }
    match recovery {
        Some(r) if r <= RECOVERY_MAX => {}
        other => violations.push(format!("service back {other:?} after the database (at most {RECOVERY_MAX:?})")),
    }
    if late_503 > 0 {
        violations.push(format!("{late_503} 503s for requests sent over 3 s after the database came back"));
    }
    if !load.given_up.is_empty() {
        violations.push(format!("{} observations given up, e.g. {:?}", load.given_up.len(), load.given_up.first()));
    }
    stored.violations(&mut violations);

    let mut figures = format!(
        "  {} phones × {} observations straight to one server; PostgreSQL {} at {:.2} s, exited at {:.2} s, \
         started again at {:.2} s, accepting connections at {:.2} s ({:.1} s down)\n",
        options.phones,
        options.per_phone,
        options.stop.describe(),
        crash_at.as_secs_f64(),
        down_at.as_secs_f64(),
        start_at.as_secs_f64(),
        back_at.as_secs_f64(),
        (back_at - down_at).as_secs_f64()
    );
    figures += &load_figures(&load);
    let _ = writeln!(
        figures,
        "  outage: {} requests sent while it was down (phones and prober): {}; slowest answer {:.2} s; \
         {} 503s without Retry-After",
        in_outage.len(),
        statuses(in_outage.iter().copied()),
        slowest.as_secs_f64(),
        without_retry_after
    );
    let _ = writeln!(
        figures,
        "  recovery: first 2xx {} after the database accepted connections; server-counted 5xx by route: {counted:?}",
        recovery.map_or("never".into(), |r| format!("{:.2} s", r.as_secs_f64()))
    );
    figures += &stored.to_string();
    Outcome {
        name: if options.stop == Stop::Crash { "restart (crash)" } else { "restart (fast stop)" },
        figures,
        violations,
    }
}

/// Asks for the signed-in account every 100 ms until told to stop; every answer as an attempt.
async fn probe(base: String, token: String, clock: Instant, stop: Arc<std::sync::atomic::AtomicBool>) -> Vec<Attempt> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let mut out = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let sent = clock.elapsed();
        let answer = client.get(format!("{base}/api/v1/session")).bearer_auth(&token).send().await;
        out.push(Attempt {
            sent,
            answered: clock.elapsed(),
            status: answer.as_ref().ok().map(|r| r.status().as_u16()),
            retry_after: answer.as_ref().is_ok_and(|r| r.headers().contains_key("retry-after")),
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    out
}

/// Two servers on one database behind the proxy.
pub async fn two_servers(options: &Options) -> Outcome {
    let cluster = Cluster::start();
    let photos = tempfile::tempdir().unwrap();
    let servers = Server::start_many(&cluster, photos.path(), 2);
    let (a, b) = (&servers[0], &servers[1]);
    let mut violations = Vec::new();
    let mut figures = String::new();

    // (e) The report schedule ran on both at start-up, at the same moment: each due draft made once.
    for server in [a, b] {
        let deadline = Instant::now() + Duration::from_secs(120);
        while server.job_runs("report_schedule").await == 0 {
            assert!(Instant::now() < deadline, "the report schedule did not run within 120 s of start-up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let pool = cluster.pool().await;
    let drafts: i64 = sqlx::query_scalar("select count(*) from report_draft").fetch_one(&pool).await.unwrap();
    let made = a.log_lines("report draft prepared on schedule") + b.log_lines("report draft prepared on schedule");
    let _ = writeln!(
        figures,
        "  schedule: {drafts} drafts, made {made} times ({} on A, {} on B)",
        a.log_lines("report draft prepared on schedule"),
        b.log_lines("report draft prepared on schedule")
    );
    if drafts != 3 || made != 3 {
        violations
            .push(format!("the schedule made {made} drafts on two servers for {drafts} due periods (3 expected)"));
    }

    let tokens = inspector_tokens(&cluster);
    let dispatcher = account(&cluster, "dispatcher", "dispatcher");
    account(&cluster, "throttled", "inspector");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();

    // (b) A session signed in on A is good on B, and signing out on B ends it on A.
    let login = http
        .post(format!("{}/api/v1/session", a.base))
        .json(&json!({"name": "phone0", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap().to_string())
        .unwrap_or_default();
    let csrf = login.json::<Value>().await.unwrap()["csrf_token"].as_str().unwrap_or_default().to_string();
    let on_b = http.get(format!("{}/api/v1/session", b.base)).header("cookie", &cookie).send().await.unwrap();
    let on_b_status = on_b.status().as_u16();
    let on_b_name = on_b.json::<Value>().await.unwrap_or_default()["user"]["name"].clone();
    let out_b = http
        .delete(format!("{}/api/v1/session", b.base))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    let after_on_a = http
        .get(format!("{}/api/v1/session", a.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    let _ = writeln!(
        figures,
        "  sessions: signed in on A; B answers {on_b_status} for {on_b_name}; signed out on B ({out_b}); A then answers {after_on_a}"
    );
    if on_b_status != 200 || on_b_name != "phone0" || out_b != 204 || after_on_a != 401 {
        violations.push("a session is not the same on both servers".into());
    }

    // (c) A move on A makes the ETag read before it stale on B.
    // At a place of its own (no phone has 999 phones before it).
    let sent = observation_of(999, 1, 0);
    let (content_type, body) = upload_body(&sent, 999, 1);
    let upload = http
        .post(format!("{}/api/v1/observations", a.base))
        .bearer_auth(&tokens[0])
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let site = upload.json::<Value>().await.unwrap()["site"]["id"].as_str().unwrap().to_string();
    let read = http.get(format!("{}/api/v1/sites/{site}", b.base)).bearer_auth(&dispatcher).send().await.unwrap();
    let etag = read.headers().get("etag").unwrap().to_str().unwrap().to_string();
    let act = |base: &str, etag: &str, action: &str| {
        http.post(format!("{base}/api/v1/sites/{site}/actions"))
            .bearer_auth(&dispatcher)
            .header("if-match", etag.to_string())
            .json(&json!({"action": action}))
            .send()
    };
    let moved = act(&a.base, &etag, "verify").await.unwrap();
    let moved_status = moved.status().as_u16();
    let new_etag = moved.headers().get("etag").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let stale = act(&b.base, &etag, "reject").await.unwrap().status().as_u16();
    let status_on_b =
        http.get(format!("{}/api/v1/sites/{site}", b.base)).bearer_auth(&dispatcher).send().await.unwrap();
    let etag_on_b = status_on_b.headers().get("etag").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let _ = writeln!(
        figures,
        "  ETags: read {etag} on B, verified on A ({moved_status}, now {new_etag}); the stale {etag} on B: {stale}; B now reads {etag_on_b}"
    );
    if moved_status != 200 || stale != 412 || etag_on_b != new_etag || new_etag == etag {
        violations.push("a stale ETag is not refused across servers".into());
    }

    // (d) The sign-in throttle counts failures on both servers together: five wrong passwords, alternating,
    // then the sixth attempt is refused on either, even with the right password.
    let mut throttle = Vec::new();
    for i in 0..5 {
        let server = if i % 2 == 0 { a } else { b };
        let r = http
            .post(format!("{}/api/v1/session", server.base))
            .json(&json!({"name": "throttled", "password": "wrong"}))
            .send()
            .await
            .unwrap();
        throttle.push(r.status().as_u16());
    }
    for server in [a, b] {
        let r = http
            .post(format!("{}/api/v1/session", server.base))
            .json(&json!({"name": "throttled", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        let retry_after = r.headers().contains_key("retry-after");
        throttle.push(if retry_after { r.status().as_u16() } else { 0 });
    }
    let _ = writeln!(
        figures,
        "  sign-in throttle: five wrong passwords alternating A, B, …, then the right one on A and on B: {throttle:?}"
    );
    if throttle != [401, 401, 401, 401, 401, 429, 429] {
        violations.push(format!("the sign-in throttle does not count across servers: {throttle:?}"));
    }

    // (a) The storm through both: a retried observation may land on the other server.
    let proxy = proxy(vec![a.addr, b.addr], options.drop_reply, options.reset_upload).await;
    let load = run_phones(options, &proxy.base, &tokens, Instant::now()).await;
    let stored = check_database(&cluster, photos.path(), &load).await;
    // The ETag check's site is one more, with its one observation.
    let stored = Stored {
        sites_expected: stored.sites_expected + 1,
        unexpected: stored.unexpected.saturating_sub(1),
        photos_expected: stored.photos_expected + sent.photos,
        ..stored
    };
    load_violations(&load, &stored, &[a, b], &mut violations).await;
    let (on_a, on_b) = (a.log_lines("observation recorded"), b.log_lines("observation recorded"));
    let _ = writeln!(figures, "  recorded: {on_a} observations by A, {on_b} by B");
    if on_a == 0 || on_b == 0 {
        violations.push("the proxy did not spread the storm over both servers".into());
    }
    pool.close().await;
    let path = "through the proxy, round-robin per request over two servers";
    figures += &storm_figures(path, options, &load, &proxy.stats, &stored);
    Outcome { name: "two servers", figures, violations }
}
