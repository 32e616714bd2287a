#!/usr/bin/python3
"""Live topic and broker configs and CreatePartitions (issue 7, item 5).

confluent-kafka's AdminClient (alter_configs, describe_configs,
create_partitions) and raw IncrementalAlterConfigs (no installed client
sends it): a changed topic config shows in DescribeConfigs, lands in
/config/topics/<t> with a /config/changes notification, and takes effect
without a restart (max.message.bytes -> MESSAGE_TOO_LARGE); bad values,
unknown keys and read-only broker keys are refused with the key named;
dynamic broker keys report their source; partitions grow from 3 to 6 and
partition 5 takes records; on three brokers every leader applies a change
made through another broker."""

import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import kafka_wire as kw  # noqa: E402

from confluent_kafka import KafkaError, KafkaException, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions  # noqa: E402

INCREMENTAL_ALTER_CONFIGS = 44
CREATE_PARTITIONS = 37
TOPIC, BROKER = 2, 4
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3
INVALID_CONFIG = 40
INVALID_REQUEST = 42
INVALID_PARTITIONS = 37
INVALID_REPLICA_ASSIGNMENT = 39
NOT_CONTROLLER = 41
BIG = b"x" * 5000
HERE = os.path.dirname(os.path.abspath(__file__))
# Quick retention checks so a live retention.ms change shows within seconds.
OVERRIDES = {
    "log.retention.check.interval.ms": "300",
    "log.segment.delete.delay.ms": "300",
}


# ---- raw IncrementalAlterConfigs (v0 classic, v1 flexible) and CreatePartitions v0

def incremental_body(resources, validate_only=False, version=1):
    """resources: [(type, name, [(key, op, value)])]."""
    if version >= 1:
        def cfg(c):
            return kw.compact_string(c[0]) + kw.i8(c[1]) + kw.compact_string(c[2]) + kw.EMPTY_TAGS

        def res(r):
            return kw.i8(r[0]) + kw.compact_string(r[1]) + kw.compact_array(r[2], cfg) + kw.EMPTY_TAGS
        return kw.compact_array(resources, res) + kw.boolean(validate_only) + kw.EMPTY_TAGS

    def cfg0(c):
        return kw.string(c[0]) + kw.i8(c[1]) + kw.string(c[2])

    def res0(r):
        return kw.i8(r[0]) + kw.string(r[1]) + kw.array(r[2], cfg0)
    return kw.array(resources, res0) + kw.boolean(validate_only)


def incremental(broker, resources, validate_only=False, version=1):
    """Returns {(type, name): (error, message)}."""
    with broker.connect() as c:
        data = c.request(INCREMENTAL_ALTER_CONFIGS, version, incremental_body(resources, validate_only, version),
                         flexible=version >= 1)
    r = kw.Reader(data)
    r.i32()  # throttle
    out = {}

    def one(rr):
        err = rr.i16()
        msg = rr.compact_string() if version >= 1 else rr.string()
        typ = rr.i8()
        name = rr.compact_string() if version >= 1 else rr.string()
        if version >= 1:
            rr.tags()
        out[(typ, name)] = (err, msg)
    if version >= 1:
        r.compact_array(one)
        r.tags()
    else:
        r.array(one)
    return out


def create_partitions_v0(broker, topic, count, timeout_ms=10000):
    body = kw.array([topic], lambda t: kw.string(t) + kw.i32(count) + kw.i32(-1)) + kw.i32(timeout_ms) + kw.boolean(False)
    with broker.connect() as c:
        r = kw.Reader(c.request(CREATE_PARTITIONS, 0, body))
    r.i32()
    res = r.array(lambda rr: (rr.string(), rr.i16(), rr.string()))
    return {n: (e, m) for n, e, m in res}


# ---- helpers

def admin(c, broker=None):
    bs = broker.address if broker else c.bootstrap
    return AdminClient({"bootstrap.servers": bs})


def create(c, topic, partitions=1, rf=1):
    # The harness finds the controller and retries NOT_CONTROLLER (just
    # after start Metadata may name none yet; librdkafka then stalls).
    c.create_topic(topic, partitions, rf)


def alter(c, restype, name, config, validate_only=False, broker=None):
    """AlterConfigs through the AdminClient; returns None or the KafkaError."""
    res = ConfigResource(restype, name, set_config=config)
    a = admin(c, broker)
    fs = a.alter_configs([res], validate_only=validate_only, request_timeout=h.scaled(20))
    try:
        list(fs.values())[0].result(h.scaled(30))
        return None
    except KafkaException as e:
        return e.args[0]


def describe(c, restype, name, broker=None):
    """{key: ConfigEntry}."""
    a = admin(c, broker)
    fs = a.describe_configs([ConfigResource(restype, name)], request_timeout=h.scaled(20))
    return list(fs.values())[0].result(h.scaled(30))


def produce(c, topic, value, partition=0, broker=None):
    """One record with acks=all; returns the delivery error or None."""
    p = Producer({"bootstrap.servers": broker.address if broker else c.bootstrap, "acks": "all",
                  "linger.ms": 0, "message.max.bytes": 10000000,
                  # retries cover a leader that has not taken over yet;
                  # MSG_SIZE_TOO_LARGE is not retried.
                  "retries": 5, "retry.backoff.ms": 100})
    out = {}

    def cb(err, msg):
        out["err"] = err
    p.produce(topic, value=value, partition=partition, on_delivery=cb)
    p.flush(h.scaled(30))
    h.expect("err" in out, "no delivery report for %s-%d" % (topic, partition))
    return out["err"]


def wait_described(c, restype, name, key, value, broker=None):
    """Brokers apply a written config from their ZooKeeper watch: wait for it."""
    h.wait_until(lambda: value_of(describe(c, restype, name, broker), key) == value, h.scaled(10),
                 "%s %s: %s=%s described" % (restype, name, key, value), interval=0.1)
    return describe(c, restype, name, broker)


def expect_err(err, code, key, what):
    h.expect(err is not None, "%s: expected error %d, got success" % (what, code))
    h.eq(err.code(), code, "%s: error code (%s)" % (what, err))
    if key:
        h.expect(key in err.str(), "%s: message %r should name %s" % (what, err.str(), key))


def zk_config(c, path):
    with c.zk.client() as z:
        data = z.get(path)
    return json.loads(data) if data else None


def zk_notifications(c):
    with c.zk.client() as z:
        kids = z.children("/config/changes") or []
        return [json.loads(z.get("/config/changes/" + k)) for k in kids]


def value_of(entries, key):
    return entries[key].value


def source(entry):
    """ConfigSource as Kafka's number (an enum in confluent-kafka)."""
    return getattr(entry.source, "value", entry.source)


def segments(c, topic, broker=0):
    d = os.path.join(c.broker(broker).log_dir, "%s-0" % topic)
    return sorted(int(f[:20]) for f in os.listdir(d) if f.endswith(".log"))


def low_watermark(c, topic):
    with c.broker(0).connect() as conn:
        return conn.list_offset(topic, 0, -2)["offset"]


def node():
    exe = shutil.which("node") or shutil.which("nodejs")
    h.expect(exe is not None, "node is not installed")
    return exe


def kafkajs(c, topic, key, value, partitions=0):
    out = h.run_cmd([node(), os.path.join(HERE, "kafkajs_configs.js"), c.bootstrap, topic, key, value,
                     str(partitions)], timeout=60, env=dict(os.environ, NODE_PATH=os.path.join(HERE, "node_modules")))
    return json.loads(out.stdout.decode().strip().splitlines()[-1])


# ---- cases, one broker

def test_topic_alter_takes_effect(c):
    create(c, "cfg-a", 3)
    h.eq(produce(c, "cfg-a", BIG), None, "5000-byte record before the change")
    before = len(zk_notifications(c))
    h.eq(alter(c, ConfigResource.Type.TOPIC, "cfg-a", {"max.message.bytes": "2000", "retention.ms": "3600000"}),
         None, "AlterConfigs")
    d = wait_described(c, ConfigResource.Type.TOPIC, "cfg-a", "max.message.bytes", "2000")
    h.eq(value_of(d, "max.message.bytes"), "2000", "described max.message.bytes")
    h.eq(value_of(d, "retention.ms"), "3600000", "described retention.ms")
    h.eq(source(d["retention.ms"]), 1, "retention.ms source (DYNAMIC_TOPIC_CONFIG)")
    h.eq(zk_config(c, "/config/topics/cfg-a"),
         {"version": 1, "config": {"max.message.bytes": "2000", "retention.ms": "3600000"}}, "/config/topics/cfg-a")
    notes = zk_notifications(c)
    h.eq(len(notes), before + 1, "new /config/changes notifications")
    h.expect({"version": 2, "entity_path": "topics/cfg-a"} in notes, "notification for topics/cfg-a: %s" % notes)
    # Applied without a restart: every partition refuses the big record now.
    for p in range(3):
        err = produce(c, "cfg-a", BIG, partition=p)
        h.expect(err is not None and err.code() == KafkaError.MSG_SIZE_TOO_LARGE,
                 "partition %d: expected MESSAGE_TOO_LARGE, got %s" % (p, err))
    h.eq(produce(c, "cfg-a", b"y" * 500), None, "500-byte record")
    h.expect("config changed: " in c.broker(0).stderr() and "max.message.bytes 1048588 -> 2000" in c.broker(0).stderr(),
             "the broker logs the applied change")
    # AlterConfigs replaces the whole override set: max.message.bytes is gone.
    h.eq(alter(c, ConfigResource.Type.TOPIC, "cfg-a", {"retention.ms": "7200000"}), None, "second AlterConfigs")
    d = wait_described(c, ConfigResource.Type.TOPIC, "cfg-a", "retention.ms", "7200000")
    h.eq(value_of(d, "max.message.bytes"), "1048588", "max.message.bytes back to the default")
    h.expect(d["max.message.bytes"].is_default, "max.message.bytes is a default again")
    h.wait_until(lambda: produce(c, "cfg-a", BIG) is None, h.scaled(10), "big records accepted again")


def test_log_settings_live(c):
    """segment.bytes and retention.ms changed on a topic with data: the next
    appends roll at the new size, and retention deletes the old segments."""
    create(c, "cfg-r", 1)
    for _ in range(3):
        h.eq(produce(c, "cfg-r", b"r" * 700), None, "record before")
    h.eq(segments(c, "cfg-r"), [0], "one segment before")
    h.eq(alter(c, ConfigResource.Type.TOPIC, "cfg-r", {"segment.bytes": "1000"}), None, "segment.bytes=1000")
    wait_described(c, ConfigResource.Type.TOPIC, "cfg-r", "segment.bytes", "1000")
    for _ in range(3):
        h.eq(produce(c, "cfg-r", b"r" * 700), None, "record after")
    h.expect(len(segments(c, "cfg-r")) >= 3, "appends roll at 1000 bytes now: %s" % segments(c, "cfg-r"))
    h.eq(low_watermark(c, "cfg-r"), 0, "log start before retention")
    # retention.ms=1 with cleanup.policy=delete: every closed segment expires.
    h.eq(alter(c, ConfigResource.Type.TOPIC, "cfg-r", {"segment.bytes": "1000", "retention.ms": "1"}), None,
         "retention.ms=1")
    h.wait_until(lambda: low_watermark(c, "cfg-r") >= 5, h.scaled(20), "retention moves the log start", 0.2)
    # compact only: retention no longer deletes.
    h.eq(alter(c, ConfigResource.Type.TOPIC, "cfg-r",
               {"segment.bytes": "1000", "retention.ms": "1", "cleanup.policy": "compact"}), None, "compact")
    wait_described(c, ConfigResource.Type.TOPIC, "cfg-r", "cleanup.policy", "compact")
    start = low_watermark(c, "cfg-r")
    for _ in range(3):
        h.eq(produce(c, "cfg-r", b"r" * 700), None, "record while compacted")
    time.sleep(1.5)
    h.eq(low_watermark(c, "cfg-r"), start, "no time retention under cleanup.policy=compact")


def test_bad_values(c):
    create(c, "cfg-b", 1)
    expect_err(alter(c, ConfigResource.Type.TOPIC, "cfg-b", {"retention.ms": "soon"}), INVALID_CONFIG,
               "retention.ms", "non-numeric retention.ms")
    expect_err(alter(c, ConfigResource.Type.TOPIC, "cfg-b", {"cleanup.policy": "shred"}), INVALID_CONFIG,
               "cleanup.policy", "bad cleanup.policy")
    expect_err(alter(c, ConfigResource.Type.TOPIC, "cfg-b", {"retention.msec": "1000"}), INVALID_CONFIG,
               "retention.msec", "unknown key")
    expect_err(alter(c, ConfigResource.Type.TOPIC, "no-such-topic", {"retention.ms": "1000"}),
               KafkaError.UNKNOWN_TOPIC_OR_PART, None, "unknown topic")
    # validate_only: a good change is accepted and not applied.
    h.eq(alter(c, ConfigResource.Type.TOPIC, "cfg-b", {"retention.ms": "1000"}, validate_only=True), None,
         "validate_only")
    d = describe(c, ConfigResource.Type.TOPIC, "cfg-b")
    h.expect(d["retention.ms"].is_default, "validate_only changed nothing: %s" % d["retention.ms"].value)
    h.eq(zk_config(c, "/config/topics/cfg-b"), {"version": 1, "config": {}}, "/config/topics/cfg-b untouched")


def test_broker_configs(c):
    expect_err(alter(c, ConfigResource.Type.BROKER, "0", {"log.dirs": "/elsewhere"}), INVALID_CONFIG, "log.dirs",
               "read-only log.dirs")
    expect_err(alter(c, ConfigResource.Type.BROKER, "0", {"broker.id": "7"}), INVALID_CONFIG, "broker.id",
               "read-only broker.id")
    expect_err(alter(c, ConfigResource.Type.BROKER, "0", {"log.retention.ms": "-5"}), INVALID_CONFIG,
               "log.retention.ms", "out-of-range log.retention.ms")
    create(c, "cfg-c", 1)
    h.eq(alter(c, ConfigResource.Type.BROKER, "0", {"log.retention.ms": "123456"}), None, "per-broker log.retention.ms")
    h.eq(zk_config(c, "/config/brokers/0"), {"version": 1, "config": {"log.retention.ms": "123456"}},
         "/config/brokers/0")
    h.expect({"version": 2, "entity_path": "brokers/0"} in zk_notifications(c), "notification for brokers/0")

    def applied():
        d = describe(c, ConfigResource.Type.BROKER, "0")
        t = describe(c, ConfigResource.Type.TOPIC, "cfg-c")
        return (value_of(d, "log.retention.ms") == "123456" and source(d["log.retention.ms"]) == 2
                and value_of(t, "retention.ms") == "123456" and source(t["retention.ms"]) == 2)
    h.wait_until(applied, h.scaled(10), "log.retention.ms 123456 (DYNAMIC_BROKER_CONFIG), also as the topic default")
    # The cluster-wide default, through raw IncrementalAlterConfigs (librdkafka
    # will not send an empty broker name).
    res = incremental(c.broker(0), [(BROKER, "", [("log.retention.bytes", SET, "99999999")])])
    h.eq(res[(BROKER, "")][0], 0, "default log.retention.bytes: %s" % (res,))
    h.eq(zk_config(c, "/config/brokers/<default>"), {"version": 1, "config": {"log.retention.bytes": "99999999"}},
         "/config/brokers/<default>")
    res = incremental(c.broker(0), [(BROKER, "", [("listeners", SET, "PLAINTEXT://:1")])])
    h.eq(res[(BROKER, "")][0], INVALID_CONFIG, "per-broker key at the default level")
    h.expect("listeners" in res[(BROKER, "")][1], "message names listeners: %s" % (res,))

    def default_applied():
        d = describe(c, ConfigResource.Type.BROKER, "0")
        return value_of(d, "log.retention.bytes") == "99999999" and source(d["log.retention.bytes"]) == 3
    h.wait_until(default_applied, h.scaled(10), "log.retention.bytes from DYNAMIC_DEFAULT_BROKER_CONFIG")
    # Removing the overrides restores the static values.
    h.eq(alter(c, ConfigResource.Type.BROKER, "0", {}), None, "clear per-broker overrides")
    incremental(c.broker(0), [(BROKER, "", [("log.retention.bytes", DELETE, None)])])

    def restored():
        d = describe(c, ConfigResource.Type.BROKER, "0")
        return (value_of(d, "log.retention.ms") == str(7 * 24 * 3600 * 1000) and source(d["log.retention.ms"]) != 2
                and value_of(d, "log.retention.bytes") == "-1")
    h.wait_until(restored, h.scaled(10), "static log.retention.ms/bytes back")
    t = describe(c, ConfigResource.Type.TOPIC, "cfg-c")
    h.eq(source(t["retention.ms"]), 5, "topic retention.ms source back to DEFAULT_CONFIG")
    h.expect(t["retention.ms"].is_default, "topic retention.ms is a default again")


def test_incremental(c):
    create(c, "cfg-d", 1)
    b = c.broker(0)
    for version in (0, 1):
        res = incremental(b, [(TOPIC, "cfg-d", [("retention.ms", SET, "5000"),
                                                 ("cleanup.policy", APPEND, "compact")])], version=version)
        h.eq(res[(TOPIC, "cfg-d")][0], 0, "v%d SET + APPEND: %s" % (version, res))
        h.eq(zk_config(c, "/config/topics/cfg-d")["config"],
             {"retention.ms": "5000", "cleanup.policy": "delete,compact"}, "v%d stored map" % version)
        res = incremental(b, [(TOPIC, "cfg-d", [("cleanup.policy", SUBTRACT, "delete"),
                                                 ("retention.ms", DELETE, None)])], version=version)
        h.eq(res[(TOPIC, "cfg-d")][0], 0, "v%d SUBTRACT + DELETE: %s" % (version, res))
        h.eq(zk_config(c, "/config/topics/cfg-d")["config"], {"cleanup.policy": "compact"}, "v%d after" % version)
        res = incremental(b, [(TOPIC, "cfg-d", [("cleanup.policy", SET, "delete")])], version=version)
        h.eq(res[(TOPIC, "cfg-d")][0], 0, "v%d reset" % version)
    wait_described(c, ConfigResource.Type.TOPIC, "cfg-d", "cleanup.policy", "delete")
    res = incremental(b, [(TOPIC, "cfg-d", [("retention.ms", APPEND, "5")])])
    h.eq(res[(TOPIC, "cfg-d")][0], INVALID_CONFIG, "APPEND to a non-list key")
    h.expect("retention.ms" in res[(TOPIC, "cfg-d")][1], "names the key: %s" % (res,))
    res = incremental(b, [(TOPIC, "cfg-d", [("segment.bytes", SET, "1")])])
    h.eq(res[(TOPIC, "cfg-d")][0], INVALID_CONFIG, "segment.bytes below its minimum")
    h.expect("segment.bytes" in res[(TOPIC, "cfg-d")][1], "names the key: %s" % (res,))
    res = incremental(b, [(TOPIC, "cfg-d", [("retention.ms", SET, "1"), ("retention.ms", SET, "2")])])
    h.eq(res[(TOPIC, "cfg-d")][0], INVALID_REQUEST, "duplicate keys")
    res = incremental(b, [(TOPIC, "cfg-d", [("retention.ms", SET, "1000")])], validate_only=True)
    h.eq(res[(TOPIC, "cfg-d")][0], 0, "validate_only")
    h.eq(zk_config(c, "/config/topics/cfg-d")["config"], {"cleanup.policy": "delete"}, "validate_only wrote nothing")
    res = incremental(b, [(TOPIC, "cfg-d", [("retention.ms", SET, "1000")]),
                          (BROKER, "0", [("log.dirs", SET, "/x")])])
    h.eq(res[(TOPIC, "cfg-d")][0], 0, "good resource next to a bad one")
    h.eq(res[(BROKER, "0")][0], INVALID_CONFIG, "read-only broker key")
    h.expect("log.dirs" in res[(BROKER, "0")][1], "names log.dirs: %s" % (res,))
    res = incremental(b, [(BROKER, "9", [("log.retention.ms", SET, "1000")])])
    h.eq(res[(BROKER, "9")][0], INVALID_REQUEST, "another broker's id")


def test_create_partitions(c):
    create(c, "cfg-p", 3)
    a = admin(c)
    fs = a.create_partitions([NewPartitions("cfg-p", 6)], operation_timeout=h.scaled(20))
    fs["cfg-p"].result(h.scaled(30))
    md = c.metadata(["cfg-p"])["topics"]["cfg-p"]
    h.eq(len(md["partitions"]), 6, "partitions after CreatePartitions")
    h.expect(all(p["leader"] == 0 for p in md["partitions"]), "every partition led: %s" % md)
    h.eq(produce(c, "cfg-p", b"to five", partition=5), None, "produce to partition 5")
    # Fewer or equal: INVALID_PARTITIONS with Kafka's wording.
    for n, what in ((4, "higher than the requested 4"), (6, "already has 6")):
        fs = a.create_partitions([NewPartitions("cfg-p", n)], operation_timeout=h.scaled(20))
        try:
            fs["cfg-p"].result(h.scaled(30))
            raise h.TestFailure("CreatePartitions to %d succeeded" % n)
        except KafkaException as e:
            h.eq(e.args[0].code(), KafkaError.INVALID_PARTITIONS, "to %d" % n)
            h.expect(what in e.args[0].str(), "message %r" % e.args[0].str())
    # validate_only changes nothing; an assignment naming a broker that does
    # not exist is refused; a good one is used.
    fs = a.create_partitions([NewPartitions("cfg-p", 8)], validate_only=True, operation_timeout=h.scaled(20))
    fs["cfg-p"].result(h.scaled(30))
    h.eq(len(c.metadata(["cfg-p"])["topics"]["cfg-p"]["partitions"]), 6, "validate_only added nothing")
    fs = a.create_partitions([NewPartitions("cfg-p", 7, [[5]])], operation_timeout=h.scaled(20))
    try:
        fs["cfg-p"].result(h.scaled(30))
        raise h.TestFailure("assignment to broker 5 accepted")
    except KafkaException as e:
        h.eq(e.args[0].code(), KafkaError.INVALID_REPLICA_ASSIGNMENT, "unknown broker")
    fs = a.create_partitions([NewPartitions("cfg-p", 7, [[0]])], operation_timeout=h.scaled(20))
    fs["cfg-p"].result(h.scaled(30))
    h.eq(zk_config(c, "/brokers/topics/cfg-p")["partitions"]["6"], [0], "assignment of partition 6")
    h.eq(produce(c, "cfg-p", b"to six", partition=6), None, "produce to partition 6")


# ---- three brokers

def test_three_brokers(c):
    create(c, "cfg-3", 3, rf=1)
    md = c.metadata(["cfg-3"])["topics"]["cfg-3"]
    leaders = sorted(p["leader"] for p in md["partitions"])
    h.eq(leaders, [0, 1, 2], "one partition led by each broker")
    for p in range(3):
        h.eq(produce(c, "cfg-3", BIG, partition=p), None, "big record to partition %d before" % p)
    ctrl = c.metadata([])["controller"]
    other = [b for b in c.brokers if b.id != ctrl][0]
    # Written through a broker that is not the controller.
    h.eq(alter(c, ConfigResource.Type.TOPIC, "cfg-3", {"max.message.bytes": "1000"}, broker=other), None,
         "AlterConfigs via broker %d" % other.id)

    def refused_everywhere():
        for p in range(3):
            err = produce(c, "cfg-3", BIG, partition=p)
            if err is None or err.code() != KafkaError.MSG_SIZE_TOO_LARGE:
                return False
        return True
    h.wait_until(refused_everywhere, h.scaled(15), "every leader refusing big records", interval=0.3)
    for b in c.brokers:
        d = describe(c, ConfigResource.Type.TOPIC, "cfg-3", broker=b)
        h.eq(value_of(d, "max.message.bytes"), "1000", "described by broker %d" % b.id)
    # A per-broker key, sent to that broker by the client.
    h.eq(alter(c, ConfigResource.Type.BROKER, "2", {"log.retention.ms": "654321"}), None, "broker 2 override")
    h.wait_until(lambda: value_of(describe(c, ConfigResource.Type.BROKER, "2"), "log.retention.ms") == "654321",
                 h.scaled(10), "broker 2 applies its override")
    h.expect(value_of(describe(c, ConfigResource.Type.BROKER, "1"), "log.retention.ms") != "654321",
             "broker 1 keeps its own")
    # CreatePartitions: NOT_CONTROLLER elsewhere; the AdminClient finds the controller.
    res = create_partitions_v0(other, "cfg-3", 6)
    h.eq(res["cfg-3"][0], NOT_CONTROLLER, "CreatePartitions at a non-controller")
    a = admin(c)
    fs = a.create_partitions([NewPartitions("cfg-3", 6)], operation_timeout=h.scaled(20))
    fs["cfg-3"].result(h.scaled(30))
    # As in Kafka, the answer comes once the assignment is written; the new
    # partitions get their leaders right after.
    c.wait_topic("cfg-3", 6)
    md = c.metadata(["cfg-3"])["topics"]["cfg-3"]
    h.eq(len(md["partitions"]), 6, "six partitions")
    h.eq(sorted(p["leader"] for p in md["partitions"]), [0, 0, 1, 1, 2, 2], "new partitions spread over brokers")
    # Other brokers learn of the new partitions from UpdateMetadata: a new
    # producer may ask one that does not know them yet.
    h.wait_until(lambda: produce(c, "cfg-3", b"small", partition=5) is None, h.scaled(15), "produce to partition 5")

    def big_refused():
        err = produce(c, "cfg-3", BIG, partition=5)
        return err is not None and err.code() == KafkaError.MSG_SIZE_TOO_LARGE
    h.wait_until(big_refused, h.scaled(15), "new partition 5 has the topic's config")


def test_kafkajs(c):
    create(c, "cfg-js", 3, rf=2)
    r = kafkajs(c, "cfg-js", "max.message.bytes", "1500", partitions=4)
    h.expect(r["ok"], "kafkajs alterConfigs/createPartitions: %s" % r)
    h.eq(r["partitions"], 4, "partitions after kafkajs createPartitions")
    for b in c.brokers:
        wait_described(c, ConfigResource.Type.TOPIC, "cfg-js", "max.message.bytes", "1500", broker=b)
    c.wait_topic("cfg-js", 4)

    def refused_everywhere():
        for p in range(4):
            err = produce(c, "cfg-js", BIG, partition=p)
            if err is None or err.code() != KafkaError.MSG_SIZE_TOO_LARGE:
                return False
        return True
    h.wait_until(refused_everywhere, h.scaled(15), "every leader refusing big records", interval=0.3)
    r = kafkajs(c, "cfg-js", "min.insync.replicas", "zero")
    # (kafkajs drops the broker's error_message; the confluent cases check it)
    h.expect(not r["ok"] and r["error"] == "INVALID_CONFIG", "bad value from kafkajs: %s" % r)


def body(run):
    with h.Cluster(brokers=1, name="configs", overrides=OVERRIDES) as c:
        run.case("topic AlterConfigs shows in describe and takes effect", test_topic_alter_takes_effect, c)
        run.case("segment.bytes, retention.ms, cleanup.policy applied live", test_log_settings_live, c)
        run.case("bad values, unknown keys and topics, validate_only", test_bad_values, c)
        run.case("broker configs: read-only refused, dynamic applied with their source", test_broker_configs, c)
        run.case("IncrementalAlterConfigs v0/v1: SET, DELETE, APPEND, SUBTRACT", test_incremental, c)
        run.case("CreatePartitions 3 -> 6, errors, validate_only, manual assignment", test_create_partitions, c)
    with h.Cluster(brokers=3, name="configs3") as c:
        run.case("three brokers: a change made through one applies on all", test_three_brokers, c)
        run.case("kafkajs: alterConfigs and createPartitions on three brokers", test_kafkajs, c)


if __name__ == "__main__":
    h.main("configs", 300, body)
