//! The run report, `report.md`: a pure function of the run record and its
//! chart list, so it is snapshot-tested on hand-built records. Lanes with
//! their own tables add a section from `fault`, `leaks` and `boxes`.

use super::charts::ChartRef;
use super::format::Format;
use crate::results::{CellStatus, LaneKind, LaneRecord, MetricKind, RunRecord, RunStatus, Unit};
use crate::units::{ByteUnit, Bytes};
use std::fmt::Write;

/// The run report over the charts drawn for it.
pub struct RunReport<'a> {
    pub charts: &'a [ChartRef],
}

impl Format for RunReport<'_> {
    type Input = RunRecord;

    fn render(&self, r: &RunRecord) -> anyhow::Result<String> {
        Ok(render(r, self.charts))
    }
}

fn render(r: &RunRecord, charts: &[ChartRef]) -> String {
    let mut s = String::new();
    let lanes: Vec<String> = r.lanes.iter().map(|l| l.lane.to_string()).collect();
    let _ = writeln!(
        s,
        "# runcost: {} of `{}`\n",
        lanes.join(", "),
        r.profile.name
    );
    let status = match r.status {
        RunStatus::Complete => "complete",
        RunStatus::Partial => "**PARTIAL**",
        RunStatus::Failed => "**FAILED**",
    };
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(
        s,
        "| run | `{}` ({status}{}) |",
        r.run_id,
        r.status_reason
            .as_deref()
            .map(|x| format!(": {x}"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        s,
        "| time | {} → {} |",
        r.started_at,
        r.finished_at.as_deref().unwrap_or("—")
    );
    // Box runs name their box profiles in their own table, not here.
    if r.profile.sha256.is_empty() {
        let _ = writeln!(s, "| profile | `{}` |", r.profile.path);
    } else {
        let _ = writeln!(
            s,
            "| profile | `{}` (sha256 {}) |",
            r.profile.path,
            short(&r.profile.sha256)
        );
    }
    let _ = writeln!(
        s,
        "| tool | runcost {} (git {}{}) |",
        r.tool.version,
        r.tool.git_sha.as_deref().map(short).unwrap_or("unknown"),
        if r.tool.git_dirty == Some(true) {
            ", dirty"
        } else {
            ""
        }
    );
    let h = &r.host;
    let _ = writeln!(
        s,
        "| host | {} · {} cores · {:.1} · kernel {} · cgroup v{} |",
        h.cpu_model,
        h.cores,
        Bytes(h.mem_total_bytes),
        h.kernel,
        h.cgroup_version
    );
    let _ = writeln!(
        s,
        "| engine | Docker {} (API {}) · compose {} |",
        h.engine_version, h.engine_api, h.compose
    );
    if let Some(e) = &r.engine {
        engine_row(&mut s, r, e);
    }
    let st = &r.settings;
    let env = if st.env.is_empty() {
        "—".to_string()
    } else {
        st.env
            .iter()
            .map(|(k, v)| format!("`{k}={v}`"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let _ = writeln!(
        s,
        "| settings | {} repeat(s) · {} Hz · {:?} sampler · window ≥ {} s · env {env} · seed {} |",
        st.repeats, st.rate_hz, st.sampler, st.window_s, r.seed
    );
    let l = &r.host_load;
    let _ = writeln!(
        s,
        "| host load | load1 mean {:.2}, max {:.2} on {} cores{}{} |",
        l.mean_load1,
        l.max_load1,
        l.cores,
        l.max_cpu_psi
            .map(|p| format!(", CPU PSI max {p:.1} %"))
            .unwrap_or_default(),
        if l.overloaded {
            " — **overloaded: figures are not fit to compare**"
        } else {
            ""
        }
    );
    for (k, v) in &r.images {
        let _ = writeln!(
            s,
            "| image | `{k}` {} |",
            short(v.trim_start_matches("sha256:"))
        );
    }
    if let Some(suite) = &r.suite {
        suite_table(&mut s, suite);
    }
    for lane in &r.lanes {
        lane_section(&mut s, lane, charts);
    }
    if !r.lanes.iter().all(|l| is_box_lane(l.lane)) {
        s.push_str(HOW_TO_READ);
    }
    if r.lanes.iter().any(|l| is_leak_lane(l.lane)) {
        s.push_str(super::leaks::HOW_TO_READ);
    }
    s
}

/// A suite run: how each lane ended and with which settings (the header's
/// settings row is the first lane's).
/// Where the engine was, whether the harness's traffic crossed a network,
/// and the sampler the cells used (auto resolves per cell).
fn engine_row(s: &mut String, r: &RunRecord, e: &crate::results::EngineRef) {
    let traffic = match &e.traffic {
        crate::results::Traffic::Loopback => "traffic on loopback (no network crossed)".to_string(),
        crate::results::Traffic::Network { address } => {
            format!("traffic crossed a network to {address}")
        }
    };
    let mut used: Vec<String> = r
        .lanes
        .iter()
        .flat_map(|l| &l.cells)
        .map(|c| format!("{:?}", c.sampler_mode).to_lowercase())
        .collect();
    used.sort();
    used.dedup();
    let _ = writeln!(
        s,
        "| reached | {} ({:?}, {}) · {traffic} · sampler used: {} |",
        e.url,
        e.transport,
        e.kind,
        if used.is_empty() {
            "—".into()
        } else {
            used.join(", ")
        }
    );
    if let Some(t) = &e.traits {
        engine_traits_row(s, t);
    }
}

/// What differs on this engine: runtime, the limits runcost set, where the
/// target's cgroup was, the compose CLI that drove it.
fn engine_traits_row(s: &mut String, t: &crate::results::EngineTraits) {
    let mut parts = Vec::new();
    if let Some(r) = &t.runtime {
        parts.push(format!("runtime {r}"));
    }
    if let Some(c) = &t.cgroup {
        parts.push(c.to_string());
    }
    if !t.ulimits.is_empty() {
        parts.push(format!(
            "ulimits set by runcost: {} (the engine's defaults exceed the hard limits)",
            t.ulimits.join(", ")
        ));
    }
    parts.push(format!("compose {}", t.compose));
    let _ = writeln!(s, "| engine traits | {} |", parts.join(" · "));
}

fn suite_table(s: &mut String, suite: &crate::results::suite::SuiteRecord) {
    let _ = writeln!(s, "\n## Suite\n");
    let _ = writeln!(s, "| lane | status | settings | time |");
    let _ = writeln!(s, "|---|---|---|---:|");
    for l in &suite.lanes {
        let st = &l.settings;
        let mut args: Vec<String> = st
            .lane_args
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        args.insert(0, format!("{} repeat(s)", st.repeats));
        args.extend(st.env.iter().map(|(k, v)| format!("`{k}={v}`")));
        let status = match &l.error {
            Some(e) => format!("**{}**: {}", l.status, e.replace('|', "\\|")),
            None => l.status.to_string(),
        };
        let _ = writeln!(
            s,
            "| {} | {status} | {} | {:.0} s |",
            l.lane,
            args.join(" · "),
            l.seconds
        );
    }
}

fn is_box_lane(lane: LaneKind) -> bool {
    matches!(
        lane,
        LaneKind::BoxLifecycle
            | LaneKind::BoxExec
            | LaneKind::BoxDensity
            | LaneKind::BoxChurn
            | LaneKind::BoxSnapshot
            | LaneKind::BoxStability
            | LaneKind::BoxBurst
            | LaneKind::BoxResource
            | LaneKind::BoxThroughput
    )
}

fn is_leak_lane(lane: LaneKind) -> bool {
    matches!(lane, LaneKind::Heap | LaneKind::Memcheck | LaneKind::Churn)
}

fn lane_section(s: &mut String, lane: &LaneRecord, charts: &[ChartRef]) {
    let _ = writeln!(s, "\n## {}\n", lane.lane);
    if !lane.findings.is_empty() {
        let _ = writeln!(s, "### Verdict\n");
        for f in &lane.findings {
            let _ = writeln!(s, "- {}", super::words::finding(f));
        }
        s.push('\n');
    }
    let lane_charts: Vec<&ChartRef> = charts
        .iter()
        .filter(|c| c.svg.starts_with(&format!("charts/{}-", lane.lane)))
        .filter(|c| !c.svg.ends_with("-timeline.svg"))
        .collect();
    for c in &lane_charts {
        let _ = writeln!(s, "![{}]({})\n", c.title, c.png);
    }
    if is_leak_lane(lane.lane) {
        super::leaks::section(s, lane);
    }
    for f in &lane.findings {
        if let crate::results::Finding::Fault(f) = f {
            super::fault::markdown(s, f);
        }
    }
    let boxes: Vec<&crate::results::boxes::BoxFinding> = lane
        .findings
        .iter()
        .filter_map(|f| match f {
            crate::results::Finding::Box(b) => Some(&**b),
            _ => None,
        })
        .collect();
    if !boxes.is_empty() {
        super::boxes::lane_markdown(s, &boxes);
    }
    let attribution = lane.findings.iter().find_map(|f| match f {
        crate::results::Finding::Attribution(a) => Some(&**a),
        _ => None,
    });
    super::attrib::lane_markdown(s, lane, attribution, charts);
    if is_box_lane(lane.lane) {
        // Box lanes have no repeats or sampled cells: their tables are above.
        for note in &lane.skipped {
            let _ = writeln!(s, "- **{note}**");
        }
        return;
    }
    let with_params = lane.aggregates.iter().any(|a| !a.params.is_empty());
    let shown: Vec<&crate::results::Aggregate> = lane
        .aggregates
        .iter()
        .filter(|a| {
            !with_params
                || matches!(
                    a.metric,
                    MetricKind::Uss
                        | MetricKind::Pss
                        | MetricKind::Rss
                        | MetricKind::CpuCores
                        | MetricKind::Threads
                )
        })
        .collect();
    if shown.is_empty() {
        if !is_leak_lane(lane.lane) {
            let _ = writeln!(s, "No steady repeat to summarise.\n");
        }
    } else {
        let setting = if with_params { "setting | " } else { "" };
        let sep = if with_params { "---|" } else { "" };
        let _ = writeln!(
            s,
            "| {setting}metric | median | 95 % CI of the mean | IQR | n | tier | per repeat |"
        );
        let _ = writeln!(s, "|{sep}---|---:|---|---:|---:|---|---|");
        for a in shown {
            let ci = a
                .ci95
                .map(|(lo, hi)| format!("{} – {}", a.unit.show(lo), a.unit.show(hi)))
                .unwrap_or_else(|| "— (n < 2)".into());
            let per: Vec<String> = a.per_repeat.iter().map(|v| compact(a.unit, *v)).collect();
            let params = if with_params {
                let p: Vec<String> = a.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{} | ", p.join(" "))
            } else {
                String::new()
            };
            let _ = writeln!(
                s,
                "| {params}{} | {} | {ci} | {} | {} | {} | {} |",
                a.metric.label(),
                a.unit.show(a.median),
                a.iqr.map(|v| a.unit.show(v)).unwrap_or_else(|| "—".into()),
                a.n,
                a.tier,
                per.join(", ")
            );
        }
        s.push('\n');
    }
    for note in &lane.skipped {
        let _ = writeln!(s, "> note: {note}\n");
    }
    if lane.cells.iter().any(|c| c.load.is_some()) {
        load_table(s, lane);
    }
    super::hold::section(s, lane);
    super::tool::section(s, lane);
    let _ = writeln!(s, "### Cells\n");
    let _ = writeln!(s, "| cell | status | ready | warm-up | window | samples | rate | missed | sampler CPU | USS (window mean ± CI) | lag-1 r |");
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|");
    for c in &lane.cells {
        let status = match c.status {
            CellStatus::Ok => "ok",
            CellStatus::NotSteady => "**not steady**",
            CellStatus::Failed => "**failed**",
        };
        let secs = |v: Option<f64>| v.map(|x| format!("{x:.1} s")).unwrap_or_else(|| "—".into());
        let window = c.window.map(|(a, b)| b - a);
        let (n, rate, missed, cpu) = match &c.sampler {
            Some(t) => (
                t.samples.to_string(),
                format!("{:.1} Hz", t.achieved_hz),
                t.missed_ticks.to_string(),
                format!("{:.2} %", t.cpu_fraction() * 100.0),
            ),
            None => ("—".into(), "—".into(), "—".into(), "—".into()),
        };
        let uss = c
            .metrics
            .iter()
            .find(|m| m.metric == crate::results::MetricKind::Uss);
        let uss_s = uss
            .map(|m| match m.ci {
                Some((lo, hi)) => format!(
                    "{} ± {}",
                    Unit::Bytes.show(m.value),
                    ByteUnit::MiB.show((hi - lo) / 2.0, 3)
                ),
                None => Unit::Bytes.show(m.value),
            })
            .unwrap_or_else(|| "—".into());
        let r1 = uss
            .and_then(|m| m.lag1)
            .map(|r| format!("{r:.2}"))
            .unwrap_or_else(|| "—".into());
        let _ = writeln!(
            s,
            "| {} | {status} | {} | {} | {} | {n} | {rate} | {missed} | {cpu} | {uss_s} | {r1} |",
            c.id,
            secs(c.ready_s),
            secs(c.steady_after_s),
            secs(window),
        );
    }
    // What the sampler could not read, and why: once per reason.
    let mut unavailable: std::collections::BTreeMap<(&str, &str), Vec<&str>> = Default::default();
    for c in &lane.cells {
        for (metric, why) in c.sampler.iter().flat_map(|t| &t.unavailable) {
            unavailable.entry((metric, why)).or_default().push(&c.id);
        }
    }
    if !unavailable.is_empty() {
        let _ = writeln!(s, "\n### Not measured\n");
        for ((metric, why), cells) in unavailable {
            let _ = writeln!(s, "- `{metric}` ({}): {why}", cells.join(", "));
        }
    }
    let errors: Vec<_> = lane
        .cells
        .iter()
        .filter_map(|c| c.error.as_ref().map(|e| (&c.id, e)))
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(s, "\n### Failures\n");
        for (id, e) in errors {
            let _ = writeln!(s, "- `{id}`:\n\n```text\n{}\n```", e.trim_end());
        }
    }
    let mine: Vec<&ChartRef> = charts
        .iter()
        .filter(|c| {
            lane.cells
                .iter()
                .any(|cell| c.svg.contains(&format!("/{}-", cell.id)))
        })
        .collect();
    if let Some(first) = mine.first() {
        let _ = writeln!(
            s,
            "\n### Timeline of {}\n\n![{}]({})\n",
            cell_of(&first.svg),
            first.title,
            first.png
        );
        if mine.len() > 1 {
            let others: Vec<String> = mine[1..]
                .iter()
                .map(|c| format!("[{}]({})", cell_of(&c.svg), c.svg))
                .collect();
            let _ = writeln!(s, "Other repeats: {}\n", others.join(" · "));
        }
    }
}

/// Latency and throughput per cell. A percentile is quoted only when the
/// number of recorded requests supports it: the tiers of the stats crate
/// (p99 needs 500), and the same rule one decade on for p99.9 (5000).
fn load_table(s: &mut String, lane: &LaneRecord) {
    use runcost_stats::percentile::Tier;
    let _ = writeln!(s, "### Latency and throughput\n");
    let _ = writeln!(
        s,
        "| cell | intended | achieved | kept up | ok | errors | p50 | p90 | p99 | p99.9 | max | throughput | target USS | target CPU |"
    );
    let _ = writeln!(
        s,
        "|---|---:|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for c in &lane.cells {
        let Some(r) = &c.load else { continue };
        let metric = |k: MetricKind| c.metrics.iter().find(|m| m.metric == k).map(|m| m.value);
        let errors = if r.error_count() == 0 {
            "0".to_string()
        } else {
            let mut parts: Vec<String> = r
                .status_counts
                .iter()
                .filter(|(code, _)| !(200..300).contains(*code))
                .map(|(code, n)| format!("{n}× {code}"))
                .collect();
            for (what, n) in [
                ("timeout", r.timeouts),
                ("connect", r.connect_errors),
                ("I/O", r.io_errors),
                ("dropped", r.dropped),
            ] {
                if n > 0 {
                    parts.push(format!("{n}× {what}"));
                }
            }
            format!("{:.2} %: {}", r.error_rate() * 100.0, parts.join(", "))
        };
        let n = r.latency.count as usize;
        let tier = Tier::from_n(n);
        let q = |p: f64, us: u64| {
            if !r.latency_valid() {
                "INVALID".to_string()
            } else if p >= 100.0
                || if p > 0.99 {
                    n >= 5000
                } else {
                    tier.may_quote(p)
                }
            {
                format!("{:.2} ms", us as f64 / 1000.0)
            } else {
                format!("— (n={n})")
            }
        };
        let _ = writeln!(
            s,
            "| {} | {} | {:.1}/s | {} | {} | {errors} | {} | {} | {} | {} | {} | {:.1}/s | {} | {} |",
            c.id,
            r.intended_rate_per_s.map(|x| format!("{x:.0}/s")).unwrap_or_else(|| "closed loop".into()),
            r.achieved_rate_per_s,
            if r.intended_rate_per_s.is_none() { "—" } else if r.kept_up { "yes" } else { "**NO**" },
            r.ok,
            q(0.5, r.latency.p50_us),
            q(0.9, r.latency.p90_us),
            q(0.99, r.latency.p99_us),
            q(0.999, r.latency.p999_us),
            q(100.0, r.latency.max_us),
            r.throughput_ok_per_s,
            metric(MetricKind::Uss).map(|v| Unit::Bytes.show(v)).unwrap_or_else(|| "—".into()),
            metric(MetricKind::CpuCores).map(|v| Unit::Cores.show(v)).unwrap_or_else(|| "—".into()),
        );
    }
    if let Some(line) = memory_across_rates(lane) {
        let _ = writeln!(s, "\n{line}");
    }
    s.push_str(LOAD_NOTES);
}

/// Whether the target's memory moved with the offered rate: the median USS
/// per intended rate, lowest to highest rate, judged against a ±5 % band
/// (at least 1 MiB) around the lowest rate's value, the band the fault lane
/// uses for recovery.
fn memory_across_rates(lane: &LaneRecord) -> Option<String> {
    let mut by_rate: std::collections::BTreeMap<u64, Vec<f64>> = Default::default();
    for c in &lane.cells {
        let (Some(r), Some(u)) = (
            c.load.as_ref().and_then(|l| l.intended_rate_per_s),
            c.metrics.iter().find(|m| m.metric == MetricKind::Uss),
        ) else {
            continue;
        };
        by_rate.entry(r.round() as u64).or_default().push(u.value);
    }
    flat_across_rates(by_rate)
}

fn flat_across_rates(by_rate: std::collections::BTreeMap<u64, Vec<f64>>) -> Option<String> {
    if by_rate.len() < 2 {
        return None;
    }
    let med: Vec<(u64, f64)> = by_rate
        .into_iter()
        .map(|(r, mut v)| {
            v.sort_by(f64::total_cmp);
            (r, v[v.len() / 2])
        })
        .collect();
    let (r0, u0) = med[0];
    let band = (u0 * 0.05).max(ByteUnit::MiB.bytes() as f64);
    let worst =
        med.iter()
            .map(|(_, u)| u - u0)
            .fold(0.0_f64, |a, d| if d.abs() > a.abs() { d } else { a });
    let steps: Vec<String> = med
        .iter()
        .map(|(r, u)| format!("{} at {r}/s", Unit::Bytes.show(*u)))
        .collect();
    let verdict = if worst.abs() <= band {
        format!(
            "flat: every rate within ±{} of the {r0}/s value",
            Unit::Bytes.show(band)
        )
    } else {
        format!(
            "not flat: {} {} from {r0}/s, beyond ±{}",
            if worst > 0.0 { "up" } else { "down" },
            Unit::Bytes.show(worst.abs()),
            Unit::Bytes.show(band)
        )
    };
    Some(format!(
        "Target memory across rates (median USS): {}; {verdict}.",
        steps.join(" → ")
    ))
}

const LOAD_NOTES: &str = "
Open loop sends each request at its scheduled time whether or not earlier
answers have come, and times it from that intended start: when the service
stalls, every request scheduled during the stall waits, and the percentiles
show it. Closed loop sends the next request only after an answer, so during a
stall it sends almost nothing and records one slow request where a user would
have seen many: its percentiles understate stalls (coordinated omission) and
are a throughput measure, not a latency one. Non-2xx answers, timeouts and
connection errors are errors; timeouts count in latency at their timeout.
Warm-up traffic is sent but not recorded. A rate whose generator did not keep
up is flagged: its latencies include the generator's own lag.

";

fn cell_of(path: &str) -> &str {
    path.rsplit('/')
        .next()
        .unwrap_or(path)
        .trim_end_matches("-timeline.svg")
}

fn compact(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Bytes => format!("{:.2}", ByteUnit::MiB.of(v)),
        Unit::Cores => format!("{v:.3}"),
        Unit::Seconds => format!("{:.3}", v * 1e3),
        _ => format!("{v:.1}"),
    }
}

fn short(s: &str) -> &str {
    &s[..s.len().min(12)]
}

const HOW_TO_READ: &str = "
## How to read this

- **USS** (unique set size, Private_Clean + Private_Dirty) is what the target
  alone costs: memory freed if it exited. **PSS** shares each shared page among
  its users; **RSS** counts shared pages in full.
- Each repeat is a fresh container. Warm-up ends when the USS slope over the
  trailing window is flat (its 95 % CI contains 0 or lies within the profile's
  floor); the window mean of each metric is one value per repeat.
- Window intervals correct for autocorrelation (batch means / AR(1) effective
  n, lag-1 r shown). Across repeats: median, IQR and a Student-t 95 %
  interval of the repeat values. Tiers say what the sample count supports.
- A repeat that never settled is reported as *not steady* and left out of the
  summary; a failed repeat is reported with its error, never as zeros.
";

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn memory_across_rates_flat_or_not() {
        let mib = 1048576.0;
        let flat = flat_across_rates(
            [(1000, vec![4.73 * mib]), (5000, vec![4.71 * mib])]
                .into_iter()
                .collect(),
        )
        .unwrap();
        assert!(flat.contains("flat: every rate within"), "{flat}");
        assert!(flat.contains("at 1000/s → "), "{flat}");
        // 40 MiB → 48 MiB (+20 %): beyond the band, named with its size.
        let grew = flat_across_rates(
            [
                (100, vec![40.0 * mib, 41.0 * mib, 39.0 * mib]),
                (900, vec![48.0 * mib]),
            ]
            .into_iter()
            .collect(),
        )
        .unwrap();
        assert!(grew.contains("not flat: up 8.00 MiB"), "{grew}");
        assert!(flat_across_rates([(1, vec![1.0])].into_iter().collect()).is_none());
    }
    use crate::probe::sampler::TickerStats;
    use crate::probe::SamplerMode;
    use crate::results::*;
    use std::collections::BTreeMap;

    pub fn fixture() -> RunRecord {
        let cell = |i: u32, status: CellStatus, uss: f64| CellRecord {
            id: format!("footprint-r{i}"),
            repeat: i,
            params: BTreeMap::new(),
            status,
            error: (status == CellStatus::Failed)
                .then(|| "the target died during sampling (exit code 137)".into()),
            container: Some(format!("c{i}")),
            image: None,
            ready_s: Some(1.2),
            steady_after_s: (status == CellStatus::Ok).then_some(3.0),
            window: (status != CellStatus::Failed).then_some((4.2, 14.2)),
            sampler_mode: SamplerMode::Host,
            sampler: Some(TickerStats {
                target_hz: 10.0,
                achieved_hz: 10.0,
                samples: 130,
                thread_cpu_s: 0.013,
                wall_s: 13.0,
                ..Default::default()
            }),
            samples_csv: Some(format!("samples/footprint-r{i}.csv")),
            metrics: if status == CellStatus::Failed {
                vec![]
            } else {
                vec![CellMetric {
                    metric: MetricKind::Uss,
                    value: uss,
                    ci: Some((uss - 1024.0, uss + 1024.0)),
                    n: 100,
                    n_eff: 40.0,
                    lag1: Some(0.42),
                }]
            },
            load: None,
            hold: Vec::new(),
            tool: None,
            attribution: None,
        };
        RunRecord {
            schema_version: SCHEMA_VERSION.into(),
            run_id: "20261123-120000-abcd".into(),
            started_at: "2026-11-23T12:00:00Z".into(),
            finished_at: Some("2026-11-23T12:01:00Z".into()),
            status: RunStatus::Complete,
            status_reason: Some("1 cell(s) failed".into()),
            tool: ToolInfo {
                name: "runcost".into(),
                version: "0.1.0".into(),
                git_sha: Some("0123456789abcdef".into()),
                git_dirty: Some(false),
            },
            host: HostFingerprint {
                hostname: "h".into(),
                cpu_model: "Test CPU".into(),
                cores: 2,
                mem_total_bytes: 24 << 30,
                kernel: "6.1.0".into(),
                cgroup_version: "1".into(),
                engine_version: "20.10.24".into(),
                engine_api: "1.41".into(),
                compose: "v1 1.29.2".into(),
            },
            profile: ProfileRef {
                name: "gateway".into(),
                path: "profiles/gateway.yaml".into(),
                sha256: "f".repeat(64),
            },
            settings: Settings {
                lane: LaneKind::Footprint,
                repeats: 3,
                rate_hz: 10.0,
                sampler: SamplerMode::Host,
                window_s: 10.0,
                env: [("BASE_MIB".to_string(), "64".to_string())].into(),
                lane_args: BTreeMap::new(),
                command: vec!["footprint".into()],
            },
            seed: 7,
            images: [(
                "runcost/gateway:dev".to_string(),
                "sha256:0123456789abcdef0123".to_string(),
            )]
            .into(),
            lanes: vec![LaneRecord {
                lane: LaneKind::Footprint,
                cells: vec![
                    cell(0, CellStatus::Ok, 70.0 * 1048576.0),
                    cell(1, CellStatus::NotSteady, 71.0 * 1048576.0),
                    cell(2, CellStatus::Failed, 0.0),
                ],
                aggregates: vec![Aggregate {
                    metric: MetricKind::Uss,
                    unit: Unit::Bytes,
                    direction: Direction::LowerIsBetter,
                    params: BTreeMap::new(),
                    per_repeat: vec![70.0 * 1048576.0],
                    n: 1,
                    tier: "smoke".into(),
                    median: 70.0 * 1048576.0,
                    mean: 70.0 * 1048576.0,
                    iqr: None,
                    ci95: None,
                }],
                skipped: vec![
                    "1 repeat(s) never reached a steady state and are left out of the summary"
                        .into(),
                ],
                findings: vec![],
            }],
            host_load: LoadSummary {
                cores: 2,
                samples: 60,
                mean_load1: 0.5,
                max_load1: 0.9,
                max_cpu_psi: Some(1.5),
                overloaded: false,
            },
            suite: None,
            engine: None,
        }
    }

    #[test]
    fn footprint_report_snapshot() {
        let charts = vec![
            ChartRef {
                title: "t0".into(),
                svg: "charts/footprint-r0-timeline.svg".into(),
                png: "charts/footprint-r0-timeline.png".into(),
            },
            ChartRef {
                title: "t1".into(),
                svg: "charts/footprint-r1-timeline.svg".into(),
                png: "charts/footprint-r1-timeline.png".into(),
            },
        ];
        insta::assert_snapshot!(RunReport { charts: &charts }.render(&fixture()).unwrap());
    }

    #[test]
    fn suite_report_has_a_row_per_lane_with_its_cause() {
        use crate::results::suite::{LaneStatus, SuiteLane, SuiteRecord};
        let mut r = fixture();
        let lane = |lane, status, error: Option<&str>| SuiteLane {
            lane,
            settings: Settings {
                lane,
                ..r.settings.clone()
            },
            status,
            error: error.map(str::to_string),
            seconds: 42.0,
        };
        r.suite = Some(SuiteRecord {
            lanes: vec![
                lane(LaneKind::Footprint, LaneStatus::Complete, None),
                lane(
                    LaneKind::Load,
                    LaneStatus::Failed,
                    Some("1 of 1 cell(s) failed; first: load-r0: refused | reset"),
                ),
            ],
        });
        let md = RunReport { charts: &[] }.render(&r).unwrap();
        let at = md.find("## Suite").expect("a suite section");
        assert!(at < md.find("\n## footprint").unwrap(), "{md}");
        assert!(md.contains("| footprint | complete | "), "{md}");
        assert!(
            md.contains(
                "| load | **FAILED**: 1 of 1 cell(s) failed; first: load-r0: refused \\| reset | "
            ),
            "{md}"
        );
    }
}
