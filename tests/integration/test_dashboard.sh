#!/usr/bin/env bash
# Runs the dashboard's browser test (test_dashboard.mjs) with Node.js,
# after installing the pinned npm packages (playwright-core) when they are
# missing. Skips (exit 77, which CTest reports as skipped) only when
# Chromium or Node.js is not installed: scripts/install-deps.sh test
# installs both.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${SRC_DIR:-$(cd "$here/../.." && pwd)}
chromium=${CHROMIUM:-/usr/bin/chromium}
if ! command -v node >/dev/null || [ ! -x "$chromium" ]; then
  echo "test_dashboard: SKIPPED: needs node and $chromium" \
    "(scripts/install-deps.sh test)"
  exit 77
fi
bash "$src/scripts/npm-ci.sh"
exec node "$here/test_dashboard.mjs"
