//! Churn: does the target keep memory, file descriptors or threads for
//! every object it creates and deletes?
//!
//! Memory by default is anonymous memory (`Pss_Anon`), not USS: a leak is
//! heap, and USS also moves when another process maps the same binary (its
//! text pages turn from private to shared: 3 MB for the gateway whenever a
//! second gateway container starts or stops on the host). The judged
//! metrics are selectable (`--metrics`, the profile's `churn.metrics`): a
//! database's table bloat lives in shared memory and page cache
//! (`cgroup_shmem_file`), which no process's PSS shows.
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

use super::cell::{self, Body, Cell, CellPlan};
use super::{analysis, warmup, LaneCtx};
use crate::events::Event;
use crate::probe::sampler::Sample;
use crate::profile::ChurnSpec;
use crate::results::leaks::{ChurnFinding, ChurnMetric};
use crate::results::{CellStatus, Finding, LaneKind, LaneRecord, MetricKind, Unit};
use anyhow::{bail, Context, Result};
use runcost_stats::leak::{churn_leak_test, LeakOptions, LeakVerdict};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Growth per cycle below which fds and threads are not called a leak.
pub const COUNT_FLOOR_PER_CYCLE: f64 = 0.05;

/// Growth of CPU use per cycle below which it is not called a leak: 200
/// cycles at this rate add 0.2 cores.
pub const CORES_FLOOR_PER_CYCLE: f64 = 0.001;

/// What churn judges when neither `--metrics` nor `churn.metrics` says.
pub const DEFAULT_METRICS: [MetricKind; 3] =
    [MetricKind::PssAnon, MetricKind::Fds, MetricKind::Threads];

pub struct ChurnOpts {
    pub cycles: u32,
    pub warmup_cycles: u32,
    /// `--metrics`; empty: the profile's `churn.metrics`, else the default.
    pub metrics: Vec<MetricKind>,
    /// Idle time after readiness before the first reading.
    pub settle: Duration,
    pub env: BTreeMap<String, String>,
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
    Http(crate::httpc::Client),
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
        Ok(Churner::Http(crate::httpc::Client::new(port)))
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
pub async fn cycle(client: &mut crate::httpc::Client, spec: &ChurnSpec) -> Result<()> {
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

/// The longest warm-up before the first reading: a target that leaks over
/// time never settles, and the static run accounts for that growth.
const SETTLE_CAP: Duration = Duration::from_secs(15);

/// What a cell does between readiness and teardown.
enum Role<'a> {
    /// Cycles; the reading times relative to the first cycle's start.
    Churn(&'a ChurnSpec),
    /// Readings at these times (relative), nothing else.
    Static(&'a [f64]),
}

struct ChurnCell<'a> {
    role: Role<'a>,
    opts: &'a ChurnOpts,
}

impl Body for ChurnCell<'_> {
    /// The reading times, relative to the first reading.
    type Output = Vec<f64>;

    async fn measure(&mut self, cell: &mut Cell<'_, '_>) -> Result<Vec<f64>> {
        // Warm-up: at least `--settle`, then until the judged memory is flat
        // by the profile's steady rule (at most SETTLE_CAP), so that the
        // static run starts from the same settled state as the churn run.
        let mut probe = cell.probe().await?;
        let origin = cell.origin;
        let how = warmup::WarmUp {
            metric: memory_metric(&cell.ctx.judged),
            min: self.opts.settle,
            cap: SETTLE_CAP.min(cell.ctx.profile.spec.steady.timeout.0),
            poll: Duration::from_millis(100),
        };
        let mut source = warmup::FromReads {
            probe: &mut probe,
            origin,
            buf: Vec::new(),
        };
        cell.warm_up(&mut source, how).await?;

        // Measurement: a reading before the first cycle and after each.
        cell.measuring(0.0);
        let start = Instant::now();
        let w0 = origin.elapsed().as_secs_f64();
        let mut samples = vec![warmup::read_now(&mut probe, origin)?];
        let mut rel = vec![0.0];
        match self.role {
            Role::Churn(spec) => {
                let mut churner =
                    Churner::new(cell.ctx.engine, &cell.container, &cell.facts, spec)?;
                for k in 0..self.opts.cycles {
                    churner
                        .cycle(spec)
                        .await
                        .with_context(|| format!("cycle {}", k + 1))?;
                    samples.push(warmup::read_now(&mut probe, origin)?);
                    rel.push(start.elapsed().as_secs_f64());
                }
            }
            Role::Static(times) => {
                for &t in times.iter().skip(1) {
                    tokio::time::sleep_until((start + Duration::from_secs_f64(t)).into()).await;
                    samples.push(warmup::read_now(&mut probe, origin)?);
                    rel.push(t);
                }
            }
        }
        cell.liveness()
            .running()
            .await
            .context("the target exited during the run")?;
        cell.record.window = Some((w0, origin.elapsed().as_secs_f64()));
        cell.record.metrics = analysis::cell_metrics(&samples);
        cell.record.status = CellStatus::Ok;
        *cell.samples = samples;
        Ok(rel)
    }
}

pub async fn run(ctx: &LaneCtx<'_>, opts: &ChurnOpts) -> LaneRecord {
    let mut lane = LaneRecord::new(LaneKind::Churn);
    let Some(spec) = ctx.profile.spec.churn.clone() else {
        lane.skipped
            .push("the profile has no `churn:` section".into());
        return lane;
    };

    // Setup: both targets with the same settings.
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

    // Measurement: the churn run, then the static run read at the same moments.
    let mut body = ChurnCell {
        role: Role::Churn(&spec),
        opts,
    };
    let churn = cell::run(ctx, &plan("churn-cycles"), &mut body, 1, 2).await;
    lane.cells.push(churn.measured.record.clone());
    let Some(times) = churn
        .output
        .filter(|_| churn.measured.record.status == CellStatus::Ok)
    else {
        lane.skipped
            .push("the static run was skipped: the churn run failed".into());
        return lane;
    };
    let mut body = ChurnCell {
        role: Role::Static(&times),
        opts,
    };
    let stat = cell::run(ctx, &plan("churn-static"), &mut body, 2, 2).await;
    lane.cells.push(stat.measured.record.clone());
    if stat.measured.record.status != CellStatus::Ok {
        return lane;
    }

    // Analysis and verdict.
    let cycle_s = times.last().copied().unwrap_or(0.0) / f64::from(opts.cycles.max(1));
    match analyse(
        &churn.measured.samples,
        &stat.measured.samples,
        &spec,
        opts,
        cycle_s,
    ) {
        Ok(f) => lane.findings.push(Finding::Churn(Box::new(f))),
        Err(e) => lane.skipped.push(format!("no churn verdict: {e:#}")),
    }
    lane
}

/// The metrics judged: `--metrics`, else the profile's, else the default.
pub fn judged(spec: &ChurnSpec, opts: &ChurnOpts) -> Vec<MetricKind> {
    let asked = if !opts.metrics.is_empty() {
        &opts.metrics[..]
    } else if !spec.metrics.is_empty() {
        &spec.metrics[..]
    } else {
        &DEFAULT_METRICS[..]
    };
    let mut out: Vec<MetricKind> = Vec::new();
    for m in asked {
        if !out.contains(m) {
            out.push(*m);
        }
    }
    out
}

/// The growth per cycle too small to call a leak, in the metric's unit.
fn floor(metric: MetricKind, spec: &ChurnSpec) -> f64 {
    match metric.unit() {
        Unit::Bytes => spec.floor_bytes_per_cycle,
        Unit::Cores => CORES_FLOOR_PER_CYCLE,
        _ => COUNT_FLOOR_PER_CYCLE,
    }
}

/// The metric's value at cycle `k` (the reading after it): levels from
/// that reading, rates (CPU) over the interval that ends there. `None`
/// when a reading lacked it (a cgroup file read at a lower rate).
/// The memory metric churn warms up on, charts and quotes: the first judged
/// one that every reading has (group-unique memory is read at a lower rate).
fn memory_metric(judged: &[MetricKind]) -> MetricKind {
    judged
        .iter()
        .copied()
        .find(|m| m.unit() == Unit::Bytes && *m != MetricKind::GroupUnique)
        .unwrap_or(MetricKind::PssAnon)
}

fn at_cycle(s: &[Sample], k: usize, metric: MetricKind) -> Option<f64> {
    let from = if metric.is_rate() {
        k.checked_sub(1)?
    } else {
        k
    };
    analysis::series(&s[from..=k], metric).first().copied()
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
    let mut metrics = Vec::new();
    for metric in judged(spec, opts) {
        let points = |s: &[Sample]| -> (Vec<f64>, Vec<f64>) {
            (skip..n)
                .filter_map(|k| Some((k as f64, at_cycle(s, k, metric)?)))
                .unzip()
        };
        let (xc, yc) = points(churn);
        let (xs, ys) = points(stat);
        let test = churn_leak_test(
            &xc,
            &yc,
            &xs,
            &ys,
            &LeakOptions {
                level: analysis::LEVEL,
                slope_floor: floor(metric, spec),
            },
        )
        .with_context(|| {
            format!(
                "{} slope ({} of {} cycles read it)",
                metric.label(),
                yc.len(),
                n - skip
            )
        })?;
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
    let memory_metric = memory_metric(&judged(spec, opts));
    let pts = |s: &[Sample]| {
        (0..n)
            .filter_map(|k| Some((k as f64, at_cycle(s, k, memory_metric)?)))
            .collect::<Vec<_>>()
    };
    Ok(ChurnFinding {
        verdict,
        cycles: opts.cycles,
        warmup_cycles: opts.warmup_cycles,
        batch: spec.batch,
        cycle_s,
        metrics,
        memory_metric,
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
            metrics: Vec::new(),
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
    fn the_judged_metrics_are_selectable() {
        let mut opts = ChurnOpts {
            cycles: 60,
            warmup_cycles: 5,
            metrics: Vec::new(),
            settle: Duration::ZERO,
            env: BTreeMap::new(),
        };
        // Shared memory + file cache grows 64 KiB per cycle; anon is flat.
        let with_cache = |per_cycle: f64| -> Vec<Sample> {
            let mut s = series(61, 0.0, 0.0);
            for (k, x) in s.iter_mut().enumerate() {
                x.value.cgroup_shmem = Some(100 << 20);
                x.value.cgroup_file_active = Some((8 << 20) + (per_cycle * k as f64) as u64);
                x.value.cgroup_file_inactive = Some(1 << 20);
                x.value.cgroup_cpu_s = Some(k as f64 * 0.001);
            }
            s
        };
        let (bloat, flat) = (with_cache(65536.0), with_cache(0.0));
        let f = analyse(&bloat, &flat, &spec(), &opts, 0.01).unwrap();
        assert_eq!(
            f.verdict,
            LeakVerdict::NoLeak,
            "anon, fds, threads are flat"
        );

        let mut s = spec();
        s.metrics = vec![MetricKind::CgroupShmemFile, MetricKind::PssAnon];
        let f = analyse(&bloat, &flat, &s, &opts, 0.01).unwrap();
        let kinds: Vec<_> = f.metrics.iter().map(|m| m.metric).collect();
        assert_eq!(kinds, s.metrics, "the profile's list, in its order");
        assert_eq!(f.metrics[0].test.verdict, LeakVerdict::Leak);
        assert!((f.metrics[0].test.churn.slope - 65536.0).abs() < 1.0);
        assert_eq!(f.verdict, LeakVerdict::Leak);

        // --metrics beats the profile; CPU is a rate per cycle interval.
        opts.metrics = vec![MetricKind::CgroupCpuCores];
        let f = analyse(&bloat, &flat, &s, &opts, 0.01).unwrap();
        assert_eq!(f.metrics.len(), 1);
        assert_eq!(f.metrics[0].metric, MetricKind::CgroupCpuCores);
        assert_eq!(f.metrics[0].test.verdict, LeakVerdict::NoLeak);

        // A metric no reading has: no verdict, and it says which.
        opts.metrics = vec![MetricKind::GroupUnique];
        let e = analyse(&bloat, &flat, &s, &opts, 0.01).unwrap_err();
        assert!(
            format!("{e:#}").contains("group-unique slope (0 of"),
            "{e:#}"
        );
    }

    #[test]
    fn ids_are_encoded_in_paths() {
        assert_eq!(encode_segment("12"), "12");
        assert_eq!(encode_segment("a b/c"), "a%20b%2Fc");
    }
}
