//! `results/index.html`: one self-contained page over a results directory:
//! the latest run's verdict on top, then every run, newest first, with its
//! profile, lanes, status, the verdicts of its findings, the verdict of
//! each comparison made of it, and links to its report and compare tables
//! as HTML pages (`report::html`; their charts are the run's PNGs).
//!
//! [`IndexPage`] is the pure page; [`refresh`] reads the directory, renders
//! each run's HTML pages that are missing or older than their markdown, and
//! writes the index. It runs after every run (`frame`), after every
//! `compare` and as `cargo xtask index`. Everything a record holds is
//! escaped: it is text, never markup.

use super::format::Format;
use super::html::{esc, head, href_attr, HtmlPage};
use crate::compare::summary::CompareSummary;
use crate::compare::Verdict;
use crate::fs::write_atomic;
use crate::results::leaks::verdict_word;
use crate::results::{Finding, RunRecord, RunStatus};
use anyhow::{Context, Result};
use runcost_stats::powerlaw::{ScalingOutcome, ScalingVerdict};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// What the index shows, read from a results directory.
pub struct Index {
    /// The directory, as the title names it.
    pub results: String,
    /// The run `results/latest` points at.
    pub latest: Option<String>,
    pub runs: Vec<IndexRun>,
}

pub struct IndexRun {
    pub id: String,
    /// The record, or why run.json could not be read.
    pub record: Result<RunRecord, String>,
    /// The report page, relative to the index.
    pub report: Option<String>,
    /// Each comparison made of the run, with its page.
    pub compares: Vec<(CompareSummary, Option<String>)>,
}

pub struct IndexPage;

impl Format for IndexPage {
    type Input = Index;

    fn render(&self, ix: &Index) -> Result<String> {
        let mut runs: Vec<&IndexRun> = ix.runs.iter().collect();
        runs.sort_by(|a, b| b.id.cmp(&a.id));
        let mut s = String::new();
        head(&mut s, &format!("runcost runs in {}", ix.results));
        writeln!(
            s,
            "<h1>runcost runs in <code>{}</code></h1>",
            esc(&ix.results)
        )?;
        let latest = ix
            .latest
            .as_deref()
            .and_then(|id| runs.iter().find(|r| r.id == id))
            .or(runs.first());
        match latest {
            Some(r) => latest_section(&mut s, r)?,
            None => writeln!(s, "<section id=\"latest\"><p>No runs yet.</p></section>")?,
        }
        writeln!(s, "<table id=\"runs\">")?;
        writeln!(
            s,
            "<thead><tr><th>run</th><th>started (UTC)</th><th>profile</th><th>lanes</th><th>status</th><th>findings</th><th>gate</th></tr></thead>\n<tbody>"
        )?;
        for r in &runs {
            row(&mut s, r)?;
        }
        writeln!(s, "</tbody>\n</table>")?;
        writeln!(
            s,
            "<p>{} run(s). The reports are the markdown files in each run's directory; these pages are rendered from them.</p>",
            runs.len()
        )?;
        s.push_str("</body>\n</html>\n");
        Ok(s)
    }
}

fn latest_section(s: &mut String, r: &IndexRun) -> Result<()> {
    write!(
        s,
        "<section id=\"latest\">\n<h2>Latest run: {}</h2>\n<p>",
        run_link(r)
    )?;
    match &r.record {
        Ok(rec) => write!(
            s,
            "profile <code>{}</code>, {}, status {}",
            esc(&rec.profile.name),
            esc(&lanes(rec)),
            status(rec)
        )?,
        Err(e) => write!(s, "{}", unreadable(e))?,
    }
    s.push_str("</p>\n<p>Gate: ");
    match latest_compare(r) {
        Some((c, href)) => {
            write!(s, "{}", compare_words(c, href.as_deref()))?;
        }
        None => s.push_str("<span class=\"v v-none\">NOT COMPARED</span>"),
    }
    s.push_str("</p>\n");
    if let Ok(rec) = &r.record {
        let f = findings(rec);
        if !f.is_empty() {
            s.push_str("<p>Findings:</p>\n");
            s.push_str(&list(&f));
        }
    }
    s.push_str("</section>\n");
    Ok(())
}

fn row(s: &mut String, r: &IndexRun) -> Result<()> {
    write!(s, "<tr id=\"run-{}\"><td>{}</td>", esc(&r.id), run_link(r))?;
    match &r.record {
        Ok(rec) => write!(
            s,
            "<td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td>",
            esc(&rec.started_at),
            esc(&rec.profile.name),
            esc(&lanes(rec)),
            status(rec),
            list(&findings(rec))
        )?,
        Err(e) => write!(s, "<td colspan=\"5\">{}</td>", unreadable(e))?,
    }
    let mut compares: Vec<&(CompareSummary, Option<String>)> = r.compares.iter().collect();
    compares.sort_by(|a, b| b.0.judged_at.cmp(&a.0.judged_at));
    let gate: Vec<String> = compares
        .iter()
        .map(|(c, href)| compare_words(c, href.as_deref()))
        .collect();
    if gate.is_empty() {
        s.push_str("<td><span class=\"v v-none\">not compared</span></td>");
    } else {
        write!(s, "<td>{}</td>", list_html(&gate))?;
    }
    s.push_str("</tr>\n");
    Ok(())
}

/// The comparison judged last: the run's current verdict.
fn latest_compare(r: &IndexRun) -> Option<&(CompareSummary, Option<String>)> {
    r.compares
        .iter()
        .max_by(|a, b| a.0.judged_at.cmp(&b.0.judged_at))
}

fn run_link(r: &IndexRun) -> String {
    match &r.report {
        Some(href) => format!(
            "<a href=\"{}\"><code>{}</code></a>",
            href_attr(href),
            esc(&r.id)
        ),
        None => format!("<code>{}</code>", esc(&r.id)),
    }
}

fn unreadable(e: &str) -> String {
    format!(
        "<span class=\"v v-failed\">UNREADABLE</span> run.json: {}",
        esc(e)
    )
}

fn verdict_badge(v: Verdict) -> &'static str {
    match v {
        Verdict::Regressed => "<span class=\"v v-regressed\">REGRESSED</span>",
        Verdict::Warn => "<span class=\"v v-warn\">WARN</span>",
        // The gate passes: an improvement is an OK run.
        Verdict::Ok | Verdict::Improved => "<span class=\"v v-ok\">OK</span>",
    }
}

/// `REGRESSED against baseline gateway: footprint/uss (6 items) [table]`.
fn compare_words(c: &CompareSummary, href: Option<&str>) -> String {
    let against = match &c.baseline {
        Some(b) => format!("against baseline <code>{}</code>", esc(b)),
        None => "against its budgets".into(),
    };
    let named = |what: &str, keys: &[String]| {
        if keys.is_empty() {
            String::new()
        } else {
            let keys: Vec<String> = keys
                .iter()
                .map(|k| format!("<code>{}</code>", esc(k)))
                .collect();
            format!("; {what}: {}", keys.join(", "))
        }
    };
    let table = href
        .map(|h| format!(" (<a href=\"{}\">table</a>)", href_attr(h)))
        .unwrap_or_default();
    format!(
        "{} {against}, {} item(s){}{}{table}",
        verdict_badge(c.verdict),
        c.items,
        named("regressed", &c.regressed),
        named("warn", &c.warned),
    )
}

/// The lanes of the run: a suite's planned lanes with any that failed.
fn lanes(rec: &RunRecord) -> String {
    use crate::results::suite::LaneStatus;
    match &rec.suite {
        Some(suite) => {
            let l: Vec<String> = suite
                .lanes
                .iter()
                .map(|l| match l.status {
                    LaneStatus::Complete => l.lane.to_string(),
                    other => format!("{} ({other})", l.lane),
                })
                .collect();
            format!("suite: {}", l.join(", "))
        }
        None => {
            let l: Vec<String> = rec.lanes.iter().map(|l| l.lane.to_string()).collect();
            l.join(", ")
        }
    }
}

fn status(rec: &RunRecord) -> String {
    let (class, word) = match rec.status {
        RunStatus::Complete => ("complete", "complete"),
        RunStatus::Partial => ("partial", "partial"),
        RunStatus::Failed => ("failed", "failed"),
    };
    let reason = rec
        .status_reason
        .as_deref()
        .map(|r| format!(" ({})", esc(r)))
        .unwrap_or_default();
    format!("<span class=\"v v-{class}\">{word}</span>{reason}")
}

/// Each finding's verdict in a few words (the report has the sentence).
fn findings(rec: &RunRecord) -> Vec<String> {
    let mut out = Vec::new();
    for lane in &rec.lanes {
        for f in &lane.findings {
            let words = match f {
                Finding::Scaling {
                    metric, outcome, ..
                } => {
                    let v = match outcome {
                        ScalingOutcome::Fit(fit) => format!(
                            "{} k = {:.2} [{:.2}, {:.2}]",
                            match fit.verdict {
                                ScalingVerdict::Sublinear => "SUBLINEAR",
                                ScalingVerdict::Linear => "LINEAR",
                                ScalingVerdict::Superlinear => "SUPERLINEAR",
                                ScalingVerdict::Indeterminate => "INDETERMINATE",
                            },
                            fit.k,
                            fit.k_ci.lower,
                            fit.k_ci.upper
                        ),
                        ScalingOutcome::NoGrowth(_) => "NO GROWTH".into(),
                        ScalingOutcome::NoFit(_) => "NO FIT".into(),
                        ScalingOutcome::NoVerdict { .. } => "NO VERDICT".into(),
                    };
                    format!("{} {}: {v}", lane.lane, metric.label())
                }
                Finding::Heap(h) => format!("heap: {}", verdict_word(h.verdict)),
                Finding::Memcheck(m) => format!("memcheck: {}", verdict_word(m.verdict)),
                Finding::Churn(c) => format!("churn: {}", verdict_word(c.verdict)),
                Finding::Fault(f) => format!("fault: {}", super::fault::short(f)),
                Finding::Box(b) => match &b.env.failed {
                    Some(_) => format!("{}: FAILS", lane.lane),
                    None => continue,
                },
                // A breakdown, not a verdict: the report has its tables.
                Finding::Attribution(_) => continue,
            };
            out.push(words);
        }
    }
    out
}

fn list(items: &[String]) -> String {
    let escaped: Vec<String> = items.iter().map(|i| esc(i)).collect();
    list_html(&escaped)
}

/// A list of items that are HTML already.
fn list_html(items: &[String]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let mut s = String::from("<ul class=\"plain\">");
    for i in items {
        s.push_str("<li>");
        s.push_str(i);
        s.push_str("</li>");
    }
    s.push_str("</ul>");
    s
}

/// Reads `results`, renders the HTML pages that are missing or older than
/// their markdown, and writes `results/index.html`; returns its path. A run
/// directory whose run.json cannot be read is listed as unreadable, not
/// skipped and not an error.
pub fn refresh(results: &Path) -> Result<PathBuf> {
    let entries =
        std::fs::read_dir(results).with_context(|| format!("read {}", results.display()))?;
    let mut runs = Vec::new();
    for e in entries {
        let e = e.with_context(|| format!("read {}", results.display()))?;
        let dir = e.path();
        // `latest` is a symlink to a run; `history/` has no run.json.
        if e.file_type().map(|t| t.is_symlink()).unwrap_or(true) || !dir.join("run.json").is_file()
        {
            continue;
        }
        let id = e.file_name().to_string_lossy().into_owned();
        runs.push(read_run(&dir, &id)?);
    }
    let latest = std::fs::read_link(results.join("latest"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned());
    let ix = Index {
        results: results.display().to_string(),
        latest,
        runs,
    };
    let html = IndexPage.render(&ix)?;
    let path = results.join("index.html");
    write_atomic(&path, html.as_bytes())?;
    Ok(path)
}

fn read_run(dir: &Path, id: &str) -> Result<IndexRun> {
    let record = std::fs::read(dir.join("run.json"))
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice::<RunRecord>(&b).map_err(|e| e.to_string()));
    let report = page_for(dir, "report", &format!("run {id}"))?.map(|p| format!("{id}/{p}"));
    let mut compares = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("read {}", dir.display()))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("compare-") && n.ends_with(".json"))
        .collect();
    names.sort();
    for name in names {
        let path = dir.join(&name);
        // A summary that does not parse (another version's) is left out:
        // its table is still in the run directory.
        let Ok(summary) = std::fs::read(&path)
            .map_err(anyhow::Error::from)
            .and_then(|b| Ok(serde_json::from_slice::<CompareSummary>(&b)?))
        else {
            continue;
        };
        let stem = name.trim_end_matches(".json");
        let page = page_for(dir, stem, &format!("run {id}: {stem}"))?;
        compares.push((summary, page.map(|p| format!("{id}/{p}"))));
    }
    Ok(IndexRun {
        id: id.to_string(),
        record,
        report,
        compares,
    })
}

/// `STEM.html` rendered from `STEM.md` when it is missing or older; its
/// file name, or None without the markdown.
fn page_for(dir: &Path, stem: &str, title: &str) -> Result<Option<String>> {
    let md = dir.join(format!("{stem}.md"));
    let html = dir.join(format!("{stem}.html"));
    let Ok(md_meta) = std::fs::metadata(&md) else {
        return Ok(None);
    };
    let fresh = match (
        md_meta.modified(),
        std::fs::metadata(&html).and_then(|m| m.modified()),
    ) {
        (Ok(m), Ok(h)) => h > m,
        _ => false,
    };
    if !fresh {
        let text =
            std::fs::read_to_string(&md).with_context(|| format!("read {}", md.display()))?;
        let page = HtmlPage {
            title,
            index_href: Some("../index.html"),
        }
        .render(&text)?;
        write_atomic(&html, page.as_bytes())?;
    }
    Ok(Some(format!("{stem}.html")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::example::every_kind;

    fn summary(run: &str, baseline: Option<&str>, verdict: Verdict, at: &str) -> CompareSummary {
        CompareSummary {
            baseline: baseline.map(str::to_string),
            run: run.into(),
            verdict,
            items: 12,
            regressed: match verdict {
                Verdict::Regressed => vec!["footprint/uss".into(), "scaling/uss/k".into()],
                _ => vec![],
            },
            warned: match verdict {
                Verdict::Regressed | Verdict::Warn => vec!["load/p99/rate=1000".into()],
                _ => vec![],
            },
            judged_at: at.into(),
        }
    }

    /// Three runs: an older complete one compared OK, the every-kind
    /// example (partial, every finding) compared twice (the later
    /// comparison REGRESSED), and a run whose run.json is unreadable; a
    /// profile name with markup in it.
    fn example() -> Index {
        let latest = every_kind();
        let mut older = every_kind();
        older.run_id = "20261122-090000-0001".into();
        older.status = RunStatus::Complete;
        older.status_reason = None;
        older.profile.name = "<script>alert(\"x\")</script>&co".into();
        older.lanes.truncate(2);
        // A suite whose heap lane could not start.
        use crate::results::suite::{LaneStatus, SuiteLane, SuiteRecord};
        use crate::results::LaneKind;
        let lane = |lane, status, error: Option<&str>| SuiteLane {
            lane,
            settings: older.settings.clone(),
            status,
            error: error.map(str::to_string),
            seconds: 12.5,
        };
        older.suite = Some(SuiteRecord {
            lanes: vec![
                lane(LaneKind::Footprint, LaneStatus::Complete, None),
                lane(
                    LaneKind::Scaling,
                    LaneStatus::CellsFailed,
                    Some("1 cell failed"),
                ),
                lane(
                    LaneKind::Heap,
                    LaneStatus::Failed,
                    Some("no heaptrack image"),
                ),
            ],
        });
        Index {
            results: "results".into(),
            latest: Some(latest.run_id.clone()),
            runs: vec![
                IndexRun {
                    id: older.run_id.clone(),
                    report: Some(format!("{}/report.html", older.run_id)),
                    compares: vec![(
                        summary(&older.run_id, None, Verdict::Ok, "2026-11-22T10:00:00Z"),
                        Some(format!("{}/compare-budgets.html", older.run_id)),
                    )],
                    record: Ok(older),
                },
                IndexRun {
                    id: "20261120-000000-dead".into(),
                    record: Err("expected value at line 1 column 1".into()),
                    report: None,
                    compares: vec![],
                },
                IndexRun {
                    id: latest.run_id.clone(),
                    report: Some(format!("{}/report.html", latest.run_id)),
                    compares: vec![
                        (
                            summary(
                                &latest.run_id,
                                Some("gateway"),
                                Verdict::Regressed,
                                "2026-11-23T13:00:00Z",
                            ),
                            Some(format!("{}/compare-gateway.html", latest.run_id)),
                        ),
                        (
                            summary(
                                &latest.run_id,
                                Some("old"),
                                Verdict::Improved,
                                "2026-11-23T12:40:00Z",
                            ),
                            None,
                        ),
                    ],
                    record: Ok(latest),
                },
            ],
        }
    }

    #[test]
    fn index_snapshot() {
        insta::assert_snapshot!(IndexPage.render(&example()).unwrap());
    }

    #[test]
    fn the_latest_run_and_its_last_verdict_lead() {
        let html = IndexPage.render(&example()).unwrap();
        let latest =
            &html[html.find("<section id=\"latest\">").unwrap()..html.find("</section>").unwrap()];
        assert!(latest.contains("20261123-120000-abcd"), "{latest}");
        assert!(latest.contains("REGRESSED"), "{latest}");
        assert!(latest.contains("<code>footprint/uss</code>"), "{latest}");
        // Newest first in the table.
        let a = html.find("id=\"run-20261123-120000-abcd\"").unwrap();
        let b = html.find("id=\"run-20261122-090000-0001\"").unwrap();
        let c = html.find("id=\"run-20261120-000000-dead\"").unwrap();
        assert!(a < b && b < c);
    }

    #[test]
    fn record_text_is_escaped() {
        let html = IndexPage.render(&example()).unwrap();
        assert!(
            !html.contains("<script>alert"),
            "markup from a record reached the page"
        );
        assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;co"));
    }

    #[test]
    fn refresh_writes_pages_and_lists_every_run() {
        let d = tempfile::tempdir().unwrap();
        let rec = every_kind();
        let run = d.path().join(&rec.run_id);
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join("run.json"), serde_json::to_vec(&rec).unwrap()).unwrap();
        std::fs::write(run.join("report.md"), "# report <script>x()</script>\n").unwrap();
        std::fs::write(run.join("compare-gateway.md"), "## compare\n").unwrap();
        let s = summary(
            &rec.run_id,
            Some("gateway"),
            Verdict::Regressed,
            "2026-11-23T13:00:00Z",
        );
        std::fs::write(
            run.join("compare-gateway.json"),
            serde_json::to_vec(&s).unwrap(),
        )
        .unwrap();
        let broken = d.path().join("20261101-000000-0000");
        std::fs::create_dir_all(&broken).unwrap();
        std::fs::write(broken.join("run.json"), "{").unwrap();
        std::fs::create_dir_all(d.path().join("history")).unwrap();

        let path = refresh(d.path()).unwrap();
        let html = std::fs::read_to_string(&path).unwrap();
        assert!(html.contains(&format!("href=\"{}/report.html\"", rec.run_id)));
        assert!(html.contains(&format!("href=\"{}/compare-gateway.html\"", rec.run_id)));
        assert!(html.contains("UNREADABLE"));
        assert!(html.contains("REGRESSED"));
        let report = std::fs::read_to_string(run.join("report.html")).unwrap();
        assert!(report.contains("&lt;script&gt;") && !report.contains("<script>"));
        assert!(run.join("compare-gateway.html").is_file());
    }
}
