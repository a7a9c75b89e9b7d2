#!/usr/bin/env python3
"""Load benchmark of llmsweep's client: CPU per token and per request, concurrent streams held,
peak RSS, TTFT under load, and the dashboard's CPU and terminal bytes.

    python3 scripts/bench-load.py            # ~3-5 minutes on 2 cores; prints a Markdown table

The client (the release binary, `llmsweep run --headless`) and the simulator
(`llmsweep sim`, a separate process) share this machine, so every figure is an upper bound on
the client's own cost. CPU comes from getrusage of the client process alone.
"""
import json, os, re, resource, shutil, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "llmsweep")


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def start_sim(profile):
    proc = subprocess.Popen([BIN, "sim", "--port", "0", "--profile", profile], stdout=subprocess.PIPE,
                            text=True, preexec_fn=raise_fd_limit)
    line = proc.stdout.readline()
    url = re.search(r"(http://\S+/v1/chat/completions)", line).group(1)
    return proc, url


def run_client(url, levels, requests, max_tokens, workdir, extra=""):
    """Runs one headless sweep; returns (cpu_s, maxrss_kib, wall_s, results)."""
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
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    subprocess.run([BIN, "run", "--headless", "-c", cfg], check=True, stdout=subprocess.DEVNULL,
                   preexec_fn=raise_fd_limit)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    [run_dir] = os.listdir(out)
    with open(os.path.join(out, run_dir, "results.json")) as f:
        results = json.load(f)
    return cpu, after.ru_maxrss, wall, results


def totals(results):
    levels = results["engines"][0]["levels"]
    return (sum(l["total_output_tokens"] for l in levels), sum(l["completed"] for l in levels),
            sum(l["failed"] for l in levels), levels)


def main():
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="llmsweep-bench-")
    rows = []
    sim, url = start_sim("fast")
    try:
        # Fixed cost of a run (start-up, writing results and the chart): subtracted below.
        base_cpu, _, _, _ = run_client(url, [1], 1, 1, work)
        # Many tokens per request, then many requests with one token each: two equations
        # cpu = a × tokens + b × requests give the per-token and per-request costs.
        cpu_t, _, wall_t, res_t = run_client(url, [64], 2000, 512, work)
        tok_t, req_t, fail_t, lv_t = totals(res_t)
        cpu_r, _, wall_r, res_r = run_client(url, [64], 20000, 1, work)
        tok_r, req_r, fail_r, _ = totals(res_r)
        a_num = (cpu_t - base_cpu) * req_r - (cpu_r - base_cpu) * req_t
        a_den = tok_t * req_r - tok_r * req_t
        per_token_us = a_num / a_den * 1e6
        per_request_us = ((cpu_r - base_cpu) - per_token_us / 1e6 * tok_r) / req_r * 1e6
        rows.append(("client CPU per streamed token", f"{per_token_us:.2f} µs", "≤ 2 µs"))
        rows.append(("client CPU per request", f"{per_request_us:.1f} µs", "≤ 50 µs"))
        rows.append(("  (streaming run)", f"{tok_t:,} tokens, {req_t:,} requests, {fail_t} failed, {wall_t:.1f} s wall, "
                     f"{lv_t[0]['output_throughput']:,.0f} tok/s, {cpu_t - base_cpu:.2f} CPU-s", ""))
        rows.append(("  (request run)", f"{req_r:,} requests, {fail_r} failed, {wall_r:.1f} s wall, "
                     f"{cpu_r - base_cpu:.2f} CPU-s", ""))
        # TTFT with 1,000 streams in flight against a zero-cost server.
        _, _, _, res_1k = run_client(url, [1, 1000], 3000, 16, work)
        l1, l1k = res_1k["engines"][0]["levels"]
        rows.append(("TTFT p50 / p99 at C=1 (zero-cost server)", f"{l1['median_ttft_ms']:.2f} / {l1['p99_ttft_ms']:.2f} ms", ""))
        rows.append(("TTFT p50 / p99 at C=1000 (zero-cost server)", f"{l1k['median_ttft_ms']:.2f} / {l1k['p99_ttft_ms']:.2f} ms",
                     "client-added ≤ 1 ms p99 (upper bound: includes the server on the same cores)"))
    finally:
        sim.terminate()
        sim.wait()
    # 10,000 streams held open: the `fixed` profile keeps each stream open ≥ 60 ms and
    # queues beyond its batch of 256, so all 10,000 connections are open at once.
    sim, url = start_sim("fixed")
    try:
        cpu_10k, rss_10k, wall_10k, res_10k = run_client(url, [10000], 10000, 4, work)
        tok, req, fail, lv = totals(res_10k)
        rows.append(("concurrent streams held", f"{req:,} of 10,000 completed ({fail} failed) in {wall_10k:.1f} s", "≥ 10,000"))
        rows.append(("peak client RSS with 10,000 streams", f"{rss_10k / 1024:.1f} MiB = {rss_10k / 10000:.1f} KiB per stream",
                     "≤ 64 KB per stream"))
    finally:
        sim.terminate()
        sim.wait()
    print("| measure | result | budget |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
