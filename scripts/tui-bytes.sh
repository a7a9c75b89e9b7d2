#!/usr/bin/env bash
# Measures how many bytes the dashboard writes to the terminal during a full `llmsweep demo`
# at 120×40: runs the release binary under `script` (a pseudo-terminal) with
# `--exit-on-finish`, then prints total bytes, run seconds and bytes per second. Then runs
# the same demo `--headless` and prints the dashboard's CPU: the difference in user+system
# time between the two runs, as a share of one core over the run.
#
# Usage: scripts/tui-bytes.sh [extra demo flags...]
#   BIN=path/to/llmsweep   use this binary instead of building target/release/llmsweep
#   TYPESCRIPT=file        where to keep the raw terminal output [/tmp/llmsweep-typescript]
# Targets: ≤ 10 KB/s on average, ≤ 3 % of one core.
set -euo pipefail

cd "$(dirname "$0")/.."
if [[ -z "${BIN:-}" ]]; then
    cargo build --release --quiet
    BIN="$PWD/target/release/llmsweep"
fi
command -v script >/dev/null || { echo "error: script (util-linux) is required" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "error: /usr/bin/time (GNU time) is required" >&2; exit 2; }

TYPESCRIPT="${TYPESCRIPT:-/tmp/llmsweep-typescript}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

quote() { printf '%q' "$1"; }
extra=""
for arg in "$@"; do extra+=" $(quote "$arg")"; done
inner="stty cols 120 rows 40; export TERM=xterm-256color; \
$(quote "$BIN") demo --exit-on-finish --out $(quote "$OUT")$extra"

start=$(date +%s.%N)
# stdin from /dev/null: no stray keys reach the dashboard.
/usr/bin/time -o "$OUT/tui.time" -f "%U %S" script -q -e -c "$inner" "$TYPESCRIPT" </dev/null >/dev/null
end=$(date +%s.%N)
/usr/bin/time -o "$OUT/headless.time" -f "%U %S" "$BIN" demo --headless --out "$OUT/headless" "$@" >/dev/null

# The typescript starts with a "Script started on …" line and ends with "\nScript done on …".
total=$(wc -c <"$TYPESCRIPT")
header=$(head -n 1 "$TYPESCRIPT" | wc -c)
footer=0
if tail -n 1 "$TYPESCRIPT" | grep -q '^Script done'; then
    footer=$(( $(tail -n 1 "$TYPESCRIPT" | wc -c) + 1 ))
fi
bytes=$(( total - header - footer ))

read -r tui_user tui_sys <"$OUT/tui.time"
read -r hl_user hl_sys <"$OUT/headless.time"
awk -v b="$bytes" -v s="$start" -v e="$end" -v tu="$tui_user" -v ts="$tui_sys" \
    -v hu="$hl_user" -v hs="$hl_sys" 'BEGIN {
    secs = e - s
    printf "terminal bytes:  %d\n", b
    printf "run seconds:     %.1f\n", secs
    printf "bytes/s:         %.0f (%.2f KB/s; target <= 10 KB/s)\n", b / secs, b / secs / 1024
    d = (tu + ts) - (hu + hs)
    printf "dashboard CPU:   %.2f - %.2f = %.2f CPU-s over %.1f s = %.1f%% of one core (target <= 3%%)\n", \
        tu + ts, hu + hs, d, secs, 100 * d / secs
}'
