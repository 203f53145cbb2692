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
    /// Under an exponent row: the category's own fitted k, baseline and
    /// run (`None` where that side has no fit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<(Option<f64>, Option<f64>)>,
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

/// Under an exponent row, the memory category that adds the most bytes
/// over the parameter's range beyond what it added in the baseline:
/// `baseline` and `candidate` are its growth over each side's range
/// (USS at the largest value − at the smallest), `change` their
/// difference, `k` its own fitted exponents. `None` when none added bytes.
///
/// Why bytes and not the change of a category's k: a category that is
/// flat or small is fitted loosely, its k anywhere in the fit's bounds
/// (the gateway's flat 16 MiB `anon` block fitted k = 2.5 [0.05, 4.0] on a
/// 30 KiB wobble; libc's few hundred KiB of USS, which moves with what
/// other containers map, k = 4.0), so the k that changed most is often
/// noise, while what made the total grow faster is what added the bytes.
pub fn exponent_grew_most(
    base: &BTreeMap<&str, f64>,
    cand: &BTreeMap<&str, f64>,
    k_of: impl Fn(&str) -> (Option<f64>, Option<f64>),
) -> Option<GrewMost> {
    let at = |m: &BTreeMap<&str, f64>, n: &str| m.get(n).copied().unwrap_or(0.0);
    let names: BTreeSet<&str> = base.keys().chain(cand.keys()).copied().collect();
    let (name, added) = names
        .into_iter()
        .map(|n| (n, at(cand, n) - at(base, n)))
        .filter(|(_, added)| *added > 0.0)
        .fold(None, |best: Option<(&str, f64)>, x| match best {
            Some(b) if b.1 >= x.1 => best,
            _ => Some(x),
        })?;
    Some(GrewMost {
        kind: PartKind::Exponent,
        name: name.to_string(),
        baseline: at(base, name),
        candidate: at(cand, name),
        change: added,
        relative_change: None,
        ci: None,
        k: Some(k_of(name)),
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
/// only memory metrics (the categories are fitted on USS); the memory
/// categories of its lane over its cells' range of the parameter (each
/// side's own range), baseline against run.
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
    let k = |side: &[BaselinePart], name: &str| {
        side.iter()
            .filter(|p| p.lane.to_string() == lane && p.kind == PartKind::Exponent)
            .filter(|p| p.name == name)
            .filter_map(|p| p.exponent.as_ref())
            .find(|e| e.parameter == parameter)
            .map(|e| e.k)
    };
    let (gb, gc) = (
        growth_over_range(base, lane, parameter),
        growth_over_range(cand, lane, parameter),
    );
    if gb.is_empty() || gc.is_empty() {
        return None;
    }
    exponent_grew_most(&gb, &gc, |name| (k(base, name), k(cand, name)))
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
        k: None,
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

    /// What gate.rs plants (the gateway's entity memory in `anon`, n^1.5
    /// with GROWTH_K=1.5, in heap blocks n^1 in the baseline) with the
    /// fits a real run made of it: anon flat in the baseline but fitted
    /// k = 2.5 [0.05, 4.0], libc's small USS k = 4.0 in the run. The bytes
    /// decide, so neither loose k names the wrong category.
    #[test]
    fn an_exponent_row_names_the_category_that_added_the_bytes() {
        let exp = |name: &str, k: f64, lower: f64, upper: f64| BaselinePart {
            lane: LaneKind::Scaling,
            params: BTreeMap::new(),
            kind: PartKind::Exponent,
            name: name.into(),
            per_repeat: vec![],
            exponent: Some(PartExponent {
                parameter: "entities".into(),
                k,
                lower,
                upper,
            }),
        };
        const MIB: f64 = 1048576.0;
        let mem = |name: &str, n: u32, mib: f64| BaselinePart {
            lane: LaneKind::Scaling,
            params: [("entities".to_string(), n.to_string())].into(),
            kind: PartKind::Memory,
            name: name.into(),
            per_repeat: vec![mib * MIB, mib * MIB],
            exponent: None,
        };
        let base = vec![
            exp("anon", 2.5, 0.05, 4.0),
            exp("heap", 1.0, 0.995, 1.005),
            mem("anon", 10, 16.05),
            mem("anon", 40, 16.06),
            mem("anon", 100, 16.08),
            mem("heap", 10, 0.7),
            mem("heap", 100, 6.3),
            mem("lib:libc.so.6", 10, 1.35),
            mem("lib:libc.so.6", 100, 1.31),
        ];
        let cand = vec![
            exp("anon", 1.50, 1.47, 1.53),
            exp("lib:libc.so.6", 4.0, 0.05, 4.0),
            mem("anon", 10, 18.05),
            mem("anon", 40, 32.0),
            mem("anon", 100, 79.0),
            mem("heap", 10, 0.06),
            mem("heap", 100, 0.07),
            mem("lib:libc.so.6", 10, 0.23),
            mem("lib:libc.so.6", 100, 1.32),
        ];
        let key = "scaling/uss/exponent/entities";
        let g = attribute_exponent(key, &base, &cand).unwrap();
        assert_eq!((g.kind, g.name.as_str()), (PartKind::Exponent, "anon"));
        let near = |x: f64, mib: f64| (x - mib * MIB).abs() < 1.0;
        assert!(near(g.baseline, 0.03) && near(g.candidate, 60.95), "{g:?}");
        assert!(near(g.change, 60.92), "{g:?}");
        assert_eq!(g.k, Some((Some(2.5), Some(1.5))));
        // A category one side lacks added nothing there.
        let mut new_one = cand.clone();
        new_one.push(mem("anon:new", 10, 0.0));
        new_one.push(mem("anon:new", 100, 90.0));
        let g = attribute_exponent(key, &base, &new_one).unwrap();
        assert_eq!(
            (g.name.as_str(), g.baseline, g.k),
            ("anon:new", 0.0, Some((None, None)))
        );
        // Not a memory metric, another parameter, nothing added bytes,
        // one cell only: none.
        assert!(attribute_exponent("scaling/cpu_cores/exponent/entities", &base, &cand).is_none());
        assert!(attribute_exponent("scaling/uss/exponent/clients", &base, &cand).is_none());
        let keep = |side: &[BaselinePart], f: &dyn Fn(&BaselinePart) -> bool| {
            side.iter().filter(|p| f(p)).cloned().collect::<Vec<_>>()
        };
        let heap = |p: &BaselinePart| p.name == "heap";
        assert!(attribute_exponent(key, &keep(&base, &heap), &keep(&cand, &heap)).is_none());
        let one_cell = keep(&cand, &|p| {
            p.params.get("entities").is_none_or(|n| n == "10")
        });
        assert!(attribute_exponent(key, &base, &one_cell).is_none());
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
