#!/usr/bin/python3
"""The `kanal` tool against a real 3-broker cluster: every subcommand's text
and JSON output, exit codes (docs/cli.md), and the error cases (unreachable
cluster within the --timeout bound, unknown topic/group, bad arguments).
Ends by killing a broker: `kanal cluster status` must turn unhealthy (5)."""

import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

OK, FAIL, USAGE, UNREACHABLE, NOT_FOUND, UNHEALTHY = 0, 1, 2, 3, 4, 5


def kanal_bin():
    path = os.environ.get("KANAL_CLI") or os.path.join(h.REPO, "build", "src", "cli", "kanal")
    if not os.access(path, os.X_OK):
        raise AssertionError("kanal binary not found at %s (build it, or set KANAL_CLI)" % path)
    return path


class Kanal:
    def __init__(self, bootstrap):
        self.bootstrap = bootstrap

    def run(self, *args, input=None, want=OK, timeout=60):
        p = h.run_cmd([kanal_bin(), "-b", self.bootstrap] + list(args), input=input, timeout=timeout, check=False)
        out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
        if want is not None and p.returncode != want:
            raise h.TestFailure("kanal %s: exit %d, wanted %d\nstdout: %s\nstderr: %s"
                                % (" ".join(args), p.returncode, want, out[-3000:], err[-3000:]))
        return out, err

    def json(self, *args, want=OK):
        out, _ = self.run(*(list(args) + ["--output", "json"]), want=want)
        try:
            return json.loads(out)
        except ValueError:
            raise h.TestFailure("kanal %s --output json: not JSON:\n%s" % (" ".join(args), out))


def help_everywhere(k):
    for args in ([], ["topic"], ["produce"], ["consume"], ["group"], ["cluster"], ["perf"],
                 ["topic", "create"], ["group", "reset-offsets"], ["cluster", "status"]):
        out, _ = k.run(*(args + ["--help"]))
        h.expect("Usage" in out, "kanal %s --help: no usage text:\n%s" % (" ".join(args), out))
    out, _ = k.run("--version")
    h.expect("librdkafka" in out, out)


def bad_arguments(k):
    _, err = k.run("no-such-command", want=USAGE)
    h.expect("no-such-command" in err, err)
    k.run("topic", "frobnicate", want=USAGE)
    k.run("topic", "create", want=USAGE)                      # no name
    k.run("topic", "create", "x", "--partitions", "zero", want=USAGE)
    k.run("consume", want=USAGE)
    k.run("consume", "t", "--from-beginning", "--offset", "3", want=USAGE)
    k.run("consume", "t", "--from-time", "yesterday-ish", want=USAGE)
    k.run("group", "reset-offsets", "g", "--topic", "t", want=USAGE)  # no mode
    k.run("produce", "t", "/no/such/file", want=USAGE)
    k.run("topic", "list", "--output", "yaml", want=USAGE)


def unreachable(k):
    # Refused: ends as soon as every broker refused.
    port = h.free_port()
    t0 = time.monotonic()
    _, err = Kanal("127.0.0.1:%d" % port).run("topic", "list", "--timeout", "4000", want=UNREACHABLE)
    took = time.monotonic() - t0
    h.expect("cannot reach" in err and str(port) in err, err)
    h.expect(took < h.scaled(8), "took %.1fs" % took)
    # Silent peer (accepts, never answers): bounded by --timeout.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        t0 = time.monotonic()
        _, err = Kanal("127.0.0.1:%d" % s.getsockname()[1]).run("cluster", "status", "--timeout", "2000",
                                                                want=UNREACHABLE)
        took = time.monotonic() - t0
    h.expect("cannot reach" in err, err)
    h.expect(took < h.scaled(7), "took %.1fs for --timeout 2000" % took)


def topics(k):
    out, _ = k.run("topic", "create", "cli-t", "--partitions", "3", "--replication-factor", "3",
                   "--config", "retention.ms=3600000")
    h.expect("cli-t" in out, out)
    k.run("topic", "create", "cli-t", want=FAIL)
    k.run("topic", "create", "cli-t", "--if-not-exists")
    out, _ = k.run("topic", "list")
    h.expect("cli-t" in out.split(), out)
    lst = k.json("topic", "list")
    h.expect({"name": "cli-t", "partitions": 3, "replication_factor": 3} in lst, lst)
    out, _ = k.run("topic", "describe", "cli-t")
    h.expect("PartitionCount: 3" in out and "ReplicationFactor: 3" in out, out)
    h.expect("retention.ms=3600000" in out, "non-default config not shown:\n" + out)
    h.eq(out.count("Leader:"), 3, "partition lines")
    d = k.json("topic", "describe", "cli-t")
    h.eq(len(d), 1, "topics described")
    h.eq(d[0]["configs"].get("retention.ms"), "3600000", "configs")
    for p in d[0]["partitions"]:
        h.eq(sorted(p["replicas"]), [0, 1, 2], "replicas of %d" % p["partition"])
        h.eq(sorted(p["isr"]), [0, 1, 2], "isr of %d" % p["partition"])
        h.expect(p["leader"] in (0, 1, 2), p)
    _, err = k.run("topic", "describe", "no-such-topic", want=NOT_FOUND)
    h.expect("no-such-topic" in err, err)


def alter(k):
    out, err = k.run("topic", "alter", "cli-t", "--set", "retention.ms=7200000", "--set", "cleanup.policy=delete",
                     want=None)
    if "not supported by broker" in err:
        h.log("note: the broker does not advertise AlterConfigs; alter reports it (exit 1)")
        k.run("topic", "alter", "cli-t", "--set", "retention.ms=1", want=FAIL)
        return
    h.expect("retention.ms=7200000" in out, out + err)
    d = k.json("topic", "describe", "cli-t")[0]
    h.eq(d["configs"].get("retention.ms"), "7200000", "retention.ms after alter")
    # read-modify-write keeps the other override, --delete drops one
    k.run("topic", "alter", "cli-t", "--delete", "retention.ms")
    d = k.json("topic", "describe", "cli-t")[0]
    h.expect("retention.ms" not in d["configs"], d["configs"])
    h.eq(d["configs"].get("cleanup.policy"), "delete", "cleanup.policy kept")
    k.run("topic", "alter", "no-such-topic", "--set", "retention.ms=1", want=NOT_FOUND)


def add_partitions(k):
    k.run("topic", "create", "cli-grow", "--partitions", "1", "--replication-factor", "2")
    out, err = k.run("topic", "add-partitions", "cli-grow", "--partitions", "3", want=None)
    if "not supported by broker" in err:
        h.log("note: the broker does not advertise CreatePartitions; add-partitions reports it (exit 1)")
        return
    h.expect("3" in out, out + err)
    h.wait_until(lambda: k.json("topic", "describe", "cli-grow")[0]["partition_count"] == 3, h.scaled(20),
                 "cli-grow to have 3 partitions")


def round_trip(k):
    lines = "".join("key%d:value %d\n" % (i, i) for i in range(20)) + "no separator here\n"
    _, err = k.run("produce", "cli-t", "--key-separator", ":", "-H", "app=kanal", "-H", "n=1",
                   "--compression", "lz4", "--idempotent", input=lines.encode())
    h.expect("21 records produced" in err, err)
    recs = []
    out, _ = k.run("consume", "cli-t", "--from-beginning", "--exit-at-end", "--output", "json")
    for line in out.splitlines():
        recs.append(json.loads(line))
    h.eq(len(recs), 21, "records read back")
    byval = {r["value"]: r for r in recs}
    for i in range(20):
        r = byval["value %d" % i]
        h.eq(r["key"], "key%d" % i, "key")
        h.eq(r["headers"], {"app": "kanal", "n": "1"}, "headers")
    h.eq(byval["no separator here"]["key"], None, "key of a line without separator")
    # format string
    out, _ = k.run("consume", "cli-t", "--from-beginning", "-e", "-p", "0", "-f", "%t|%p|%o|%k|%v|%h\\n")
    for line in out.splitlines():
        t, p, o, key, val, hdrs = line.split("|")
        h.eq((t, p), ("cli-t", "0"), "topic/partition")
        h.expect(int(o) >= 0 and "app=kanal" in hdrs, line)
    # count limit; offset and tail
    out, _ = k.run("consume", "cli-t", "--from-beginning", "-n", "5")
    h.eq(len(out.splitlines()), 5, "lines with -n 5")
    k.run("consume", "cli-t", "--from-beginning", "-n", "500", "--max-time", "1500", want=FAIL)
    k.run("consume", "no-such-topic", "-e", want=NOT_FOUND)
    # a file as input; a partition that does not exist
    k.run("produce", "cli-t", "-p", "7", input=b"x\n", want=NOT_FOUND)


def from_time(k):
    k.run("topic", "create", "cli-time", "--partitions", "2", "--replication-factor", "3")
    k.run("produce", "cli-time", input=b"".join(b"old %d\n" % i for i in range(10)))
    time.sleep(0.3)
    t = int(time.time() * 1000)
    time.sleep(0.3)
    k.run("produce", "cli-time", input=b"".join(b"new %d\n" % i for i in range(7)))
    out, _ = k.run("consume", "cli-time", "--from-time", str(t), "-e")
    vals = sorted(out.split("\n")[:-1])
    h.eq(vals, sorted("new %d" % i for i in range(7)), "records at/after the timestamp")
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t / 1000 - 3600)) + "Z"
    out, _ = k.run("consume", "cli-time", "--from-time", iso, "-e")
    h.eq(len(out.splitlines()), 17, "records since an hour ago (ISO time)")
    out, _ = k.run("consume", "cli-time", "--from-time", "now+1h", "-e")
    h.eq(out, "", "nothing in the future")


def groups(k):
    # Needs the group coordinator (FindCoordinator, JoinGroup, OffsetCommit...).
    out, _ = k.run("consume", "cli-t", "-g", "cli-g", "--from-beginning", "-n", "8", timeout=90)
    h.eq(len(out.splitlines()), 8, "records consumed in the group")
    lst = k.json("group", "list")
    h.expect(any(g["group"] == "cli-g" for g in lst), lst)
    out, _ = k.run("group", "list")
    h.expect("cli-g" in out, out)

    def described():
        d = k.json("group", "describe", "cli-g")[0]
        return d if d["state"] == "Empty" else None
    h.wait_until(described, h.scaled(30), "cli-g to be Empty after its consumer left")
    d = described()
    # Like kafka-consumer-groups: an empty group lists its committed partitions.
    com = sum(o["current_offset"] or 0 for o in d["offsets"])
    h.eq(com, 8, "committed offsets sum (8 records printed)")
    for o in d["offsets"]:
        h.eq(o["lag"], o["log_end_offset"] - o["current_offset"], "lag of %s-%d" % (o["topic"], o["partition"]))
    out, _ = k.run("group", "describe", "cli-g")
    h.expect("CURRENT-OFFSET" in out and "LOG-END-OFFSET" in out and "LAG" in out, out)
    k.run("group", "describe", "no-such-group", want=NOT_FOUND)

    # reset-offsets: dry run changes nothing
    plan = k.json("group", "reset-offsets", "cli-g", "--topic", "cli-t", "--to-earliest", "--dry-run")
    h.eq(plan["dry_run"], True, "dry_run")
    h.eq(sum(o["new_offset"] for o in plan["offsets"]), 0, "planned offsets")
    d = k.json("group", "describe", "cli-g")[0]
    h.eq(sum(o["current_offset"] or 0 for o in d["offsets"]), 8, "after dry run")
    k.run("group", "reset-offsets", "cli-g", "--topic", "cli-t", "--to-latest")
    d = k.json("group", "describe", "cli-g")[0]
    h.eq(len(d["offsets"]), 3, "partitions with commits after --topic cli-t")
    h.eq(sum(o["log_end_offset"] for o in d["offsets"]), 21, "log end offsets sum")
    h.eq(sum(o["lag"] for o in d["offsets"]), 0, "lag after --to-latest")
    k.run("group", "reset-offsets", "cli-g", "--topic", "cli-t:0", "--shift-by", "-2")
    d = k.json("group", "describe", "cli-g")[0]
    p0 = [o for o in d["offsets"] if o["partition"] == 0][0]
    h.eq(p0["lag"], min(2, p0["log_end_offset"]), "lag of partition 0 after --shift-by -2")
    k.run("group", "reset-offsets", "cli-g", "--all-topics", "--to-offset", "1")
    k.run("group", "reset-offsets", "cli-g", "--topic", "cli-t", "--to-datetime", "now-1d")
    d = k.json("group", "describe", "cli-g")[0]
    h.eq(sum(o["current_offset"] for o in d["offsets"]), 0, "offsets after --to-datetime a day ago")
    # The group rejoins from the reset offsets and reads all 21 records.
    out, _ = k.run("consume", "cli-t", "-g", "cli-g", "-n", "21", timeout=90)
    h.eq(len(out.splitlines()), 21, "records consumed after the reset to the beginning")
    res = k.json("group", "delete", "cli-g")
    h.eq(res, [{"group": "cli-g", "deleted": True, "error": None}], "delete result")
    k.run("group", "delete", "cli-g", want=NOT_FOUND)


def delete_topics(k):
    k.run("topic", "delete", "cli-time")
    k.run("topic", "delete", "cli-time", want=NOT_FOUND)
    k.run("topic", "delete", "cli-time", "--if-exists")


def cluster_health(k, c):
    out, _ = k.run("cluster", "status", "--expect-brokers", "3")
    h.expect("Status: healthy" in out and "(controller)" in out, out)
    st = k.json("cluster", "status")
    h.eq(st["healthy"], True, "healthy")
    h.eq(sorted(b["id"] for b in st["brokers"]), [0, 1, 2], "brokers")
    h.expect(st["controller"] in (0, 1, 2), st)
    t0 = time.monotonic()
    k.run("cluster", "status")
    h.log("kanal cluster status took %.0f ms (start-up + one Metadata call)" % ((time.monotonic() - t0) * 1000))
    k.run("cluster", "status", "--expect-brokers", "4", want=UNHEALTHY)

    victim = c.brokers[2]
    victim.kill9()
    k2 = Kanal(",".join(b.address for b in c.brokers[:2]))

    def unhealthy():
        st = k2.json("cluster", "status", want=None)
        # its registration lasts until its ZooKeeper session expires
        return not st["healthy"] and 2 not in [b["id"] for b in st["brokers"]]
    h.wait_until(unhealthy, h.scaled(60), "cluster status to report the killed broker's partitions", interval=1)
    out, _ = k2.run("cluster", "status", want=UNHEALTHY)
    h.log("cluster status with broker 2 killed:\n" + out)
    st = k2.json("cluster", "status", want=UNHEALTHY)
    h.eq(st["healthy"], False, "healthy")
    h.expect(st["under_replicated"] or st["offline"], st)
    h.expect(2 not in [b["id"] for b in st["brokers"]], st["brokers"])
    out, _ = k2.run("topic", "describe", "cli-t", "--under-replicated-partitions")
    h.expect("cli-t" in out, "cli-t should be under-replicated:\n" + out)


def body(run):
    run.case("kanal --help on every level, --version", help_everywhere, Kanal("127.0.0.1:1"))
    run.case("bad arguments -> exit 2", bad_arguments, Kanal("127.0.0.1:1"))
    run.case("unreachable cluster -> exit 3 within the bound", unreachable, Kanal("127.0.0.1:1"))
    with h.Cluster(brokers=3, overrides={"group.initial.rebalance.delay.ms": "0",
                                         "replica.lag.time.max.ms": "3000"}, name="cli-kanal") as c:
        k = Kanal(c.bootstrap)
        run.case("topic create/list/describe (text, json, unknown)", topics, k)
        run.case("topic alter (AlterConfigs read-modify-write)", alter, k)
        run.case("topic add-partitions", add_partitions, k)
        run.case("produce/consume round trip: keys, headers, formats, limits", round_trip, k)
        run.case("consume --from-time", from_time, k)
        run.case("group list/describe/reset-offsets/delete", groups, k)
        run.case("topic delete", delete_topics, k)
        run.case("cluster status: healthy 0; broker killed -> 5", cluster_health, k, c)


if __name__ == "__main__":
    h.main("cli_kanal", 400, body)
