#!/usr/bin/env bash
# Lints docs/openapi.yaml and checks the live answers of the real binary
# against it (test_openapi.mjs), with Node.js and the npm packages pinned
# by package-lock.json (installed by scripts/npm-ci.sh when missing).
# Skips (exit 77, which CTest reports as skipped) only when Node.js is not
# installed or the packages cannot be installed: scripts/install-deps.sh
# test installs Node.js.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${SRC_DIR:-$(cd "$here/../.." && pwd)}
if ! command -v node >/dev/null; then
  echo "test_openapi: SKIPPED: needs node (scripts/install-deps.sh test)"
  exit 77
fi
if ! bash "$src/scripts/npm-ci.sh"; then
  echo "test_openapi: SKIPPED: the npm packages of package-lock.json" \
    "could not be installed (npm ci failed)"
  exit 77
fi
exec node "$here/test_openapi.mjs"
