#!/usr/bin/env bash
# Consumer-group benchmark (issue 5): one kanald on a private ZooKeeper, loads
# from confluent-kafka (librdkafka 2.0.2) in python3, one process per consumer.
#   1. time to a stable assignment when 10 consumers join a 60-partition topic
#      at once (from the moment all ten call subscribe() to the last
#      assignment of the generation where each holds 6 partitions), and when
#      one of them leaves (close() = LeaveGroup) or is kill -9ed; measured with
#      group.initial.rebalance.delay.ms 3000 (Kafka's default) and 0
#      (conf/kanald.properties), kanald restarted in between;
#   2. offset commit throughput on one coordinator: N members of one group,
#      each committing one partition's offset per OffsetCommit for a fixed
#      time, synchronously (one in flight per consumer: commits/s and
#      latency) and asynchronously (up to BENCH_ASYNC_WINDOW in flight per
#      consumer); kanald's CPU per 1000 commits; the committed offsets are
#      read back with OffsetFetch and checked.
# The client settings are printed with the figures. Bounded: every wait has a
# deadline, the driver has BENCH_TIMEOUT seconds; everything it started is
# stopped on exit.
#
#   scripts/bench-groups.sh                   build Release into build-bench/ and run (~3 min)
#   KANAL_BIN=path/kanald scripts/bench-groups.sh
#   BENCH_KEEP=1 scripts/bench-groups.sh      keep the work dir (kanald.log, result.json)
# Knobs: BENCH_CONSUMERS (10), BENCH_PARTITIONS (60), BENCH_REPS (3),
# BENCH_DELAYS ("3000 0", group.initial.rebalance.delay.ms per phase),
# BENCH_SESSION_MS (6000), BENCH_HEARTBEAT_MS (500), BENCH_STRATEGY (range),
# BENCH_COMMIT_CONSUMERS ("1 10"), BENCH_COMMIT_SECONDS (5),
# BENCH_ASYNC_WINDOW (100), BENCH_TIMEOUT (600), BENCH_OVERRIDES (extra kanald key=value ...,
# e.g. kanal.log.debug=group), BENCH_DEBUG=1 (print each member's assignment times).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

die() { echo "bench-groups: $*" >&2; exit 1; }
note() { echo "bench-groups: $*" >&2; }

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

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kanal-bench-groups.XXXXXX")
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    # The driver stops kanald and its consumers itself; this catches a driver
    # killed by the timeout (its children die with it: PR_SET_PDEATHSIG).
    if [ -f "$WORK/kanald.pid" ]; then
        local kp
        kp=$(cat "$WORK/kanald.pid")
        if kill -0 "$kp" 2>/dev/null; then
            kill -TERM "$kp" 2>/dev/null || true
            for _ in $(seq 100); do kill -0 "$kp" 2>/dev/null || break; sleep 0.1; done
            kill -0 "$kp" 2>/dev/null && kill -KILL "$kp" 2>/dev/null || true
        fi
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

ZKPORT=$("$ROOT/scripts/zk.sh" start "$WORK/zk") || die "ZooKeeper did not start"
note "ZooKeeper on 127.0.0.1:$ZKPORT; work dir $WORK"

export KANALD ZKPORT WORK
export CONSUMERS=${BENCH_CONSUMERS:-10} PARTITIONS=${BENCH_PARTITIONS:-60} REPS=${BENCH_REPS:-3}
export DELAYS=${BENCH_DELAYS:-3000 0} SESSION_MS=${BENCH_SESSION_MS:-6000}
export HEARTBEAT_MS=${BENCH_HEARTBEAT_MS:-500} STRATEGY=${BENCH_STRATEGY:-range}
export COMMIT_CONSUMERS=${BENCH_COMMIT_CONSUMERS:-1 10} COMMIT_SECONDS=${BENCH_COMMIT_SECONDS:-5}
export ASYNC_WINDOW=${BENCH_ASYNC_WINDOW:-100}

# ---- one consumer process ----
cat >"$WORK/member.py" <<'PYEOF'
"""One group member. stdin: "go" (subscribe), "sync S" / "async S" (commit
for S seconds), "close". stdout: JSON lines; ts = time.monotonic(), which is
one clock for every process on Linux."""
import ctypes, json, select, signal, sys, time
from confluent_kafka import Consumer, TopicPartition

ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # die with the driver
conf = json.loads(sys.argv[1])
acks = {"n": 0, "err": 0}


def on_commit(err, parts):
    if err is None and all(p.error is None for p in parts):
        acks["n"] += 1
    else:
        acks["err"] += 1


def out(**kw):
    kw["ts"] = time.monotonic()
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


c = Consumer({"bootstrap.servers": conf["boot"], "group.id": conf["group"],
              "session.timeout.ms": conf["session"], "heartbeat.interval.ms": conf["heartbeat"],
              "partition.assignment.strategy": conf["strategy"], "enable.auto.commit": False,
              "auto.offset.reset": "earliest", "on_commit": on_commit})
owned = []


def on_assign(cons, parts):
    owned[:] = sorted(p.partition for p in parts)
    out(ev="assign", parts=owned)


def on_revoke(cons, parts):
    owned[:] = []
    out(ev="revoke", parts=[])


def commit_run(mode, seconds):
    parts = list(owned)
    nxt = {p: 1 for p in parts}
    lat, n, errs, i = [], 0, 0, 0
    acks["n"] = acks["err"] = 0
    t0 = time.monotonic()
    end = t0 + seconds
    while time.monotonic() < end:
        p = parts[i % len(parts)]
        i += 1
        tp = [TopicPartition(conf["topic"], p, nxt[p])]
        if mode == "sync":
            t = time.monotonic()
            try:
                c.commit(offsets=tp, asynchronous=False)
                lat.append(time.monotonic() - t)
                n += 1
            except Exception:
                errs += 1
        else:
            while n - acks["n"] - acks["err"] >= conf["window"]:
                c.poll(0.001)
            c.commit(offsets=tp, asynchronous=True)
            n += 1
        nxt[p] += 1
    if mode == "async":
        drain = time.monotonic() + 10
        while acks["n"] + acks["err"] < n and time.monotonic() < drain:
            c.poll(0.01)
        n, errs = acks["n"], acks["err"] + (n - acks["n"] - acks["err"])
    took = time.monotonic() - t0
    lat.sort()
    pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else None
    out(ev="commits", mode=mode, n=n, errors=errs, seconds=took, p50=pct(0.5), p99=pct(0.99),
        last={str(p): nxt[p] - 1 for p in parts})


c.list_topics(conf["topic"], timeout=30)  # connected, metadata known: start-up is not measured
out(ev="ready")
sys.stdin.readline()  # "go"
c.subscribe([conf["topic"]], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_revoke)
while True:
    r, _, _ = select.select([sys.stdin], [], [], 0)
    if r:
        cmd = sys.stdin.readline().split()
        if not cmd or cmd[0] == "close":
            c.close()
            out(ev="closed")
            break
        commit_run(cmd[0], float(cmd[1]))
    c.poll(0.05)
PYEOF

timeout --kill-after=10 "${BENCH_TIMEOUT:-600}" "$PY" - <<'PYEOF'
import ctypes, json, os, signal, socket, statistics, subprocess, sys, time
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

WORK, KANALD, ZKPORT = os.environ["WORK"], os.environ["KANALD"], os.environ["ZKPORT"]
CONSUMERS, PARTITIONS, REPS = int(os.environ["CONSUMERS"]), int(os.environ["PARTITIONS"]), int(os.environ["REPS"])
DELAYS = [int(x) for x in os.environ["DELAYS"].split()]
SESSION_MS, HEARTBEAT_MS, STRATEGY = int(os.environ["SESSION_MS"]), int(os.environ["HEARTBEAT_MS"]), os.environ["STRATEGY"]
COMMIT_CONSUMERS = [int(x) for x in os.environ["COMMIT_CONSUMERS"].split()]
COMMIT_SECONDS, ASYNC_WINDOW = float(os.environ["COMMIT_SECONDS"]), int(os.environ["ASYNC_WINDOW"])
HZ = os.sysconf("SC_CLK_TCK")
TOPIC = "bench-groups"
result = {"settings": {}, "join": {}, "commit": {}}


def note(msg):
    print("bench-groups: " + msg, file=sys.stderr, flush=True)


def pdeathsig():
    ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Kanald:
    def __init__(self):
        self.port = free_port()
        self.boot = "127.0.0.1:%d" % self.port
        self.proc = None

    def start(self, delay_ms):
        args = [KANALD]
        for kv in ("broker.id=1", "listeners=PLAINTEXT://" + self.boot, "log.dirs=" + os.path.join(WORK, "data"),
                   "zookeeper.connect=127.0.0.1:" + ZKPORT, "offsets.topic.replication.factor=1",
                   "offsets.topic.num.partitions=50", "group.min.session.timeout.ms=1000",
                   "group.initial.rebalance.delay.ms=%d" % delay_ms, "num.partitions=1"):
            args += ["--override", kv]
        for kv in os.environ.get("BENCH_OVERRIDES", "").split():
            args += ["--override", kv]
        log = open(os.path.join(WORK, "kanald.log"), "ab")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=pdeathsig)
        with open(os.path.join(WORK, "kanald.pid"), "w") as f:
            f.write(str(self.proc.pid))
        admin = AdminClient({"bootstrap.servers": self.boot})
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise SystemExit("kanald exited during start-up (see %s/kanald.log)" % WORK)
            try:
                md = admin.list_topics(timeout=1)
                if 1 in md.brokers and md.controller_id == 1:  # CreateTopics needs the controller
                    break
            except Exception:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("kanald did not answer Metadata within 60 s")
            time.sleep(0.1)
        note("kanald pid %d on %s, group.initial.rebalance.delay.ms=%d" % (self.proc.pid, self.boot, delay_ms))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cpu(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / HZ


class Member:
    def __init__(self, k, group, name):
        conf = {"boot": k.boot, "group": group, "topic": TOPIC, "session": SESSION_MS, "heartbeat": HEARTBEAT_MS,
                "strategy": STRATEGY, "window": ASYNC_WINDOW}
        self.name = name
        self.proc = subprocess.Popen([sys.executable, os.path.join(WORK, "member.py"), json.dumps(conf)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, preexec_fn=pdeathsig)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.buf = b""
        self.events = []
        self.parts = None
        self.last_assign = None

    def pump(self):
        while True:
            try:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
            except BlockingIOError:
                chunk = None
            if chunk:
                self.buf += chunk
            if b"\n" not in self.buf:
                return
            line, self.buf = self.buf.split(b"\n", 1)
            ev = json.loads(line)
            self.events.append(ev)
            if ev["ev"] in ("assign", "revoke"):
                self.parts = ev["parts"]
                if ev["ev"] == "assign":
                    self.last_assign = ev["ts"]

    def send(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def wait_ev(self, kind, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump()
            for e in self.events:
                if e["ev"] == kind:
                    self.events.remove(e)
                    return e
            time.sleep(0.01)
        raise SystemExit("%s: no %s within %ds" % (self.name, kind, timeout))

    def kill(self):
        self.proc.kill()
        self.proc.wait()


def balanced(ms):
    allp = [p for m in ms for p in (m.parts or [])]
    if sorted(allp) != list(range(PARTITIONS)):
        return False
    lo = PARTITIONS // len(ms)
    return all(m.parts and lo <= len(m.parts) <= lo + (PARTITIONS % len(ms) > 0) for m in ms)


def wait_stable(ms, since, timeout=60, quiet=1.5):
    """Seconds from `since` to the last assignment of a balanced generation;
    the state must then stay unchanged for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for m in ms:
            m.pump()
        if balanced(ms):
            snap = [(m.parts, m.last_assign) for m in ms]
            t_end = time.monotonic() + quiet
            while time.monotonic() < t_end:
                for m in ms:
                    m.pump()
                time.sleep(0.02)
            if [(m.parts, m.last_assign) for m in ms] == snap:
                return max(m.last_assign for m in ms) - since
        time.sleep(0.01)
    raise SystemExit("no stable assignment within %ds: %s" % (timeout, [len(m.parts or []) for m in ms]))


def start_members(k, group, n):
    ms = [Member(k, group, "%s-%d" % (group, i)) for i in range(n)]
    for m in ms:
        m.wait_ev("ready")
    return ms


def close_all(ms):
    for m in ms:
        if m.proc.poll() is None:
            m.send("close")
    for m in ms:
        try:
            m.proc.wait(30)
        except subprocess.TimeoutExpired:
            m.kill()


def rounds(ms):
    return max(sum(1 for e in m.events if e["ev"] == "assign") for m in ms)


def all_revoked(ms, since):
    """Seconds from `since` until the last member saw the rebalance (its
    revoke callback: eager protocol), i.e. learned of it from a Heartbeat."""
    return max(min(e["ts"] for e in m.events if e["ev"] == "revoke" and e["ts"] >= since) for m in ms) - since


def join_phase(k, delay):
    res = {"join": [], "leave": [], "kill": [], "rounds": []}
    for r in range(REPS):
        ms = start_members(k, "join-d%d-r%d" % (delay, r), CONSUMERS)
        t0 = time.monotonic()
        for m in ms:
            m.send("go")
        res["join"].append(wait_stable(ms, t0))
        if os.environ.get("BENCH_DEBUG"):
            for m in ms:
                note("  %s: %s" % (m.name, ["%s %.2f %d" % (e["ev"], e["ts"] - t0, len(e.get("parts", [])))
                                          for e in m.events if e["ev"] in ("assign", "revoke")]))
        res["rounds"].append(rounds(ms))
        # one member leaves cleanly (LeaveGroup)
        t1 = time.monotonic()
        ms[-1].send("close")
        res["leave"].append(wait_stable(ms[:-1], t1))
        res.setdefault("leave_revoked", []).append(all_revoked(ms[:-1], t1))
        ms[-1].wait_ev("closed")
        # one member is kill -9ed: its session timeout, then the rebalance
        t2 = time.monotonic()
        ms[-2].kill()
        res["kill"].append(wait_stable(ms[:-2], t2, timeout=SESSION_MS / 1000 + 60))
        res.setdefault("kill_revoked", []).append(all_revoked(ms[:-2], t2))
        close_all(ms[:-2])
        note("delay %d ms, rep %d: join %.2fs (%d assignment rounds), leave %.2fs (all revoked after %.2fs), "
             "kill -9 %.2fs (all revoked after %.2fs)"
             % (delay, r + 1, res["join"][-1], res["rounds"][-1], res["leave"][-1], res["leave_revoked"][-1],
                res["kill"][-1], res["kill_revoked"][-1]))
    return res


def commit_phase(k, n):
    ms = start_members(k, "commit-%d" % n, n)
    for m in ms:
        m.send("go")
    wait_stable(ms, time.monotonic(), quiet=1.0)
    out = {}
    for mode in ("sync", "async"):
        cpu0 = k.cpu()
        for m in ms:
            m.send("%s %s" % (mode, COMMIT_SECONDS))
        rs = [m.wait_ev("commits", timeout=COMMIT_SECONDS + 60) for m in ms]
        cpu = k.cpu() - cpu0
        total = sum(r["n"] for r in rs)
        secs = max(r["seconds"] for r in rs)
        last = {}
        for r in rs:
            last.update({int(p): o for p, o in r["last"].items()})
        out[mode] = {"commits": total, "errors": sum(r["errors"] for r in rs), "seconds": secs,
                     "per_s": total / secs, "kanald_cpu_s": cpu, "cpu_ms_per_1000": cpu / max(total, 1) * 1e6,
                     "p50_ms": statistics.median([r["p50"] for r in rs]) if mode == "sync" else None,
                     "p99_ms": max(r["p99"] for r in rs) if mode == "sync" else None}
        # the coordinator must hold each partition's last acknowledged commit
        if out[mode]["errors"] == 0:
            chk = Consumer({"bootstrap.servers": k.boot, "group.id": "commit-%d" % n, "enable.auto.commit": False})
            got = chk.committed([TopicPartition(TOPIC, p) for p in last], timeout=30)
            chk.close()
            bad = [(tp.partition, tp.offset, last[tp.partition]) for tp in got if tp.offset != last[tp.partition]]
            out[mode]["offsets_checked"] = len(last)
            if bad:
                raise SystemExit("OffsetFetch after %s commits disagrees: %s" % (mode, bad[:5]))
        note("%d consumer(s), %s: %d commits in %.1fs = %.0f/s, errors %d, kanald CPU %.2fs"
             % (n, mode, total, secs, total / secs, out[mode]["errors"], cpu))
    close_all(ms)
    return out


k = Kanald()
try:
    result["settings"] = {
        "client": "confluent-kafka (librdkafka 2.0.2), one python3 process per consumer",
        "consumer": {"session.timeout.ms": SESSION_MS, "heartbeat.interval.ms": HEARTBEAT_MS,
                     "partition.assignment.strategy": STRATEGY, "enable.auto.commit": False},
        "broker": {"group.min.session.timeout.ms": 1000, "offsets.topic.num.partitions": 50,
                   "offsets.topic.replication.factor": 1, "group.initial.rebalance.delay.ms": DELAYS},
        "consumers": CONSUMERS, "partitions": PARTITIONS, "reps": REPS,
        "commit_consumers": COMMIT_CONSUMERS, "commit_seconds": COMMIT_SECONDS, "async_window": ASYNC_WINDOW,
    }
    for i, delay in enumerate(DELAYS):
        if i:
            k.stop()
        k.start(delay)
        if i == 0:
            admin = AdminClient({"bootstrap.servers": k.boot})
            admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])[TOPIC].result(30)
            deadline = time.monotonic() + 30
            while True:
                t = admin.list_topics(TOPIC, timeout=5).topics.get(TOPIC)
                if t and not t.error and len(t.partitions) == PARTITIONS and \
                        all(p.leader >= 0 for p in t.partitions.values()):
                    break
                if time.monotonic() > deadline:
                    raise SystemExit("topic %s has no leaders after 30 s" % TOPIC)
                time.sleep(0.1)
            del admin
        result["join"][delay] = join_phase(k, delay)
    for n in COMMIT_CONSUMERS:
        result["commit"][n] = commit_phase(k, n)
finally:
    k.stop()

with open(os.path.join(WORK, "result.json"), "w") as f:
    json.dump(result, f, indent=1)

s = result["settings"]
print()
print("Consumer groups on one kanald (%s)" % s["client"])
print("consumer settings: %s" % ", ".join("%s=%s" % kv for kv in s["consumer"].items()))
print("broker settings:   group.min.session.timeout.ms=1000, offsets.topic.replication.factor=1, "
      "offsets.topic.num.partitions=50")
print()
print("%d consumers joining a %d-partition topic at once, %d repetitions (median [min-max], seconds):"
      % (CONSUMERS, PARTITIONS, REPS))
print("| group.initial.rebalance.delay.ms | join: stable assignment | assignment rounds | one leaves (LeaveGroup) | one kill -9ed |")
print("|---:|---:|---:|---:|---:|")
fmt = lambda xs: "%.2f [%.2f-%.2f]" % (statistics.median(xs), min(xs), max(xs))
for delay, r in result["join"].items():
    print("| %d | %s | %s | %s | %s |" % (delay, fmt(r["join"]), "-".join(str(x) for x in sorted(set(r["rounds"]))),
                                      fmt(r["leave"]), fmt(r["kill"])))
print()
print("Offset commits on one coordinator (one partition per OffsetCommit, %.0f s per run; async: up to %d in flight per consumer):"
      % (COMMIT_SECONDS, ASYNC_WINDOW))
print("| consumers | mode | commits/s | latency p50 / p99 ms | kanald CPU ms per 1000 commits | errors |")
print("|---:|---|---:|---:|---:|---:|")
for n, modes in result["commit"].items():
    for mode, r in modes.items():
        latency = "%.2f / %.2f" % (r["p50_ms"], r["p99_ms"]) if r["p50_ms"] is not None else "-"
        print("| %d | %s | %.0f | %s | %.1f | %d |" % (n, mode, r["per_s"], latency, r["cpu_ms_per_1000"], r["errors"]))
PYEOF
