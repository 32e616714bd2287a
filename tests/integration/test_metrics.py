#!/usr/bin/python3
"""metrics.listeners: Prometheus text on GET /metrics. After a known produce
and consume the counters move by the right amounts; the endpoint is bounded
(idle scrapers cannot hold the Kafka listener or pile up); kanald sends
READY=1 to $NOTIFY_SOCKET (systemd Type=notify) once it serves requests."""

import os
import re
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def scrape(url):
    with urllib.request.urlopen(url, timeout=h.scaled(10)) as r:
        h.eq(r.status, 200, "status")
        h.expect(r.headers["Content-Type"].startswith("text/plain"), r.headers["Content-Type"])
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        h.expect(m, "not Prometheus text: %r" % line)
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def val(m, name, **labels):
    key = name + ("{" + ",".join('%s="%s"' % kv for kv in labels.items()) + "}" if labels else "")
    return m.get(key, 0.0)


def counters_move(c, url):
    topic = "metrics-t"
    c.create_topic(topic, partitions=2, replication_factor=1)
    before = scrape(url)
    n, payload = 50, b"x" * 100
    p = Producer({"bootstrap.servers": c.bootstrap, "linger.ms": 0, "acks": "all"})
    for i in range(n):
        p.produce(topic, payload, key=b"k%d" % i, partition=i % 2)
    h.eq(p.flush(h.scaled(30)), 0, "undelivered")
    got = 0
    cons = Consumer({"bootstrap.servers": c.bootstrap, "group.id": "metrics-test", "enable.auto.commit": False})
    cons.assign([TopicPartition(topic, 0, 0), TopicPartition(topic, 1, 0)])
    deadline = time.monotonic() + h.scaled(30)
    while got < n and time.monotonic() < deadline:
        m = cons.poll(0.5)
        if m is not None and not m.error():
            got += 1
    cons.close()
    h.eq(got, n, "records consumed")
    after = scrape(url)

    h.eq(val(after, "kafka_server_brokertopicmetrics_messagesin_total", topic=topic), n, "messagesin{topic}")
    h.eq(val(after, "kafka_server_brokertopicmetrics_messagesin_total")
         - val(before, "kafka_server_brokertopicmetrics_messagesin_total"), n, "messagesin total moved")
    bytes_in = val(after, "kafka_server_brokertopicmetrics_bytesin_total", topic=topic)
    h.expect(n * len(payload) <= bytes_in < n * (len(payload) + 200),
             "bytesin %d for %d x %d-byte values" % (bytes_in, n, len(payload)))
    bytes_out = val(after, "kafka_server_brokertopicmetrics_bytesout_total", topic=topic)
    h.expect(bytes_out >= bytes_in, "bytesout %d < bytesin %d after reading everything" % (bytes_out, bytes_in))
    reqs = "kafka_network_requestmetrics_requests_total"
    h.expect(val(after, reqs, request="Produce") - val(before, reqs, request="Produce") >= 2,
             "Produce requests moved by %s" % (val(after, reqs, request="Produce") - val(before, reqs, request="Produce")))
    h.expect(val(after, reqs, request="Fetch") > val(before, reqs, request="Fetch"), "Fetch requests moved")
    # histogram: +Inf bucket == count, buckets cumulative
    cnt = val(after, "kafka_network_requestmetrics_totaltimems_count", request="Produce")
    h.eq(val(after, "kafka_network_requestmetrics_totaltimems_bucket", request="Produce", le="+Inf"), cnt, "+Inf")
    h.eq(cnt, val(after, reqs, request="Produce"), "histogram count = request count")
    prev = 0
    for le in ("1", "2", "5", "10", "25", "50", "100", "250", "500", "1000"):
        v = val(after, "kafka_network_requestmetrics_totaltimems_bucket", request="Produce", le=le)
        h.expect(v >= prev, "buckets not cumulative at le=%s" % le)
        prev = v
    ends = sum(val(after, "kafka_log_log_logendoffset", topic=topic, partition=str(i)) for i in (0, 1))
    h.eq(ends, n, "log end offsets")
    h.expect(all(val(after, "kafka_log_log_size", topic=topic, partition=str(i)) >= 25 * len(payload)
                 for i in (0, 1)), "log sizes")
    h.eq(val(after, "kafka_controller_kafkacontroller_activecontrollercount"), 1, "single broker is controller")
    h.eq(val(after, "kafka_controller_kafkacontroller_offlinepartitionscount"), 0, "offline partitions")
    h.eq(val(after, "kafka_server_replicamanager_underreplicatedpartitions"), 0, "under-replicated")
    h.expect(val(after, "kafka_server_replicamanager_leadercount") >= 2, "leader count")
    h.expect(val(after, "kafka_server_socket_server_metrics_connection_count", listener="PLAINTEXT") >= 1,
             "connection count")
    for name in ("kafka_server_replicamanager_isrshrinks_total", "kafka_server_replicamanager_isrexpands_total",
                 "kafka_controller_kafkacontroller_globalpartitioncount", "process_start_time_seconds"):
        h.expect(name in after, "%s missing" % name)


def http_edges(url):
    base = url.rsplit("/", 1)[0]
    try:
        urllib.request.urlopen(base + "/nope", timeout=h.scaled(10))
        raise h.TestFailure("/nope answered 200")
    except urllib.error.HTTPError as e:
        h.eq(e.code, 404, "status for /nope")
    req = urllib.request.Request(url, data=b"x", method="POST")
    try:
        urllib.request.urlopen(req, timeout=h.scaled(10))
        raise h.TestFailure("POST answered 200")
    except urllib.error.HTTPError as e:
        h.eq(e.code, 405, "status for POST")


def bounded(c, url, port):
    # 40 scrapers that connect and never send: the Kafka listener keeps
    # answering, extra connections are refused at once, idle ones are cut.
    socks = []
    for _ in range(40):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        socks.append(s)
    t0 = time.monotonic()
    md = c.metadata([])
    h.expect(time.monotonic() - t0 < h.scaled(2), "Metadata slow while scrapers hang")
    h.expect(md["brokers"], md)
    closed = 0
    for s in socks:
        s.settimeout(h.scaled(10))
        try:
            if s.recv(1) == b"":
                closed += 1
        except ConnectionResetError:
            closed += 1
        except socket.timeout:
            pass
        s.close()
    h.eq(closed, 40, "idle/extra metrics connections closed by the broker")
    m = scrape(url)
    h.expect(m["kanal_metrics_rejected_connections_total"] >= 40 - 16, m["kanal_metrics_rejected_connections_total"])


def notify_ready(tmp):
    path = os.path.join(tmp, "notify.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    srv.bind(path)
    srv.settimeout(h.scaled(60))
    os.environ["NOTIFY_SOCKET"] = path
    try:
        with h.Cluster(brokers=1, name="notify") as c:
            msg = srv.recv(4096).decode()
            h.expect("READY=1" in msg and "STATUS=" in msg, msg)
            h.expect("MAINPID=%d" % c.brokers[0].proc.pid in msg, msg)
            c.brokers[0].stop()
            srv.settimeout(h.scaled(20))
            msg = srv.recv(4096).decode()
            h.expect("STOPPING=1" in msg, msg)
    finally:
        del os.environ["NOTIFY_SOCKET"]
        srv.close()


def body(run):
    port = h.free_port()
    url = "http://127.0.0.1:%d/metrics" % port
    with h.Cluster(brokers=1, overrides={"metrics.listeners": "http://127.0.0.1:%d" % port}, name="metrics") as c:
        run.case("counters move by the produced/consumed amounts", counters_move, c, url)
        run.case("404 / 405", http_edges, url)
        run.case("bounded: hanging scrapers don't block Kafka, are cut off", bounded, c, url, port)
    with tempfile.TemporaryDirectory(prefix="kanal-it-notify-") as tmp:
        run.case("READY=1 / STOPPING=1 on $NOTIFY_SOCKET", notify_ready, tmp)


if __name__ == "__main__":
    h.main("metrics", 200, body)
