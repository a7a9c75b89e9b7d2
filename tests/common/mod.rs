//! Shared helpers for the client and driver acceptance tests: simulators on 127.0.0.1:0,
//! configs and plans from inline TOML, request bodies, tiny hand-written servers, and a
//! harness that runs the sweep driver in-process.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

pub mod binary;
pub mod schema;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use llmsweep::client::openai::ClientSpec;
use llmsweep::client::{EngineClient, Timeouts};
use llmsweep::config::{Config, Sources};
use llmsweep::driver::{self, RunOptions, RunOutcome};
use llmsweep::events::{Control, Event};
use llmsweep::plan::{request_body, Plan};
use llmsweep::results::model::Report;
use llmsweep::secret::Secret;
use llmsweep::sim::{self, Faults, Profile, SimConfig, SimServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Held by tests whose numbers are the point (verdicts, knees): they run one at a time
/// within their test binary, so two of them never share the two cores and skew each
/// other's timings.
pub static TIMING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Upper bound for anything a test waits on: a hang fails the test instead of blocking CI.
pub const GUARD: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------
// Simulators
// ---------------------------------------------------------------------------------------

/// Starts a simulator on 127.0.0.1 with an ephemeral port.
pub async fn sim(profile: Profile, faults: Faults) -> SimServer {
    sim::spawn(SimConfig {
        profile,
        faults,
        seed: 7,
        timing_log: None,
    })
    .await
    .expect("spawn simulator")
}

/// A fast `fixed`-like profile: 2 ms prefill, 2 ms per decode step (TTFT ≈ 4 ms,
/// E2E ≈ 2 + 2 × N ms).
pub fn quick() -> Profile {
    Profile {
        decode_base_us: 2_000,
        prefill_base_us: 2_000,
        ..sim::FIXED
    }
}

// ---------------------------------------------------------------------------------------
// Configs, plans, bodies
// ---------------------------------------------------------------------------------------

/// Loads a config from inline TOML, ignoring the process environment.
pub fn config(toml: &str) -> Config {
    Config::load(&Sources {
        text: Some(("test.toml".into(), toml.to_string())),
        env: Some(HashMap::new()),
        ..Sources::default()
    })
    .unwrap_or_else(|e| panic!("config: {e}\n{toml}"))
}

/// One `[[engines]]` entry.
pub struct EngineDef<'a> {
    pub name: &'a str,
    pub url: String,
    /// `chat` or `completions`.
    pub api: &'a str,
    pub stream_usage: bool,
}

impl<'a> EngineDef<'a> {
    pub fn chat(name: &'a str, url: String) -> EngineDef<'a> {
        EngineDef {
            name,
            url,
            api: "chat",
            stream_usage: true,
        }
    }
}

/// TOML for `engines` and a `[sweep]` over `levels`.
pub fn toml_for(
    engines: &[EngineDef<'_>],
    levels: &[u32],
    requests_per_level: u64,
    max_tokens: u32,
    timeout_s: f64,
) -> String {
    let mut text = String::new();
    for e in engines {
        text.push_str(&format!(
            "[[engines]]\nname = {:?}\nurl = {:?}\nmodel = \"sim\"\napi = {:?}\nstream_usage = {}\n\n",
            e.name, e.url, e.api, e.stream_usage
        ));
    }
    let levels: Vec<String> = levels.iter().map(u32::to_string).collect();
    text.push_str(&format!(
        "[sweep]\nlevels = [{}]\nrequests_per_level = {requests_per_level}\nwarmup_requests = 0\n\
         timeout_s = {timeout_s:?}\nconnect_timeout_s = 2.0\n\n\
         [request]\nmax_tokens = {max_tokens}\nseed = 42\n",
        levels.join(", ")
    ));
    text
}

/// A plan with no API keys.
pub fn plan(config: Config) -> Plan {
    Plan::new(config, &|_| None).expect("plan")
}

/// The plan for `engines` (chat, with usage) over `levels`, the built-in prompts sent as
/// they are (`cache = "warm"`: their repeats are accepted, so no warning says so).
pub fn sweep_plan(
    engines: &[(&str, String)],
    levels: &[u32],
    requests_per_level: u64,
    max_tokens: u32,
) -> Plan {
    let defs: Vec<EngineDef<'_>> = engines
        .iter()
        .map(|(name, url)| EngineDef::chat(name, url.clone()))
        .collect();
    let toml = toml_for(&defs, levels, requests_per_level, max_tokens, 30.0);
    plan(config(&format!("{toml}\n[prompts]\ncache = \"warm\"\n")))
}

/// A request body as the plan builds it, for `api` (`chat`/`completions`).
pub fn body(api: &str, max_tokens: u32, stream_usage: bool) -> Bytes {
    let config = config(&toml_for(
        &[EngineDef {
            name: "e",
            url: "http://127.0.0.1:9/v1/x".into(),
            api,
            stream_usage,
        }],
        &[1],
        1,
        max_tokens,
        30.0,
    ));
    request_body(
        &config,
        &config.engines[0],
        &llmsweep::workload::Prompt::text("one two three four five six seven eight nine ten"),
    )
}

// ---------------------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------------------

/// Generous timeouts: only the total applies.
pub fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        first_token: None,
        idle: None,
        total: Duration::from_secs(10),
    }
}

pub fn client_with(url: &str, timeouts: Timeouts, key: Option<&str>) -> EngineClient {
    EngineClient::new(ClientSpec {
        url,
        key: key.map(|k| Secret::new(k.to_string())),
        headers: &[],
        timeouts,
        max_connections: 4,
        max_tokens: 64,
    })
    .expect("client")
}

pub fn client(url: &str) -> EngineClient {
    client_with(url, timeouts(), None)
}

// ---------------------------------------------------------------------------------------
// Hand-written servers
// ---------------------------------------------------------------------------------------

/// A port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    port
}

/// A raw HTTP/1.1 server: answers every request with `response(request head)` (a complete
/// HTTP response, sent before the connection is closed) and keeps every request head
/// (request line and headers) it saw, and every body (in the order the heads were kept).
pub struct RawServer {
    pub url: String,
    pub heads: Arc<Mutex<Vec<String>>>,
    pub bodies: Arc<Mutex<Vec<Vec<u8>>>>,
    task: JoinHandle<()>,
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A complete HTTP/1.1 response with `Connection: close`.
pub fn http_response(status: &str, content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    )
}

pub async fn raw_server(response: impl Fn(&str) -> String + Send + Sync + 'static) -> RawServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "http://{}/v1/chat/completions",
        listener.local_addr().expect("addr")
    );
    let heads = Arc::new(Mutex::new(Vec::new()));
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let response = Arc::new(response);
    let task = {
        let (heads, bodies) = (heads.clone(), bodies.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (heads, bodies) = (heads.clone(), bodies.clone());
                let response = response.clone();
                tokio::spawn(async move {
                    let Some((head, body)) = read_request_and_body(&mut socket).await else {
                        return;
                    };
                    let answer = response(&head);
                    {
                        let mut heads = heads.lock().expect("heads");
                        heads.push(head);
                        bodies.lock().expect("bodies").push(body);
                    }
                    let _ = socket.write_all(answer.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        })
    };
    RawServer {
        url,
        heads,
        bodies,
        task,
    }
}

/// Reads one HTTP/1.1 request: the head, then the body by content-length. Returns the head
/// (request line and headers); `None` if the connection ends before the head does. A body
/// cut short still returns the head.
pub async fn read_request(socket: &mut TcpStream) -> Option<String> {
    read_request_and_body(socket).await.map(|(head, _)| head)
}

/// [`read_request`], with the body (as much of it as arrived).
pub async fn read_request_and_body(socket: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = buf[head_end..].to_vec();
    Some((head, body))
}

/// A streaming server that counts requests in flight: each request gets `tokens` content
/// chunks `gap` apart, then a finish chunk, usage and `[DONE]`. `in_flight_at_arrival`
/// holds, per request in arrival order, how many were in flight once it arrived (itself
/// included); the most in flight at any time is the largest of these.
pub struct CountingServer {
    pub url: String,
    pub in_flight_at_arrival: Arc<Mutex<Vec<usize>>>,
    task: JoinHandle<()>,
}

impl Drop for CountingServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves one streamed response per connection: the head at once, then each `(after_ms,
/// data)` step as its own write (`data: <data>`) after sleeping `after_ms` (on the paused
/// clock in paused tests), then closes. Returns the URL.
pub async fn stepped_server(steps: Vec<(u64, &'static str)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "http://{}/v1/chat/completions",
        listener.local_addr().expect("addr")
    );
    let steps = Arc::new(steps);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let steps = steps.clone();
            tokio::spawn(async move {
                if read_request(&mut socket).await.is_none() {
                    return;
                }
                let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                            cache-control: no-cache\r\nconnection: close\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for (after_ms, data) in steps.iter() {
                    tokio::time::sleep(Duration::from_millis(*after_ms)).await;
                    let event = format!("data: {data}\n\n");
                    if socket.write_all(event.as_bytes()).await.is_err() {
                        return;
                    }
                }
                let _ = socket.shutdown().await;
            });
        }
    });
    url
}

pub async fn counting_server(tokens: u32, gap: Duration) -> CountingServer {
    use axum::body::Body;
    use axum::routing::post;

    #[derive(Clone)]
    struct State {
        in_flight: Arc<AtomicUsize>,
        arrivals: Arc<Mutex<Vec<usize>>>,
        tokens: u32,
        gap: Duration,
    }

    async fn handler(
        axum::extract::State(s): axum::extract::State<State>,
    ) -> axum::response::Response {
        {
            let mut arrivals = s.arrivals.lock().expect("arrivals");
            arrivals.push(s.in_flight.fetch_add(1, Ordering::SeqCst) + 1);
        }
        let stream = futures_util::stream::unfold(0u32, move |i| {
            let s = s.clone();
            async move {
                let data = if i < s.tokens {
                    tokio::time::sleep(s.gap).await;
                    r#"{"choices":[{"index":0,"delta":{"content":" x"},"finish_reason":null}]}"#
                        .to_string()
                } else if i == s.tokens {
                    r#"{"choices":[{"index":0,"delta":{"content":""},"finish_reason":"length"}]}"#
                        .to_string()
                } else if i == s.tokens + 1 {
                    // Leave the in-flight count before the client can see the end.
                    s.in_flight.fetch_sub(1, Ordering::SeqCst);
                    format!(
                        r#"{{"choices":[],"usage":{{"prompt_tokens":3,"completion_tokens":{}}}}}"#,
                        s.tokens
                    )
                } else if i == s.tokens + 2 {
                    "[DONE]".to_string()
                } else {
                    return None;
                };
                Some((
                    Ok::<_, std::io::Error>(Bytes::from(format!("data: {data}\n\n"))),
                    i + 1,
                ))
            }
        });
        axum::response::Response::builder()
            .header("content-type", "text/event-stream")
            .body(Body::from_stream(stream))
            .expect("response")
    }

    let state = State {
        in_flight: Arc::new(AtomicUsize::new(0)),
        arrivals: Arc::new(Mutex::new(Vec::new())),
        tokens,
        gap,
    };
    let in_flight_at_arrival = state.arrivals.clone();
    let app = axum::Router::new()
        .route("/v1/chat/completions", post(handler))
        .with_state(state);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "http://{}/v1/chat/completions",
        listener.local_addr().expect("addr")
    );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    CountingServer {
        url,
        in_flight_at_arrival,
        task,
    }
}

// ---------------------------------------------------------------------------------------
// The driver harness
// ---------------------------------------------------------------------------------------

/// A sweep running in-process: its event stream, its control channel, its signal flag and
/// its results folder.
pub struct Run {
    pub events: mpsc::Receiver<Event>,
    pub control: mpsc::Sender<Control>,
    pub signal: Arc<AtomicI32>,
    pub out_dir: PathBuf,
    pub task: JoinHandle<std::io::Result<RunOutcome>>,
    _dir: tempfile::TempDir,
}

impl Run {
    /// Runs `plan` with the preflight checks, as `llmsweep run` does.
    pub fn start(plan: Plan) -> Run {
        Run::start_with(plan, true)
    }

    /// Runs `plan` as `llmsweep run --no-check` does.
    pub fn start_no_check(plan: Plan) -> Run {
        Run::start_with(plan, false)
    }

    pub fn start_with(plan: Plan, check: bool) -> Run {
        Run::start_live(plan, check, None)
    }

    /// With `--metrics-listen`'s registry.
    pub fn start_live(
        plan: Plan,
        check: bool,
        live: Option<Arc<llmsweep::live_metrics::LiveMetrics>>,
    ) -> Run {
        let dir = tempfile::tempdir().expect("tempdir");
        let out_dir = dir.path().join("run");
        let (events_tx, events) = mpsc::channel(1024);
        let (control, control_rx) = mpsc::channel(16);
        let signal = Arc::new(AtomicI32::new(0));
        let task = tokio::spawn(driver::run(
            plan,
            RunOptions {
                out_dir: out_dir.clone(),
                run_name: "test-run".into(),
                events: events_tx,
                control: control_rx,
                signal: signal.clone(),
                resume: None,
                check,
                live,
            },
        ));
        Run {
            events,
            control,
            signal,
            out_dir,
            task,
            _dir: dir,
        }
    }

    /// The next event; panics on a hang or a closed bus.
    pub async fn next(&mut self) -> Event {
        tokio::time::timeout(GUARD, self.events.recv())
            .await
            .expect("no event within the guard time")
            .expect("event bus closed before RunFinished")
    }

    /// Events until (and including) the first one `pred` accepts.
    pub async fn until(&mut self, pred: impl Fn(&Event) -> bool) -> Vec<Event> {
        let mut seen = Vec::new();
        loop {
            let event = self.next().await;
            let stop = pred(&event);
            seen.push(event);
            if stop {
                return seen;
            }
        }
    }

    pub async fn send(&self, control: Control) {
        self.control.send(control).await.expect("driver gone");
    }

    /// Every event up to RunFinished, then the outcome.
    pub async fn finish(&mut self) -> (Vec<Event>, RunOutcome) {
        let events = self.until(|e| matches!(e, Event::RunFinished { .. })).await;
        (events, self.outcome().await)
    }

    /// The driver's outcome, once its events have been read up to RunFinished.
    pub async fn outcome(&mut self) -> RunOutcome {
        tokio::time::timeout(GUARD, &mut self.task)
            .await
            .expect("driver did not return")
            .expect("driver panicked")
            .expect("driver failed")
    }

    pub fn report(&self) -> Report {
        read_report(&self.out_dir)
    }

    pub fn requests(&self) -> Vec<serde_json::Value> {
        read_requests(&self.out_dir)
    }
}

/// `dir/results.json` as a Report, after checking it against `docs/results.schema.json`.
pub fn read_report(dir: &Path) -> Report {
    let value = schema::read_checked(&dir.join("results.json"));
    serde_json::from_value(value).expect("results.json parses as a Report")
}

/// The run to its end, then its first engine's first level: the summary, the request lines,
/// and the level as results.json has it.
pub async fn first_level(
    mut run: Run,
) -> (
    llmsweep::results::model::LevelSummary,
    Vec<serde_json::Value>,
    serde_json::Value,
) {
    let (_, outcome) = run.finish().await;
    let level = outcome.report.engines[0].levels[0].clone();
    let text = std::fs::read_to_string(run.out_dir.join("results.json")).expect("results.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("parses");
    (
        level,
        run.requests(),
        json["engines"][0]["levels"][0].clone(),
    )
}

/// The repeated-prompt warnings on the bus (each a run's, not an engine's), each with whether
/// it came before any level started.
pub fn repeat_warnings(events: &[Event]) -> Vec<bool> {
    let mut started = false;
    let mut out = Vec::new();
    for e in events {
        match e {
            Event::LevelStarted { .. } => started = true,
            Event::Warning { engine, text } if text == llmsweep::driver::REPEAT_WARNING => {
                assert_eq!(*engine, None, "a run's warning, not an engine's");
                out.push(!started);
            }
            _ => {}
        }
    }
    out
}

pub fn read_requests(dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("requests.jsonl")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).expect("requests.jsonl line parses"))
        .collect()
}

/// A short name for an event, for order checks and failure messages.
pub fn kind(event: &Event) -> String {
    match event {
        Event::RunStarted { .. } => "RunStarted".into(),
        Event::LevelStarted {
            engine,
            level_index,
            ..
        } => format!("LevelStarted({engine},{level_index})"),
        Event::Snapshot(_) => "Snapshot".into(),
        Event::ServerSnapshot(_) => "ServerSnapshot".into(),
        Event::LevelFinished {
            engine,
            level_index,
            ..
        } => format!("LevelFinished({engine},{level_index})"),
        Event::State(state) => format!("State({state:?})"),
        Event::Warning { text, .. } => format!("Warning({text})"),
        Event::RunFinished { .. } => "RunFinished".into(),
        Event::Exported { result } => format!("Exported({})", result.is_ok()),
    }
}
