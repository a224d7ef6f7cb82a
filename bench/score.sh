#!/usr/bin/env bash
# Scoring throughput: `frustration-alert score` against TextBlob itself
# (`TextBlob(text).sentiment` per line, bench/score_peer.py) on the same
# corpus, both pinned to one core, interleaved, repeated.
#
#   bench/score.sh [CORPUS]     (default: tests/data/textblob_golden.jsonl)
#   env: BENCH_RUNS (3), BENCH_REPEAT (copies of the corpus fed to C, 20;
#        TextBlob reads it once), FRUSTRATION_DETECTOR (model, the
#        default: every line's language, the model's score, level and
#        reasons; polarity: the language and TextBlob's two scores; the
#        peer stays TextBlob), TEXTBLOB_PATH (where TextBlob
#        is, when Python does not find it: see bench/README.md)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=${FA_BIN:-$root/build/frustration-alert}
corpus=${1:-$root/tests/data/textblob_golden.jsonl}
runs=${BENCH_RUNS:-3}
repeat=${BENCH_REPEAT:-20}
py=/usr/bin/python3
[ -x "$py" ] || py=python3

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Keep only id and text: the input a user would score (the golden file also
# carries TextBlob's answers, which `score` would have to replace).
"$py" -c 'import json, sys
for line in sys.stdin:
    o = json.loads(line)
    print(json.dumps({"id": o.get("id"), "text": o["text"]}))' <"$corpus" >"$tmp/corpus.jsonl"
corpus_name=$(basename "$corpus")
corpus=$tmp/corpus.jsonl
n=$(grep -c . "$corpus")
for _ in $(seq "$repeat"); do cat "$corpus"; done >"$tmp/big.jsonl"
# Warm the page cache and check both work before timing.
"$bin" score <"$corpus" >/dev/null
# The peer is TextBlob itself; without it there is nothing to compare with.
peer=$("$py" "$here/textblob_peer.py") || exit 1
echo "peer: $peer"
peer=TextBlob

# Each run is timed twice: wall clock, and CPU time (user + system, from
# bash's time), which leaves out the time a process waits for the core on
# a shared machine. The CPU ratio is the median of the runs' own ratios:
# the two sides of a run met the same load.
now() { date +%s.%N; }
cpu() { # cpu FILE: seconds of CPU time bash's time wrote there
  awk '{print $1 + $2}' "$1"
}
TIMEFORMAT='%3U %3S'
c_rates=() p_rates=() ratios_cpu=()
for r in $(seq "$runs"); do
  t0=$(now)
  { time taskset -c 0 "$bin" score <"$tmp/big.jsonl" >/dev/null; } 2>"$tmp/c.time"
  t1=$(now)
  c_rates+=("$(echo "$n * $repeat / ($t1 - $t0)" | bc -l)")
  c_cpu=$(echo "$n * $repeat / $(cpu "$tmp/c.time")" | bc -l)
  t0=$(now)
  { time taskset -c 0 "$py" "$here/score_peer.py" <"$corpus" >/dev/null; } 2>"$tmp/p.time"
  t1=$(now)
  p_rates+=("$(echo "$n / ($t1 - $t0)" | bc -l)")
  p_cpu=$(echo "$n / $(cpu "$tmp/p.time")" | bc -l)
  ratios_cpu+=("$(echo "$c_cpu / $p_cpu" | bc -l)")
  printf 'run %d: frustration-alert %.0f msg/s (CPU time: %.0f), %s %.0f msg/s (CPU time: %.0f), CPU ratio %.1f\n' \
    "$r" "${c_rates[-1]}" "$c_cpu" "$peer" "${p_rates[-1]}" "$p_cpu" "${ratios_cpu[-1]}"
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
minmax() { printf '%s\n' "$@" | sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%.0f..%.0f", lo, hi}'; }
cm=$(median "${c_rates[@]}")
pm=$(median "${p_rates[@]}")
printf '\nscore (detector: %s) on %s (%d messages, one core, median of %d runs)\n' \
  "${FRUSTRATION_DETECTOR:-model}" "$corpus_name" "$n" "$runs"
printf '  frustration-alert score : %10.0f msg/s  (range %s)\n' "$cm" "$(minmax "${c_rates[@]}")"
printf '  %-23s : %10.0f msg/s  (range %s)\n' "$peer" "$pm" "$(minmax "${p_rates[@]}")"
printf '  ratio                   : %10.1f x\n' "$(echo "$cm / $pm" | bc -l)"
printf '  ratio of CPU times      : %10.1f x  (median of the runs; range %s)\n' \
  "$(median "${ratios_cpu[@]}")" "$(printf '%s\n' "${ratios_cpu[@]}" | sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%.1f..%.1f", lo, hi}')"
