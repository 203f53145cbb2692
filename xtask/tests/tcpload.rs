//! The load lane over TCP against the real redis and memcached images
//! (`cargo xtask setup` builds them): short open-loop runs of the shipped
//! profiles' load sections, and the refusal of bad TCP templates. One at a
//! time; each looks only at objects of its own run id.

mod common;
use common::*;

fn load_cell(results: &std::path::Path, id: &str) -> serde_json::Value {
    record(results, id)["lanes"][0]["cells"][0]["load"].clone()
}

/// One rate, a few seconds: every request is answered as expected (the
/// keys exist: the entity setup filled them), latency is valid, the
/// report is written and nothing is left on the engine.
fn short_run(profile: &str) {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args([
        "load",
        "--profile",
        profile,
        "--rate",
        "500",
        "--duration",
        "3s",
        "--warmup",
        "1s",
    ]));
    assert_eq!(out.status.code(), Some(0), "{profile}");
    let id = only_run(results.path());
    let c = load_cell(results.path(), &id);
    assert_eq!(c["protocol"], "tcp", "{c}");
    assert_eq!(c["requests_sent"].as_u64().unwrap(), 1000, "{c}");
    assert_eq!(
        c["ok"].as_u64().unwrap(),
        1000,
        "every reply as expected: {c}"
    );
    for k in [
        "mismatches",
        "protocol_errors",
        "timeouts",
        "io_errors",
        "dropped",
    ] {
        assert_eq!(c[k].as_u64().unwrap(), 0, "{k}: {c}");
    }
    assert!(c["latency_valid"].as_bool().unwrap());
    assert_eq!(c["latency"]["count"].as_u64().unwrap(), 1000);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("open tcp x16"), "{stdout}");
    assert!(results.path().join(&id).join("report.md").is_file());
    assert_eq!(leftovers(Some(&id)), 0);
}

#[test]
fn redis_get_set_of_existing_keys() {
    short_run("redis");
}

#[test]
fn memcached_get_set_of_existing_items() {
    short_run("memcached");
}

#[test]
fn bad_tcp_templates_exit_2_with_file_line_field_and_fix() {
    let results = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let compose = root().join("compose/redis.yml");
    for (request, field, says) in [
        (
            r#"{ send: 'GET \q', reply: resp }"#,
            "load.requests[0].send",
            "escape",
        ),
        (
            r#"{ send: 'GET {key}', reply: resp }"#,
            "load.requests[0].send",
            "{rand}",
        ),
        (r#"{ send: "PING\r\n" }"#, "load.requests[0].reply", "until"),
        (
            r#"{ send: "PING\r\n", reply: resp, until: "x" }"#,
            "load.requests[0].reply",
            "exactly one",
        ),
        (
            r#"{ send: "PING\r\n", path: /x, reply: resp }"#,
            "load.requests[0].path",
            "HTTP",
        ),
        (
            r#"{ send: "PING\r\n", reply: resp, expect: { exact: '\x4' } }"#,
            "load.requests[0].expect.exact",
            "hex",
        ),
    ] {
        let p = dir.path().join("bad.yaml");
        std::fs::write(
            &p,
            format!(
                "name: bad\ncompose: {}\nservice: redis\nready: {{ tcp: 6379 }}\nload:\n  port: 6379\n  protocol: tcp\n  requests:\n    - {request}\n",
                compose.display()
            ),
        )
        .unwrap();
        let out = run(xtask(results.path()).args([
            "load",
            "--profile",
            p.to_str().unwrap(),
            "--rate",
            "10",
        ]));
        assert_eq!(out.status.code(), Some(2), "{request}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("bad.yaml:9:"), "file and line: {err}");
        assert!(err.contains(field), "field {field}: {err}");
        assert!(err.contains(says), "fix ({says}): {err}");
    }
    assert_eq!(
        std::fs::read_dir(results.path()).unwrap().count(),
        0,
        "no run directory"
    );
}

#[test]
fn bad_tool_argv_exit_2_with_file_line_field_and_fix() {
    let results = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let compose = root().join("compose/redis.yml");
    for (tool, field, says) in [
        (
            "{ argv: [sh, -c, redis-benchmark] }",
            "load.tool.argv",
            "shell",
        ),
        ("{ argv: [] }", "load.tool.argv", "empty"),
        (
            "{ argv: [redis-benchmark, -p, \"{prot}\", --csv] }",
            "load.tool.argv",
            "{port}",
        ),
        (
            "{ argv: [redis-benchmark, -p, \"{port}\"] }",
            "load.tool.argv",
            "--csv",
        ),
        (
            "{ argv: [x], setup: [x, \"{y}\"] }",
            "load.tool.setup",
            "placeholders",
        ),
    ] {
        let p = dir.path().join("bad.yaml");
        std::fs::write(
            &p,
            format!(
                "name: bad\ncompose: {}\nservice: redis\nready: {{ tcp: 6379 }}\nload:\n  port: 6379\n  tool: {tool}\n",
                compose.display()
            ),
        )
        .unwrap();
        let out = run(xtask(results.path()).args([
            "load",
            "--profile",
            p.to_str().unwrap(),
            "--mode",
            "tool",
        ]));
        assert_eq!(out.status.code(), Some(2), "{tool}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("bad.yaml:7:"), "file and line: {err}");
        assert!(err.contains(field), "field {field}: {err}");
        assert!(err.contains(says), "fix ({says}): {err}");
    }
    assert_eq!(std::fs::read_dir(results.path()).unwrap().count(), 0);
}

/// The redis round of `selfcheck load` side by side, short: both
/// generators run at once in quotas of their own and use them, runcost's
/// run ends when redis-benchmark's does (not at its 3 s cap), and the
/// quota cgroups are gone after. Ratios are the selfcheck's to print, not
/// this test's to judge.
#[test]
fn redis_selfcheck_side_by_side_ends_with_the_tool() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let quotas = || {
        std::fs::read_dir("/sys/fs/cgroup/cpu")
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("runcost-generator-")
            })
            .count()
    };
    let before = quotas();
    let out = run(xtask(results.path()).args([
        "selfcheck",
        "load",
        "--profile",
        "redis",
        "--generator-cpu",
        "20",
        "--rounds",
        "1",
        "--seconds",
        "1",
        "--json",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let rounds: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &rounds[0];
    assert_eq!(rounds.as_array().unwrap().len(), 1, "{rounds}");
    for k in ["wrk_rps", "runcost_rps"] {
        assert!(r[k].as_f64().unwrap() > 0.0, "{k}: {r}");
    }
    for k in ["wrk_quota_used", "runcost_quota_used"] {
        let q = r[k].as_f64().unwrap();
        assert!(q > 0.3 && q < 1.5, "{k} {q}: {r}");
    }
    let (tool, ours) = (
        r["wrk_wall_s"].as_f64().unwrap(),
        r["runcost_wall_s"].as_f64().unwrap(),
    );
    assert!(
        ours < tool + 1.0,
        "runcost ran {ours} s, the tool {tool} s: {r}"
    );
    assert_eq!(quotas(), before, "the quota cgroups are removed");
}
