//! The scraper: while a level runs, one task per level polls the engine's `/metrics` (and
//! every `[[gpus]]` exporter) on its own timer and short timeout, off the load's path.
//! Each scrape becomes a line of metrics.jsonl and a live `ServerSnapshot`; the level's
//! scrapes are summarised when it ends. A failing endpoint is one warning per run, never an
//! error of the run.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::exposition::{Exposition, SeriesValue};
use super::gpu::{self, GpuReading};
use super::level::Scrape;
use super::log::MetricsLog;
use super::schema::{EngineReading, Schema};
use crate::events::{Event, ServerSnapshot};

/// What every level's scraping shares for the run.
#[derive(Clone)]
pub struct Scraper {
    client: reqwest::Client,
    interval: Duration,
    timeout: Duration,
    gpus: Arc<[String]>,
    log: Arc<Mutex<MetricsLog>>,
    events: mpsc::Sender<Event>,
    /// Endpoints already warned about: one warning each per run.
    warned: Arc<Mutex<HashSet<String>>>,
    /// Warnings not yet collected by the driver (for results and summary.md).
    warnings: Arc<Mutex<Vec<(usize, String)>>>,
}

/// The level being scraped.
pub struct LevelTarget {
    pub engine: usize,
    pub name: String,
    /// `None`: the engine's metrics are off (GPUs may still be scraped).
    pub url: Option<String>,
    pub level_index: usize,
    pub level: f64,
}

/// A level's scraping task; `finish` scrapes once more and returns every scrape.
pub struct LevelScraping {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Vec<Scrape>>,
}

impl LevelScraping {
    pub async fn finish(self) -> Vec<Scrape> {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_default()
    }
}

impl Scraper {
    pub fn new(
        interval: Duration,
        timeout: Duration,
        gpus: Vec<String>,
        log: MetricsLog,
        events: mpsc::Sender<Event>,
    ) -> Scraper {
        Scraper {
            client: client(timeout),
            interval,
            timeout,
            gpus: gpus.into(),
            log: Arc::new(Mutex::new(log)),
            events,
            warned: Arc::default(),
            warnings: Arc::default(),
        }
    }

    /// Whether there is anything to scrape for `url` (an engine endpoint or any GPU).
    pub fn has_work(&self, url: Option<&str>) -> bool {
        url.is_some() || !self.gpus.is_empty()
    }

    /// Starts scraping a level: the first scrape now (the level's start), then every interval.
    pub fn start(&self, target: LevelTarget) -> LevelScraping {
        let (stop, mut stopped) = oneshot::channel();
        let scraper = self.clone();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let mut scrapes = Vec::new();
            loop {
                scrapes.push(scraper.scrape(&target, started).await);
                scraper.publish(&target, &scrapes);
                let next = tokio::time::sleep(scraper.interval);
                tokio::select! {
                    _ = next => {}
                    _ = &mut stopped => {
                        scrapes.push(scraper.scrape(&target, started).await);
                        return scrapes;
                    }
                }
            }
        });
        LevelScraping { stop, task }
    }

    /// The live view of the level so far: the latest gauges, and the server's mean TTFT over
    /// the level's first tokens so far (the delta since its first scrape).
    fn publish(&self, target: &LevelTarget, scrapes: &[Scrape]) {
        let mut engine = scrapes.iter().filter_map(|s| s.engine.as_ref());
        let (Some(first), Some(latest)) = (
            engine.next(),
            scrapes.last().and_then(|s| s.engine.as_ref()),
        ) else {
            return;
        };
        let ttft = first
            .ttft
            .as_ref()
            .zip(latest.ttft.as_ref())
            .and_then(|(a, b)| b.since(a));
        let _ = self.events.try_send(Event::ServerSnapshot(ServerSnapshot {
            engine: target.engine,
            level_index: target.level_index,
            running: latest.running,
            waiting: latest.waiting,
            kv_usage: latest.kv_usage,
            server_ttft_mean_ms: ttft.and_then(|h| h.mean()).map(|s| s * 1e3),
        }));
    }

    /// Warnings raised since the last call, with their engine.
    pub fn take_warnings(&self) -> Vec<(usize, String)> {
        std::mem::take(&mut *self.warnings.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The exposition at `url`, parsed off the runtime's worker threads.
    pub async fn fetch(&self, url: &str) -> Result<Exposition, String> {
        fetch(&self.client, url, self.timeout).await
    }

    async fn scrape(&self, target: &LevelTarget, started: Instant) -> Scrape {
        let at = Instant::now();
        let at_s = (at - started).as_secs_f64();
        let engine_fetch = async {
            match &target.url {
                Some(url) => Some((url, self.fetch(url).await)),
                None => None,
            }
        };
        let gpu_fetch = futures_util::future::join_all(
            self.gpus
                .iter()
                .map(|url| async move { (url, self.fetch(url).await) }),
        );
        let (engine, gpus) = tokio::join!(engine_fetch, gpu_fetch);
        let mut scrape = Scrape {
            at_s,
            ..Scrape::default()
        };
        let wall = crate::results::model::now_rfc3339();
        let base = json!({
            "engine": target.name,
            "time": wall,
            "level_index": target.level_index,
            "level": target.level,
            "at_s": at_s,
        });
        if let Some((url, result)) = engine {
            match result {
                Ok(exposition) => match Schema::detect(&exposition) {
                    Some(schema) => {
                        let reading = schema.read(&exposition);
                        self.log_line(
                            &base,
                            json!({
                                "source": "engine",
                                "url": url,
                                "schema": schema.as_str(),
                                "fields": fields(&reading),
                                "raw": raw(&exposition, &schema.families()),
                            }),
                            target.engine,
                        );
                        scrape.engine = Some(reading);
                        scrape.schema = Some(schema);
                    }
                    None => {
                        self.log_line(
                            &base,
                            json!({"source": "engine", "url": url, "schema": null, "families": exposition.families.len()}),
                            target.engine,
                        );
                        self.warn_once(
                            target.engine,
                            url,
                            format!("metrics at {url}: no engine this version knows (vLLM, SGLang, TGI, llama.cpp); server fields stay empty"),
                        );
                    }
                },
                Err(e) => self.warn_once(
                    target.engine,
                    url,
                    format!("metrics at {url}: {e}; server fields stay empty (set `metrics = false` to stop scraping)"),
                ),
            }
        }
        let mut merged: Option<GpuReading> = None;
        for (url, result) in gpus {
            match result {
                Ok(exposition) => {
                    if let Some(reading) = GpuReading::read(&exposition) {
                        self.log_line(
                            &base,
                            json!({"source": "gpu", "url": url, "raw": raw(&exposition, &gpu::FAMILIES)}),
                            target.engine,
                        );
                        merged = Some(match merged {
                            None => reading,
                            Some(m) => merge(m, reading),
                        });
                    } else {
                        self.warn_once(
                            target.engine,
                            url,
                            format!("GPU metrics at {url}: no DCGM fields"),
                        );
                    }
                }
                Err(e) => self.warn_once(target.engine, url, format!("GPU metrics at {url}: {e}")),
            }
        }
        scrape.gpu = merged;
        scrape
    }

    fn log_line(&self, base: &Value, extra: Value, engine: usize) {
        let mut line = base.clone();
        if let (Some(line), Value::Object(extra)) = (line.as_object_mut(), extra) {
            line.extend(extra);
        }
        let result = self
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .append(&line);
        if let Err(e) = result {
            self.warn_once(
                engine,
                "metrics.jsonl",
                format!("metrics.jsonl: {e}; scrapes are no longer saved"),
            );
        }
    }

    fn warn_once(&self, engine: usize, key: &str, text: String) {
        let first = self
            .warned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_string());
        if first {
            self.warnings
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((engine, text.clone()));
            let _ = self.events.try_send(Event::Warning {
                engine: Some(engine),
                text,
            });
        }
    }
}

/// The HTTP client scrapes go through: its own (never the load's pool), no proxy for
/// 127.0.0.1, no redirects, `timeout` for the whole scrape.
pub fn client(timeout: Duration) -> reqwest::Client {
    crate::client::openai::install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// GET `url` within `timeout`, then parse it on a blocking thread (a large exposition takes
/// milliseconds to parse: not on the threads that stamp chunks).
pub async fn fetch(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
) -> Result<Exposition, String> {
    let response = tokio::time::timeout(timeout, client.get(url).send())
        .await
        .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))?
        .map_err(|e| format!("unreachable ({})", crate::client::openai::error_chain(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    let text = tokio::time::timeout(timeout, response.text())
        .await
        .map_err(|_| format!("body not read within {} ms", timeout.as_millis()))?
        .map_err(|e| format!("body: {e}"))?;
    tokio::task::spawn_blocking(move || Exposition::parse(&text))
        .await
        .map_err(|e| format!("parser: {e}"))?
}

/// Two exporters' GPUs as one reading.
fn merge(a: GpuReading, b: GpuReading) -> GpuReading {
    let sum = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) => Some(x + y),
        (x, y) => x.or(y),
    };
    let weighted = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) => {
            let total = (a.gpus + b.gpus).max(1) as f64;
            Some((x * a.gpus as f64 + y * b.gpus as f64) / total)
        }
        (x, y) => x.or(y),
    };
    GpuReading {
        gpus: a.gpus + b.gpus,
        util_pct: weighted(a.util_pct, b.util_pct),
        power_w: sum(a.power_w, b.power_w),
        energy_mj: sum(a.energy_mj, b.energy_mj),
        memory_used_mib: sum(a.memory_used_mib, b.memory_used_mib),
        sm_clock_mhz: weighted(a.sm_clock_mhz, b.sm_clock_mhz),
        throttle_reasons: match (a.throttle_reasons, b.throttle_reasons) {
            (Some(x), Some(y)) => Some(x | y),
            (x, y) => x.or(y),
        },
    }
}

/// A reading's normalised fields as JSON (null where the engine has no such family).
fn fields(r: &EngineReading) -> Value {
    json!({
        "running": r.running,
        "waiting": r.waiting,
        "kv_usage": r.kv_usage,
        "prefix_cache_hits": r.prefix_hits,
        "prefix_cache_queries": r.prefix_queries,
        "prefix_cache_hit_rate": r.prefix_hit_rate,
        "preemptions": r.preemptions,
        "generation_tokens": r.generation_tokens,
        "ttft_count": r.ttft.as_ref().map(|h| h.count),
        "ttft_sum_s": r.ttft.as_ref().map(|h| h.sum),
    })
}

/// The raw samples of `families` (those present): labels and value, histograms with buckets.
fn raw(exposition: &Exposition, families: &[&str]) -> Value {
    let mut out = serde_json::Map::new();
    for name in families {
        let Some(series) = exposition.families.get(*name) else {
            continue;
        };
        let samples: Vec<Value> = series
            .iter()
            .map(|s| match &s.value {
                SeriesValue::Number(v) => json!({"labels": s.labels, "value": finite(*v)}),
                SeriesValue::Histogram(h) => json!({
                    "labels": s.labels,
                    "buckets": h.buckets.iter().map(|(le, c)| json!([if le.is_finite() { json!(le) } else { json!("+Inf") }, c])).collect::<Vec<_>>(),
                    "sum": finite(h.sum),
                    "count": finite(h.count),
                }),
            })
            .collect();
        out.insert(name.to_string(), Value::Array(samples));
    }
    Value::Object(out)
}

fn finite(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else {
        Value::Null
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn scraper(gpus: Vec<String>) -> Scraper {
        let dir = std::env::temp_dir();
        Scraper::new(
            Duration::from_millis(100),
            Duration::from_millis(500),
            gpus,
            MetricsLog::new(&dir),
            mpsc::channel(4).0,
        )
    }

    #[test]
    fn a_level_is_scraped_when_its_engine_or_a_gpu_has_an_endpoint() {
        assert!(!scraper(Vec::new()).has_work(None));
        assert!(scraper(Vec::new()).has_work(Some("http://127.0.0.1:1/metrics")));
        assert!(scraper(vec!["http://127.0.0.1:1/metrics".into()]).has_work(None));
    }

    #[test]
    fn three_exporters_merge_weighted_by_their_gpus() {
        let reading = |gpus: usize, util: f64, power: f64, reasons: u64| GpuReading {
            gpus,
            util_pct: Some(util),
            power_w: Some(power),
            energy_mj: None,
            memory_used_mib: None,
            sm_clock_mhz: Some(util * 10.0),
            throttle_reasons: Some(reasons),
        };
        let two = merge(reading(1, 90.0, 400.0, 0x4), reading(3, 50.0, 300.0, 0x4));
        assert_eq!(two.gpus, 4);
        assert_eq!(two.util_pct, Some(60.0));
        assert_eq!(two.throttle_reasons, Some(0x4));
        let three = merge(two, reading(4, 10.0, 100.0, 0x1));
        assert_eq!(three.gpus, 8);
        assert_eq!(three.util_pct, Some(35.0));
        assert_eq!(three.sm_clock_mhz, Some(350.0));
        assert_eq!(three.power_w, Some(800.0));
        assert_eq!(three.throttle_reasons, Some(0x5));
        assert_eq!(three.energy_mj, None);
    }

    #[test]
    fn raw_values_that_are_not_finite_are_null() {
        assert_eq!(finite(2.5), json!(2.5));
        assert_eq!(finite(f64::NAN), Value::Null);
        assert_eq!(finite(f64::INFINITY), Value::Null);
    }

    #[tokio::test]
    async fn a_redirect_is_an_error_not_followed() {
        // /metrics redirects to /elsewhere, which would serve a valid exposition.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let answer = if head.starts_with("GET /metrics") {
                    "HTTP/1.1 302 Found\r\nlocation: /elsewhere\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string()
                } else {
                    let body = "# TYPE a gauge\na 1\n";
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        let e = fetch(
            &client(Duration::from_secs(2)),
            &format!("http://{addr}/metrics"),
            Duration::from_secs(2),
        )
        .await
        .unwrap_err();
        assert!(e.starts_with("HTTP 302"), "{e}");
    }
}
