//! The compare table (`cargo xtask compare`, `compare-<baseline>.md`):
//! worst verdict first. Its value columns are the statistic the gate judged
//! (means of the per-repeat values; scaling rows: the exponent k), named in
//! the header, so the change shown is the change judged.

use super::format::Format;
use crate::compare::{Comparison, Row, Statistic, Verdict};
use anyhow::Result;
use std::fmt::Write;

pub struct CompareTable;

impl Format for CompareTable {
    type Input = Comparison;

    fn render(&self, c: &Comparison) -> Result<String> {
        let mut s = String::new();
        writeln!(
            s,
            "## runcost compare: run `{}` against baseline `{}` (run `{}`)\n",
            c.run, c.baseline, c.baseline_run
        )?;
        let count = |v: Verdict| c.rows.iter().filter(|r| r.verdict == v).count();
        writeln!(
            s,
            "**{}** — {} regressed, {} warn, {} improved, {} ok\n",
            match c.worst() {
                Verdict::Regressed => "REGRESSED",
                Verdict::Warn => "WARN",
                _ => "OK",
            },
            count(Verdict::Regressed),
            count(Verdict::Warn),
            count(Verdict::Improved),
            count(Verdict::Ok)
        )?;
        writeln!(
            s,
            "| verdict | metric | setting | baseline mean | run mean | change of the mean | 95 % CI of change | n |"
        )?;
        writeln!(s, "|---|---|---|---:|---:|---:|---|---|")?;
        let mut rows: Vec<&Row> = c.rows.iter().collect();
        rows.sort_by(|a, b| b.verdict.cmp(&a.verdict).then(a.key.cmp(&b.key)));
        for r in rows {
            row(&mut s, r)?;
        }
        if !c.missing.is_empty() {
            writeln!(
                s,
                "\nNot in this run (not judged): {}",
                c.missing.join(", ")
            )?;
        }
        if !c.confirmed_with.is_empty() {
            let runs: Vec<String> = c.confirmed_with.iter().map(|r| format!("`{r}`")).collect();
            writeln!(
                s,
                "\nRepeats pooled with the confirmation run(s) {} (`--confirm`).",
                runs.join(", ")
            )?;
        }
        if !c.host_differences.is_empty() {
            writeln!(
                s,
                "\nHost differs from the baseline's (allowed by flag): {}",
                c.host_differences.join("; ")
            )?;
        }
        s.push_str(
            "\nBaseline and run are means of the per-repeat values, the statistic the gate compares \
             (Welch interval of the difference, Fieller interval of the ratio); a scaling row shows \
             its exponent k. REGRESSED needs all three: a change in the bad direction whose 95 % CI \
             excludes 0, beyond the metric's regress threshold, and beyond its absolute floor. \
             WARN: the same at the warn threshold.\n",
        );
        Ok(s)
    }
}

fn row(s: &mut String, r: &Row) -> Result<()> {
    let show = |v: f64| match (r.statistic, r.unit) {
        (Statistic::Mean, Some(u)) => u.show(v),
        _ => format!("{v:.3}"),
    };
    let mut key = r.key.split('/');
    let lane = key.next().unwrap_or("");
    let setting: Vec<&str> = key.skip(1).collect();
    let verdict = match r.verdict {
        Verdict::Regressed => "**REGRESSED**",
        Verdict::Warn => "WARN",
        Verdict::Improved => "IMPROVED",
        Verdict::Ok => "OK",
    };
    writeln!(
        s,
        "| {verdict} | {lane} {} | {} | {} | {} | {} | {} | {}/{} |",
        r.label,
        setting.join(" "),
        show(r.baseline),
        show(r.candidate),
        r.relative_change
            .map(|x| format!("{:+.1} %", x * 100.0))
            .unwrap_or_else(|| "—".into()),
        r.relative_ci
            .map(|(a, b)| format!("{:+.1} % … {:+.1} %", a * 100.0, b * 100.0))
            .or_else(|| r.note.clone())
            .unwrap_or_else(|| "—".into()),
        r.baseline_n,
        r.candidate_n
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{Direction, Unit};

    fn metric(key: &str, label: &str, unit: Unit, verdict: Verdict) -> Row {
        Row {
            key: key.into(),
            label: label.into(),
            unit: Some(unit),
            direction: Some(Direction::LowerIsBetter),
            statistic: Statistic::Mean,
            baseline: 0.0,
            candidate: 0.0,
            relative_change: None,
            relative_ci: None,
            baseline_n: 5,
            candidate_n: 5,
            verdict,
            note: None,
        }
    }

    /// The case: cgroup memory 36.31 → 36.04 MiB by median was shown
    /// next to a +7.0 % change of the means. Here the means are shown.
    pub(crate) fn comparison() -> Comparison {
        let mib = 1048576.0;
        let rows = vec![
            Row {
                baseline: 36.04 * mib,
                candidate: 38.56 * mib,
                relative_change: Some(0.07),
                relative_ci: Some((0.031, 0.109)),
                ..metric(
                    "footprint/cgroup_mem",
                    "cgroup memory",
                    Unit::Bytes,
                    Verdict::Warn,
                )
            },
            Row {
                baseline: 70.0 * mib,
                candidate: 84.0 * mib,
                relative_change: Some(0.2),
                relative_ci: Some((0.15, 0.25)),
                ..metric("footprint/uss", "USS", Unit::Bytes, Verdict::Regressed)
            },
            Row {
                direction: Some(Direction::HigherIsBetter),
                baseline: 4000.0,
                candidate: 4100.0,
                relative_change: Some(0.025),
                relative_ci: Some((-0.01, 0.06)),
                ..metric(
                    "load/throughput/rate=5000",
                    "throughput",
                    Unit::PerSecond,
                    Verdict::Ok,
                )
            },
            Row {
                baseline: 0.0021,
                candidate: 0.0022,
                baseline_n: 1,
                candidate_n: 1,
                note: Some(
                    "not judged: needs at least 2 repeats on each side (baseline 1, run 1)".into(),
                ),
                ..metric(
                    "load/latency_p99/rate=1000",
                    "latency p99",
                    Unit::Seconds,
                    Verdict::Ok,
                )
            },
            Row {
                unit: None,
                statistic: Statistic::Exponent,
                baseline: 0.972,
                candidate: 0.991,
                baseline_n: 1,
                candidate_n: 1,
                note: Some("k 0.972 [0.970, 0.973] linear → 0.991 [0.987, 0.995] linear".into()),
                label: "scaling exponent k".into(),
                ..metric(
                    "scaling/pss_anon/exponent/entities",
                    "",
                    Unit::Bytes,
                    Verdict::Improved,
                )
            },
        ];
        Comparison {
            baseline: "host".into(),
            baseline_run: "20261120-090000-aaaa".into(),
            run: "20261123-120000-abcd".into(),
            rows,
            missing: vec!["footprint/swap".into()],
            host_differences: vec!["kernel: 6.1.0 ≠ 6.1.1".into()],
            confirmed_with: vec!["20261123-121000-beef".into()],
        }
    }

    #[test]
    fn compare_table_snapshot() {
        insta::assert_snapshot!(CompareTable.render(&comparison()).unwrap());
    }
}
