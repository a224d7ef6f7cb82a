#!/usr/bin/env bash
# make fuzz: builds the libFuzzer targets with clang (ASan+UBSan) and runs
# each for FUZZ_SECONDS (default 60) on a scratch copy of its corpus. New
# inputs stay in fuzz/out/<target>; crashes are written there too: turn each
# into a corpus file and a unit test.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${FUZZ_SECONDS:-60}
cmake -S "$root" -B "$root/build-fuzz" -DCMAKE_C_COMPILER=clang -DFUZZ=ON \
  -DSANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug \
  -DLEXICON_CACHE="$root/.cache/lexicons" >/dev/null
cmake --build "$root/build-fuzz" -j "$(nproc)"
status=0
for src in "$root"/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  target=${name#fuzz_}
  out="$root/fuzz/out/$target"
  mkdir -p "$out"
  dict=()
  [ -f "$root/fuzz/$target.dict" ] && dict=(-dict="$root/fuzz/$target.dict")
  echo "== $name for ${secs}s"
  "$root/build-fuzz/$name" "${dict[@]}" -max_total_time="$secs" \
    -artifact_prefix="$out/" "$out" "$root/fuzz/corpus/$target" || status=1
done
exit $status
