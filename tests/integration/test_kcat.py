#!/usr/bin/python3
"""kcat (librdkafka 2.0) against one broker: produce/consume round trip, headers,
auto-creation, and kcat -L metadata."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

KCAT = "kcat"


def kcat(cluster, *args, input=None, timeout=30):
    return h.run_cmd([KCAT, "-b", cluster.bootstrap, "-X", "socket.timeout.ms=10000"] + list(args),
                     input=input, timeout=timeout)


def round_trip(c):
    topic = "kcat-roundtrip"
    c.create_topic(topic, partitions=1)
    lines = ["key%03d:value %d %s" % (i, i, "x" * (i % 50)) for i in range(200)]
    kcat(c, "-P", "-t", topic, "-p", "0", "-K", ":", input=("\n".join(lines) + "\n").encode())
    out = kcat(c, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q",
               "-f", "%o %k:%s\\n").stdout.decode()
    got = out.splitlines()
    h.eq(len(got), len(lines), "records consumed")
    for i, (g, want) in enumerate(zip(got, lines)):
        h.eq(g, "%d %s" % (i, want), "record at offset %d" % i)


def headers(c):
    topic = "kcat-headers"
    c.create_topic(topic, partitions=1)
    kcat(c, "-P", "-t", topic, "-p", "0", "-K", ":", "-H", "h1=v1", "-H", "trace=abc",
         input=b"k:hello\n")
    out = kcat(c, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q", "-J").stdout.decode()
    msgs = [json.loads(x) for x in out.splitlines() if x.strip()]
    h.eq(len(msgs), 1, "messages")
    m = msgs[0]
    h.eq((m["key"], m["payload"], m["offset"]), ("k", "hello", 0), "message")
    h.eq(m.get("headers"), ["h1", "v1", "trace", "abc"], "headers")


def auto_create(c):
    topic = "kcat-autocreated"
    kcat(c, "-P", "-t", topic, input=b"one\ntwo\nthree\n")
    out = kcat(c, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%s\\n").stdout.decode()
    h.eq(sorted(out.split()), ["one", "three", "two"], "auto-created topic contents")


def metadata(c):
    c.create_topic("kcat-meta", partitions=3)
    out = kcat(c, "-L", "-J").stdout.decode()
    md = json.loads(out)
    b = c.broker(0)
    h.eq([(x["id"], x["name"]) for x in md["brokers"]], [(0, "127.0.0.1:%d" % b.port)], "brokers")
    topics = {t["topic"]: t for t in md["topics"]}
    h.expect("kcat-meta" in topics, "kcat-meta missing from kcat -L: %s" % sorted(topics))
    parts = sorted(topics["kcat-meta"]["partitions"], key=lambda p: p["partition"])
    h.eq([p["partition"] for p in parts], [0, 1, 2], "partitions")
    for p in parts:
        h.eq(p["leader"], 0, "leader of partition %d" % p["partition"])
    # The plain-text form too, as a person would read it.
    text = kcat(c, "-L", "-t", "kcat-meta").stdout.decode()
    h.expect("1 brokers:" in text and "broker 0 at 127.0.0.1:%d" % b.port in text,
             "kcat -L text:\n" + text)
    h.expect('topic "kcat-meta" with 3 partitions:' in text, "kcat -L text:\n" + text)


def body(run):
    with h.Cluster(brokers=1, name="kcat") as c:
        run.case("kcat produce/consume round trip (200 keyed lines)", round_trip, c)
        run.case("kcat headers survive the round trip", headers, c)
        run.case("kcat produce auto-creates a topic", auto_create, c)
        run.case("kcat -L lists broker, topic, partitions, leaders", metadata, c)


if __name__ == "__main__":
    h.main("kcat", 150, body)
