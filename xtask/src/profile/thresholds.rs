//! The profile's `thresholds:` (per metric key or glob: warn / regress /
//! floor over the defaults) and `budgets:` (absolute limits judged with or
//! without a baseline): types, matching and validation.
//!
//! ```yaml
//! thresholds:
//!   footprint/uss: { warn: 2 %, regress: 5 %, floor: 512 KiB }
//!   "load/latency_*": { regress: 30 % }
//! budgets:
//!   footprint/uss: { max: 64 MiB }
//!   load/latency_p99/rate=1000: { max: 5 ms }
//!   memcheck/definitely_lost: { max: 0 }
//! ```
//!
//! A pattern is a compare key (`lane/item[/param=value...]`, the keys the
//! compare table shows) where `*` matches anything; a pattern without `/`
//! names the item in any lane, and a pattern also covers the keys below it
//! (`load/latency_p99` covers every rate).

use crate::compare::items::FindingItem;
use crate::compare::Thresholds;
use crate::results::{LaneKind, MetricKind, Unit};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A number as written: `0.05`, `5 %`, `64 MiB`, `5 ms`, `100/s`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Quantity {
    Number(f64),
    Text(String),
}

/// What a quantity's suffix says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    Percent,
    Bytes,
    Seconds,
    PerSecond,
}

impl Quantity {
    fn parse(&self) -> Result<(f64, Kind), String> {
        let text = match self {
            Quantity::Number(v) => return Ok((*v, Kind::Plain)),
            Quantity::Text(t) => t.trim(),
        };
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
            .unwrap_or(text.len());
        let (num, suffix) = text.split_at(split);
        let v: f64 = num.trim().parse().map_err(|_| {
            format!("`{text}` is not a number; write e.g. 0.05, 5 %, 64 MiB, 5 ms or 100/s")
        })?;
        let suffix = suffix.trim();
        let bytes = |s: &str| -> Option<f64> {
            [
                ("B", 1.0),
                ("KiB", 1024.0),
                ("MiB", 1048576.0),
                ("GiB", 1073741824.0),
                ("kB", 1e3),
                ("MB", 1e6),
                ("GB", 1e9),
            ]
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, f)| *f)
        };
        Ok(match suffix {
            "" => (v, Kind::Plain),
            "%" => (v / 100.0, Kind::Percent),
            "ns" => (v * 1e-9, Kind::Seconds),
            "us" | "µs" => (v * 1e-6, Kind::Seconds),
            "ms" => (v * 1e-3, Kind::Seconds),
            "s" => (v, Kind::Seconds),
            "/s" => (v, Kind::PerSecond),
            s => match bytes(s) {
                Some(f) => (v * f, Kind::Bytes),
                None => {
                    return Err(format!(
                        "`{text}`: unknown unit `{s}`; use %, B, KiB, MiB, GiB, ns, us, ms, s or /s"
                    ))
                }
            },
        })
    }

    /// The value in `unit`'s base (bytes, seconds, a fraction for a
    /// ratio), refusing a suffix of another kind.
    fn value_in(&self, unit: Unit) -> Result<f64, String> {
        let (v, kind) = self.parse()?;
        let fits = match kind {
            Kind::Plain => true,
            Kind::Percent => unit == Unit::Ratio,
            Kind::Bytes => unit == Unit::Bytes,
            Kind::Seconds => unit == Unit::Seconds,
            Kind::PerSecond => unit == Unit::PerSecond,
        };
        if fits {
            Ok(v)
        } else {
            Err(format!(
                "`{}` does not fit an item in {unit:?}",
                self.show()
            ))
        }
    }

    /// A relative threshold: `5 %` or a fraction `0.05`.
    fn fraction(&self) -> Result<f64, String> {
        match self.parse()? {
            (v, Kind::Plain | Kind::Percent) => Ok(v),
            _ => Err(format!(
                "`{}` is a relative change: write a percentage (5 %) or a fraction (0.05)",
                self.show()
            )),
        }
    }

    fn show(&self) -> String {
        match self {
            Quantity::Number(v) => v.to_string(),
            Quantity::Text(t) => t.clone(),
        }
    }
}

/// Overrides of an item's default thresholds; what is left out stays.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdOverride {
    /// Relative change beyond which a significant change is WARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn: Option<Quantity>,
    /// Relative change beyond which a significant bad change is REGRESSED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regress: Option<Quantity>,
    /// Absolute change (the item's unit) under which nothing is reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<Quantity>,
}

/// An absolute limit on an item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// The item must not exceed this (costs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Quantity>,
    /// The item must not fall below this (throughput).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Quantity>,
}

/// `thresholds:` and `budgets:` of a profile, by pattern.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GateRules {
    #[serde(default)]
    pub thresholds: BTreeMap<String, ThresholdOverride>,
    #[serde(default)]
    pub budgets: BTreeMap<String, Budget>,
}

/// A budget resolved for one item: the limit in the item's unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    Max(f64),
    Min(f64),
}

/// `*` matches any run of characters (slashes too).
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] != '*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Whether `pattern` covers the compare key `key` (see the module docs).
pub fn covers(pattern: &str, key: &str) -> bool {
    let p = if pattern.contains('/') {
        pattern.to_string()
    } else {
        format!("*/{pattern}")
    };
    glob(&p, key) || glob(&format!("{p}/*"), key)
}

/// How specific a pattern is: its literal characters.
fn specificity(pattern: &str) -> usize {
    pattern.chars().filter(|&c| c != '*').count()
}

fn best<'a, T>(rules: &'a BTreeMap<String, T>, key: &str) -> Option<(&'a String, &'a T)> {
    rules
        .iter()
        .filter(|(p, _)| covers(p, key))
        .max_by_key(|(p, _)| specificity(p))
}

fn apply(o: &ThresholdOverride, unit: Unit, mut t: Thresholds) -> Result<Thresholds, String> {
    if let Some(w) = &o.warn {
        t.warn = w.fraction()?;
    }
    if let Some(r) = &o.regress {
        t.regress = r.fraction()?;
    }
    if let Some(f) = &o.floor {
        t.floor = f.value_in(unit)?;
    }
    Ok(t)
}

impl GateRules {
    /// The rules of a parsed profile.
    pub fn of(spec: &super::spec::ProfileSpec) -> GateRules {
        GateRules {
            thresholds: spec.thresholds.clone(),
            budgets: spec.budgets.clone(),
        }
    }

    /// The thresholds of item `key`: the most specific covering rule over
    /// `defaults`. Validated at load, so a failure here is a bug.
    pub fn thresholds_for(&self, key: &str, unit: Unit, defaults: Thresholds) -> Thresholds {
        match best(&self.thresholds, key) {
            Some((_, o)) => apply(o, unit, defaults).unwrap_or(defaults),
            None => defaults,
        }
    }

    /// The budget on item `key`, if any: its pattern and limit.
    pub fn budget_for(&self, key: &str, unit: Unit) -> Option<(String, Limit)> {
        let (p, b) = best(&self.budgets, key)?;
        let limit = match (&b.max, &b.min) {
            (Some(m), _) => Limit::Max(m.value_in(unit).ok()?),
            (None, Some(m)) => Limit::Min(m.value_in(unit).ok()?),
            (None, None) => return None,
        };
        Some((p.clone(), limit))
    }
}

/// One representative key per (lane, item) a run can hold, with its unit
/// and default thresholds: what patterns are checked against.
fn known_items() -> Vec<(String, Unit, Thresholds)> {
    let mut out = Vec::new();
    let sampled = |lane: LaneKind, out: &mut Vec<(String, Unit, Thresholds)>| {
        for m in MetricKind::FOOTPRINT {
            out.push((
                format!("{lane}/{}", m.name()),
                m.unit(),
                Thresholds::default_for(m),
            ));
        }
    };
    for lane in [
        LaneKind::Footprint,
        LaneKind::Scaling,
        LaneKind::Sweep,
        LaneKind::Load,
    ] {
        sampled(lane, &mut out);
    }
    for m in MetricKind::LOAD {
        out.push((
            format!("load/{}", m.name()),
            m.unit(),
            Thresholds::default_for(m),
        ));
    }
    for it in FindingItem::ALL {
        for lane in it.lanes() {
            out.push((
                format!("{lane}/{}", it.name()),
                it.unit(),
                it.default_thresholds(),
            ));
        }
    }
    out
}

/// The items a pattern can cover: itself or its first two segments (its
/// parameters name values only a run knows).
fn matched(pattern: &str, known: &[(String, Unit, Thresholds)]) -> Vec<(String, Unit, Thresholds)> {
    let head: String = if pattern.contains('/') {
        pattern.splitn(3, '/').take(2).collect::<Vec<_>>().join("/")
    } else {
        pattern.to_string()
    };
    known
        .iter()
        .filter(|(k, _, _)| covers(pattern, k) || covers(&head, k))
        .cloned()
        .collect()
}

/// Validates `thresholds:` and `budgets:`. `err(section, key, message)`
/// makes the profile error (file, line, field).
pub fn validate(
    rules: &GateRules,
    err: &dyn Fn(&str, &str, String) -> anyhow::Error,
) -> anyhow::Result<()> {
    let known = known_items();
    let names = || {
        let mut n: Vec<&str> = MetricKind::FOOTPRINT
            .iter()
            .chain(&MetricKind::LOAD)
            .map(|m| m.name())
            .chain(FindingItem::ALL.iter().map(|i| i.name()))
            .collect();
        n.dedup();
        n.join(", ")
    };
    let nothing = |section: &str, p: &str| {
        err(
            section,
            p,
            format!(
                "`{p}` matches no metric: write `lane/metric[/param=value]` (e.g. footprint/uss, \
                 load/latency_p99/rate=1000) or a glob over them; metrics: {}",
                names()
            ),
        )
    };
    for (p, o) in &rules.thresholds {
        let items = matched(p, &known);
        if items.is_empty() {
            return Err(nothing("thresholds", p));
        }
        if o.warn.is_none() && o.regress.is_none() && o.floor.is_none() {
            return Err(err(
                "thresholds",
                p,
                "sets nothing: give warn, regress or floor (e.g. { warn: 5 %, regress: 10 % })"
                    .into(),
            ));
        }
        for (key, unit, defaults) in items {
            let t = apply(o, unit, defaults).map_err(|m| err("thresholds", p, m))?;
            for (name, v) in [("warn", t.warn), ("regress", t.regress), ("floor", t.floor)] {
                if !v.is_finite() || v < 0.0 {
                    return Err(err(
                        "thresholds",
                        p,
                        format!("{name} {v} is negative: thresholds are sizes of a change (≥ 0)"),
                    ));
                }
            }
            if t.warn > t.regress {
                return Err(err(
                    "thresholds",
                    p,
                    format!(
                        "warn ({}) is above regress ({}) for {key}: make warn ≤ regress (set both)",
                        t.warn, t.regress
                    ),
                ));
            }
        }
    }
    for (p, b) in &rules.budgets {
        let items = matched(p, &known);
        if items.is_empty() {
            return Err(nothing("budgets", p));
        }
        let q = match (&b.max, &b.min) {
            (Some(q), None) | (None, Some(q)) => q,
            _ => {
                return Err(err(
                    "budgets",
                    p,
                    "give exactly one of max (costs) or min (throughput), e.g. { max: 64 MiB }"
                        .into(),
                ))
            }
        };
        for (key, unit, _) in items {
            let v = q
                .value_in(unit)
                .map_err(|m| err("budgets", p, format!("{m} ({key})")))?;
            if !v.is_finite() || v < 0.0 {
                return Err(err(
                    "budgets",
                    p,
                    format!("{} is negative: a budget is a limit ≥ 0", q.show()),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads `GOOD` plus `extra` as a profile in a temporary directory.
    fn load(extra: &str) -> anyhow::Result<crate::profile::Profile> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("app.yml"),
            "services:\n  app:\n    image: x\n",
        )
        .unwrap();
        let p = dir.path().join("p.yaml");
        let good =
            "name: t\ncompose: app.yml\nservice: app\nready: { http: { port: 8080, path: /health } }\n";
        std::fs::write(&p, format!("{good}{extra}")).unwrap();
        crate::profile::Profile::load(&p)
    }

    fn refused(extra: &str, says: &[&str]) {
        let e = load(extra).expect_err(extra);
        assert!(
            e.downcast_ref::<crate::error::BadInput>().is_some(),
            "{e:#}"
        );
        let msg = format!("{e:#}");
        for s in says {
            assert!(msg.contains(s), "`{msg}` should say `{s}`");
        }
    }

    #[test]
    fn profile_sections_load_and_bad_ones_name_file_line_field_and_fix() {
        let p = load(
            "thresholds:\n  footprint/uss: { warn: 2 %, regress: 5 %, floor: 512 KiB }\n  \"load/latency_*\": { regress: 80 % }\n\
             budgets:\n  footprint/uss: { max: 64 MiB }\n  load/latency_p99/rate=1000: { max: 5 ms }\n  memcheck/definitely_lost: { max: 0 }\n",
        )
        .unwrap();
        let rules = GateRules::of(&p.spec);
        assert_eq!(rules.thresholds.len(), 2);
        assert_eq!(rules.budgets.len(), 3);
        // A metric that does not exist: line 6 is `  footprint/usss: ...`.
        refused(
            "thresholds:\n  footprint/usss: { warn: 2 % }\n",
            &[
                "p.yaml:6",
                "field `thresholds.footprint/usss`",
                "matches no metric",
                "footprint/uss",
            ],
        );
        refused(
            "thresholds:\n  uss: { warn: -2 % }\n",
            &["p.yaml:6", "warn -0.02 is negative"],
        );
        refused(
            "thresholds:\n  footprint/uss: { warn: 20 %, regress: 10 % }\n",
            &[
                "p.yaml:6",
                "warn (0.2) is above regress (0.1)",
                "make warn ≤ regress",
            ],
        );
        // Only warn, above the default regress (+10 %): inverted too.
        refused(
            "thresholds:\n  footprint/uss: { warn: 30 % }\n",
            &["above regress"],
        );
        refused(
            "thresholds:\n  footprint/uss: { floor: 5 ms }\n",
            &["does not fit an item in Bytes"],
        );
        refused(
            "budgets:\n  footprint/uss: { max: 64 MiB, min: 1 MiB }\n",
            &["field `budgets.footprint/uss`", "exactly one of max"],
        );
        refused(
            "budgets:\n  nosuch/uss: { max: 1 }\n",
            &["matches no metric"],
        );
        refused(
            "thresholds:\n  footprint/uss: { wran: 1 % }\n",
            &["p.yaml:", "unknown field `wran`"],
        );
    }

    #[test]
    fn patterns_cover_keys_below_them() {
        assert!(covers("footprint/uss", "footprint/uss"));
        assert!(!covers("footprint/uss", "footprint/uss_x"));
        assert!(covers("load/latency_p99", "load/latency_p99/rate=1000"));
        assert!(covers("load/latency_*", "load/latency_p50/rate=10"));
        assert!(covers("uss", "sweep/uss/workers=4"));
        assert!(!covers("uss", "footprint/pss"));
        assert!(covers("*", "fault/fault_peak/metric=uss"));
        assert!(!covers(
            "load/latency_p99/rate=1000",
            "load/latency_p99/rate=100"
        ));
    }

    #[test]
    fn quantities_read_their_units() {
        let q = |s: &str| Quantity::Text(s.into());
        assert_eq!(q("64 MiB").value_in(Unit::Bytes), Ok(64.0 * 1048576.0));
        assert_eq!(q("5 ms").value_in(Unit::Seconds), Ok(0.005));
        assert_eq!(q("5 %").fraction(), Ok(0.05));
        assert_eq!(Quantity::Number(0.1).fraction(), Ok(0.1));
        assert!(q("64 MiB").value_in(Unit::Seconds).is_err());
        assert!(q("5 ms").fraction().is_err());
        assert!(q("5 parsecs").parse().is_err());
    }

    #[test]
    fn the_most_specific_rule_wins_over_defaults() {
        let rules: GateRules = serde_yaml::from_str(
            "thresholds:\n  '*': { warn: 1 % , regress: 50 % }\n  footprint/uss: { regress: 20 % }\n\
             budgets:\n  footprint/uss: { max: 64 MiB }\n  load/throughput: { min: 100/s }\n",
        )
        .unwrap();
        let d = Thresholds::default_for(MetricKind::Uss);
        let t = rules.thresholds_for("footprint/uss", Unit::Bytes, d);
        assert_eq!((t.warn, t.regress, t.floor), (d.warn, 0.2, d.floor));
        let t = rules.thresholds_for("footprint/pss", Unit::Bytes, d);
        assert_eq!((t.warn, t.regress), (0.01, 0.5));
        assert_eq!(
            rules.budget_for("footprint/uss", Unit::Bytes),
            Some(("footprint/uss".into(), Limit::Max(64.0 * 1048576.0)))
        );
        assert_eq!(
            rules.budget_for("load/throughput/rate=10", Unit::PerSecond),
            Some(("load/throughput".into(), Limit::Min(100.0)))
        );
        assert_eq!(rules.budget_for("footprint/pss", Unit::Bytes), None);
    }
}
