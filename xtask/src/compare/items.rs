//! The comparable figures of lane findings (fault, heap, memcheck, churn,
//! leak verdicts): what a finding offers a baseline beside the aggregates
//! and exponents.

use super::baseline::{BaselineFinding, ClassRank, Thresholds};
use crate::results::fault::{FaultFinding, RetainVerdict};
use crate::results::leaks::verdict_word;
use crate::results::{Direction, Finding, LaneKind, Unit};
use runcost_stats::LeakVerdict;
use serde::{Deserialize, Serialize};

/// What a finding item measures.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FindingItem {
    /// Fault: largest rise over the pre-fault baseline, per repeat.
    FaultPeak,
    /// Fault: seconds after the burst until back in the band, per repeat.
    FaultRecovery,
    /// Fault: what the window's tail kept over the baseline, per repeat.
    FaultRetained,
    /// Fault: RECOVERED / NOT RECOVERED / RETAINED.
    FaultVerdict,
    /// Heap: heaptrack's total memory leaked.
    HeapLeaked,
    /// Heap: heaptrack's peak heap.
    HeapPeak,
    /// Memcheck: definitely lost bytes.
    DefinitelyLost,
    /// Memcheck: possibly lost bytes.
    PossiblyLost,
    /// Memcheck: memory errors (occurrences, leak records excluded).
    MemoryErrors,
    /// Churn: growth slope under churn, with its interval.
    ChurnSlope,
    /// Any leak lane: LEAK / INCONCLUSIVE / NO LEAK.
    LeakVerdict,
    /// Box stability: round trips of the exec loop, seconds.
    BoxExecLoop,
    /// Box stability: issue → completion of execs issued at once.
    BoxParallelExec,
    /// Box stability: stop → start → first exec of one box.
    BoxRestart,
    /// Box stability: STABLE / INCONCLUSIVE / DRIFTS of the exec loop.
    BoxDrift,
    /// Box burst: create → first exec of each box of the burst.
    BoxBurstStart,
    /// Box resource: host PSS of one idle box.
    BoxIdlePss,
    /// Box resource: host PSS per box of N idle boxes side by side.
    BoxIdleBoxPss,
    /// Box resource: highest host PSS of the pressure box, over its ladder.
    BoxPressurePeak,
    /// Box throughput: sequential O_DIRECT write inside the box, bytes/s.
    BoxDiskWrite,
    /// Box throughput: sequential O_DIRECT read inside the box, bytes/s.
    BoxDiskRead,
    /// Box throughput: host → box copy through the runtime's file path.
    BoxCopyIn,
    /// Box throughput: box → host copy through the runtime's file path.
    BoxCopyOut,
    /// Box throughput: host → box TCP, bytes/s.
    BoxTcp,
    /// Box stability soak: host PSS slope, bytes/s, with its interval.
    BoxSoakSlope,
    /// Box stability soak: LEAK / INCONCLUSIVE / NO LEAK of host PSS.
    BoxSoakVerdict,
}

impl FindingItem {
    pub const ALL: [FindingItem; 26] = [
        FindingItem::FaultPeak,
        FindingItem::FaultRecovery,
        FindingItem::FaultRetained,
        FindingItem::FaultVerdict,
        FindingItem::HeapLeaked,
        FindingItem::HeapPeak,
        FindingItem::DefinitelyLost,
        FindingItem::PossiblyLost,
        FindingItem::MemoryErrors,
        FindingItem::ChurnSlope,
        FindingItem::LeakVerdict,
        FindingItem::BoxExecLoop,
        FindingItem::BoxParallelExec,
        FindingItem::BoxRestart,
        FindingItem::BoxDrift,
        FindingItem::BoxBurstStart,
        FindingItem::BoxIdlePss,
        FindingItem::BoxIdleBoxPss,
        FindingItem::BoxPressurePeak,
        FindingItem::BoxDiskWrite,
        FindingItem::BoxDiskRead,
        FindingItem::BoxCopyIn,
        FindingItem::BoxCopyOut,
        FindingItem::BoxTcp,
        FindingItem::BoxSoakSlope,
        FindingItem::BoxSoakVerdict,
    ];

    /// The name in keys and profiles (serde's snake_case).
    pub fn name(self) -> &'static str {
        match self {
            FindingItem::FaultPeak => "fault_peak",
            FindingItem::FaultRecovery => "fault_recovery",
            FindingItem::FaultRetained => "fault_retained",
            FindingItem::FaultVerdict => "fault_verdict",
            FindingItem::HeapLeaked => "heap_leaked",
            FindingItem::HeapPeak => "heap_peak",
            FindingItem::DefinitelyLost => "definitely_lost",
            FindingItem::PossiblyLost => "possibly_lost",
            FindingItem::MemoryErrors => "memory_errors",
            FindingItem::ChurnSlope => "churn_slope",
            FindingItem::LeakVerdict => "leak_verdict",
            FindingItem::BoxExecLoop => "box_exec_loop",
            FindingItem::BoxParallelExec => "box_parallel_exec",
            FindingItem::BoxRestart => "box_restart",
            FindingItem::BoxDrift => "box_drift",
            FindingItem::BoxBurstStart => "box_burst_start",
            FindingItem::BoxIdlePss => "box_idle_pss",
            FindingItem::BoxIdleBoxPss => "box_idle_box_pss",
            FindingItem::BoxPressurePeak => "box_pressure_peak",
            FindingItem::BoxDiskWrite => "box_disk_write",
            FindingItem::BoxDiskRead => "box_disk_read",
            FindingItem::BoxCopyIn => "box_copy_in",
            FindingItem::BoxCopyOut => "box_copy_out",
            FindingItem::BoxTcp => "box_tcp",
            FindingItem::BoxSoakSlope => "box_soak_slope",
            FindingItem::BoxSoakVerdict => "box_soak_verdict",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            FindingItem::FaultPeak => "peak over baseline",
            FindingItem::FaultRecovery => "recovery time",
            FindingItem::FaultRetained => "retained",
            FindingItem::FaultVerdict => "retention verdict",
            FindingItem::HeapLeaked => "leaked",
            FindingItem::HeapPeak => "peak heap",
            FindingItem::DefinitelyLost => "definitely lost",
            FindingItem::PossiblyLost => "possibly lost",
            FindingItem::MemoryErrors => "memory errors",
            FindingItem::ChurnSlope => "growth slope",
            FindingItem::LeakVerdict => "leak verdict",
            FindingItem::BoxExecLoop => "exec loop round trip",
            FindingItem::BoxParallelExec => "parallel exec",
            FindingItem::BoxRestart => "restart",
            FindingItem::BoxDrift => "exec drift verdict",
            FindingItem::BoxBurstStart => "burst start",
            FindingItem::BoxIdlePss => "idle host PSS",
            FindingItem::BoxIdleBoxPss => "host PSS per idle box of N",
            FindingItem::BoxPressurePeak => "pressure box peak host PSS",
            FindingItem::BoxDiskWrite => "disk write",
            FindingItem::BoxDiskRead => "disk read",
            FindingItem::BoxCopyIn => "copy into the box",
            FindingItem::BoxCopyOut => "copy out of the box",
            FindingItem::BoxTcp => "host → box TCP",
            FindingItem::BoxSoakSlope => "soak host PSS slope",
            FindingItem::BoxSoakVerdict => "soak leak verdict",
        }
    }

    /// The lanes that offer it.
    pub fn lanes(self) -> &'static [LaneKind] {
        match self {
            FindingItem::FaultPeak
            | FindingItem::FaultRecovery
            | FindingItem::FaultRetained
            | FindingItem::FaultVerdict => &[LaneKind::Fault],
            FindingItem::HeapLeaked | FindingItem::HeapPeak => &[LaneKind::Heap],
            FindingItem::DefinitelyLost | FindingItem::PossiblyLost | FindingItem::MemoryErrors => {
                &[LaneKind::Memcheck]
            }
            FindingItem::ChurnSlope => &[LaneKind::Churn],
            FindingItem::LeakVerdict => &[
                LaneKind::Heap,
                LaneKind::Memcheck,
                LaneKind::Churn,
                LaneKind::BoxChurn,
            ],
            FindingItem::BoxExecLoop
            | FindingItem::BoxParallelExec
            | FindingItem::BoxRestart
            | FindingItem::BoxDrift
            | FindingItem::BoxSoakSlope
            | FindingItem::BoxSoakVerdict => &[LaneKind::BoxStability],
            FindingItem::BoxBurstStart => &[LaneKind::BoxBurst],
            FindingItem::BoxIdlePss | FindingItem::BoxIdleBoxPss | FindingItem::BoxPressurePeak => {
                &[LaneKind::BoxResource]
            }
            FindingItem::BoxDiskWrite
            | FindingItem::BoxDiskRead
            | FindingItem::BoxCopyIn
            | FindingItem::BoxCopyOut
            | FindingItem::BoxTcp => &[LaneKind::BoxThroughput],
        }
    }

    /// The unit of its values (a churn slope: the metric's unit per cycle
    /// is shown in the metric's unit; a verdict has none and shows a count).
    pub fn unit(self) -> Unit {
        match self {
            FindingItem::FaultRecovery
            | FindingItem::BoxExecLoop
            | FindingItem::BoxParallelExec
            | FindingItem::BoxRestart
            | FindingItem::BoxBurstStart => Unit::Seconds,
            FindingItem::MemoryErrors
            | FindingItem::FaultVerdict
            | FindingItem::LeakVerdict
            | FindingItem::BoxDrift
            | FindingItem::BoxSoakVerdict => Unit::Count,
            FindingItem::BoxDiskWrite
            | FindingItem::BoxDiskRead
            | FindingItem::BoxCopyIn
            | FindingItem::BoxCopyOut
            | FindingItem::BoxTcp => Unit::BytesPerSecond,
            // A slope's unit is shown as its metric's, like a churn slope
            // (and it must not read as a rate where higher is better).
            _ => Unit::Bytes,
        }
    }

    /// Defaults: memory like the footprint's (+5 %/+10 %, 1 MiB), recovery
    /// +20 %/+50 % over 0.5 s, leaked and possibly lost bytes +10 %/+25 %
    /// over 64 KiB / 4 KiB, definitely lost and memory errors any rise.
    pub fn default_thresholds(self) -> Thresholds {
        let t = |warn, regress, floor| Thresholds {
            warn,
            regress,
            floor,
        };
        match self {
            FindingItem::FaultPeak | FindingItem::HeapPeak => t(0.05, 0.10, 1048576.0),
            FindingItem::FaultRetained => t(0.05, 0.10, 1048576.0),
            FindingItem::FaultRecovery => t(0.20, 0.50, 0.5),
            FindingItem::HeapLeaked => t(0.10, 0.25, 65536.0),
            FindingItem::PossiblyLost => t(0.10, 0.25, 4096.0),
            FindingItem::DefinitelyLost | FindingItem::MemoryErrors => t(0.0, 0.0, 0.0),
            // A slope's own floor comes with the finding (the lane's).
            FindingItem::ChurnSlope | FindingItem::BoxSoakSlope => t(0.0, 0.0, 0.0),
            FindingItem::FaultVerdict
            | FindingItem::LeakVerdict
            | FindingItem::BoxDrift
            | FindingItem::BoxSoakVerdict => t(0.0, 0.0, 0.0),
            // Box latencies: +10 %/+25 % over 1 ms.
            FindingItem::BoxExecLoop
            | FindingItem::BoxParallelExec
            | FindingItem::BoxRestart
            | FindingItem::BoxBurstStart => t(0.10, 0.25, 0.001),
            FindingItem::BoxIdlePss | FindingItem::BoxIdleBoxPss | FindingItem::BoxPressurePeak => {
                t(0.05, 0.10, 1048576.0)
            }
            // Data rates: -10 %/-25 % (higher is better), differences under
            // 1 MiB/s not judged.
            FindingItem::BoxDiskWrite
            | FindingItem::BoxDiskRead
            | FindingItem::BoxCopyIn
            | FindingItem::BoxCopyOut
            | FindingItem::BoxTcp => t(0.10, 0.25, 1048576.0),
        }
    }

    /// Which way is better: data rates up, everything else down.
    pub fn direction(self) -> Direction {
        match self.unit() {
            Unit::BytesPerSecond => Direction::HigherIsBetter,
            _ => Direction::LowerIsBetter,
        }
    }
}

fn item(lane: LaneKind, it: FindingItem, params: &[(&str, &str)]) -> BaselineFinding {
    let mut key = format!("{lane}/{}", it.name());
    for (k, v) in params {
        key.push_str(&format!("/{k}={v}"));
    }
    BaselineFinding {
        key,
        lane,
        item: it,
        unit: it.unit(),
        direction: it.direction(),
        values: Vec::new(),
        interval: None,
        class: None,
        class_word: None,
        thresholds: it.default_thresholds(),
    }
}

fn leak_rank(v: LeakVerdict) -> ClassRank {
    match v {
        LeakVerdict::NoLeak => ClassRank::Clear,
        LeakVerdict::Inconclusive => ClassRank::Unsure,
        LeakVerdict::Leak => ClassRank::Bad,
    }
}

fn classed(mut b: BaselineFinding, rank: ClassRank, word: &str) -> BaselineFinding {
    b.class = Some(rank);
    b.class_word = Some(word.to_string());
    b.values = vec![rank as u8 as f64];
    b
}

fn fault_items(f: &FaultFinding, out: &mut Vec<BaselineFinding>) {
    let lane = LaneKind::Fault;
    for metric in ["USS", "cgroup memory"] {
        let name = if metric == "USS" { "uss" } else { "cgroup_mem" };
        let recs: Vec<_> = f
            .repeats
            .iter()
            .filter_map(|r| r.judged().into_iter().find(|(m, _)| *m == metric))
            .map(|(_, r)| r)
            .collect();
        if recs.is_empty() {
            continue;
        }
        let mut peak = item(lane, FindingItem::FaultPeak, &[("metric", name)]);
        peak.values = recs.iter().map(|r| r.peak_delta).collect();
        let mut kept = item(lane, FindingItem::FaultRetained, &[("metric", name)]);
        kept.values = recs.iter().map(|r| r.retained).collect();
        // Repeats that never came back have no recovery time: the
        // retention verdict judges them.
        let mut rec = item(lane, FindingItem::FaultRecovery, &[("metric", name)]);
        rec.values = recs.iter().filter_map(|r| r.recovered_after_s).collect();
        out.extend([peak, rec, kept]);
    }
    let (rank, word) = match f.verdict {
        RetainVerdict::Recovered => (ClassRank::Clear, "RECOVERED"),
        RetainVerdict::NotRecovered => (ClassRank::Unsure, "NOT RECOVERED"),
        RetainVerdict::Unknown => (ClassRank::Unsure, "UNKNOWN"),
        RetainVerdict::Retained => (ClassRank::Bad, "RETAINED"),
    };
    out.push(classed(
        item(lane, FindingItem::FaultVerdict, &[]),
        rank,
        word,
    ));
}

/// Stability and burst figures of one runtime, keyed by the runtime (its
/// box profile, or the backend), raw samples as the values the gate tests.
fn box_axes_items(
    lane: LaneKind,
    b: &crate::results::boxes::BoxFinding,
    out: &mut Vec<BaselineFinding>,
) {
    let rt = b
        .env
        .profile
        .clone()
        .unwrap_or_else(|| b.env.backend.to_string());
    let params = [("runtime", rt.as_str())];
    let push = |out: &mut Vec<BaselineFinding>, it: FindingItem, v: &[f64]| {
        if !v.is_empty() {
            let mut f = item(lane, it, &params);
            f.values = v.to_vec();
            out.push(f);
        }
    };
    if let Some(s) = &b.stability {
        push(out, FindingItem::BoxExecLoop, &s.exec_loop);
        push(out, FindingItem::BoxParallelExec, &s.parallel_s);
        push(out, FindingItem::BoxRestart, &s.restart_s);
        if let Some(t) = &s.drift {
            use runcost_stats::DriftVerdict;
            let rank = match t.verdict {
                DriftVerdict::Stable => ClassRank::Clear,
                DriftVerdict::Inconclusive => ClassRank::Unsure,
                DriftVerdict::Drifts => ClassRank::Bad,
            };
            out.push(classed(
                item(lane, FindingItem::BoxDrift, &params),
                rank,
                crate::report::boxaxes::drift_word(t.verdict),
            ));
        }
        if let Some(t) = s.soak.as_ref().and_then(|k| k.test.as_ref()) {
            // The slope with its interval and the lane's floor, like a churn
            // slope; the verdict as a class.
            let mut f = item(lane, FindingItem::BoxSoakSlope, &params);
            f.values = vec![t.slope];
            f.interval = Some((t.slope_lower, t.slope_upper));
            f.thresholds.floor = t.slope_floor;
            out.push(f);
            out.push(classed(
                item(lane, FindingItem::BoxSoakVerdict, &params),
                leak_rank(t.verdict),
                verdict_word(t.verdict),
            ));
        }
    }
    if let Some(u) = &b.burst {
        push(out, FindingItem::BoxBurstStart, &u.burst_s);
    }
    if let Some(r) = &b.resource {
        push(out, FindingItem::BoxIdlePss, &[r.idle_pss_bytes as f64]);
        // Each idle box's PSS is one sample of the per-box cost.
        if let Some(i) = &r.idle_boxes {
            let v: Vec<f64> = i.pss_bytes.iter().map(|&b| b as f64).collect();
            push(out, FindingItem::BoxIdleBoxPss, &v);
        }
        // The top of the ladder: what the limit lets the box take.
        if let Some(peak) = r
            .pressure
            .as_ref()
            .and_then(|p| p.steps.iter().map(|s| s.peak_pss_bytes).max())
        {
            push(out, FindingItem::BoxPressurePeak, &[peak as f64]);
        }
    }
    if let Some(t) = &b.throughput {
        push(out, FindingItem::BoxDiskWrite, &t.write_bps);
        push(out, FindingItem::BoxDiskRead, &t.read_bps);
        push(out, FindingItem::BoxCopyIn, &t.copy_in_bps);
        push(out, FindingItem::BoxCopyOut, &t.copy_out_bps);
        push(out, FindingItem::BoxTcp, &t.tcp_bps);
    }
}

/// The items of one lane's findings (not scaling: exponents are their own).
pub fn finding_items(lane: LaneKind, findings: &[Finding]) -> Vec<BaselineFinding> {
    let mut out = Vec::new();
    let single = |it: FindingItem, v: Option<u64>| {
        v.map(|v| {
            let mut b = item(lane, it, &[]);
            b.values = vec![v as f64];
            b
        })
    };
    for f in findings {
        match f {
            Finding::Scaling { .. } => {}
            Finding::Fault(f) => fault_items(f, &mut out),
            Finding::Heap(h) => {
                out.extend(single(FindingItem::HeapLeaked, h.leaked_bytes));
                out.extend(single(FindingItem::HeapPeak, h.peak_heap_bytes));
            }
            Finding::Memcheck(m) => {
                out.extend(single(
                    FindingItem::DefinitelyLost,
                    Some(m.leaks.definitely_lost.bytes),
                ));
                out.extend(single(
                    FindingItem::PossiblyLost,
                    Some(m.leaks.possibly_lost.bytes),
                ));
                let errors = m
                    .errors
                    .iter()
                    .filter(|(kind, _)| !kind.starts_with("Leak_"))
                    .map(|(_, c)| c.occurrences)
                    .sum();
                out.extend(single(FindingItem::MemoryErrors, Some(errors)));
            }
            Finding::Churn(c) => {
                for m in &c.metrics {
                    let mut b = item(
                        lane,
                        FindingItem::ChurnSlope,
                        &[("metric", m.metric.name())],
                    );
                    b.unit = m.metric.unit();
                    b.values = vec![m.test.churn.slope];
                    b.interval = Some((m.test.churn.ci.lower, m.test.churn.ci.upper));
                    b.thresholds.floor = m.test.slope_floor;
                    out.push(b);
                }
            }
            Finding::Box(b) => box_axes_items(lane, b, &mut out),
            Finding::Attribution(_) => {}
        }
        if let Some(v) = f.leak_verdict() {
            out.push(classed(
                item(lane, FindingItem::LeakVerdict, &[]),
                leak_rank(v),
                verdict_word(v),
            ));
        }
    }
    out
}
