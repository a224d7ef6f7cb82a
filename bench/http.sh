#!/usr/bin/env bash
# HTTP throughput: our server against the Flask peer (gunicorn, one worker
# per core) and nginx returning a fixed JSON body, in one run, on loopback.
#
#   bench/http.sh
#   env: FA_BIN (build/frustration-alert), BENCH_SECONDS (10 per wrk run),
#        BENCH_RUNS (3 interleaved rounds; the median is reported),
#        BENCH_CONNECTIONS (64), BENCH_THREADS (2), BENCH_LOG_LEVEL (warn:
#        per-request log lines off, as nginx's access_log is off here)
#
# Prints requests/s and p99 latency (wrk --latency) per server and
# endpoint, the peak RSS of our server (VmHWM) and the ratios against the
# targets: /slash-analyze >= 20x Flask and >= 70% of nginx, RSS < 32 MiB.
# Everything listens on 127.0.0.1 only and is killed on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=${FA_BIN:-$root/build/frustration-alert}
secs=${BENCH_SECONDS:-10}
runs=${BENCH_RUNS:-3}
conns=${BENCH_CONNECTIONS:-64}
wthreads=${BENCH_THREADS:-2}
py=/usr/bin/python3
gunicorn=/usr/bin/gunicorn

for tool in wrk nginx "$gunicorn" "$py"; do
  command -v "$tool" >/dev/null || {
    echo "http.sh: $tool is missing (scripts/install-deps.sh bench)" >&2
    exit 1
  }
done
[ -x "$bin" ] || { echo "http.sh: $bin not built (make build)" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_http() { # URL: waits up to 15 s for any HTTP answer
  for _ in $(seq 150); do
    if "$py" - "$1" <<'EOF' 2>/dev/null; then return 0; fi
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=1)
except urllib.error.HTTPError:
    pass
EOF
    sleep 0.1
  done
  echo "http.sh: nothing answers at $1" >&2
  return 1
}

# --- our server ---
ours_port=$(free_port)
HOST=127.0.0.1 PORT=$ours_port LOG_LEVEL=${BENCH_LOG_LEVEL:-warn} \
  "$bin" serve 2>"$tmp/ours.log" &
ours_pid=$!
pids+=("$ours_pid")
ours=http://127.0.0.1:$ours_port

# --- Flask peer under gunicorn, one worker per core ---
flask_port=$(free_port)
"$gunicorn" -w "$(nproc)" -b "127.0.0.1:$flask_port" --chdir "$here" \
  --log-level warning flask_peer:app 2>"$tmp/flask.log" &
pids+=($!)
flask=http://127.0.0.1:$flask_port

# --- nginx, fixed body ---
nginx_port=$(free_port)
sed -e "s#@DIR@#$tmp#g" -e "s#@PORT@#$nginx_port#g" "$here/nginx.conf.in" \
  >"$tmp/nginx.conf"
nginx -p "$tmp" -c "$tmp/nginx.conf" 2>"$tmp/nginx-start.log" &
pids+=($!)
nginx=http://127.0.0.1:$nginx_port

wait_http "$ours/health"
wait_http "$flask/health"
wait_http "$nginx/"
peer=$(cd "$here" && "$py" -c 'from textblob_peer import NAME; print(NAME)')

# One wrk run: prints "REQS P99_MS".
measure() { # URL [LUA]
  local args=(-t"$wthreads" -c"$conns" -d"${secs}s" --latency)
  [ -n "${2:-}" ] && args+=(-s "$2")
  wrk "${args[@]}" "$1" >"$tmp/wrk.out" 2>&1 || true
  local rps p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk.out")
  p99=$(awk '$1 == "99%" {print $2}' "$tmp/wrk.out")
  # wrk prints latencies as 1.23ms, 456.00us or 1.02s.
  p99=$(echo "$p99" | awk '/us$/ {sub("us",""); print $1/1000; next}
    /ms$/ {sub("ms",""); print $1; next} /s$/ {sub("s",""); print $1*1000}')
  if grep -q 'Non-2xx' "$tmp/wrk.out"; then
    echo "http.sh: non-2xx answers from $1:" >&2
    grep 'Non-2xx' "$tmp/wrk.out" >&2
  fi
  echo "${rps:-0} ${p99:-0}"
}

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

names=(ours_slash ours_health flask_slash flask_health nginx_post nginx_get)
urls=("$ours/slash-analyze" "$ours/health" "$flask/slash-analyze"
  "$flask/health" "$nginx/" "$nginx/")
luas=("$here/slash.lua" "" "$here/slash.lua" "" "$here/slash.lua" "")

echo "wrk -t$wthreads -c$conns -d${secs}s --latency, $runs interleaved round(s), $(nproc) cores"
echo "peer: Flask + $peer under gunicorn -w $(nproc); nginx $(nginx -v 2>&1 | sed 's/.*\///')"
for r in $(seq "$runs"); do
  for i in "${!names[@]}"; do
    read -r rps p99 < <(measure "${urls[$i]}" "${luas[$i]}")
    echo "$rps" >>"$tmp/${names[$i]}.rps"
    echo "$p99" >>"$tmp/${names[$i]}.p99"
    printf 'round %d  %-13s %10.0f req/s  p99 %8.2f ms\n' "$r" "${names[$i]}" "$rps" "$p99"
  done
done
rss_kib=$(awk '/^VmHWM:/ {print $2}' "/proc/$ours_pid/status")

echo
printf '%-32s %12s %12s\n' "server and endpoint" "req/s" "p99 ms"
labels=("ours  POST /slash-analyze" "ours  GET /health"
  "flask POST /slash-analyze" "flask GET /health"
  "nginx POST (fixed body)" "nginx GET (fixed body)")
declare -A med
for i in "${!names[@]}"; do
  med[${names[$i]}]=$(median <"$tmp/${names[$i]}.rps")
  p=$(median <"$tmp/${names[$i]}.p99")
  printf '%-32s %12.0f %12.2f\n' "${labels[$i]}" "${med[${names[$i]}]}" "$p"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}'; }
verdict() { awk -v v="$1" -v t="$2" 'BEGIN {print (v >= t) ? "met" : "MISSED"}'; }
r_flask=$(ratio "${med[ours_slash]}" "${med[flask_slash]}")
r_nginx=$(ratio "${med[ours_slash]}" "${med[nginx_post]}")
r_nginx_get=$(ratio "${med[ours_health]}" "${med[nginx_get]}")
rss_mib=$(awk -v k="$rss_kib" 'BEGIN {printf "%.1f", k / 1024}')
echo
echo "/slash-analyze ours/flask: ${r_flask}x (target >= 20: $(verdict "$r_flask" 20))"
echo "/slash-analyze ours/nginx POST: ${r_nginx} (target >= 0.70: $(verdict "$r_nginx" 0.70))"
echo "/health ours/nginx GET: ${r_nginx_get}"
echo "peak RSS of our server (VmHWM): ${rss_mib} MiB (target < 32: $(verdict 32 "$rss_mib"))"
