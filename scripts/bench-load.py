#!/usr/bin/env python3
"""Load benchmark of llmsweep's client: CPU per token and per request, concurrent streams held,
peak RSS, TTFT under load, and the dashboard's CPU and terminal bytes.

    python3 scripts/bench-load.py            # ~3 minutes on 2 cores; prints a Markdown table

The client (the release binary, `llmsweep run --headless`) and the simulator
(`llmsweep sim`, a separate process) share this machine, so every figure is an upper bound on
the client's own cost. CPU comes from getrusage of the client process alone.
"""
import json, os, re, resource, shutil, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# BIN=... measures another build of the client (the simulator stays this checkout's).
BIN = os.environ.get("BIN") or os.path.join(ROOT, "target", "release", "llmsweep")
SIM_BIN = os.path.join(ROOT, "target", "release", "llmsweep")


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def start_sim(profile, timing_log=None):
    cmd = [SIM_BIN, "sim", "--port", "0", "--profile", profile]
    if timing_log:
        cmd += ["--timing-log", timing_log]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, preexec_fn=raise_fd_limit)
    line = proc.stdout.readline()
    url = re.search(r"(http://\S+/v1/chat/completions)", line).group(1)
    return proc, url


def stop_sim(proc):
    proc.terminate()
    proc.wait()


def run_client(url, levels, requests, max_tokens, workdir, extra="", threads=None, prefix=()):
    """Runs one headless sweep (its command after `prefix`, e.g. `taskset -c 0`); returns
    (user_s, sys_s, maxrss_kib, wall_s, results, run_dir)."""
    out = os.path.join(workdir, "out")
    shutil.rmtree(out, ignore_errors=True)
    cfg = os.path.join(workdir, "bench.toml")
    with open(cfg, "w") as f:
        f.write(f"""[run]
name = "bench"
out_dir = "{out}"
[[engines]]
name = "sim"
url = "{url}"
model = "sim"
[sweep]
levels = {json.dumps(levels)}
requests_per_level = {requests}
timeout_s = 600
{extra}
[request]
max_tokens = {max_tokens}
""")
    start = time.monotonic()
    cmd = list(prefix) + [BIN, "run", "--headless", "-c", cfg] + (["--threads", str(threads)] if threads else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, preexec_fn=raise_fd_limit)
    # wait4: this process's own CPU and peak RSS, not those of other children (the simulator).
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"llmsweep run failed with exit code {proc.returncode}")
    wall = time.monotonic() - start
    [run_dir] = os.listdir(out)
    run_dir = os.path.join(out, run_dir)
    with open(os.path.join(run_dir, "results.json")) as f:
        results = json.load(f)
    return usage.ru_utime, usage.ru_stime, usage.ru_maxrss, wall, results, run_dir


# vLLM's Rust benchmark client as a peer (scripts/bench-marginal.py, scripts/bench-ttft.py):
# VLLM_BENCH is its binary, VLLM_BENCH_TOKENIZER a directory with the tokenizer.json its random
# prompts need (default: the one ../shared/realengine/make_model.py trains).
PEER = os.environ.get("VLLM_BENCH")
PEER_TOKENIZER = os.environ.get("VLLM_BENCH_TOKENIZER",
                                os.path.expanduser("~/.cache/llmsweep-realengine/model"))


def check_peer():
    """Exits with a one-line error when VLLM_BENCH is set but its tokenizer is missing."""
    if PEER and not os.path.exists(os.path.join(PEER_TOKENIZER, "tokenizer.json")):
        sys.exit(f"VLLM_BENCH_TOKENIZER: no tokenizer.json in {PEER_TOKENIZER}")


def peer_command(url, tokens, prompts, concurrency, warmups, out, extra=()):
    """vllm-bench against the simulator at `url`: 16-token random prompts, `tokens` output
    tokens each (`--ignore-eos`), its result in `out`/r.json."""
    return [PEER, "--backend", "openai-chat", "--base-url", url.split("/v1/")[0],
            "--endpoint", "/v1/chat/completions", "--model", "sim", "--tokenizer", PEER_TOKENIZER,
            "--dataset-name", "random", "--random-input-len", "16",
            "--random-output-len", str(tokens), "--ignore-eos", "--num-prompts", str(prompts),
            "--max-concurrency", str(concurrency), "--num-warmups", str(warmups), "--disable-tqdm",
            "--save-result", "--result-dir", out, "--result-filename", "r.json", *extra]


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def client_added_ttft(run_dir, timing_log):
    """Per request: the client's TTFT minus the simulator's own (joined on X-Request-Id), ms."""
    server_us = {}
    with open(timing_log) as f:
        for line in f:
            v = json.loads(line)
            server_us[v["request_id"]] = v["server_ttft_us"]
    added = {}
    with open(os.path.join(run_dir, "requests.jsonl")) as f:
        for line in f:
            v = json.loads(line)
            if v.get("ok") and v.get("request_id") in server_us:
                added.setdefault(v["level"], []).append(v["ttft_ms"] - server_us[v["request_id"]] / 1e3)
    return added


def totals(results):
    levels = results["engines"][0]["levels"]
    return (sum(l["total_output_tokens"] for l in levels), sum(l["completed"] for l in levels),
            sum(l["failed"] for l in levels), levels)


REPEATS = 3


def main():
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="llmsweep-bench-")
    rows = []
    sim, url = start_sim("fast")
    try:
        # Many tokens per request, then many requests with one token each: two equations
        # cpu = a × tokens + b × requests give the per-token and per-request costs, for user
        # and kernel time separately, after subtracting a one-request run's fixed cost
        # (start-up, writing results and the chart). Each run is repeated; medians are used.
        # With the default threads (one per core) the client's two threads and the simulator
        # share two cores; `--threads 1` gives each its own.
        for threads in (None, 1):
            label = "" if threads is None else " (--threads 1)"
            base = [run_client(url, [1], 1, 1, work, threads=threads) for _ in range(REPEATS)]
            stream = [run_client(url, [64], 2000, 512, work, threads=threads) for _ in range(REPEATS)]
            short = [run_client(url, [64], 20000, 1, work, threads=threads) for _ in range(REPEATS)]
            tok_t, req_t, fail_t, lv_t = totals(stream[0][4])
            tok_r, req_r, fail_r, _ = totals(short[0][4])
            costs = {}
            for kind, i in (("user", 0), ("kernel", 1)):
                b = median([r[i] for r in base])
                cpu_t = median([r[i] for r in stream]) - b
                cpu_r = median([r[i] for r in short]) - b
                a = (cpu_t * req_r - cpu_r * req_t) / (tok_t * req_r - tok_r * req_t)
                costs[kind] = (a * 1e6, (cpu_r - a * tok_r) / req_r * 1e6)
            per_token = costs["user"][0] + costs["kernel"][0]
            per_request = costs["user"][1] + costs["kernel"][1]
            if threads is None:
                per_request_default_us = per_request
            rows.append((f"client CPU per streamed token{label}", f"{per_token:.2f} µs (user {costs['user'][0]:.2f} + "
                         f"kernel {costs['kernel'][0]:.2f})", "≤ 2 µs"))
            rows.append((f"client CPU per request{label}", f"{per_request:.1f} µs (user {costs['user'][1]:.1f} + "
                         f"kernel {costs['kernel'][1]:.1f})", "≤ 50 µs"))
            walls = ", ".join(f"{r[3]:.1f}" for r in stream)
            rows.append((f"  (streaming runs{label})", f"{tok_t:,} tokens, {req_t:,} requests, {fail_t} failed; wall "
                         f"{walls} s; {lv_t[0]['output_throughput']:,.0f} tok/s", ""))
            walls = ", ".join(f"{r[3]:.1f}" for r in short)
            rows.append((f"  (request runs{label})", f"{req_r:,} requests × 1 token, {fail_r} failed; wall {walls} s", ""))
    finally:
        stop_sim(sim)
    # Client-added TTFT: per request, the client's TTFT minus the simulator's own time from
    # request to first token (its --timing-log, joined on X-Request-Id). `steady` paces every
    # stream at 40 tok/s whatever the concurrency, as a busy GPU engine does; each level runs
    # 8 s after a warmup that opens its connections.
    timing_log = os.path.join(work, "timing.jsonl")
    sim, url = start_sim("steady", timing_log)
    try:
        for c, threads in ((1, None), (100, None), (1000, None), (1000, 1)):
            _, _, _, _, res, run_dir = run_client(url, [c], 1_000_000, 16, work, threads=threads,
                                                  extra=f"duration_s = 8\nwarmup_requests = {c}")
            [level] = res["engines"][0]["levels"]
            values = client_added_ttft(run_dir, timing_log).get(c, [])
            if not values:
                rows.append((f"client-added TTFT at C={c}", "n/a: this client sends no X-Request-Id", ""))
                continue
            label = "" if threads is None else " (--threads 1)"
            rows.append((f"client-added TTFT at C={c}{label}, 40 tok/s per stream (p50 / p99 / max)",
                         f"{percentile(values, 50):.3f} / {percentile(values, 99):.3f} / {max(values):.3f} ms over "
                         f"{len(values):,} requests; {level['output_throughput']:,.0f} tok/s; client "
                         f"{level['client_cpu_cores']:.2f} cores, loop lag p99 {level['client_loop_lag_p99_ms']:.1f} ms",
                         "≤ 1 ms p99 at C=1000" if c == 1000 else ""))
        # Per-token CPU when every read carries one token, as from a real engine's paced
        # steps: 1,000 streams at 40 tok/s, 2,000 requests × 256 tokens; the per-request cost
        # measured above and the fixed cost are subtracted.
        base = median([sum(run_client(url, [1], 1, 1, work)[:2]) for _ in range(REPEATS)])
        user, kernel, _, wall, res, _ = run_client(url, [1000], 2000, 256, work,
                                                   extra="warmup_requests = 0")
        tok, req, fail, _ = totals(res)
        paced_us = ((user + kernel - base) * 1e6 - per_request_default_us * req) / tok
        rows.append(("client CPU per streamed token, one token per read (steady, C=1000)",
                     f"{paced_us:.1f} µs ({tok:,} tokens, {req:,} requests, {fail} failed, {wall:.1f} s; "
                     f"user {user:.2f} + kernel {kernel:.2f} CPU-s)", "≤ 2 µs"))
    finally:
        if sim:
            stop_sim(sim)
    # 10,000 streams held open: the `fixed` profile keeps each stream open ≥ 60 ms and
    # queues beyond its batch of 256, so all 10,000 connections are open at once.
    sim, url = start_sim("fixed")
    try:
        _, _, rss_10k, wall_10k, res_10k, _ = run_client(url, [10000], 10000, 4, work)
        tok, req, fail, lv = totals(res_10k)
        rows.append(("concurrent streams held", f"{req:,} of 10,000 completed ({fail} failed) in {wall_10k:.1f} s", "≥ 10,000"))
        rows.append(("peak client RSS with 10,000 streams", f"{rss_10k / 1024:.1f} MiB = {rss_10k / 10000:.1f} KiB per stream",
                     "≤ 64 KB per stream"))
    finally:
        stop_sim(sim)
    print("| measure | result | budget |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
