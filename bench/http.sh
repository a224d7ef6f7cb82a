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

tmp=$(mktemp -d)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
bench_need http.sh wrk nginx "$gunicorn" "$py"
[ -x "$bin" ] || { echo "http.sh: $bin not built (make build)" >&2; exit 1; }
# The Flask peer scores with TextBlob itself: stop here when it is missing.
"$py" "$here/textblob_peer.py" >/dev/null || exit 1

pids=()
cleanup() {
  stop_pids "${pids[@]}"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

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
peer=$("$py" "$here/textblob_peer.py")

wrk_threads=$wthreads wrk_conns=$conns wrk_secs=$secs

names=(ours_slash ours_health flask_slash flask_health nginx_post nginx_get)
urls=("$ours/slash-analyze" "$ours/health" "$flask/slash-analyze"
  "$flask/health" "$nginx/" "$nginx/")
luas=("$here/slash.lua" "" "$here/slash.lua" "" "$here/slash.lua" "")

echo "wrk -t$wthreads -c$conns -d${secs}s --latency, $runs interleaved round(s), $(nproc) cores"
echo "peer: Flask + $peer under gunicorn -w $(nproc); nginx $(nginx -v 2>&1 | sed 's/.*\///')"
for r in $(seq "$runs"); do
  for i in "${!names[@]}"; do
    read -r rps p99 < <(wrk_measure "${urls[$i]}" "${luas[$i]}")
    echo "$rps" >>"$tmp/${names[$i]}.rps"
    echo "$p99" >>"$tmp/${names[$i]}.p99"
    printf 'round %d  %-13s %10.0f req/s  p99 %8.2f ms\n' "$r" "${names[$i]}" "$rps" "$p99"
  done
done
rss_mib=$(peak_rss_mib "$ours_pid")

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

r_flask=$(ratio "${med[ours_slash]}" "${med[flask_slash]}")
r_nginx=$(ratio "${med[ours_slash]}" "${med[nginx_post]}")
r_nginx_get=$(ratio "${med[ours_health]}" "${med[nginx_get]}")
echo
echo "/slash-analyze ours/flask: ${r_flask}x (target >= 20: $(verdict "$r_flask" 20))"
echo "/slash-analyze ours/nginx POST: ${r_nginx} (target >= 0.70: $(verdict "$r_nginx" 0.70))"
echo "/health ours/nginx GET: ${r_nginx_get}"
echo "peak RSS of our server (VmHWM): ${rss_mib} MiB (target < 32: $(verdict 32 "$rss_mib"))"
