#!/usr/bin/python3
"""SIGTERM is a clean shutdown: exit 0 within a few seconds, the
.kafka_cleanshutdown marker is written, /brokers/ids/<id> leaves ZooKeeper at
once, and the data is there after a restart."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import kafka_wire as kw  # noqa: E402

TOPIC = "shutdown"
MARKER = ".kafka_cleanshutdown"


def registration(c):
    b = c.broker(0)
    with c.zk.client() as zk:
        h.eq(zk.children("/brokers/ids"), ["0"], "/brokers/ids while running")
        data = zk.get("/brokers/ids/0")
    info = json.loads(data)
    h.log("/brokers/ids/0 = %s" % info)
    h.expect("PLAINTEXT://127.0.0.1:%d" % b.port in info.get("endpoints", []),
             "endpoints in /brokers/ids/0: %r" % info.get("endpoints"))
    h.eq((info.get("host"), info.get("port")), ("127.0.0.1", b.port), "host/port in /brokers/ids/0")
    h.expect(not os.path.exists(os.path.join(b.log_dir, MARKER)),
             "%s exists while the broker runs (a crash would then pass for a clean stop)" % MARKER)


def sigterm(c):
    b = c.broker(0)
    c.create_topic(TOPIC, partitions=2)
    with b.connect() as conn:
        for part in range(2):
            r = conn.produce(TOPIC, part, kw.record_batch([(b"k", b"before shutdown %d" % part)]))
            h.eq(r["error"], kw.NONE, "produce error")
    t0 = time.monotonic()
    rc = b.stop(timeout=10)
    took = time.monotonic() - t0
    h.log("kanald exited %s %.2fs after SIGTERM" % (rc, took))
    h.eq(rc, 0, "exit status after SIGTERM")
    h.expect(os.path.exists(os.path.join(b.log_dir, MARKER)),
             "no %s in %s after SIGTERM: %s" % (MARKER, b.log_dir, sorted(os.listdir(b.log_dir))))
    with c.zk.client() as zk:
        h.eq(zk.children("/brokers/ids"), [], "/brokers/ids right after a clean shutdown")


def restart_keeps_data(c):
    b = c.broker(0)
    t0 = time.monotonic()
    b.start(timeout=30)
    h.log("restarted in %.2fs" % (time.monotonic() - t0))
    with b.connect() as conn:
        for part in range(2):
            f = conn.fetch(TOPIC, part, 0)
            h.eq(f["error"], kw.NONE, "fetch error")
            recs = [(o, v) for bt in kw.parse_record_batches(f["records"]) for (o, _t, _k, v, _h) in bt["records"]]
            h.eq(recs, [(0, b"before shutdown %d" % part)], "records of partition %d after restart" % part)
    h.expect(not os.path.exists(os.path.join(b.log_dir, MARKER)),
             "%s still exists after the restart" % MARKER)
    rc = b.stop(timeout=10)
    h.eq(rc, 0, "exit status after the second SIGTERM")


def body(run):
    with h.Cluster(brokers=1, name="shutdown") as c:
        run.case("broker registers /brokers/ids/0 with its endpoint", registration, c)
        if run.case("SIGTERM: exit 0, %s written, znode gone" % MARKER, sigterm, c):
            run.case("restart after a clean stop keeps the data", restart_keeps_data, c)


if __name__ == "__main__":
    h.main("shutdown", 120, body)
