//! `baselines/<name>.json`: versioned, per metric its direction, unit,
//! per-repeat values and thresholds; the host fingerprint; the run and tool
//! it came from. Loading refuses what cannot be judged against.

use super::items::FindingItem;
use crate::error::BadInput;
use crate::profile::thresholds::GateRules;
use crate::results::{
    Direction, HostFingerprint, LaneKind, MetricKind, ProfileRef, RunRecord, Settings, ToolInfo,
    Unit,
};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub const BASELINE_SCHEMA_VERSION: &str = "1.2";

#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    pub schema_version: String,
    pub name: String,
    pub created_at: String,
    pub tool: ToolInfo,
    pub run_id: String,
    pub profile: ProfileRef,
    pub host: HostFingerprint,
    pub settings: Settings,
    pub metrics: Vec<BaselineMetric>,
    #[serde(default)]
    pub exponents: Vec<BaselineExponent>,
    /// Figures of lane findings (fault, heap, memcheck, churn, leak verdicts).
    #[serde(default)]
    pub findings: Vec<BaselineFinding>,
    /// The profile's `thresholds:` and `budgets:` when the baseline was made:
    /// the thresholds in each item are these over the defaults.
    #[serde(default)]
    pub rules: GateRules,
    /// Memory categories and thread groups per repeat: what names the part
    /// that grew under a memory or CPU item that warns or regresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<super::attrib::BaselinePart>,
}

/// How bad a verdict class is: a change is judged between ranks.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ClassRank {
    /// NO LEAK, RECOVERED.
    Clear = 0,
    /// INCONCLUSIVE, NOT RECOVERED, UNKNOWN.
    Unsure = 1,
    /// LEAK, RETAINED.
    Bad = 2,
}

/// A figure of a lane finding: per-repeat values (fault), one value (heap,
/// memcheck), one estimate with its interval (churn slope) or a verdict
/// class (leak, retention).
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BaselineFinding {
    /// `lane/item[/param=value...]`.
    pub key: String,
    pub lane: LaneKind,
    pub item: FindingItem,
    pub unit: Unit,
    pub direction: Direction,
    pub values: Vec<f64>,
    /// 95 % interval of a single estimate.
    pub interval: Option<(f64, f64)>,
    pub class: Option<ClassRank>,
    /// The verdict as the lane wrote it (`NO LEAK`).
    pub class_word: Option<String>,
    pub thresholds: Thresholds,
}

/// The thresholds of a scaling exponent (absolute changes of k), from
/// `thresholds:` with the stats crate's defaults.
pub fn exponent_thresholds(rules: &GateRules, key: &str) -> Thresholds {
    let d = runcost_stats::ExponentGateOptions::default();
    rules.thresholds_for(
        key,
        Unit::Count,
        Thresholds {
            warn: d.warn,
            regress: d.regress,
            floor: 0.0,
        },
    )
}

#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BaselineMetric {
    /// `lane/metric[/param=value...]`.
    pub key: String,
    pub lane: LaneKind,
    pub metric: MetricKind,
    pub params: BTreeMap<String, String>,
    pub unit: Unit,
    pub direction: Direction,
    pub per_repeat: Vec<f64>,
    pub thresholds: Thresholds,
}

/// WARN beyond `warn`, REGRESSED beyond `regress` (relative changes), and
/// never for an absolute change under `floor` (in the metric's unit).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub warn: f64,
    pub regress: f64,
    pub floor: f64,
}

impl Thresholds {
    /// Defaults per metric: memory +5 %/+10 % (floor 1 MiB), CPU, threads
    /// and fds +15 %/+30 %, latency +20 %/+50 % (floor 0.5 ms), throughput
    /// −10 %/−20 % (floor 10/s), error rate by its absolute floor (1 %).
    pub fn default_for(metric: MetricKind) -> Thresholds {
        let t = |warn, regress, floor| Thresholds {
            warn,
            regress,
            floor,
        };
        match metric {
            MetricKind::Uss
            | MetricKind::Pss
            | MetricKind::PssAnon
            | MetricKind::Rss
            | MetricKind::Swap
            | MetricKind::CgroupMem
            | MetricKind::GroupUnique
            | MetricKind::CgroupAnon
            | MetricKind::CgroupShmem
            | MetricKind::CgroupFileActive
            | MetricKind::CgroupFileInactive
            | MetricKind::CgroupKernel
            | MetricKind::CgroupSock
            | MetricKind::CgroupShmemFile
            | MetricKind::CgroupSwap => t(0.05, 0.10, 1048576.0),
            MetricKind::CpuCores | MetricKind::CgroupCpuCores => t(0.15, 0.30, 0.01),
            MetricKind::Threads => t(0.15, 0.30, 1.0),
            MetricKind::Fds => t(0.15, 0.30, 2.0),
            MetricKind::LatencyP50 | MetricKind::LatencyP99 => t(0.20, 0.50, 0.0005),
            MetricKind::Throughput => t(0.10, 0.20, 10.0),
            MetricKind::ErrorRate => t(0.50, 1.00, 0.01),
        }
    }
}

/// A scaling exponent and its interval; compared as intervals.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BaselineExponent {
    pub key: String,
    pub k: f64,
    pub lower: f64,
    pub upper: f64,
    pub verdict: String,
    /// WARN/REGRESSED beyond these absolute changes of k (floor unused).
    #[serde(default = "default_exponent_thresholds")]
    pub thresholds: Thresholds,
    /// The growth test (smallest against largest size): what is judged
    /// when one of the pair is NO GROWTH and so has no k. `None` in
    /// baselines written before it was kept.
    #[serde(default)]
    pub growth: Option<runcost_stats::powerlaw::GrowthTest>,
    /// The metric's thresholds, relative to the cost at the smallest size,
    /// for that growth.
    #[serde(default)]
    pub growth_thresholds: Option<Thresholds>,
}

fn default_exponent_thresholds() -> Thresholds {
    exponent_thresholds(&GateRules::default(), "")
}

impl Baseline {
    pub fn from_run(name: &str, record: &RunRecord, rules: &GateRules) -> Baseline {
        let super::Items {
            metrics,
            exponents,
            findings,
            parts,
        } = super::extract(record, rules);
        Baseline {
            schema_version: BASELINE_SCHEMA_VERSION.into(),
            name: name.into(),
            created_at: crate::runner::now_rfc3339(),
            tool: record.tool.clone(),
            run_id: record.run_id.clone(),
            profile: record.profile.clone(),
            host: record.host.clone(),
            settings: record.settings.clone(),
            metrics,
            exponents,
            findings,
            rules: rules.clone(),
            parts,
        }
    }

    /// Every item key, for the missing-items check.
    pub fn keys(&self) -> impl Iterator<Item = (&str, LaneKind)> {
        self.metrics
            .iter()
            .map(|m| (m.key.as_str(), m.lane))
            .chain(
                self.exponents
                    .iter()
                    .map(|e| (e.key.as_str(), lane_of(&e.key))),
            )
            .chain(self.findings.iter().map(|f| (f.key.as_str(), f.lane)))
    }

    /// Loads a baseline, refusing a missing file, one that is not JSON, one
    /// of another major schema version, or one that lacks fields.
    pub fn load(path: &Path) -> Result<Baseline> {
        let shown = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| {
            BadInput(format!(
                "baseline {shown} cannot be read ({e}); create it with `cargo xtask update-baseline --run RUN --name NAME`"
            ))
        })?;
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            BadInput(format!("baseline {shown} is not JSON ({e}); regenerate it with `cargo xtask update-baseline`"))
        })?;
        let version = value
            .get("schema_version")
            .and_then(|v| v.as_str())
            .ok_or_else(|| {
                BadInput(format!(
                    "baseline {shown} has no schema_version: not a runcost baseline"
                ))
            })?;
        let major = |v: &str| v.split('.').next().unwrap_or("").to_string();
        if major(version) != major(BASELINE_SCHEMA_VERSION) {
            return Err(BadInput(format!(
                "baseline {shown} has schema {version}, this runcost reads {BASELINE_SCHEMA_VERSION}: \
                 regenerate it with `cargo xtask update-baseline`"
            ))
            .into());
        }
        serde_json::from_value(value).map_err(|e| {
            BadInput(format!("baseline {shown} is not a valid runcost baseline ({e}); regenerate it with `cargo xtask update-baseline`")).into()
        })
    }
}

/// The lane of an item key (its first segment).
pub fn lane_of(key: &str) -> LaneKind {
    let name = key.split('/').next().unwrap_or("");
    serde_json::from_value(serde_json::Value::String(name.into())).unwrap_or(LaneKind::Scaling)
}

/// The metric of a key (`lane/metric/...`), if its second part names one.
pub fn metric_of(key: &str) -> Option<MetricKind> {
    let name = key.split('/').nth(1)?;
    serde_json::from_value(serde_json::Value::String(name.into())).ok()
}

/// Fields in which two hosts differ (memory within 2 %: firmware reserves vary).
pub fn host_differences(a: &HostFingerprint, b: &HostFingerprint) -> Vec<String> {
    let mut d = Vec::new();
    let mut field = |name: &str, x: &str, y: &str| {
        if x != y {
            d.push(format!("{name}: {x} ≠ {y}"));
        }
    };
    field("cpu model", &a.cpu_model, &b.cpu_model);
    field("cores", &a.cores.to_string(), &b.cores.to_string());
    field("kernel", &a.kernel, &b.kernel);
    field("cgroup version", &a.cgroup_version, &b.cgroup_version);
    field("engine version", &a.engine_version, &b.engine_version);
    let (ma, mb) = (a.mem_total_bytes as f64, b.mem_total_bytes as f64);
    if (ma - mb).abs() > 0.02 * ma.max(mb) {
        d.push(format!(
            "memory: {:.1} ≠ {:.1}",
            crate::units::Bytes(a.mem_total_bytes),
            crate::units::Bytes(b.mem_total_bytes)
        ));
    }
    d
}
