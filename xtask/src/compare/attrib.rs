//! Which part grew: when a memory or CPU item warns or regresses, the
//! memory category (for CPU, the thread group) whose per-repeat values grew
//! most between the baseline and the run, with its own change and the
//! Welch interval of that change (`runcost_stats::compare`, the same
//! machinery as the gate's). The parts come from the lanes'
//! `Finding::Attribution`, kept in the baseline beside the aggregates.

use crate::results::{Finding, LaneKind, MetricKind};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What a part is a part of.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PartKind {
    /// A memory category's USS (`heap`, `anon`, `lib:NAME`), bytes.
    Memory,
    /// A thread group's CPU (`process: group`), cores.
    Cpu,
    /// A memory category's own scaling exponent k of its USS over the
    /// lane's parameter (unitless): what names the category under a
    /// scaling exponent row.
    Exponent,
}

impl PartKind {
    /// The parts that explain a metric: memory categories for memory,
    /// thread groups for CPU; none for the others.
    pub fn of(metric: MetricKind) -> Option<PartKind> {
        if MetricKind::MEMORY.contains(&metric) {
            Some(PartKind::Memory)
        } else if matches!(metric, MetricKind::CpuCores | MetricKind::CgroupCpuCores) {
            Some(PartKind::Cpu)
        } else {
            None
        }
    }
}

/// One part's per-repeat values at one parameter set of a lane.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BaselinePart {
    pub lane: LaneKind,
    pub params: BTreeMap<String, String>,
    pub kind: PartKind,
    /// The category key, or `process: group` for a thread group.
    pub name: String,
    pub per_repeat: Vec<f64>,
    /// For [`PartKind::Exponent`]: the category's fitted k (empty
    /// `per_repeat`, empty `params`: the fit spans them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exponent: Option<PartExponent>,
}

/// A category's exponent, as a scaling row keeps its own: NO GROWTH is
/// k = 0 [0, 0] (a constant), as in the exponent items.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartExponent {
    /// The parameter the fit is over (`entities`).
    pub parameter: String,
    pub k: f64,
    pub lower: f64,
    pub upper: f64,
}

/// The part that grew most under a row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GrewMost {
    pub kind: PartKind,
    pub name: String,
    /// Means of the repeats (a part a side lacks counts as 0).
    pub baseline: f64,
    pub candidate: f64,
    /// candidate − baseline.
    pub change: f64,
    pub relative_change: Option<f64>,
    /// Welch 95 % interval of the change; `None` with fewer than 2
    /// repeats a side.
    pub ci: Option<(f64, f64)>,
}

/// The parts a lane's findings offer.
pub fn parts(lane: LaneKind, findings: &[Finding]) -> Vec<BaselinePart> {
    let mut out = Vec::new();
    for f in findings {
        let Finding::Attribution(a) = f else { continue };
        out.extend(a.categories.iter().map(|c| BaselinePart {
            lane,
            params: c.params.clone(),
            kind: PartKind::Memory,
            name: c.category.clone(),
            per_repeat: c.per_repeat.clone(),
            exponent: None,
        }));
        out.extend(a.threads.iter().map(|t| BaselinePart {
            lane,
            params: t.params.clone(),
            kind: PartKind::Cpu,
            name: format!("{}: {}", t.process, t.group),
            per_repeat: t.per_repeat.clone(),
            exponent: None,
        }));
        // The exponents are over the lane's scaling parameter, which its
        // scaling findings name.
        let Some(parameter) = findings.iter().find_map(|f| match f {
            Finding::Scaling { parameter, .. } => Some(parameter.clone()),
            _ => None,
        }) else {
            continue;
        };
        out.extend(a.exponents.iter().filter_map(|e| {
            use runcost_stats::powerlaw::ScalingOutcome as O;
            let (k, lower, upper) = match &e.outcome {
                O::Fit(fit) => (fit.k, fit.k_ci.lower, fit.k_ci.upper),
                O::NoGrowth(_) => (0.0, 0.0, 0.0),
                // No exponent to compare (b ≤ 0, or no verdict).
                O::NoFit(_) | O::NoVerdict { .. } => return None,
            };
            Some(BaselinePart {
                lane,
                params: BTreeMap::new(),
                kind: PartKind::Exponent,
                name: e.category.clone(),
                per_repeat: Vec::new(),
                exponent: Some(PartExponent {
                    parameter: parameter.clone(),
                    k,
                    lower,
                    upper,
                }),
            })
        }));
    }
    out
}

/// The category whose own exponent grew and that adds the most bytes
/// over the parameter's range beyond what it added in the baseline,
/// reported with its exponent change and the interval of that change by
/// the exponent gate's rule (`runcost_stats::gate_exponent`). A category
/// one side lacks (below the fitting floor there, so flat) is k = 0 [0, 0]
/// on that side. `None` when none grew.
///
/// Why bytes rank and k only qualifies: a small category (the binary's
/// few hundred KiB of data) is fitted loosely, and its k can jump from 0
/// to the fit's bound on noise alone, while the category that makes the
/// total grow faster has a smaller, tight change of k. What grew the total
/// is what added the bytes. `added` maps a category to (its growth over
/// the range in the run) − (in the baseline); without it (parts of only
/// one cell) the largest change of k ranks.
pub fn exponent_grew_most(
    base: &[(&str, &PartExponent)],
    cand: &[(&str, &PartExponent)],
    added: Option<&BTreeMap<&str, f64>>,
) -> Option<GrewMost> {
    use runcost_stats::{gate_exponent, ExponentEstimate, ExponentGateOptions};
    let flat = ExponentEstimate {
        k: 0.0,
        lower: 0.0,
        upper: 0.0,
    };
    let est = |side: &[(&str, &PartExponent)], name: &str| {
        side.iter()
            .find(|(n, _)| *n == name)
            .map_or(flat, |(_, e)| ExponentEstimate {
                k: e.k,
                lower: e.lower,
                upper: e.upper,
            })
    };
    let rank = |name: &str, b: &ExponentEstimate, c: &ExponentEstimate| match added {
        Some(added) => added.get(name).copied().unwrap_or(0.0),
        None => c.k - b.k,
    };
    let names: BTreeSet<&str> = base.iter().chain(cand).map(|(n, _)| *n).collect();
    let (name, b, c, _) = names
        .into_iter()
        .map(|n| {
            let (b, c) = (est(base, n), est(cand, n));
            (n, b, c, rank(n, &b, &c))
        })
        .filter(|(_, b, c, r)| c.k - b.k > 0.0 && *r > 0.0)
        .fold(None, |best: Option<(&str, _, _, f64)>, x| match &best {
            Some(bb) if bb.3 >= x.3 => best,
            _ => Some(x),
        })?;
    let ci = gate_exponent(&b, &c, 0.95, &ExponentGateOptions::default())
        .ok()
        .map(|g| (g.difference_ci.lower, g.difference_ci.upper));
    Some(GrewMost {
        kind: PartKind::Exponent,
        name: name.to_string(),
        baseline: b.k,
        candidate: c.k,
        change: c.k - b.k,
        relative_change: None,
        ci,
    })
}

/// Bytes each memory category of `lane` adds over its cells' range of
/// `parameter`: the mean at the largest value minus the mean at the
/// smallest. Empty with fewer than two values of the parameter.
fn growth_over_range<'a>(
    side: &'a [BaselinePart],
    lane: &str,
    parameter: &str,
) -> BTreeMap<&'a str, f64> {
    let mut at: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for p in side
        .iter()
        .filter(|p| p.kind == PartKind::Memory && p.lane.to_string() == lane)
    {
        let Some(n) = p.params.get(parameter).and_then(|v| v.parse::<f64>().ok()) else {
            continue;
        };
        if p.per_repeat.is_empty() {
            continue;
        }
        let mean = p.per_repeat.iter().sum::<f64>() / p.per_repeat.len() as f64;
        at.entry(p.name.as_str()).or_default().push((n, mean));
    }
    at.into_iter()
        .filter_map(|(name, mut v)| {
            v.sort_by(|x, y| x.0.total_cmp(&y.0));
            let (lo, hi) = (v.first()?, v.last()?);
            (hi.0 > lo.0).then_some((name, hi.1 - lo.1))
        })
        .collect()
}

/// [`exponent_grew_most`] for an exponent row `lane/metric/exponent/param`:
/// only memory metrics (the categories are fitted on USS); the category
/// exponents of its lane over its parameter, baseline against run, ranked
/// by the bytes each adds over its cells' range (each side's own range).
pub fn attribute_exponent(
    key: &str,
    base: &[BaselinePart],
    cand: &[BaselinePart],
) -> Option<GrewMost> {
    let mut it = key.split('/');
    let (lane, metric, _, parameter) = (it.next()?, it.next()?, it.next()?, it.next()?);
    let metric: MetricKind = serde_json::from_value(serde_json::Value::from(metric)).ok()?;
    if PartKind::of(metric) != Some(PartKind::Memory) {
        return None;
    }
    fn pick<'a>(
        side: &'a [BaselinePart],
        lane: &str,
        parameter: &str,
    ) -> Vec<(&'a str, &'a PartExponent)> {
        side.iter()
            .filter(|p| p.lane.to_string() == lane && p.kind == PartKind::Exponent)
            .filter_map(|p| Some((p.name.as_str(), p.exponent.as_ref()?)))
            .filter(|(_, e)| e.parameter == parameter)
            .collect()
    }
    let (gb, gc) = (
        growth_over_range(base, lane, parameter),
        growth_over_range(cand, lane, parameter),
    );
    let added: Option<BTreeMap<&str, f64>> = (!gb.is_empty() && !gc.is_empty()).then(|| {
        gb.keys()
            .chain(gc.keys())
            .map(|n| {
                let g = |m: &BTreeMap<&str, f64>| m.get(n).copied().unwrap_or(0.0);
                (*n, g(&gc) - g(&gb))
            })
            .collect()
    });
    exponent_grew_most(
        &pick(base, lane, parameter),
        &pick(cand, lane, parameter),
        added.as_ref(),
    )
}

/// [`grew_most`] for a finding row whose key names a memory or CPU
/// metric (`fault/fault_peak/metric=uss`): the lane's parts of that kind.
/// A lane whose findings span its cells (fault has one parameter set per
/// run) offers one set of parts, so they are taken whatever their params.
pub fn attribute_finding(
    key: &str,
    lane: LaneKind,
    base: &[BaselinePart],
    cand: &[BaselinePart],
) -> Option<GrewMost> {
    let metric = key.split('/').find_map(|p| p.strip_prefix("metric="))?;
    let metric: MetricKind = serde_json::from_value(serde_json::Value::from(metric)).ok()?;
    let kind = PartKind::of(metric)?;
    fn pick(side: &[BaselinePart], lane: LaneKind, kind: PartKind) -> Vec<(&str, &[f64])> {
        side.iter()
            .filter(|p| p.lane == lane && p.kind == kind)
            .map(|p| (p.name.as_str(), p.per_repeat.as_slice()))
            .collect()
    }
    grew_most(kind, &pick(base, lane, kind), &pick(cand, lane, kind))
}

/// The parts of `lane` at `params` of one kind, by name.
pub fn select<'a>(
    parts: &'a [BaselinePart],
    lane: LaneKind,
    params: &BTreeMap<String, String>,
    kind: PartKind,
) -> Vec<(&'a str, &'a [f64])> {
    parts
        .iter()
        .filter(|p| p.lane == lane && &p.params == params && p.kind == kind)
        .map(|p| (p.name.as_str(), p.per_repeat.as_slice()))
        .collect()
}

/// The part whose mean grew most from `base` to `cand` (largest
/// candidate − baseline; ties by name), or `None` when no part grew. A part
/// one side lacks is 0 in each of that side's repeats (a new mapping, a
/// thread that was not there), so its growth is all of it.
pub fn grew_most(
    kind: PartKind,
    base: &[(&str, &[f64])],
    cand: &[(&str, &[f64])],
) -> Option<GrewMost> {
    let repeats = |side: &[(&str, &[f64])]| side.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
    let (nb, nc) = (repeats(base), repeats(cand));
    let values = |side: &[(&str, &[f64])], name: &str, n: usize| -> Vec<f64> {
        side.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_vec())
            .unwrap_or_else(|| vec![0.0; n])
    };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let names: BTreeSet<&str> = base.iter().chain(cand).map(|(k, _)| *k).collect();
    let (name, b, c) = names
        .into_iter()
        .map(|n| (n, values(base, n, nb), values(cand, n, nc)))
        .filter(|(_, b, c)| !b.is_empty() && !c.is_empty())
        .map(|(n, b, c)| (mean(&c) - mean(&b), n, b, c))
        .filter(|(d, ..)| *d > 0.0)
        // Largest change; the first name among equals (names come sorted).
        .fold(
            None,
            |best: Option<(f64, &str, Vec<f64>, Vec<f64>)>, x| match &best {
                Some(b) if b.0 >= x.0 => best,
                _ => Some(x),
            },
        )
        .map(|(_, n, b, c)| (n, b, c))?;
    let (mb, mc) = (mean(&b), mean(&c));
    let cmp = runcost_stats::compare(&b, &c, 0.95).ok();
    Some(GrewMost {
        kind,
        name: name.to_string(),
        baseline: mb,
        candidate: mc,
        change: mc - mb,
        relative_change: (mb != 0.0).then(|| mc / mb - 1.0),
        ci: cmp.map(|c| (c.difference_ci.lower, c.difference_ci.upper)),
    })
}

/// [`grew_most`] for a metric row: its kind of parts at its lane and
/// parameters, baseline against run.
pub fn attribute(
    metric: MetricKind,
    lane: LaneKind,
    params: &BTreeMap<String, String>,
    base: &[BaselinePart],
    cand: &[BaselinePart],
) -> Option<GrewMost> {
    let kind = PartKind::of(metric)?;
    grew_most(
        kind,
        &select(base, lane, params, kind),
        &select(cand, lane, params, kind),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: f64 = 1048576.0;

    #[test]
    fn the_part_that_grew_most_is_named_with_its_interval() {
        let heap_b = [10.0 * MIB, 10.1 * MIB, 9.9 * MIB];
        let anon_b = [32.0 * MIB, 32.2 * MIB, 31.8 * MIB];
        let heap_c = [10.5 * MIB, 10.4 * MIB, 10.6 * MIB];
        let anon_c = [96.0 * MIB, 96.3 * MIB, 95.7 * MIB];
        let base = [("heap", &heap_b[..]), ("anon", &anon_b[..])];
        let cand = [("heap", &heap_c[..]), ("anon", &anon_c[..])];
        let g = grew_most(PartKind::Memory, &base, &cand).unwrap();
        assert_eq!(g.name, "anon");
        assert!((g.change - 64.0 * MIB).abs() < 1.0, "{g:?}");
        assert!((g.relative_change.unwrap() - 2.0).abs() < 1e-9);
        let (lo, hi) = g.ci.unwrap();
        assert!(lo > 60.0 * MIB && hi < 68.0 * MIB && lo < g.change && g.change < hi);
        // The interval widens with the spread (Welch): same means, noisier repeats.
        let noisy_c = [80.0 * MIB, 112.0 * MIB, 96.0 * MIB];
        let n = grew_most(PartKind::Memory, &base, &[("anon", &noisy_c[..])]).unwrap();
        let (nlo, nhi) = n.ci.unwrap();
        assert!(nhi - nlo > 4.0 * (hi - lo), "{n:?}");
    }

    #[test]
    fn a_part_only_one_side_has_counts_as_zero_on_the_other() {
        let b = [1.0, 1.0];
        let c = [5.0, 6.0];
        let g = grew_most(
            PartKind::Memory,
            &[("old", &b[..])],
            &[("old", &b[..]), ("new", &c[..])],
        )
        .unwrap();
        assert_eq!(g.name, "new");
        assert_eq!((g.baseline, g.candidate), (0.0, 5.5));
        assert_eq!(g.relative_change, None, "nothing to be relative to");
        // A part that vanished shrank: never the one that grew.
        let gone = grew_most(
            PartKind::Memory,
            &[("gone", &c[..])],
            &[("other", &[0.0; 2][..])],
        );
        assert!(gone.is_none());
    }

    #[test]
    fn nothing_grew_and_single_repeats_have_no_interval() {
        let b = [3.0, 3.1];
        let m = PartKind::Memory;
        assert!(grew_most(m, &[("x", &b[..])], &[("x", &[2.0, 2.0][..])]).is_none());
        assert!(grew_most(m, &[], &[]).is_none());
        let g = grew_most(m, &[("x", &[1.0][..])], &[("x", &[2.0][..])]).unwrap();
        assert_eq!((g.change, g.ci), (1.0, None));
        // Equal growth: the first name.
        let g = grew_most(
            m,
            &[("b", &[0.0, 0.0][..]), ("a", &[0.0, 0.0][..])],
            &[("b", &[1.0, 1.0][..]), ("a", &[1.0, 1.0][..])],
        )
        .unwrap();
        assert_eq!(g.name, "a");
    }

    #[test]
    fn metrics_pick_their_kind_of_part() {
        assert_eq!(PartKind::of(MetricKind::Uss), Some(PartKind::Memory));
        assert_eq!(PartKind::of(MetricKind::CgroupMem), Some(PartKind::Memory));
        assert_eq!(PartKind::of(MetricKind::CpuCores), Some(PartKind::Cpu));
        assert_eq!(PartKind::of(MetricKind::LatencyP99), None);
        let part = |kind, name: &str, v: &[f64], n: &str| BaselinePart {
            lane: LaneKind::Scaling,
            params: [("entities".to_string(), n.to_string())].into(),
            kind,
            name: name.into(),
            per_repeat: v.to_vec(),
            exponent: None,
        };
        let base = vec![
            part(PartKind::Memory, "heap", &[1.0, 1.0], "10"),
            part(PartKind::Cpu, "gw: refresh", &[0.1, 0.1], "10"),
            part(PartKind::Memory, "heap", &[1.0, 1.0], "100"),
        ];
        let cand = vec![
            part(PartKind::Memory, "heap", &[2.0, 2.0], "10"),
            part(PartKind::Cpu, "gw: refresh", &[0.5, 0.5], "10"),
            part(PartKind::Memory, "heap", &[9.0, 9.0], "100"),
        ];
        let at10: BTreeMap<String, String> = [("entities".into(), "10".into())].into();
        let cpu = attribute(MetricKind::CpuCores, LaneKind::Scaling, &at10, &base, &cand).unwrap();
        assert_eq!(
            (cpu.kind, cpu.name.as_str()),
            (PartKind::Cpu, "gw: refresh")
        );
        let mem = attribute(MetricKind::Uss, LaneKind::Scaling, &at10, &base, &cand).unwrap();
        assert_eq!((mem.kind, mem.change), (PartKind::Memory, 1.0), "n=10 only");
        assert!(attribute(MetricKind::Uss, LaneKind::Footprint, &at10, &base, &cand).is_none());
        assert!(attribute(MetricKind::Fds, LaneKind::Scaling, &at10, &base, &cand).is_none());
    }

    #[test]
    fn an_exponent_row_names_the_category_whose_own_exponent_grew_most() {
        let e = |k: f64, h: f64| PartExponent {
            parameter: "entities".into(),
            k,
            lower: k - h,
            upper: k + h,
        };
        let part = |name: &str, x: PartExponent| BaselinePart {
            lane: LaneKind::Scaling,
            params: BTreeMap::new(),
            kind: PartKind::Exponent,
            name: name.into(),
            per_repeat: vec![],
            exponent: Some(x),
        };
        let base = vec![part("heap", e(1.0, 0.05)), part("anon", e(0.0, 0.0))];
        // heap went linear → quadratic; anon, absent before (below the
        // fitting floor: flat), now grows a little.
        let cand = vec![
            part("heap", e(2.0, 0.1)),
            part("anon", e(0.0, 0.0)),
            part("lib:(other)", e(0.3, 0.2)),
        ];
        let g = attribute_exponent("scaling/uss/exponent/entities", &base, &cand).unwrap();
        assert_eq!((g.kind, g.name.as_str()), (PartKind::Exponent, "heap"));
        assert_eq!((g.baseline, g.candidate, g.change), (1.0, 2.0, 1.0));
        let (lo, hi) = g.ci.unwrap();
        assert!(lo > 0.8 && hi < 1.2 && lo < 1.0 && 1.0 < hi, "{g:?}");
        // A part one side lacks is flat there.
        let g = exponent_grew_most(&[], &[("new", &e(0.5, 0.1))], None).unwrap();
        assert_eq!((g.name.as_str(), g.baseline), ("new", 0.0));
        // Not a memory metric, another parameter, nothing grew: none.
        assert!(attribute_exponent("scaling/cpu_cores/exponent/entities", &base, &cand).is_none());
        assert!(attribute_exponent("scaling/uss/exponent/clients", &base, &cand).is_none());
        assert!(attribute_exponent("scaling/uss/exponent/entities", &cand, &base).is_none());
    }

    /// What gate.rs plants (the gateway's anon block growing as n^1.5 with
    /// GROWTH_K=1.5) beside what a real run fits to the binary's small
    /// data: k from 0 to the fit's bound on noise. The bytes decide.
    #[test]
    fn a_loose_small_category_is_not_named_over_the_one_that_added_the_bytes() {
        let e = |k: f64, lower: f64, upper: f64| PartExponent {
            parameter: "entities".into(),
            k,
            lower,
            upper,
        };
        let exp = |name: &str, x: PartExponent| BaselinePart {
            lane: LaneKind::Scaling,
            params: BTreeMap::new(),
            kind: PartKind::Exponent,
            name: name.into(),
            per_repeat: vec![],
            exponent: Some(x),
        };
        let mem = |name: &str, n: u32, v: f64| BaselinePart {
            lane: LaneKind::Scaling,
            params: [("entities".to_string(), n.to_string())].into(),
            kind: PartKind::Memory,
            name: name.into(),
            per_repeat: vec![v, v],
            exponent: None,
        };
        const MIB: f64 = 1048576.0;
        let base = vec![
            exp("anon", e(0.2, -0.5, 0.9)),
            mem("anon", 10, 8.0 * MIB),
            mem("anon", 100, 8.1 * MIB),
            mem("binary", 10, 0.30 * MIB),
            mem("binary", 100, 0.30 * MIB),
        ];
        let cand = vec![
            exp("anon", e(1.502, 1.469, 1.536)),
            exp("binary", e(4.0, 0.05, 4.0)),
            mem("anon", 10, 8.0 * MIB),
            mem("anon", 100, 40.0 * MIB),
            mem("binary", 10, 0.30 * MIB),
            mem("binary", 100, 0.31 * MIB),
        ];
        let key = "scaling/uss/exponent/entities";
        let g = attribute_exponent(key, &base, &cand).unwrap();
        assert_eq!((g.kind, g.name.as_str()), (PartKind::Exponent, "anon"));
        assert!((g.change - 1.302).abs() < 1e-9, "{g:?}");
        // The exponents alone would name the loose one: why bytes rank.
        let only_k = |v: &[BaselinePart]| -> Vec<BaselinePart> {
            v.iter()
                .filter(|p| p.kind == PartKind::Exponent)
                .cloned()
                .collect()
        };
        let g = attribute_exponent(key, &only_k(&base), &only_k(&cand)).unwrap();
        assert_eq!(g.name, "binary");
        // A category that added bytes but whose k did not grow is not named.
        let mut flat_k = cand.clone();
        flat_k[0] = exp("anon", e(0.1, 0.0, 0.2));
        let g = attribute_exponent(key, &base, &flat_k).unwrap();
        assert_eq!(g.name, "binary");
    }

    #[test]
    fn a_fault_memory_row_names_the_category_across_its_cells() {
        let part = |kind, name: &str, v: &[f64]| BaselinePart {
            lane: LaneKind::Fault,
            params: [("burst".to_string(), "3".to_string())].into(),
            kind,
            name: name.into(),
            per_repeat: v.to_vec(),
            exponent: None,
        };
        let base = vec![
            part(PartKind::Memory, "heap", &[10.0, 10.0]),
            part(PartKind::Memory, "anon", &[5.0, 5.0]),
        ];
        let cand = vec![
            part(PartKind::Memory, "heap", &[11.0, 11.0]),
            part(PartKind::Memory, "anon", &[25.0, 26.0]),
        ];
        let f = LaneKind::Fault;
        let g = attribute_finding("fault/fault_retained/metric=uss", f, &base, &cand).unwrap();
        assert_eq!((g.kind, g.name.as_str()), (PartKind::Memory, "anon"));
        assert_eq!(g.change, 20.5);
        assert!(attribute_finding("fault/fault_peak/metric=cgroup_mem", f, &base, &cand).is_some());
        // The verdict row names no metric; another lane's parts are not these.
        assert!(attribute_finding("fault/fault_verdict", f, &base, &cand).is_none());
        let s = LaneKind::Scaling;
        assert!(attribute_finding("fault/fault_peak/metric=uss", s, &base, &cand).is_none());
    }
}
