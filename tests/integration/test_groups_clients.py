#!/usr/bin/python3
"""Consumer groups with kafka-python 2.0.2 and kafkajs 2.2.4 (issue 5).

This file holds the scenarios, run per client by test_groups_kafkapython.py and
test_groups_kafkajs.py on one broker, and, run itself, the 3-broker case: the
group coordinator's broker is kill -9ed while a kafka-python group and then a
kafkajs group consume and commit.

Every member is its own process so it can be kill -9ed: kafka-python is this
file with --kp-worker, kafkajs is kafkajs_group_worker.js. Both print the same
JSON lines (assign / msg / committing / committed / idle / closed) and close
(LeaveGroup) on "close" from stdin. Group API versions: kafka-python JoinGroup
v2, SyncGroup/Heartbeat/LeaveGroup v1, OffsetCommit v2, OffsetFetch v1;
kafkajs JoinGroup v5, SyncGroup/Heartbeat v3, LeaveGroup v3, OffsetCommit v5,
OffsetFetch v4. Neither has static membership or cooperative-sticky
(test_groups.py covers those with confluent-kafka).

Client settings: session timeout 6000 ms, heartbeat 500 ms, kafkajs rebalance
timeout 10000 ms and maxWaitTimeInMs 250 (its heartbeats ride on the fetch
loop), kafka-python max_poll_interval_ms 20000 (its rebalance timeout);
broker group.initial.rebalance.delay.ms 300, group.min.session.timeout.ms 1000."""

import json
import os
import select
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SESSION_MS = 6000
OVERRIDES = {
    "group.initial.rebalance.delay.ms": "300",
    "group.min.session.timeout.ms": "1000",
    "offsets.topic.num.partitions": "10",
}
OVERRIDES_3 = {
    "default.replication.factor": "3",
    "min.insync.replicas": "2",
    "offsets.topic.replication.factor": "3",
    "offsets.topic.num.partitions": "6",
    "group.initial.rebalance.delay.ms": "300",
    "group.min.session.timeout.ms": "1000",
}


# --------------------------------------------------------------------------
# kafka-python worker (this file with --kp-worker '<json>')

def kp_worker(conf):
    from kafka import ConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata, TopicPartition

    def out(**kw):
        sys.stdout.write(json.dumps(kw) + "\n")
        sys.stdout.flush()

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            out(ev="revoke", parts=[])

        def on_partitions_assigned(self, assigned):
            out(ev="assign", parts=sorted(tp.partition for tp in assigned))

    c = KafkaConsumer(bootstrap_servers=conf["bootstrap"].split(","), group_id=conf["group"],
                      client_id="kanal-it-kp-worker", auto_offset_reset="earliest", enable_auto_commit=False,
                      session_timeout_ms=conf.get("session", SESSION_MS), heartbeat_interval_ms=500,
                      max_poll_interval_ms=20000, metadata_max_age_ms=2000, retry_backoff_ms=100)
    c.subscribe([conf["topic"]], listener=Listener())
    commit_every, limit, delay = conf.get("commit_every", 0), conf.get("limit", 0), conf.get("delay_ms", 0)
    n = 0
    while True:
        r, _, _ = select.select([sys.stdin], [], [], 0)
        if r:
            line = sys.stdin.readline().strip()
            if line == "close" or not line:
                c.close()  # LeaveGroup
                out(ev="closed")
                return
        for tp, msgs in c.poll(timeout_ms=100).items():
            for m in msgs:
                if limit and n >= limit:
                    break
                out(ev="msg", p=tp.partition, o=m.offset)
                n += 1
                if delay:
                    time.sleep(delay / 1000.0)
                if commit_every and n % commit_every == 0:
                    out(ev="committing", p=tp.partition, o=m.offset + 1)
                    try:
                        c.commit({TopicPartition(tp.topic, tp.partition): OffsetAndMetadata(m.offset + 1, None)})
                        out(ev="committed", p=tp.partition, o=m.offset + 1)
                    except Exception as e:  # CommitFailedError after a rebalance
                        out(ev="commit_failed", p=tp.partition, err=type(e).__name__)
                if limit and n == limit:
                    out(ev="idle")


# --------------------------------------------------------------------------
# test side

def node():
    exe = shutil.which("node") or shutil.which("nodejs")
    h.expect(exe is not None, "node is not installed (scripts/install-deps.sh)")
    return exe


CLIENTS = ("kafka-python", "kafkajs")


class Member:
    """One consumer process of either client, fed by its JSON lines."""

    def __init__(self, c, client, group, topic, name, **extra):
        conf = dict(bootstrap=c.bootstrap, group=group, topic=topic)
        conf.update(extra)
        if client == "kafkajs":
            argv = [node(), os.path.join(HERE, "kafkajs_group_worker.js"), json.dumps(conf)]
        else:
            argv = [sys.executable, os.path.abspath(__file__), "--kp-worker", json.dumps(conf)]
        self.name = name
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=HERE,
                                     preexec_fn=h._child_setup)
        h._children.append(self.proc)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.buf = b""
        self.parts = []
        self.msgs = []       # (partition, offset) in delivery order
        self.committed = {}  # partition -> last acknowledged next offset
        self.committing = {}  # partition -> last next offset sent
        self.events = []

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
            try:
                ev = json.loads(line)
            except ValueError:
                h.log("%s: %s" % (self.name, line[:300]))
                continue
            self.events.append(ev)
            k = ev["ev"]
            if k in ("assign", "revoke"):
                self.parts = ev["parts"]
            elif k == "msg":
                self.msgs.append((ev["p"], ev["o"]))
            elif k == "committing":
                self.committing[ev["p"]] = ev["o"]
            elif k == "committed":
                self.committed[ev["p"]] = ev["o"]
            elif k in ("error", "commit_failed"):
                h.log("%s: %s" % (self.name, ev))

    def has(self, ev):
        self.pump()
        return any(e["ev"] == ev for e in self.events)

    def close(self):
        self.proc.stdin.write(b"close\n")
        self.proc.stdin.flush()

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.pump()

    def wait_exit(self, timeout=30):
        try:
            self.proc.wait(timeout=h.scaled(timeout))
        except subprocess.TimeoutExpired:
            self.kill9()
            raise h.TestFailure("%s did not exit within %ds of close" % (self.name, timeout))
        self.pump()


def pump_all(ms):
    for m in ms:
        m.pump()


def distinct(ms):
    return set(x for m in ms for x in m.msgs)


def wait_assignment(ms, want, timeout, what):
    """want: partition counts per member, in order; together disjoint."""
    def ok():
        pump_all(ms)
        allp = [p for m in ms for p in m.parts]
        return [len(m.parts) for m in ms] == want and len(set(allp)) == len(allp) == sum(want)
    try:
        h.wait_until(ok, timeout, what, interval=0.05)
    except h.TestFailure:
        raise h.TestFailure("%s: assignments %s" % (what, [m.parts for m in ms]))


def produce(c, topic, n, partitions, start=0):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": c.bootstrap, "linger.ms": 2, "acks": "all"})
    for i in range(start, start + n):
        p.produce(topic, value=b"v%d" % i, partition=i % partitions)
    h.eq(p.flush(h.scaled(30)), 0, "unflushed records")


def fetch_committed(c, group, topic, partitions):
    """The group's committed offsets as the coordinator answers OffsetFetch
    (confluent-kafka, which does not join the group for this)."""
    from confluent_kafka import Consumer, TopicPartition
    cons = Consumer({"bootstrap.servers": c.bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        tps = cons.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=h.scaled(30))
    finally:
        cons.close()
    return {tp.partition: tp.offset for tp in tps if tp.offset >= 0}


def check_resume(commits, msgs, ends, who):
    """Every partition's records resume exactly at its committed offset (0 if
    none) and run without a gap to its end; each record once."""
    by = {}
    for p, o in msgs:
        by.setdefault(p, []).append(o)
    for p, end in ends.items():
        start = commits.get(p, 0)
        offs = by.get(p, [])
        if sorted(offs) != list(range(start, end)):
            raise h.TestFailure("%s, partition %d: committed %d, end %d, delivered %d records %s..%s"
                                % (who, p, start, end, len(offs), sorted(offs)[:3], sorted(offs)[-3:]))


# ---- scenarios (one broker) -------------------------------------------------

def split_kill_leave(c, client):
    """Three members on 6 partitions get 2/2/2; a kill -9ed member's partitions
    go to the others after its session timeout; a clean leave rebalances at
    once."""
    topic, group = "%s-six" % client, "%s-split" % client
    c.create_topic(topic, 6)
    produce(c, topic, 600, 6)
    t0 = time.monotonic()
    ms = [Member(c, client, group, topic, "%s-m%d" % (client, i)) for i in range(3)]
    wait_assignment(ms, [2, 2, 2], 45, "three %s consumers with two partitions each" % client)
    h.log("%s: three members stable with 2+2+2 after %.1fs (process start included)"
          % (client, time.monotonic() - t0))
    h.wait_until(lambda: (pump_all(ms), len(distinct(ms)) >= 600)[1], 40, "600 records consumed")
    ms[2].kill9()
    t0 = time.monotonic()
    wait_assignment(ms[:2], [3, 3], 40, "%s survivors sharing the killed member's partitions" % client)
    took = time.monotonic() - t0
    h.log("%s: after kill -9, 3+3 in %.1fs (session timeout %.1fs)" % (client, took, SESSION_MS / 1000))
    h.expect(took >= SESSION_MS / 1000 - 1.5, "rebalance before the session timeout (%.1fs)" % took)
    ms[1].close()
    t0 = time.monotonic()
    wait_assignment(ms[:1], [6], 30, "%s: the last member owning all six after a clean leave" % client)
    took = time.monotonic() - t0
    h.log("%s: after a clean leave, 6 in %.1fs" % (client, took))
    h.expect(took < SESSION_MS / 1000 - 1, "rebalance after LeaveGroup should be immediate, took %.1fs" % took)
    ms[1].wait_exit()
    h.expect(ms[1].has("closed"), "the leaving member reports a clean close")
    ms[0].close()
    ms[0].wait_exit()


def commits_survive_restart(c, client):
    """A member commits every 7 records, stops after 500 (an uncommitted tail
    behind its last commit) and is kill -9ed; the coordinator answers exactly
    its acknowledged commits, and a new member resumes exactly there: nothing
    committed is delivered again, nothing is skipped."""
    topic, group = "%s-commit" % client, "%s-commit" % client
    c.create_topic(topic, 3)
    produce(c, topic, 900, 3)
    m = Member(c, client, group, topic, "%s-c0" % client, commit_every=7, limit=500)
    h.wait_until(lambda: m.has("idle"), 40, "the first %s consumer to read 500 records" % client)
    m.kill9()
    acked = dict(m.committed)
    h.eq(len(m.msgs), 500, "records delivered to the killed consumer")
    h.expect(sum(acked.values()) > 0, "the killed consumer committed something: %s" % acked)
    stored = fetch_committed(c, group, topic, 3)
    h.eq(stored, acked, "offsets the coordinator holds after the consumer's kill -9")
    tail = [(p, o) for p, o in m.msgs if o >= acked.get(p, 0)]
    h.log("%s: killed after 500 records; committed %s; uncommitted tail %d records"
          % (client, acked, len(tail)))
    m2 = Member(c, client, group, topic, "%s-c1" % client, commit_every=5)
    h.wait_until(lambda: (m2.pump(), all((p, 299) in m2.msgs for p in range(3)))[1], 60,
                 "the restarted %s consumer to read to the end" % client)
    time.sleep(0.5)
    m2.pump()
    check_resume(stored, m2.msgs, {p: 300 for p in range(3)}, "%s after a consumer restart" % client)
    h.expect(set(tail) <= set(m2.msgs), "the uncommitted tail is delivered again")
    m2.close()
    m2.wait_exit()


def two_groups(c, client):
    topic = "%s-two" % client
    c.create_topic(topic, 3)
    produce(c, topic, 300, 3)
    a = [Member(c, client, "%s-gx" % client, topic, "%s-x%d" % (client, i)) for i in range(2)]
    b = [Member(c, client, "%s-gy" % client, topic, "%s-y0" % client)]
    h.wait_until(lambda: (pump_all(a + b), len(distinct(a)) >= 300 and len(distinct(b)) >= 300)[1], 60,
                 "both %s groups to receive all 300 records" % client)
    want = set((i % 3, i // 3) for i in range(300))
    for grp in (a, b):
        h.eq(distinct(grp), want, "records received by a group")
    for m in a + b:
        m.close()
    for m in a + b:
        m.wait_exit()


def kafkajs_roundtrip(c):
    """kafkajs produces and consumes in a group, commits, DescribeGroups /
    ListGroups after it left; a second consumer starts at the commits."""
    topic = "js-groups"
    c.create_topic(topic, 3)
    out = h.run_cmd([node(), os.path.join(HERE, "kafkajs_group.js"), "roundtrip", c.bootstrap, topic, "js-g", "90"],
                    timeout=120).stdout.decode()
    r = json.loads(out.strip().splitlines()[-1])
    h.eq(r["consumed"], 90, "records consumed by kafkajs")
    committed = {str(p): o for p, o in r["committed"]}
    # kafkajs spreads keyed records by its own partitioner: every partition's
    # commit is its log end, and together they cover all 90 records.
    h.eq(sum(committed.values()), 90, "sum of kafkajs committed offsets (%s)" % committed)
    h.eq(r["state"], "Empty", "group state after the consumer left")
    h.expect("js-g" in r["listed"], "ListGroups lists js-g: %s" % r["listed"])
    produce(c, topic, 30, 3, start=90)
    out = h.run_cmd([node(), os.path.join(HERE, "kafkajs_group.js"), "resume", c.bootstrap, topic, "js-g", "30"],
                    timeout=120).stdout.decode()
    r = json.loads(out.strip().splitlines()[-1])
    h.eq(r["first"], committed, "first offsets after resuming from commits")


def single_broker_main(client, name):
    run = h.Runner(name, hard_timeout=170)
    try:
        with h.Cluster(brokers=1, overrides=OVERRIDES, name=name.replace("_", "-")) as c:
            if client == "kafkajs":
                run.case("kafkajs produce-and-consume round trip, resume", kafkajs_roundtrip, c)
            run.case("%s: three members 2/2/2, kill -9, clean leave" % client, split_kill_leave, c, client)
            run.case("%s: commits survive a consumer kill -9 and restart" % client,
                     commits_survive_restart, c, client)
            run.case("%s: two groups each receive every record" % client, two_groups, c, client)
    except h.HardTimeout:
        run.fail("hard timeout")
    run.finish()


# ---- the coordinator's broker kill -9ed (three brokers) ---------------------

def java_hash(s):
    hv = 0
    for ch in s.encode():
        hv = (31 * hv + ch) & 0xFFFFFFFF
    return hv - (1 << 32) if hv & 0x80000000 else hv


def coordinator_of(c, group):
    part = abs(java_hash(group)) % int(OVERRIDES_3["offsets.topic.num.partitions"])
    t = c.metadata(["__consumer_offsets"])["topics"].get("__consumer_offsets")
    h.expect(t is not None and t["error"] == 0, "__consumer_offsets exists")
    return [p["leader"] for p in t["partitions"] if p["partition"] == part][0], part


def coordinator_kill(c, client, state):
    """Two members consume a 3-partition RF=3 topic slowly, committing every
    10 records; the coordinator's broker is kill -9ed mid-stream. Checks: no
    record below a commit acknowledged before the kill is delivered after it;
    the members carry on; once they are kill -9ed in turn, the (new)
    coordinator holds exactly their last acknowledged commits, and two new
    members resume exactly there and read to the end."""
    per, parts = 500, 3
    topic, group = "%s-fo" % client, "%s-fo-group" % client
    if state.get("down") is not None:
        # The previous case killed a broker: bring it back into the ISRs.
        c.broker(state.pop("down")).start()
        time.sleep(3)
    c.create_topic(topic, parts, replication_factor=3)
    produce(c, topic, per * parts, parts)
    ms = [Member(c, client, group, topic, "%s-fo%d" % (client, i), commit_every=10, delay_ms=4)
          for i in range(2)]
    h.wait_until(lambda: (pump_all(ms), len(distinct(ms)) >= per * parts // 3 and all(m.committed for m in ms))[1],
                 60, "%s members consuming and committing" % client)
    pre = {}
    for m in ms:
        for p, o in m.committed.items():
            pre[p] = max(pre.get(p, 0), o)
    mark = [len(m.msgs) for m in ms]
    for m in ms:
        h.log("%s: partitions %s, acknowledged commits %s, %d records" % (m.name, m.parts, m.committed, len(m.msgs)))
    coord, opart = coordinator_of(c, group)
    h.log("%s: coordinator is broker %d (__consumer_offsets-%d); acknowledged commits %s; %d records read"
          % (client, coord, opart, pre, len(distinct(ms))))
    t0 = time.monotonic()
    c.broker(coord).kill9()
    state["down"] = coord
    # The members carry on: at least 400 further records and new commits from each.
    base = [dict(m.committed) for m in ms]
    try:
        # kafkajs 2.2.4 keeps the dead coordinator's broker in its cache and
        # a member may sit out a while (docs/groups.md); the group as a whole
        # must go on consuming and committing. What this case proves comes
        # after: the new coordinator returns exactly the acknowledged commits.
        h.wait_until(lambda: (pump_all(ms), sum(len(m.msgs) for m in ms) - sum(mark) >= 400
                              and any(m.committed != b for m, b in zip(ms, base)))[1], h.scaled(90),
                     "%s members to consume and commit after the coordinator's kill" % client)
    except h.TestFailure:
        for m in ms:
            h.log("%s: %d records after the kill; last events %s"
                  % (m.name, len(m.msgs) - mark[ms.index(m)], [e for e in m.events if e["ev"] != "msg"][-8:]))
        raise
    h.log("%s: consuming and committing again %.1fs after the kill" % (client, time.monotonic() - t0))
    for m, k in zip(ms, mark):
        below = [(p, o) for p, o in m.msgs[k:] if o < pre.get(p, 0)]
        h.eq(below[:5], [], "%s: records below a pre-kill commit delivered after the kill" % m.name)
    for m in ms:
        m.kill9()
    last = {}
    inflight = {}
    for m in ms:
        for p, o in m.committed.items():
            last[p] = max(last.get(p, 0), o)
        for p, o in m.committing.items():
            inflight[p] = max(inflight.get(p, 0), o)
    stored = fetch_committed(c, group, topic, parts)
    for p in range(parts):
        h.expect(stored.get(p, 0) >= pre.get(p, 0), "partition %d: commit %d from before the kill lost (now %s)"
                 % (p, pre.get(p, 0), stored.get(p)))
        h.expect(stored.get(p, 0) in (last.get(p, 0), inflight.get(p, 0)),
                 "partition %d: coordinator holds %s, last acknowledged %s, last sent %s"
                 % (p, stored.get(p), last.get(p), inflight.get(p)))
    h.log("%s: commits before the kill %s, at the end %s (coordinator now broker %d)"
          % (client, pre, stored, coordinator_of(c, group)[0]))
    ms2 = [Member(c, client, group, topic, "%s-fo-new%d" % (client, i)) for i in range(2)]
    h.wait_until(lambda: (pump_all(ms2), all((p, per - 1) in distinct(ms2) for p in range(parts)))[1], 60,
                 "new %s members to read to the end" % client)
    time.sleep(0.5)
    pump_all(ms2)
    check_resume(stored, [x for m in ms2 for x in m.msgs], {p: per for p in range(parts)},
                 "%s after the coordinator's kill -9" % client)
    for m in ms2:
        m.close()
    for m in ms2:
        m.wait_exit()


def main():
    run = h.Runner("groups_clients", hard_timeout=170)
    state = {}
    try:
        with h.Cluster(brokers=3, overrides=OVERRIDES_3, name="groups-clients") as c:
            for client in os.environ.get("KANAL_GROUPS_CLIENTS", " ".join(CLIENTS)).split():
                run.case("%s group: commits survive a kill -9 of the coordinator's broker (3 brokers)" % client,
                         coordinator_kill, c, client, state)
    except h.HardTimeout:
        run.fail("hard timeout")
    run.finish()


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--kp-worker":
        kp_worker(json.loads(sys.argv[2]))
    else:
        main()
