#!/usr/bin/env bash
# Installs the Debian packages this project needs, when they are missing.
#
#   scripts/install-deps.sh [build|test|bench|all]...   (default: build)
#
# build: compiler, CMake and the libraries the binary links.
# test:  what `make test` uses on top (clang/libFuzzer, promtool, python3,
#        Chromium for the dashboard's browser test, PostgreSQL).
# bench: load generators and the peers the benchmarks compare against.
# Without root (or apt-get) it prints the missing packages and stops.
set -euo pipefail

build_pkgs=(gcc make cmake pkg-config libmicrohttpd-dev libcjson-dev
  libcurl4-openssl-dev libsqlite3-dev libpq-dev libssl-dev python3
  ca-certificates)
# chromium: the dashboard's browser test (playwright-core drives it).
# postgresql: the PostgreSQL tests start a throwaway cluster of their own
# (tests/integration/pg_cluster.py); the system cluster is never used.
# libfaketime: test_pg_clock runs an instance with its clock ahead.
test_pkgs=(clang libclang-rt-14-dev prometheus curl chromium openssl postgresql
  libfaketime)
# python3-nltk: TextBlob, the peer, needs it (TextBlob itself is found as
# bench/README.md says: no Debian package ships it).
bench_pkgs=(wrk nginx-light gunicorn python3-flask python3-nltk bc util-linux)

groups=("$@")
[ ${#groups[@]} -eq 0 ] && groups=(build)
want=()
for g in "${groups[@]}"; do
  case "$g" in
  build) want+=("${build_pkgs[@]}") ;;
  test) want+=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  bench) want+=("${build_pkgs[@]}" "${bench_pkgs[@]}") ;;
  all) want+=("${build_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "install-deps: unknown group '$g' (build|test|bench|all)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    case " ${missing[*]-} " in *" $p "*) ;; *) missing+=("$p") ;; esac
  fi
done
# The build fetches VADER's lexicon with `npm pack` and the dashboard's
# packages with `npm ci`; the browser test runs on Node.js: any npm and
# node will do (the machine's own Node.js, or Debian's).
if ! command -v npm >/dev/null; then
  missing+=(npm)
fi
if ! command -v node >/dev/null; then
  missing+=(nodejs)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: missing Debian packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "install-deps: run as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# The package lists of a new machine may be empty or stale.
apt-get update -q >/dev/null || apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: installed ${missing[*]}"
