"""A tiny Kafka wire-protocol client for integration tests (python3 stdlib only).

It exists so tests can send bytes no real client would send: oversized or
negative frames, unknown API keys, unsupported versions, batches with a bad
CRC, old message formats, pipelined and acks=0 requests. It knows only the
few request versions the tests need:

    ApiVersions v0 and v3, Metadata v1, Produce v3, Fetch v4, ListOffsets v1,
    CreateTopics v0

Encoders build bytes; decoders take bytes and raise WireError on anything
short or malformed. Connection frames requests and reads responses.
"""

import socket
import struct
import time
import zlib

# API keys (Kafka protocol).
PRODUCE = 0
FETCH = 1
LIST_OFFSETS = 2
METADATA = 3
API_VERSIONS = 18
CREATE_TOPICS = 19

# Error codes the tests look for.
NONE = 0
CORRUPT_MESSAGE = 2
UNKNOWN_TOPIC_OR_PARTITION = 3
NOT_LEADER_OR_FOLLOWER = 6
UNSUPPORTED_VERSION = 35
TOPIC_ALREADY_EXISTS = 36
NOT_CONTROLLER = 41
INVALID_RECORD = 87


class WireError(Exception):
    """Malformed or truncated data."""


class Closed(Exception):
    """The peer closed the connection."""


# --------------------------------------------------------------------------
# CRC-32C (Castagnoli), reflected polynomial 0x82F63B78, as in RecordBatch v2.

def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _CRC32C[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283  # the standard check value


# --------------------------------------------------------------------------
# Encoding.

def i8(v):
    return struct.pack(">b", v)


def i16(v):
    return struct.pack(">h", v)


def i32(v):
    return struct.pack(">i", v)


def u32(v):
    return struct.pack(">I", v)


def i64(v):
    return struct.pack(">q", v)


def boolean(v):
    return b"\x01" if v else b"\x00"


def string(s):
    """STRING / NULLABLE_STRING (None -> -1)."""
    if s is None:
        return i16(-1)
    b = s.encode() if isinstance(s, str) else s
    return i16(len(b)) + b


def bytes_(b):
    """BYTES / NULLABLE_BYTES (None -> -1)."""
    if b is None:
        return i32(-1)
    return i32(len(b)) + b


def array(items, enc):
    """ARRAY with a plain int32 count (None -> -1)."""
    if items is None:
        return i32(-1)
    return i32(len(items)) + b"".join(enc(x) for x in items)


def uvarint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varint(v):
    """Zig-zag signed varint (also used for varlong)."""
    return uvarint((v << 1) ^ (v >> 63))


def compact_string(s):
    if s is None:
        return uvarint(0)
    b = s.encode() if isinstance(s, str) else s
    return uvarint(len(b) + 1) + b


def compact_array(items, enc):
    if items is None:
        return uvarint(0)
    return uvarint(len(items) + 1) + b"".join(enc(x) for x in items)


EMPTY_TAGS = uvarint(0)


def request_header(api_key, version, corr, client_id="kanal-it", flexible=False):
    """Request header v1, or v2 (v1 + tagged fields) for flexible versions."""
    h = i16(api_key) + i16(version) + i32(corr) + string(client_id)
    return h + EMPTY_TAGS if flexible else h


def frame(payload):
    return i32(len(payload)) + payload


# --------------------------------------------------------------------------
# Decoding.

class Reader:
    """A bounded cursor over bytes; every read checks the bytes left."""

    def __init__(self, data):
        self.data = bytes(data)
        self.pos = 0

    def left(self):
        return len(self.data) - self.pos

    def take(self, n):
        if n < 0 or n > self.left():
            raise WireError("need %d bytes at offset %d, have %d" % (n, self.pos, self.left()))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def _unpack(self, fmt, n):
        return struct.unpack(fmt, self.take(n))[0]

    def i8(self):
        return self._unpack(">b", 1)

    def i16(self):
        return self._unpack(">h", 2)

    def i32(self):
        return self._unpack(">i", 4)

    def u32(self):
        return self._unpack(">I", 4)

    def i64(self):
        return self._unpack(">q", 8)

    def boolean(self):
        return self.i8() != 0

    def string(self):
        n = self.i16()
        if n == -1:
            return None
        return self.take(n).decode()

    def bytes_(self):
        n = self.i32()
        if n == -1:
            return None
        return self.take(n)

    def array(self, dec):
        n = self.i32()
        if n == -1:
            return None
        if n < 0 or n > self.left():
            raise WireError("bad array count %d" % n)
        return [dec(self) for _ in range(n)]

    def uvarint(self):
        v = shift = 0
        while True:
            b = self.take(1)[0]
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7
            if shift > 63:
                raise WireError("varint too long")

    def varint(self):
        v = self.uvarint()
        return (v >> 1) ^ -(v & 1)

    def compact_string(self):
        n = self.uvarint()
        if n == 0:
            return None
        return self.take(n - 1).decode()

    def compact_array(self, dec):
        n = self.uvarint()
        if n == 0:
            return None
        if n - 1 > self.left():
            raise WireError("bad compact array count %d" % (n - 1))
        return [dec(self) for _ in range(n - 1)]

    def tags(self):
        """Skips a tagged-field section; returns {tag: bytes}."""
        out = {}
        for _ in range(self.uvarint()):
            tag = self.uvarint()
            out[tag] = self.take(self.uvarint())
        return out

    def done(self):
        if self.left():
            raise WireError("%d trailing bytes" % self.left())


# --------------------------------------------------------------------------
# Record batches (magic 2) and legacy message sets (magic 1).

def record(offset_delta, key, value, headers=(), timestamp_delta=0):
    body = (i8(0) + varint(timestamp_delta) + varint(offset_delta)
            + (varint(-1) if key is None else varint(len(key)) + key)
            + (varint(-1) if value is None else varint(len(value)) + value)
            + varint(len(headers))
            + b"".join(varint(len(hk)) + hk + (varint(-1) if hv is None else varint(len(hv)) + hv)
                       for hk, hv in headers))
    return varint(len(body)) + body


def record_batch(records, base_offset=0, timestamp=None, producer_id=-1, producer_epoch=-1,
                 base_sequence=-1, attributes=0, corrupt_crc=False):
    """records: list of (key, value) or (key, value, headers). Returns a v2 batch."""
    if timestamp is None:
        timestamp = int(time.time() * 1000)
    recs = b""
    for i, r in enumerate(records):
        key, value = r[0], r[1]
        headers = r[2] if len(r) > 2 else ()
        recs += record(i, key, value, headers)
    after_crc = (i16(attributes) + i32(len(records) - 1) + i64(timestamp) + i64(timestamp)
                 + i64(producer_id) + i16(producer_epoch) + i32(base_sequence)
                 + i32(len(records)) + recs)
    crc = crc32c(after_crc)
    if corrupt_crc:
        crc ^= 0xDEADBEEF
    after_length = i32(-1) + i8(2) + u32(crc) + after_crc   # partitionLeaderEpoch, magic
    return i64(base_offset) + i32(len(after_length)) + after_length


def message_v1(key, value, offset=0, timestamp=None):
    """A legacy magic-1 message set entry (what pre-0.11 clients send)."""
    if timestamp is None:
        timestamp = int(time.time() * 1000)
    body = i8(1) + i8(0) + i64(timestamp) + bytes_(key) + bytes_(value)
    msg = u32(zlib.crc32(body) & 0xFFFFFFFF) + body
    return i64(offset) + i32(len(msg)) + msg


def parse_record_batches(data):
    """Parses a Fetch records blob into a list of batches.

    Each batch is a dict with base_offset, crc_ok, magic, attributes and
    records [(offset, timestamp, key, value, headers)]. A trailing partial
    batch (allowed by the protocol) is ignored.
    """
    batches = []
    r = Reader(data)
    while r.left() >= 12:
        base_offset = r.i64()
        length = r.i32()
        if length > r.left():
            break  # partial batch at the end of a fetch response
        b = Reader(r.take(length))
        b.i32()  # partitionLeaderEpoch
        magic = b.i8()
        if magic != 2:
            raise WireError("magic %d batch at offset %d" % (magic, base_offset))
        crc = b.u32()
        rest = b.data[b.pos:]
        attributes = b.i16()
        b.i32()  # lastOffsetDelta
        first_ts = b.i64()
        b.i64()  # maxTimestamp
        b.i64()  # producerId
        b.i16()  # producerEpoch
        b.i32()  # baseSequence
        count = b.i32()
        records = []
        if attributes & 0x7 == 0:
            for _ in range(count):
                rr = Reader(b.take(b.varint()))
                rr.i8()
                ts = first_ts + rr.varint()
                off = base_offset + rr.varint()
                kl = rr.varint()
                key = None if kl < 0 else rr.take(kl)
                vl = rr.varint()
                value = None if vl < 0 else rr.take(vl)
                headers = []
                for _ in range(rr.varint()):
                    hk = rr.take(rr.varint())
                    hl = rr.varint()
                    headers.append((hk, None if hl < 0 else rr.take(hl)))
                records.append((off, ts, key, value, headers))
        batches.append(dict(base_offset=base_offset, magic=magic, attributes=attributes,
                            crc_ok=crc32c(rest) == crc, count=count, records=records))
    return batches


# --------------------------------------------------------------------------
# Requests (bodies only) and response decoders.

def api_versions_v3_body(name="kanal-it", version="1.0"):
    return compact_string(name) + compact_string(version) + EMPTY_TAGS


def decode_api_versions(data, version):
    """Decodes an ApiVersions response body; v0-v2 fields, or v3 compact form."""
    r = Reader(data)
    err = r.i16()
    if version >= 3:
        def ent(x):
            e = (x.i16(), x.i16(), x.i16())
            x.tags()
            return e
        keys = r.compact_array(ent)
        throttle = r.i32()
        r.tags()
    else:
        keys = r.array(lambda x: (x.i16(), x.i16(), x.i16()))
        throttle = r.i32() if version >= 1 else 0
    return dict(error=err, api_keys={k: (lo, hi) for k, lo, hi in keys or []}, throttle=throttle)


def metadata_v1_body(topics=None):
    return array(topics, string)


def decode_metadata_v1(data):
    r = Reader(data)
    brokers = r.array(lambda x: dict(node_id=x.i32(), host=x.string(), port=x.i32(), rack=x.string()))
    controller = r.i32()

    def part(x):
        return dict(error=x.i16(), partition=x.i32(), leader=x.i32(),
                    replicas=x.array(lambda y: y.i32()), isr=x.array(lambda y: y.i32()))

    topics = r.array(lambda x: dict(error=x.i16(), name=x.string(), internal=x.boolean(),
                                    partitions=x.array(part)))
    r.done()
    return dict(brokers=brokers, controller=controller, topics={t["name"]: t for t in topics})


def produce_v3_body(topic, partition, records_blob, acks=-1, timeout_ms=10000):
    return (string(None) + i16(acks) + i32(timeout_ms)
            + array([topic], lambda t: string(t)
                    + array([partition], lambda p: i32(p) + bytes_(records_blob))))


def decode_produce_v3(data):
    r = Reader(data)
    out = {}
    for name, parts in r.array(lambda x: (x.string(), x.array(
            lambda y: (y.i32(), y.i16(), y.i64(), y.i64())))):
        for p, err, base, append_time in parts:
            out[(name, p)] = dict(error=err, base_offset=base, log_append_time=append_time)
    r.i32()  # throttle
    r.done()
    return out


def fetch_v4_body(topic, partition, offset, max_wait_ms=100, max_bytes=1 << 20, isolation=0):
    return (i32(-1) + i32(max_wait_ms) + i32(1) + i32(max_bytes) + i8(isolation)
            + array([topic], lambda t: string(t)
                    + array([partition], lambda p: i32(p) + i64(offset) + i32(max_bytes))))


def decode_fetch_v4(data):
    r = Reader(data)
    r.i32()  # throttle
    out = {}

    def part(x):
        return dict(partition=x.i32(), error=x.i16(), high_watermark=x.i64(),
                    last_stable_offset=x.i64(),
                    aborted=x.array(lambda y: (y.i64(), y.i64())), records=x.bytes_())

    for name, parts in r.array(lambda x: (x.string(), x.array(part))):
        for p in parts:
            out[(name, p["partition"])] = p
    r.done()
    return out


EARLIEST = -2
LATEST = -1


def list_offsets_v1_body(topic, partition, timestamp):
    return i32(-1) + array([topic], lambda t: string(t)
                           + array([partition], lambda p: i32(p) + i64(timestamp)))


def decode_list_offsets_v1(data):
    r = Reader(data)
    out = {}
    for name, parts in r.array(lambda x: (x.string(), x.array(
            lambda y: (y.i32(), y.i16(), y.i64(), y.i64())))):
        for p, err, ts, off in parts:
            out[(name, p)] = dict(error=err, timestamp=ts, offset=off)
    r.done()
    return out


def create_topics_v0_body(topic, partitions, replication_factor, timeout_ms=10000):
    return (array([topic], lambda t: string(t) + i32(partitions) + i16(replication_factor)
                  + array([], None) + array([], None))
            + i32(timeout_ms))


def decode_create_topics_v0(data):
    r = Reader(data)
    out = dict(r.array(lambda x: (x.string(), x.i16())))
    r.done()
    return out


# --------------------------------------------------------------------------
# Connection.

class Connection:
    """One TCP connection to a broker. Not thread-safe."""

    def __init__(self, host, port, timeout=10.0, client_id="kanal-it"):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.client_id = client_id
        self.next_corr = 1

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, api_key, version, body, flexible=False, corr=None):
        """Sends one framed request; returns its correlation id."""
        if corr is None:
            corr = self.next_corr
            self.next_corr += 1
        hdr = request_header(api_key, version, corr, self.client_id, flexible)
        self.sock.sendall(frame(hdr + body))
        return corr

    def _recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self.sock.recv(n - len(buf))
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise Closed("connection closed after %d of %d bytes" % (len(buf), n))
            buf += chunk
        return bytes(buf)

    def recv(self, flexible_response_header=False):
        """Reads one response; returns (correlation id, body bytes)."""
        size = struct.unpack(">i", self._recv_exact(4))[0]
        if size < 4:
            raise WireError("response size %d" % size)
        payload = self._recv_exact(size)
        r = Reader(payload)
        corr = r.i32()
        if flexible_response_header:
            r.tags()
        return corr, payload[r.pos:]

    def request(self, api_key, version, body, flexible=False):
        """Sends and waits for the matching response body."""
        corr = self.send(api_key, version, body, flexible)
        # ApiVersions always answers with response header v0 (KIP-511).
        got, resp = self.recv(flexible and api_key != API_VERSIONS)
        if got != corr:
            raise WireError("correlation id %d, expected %d" % (got, corr))
        return resp

    def wait_closed(self, timeout=5.0):
        """True when the peer closes the connection within timeout (no data)."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
        finally:
            self.sock.settimeout(self.timeout)
        if data:
            raise WireError("expected the connection to close, got %d bytes" % len(data))
        return True

    # Convenience wrappers.
    def api_versions(self, version=0):
        if version >= 3:
            return decode_api_versions(self.request(API_VERSIONS, version,
                                                    api_versions_v3_body(), True), version)
        return decode_api_versions(self.request(API_VERSIONS, version, b""), version)

    def metadata(self, topics=None):
        return decode_metadata_v1(self.request(METADATA, 1, metadata_v1_body(topics)))

    def produce(self, topic, partition, blob, acks=-1, timeout_ms=10000):
        return decode_produce_v3(self.request(
            PRODUCE, 3, produce_v3_body(topic, partition, blob, acks, timeout_ms)))[(topic, partition)]

    def fetch(self, topic, partition, offset, max_wait_ms=100, max_bytes=1 << 20):
        return decode_fetch_v4(self.request(
            FETCH, 4, fetch_v4_body(topic, partition, offset, max_wait_ms, max_bytes)))[(topic, partition)]

    def list_offset(self, topic, partition, timestamp):
        return decode_list_offsets_v1(self.request(
            LIST_OFFSETS, 1, list_offsets_v1_body(topic, partition, timestamp)))[(topic, partition)]

    def create_topic(self, topic, partitions, replication_factor=1, timeout_ms=10000):
        return decode_create_topics_v0(self.request(
            CREATE_TOPICS, 0, create_topics_v0_body(topic, partitions, replication_factor, timeout_ms)))[topic]
