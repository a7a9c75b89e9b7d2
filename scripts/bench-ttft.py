#!/usr/bin/env python3
"""Client-added TTFT at high concurrency, the client and the simulator each on a core of its own:

    [BEFORE=/path/to/llmsweep] VLLM_BENCH=/path/to/vllm-bench python3 scripts/bench-ttft.py [ROUNDS] [LEVELS]

Per request, the client's TTFT minus the simulator's own time from request to first token
(`llmsweep sim --timing-log`, joined on X-Request-Id): what the client adds by sending late and
reading late (vllm-bench, which stamps TTFT on the role-only chunk, against the simulator's
first chunk of any kind). `steady` paces every stream at 40 tok/s whatever the concurrency (25 ms steps),
16 tokens per request, 8 s per run after C warmup requests that open the connections. The
simulator runs under `taskset -c 1`, the client under `taskset -c 0` (llmsweep with
`--threads 1`; vllm-bench's runtime sizes itself to the one core it may use). LEVELS defaults
to 100,1000; ROUNDS to 1, the clients interleaved in each. Without VLLM_BENCH only llmsweep
is measured. vllm-bench's prompts: see scripts/bench-marginal.py (VLLM_BENCH_TOKENIZER).
Numbers: BENCHMARKS.md.
"""
import json, os, re, subprocess, sys, tempfile
import importlib.util

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("bl", os.path.join(HERE, "bench-load.py"))
bl = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bl)
LLMSWEEP = os.path.join(os.path.dirname(HERE), "target", "release", "llmsweep")
PEER = bl.PEER
# Another llmsweep build as a client column of its own (the simulator is always this tree's).
BEFORE = os.environ.get("BEFORE")
TOKENS = 16
SECONDS = 8


def start_sim(timing_log):
    cmd = ["taskset", "-c", "1", LLMSWEEP, "sim", "--port", "0", "--profile", "steady",
           "--timing-log", timing_log]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, preexec_fn=bl.raise_fd_limit)
    url = re.search(r"(http://\S+/v1/chat/completions)", proc.stdout.readline()).group(1)
    return proc, url


def server_ttft_ms(timing_log):
    """The simulator's (TTFT, first chunk) per request id, ms; a repeated id keeps its last
    request."""
    out = {}
    with open(timing_log) as f:
        for line in f:
            v = json.loads(line)
            out[v["request_id"]] = (v["server_ttft_us"] / 1e3, v["server_first_chunk_us"] / 1e3)
    return out


def run_llmsweep(url, c, work, server, binary=LLMSWEEP):
    bl.BIN = binary
    *_, run_dir = bl.run_client(url, [c], 1_000_000, TOKENS, work, threads=1,
                                prefix=["taskset", "-c", "0"],
                                extra=f"duration_s = {SECONDS}\nwarmup_requests = {c}")
    added = []
    with open(os.path.join(run_dir, "requests.jsonl")) as f:
        for line in f:
            v = json.loads(line)
            if v.get("ok") and v["request_id"] in server():
                added.append(v["ttft_ms"] - server()[v["request_id"]][0])
    return added


def run_peer(url, c, work, server):
    prefix = f"peer{c}-"
    out = os.path.join(work, "peer")
    prompts = c * SECONDS * 1000 // (TOKENS * 25)
    cmd = ["taskset", "-c", "0"] + bl.peer_command(
        url, TOKENS, prompts, c, c, out, extra=["--request-id-prefix", prefix, "--save-detailed"])
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, preexec_fn=bl.raise_fd_limit)
    with open(os.path.join(out, "r.json")) as f:
        res = json.load(f)
    added = []
    for i, (ttft, error) in enumerate(zip(res["ttfts"], res["errors"])):
        rid = f"{prefix}{i}"
        if not error and rid in server():
            # vllm-bench stamps TTFT on the role-only chunk: against the server's first chunk.
            added.append(ttft * 1e3 - server()[rid][1])
    return added


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    levels = [int(c) for c in (sys.argv[2] if len(sys.argv) > 2 else "100,1000").split(",")]
    clients = [("llmsweep", run_llmsweep)]
    if BEFORE:
        clients.append(("llmsweep before",
                        lambda url, c, work, server: run_llmsweep(url, c, work, server, BEFORE)))
    if PEER:
        clients.append(("vllm-bench", run_peer))
    bl.check_peer()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=os.path.dirname(HERE), check=True)
    print("| client | C | round | requests | client-added TTFT p50 / p99 / max (ms) |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as work:
        for c in levels:
            for r in range(rounds):
                for name, run in clients:
                    log = os.path.join(work, "timing.jsonl")
                    sim, url = start_sim(log)
                    try:
                        cache = {}

                        def server():
                            # Read once the client is done, when the log is complete.
                            if "v" not in cache:
                                cache["v"] = server_ttft_ms(log)
                            return cache["v"]
                        added = run(url, c, work, server)
                    finally:
                        bl.stop_sim(sim)
                        os.remove(log)
                    p = lambda q: bl.percentile(added, q)
                    print(f"| {name} | {c} | {r + 1} | {len(added):,} | {p(50):.2f} / {p(99):.2f} / "
                          f"{max(added):.2f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
