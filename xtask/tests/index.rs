//! `results/index.html` in real headless Chromium: first proof that the
//! check sees console errors at all (a page with a deliberate exception, a
//! console.error and a missing image), then the index of real runs of the
//! gateway (a baseline run and a run with a planted change, compared):
//! the page loads with no console error, the latest run's verdict is on
//! it, and the report and compare pages it links load with their charts.

#[path = "common/chromium.rs"]
mod chromium;
mod common;

use chromium::Browser;
use common::*;

fn file_url(p: &std::path::Path) -> String {
    format!("file://{}", p.canonicalize().unwrap().display())
}

#[test]
fn the_chromium_check_flags_console_errors() {
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("bad.html");
    std::fs::write(
        &bad,
        "<!DOCTYPE html><html><body><p>x</p><img src=\"missing.png\">\
         <script>console.error('deliberate'); notDefined();</script></body></html>",
    )
    .unwrap();
    let good = d.path().join("good.html");
    std::fs::write(
        &good,
        "<!DOCTYPE html><html><body><p id=\"v\">fine</p><script>console.log('a log is no error')</script></body></html>",
    )
    .unwrap();
    let mut b = Browser::start();
    let page = b.load(&file_url(&bad));
    eprintln!("{:#?}", page.errors);
    let has = |what: &str| page.errors.iter().any(|e| e.contains(what));
    assert!(has("notDefined"), "the exception: {:?}", page.errors);
    assert!(has("deliberate"), "console.error: {:?}", page.errors);
    assert!(has("missing.png"), "the failed image: {:?}", page.errors);
    let mut page = b.load(&file_url(&good));
    assert!(page.errors.is_empty(), "{:?}", page.errors);
    assert_eq!(
        b.eval(&mut page, "document.getElementById('v').textContent"),
        "fine"
    );
}

#[test]
fn the_index_of_real_runs_renders_in_chromium_with_the_latest_verdict() {
    let _g = serial();
    let work = tempfile::tempdir().unwrap();
    let results = work.path().join("results");
    let gateway = root().join("profiles/gateway.yaml");
    let suite = |extra: &[&str]| {
        let mut c = xtask(&results);
        c.env("RUNCOST_ROOT", work.path())
            .arg("--profile")
            .arg(&gateway)
            .args(["suite", "--only", "footprint"])
            .args(["--set", "footprint.repeats=2"])
            .args(["--set", "footprint.duration=2s"])
            .args(["--set", "footprint.max_duration=2s"])
            .args(extra);
        run(&mut c)
    };
    assert_eq!(suite(&[]).status.code(), Some(0));
    let first = latest(&results);
    assert!(
        results.join("index.html").is_file(),
        "a run writes the index"
    );
    let mut c = xtask(&results);
    c.env("RUNCOST_ROOT", work.path()).args([
        "update-baseline",
        "--run",
        &first,
        "--name",
        "indexed",
        "--allow-overloaded",
    ]);
    assert_eq!(run(&mut c).status.code(), Some(0));
    assert_eq!(suite(&["--env", "BASE_MIB=64"]).status.code(), Some(0));
    let second = latest(&results);
    assert_ne!(first, second);
    let mut c = xtask(&results);
    c.env("RUNCOST_ROOT", work.path()).args([
        "compare",
        "--baseline",
        "baselines/indexed.json",
        "--allow-overloaded",
    ]);
    assert_eq!(run(&mut c).status.code(), Some(1), "the planted change");
    // The command rewrites the same page.
    let mut c = xtask(&results);
    c.env("RUNCOST_ROOT", work.path()).arg("index");
    let out = run(&mut c);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("index.html"));

    let mut b = Browser::start();
    let mut index = b.load(&file_url(&results.join("index.html")));
    assert!(index.errors.is_empty(), "index.html: {:?}", index.errors);
    let latest_text = b.eval(&mut index, "document.getElementById('latest').innerText");
    let latest_text = latest_text.as_str().unwrap_or("");
    eprintln!("#latest:\n{latest_text}");
    assert!(latest_text.contains(&second), "{latest_text}");
    assert!(latest_text.contains("REGRESSED"), "{latest_text}");
    assert!(latest_text.contains("footprint/uss"), "{latest_text}");
    let rows = b.eval(
        &mut index,
        "document.querySelectorAll('#runs tbody tr').length",
    );
    assert_eq!(rows, 2, "both runs listed");

    // Every page the index links loads, with its charts.
    let links = b.eval(
        &mut index,
        "Array.from(document.querySelectorAll('a')).map(a => a.href)",
    );
    let links: Vec<String> = links
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(
        links
            .iter()
            .any(|l| l.ends_with(&format!("{second}/report.html"))),
        "{links:?}"
    );
    assert!(
        links
            .iter()
            .any(|l| l.ends_with(&format!("{second}/compare-indexed.html"))),
        "{links:?}"
    );
    for link in links.iter().filter(|l| l.ends_with(".html")) {
        let mut page = b.load(link);
        assert!(page.errors.is_empty(), "{link}: {:?}", page.errors);
        if link.ends_with("report.html") {
            // Every image on the page is a chart, and every one loaded.
            let shown = b.eval(
                &mut page,
                "[document.images.length, Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length]",
            );
            let (all, loaded) = (shown[0].as_u64().unwrap(), shown[1].as_u64().unwrap());
            assert!(
                all >= 1 && loaded == all,
                "{link}: {loaded} of {all} charts shown"
            );
        }
    }
    assert_eq!(leftovers(Some(&second)), 0);
}
