#!/usr/bin/python3
"""Log lifecycle end to end, one broker: time and size retention delete the
right segments and no others (files on disk, earliest offset, a consumer
below the start resetting), an expired active segment is rolled first,
DeleteRecords from kafkajs, and compaction of keyed updates and tombstones
produced by confluent-kafka (latest value per key at its original offset),
including a kill -9 while the cleaner runs, and compaction inside gzip and
zstd batches (their keys count, kept records are recompressed)."""

import json
import os
import shutil
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OVERRIDES = {
    "log.retention.check.interval.ms": "300",
    "log.segment.delete.delay.ms": "500",
    "log.cleaner.backoff.ms": "300",
}
BIG = b"x" * 700  # with segment.bytes=1000 every record gets its own segment


def create(c, topic, config):
    admin = AdminClient({"bootstrap.servers": c.bootstrap})
    fs = admin.create_topics([NewTopic(topic, 1, 1, config=config)], operation_timeout=20)
    fs[topic].result(h.scaled(30))
    c.wait_topic(topic, 1)


def produce(c, topic, records):
    """records: (key, value, timestamp_ms or 0); one batch each. Returns offsets."""
    p = Producer({"bootstrap.servers": c.bootstrap, "acks": "all", "linger.ms": 0})
    offs, errs = [], []

    def cb(err, msg):
        if err:
            errs.append(err)
        else:
            offs.append(msg.offset())
    for k, v, ts in records:
        kw = {"timestamp": ts} if ts else {}
        p.produce(topic, key=k, value=v, partition=0, on_delivery=cb, **kw)
        p.flush(h.scaled(30))
    h.expect(not errs, "delivery errors: %s" % errs)
    return offs


def watermarks(c, topic):
    cons = Consumer({"bootstrap.servers": c.bootstrap, "group.id": "kanal-it-ret-wm"})
    try:
        return cons.get_watermark_offsets(TopicPartition(topic, 0), timeout=10, cached=False)
    finally:
        cons.close()


def consume_all(c, topic, start=0, group="kanal-it-ret"):
    """Every record from `start` (reset policy earliest), as (offset, key, value)."""
    cons = Consumer({"bootstrap.servers": c.bootstrap, "group.id": group, "enable.auto.commit": False,
                     "auto.offset.reset": "earliest", "enable.partition.eof": True})
    out = []
    try:
        cons.assign([TopicPartition(topic, 0, start)])
        deadline = time.monotonic() + h.scaled(30)
        while time.monotonic() < deadline:
            m = cons.poll(1.0)
            if m is None:
                continue
            if m.error():
                if m.error().code() == -191:  # _PARTITION_EOF
                    break
                raise h.TestFailure("consume error: %s" % m.error())
            out.append((m.offset(), m.key(), m.value()))
    finally:
        cons.close()
    return out


def seg_files(c, topic):
    d = os.path.join(c.broker(0).log_dir, "%s-0" % topic)
    return sorted(f for f in os.listdir(d) if ".log" in f or ".index" in f)


def bases(c, topic):
    return [int(f[:20]) for f in seg_files(c, topic) if f.endswith(".log")]


def time_retention(c):
    topic = "ret-time"
    create(c, topic, {"segment.bytes": "1000", "retention.ms": "600000"})
    old = int(time.time() * 1000) - 3600 * 1000
    offs = produce(c, topic, [(b"o%d" % i, BIG, old + i) for i in range(3)] +
                   [(b"n%d" % i, BIG, 0) for i in range(2)])
    h.eq(offs, [0, 1, 2, 3, 4], "offsets")
    h.wait_until(lambda: watermarks(c, topic) == (3, 5), h.scaled(20), "log start offset 3")
    # The renamed files go after file.delete.delay.ms; the young segments stay.
    h.wait_until(lambda: bases(c, topic) == [3, 4], h.scaled(20), "segments 3 and 4 only")
    h.wait_until(lambda: not any(f.endswith(".deleted") for f in seg_files(c, topic)), h.scaled(20),
                 ".deleted files removed")
    # A consumer positioned below the start gets OFFSET_OUT_OF_RANGE and
    # auto.offset.reset=earliest takes it to 3.
    got = consume_all(c, topic, start=0)
    h.eq([(o, k) for o, k, _ in got], [(3, b"n0"), (4, b"n1")], "records after reset")


def active_rolled_first(c):
    topic = "ret-active"
    create(c, topic, {"retention.ms": "1000"})
    old = int(time.time() * 1000) - 3600 * 1000
    produce(c, topic, [(b"k", b"v%d" % i, old) for i in range(4)])
    h.wait_until(lambda: watermarks(c, topic) == (4, 4), h.scaled(20), "everything expired")
    h.wait_until(lambda: bases(c, topic) == [4], h.scaled(20), "only the new active segment")


def size_retention(c):
    topic = "ret-size"
    create(c, topic, {"segment.bytes": "1000", "retention.bytes": "2500"})
    produce(c, topic, [(b"k%d" % i, BIG, 0) for i in range(8)])
    # 8 one-record segments of ~790 bytes (the last one active): Kafka deletes
    # the oldest while what remains is still >= retention.bytes, so 0..3 go
    # and 4..7 (~3160 bytes) stay.
    h.wait_until(lambda: watermarks(c, topic) == (4, 8), h.scaled(20), "log start offset 4")
    h.wait_until(lambda: bases(c, topic) == [4, 5, 6, 7], h.scaled(20), "segments 4..7")


def node():
    exe = shutil.which("node") or shutil.which("nodejs")
    h.expect(exe is not None, "node is not installed")
    return exe


def delete_records(c):
    topic = "ret-delrec"
    create(c, topic, {"segment.bytes": "1000", "retention.ms": "-1"})
    produce(c, topic, [(b"k%d" % i, BIG, 0) for i in range(6)])

    def js(offset):
        out = h.run_cmd([node(), os.path.join(HERE, "kafkajs_delete_records.js"), c.bootstrap, topic, "0",
                         str(offset)], timeout=60, env=dict(os.environ, NODE_PATH=os.path.join(HERE, "node_modules")))
        return json.loads(out.stdout.decode().strip().splitlines()[-1])
    r = js(2)
    h.expect(r["ok"], "deleteTopicRecords failed: %s" % r)
    h.eq(watermarks(c, topic), (2, 6), "watermarks after DeleteRecords(2)")
    h.wait_until(lambda: bases(c, topic) == [2, 3, 4, 5], h.scaled(20), "segments below 2 deleted")
    r = js(99)
    h.expect(not r["ok"] and "OFFSET_OUT_OF_RANGE" in json.dumps(r), "above the HW: %s" % r)
    h.eq(watermarks(c, topic), (2, 6), "watermarks after a refused DeleteRecords")
    r = js(-1)  # to the high watermark
    h.expect(r["ok"], "deleteTopicRecords(-1) failed: %s" % r)
    h.eq(watermarks(c, topic), (6, 6), "watermarks after DeleteRecords(-1)")
    # The start offset survives a restart (log-start-offset-checkpoint).
    c.broker(0).restart()
    c.wait_topic(topic, 1)
    h.wait_until(lambda: watermarks(c, topic) == (6, 6), h.scaled(20), "start offset after restart")


def compacted_topic(c, topic, keys, rounds, tombstones, compression=None):
    create(c, topic, {"cleanup.policy": "compact", "segment.bytes": "4000", "segment.ms": "1500",
                      "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "0"})
    recs = []
    for r in range(rounds):
        for k in range(keys):
            recs.append((b"key%d" % k, b"value-%d-%d" % (k, r), 0))
    recs += [(b"key%d" % k, None, 0) for k in range(tombstones)]
    conf = {"bootstrap.servers": c.bootstrap, "acks": "all", "linger.ms": 5}
    if compression:
        conf["compression.codec"] = compression
    p = Producer(conf)
    latest = {}
    errs = []

    def cb(err, msg):
        if err:
            errs.append(err)
        else:
            latest[msg.key()] = (msg.offset(), msg.value())
    for i, (k, v, _) in enumerate(recs):
        p.produce(topic, key=k, value=v, partition=0, on_delivery=cb)
        if i % 500 == 0:
            p.poll(0)
    p.flush(h.scaled(60))
    h.expect(not errs, "delivery errors: %s" % errs[:3])
    return {k: ov for k, ov in latest.items() if ov[1] is not None}, len(recs)


def check_compacted(c, topic, want, total):
    got = consume_all(c, topic, group="kanal-it-compact-%s" % topic)
    seen = {}
    for o, k, v in got:
        seen[k] = (o, v)
    # the latest value of each live key, at the offset it was produced at
    h.eq(seen, want, "latest value per key")
    h.expect(len(got) == len(want), "%d records consumed for %d live keys (out of %d produced)"
             % (len(got), len(want), total))


def wait_compacted(c, topic, want, total):
    def done():
        try:
            check_compacted(c, topic, want, total)
            return True
        except h.TestFailure:
            return False
    h.wait_until(done, h.scaled(60), "fully compacted", interval=1.0)
    check_compacted(c, topic, want, total)


def compaction(c):
    topic = "compacted"
    want, total = compacted_topic(c, topic, keys=20, rounds=10, tombstones=5)
    b = c.broker(0)
    h.wait_until(lambda: "[%s-0] cleaned" % topic in b.stderr(), h.scaled(40), "the cleaner ran")
    # The tombstones sit in the active segment until segment.ms rolls it;
    # the next pass then removes them (delete.retention.ms=0).
    wait_compacted(c, topic, want, total)


def kill_during_cleaning(c):
    topic = "compacted-kill"
    want, total = compacted_topic(c, topic, keys=200, rounds=60, tombstones=20)
    b = c.broker(0)
    h.wait_until(lambda: "[%s-0] cleaner: starting" % topic in b.stderr(), h.scaled(40), "cleaner started")
    b.kill9()
    b.start()
    c.wait_topic(topic, 1)
    # Nothing lost: each key's latest value is still there at its offset
    # (compacted or not, depending on where the kill landed)...
    got = consume_all(c, topic, group="kanal-it-kill-1")
    seen = {}
    for o, k, v in got:
        if v is None:
            seen.pop(k, None)
        else:
            seen[k] = (o, v)
    h.eq(seen, want, "latest value per key after kill -9")
    # ...and the restarted cleaner finishes the job.
    wait_compacted(c, topic, want, total)


def stored_batches(c, topic):
    """(codec, records_count) of every batch in the partition's segment files."""
    d = os.path.join(c.broker(0).log_dir, "%s-0" % topic)
    out = []
    for f in sorted(os.listdir(d)):
        if not f.endswith(".log"):
            continue
        with open(os.path.join(d, f), "rb") as fh:
            data = fh.read()
        pos = 0
        while pos + 61 <= len(data):
            length = struct.unpack(">i", data[pos + 8:pos + 12])[0]
            attrs = struct.unpack(">h", data[pos + 21:pos + 23])[0]
            count = struct.unpack(">i", data[pos + 57:pos + 61])[0]
            out.append((attrs & 7, count))
            pos += 12 + length
    return out


def compaction_compressed(c):
    """Keyed updates in gzip and zstd batches (many keys per batch): the
    cleaner decompresses them, so superseded records inside compressed
    batches go, and what stays is recompressed with the batch's codec."""
    for codec, cid in (("gzip", 1), ("zstd", 4)):
        topic = "compacted-" + codec
        want, total = compacted_topic(c, topic, keys=30, rounds=12, tombstones=4, compression=codec)
        before = stored_batches(c, topic)
        h.expect(any(cc == cid and n > 1 for cc, n in before),
                 "%s: no multi-record %s batch stored (%s)" % (topic, codec, before[:5]))
        wait_compacted(c, topic, want, total)
        after = stored_batches(c, topic)
        h.expect(sum(n for _, n in after) < total, "%s: nothing was removed" % topic)
        h.expect(all(cc in (0, cid) for cc, _ in after), "%s: codecs after cleaning %s" % (topic, after))
        h.expect(any(cc == cid and n > 0 for cc, n in after), "%s: no %s batch left after cleaning" % (topic, codec))


def body(run):
    with h.Cluster(brokers=1, overrides=OVERRIDES, name="retention") as c:
        run.case("time retention deletes expired segments only", time_retention, c)
        run.case("an expired active segment is rolled, then deleted", active_rolled_first, c)
        run.case("size retention", size_retention, c)
        run.case("DeleteRecords from kafkajs", delete_records, c)
        run.case("compaction keeps the latest value per key at its offset", compaction, c)
        run.case("kill -9 during cleaning loses nothing", kill_during_cleaning, c)
        run.case("compaction inside gzip and zstd batches", compaction_compressed, c)


if __name__ == "__main__":
    h.main("retention", 300, body)
