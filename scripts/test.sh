#!/usr/bin/env bash
# THE test command (README, .ci/run): installs dependencies, then
#   1. build/       plain build, every ctest label (unit, integration, fuzz)
#   2. build-asan/  -DKANAL_SANITIZE=address,undefined, ctest -L 'unit|fuzz'
#                   and one pass of the integration tests against the
#                   sanitized kanald (a sanitizer report in a broker's stderr
#                   fails the test)
#   3. build-fuzz/  clang + libFuzzer on the request decoder and batch
#                   validation for a bounded time (scripts/fuzz.sh)
# Exits non-zero if any build or test failed. Runs unattended (CI=true, no
# stdin); both trees are reused incrementally on later runs.
#
#   KANAL_JOBS=N          parallel build/test jobs (default 2)
#   KANAL_SKIP_ASAN=1     only the plain tree (a quicker local loop)
#   KANAL_SKIP_FUZZ=1     skip the bounded libFuzzer runs (3.)
#   KANAL_FUZZ_SECONDS=N  libFuzzer time for the request decoder (default 45)
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${KANAL_JOBS:-2}
START=$SECONDS
status=0
summaries=()
failed_tests=()
fail_lines=()

phase() { echo; echo "===== [$((SECONDS - START))s] $*"; }

# configure <dir> [cmake args...]: a new tree gets RelWithDebInfo; an existing
# one keeps its build type so quickstart's and this script's builds share build/.
configure() {
    local dir=$1; shift
    local type=()
    [ -f "$dir/CMakeCache.txt" ] || type=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
    cmake -S "$ROOT" -B "$dir" "${type[@]}" "$@"
}

# run_ctest <dir> <log> [ctest args...]: runs ctest, keeps its summary line.
run_ctest() {
    local dir=$1 logf=$2; shift 2
    ctest --test-dir "$dir" --output-on-failure -j"$JOBS" --no-tests=error "$@" 2>&1 | tee "$logf"
    local rc=${PIPESTATUS[0]}
    local line
    line=$(grep -E '^[0-9]+% tests passed' "$logf" | tail -n 1)
    summaries+=("${line:-ctest in $dir $* printed no summary (exit $rc)}")
    local t
    while read -r t; do
        [ -n "$t" ] && failed_tests+=("$dir: $t")
    done < <(sed -n '/^The following tests FAILED:/,/^Errors while running CTest/p' "$logf" |
             grep -E '^[[:space:]]+[0-9]+ - ' | sed -E 's/^[[:space:]]+[0-9]+ - //')
    # The harness's one-line reasons, repeated at the end where CI shows them.
    while read -r t; do
        [ -n "$t" ] && fail_lines+=("$dir: $t")
    done < <(grep -E '^\[[0-9:]+\] FAIL ' "$logf" | cut -c1-600 | head -n 20)
    [ "$rc" -eq 0 ] || status=1
}

phase "installing dependencies"
./scripts/install-deps.sh </dev/null || { echo "scripts/install-deps.sh failed"; exit 1; }

phase "plain build (build/)"
if configure build && cmake --build build -j"$JOBS"; then
    phase "ctest, all labels (build/)"
    run_ctest build build/ctest-all.log
else
    echo "plain build FAILED"
    status=1
    summaries+=("build/: build failed, no tests ran")
fi

if [ "${KANAL_SKIP_ASAN:-0}" != 1 ]; then
    phase "sanitized build (build-asan/, address,undefined)"
    if configure build-asan -DKANAL_SANITIZE=address,undefined && cmake --build build-asan -j"$JOBS"; then
        phase "ctest -L 'unit|fuzz' (build-asan/)"
        run_ctest build-asan build-asan/ctest-unit-fuzz.log -L 'unit|fuzz'
        phase "integration tests against the sanitized kanald (build-asan/)"
        # One pass of the integration tests; the chaos run (label chaos,
        # ~100 s) already ran in build/ and is left out here for CI time.
        run_ctest build-asan build-asan/ctest-integration.log -L integration -LE chaos
    else
        echo "sanitized build FAILED"
        status=1
        summaries+=("build-asan/: build failed, no tests ran")
    fi
fi

# Coverage-guided fuzzing with clang's libFuzzer under ASan+UBSan, bounded in
# time: the request decoder and batch validation (scripts/fuzz.sh). Crash
# inputs are left in build-fuzz/; commit them to tests/fuzz/corpus/<target>/.
if [ "${KANAL_SKIP_FUZZ:-0}" != 1 ]; then
    for spec in request:${KANAL_FUZZ_SECONDS:-45} batch:${KANAL_FUZZ_BATCH_SECONDS:-15}; do
        target=${spec%%:*}
        secs=${spec##*:}
        phase "libFuzzer: $target for ${secs}s (clang, address,undefined)"
        if ./scripts/fuzz.sh "$target" "$secs" >build-fuzz-"$target".log 2>&1; then
            runs=$(grep -Eo 'Done [0-9]+ runs' build-fuzz-"$target".log | tail -n 1)
            summaries+=("libFuzzer $target: ${runs:-ran}, no crash")
        else
            tail -n 40 build-fuzz-"$target".log
            summaries+=("libFuzzer $target: FAILED (crash or build error, see build-fuzz-$target.log)")
            failed_tests+=("libFuzzer $target")
            status=1
        fi
    done
fi

if [ ${#failed_tests[@]} -gt 0 ]; then
    phase "failed tests (full output above; server files are kept in /tmp/kanal-it-*):"
    printf '  %s\n' "${failed_tests[@]}"
    [ ${#fail_lines[@]} -eq 0 ] || printf '  %s\n' "${fail_lines[@]}"
fi
phase "done in $((SECONDS - START))s; ctest summaries (build/ all; build-asan/ unit|fuzz; build-asan/ integration):"
for s in "${summaries[@]}"; do
    echo "$s"
done
exit $status
