//! The API key never leaves the process: a full small sweep with a key, against the
//! simulator (one level with errors) and a hostile server that echoes the Authorization
//! header back in its 401 bodies; then every file of the results folder, the `Debug` of the
//! plan, its engines and their clients, and every event, are searched for the key.
//! Configured header values (often a second credential) are masked in results the same way:
//! no file of the results folder holds one, and results.json keeps the header names.

use crate::common;

use std::path::Path;
use std::time::Duration;

use llmsweep::client::openai::ClientSpec;
use llmsweep::client::{EngineClient, Timeouts};
use llmsweep::config::{Config, Sources};
use llmsweep::plan::Plan;
use llmsweep::sim::{self, Faults, Profile, SimConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const VAR: &str = "LLMSWEEP_TEST_KEY";
const KEY: &str = "sk-llmsweep-SECRET-7f3a9c0d";
/// A configured header value; distinctive, so a hit can only be the value itself.
const HEADER_VALUE: &str = "team-bench-HDR-52e1";

/// A server that answers every request 401 with the request's Authorization header in the
/// body, as some misconfigured proxies do.
async fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    // Keep-alive: answer each request as its head arrives (bodies are small
                    // and read with the head or ignored; the answer closes the connection).
                    match tcp.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                    if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                let head = String::from_utf8_lossy(&buf).to_string();
                let auth = head
                    .lines()
                    .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
                    .unwrap_or("authorization: none")
                    .to_string();
                let body = format!(r#"{{"error":{{"message":"bad credentials: {auth}"}}}}"#);
                let response = format!(
                    "HTTP/1.1 401 Unauthorized\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = tcp.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/v1/chat/completions")
}

/// A seed under which, at `error_rate`, the first level's 4 requests (arrival indices 0..4)
/// all succeed and the second level's 8 (4..12) include errors.
fn seed_with_errors_in_level_2(faults: &Faults) -> u64 {
    (0..10_000)
        .find(|&seed| {
            (0..4).all(|i| faults.plan(seed, i).error_status.is_none())
                && (4..12).any(|i| faults.plan(seed, i).error_status.is_some())
        })
        .expect("a seed")
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn the_api_key_appears_in_no_output() {
    let faults = Faults {
        error_rate: 0.5,
        error_status: 401,
        ..Faults::default()
    };
    let seed = seed_with_errors_in_level_2(&faults);
    let sim = sim::spawn(SimConfig {
        profile: Profile::by_name("fast").expect("fast"),
        faults,
        seed,
        timing_log: None,
    })
    .await
    .expect("sim");
    let echo = echo_server().await;
    let toml = format!(
        r#"
[sweep]
levels = [1, 2]
requests_per_level = 4
timeout_s = 5

[request]
max_tokens = 4

[[engines]]
name = "sim"
url = "{}"
model = "m"
api_key_env = "{VAR}"
headers = {{ "X-Team" = "{HEADER_VALUE}" }}

[[engines]]
name = "echo"
url = "{echo}"
model = "m"
api_key_env = "{VAR}"
"#,
        sim.chat_url()
    );
    let config = Config::load(&Sources {
        text: Some(("test".into(), toml)),
        env: Some(Default::default()),
        ..Sources::default()
    })
    .expect("config");
    let lookup = |var: &str| (var == VAR).then(|| KEY.to_string());
    let plan = Plan::new(config, &lookup).expect("plan");
    assert_eq!(
        plan.engines[0].key.as_ref().map(|k| k.expose()),
        Some(KEY),
        "the key was looked up"
    );

    // Debug of the plan, each engine and a client built from it.
    let mut debug = format!("{plan:?}\n{:#?}", plan.engines);
    for engine in &plan.engines {
        let client = EngineClient::new(ClientSpec {
            url: &engine.url,
            key: engine.key.clone(),
            headers: &engine.headers,
            timeouts: Timeouts {
                connect: Duration::from_secs(1),
                first_token: None,
                idle: None,
                total: Duration::from_secs(1),
            },
            max_connections: 2,
            max_tokens: 4,
        })
        .expect("client");
        debug.push_str(&format!("{client:?}\n"));
    }
    assert!(!debug.contains(KEY), "Debug shows the key");

    // Without the preflight: the echo engine's levels must run for their echoed keys to reach
    // requests.jsonl (the preflight's own redaction: tests/preflight.rs).
    let mut run = common::Run::start_no_check(plan);
    let (events, outcome) = run.finish().await;
    let events = format!("{events:?}");
    sim.shutdown().await;
    assert!(!events.contains(KEY), "an event shows the key");
    assert!(!format!("{outcome:?}").contains(KEY));

    // The run did what the test needs: the sim's second level had errors, the echo engine
    // had its key echoed (and redacted).
    let report = &outcome.report;
    let sim_levels = &report.engines[0].levels;
    assert_eq!(sim_levels.len(), 2);
    assert_eq!(sim_levels[0].failed, 0);
    assert!(sim_levels[1].failed > 0, "{:?}", sim_levels[1]);
    assert!(report.engines[1].levels.iter().all(|l| l.completed == 0));

    let mut paths = Vec::new();
    files(&outcome.out_dir, &mut paths);
    let names: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    for expected in ["results.json", "requests.jsonl", "levels.csv", "summary.md"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    for path in &paths {
        let bytes = std::fs::read(path).expect("read");
        assert!(
            !contains(&bytes, KEY.as_bytes()),
            "{} has the key",
            path.display()
        );
        assert!(
            !contains(&bytes, HEADER_VALUE.as_bytes()),
            "{} has the value of a configured header",
            path.display()
        );
    }
    // The header is recorded by name, its value masked.
    let results = common::binary::results(&outcome.out_dir);
    assert_eq!(
        results["config"]["engines"][0]["headers"],
        serde_json::json!({ "X-Team": "***" }),
        "results.json config: {}",
        results["config"]["engines"][0]
    );
    let requests = std::fs::read_to_string(outcome.out_dir.join("requests.jsonl")).expect("jsonl");
    assert!(
        requests.contains("Bearer ***"),
        "the echoed header is recorded, redacted"
    );
}
