//! Time and memory limits on requests, so that slow or stalled clients cannot hold the server's memory or
//! keep other users waiting:
//!
//! - [`request_timeout`]: every request is answered within `Settings::request_timeout` or gets a 503, except
//!   the uploads, which keep their own pace through [`UploadBody`] (they take minutes on a 2G phone);
//! - [`BodyPace`]: an upload's body must arrive at a minimum average rate after a grace period, and whole
//!   within a deadline, else 408 and its buffers are freed;
//! - [`UploadBuffers`]: the bytes of uploads buffered in memory (observations and checklist evidence hold
//!   their photos in memory until they are checked and stored) share one budget, a semaphore of KiB slots;
//!   an upload that cannot get room within a short wait gets 503 with `Retry-After`.
//!
//! Why a rate rather than one deadline: a deadline long enough for a 2G phone (a 500 KB photo at 5 KB/s takes
//! 100 s) lets a client at 100 bytes/s hold a connection just as long; a minimum average rate cuts the
//! trickle off after the grace period while every real phone, however slow its network, stays above it.
//! Why a budget of bytes rather than a count of uploads: 200 clients trickling 1 KB/s hold a few KiB each,
//! while one inspector's eight original photos hold 120 MiB; counting uploads would turn the inspector away
//! behind the trickle, or let too many large uploads in. The headers themselves are bounded by hyper's
//! header read timeout (`http::serve`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::{AppState, Error, Result};
use crate::metrics::METRICS;

/// The limits of upload bodies (observations, checklist evidence, county files), as set by the operator.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    /// Memory for upload bodies being read, bytes, shared by every upload in progress.
    pub buffer_bytes: usize,
    /// How long an upload waits for room in the buffers before it is answered 503.
    pub buffer_wait: Duration,
    /// After `body_grace`, a body must have arrived at this average rate since the request began, bytes/s.
    pub body_min_rate_bytes_s: u64,
    pub body_grace: Duration,
    /// The whole body must have arrived within this, however fast it is coming.
    pub body_timeout: Duration,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits {
            buffer_bytes: default_upload_buffer_bytes(),
            buffer_wait: Duration::from_secs(2),
            // A 2G (GPRS/EDGE) phone sends 5 KB/s or more: 2 KB/s leaves it more than twice the room, and a
            // 1 KB/s trickle is cut after twice the grace.
            body_min_rate_bytes_s: 2048,
            body_grace: Duration::from_secs(10),
            // A phone's 500 KB photos, eight of them, at 5 KB/s take under 14 minutes.
            body_timeout: Duration::from_secs(15 * 60),
        }
    }
}

/// The upload buffers' default size: a quarter of the machine's memory (or of the cgroup's limit when it is
/// smaller), at least 256 MiB; 1 GiB when the memory cannot be read. The rest is for the database's
/// connections, photo decoding (up to 512 MiB per photo in `photos::process`), the tile cache and the OS.
pub fn default_upload_buffer_bytes() -> usize {
    const MIB: u64 = 1024 * 1024;
    let total = [mem_total_bytes(), cgroup_memory_max_bytes()].into_iter().flatten().min();
    let bytes = total.map_or(1024 * MIB, |t| (t / 4).max(256 * MIB));
    usize::try_from(bytes).unwrap_or(usize::MAX)
}

fn mem_total_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn cgroup_memory_max_bytes() -> Option<u64> {
    // cgroup v2; "max" (no limit) does not parse and is skipped.
    std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok()?.trim().parse().ok()
}

/// When the request began, and whether its handler keeps its own pace (an upload), which lifts the
/// overall request timeout. Put in every request's extensions by [`request_timeout`].
#[derive(Debug, Clone)]
pub struct RequestClock {
    started: Instant,
    own_pace: Arc<AtomicBool>,
}

impl RequestClock {
    fn new() -> RequestClock {
        RequestClock { started: Instant::now(), own_pace: Arc::new(AtomicBool::new(false)) }
    }
}

/// Answers 503 when a request has no response within `timeout`, unless its handler took over its own pace
/// ([`UploadBody`]). Streamed responses (exports) are timed to their head only: once the head is out, the
/// body goes at the client's speed.
pub async fn request_timeout(State(timeout): State<Duration>, mut request: Request, next: Next) -> Response {
    let clock = RequestClock::new();
    request.extensions_mut().insert(clock.clone());
    let response = next.run(request);
    let mut response = std::pin::pin!(response);
    tokio::select! {
        response = &mut response => return response,
        () = tokio::time::sleep_until(clock.started + timeout) => {}
    }
    if clock.own_pace.load(Ordering::Relaxed) {
        return response.await;
    }
    // Dropping the handler's future frees what it held (its database connection goes back to the pool).
    Error::Busy {
        message: format!("the request was not answered within {} s; try again shortly", timeout.as_secs()),
        retry_after_s: 5,
    }
    .into_response()
}

/// An upload body's clock: after the grace period, the bytes received must keep up with the minimum rate
/// counted from the request's start, and all of them must arrive within the body timeout.
#[derive(Debug)]
pub struct BodyPace {
    started: Instant,
    received: u64,
    limits: UploadLimits,
}

impl BodyPace {
    pub fn new(started: Instant, limits: UploadLimits) -> BodyPace {
        BodyPace { started, received: 0, limits }
    }

    /// When the next bytes must have arrived by: the rate's deadline for what has come so far, or the body
    /// timeout, whichever is first.
    fn deadline(&self) -> Instant {
        let rate = self.limits.body_min_rate_bytes_s.max(1);
        let earned = Duration::from_secs_f64(self.received as f64 / rate as f64);
        (self.started + self.limits.body_grace + earned).min(self.started + self.limits.body_timeout)
    }

    /// Awaits the next piece of the body (a part or a chunk), or answers 408 when it is late.
    pub async fn next<T>(&self, piece: impl Future<Output = T>) -> Result<T> {
        tokio::time::timeout_at(self.deadline(), piece).await.map_err(|_| self.too_slow())
    }

    pub fn received(&mut self, bytes: usize) {
        self.received += bytes as u64;
    }

    fn too_slow(&self) -> Error {
        let limits = &self.limits;
        let elapsed = self.started.elapsed();
        let why = if elapsed >= limits.body_timeout {
            format!("the whole upload must arrive within {} s", limits.body_timeout.as_secs())
        } else {
            format!(
                "after the first {} s an upload must arrive at {} bytes/s or more",
                limits.body_grace.as_secs(),
                limits.body_min_rate_bytes_s
            )
        };
        Error::RequestTimeout(format!(
            "the upload arrived too slowly: {} bytes in {:.0} s, and {why}; send it again when the connection is better",
            self.received,
            elapsed.as_secs_f64()
        ))
    }
}

/// Memory for upload bodies, shared by every upload of one router: a semaphore of KiB slots. Reported in
/// `/metrics` as the queue `upload_buffer` (slots are KiB) and `roadledger_upload_buffered_bytes`.
#[derive(Debug)]
pub struct UploadBuffers {
    slots: Arc<Semaphore>,
    wait: Duration,
}

impl UploadBuffers {
    pub fn new(limits: &UploadLimits) -> UploadBuffers {
        let kib = (limits.buffer_bytes / 1024).clamp(1, Semaphore::MAX_PERMITS);
        METRICS.upload_buffer_slots.set(i64::try_from(kib).unwrap_or(i64::MAX));
        UploadBuffers { slots: Arc::new(Semaphore::new(kib)), wait: limits.buffer_wait }
    }
}

/// One upload's room in the [`UploadBuffers`]: the KiB slots it holds for the bytes it has buffered, given
/// back when it is dropped (when the request's handler returns, with or without an answer).
#[derive(Debug)]
pub struct Buffered {
    buffers: Arc<UploadBuffers>,
    permit: Option<OwnedSemaphorePermit>,
    bytes: u64,
}

impl Buffered {
    /// Makes room for `more` bytes on top of what is held, waiting up to the buffers' wait for it.
    pub async fn grow(&mut self, more: usize) -> Result<()> {
        let bytes = self.bytes + more as u64;
        let held = self.permit.as_ref().map_or(0, |p| p.num_permits());
        let needed = usize::try_from(bytes.div_ceil(1024)).unwrap_or(usize::MAX).saturating_sub(held);
        if needed > 0 {
            let more_permits = self.acquire(needed).await?;
            METRICS.upload_buffer_in_use.add(more_permits.num_permits() as i64);
            match &mut self.permit {
                Some(permit) => permit.merge(more_permits),
                None => self.permit = Some(more_permits),
            }
        }
        METRICS.upload_buffered_bytes.add(more as i64);
        self.bytes = bytes;
        Ok(())
    }

    async fn acquire(&self, kib: usize) -> Result<OwnedSemaphorePermit> {
        let slots = &self.buffers.slots;
        let Ok(kib_u32) = u32::try_from(kib) else {
            return Err(self.busy());
        };
        if let Ok(permit) = slots.clone().try_acquire_many_owned(kib_u32) {
            return Ok(permit);
        }
        let waiting = METRICS.upload_buffer.waiting.track();
        let acquired = tokio::time::timeout(self.buffers.wait, slots.clone().acquire_many_owned(kib_u32)).await;
        drop(waiting);
        match acquired {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                METRICS.upload_buffer.refused.inc();
                Err(self.busy())
            }
        }
    }

    fn busy(&self) -> Error {
        Error::Busy {
            message: "the server is receiving as many uploads as its memory allows; your upload was not recorded, \
                      send it again shortly"
                .into(),
            retry_after_s: 10,
        }
    }
}

impl Drop for Buffered {
    fn drop(&mut self) {
        METRICS.upload_buffered_bytes.add(-(self.bytes as i64));
        if let Some(permit) = &self.permit {
            METRICS.upload_buffer_in_use.add(-(permit.num_permits() as i64));
        }
    }
}

/// What an upload handler takes before reading its multipart body: the body's pace (which also lifts the
/// overall request timeout for this request), its room in the upload buffers, and the photo store keys it
/// writes (`uploads::Claims`). The handler holds it to its end, so its room and claims last until after
/// its transaction.
pub struct UploadBody {
    pub pace: BodyPace,
    pub buffered: Buffered,
    pub claims: super::uploads::Claims,
}

impl UploadBody {
    pub fn new(started: Instant, limits: UploadLimits, buffers: Arc<UploadBuffers>) -> UploadBody {
        UploadBody {
            pace: BodyPace::new(started, limits),
            buffered: Buffered { buffers, permit: None, bytes: 0 },
            claims: Default::default(),
        }
    }
}

impl FromRequestParts<AppState> for UploadBody {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let started = match parts.extensions.get::<RequestClock>() {
            Some(clock) => {
                clock.own_pace.store(true, Ordering::Relaxed);
                clock.started
            }
            None => Instant::now(),
        };
        let buffers = parts
            .extensions
            .get::<Arc<UploadBuffers>>()
            .cloned()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("the upload buffers are not in the router")))?;
        Ok(UploadBody::new(started, state.settings.upload_limits, buffers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> UploadLimits {
        UploadLimits {
            body_min_rate_bytes_s: 2048,
            body_grace: Duration::from_secs(10),
            body_timeout: Duration::from_secs(900),
            ..UploadLimits::default()
        }
    }

    #[test]
    fn a_2g_phone_keeps_ahead_of_the_rate_and_a_trickle_falls_behind_it() {
        let started = Instant::now();
        // A 500 KB photo at 5 KB/s: at every second, what has come is within the deadline it set.
        let mut phone = BodyPace::new(started, limits());
        for second in 1..=100u64 {
            assert!(phone.deadline() >= started + Duration::from_secs(second), "cut at {second} s");
            phone.received(5 * 1024);
        }
        // 1 KB/s: by 20 s it has sent 20 KB, which the rate earns 10 s for: 10 + 10 = 20 s, cut there.
        let mut trickle = BodyPace::new(started, limits());
        trickle.received(20 * 1024);
        assert_eq!(trickle.deadline(), started + Duration::from_secs(20));
        // However fast, the body timeout is the last word.
        let mut fast = BodyPace::new(started, limits());
        fast.received(1 << 40);
        assert_eq!(fast.deadline(), started + Duration::from_secs(900));
    }

    #[test]
    fn the_default_buffers_are_a_quarter_of_memory_and_at_least_256_mib() {
        let bytes = default_upload_buffer_bytes();
        assert!(bytes >= 256 * 1024 * 1024);
        if let Some(total) = mem_total_bytes() {
            assert!(bytes as u64 <= (total / 4).max(256 * 1024 * 1024));
        }
    }
}
