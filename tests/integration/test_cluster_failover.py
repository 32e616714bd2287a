#!/usr/bin/python3
"""Three kanald and one ZooKeeper: the controller half of replication.

  * an RF=3 topic gets leaders and a full ISR from the controller;
  * kill -9 of a partition leader while producing with acks=all: the
    controller finds its process gone (probe refused; the session expiry is
    the backstop) and elects another ISR member (leader epoch + 1),
    producing resumes, and issue 4's checker (replication_check.py) holds:
    every acknowledged record is read back at the offset it was
    acknowledged with (count and checksum), a confluent-kafka consumer
    reading throughout never saw an offset go backwards, and every ISR
    member holds the same (offset, batch bytes) below the leader's high
    watermark in its segment files (again after the killed broker rejoined);
  * the killed broker restarts, rejoins the ISR (AlterPartition), and an
    ElectLeaders(PREFERRED) (our own wire code: no installed client sends
    it) gives leadership back to the preferred replica;
  * SIGTERM of a leader: controlled shutdown moves its leaderships away
    before it exits (longest produce stall printed);
  * SIGSTOP of a leader past its session timeout: on waking, before it has
    read the news, it answers Fetch and Produce with NOT_LEADER_OR_FOLLOWER,
    not from its stale log (docs/replication.md, "Stalls");
  * kill -9 of the controller: the other brokers' controller probes find
    its port refused and delete its /controller, another broker takes over
    at once and topic creation and leader election keep working.
"""

import hashlib
import signal
import time

import harness as h
import kafka_wire as kw
import replication_check as rc

SESSION_MS = 4000
OVERRIDES = {
    "zookeeper.session.timeout.ms": str(SESSION_MS),
    "replica.lag.time.max.ms": "3000",
    "leader.imbalance.check.interval.seconds": "3600",  # ElectLeaders is tested, not the timer
}
TOPIC = "failover"
ELECT_LEADERS = 43
NOT_LEADER = 6


def partition_meta(c, topic, p, skip=None):
    for b in c.brokers:
        if not b.alive() or b is skip:
            continue
        try:
            t = c.metadata([topic], broker=b)["topics"].get(topic)
        except Exception:
            continue
        if not t or t["error"]:
            continue
        for x in t["partitions"]:
            if x["partition"] == p:
                return x
    return None


def broker_by_id(c, bid):
    for b in c.brokers:
        if b.id == bid:
            return b
    return None


class Producer:
    """acks=all producer for one partition with Kafka-client-like retries:
    on an error or a dead connection it re-reads metadata and tries the
    leader again. Remembers every acknowledged (offset, value)."""

    def __init__(self, c, topic, p):
        self.c, self.topic, self.p = c, topic, p
        self.acked = {}  # offset -> value
        self.conn = None
        self.leader = None
        self.n = 0
        self.max_stall = 0.0
        self.last_ack = time.time()
        self.errors = {}
        self.skip = None  # a paused broker: its metadata would hang

    def _connect(self):
        m = partition_meta(self.c, self.topic, self.p, skip=self.skip)
        if not m or m["leader"] < 0:
            return False
        b = broker_by_id(self.c, m["leader"])
        if not b or not b.alive():
            return False
        try:
            self.conn = b.connect(timeout=5.0)
            self.leader = b.id
            return True
        except OSError:
            return False

    def send_one(self, deadline):
        value = b"rec-%08d" % self.n
        while time.time() < deadline:
            if self.conn is None and not self._connect():
                time.sleep(0.05)
                continue
            try:
                r = self.conn.produce(self.topic, self.p, kw.record_batch([(None, value)]), acks=-1,
                                      timeout_ms=5000)
            except (OSError, kw.Closed, kw.WireError):
                self.conn.close()
                self.conn = None
                continue
            if r["error"] == 0:
                h.expect(r["base_offset"] not in self.acked, "offset %d acknowledged twice" % r["base_offset"])
                if self.acked:
                    h.expect(r["base_offset"] > max(self.acked), "acknowledged offsets went backwards")
                self.acked[r["base_offset"]] = value
                now = time.time()
                self.max_stall = max(self.max_stall, now - self.last_ack)
                self.last_ack = now
                self.n += 1
                return True
            self.errors[r["error"]] = self.errors.get(r["error"], 0) + 1
            self.conn.close()
            self.conn = None
            time.sleep(0.05)
        raise h.TestFailure("no acknowledgement for record %d within the deadline" % self.n)

    def close(self):
        if self.conn:
            self.conn.close()


def read_all(c, topic, p, upto):
    """offset -> value for [0, upto) from the current leader."""
    m = partition_meta(c, topic, p)
    b = broker_by_id(c, m["leader"])
    out = {}
    off = 0
    with b.connect() as conn:
        deadline = time.time() + h.scaled(30)
        while off < upto and time.time() < deadline:
            f = conn.fetch(topic, p, off, max_wait_ms=200)
            if f["error"]:
                time.sleep(0.1)
                continue
            for batch in kw.parse_record_batches(f["records"] or b""):
                for rec in batch["records"]:
                    if rec[0] >= off:
                        out[rec[0]] = rec[3]
                        off = rec[0] + 1
    return out


def check_acked(prod, got):
    missing = [o for o in prod.acked if got.get(o) != prod.acked[o]]
    h.expect(not missing, "%d acknowledged record(s) lost or replaced, first at offset %s"
             % (len(missing), missing[:5]))
    sha = hashlib.sha256(b"".join(prod.acked[o] for o in sorted(prod.acked))).hexdigest()[:16]
    sha2 = hashlib.sha256(b"".join(got[o] for o in sorted(prod.acked))).hexdigest()[:16]
    h.eq(sha2, sha, "checksum of the acknowledged records")
    h.log("all %d acknowledged records read back (sha256 %s)" % (len(prod.acked), sha))


def wait_isr(c, topic, p, n, timeout=30):
    h.wait_until(lambda: (partition_meta(c, topic, p) or {}).get("isr") and
                 len(partition_meta(c, topic, p)["isr"]) == n, timeout, "%s-%d ISR of %d" % (topic, p, n))


def test_rf3_topic(c):
    c.create_topic(TOPIC, partitions=3, replication_factor=3)
    for p in range(3):
        wait_isr(c, TOPIC, p, 3)
        m = partition_meta(c, TOPIC, p)
        h.eq(m["leader"], m["replicas"][0], "%s-%d led by its preferred replica" % (TOPIC, p))


def check_three(c, state):
    """Issue 4's properties for partition 0; fails on any finding."""
    prod = state["prod"]
    got = rc.read_back(c, TOPIC, 0, max(prod.acked) + 1)
    findings = rc.check_acked({(0, o): v for o, v in prod.acked.items()}, {(0, o): v for o, v in got.items()})
    findings += state["watch"].findings({(0, o): v for o, v in got.items()})
    findings += rc.check_replicas(c, TOPIC, 0)
    h.expect(not findings, "; ".join(findings))


def test_kill_leader(c, state):
    prod = Producer(c, TOPIC, 0)
    state["prod"] = prod
    state["watch"] = rc.ConsumerWatch(c.bootstrap, TOPIC, [0])
    deadline = time.time() + h.scaled(60)
    for _ in range(200):
        prod.send_one(deadline)
    leader = broker_by_id(c, partition_meta(c, TOPIC, 0)["leader"])
    state["killed"] = leader
    h.log("kill -9 broker %d, the leader of %s-0 (ZooKeeper session timeout %d ms)" % (leader.id, TOPIC, SESSION_MS))
    t0 = time.time()
    leader.kill9()
    prod.send_one(time.time() + h.scaled(60))
    h.log("first acks=all acknowledgement on the new leader (broker %d) %.2f s after the kill"
          % (prod.leader, time.time() - t0))
    h.expect(prod.leader != leader.id, "a new leader")
    for _ in range(200):
        prod.send_one(time.time() + h.scaled(30))
    h.log("produce errors seen (code: count): %s" % prod.errors)
    m = partition_meta(c, TOPIC, 0)
    h.expect(leader.id not in m["isr"], "the killed broker left the ISR: %s" % m["isr"])
    time.sleep(1)  # let the consumer catch up
    check_three(c, state)


def elect_preferred(conn, topic, partitions):
    body = (kw.i8(0) + kw.array([topic], lambda t: kw.string(t) + kw.array(partitions, kw.i32))
            + kw.i32(10000))
    r = kw.Reader(conn.request(ELECT_LEADERS, 1, body))
    r.i32()
    top = r.i16()
    res = r.array(lambda x: (x.string(), x.array(lambda y: (y.i32(), y.i16(), y.string()))))
    return top, {p: err for _, parts in res for p, err, _ in parts}


def test_restart_and_preferred(c, state):
    killed = state["killed"]
    killed.restart()
    wait_isr(c, TOPIC, 0, 3, timeout=60)
    ctrl = broker_by_id(c, c.metadata([])["controller"])
    with ctrl.connect() as conn:
        top, errs = elect_preferred(conn, TOPIC, [0, 1, 2])
    h.eq(top, 0, "ElectLeaders top-level error")
    for p, err in errs.items():
        h.expect(err in (0, 84), "ElectLeaders %s-%d: error %d" % (TOPIC, p, err))
    h.wait_until(lambda: all(partition_meta(c, TOPIC, p)["leader"] == partition_meta(c, TOPIC, p)["replicas"][0]
                             for p in range(3)), 20, "preferred leaders back")
    # and the data survived the moves; the restarted broker holds the same
    # batches as the others
    check_three(c, state)


def test_controlled_shutdown(c, state):
    prod = state["prod"]
    prod.max_stall = 0.0
    prod.last_ack = time.time()
    leader = broker_by_id(c, partition_meta(c, TOPIC, 0)["leader"])
    h.log("SIGTERM broker %d, the leader of %s-0" % (leader.id, TOPIC))
    leader.proc.send_signal(signal.SIGTERM)
    deadline = time.time() + h.scaled(60)
    while leader.alive() or prod.leader == leader.id:
        prod.send_one(deadline)
        if time.time() > deadline:
            break
    for _ in range(50):
        prod.send_one(time.time() + h.scaled(30))
    h.log("controlled shutdown: longest produce stall %.0f ms" % (prod.max_stall * 1000))
    leader.proc.wait(timeout=h.scaled(30))
    got = read_all(c, TOPIC, 0, max(prod.acked) + 1)
    check_acked(prod, got)
    leader.start()
    wait_isr(c, TOPIC, 0, 3, timeout=60)


def test_controller_failover(c):
    old = c.metadata([])["controller"]
    ob = broker_by_id(c, old)
    h.log("kill -9 the controller, broker %d" % old)
    t0 = time.time()
    ob.kill9()
    h.wait_until(lambda: any(b.alive() and c.metadata([], broker=b)["controller"] not in (-1, old)
                             for b in c.brokers), h.scaled(30), "a new controller")
    h.log("a new controller %.2f s after the kill (ZooKeeper session timeout %d ms)" % (time.time() - t0, SESSION_MS))
    # Found by the other brokers' controller probes, not the session expiry.
    h.expect(any("deleted /controller" in b.stderr_since_start() for b in c.brokers if b.alive()),
             "a broker deleted the dead controller's /controller (controller probe)")
    c.create_topic("after-failover", partitions=2, replication_factor=2)
    ob.restart()
    c.wait_topic("after-failover", 2)


def test_paused_leader(c):
    """A leader paused (SIGSTOP) past its session timeout loses its
    leadership meanwhile. What it answers on waking, before it has read the
    news, must not come from its stale log: a Fetch past its log end must
    not get OFFSET_OUT_OF_RANGE (a consumer would reset its position; seen
    in the chaos test) and a Produce must not be acknowledged."""
    topic = "zombie"
    c.create_topic(topic, partitions=3, replication_factor=3)
    for p in range(3):
        wait_isr(c, topic, p, 3)
    ctrl = c.metadata([])["controller"]
    p = [q for q in range(3) if partition_meta(c, topic, q)["leader"] != ctrl][0]
    old = broker_by_id(c, partition_meta(c, topic, p)["leader"])
    prod = Producer(c, topic, p)
    for _ in range(50):
        prod.send_one(time.time() + h.scaled(30))
    h.log("SIGSTOP broker %d, the leader of %s-%d, past the %d ms session timeout" % (old.id, topic, p, SESSION_MS))
    old.pause()
    try:
        t0 = time.time()
        h.wait_until(lambda: (partition_meta(c, topic, p, skip=old) or {}).get("leader", old.id) not in (old.id, -1),
                     h.scaled(30), "a new leader for %s-%d" % (topic, p), interval=0.1)
        h.log("broker %d leads %s-%d %.1f s after the pause" % (partition_meta(c, topic, p, skip=old)["leader"],
                                                             topic, p, time.time() - t0))
        prod.skip = old
        for _ in range(50):
            prod.send_one(time.time() + h.scaled(30))
        end = max(prod.acked) + 1
        h.expect(prod.leader != old.id, "acknowledged by the new leader")
        # Requests queued in the paused broker's socket, answered on waking.
        zc = old.connect(timeout=10)
        fcorr = zc.send(kw.FETCH, 4, kw.fetch_v4_body(topic, p, end - 1, max_wait_ms=0))
        pcorr = zc.send(kw.PRODUCE, 3, kw.produce_v3_body(topic, p, kw.record_batch([(None, b"zombie")]),
                                                          acks=-1, timeout_ms=3000))
    finally:
        old.resume()
    got = {}
    for _ in range(2):
        corr, body = zc.recv()
        got[corr] = body
    zc.close()
    fr = kw.decode_fetch_v4(got[fcorr])[(topic, p)]
    pr = kw.decode_produce_v3(got[pcorr])[(topic, p)]
    h.log("on waking, broker %d answered Fetch at offset %d with error %d, Produce with error %d"
          % (old.id, end - 1, fr["error"], pr["error"]))
    h.expect(fr["error"] != 1, "Fetch answered OFFSET_OUT_OF_RANGE by a leader that lost its leadership")
    h.expect(fr["error"] != 0 or fr["high_watermark"] >= end,
             "Fetch served from a stale log (high watermark %d < %d)" % (fr["high_watermark"], end))
    h.expect(pr["error"] != 0, "Produce acknowledged by a leader that lost its leadership")
    prod.skip = None

    def settled():
        # every broker's view, the woken one's included: one leader, full ISR
        views = [partition_meta(c, topic, p, skip=b) for b in c.brokers]
        return all(v and len(v["isr"]) == 3 and v["leader"] == views[0]["leader"] for v in views)
    h.wait_until(settled, h.scaled(60), "%s-%d: one leader and a full ISR in every broker's metadata" % (topic, p))
    h.expect(partition_meta(c, topic, p)["leader"] != old.id, "the paused broker does not lead again by itself")
    got = read_all(c, topic, p, end)
    check_acked(prod, got)
    prod.close()


def main():
    run = h.Runner("cluster_failover", hard_timeout=h.scaled(420))
    state = {}
    with h.Cluster(brokers=3, overrides=OVERRIDES, name="failover") as c:
        run.case("RF=3 topic: leaders and full ISR from the controller", test_rf3_topic, c)
        run.case("kill -9 the leader while producing acks=all: nothing acknowledged lost", test_kill_leader, c,
                 state)
        if "prod" in state and "killed" in state:
            run.case("restart: back in the ISR; ElectLeaders(PREFERRED) restores the leaders",
                     test_restart_and_preferred, c, state)
            run.case("SIGTERM the leader: controlled shutdown moves leadership first", test_controlled_shutdown, c,
                     state)
        run.case("SIGSTOP a leader past its session timeout: on waking it leads nothing", test_paused_leader, c)
        run.case("kill -9 the controller: another takes over", test_controller_failover, c)
        if "watch" in state:
            state["watch"].stop()
    run.finish()


if __name__ == "__main__":
    main()
