//! Command-line interface (clap derive). Flags are the top configuration layer.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `0.1.0 (commit 1a2b3c4d5e6f)`: the package version and the git commit it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("LLMSWEEP_GIT_COMMIT"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "llmsweep",
    version = VERSION,
    about = "Load-test and compare OpenAI-compatible LLM inference engines, live"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Threads of llmsweep's async runtime [default: one per core]. On a machine whose
    /// cores the engine also needs (its API server and scheduler are CPU-bound), fewer
    /// threads keep the client out of the engine's way.
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the sweep of bench.toml (or --config FILE) against its engines.
    Run(RunArgs),
    /// Run the default sweep against two built-in simulated engines (no GPU needed).
    Demo(RunArgs),
    /// Check the engines of bench.toml (or --config FILE) without sweeping them: reachable,
    /// model listed, one short streamed request, usage, output length, /metrics, API key.
    Check(CheckArgs),
    /// Serve a simulated OpenAI-compatible engine on 127.0.0.1.
    Sim(SimArgs),
    /// Re-render the chart, CSV and Markdown from saved results.json files.
    Report(ReportArgs),
    /// Merge the folders of a sharded run (`run --shard`) into one run: counts added,
    /// percentiles recomputed from the union of the shards' requests.
    Merge(MergeArgs),
    /// Print a shell completion script (e.g. `llmsweep completions bash >
    /// ~/.local/share/bash-completion/completions/llmsweep`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `llmsweep man > ~/.local/share/man/man1/llmsweep.1`.
    Man,
}

/// Options of `merge`.
#[derive(Debug, Args, Clone)]
pub struct MergeArgs {
    /// The shards' results folders (`<run>-shard-<i>-of-<N>`), one per shard.
    #[arg(required = true, value_name = "DIR")]
    pub inputs: Vec<PathBuf>,
    /// Folder of the merged run (created; must not hold another run).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Merge even when some shards are missing (they are named in the merged results).
    #[arg(long)]
    pub partial: bool,
    #[arg(long, value_enum, default_value_t)]
    pub chart: ChartArg,
    /// Also write SVG charts.
    #[arg(long)]
    pub svg: bool,
}

/// Options shared by `run` and `demo`.
#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    /// Config file [default: bench.toml]
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print one line per level instead of the dashboard (implied without a terminal).
    #[arg(long)]
    pub headless: bool,
    /// Parent folder of the results folder [default: results].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Levels, e.g. 1,2,4,8: requests in flight, or req/s with `mode = "rate"`; or `auto`
    /// (search for each engine's knee, `[sweep.auto]`).
    #[arg(long, value_name = "LIST")]
    pub levels: Option<String>,
    /// Measure each (engine, level) K times: means with 95 % confidence intervals, and a
    /// verdict per pair of engines [default: 1].
    #[arg(long, value_name = "K")]
    pub trials: Option<u32>,
    /// Measured requests per level [default: max(50, 4 × C) per level; 50 in rate mode].
    #[arg(long, value_name = "N")]
    pub requests: Option<u64>,
    /// Warmup requests before each level.
    #[arg(long, value_name = "N")]
    pub warmup: Option<u64>,
    /// max_tokens for every request.
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<u32>,
    /// Seed of the prompt order (which prompt each request gets); not sent to engines
    /// (`[request] sampling_seed` is).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Close the dashboard as soon as the run ends.
    #[arg(long)]
    pub exit_on_finish: bool,
    /// Charts to write at the end: standard, or extended (adds tok/s, TPOT, error rate).
    #[arg(long, value_enum)]
    pub chart: Option<ChartArg>,
    /// Also write the charts as SVG.
    #[arg(long)]
    pub svg: bool,
    /// Continue the interrupted run in DIR (its results.json and requests.jsonl): levels that
    /// finished are kept, the others run again, in the same folder. Refused unless every
    /// setting that changes the numbers matches the saved run's (the first that differs is
    /// named).
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Sweep every engine without the preflight checks (an engine that fails them is
    /// otherwise skipped).
    #[arg(long)]
    pub no_check: bool,
    /// Run shard INDEX of COUNT of the sweep (0-based, e.g. 2/4): this process sends its
    /// share of every level's load, in level windows fixed from --start-at; merge the
    /// shards' folders with `llmsweep merge`. Implies --headless; needs `duration_s`.
    #[arg(long, value_name = "INDEX/COUNT", conflicts_with_all = ["shard_from_env", "resume"], requires = "start_at")]
    pub shard: Option<String>,
    /// Like --shard, the index from JOB_COMPLETION_INDEX (Kubernetes Indexed Job),
    /// SLURM_ARRAY_TASK_ID or RANK, the count from LLMSWEEP_SHARD_COUNT,
    /// SLURM_ARRAY_TASK_COUNT or WORLD_SIZE.
    #[arg(long, conflicts_with = "resume", requires = "start_at")]
    pub shard_from_env: bool,
    /// At the end, also write `vllm/` in the results folder: one `vllm bench serve
    /// --save-result --save-detailed` file per (engine, level) (see `report --vllm-json`).
    #[arg(long)]
    pub vllm_json: bool,
    /// Serve llmsweep's own live metrics (requests in flight, completed, errors by class,
    /// tokens, TTFT/E2E/ITL histograms, the current level per engine) in the Prometheus text
    /// format on ADDR, e.g. 127.0.0.1:9091 (`GET /metrics`). Off by default.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// Shard mode: when the first level's slot begins, RFC 3339 (e.g. 2026-12-01T20:30:00Z),
    /// the same for every shard; a few seconds ahead of the last shard's start.
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,
}

impl RunArgs {
    /// True in shard mode.
    pub fn sharded(&self) -> bool {
        self.shard.is_some() || self.shard_from_env
    }
}

/// Options of `check`.
#[derive(Debug, Args, Clone, Default)]
pub struct CheckArgs {
    /// Config file [default: bench.toml]
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl RunArgs {
    /// The flags as config overrides (`section.key`, value).
    pub fn overrides(&self) -> Vec<(String, String)> {
        let mut overrides = Vec::new();
        let mut set = |key: &str, value: Option<String>| {
            if let Some(value) = value {
                overrides.push((key.to_string(), value));
            }
        };
        set("sweep.levels", self.levels.clone());
        set("sweep.trials", self.trials.map(|n| n.to_string()));
        set(
            "sweep.requests_per_level",
            self.requests.map(|n| n.to_string()),
        );
        set("sweep.warmup_requests", self.warmup.map(|n| n.to_string()));
        set("request.max_tokens", self.max_tokens.map(|n| n.to_string()));
        set("request.seed", self.seed.map(|n| n.to_string()));
        set(
            "run.out_dir",
            self.out.as_ref().map(|p| p.display().to_string()),
        );
        overrides
    }
}

#[derive(Debug, Args, Clone)]
pub struct SimArgs {
    /// Port on 127.0.0.1 (0 = any free port, printed at start).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Behaviour profile (see --list-profiles).
    #[arg(long, default_value = "big-batch")]
    pub profile: String,
    /// List the profiles and exit.
    #[arg(long)]
    pub list_profiles: bool,
    /// Write one JSON line per streamed request: its X-Request-Id and the simulator's own
    /// time from request to first content chunk (`server_ttft_us`) and to its first chunk of
    /// any kind (`server_first_chunk_us`: the role chunk), to tell client overhead from
    /// engine time.
    #[arg(long, value_name = "FILE")]
    pub timing_log: Option<std::path::PathBuf>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fraction of requests answered with --error-status.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    #[arg(long, default_value_t = 500)]
    pub error_status: u16,
    /// Drop the connection after N content chunks (for --drop-rate of requests).
    #[arg(long)]
    pub drop_after_tokens: Option<u32>,
    #[arg(long, default_value_t = 1.0)]
    pub drop_rate: f64,
    /// Fraction of requests with one malformed chunk.
    #[arg(long, default_value_t = 0.0)]
    pub malformed_rate: f64,
    /// Stall after N content chunks for --stall-ms.
    #[arg(long)]
    pub stall_after_tokens: Option<u32>,
    #[arg(long, default_value_t = 0)]
    pub stall_ms: u64,
    /// Delay before response headers.
    #[arg(long, default_value_t = 0)]
    pub first_byte_delay_ms: u64,
    /// Never send the usage chunk.
    #[arg(long)]
    pub no_usage: bool,
    /// Fraction of requests answered with `data: {"error": ...}` inside the stream.
    #[arg(long, default_value_t = 0.0)]
    pub in_stream_error_rate: f64,
    /// Fraction of connections closed after reading the request, before any response.
    #[arg(long, default_value_t = 0.0)]
    pub reset_before_headers_rate: f64,
    /// Fraction of requests answered 200 with a JSON body instead of a stream.
    #[arg(long, default_value_t = 0.0)]
    pub non_sse_rate: f64,
    /// Pad the first content event of every request to this many bytes.
    #[arg(long)]
    pub huge_event_bytes: Option<usize>,
    /// Write each stream N events at a time (an engine or proxy that buffers): the whole
    /// response in a few large writes
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub events_per_write: u32,
    /// A reasoning model: chat replies open with N reasoning chunks
    /// (`delta.reasoning_content`), part of `max_tokens`, reported in usage's
    /// `completion_tokens_details.reasoning_tokens`.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub reasoning_tokens: u32,
    /// Model a prefix cache: prompt blocks sent before are reported in usage's
    /// `prompt_tokens_details.cached_tokens` and skipped by prefill.
    #[arg(long)]
    pub prefix_cache: bool,
    /// Threads that spin for the server's whole life, each burning a core: an engine whose
    /// loop busy-polls while idle (as vLLM's CPU engine core was seen to), for trying
    /// llmsweep's idle-engine and busy-box warnings.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=256))]
    pub spin_threads: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ChartArg {
    /// Throughput, latency, TTFT.
    #[default]
    Standard,
    /// Also output tok/s, TPOT and error rate.
    Extended,
}

#[derive(Debug, Args, Clone)]
pub struct ReportArgs {
    /// results.json files; several are compared on one chart.
    #[arg(required = true, value_name = "RESULTS.json")]
    pub inputs: Vec<PathBuf>,
    /// Output folder [default: the first input's folder].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub chart: ChartArg,
    /// Also write SVG charts.
    #[arg(long)]
    pub svg: bool,
    /// Also write `vllm/`: one `vllm bench serve --save-result` file per (engine, level),
    /// from each input's results.json and requests.jsonl.
    #[arg(long)]
    pub vllm_json: bool,
    /// With --vllm-json: the per-request arrays too (`--save-detailed`: ttfts, latencies, …;
    /// itls when the run had `[run] request_itls = true`).
    #[arg(long, requires = "vllm_json")]
    pub vllm_detailed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_is_global_and_at_least_one() {
        let cli = Cli::try_parse_from(["llmsweep", "run", "--threads", "1"]).expect("valid");
        assert_eq!(cli.threads, Some(1));
        let cli = Cli::try_parse_from(["llmsweep", "--threads", "3", "sim"]).expect("valid");
        assert_eq!(cli.threads, Some(3));
        assert_eq!(
            Cli::try_parse_from(["llmsweep", "demo"])
                .expect("valid")
                .threads,
            None
        );
        for bad in ["0", "1025", "many"] {
            let e = Cli::try_parse_from(["llmsweep", "demo", "--threads", bad]).unwrap_err();
            assert!(e.to_string().contains("--threads"), "{e}");
        }
    }

    #[test]
    fn sim_takes_reasoning_tokens_and_a_prefix_cache() {
        let sim = |args: &[&str]| match Cli::try_parse_from(args).expect("valid").command {
            Command::Sim(a) => (a.reasoning_tokens, a.prefix_cache),
            _ => panic!("not sim"),
        };
        assert_eq!(sim(&["llmsweep", "sim"]), (0, false));
        assert_eq!(
            sim(&[
                "llmsweep",
                "sim",
                "--reasoning-tokens",
                "64",
                "--prefix-cache"
            ]),
            (64, true)
        );
    }

    #[test]
    fn check_takes_a_config_and_run_and_demo_take_no_check() {
        let check =
            Cli::try_parse_from(["llmsweep", "check", "--config", "b.toml"]).expect("valid");
        assert!(matches!(
            check.command,
            Command::Check(CheckArgs { config: Some(_) })
        ));
        for command in ["run", "demo"] {
            let cli = Cli::try_parse_from(["llmsweep", command, "--no-check"]).expect("valid");
            assert!(matches!(
                cli.command,
                Command::Run(RunArgs { no_check: true, .. })
                    | Command::Demo(RunArgs { no_check: true, .. })
            ));
        }
        let run = Cli::try_parse_from(["llmsweep", "run"]).expect("valid");
        assert!(matches!(
            run.command,
            Command::Run(RunArgs {
                no_check: false,
                ..
            })
        ));
    }
}
