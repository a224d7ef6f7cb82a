#!/usr/bin/env bash
# Installs the npm packages pinned by package-lock.json (the dashboard's
# charting library, the browser test's playwright-core, and the OpenAPI
# test's validator, ajv, ajv-formats and yaml) into node_modules/, unless
# they are there already and not older than the lockfile.
#
#   scripts/npm-ci.sh [STAMP]    (STAMP: a file touched on success)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ ! -f node_modules/.package-lock.json ] ||
  [ ! -f node_modules/chart.js/dist/chart.umd.min.js ] ||
  [ ! -d node_modules/playwright-core ] ||
  [ ! -f node_modules/@seriousme/openapi-schema-validator/package.json ] ||
  [ ! -f node_modules/ajv/dist/2020.js ] ||
  [ ! -f node_modules/ajv-formats/package.json ] ||
  [ ! -f node_modules/yaml/package.json ] ||
  [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
if [ $# -ge 1 ]; then
  touch "$1"
fi
