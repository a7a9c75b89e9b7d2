//! results.json's JSON Schema: `docs/results.schema.json` is the one the results types
//! generate (regenerate it with `UPDATE_SCHEMA=1 cargo test --test suite schema::` after changing
//! one), the report fixtures fit it, and what `schema_version` promises holds: a schema 1
//! file without any optional field still loads and renders, a newer one is refused by name.

use crate::common::schema as checked;

use std::fs;
use std::path::{Path, PathBuf};

use llmsweep::report::{run_report_command, ExportOptions};
use llmsweep::results::model::{Report, SCHEMA_VERSION};
use llmsweep::results::schema;
use serde_json::{json, Value};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(path).expect("read")).expect("JSON")
}

/// The report snapshot fixtures: every one is a results.json.
fn fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(repo("tests/fixtures/report"))
        .expect("tests/fixtures/report")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");
    files
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let generated = schema::generate();
    let path = repo(schema::PATH);
    if std::env::var_os("UPDATE_SCHEMA").is_some_and(|v| !v.is_empty() && v != "0") {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "{} is out of date with the results types (first difference at line {}: \
             committed {:?}, generated {:?}): regenerate it with \
             `UPDATE_SCHEMA=1 cargo test --test suite schema::` and commit it",
            schema::PATH,
            line + 1,
            committed.lines().nth(line).unwrap_or("<end of file>"),
            generated.lines().nth(line).unwrap_or("<end of file>"),
        );
    }
}

#[test]
fn the_schema_is_a_valid_draft_2020_12_schema_with_its_version() {
    let schema = read_json(&repo(schema::PATH));
    if let Err(e) = jsonschema::meta::validate(&schema) {
        panic!("{}: {e} at {}", schema::PATH, e.instance_path());
    }
    assert_eq!(schema["x-llmsweep-schema-version"], SCHEMA_VERSION);
    assert_eq!(
        schema["properties"]["schema_version"]["maximum"],
        SCHEMA_VERSION
    );
    assert_eq!(schema["$id"], schema::id());
}

#[test]
fn the_report_fixtures_fit_the_schema() {
    for file in fixtures() {
        checked::read_checked(&file);
    }
}

#[test]
fn a_file_that_breaks_the_schema_is_named_by_its_json_path() {
    let file = &fixtures()[0];
    let mut results = read_json(file);
    results["engines"][0]["levels"][1]["status"] = json!("done");
    let error = checked::schema_error(&results).expect("an unknown status is an error");
    assert!(
        error.starts_with("at /engines/0/levels/1/status: "),
        "{error}"
    );

    // A non-optional number written as null (serde_json's NaN) breaks it too.
    let mut results = read_json(file);
    results["engines"][1]["levels"][0]["request_throughput"] = Value::Null;
    let error = checked::schema_error(&results).expect("null is not a number");
    assert!(
        error.starts_with("at /engines/1/levels/0/request_throughput: "),
        "{error}"
    );

    let mut results = read_json(file);
    results["schema_version"] = json!(SCHEMA_VERSION + 1);
    let error = checked::schema_error(&results).expect("a newer version is not this schema");
    assert!(error.starts_with("at /schema_version: "), "{error}");
}

/// `node` with its `$ref` followed, and for a non-null value the non-null branch of an
/// `anyOf` (an `Option`).
fn resolve<'a>(node: &'a Value, root: &'a Value, value: &Value) -> &'a Value {
    if let Some(name) = node.get("$ref").and_then(Value::as_str) {
        let name = name.strip_prefix("#/$defs/").expect("a local $ref");
        return resolve(&root["$defs"][name], root, value);
    }
    if let (false, Some(branches)) = (value.is_null(), node.get("anyOf")) {
        let branch = branches
            .as_array()
            .and_then(|b| b.iter().find(|b| b["type"] != "null"))
            .expect("a non-null branch");
        return resolve(branch, root, value);
    }
    node
}

/// Removes from `value`, at every depth, each key its schema does not require.
fn strip_optional(value: &mut Value, node: &Value, root: &Value) {
    let node = resolve(node, root, value);
    match value {
        Value::Object(map) => {
            let Some(properties) = node.get("properties") else {
                return; // a map (`errors`) or the open `config`
            };
            let required: Vec<&str> = node["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            map.retain(|key, _| required.contains(&key.as_str()));
            for (key, field) in map.iter_mut() {
                strip_optional(field, &properties[key.as_str()], root);
            }
        }
        Value::Array(items) => {
            if let Some(item) = node.get("items") {
                for v in items {
                    strip_optional(v, item, root);
                }
            }
        }
        _ => {}
    }
}

fn count_keys(value: &Value) -> usize {
    match value {
        Value::Object(map) => map.len() + map.values().map(count_keys).sum::<usize>(),
        Value::Array(items) => items.iter().map(count_keys).sum(),
        _ => 0,
    }
}

#[test]
fn a_schema_1_file_without_its_optional_fields_loads_and_renders() {
    let schema = read_json(&repo(schema::PATH));
    for file in fixtures() {
        let full = read_json(&file);
        let mut old = full.clone();
        strip_optional(&mut old, &schema, &schema);
        let levels = full["engines"][0]["levels"][0].as_object().unwrap();
        let kept = old["engines"][0]["levels"][0].as_object().unwrap();
        assert!(levels.contains_key("mean_ttft_ms") && !kept.contains_key("mean_ttft_ms"));
        assert!(kept.contains_key("completed") && old.get("finished_at").is_none());
        assert!(
            count_keys(&old) < count_keys(&full) * 2 / 3,
            "{}: little was stripped",
            file.display()
        );
        assert_eq!(old["schema_version"], 1);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        fs::write(&path, serde_json::to_string_pretty(&old).unwrap()).unwrap();
        checked::read_checked(&path);
        let report = Report::from_json(&fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}, stripped: {e}", file.display()));
        assert_eq!(
            report.engines.len(),
            full["engines"].as_array().unwrap().len()
        );

        let out = dir.path().join("out");
        let written = run_report_command(
            std::slice::from_ref(&path),
            Some(&out),
            &ExportOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{}, stripped: {e}", file.display()));
        assert!(written.iter().all(|p| p.exists()), "{written:?}");
        let summary = fs::read_to_string(out.join("summary.md")).unwrap();
        let csv = fs::read_to_string(out.join("levels.csv")).unwrap();
        for engine in &report.engines {
            assert!(summary.contains(&engine.name), "{summary}");
            assert!(csv.contains(&engine.name), "{csv}");
        }
        let rows: usize = report.engines.iter().map(|e| e.levels.len()).sum();
        assert_eq!(csv.lines().count(), rows + 1, "{csv}");
    }
}

#[test]
fn a_file_of_a_newer_schema_is_refused_naming_both_versions() {
    let mut newer = read_json(&fixtures()[0]);
    newer["schema_version"] = json!(SCHEMA_VERSION + 1);
    // What a new version may do: rename a field this one requires.
    let engines = newer.as_object_mut().unwrap().remove("engines").unwrap();
    newer["engine_reports"] = engines;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    fs::write(&path, newer.to_string()).unwrap();
    let err = run_report_command(std::slice::from_ref(&path), None, &ExportOptions::default())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "{}: written by a newer llmsweep (schema {}, this one reads up to {SCHEMA_VERSION})",
            path.display(),
            SCHEMA_VERSION + 1
        )
    );
}
