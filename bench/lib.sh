# Shared pieces of bench/http.sh and bench/webhook.sh (sourced, not run).
# The caller sets `tmp` (a scratch directory) and `py` (python3) first.

# Exits unless every tool named is on PATH. Usage: bench_need NAME TOOL...
bench_need() {
  local name=$1 tool
  shift
  for tool in "$@"; do
    command -v "$tool" >/dev/null || {
      echo "$name: $tool is missing (scripts/install-deps.sh bench)" >&2
      exit 1
    }
  done
}

# A free TCP port on 127.0.0.1.
free_port() {
  "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits up to 15 s for any HTTP answer at URL.
wait_http() { # URL
  for _ in $(seq 150); do
    if "$py" - "$1" <<'PY' 2>/dev/null; then return 0; fi
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=1)
except urllib.error.HTTPError:
    pass
PY
    sleep 0.1
  done
  echo "bench: nothing answers at $1" >&2
  return 1
}

# Kills the pids given (TERM, then KILL after 5 s).
stop_pids() {
  local p
  for p in "$@"; do kill "$p" 2>/dev/null || true; done
  for p in "$@"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
}

# One wrk run with --latency; prints "REQUESTS_PER_S P99_MS" and reports
# non-2xx answers and socket errors on stderr. Usage: wrk_measure URL
# [LUA] (with wrk_threads, wrk_conns and wrk_secs set by the caller;
# wrk_out, default $tmp/wrk.out, keeps wrk's output: runs at once need
# one each).
wrk_measure() {
  local args=(-t"$wrk_threads" -c"$wrk_conns" -d"${wrk_secs}s" --latency)
  local out=${wrk_out:-$tmp/wrk.out}
  [ -n "${2:-}" ] && args+=(-s "$2")
  wrk "${args[@]}" "$1" >"$out" 2>&1 || true
  local rps p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  p99=$(awk '$1 == "99%" {print $2}' "$out")
  # wrk prints latencies as 1.23ms, 456.00us or 1.02s.
  p99=$(echo "$p99" | awk '/us$/ {sub("us",""); print $1/1000; next}
    /ms$/ {sub("ms",""); print $1; next} /s$/ {sub("s",""); print $1*1000}')
  if grep -q 'Non-2xx\|Socket errors' "$out"; then
    echo "bench: errors from $1:" >&2
    grep 'Non-2xx\|Socket errors' "$out" >&2
  fi
  echo "${rps:-0} ${p99:-0}"
}

# The median of the numbers on standard input, one per line.
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}'; }
verdict() { awk -v v="$1" -v t="$2" 'BEGIN {print (v >= t) ? "met" : "MISSED"}'; }

# Peak resident memory of PID in MiB (VmHWM).
peak_rss_mib() {
  awk '/^VmHWM:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"
}
