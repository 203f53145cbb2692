//! The run: connections, the open-loop dispatcher, closed-loop workers and
//! the shared recorder.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use hdrhistogram::Histogram;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, HOST};
use tokio::sync::{mpsc, watch, Mutex as AsyncMutex};
use tokio::task::JoinSet;

use crate::config::{Config, Mode};
use crate::http1::{Http1Conn, HttpOutcome};
use crate::mix::RequestMix;
use crate::result::{percentile_points, LagSummary, LatencySummary, LoadResult, ScheduleStats};
use crate::sys;
use crate::tcp::{TcpConn, TcpMix, TcpOutcome};

/// Histogram range: 1 µs .. 1 h, 3 significant figures.
const HIST_MAX_US: u64 = 3_600_000_000;
const BACKOFF_MIN: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_millis(200);
/// Points per halving of the tail in the exported percentile curve.
const PERCENTILE_TICKS: u32 = 5;
/// Time between the end of the initial connects and the first due request.
const START_LEAD: Duration = Duration::from_millis(10);
/// Cap on the open-loop queue, whatever `rate × timeout` is.
const MAX_BACKLOG: u64 = 1_000_000;

/// The runtime the generator is built for: one thread, the caller's (pin
/// it first). tokio's multi-thread scheduler with one worker cost more per
/// request: work-stealing bookkeeping, a poll-time average (`powf`) at every
/// batch of tasks, and a hand-off between the caller's thread and the
/// worker's.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Runs the load described by `config` to completion on the current tokio
/// runtime and returns what it measured.
///
/// Takes about `duration` plus the time to drain: requests still in flight at
/// the end finish or time out, so at most `duration + 2 × timeout` (open loop)
/// or `duration + timeout` (closed loop), plus the initial connect.
///
/// Dropping the returned future stops everything at once: every task and
/// connection it started is aborted and no result is produced.
///
/// Open loop also starts one OS thread, the pacer, which releases requests at
/// their intended times with microsecond precision (tokio's timer works in
/// whole milliseconds and would add 1-2 ms to every sample). It exits at the
/// end of the schedule, or within 10 ms of the run ending or its future being
/// dropped.
pub async fn run(config: Config) -> Result<LoadResult> {
    run_until(config, std::future::pending::<()>()).await
}

/// Like [`run`], but ends the schedule early when `stop` completes (e.g.
/// `token.cancelled_owned()` or a Ctrl-C future) and returns a result for the
/// shortened window, which ends at the stop. Open loop: requests due before
/// the stop still go out (or are dropped when older than `timeout`); closed
/// loop: no new request is sent. Requests in flight finish or time out.
pub async fn run_until<F>(config: Config, stop: F) -> Result<LoadResult>
where
    F: Future<Output = ()>,
{
    config.validate()?;
    let proto = match &config.tcp {
        Some(tcp) => Proto::Tcp(TcpMix::new(tcp, config.rand_max, config.seed)?),
        None => Proto::Http(RequestMix::new(&config.mix, config.rand_max, config.seed)?),
    };
    let tcp = config.tcp.is_some();
    let mut headers = HeaderMap::new();
    headers.insert(
        HOST,
        HeaderValue::try_from(SocketAddr::new(config.host, config.port).to_string())?,
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
            set.spawn(Conn::open(
                SocketAddr::new(config.host, config.port),
                config.timeout,
                tcp,
            ));
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

    // A short lead so that the pacer thread and the workers are up before
    // the first request is due.
    let t0 = Instant::now() + START_LEAD;
    let ctx = Arc::new(Ctx::new(&config, proto, headers, t0));
    ctx.rec().connect_errors += initial_connect_errors;
    let (stop_tx, stop_rx) = watch::channel(false);
    if stopped_early {
        ctx.request_stop(t0);
        let _ = stop_tx.send(true);
    }

    let _pacer_guard = PacerGuard(ctx.clone());
    let mut pacer = None;
    let mut queue = None;
    if let Some(open) = &ctx.open {
        let (tx, rx) = mpsc::channel::<Claim>(open.backlog_limit as usize);
        let pctx = ctx.clone();
        pacer = Some(
            std::thread::Builder::new()
                .name("loadgen-pacer".into())
                .spawn(move || pace(pctx, tx))
                .context("spawning the pacer thread")?,
        );
        queue = Some(Arc::new(AsyncMutex::new(rx)));
    }
    let mut workers = JoinSet::new();
    for _ in 0..config.connections {
        let conn = initial.pop();
        let ctx = ctx.clone();
        let stop = stop_rx.clone();
        match &queue {
            Some(q) => workers.spawn(open_worker(ctx, conn, q.clone(), stop)),
            None => workers.spawn(closed_worker(ctx, conn, stop)),
        };
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

    if let (Some(open), Some(handle)) = (&ctx.open, pacer) {
        // Normally already done; after a stop or when every connection gave
        // up it sees the abort within one 10 ms nap.
        open.abort.store(true, Ordering::Release);
        tokio::task::spawn_blocking(move || handle.join())
            .await
            .context("joining the pacer")?
            .map_err(|_| anyhow!("the pacer thread panicked"))?;
        // Whatever was released but never taken (no connection could be
        // made) counts as dropped.
        if let Some(q) = &queue {
            let mut rx = q.lock().await;
            while let Ok(c) = rx.try_recv() {
                ctx.record_drops(Drops::one(c.warm));
            }
        }
    }
    let wall = wall0.elapsed();
    let cpu = sys::process_cpu_time().saturating_sub(cpu0);
    Ok(ctx.result(&config, wall, cpu))
}

// ---------------------------------------------------------------------------
// Connections

/// What the generator speaks.
enum Proto {
    Http(RequestMix),
    Tcp(TcpMix),
}

/// One keep-alive connection of either protocol.
enum Conn {
    Http(Http1Conn),
    Tcp(TcpConn),
}

impl Conn {
    async fn open(addr: SocketAddr, timeout: Duration, tcp: bool) -> Result<Conn> {
        Ok(if tcp {
            Conn::Tcp(TcpConn::open(addr, timeout).await?)
        } else {
            Conn::Http(Http1Conn::open(addr, timeout).await?)
        })
    }

    fn ready(&self) -> bool {
        // A connection that failed, or that the server said it closes, is
        // dropped (see `Outcome::breaks_connection`); one that the server
        // closed while idle shows as an I/O error on the next request.
        match self {
            Conn::Http(c) => !c.broken,
            Conn::Tcp(c) => !c.broken,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Outcome {
    Status {
        code: u16,
        bytes: u64,
    },
    /// TCP: a framed reply that passed the expected-reply check.
    Reply {
        bytes: u64,
    },
    /// TCP: a framed reply that did not.
    Mismatch {
        bytes: u64,
    },
    /// TCP: a reply over the size limit or that cannot be framed.
    Protocol,
    Timeout,
    Io,
}

impl Outcome {
    /// The connection can no longer be trusted: a timed-out request cannot
    /// be cancelled on the wire, and after junk the framing is lost.
    fn breaks_connection(self) -> bool {
        !matches!(
            self,
            Outcome::Status { .. } | Outcome::Reply { .. } | Outcome::Mismatch { .. }
        )
    }

    fn success(self) -> bool {
        matches!(
            self,
            Outcome::Status {
                code: 200..=299,
                ..
            } | Outcome::Reply { .. }
        )
    }
}

impl From<TcpOutcome> for Outcome {
    fn from(o: TcpOutcome) -> Self {
        match o {
            TcpOutcome::Ok { bytes } => Outcome::Reply { bytes },
            TcpOutcome::Mismatch { bytes } => Outcome::Mismatch { bytes },
            TcpOutcome::Protocol => Outcome::Protocol,
            TcpOutcome::Io => Outcome::Io,
            TcpOutcome::Timeout => Outcome::Timeout,
        }
    }
}

/// One request on `conn`: request `seq` of the mix, sent at `t_send`.
async fn exchange(ctx: &Ctx, conn: &mut Conn, seq: u64, t_send: Instant) -> Option<Outcome> {
    let deadline = t_send + ctx.timeout;
    match (conn, &ctx.proto) {
        (Conn::Http(c), Proto::Http(mix)) => {
            let head = mix.render_http(seq, &ctx.http_headers, &mut c.out);
            Some(match c.exchange(head, deadline).await {
                HttpOutcome::Status { code, bytes } => Outcome::Status { code, bytes },
                HttpOutcome::Protocol => Outcome::Protocol,
                HttpOutcome::Io => Outcome::Io,
                HttpOutcome::Timeout => Outcome::Timeout,
            })
        }
        (Conn::Tcp(c), Proto::Tcp(mix)) => {
            let mut out = Outcome::Io;
            c.exchange(mix, seq, 1, deadline, |o, _| out = o.into())
                .await;
            Some(out)
        }
        _ => None,
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
// Open-loop schedule and pacer

#[derive(Debug, Clone, Copy, Default)]
struct Drops {
    warmup: u64,
    window: u64,
}

impl Drops {
    fn one(warm: bool) -> Drops {
        if warm {
            Drops {
                warmup: 1,
                window: 0,
            }
        } else {
            Drops {
                warmup: 0,
                window: 1,
            }
        }
    }
}

/// A scheduled request released by the pacer.
#[derive(Debug, Clone, Copy)]
struct Claim {
    index: u64,
    offset: Duration,
    warm: bool,
}

/// The constant-rate schedule: request `i` is due at `t0 + i / rate`.
struct OpenSched {
    rate: f64,
    n_warm: u64,
    /// One past the last index of the configured schedule.
    n_end: u64,
    backlog_limit: u64,
    lag_limit: Duration,
    /// Stop time in ns after t0, `u64::MAX` while not stopped.
    stop_ns: AtomicU64,
    /// Set when the pacer has released its last request (or gave up).
    done: AtomicBool,
    /// Set when the run is over or its future was dropped: the pacer exits.
    abort: AtomicBool,
    peak_backlog: AtomicU64,
}

impl OpenSched {
    fn new(rate: f64, warmup: Duration, duration: Duration, timeout: Duration) -> Self {
        let mut s = OpenSched {
            rate,
            n_warm: 0,
            n_end: 0,
            backlog_limit: (rate * timeout.as_secs_f64())
                .ceil()
                .clamp(1.0, MAX_BACKLOG as f64) as u64,
            lag_limit: Duration::from_secs_f64(1.0 / rate)
                .clamp(Duration::from_millis(2), Duration::from_millis(10)),
            stop_ns: AtomicU64::new(u64::MAX),
            done: AtomicBool::new(false),
            abort: AtomicBool::new(false),
            peak_backlog: AtomicU64::new(0),
        };
        s.n_warm = s.count_before(nanos(warmup));
        s.n_end = s.count_before(nanos(duration));
        s
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

    /// One past the last index to release: lowered by a stop to what was due
    /// before it.
    fn n_end_now(&self) -> u64 {
        match self.stop_ns.load(Ordering::Acquire) {
            u64::MAX => self.n_end,
            s => self.n_end.min(self.count_before(s)),
        }
    }

    fn claim(&self, index: u64) -> Claim {
        Claim {
            index,
            offset: Duration::from_nanos(self.offset_ns(index)),
            warm: index < self.n_warm,
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The pacer thread: releases every request at its intended time into the
/// bounded queue that the connections take from. A plain thread with 1 µs
/// timer slack wakes within some tens of microseconds of the due time, where
/// tokio's millisecond timer wheel would add 1-2 ms to every open-loop sample.
/// A full queue means `rate × timeout` requests are already waiting: the
/// request is dropped (counted, recorded at `timeout`).
fn pace(ctx: Arc<Ctx>, tx: mpsc::Sender<Claim>) {
    precise_sleeps();
    let s = ctx.open.as_ref().expect("pacer without schedule");
    let lead = ctx.t0.saturating_duration_since(Instant::now());
    if !lead.is_zero() {
        std::thread::sleep(lead);
    }
    let mut i = 0u64;
    'run: loop {
        if s.abort.load(Ordering::Acquire) {
            break;
        }
        let n_end = s.n_end_now();
        let now_ns = ctx.ns_since_t0(Instant::now());
        let mut drops = Drops::default();
        while i < n_end && s.offset_ns(i) <= now_ns {
            let c = s.claim(i);
            match tx.try_send(c) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    let d = Drops::one(c.warm);
                    drops.warmup += d.warmup;
                    drops.window += d.window;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => break 'run,
            }
            i += 1;
        }
        let queued = (tx.max_capacity() - tx.capacity()) as u64;
        s.peak_backlog.fetch_max(queued, Ordering::Relaxed);
        ctx.record_drops(drops);
        if i >= n_end {
            break;
        }
        let wait = Duration::from_nanos(s.offset_ns(i).saturating_sub(now_ns));
        // Short naps so that a stop or an abort is seen within 10 ms.
        std::thread::sleep(wait.min(Duration::from_millis(10)));
    }
    s.done.store(true, Ordering::Release);
}

#[cfg(target_os = "linux")]
fn precise_sleeps() {
    // SAFETY: PR_SET_TIMERSLACK only changes this thread's timer slack.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

#[cfg(not(target_os = "linux"))]
fn precise_sleeps() {}

/// Stops the pacer thread however `run_until` ends (dropped future included).
struct PacerGuard(Arc<Ctx>);

impl Drop for PacerGuard {
    fn drop(&mut self) {
        if let Some(s) = &self.0.open {
            s.abort.store(true, Ordering::Release);
        }
    }
}

// ---------------------------------------------------------------------------
// Shared context and recorder

/// `name: value\r\n` lines of `headers`, in order.
fn render_headers(headers: &HeaderMap) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in headers {
        out.extend_from_slice(k.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

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
    mismatches: u64,
    protocol_errors: u64,
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
    addr: SocketAddr,
    timeout: Duration,
    proto: Proto,
    pipeline: usize,
    /// The request headers as whole lines, rendered once.
    http_headers: Vec<u8>,
    t0: Instant,
    t_measure: Instant,
    t_end: Instant,
    open: Option<OpenSched>,
    seq: AtomicU64,
    stopped_at: Mutex<Option<Instant>>,
    rec: Mutex<Recorder>,
}

impl Ctx {
    fn new(config: &Config, proto: Proto, headers: HeaderMap, t0: Instant) -> Self {
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
            addr: SocketAddr::new(config.host, config.port),
            timeout: config.timeout,
            proto,
            pipeline: config.pipeline,
            http_headers: render_headers(&headers),
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
                mismatches: 0,
                protocol_errors: 0,
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
            let _ = open.stop_ns.compare_exchange(
                u64::MAX,
                self.ns_since_t0(at),
                Ordering::AcqRel,
                Ordering::Acquire,
            );
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
            if !s.outcome.success() {
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
            Outcome::Reply { bytes } => {
                r.completed += 1;
                r.ok += 1;
                r.bytes += bytes;
                let v = us(s.t_done.saturating_duration_since(s.origin));
                r.latency.saturating_record(v);
            }
            Outcome::Mismatch { bytes } => {
                r.completed += 1;
                r.bytes += bytes;
                r.mismatches += 1;
            }
            Outcome::Protocol => r.protocol_errors += 1,
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

    /// Makes `conn` usable, opening a new connection if needed. One attempt;
    /// a failure is counted and leaves `conn` empty.
    async fn ensure_conn(&self, conn: &mut Option<Conn>) -> bool {
        if let Some(c) = conn {
            if c.ready() {
                return true;
            }
            *conn = None;
        }
        let tcp = matches!(self.proto, Proto::Tcp(_));
        match Conn::open(self.addr, self.timeout, tcp).await {
            Ok(c) => {
                *conn = Some(c);
                true
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
        let per_s = |n: u64| {
            if duration_s > 0.0 {
                n as f64 / duration_s
            } else {
                0.0
            }
        };
        let achieved = per_s(r.sent);
        let (schedule, kept_up) = match &self.open {
            Some(open) => {
                let s = ScheduleStats {
                    send_lag: LagSummary::from_histogram(&r.send_lag),
                    timer_lag: LagSummary::from_histogram(&r.timer_lag),
                    queued: r.queued,
                    peak_backlog: open.peak_backlog.load(Ordering::Relaxed),
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
            mismatches: r.mismatches,
            protocol_errors: r.protocol_errors,
            protocol: match self.proto {
                Proto::Http(_) => "http".into(),
                Proto::Tcp(_) => "tcp".into(),
            },
            pipeline: config.pipeline,
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

async fn open_worker(
    ctx: Arc<Ctx>,
    mut conn: Option<Conn>,
    queue: Arc<AsyncMutex<mpsc::Receiver<Claim>>>,
    mut stop: watch::Receiver<bool>,
) {
    let sched = ctx.open.as_ref().expect("open worker without schedule");
    let mut backoff = Backoff::new();
    loop {
        // Hold a usable connection before taking a request.
        if ctx.ensure_conn(&mut conn).await {
            backoff.reset();
        } else {
            // Nothing left worth connecting for: stopped, or the schedule is
            // over and whatever still waits in the queue has expired.
            let give_up = *stop.borrow()
                || (sched.done.load(Ordering::Acquire)
                    && Instant::now() >= ctx.window_end() + ctx.timeout);
            if give_up || sleep_or_stop(backoff.next(), &mut stop).await {
                return;
            }
            continue;
        }

        // Take the oldest released request, or wait for the next one. The
        // lock makes the connections take turns in FIFO order.
        let (claim, queued) = {
            let mut rx = queue.lock().await;
            match rx.try_recv() {
                Ok(c) => (c, true),
                Err(mpsc::error::TryRecvError::Disconnected) => return,
                Err(mpsc::error::TryRecvError::Empty) => match rx.recv().await {
                    Some(c) => (c, false),
                    None => return,
                },
            }
        };
        let taken_at = Instant::now();
        let intended = ctx.t0 + claim.offset;
        if taken_at.saturating_duration_since(intended) >= ctx.timeout {
            ctx.record_drops(Drops::one(claim.warm));
            continue;
        }
        // A connection was waiting for this request: how late it got it is
        // the generator's own timing error.
        let timer_lag = (!queued).then(|| taken_at.saturating_duration_since(intended));

        // The connection may have been closed by the server while it idled:
        // re-open it, for as long as the request is younger than `timeout`.
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
        // Never send a request more than `timeout` after its intended start:
        // a timeout is then recorded at under 2 × timeout.
        let late = Instant::now().saturating_duration_since(intended) >= ctx.timeout;
        let (false, Some(c)) = (late, conn.as_mut()) else {
            ctx.record_drops(Drops::one(claim.warm));
            continue;
        };

        let t_send = Instant::now();
        let Some(outcome) = exchange(&ctx, c, claim.index, t_send).await else {
            ctx.record_drops(Drops::one(claim.warm));
            continue;
        };
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
    tokio::time::sleep_until(ctx.t0.into()).await;
    loop {
        // One clock read per request: it ends the loop, is the send time
        // and gives the deadline (a connect in between is rare).
        let mut t_send = Instant::now();
        if *stop.borrow() || t_send >= ctx.t_end {
            return;
        }
        let usable = conn.as_ref().is_some_and(Conn::ready);
        if !usable {
            if ctx.ensure_conn(&mut conn).await {
                backoff.reset();
            } else {
                let left = ctx.t_end.saturating_duration_since(Instant::now());
                if sleep_or_stop(backoff.next().min(left), &mut stop).await {
                    return;
                }
                continue;
            }
            t_send = Instant::now();
            if t_send >= ctx.t_end || *stop.borrow() {
                return;
            }
        }
        let Some(c) = conn.as_mut() else {
            continue;
        };
        if let (Conn::Tcp(tc), Proto::Tcp(mix)) = (&mut *c, &ctx.proto) {
            if ctx.pipeline > 1 {
                // A batch: `pipeline` requests in one write, each timed from
                // that write to its own reply.
                let n = ctx.pipeline;
                let seq0 = ctx.seq.fetch_add(n as u64, Ordering::Relaxed);
                let warm = t_send < ctx.t_measure;
                let keep = tc
                    .exchange(mix, seq0, n, t_send + ctx.timeout, |o, t_done| {
                        ctx.record(Sample {
                            warm,
                            origin: t_send,
                            t_send,
                            t_done,
                            outcome: o.into(),
                            open: None,
                        })
                    })
                    .await;
                if !keep {
                    conn = None;
                }
                continue;
            }
        }
        let seq = ctx.seq.fetch_add(1, Ordering::Relaxed);
        let Some(outcome) = exchange(&ctx, c, seq, t_send).await else {
            continue;
        };
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
        assert_eq!(s.n_end, 600);
        assert_eq!(s.backlog_limit, 400);
        assert_eq!(s.lag_limit, Duration::from_millis(5));
        assert!(s.claim(199).warm && !s.claim(200).warm);
        assert_eq!(s.claim(3).offset, Duration::from_millis(15));
        let s = sched(3.0, 0, 1000, 100);
        assert_eq!(s.n_end, 3); // 0, 333.3, 666.7 ms
        assert_eq!(s.count_before(0), 0);
        assert_eq!(s.count_before(1), 1);
        assert_eq!(s.offset_ns(2), 666_666_667);
        assert_eq!(s.backlog_limit, 1, "never below one");
        let s = sched(MAX_RATE_PER_S_TEST, 0, 1000, 600_000);
        assert_eq!(s.backlog_limit, MAX_BACKLOG);
    }

    const MAX_RATE_PER_S_TEST: f64 = crate::config::MAX_RATE_PER_S;

    #[test]
    fn stop_cuts_the_schedule_at_what_was_due() {
        let s = sched(1000.0, 0, 10_000, 100);
        assert_eq!(s.n_end_now(), 10_000);
        s.stop_ns.store(1_000_000_000, Ordering::Release);
        assert_eq!(s.n_end_now(), 1000, "due before the stop: 0 ms .. 1000 ms");
        s.stop_ns.store(0, Ordering::Release);
        assert_eq!(s.n_end_now(), 0, "stopped before the start: nothing");
    }
}
