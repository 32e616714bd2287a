#!/usr/bin/python3
"""Hostile and unusual bytes over raw sockets (kafka_wire.py).

Each case checks the broker's answer (or that it closes the connection) and,
afterwards, that the broker still answers ApiVersions on a new connection.
socket.request.max.bytes is set to 1 MiB so the size limit is cheap to hit."""

import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import kafka_wire as kw  # noqa: E402

MAX_REQUEST = 1048576
TOPIC = "bad-input"


def still_alive(b):
    h.expect(b.alive(), "broker exited (status %s)" % (b.proc.returncode,))
    with b.connect() as c:
        h.eq(c.api_versions(0)["error"], kw.NONE, "ApiVersions v0 error after the bad input")


def expect_closed(conn, what):
    h.expect(conn.wait_closed(timeout=h.scaled(5)), "broker kept the connection open after %s" % what)


def latest(b):
    with b.connect() as c:
        r = c.list_offset(TOPIC, 0, kw.LATEST)
        h.eq(r["error"], kw.NONE, "ListOffsets latest error")
        return r["offset"]


# ---- cases; each receives the broker

def good_produce_fetch(b):
    before = latest(b)
    batch = kw.record_batch([(b"k1", b"v1", [(b"h", b"x")]), (None, b"v2")])
    with b.connect() as c:
        r = c.produce(TOPIC, 0, batch)
        h.eq((r["error"], r["base_offset"]), (kw.NONE, before), "Produce v3 (error, base offset)")
        f = c.fetch(TOPIC, 0, before)
        h.eq(f["error"], kw.NONE, "Fetch v4 error")
        h.eq(f["high_watermark"], before + 2, "high watermark")
        h.eq(f["last_stable_offset"], before + 2, "last stable offset")
        batches = kw.parse_record_batches(f["records"])
        recs = [(o, k, v, hd) for bt in batches for (o, _ts, k, v, hd) in bt["records"]]
        h.expect(all(bt["crc_ok"] for bt in batches), "Fetch v4 served a batch with a bad CRC")
        h.eq(recs, [(before, b"k1", b"v1", [(b"h", b"x")]), (before + 1, None, b"v2", [])], "fetched records")
        # At the high watermark the answer is empty records, not null: librdkafka
        # rejects a null record set ("invalid MessageSetSize -1") and never sees
        # the end of the partition.
        end = c.fetch(TOPIC, 0, before + 2, max_wait_ms=50)
        h.eq((end["error"], end["records"]), (kw.NONE, b""), "Fetch v4 at the high watermark (error, records)")


def frame_too_large(b):
    with b.connect() as c:
        c.send_raw(kw.i32(MAX_REQUEST + 1) + b"\0" * 64)
        expect_closed(c, "a frame of socket.request.max.bytes + 1")
    with b.connect() as c:
        c.send_raw(kw.i32(0x7FFFFFFF))
        expect_closed(c, "a frame of 2^31-1 bytes")


def frame_negative(b):
    with b.connect() as c:
        c.send_raw(kw.i32(-1) + b"\0" * 16)
        expect_closed(c, "a negative frame size")
    with b.connect() as c:
        c.send_raw(kw.i32(-2147483648))
        expect_closed(c, "frame size INT32_MIN")


def frame_too_small(b):
    with b.connect() as c:
        c.send_raw(kw.i32(0))
        expect_closed(c, "a zero-length frame")
    with b.connect() as c:
        c.send_raw(kw.i32(3) + b"\0\x12\0")  # shorter than a request header
        expect_closed(c, "a 3-byte frame")


def truncated_then_disconnect(b):
    hdr = kw.request_header(kw.METADATA, 1, 7)
    with b.connect() as c:
        c.send_raw(kw.i32(200) + hdr)  # promises 200 bytes, sends the header only
    with b.connect() as c:
        c.send_raw(kw.i32(1000))       # the size prefix only
    s = socket.create_connection(("127.0.0.1", b.port))
    s.sendall(b"\0\0")                 # half a size prefix
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")  # RST on close
    s.close()


def unknown_api_key(b):
    with b.connect() as c:
        c.send(999, 0, b"")
        expect_closed(c, "ApiKey 999")
    with b.connect() as c:
        c.send(-1, 0, b"")
        expect_closed(c, "ApiKey -1")


def unsupported_version(b):
    with b.connect() as c:
        c.send(kw.METADATA, 99, kw.metadata_v1_body(None))
        expect_closed(c, "Metadata v99")
    with b.connect() as c:
        c.send(kw.FETCH, 3, kw.fetch_v4_body(TOPIC, 0, 0)[:-1])
        expect_closed(c, "Fetch v3 (below the advertised minimum 4)")


def api_versions_unsupported(b):
    with b.connect() as c:
        # v99 is sent with a v2 header, as a newer client would; the broker
        # must answer in v0 form (KIP-511) with UNSUPPORTED_VERSION and ranges.
        corr = c.send(kw.API_VERSIONS, 99, kw.api_versions_v3_body(), flexible=True)
        got, body = c.recv()
        h.eq(got, corr, "correlation id")
        r = kw.Reader(body)
        h.eq(r.i16(), kw.UNSUPPORTED_VERSION, "error code")
        keys = {k: (lo, hi) for k, lo, hi in r.array(lambda x: (x.i16(), x.i16(), x.i16()))}
        r.done()
        h.eq(keys.get(kw.API_VERSIONS), (0, 3), "ApiVersions range in the v0 answer")
        h.expect(kw.METADATA in keys and kw.PRODUCE in keys, "ranges listed: %s" % keys)
    with b.connect() as c:
        v3 = c.api_versions(3)
        h.eq(v3["error"], kw.NONE, "ApiVersions v3 error")
        want = {kw.API_VERSIONS: (0, 3), kw.METADATA: (0, 9), kw.PRODUCE: (0, 9), kw.FETCH: (4, 12),
                kw.LIST_OFFSETS: (1, 6), kw.CREATE_TOPICS: (0, 4)}
        for k, rng in want.items():
            h.eq(v3["api_keys"].get(k), rng, "advertised range of ApiKey %d" % k)


def garbage(b):
    with b.connect() as c:
        c.send_raw(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        expect_closed(c, "an HTTP request")
    with b.connect() as c:
        c.send_raw(kw.i32(20) + b"\xff" * 20)
        expect_closed(c, "20 bytes of 0xff")
    with b.connect() as c:
        # A well-framed Metadata v1 whose topic array claims 2^31-1 entries.
        c.send(kw.METADATA, 1, kw.i32(0x7FFFFFFF) + kw.string("t"))
        expect_closed(c, "Metadata v1 with an absurd array count")
    with b.connect() as c:
        # A Metadata v1 with a string length running past the frame.
        c.send(kw.METADATA, 1, kw.i32(1) + kw.i16(500) + b"abc")
        expect_closed(c, "Metadata v1 with a string longer than the frame")


def bad_crc(b):
    before = latest(b)
    with b.connect() as c:
        r = c.produce(TOPIC, 0, kw.record_batch([(b"k", b"corrupt me")], corrupt_crc=True))
        h.eq(r["error"], kw.CORRUPT_MESSAGE, "Produce v3 with a bad CRC: error")
    h.eq(latest(b), before, "latest offset after a rejected batch")


def truncated_batch(b):
    before = latest(b)
    batch = kw.record_batch([(b"k", b"v" * 100)] * 3)
    with b.connect() as c:
        r = c.produce(TOPIC, 0, batch[:len(batch) - 40])
        h.expect(r["error"] != kw.NONE, "a truncated batch was accepted: %s" % r)
    h.eq(latest(b), before, "latest offset after a truncated batch")


def magic_v1(b):
    before = latest(b)
    with b.connect() as c:
        r = c.produce(TOPIC, 0, kw.message_v1(b"k", b"old format"))
        h.eq(r["error"], kw.INVALID_RECORD, "Produce v3 with a magic-1 message set: error")
    h.eq(latest(b), before, "latest offset after a magic-1 message set")


def acks_zero(b):
    before = latest(b)
    with b.connect() as c:
        c1 = c.send(kw.PRODUCE, 3, kw.produce_v3_body(TOPIC, 0, kw.record_batch([(b"a0", b"acks=0")]), acks=0))
        c2 = c.send(kw.API_VERSIONS, 0, b"")
        got, body = c.recv()
        h.eq(got, c2, "first correlation id answered after an acks=0 produce (that one was %d)" % c1)
        h.eq(kw.decode_api_versions(body, 0)["error"], kw.NONE, "ApiVersions error")
    h.wait_until(lambda: latest(b) == before + 1, 10, "the acks=0 record to be appended")


def pipelined(b):
    with b.connect() as c:
        sent = []
        for n in range(30):
            kind = n % 3
            if kind == 0:
                sent.append((c.send(kw.API_VERSIONS, 0, b""), kind))
            elif kind == 1:
                sent.append((c.send(kw.METADATA, 1, kw.metadata_v1_body([TOPIC])), kind))
            else:
                sent.append((c.send(kw.LIST_OFFSETS, 1, kw.list_offsets_v1_body(TOPIC, 0, kw.LATEST)), kind))
        for corr, kind in sent:
            got, body = c.recv()
            h.eq(got, corr, "correlation id of pipelined response")
            if kind == 0:
                h.eq(kw.decode_api_versions(body, 0)["error"], kw.NONE, "ApiVersions error")
            elif kind == 1:
                h.expect(TOPIC in kw.decode_metadata_v1(body)["topics"], "Metadata lists %s" % TOPIC)
            else:
                h.eq(kw.decode_list_offsets_v1(body)[(TOPIC, 0)]["error"], kw.NONE, "ListOffsets error")


def many_connections(b):
    conns = [b.connect() for _ in range(200)]
    try:
        for i, c in enumerate(conns):
            c.send(kw.API_VERSIONS, 0, b"")
        for c in conns:
            c.recv()
    finally:
        for c in conns:
            c.close()


CASES = [
    ("Produce v3 + Fetch v4 baseline round trip", good_produce_fetch),
    ("frame larger than socket.request.max.bytes -> closed", frame_too_large),
    ("negative frame size -> closed", frame_negative),
    ("zero / too-short frame -> closed", frame_too_small),
    ("truncated frame then disconnect -> broker alive", truncated_then_disconnect),
    ("unknown ApiKey -> closed", unknown_api_key),
    ("unsupported version (Metadata v99, Produce v2) -> closed", unsupported_version),
    ("ApiVersions v99 -> UNSUPPORTED_VERSION (35) in v0 form with ranges", api_versions_unsupported),
    ("garbage bytes on a fresh connection -> closed", garbage),
    ("batch with a bad CRC -> CORRUPT_MESSAGE (2), nothing appended", bad_crc),
    ("truncated batch -> error, nothing appended", truncated_batch),
    ("magic v1 message set -> INVALID_RECORD (87)", magic_v1),
    ("acks=0 produce -> no response, record appended", acks_zero),
    ("30 pipelined requests answered in order", pipelined),
    ("200 concurrent connections", many_connections),
]


def body(run):
    with h.Cluster(brokers=1, name="bad-input",
                   overrides={"socket.request.max.bytes": str(MAX_REQUEST)}) as c:
        b = c.broker(0)
        c.create_topic(TOPIC, partitions=1)
        for title, fn in CASES:
            def case(fn=fn):
                try:
                    fn(b)
                finally:
                    still_alive(b)
            run.case(title, case)


if __name__ == "__main__":
    h.main("bad-input", 180, body)
