#!/usr/bin/python3
"""Consumer groups with kafka-python 2.0.2 (JoinGroup v2, SyncGroup/Heartbeat/
LeaveGroup v1, OffsetCommit v2, OffsetFetch v1) and kafkajs 2.2.4 (JoinGroup
v5, SyncGroup/Heartbeat v3, LeaveGroup v3, OffsetCommit v5, OffsetFetch v4,
DescribeGroups/ListGroups v2): membership, a clean leave, commits and resuming
from them; a kafkajs produce-and-consume round trip. Neither client has
static membership or cooperative-sticky (test_groups.py covers those)."""

import json
import os
import shutil
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import test_groups as tg  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def node():
    exe = shutil.which("node") or shutil.which("nodejs")
    h.expect(exe is not None, "node is not installed (scripts/install-deps.sh)")
    return exe


def kafkajs(c):
    topic = "js-groups"
    c.create_topic(topic, 3)
    out = h.run_cmd([node(), os.path.join(HERE, "kafkajs_group.js"), "roundtrip", c.bootstrap, topic, "js-g", "90"],
                    timeout=120).stdout.decode()
    r = json.loads(out.strip().splitlines()[-1])
    h.eq(r["consumed"], 90, "records consumed by kafkajs")
    committed = {str(p): o for p, o in r["committed"]}
    # kafkajs spreads keyed records by its own partitioner: every partition's
    # commit is its log end, and together they cover all 90 records.
    h.eq(sum(committed.values()), 90, "sum of kafkajs committed offsets (%s)" % committed)
    h.eq(r["state"], "Empty", "group state after the consumer left")
    h.expect("js-g" in r["listed"], "ListGroups lists js-g: %s" % r["listed"])
    # 30 more records: a new consumer in the same group starts at the commits.
    tg.produce(c, topic, 30, 3, start=90)
    out = h.run_cmd([node(), os.path.join(HERE, "kafkajs_group.js"), "resume", c.bootstrap, topic, "js-g", "30"],
                    timeout=120).stdout.decode()
    r = json.loads(out.strip().splitlines()[-1])
    h.eq(r["first"], committed, "first offsets after resuming from commits")


def kafka_python(c):
    from kafka import KafkaConsumer, TopicPartition
    topic = "kp-groups"
    c.create_topic(topic, 4)
    tg.produce(c, topic, 400, 4)

    def consumer():
        return KafkaConsumer(topic, bootstrap_servers=c.bootstrap, group_id="kp-g", auto_offset_reset="earliest",
                             session_timeout_ms=6000, heartbeat_interval_ms=500, enable_auto_commit=False,
                             max_poll_interval_ms=20000)
    a, b = consumer(), consumer()
    got = {}
    lock = threading.Lock()
    stop = threading.Event()

    def loop(k, name):
        while not stop.is_set():
            for tp, msgs in k.poll(timeout_ms=200).items():
                with lock:
                    got.setdefault(name, set()).update((tp.partition, m.offset) for m in msgs)
            if k.assignment():
                k.commit()
    ta = threading.Thread(target=loop, args=(a, "a"))
    tb = threading.Thread(target=loop, args=(b, "b"))
    ta.start()
    tb.start()
    try:
        h.wait_until(lambda: len(a.assignment()) == 2 and len(b.assignment()) == 2, 40,
                     "two kafka-python consumers with two partitions each")
        h.wait_until(lambda: sum(len(s) for s in got.values()) >= 400, 40, "all 400 records")
        # b leaves cleanly: a gets all four quickly (LeaveGroup v1)
        stop_b = time.monotonic()
        stop.set()
        tb.join()
        ta.join()
        b.close()
        stop.clear()
        ta = threading.Thread(target=loop, args=(a, "a"))
        ta.start()
        h.wait_until(lambda: len(a.assignment()) == 4, 20, "the remaining consumer to own all four")
        h.log("kafka-python: rebalance after a clean leave took %.1fs" % (time.monotonic() - stop_b))
    finally:
        stop.set()
        ta.join()
        tb.join()
    committed = [a.committed(TopicPartition(topic, p)) for p in range(4)]
    a.close()
    h.eq(committed, [100, 100, 100, 100], "kafka-python committed offsets")
    all_seen = set().union(*got.values())
    h.eq(len(all_seen), 400, "distinct records seen")


def main():
    run = h.Runner("groups_clients", hard_timeout=170)
    try:
        with h.Cluster(brokers=1, overrides=tg.OVERRIDES, name="groups-clients") as c:
            run.case("kafkajs group round trip and resume", kafkajs, c)
            run.case("kafka-python group: split, leave, commits", kafka_python, c)
    except h.HardTimeout:
        run.fail("hard timeout")
    run.finish()


if __name__ == "__main__":
    main()
