#!/usr/bin/python3
"""kill -9 while producing: every acknowledged record survives at the offset it
was acknowledged with, and the restarted broker serves no corrupt batch.

A bounded loop: ITERATIONS rounds (and at most BUDGET seconds) of producing
with acks=1 from confluent-kafka while the harness SIGKILLs kanald at a random
moment, then restarts it and lets the producer finish. Afterwards one consumer
reads every partition from offset 0; any consumer error fails the test.
Small segments make the kill land near segment rolls too."""

import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402

TOPIC = "crash"
PARTITIONS = 3
ITERATIONS = int(os.environ.get("KANAL_CRASH_ITERATIONS", "8"))
BUDGET = 150  # seconds for the kill loop


def value_of(i):
    return b"crash-value-%08d-" % i + b"#" * (i % 200)


def crash_loop(c):
    c.create_topic(TOPIC, partitions=PARTITIONS)
    b = c.broker(0)
    acked = {}      # (partition, offset) -> i
    failed = [0]
    i = 0
    t_start = time.monotonic()
    for it in range(ITERATIONS):
        if time.monotonic() - t_start > h.scaled(BUDGET):
            h.log("time budget used after %d iterations" % it)
            break

        def on_delivery(err, msg):
            if err is not None:
                failed[0] += 1
                return
            acked[(msg.partition(), msg.offset())] = int(msg.key())

        p = Producer({"bootstrap.servers": c.bootstrap, "acks": 1, "linger.ms": 2,
                      "enable.idempotence": False, "message.timeout.ms": 30000,
                      "retry.backoff.ms": 100, "reconnect.backoff.max.ms": 500,
                      "queue.buffering.max.messages": 200000})
        kill_at = time.monotonic() + random.uniform(0.2, 1.5)
        stop_at = None
        killed = False
        while stop_at is None or time.monotonic() < stop_at:
            try:
                p.produce(TOPIC, key=b"%d" % i, value=value_of(i), on_delivery=on_delivery)
                i += 1
            except BufferError:
                p.poll(0.01)
            if i % 100 == 0:
                p.poll(0.005)  # paces the producer to about 20,000 records/s
            if not killed and time.monotonic() >= kill_at:
                b.kill9()
                killed = True
                b.start(wait=False)  # at once: it must wait out its stale znode
                stop_at = time.monotonic() + 0.5
        b.wait_ready(timeout=60)
        left = p.flush(h.scaled(60))
        h.eq(left, 0, "records still queued after flush in iteration %d" % it)
        h.log("iteration %d: %d produced, %d acknowledged, %d failed so far" % (it, i, len(acked), failed[0]))
    h.expect(len(acked) > 0, "nothing was acknowledged")

    cons = Consumer({"bootstrap.servers": c.bootstrap, "group.id": "kanal-it-crash",
                     "enable.auto.commit": False, "enable.partition.eof": True,
                     "check.crcs": True})
    hi = {}
    for part in range(PARTITIONS):
        hi[part] = cons.get_watermark_offsets(TopicPartition(TOPIC, part), timeout=10, cached=False)[1]
    cons.assign([TopicPartition(TOPIC, part, 0) for part in range(PARTITIONS)])
    seen = {}
    last = {part: -1 for part in range(PARTITIONS)}
    eof = set()
    deadline = time.monotonic() + h.scaled(90)
    try:
        while len(eof) < PARTITIONS:
            h.expect(time.monotonic() < deadline,
                     "reading back took too long: %d read, partition EOF reached for %s of %d, high watermarks %s"
                     % (len(seen), sorted(eof), PARTITIONS, hi))
            for m in cons.consume(num_messages=10000, timeout=1.0):
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        if last[m.partition()] + 1 >= hi[m.partition()]:
                            eof.add(m.partition())
                        continue
                    raise h.TestFailure("consumer error after crashes: %s" % err)
                part, off = m.partition(), m.offset()
                h.expect(off > last[part], "offset went back in %d: %d after %d" % (part, off, last[part]))
                last[part] = off
                k = int(m.key())
                h.eq(m.value(), value_of(k), "value of record %d at %d/%d" % (k, part, off))
                seen[(part, off)] = k
    finally:
        cons.close()
    missing = [(po, k) for po, k in acked.items() if seen.get(po) != k]
    h.expect(not missing, "%d acknowledged records missing or different after kill -9, first: %s"
             % (len(missing), sorted(missing)[:5]))
    h.log("%d records read back; all %d acknowledged ones present" % (len(seen), len(acked)))


def body(run):
    overrides = {"log.segment.bytes": "262144"}
    with h.Cluster(brokers=1, name="crash", overrides=overrides) as c:
        run.case("kill -9 during acks=1 produce x%d: acknowledged records survive" % ITERATIONS,
                 crash_loop, c)


if __name__ == "__main__":
    h.main("crash", 300, body)
