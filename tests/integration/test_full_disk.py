#!/usr/bin/python3
"""A full disk: the broker's log.dirs is a small tmpfs. Producing until it is
full must give clear errors (KAFKA_STORAGE_ERROR or a retriable error), never
a crash, never a corrupt or partial batch served, and every record that was
acknowledged stays readable — also after a restart on the still-full disk.

Needs root to mount tmpfs; skips (and says so) when mounting is not allowed."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

TOPIC = "full-disk"
SIZE = "6m"
OVERRIDES = {
    # Small segments so a roll (new files) also meets the full disk.
    "log.segment.bytes": "1048576",
    "offsets.topic.replication.factor": "1",
}


def mount_tmpfs(path):
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + SIZE, "tmpfs", path], capture_output=True)
    return r.returncode == 0


def fill_and_check(c):
    b = c.broker(0)
    c.create_topic(TOPIC, partitions=1)
    acked, errors = [], []

    def cb(err, msg):
        if err is None:
            acked.append((msg.offset(), msg.value()))
        else:
            errors.append(err)

    p = Producer({"bootstrap.servers": c.bootstrap, "acks": "1", "linger.ms": 2,
                  "message.timeout.ms": 5000, "retries": 0, "enable.idempotence": False})
    payload = b"x" * 2000
    deadline = time.monotonic() + h.scaled(60)
    i = 0
    while not errors and time.monotonic() < deadline:
        for _ in range(200):
            p.produce(TOPIC, value=b"%08d" % i + payload, partition=0, on_delivery=cb)
            i += 1
        p.flush(h.scaled(10))
    p.flush(h.scaled(10))
    h.expect(errors, "no error after %d records on a %s disk" % (i, SIZE))
    h.log("disk full after %d acknowledged records; first error: %s" % (len(acked), errors[0]))
    h.expect(b.alive(), "kanald died on a full disk")
    h.expect("KAFKA_STORAGE_ERROR" in str(errors[0]) or errors[0].retriable() or "timed out" in str(errors[0]).lower(),
             "a clear error on a full disk, got %s" % errors[0])
    with b.connect() as conn:
        conn.api_versions(0)  # still answers

    def read_all():
        cons = Consumer({"bootstrap.servers": c.bootstrap, "group.id": "fd", "enable.auto.commit": False,
                         "enable.partition.eof": True})
        cons.assign([TopicPartition(TOPIC, 0, 0)])
        got = {}
        end = time.monotonic() + h.scaled(60)
        eof = False
        while not eof and time.monotonic() < end:
            for m in cons.consume(1000, 1.0):
                if m.error():
                    h.expect(m.error().code() == -191, "consumer error: %s" % m.error())  # _PARTITION_EOF
                    eof = True
                    continue
                got[m.offset()] = m.value()
        cons.close()
        return got

    got = read_all()
    for off, val in acked:
        h.eq(got.get(off), val, "acknowledged record at offset %d" % off)
    h.eq(sorted(got), list(range(len(got))), "offsets without holes")
    h.log("all %d acknowledged records read back; %d records in the log" % (len(acked), len(got)))

    # Restart on the still-full disk: recovery must cope and serve them again.
    b.stop()
    b.start()
    got2 = read_all()
    for off, val in acked:
        h.eq(got2.get(off), val, "acknowledged record at offset %d after restart" % off)


def main():
    run = h.Runner("full_disk", hard_timeout=200)
    c = h.Cluster(brokers=1, overrides=OVERRIDES, start_brokers=False, name="full-disk")
    path = c.broker(0).log_dir
    if os.geteuid() != 0 or not mount_tmpfs(path):
        h.log("SKIP: cannot mount a tmpfs here (needs root); the unit tests cover ENOSPC with fault injection")
        run.finish()
        return
    try:
        with c:
            c.broker(0).start()
            run.case("a full log dir: clear errors, nothing acknowledged lost", fill_and_check, c)
    except h.HardTimeout:
        run.fail("hard timeout")
    finally:
        subprocess.run(["umount", "-l", path], capture_output=True)
    run.finish()


if __name__ == "__main__":
    main()
