//! `docs/run.schema.json` is generated from the record types and checked in
//! (regenerate with `RUNCOST_BLESS=1`, as for `baselines/schema.json`). A
//! run.json written by the harness for a record of every lane and finding
//! kind must validate against it: the validator below covers the JSON
//! Schema keywords schemars emits and refuses any other keyword, so a
//! schema it cannot judge fails the test instead of passing it.

use super::example::every_kind;
use super::RunRecord;
use serde_json::Value;
use std::path::PathBuf;

fn checked_in_path() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the repository")
        .join("docs/run.schema.json")
}

fn generated() -> Value {
    serde_json::to_value(schemars::schema_for!(RunRecord)).expect("schema serialises")
}

#[test]
fn run_schema_is_checked_in_and_current() {
    let text = serde_json::to_string_pretty(&generated()).unwrap() + "\n";
    let path = checked_in_path();
    if std::env::var_os("RUNCOST_BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == text,
        "docs/run.schema.json is stale: rerun with RUNCOST_BLESS=1 and commit it"
    );
}

/// What the harness writes: the record through `RunDir::write_record`.
fn written_run_json() -> Value {
    let d = tempfile::tempdir().unwrap();
    let run = crate::rundir::RunDir::create(d.path()).unwrap();
    run.write_record(&every_kind()).unwrap();
    let text = std::fs::read_to_string(run.path("run.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn written_run_json_validates_against_the_checked_in_schema() {
    let text = std::fs::read_to_string(checked_in_path()).expect("docs/run.schema.json");
    let schema: Value = serde_json::from_str(&text).unwrap();
    let json = written_run_json();
    if let Err(e) = validate(&schema, &schema, &json, "$") {
        panic!("run.json does not match docs/run.schema.json: {e}");
    }
    // And it reads back into the same record.
    let back: RunRecord = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(serde_json::to_value(back).unwrap(), json);
}

/// The example really has every lane kind and every finding kind the
/// schema knows, so the validation above covers them all.
#[test]
fn example_covers_every_lane_and_finding_kind() {
    let schema = generated();
    let defs = &schema["$defs"];
    let lanes: Vec<&str> = defs["LaneKind"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let kinds: Vec<&str> = defs["Finding"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["properties"]["kind"]["const"].as_str().unwrap())
        .collect();
    let box_lanes: Vec<&str> = defs["BoxLane"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(lanes.len() >= 12 && kinds.len() >= 6 && box_lanes.len() >= 4);
    let json = written_run_json();
    let recorded = json["lanes"].as_array().unwrap();
    let has_lane = |l: &str| recorded.iter().any(|r| r["lane"] == l);
    let findings: Vec<&Value> = recorded
        .iter()
        .flat_map(|r| r["findings"].as_array().unwrap())
        .collect();
    for l in lanes {
        assert!(has_lane(l), "the example has no `{l}` lane");
    }
    for k in kinds {
        assert!(
            findings.iter().any(|f| f["kind"] == k),
            "the example has no `{k}` finding"
        );
    }
    for b in box_lanes {
        assert!(
            findings
                .iter()
                .any(|f| f["kind"] == "box" && f["lane"] == b),
            "the example has no box finding of lane `{b}`"
        );
    }
}

type Edit = fn(&mut Value);

/// The validator finds what it should: each of these edits of a valid
/// run.json breaks the schema.
#[test]
fn validator_refuses_records_that_break_the_schema() {
    let schema = generated();
    let good = written_run_json();
    assert!(validate(&schema, &schema, &good, "$").is_ok());
    let edits: [(&str, Edit); 7] = [
        ("unknown status", |v| v["status"] = "done".into()),
        ("missing field", |v| {
            v.as_object_mut().unwrap().remove("seed");
        }),
        ("negative count", |v| v["seed"] = (-1).into()),
        ("string for number", |v| {
            v["lanes"][0]["cells"][0]["metrics"][0]["value"] = "7".into()
        }),
        ("unknown finding kind", |v| {
            v["lanes"][1]["findings"][0]["kind"] = "guess".into()
        }),
        ("short pair", |v| {
            v["lanes"][0]["cells"][0]["window"] = serde_json::json!([1.0])
        }),
        ("non-numeric status code", |v| {
            let load = &mut v["lanes"][3]["cells"][0]["load"]["status_counts"];
            load["ok"] = 1.into();
        }),
    ];
    for (what, edit) in edits {
        let mut bad = good.clone();
        edit(&mut bad);
        assert!(
            validate(&schema, &schema, &bad, "$").is_err(),
            "validator accepted a record with {what}"
        );
    }
}

/// Validates `v` against `s`, a schema of draft 2020-12 as schemars writes
/// it (`$ref` into `$defs`, possibly beside other keywords). Refuses
/// keywords it does not implement.
fn validate(root: &Value, s: &Value, v: &Value, at: &str) -> Result<(), String> {
    let s = match s {
        Value::Bool(true) => return Ok(()),
        Value::Bool(false) => return Err(format!("{at}: nothing is allowed here")),
        Value::Object(s) => s,
        other => return Err(format!("{at}: schema is not an object: {other}")),
    };
    for (key, want) in s {
        match key.as_str() {
            "$schema" | "title" | "description" | "default" | "$defs" => {}
            // Checked with "properties".
            "required" | "additionalProperties" | "patternProperties" => {}
            // Checked with "items".
            "prefixItems" => {}
            "$ref" => {
                let name = want
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                    .ok_or_else(|| format!("{at}: unsupported $ref {want}"))?;
                let def = root["$defs"]
                    .get(name)
                    .ok_or_else(|| format!("{at}: no definition {name}"))?;
                validate(root, def, v, at)?;
            }
            "type" => {
                let types: Vec<&str> = match want {
                    Value::String(t) => vec![t.as_str()],
                    Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                    _ => return Err(format!("{at}: bad type {want}")),
                };
                if !types.iter().any(|t| is_type(v, t)) {
                    return Err(format!("{at}: {v} is not of type {want}"));
                }
            }
            "const" => {
                if v != want {
                    return Err(format!("{at}: {v} is not {want}"));
                }
            }
            "enum" => {
                if !want.as_array().is_some_and(|a| a.contains(v)) {
                    return Err(format!("{at}: {v} is not one of {want}"));
                }
            }
            "minimum" => {
                if let (Some(x), Some(min)) = (v.as_f64(), want.as_f64()) {
                    if x < min {
                        return Err(format!("{at}: {x} < {min}"));
                    }
                }
            }
            "format" => check_format(want.as_str().unwrap_or(""), v, at)?,
            "minItems" | "maxItems" => {
                if let (Some(a), Some(n)) = (v.as_array(), want.as_u64()) {
                    let len = a.len() as u64;
                    if (key == "minItems" && len < n) || (key == "maxItems" && len > n) {
                        return Err(format!("{at}: {len} items break {key} {n}"));
                    }
                }
            }
            "properties" => check_object(root, s, v, at)?,
            "items" => check_array(root, s, v, at)?,
            "oneOf" | "anyOf" => {
                let alts = want.as_array().ok_or(format!("{at}: bad {key}"))?;
                let ok = alts
                    .iter()
                    .filter(|a| validate(root, a, v, at).is_ok())
                    .count();
                if ok == 0 || (key == "oneOf" && ok > 1) {
                    return Err(format!("{at}: {ok} alternatives of {key} match"));
                }
            }
            other => return Err(format!("{at}: validator does not know `{other}`")),
        }
    }
    // Maps have "additionalProperties"/"patternProperties" without "properties".
    let object_keywords = ["required", "additionalProperties", "patternProperties"];
    if !s.contains_key("properties") && object_keywords.iter().any(|k| s.contains_key(*k)) {
        check_object(root, s, v, at)?;
    }
    if !s.contains_key("items") && s.contains_key("prefixItems") {
        check_array(root, s, v, at)?;
    }
    Ok(())
}

fn is_type(v: &Value, t: &str) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64(),
        _ => false,
    }
}

fn check_format(format: &str, v: &Value, at: &str) -> Result<(), String> {
    let fits = match format {
        "uint" | "uint8" | "uint16" | "uint32" | "uint64" => !v.is_number() || v.is_u64(),
        "int" | "int8" | "int16" | "int32" | "int64" => !v.is_number() || v.is_i64(),
        "double" | "float" => true,
        other => return Err(format!("{at}: validator does not know format `{other}`")),
    };
    if fits {
        Ok(())
    } else {
        Err(format!("{at}: {v} is not a {format}"))
    }
}

fn check_object(
    root: &Value,
    s: &serde_json::Map<String, Value>,
    v: &Value,
    at: &str,
) -> Result<(), String> {
    let Some(obj) = v.as_object() else {
        return Ok(()); // "type" judges non-objects
    };
    let empty = serde_json::Map::new();
    let props = s
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for name in s
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = name.as_str().unwrap_or("");
        if !obj.contains_key(name) {
            return Err(format!("{at}: missing `{name}`"));
        }
    }
    let patterns: Vec<(regex::Regex, &Value)> = s
        .get("patternProperties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(p, sub)| (regex::Regex::new(p).expect("schema pattern"), sub))
        .collect();
    for (key, val) in obj {
        let here = format!("{at}.{key}");
        let mut known = false;
        if let Some(sub) = props.get(key) {
            known = true;
            validate(root, sub, val, &here)?;
        }
        for (re, sub) in &patterns {
            if re.is_match(key) {
                known = true;
                validate(root, sub, val, &here)?;
            }
        }
        if !known {
            if let Some(extra) = s.get("additionalProperties") {
                validate(root, extra, val, &here)?;
            }
        }
    }
    Ok(())
}

fn check_array(
    root: &Value,
    s: &serde_json::Map<String, Value>,
    v: &Value,
    at: &str,
) -> Result<(), String> {
    let Some(items) = v.as_array() else {
        return Ok(()); // "type" judges non-arrays
    };
    let prefix = s
        .get("prefixItems")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (i, item) in items.iter().enumerate() {
        let here = format!("{at}[{i}]");
        match (prefix.get(i), s.get("items")) {
            (Some(sub), _) | (None, Some(sub)) => validate(root, sub, item, &here)?,
            (None, None) => {}
        }
    }
    Ok(())
}
