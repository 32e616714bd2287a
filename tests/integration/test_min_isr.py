#!/usr/bin/python3
"""min.insync.replicas=2 on an RF=3 topic with two of three brokers down
(issue 4, "How it is proven"):

  * the two followers killed: once the ISR is the leader alone, a raw
    Produce v3 acks=all is answered NOT_ENOUGH_REPLICAS and nothing is
    appended (the leader's segment files and log end do not change); a
    confluent-kafka acks=all producer gets no acknowledgement while they
    are down; when they are restarted the same producer delivers everything
    by itself (its retries), and every record is read back in order;
  * the leader and one follower killed: the survivor (an ISR member) leads
    with an ISR of one and answers NOT_ENOUGH_REPLICAS the same way; after
    the restarts producing resumes by itself.
"""

import time

import harness as h
import kafka_wire as kw
import replication_check as rc

SESSION_MS = 4000
OVERRIDES = {
    "zookeeper.session.timeout.ms": str(SESSION_MS),
    "replica.lag.time.max.ms": "3000",
    "leader.imbalance.check.interval.seconds": "3600",
}
TOPIC = "minisr"
NOT_ENOUGH_REPLICAS = 19


def isr_of(c):
    m = rc.partition_info(c, TOPIC, 0)
    return (m or {}).get("isr", []), (m or {}).get("leader", -1)


def raw_produce(b, value):
    with b.connect() as conn:
        return conn.produce(TOPIC, 0, kw.record_batch([(None, value)]), acks=-1, timeout_ms=5000)


def log_bytes(b):
    return sum(len(d) for _, _, d in rc.segment_batches(b.log_dir, TOPIC, 0))


class Prod:
    def __init__(self, bootstrap):
        from confluent_kafka import Producer
        self.ok, self.err = [], {}
        self.p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                           "linger.ms": 5, "message.timeout.ms": 120000, "retry.backoff.ms": 200,
                           "topic.metadata.refresh.interval.ms": 1000})

    def _dr(self, err, msg):
        if err:
            self.err[err.name()] = self.err.get(err.name(), 0) + 1
        else:
            self.ok.append((msg.offset(), msg.value()))

    def send(self, values):
        for v in values:
            self.p.produce(TOPIC, v, partition=0, on_delivery=self._dr)
        self.p.poll(0)


def setup(c, state):
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": c.bootstrap})
    a.create_topics([NewTopic(TOPIC, num_partitions=1, replication_factor=3,
                              config={"min.insync.replicas": "2"})])[TOPIC].result(timeout=30)
    h.wait_until(lambda: len(isr_of(c)[0]) == 3, 30, "ISR of 3")
    state["prod"] = Prod(c.bootstrap)
    state["prod"].send([b"before-%03d" % i for i in range(100)])
    h.eq(state["prod"].p.flush(h.scaled(30)), 0, "records left unacknowledged")
    h.eq(len(state["prod"].ok), 100, "acknowledged before the outage")


def outage(c, state, kill_leader):
    prod = state["prod"]
    isr, leader = isr_of(c)
    lb = rc.broker_by_id(c, leader)
    victims = [b for b in c.brokers if b.id != leader]
    if kill_leader:
        victims = [lb, victims[0]]
    survivor = [b for b in c.brokers if b not in victims][0]
    h.log("kill -9 brokers %s (leader %d); broker %d stays"
          % ([b.id for b in victims], leader, survivor.id))
    for b in victims:
        b.kill9()
    t0 = time.time()
    h.wait_until(lambda: isr_of(c) == ([survivor.id], survivor.id), 30, "broker %d leading alone" % survivor.id)
    h.log("ISR is [%d] (leader %d) %.2f s after the kills" % (survivor.id, survivor.id, time.time() - t0))
    before, end_before = log_bytes(survivor), survivor.connect().list_offset(TOPIC, 0, -1)["offset"]
    r = raw_produce(survivor, b"raw-must-not-land")
    h.log("raw Produce v3 acks=all to broker %d: error %d" % (survivor.id, r["error"]))
    h.eq(r["error"], NOT_ENOUGH_REPLICAS, "raw acks=all produce error")
    n_ok = len(prod.ok)
    prod.send([b"during-%d-%03d" % (kill_leader, i) for i in range(50)])
    deadline = time.time() + 3
    while time.time() < deadline:
        prod.p.poll(0.1)
    h.eq(len(prod.ok), n_ok, "acknowledgements while two brokers are down")
    h.eq(log_bytes(survivor), before, "bytes in the survivor's segment files (nothing appended)")
    h.eq(survivor.connect().list_offset(TOPIC, 0, -1)["offset"], end_before, "high watermark")
    h.log("no acknowledgement and nothing appended while down; producer errors so far %s" % prod.err)
    for b in victims:
        b.start(wait=False)
    t1 = time.time()
    for b in victims:
        b.wait_ready()
    left = prod.p.flush(h.scaled(60))
    h.eq(left, 0, "records still unacknowledged after the restarts")
    h.log("producing resumed by itself: the 50 queued records acknowledged %.2f s after the restarts began; "
          "delivery errors %s" % (time.time() - t1, prod.err))
    h.eq(prod.err, {}, "delivery errors")
    h.wait_until(lambda: len(isr_of(c)[0]) == 3, 60, "ISR of 3 again")


def check(c, state):
    prod = state["prod"]
    got = rc.read_back(c, TOPIC, 0, max(o for o, _ in prod.ok) + 1)
    findings = rc.check_acked({(0, o): v for o, v in prod.ok}, {(0, o): v for o, v in got.items()})
    h.expect(b"raw-must-not-land" not in got.values(), "the refused raw record is in the log")
    h.eq([v for _, v in sorted(prod.ok)], [v for _, v in sorted(got.items())], "the log is exactly the acknowledged records")
    findings += rc.check_replicas(c, TOPIC, 0)
    h.expect(not findings, "; ".join(findings))


def main():
    run = h.Runner("min_isr", hard_timeout=h.scaled(280))
    state = {}
    with h.Cluster(brokers=3, overrides=OVERRIDES, name="minisr") as c:
        if run.case("RF=3 min.insync.replicas=2 topic, 100 records acks=all", setup, c, state):
            run.case("two followers down: NOT_ENOUGH_REPLICAS, nothing acknowledged; back: resumes", outage, c, state,
                     False)
            run.case("leader and a follower down: NOT_ENOUGH_REPLICAS on the survivor; back: resumes", outage, c,
                     state, True)
            run.case("every acknowledged record read back; replicas identical", check, c, state)
    run.finish()


if __name__ == "__main__":
    main()
