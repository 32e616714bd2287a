#!/usr/bin/python3
"""kafka-python 2.0.2: version probe guesses >= 1.0 (so it sends record batches
v2), producer/consumer round trip with assign()."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402
from kafka.client_async import KafkaClient  # noqa: E402

TOPIC = "kafka-python"
PARTITIONS = 3
COUNT = 3000


def version_probe(c):
    client = KafkaClient(bootstrap_servers=c.bootstrap, request_timeout_ms=10000)
    try:
        v = client.check_version(timeout=10)
    finally:
        client.close()
    h.log("kafka-python check_version() -> %s" % (v,))
    h.expect(v >= (1, 0), "kafka-python guessed broker version %s, want >= (1, 0)" % (v,))

    p = KafkaProducer(bootstrap_servers=c.bootstrap)
    try:
        h.log("KafkaProducer api_version -> %s" % (p.config["api_version"],))
        h.expect(p.config["api_version"] >= (1, 0),
                 "KafkaProducer api_version %s, want >= (1, 0)" % (p.config["api_version"],))
    finally:
        p.close(timeout=10)


def round_trip(c):
    c.create_topic(TOPIC, partitions=PARTITIONS)
    p = KafkaProducer(bootstrap_servers=c.bootstrap, acks="all", linger_ms=5, retries=0)
    sent = {}
    try:
        futs = []
        for i in range(COUNT):
            key = b"k%05d" % i
            value = b"kafka-python value %d " % i + b"z" * (i % 31)
            futs.append((i, p.send(TOPIC, key=key, value=value, headers=[("n", b"%d" % i)],
                                   partition=i % PARTITIONS)))
        p.flush(timeout=h.scaled(60))
        for i, f in futs:
            md = f.get(timeout=h.scaled(30))
            sent[(md.partition, md.offset)] = i
    finally:
        p.close(timeout=10)
    h.eq(len(sent), COUNT, "acknowledged records")
    for part in range(PARTITIONS):
        offs = sorted(o for (pp, o) in sent if pp == part)
        h.eq(offs, list(range(COUNT // PARTITIONS)), "offsets in partition %d" % part)

    cons = KafkaConsumer(bootstrap_servers=c.bootstrap, group_id=None, enable_auto_commit=False,
                         auto_offset_reset="earliest", consumer_timeout_ms=1000)
    h.expect(cons.config["api_version"] >= (1, 0), "consumer api_version %s" % (cons.config["api_version"],))
    tps = [TopicPartition(TOPIC, part) for part in range(PARTITIONS)]
    cons.assign(tps)
    cons.seek_to_beginning(*tps)
    got = {}
    deadline = time.monotonic() + h.scaled(60)
    try:
        while len(got) < COUNT:
            h.expect(time.monotonic() < deadline, "consumed %d of %d" % (len(got), COUNT))
            for tp, msgs in cons.poll(timeout_ms=500, max_records=5000).items():
                for m in msgs:
                    i = sent.get((m.partition, m.offset))
                    h.expect(i is not None, "unexpected record %d/%d" % (m.partition, m.offset))
                    h.eq(m.key, b"k%05d" % i, "key at %d/%d" % (m.partition, m.offset))
                    h.eq(m.value, b"kafka-python value %d " % i + b"z" * (i % 31), "value")
                    h.eq(list(m.headers), [("n", b"%d" % i)], "headers")
                    h.expect((m.partition, m.offset) not in got, "duplicate %d/%d" % (m.partition, m.offset))
                    got[(m.partition, m.offset)] = i
        ends = cons.end_offsets(tps)
        h.eq(sorted(ends.values()), [COUNT // PARTITIONS] * PARTITIONS, "end offsets")
        begins = cons.beginning_offsets(tps)
        h.eq(sorted(begins.values()), [0] * PARTITIONS, "beginning offsets")
    finally:
        cons.close()


def body(run):
    with h.Cluster(brokers=1, name="kafka-python") as c:
        run.case("kafka-python guesses broker version >= 1.0", version_probe, c)
        run.case("kafka-python %d records round trip with assign()" % COUNT, round_trip, c)


if __name__ == "__main__":
    h.main("kafka-python", 180, body)
