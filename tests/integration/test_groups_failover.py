#!/usr/bin/python3
"""Consumer-group offsets on a 3-broker cluster survive a kill -9 of the
group coordinator's broker (issue 5): __consumer_offsets has replication
factor 3 and a commit is answered only once its ISR has it, so the new
coordinator (elected from the ISR) serves every acknowledged commit.

A consumer (confluent-kafka) reads part of a 3-partition RF=3 topic and
commits synchronously; the coordinator's broker is killed; a new consumer in
the same group must start exactly at the committed offsets (nothing
committed delivered again, nothing skipped) and read to the end."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402

TOPIC = "gfail"
GROUP = "gfail-group"
PARTS = 3
COUNT = 3000
OFFSETS_PARTS = 6
OVERRIDES = {
    "default.replication.factor": "3",
    "min.insync.replicas": "2",
    "offsets.topic.replication.factor": "3",
    "offsets.topic.num.partitions": str(OFFSETS_PARTS),
    "group.initial.rebalance.delay.ms": "0",
    "group.min.session.timeout.ms": "1000",
}


def java_hash(s):
    hv = 0
    for ch in s.encode():
        hv = (31 * hv + ch) & 0xFFFFFFFF
    return hv - (1 << 32) if hv & 0x80000000 else hv


def consumer(c, **extra):
    conf = {"bootstrap.servers": c.bootstrap, "group.id": GROUP, "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "session.timeout.ms": 6000, "heartbeat.interval.ms": 500}
    conf.update(extra)
    cons = Consumer(conf)
    cons.subscribe([TOPIC])
    return cons


def coordinator(c):
    admin = AdminClient({"bootstrap.servers": c.bootstrap})
    md = admin.list_topics(timeout=10)
    t = md.topics.get("__consumer_offsets")
    h.expect(t is not None and t.error is None, "__consumer_offsets exists")
    part = abs(java_hash(GROUP)) % OFFSETS_PARTS
    return t.partitions[part].leader, part


def run(c):
    c.create_topic(TOPIC, partitions=PARTS, replication_factor=3)
    p = Producer({"bootstrap.servers": c.bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(COUNT):
        p.produce(TOPIC, value=b"%d" % i, partition=i % PARTS)
    h.eq(p.flush(h.scaled(30)), 0, "unflushed records")

    # Read about a third, committing as we go.
    cons = consumer(c)
    seen = {}
    deadline = time.monotonic() + h.scaled(60)
    while sum(len(v) for v in seen.values()) < COUNT // 3:
        h.expect(time.monotonic() < deadline, "first consumer stalled at %d" % sum(len(v) for v in seen.values()))
        for m in cons.consume(200, 1.0):
            h.expect(m.error() is None, "consumer error: %s" % m.error())
            seen.setdefault(m.partition(), []).append(m.offset())
        if seen:
            cons.commit(asynchronous=False)
    committed = {tp.partition: tp.offset for tp in cons.committed(
        [TopicPartition(TOPIC, i) for i in range(PARTS)], timeout=10)}
    h.log("committed before the kill: %s" % committed)
    coord, opart = coordinator(c)
    h.log("coordinator of %s: broker %d (__consumer_offsets-%d)" % (GROUP, coord, opart))
    c.broker(coord).kill9()
    cons.close()

    # A new member: starts at the commits, reads the rest.
    t0 = time.monotonic()
    cons2 = consumer(c)
    got = {}
    deadline = time.monotonic() + h.scaled(90)
    want_total = sum(COUNT // PARTS - max(committed.get(i, 0), 0) for i in range(PARTS))
    while sum(len(v) for v in got.values()) < want_total:
        h.expect(time.monotonic() < deadline, "second consumer got %d of %d"
                 % (sum(len(v) for v in got.values()), want_total))
        for m in cons2.consume(500, 1.0):
            if m.error() is not None:
                # Retriable coordinator errors are expected while the
                # coordinator moves; a loaded group must still accept a
                # member speaking its protocol.
                h.expect("INCONSISTENT_GROUP_PROTOCOL" not in str(m.error()), "consumer error: %s" % m.error())
                h.log("consumer note: %s" % m.error())
                continue
            got.setdefault(m.partition(), []).append(m.offset())
    h.log("second consumer read %d records; first after %.1fs" % (want_total, time.monotonic() - t0))
    for i in range(PARTS):
        offs = got.get(i, [])
        start = max(committed.get(i, 0), 0)
        h.eq(offs[:1], [start] if start < COUNT // PARTS else [], "first offset in partition %d" % i)
        h.eq(offs, list(range(start, COUNT // PARTS)), "offsets in partition %d" % i)
    cons2.close()


def main():
    runner = h.Runner("groups_failover", hard_timeout=240)
    try:
        with h.Cluster(brokers=3, overrides=OVERRIDES, name="groups-failover") as c:
            runner.case("commits survive a kill -9 of the coordinator's broker", run, c)
    except h.HardTimeout:
        runner.fail("hard timeout")
    runner.finish()


if __name__ == "__main__":
    main()
