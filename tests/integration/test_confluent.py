#!/usr/bin/python3
"""confluent-kafka (librdkafka 2.0): AdminClient create/delete, 100,000 keyed
records with headers produced with acks=all and idempotence, read back with
assign() identical and in per-partition order."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

TOPIC = "confluent-100k"
PARTITIONS = 6
COUNT = int(os.environ.get("KANAL_IT_RECORDS", "100000"))


def admin_create(c):
    admin = AdminClient({"bootstrap.servers": c.bootstrap})
    futs = admin.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=1)],
                               operation_timeout=20)
    futs[TOPIC].result(timeout=h.scaled(30))

    def listed():
        md = admin.list_topics(topic=TOPIC, timeout=5)
        t = md.topics.get(TOPIC)
        return (t is not None and t.error is None and len(t.partitions) == PARTITIONS
                and all(p.leader == 0 for p in t.partitions.values()))
    h.wait_until(listed, 30, "AdminClient to list %s with %d partitions led by 0" % (TOPIC, PARTITIONS))


def record(i):
    key = b"key-%07d" % i
    value = b"value-%07d-" % i + bytes([65 + i % 26]) * (i % 97)
    headers = [("seq", b"%d" % i), ("parity", b"odd" if i % 2 else b"even")]
    if i % 1000 == 0:
        headers.append(("empty", b""))
    return key, value, headers


def produce_and_consume(c):
    delivered = {}       # (partition, offset) -> i
    errors = []
    order = {}           # partition -> [i in delivery order]

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err)
            return
        # librdkafka drops headers from delivery reports: the key says which.
        i = int(msg.key()[4:])
        delivered[(msg.partition(), msg.offset())] = i
        order.setdefault(msg.partition(), []).append(i)

    p = Producer({"bootstrap.servers": c.bootstrap, "acks": "all", "enable.idempotence": True,
                  "linger.ms": 5, "message.timeout.ms": 60000})
    t0 = time.monotonic()
    for i in range(COUNT):
        key, value, headers = record(i)
        while True:
            try:
                p.produce(TOPIC, value=value, key=key, headers=headers, on_delivery=on_delivery)
                break
            except BufferError:
                p.poll(0.05)
        if i % 1000 == 0:
            p.poll(0)
    left = p.flush(h.scaled(120))
    h.eq(left, 0, "messages still queued after flush")
    h.expect(not errors, "%d delivery errors, first: %s" % (len(errors), errors[:3]))
    h.eq(len(delivered), COUNT, "delivered records")
    h.log("produced %d records in %.1fs" % (COUNT, time.monotonic() - t0))

    # Offsets per partition must be 0..n-1 in delivery order (idempotent,
    # ordered producer; one producer, no retries visible to the log).
    for part, seq in order.items():
        offs = sorted(o for (pp, o) in delivered if pp == part)
        h.eq(offs, list(range(len(seq))), "offsets assigned in partition %d" % part)
    h.eq(sorted(order), list(range(PARTITIONS)), "partitions used")

    cons = Consumer({"bootstrap.servers": c.bootstrap, "group.id": "kanal-it-confluent",
                     "enable.auto.commit": False, "auto.offset.reset": "earliest",
                     "enable.partition.eof": True})
    cons.assign([TopicPartition(TOPIC, part, 0) for part in range(PARTITIONS)])
    got = {}
    eof = set()
    next_offset = {part: 0 for part in range(PARTITIONS)}
    deadline = time.monotonic() + h.scaled(120)
    t0 = time.monotonic()
    try:
        while len(eof) < PARTITIONS or len(got) < COUNT:
            h.expect(time.monotonic() < deadline,
                     "consumed %d of %d records; partition EOF reached for %s of %d partitions "
                     "(EOF needs a Fetch answer with empty, non-null records at the high watermark)"
                     % (len(got), COUNT, sorted(eof), PARTITIONS))
            for m in cons.consume(num_messages=10000, timeout=1.0):
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        if next_offset[m.partition()] == len(order[m.partition()]):
                            eof.add(m.partition())
                        continue
                    raise h.TestFailure("consumer error: %s" % err)
                part, off = m.partition(), m.offset()
                h.eq(off, next_offset[part], "next offset in partition %d" % part)
                next_offset[part] = off + 1
                i = delivered.get((part, off))
                h.expect(i is not None, "record at %d/%d was never produced" % (part, off))
                key, value, headers = record(i)
                h.eq(m.key(), key, "key at %d/%d" % (part, off))
                h.eq(m.value(), value, "value at %d/%d" % (part, off))
                h.eq(m.headers(), headers, "headers at %d/%d" % (part, off))
                got[(part, off)] = i
    finally:
        cons.close()
    h.eq(len(got), COUNT, "records consumed")
    for part in range(PARTITIONS):
        seq = [got[(part, o)] for o in range(len(order[part]))]
        h.eq(seq, order[part], "per-partition order in %d" % part)
    h.log("consumed %d records in %.1fs" % (COUNT, time.monotonic() - t0))


def watermarks(c):
    cons = Consumer({"bootstrap.servers": c.bootstrap, "group.id": "kanal-it-wm",
                     "enable.auto.commit": False})
    try:
        total = 0
        for part in range(PARTITIONS):
            lo, hi = cons.get_watermark_offsets(TopicPartition(TOPIC, part), timeout=10, cached=False)
            h.eq(lo, 0, "low watermark of %d" % part)
            total += hi
        h.eq(total, COUNT, "sum of high watermarks")
    finally:
        cons.close()


def admin_delete(c):
    admin = AdminClient({"bootstrap.servers": c.bootstrap})
    futs = admin.delete_topics([TOPIC], operation_timeout=20)
    futs[TOPIC].result(timeout=h.scaled(30))

    def gone():
        return TOPIC not in admin.list_topics(timeout=5).topics
    h.wait_until(gone, 30, "%s to disappear from metadata" % TOPIC)
    # Deleting it again is an error the client can see.
    try:
        admin.delete_topics([TOPIC], operation_timeout=10)[TOPIC].result(timeout=h.scaled(30))
        raise h.TestFailure("second delete of %s succeeded" % TOPIC)
    except KafkaException as e:
        h.eq(e.args[0].code(), KafkaError.UNKNOWN_TOPIC_OR_PART, "second delete error")


def body(run):
    with h.Cluster(brokers=1, name="confluent") as c:
        if run.case("AdminClient creates a %d-partition topic" % PARTITIONS, admin_create, c):
            if run.case("%d keyed records with headers, acks=all, idempotent: all read back in order"
                        % COUNT, produce_and_consume, c):
                run.case("watermarks add up", watermarks, c)
            run.case("AdminClient deletes the topic; it leaves metadata", admin_delete, c)


if __name__ == "__main__":
    h.main("confluent", 420, body)
