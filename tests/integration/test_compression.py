#!/usr/bin/python3
"""Compression (issue 7 item 3) against one broker: every codec round-trips
from librdkafka (confluent-kafka) and kafka-python, gzip from kafkajs; the
stored batches' compression bits are checked with a raw Fetch v10 (librdkafka
silently sends uncompressed when the broker's versions do not allow a codec);
a zip bomb is refused; zstd below Produce v7 / Fetch v10 gets
UNSUPPORTED_COMPRESSION_TYPE; a topic's compression.type recompresses;
LogAppendTime and per-topic max.message.bytes."""

import json
import os
import shutil
import struct
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import kafka_wire as kw  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CODECS = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
UNSUPPORTED_COMPRESSION_TYPE = 76
CORRUPT_MESSAGE = 2
MESSAGE_TOO_LARGE = 10


def create(c, topic, config=None, partitions=1):
    a = AdminClient({"bootstrap.servers": c.bootstrap})
    fs = a.create_topics([NewTopic(topic, partitions, 1, config=config or {})], operation_timeout=20)
    fs[topic].result(30)
    c.wait_topic(topic, partitions)


# ---- raw Produce v7 / Fetch v10 (zstd needs them) ----

def produce_v7(conn, topic, blob, version=7):
    body = kw.produce_v3_body(topic, 0, blob)
    r = kw.Reader(conn.request(kw.PRODUCE, version, body))
    out = None
    for _name, parts in r.array(lambda x: (x.string(), x.array(
            lambda y: (y.i32(), y.i16(), y.i64(), y.i64(), y.i64() if version >= 5 else -1)))):
        _p, err, base, lat, _lso = parts[0]
        out = dict(error=err, base_offset=base, log_append_time=lat)
    return out


def fetch_v10(conn, topic, offset=0, version=10, max_bytes=8 << 20):
    if version >= 10:
        body = (kw.i32(-1) + kw.i32(100) + kw.i32(1) + kw.i32(max_bytes) + kw.i8(0) + kw.i32(0) + kw.i32(-1)
                + kw.array([topic], lambda t: kw.string(t) + kw.array(
                    [0], lambda p: kw.i32(p) + kw.i32(-1) + kw.i64(offset) + kw.i64(-1) + kw.i32(max_bytes)))
                + kw.array([], kw.string))
        r = kw.Reader(conn.request(kw.FETCH, version, body))
        r.i32()
        r.i16()
        r.i32()

        def part(x):
            d = dict(partition=x.i32(), error=x.i16(), hw=x.i64(), lso=x.i64(), log_start=x.i64(),
                     aborted=x.array(lambda y: (y.i64(), y.i64())))
            d["records"] = x.bytes_()
            return d
        res = r.array(lambda x: (x.string(), x.array(part)))
        return res[0][1][0]
    d = conn.fetch(topic, 0, offset, max_bytes=max_bytes)
    return dict(error=d["error"], records=d["records"], hw=d["high_watermark"])


def stored_codecs(c, topic):
    with kw.Connection("127.0.0.1", c.broker(0).port) as conn:
        d = fetch_v10(conn, topic)
        h.eq(d["error"], 0, "fetch v10 error")
        bs = kw.parse_record_batches(d["records"] or b"")
        h.expect(all(b["crc_ok"] for b in bs), "stored batch CRC")
        return bs


def consume_all(c, topic, n, timeout=30):
    cons = Consumer({"bootstrap.servers": c.bootstrap, "group.id": "compress-it",
                     "enable.auto.commit": False})
    cons.assign([TopicPartition(topic, 0, 0)])
    got = []
    deadline = time.monotonic() + h.scaled(timeout)
    while len(got) < n and time.monotonic() < deadline:
        m = cons.poll(0.5)
        if m is None or m.error():
            continue
        got.append((m.offset(), m.key(), m.value()))
    cons.close()
    return got


def librdkafka_codec(c, codec):
    topic = "rdk-" + codec
    create(c, topic)
    p = Producer({"bootstrap.servers": c.bootstrap, "compression.type": codec, "linger.ms": 50,
                  "batch.num.messages": 1000})
    n = 500
    for i in range(n):
        p.produce(topic, key=b"k%d" % i, value=(b"value-%d-" % i) + b"z" * 200, partition=0)
    h.eq(p.flush(30), 0, "undelivered")
    got = consume_all(c, topic, n)
    h.eq(len(got), n, "records consumed")
    h.eq([g[1] for g in got], [b"k%d" % i for i in range(n)], "keys in order")
    h.eq(got[7][2], b"value-7-" + b"z" * 200, "a value")
    bs = stored_codecs(c, topic)
    h.expect(bs, "no batches stored")
    want = CODECS[codec]
    if codec == "lz4" and not advertises(c, 10):
        # librdkafka 2.0 enables lz4 only when FindCoordinator v0 is
        # advertised (consumer groups); until then it silently sends plain.
        h.log("FindCoordinator not advertised: librdkafka sends lz4 uncompressed")
        want = 0
    h.eq({b["attributes"] & 7 for b in bs}, {want}, "stored codec bits (%s)" % codec)


def advertises(c, api_key):
    with kw.Connection("127.0.0.1", c.broker(0).port) as conn:
        return api_key in conn.api_versions(0)["api_keys"]


def kafka_python_codec(c, codec):
    from kafka import KafkaProducer
    topic = "kpy-" + codec
    create(c, topic)
    p = KafkaProducer(bootstrap_servers=c.bootstrap, compression_type=codec, linger_ms=20)
    n = 300
    for i in range(n):
        p.send(topic, key=b"k%d" % i, value=b"py-%d-" % i + b"y" * 100, partition=0)
    p.flush(30)
    p.close(10)
    got = consume_all(c, topic, n)
    h.eq(len(got), n, "records consumed")
    h.eq(got[-1][2], b"py-%d-" % (n - 1) + b"y" * 100, "last value")
    bs = stored_codecs(c, topic)
    h.eq({b["attributes"] & 7 for b in bs}, {CODECS[codec]}, "stored codec bits (%s)" % codec)


def kafkajs_gzip(c):
    exe = shutil.which("node") or shutil.which("nodejs")
    h.expect(exe is not None, "node is not installed")
    topic = "kjs-gzip"
    create(c, topic)
    out = h.run_cmd([exe, os.path.join(HERE, "kafkajs_gzip.js"), c.bootstrap, topic, "200"],
                    timeout=120).stdout.decode()
    h.eq(json.loads(out.strip().splitlines()[-1])["produced"], 200, "kafkajs produced")
    got = consume_all(c, topic, 200)
    h.eq(len(got), 200, "records consumed")
    h.eq(got[3][2], b"js-gzip-3", "a value")
    bs = stored_codecs(c, topic)
    h.eq({b["attributes"] & 7 for b in bs}, {1}, "stored codec bits (gzip)")


def compressed_batch(codec, n=3, producer_id=-1, seq=-1):
    """A raw v2 batch whose records section is compressed with codec (1 gzip, 4 zstd)."""
    plain = kw.record_batch([(b"k%d" % i, b"v%d" % i) for i in range(n)], producer_id=producer_id,
                            producer_epoch=0 if producer_id >= 0 else -1, base_sequence=seq)
    recs = plain[61:]
    if codec == 1:
        co = zlib.compressobj(9, zlib.DEFLATED, 31)
        body = co.compress(recs) + co.flush()
    else:
        import zstandard
        body = zstandard.ZstdCompressor().compress(recs)
    return rebatch(plain[:61], body, codec)


def rebatch(header, body, codec):
    hdr = bytearray(header)
    attrs = struct.unpack(">h", hdr[21:23])[0]
    hdr[21:23] = struct.pack(">h", (attrs & ~7) | codec)
    out = bytes(hdr) + body
    length = len(out) - 12
    out = out[:8] + struct.pack(">i", length) + out[12:]
    crc = kw.crc32c(out[21:])
    return out[:17] + struct.pack(">I", crc) + out[21:]


def zip_bomb(c):
    topic = "bomb"
    create(c, topic)
    # 100 MiB of one record value: ~100 KiB gzipped, under max.message.bytes,
    # past the 64 MiB decompression cap.
    size = 100 << 20
    rec = kw.record(0, b"k", b"\0" * size)
    header = kw.record_batch([(b"k", b"x")])[:61]
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    body = co.compress(rec) + co.flush()
    h.expect(len(body) < 1000000, "bomb too big on the wire: %d" % len(body))
    blob = rebatch(header, body, 1)
    with kw.Connection("127.0.0.1", c.broker(0).port) as conn:
        res = produce_v7(conn, topic, blob)
        h.eq(res["error"], CORRUPT_MESSAGE, "zip bomb answer")
        # truncated gzip: CORRUPT_MESSAGE too; the broker keeps serving
        good = compressed_batch(1)
        bad = rebatch(good[:61], good[61:-10], 1)
        h.eq(produce_v7(conn, topic, bad)["error"], CORRUPT_MESSAGE, "truncated gzip")
        h.eq(produce_v7(conn, topic, good)["error"], 0, "good gzip batch after the bomb")
    h.expect(c.broker(0).alive(), "broker died")


def zstd_versions(c):
    topic = "zstd-versions"
    create(c, topic)
    with kw.Connection("127.0.0.1", c.broker(0).port) as conn:
        h.eq(produce_v7(conn, topic, compressed_batch(4), version=3)["error"], UNSUPPORTED_COMPRESSION_TYPE,
             "zstd on Produce v3")
        # second batch zstd: still refused (checked per batch)
        mixed = compressed_batch(1) + compressed_batch(4)
        h.eq(produce_v7(conn, topic, mixed, version=6)["error"], UNSUPPORTED_COMPRESSION_TYPE,
             "zstd as the second batch on Produce v6")
        h.eq(produce_v7(conn, topic, compressed_batch(4), version=7)["error"], 0, "zstd on Produce v7")
        h.eq(fetch_v10(conn, topic, version=4)["error"], UNSUPPORTED_COMPRESSION_TYPE, "zstd on Fetch v4")
        d = fetch_v10(conn, topic, version=10)
        h.eq(d["error"], 0, "zstd on Fetch v10")
        h.eq([b["attributes"] & 7 for b in kw.parse_record_batches(d["records"])], [4], "stored zstd")


def topic_recompresses(c):
    topic = "recompress-lz4"
    create(c, topic, {"compression.type": "lz4"})
    with kw.Connection("127.0.0.1", c.broker(0).port) as conn:
        h.eq(conn.produce(topic, 0, kw.record_batch([(b"a", b"1"), (b"b", b"2")]))["error"], 0, "plain")
        h.eq(produce_v7(conn, topic, compressed_batch(1))["error"], 0, "gzip")
    bs = stored_codecs(c, topic)
    h.eq([b["attributes"] & 7 for b in bs], [3, 3], "both stored as lz4")
    got = consume_all(c, topic, 5)
    h.eq([(o, k) for o, k, _ in got], [(0, b"a"), (1, b"b"), (2, b"k0"), (3, b"k1"), (4, b"k2")], "records")
    topic = "recompress-none"
    create(c, topic, {"compression.type": "uncompressed"})
    with kw.Connection("127.0.0.1", c.broker(0).port) as conn:
        h.eq(produce_v7(conn, topic, compressed_batch(1, n=4))["error"], 0, "gzip")
    bs = stored_codecs(c, topic)
    h.eq([(b["attributes"] & 7, len(b["records"])) for b in bs], [(0, 4)], "stored uncompressed")


def log_append_time(c):
    topic = "lat"
    create(c, topic, {"message.timestamp.type": "LogAppendTime"})
    old = 1000000
    with kw.Connection("127.0.0.1", c.broker(0).port) as conn:
        before = int(time.time() * 1000)
        res = produce_v7(conn, topic, kw.record_batch([(b"a", b"1")], timestamp=old))
        h.eq(res["error"], 0, "produce")
        h.expect(res["log_append_time"] >= before - 1000, "log_append_time_ms %r" % res["log_append_time"])
    bs = stored_codecs(c, topic)
    h.eq(bs[0]["attributes"] & 8, 8, "timestamp type bit")
    cons = consume_all(c, topic, 1)
    h.eq(len(cons), 1, "consumed")


def max_message_bytes(c):
    topic = "small-msgs"
    create(c, topic, {"max.message.bytes": "1000"})
    with kw.Connection("127.0.0.1", c.broker(0).port) as conn:
        h.eq(conn.produce(topic, 0, kw.record_batch([(b"k", b"x" * 2000)]))["error"], MESSAGE_TOO_LARGE,
             "2000-byte record on a 1000-byte topic")
        h.eq(conn.produce(topic, 0, kw.record_batch([(b"k", b"x" * 100)]))["error"], 0, "small record")


def body(run):
    with h.Cluster(brokers=1, name="compression") as c:
        for codec in CODECS:
            run.case("librdkafka %s round trip, stored as %s" % (codec, codec), librdkafka_codec, c, codec)
        for codec in CODECS:
            run.case("kafka-python %s round trip, stored as %s" % (codec, codec), kafka_python_codec, c, codec)
        run.case("kafkajs gzip round trip", kafkajs_gzip, c)
        run.case("zip bomb and truncated gzip are CORRUPT_MESSAGE", zip_bomb, c)
        run.case("zstd needs Produce v7 and Fetch v10", zstd_versions, c)
        run.case("topic compression.type recompresses", topic_recompresses, c)
        run.case("message.timestamp.type=LogAppendTime", log_append_time, c)
        run.case("per-topic max.message.bytes", max_message_bytes, c)


if __name__ == "__main__":
    h.main("compression", 240, body)
