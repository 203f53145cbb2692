//! runcost from another repository, and the suite's gate: the `runcost`
//! binary in a temporary directory outside the checkout, measuring a small
//! service of that directory's own (a perl HTTP server on the base image
//! that holds ENTITIES × 64 KiB), built from its own Dockerfile; then a
//! second run compared with the first. (The gateway's suite with planted
//! changes is tests/gate.rs.)

mod common;
use common::*;

use std::path::Path;
use std::process::Command;

/// The service: answers /health and /stats ({"entities": N}) on 8080 and
/// holds N × 64 KiB of touched memory.
const SERVER: &str = r#"use strict; use IO::Socket::INET;
my $n = $ENV{ENTITIES} // 10;
my @held = map { 'x' x 65536 } 1 .. $n;
my $s = IO::Socket::INET->new(LocalPort => 8080, Listen => 16, ReuseAddr => 1) or die "listen: $!";
$SIG{TERM} = sub { exit 0 };
while (my $c = $s->accept) {
  my $req = <$c> // ''; while (my $l = <$c>) { last if $l =~ /^\r?\n$/ }
  my $body = $req =~ m{^GET /stats} ? qq({"entities": $n}) : 'ok';
  print $c "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
  close $c;
}
"#;

const DOCKERFILE: &str = "FROM runcost/base:bookworm\nCOPY server.pl /srv/server.pl\nCMD [\"perl\", \"/srv/server.pl\"]\n";

const COMPOSE: &str = "services:\n  hold:\n    image: outside-hold:test\n    stop_signal: SIGTERM\n    stop_grace_period: 5s\n";

const PROFILE: &str = r#"name: hold
compose: compose.yml
service: hold
build:
  image: outside-hold:test
  dockerfile: Dockerfile
  context: .
ready:
  http: { port: 8080, path: /health }
  timeout: 30s
env:
  ENTITIES: "10"
entities:
  env: ENTITIES
  check: { http: { port: 8080, path: /stats }, json: /entities }
steady:
  floor_bytes_per_s: 65536
  window: 1s
  timeout: 20s
suite:
  footprint: { repeats: 2, duration: 2s, max_duration: 2s }
  scaling: { entities: [10, 100, 1000], repeats: 1, duration: 2s, max_duration: 2s }
"#;

/// The `runcost` binary, started in `dir` with nothing of the checkout in
/// its environment.
fn runcost(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_runcost"));
    c.current_dir(dir).env_remove("RUNCOST_ROOT").arg("--quiet");
    c
}

fn newest_run(results: &Path) -> String {
    let mut runs: Vec<String> = std::fs::read_dir(results)
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("run.json").is_file() && !e.path().is_symlink())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    runs.sort();
    runs.pop().expect("a run")
}

#[test]
fn runcost_measures_a_service_of_another_repository() {
    let _g = serial();
    let repo = tempfile::Builder::new()
        .prefix("runcost-outside-")
        .tempdir_in(std::env::temp_dir())
        .unwrap();
    let dir = repo.path();
    assert!(
        !dir.starts_with(root()),
        "the test repository must be outside the checkout"
    );
    std::fs::create_dir_all(dir.join("bench")).unwrap();
    for (name, text) in [
        ("bench/server.pl", SERVER),
        ("bench/Dockerfile", DOCKERFILE),
        ("bench/compose.yml", COMPOSE),
        ("bench/runcost.yaml", PROFILE),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let profile = ["--profile", "bench/runcost.yaml"];

    let out = run(runcost(dir).args(profile).arg("setup"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "setup builds the profile's image"
    );

    // First run, kept as the baseline in the repository's baselines/.
    let out = run(runcost(dir)
        .args(profile)
        .args(["--results", "out", "suite"]));
    assert_eq!(out.status.code(), Some(0));
    let results = dir.join("out");
    let first = newest_run(&results);
    let r = record(&results, &first);
    let lanes: Vec<&str> = r["lanes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["lane"].as_str().unwrap())
        .collect();
    assert_eq!(lanes, ["footprint", "scaling"], "one run with every lane");
    let suite: Vec<&str> = r["suite"]["lanes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["status"].as_str().unwrap())
        .collect();
    assert_eq!(suite, ["complete", "complete"]);
    assert_eq!(leftovers(Some(&first)), 0);
    let report = std::fs::read_to_string(results.join(&first).join("report.md")).unwrap();
    for section in ["## Suite", "## footprint", "## scaling"] {
        assert!(report.contains(section), "{section} missing:\n{report}");
    }
    let out = run(runcost(dir).args([
        "--results",
        "out",
        "update-baseline",
        "--run",
        &first,
        "--name",
        "hold",
        "--allow-overloaded",
    ]));
    assert_eq!(out.status.code(), Some(0));
    assert!(dir.join("baselines/hold.json").is_file());

    // An unchanged second run passes the gate.
    let out = run(runcost(dir)
        .args(profile)
        .args(["--results", "out", "suite"]));
    assert_eq!(out.status.code(), Some(0));
    let second = newest_run(&results);
    assert_ne!(first, second);
    let out = run(runcost(dir).args([
        "--json",
        "--results",
        "out",
        "compare",
        "--baseline",
        "baselines/hold.json",
        "--allow-overloaded",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let keys = judged(&out.stdout);
    assert!(
        keys.iter().any(|(k, _)| k == "footprint/uss"),
        "footprint judged: {keys:?}"
    );
    assert!(
        keys.iter().any(|(k, _)| k.starts_with("scaling/")),
        "scaling judged: {keys:?}"
    );
}

/// (key, verdict) of every row of `compare --json`.
fn judged(stdout: &[u8]) -> Vec<(String, String)> {
    let v: serde_json::Value = serde_json::from_slice(stdout).expect("compare --json");
    v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap_or("").to_string(),
                r["verdict"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}
