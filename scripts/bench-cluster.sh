#!/usr/bin/env bash
# Cluster benchmark (issue 4): 3 kanald with RF=3 acks=all next to one
# kanald RF=1 acks=1 and librdkafka's mock cluster, all in the same run;
# the brokers' CPU per million records; failover time over leader kills;
# the longest produce stall of a controlled shutdown; spurious failovers
# under load. Prints ratios and PASS/MISS; exits non-zero only when a run
# itself fails. The work is done by scripts/bench_cluster.py on the
# integration-test harness (private ZooKeeper, free loopback ports, every
# process stopped on exit).
#
#   scripts/bench-cluster.sh            build Release into build-bench/ (-j2) and run (~5 min)
#   KANAL_BIN=path/kanald KANAL_CLI=path/kanal scripts/bench-cluster.sh
#
# Knobs: BENCH_N (1000000 records of 100 B per run), BENCH_REPS (3),
# BENCH_KILLS (10), BENCH_SHUTDOWNS (3), BENCH_ZK_SESSION_MS (6000),
# BENCH_RUN_TIMEOUT_MS (180000 per kanal perf run), BENCH_ONLY (a comma list
# of throughput,failover,shutdown: the parts to run; all by default).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
die() { echo "bench-cluster: $*" >&2; exit 1; }

if [ -n "${KANAL_BIN:-}" ] || [ -n "${KANAL_CLI:-}" ]; then
    [ -n "${KANAL_BIN:-}" ] && [ -n "${KANAL_CLI:-}" ] || die "give both KANAL_BIN (kanald) and KANAL_CLI (kanal)"
else
    echo "bench-cluster: building Release into build-bench/ (-j2)" >&2
    cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
        -DKANAL_WERROR=OFF >/dev/null || die "cmake configure failed (build-bench/)"
    cmake --build "$ROOT/build-bench" -j2 --target kanald kanal >/dev/null ||
        die "Release build failed; fix it, or pass KANAL_BIN=<kanald> KANAL_CLI=<kanal>"
    KANAL_BIN=$ROOT/build-bench/src/broker/kanald
    KANAL_CLI=$ROOT/build-bench/src/cli/kanal
fi
[ -x "$KANAL_BIN" ] || die "kanald not found at $KANAL_BIN"
[ -x "$KANAL_CLI" ] || die "kanal not found at $KANAL_CLI"
export KANAL_BIN KANAL_CLI
# the whole run is bounded: 3 x 3 throughput runs, the kills and shutdowns
exec timeout --kill-after=30 "${BENCH_TOTAL_TIMEOUT_S:-1800}" /usr/bin/python3 "$ROOT/scripts/bench_cluster.py"
