//! `cargo xtask history`: every metric's median over the stored complete
//! runs of a profile, in time order, with change points, as a table
//! (`report::history`) and a chart per metric.

use crate::error::{BadInput, ExitCode};
use crate::fs::write_atomic;
use crate::report::format::Format;
use crate::report::history::{History, HistoryTable};
use crate::results::{RunRecord, RunStatus};
use crate::runner::Common;
use anyhow::Result;

pub fn run(common: &Common) -> Result<ExitCode> {
    let runs: Vec<RunRecord> = std::fs::read_dir(&common.results)
        .map_err(|e| {
            BadInput(format!(
                "{}: {e}; run a lane first",
                common.results.display()
            ))
        })?
        .flatten()
        .filter(|e| !e.path().is_symlink())
        .filter_map(|e| std::fs::read(e.path().join("run.json")).ok())
        .filter_map(|b| serde_json::from_slice::<RunRecord>(&b).ok())
        .filter(|r| r.status == RunStatus::Complete && r.profile.name == common.profile)
        .collect();
    if runs.is_empty() {
        return Err(BadInput(format!(
            "no complete runs of profile `{}` in {}; run a lane first",
            common.profile,
            common.results.display()
        ))
        .into());
    }
    let mut history = History::from_runs(&common.profile, &runs);
    let out_dir = common.results.join("history");
    for s in &mut history.series {
        if s.points.len() >= 2 {
            s.chart = Some(crate::report::charts::history_chart(
                &out_dir,
                &common.profile,
                &s.key,
                s.unit,
                &s.points,
                &s.markers(),
            )?);
        }
    }
    let md = HistoryTable.render(&history)?;
    write_atomic(&out_dir.join("report.md"), md.as_bytes())?;
    print!("{md}");
    println!("written: {}", out_dir.join("report.md").display());
    Ok(ExitCode::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::markdown::tests::fixture;

    #[test]
    fn finds_the_run_where_memory_stepped_up() {
        let results = tempfile::tempdir().unwrap();
        for i in 0..12 {
            let mut r = fixture();
            r.status = RunStatus::Complete;
            r.run_id = format!("2026112{}-0000{i:02}-abcd", if i < 10 { 0 } else { 1 });
            r.started_at = format!("2026-11-23T00:{i:02}:00Z");
            let lane = &mut r.lanes[0];
            // 100 MiB with ±0.5 % wobble, then +10 % from run 6 on.
            let wobble = [
                0.0, 0.4, -0.3, 0.2, -0.5, 0.1, 0.3, -0.2, 0.5, -0.1, 0.2, -0.4,
            ][i];
            let v = (if i >= 6 { 110.0 } else { 100.0 } + wobble) * 1048576.0;
            lane.aggregates[0].median = v;
            lane.aggregates[0].per_repeat = vec![v];
            let dir = results.path().join(&r.run_id);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("run.json"), serde_json::to_vec(&r).unwrap()).unwrap();
        }
        let common = Common {
            repo_root: results.path().to_path_buf(),
            results: results.path().to_path_buf(),
            profile: "gateway".into(),
            quiet: true,
            json: false,
            seed: 1,
            argv: vec![],
            steady_window: None,
        };
        assert_eq!(run(&common).unwrap(), ExitCode::Ok);
        let md = std::fs::read_to_string(results.path().join("history/report.md")).unwrap();
        let row = md
            .lines()
            .find(|l| l.starts_with("| footprint/uss |"))
            .expect(&md);
        assert!(
            row.contains("20261120-000006-abcd"),
            "the step is at run 6: {row}"
        );
        assert!(row.contains("100.") && row.contains("110."), "{row}");
        assert!(results
            .path()
            .join("history/charts/history-footprint-uss.png")
            .is_file());

        let empty = tempfile::tempdir().unwrap();
        let common = Common {
            results: empty.path().to_path_buf(),
            ..common
        };
        let e = run(&common).unwrap_err();
        assert!(
            e.downcast_ref::<BadInput>().is_some() && format!("{e}").contains("no complete runs")
        );
    }
}
