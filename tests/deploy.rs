//! The orchestrator examples in `deploy/`: the Kubernetes manifests (valid against the
//! Kubernetes schema, and consistent with each other and with `llmsweep run`'s shard flags),
//! the Slurm array script, and the Containerfile's build context.
//!
//! Schema validation runs the `kubernetes-validate` CLI (PyPI; its schemas are bundled, so no
//! network). Without it those tests fail, naming what is missing; `LLMSWEEP_SKIP_K8S_VALIDATE=1`
//! turns that into a skip that each test states on stderr (`.ci/run` installs it or fails).

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use clap::Parser;
use serde_json::Value;

use llmsweep::cli::{Cli, Command as CliCommand};
use llmsweep::config::{Config, Sources};

const VALIDATOR: &str = "kubernetes-validate";
/// The oldest Kubernetes the manifests claim (Indexed Jobs are GA since 1.24) and the newest
/// schema kubernetes-validate 1.37.0 bundles.
const K8S_VERSIONS: [&str; 2] = ["1.29.0", "1.37.0"];
/// What the manifests are expected to be; a new one is validated too, a missing one fails.
const MANIFESTS: [&str; 4] = ["configmap.yaml", "job.yaml", "pvc.yaml", "results-pod.yaml"];
/// A start time in the shape `--start-at` takes.
const START_AT: &str = "2026-12-01T20:30:00Z";
const SBATCH: &str = "deploy/slurm/sweep.sbatch";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn k8s_dir() -> PathBuf {
    repo().join("deploy/kubernetes")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The one YAML document of `deploy/kubernetes/<name>`, as JSON values.
fn manifest(name: &str) -> Value {
    let path = k8s_dir().join(name);
    serde_norway::from_str(&read(&path))
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

/// Every `*.yaml` in deploy/kubernetes, sorted.
fn manifest_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(k8s_dir())
        .expect("deploy/kubernetes is missing")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
}

fn at<'a>(value: &'a Value, pointer: &str) -> &'a Value {
    value
        .pointer(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in {value:#}"))
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    at(value, pointer)
        .as_str()
        .unwrap_or_else(|| panic!("{pointer} is not a string"))
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// True when kubernetes-validate can run. Without it: a panic naming the fix, or `false`
/// (skip) with a printed notice when `LLMSWEEP_SKIP_K8S_VALIDATE=1` says the skip is deliberate.
fn validator_or_skip() -> bool {
    let runs = Command::new(VALIDATOR)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if runs {
        return true;
    }
    if std::env::var("LLMSWEEP_SKIP_K8S_VALIDATE").is_ok_and(|v| v == "1") {
        // Straight to the process's stderr: the harness captures `eprintln!` of passing tests.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {VALIDATOR} is not on PATH and LLMSWEEP_SKIP_K8S_VALIDATE=1: \
             the Kubernetes manifests were not checked against the schema"
        );
        return false;
    }
    panic!(
        "{VALIDATOR} is not on PATH: the Kubernetes manifest tests need it \
         (python3 -m pip install kubernetes-validate), or set LLMSWEEP_SKIP_K8S_VALIDATE=1 \
         to skip them on purpose"
    );
}

/// `kubernetes-validate --strict` (unknown fields fail) against Kubernetes `version`.
fn validate(files: &[PathBuf], version: &str) -> Output {
    Command::new(VALIDATOR)
        .args(["--strict", "--kubernetes-version", version])
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {VALIDATOR}: {e}"))
}

#[test]
fn every_manifest_passes_the_kubernetes_schema() {
    let files = manifest_files();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in MANIFESTS {
        assert!(
            names.iter().any(|n| n == expected),
            "deploy/kubernetes/{expected} is missing (found {names:?})"
        );
    }
    if !validator_or_skip() {
        return;
    }
    for version in K8S_VERSIONS {
        let output = validate(&files, version);
        let out = text(&output);
        assert!(
            output.status.success(),
            "the manifests fail Kubernetes {version}'s schema:\n{out}"
        );
        for name in &names {
            assert!(
                out.lines()
                    .any(|l| l.contains(name.as_str()) && l.contains("passed")),
                "{name}: no 'passed' line for Kubernetes {version}:\n{out}"
            );
        }
    }
}

/// The check above can fail: a misspelt field (only --strict catches it) and a wrong type.
#[test]
fn the_validator_rejects_a_misspelt_field_and_a_wrong_type() {
    if !validator_or_skip() {
        return;
    }
    let job = read(&k8s_dir().join("job.yaml"));
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "misspelt.yaml",
            "\n  parallelism: 4\n",
            "\n  paralelism: 4\n",
            "paralelism",
        ),
        (
            "wrong-type.yaml",
            "\n  completions: 4\n",
            "\n  completions: four\n",
            "completions",
        ),
    ];
    for (file, from, to, named) in cases {
        assert!(job.contains(from), "job.yaml has no {from:?} to break");
        let path = dir.path().join(file);
        fs::write(&path, job.replacen(from, to, 1)).unwrap();
        for version in K8S_VERSIONS {
            let output = validate(std::slice::from_ref(&path), version);
            let out = text(&output);
            assert!(
                !output.status.success(),
                "{file} passed Kubernetes {version}'s schema:\n{out}"
            );
            assert!(
                out.contains(named),
                "{file}: the error does not name {named}:\n{out}"
            );
        }
    }
}

#[test]
fn the_job_is_indexed_with_one_shard_count() {
    let job = manifest("job.yaml");
    assert_eq!(str_at(&job, "/apiVersion"), "batch/v1");
    assert_eq!(str_at(&job, "/kind"), "Job");
    assert_eq!(str_at(&job, "/spec/completionMode"), "Indexed");
    let completions = at(&job, "/spec/completions").as_u64().unwrap();
    let parallelism = at(&job, "/spec/parallelism").as_u64().unwrap();
    assert_eq!(completions, 4);
    assert_eq!(
        parallelism, completions,
        "every shard must run at once: parallelism = completions"
    );
    let container = at(&job, "/spec/template/spec/containers/0");
    let env = env_values(container);
    let count = env
        .get("LLMSWEEP_SHARD_COUNT")
        .expect("no LLMSWEEP_SHARD_COUNT in the container's env");
    assert_eq!(
        count.as_deref(),
        Some(completions.to_string().as_str()),
        "LLMSWEEP_SHARD_COUNT must equal completions"
    );
    assert_eq!(str_at(&job, "/spec/template/spec/restartPolicy"), "Never");
    assert!(
        at(&job, "/spec/backoffLimit").as_u64().unwrap() <= 1,
        "a retried shard starts out of step: keep backoffLimit small"
    );
    assert_eq!(str_at(container, "/image"), "llmsweep:latest");
    assert!(
        container.pointer("/resources/requests/cpu").is_some(),
        "the client pod requests no CPU"
    );

    // The anti-affinity selects the shards' own pods, or it spreads nothing.
    let labels = at(&job, "/spec/template/metadata/labels")
        .as_object()
        .unwrap();
    let terms = at(
        &job,
        "/spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution",
    )
    .as_array()
    .unwrap();
    assert!(!terms.is_empty());
    for term in terms {
        assert_eq!(
            str_at(term, "/podAffinityTerm/topologyKey"),
            "kubernetes.io/hostname"
        );
        let selector = at(term, "/podAffinityTerm/labelSelector/matchLabels")
            .as_object()
            .unwrap();
        for (key, value) in selector {
            assert_eq!(
                labels.get(key),
                Some(value),
                "the anti-affinity selects {key}={value}, which the shard pods do not carry"
            );
        }
    }
}

/// A container's env: name → literal value (`None` for `valueFrom`).
fn env_values(container: &Value) -> BTreeMap<String, Option<String>> {
    at(container, "/env")
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                str_at(e, "/name").to_string(),
                e.get("value").and_then(Value::as_str).map(str::to_string),
            )
        })
        .collect()
}

/// The `$(NAME)` references of a Kubernetes args string (`$$(` is an escaped `$(`).
fn var_refs(arg: &str) -> Vec<String> {
    let mut refs = Vec::new();
    let mut rest = arg;
    while let Some(i) = rest.find("$(") {
        if rest[..i].ends_with('$') {
            rest = &rest[i + 2..];
            continue;
        }
        let after = &rest[i + 2..];
        let end = after.find(')').expect("unclosed $(");
        refs.push(after[..end].to_string());
        rest = &after[end + 1..];
    }
    refs
}

/// The value after `flag` in `args`.
fn flag_value<'a>(args: &'a [String], flag: &str) -> &'a str {
    let i = args
        .iter()
        .position(|a| a == flag)
        .unwrap_or_else(|| panic!("no {flag} in {args:?}"));
    args.get(i + 1)
        .unwrap_or_else(|| panic!("{flag} has no value in {args:?}"))
}

fn job_args(job: &Value) -> Vec<String> {
    at(job, "/spec/template/spec/containers/0/args")
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().expect("an arg that is not a string").to_string())
        .collect()
}

/// Where the pod's first container mounts the volume named `volume_name`.
fn mount_path<'a>(pod: &'a Value, volume_name: &str) -> &'a str {
    let mounts = at(pod, "/containers/0/volumeMounts").as_array().unwrap();
    let mount = mounts
        .iter()
        .find(|m| str_at(m, "/name") == volume_name)
        .unwrap_or_else(|| panic!("volume {volume_name} is not mounted"));
    str_at(mount, "/mountPath")
}

/// The pod's first volume of kind `key` (`configMap`, `persistentVolumeClaim`, ...).
fn volume<'a>(pod: &'a Value, key: &str) -> &'a Value {
    at(pod, "/volumes")
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v.get(key).is_some())
        .unwrap_or_else(|| panic!("no {key} volume"))
}

#[test]
fn the_job_reads_the_configmap_and_writes_the_claim_its_args_name() {
    let job = manifest("job.yaml");
    let configmap = manifest("configmap.yaml");
    let pvc = manifest("pvc.yaml");
    let pod = at(&job, "/spec/template/spec");
    let container = at(pod, "/containers/0");
    let args = job_args(&job);

    assert_eq!(args.first().map(String::as_str), Some("run"));
    assert!(args.iter().any(|a| a == "--shard-from-env"), "{args:?}");
    assert_eq!(flag_value(&args, "--start-at"), "$(START_AT)");

    // Kubernetes leaves a `$(NAME)` that the container's env does not define as it is.
    let env = env_values(container);
    for arg in &args {
        for name in var_refs(arg) {
            assert!(
                env.contains_key(&name),
                "args use $({name}), which the container's env does not define"
            );
        }
    }
    let configmap_name = str_at(&configmap, "/metadata/name");
    let start_at = at(container, "/env")
        .as_array()
        .unwrap()
        .iter()
        .find(|e| str_at(e, "/name") == "START_AT")
        .unwrap();
    assert_eq!(
        str_at(start_at, "/valueFrom/configMapKeyRef/name"),
        configmap_name
    );
    let start_key = str_at(start_at, "/valueFrom/configMapKeyRef/key");
    assert!(
        configmap.pointer(&format!("/data/{start_key}")).is_some(),
        "START_AT comes from key {start_key}, which the ConfigMap lacks"
    );

    // --config names a file of the ConfigMap's mount.
    let config_volume = volume(pod, "configMap");
    assert_eq!(str_at(config_volume, "/configMap/name"), configmap_name);
    let config_mount = mount_path(pod, str_at(config_volume, "/name"));
    let config_arg = flag_value(&args, "--config");
    let file = config_arg
        .strip_prefix(config_mount)
        .and_then(|rest| rest.strip_prefix('/'))
        .unwrap_or_else(|| panic!("--config {config_arg} is not under {config_mount}"));
    let items = at(config_volume, "/configMap/items").as_array().unwrap();
    let item = items
        .iter()
        .find(|i| str_at(i, "/path") == file)
        .unwrap_or_else(|| panic!("the ConfigMap volume has no item at {file}"));
    let key = str_at(item, "/key");
    assert!(
        configmap.pointer(&format!("/data/{key}")).is_some(),
        "the ConfigMap has no key {key}"
    );

    // --out is the claim's mount, and the claim is pvc.yaml's, shared by every shard.
    let claim_volume = volume(pod, "persistentVolumeClaim");
    let claim = str_at(claim_volume, "/persistentVolumeClaim/claimName");
    assert_eq!(claim, str_at(&pvc, "/metadata/name"));
    assert_eq!(
        flag_value(&args, "--out"),
        mount_path(pod, str_at(claim_volume, "/name"))
    );
    let modes = at(&pvc, "/spec/accessModes").as_array().unwrap();
    assert!(
        modes.iter().any(|m| m == "ReadWriteMany"),
        "shards on different nodes write the claim at once: ReadWriteMany, not {modes:?}"
    );

    // The helper pod reads the same claim.
    let reader = manifest("results-pod.yaml");
    let reader_spec = at(&reader, "/spec");
    let reader_volume = volume(reader_spec, "persistentVolumeClaim");
    assert_eq!(
        str_at(reader_volume, "/persistentVolumeClaim/claimName"),
        claim
    );
}

/// `YYYY-MM-DDTHH:MM:SSZ`, the shape the examples give `--start-at`.
fn looks_like_utc_time(s: &str) -> bool {
    let shape = "dddd-dd-ddTdd:dd:ddZ";
    s.len() == shape.len()
        && s.chars().zip(shape.chars()).all(|(c, p)| match p {
            'd' => c.is_ascii_digit(),
            _ => c == p,
        })
}

#[test]
fn the_configmap_holds_a_bench_toml_shard_mode_takes() {
    let configmap = manifest("configmap.yaml");
    let start_at = str_at(&configmap, "/data/START_AT");
    assert!(
        looks_like_utc_time(start_at),
        "START_AT {start_at:?} is not an RFC 3339 UTC time"
    );
    let toml = str_at(&configmap, "/data/bench.toml");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.toml");
    fs::write(&path, toml).unwrap();
    let config = Config::load(&Sources {
        file: Some(path),
        text: None,
        env: Some(HashMap::new()),
        overrides: Vec::new(),
    })
    .unwrap_or_else(|e| panic!("the ConfigMap's bench.toml does not load: {e}"));
    // Shard mode takes it: time-bound levels, a warmup by time, a fixed level list.
    let shard = llmsweep::shard::Shard::new(0, 4).unwrap();
    llmsweep::shard::ShardPlan::new(shard, std::time::SystemTime::now(), &config.sweep)
        .unwrap_or_else(|e| panic!("shard mode refuses the ConfigMap's bench.toml: {e}"));
    assert!(!config.engines.is_empty());
}

/// Parses `args` (without the program name) as llmsweep's command line, which must be a `run`
/// with this config and output folder.
fn assert_run_parses(args: &[String], config: &str, out: &str) {
    let argv = std::iter::once("llmsweep".to_string()).chain(args.iter().cloned());
    let cli = Cli::try_parse_from(argv)
        .unwrap_or_else(|e| panic!("llmsweep {} does not parse:\n{e}", args.join(" ")));
    let CliCommand::Run(run) = cli.command else {
        panic!("not a run: {args:?}");
    };
    assert_eq!(run.config.as_deref(), Some(Path::new(config)));
    assert_eq!(run.out.as_deref(), Some(Path::new(out)));
}

#[test]
fn the_job_args_parse_as_llmsweep_run() {
    let job = manifest("job.yaml");
    let configmap = manifest("configmap.yaml");
    let start_at = str_at(&configmap, "/data/START_AT");
    let args: Vec<String> = job_args(&job)
        .iter()
        .map(|a| a.replace("$(START_AT)", start_at))
        .collect();
    assert_run_parses(&args, "/config/bench.toml", "/results");
}

// --- Slurm ----------------------------------------------------------------------------------

/// A stand-in for the llmsweep binary that writes its arguments, one a line, and the shard
/// variables it was given to `$FAKE_RECORD`.
fn fake_llmsweep(dir: &Path) -> PathBuf {
    let path = dir.join("llmsweep");
    fs::write(
        &path,
        "#!/bin/sh\n\
         {\n\
         printf 'arg=%s\\n' \"$@\"\n\
         printf 'env=SLURM_ARRAY_TASK_ID=%s\\n' \"${SLURM_ARRAY_TASK_ID-}\"\n\
         printf 'env=SLURM_ARRAY_TASK_COUNT=%s\\n' \"${SLURM_ARRAY_TASK_COUNT-}\"\n\
         } > \"$FAKE_RECORD\"\n",
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// `bash deploy/slurm/sweep.sbatch` in `cwd` with only PATH (the fake first) and `vars`.
fn run_sbatch(cwd: &Path, fake_dir: &Path, vars: &[(&str, &str)]) -> Output {
    let path = format!(
        "{}:{}",
        fake_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("bash")
        .arg(repo().join(SBATCH))
        .current_dir(cwd)
        .env_clear()
        .env("PATH", path)
        .envs(vars.iter().copied())
        .output()
        .expect("cannot run bash")
}

/// What the fake recorded: its arguments and the shard variables it saw.
fn recorded(record: &Path) -> (Vec<String>, Vec<String>) {
    let text = read(record);
    let args = text
        .lines()
        .filter_map(|l| l.strip_prefix("arg="))
        .map(str::to_string)
        .collect();
    let env = text
        .lines()
        .filter_map(|l| l.strip_prefix("env="))
        .map(str::to_string)
        .collect();
    (args, env)
}

fn expected_run(config: &str, out: &str) -> Vec<String> {
    [
        "run",
        "--config",
        config,
        "--shard-from-env",
        "--start-at",
        START_AT,
        "--out",
        out,
    ]
    .map(str::to_string)
    .to_vec()
}

#[test]
fn the_sbatch_script_is_valid_bash() {
    let output = Command::new("bash")
        .arg("-n")
        .arg(repo().join(SBATCH))
        .output()
        .expect("cannot run bash");
    assert!(
        output.status.success(),
        "bash -n {SBATCH}:\n{}",
        text(&output)
    );
}

#[test]
fn the_sbatch_script_without_start_at_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("record");
    fake_llmsweep(dir.path());
    let record_var = record.display().to_string();
    for start_at in [None, Some("")] {
        let mut vars = vec![
            ("FAKE_RECORD", record_var.as_str()),
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        if let Some(value) = start_at {
            vars.push(("START_AT", value));
        }
        let output = run_sbatch(dir.path(), dir.path(), &vars);
        let out = text(&output);
        assert!(!output.status.success(), "START_AT={start_at:?}: {out}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("START_AT is not set"),
            "the error does not name START_AT:\n{out}"
        );
        assert!(!record.exists(), "llmsweep ran without START_AT");
    }
}

#[test]
fn the_sbatch_script_passes_its_settings_to_llmsweep_run() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("record");
    let fake = fake_llmsweep(dir.path());
    let record_var = record.display().to_string();
    let empty = tempfile::tempdir().unwrap();

    // Defaults: llmsweep from PATH, bench.toml, results.
    let output = run_sbatch(
        dir.path(),
        dir.path(),
        &[
            ("FAKE_RECORD", record_var.as_str()),
            ("START_AT", START_AT),
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ],
    );
    assert!(output.status.success(), "{}", text(&output));
    let (args, env) = recorded(&record);
    assert_eq!(args, expected_run("bench.toml", "results"));
    assert_eq!(
        env,
        ["SLURM_ARRAY_TASK_ID=2", "SLURM_ARRAY_TASK_COUNT=4"].map(str::to_string)
    );
    fs::remove_file(&record).unwrap();

    // Every setting given, with spaces in the paths; the fake is not on PATH this time.
    let config = dir.path().join("my configs/bench.toml");
    let out = dir.path().join("my results");
    let (config, out) = (config.display().to_string(), out.display().to_string());
    let output = run_sbatch(
        dir.path(),
        empty.path(),
        &[
            ("FAKE_RECORD", record_var.as_str()),
            ("START_AT", START_AT),
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("LLMSWEEP", fake.to_str().unwrap()),
            ("BENCH_TOML", config.as_str()),
            ("RESULTS_DIR", out.as_str()),
        ],
    );
    assert!(output.status.success(), "{}", text(&output));
    let (args, _) = recorded(&record);
    assert_eq!(args, expected_run(&config, &out));
}

#[test]
fn the_sbatch_run_line_parses_as_llmsweep_run() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("record");
    fake_llmsweep(dir.path());
    let output = run_sbatch(
        dir.path(),
        dir.path(),
        &[
            ("FAKE_RECORD", record.to_str().unwrap()),
            ("START_AT", START_AT),
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ],
    );
    assert!(output.status.success(), "{}", text(&output));
    let (args, _) = recorded(&record);
    assert_run_parses(&args, "bench.toml", "results");
}

/// sbatch reads `#SBATCH` lines only up to the first command: a directive below it is a plain
/// comment, silently.
#[test]
fn the_sbatch_directives_come_before_the_first_command() {
    let script = read(&repo().join(SBATCH));
    let first_command = script
        .lines()
        .position(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .expect("the script runs nothing");
    let directives: Vec<(usize, &str)> = script
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("#SBATCH"))
        .collect();
    for (line, directive) in &directives {
        assert!(
            *line < first_command && directive.starts_with("#SBATCH"),
            "line {}: {directive:?} comes after the first command, sbatch ignores it",
            line + 1
        );
    }
    let names: Vec<&str> = directives.iter().map(|(_, d)| *d).collect();
    for wanted in [
        "#SBATCH --array=0-3",
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks=1",
    ] {
        assert!(names.contains(&wanted), "no {wanted:?} in {names:?}");
    }
    assert!(
        names
            .iter()
            .any(|d| d.starts_with("#SBATCH --cpus-per-task=")),
        "no --cpus-per-task in {names:?}"
    );
}

// --- Containerfile --------------------------------------------------------------------------

/// The build context holds only what the ignore file lets in: each source the Containerfile
/// copies from it must exist and be let in, or the image build fails.
#[test]
fn the_containerfile_copies_only_what_its_ignore_file_lets_in() {
    let containerfile = read(&repo().join("deploy/Containerfile"));
    let ignore = read(&repo().join("deploy/Containerfile.dockerignore"));
    let allowed: Vec<&str> = ignore
        .lines()
        .filter_map(|l| l.trim().strip_prefix('!'))
        .collect();
    assert!(
        ignore.lines().any(|l| l.trim() == "*"),
        "the ignore file does not start from nothing"
    );
    let mut copied = 0;
    for line in containerfile.lines() {
        let Some(rest) = line.strip_prefix("COPY ") else {
            continue;
        };
        if rest.starts_with("--from=") {
            continue;
        }
        let words: Vec<&str> = rest.split_whitespace().collect();
        for source in &words[..words.len() - 1] {
            assert!(
                repo().join(source).exists(),
                "the Containerfile copies {source}, which the repository lacks"
            );
            assert!(
                allowed.contains(source),
                "the Containerfile copies {source}, which the ignore file keeps out"
            );
            copied += 1;
        }
    }
    assert!(copied >= 4, "too few COPY sources found: {copied}");
    let target = "x86_64-unknown-linux-musl";
    assert!(containerfile.contains(&format!("rustup target add {target}")));
    assert!(containerfile.contains(&format!("cargo build --release --locked --target {target}")));
    assert!(containerfile.contains(&format!("target/{target}/release/llmsweep /llmsweep")));
    assert!(containerfile.contains("ENTRYPOINT [\"/llmsweep\"]"));
}
