#!/usr/bin/python3
"""ListOffsets: earliest, latest and by timestamp, through confluent-kafka
(get_watermark_offsets, offsets_for_times), kcat -o s@<ts>, and raw
ListOffsets v1."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import kafka_wire as kw  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

TOPIC = "list-offsets"
N = 10
STEP = 1000  # ms between record timestamps
# A fixed base an hour in the past, so "now" is far from every record.
T0 = (int(time.time() * 1000) // 1000) * 1000 - 3600 * 1000


def produce(c):
    c.create_topic(TOPIC, partitions=1)
    p = Producer({"bootstrap.servers": c.bootstrap, "acks": "all", "linger.ms": 0})
    errs = []
    for i in range(N):
        # One batch per record so each batch carries its own max timestamp.
        p.produce(TOPIC, value=b"v%d" % i, key=b"k%d" % i, partition=0, timestamp=T0 + i * STEP,
                  on_delivery=lambda err, msg: err and errs.append(err))
        p.flush(h.scaled(30))
    h.expect(not errs, "delivery errors: %s" % errs)


def consumer(c):
    return Consumer({"bootstrap.servers": c.bootstrap, "group.id": "kanal-it-lo",
                     "enable.auto.commit": False})


def watermarks(c):
    cons = consumer(c)
    try:
        lo, hi = cons.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=10, cached=False)
        h.eq((lo, hi), (0, N), "watermarks")
    finally:
        cons.close()


def offsets_for_times(c):
    cases = [
        (T0 - 5000, 0),              # before everything -> first record
        (T0, 0),                     # exact first timestamp
        (T0 + 3 * STEP, 3),          # exact match
        (T0 + 3 * STEP + 500, 4),    # between records -> next one
        (T0 + (N - 1) * STEP, N - 1),  # the last record
        (T0 + N * STEP, -1),         # after everything -> no offset (end)
    ]
    cons = consumer(c)
    try:
        for ts, want in cases:
            res = cons.offsets_for_times([TopicPartition(TOPIC, 0, ts)], timeout=10)
            h.eq(res[0].error, None, "offsets_for_times(%d) error" % ts)
            h.eq(res[0].offset, want, "offsets_for_times(T0%+d ms)" % (ts - T0))
    finally:
        cons.close()


def kcat_by_time(c):
    ts = T0 + 4 * STEP - 1
    out = h.run_cmd(["kcat", "-b", c.bootstrap, "-C", "-t", TOPIC, "-p", "0", "-o", "s@%d" % ts,
                     "-e", "-q", "-f", "%o %T %s\\n"], timeout=30).stdout.decode().splitlines()
    want = ["%d %d v%d" % (i, T0 + i * STEP, i) for i in range(4, N)]
    h.eq(out, want, "kcat -o s@<ts> output")


def raw_list_offsets(c):
    with c.broker(0).connect() as conn:
        e = conn.list_offset(TOPIC, 0, kw.EARLIEST)
        h.eq((e["error"], e["offset"]), (0, 0), "earliest (error, offset)")
        latest = conn.list_offset(TOPIC, 0, kw.LATEST)
        h.eq((latest["error"], latest["offset"]), (0, N), "latest (error, offset)")
        t = conn.list_offset(TOPIC, 0, T0 + 2 * STEP)
        h.eq((t["error"], t["offset"], t["timestamp"]), (0, 2, T0 + 2 * STEP), "by time (error, offset, ts)")
        u = conn.list_offset("no-such-topic-lo", 0, kw.LATEST)
        h.eq(u["error"], kw.UNKNOWN_TOPIC_OR_PARTITION, "unknown topic error")


def body(run):
    with h.Cluster(brokers=1, name="list-offsets", overrides={"auto.create.topics.enable": "false"}) as c:
        if run.case("produce %d records with timestamps T0 + i*%d ms" % (N, STEP), produce, c):
            run.case("get_watermark_offsets = (0, %d)" % N, watermarks, c)
            run.case("offsets_for_times: before/exact/between/last/after", offsets_for_times, c)
            run.case("kcat -o s@<ts> starts at the first record at or after ts", kcat_by_time, c)
            run.case("raw ListOffsets v1 earliest/latest/by-time/unknown topic", raw_list_offsets, c)


if __name__ == "__main__":
    h.main("list-offsets", 150, body)
