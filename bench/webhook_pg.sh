#!/usr/bin/env bash
# /webhook with durable commits on SQLite and on PostgreSQL, one and two
# instances: messages per second, p99.
#
#   bench/webhook_pg.sh
#   env: FA_BIN (build/frustration-alert), BENCH_SECONDS (10 per wrk run),
#        BENCH_RUNS (3 rounds; the median is reported),
#        BENCH_CONNECTIONS (64 in all), BENCH_BATCH (10),
#        BENCH_LOG_LEVEL (warn), BENCH_PG_LOG_STATEMENTS (unset; 1 logs
#        every statement with its duration in the PostgreSQL server log,
#        kept as pg-server.log in BENCH_KEEP)
#        BENCH_KEEP (unset; a folder that receives the servers' logs),
#        BENCH_CONFIGS ("sqlite pg1 pg2": the configurations to run)
#
# Three configurations, each on a store of its own, measured in turn in
# every round so that the machine's noise falls on all of them:
#   sqlite   one server on a fresh SQLite file (WAL, synchronous=FULL);
#   pg1      one server on PostgreSQL;
#   pg2      two servers on the same PostgreSQL database, the load split
#            over their two ports (two wrk processes at once, one thread
#            and half the connections each; messages/s is their sum).
# Each posts one message per request, then batches of BENCH_BATCH
# (bench/webhook.lua, a new message_id for every message of every run).
# PostgreSQL is a throwaway cluster (tests/integration/pg_cluster.py via
# bench/pg_hold.py) on a loopback port with the server's defaults:
# synchronous_commit on and fsync on, so every 200 is durable; its
# settings are printed. The servers run in record-only mode (no DevRev
# token), so alerts and their outbox entries are written too. Server(s),
# PostgreSQL and wrk share the machine. Targets: two instances on
# PostgreSQL >= 10,000 msg/s one per request and >= 30,000 in batches.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=${FA_BIN:-$root/build/frustration-alert}
secs=${BENCH_SECONDS:-10}
runs=${BENCH_RUNS:-3}
conns=${BENCH_CONNECTIONS:-64}
batch=${BENCH_BATCH:-10}
py=/usr/bin/python3

tmp=$(mktemp -d)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
bench_need webhook_pg.sh wrk "$py" curl psql pgrep getconf
[ -x "$bin" ] || { echo "webhook_pg.sh: $bin not built (make build)" >&2; exit 1; }

pids=() pg_pid=
stop_servers() {
  [ ${#pids[@]} -gt 0 ] && stop_pids "${pids[@]}"
  pids=()
}
cleanup() {
  stop_servers
  if [ -n "$pg_pid" ]; then
    kill "$pg_pid" 2>/dev/null || true
    wait "$pg_pid" 2>/dev/null || true
  fi
  if [ -n "${BENCH_KEEP:-}" ]; then
    mkdir -p "$BENCH_KEEP"
    cp "$tmp"/*.log "$BENCH_KEEP"/ 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The cluster, with one database per PostgreSQL configuration.
"$py" "$here/pg_hold.py" "$tmp/pg.url" pg1 pg2 2>"$tmp/pg_hold.log" &
pg_pid=$!
for _ in $(seq 600); do
  [ -f "$tmp/pg.url" ] && break
  kill -0 "$pg_pid" 2>/dev/null || break
  sleep 0.1
done
if [ ! -f "$tmp/pg.url" ]; then
  hold_rc=0
  wait "$pg_pid" || hold_rc=$?
  pg_pid=
  if [ "$hold_rc" = 77 ]; then
    # No PostgreSQL here (scripts/install-deps.sh test installs it).
    echo "webhook_pg.sh: skipped: $(cat "$tmp/pg_hold.log")"
    exit 0
  fi
  echo "webhook_pg.sh: no PostgreSQL cluster:" >&2
  cat "$tmp/pg_hold.log" >&2
  exit 1
fi
pg_base=$(cat "$tmp/pg.url")
pg_sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 -d "${pg_base}postgres" -c "$1"; }
pg_data=$(pg_sql "SELECT current_setting('data_directory')")
pg_log=$pg_data/../server.log
pg_pm=$(head -n 1 "$pg_data/postmaster.pid")
hz=$(getconf CLK_TCK)
if [ "${BENCH_PG_LOG_STATEMENTS:-}" = 1 ]; then
  pg_sql "ALTER SYSTEM SET log_min_duration_statement = 0" >/dev/null
  pg_sql "SELECT pg_reload_conf()" >/dev/null
fi

# Starts N servers on store URL; sets pids and ports.
ports=()
start_servers() { # N URL
  local i port
  ports=()
  for i in $(seq "$1"); do
    port=$(free_port)
    env -u DEVREV_API_TOKEN HOST=127.0.0.1 PORT="$port" \
      LOG_LEVEL=${BENCH_LOG_LEVEL:-warn} DATABASE_URL="$2" \
      "$bin" serve 2>>"$tmp/server-$i.log" &
    pids+=($!)
    ports+=("$port")
  done
  for port in "${ports[@]}"; do
    for _ in $(seq 150); do
      curl -s -o /dev/null "http://127.0.0.1:$port/health" && break
      sleep 0.1
    done
    curl -s -o /dev/null "http://127.0.0.1:$port/health" || {
      echo "webhook_pg.sh: a server did not start:" >&2
      cat "$tmp"/server-*.log >&2
      exit 1
    }
  done
}

metric_sum() { # NAME: summed over the running servers
  local port
  for port in "${ports[@]}"; do
    curl -s "http://127.0.0.1:$port/metrics" | awk -v n="$1" '$1 == n {print $2}'
  done | awk '{s += $1} END {printf "%.0f", s}'
}

# CPU clock ticks used so far by the servers and, for a PostgreSQL
# configuration, the cluster: the postmaster with the children it reaped
# (connections that ended) and those it has now.
cpu_ticks() { # CONFIG
  local p
  {
    for p in "${pids[@]}"; do cat "/proc/$p/stat" 2>/dev/null || true; done
    if [ "$1" != sqlite ]; then
      cat "/proc/$pg_pm/stat"
      for p in $(pgrep -P "$pg_pm"); do cat "/proc/$p/stat" 2>/dev/null || true; done
    fi
  } | awk '{sub(/^.*\) /, ""); t += $12 + $13 + $14 + $15} END {print t + 0}'
}

# One measurement over every running server at once: prints
# "MESSAGES_PER_S P99_MS CPU_US_PER_MESSAGE" (the sum of the rates, the
# worst p99, the CPU time of servers and cluster per committed message).
measure() { # CONFIG BATCH RUN_NAME
  local c=$1
  shift
  local n=${#ports[@]} i w=() t0 m0
  t0=$(cpu_ticks "$c")
  m0=$(metric_sum fa_store_messages_committed_total)
  wrk_threads=1 wrk_secs=$secs
  wrk_conns=$((conns / n))
  [ "$n" -eq 1 ] && wrk_threads=2
  for i in $(seq 0 $((n - 1))); do
    WEBHOOK_BATCH=$1 WEBHOOK_RUN="$2-i$i" wrk_out="$tmp/wrk-$i.out" \
      wrk_measure "http://127.0.0.1:${ports[$i]}/webhook" "$here/webhook.lua" \
      >"$tmp/m-$2-$i" &
    w+=($!)
  done
  wait "${w[@]}"
  local ticks msgs
  ticks=$(($(cpu_ticks "$c") - t0))
  msgs=$(($(metric_sum fa_store_messages_committed_total) - m0))
  cat "$tmp/m-$2"-* | awk -v b="$1" -v t="$ticks" -v m="$msgs" -v hz="$hz" \
    '{s += $1 * b; if ($2 > p) p = $2}
    END {printf "%.0f %.2f %.0f\n", s, p, (m > 0) ? t / hz * 1e6 / m : 0}'
}

url_of() { # CONFIG
  case $1 in
  sqlite) echo "$tmp/bench.db" ;;
  pg1) echo "${pg_base}pg1" ;;
  pg2) echo "${pg_base}pg2" ;;
  esac
}
instances_of() { [ "$1" = pg2 ] && echo 2 || echo 1; }

configs=${BENCH_CONFIGS:-sqlite pg1 pg2}
echo "wrk -c$conns in all -d${secs}s --latency, $runs round(s), $(nproc) cores," \
  "batches of $batch"
echo "PostgreSQL $(pg_sql "SHOW server_version"): $(pg_sql "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ' ' ORDER BY name) FROM pg_settings WHERE name IN ('synchronous_commit', 'fsync', 'wal_sync_method', 'full_page_writes', 'shared_buffers', 'wal_buffers', 'max_wal_size', 'checkpoint_timeout', 'commit_delay', 'wal_level', 'max_connections')")"
for r in $(seq "$runs"); do
  for c in $configs; do
    start_servers "$(instances_of "$c")" "$(url_of "$c")"
    for b in 1 "$batch"; do
      read -r msgs p99 cpu < <(measure "$c" "$b" "r$r-$c-b$b")
      echo "$msgs" >>"$tmp/$c-b$b.msgs"
      echo "$p99" >>"$tmp/$c-b$b.p99"
      echo "$cpu" >>"$tmp/$c-b$b.cpu"
      printf 'round %d  %-6s batch %-3s %10.0f msg/s  p99 %8.2f ms  %6.0f CPU us/msg\n' \
        "$r" "$c" "$b" "$msgs" "$p99" "$cpu"
    done
    commits=$(metric_sum fa_store_commits_total)
    committed=$(metric_sum fa_store_messages_committed_total)
    failures=$(metric_sum fa_store_commit_failures_total)
    echo "$c: $committed messages in $commits transactions, $failures failed" \
      >>"$tmp/$c.commits"
    stop_servers
  done
done

echo
printf '%-34s %12s %12s %13s %14s\n' "POST /webhook (durable)" \
  "msg/s one" "msg/s b$batch" "p99 ms 1/b$batch" "CPU us/msg 1/b$batch"
label() {
  case $1 in
  sqlite) echo "SQLite, one instance" ;;
  pg1) echo "PostgreSQL, one instance" ;;
  pg2) echo "PostgreSQL, two instances" ;;
  esac
}
for c in $configs; do
  printf '%-34s %12.0f %12.0f %13s %14s\n' "$(label "$c")" \
    "$(median <"$tmp/$c-b1.msgs")" "$(median <"$tmp/$c-b$batch.msgs")" \
    "$(median <"$tmp/$c-b1.p99")/$(median <"$tmp/$c-b$batch.p99")" \
    "$(median <"$tmp/$c-b1.cpu")/$(median <"$tmp/$c-b$batch.cpu")"
done
echo "(CPU us/msg: CPU time of the server(s), and of PostgreSQL's processes"
echo " for its configurations, per committed message; wrk not counted. On a"
echo " machine shared with other work, msg/s follows the share this run got,"
echo " CPU per message much less so.)"
echo
for c in $configs; do tail -n 1 "$tmp/$c.commits"; done
if [ -f "$tmp/pg2-b1.msgs" ]; then
  m1=$(median <"$tmp/pg2-b1.msgs")
  mb=$(median <"$tmp/pg2-b$batch.msgs")
  echo "two instances on PostgreSQL, one per request: $m1 msg/s" \
    "(target >= 10000: $(verdict "$m1" 10000))"
  echo "two instances on PostgreSQL, batches of $batch: $mb msg/s" \
    "(target >= 30000: $(verdict "$mb" 30000))"
fi
if [ "${BENCH_PG_LOG_STATEMENTS:-}" = 1 ]; then
  cp "$pg_log" "$tmp/pg-server.log" 2>/dev/null || true
fi
