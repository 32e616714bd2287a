#!/usr/bin/python3
"""Bounded chaos on three kanald (issue 4, "How it is proven").

An acks=all idempotent confluent-kafka producer writes an RF=3,
min.insync.replicas=2 topic and a confluent-kafka consumer reads it while
random actions hit random brokers, the controller included:

  kill9     kill -9, down 0-3 s, restart
  pause     SIGSTOP below the ZooKeeper session timeout, SIGCONT
  longpause SIGSTOP past the session timeout (the session expires), SIGCONT
  kill2     kill -9 of two brokers at once (the topic loses its minimum ISR),
            restart both

At most KANAL_CHAOS_ACTIONS actions (default 20) within KANAL_CHAOS_SECONDS
(default 180). Then everything is restarted, the ISRs fill up again, and
issue 4's checker (replication_check.py) runs: every acknowledged record
read back (count and checksum), the consumer's offsets never went
backwards, and every ISR member holds the same batches below the high
watermark. It prints the action log and the findings. Seed:
KANAL_TEST_SEED.
"""

import os
import random
import threading
import time

import harness as h
import replication_check as rc

SESSION_MS = 4000
OVERRIDES = {
    "zookeeper.session.timeout.ms": str(SESSION_MS),
    "replica.lag.time.max.ms": "3000",
    "leader.imbalance.check.interval.seconds": "5",
}
TOPIC = "chaos"
PARTS = 3
ACTIONS = int(os.environ.get("KANAL_CHAOS_ACTIONS", "20"))
SECONDS = float(os.environ.get("KANAL_CHAOS_SECONDS", "180"))


class ChaosProducer:
    """confluent-kafka, acks=all, idempotent, ~500 records/s over the
    partitions; remembers every acknowledged (partition, offset) -> value."""

    def __init__(self, bootstrap):
        self.bootstrap = bootstrap
        self.acked = {}
        self.errors = {}
        self.fatal = []
        self.n = 0
        self.stop_ev = threading.Event()
        self.p = self._new()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _new(self):
        from confluent_kafka import Producer
        return Producer({"bootstrap.servers": self.bootstrap, "acks": "all", "enable.idempotence": True,
                         "linger.ms": 5, "message.timeout.ms": 120000, "retry.backoff.ms": 100,
                         "topic.metadata.refresh.interval.ms": 1000, "socket.timeout.ms": 10000,
                         "error_cb": self._on_error})

    def _on_error(self, err):
        if err.fatal():
            self.fatal.append(str(err))

    def _dr(self, err, msg):
        if err:
            self.errors[err.name()] = self.errors.get(err.name(), 0) + 1
        else:
            self.acked[(msg.partition(), msg.offset())] = msg.value()

    def _run(self):
        while not self.stop_ev.is_set():
            if self.fatal and len(self.fatal) < 5:
                # librdkafka gave up on this producer: start another one
                self.p.flush(10)
                self.p = self._new()
            for _ in range(10):
                try:
                    self.p.produce(TOPIC, b"chaos-%09d" % self.n, partition=self.n % PARTS, on_delivery=self._dr)
                    self.n += 1
                except BufferError:
                    break
            self.p.poll(0.02)

    def stop(self):
        self.stop_ev.set()
        self.t.join(timeout=30)
        left = self.p.flush(h.scaled(150))
        return left


def controller_id(c):
    for b in c.brokers:
        if b.alive():
            try:
                return c.metadata([], broker=b)["controller"]
            except Exception:
                continue
    return -1


def ensure_running(c):
    for b in c.brokers:
        if b.alive():
            b.resume()
    for b in c.brokers:
        if not b.alive():
            b.start(wait=False)
    for b in c.brokers:
        b.wait_ready(timeout=h.scaled(60))


def run_chaos(c, state):
    rnd = random.Random(state["seed"])
    actions = state["actions"]
    t_end = time.time() + SECONDS
    kinds = ["kill9", "kill9", "pause", "longpause", "kill2"]
    for i in range(ACTIONS):
        if time.time() > t_end - 10:
            break
        kind = rnd.choice(kinds)
        ctrl = controller_id(c)
        # every third action aims at the controller
        target = h_broker(c, ctrl) if i % 3 == 0 and ctrl >= 0 else rnd.choice(c.brokers)
        is_ctrl = " (controller)" if target.id == ctrl else ""
        t0 = time.time()
        if kind == "kill9":
            down = rnd.uniform(0, 3)
            target.kill9()
            time.sleep(down)
            target.start(wait=False)
            target.wait_ready(timeout=h.scaled(60))
            what = "kill -9 broker %d%s, down %.1f s, restarted" % (target.id, is_ctrl, down)
        elif kind == "pause":
            d = rnd.uniform(0.3, SESSION_MS / 1000.0 * 0.6)
            target.pause()
            time.sleep(d)
            target.resume()
            what = "SIGSTOP broker %d%s for %.1f s (below the %d ms session timeout)" % (target.id, is_ctrl, d,
                                                                                        SESSION_MS)
        elif kind == "longpause":
            d = rnd.uniform(SESSION_MS / 1000.0 + 1, SESSION_MS / 1000.0 + 3)
            target.pause()
            time.sleep(d)
            target.resume()
            what = "SIGSTOP broker %d%s for %.1f s (past the %d ms session timeout)" % (target.id, is_ctrl, d,
                                                                                       SESSION_MS)
        else:
            other = rnd.choice([b for b in c.brokers if b is not target])
            down = rnd.uniform(0.5, 3)
            target.kill9()
            other.kill9()
            time.sleep(down)
            target.start(wait=False)
            other.start(wait=False)
            target.wait_ready(timeout=h.scaled(60))
            other.wait_ready(timeout=h.scaled(60))
            what = "kill -9 brokers %d%s and %d together, down %.1f s, restarted" % (target.id, is_ctrl, other.id,
                                                                                     down)
        acked = len(state["prod"].acked)
        actions.append("%3d  +%5.1fs  %-10s %s (%.1f s; %d acknowledged so far)"
                       % (i + 1, t0 - state["t0"], kind, what, time.time() - t0, acked))
        h.log("action " + actions[-1])
        time.sleep(rnd.uniform(0.3, 1.5))
    h.log("%d action(s) in %.0f s" % (len(actions), time.time() - state["t0"]))


def h_broker(c, bid):
    return rc.broker_by_id(c, bid)


def settle(c, state):
    """Stop producing, restart everything, wait for full ISRs."""
    prod = state["prod"]
    ensure_running(c)
    left = prod.stop()
    h.log("producer: %d sent, %d acknowledged, %d unacknowledged at the end; delivery errors %s; fatal %s"
          % (prod.n, len(prod.acked), left, prod.errors, prod.fatal))
    for p in range(PARTS):
        h.wait_until(lambda: len((rc.partition_info(c, TOPIC, p) or {}).get("isr", [])) == 3, 90,
                     "%s-%d ISR of 3" % (TOPIC, p), interval=0.2)
    time.sleep(1.5)  # the consumer reaches the end; HWs settle


def check_acked(c, state):
    prod = state["prod"]
    got = {}
    for p in range(PARTS):
        offs = [o for (q, o) in prod.acked if q == p]
        if offs:
            got.update({(p, o): v for o, v in rc.read_back(c, TOPIC, p, max(offs) + 1).items()})
    state["final"] = got
    state["findings"] += rc.check_acked(prod.acked, got)
    h.expect(not state["findings"], "; ".join(state["findings"]))


def check_consumer(c, state):
    w = state["watch"]
    w.stop()
    f = w.findings(state.get("final", {}))
    state["findings"] += f
    h.expect(not f, "; ".join(f))


def check_replicas(c, state):
    f = []
    for p in range(PARTS):
        f += rc.check_replicas(c, TOPIC, p)
    state["findings"] += f
    h.expect(not f, "; ".join(f))


def main():
    run = h.Runner("chaos", hard_timeout=h.scaled(SECONDS + 240))
    h.log("seed %d (KANAL_TEST_SEED), at most %d actions in %.0f s, ZooKeeper session timeout %d ms"
          % (run.seed, ACTIONS, SECONDS, SESSION_MS))
    state = {"actions": [], "findings": [], "seed": run.seed}
    try:
        body(run, state)
    except h.HardTimeout as e:
        run.fail(str(e))
    finally:
        h.log("action log (seed %d):\n    %s" % (run.seed, "\n    ".join(state["actions"]) or "(none)"))
        h.log("findings: %s" % ("none" if not state["findings"] else "\n    " + "\n    ".join(state["findings"])))
    run.finish()


def body(run, state):
    with h.Cluster(brokers=3, overrides=OVERRIDES, name="chaos") as c:
        from confluent_kafka.admin import AdminClient, NewTopic
        a = AdminClient({"bootstrap.servers": c.bootstrap})
        fut = a.create_topics([NewTopic(TOPIC, num_partitions=PARTS, replication_factor=3,
                                        config={"min.insync.replicas": "2"})], operation_timeout=20)
        fut[TOPIC].result(timeout=30)
        c.wait_topic(TOPIC, PARTS)
        state["watch"] = rc.ConsumerWatch(c.bootstrap, TOPIC, range(PARTS))
        state["prod"] = ChaosProducer(c.bootstrap)
        state["t0"] = time.time()
        time.sleep(2)
        run.case("chaos: at most %d random kills and pauses while producing acks=all" % ACTIONS, run_chaos, c, state)
        if run.case("settle: everything restarted, full ISRs", settle, c, state):
            run.case("checker: every acknowledged record read back (count, checksum)", check_acked, c, state)
            run.case("checker: consumer offsets never went backwards", check_consumer, c, state)
            run.case("checker: ISR members hold identical batches below the HW", check_replicas, c, state)


if __name__ == "__main__":
    main()
