//! Churn: does the target keep memory, file descriptors or threads for
//! every object it creates and deletes?
//!
//! Memory here is anonymous memory (`Pss_Anon`), not USS: a leak is heap,
//! and USS also moves when another process maps the same binary (its text
//! pages turn from private to shared: 3 MB for the gateway whenever a
//! second gateway container starts or stops on the host).
//!
//! Setup: two fresh targets with the same settings (profile `env`, then
//! `churn.env`, then `--env`): one for the churn run, one for a static run.
//! Warm-up: at least `--settle`, then until anonymous memory is flat by the profile's
//! `steady` rule (at most 15 s). Measurement: the churn run performs `cycles` create/delete cycles (each
//! creates the profile's `batch` objects, then deletes them, over one
//! keep-alive connection) and reads the target's memory, fds and threads
//! after every cycle; the static run reads at the same moments after its
//! own start, doing nothing. Analysis: after dropping the warm-up cycles,
//! the slope per cycle of each metric in both runs with an
//! autocorrelation-corrected 95 % interval (`runcost_stats::leak::
//! churn_leak_test`). Verdict: LEAK only when the churn slope's lower bound
//! exceeds both the static slope's upper bound and an absolute floor.

use super::cell::{self, CellPlan, Measured};
use super::{analysis, LaneCtx};
use crate::events::Event;
use crate::fs::write_atomic;
use crate::probe::sampler::Sample;
use crate::probe::{Probe, Target};
use crate::profile::ChurnSpec;
use crate::results::leaks::{ChurnFinding, ChurnMetric};
use crate::results::{CellRecord, CellStatus, Finding, LaneKind, LaneRecord, MetricKind};
use anyhow::{bail, Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use runcost_stats::leak::{churn_leak_test, LeakOptions, LeakVerdict};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Growth per cycle below which fds and threads are not called a leak.
pub const COUNT_FLOOR_PER_CYCLE: f64 = 0.05;

pub struct ChurnOpts {
    pub cycles: u32,
    pub warmup_cycles: u32,
    /// Idle time after readiness before the first reading.
    pub settle: Duration,
    pub env: BTreeMap<String, String>,
}

/// One keep-alive HTTP/1.1 connection to the target, reopened if it drops.
pub struct Client {
    port: u16,
    sender: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>>,
    conn: Option<tokio::task::JoinHandle<()>>,
    timeout: Duration,
}

impl Client {
    pub fn new(port: u16) -> Client {
        Client {
            port,
            sender: None,
            conn: None,
            timeout: Duration::from_secs(30),
        }
    }

    async fn connect(&mut self) -> Result<()> {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .with_context(|| format!("connect 127.0.0.1:{}", self.port))?;
        stream.set_nodelay(true)?;
        let io = hyper_util::rt::TokioIo::new(stream);
        let (sender, conn) = hyper::client::conn::http1::handshake(io).await?;
        self.conn = Some(tokio::spawn(async move {
            let _ = conn.await;
        }));
        self.sender = Some(sender);
        Ok(())
    }

    /// Sends one request; the status and body.
    pub async fn send(&mut self, method: &str, path: &str, body: &str) -> Result<(u16, Bytes)> {
        let shown = format!("{method} 127.0.0.1:{}{path}", self.port);
        let timeout = self.timeout;
        let fut = async {
            if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
                self.connect().await?;
            }
            let sender = self.sender.as_mut().context("no connection")?;
            sender.ready().await?;
            let mut req = hyper::Request::builder()
                .method(method)
                .uri(path)
                .header(hyper::header::HOST, format!("127.0.0.1:{}", self.port));
            if !body.is_empty() {
                req = req.header(hyper::header::CONTENT_TYPE, "application/json");
            }
            let req = req.body(Full::new(Bytes::from(body.to_string())))?;
            let resp = sender.send_request(req).await?;
            let status = resp.status().as_u16();
            let bytes = resp.into_body().collect().await?.to_bytes();
            Ok::<_, anyhow::Error>((status, bytes))
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r.with_context(|| shown.clone()),
            Err(_) => bail!("{shown} timed out after {timeout:?}"),
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            c.abort();
        }
    }
}

/// Percent-encodes an id for a URL path segment.
fn encode_segment(id: &str) -> String {
    let mut out = String::new();
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// How cycles reach the target: one keep-alive HTTP connection, or
/// commands in the container.
pub enum Churner {
    Http(Client),
    Exec {
        engine: Box<crate::engine::Engine>,
        container: String,
    },
}

impl Churner {
    pub fn new(
        engine: &crate::engine::Engine,
        container: &str,
        facts: &crate::engine::ContainerFacts,
        spec: &ChurnSpec,
    ) -> Result<Churner> {
        if spec.create.exec.is_some() {
            return Ok(Churner::Exec {
                engine: Box::new(engine.clone()),
                container: container.to_string(),
            });
        }
        let inner = spec.port.context("HTTP churn needs `churn.port`")?;
        let port = *facts
            .published
            .get(&inner)
            .with_context(|| format!("churn port {inner} is not published"))?;
        Ok(Churner::Http(Client::new(port)))
    }

    /// One cycle: create `batch` objects, then delete them.
    pub async fn cycle(&mut self, spec: &ChurnSpec) -> Result<()> {
        match self {
            Churner::Http(client) => cycle(client, spec).await,
            Churner::Exec { engine, container } => {
                for (what, r) in [
                    ("churn create", &spec.create),
                    ("churn delete", &spec.delete),
                ] {
                    let argv: Vec<String> = r
                        .exec
                        .iter()
                        .flatten()
                        .map(|a| a.replace("{batch}", &spec.batch.to_string()))
                        .collect();
                    engine.exec_ok(container, what, &argv).await?;
                }
                Ok(())
            }
        }
    }
}

/// One HTTP cycle: create `batch` objects, then delete each.
pub async fn cycle(client: &mut Client, spec: &ChurnSpec) -> Result<()> {
    let mut ids = Vec::with_capacity(spec.batch as usize);
    let body = |r: &crate::profile::ChurnRequest| r.body.clone().unwrap_or_default();
    for _ in 0..spec.batch {
        let (status, resp) = client
            .send(&spec.create.method, &spec.create.path, &body(&spec.create))
            .await?;
        if !(200..300).contains(&status) {
            bail!(
                "churn create {} {} answered HTTP {status}: {}",
                spec.create.method,
                spec.create.path,
                String::from_utf8_lossy(&resp[..resp.len().min(200)])
            );
        }
        if let Some(ptr) = &spec.create.id {
            let v = crate::httpc::json_at(&resp, ptr).with_context(|| {
                format!(
                    "read the new id at {ptr} from {} {}",
                    spec.create.method, spec.create.path
                )
            })?;
            ids.push(
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string()),
            );
        } else {
            ids.push(String::new());
        }
    }
    for id in ids {
        let path = spec.delete.path.replace("{id}", &encode_segment(&id));
        let (status, resp) = client
            .send(&spec.delete.method, &path, &body(&spec.delete))
            .await?;
        if !(200..300).contains(&status) {
            bail!(
                "churn delete {} {path} answered HTTP {status}: {}",
                spec.delete.method,
                String::from_utf8_lossy(&resp[..resp.len().min(200)])
            );
        }
    }
    Ok(())
}

/// Reads the target now (blocking reads are fine here: host reads take
/// ~0.1 ms; the exec probe drives its own stream).
fn read_now(probe: &mut Box<dyn Probe>, origin: Instant) -> Result<Sample> {
    let t0 = Instant::now();
    let value = tokio::task::block_in_place(|| probe.read())?;
    Ok(Sample {
        t: origin.elapsed().as_secs_f64(),
        read_s: t0.elapsed().as_secs_f64(),
        value,
    })
}

/// The longest warm-up before the first reading: a target that leaks over
/// time never settles, and the static run accounts for that growth.
const SETTLE_CAP: Duration = Duration::from_secs(15);

/// Warm-up: at least `min`, then until anonymous memory is flat by the profile's steady
/// rule (at most [`SETTLE_CAP`]), so that the static run starts from the
/// same settled state as the churn run. Seconds waited when it settled.
async fn settle(
    ctx: &LaneCtx<'_>,
    probe: &mut Box<dyn Probe>,
    origin: Instant,
    min: Duration,
) -> Result<Option<f64>> {
    let steady = &ctx.profile.spec.steady;
    let window = steady.window.0.as_secs_f64();
    let start = Instant::now();
    let mut tail: Vec<(f64, f64)> = Vec::new();
    loop {
        let s = read_now(probe, origin)?;
        tail.push((s.t, s.value.pss_anon as f64));
        tail.retain(|(t, _)| *t >= s.t - window);
        let waited = start.elapsed();
        if waited >= min && waited.as_secs_f64() >= window && tail.len() >= 5 {
            let (t, y): (Vec<f64>, Vec<f64>) = tail.iter().copied().unzip();
            if analysis::is_flat(&t, &y, steady.floor_bytes_per_s) {
                return Ok(Some(waited.as_secs_f64()));
            }
        }
        if waited >= SETTLE_CAP.min(steady.timeout.0).max(min) {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What a cell does between readiness and teardown.
enum Role<'a> {
    /// Cycles; returns the reading times relative to the first cycle's start.
    Churn(&'a ChurnSpec),
    /// Readings at these times (relative), nothing else.
    Static(&'a [f64]),
}

async fn churn_cell(
    ctx: &LaneCtx<'_>,
    plan: &CellPlan,
    role: Role<'_>,
    opts: &ChurnOpts,
    index: usize,
    of: usize,
) -> (Measured, Vec<f64>) {
    ctx.events.emit(Event::CellStarted {
        cell: plan.id.clone(),
        index,
        of,
    });
    let mut record = cell::empty_record(ctx, plan);
    let origin = Instant::now();
    let mut samples = Vec::new();
    let mut rel = Vec::new();
    let outcome = match cell::setup(ctx, plan) {
        Ok(project) => {
            let r = async {
                let started = cell::start(ctx, plan, &project, origin).await?;
                record.container = Some(started.container.clone());
                record.image = Some((started.facts.image.clone(), started.facts.image_id.clone()));
                record.ready_s = Some(started.ready_s);
                ctx.events.emit(Event::CellReady {
                    cell: plan.id.clone(),
                    after_s: started.ready_s,
                });
                let host_pid = started
                    .facts
                    .host_pid
                    .context("container has no host PID")?;
                let mut probe = cell::open_probe(
                    ctx,
                    &Target {
                        container_id: started.container.clone(),
                        host_pid,
                        processes: ctx.profile.process_names(),
                    },
                )
                .await?;
                let waited = settle(ctx, &mut probe, origin, opts.settle).await?;
                record.steady_after_s = waited;
                match waited {
                    Some(after_s) => ctx.events.emit(Event::Steady {
                        cell: plan.id.clone(),
                        after_s,
                    }),
                    None => ctx.events.emit(Event::NotSteady {
                        cell: plan.id.clone(),
                        after_s: SETTLE_CAP.as_secs_f64(),
                    }),
                }
                ctx.events.emit(Event::Measuring {
                    cell: plan.id.clone(),
                    window_s: 0.0,
                });
                let start = Instant::now();
                let w0 = origin.elapsed().as_secs_f64();
                samples.push(read_now(&mut probe, origin)?);
                rel.push(0.0);
                match role {
                    Role::Churn(spec) => {
                        let mut churner =
                            Churner::new(ctx.engine, &started.container, &started.facts, spec)?;
                        for k in 0..opts.cycles {
                            churner
                                .cycle(spec)
                                .await
                                .with_context(|| format!("cycle {}", k + 1))?;
                            samples.push(read_now(&mut probe, origin)?);
                            rel.push(start.elapsed().as_secs_f64());
                        }
                    }
                    Role::Static(times) => {
                        for &t in times.iter().skip(1) {
                            let due = start + Duration::from_secs_f64(t);
                            tokio::time::sleep_until(due.into()).await;
                            samples.push(read_now(&mut probe, origin)?);
                            rel.push(t);
                        }
                    }
                }
                let facts = ctx.engine.inspect(&started.container).await?;
                if !facts.running {
                    bail!(
                        "the target exited during the run (exit code {})",
                        facts.exit_code.unwrap_or(-1)
                    );
                }
                record.window = Some((w0, origin.elapsed().as_secs_f64()));
                record.metrics = analysis::cell_metrics(&samples);
                record.status = CellStatus::Ok;
                Ok::<(), anyhow::Error>(())
            }
            .await;
            let down = project.down().await;
            match (r, down) {
                (Ok(()), Ok(())) => Ok(()),
                (Err(e), _) => Err(e),
                (Ok(()), Err(e)) => Err(e.context("tear down the cell")),
            }
        }
        Err(e) => Err(e),
    };
    finish_cell(ctx, plan, &mut record, &samples, outcome);
    (Measured { record, samples }, rel)
}

/// Samples CSV, status and the done event of a cell.
pub fn finish_cell(
    ctx: &LaneCtx<'_>,
    plan: &CellPlan,
    record: &mut CellRecord,
    samples: &[Sample],
    outcome: Result<()>,
) {
    if !samples.is_empty() {
        let rel = format!("samples/{}.csv", plan.id);
        match write_atomic(&ctx.run.path(&rel), cell::samples_csv(samples).as_bytes()) {
            Ok(()) => record.samples_csv = Some(rel),
            Err(e) => tracing::warn!("write samples of {}: {e:#}", plan.id),
        }
    }
    match outcome {
        Ok(()) => ctx.events.emit(Event::CellDone {
            cell: plan.id.clone(),
            ok: true,
            detail: String::new(),
        }),
        Err(e) => {
            record.status = CellStatus::Failed;
            record.metrics.clear();
            record.error = Some(format!("{e:#}"));
            ctx.events.emit(Event::CellDone {
                cell: plan.id.clone(),
                ok: false,
                detail: format!("{e:#}"),
            });
        }
    }
}

pub async fn run(ctx: &LaneCtx<'_>, opts: &ChurnOpts) -> (LaneRecord, Vec<Measured>) {
    let lane = |cells, skipped, findings| LaneRecord {
        lane: LaneKind::Churn,
        cells,
        aggregates: Vec::new(),
        skipped,
        findings,
    };
    let Some(spec) = ctx.profile.spec.churn.clone() else {
        return (
            lane(
                vec![],
                vec!["the profile has no `churn:` section".into()],
                vec![],
            ),
            Vec::new(),
        );
    };
    let mut env = ctx.profile.spec.env.clone();
    env.extend(spec.env.clone());
    env.extend(opts.env.clone());
    let plan = |id: &str| CellPlan {
        id: id.into(),
        repeat: 0,
        params: BTreeMap::from([("cycles".to_string(), opts.cycles.to_string())]),
        env: env.clone(),
        verify: Vec::new(),
        load: None,
        cpuset: None,
        populate: cell::default_populate(ctx.profile),
    };
    ctx.events.emit(Event::LaneStarted {
        lane: LaneKind::Churn.to_string(),
        cells: 2,
    });
    let (churn, times) =
        churn_cell(ctx, &plan("churn-cycles"), Role::Churn(&spec), opts, 1, 2).await;
    let mut measured = vec![churn];
    if measured[0].record.status != CellStatus::Ok {
        let cells = measured.iter().map(|m| m.record.clone()).collect();
        return (
            lane(
                cells,
                vec!["the static run was skipped: the churn run failed".into()],
                vec![],
            ),
            measured,
        );
    }
    let (stat, _) = churn_cell(ctx, &plan("churn-static"), Role::Static(&times), opts, 2, 2).await;
    measured.push(stat);
    let cells: Vec<CellRecord> = measured.iter().map(|m| m.record.clone()).collect();
    if measured[1].record.status != CellStatus::Ok {
        return (lane(cells, vec![], vec![]), measured);
    }
    let cycle_s = times.last().copied().unwrap_or(0.0) / f64::from(opts.cycles.max(1));
    match analyse(
        &measured[0].samples,
        &measured[1].samples,
        &spec,
        opts,
        cycle_s,
    ) {
        Ok(f) => (
            lane(cells, vec![], vec![Finding::Churn(Box::new(f))]),
            measured,
        ),
        Err(e) => (
            lane(cells, vec![format!("no churn verdict: {e:#}")], vec![]),
            measured,
        ),
    }
}

/// Slopes per cycle after the warm-up cycles, churn against static. The
/// first reading (before any cycle) is cycle 0.
pub fn analyse(
    churn: &[Sample],
    stat: &[Sample],
    spec: &ChurnSpec,
    opts: &ChurnOpts,
    cycle_s: f64,
) -> Result<ChurnFinding> {
    let n = churn.len().min(stat.len());
    let skip = (opts.warmup_cycles as usize).min(n);
    if n - skip < runcost_stats::leak::LEAK_MIN_POINTS {
        bail!(
            "{} cycles after {} warm-up cycles; the fit needs at least {}: raise --cycles",
            n.saturating_sub(skip + 1),
            opts.warmup_cycles,
            runcost_stats::leak::LEAK_MIN_POINTS
        );
    }
    let x: Vec<f64> = (skip..n).map(|k| k as f64).collect();
    let mut metrics = Vec::new();
    for (metric, floor) in [
        (MetricKind::PssAnon, spec.floor_bytes_per_cycle),
        (MetricKind::Fds, COUNT_FLOOR_PER_CYCLE),
        (MetricKind::Threads, COUNT_FLOOR_PER_CYCLE),
    ] {
        let yc = analysis::series(&churn[skip..n], metric);
        let ys = analysis::series(&stat[skip..n], metric);
        let test = churn_leak_test(
            &x,
            &yc,
            &x,
            &ys,
            &LeakOptions {
                level: analysis::LEVEL,
                slope_floor: floor,
            },
        )
        .with_context(|| format!("{} slope", metric.label()))?;
        metrics.push(ChurnMetric { metric, test });
    }
    let verdicts: Vec<LeakVerdict> = metrics.iter().map(|m| m.test.verdict).collect();
    let verdict = if verdicts.contains(&LeakVerdict::Leak) {
        LeakVerdict::Leak
    } else if verdicts.iter().all(|v| *v == LeakVerdict::NoLeak) {
        LeakVerdict::NoLeak
    } else {
        LeakVerdict::Inconclusive
    };
    let pts = |s: &[Sample]| {
        s[..n]
            .iter()
            .enumerate()
            .map(|(k, x)| (k as f64, x.value.pss_anon as f64))
            .collect::<Vec<_>>()
    };
    Ok(ChurnFinding {
        verdict,
        cycles: opts.cycles,
        warmup_cycles: opts.warmup_cycles,
        batch: spec.batch,
        cycle_s,
        metrics,
        churn_memory: pts(churn),
        static_memory: pts(stat),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Reading;

    fn series(n: usize, per_cycle: f64, fds_per_cycle: f64) -> Vec<Sample> {
        (0..n)
            .map(|k| Sample {
                t: k as f64 * 0.01,
                read_s: 0.0,
                value: Reading {
                    // Page-quantised, with a little deterministic jitter.
                    pss_anon: ((20e6 + per_cycle * k as f64 + ((k * 7919) % 3) as f64 * 4096.0)
                        / 4096.0)
                        .round() as u64
                        * 4096,
                    fds: 10 + (fds_per_cycle * k as f64) as u32,
                    threads: 4,
                    ..Default::default()
                },
            })
            .collect()
    }

    fn spec() -> ChurnSpec {
        serde_yaml::from_str(
            "port: 8080\ncreate: { method: POST, path: /e, id: /id }\ndelete: { method: DELETE, path: '/e/{id}' }\n",
        )
        .unwrap()
    }

    #[test]
    fn verdicts_from_slopes_per_cycle() {
        let opts = ChurnOpts {
            cycles: 60,
            warmup_cycles: 5,
            settle: Duration::ZERO,
            env: BTreeMap::new(),
        };
        let flat = series(61, 0.0, 0.0);
        let leaky = series(61, 40960.0, 0.0);
        let f = analyse(&leaky, &flat, &spec(), &opts, 0.01).unwrap();
        assert_eq!(f.verdict, LeakVerdict::Leak);
        let uss = &f.metrics[0];
        assert_eq!(uss.metric, MetricKind::PssAnon);
        assert!(
            (uss.test.churn.slope - 40960.0).abs() < 500.0,
            "{:?}",
            uss.test
        );
        assert_eq!(f.metrics[1].test.verdict, LeakVerdict::NoLeak, "fds flat");
        assert_eq!(f.churn_memory.len(), 61);

        let f = analyse(&flat, &series(61, 0.0, 0.0), &spec(), &opts, 0.01).unwrap();
        assert_eq!(f.verdict, LeakVerdict::NoLeak, "{:#?}", f.metrics);

        // One fd per cycle is a leak even with flat memory.
        let f = analyse(&series(61, 0.0, 1.0), &flat, &spec(), &opts, 0.01).unwrap();
        assert_eq!(f.metrics[1].test.verdict, LeakVerdict::Leak);
        assert_eq!(f.verdict, LeakVerdict::Leak);

        // Too few cycles after warm-up: no verdict, and it says why.
        let short = series(12, 0.0, 0.0);
        let e = analyse(&short, &short, &spec(), &opts, 0.01).unwrap_err();
        assert!(format!("{e:#}").contains("raise --cycles"), "{e:#}");
    }

    #[test]
    fn ids_are_encoded_in_paths() {
        assert_eq!(encode_segment("12"), "12");
        assert_eq!(encode_segment("a b/c"), "a%20b%2Fc");
    }
}
