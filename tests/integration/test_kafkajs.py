#!/usr/bin/python3
"""kafkajs 2.2.4 (node): admin createTopics + produce, read back with a
confluent-kafka assign() consumer; admin create/list/delete."""

import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

from confluent_kafka import Consumer, KafkaError, TopicPartition  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "kafkajs_produce.js")
TOPIC = "kafkajs"
PARTITIONS = 3
COUNT = 6000


def node():
    exe = shutil.which("node") or shutil.which("nodejs")
    h.expect(exe is not None, "node is not installed (scripts/install-deps.sh)")
    h.expect(os.path.isdir(os.path.join(HERE, "node_modules", "kafkajs")),
             "kafkajs is not installed: run `npm ci` in tests/integration (scripts/install-deps.sh does)")
    return exe


def record(i):
    return (b"js-key-%d" % i, b"js-value-%d-" % i + b"q" * (i % 41), [("seq", b"%d" % i)])


def produce_then_consume(c):
    out = h.run_cmd([node(), SCRIPT, "produce", c.bootstrap, TOPIC, str(PARTITIONS), str(COUNT)],
                    timeout=120).stdout.decode()
    res = json.loads(out.strip().splitlines()[-1])
    h.eq(res["produced"], COUNT, "kafkajs produced")
    h.eq(sorted(res["offsets"]), [str(p) for p in range(PARTITIONS)], "partitions written")
    for part, bases in res["offsets"].items():
        h.eq(bases, sorted(bases), "base offsets increase in partition %s" % part)
        h.eq(bases[0], 0, "first base offset in partition %s" % part)

    cons = Consumer({"bootstrap.servers": c.bootstrap, "group.id": "kanal-it-kafkajs",
                     "enable.auto.commit": False, "enable.partition.eof": True})
    cons.assign([TopicPartition(TOPIC, p, 0) for p in range(PARTITIONS)])
    per_part = {p: [] for p in range(PARTITIONS)}
    eof = set()
    deadline = time.monotonic() + h.scaled(60)
    try:
        while len(eof) < PARTITIONS:
            h.expect(time.monotonic() < deadline,
                     "consumed %d of %d; partition EOF reached for %s of %d partitions"
                     % (sum(map(len, per_part.values())), COUNT, sorted(eof), PARTITIONS))
            for m in cons.consume(num_messages=5000, timeout=1.0):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        if len(per_part[m.partition()]) == COUNT // PARTITIONS:
                            eof.add(m.partition())
                        continue
                    raise h.TestFailure("consumer error: %s" % m.error())
                part = m.partition()
                h.eq(m.offset(), len(per_part[part]), "offset in partition %d" % part)
                per_part[part].append((m.key(), m.value(), m.headers()))
    finally:
        cons.close()
    for part in range(PARTITIONS):
        want = [record(i) for i in range(part, COUNT, PARTITIONS)]
        want = [(k, v, hd) for k, v, hd in want]
        h.eq(len(per_part[part]), len(want), "records in partition %d" % part)
        for n, (g, w) in enumerate(zip(per_part[part], want)):
            h.eq(g, w, "record %d of partition %d" % (n, part))


def admin(c):
    out = h.run_cmd([node(), SCRIPT, "admin", c.bootstrap, "kafkajs-admin"], timeout=120).stdout.decode()
    res = json.loads(out.strip().splitlines()[-1])
    h.log("kafkajs admin: %s" % res)
    h.eq(res["created"], True, "createTopics result")
    h.eq(res["listedAfterCreate"], True, "listed after create")
    h.eq(res["partitions"], [{"partition": 0, "leader": 0}], "partitions (num.partitions=1)")
    h.eq(res["createdAgain"], False, "second createTopics (TOPIC_ALREADY_EXISTS) result")
    h.eq(res["listedAfterDelete"], False, "listed after delete")


def body(run):
    with h.Cluster(brokers=1, name="kafkajs") as c:
        run.case("kafkajs produces %d records; confluent-kafka assign() reads them" % COUNT,
                 produce_then_consume, c)
        run.case("kafkajs admin createTopics/listTopics/deleteTopics", admin, c)


if __name__ == "__main__":
    h.main("kafkajs", 240, body)
