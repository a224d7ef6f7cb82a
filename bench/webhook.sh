#!/usr/bin/env bash
# /webhook with durable commits: messages per second, p99 and peak RSS.
#
#   bench/webhook.sh
#   env: FA_BIN (build/frustration-alert), BENCH_SECONDS (10 per wrk run),
#        BENCH_RUNS (3 rounds; the median is reported),
#        BENCH_CONNECTIONS (64), BENCH_THREADS (2), BENCH_BATCH (10),
#        BENCH_LOG_LEVEL (warn: no per-request log lines)
#
# wrk posts one message per request (bench/webhook.lua: a unique
# message_id per message, calm and frustrated texts from 5000 customers),
# then batches of BENCH_BATCH messages ({"messages": [...]}). The server
# runs on a fresh SQLite store in a temp directory with its defaults (WAL,
# synchronous=FULL: every 200 is on disk) in record-only mode, so alerts
# and their outbox entries are written too. Prints messages/s and p99 per
# variant, the group commit's batching, and the server's peak RSS (VmHWM),
# against the target: >= 10,000 messages/s. Loopback only; the server is
# killed on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=${FA_BIN:-$root/build/frustration-alert}
secs=${BENCH_SECONDS:-10}
runs=${BENCH_RUNS:-3}
conns=${BENCH_CONNECTIONS:-64}
wthreads=${BENCH_THREADS:-2}
batch=${BENCH_BATCH:-10}
py=/usr/bin/python3

tmp=$(mktemp -d)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
bench_need webhook.sh wrk "$py" curl
[ -x "$bin" ] || { echo "webhook.sh: $bin not built (make build)" >&2; exit 1; }

pid=
cleanup() {
  [ -n "$pid" ] && stop_pids "$pid"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(free_port)
env -u DEVREV_API_TOKEN HOST=127.0.0.1 PORT="$port" \
  LOG_LEVEL=${BENCH_LOG_LEVEL:-warn} DATABASE_URL="$tmp/bench.db" \
  "$bin" serve 2>"$tmp/server.log" &
pid=$!
url=http://127.0.0.1:$port
for _ in $(seq 150); do
  curl -s -o /dev/null "$url/health" && break
  sleep 0.1
done
curl -s -o /dev/null "$url/health" || {
  echo "webhook.sh: the server did not start:" >&2
  cat "$tmp/server.log" >&2
  exit 1
}

wrk_threads=$wthreads wrk_conns=$conns wrk_secs=$secs
metric() { curl -s "$url/metrics" | awk -v n="$1" '$1 == n {print $2}'; }

echo "wrk -t$wthreads -c$conns -d${secs}s --latency, $runs round(s), $(nproc) cores; SQLite WAL synchronous=FULL"
for r in $(seq "$runs"); do
  for b in 1 "$batch"; do
    read -r rps p99 < <(WEBHOOK_BATCH=$b WEBHOOK_RUN="r$r-b$b" \
      wrk_measure "$url/webhook" "$here/webhook.lua")
    msgs=$(awk -v r="$rps" -v b="$b" 'BEGIN {printf "%.0f", r * b}')
    echo "$msgs" >>"$tmp/b$b.msgs"
    echo "$p99" >>"$tmp/b$b.p99"
    printf 'round %d  batch %-3s %10.0f req/s %10.0f msg/s  p99 %8.2f ms\n' \
      "$r" "$b" "$rps" "$msgs" "$p99"
  done
done
rss_mib=$(peak_rss_mib "$pid")
commits=$(metric fa_store_commits_total)
committed=$(metric fa_store_messages_committed_total)
failures=$(metric fa_store_commit_failures_total)

echo
printf '%-34s %12s %10s\n' "POST /webhook (durable)" "messages/s" "p99 ms"
m1=$(median <"$tmp/b1.msgs")
mb=$(median <"$tmp/b$batch.msgs")
printf '%-34s %12.0f %10.2f\n' "one message per request" "$m1" "$(median <"$tmp/b1.p99")"
printf '%-34s %12.0f %10.2f\n' "batches of $batch" "$mb" "$(median <"$tmp/b$batch.p99")"
echo
per_commit=$(awk -v m="$committed" -v c="$commits" \
  'BEGIN {printf "%.1f", (c > 0) ? m / c : 0}')
echo "committed $committed messages in $commits transactions ($per_commit" \
  "per fsync'd commit), $failures failed"
echo "one message per request: $m1 msg/s (target >= 10000: $(verdict "$m1" 10000))"
echo "peak RSS of the server (VmHWM): $rss_mib MiB"
