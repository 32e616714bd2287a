#!/bin/sh
# Real coverage-guided fuzzing with clang's libFuzzer under ASan + UBSan.
#   scripts/fuzz.sh <target> <seconds>     target: request | batch
# New inputs go to build-fuzz/corpus-<target>; crashes to build-fuzz/ as
# crash-*: copy every crash into tests/fuzz/corpus/<target>/ so CTest replays
# it from then on.
set -eu
target=${1:-request}
secs=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
bdir="$root/build-fuzz"
if [ ! -f "$bdir/CMakeCache.txt" ]; then
  CC=clang cmake -S "$root" -B "$bdir" -DCMAKE_BUILD_TYPE=Debug -DKANAL_FUZZ=ON \
    -DKANAL_SANITIZE=address,undefined -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link" >/dev/null
fi
cmake --build "$bdir" --target "fuzz_$target" -j2 >/dev/null
mkdir -p "$bdir/corpus-$target"
cd "$bdir"
exec "./tests/fuzz_$target" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
  "$bdir/corpus-$target" "$root/tests/fuzz/corpus/$target"
