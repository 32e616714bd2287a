#!/usr/bin/python3
"""Consumer groups with confluent-kafka (librdkafka 2.0), each consumer a
subprocess (this file run with --worker) so it can be kill -9ed:

  * three consumers on a 6-partition topic get two partitions each
  * kill -9 of one: after its session timeout the others share its partitions
  * a clean close: the rebalance is immediate (well under the session timeout)
  * two groups on one topic each receive every record
  * committed offsets survive a consumer kill -9 and a kanald restart (clean
    and kill -9): nothing committed is delivered again, nothing is skipped
  * static membership: a member restarting within its session timeout gets
    its partitions back and the others see no rebalance
  * the cooperative-sticky assignor

Slow Kafka defaults are lowered on both sides (group.initial.rebalance.delay.ms,
group.min.session.timeout.ms; session.timeout.ms 6000, heartbeat 500 ms)."""

import json
import os
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SESSION_MS = 6000
OVERRIDES = {
    "group.initial.rebalance.delay.ms": "300",
    "group.min.session.timeout.ms": "1000",
    "offsets.topic.num.partitions": "10",
}


# --------------------------------------------------------------------------
# worker: one consumer; JSON lines on stdout, commands on stdin

def worker(conf):
    from confluent_kafka import Consumer, KafkaError
    cc = {"bootstrap.servers": conf["bootstrap"], "group.id": conf["group"],
          "session.timeout.ms": conf.get("session", SESSION_MS), "heartbeat.interval.ms": 500,
          "auto.offset.reset": "earliest", "enable.auto.commit": False,
          "topic.metadata.refresh.interval.ms": 2000}
    if conf.get("instance"):
        cc["group.instance.id"] = conf["instance"]
    if conf.get("strategy"):
        cc["partition.assignment.strategy"] = conf["strategy"]
    c = Consumer(cc)
    owned = set()

    def out(**kw):
        sys.stdout.write(json.dumps(kw) + "\n")
        sys.stdout.flush()

    def on_assign(cons, parts):
        owned.update(p.partition for p in parts)
        out(ev="assign", parts=sorted(owned))

    def on_revoke(cons, parts):
        owned.difference_update(p.partition for p in parts)
        out(ev="revoke", parts=sorted(owned))

    c.subscribe([conf["topic"]], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_revoke)
    commit_every = conf.get("commit_every", 0)
    n = 0
    while True:
        r, _, _ = select.select([sys.stdin], [], [], 0)
        if r:
            line = sys.stdin.readline().strip()
            if line == "close" or not line:
                c.close()
                out(ev="closed")
                return
        m = c.poll(0.1)
        if m is None:
            continue
        if m.error():
            if m.error().code() != KafkaError._PARTITION_EOF:
                out(ev="error", err=str(m.error()))
            continue
        out(ev="msg", p=m.partition(), o=m.offset())
        n += 1
        if commit_every and n % commit_every == 0:
            c.commit(message=m, asynchronous=False)
            out(ev="committed", p=m.partition(), o=m.offset() + 1)


# --------------------------------------------------------------------------
# test side

class Member:
    def __init__(self, cluster, group, topic, name, **extra):
        conf = dict(bootstrap=cluster.bootstrap, group=group, topic=topic)
        conf.update(extra)
        self.name = name
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", json.dumps(conf)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        h._children.append(self.proc)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.buf = b""
        self.parts = []
        self.msgs = []       # (partition, offset)
        self.committed = {}  # partition -> next offset
        self.events = []

    def pump(self):
        # Raw reads: select() on a buffered pipe object misses lines already
        # sitting in Python's buffer.
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
            elif ev["ev"] == "msg":
                self.msgs.append((ev["p"], ev["o"]))
            elif ev["ev"] == "committed":
                self.committed[ev["p"]] = ev["o"]

    def close(self):
        self.proc.stdin.write("close\n")
        self.proc.stdin.flush()

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def wait_exit(self, timeout=20):
        self.proc.wait(timeout=h.scaled(timeout))
        self.pump()


def pump_all(members):
    for m in members:
        m.pump()


def wait_assignment(members, want, timeout, what):
    """want: list of partition counts, one per member (in order)."""
    def ok():
        pump_all(members)
        counts = [len(m.parts) for m in members]
        allp = sorted(p for m in members for p in m.parts)
        return counts == want and allp == sorted(set(allp)) and len(allp) == sum(want)
    try:
        h.wait_until(ok, timeout, what, interval=0.1)
    except h.TestFailure:
        raise h.TestFailure("%s: assignments %s" % (what, [m.parts for m in members]))


def produce(cluster, topic, n, partitions, start=0):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": cluster.bootstrap, "linger.ms": 2})
    for i in range(start, start + n):
        p.produce(topic, value=b"v%d" % i, partition=i % partitions)
    h.eq(p.flush(h.scaled(30)), 0, "unflushed records")


def three_then_kill_then_leave(c):
    topic = "g-six"
    c.create_topic(topic, 6)
    produce(c, topic, 600, 6)
    ms = [Member(c, "grp-a", topic, "m%d" % i) for i in range(3)]
    t0 = time.monotonic()
    wait_assignment(ms, [2, 2, 2], 30, "three consumers with two partitions each")
    h.log("three members stable with 2+2+2 after %.1fs" % (time.monotonic() - t0))
    h.wait_until(lambda: (pump_all(ms), sum(len(m.msgs) for m in ms) >= 600)[1], 30, "600 records consumed")
    ms[2].kill9()
    t0 = time.monotonic()
    wait_assignment(ms[:2], [3, 3], 30, "survivors sharing the killed member's partitions")
    took = time.monotonic() - t0
    h.log("after kill -9: 3+3 in %.1fs (session timeout %.1fs)" % (took, SESSION_MS / 1000))
    h.expect(took >= SESSION_MS / 1000 - 1.5, "rebalance before the session timeout (%.1fs)" % took)
    ms[1].close()
    t0 = time.monotonic()
    wait_assignment(ms[:1], [6], 30, "last member owning all six after a clean leave")
    took = time.monotonic() - t0
    h.log("after a clean leave: 6 in %.1fs" % took)
    h.expect(took < SESSION_MS / 1000 - 1, "rebalance after LeaveGroup should be immediate, took %.1fs" % took)
    ms[1].wait_exit()
    ms[0].close()
    ms[0].wait_exit()


def two_groups(c):
    topic = "g-two"
    c.create_topic(topic, 3)
    produce(c, topic, 300, 3)
    a = [Member(c, "grp-x", topic, "x0"), Member(c, "grp-x", topic, "x1")]
    b = [Member(c, "grp-y", topic, "y0")]

    def done():
        pump_all(a + b)
        return len(set(m for x in a for m in x.msgs)) >= 300 and len(set(b[0].msgs)) >= 300
    h.wait_until(done, 40, "both groups to receive all 300 records")
    for grp in (a, b):
        seen = sorted(set(m for x in grp for m in x.msgs))
        h.eq(len(seen), 300, "distinct records in a group")
    for m in a + b:
        m.close()
    for m in a + b:
        m.wait_exit()


def check_resume(before_commits, after_msgs, ends, delivered_before=None):
    """Every partition resumes at its committed offset (or 0) and continues
    without a gap to the end. A commit the killed member had sent but not
    yet seen acknowledged may have been stored (as in Kafka), so the resume
    point may also be later, but never past what that member had already
    received: nothing is skipped that nobody got."""
    by = {}
    for p, o in after_msgs:
        by.setdefault(p, []).append(o)
    got_before = {}
    for p, o in (delivered_before or []):
        got_before[p] = max(got_before.get(p, -1), o)
    for p, end in ends.items():
        acked = before_commits.get(p, 0)
        offs = sorted(set(by.get(p, [])))
        start = offs[0] if offs else end
        if not (acked <= start <= max(acked, got_before.get(p, -1) + 1)) or offs != list(range(start, end)):
            raise h.TestFailure("partition %d: committed %d, end %d, redelivered %s..%s (%d records)"
                                % (p, acked, end, offs[:3], offs[-3:], len(offs)))


def commits_survive(c):
    topic = "g-commit"
    c.create_topic(topic, 3)
    produce(c, topic, 900, 3)
    m = Member(c, "grp-c", topic, "c0", commit_every=7)
    h.wait_until(lambda: (m.pump(), len(m.msgs) >= 500)[1], 30, "500 records consumed")
    m.kill9()
    m.pump()
    commits = dict(m.committed)
    h.log("killed consumer after %d records; committed %s" % (len(m.msgs), commits))
    m2 = Member(c, "grp-c", topic, "c1", commit_every=5)
    h.wait_until(lambda: (m2.pump(), all((p, 299) in m2.msgs for p in range(3)))[1], 40,
                 "the restarted consumer to read the rest")
    time.sleep(0.5)
    m2.pump()
    check_resume(commits, m2.msgs, {0: 300, 1: 300, 2: 300}, delivered_before=m.msgs)
    m2.close()
    m2.wait_exit()
    commits2 = dict(m2.committed)
    for p in range(3):
        commits2.setdefault(p, commits.get(p, 0))
    # kanald restart, clean and then kill -9: the offsets are in __consumer_offsets.
    for how in ("clean", "kill9"):
        b = c.broker(0)
        if how == "clean":
            b.restart()
        else:
            b.kill9()
            b.start()
        produce(c, topic, 30, 3, start=900)
        m3 = Member(c, "grp-c", topic, "c-" + how, commit_every=1)
        ends = {p: 310 if how == "clean" else 320 for p in range(3)}
        h.wait_until(lambda: (m3.pump(), all((p, ends[p] - 1) in m3.msgs for p in ends))[1], 60,
                     "consumer after a %s kanald restart to reach the end" % how)
        time.sleep(0.5)
        m3.pump()
        check_resume(commits2, m3.msgs, ends)
        m3.close()
        m3.wait_exit()
        commits2 = {p: ends[p] for p in range(3)}
        h.log("offsets survived a %s restart" % how)


def static_membership(c):
    topic = "g-static"
    c.create_topic(topic, 6)
    ms = [Member(c, "grp-s", topic, "s%d" % i, instance="inst-%d" % i) for i in range(3)]
    wait_assignment(ms, [2, 2, 2], 30, "three static members with two partitions each")
    time.sleep(1)
    pump_all(ms)
    before = [list(m.parts) for m in ms]
    nev = [len(m.events) for m in ms]
    ms[1].kill9()
    t0 = time.monotonic()
    ms[1] = Member(c, "grp-s", topic, "s1b", instance="inst-1")
    wait_assignment(ms, [2, 2, 2], 20, "the restarted static member to get its partitions back")
    took = time.monotonic() - t0
    time.sleep(1)
    pump_all(ms)
    h.eq(ms[1].parts, before[1], "restarted static member's partitions")
    for i in (0, 2):
        revs = [e for e in ms[i].events[nev[i]:] if e["ev"] in ("revoke", "assign")]
        h.eq(revs, [], "rebalance events seen by member %d" % i)
    h.log("static member back with %s in %.1fs, others untouched" % (ms[1].parts, took))
    for m in ms:
        m.close()
    for m in ms:
        m.wait_exit()


def cooperative_sticky(c):
    topic = "g-coop"
    c.create_topic(topic, 6)
    ms = [Member(c, "grp-coop", topic, "k%d" % i, strategy="cooperative-sticky") for i in range(3)]
    wait_assignment(ms, [2, 2, 2], 40, "cooperative-sticky: two partitions each")
    pump_all(ms)
    kept = [set(m.parts) for m in ms]
    ms[2].close()
    wait_assignment(ms[:2], [3, 3], 30, "cooperative-sticky: the leaver's partitions shared")
    for i in (0, 1):
        h.expect(kept[i] <= set(ms[i].parts), "member %d lost a partition it kept (sticky): %s -> %s"
                 % (i, sorted(kept[i]), ms[i].parts))
    ms[2].wait_exit()
    for m in ms[:2]:
        m.close()
    for m in ms[:2]:
        m.wait_exit()


def main():
    run = h.Runner("groups", hard_timeout=170)
    try:
        with h.Cluster(brokers=1, overrides=OVERRIDES, name="groups") as c:
            run.case("three members, kill -9, clean leave", three_then_kill_then_leave, c)
            run.case("two groups each receive every record", two_groups, c)
            run.case("static membership", static_membership, c)
            run.case("cooperative-sticky", cooperative_sticky, c)
            run.case("commits survive consumer and kanald restarts", commits_survive, c)
    except h.HardTimeout:
        run.fail("hard timeout")
    run.finish()


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        worker(json.loads(sys.argv[2]))
    else:
        main()
