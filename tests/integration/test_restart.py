#!/usr/bin/python3
"""Restart right after kill -9: the old /brokers/ids/<id> still belongs to the
dead session, so the new process must wait for it to expire (session timeout
4 s here) and then register and serve, without exiting."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import kafka_wire as kw  # noqa: E402

TOPIC = "restart"
ROUNDS = 2


def restart_after_kill(c):
    b = c.broker(0)
    c.create_topic(TOPIC, partitions=1)
    expected = []
    for rnd in range(ROUNDS):
        with b.connect() as conn:
            v = b"round %d" % rnd
            r = conn.produce(TOPIC, 0, kw.record_batch([(None, v)]))
            h.eq(r["error"], kw.NONE, "produce error in round %d" % rnd)
            expected.append((r["base_offset"], v))
        with c.zk.client() as zk:
            h.eq(zk.children("/brokers/ids"), ["0"], "registered before the kill")
        b.kill9()
        t0 = time.monotonic()
        b.start(wait=False)
        # The stale znode outlives the process until its session expires.
        with c.zk.client() as zk:
            stale = zk.children("/brokers/ids")
        h.log("right after restart /brokers/ids = %s" % stale)
        b.wait_ready(timeout=40)  # session timeout 4 s + start-up, with room for sanitizers
        h.log("round %d: serving again %.2fs after the restart" % (rnd, time.monotonic() - t0))
        h.expect(b.alive(), "the restarted broker exited")
        with c.zk.client() as zk:
            h.eq(zk.children("/brokers/ids"), ["0"], "registered after the restart")
        c.wait_topic(TOPIC, 1)
        with b.connect() as conn:
            f = conn.fetch(TOPIC, 0, 0)
            h.eq(f["error"], kw.NONE, "fetch error after restart")
            recs = [(o, val) for bt in kw.parse_record_batches(f["records"]) for (o, _t, _k, val, _h) in bt["records"]]
            h.eq(recs, expected, "records after kill -9 and restart")


def session_expiry(c):
    """SIGSTOP longer than the session timeout: ZooKeeper expires the session
    and deletes /brokers/ids/0; after SIGCONT the broker must open a new
    session, register again and serve (Kafka re-registers on expiry)."""
    b = c.broker(0)
    b.pause()
    try:
        def gone():
            with c.zk.client() as zk:
                return zk.children("/brokers/ids") == []
        h.wait_until(gone, 20, "the paused broker's session to expire")
    finally:
        b.resume()

    def back():
        with c.zk.client() as zk:
            return zk.children("/brokers/ids") == ["0"]
    h.wait_until(back, 30, "/brokers/ids/0 to come back after SIGCONT", interval=0.2)
    b.wait_ready(timeout=30)
    c.wait_topic(TOPIC, 1)
    with b.connect() as conn:
        r = conn.produce(TOPIC, 0, kw.record_batch([(None, b"after expiry")]))
        h.eq(r["error"], kw.NONE, "produce error after session expiry")


def body(run):
    with h.Cluster(brokers=1, name="restart") as c:
        if run.case("kill -9 then immediate restart waits for the stale znode, then serves (x%d)" % ROUNDS,
                    restart_after_kill, c):
            run.case("SIGSTOP past the session timeout: re-registers after SIGCONT", session_expiry, c)


if __name__ == "__main__":
    h.main("restart", 150, body)
