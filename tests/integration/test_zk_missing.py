#!/usr/bin/python3
"""ZooKeeper unreachable at start: kanald gives up with a non-zero exit status
and an error that names ZooKeeper, within a bounded time."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

LIMIT = 45  # seconds; Kafka's zookeeper.connection.timeout.ms default is 18 s


def zk_missing(c):
    b = c.broker(0)
    t0 = time.monotonic()
    b.start(wait=False)
    try:
        rc = b.proc.wait(timeout=h.scaled(LIMIT))
    except Exception:
        raise h.TestFailure("kanald still running %.0fs after start with no ZooKeeper" % h.scaled(LIMIT))
    took = time.monotonic() - t0
    h.log("kanald exited %s after %.1fs" % (rc, took))
    h.expect(rc != 0, "exit status %s with ZooKeeper missing, want non-zero" % rc)
    h.expect(rc > 0, "kanald died from signal %d instead of exiting with an error" % -rc)
    err = b.stderr()
    h.expect("zookeeper" in err.lower(), "stderr does not mention ZooKeeper:\n" + err[-2000:])
    h.expect(c.zk_connect in err or str(c.zk.port) in err,
             "stderr does not name the ZooKeeper address %s:\n%s" % (c.zk_connect, err[-2000:]))


def body(run):
    # The ZooKeeper port is reserved by the harness but nothing listens on it.
    with h.Cluster(brokers=1, name="zk-missing", start_zk=False, start_brokers=False,
                   overrides={"zookeeper.connection.timeout.ms": "5000"}) as c:
        run.case("no ZooKeeper: non-zero exit with a clear error within %ds" % LIMIT, zk_missing, c)


if __name__ == "__main__":
    h.main("zk-missing", 90, body)
