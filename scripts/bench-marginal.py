#!/usr/bin/env python3
"""Marginal client CPU per streamed token on two server shapes: one write per token and
bursty (128 events per write), as the difference of 6,400 and 64 requests at C=64 with 512
output tokens against `llmsweep sim --profile fast`. Two client builds are interleaved:

    BEFORE=/path/to/old/llmsweep VLLM_BENCH=/path/to/vllm-bench \
        python3 scripts/bench-marginal.py [ROUNDS]

Without BEFORE only this checkout's release build is measured. With VLLM_BENCH, vLLM's Rust
benchmark client (github.com/vllm-project/vllm-bench, built from its source) runs the same
shapes against the same simulator as a peer column: `--dataset-name random` with 16-token
prompts (llmsweep's built-in prompts are 12-20 tokens), `--ignore-eos`, and the tokenizer in
VLLM_BENCH_TOKENIZER (a directory with a tokenizer.json; default the one
../shared/realengine/make_model.py trains, ~/.cache/llmsweep-realengine/model; vllm-bench's
built-in tiktoken encodings panic on some of the random token ids it draws). Its marginal cost includes making its random
prompts (tokenizer encode/decode per request), as a user of it pays. Numbers: BENCHMARKS.md.
"""
import json, os, sys, tempfile, subprocess, re
import importlib.util
HERE = os.path.dirname(os.path.abspath(__file__))
AFTER = os.path.join(os.path.dirname(HERE), "target", "release", "llmsweep")
spec = importlib.util.spec_from_file_location("bl", os.path.join(HERE, "bench-load.py"))
bl = importlib.util.module_from_spec(spec); spec.loader.exec_module(bl)
bl.SIM_BIN = AFTER
BUILDS = ([("before", os.environ["BEFORE"])] if os.environ.get("BEFORE") else []) + [("after", AFTER)]
PEER = bl.PEER
bl.check_peer()
if PEER:
    BUILDS.append(("vllm-bench", PEER))
def start(per_write):
    cmd = [bl.SIM_BIN, "sim", "--port", "0", "--profile", "fast", "--events-per-write", str(per_write)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, preexec_fn=bl.raise_fd_limit)
    url = re.search(r"(http://\S+/v1/chat/completions)", p.stdout.readline()).group(1)
    return p, url
def peer_cpu(url, n, work):
    """vllm-bench's (user+sys, user, maxrss KiB, output tokens) for n requests at C=64."""
    out = os.path.join(work, "peer")
    cmd = bl.peer_command(url, 512, n, 64, 0, out)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, preexec_fn=bl.raise_fd_limit)
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, f"vllm-bench failed: {cmd}"
    with open(os.path.join(out, "r.json")) as f:
        res = json.load(f)
    assert res["failed"] == 0, res["failed"]
    return usage.ru_utime + usage.ru_stime, usage.ru_utime, usage.ru_maxrss, res["total_output_tokens"]
def cpu(binary, url, n, work):
    if binary is PEER:
        return peer_cpu(url, n, work)
    bl.BIN = binary
    u, s, rss, wall, res, _ = bl.run_client(url, [64], n, 512, work, extra="warmup_requests = 0")
    toks, done, failed, _ = bl.totals(res)
    assert failed == 0, failed
    return u + s, u, rss, toks
shapes = [("one-write", 1), ("bursty", 128)]
rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
with tempfile.TemporaryDirectory() as work:
    for name, per in shapes:
        sim, url = start(per)
        for r in range(rounds):
            for label, binary in BUILDS:
                small = cpu(binary, url, 64, work)
                big = cpu(binary, url, 6400, work)
                marg = (big[0] - small[0]) / (big[3] - small[3]) * 1e6
                margu = (big[1] - small[1]) / (big[3] - small[3]) * 1e6
                print(f"{name:9} {label:6} run {r+1}: {marg:.2f} us/token (user {margu:.2f}), rss {big[2]/1024:.1f} MiB, tokens {big[3]}", flush=True)
        bl.stop_sim(sim)
