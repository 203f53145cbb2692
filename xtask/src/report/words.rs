//! Verdicts in words a reader understands.

use crate::results::leaks::{verdict_word, ChurnFinding, HeapFinding, MemcheckFinding};
use crate::results::{Finding, MetricKind, Unit};
use runcost_stats::powerlaw::{ScalingOutcome, ScalingVerdict};

pub fn finding(f: &Finding) -> String {
    match f {
        Finding::Fault(f) => super::fault::words(f),
        Finding::Box(f) => super::boxes::words(f),
        Finding::Attribution(f) => super::attrib::words(f),
        Finding::Scaling {
            metric,
            parameter,
            points,
            outcome,
        } => match outcome {
            ScalingOutcome::NoVerdict { reason } => {
                format!(
                    "{}: NO VERDICT from {points} point(s): {reason}.",
                    metric.label()
                )
            }
            ScalingOutcome::NoGrowth(g) => {
                let u = metric.unit();
                format!(
                    "NO GROWTH: {m} does not grow with {parameter} beyond noise; {m} at {} minus at {}: {}, {:.0} % CI [{}, {}] (Welch, {} and {} points), so no exponent is fitted.",
                    g.n_largest,
                    g.n_smallest,
                    signed(u, g.difference),
                    g.difference_ci.level * 100.0,
                    signed(u, g.difference_ci.lower),
                    signed(u, g.difference_ci.upper),
                    g.points_largest,
                    g.points_smallest,
                    m = metric.label(),
                )
            }
            ScalingOutcome::NoFit(f) => {
                let u = metric.unit();
                let growth = match &f.growth {
                    Some(g) => format!(
                        "the largest size is {} [{}, {}] above the smallest",
                        signed(u, g.difference),
                        signed(u, g.difference_ci.lower),
                        signed(u, g.difference_ci.upper)
                    ),
                    None => "no growth test: it needs 2 or more repeats at the smallest and the largest size".into(),
                };
                format!(
                    "{}: NO FIT: b ≤ 0: the best curve a + b·n^k has b = {:.3e} (from {} at {} to {} at {}), so it has no growth exponent; {growth}.",
                    metric.label(),
                    f.b,
                    u.show(f.fitted_smallest),
                    f.n_smallest,
                    u.show(f.fitted_largest),
                    f.n_largest,
                )
            }
            ScalingOutcome::Fit(fit) => {
                let (lo, hi) = (fit.k_ci.lower, fit.k_ci.upper);
                let verdict = match fit.verdict {
                    ScalingVerdict::Sublinear => format!("SUBLINEAR: {} grows slower than {parameter}", metric.label()),
                    ScalingVerdict::Linear => format!("LINEAR: {} grows in proportion to {parameter}", metric.label()),
                    ScalingVerdict::Superlinear => format!("SUPERLINEAR: {} grows faster than {parameter}", metric.label()),
                    ScalingVerdict::Indeterminate => format!(
                        "INDETERMINATE: the interval for k crosses an edge of the linear band, so the data cannot say how {} grows with {parameter}",
                        metric.label()
                    ),
                };
                let clipped = if fit.k_ci_lower_clipped || fit.k_ci_upper_clipped {
                    " (interval clipped at the search range)"
                } else {
                    ""
                };
                format!(
                    "{verdict}; k = {:.3}, {:.0} % CI [{lo:.3}, {hi:.3}]{clipped}, from {} points at {} sizes.",
                    fit.k,
                    fit.k_ci.level * 100.0,
                    fit.points_used,
                    fit.distinct_sizes
                )
            }
        },
        Finding::Heap(f) => heap(f),
        Finding::Memcheck(f) => memcheck(f),
        Finding::Churn(f) => churn(f),
    }
}

/// A difference with its sign: `+0.02 MiB`, `-1.20 MiB`.
fn signed(u: Unit, v: f64) -> String {
    if v >= 0.0 {
        format!("+{}", u.show(v))
    } else {
        u.show(v)
    }
}

/// Bytes for people, in the one style of `units::Bytes`.
pub fn bytes(b: u64) -> String {
    crate::units::Bytes(b).to_string()
}

fn top_site(rows: &[crate::results::leaks::SiteRow]) -> String {
    rows.first()
        .map(|r| match &r.location {
            Some(l) => format!("; top site {} ({l})", r.site),
            None => format!("; top site {}", r.site),
        })
        .unwrap_or_default()
}

fn heap(f: &HeapFinding) -> String {
    let leaked = f
        .leaked_bytes
        .map(bytes)
        .unwrap_or_else(|| "unknown".into());
    format!(
        "heap {}: {leaked} leaked at exit (threshold {}), peak heap {}, {} allocations ({} temporary){}.",
        verdict_word(f.verdict),
        bytes(f.threshold_bytes),
        f.peak_heap_bytes.map(bytes).unwrap_or_else(|| "?".into()),
        f.total_allocations.map(|n| n.to_string()).unwrap_or_else(|| "?".into()),
        f.temporary_allocations.map(|n| n.to_string()).unwrap_or_else(|| "?".into()),
        if f.leaked_bytes.unwrap_or(0) > 0 { top_site(&f.leaks) } else { String::new() }
    )
}

fn memcheck(f: &MemcheckFinding) -> String {
    let l = &f.leaks;
    let errors: u64 = f
        .errors
        .iter()
        .filter(|(k, _)| !k.starts_with("Leak_"))
        .map(|(_, c)| c.occurrences)
        .sum();
    let definite: Vec<_> = f
        .top_leaks
        .iter()
        .filter(|r| r.kind.as_deref() == Some("Leak_DefinitelyLost"))
        .cloned()
        .collect();
    format!(
        "memcheck {}: definitely lost {} in {} blocks (threshold {}), indirectly {}, possibly {}; {errors} memory error(s){}.",
        verdict_word(f.verdict),
        bytes(l.definitely_lost.bytes),
        l.definitely_lost.blocks,
        bytes(f.threshold_bytes),
        bytes(l.indirectly_lost.bytes),
        bytes(l.possibly_lost.bytes),
        top_site(&definite)
    )
}

/// Slope per cycle in the metric's unit.
pub fn per_cycle(metric: MetricKind, v: f64) -> String {
    match metric.unit() {
        Unit::Bytes => crate::units::show_bytes(v),
        _ => format!("{v:.3}"),
    }
}

/// A churn metric as the summary names it.
pub fn memory_name(metric: MetricKind) -> &'static str {
    match metric {
        MetricKind::PssAnon => "anonymous memory",
        other => other.label(),
    }
}

fn churn(f: &ChurnFinding) -> String {
    let mem = f.metrics.iter().find(|m| m.metric == f.memory_metric);
    let detail = mem
        .map(|m| {
            let t = &m.test;
            format!(
                "; {} {}/cycle [{}, {}] under churn vs {}/cycle [{}, {}] static (floor {}/cycle)",
                memory_name(m.metric),
                per_cycle(m.metric, t.churn.slope),
                per_cycle(m.metric, t.churn.ci.lower),
                per_cycle(m.metric, t.churn.ci.upper),
                per_cycle(m.metric, t.reference.slope),
                per_cycle(m.metric, t.reference.ci.lower),
                per_cycle(m.metric, t.reference.ci.upper),
                per_cycle(m.metric, t.slope_floor)
            )
        })
        .unwrap_or_default();
    let leaking: Vec<&str> = f
        .metrics
        .iter()
        .filter(|m| m.test.verdict == runcost_stats::leak::LeakVerdict::Leak)
        .map(|m| memory_name(m.metric))
        .collect();
    format!(
        "churn {}{}: {} cycles of {} create/delete ({} warm-up cycles left out){detail}.",
        verdict_word(f.verdict),
        if leaking.is_empty() {
            String::new()
        } else {
            format!(" ({} grows)", leaking.join(", "))
        },
        f.cycles,
        f.batch,
        f.warmup_cycles
    )
}

/// One line for a chart caption: `k = 1.02 [0.97, 1.07] LINEAR (15 points, 5 sizes)`.
pub fn finding_short(f: &Finding) -> String {
    match f {
        Finding::Fault(f) => super::fault::short(f),
        Finding::Box(f) => super::boxes::short(f),
        Finding::Attribution(f) => super::attrib::short(f),
        Finding::Scaling {
            points, outcome, ..
        } => match outcome {
            ScalingOutcome::NoVerdict { .. } => format!("no verdict ({points} points)"),
            ScalingOutcome::NoGrowth(_) => format!("NO GROWTH ({points} points)"),
            ScalingOutcome::NoFit(_) => format!("no fit: b ≤ 0 ({points} points)"),
            ScalingOutcome::Fit(fit) => format!(
                "k = {:.3} [{:.3}, {:.3}] {} ({} points, {} sizes)",
                fit.k,
                fit.k_ci.lower,
                fit.k_ci.upper,
                format!("{:?}", fit.verdict).to_uppercase(),
                fit.points_used,
                fit.distinct_sizes
            ),
        },
        Finding::Heap(f) => format!("heap {}", verdict_word(f.verdict)),
        Finding::Memcheck(f) => format!("memcheck {}", verdict_word(f.verdict)),
        Finding::Churn(f) => format!("churn {}", verdict_word(f.verdict)),
    }
}
