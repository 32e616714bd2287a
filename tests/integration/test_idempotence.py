#!/usr/bin/python3
"""Idempotent producers (issue 7 item 4) against one broker, Kafka 3.9's
answers: a resent batch gets NONE with its original offset and is not
appended; a sequence gap OUT_OF_ORDER_SEQUENCE_NUMBER (45); a stale epoch
INVALID_PRODUCER_EPOCH (47); a new epoch must start at 0; dedup survives a
clean restart (snapshot) and a kill -9 (replay of the log); an idempotent
confluent-kafka producer writes every record exactly once.

Three brokers: producer ids come from blocks the controller hands out with
AllocateProducerIds (API 67), and an idempotent confluent-kafka producer
(acks=all) writing an RF=3 topic whose leader is kill -9ed mid-stream ends
with every record exactly once, in order, per partition."""

import glob
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import kafka_wire as kw  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

OUT_OF_ORDER = 45
INVALID_EPOCH = 47
TOPIC = "idem"


def batch(pid, epoch, seq, n=2, tag=b"v"):
    return kw.record_batch([(b"k%d" % (seq + i), tag + b"%d" % (seq + i)) for i in range(n)],
                           producer_id=pid, producer_epoch=epoch, base_sequence=seq)


def end_offset(conn):
    return conn.list_offset(TOPIC, 0, kw.LATEST)["offset"]


def produce(c, blob):
    with kw.Connection("127.0.0.1", c.broker(0).port) as conn:
        return conn.produce(TOPIC, 0, blob)


def dedup_and_errors(c):
    c.create_topic(TOPIC, partitions=1)
    with kw.Connection("127.0.0.1", c.broker(0).port) as conn:
        r0 = conn.produce(TOPIC, 0, batch(4000, 0, 0))
        h.eq((r0["error"], r0["base_offset"]), (0, 0), "first batch")
        r1 = conn.produce(TOPIC, 0, batch(4000, 0, 2))
        h.eq((r1["error"], r1["base_offset"]), (0, 2), "second batch")
        # resend of the first (still in the 5-batch window): original offset, no append
        d = conn.produce(TOPIC, 0, batch(4000, 0, 0))
        h.eq((d["error"], d["base_offset"]), (0, 0), "duplicate of the first batch")
        h.eq(end_offset(conn), 4, "log end after the duplicate")
        # gap: next expected sequence is 4
        h.eq(conn.produce(TOPIC, 0, batch(4000, 0, 7))["error"], OUT_OF_ORDER, "sequence gap")
        # new epoch must start at 0
        h.eq(conn.produce(TOPIC, 0, batch(4000, 1, 4))["error"], OUT_OF_ORDER, "new epoch at seq 4")
        h.eq(conn.produce(TOPIC, 0, batch(4000, 1, 0))["error"], 0, "new epoch at seq 0")
        # the old epoch is now fenced
        h.eq(conn.produce(TOPIC, 0, batch(4000, 0, 4))["error"], INVALID_EPOCH, "stale epoch")
        # a producer the broker has no state for is accepted at any sequence (3.x)
        h.eq(conn.produce(TOPIC, 0, batch(4001, 0, 17))["error"], 0, "unknown producer at seq 17")
        # non-idempotent batches are never deduplicated
        plain = kw.record_batch([(b"p", b"q")])
        a, b = conn.produce(TOPIC, 0, plain), conn.produce(TOPIC, 0, plain)
        h.eq(b["base_offset"], a["base_offset"] + 1, "plain batches both appended")
        h.eq(end_offset(conn), 10, "log end")


def survives_restart(c):
    b = c.broker(0)
    b.restart()
    snaps = glob.glob(os.path.join(b.log_dir, TOPIC + "-0", "*.snapshot"))
    h.expect(snaps, "no producer snapshot written on clean shutdown")
    d = produce(c, batch(4000, 1, 0))
    h.eq((d["error"], d["base_offset"]), (0, 4), "duplicate after a clean restart")
    d = produce(c, batch(4001, 0, 17))
    h.eq((d["error"], d["base_offset"]), (0, 6), "other producer's duplicate after a clean restart")
    r = produce(c, batch(4000, 1, 2))
    h.eq((r["error"], r["base_offset"]), (0, 10), "next batch after restart")
    b.kill9()
    b.start()
    d = produce(c, batch(4000, 1, 2))
    h.eq((d["error"], d["base_offset"]), (0, 10), "duplicate after kill -9 (replayed from the log)")
    h.eq(produce(c, batch(4000, 1, 9))["error"], OUT_OF_ORDER, "gap after kill -9")


def confluent_exactly_once(c):
    topic = "idem-rdk"
    c.create_topic(topic, partitions=2)
    p = Producer({"bootstrap.servers": c.bootstrap, "enable.idempotence": True, "linger.ms": 5})
    n = 2000
    for i in range(n):
        p.produce(topic, key=b"%d" % i, value=b"x%d" % i, partition=i % 2)
        if i % 500 == 0:
            p.poll(0)
    h.eq(p.flush(30), 0, "undelivered")
    cons = Consumer({"bootstrap.servers": c.bootstrap, "group.id": "idem-it", "enable.auto.commit": False})
    cons.assign([TopicPartition(topic, 0, 0), TopicPartition(topic, 1, 0)])
    seen = []
    import time
    deadline = time.monotonic() + h.scaled(30)
    while len(seen) < n and time.monotonic() < deadline:
        m = cons.poll(0.5)
        if m is not None and not m.error():
            seen.append(int(m.key()))
    cons.close()
    h.eq(sorted(seen), list(range(n)), "each record exactly once")


def init_pid(c, i=0):
    with kw.Connection("127.0.0.1", c.broker(i).port) as conn:
        r = kw.Reader(conn.request(22, 0, kw.string(None) + kw.i32(60000)))
        r.i32()
        return r.i16(), r.i64(), r.i16()


def producer_id_blocks(c):
    """InitProducerId hands out ids from blocks the controller claims in ZooKeeper."""
    e1, p1, ep1 = init_pid(c)
    e2, p2, _ = init_pid(c)
    h.eq((e1, ep1, e2), (0, 0, 0), "InitProducerId errors/epoch")
    h.eq(p2, p1 + 1, "ids from one block are consecutive")
    with c.zk.client() as zk:
        blk = json.loads(zk.get("/latest_producer_id_block"))
    h.eq(blk["version"], 1, "block version")
    h.eq(blk["broker"], 0, "block broker")
    start, end = int(blk["block_start"]), int(blk["block_end"])
    h.expect(isinstance(blk["block_end"], str), "block_end must be a string: %r" % blk)
    h.eq(end - start + 1, 1000, "block size")
    h.expect(start <= p1 <= end, "id %d not in block [%d, %d]" % (p1, start, end))
    c.broker(0).restart()
    _, p3, _ = init_pid(c)
    h.eq(p3, end + 1, "after a restart the next block is used")


ALLOCATE_PRODUCER_IDS = 67


def allocate_raw(b, broker_id, broker_epoch):
    """AllocateProducerIds v0 (flexible) sent by hand: (error, start, len)."""
    with kw.Connection("127.0.0.1", b.port) as conn:
        r = kw.Reader(conn.request(ALLOCATE_PRODUCER_IDS, 0, kw.i32(broker_id) + kw.i64(broker_epoch) + b"\x00",
                                   flexible=True))
        r.i32()
        return r.i16(), r.i64(), r.i32()


def controller(c):
    return [b for b in c.brokers if b.id == c.metadata([])["controller"]][0]


def allocate_via_controller(c):
    """Every broker gets its own block from the controller; only the
    controller answers AllocateProducerIds, and it checks the broker epoch."""
    with c.broker(0).connect() as conn:
        av = conn.api_versions(3)
    h.eq(av["api_keys"].get(ALLOCATE_PRODUCER_IDS), (0, 0), "AllocateProducerIds advertised")
    ids = {}
    for i in range(3):
        # Right after start a broker may still be waiting for its first
        # block (or for a controller): 14 is retriable, clients retry.
        res = {}

        def got(i=i, res=res):
            res["r"] = init_pid(c, i)
            return res["r"][0] != 14
        h.wait_until(got, 30, "InitProducerId on broker %d" % i, interval=0.2)
        err, pid, epoch = res["r"]
        h.eq((err, epoch), (0, 0), "InitProducerId on broker %d" % i)
        ids[i] = pid
    blocks = {i: ids[i] // 1000 for i in ids}
    h.eq(len(set(blocks.values())), 3, "three brokers, three different blocks (%s)" % ids)
    with c.zk.client() as zk:
        blk = json.loads(zk.get("/latest_producer_id_block"))
    h.expect(int(blk["block_end"]) >= max(ids.values()), "znode %s behind the ids %s" % (blk, ids))
    ctl = controller(c)
    other = [b for b in c.brokers if b.id != ctl.id][0]
    h.eq(allocate_raw(other, other.id, 0)[0], 41, "AllocateProducerIds at a non-controller: NOT_CONTROLLER")
    h.eq(allocate_raw(ctl, other.id, -5)[0], 77, "stale broker epoch: STALE_BROKER_EPOCH")
    h.eq(allocate_raw(ctl, 99, 1)[0], 102, "unknown broker: BROKER_ID_NOT_REGISTERED")
    # ids keep coming from a broker's block without asking again
    _, p2, _ = init_pid(c, 1)
    h.eq(p2, ids[1] + 1, "next id from broker 1's block")


FAILOVER_TOPIC = "idem-failover"


def idempotent_failover(c):
    """acks=all + enable.idempotence producer, kill -9 of a partition leader
    mid-stream: librdkafka retries what was not acknowledged, the new leader
    (which replicated the producer's state) deduplicates, so every record is
    there exactly once and in order per partition."""
    c.create_topic(FAILOVER_TOPIC, partitions=2, replication_factor=3)
    p = Producer({"bootstrap.servers": c.bootstrap, "enable.idempotence": True, "acks": "all",
                  "linger.ms": 2, "batch.num.messages": 50, "message.timeout.ms": 120000})
    errs = []

    def cb(err, msg):
        if err:
            errs.append(str(err))
    n = 6000
    victim = c.leader_of(FAILOVER_TOPIC, 0)
    sent = {0: [], 1: []}
    for i in range(n):
        part = i % 2
        p.produce(FAILOVER_TOPIC, value=b"seq-%08d" % i, partition=part, on_delivery=cb)
        sent[part].append(i)
        if i % 100 == 0:
            p.poll(0)
            time.sleep(0.01)  # spread the stream so the kill lands mid-way
        if i == n // 3:
            p.flush(h.scaled(30))  # some acknowledged before the kill ...
            h.log("kill -9 broker %d, leader of %s-0, after %d records" % (victim.id, FAILOVER_TOPIC, i + 1))
            victim.kill9()  # ... and the rest of the stream in flight around it
    left = p.flush(h.scaled(120))
    h.eq(left, 0, "records still undelivered")
    h.expect(not errs, "delivery errors: %s" % errs[:5])
    new_leader = c.leader_of(FAILOVER_TOPIC, 0)
    h.expect(new_leader.id != victim.id, "partition 0 has a new leader")
    cons = Consumer({"bootstrap.servers": c.bootstrap, "group.id": "idem-failover", "enable.auto.commit": False,
                     "enable.partition.eof": True, "auto.offset.reset": "earliest"})
    cons.assign([TopicPartition(FAILOVER_TOPIC, 0, 0), TopicPartition(FAILOVER_TOPIC, 1, 0)])
    got = {0: [], 1: []}
    eof = set()
    deadline = time.monotonic() + h.scaled(60)
    while len(eof) < 2 and time.monotonic() < deadline:
        m = cons.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == -191:  # _PARTITION_EOF
                eof.add(m.partition())
                continue
            raise h.TestFailure("consume error: %s" % m.error())
        got[m.partition()].append(int(m.value()[4:]))
    cons.close()
    for part in (0, 1):
        dups = len(got[part]) - len(set(got[part]))
        missing = sorted(set(sent[part]) - set(got[part]))
        h.expect(dups == 0, "partition %d: %d duplicate(s)" % (part, dups))
        h.expect(not missing, "partition %d: %d missing, first %s" % (part, len(missing), missing[:5]))
        h.expect(got[part] == sent[part], "partition %d: records out of order" % part)
    h.log("%d records, each exactly once and in order, across the kill of broker %d" % (n, victim.id))
    victim.start()


def no_block_is_retriable(c):
    """While the controller is unreachable (SIGSTOP), a broker that runs out
    of ids answers InitProducerId with COORDINATOR_LOAD_IN_PROGRESS (14,
    retriable) within its 5 s bound; once a controller answers again, ids
    come back, above every id handed out before."""
    ctl = controller(c)
    other = [b for b in c.brokers if b.id != ctl.id and b.alive()][0]
    seen = []
    # A broker restarted by an earlier case may not hold a block yet: get it
    # one while the controller still answers, so the run-out below is real.
    first = {}

    def have_block():
        e, p, _ = init_pid(c, c.brokers.index(other))
        first["r"] = (e, p)
        return e == 0
    h.wait_until(have_block, 30, "a first producer id from broker %d" % other.id, interval=0.2)
    seen.append(first["r"][1])
    ctl.pause()
    try:
        with kw.Connection("127.0.0.1", other.port, timeout=20) as conn:
            err, slow = 0, 0.0
            for _ in range(2100):  # a broker holds at most two blocks (current + prefetched)
                t0 = time.monotonic()
                r = kw.Reader(conn.request(22, 0, kw.string(None) + kw.i32(60000)))
                r.i32()
                err, pid = r.i16(), r.i64()
                slow = max(slow, time.monotonic() - t0)
                if err:
                    break
                seen.append(pid)
        h.eq(err, 14, "InitProducerId without a block: COORDINATOR_LOAD_IN_PROGRESS")
        h.expect(slow < 8.0, "the wait for a block is bounded (longest %.1fs)" % slow)
        h.log("broker %d ran out after %d ids; longest wait %.1fs" % (other.id, len(seen), slow))
    finally:
        ctl.resume()
    got = {}

    def retry():
        e, p, _ = init_pid(c, c.brokers.index(other))
        got["r"] = (e, p)
        return e == 0
    h.wait_until(retry, 60, "InitProducerId to succeed again", interval=0.5)
    h.expect(got["r"][1] > max(seen), "new id %d above the earlier ones (max %d)" % (got["r"][1], max(seen)))
    h.eq(len(set(seen)), len(seen), "no id handed out twice")


def body(run):
    with h.Cluster(brokers=1, name="idempotence") as c:
        run.case("duplicate resend, gap, epochs", dedup_and_errors, c)
        run.case("dedup survives a clean restart and kill -9", survives_restart, c)
        run.case("confluent-kafka idempotent producer: no duplicates", confluent_exactly_once, c)
        run.case("InitProducerId ids come from ZooKeeper blocks", producer_id_blocks, c)
    with h.Cluster(brokers=3, overrides={"zookeeper.session.timeout.ms": "4000", "replica.lag.time.max.ms": "3000"},
                   name="idempotence3") as c:
        run.case("AllocateProducerIds: a block per broker from the controller", allocate_via_controller, c)
        run.case("kill -9 the leader mid-stream: exactly once, in order", idempotent_failover, c)
        run.case("no block while the controller is paused: retriable error, bounded", no_block_is_retriable, c)


if __name__ == "__main__":
    h.main("idempotence", 220, body)
