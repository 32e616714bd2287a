#!/usr/bin/env bash
# Log-lifecycle benchmark (issue 7): one kanald on a private ZooKeeper, with
# references measured in the same run, printed as ratios:
#   1. produce throughput with lz4 and zstd (and any BENCH_CODECS) next to
#      uncompressed: records/s, MB/s of payload, bytes on disk, kanald CPU;
#   2. cleaner throughput (MB/s) next to the disk's sequential-write ceiling
#      (dd with fdatasync, the cleaner fsyncs what it writes);
#   3. produce p99 latency while the cleaner runs next to without it.
# Loads come from confluent-kafka (librdkafka 2.0.2) in python3. Payloads are
# JSON-like records with random fields (they compress like real events, not
# like a repeated alphabet). Bounded: every wait has a deadline, the driver
# has BENCH_TIMEOUT seconds; everything started is stopped on exit.
#
#   scripts/bench-codecs.sh                  build Release into build-bench/ and run (~3 min)
#   KANAL_BIN=path/kanald scripts/bench-codecs.sh
#   BENCH_KEEP=1 scripts/bench-codecs.sh     keep the work dir (kanald.log, result.json)
# Knobs: BENCH_CODECS ("none lz4 zstd"), BENCH_N (200000 records), BENCH_SIZE (1024 B),
# BENCH_REPS (3), BENCH_CLEAN_MB (384), BENCH_LAT_SECONDS (8), BENCH_LAT_RATE (500/s),
# BENCH_DD_MB (512), BENCH_TIMEOUT (900).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

die() { echo "bench-codecs: $*" >&2; exit 1; }
note() { echo "bench-codecs: $*" >&2; }

if [ -n "${KANAL_BIN:-}" ]; then
    KANALD=$KANAL_BIN
else
    note "building Release into build-bench/ (-j2)"
    cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
        -DKANAL_WERROR=OFF >/dev/null || die "cmake configure failed (build-bench/)"
    cmake --build "$ROOT/build-bench" -j2 --target kanald >/dev/null ||
        die "Release build failed; fix it, or pass KANAL_BIN=<kanald>"
    KANALD=$ROOT/build-bench/src/broker/kanald
fi
[ -x "$KANALD" ] || die "kanald not found at $KANALD"
"$PY" -c 'import confluent_kafka' 2>/dev/null || die "python3-confluent-kafka is needed"
command -v kcat >/dev/null || die "kcat is needed for the readiness check"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kanal-bench-codecs.XXXXXX")
KPID=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$KPID" ] && kill -0 "$KPID" 2>/dev/null; then
        kill -TERM "$KPID" 2>/dev/null || true
        for _ in $(seq 300); do kill -0 "$KPID" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$KPID" 2>/dev/null && kill -KILL "$KPID" 2>/dev/null || true
    fi
    "$ROOT/scripts/zk.sh" stop "$WORK/zk" >/dev/null 2>&1 || true
    if [ "${BENCH_KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
        note "work dir kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the disk's sequential-write ceiling, before the broker writes anything ----
DD_MB=${BENCH_DD_MB:-512}
t0=$(date +%s%N)
dd if=/dev/zero of="$WORK/ddfile" bs=1M count="$DD_MB" conv=fdatasync status=none
t1=$(date +%s%N)
rm -f "$WORK/ddfile"
DISK_MBS=$(awk -v mb="$DD_MB" -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f", mb / (ns / 1e9) }')
note "disk ceiling: dd ${DD_MB} MiB bs=1M conv=fdatasync: $DISK_MBS MB/s"

# ---- ZooKeeper + kanald ----
ZKPORT=$("$ROOT/scripts/zk.sh" start "$WORK/zk") || die "ZooKeeper did not start"
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BOOT=127.0.0.1:$PORT
mkdir -p "$WORK/data"
KARGS=()
[ -f "$ROOT/conf/kanald.properties" ] && KARGS+=(--config "$ROOT/conf/kanald.properties")
KARGS+=(--override broker.id=1 --override "listeners=PLAINTEXT://$BOOT" --override "log.dirs=$WORK/data"
        --override "zookeeper.connect=127.0.0.1:$ZKPORT" --override offsets.topic.replication.factor=1
        --override log.cleaner.backoff.ms=200)
"$KANALD" "${KARGS[@]}" </dev/null >"$WORK/kanald.log" 2>&1 &
KPID=$!
deadline=$((SECONDS + 60))
until kcat -L -b "$BOOT" -m 2 2>/dev/null | grep -q "broker 1 at"; do
    kill -0 "$KPID" 2>/dev/null || { tail -n 40 "$WORK/kanald.log" >&2; die "kanald exited during start-up"; }
    [ $SECONDS -lt $deadline ] || die "kanald did not answer Metadata on $BOOT within 60 s"
    sleep 0.1
done
note "kanald pid $KPID ready on $BOOT; work dir $WORK"

export BOOT KPID WORK DISK_MBS DD_MB
export CODECS=${BENCH_CODECS:-none lz4 zstd} N=${BENCH_N:-200000} SIZE=${BENCH_SIZE:-1024}
export REPS=${BENCH_REPS:-3} CLEAN_MB=${BENCH_CLEAN_MB:-384} LAT_SECONDS=${BENCH_LAT_SECONDS:-8}
export LAT_RATE=${BENCH_LAT_RATE:-500}
timeout --kill-after=10 "${BENCH_TIMEOUT:-900}" "$PY" - <<'PYEOF'
import json, os, random, re, statistics, string, sys, time
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

BOOT, KPID, WORK = os.environ["BOOT"], int(os.environ["KPID"]), os.environ["WORK"]
CODECS = os.environ["CODECS"].split()
N, SIZE, REPS = int(os.environ["N"]), int(os.environ["SIZE"]), int(os.environ["REPS"])
CLEAN_MB, LAT_SECONDS, LAT_RATE = int(os.environ["CLEAN_MB"]), float(os.environ["LAT_SECONDS"]), int(os.environ["LAT_RATE"])
DISK_MBS = float(os.environ["DISK_MBS"])
HZ = os.sysconf("SC_CLK_TCK")
admin = AdminClient({"bootstrap.servers": BOOT})


def note(msg):
    print("bench-codecs: " + msg, file=sys.stderr, flush=True)


def kanald_cpu():
    with open("/proc/%d/stat" % KPID) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def create(topic, parts, config=None):
    fs = admin.create_topics([NewTopic(topic, parts, 1, config=config or {})], operation_timeout=20)
    fs[topic].result(30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        md = admin.list_topics(topic, timeout=5).topics.get(topic)
        if md and not md.error and len(md.partitions) == parts and all(p.leader >= 0 for p in md.partitions.values()):
            return
        time.sleep(0.1)
    raise SystemExit("topic %s has no leaders" % topic)


def disk_bytes(topic):
    tot = 0
    d = os.path.join(WORK, "data")
    for name in os.listdir(d):
        if name.rsplit("-", 1)[0] == topic:
            for f in os.listdir(os.path.join(d, name)):
                if f.endswith(".log"):
                    tot += os.path.getsize(os.path.join(d, name, f))
    return tot


# JSON-like events: repeated field names, random ids and numbers, a few words.
rnd = random.Random(7)
WORDS = ["checkout", "login", "search", "cart", "payment", "refund", "view", "click", "error", "timeout",
         "europe", "asia", "mobile", "desktop", "chrome", "firefox", "ok", "retry", "cache", "miss"]


def event(i, size):
    base = {"id": i, "user": "u%06d" % rnd.randrange(10 ** 6), "ts": 1732400000000 + i * 7,
            "action": rnd.choice(WORDS), "region": rnd.choice(WORDS), "amount": round(rnd.random() * 500, 2),
            "session": "".join(rnd.choice(string.hexdigits) for _ in range(16)), "tags": rnd.sample(WORDS, 3)}
    s = json.dumps(base)
    while len(s) < size:
        s += " " + " ".join(rnd.sample(WORDS, 4)) + " " + "%08x" % rnd.getrandbits(32)
    return s[:size].encode()


POOL = [event(i, SIZE) for i in range(2000)]


def produce_run(topic, codec, n):
    conf = {"bootstrap.servers": BOOT, "acks": "1", "linger.ms": 5, "batch.size": 1 << 20,
            "queue.buffering.max.kbytes": 1 << 20, "compression.codec": codec}
    p = Producer(conf)
    errs = [0]

    def cb(err, msg):
        if err:
            errs[0] += 1
    c0, t0 = kanald_cpu(), time.monotonic()
    for i in range(n):
        while True:
            try:
                p.produce(topic, POOL[i % len(POOL)], on_delivery=cb)
                break
            except BufferError:
                p.poll(0.01)
        if i % 1000 == 0:
            p.poll(0)
    left = p.flush(120)
    el = time.monotonic() - t0
    cpu = kanald_cpu() - c0
    if left or errs[0]:
        raise SystemExit("%s: %d undelivered, %d delivery errors" % (topic, left, errs[0]))
    return {"records_per_s": n / el, "mb_per_s": n * SIZE / el / 2 ** 20, "kanald_cpu_s": cpu,
            "disk_bytes": disk_bytes(topic)}


# ---- 1. produce throughput per codec, interleaved so noise hits all alike ----
runs = {c: [] for c in CODECS}
for rep in range(REPS):
    for c in CODECS:
        t = "codec-%s-%d" % (c, rep)
        create(t, 3)
        r = produce_run(t, c, N)
        runs[c].append(r)
        note("produce %-6s rep %d: %.0f records/s, %.1f MB/s, on disk %.1f MiB, kanald CPU %.2f s"
             % (c, rep, r["records_per_s"], r["mb_per_s"], r["disk_bytes"] / 2 ** 20, r["kanald_cpu_s"]))
med = {c: sorted(runs[c], key=lambda r: r["records_per_s"])[len(runs[c]) // 2] for c in CODECS}


# ---- latency producer: paced, linger.ms=0, one partition ----
def latency_run(topic, seconds, until=None):
    p = Producer({"bootstrap.servers": BOOT, "acks": "1", "linger.ms": 0})
    lat = []

    def mk(t0):
        return lambda err, msg: lat.append(time.monotonic() - t0) if not err else None
    val = POOL[0][:200]
    # warm-up (connection set-up is not latency)
    p.produce(topic, val, partition=0)
    p.flush(10)
    interval = 1.0 / LAT_RATE
    start = time.monotonic()
    nxt = start
    sent = 0
    while time.monotonic() - start < seconds and not (until and until()):
        now = time.monotonic()
        if now >= nxt:
            p.produce(topic, val, partition=0, on_delivery=mk(now))
            sent += 1
            nxt += interval
        p.poll(max(0.0, min(nxt - time.monotonic(), 0.001)))
    p.flush(30)
    lat.sort()
    pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")
    return {"n": len(lat), "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": lat[-1] * 1000 if lat else 0,
            "seconds": time.monotonic() - start}


create("lat", 1)

# ---- 2. a log for the cleaner: CLEAN_MB of keyed updates (10,000 keys) ----
ctopic = "cleanme"
create(ctopic, 1, {"cleanup.policy": "delete", "segment.bytes": str(16 << 20)})
p = Producer({"bootstrap.servers": BOOT, "acks": "1", "linger.ms": 5, "batch.size": 1 << 20,
              "queue.buffering.max.kbytes": 1 << 20})
n_clean = CLEAN_MB * 2 ** 20 // SIZE
for i in range(n_clean):
    while True:
        try:
            p.produce(ctopic, POOL[i % len(POOL)], key=b"key-%05d" % rnd.randrange(10000))
            break
        except BufferError:
            p.poll(0.01)
    if i % 1000 == 0:
        p.poll(0)
if p.flush(120):
    raise SystemExit("cleaner topic: undelivered records")
note("cleaner topic: %d records, %.0f MiB on disk" % (n_clean, disk_bytes(ctopic) / 2 ** 20))

lat_before = latency_run("lat", LAT_SECONDS)
note("latency without the cleaner: p50 %.2f ms p99 %.2f ms (%d records)"
     % (lat_before["p50_ms"], lat_before["p99_ms"], lat_before["n"]))

# ---- 3. turn compaction on; measure latency while the cleaner runs ----
logf = open(os.path.join(WORK, "kanald.log"), "rb")
logf.seek(0, 2)
buf = [b""]


def log_has(pat):
    buf[0] += logf.read()
    return re.search(pat, buf[0])


res = ConfigResource(ConfigResource.Type.TOPIC, ctopic,
                     set_config={"cleanup.policy": "compact", "segment.bytes": str(16 << 20),
                                 "min.cleanable.dirty.ratio": "0.01"})
admin.alter_configs([res])[res].result(30)
deadline = time.monotonic() + 60
while not log_has(rb"\[%s-0\] cleaner: starting" % ctopic.encode()):
    if time.monotonic() > deadline:
        raise SystemExit("the cleaner did not start within 60 s")
    time.sleep(0.05)
cleaned_re = rb"\[%s-0\] cleaned .*read (\d+) written (\d+) bytes in (\d+) ms \(throttled (\d+) ms\)" % ctopic.encode()
lat_during = latency_run("lat", LAT_SECONDS, until=lambda: log_has(cleaned_re))
note("latency while the cleaner runs: p50 %.2f ms p99 %.2f ms (%d records over %.1f s)"
     % (lat_during["p50_ms"], lat_during["p99_ms"], lat_during["n"], lat_during["seconds"]))
deadline = time.monotonic() + 300
while not log_has(cleaned_re):
    if time.monotonic() > deadline:
        raise SystemExit("the cleaner did not finish within 300 s")
    time.sleep(0.2)
m = log_has(cleaned_re)
rd, wr, ms, thr = (int(x) for x in m.groups())
clean = {"read_bytes": rd, "written_bytes": wr, "elapsed_ms": ms, "throttled_ms": thr,
         "read_mb_per_s": rd / 2 ** 20 / (ms / 1000), "io_mb_per_s": (rd + wr) / 2 ** 20 / (ms / 1000),
         "io_mb_per_s_unthrottled": (rd + wr) / 2 ** 20 / (max(1, ms - thr) / 1000)}
lat_after = latency_run("lat", LAT_SECONDS)
note("latency after the cleaner: p50 %.2f ms p99 %.2f ms" % (lat_after["p50_ms"], lat_after["p99_ms"]))

# ---- report ----
ref = med.get("none") or med[CODECS[0]]
print()
print("## produce, %d records of %d B JSON-like payload, 3 partitions, acks=1, median of %d" % (N, SIZE, REPS))
print("| codec | records/s | MB/s (payload) | vs none | on disk MiB | payload/disk | kanald CPU s | CPU vs none |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for c in CODECS:
    r = med[c]
    print("| %s | %.0f | %.1f | %.2f | %.1f | %.2f | %.2f | %.2f |" % (
        c, r["records_per_s"], r["mb_per_s"], r["records_per_s"] / ref["records_per_s"], r["disk_bytes"] / 2 ** 20,
        N * SIZE / max(1, r["disk_bytes"]), r["kanald_cpu_s"], r["kanald_cpu_s"] / max(1e-9, ref["kanald_cpu_s"])))
print()
print("## cleaner (%d MiB, 10,000 keys, uncompressed)" % CLEAN_MB)
print("disk ceiling (dd fdatasync): %.1f MB/s" % DISK_MBS)
print("cleaner read %.1f MB/s, read+write %.1f MB/s in %.1f s (throttled %.1f s): "
      "read+write / disk = %.2f; without the throttle's sleeps %.1f MB/s = %.2f of the disk"
      % (clean["read_mb_per_s"], clean["io_mb_per_s"], ms / 1000, thr / 1000, clean["io_mb_per_s"] / DISK_MBS,
         clean["io_mb_per_s_unthrottled"], clean["io_mb_per_s_unthrottled"] / DISK_MBS))
print()
print("## produce latency, %d records/s, linger.ms=0, acks=1" % LAT_RATE)
print("| when | records | p50 ms | p99 ms | max ms |")
print("|---|---:|---:|---:|---:|")
for name, l in (("before the cleaner", lat_before), ("while the cleaner runs", lat_during),
                ("after the cleaner", lat_after)):
    print("| %s | %d | %.2f | %.2f | %.2f |" % (name, l["n"], l["p50_ms"], l["p99_ms"], l["max_ms"]))
idle_p99 = max(lat_before["p99_ms"], lat_after["p99_ms"])
print("p99 while cleaning / p99 idle (worse of before and after): %.2f" % (lat_during["p99_ms"] / idle_p99))
with open(os.path.join(WORK, "result.json"), "w") as f:
    json.dump({"produce": runs, "median": med, "cleaner": clean, "disk_mb_per_s": DISK_MBS,
               "latency": {"before": lat_before, "during": lat_during, "after": lat_after}}, f, indent=1)
PYEOF
