#!/usr/bin/env bash
# Core-broker benchmark: one kanald on a private ZooKeeper, driven by
# `kanal perf`, with references measured in the same run (librdkafka's mock
# cluster via `kanal perf --mock 1`, loopback TCP, page-cache writes). Prints
# figures and ratios; targets are marked PASS/MISS and never fail the script.
# It exits non-zero only when a run itself fails (delivery errors, missing
# records, timeouts, a broker that does not start).
#
#   scripts/bench.sh                    build Release into build-bench/ and run
#   KANAL_BIN=path/kanald KANAL_CLI=path/kanal scripts/bench.sh   use these binaries
#   BENCH_KEEP=1 scripts/bench.sh       keep the work dir (logs, JSON results)
#
# Everything it starts is stopped on exit, also on failure or Ctrl-C.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# Sizes (the issue's loads). The mock keeps ~5 MiB per partition, so its
# read-back uses smaller counts that fit (compare records/s, not totals).
N_SMALL=${BENCH_N_SMALL:-1000000}      # 100-byte records
N_LARGE=${BENCH_N_LARGE:-100000}       # 1 KiB records
N_MOCK_SMALL=${BENCH_N_MOCK_SMALL:-200000}
N_MOCK_LARGE=${BENCH_N_MOCK_LARGE:-25000}
N_E2E=${BENCH_N_E2E:-10000}
REPS=${BENCH_REPS:-3}                  # throughput runs: median of this many
E2E_RATE=${BENCH_E2E_RATE:-1000}
PARTS=6
RUN_TIMEOUT_MS=${BENCH_RUN_TIMEOUT_MS:-180000}   # per kanal perf run
LOOPBACK_SECONDS=3
DD_MB=2000

die() { echo "bench: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

# ---- binaries ----
if [ -n "${KANAL_BIN:-}" ] || [ -n "${KANAL_CLI:-}" ]; then
    [ -n "${KANAL_BIN:-}" ] && [ -n "${KANAL_CLI:-}" ] || die "give both KANAL_BIN (kanald) and KANAL_CLI (kanal)"
    KANALD=$KANAL_BIN
    KANAL=$KANAL_CLI
else
    note "building Release into build-bench/ (-j2)"
    cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
        -DKANAL_WERROR=OFF >/dev/null ||
        die "cmake configure failed (build-bench/)"
    cmake --build "$ROOT/build-bench" -j2 --target kanald kanal >/dev/null ||
        die "Release build failed; fix it, or pass KANAL_BIN=<kanald> KANAL_CLI=<kanal>"
    KANALD=$ROOT/build-bench/src/broker/kanald
    KANAL=$ROOT/build-bench/src/cli/kanal
fi
[ -x "$KANALD" ] || die "kanald not found at $KANALD"
[ -x "$KANAL" ] || die "kanal not found at $KANAL"
command -v jq >/dev/null || die "jq is needed to read kanal perf's JSON (apt-get install jq)"
command -v kcat >/dev/null || die "kcat is needed for the readiness check (apt-get install kcat)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kanal-bench.XXXXXX")
KPID=""
FAILED=0

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$KPID" ] && kill -0 "$KPID" 2>/dev/null; then
        kill -TERM "$KPID" 2>/dev/null || true
        for _ in $(seq 300); do kill -0 "$KPID" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$KPID" 2>/dev/null; then
            note "kanald pid $KPID still running 30 s after SIGTERM; SIGKILL"
            kill -KILL "$KPID" 2>/dev/null || true
        fi
    fi
    "$ROOT/scripts/zk.sh" stop "$WORK/zk" >/dev/null 2>&1 || true
    if [ "${BENCH_KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
        note "work dir kept: $WORK (kanald.log, *.json, *.err)"
    else
        rm -rf "$WORK"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- page-cache write ceiling, measured before anything else writes ----
dd_mbs() {
    local t0 t1
    t0=$(date +%s%N)
    dd if=/dev/zero of="$WORK/ddfile" bs=1M count=$DD_MB conv=notrunc status=none
    t1=$(date +%s%N)
    awk -v mb=$DD_MB -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f", mb / (ns / 1e9) }'
}
# First pass writes new pages (what a log append does), the second overwrites
# pages already in the cache.
PAGECACHE_NEW_MBS=$(dd_mbs)
PAGECACHE_MBS=$(dd_mbs)
rm -f "$WORK/ddfile"

# ---- ZooKeeper + kanald ----
ZKPORT=$("$ROOT/scripts/zk.sh" start "$WORK/zk") || die "ZooKeeper did not start"
PORT=$(free_port)
BOOT=127.0.0.1:$PORT
mkdir -p "$WORK/data"
KARGS=()
[ -f "$ROOT/conf/kanald.properties" ] && KARGS+=(--config "$ROOT/conf/kanald.properties")
KARGS+=(--override broker.id=1 --override "listeners=PLAINTEXT://$BOOT" --override "log.dirs=$WORK/data"
        --override "zookeeper.connect=127.0.0.1:$ZKPORT")
[ -f "$ROOT/conf/kanald.properties" ] && KARGS+=(--override offsets.topic.replication.factor=1)
"$KANALD" "${KARGS[@]}" </dev/null >"$WORK/kanald.log" 2>&1 &
KPID=$!

# Ready when Metadata from the broker lists broker 1 (asked, not slept).
deadline=$((SECONDS + 60))
until kcat -L -b "$BOOT" -m 2 2>/dev/null | grep -q "broker 1 at"; do
    if ! kill -0 "$KPID" 2>/dev/null; then
        tail -n 40 "$WORK/kanald.log" >&2
        die "kanald exited during start-up"
    fi
    [ $SECONDS -lt $deadline ] || { tail -n 40 "$WORK/kanald.log" >&2; die "kanald did not answer Metadata on $BOOT within 60 s"; }
    sleep 0.1
done
note "kanald pid $KPID ready on $BOOT (ZooKeeper 127.0.0.1:$ZKPORT); work dir $WORK"

CLK_TCK=$(getconf CLK_TCK)
# kanald's utime+stime in clock ticks (fields 14 and 15 of /proc/<pid>/stat;
# the command name may hold spaces, so count from after its ')').
kanald_ticks() {
    local f
    read -r -a f < <(sed 's/^.*) //' "/proc/$KPID/stat")
    echo $((f[11] + f[12]))
}
status_kib() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$KPID/status"; }

# perf NAME ARGS...: run `kanal perf`, JSON summary into $WORK/NAME.json.
# A failed run is reported (with its stderr) and counted, and the bench goes on.
perf() {
    local name=$1
    shift
    local secs=$((RUN_TIMEOUT_MS / 1000 + 30)) rc=0
    timeout --kill-after=10 "$secs" "$KANAL" perf "$@" --output json --timeout-ms "$RUN_TIMEOUT_MS" \
        >"$WORK/$name.json" 2>"$WORK/$name.err" || rc=$?
    if [ $rc -ne 0 ] || ! jq -e '.ok' "$WORK/$name.json" >/dev/null 2>&1; then
        FAILED=$((FAILED + 1))
        note "run $name FAILED (exit $rc): kanal perf $*"
        sed 's/^/    /' "$WORK/$name.err" >&2
        if [ -n "$KPID" ] && ! kill -0 "$KPID" 2>/dev/null; then note "kanald (pid $KPID) is no longer running"; fi
    else
        note "run $name: $(jq -r '"\(.records) records in \(.elapsed_s) s" + (if .records_per_s then ", \(.records_per_s|floor) records/s, \(.mb_per_s) MB/s" else "" end) + (if .lat_p99_ms then ", p99 \(.lat_p99_ms) ms" else "" end)' "$WORK/$name.json")"
    fi
}
# get NAME FIELD: a figure from a run's JSON ("-" when missing).
get() { jq -r ".$2 // \"-\"" "$WORK/$1.json" 2>/dev/null || echo -; }

# kperf NAME ARGS...: perf against kanald, recording kanald's CPU seconds.
declare -A KCPU
kperf() {
    local name=$1 t0 t1
    shift
    t0=$(kanald_ticks 2>/dev/null || echo 0)
    perf "$name" "$1" -b "$BOOT" "${@:2}"
    t1=$(kanald_ticks 2>/dev/null || echo "$t0")
    KCPU[$name]=$(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", (b - a) / hz }')
}

# ---- 1. kanald: memory idle with 100 partitions ----
kperf idle100 produce --topic bench-idle100 --create-topic --partitions 100 --num-records 1000 --acks 1
# Idle: nothing in flight; read after the producer has gone.
RSS_IDLE=$(status_kib VmRSS)

# pick NAME: NAME.json := the median run (by records/s) of NAME_1..NAME_$REPS;
# CPU per million records summed over all of its runs (kanald's and the client's).
declare -A KCPU_PM CCPU_PM
pick() {
    local name=$1 i med
    med=$(for i in $(seq "$REPS"); do echo "$(get "${name}_$i" records_per_s) ${name}_$i"; done |
        grep -v '^- ' | sort -g | awk '{ a[NR] = $2 } END { if (NR) print a[int((NR + 1) / 2)] }')
    if [ -n "$med" ]; then cp "$WORK/$med.json" "$WORK/$name.json"; else echo '{}' >"$WORK/$name.json"; fi
    local recs=0 kcpu=0 ccpu=0 r
    for i in $(seq "$REPS"); do
        r=$(get "${name}_$i" records)
        [ "$r" = - ] && continue
        recs=$((recs + r))
        kcpu=$(awk -v a="$kcpu" -v b="${KCPU[${name}_$i]:-0}" 'BEGIN { print a + b }')
        ccpu=$(awk -v a="$ccpu" -v b="$(get "${name}_$i" client_cpu_s)" 'BEGIN { print a + b }')
    done
    KCPU_PM[$name]=$(awk -v c="$kcpu" -v n="$recs" 'BEGIN { if (n == 0) print "-"; else printf "%.3f", c * 1e6 / n }')
    CCPU_PM[$name]=$(awk -v c="$ccpu" -v n="$recs" 'BEGIN { if (n == 0) print "-"; else printf "%.3f", c * 1e6 / n }')
}

# ---- 2. produce: kanald and the mock cluster, interleaved, $REPS times each ----
# Interleaving spreads the other tenants' noise over both sides evenly.
P=(--partitions $PARTS --create-topic)
M=(--mock 1 --partitions $PARTS)
for i in $(seq "$REPS"); do
    kperf "p100_a1_$i" produce --topic bench-100-a1 "${P[@]}" --num-records "$N_SMALL" --record-size 100 --acks 1
    perf "m_p100_a1_$i" produce --topic m100 "${M[@]}" --num-records "$N_SMALL" --record-size 100 --acks 1
    kperf "p100_all_$i" produce --topic bench-100-all "${P[@]}" --num-records "$N_SMALL" --record-size 100 --acks all
    perf "m_p100_all_$i" produce --topic m100 "${M[@]}" --num-records "$N_SMALL" --record-size 100 --acks all
    kperf "p1k_a1_$i" produce --topic bench-1k-a1 "${P[@]}" --num-records "$N_LARGE" --record-size 1024 --acks 1
    perf "m_p1k_a1_$i" produce --topic m1k "${M[@]}" --num-records "$N_LARGE" --record-size 1024 --acks 1
    kperf "p1k_all_$i" produce --topic bench-1k-all "${P[@]}" --num-records "$N_LARGE" --record-size 1024 --acks all
    perf "m_p1k_all_$i" produce --topic m1k "${M[@]}" --num-records "$N_LARGE" --record-size 1024 --acks all
done
for n in p100_a1 p100_all p1k_a1 p1k_all; do pick $n; pick "m_$n"; done
RSS_LOAD=$(status_kib VmRSS)

# ---- 3. consume back (count checked by kanal perf) ----
# kanald: each topic from the beginning. The mock (in-process, filled first,
# not timed) keeps ~5 MiB per partition: smaller counts, compare records/s.
for i in $(seq "$REPS"); do
    kperf "c100_a1_$i" consume --topic bench-100-a1 --num-records "$N_SMALL"
    kperf "c100_all_$i" consume --topic bench-100-all --num-records "$N_SMALL"
    perf "m_c100_$i" consume --topic m100 "${M[@]}" --num-records "$N_MOCK_SMALL" --record-size 100 --acks 1
    kperf "c1k_a1_$i" consume --topic bench-1k-a1 --num-records "$N_LARGE"
    kperf "c1k_all_$i" consume --topic bench-1k-all --num-records "$N_LARGE"
    perf "m_c1k_$i" consume --topic m1k "${M[@]}" --num-records "$N_MOCK_LARGE" --record-size 1024 --acks 1
done
for n in c100_a1 c100_all c1k_a1 c1k_all m_c100 m_c1k; do pick $n; done

# ---- 4. end-to-end latency ----
kperf e2e e2e --topic bench-e2e --create-topic --partitions 1 --num-records "$N_E2E" --throughput "$E2E_RATE" \
    --linger-ms 0 --acks 1
RSS_PEAK=$(status_kib VmHWM)
perf m_e2e e2e --topic me2e --mock 1 --partitions 1 --num-records "$N_E2E" --throughput "$E2E_RATE" --linger-ms 0 --acks 1

# ---- 6. references: loopback TCP and page cache ----
LOOPBACK_MBS=$("$PY" - "$LOOPBACK_SECONDS" <<'EOF'
import socket, sys, threading, time
secs = float(sys.argv[1])
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
got = [0]
def rx():
    c, _ = srv.accept()
    buf = bytearray(1 << 20); mv = memoryview(buf)
    while True:
        n = c.recv_into(mv)
        if not n: break
        got[0] += n
t = threading.Thread(target=rx); t.start()
s = socket.create_connection(srv.getsockname())
chunk = b"\0" * (1 << 20)
t0 = time.monotonic(); end = t0 + secs
while time.monotonic() < end:
    s.sendall(chunk)
s.close(); t.join()
print("%.1f" % (got[0] / (1 << 20) / (time.monotonic() - t0)))
EOF
) || LOOPBACK_MBS=-
# New pages again, now that the broker runs have left the cache full of dirty
# log data: the kernel's write-back throttling, which kanald's appends met too.
PAGECACHE_NEW_END_MBS=$(dd_mbs)
rm -f "$WORK/ddfile"

# ---- report ----
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
verdict() { # verdict VALUE OP LIMIT -> PASS/MISS/-
    awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN { if (v == "-") { print "-"; exit }
        ok = (op == ">=") ? (v + 0 >= l + 0) : (op == "<=") ? (v + 0 <= l + 0) : (v + 0 < l + 0); print ok ? "PASS" : "MISS" }'
}
fmt() { awk -v v="$1" -v d="${2:-0}" 'BEGIN { if (v == "-") print "-"; else printf "%.*f", d, v }'; }

echo
echo "== Kanal core-broker benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, shared machine: read ratios, not absolutes)"
echo "   kanald $KANALD; clients: librdkafka $("$KANAL" --version | sed 's/.*librdkafka \([^)]*\)).*/\1/'); MB = 2^20 bytes"
echo
printf '%-24s %12s %9s %9s %9s %9s %9s | %12s %8s %6s\n' run "records/s" "MB/s" "p50 ms" "p99 ms" "p99.9 ms" "max ms" "mock rec/s" "k/mock" ""
row() { # row LABEL KANALD_RUN MOCK_RUN
    local rps mock r v
    rps=$(get "$2" records_per_s)
    mock=$(get "$3" records_per_s)
    r=$(ratio "$rps" "$mock")
    v=$(verdict "$r" ">=" 0.8)
    printf '%-24s %12s %9s %9s %9s %9s %9s | %12s %8s %6s\n' "$1" "$(fmt "$rps")" "$(fmt "$(get "$2" mb_per_s)" 1)" \
        "$(fmt "$(get "$2" lat_p50_ms)" 2)" "$(fmt "$(get "$2" lat_p99_ms)" 2)" "$(fmt "$(get "$2" lat_p999_ms)" 2)" \
        "$(fmt "$(get "$2" lat_max_ms)" 2)" "$(fmt "$mock")" "$r" "$v"
}
row "produce 100B acks=1" p100_a1 m_p100_a1
row "produce 100B acks=all" p100_all m_p100_all
row "produce 1KiB acks=1" p1k_a1 m_p1k_a1
row "produce 1KiB acks=all" p1k_all m_p1k_all
row "consume 100B (acks=1)" c100_a1 m_c100
row "consume 100B (acks=all)" c100_all m_c100
row "consume 1KiB (acks=1)" c1k_a1 m_c1k
row "consume 1KiB (acks=all)" c1k_all m_c1k
echo "  (median of $REPS runs each; produce latency = enqueue -> delivery report; $PARTS partitions;"
echo "   mock consume reads $N_MOCK_SMALL x 100 B / $N_MOCK_LARGE x 1 KiB: it keeps ~5 MiB per partition)"

echo
E2E_P99=$(get e2e lat_p99_ms)
printf 'e2e latency, %s records at %s/s, linger.ms=0, acks=1:\n' "$N_E2E" "$E2E_RATE"
printf '  kanald  p50 %s ms  p99 %s ms  p99.9 %s ms  max %s ms   target p99 <= 2 ms: %s\n' \
    "$(fmt "$(get e2e lat_p50_ms)" 3)" "$(fmt "$E2E_P99" 3)" "$(fmt "$(get e2e lat_p999_ms)" 3)" \
    "$(fmt "$(get e2e lat_max_ms)" 3)" "$(verdict "$E2E_P99" "<=" 2)"
printf '  mock    p50 %s ms  p99 %s ms  p99.9 %s ms  max %s ms   (the mock answers parked fetches only at fetch.wait.max.ms)\n' \
    "$(fmt "$(get m_e2e lat_p50_ms)" 3)" "$(fmt "$(get m_e2e lat_p99_ms)" 3)" "$(fmt "$(get m_e2e lat_p999_ms)" 3)" \
    "$(fmt "$(get m_e2e lat_max_ms)" 3)"

echo
echo "CPU seconds per million 100-byte records (kanald from /proc/$KPID/stat; client from its getrusage):"
for run in p100_a1 p100_all; do
    kpm=${KCPU_PM[$run]:--}
    cpm=${CCPU_PM[$run]:--}
    r=$(ratio "$kpm" "$cpm")
    printf '  %-10s kanald %s s/M   client %s s/M   kanald/client %s   target < 1: %s\n' "$run" "$kpm" "$cpm" "$r" \
        "$(verdict "$r" "<" 1)"
done

echo
kmbs=$(get p1k_a1 mb_per_s)
kcmbs=$(get c1k_a1 mb_per_s)
echo "Ceilings (same run):"
printf '  loopback TCP, one stream (python3): %s MB/s   kanald produce 1KiB acks=1 / loopback: %s   consume 1KiB / loopback: %s\n' \
    "$(fmt "$LOOPBACK_MBS")" "$(ratio "$kmbs" "$LOOPBACK_MBS")" "$(ratio "$kcmbs" "$LOOPBACK_MBS")"
gbs() { awk -v m="$1" 'BEGIN { if (m == "-") print "-"; else printf "%.2f", m / 1024 }'; }
printf '  page-cache write (dd %s MiB) before the broker runs: new file %s GB/s, overwrite (warm) %s GB/s\n' \
    "$DD_MB" "$(gbs "$PAGECACHE_NEW_MBS")" "$(gbs "$PAGECACHE_MBS")"
printf '  page-cache write, new file, after the broker runs (dirty-page throttling): %s GB/s\n' "$(gbs "$PAGECACHE_NEW_END_MBS")"
printf '  kanald produce 1KiB acks=1 / new-file writes before: %s, after: %s\n' \
    "$(ratio "$kmbs" "$PAGECACHE_NEW_MBS")" "$(ratio "$kmbs" "$PAGECACHE_NEW_END_MBS")"

echo
echo "kanald memory (VmRSS): idle with a 100-partition topic $((RSS_IDLE / 1024)) MiB; after the produce loads $((RSS_LOAD / 1024)) MiB; peak (VmHWM) $((RSS_PEAK / 1024)) MiB"

if [ "$FAILED" -ne 0 ]; then
    echo
    echo "bench: $FAILED run(s) FAILED (see above); kanald log: $WORK/kanald.log"
    exit 1
fi
