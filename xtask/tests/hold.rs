//! Held connections against the real gateway image (`cargo xtask setup`):
//! the scaling lane with held SSE clients as its entities (memory per
//! connection against the gateway's known STREAM_BYTES floor), the load
//! lane with clients held through its window, a hold the target refuses,
//! and bad hold fields. One at a time; each looks only at its own run id.

mod common;
use common::*;

/// Bytes each open `/events` stream holds (profiles/gateway-sse.yaml).
const STREAM_BYTES: f64 = 16384.0;

#[test]
fn scaling_by_held_sse_clients_gives_memory_per_connection() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args([
        "scaling",
        "--profile",
        "gateway-sse",
        "--entities",
        "50,200,800",
        "--repeats",
        "2",
        "--duration",
        "2s",
        "--max-duration",
        "2s",
        "--seed",
        "11",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(results.path());
    let r = record(results.path(), &id);
    let lane = &r["lanes"][0];
    let cells = lane["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 6);
    for c in cells {
        assert_eq!(c["status"], "ok", "{c}");
        let n: u64 = c["params"]["entities"].as_str().unwrap().parse().unwrap();
        let h = &c["hold"][0];
        assert_eq!(h["requested"], n, "{h}");
        assert_eq!(h["request"], "GET /events");
        for end in ["at_start", "at_end"] {
            assert_eq!(h[end]["open"], n, "{end}: {h}");
            assert_eq!(h[end]["drops"], 0, "{end}: {h}");
        }
        // One event a second per stream: bytes arrived during the window.
        assert!(
            h["at_end"]["bytes"].as_u64().unwrap() > h["at_start"]["bytes"].as_u64().unwrap(),
            "{h}"
        );
    }
    let f = &lane["findings"][0];
    assert_eq!(f["outcome"]["outcome"], "fit", "{f}");
    let (b, k) = (
        f["outcome"]["b"].as_f64().unwrap(),
        f["outcome"]["k"].as_f64().unwrap(),
    );
    // Known truth: each stream holds STREAM_BYTES written, plus what the
    // connection itself costs (hyper's buffers, the task): the marginal
    // cost at the middle size is at least the buffer, and not absurdly more.
    let per = b * k * 200f64.powf(k - 1.0);
    assert!(per >= STREAM_BYTES, "{per} bytes per connection");
    assert!(per < 8.0 * STREAM_BYTES, "{per} bytes per connection");
    let report = std::fs::read_to_string(results.path().join(&id).join("report.md")).unwrap();
    assert!(report.contains("### Held connections"), "{report}");
    assert!(report.contains("USS per held connection"), "{report}");
    assert_eq!(leftovers(Some(&id)), 0);
}

#[test]
fn load_with_clients_held_through_the_window() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let out = run(xtask(results.path()).args([
        "load",
        "--profile",
        "gateway-sse",
        "--rate",
        "200",
        "--duration",
        "3s",
        "--warmup",
        "1s",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let id = only_run(results.path());
    let c = &record(results.path(), &id)["lanes"][0]["cells"][0];
    assert_eq!(c["load"]["ok"], 400, "{c}");
    let h = &c["hold"][0];
    assert_eq!(h["requested"], 200, "{h}");
    assert_eq!(h["at_start"]["open"], 200, "{h}");
    assert_eq!(h["at_end"]["open"], 200, "{h}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("held 200 of 200 (GET /events)"), "{stdout}");
    assert_eq!(leftovers(Some(&id)), 0);
}

fn sse_profile(dir: &std::path::Path, entities_hold: &str, load_hold: &str) -> String {
    let p = dir.join("sse.yaml");
    std::fs::write(
        &p,
        format!(
            "name: sse\ncompose: {}\nservice: gateway\nprocess: gateway\nready: {{ http: {{ port: 8080, path: /health }} }}\n\
             entities:\n  hold:\n    port: 8080\n{entities_hold}\
             load:\n  port: 8080\n  requests:\n    - {{ path: /health }}\n  hold:\n{load_hold}",
            root().join("compose/gateway.yml").display()
        ),
    )
    .unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn a_hold_the_target_refuses_fails_its_cells_with_the_answer_and_leaves_nothing() {
    let _g = serial();
    let results = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = sse_profile(
        dir.path(),
        "    request: { path: /nope }\n    timeout: 2s\n",
        "    connections: 5\n",
    );
    let out = run(xtask(results.path()).args([
        "scaling",
        "--profile",
        &p,
        "--entities",
        "3,30",
        "--repeats",
        "1",
        "--duration",
        "1s",
        "--max-duration",
        "1s",
    ]));
    assert_eq!(out.status.code(), Some(2), "a failed cell exits 2");
    let id = only_run(results.path());
    let cells = record(results.path(), &id)["lanes"][0]["cells"].clone();
    for c in cells.as_array().unwrap() {
        assert_eq!(c["status"], "failed", "{c}");
        let e = c["error"].as_str().unwrap();
        assert!(e.contains("only 0 of"), "{e}");
        assert!(e.contains("404"), "the target's answer: {e}");
    }
    assert_eq!(leftovers(Some(&id)), 0);
}

#[test]
fn bad_hold_fields_exit_2_with_file_line_field_and_fix() {
    let results = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ok_e = "    request: { path: /events }\n";
    let ok_l = "    connections: 5\n";
    let too_many = format!("    connections: {}\n", 100_000);
    for (e, l, line, field, says) in [
        (
            ok_e,
            "    connections: 0\n",
            15,
            "load.hold.connections",
            "between 1 and",
        ),
        (
            ok_e,
            too_many.as_str(),
            15,
            "load.hold.connections",
            "open-file limit",
        ),
        (
            ok_e,
            "    connections: 5\n    request: { path: /a, send: b }\n",
            16,
            "load.hold.request",
            "not both",
        ),
        (
            "    request: { path: events }\n",
            ok_l,
            9,
            "entities.hold.request.path",
            "must start with /",
        ),
        (
            "    request: { send: '\\q' }\n",
            ok_l,
            9,
            "entities.hold.request.send",
            "escape",
        ),
    ] {
        let p = sse_profile(dir.path(), e, l);
        let out = run(xtask(results.path()).args(["load", "--profile", &p, "--rate", "10"]));
        assert_eq!(out.status.code(), Some(2), "{e}{l}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("sse.yaml:{line}:")),
            "file and line: {err}"
        );
        assert!(err.contains(field), "field {field}: {err}");
        assert!(err.contains(says), "fix ({says}): {err}");
    }
    // More held entities than the open-file limit allows: refused up front.
    let p = sse_profile(dir.path(), ok_e, ok_l);
    let out =
        run(xtask(results.path()).args(["scaling", "--profile", &p, "--entities", "10,99000"]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--entities 99000"), "{err}");
    assert!(err.contains("open-file limit"), "{err}");
    assert_eq!(
        std::fs::read_dir(results.path()).unwrap().count(),
        0,
        "no run directory"
    );
}
