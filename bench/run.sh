#!/usr/bin/env bash
# make bench: every benchmark, each against its peer in the same run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
echo "== machine: $(nproc) cores, $(uname -m), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "== scoring (TextBlob polarity, the default detector) against TextBlob"
FRUSTRATION_DETECTOR=polarity bash "$here/score.sh"
echo
echo "== scoring with FRUSTRATION_DETECTOR=model (score, level, reasons),"
echo "== against TextBlob(text).sentiment (target: 100x)"
FRUSTRATION_DETECTOR=model bash "$here/score.sh"
for b in http.sh webhook.sh webhook_pg.sh; do
  if [ -f "$here/$b" ]; then
    echo
    echo "== ${b%.sh}"
    bash "$here/$b"
  fi
done
