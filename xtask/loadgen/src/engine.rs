//! The run: connections, the open-loop dispatcher, closed-loop workers and
//! the shared recorder.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderMap, HeaderName, HeaderValue, HOST};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::config::{Config, Mode};
use crate::mix::RequestMix;
use crate::result::{
    percentile_points, LagSummary, LatencySummary, LoadResult, ScheduleStats,
};
use crate::sys;

/// Histogram range: 1 µs .. 1 h, 3 significant figures.
const HIST_MAX_US: u64 = 3_600_000_000;
const BACKOFF_MIN: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_millis(200);
/// Points per halving of the tail in the exported percentile curve.
const PERCENTILE_TICKS: u32 = 5;

/// Runs the load described by `config` to completion on the current tokio
/// runtime and returns what it measured.
///
/// Takes about `duration` plus the time to drain: requests still in flight at
/// the end finish or time out, so at most `duration + 2 × timeout` (open loop)
/// or `duration + timeout` (closed loop), plus the initial connect.
///
/// Dropping the returned future stops everything at once: every task and
/// connection it started is aborted and no result is produced.
pub async fn run(config: Config) -> Result<LoadResult> {
    run_until(config, std::future::pending::<()>()).await
}

/// Like [`run`], but ends the schedule early when `stop` completes (e.g.
/// `token.cancelled_owned()` or a Ctrl-C future) and returns a result for the
/// shortened window. Requests already in flight are allowed to finish (within
/// `timeout`); no new ones are sent.
pub async fn run_until<F>(config: Config, stop: F) -> Result<LoadResult>
where
    F: Future<Output = ()>,
{
    config.validate()?;
    let mix = RequestMix::new(&config.mix, config.rand_max, config.seed)?;
    let mut headers = HeaderMap::new();
    headers.insert(
        HOST,
        HeaderValue::try_from(format!("127.0.0.1:{}", config.port))?,
    );
    for (k, v) in &config.headers {
        headers.append(
            HeaderName::try_from(k.as_str())?,
            HeaderValue::try_from(v.as_str())?,
        );
    }

    let cpu0 = sys::process_cpu_time();
    let wall0 = Instant::now();
    let mut stop: Option<Pin<Box<F>>> = Some(Box::pin(stop));
    let mut stopped_early = false;

    // Open every connection before the clock starts, so that the first
    // scheduled requests do not pay for the handshakes.
    let mut initial = Vec::with_capacity(config.connections);
    let mut initial_connect_errors = 0u64;
    {
        let mut set = JoinSet::new();
        for _ in 0..config.connections {
            set.spawn(Conn::open(config.port, config.timeout));
        }
        loop {
            tokio::select! {
                joined = set.join_next() => match joined {
                    None => break,
                    Some(Ok(Ok(c))) => initial.push(c),
                    Some(Ok(Err(_))) => initial_connect_errors += 1,
                    Some(Err(e)) => return Err(anyhow!("connect task failed: {e}")),
                },
                _ = async { stop.as_mut().expect("guarded").await }, if stop.is_some() => {
                    stop = None;
                    stopped_early = true;
                    break;
                }
            }
        }
    }

    let t0 = Instant::now();
    let ctx = Arc::new(Ctx::new(&config, mix, headers, t0));
    ctx.rec().connect_errors += initial_connect_errors;
    let (stop_tx, stop_rx) = watch::channel(false);
    if stopped_early {
        ctx.request_stop(t0);
        let _ = stop_tx.send(true);
    }

    let mut workers = JoinSet::new();
    for _ in 0..config.connections {
        let conn = initial.pop();
        let ctx = ctx.clone();
        let rx = stop_rx.clone();
        if ctx.open.is_some() {
            workers.spawn(open_worker(ctx, conn, rx));
        } else {
            workers.spawn(closed_worker(ctx, conn, rx));
        }
    }
    drop(initial);

    loop {
        tokio::select! {
            joined = workers.join_next() => match joined {
                None => break,
                Some(Ok(())) => {}
                Some(Err(e)) => return Err(anyhow!("load worker failed: {e}")),
            },
            _ = async { stop.as_mut().expect("guarded").await }, if stop.is_some() => {
                stop = None;
                ctx.request_stop(Instant::now());
                let _ = stop_tx.send(true);
            }
        }
    }

    if let Some(open) = &ctx.open {
        let drops = open.finish();
        ctx.record_drops(drops);
    }
    let wall = wall0.elapsed();
    let cpu = sys::process_cpu_time().saturating_sub(cpu0);
    Ok(ctx.result(&config, wall, cpu))
}

// ---------------------------------------------------------------------------
// Connections

/// One keep-alive HTTP/1.1 connection. Dropping it aborts its driver task,
/// which closes the socket.
struct Conn {
    sender: SendRequest<Full<Bytes>>,
    driver: JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl Conn {
    async fn open(port: u16, timeout: Duration) -> Result<Conn> {
        let tcp = tokio::time::timeout(timeout, TcpStream::connect((Ipv4Addr::LOCALHOST, port)))
            .await
            .context("connect timed out")??;
        tcp.set_nodelay(true)?;
        let (sender, conn) = http1::handshake(TokioIo::new(tcp)).await?;
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn { sender, driver })
    }

    /// Waits (at most `timeout`) until the connection can take a request.
    async fn ready(&mut self, timeout: Duration) -> bool {
        if self.sender.is_closed() {
            return false;
        }
        if self.sender.is_ready() {
            return true;
        }
        matches!(
            tokio::time::timeout(timeout, self.sender.ready()).await,
            Ok(Ok(()))
        )
    }
}

#[derive(Debug, Clone, Copy)]
enum Outcome {
    Status { code: u16, bytes: u64 },
    Timeout,
    Io,
}

impl Outcome {
    /// The connection can no longer be trusted: a timed-out HTTP/1.1 request
    /// cannot be cancelled on the wire.
    fn breaks_connection(self) -> bool {
        !matches!(self, Outcome::Status { .. })
    }
}

async fn exchange(conn: &mut Conn, req: Request<Full<Bytes>>, timeout: Duration) -> Outcome {
    let fut = async {
        let resp = conn.sender.send_request(req).await?;
        let code = resp.status().as_u16();
        let mut body = resp.into_body();
        let mut bytes = 0u64;
        while let Some(frame) = body.frame().await {
            if let Some(d) = frame?.data_ref() {
                bytes += d.len() as u64;
            }
        }
        Ok::<_, hyper::Error>(Outcome::Status { code, bytes })
    };
    match tokio::time::timeout(timeout, fut).await {
        Ok(Ok(o)) => o,
        Ok(Err(_)) => Outcome::Io,
        Err(_) => Outcome::Timeout,
    }
}

struct Backoff(Duration);

impl Backoff {
    fn new() -> Self {
        Backoff(BACKOFF_MIN)
    }
    fn reset(&mut self) {
        self.0 = BACKOFF_MIN;
    }
    fn next(&mut self) -> Duration {
        let d = self.0;
        self.0 = (self.0 * 2).min(BACKOFF_MAX);
        d
    }
}

/// Sleeps for `d` unless the stop signal comes first; true when stopped.
async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    let slept = tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = stop.wait_for(|s| *s) => false,
    };
    !slept || *stop.borrow()
}

// ---------------------------------------------------------------------------
// Open-loop schedule

#[derive(Debug, Clone, Copy, Default)]
struct Drops {
    warmup: u64,
    window: u64,
}

#[derive(Debug, Clone, Copy)]
struct Claim {
    index: u64,
    offset: Duration,
    warm: bool,
}

struct Dispatch {
    /// First index not yet taken or dropped.
    next: u64,
    /// One past the last scheduled index (lowered by a stop).
    n_end: u64,
    peak_backlog: u64,
}

/// The constant-rate schedule. Request `i` is due at `t0 + i / rate`. The
/// queue of due-but-unsent requests is the index range `[next, due)`, so it
/// takes no memory; requests older than `timeout` are dropped from its head,
/// which bounds it to `ceil(rate × timeout)` entries.
struct OpenSched {
    rate: f64,
    n_warm: u64,
    timeout_ns: u64,
    backlog_limit: u64,
    lag_limit: Duration,
    d: Mutex<Dispatch>,
}

impl OpenSched {
    fn new(rate: f64, warmup: Duration, duration: Duration, timeout: Duration) -> Self {
        let mut s = OpenSched {
            rate,
            n_warm: 0,
            timeout_ns: timeout.as_nanos() as u64,
            backlog_limit: (rate * timeout.as_secs_f64()).ceil().max(1.0) as u64,
            lag_limit: Duration::from_secs_f64(1.0 / rate)
                .clamp(Duration::from_millis(2), Duration::from_millis(10)),
            d: Mutex::new(Dispatch {
                next: 0,
                n_end: 0,
                peak_backlog: 0,
            }),
        };
        s.n_warm = s.count_before(warmup.as_nanos() as u64);
        s.d.get_mut().expect("fresh").n_end = s.count_before(duration.as_nanos() as u64);
        s
    }

    fn lock(&self) -> MutexGuard<'_, Dispatch> {
        self.d.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn offset_ns(&self, i: u64) -> u64 {
        (i as f64 * 1e9 / self.rate).round() as u64
    }

    /// Number of indices due strictly before `ns` after `t0`.
    fn count_before(&self, ns: u64) -> u64 {
        let mut i = (ns as f64 * self.rate / 1e9).ceil() as u64;
        while i > 0 && self.offset_ns(i - 1) >= ns {
            i -= 1;
        }
        while self.offset_ns(i) < ns {
            i += 1;
        }
        i
    }

    fn split(&self, from: u64, to: u64) -> Drops {
        let warm_to = to.min(self.n_warm);
        let warmup = warm_to.saturating_sub(from);
        Drops {
            warmup,
            window: (to - from) - warmup,
        }
    }

    /// Takes the oldest due request that is still worth sending, or the next
    /// future one; drops the expired ones on the way.
    fn claim(&self, now_ns: u64) -> (Option<Claim>, Drops) {
        let mut d = self.lock();
        let mut drops = Drops::default();
        if now_ns >= self.timeout_ns {
            // Age >= timeout: intended <= now - timeout.
            let expired = self.count_before(now_ns - self.timeout_ns + 1).min(d.n_end);
            if d.next < expired {
                drops = self.split(d.next, expired);
                d.next = expired;
            }
        }
        let due = self.count_before(now_ns + 1).min(d.n_end);
        let backlog = due.saturating_sub(d.next);
        d.peak_backlog = d.peak_backlog.max(backlog);
        if d.next >= d.n_end {
            return (None, drops);
        }
        let index = d.next;
        d.next += 1;
        let claim = Claim {
            index,
            offset: Duration::from_nanos(self.offset_ns(index)),
            warm: index < self.n_warm,
        };
        (Some(claim), drops)
    }

    fn still_scheduled(&self, index: u64) -> bool {
        index < self.lock().n_end
    }

    fn exhausted(&self) -> bool {
        let d = self.lock();
        d.next >= d.n_end
    }

    /// Ends the schedule at `now_ns`: what was due by then still goes out.
    fn stop(&self, now_ns: u64) {
        let end = self.count_before(now_ns + 1);
        let mut d = self.lock();
        d.n_end = d.n_end.min(end);
    }

    /// Drops whatever was never taken (all workers gave up connecting).
    fn finish(&self) -> Drops {
        let mut d = self.lock();
        let drops = if d.next < d.n_end {
            self.split(d.next, d.n_end)
        } else {
            Drops::default()
        };
        d.next = d.next.max(d.n_end);
        drops
    }
}

// ---------------------------------------------------------------------------
// Shared context and recorder

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_US, 3).expect("valid histogram bounds")
}

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

struct Recorder {
    latency: Histogram<u64>,
    send_lag: Histogram<u64>,
    timer_lag: Histogram<u64>,
    sent: u64,
    completed: u64,
    ok: u64,
    non_2xx: u64,
    status: BTreeMap<u16, u64>,
    timeouts: u64,
    io_errors: u64,
    connect_errors: u64,
    dropped: u64,
    warmup_requests: u64,
    warmup_errors: u64,
    queued: u64,
    bytes: u64,
}

struct Sample {
    warm: bool,
    /// Intended start (open) or actual send (closed).
    origin: Instant,
    t_send: Instant,
    t_done: Instant,
    outcome: Outcome,
    /// Open loop: (timer lag when the request had to wait for its time,
    /// whether it was already due when taken).
    open: Option<(Option<Duration>, bool)>,
}

struct Ctx {
    port: u16,
    timeout: Duration,
    mix: RequestMix,
    headers: HeaderMap,
    t0: Instant,
    t_measure: Instant,
    t_end: Instant,
    open: Option<OpenSched>,
    seq: AtomicU64,
    stopped_at: Mutex<Option<Instant>>,
    rec: Mutex<Recorder>,
}

impl Ctx {
    fn new(config: &Config, mix: RequestMix, headers: HeaderMap, t0: Instant) -> Self {
        let open = match config.mode {
            Mode::Open { rate_per_s } => Some(OpenSched::new(
                rate_per_s,
                config.warmup,
                config.duration,
                config.timeout,
            )),
            Mode::Closed => None,
        };
        Ctx {
            port: config.port,
            timeout: config.timeout,
            mix,
            headers,
            t0,
            t_measure: t0 + config.warmup,
            t_end: t0 + config.duration,
            open,
            seq: AtomicU64::new(0),
            stopped_at: Mutex::new(None),
            rec: Mutex::new(Recorder {
                latency: new_hist(),
                send_lag: new_hist(),
                timer_lag: new_hist(),
                sent: 0,
                completed: 0,
                ok: 0,
                non_2xx: 0,
                status: BTreeMap::new(),
                timeouts: 0,
                io_errors: 0,
                connect_errors: 0,
                dropped: 0,
                warmup_requests: 0,
                warmup_errors: 0,
                queued: 0,
                bytes: 0,
            }),
        }
    }

    fn rec(&self) -> MutexGuard<'_, Recorder> {
        self.rec.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn ns_since_t0(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.t0).as_nanos()).unwrap_or(u64::MAX)
    }

    fn request_stop(&self, at: Instant) {
        let mut s = self.stopped_at.lock().unwrap_or_else(|p| p.into_inner());
        if s.is_none() {
            *s = Some(at);
        }
        if let Some(open) = &self.open {
            open.stop(self.ns_since_t0(at));
        }
    }

    /// End of the measurement window: the configured end or the stop time.
    fn window_end(&self) -> Instant {
        let stopped = *self.stopped_at.lock().unwrap_or_else(|p| p.into_inner());
        match stopped {
            Some(s) => s.min(self.t_end),
            None => self.t_end,
        }
    }

    fn connect_error(&self) {
        self.rec().connect_errors += 1;
    }

    fn record_drops(&self, drops: Drops) {
        if drops.warmup == 0 && drops.window == 0 {
            return;
        }
        let mut r = self.rec();
        r.warmup_errors += drops.warmup;
        if drops.window > 0 {
            r.dropped += drops.window;
            let v = us(self.timeout);
            r.latency.saturating_record_n(v, drops.window);
        }
    }

    fn record(&self, s: Sample) {
        let mut r = self.rec();
        if s.warm {
            r.warmup_requests += 1;
            if !matches!(s.outcome, Outcome::Status { code: 200..=299, .. }) {
                r.warmup_errors += 1;
            }
            return;
        }
        r.sent += 1;
        if let Some((timer_lag, queued)) = s.open {
            let lag = us(s.t_send.saturating_duration_since(s.origin));
            r.send_lag.saturating_record(lag);
            if let Some(t) = timer_lag {
                r.timer_lag.saturating_record(us(t));
            }
            if queued {
                r.queued += 1;
            }
        }
        match s.outcome {
            Outcome::Status { code, bytes } => {
                r.completed += 1;
                r.bytes += bytes;
                *r.status.entry(code).or_insert(0) += 1;
                if (200..300).contains(&code) {
                    r.ok += 1;
                    let v = us(s.t_done.saturating_duration_since(s.origin));
                    r.latency.saturating_record(v);
                } else {
                    r.non_2xx += 1;
                }
            }
            Outcome::Timeout => {
                r.timeouts += 1;
                // Recorded at the point the generator gave up, measured from
                // the same origin as successes.
                let v = us(s.t_send.saturating_duration_since(s.origin) + self.timeout);
                r.latency.saturating_record(v);
            }
            Outcome::Io => r.io_errors += 1,
        }
    }

    fn build_request(&self, seq: u64) -> Option<Request<Full<Bytes>>> {
        let p = self.mix.request(seq);
        let uri = Uri::try_from(p.path).ok()?;
        let mut req = Request::builder()
            .method(p.method)
            .uri(uri)
            .body(Full::new(p.body.unwrap_or_default()))
            .ok()?;
        *req.headers_mut() = self.headers.clone();
        Some(req)
    }

    /// Makes `conn` usable, opening a new connection if needed. One attempt;
    /// a failure is counted and leaves `conn` empty.
    async fn ensure_conn(&self, conn: &mut Option<Conn>) -> bool {
        if let Some(c) = conn {
            if c.ready(self.timeout).await {
                return true;
            }
            *conn = None;
        }
        match Conn::open(self.port, self.timeout).await {
            Ok(mut c) => {
                let ok = c.ready(self.timeout).await;
                if ok {
                    *conn = Some(c);
                } else {
                    self.connect_error();
                }
                ok
            }
            Err(_) => {
                self.connect_error();
                false
            }
        }
    }

    fn result(&self, config: &Config, wall: Duration, cpu: Duration) -> LoadResult {
        let r = self.rec();
        let duration = self.window_end().saturating_duration_since(self.t_measure);
        let duration_s = duration.as_secs_f64();
        let per_s = |n: u64| if duration_s > 0.0 { n as f64 / duration_s } else { 0.0 };
        let achieved = per_s(r.sent);
        let (schedule, kept_up) = match &self.open {
            Some(open) => {
                let d = open.lock();
                let s = ScheduleStats {
                    send_lag: LagSummary::from_histogram(&r.send_lag),
                    timer_lag: LagSummary::from_histogram(&r.timer_lag),
                    queued: r.queued,
                    peak_backlog: d.peak_backlog,
                    backlog_limit: open.backlog_limit,
                    lag_limit_us: us(open.lag_limit),
                };
                let rate_ok = duration_s > 0.0 && (achieved - open.rate).abs() <= 0.05 * open.rate;
                let lag_ok = s.timer_lag.p99_us <= s.lag_limit_us;
                (Some(s), rate_ok && lag_ok)
            }
            None => (None, true),
        };
        LoadResult {
            mode: match config.mode {
                Mode::Open { .. } => "open".into(),
                Mode::Closed => "closed".into(),
            },
            connections: config.connections,
            intended_rate_per_s: config.intended_rate(),
            achieved_rate_per_s: achieved,
            duration_s,
            warmup_s: config.warmup.as_secs_f64(),
            timeout_s: config.timeout.as_secs_f64(),
            wall_s: wall.as_secs_f64(),
            requests_sent: r.sent,
            requests_completed: r.completed,
            ok: r.ok,
            non_2xx: r.non_2xx,
            status_counts: r.status.clone(),
            timeouts: r.timeouts,
            io_errors: r.io_errors,
            connect_errors: r.connect_errors,
            dropped: r.dropped,
            warmup_requests: r.warmup_requests,
            warmup_errors: r.warmup_errors,
            bytes_received: r.bytes,
            throughput_ok_per_s: per_s(r.ok),
            latency_valid: r.ok > 0,
            latency: LatencySummary::from_histogram(&r.latency),
            latency_percentiles: percentile_points(&r.latency, PERCENTILE_TICKS),
            schedule,
            kept_up,
            generator_cpu_s: cpu.as_secs_f64(),
            peak_rss_kib: sys::peak_rss_kib(),
            histogram: Some(r.latency.clone()),
        }
    }
}

// ---------------------------------------------------------------------------
// Workers

async fn open_worker(ctx: Arc<Ctx>, mut conn: Option<Conn>, mut stop: watch::Receiver<bool>) {
    let sched = ctx.open.as_ref().expect("open worker without schedule");
    let mut backoff = Backoff::new();
    loop {
        // Hold a usable connection before taking a request.
        if ctx.ensure_conn(&mut conn).await {
            backoff.reset();
        } else {
            let give_up = sched.exhausted()
                || *stop.borrow()
                || Instant::now() > ctx.t_end + ctx.timeout;
            if give_up || sleep_or_stop(backoff.next(), &mut stop).await {
                return;
            }
            continue;
        }

        let taken_at = Instant::now();
        let (claim, drops) = sched.claim(ctx.ns_since_t0(taken_at));
        ctx.record_drops(drops);
        let Some(claim) = claim else { return };
        let intended = ctx.t0 + claim.offset;
        let queued = intended <= taken_at;
        let mut timer_lag = None;
        if !queued {
            tokio::select! {
                _ = tokio::time::sleep_until(intended.into()) => {}
                _ = stop.wait_for(|s| *s) => {}
            }
            if !sched.still_scheduled(claim.index) {
                continue; // the run was stopped before this one was due
            }
            if Instant::now() < intended {
                tokio::time::sleep_until(intended.into()).await;
            }
            timer_lag = Some(Instant::now().saturating_duration_since(intended));
        }

        // The connection may have been closed by the server while we waited:
        // re-open it, for as long as the request is not older than `timeout`.
        loop {
            if ctx.ensure_conn(&mut conn).await {
                backoff.reset();
                break;
            }
            let age = Instant::now().saturating_duration_since(intended);
            if age >= ctx.timeout {
                break;
            }
            tokio::time::sleep(backoff.next().min(ctx.timeout - age)).await;
        }
        let (Some(c), Some(req)) = (conn.as_mut(), ctx.build_request(claim.index)) else {
            let drop_one = if claim.warm {
                Drops {
                    warmup: 1,
                    window: 0,
                }
            } else {
                Drops {
                    warmup: 0,
                    window: 1,
                }
            };
            ctx.record_drops(drop_one);
            continue;
        };

        let t_send = Instant::now();
        let outcome = exchange(c, req, ctx.timeout).await;
        let t_done = Instant::now();
        ctx.record(Sample {
            warm: claim.warm,
            origin: intended,
            t_send,
            t_done,
            outcome,
            open: Some((timer_lag, queued)),
        });
        if outcome.breaks_connection() {
            conn = None;
        }
    }
}

async fn closed_worker(ctx: Arc<Ctx>, mut conn: Option<Conn>, mut stop: watch::Receiver<bool>) {
    let mut backoff = Backoff::new();
    loop {
        if *stop.borrow() || Instant::now() >= ctx.t_end {
            return;
        }
        if ctx.ensure_conn(&mut conn).await {
            backoff.reset();
        } else {
            let left = ctx.t_end.saturating_duration_since(Instant::now());
            if sleep_or_stop(backoff.next().min(left), &mut stop).await {
                return;
            }
            continue;
        }
        let t_send = Instant::now();
        if t_send >= ctx.t_end || *stop.borrow() {
            return;
        }
        let seq = ctx.seq.fetch_add(1, Ordering::Relaxed);
        let (Some(c), Some(req)) = (conn.as_mut(), ctx.build_request(seq)) else {
            continue;
        };
        let outcome = exchange(c, req, ctx.timeout).await;
        let t_done = Instant::now();
        ctx.record(Sample {
            warm: t_send < ctx.t_measure,
            origin: t_send,
            t_send,
            t_done,
            outcome,
            open: None,
        });
        if outcome.breaks_connection() {
            conn = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(rate: f64, warm_ms: u64, dur_ms: u64, timeout_ms: u64) -> OpenSched {
        OpenSched::new(
            rate,
            Duration::from_millis(warm_ms),
            Duration::from_millis(dur_ms),
            Duration::from_millis(timeout_ms),
        )
    }

    #[test]
    fn schedule_counts_are_exact() {
        let s = sched(200.0, 1000, 3000, 2000);
        assert_eq!(s.n_warm, 200);
        assert_eq!(s.lock().n_end, 600);
        assert_eq!(s.backlog_limit, 400);
        assert_eq!(s.lag_limit, Duration::from_millis(5));
        let s = sched(3.0, 0, 1000, 100);
        assert_eq!(s.lock().n_end, 3); // 0, 333.3, 666.7 ms
        assert_eq!(s.count_before(0), 0);
        assert_eq!(s.count_before(1), 1);
        assert_eq!(s.offset_ns(2), 666_666_667);
    }

    #[test]
    fn claim_drops_expired_and_bounds_backlog() {
        // 1000/s, 100 ms timeout: at most 100 queued.
        let s = sched(1000.0, 0, 10_000, 100);
        let (c, d) = s.claim(0);
        assert_eq!(c.unwrap().index, 0);
        assert_eq!(d.window, 0);
        // Nobody took anything for 1 s: everything older than 100 ms goes.
        let (c, d) = s.claim(1_000_000_000);
        let c = c.unwrap();
        assert_eq!(d.window, 900, "indices 1..=900 expired");
        assert_eq!(c.index, 901);
        assert_eq!(s.lock().peak_backlog, s.backlog_limit);
        s.stop(1_000_000_000);
        assert_eq!(s.lock().n_end, 1001);
        assert!(s.still_scheduled(1000));
        assert!(!s.still_scheduled(1001));
        let f = s.finish();
        assert_eq!(f.window, 1001 - 902);
        assert!(s.exhausted());
        assert!(s.claim(1_000_000_000).0.is_none());
    }

    #[test]
    fn drops_split_between_warmup_and_window() {
        let s = sched(100.0, 500, 2000, 100);
        let (_, d) = s.claim(700_000_000); // expired: intended <= 600 ms -> 0..=60
        assert_eq!(d.warmup, 50);
        assert_eq!(d.window, 11);
    }
}
