"""Integration-test harness: a private ZooKeeper plus N kanald processes.

python3 standard library only; run with /usr/bin/python3 so the Debian client
packages (confluent_kafka, kafka) import too.

    from harness import Cluster, Runner, expect, eq

    run = Runner("kcat", hard_timeout=120)
    with Cluster(brokers=1) as c:
        run.case("round trip", test_round_trip, c)
    run.finish()

What it guarantees (docs/testing.md):
  * free loopback ports and a fresh temp dir per cluster; nothing shared
  * readiness by asking: ZooKeeper answers ruok and opens a session; a broker
    answers ApiVersions v0 and lists itself in Metadata v1. No fixed sleeps.
  * every server in its own process group, killed as a group, and killed by
    the kernel (PR_SET_PDEATHSIG) if the test process dies
  * a hard timeout for the whole test file (SIGALRM)
  * on failure: all server logs printed; at teardown: a sanitizer report in any
    broker's stderr fails the test
"""

import ctypes
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

import kafka_wire as kw

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ZK_HOME = os.environ.get("ZK_HOME", "/usr/share/zookeeper")

# Patterns that mean a sanitizer fired in a broker.
SANITIZER_PATTERNS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")

# Multiplier for the harness's own waits; CI or sanitizer builds may raise it.
TIMEOUT_SCALE = float(os.environ.get("KANAL_TIMEOUT_SCALE", "1"))

# Test-friendly broker settings (keys are Kafka's). Passed with --override so
# the command-line override path is exercised by every test.
DEFAULT_OVERRIDES = {
    "zookeeper.session.timeout.ms": "4000",
}


def kanald_bin():
    path = os.environ.get("KANAL_BIN") or os.path.join(REPO, "build", "src", "broker", "kanald")
    if not os.access(path, os.X_OK):
        raise AssertionError("kanald binary not found at %s (build it, or set KANAL_BIN)" % path)
    return path


def log(msg):
    sys.stdout.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stdout.flush()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scaled(seconds):
    return seconds * TIMEOUT_SCALE


# --------------------------------------------------------------------------
# Assertions that print both operands.

class TestFailure(AssertionError):
    pass


def expect(cond, msg="expectation failed"):
    if not cond:
        raise TestFailure(msg)


def eq(got, want, what="value"):
    if got != want:
        raise TestFailure("%s: got %r, want %r" % (what, got, want))


def wait_until(pred, timeout, what, interval=0.05):
    """Polls pred() until it returns a true value; returns it or fails."""
    deadline = time.monotonic() + scaled(timeout)
    last_exc = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # keep polling; report the last error
            last_exc = e
        if time.monotonic() >= deadline:
            raise TestFailure("timed out after %.1fs waiting for %s%s" % (
                scaled(timeout), what, " (last error: %r)" % last_exc if last_exc else ""))
        time.sleep(interval)


# --------------------------------------------------------------------------
# Child processes: own process group, die with the harness.

_PR_SET_PDEATHSIG = 1
_children = []


def _child_setup():
    # Runs in the child between fork and exec. start_new_session already made
    # it a group leader; ask the kernel to SIGKILL it if the harness dies.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


def spawn(argv, log_path, env=None, cwd=None):
    out = open(log_path, "ab")
    try:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             env=env, cwd=cwd, start_new_session=True, preexec_fn=_child_setup)
    finally:
        out.close()
    _children.append(p)
    return p


def kill_group(p, sig=signal.SIGKILL):
    if p is None or p.poll() is not None:
        return
    try:
        os.killpg(p.pid, sig)
    except ProcessLookupError:
        pass


def _kill_all_children():
    for p in _children:
        kill_group(p, signal.SIGKILL)
    for p in _children:
        try:
            p.wait(timeout=5)
        except Exception:
            pass


# --------------------------------------------------------------------------
# ZooKeeper: a minimal jute client (connect, getChildren, getData, exists).

ZK_NONODE = -101


def _jstr(s):
    b = s.encode()
    return struct.pack(">i", len(b)) + b


class ZkClient:
    """One ZooKeeper session over a raw socket; enough to inspect znodes."""

    def __init__(self, port, timeout_ms=4000):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        req = struct.pack(">iqiq", 0, 0, timeout_ms, 0) + struct.pack(">i", 16) + b"\0" * 16 + b"\0"
        self._send(req)
        r = kw.Reader(self._recv())
        r.i32()
        self.session_timeout = r.i32()
        self.session_id = r.i64()
        if self.session_timeout <= 0:
            raise kw.WireError("ZooKeeper refused the session")
        self.xid = 1

    def _send(self, payload):
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)

    def _recv(self):
        def exact(n):
            b = b""
            while len(b) < n:
                c = self.sock.recv(n - len(b))
                if not c:
                    raise kw.Closed("ZooKeeper closed the connection")
                b += c
            return b
        n = struct.unpack(">i", exact(4))[0]
        return exact(n)

    def _call(self, op, body):
        xid = self.xid
        self.xid += 1
        self._send(struct.pack(">ii", xid, op) + body)
        while True:
            r = kw.Reader(self._recv())
            got = r.i32()
            r.i64()  # zxid
            err = r.i32()
            if got == xid:
                return err, r
            # watch events (xid -1) and pings (-2) are skipped

    def children(self, path):
        """Child names, or None when the node does not exist."""
        err, r = self._call(8, _jstr(path) + b"\0")
        if err == ZK_NONODE:
            return None
        if err:
            raise kw.WireError("getChildren %s: zk error %d" % (path, err))
        return sorted(r.take(r.i32()).decode() for _ in range(r.i32()))

    def get(self, path):
        """Node data, or None when the node does not exist."""
        err, r = self._call(4, _jstr(path) + b"\0")
        if err == ZK_NONODE:
            return None
        if err:
            raise kw.WireError("getData %s: zk error %d" % (path, err))
        n = r.i32()
        return b"" if n < 0 else r.take(n)

    def close(self):
        try:
            self._send(struct.pack(">ii", self.xid, -11))  # closeSession
        except OSError:
            pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def zk_ruok(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"ruok")
            return s.recv(16) == b"imok"
    except OSError:
        return False


class ZooKeeper:
    def __init__(self, workdir, port=None):
        self.dir = os.path.join(workdir, "zk")
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        self.port = port or free_port()
        self.log_path = os.path.join(self.dir, "zookeeper.log")
        self.proc = None
        self.port_retries = 3

    def start(self, timeout=60):
        with open(os.path.join(self.dir, "zoo.cfg"), "w") as f:
            f.write("tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\n"
                    "clientPortAddress=127.0.0.1\nmaxClientCnxns=0\nadmin.enableServer=false\n"
                    "4lw.commands.whitelist=ruok,stat,mntr\n" % (os.path.join(self.dir, "data"), self.port))
        # Same trick as scripts/zk.sh: the Debian zkEnv.sh resets the log dir
        # and classpath, so they go in as JVM flags (later -D / -cp win).
        cp = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"
        for jar in ("slf4j-log4j12.jar", "log4j-1.2.jar"):
            if os.path.exists("/usr/share/java/" + jar):
                cp += ":/usr/share/java/" + jar
        env = dict(os.environ, ZOOCFGDIR=self.dir, ZOO_LOG_DIR=self.dir, JMXDISABLE="true",
                   JVMFLAGS="-Xmx256m -XX:+UseSerialGC -cp %s -Dzookeeper.log.dir=%s "
                            "-Dzookeeper.root.logger=INFO,CONSOLE" % (cp, self.dir))
        log_start = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        self.proc = spawn([os.path.join(ZK_HOME, "bin", "zkServer.sh"), "start-foreground",
                           os.path.join(self.dir, "zoo.cfg")], self.log_path, env=env)

        def ready():
            if self.proc.poll() is not None:
                with open(self.log_path, errors="replace") as f:
                    f.seek(log_start)
                    clash = "Address already in use" in f.read()
                if clash and self.port_retries > 0:
                    # Another process took the free port we picked; pick again.
                    self.port_retries -= 1
                    self.port = free_port()
                    log("zookeeper: port clash, retrying on %d" % self.port)
                    self.start(timeout)
                    return True
                raise TestFailure("ZooKeeper exited with %s during start-up" % self.proc.returncode)
            if not zk_ruok(self.port):
                return False
            with ZkClient(self.port):
                return True
        wait_until(ready, timeout, "ZooKeeper on port %d" % self.port)
        if self.proc.poll() is None and zk_ruok(self.port):
            log("zookeeper up on 127.0.0.1:%d" % self.port)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            kill_group(self.proc, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                kill_group(self.proc, signal.SIGKILL)
                self.proc.wait()

    def client(self):
        return ZkClient(self.port)

    @property
    def connect(self):
        return "127.0.0.1:%d" % self.port


# --------------------------------------------------------------------------
# Brokers.

class BrokerDied(TestFailure):
    pass


class Broker:
    def __init__(self, cluster, broker_id, overrides):
        self.cluster = cluster
        self.id = broker_id
        self.dir = os.path.join(cluster.workdir, "broker-%d" % broker_id)
        self.log_dir = os.path.join(self.dir, "data")
        os.makedirs(self.log_dir, exist_ok=True)
        self.port = free_port()
        self.overrides = dict(overrides)
        self.proc = None
        self.starts = 0
        self.log_start = 0
        self.port_retries = 3
        self.stderr_path = os.path.join(self.dir, "kanald.log")

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def _write_config(self):
        path = os.path.join(self.dir, "kanald.properties")
        n = len(self.cluster.brokers)
        with open(path, "w") as f:
            f.write("# written by tests/integration/harness.py\n"
                    "broker.id=%d\n"
                    "listeners=PLAINTEXT://127.0.0.1:%d\n"
                    "advertised.listeners=PLAINTEXT://127.0.0.1:%d\n"
                    "log.dirs=%s\n"
                    "zookeeper.connect=%s\n"
                    "num.partitions=1\n"
                    "default.replication.factor=1\n"
                    "offsets.topic.replication.factor=%d\n"
                    "auto.create.topics.enable=true\n"
                    % (self.id, self.port, self.port, self.log_dir,
                       self.cluster.zk_connect, min(3, n)))
        return path

    def argv(self):
        argv = [kanald_bin(), "--config", self._write_config()]
        for k, v in self.overrides.items():
            argv += ["--override", "%s=%s" % (k, v)]
        return argv

    def start(self, wait=True, timeout=60):
        expect(self.proc is None or self.proc.poll() is not None, "broker %d already running" % self.id)
        self.starts += 1
        with open(self.stderr_path, "ab") as f:
            f.write(("\n===== harness: start #%d of broker %d at %s =====\n"
                     % (self.starts, self.id, time.strftime("%H:%M:%S"))).encode())
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:halt_on_error=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        self.log_start = os.path.getsize(self.stderr_path)
        self.proc = spawn(self.argv(), self.stderr_path, env=env, cwd=self.dir)
        if wait:
            self.wait_ready(timeout)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def connect(self, timeout=10.0):
        return kw.Connection("127.0.0.1", self.port, timeout=timeout)

    def answers(self):
        """True when ApiVersions v0 gets a response (error code 0)."""
        try:
            with self.connect(timeout=3) as c:
                return c.api_versions(0)["error"] == kw.NONE
        except (OSError, kw.WireError, kw.Closed):
            return False

    def wait_ready(self, timeout=60):
        """Waits until ApiVersions v0 answers and Metadata v1 lists this broker."""
        def ready():
            if not self.alive() and self.port_retries > 0 and \
                    "Address already in use" in self.stderr_since_start():
                # Another process took the free port we picked; pick again.
                self.port_retries -= 1
                self.port = free_port()
                log("broker %d: port clash, retrying on %d" % (self.id, self.port))
                self.start(wait=False)
                return False
            if not self.alive():
                raise BrokerDied("broker %d exited with %s during start-up"
                                 % (self.id, self.proc.returncode))
            try:
                with self.connect(timeout=3) as c:
                    if c.api_versions(0)["error"] != kw.NONE:
                        return False
                    md = c.metadata([])
                    return any(b["node_id"] == self.id for b in md["brokers"])
            except (OSError, kw.WireError, kw.Closed):
                return False
        try:
            wait_until(ready, timeout, "broker %d on %s to answer" % (self.id, self.address), interval=0.1)
        except BrokerDied:
            raise
        log("broker %d up on %s (pid %d)" % (self.id, self.address, self.proc.pid))

    def signal(self, sig):
        expect(self.alive(), "broker %d is not running" % self.id)
        os.killpg(self.proc.pid, sig)

    def kill9(self):
        """SIGKILL, as a crash; returns once the process is gone."""
        self.signal(signal.SIGKILL)
        self.proc.wait()
        log("broker %d killed -9" % self.id)

    def stop(self, timeout=15):
        """SIGTERM and wait; returns the exit status (SIGKILLs on timeout and fails)."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        kill_group(self.proc, signal.SIGCONT)  # a paused broker cannot act on SIGTERM
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=scaled(timeout))
        except subprocess.TimeoutExpired:
            kill_group(self.proc)
            self.proc.wait()
            raise TestFailure("broker %d did not exit within %.0fs of SIGTERM" % (self.id, scaled(timeout)))

    def pause(self):
        self.signal(signal.SIGSTOP)

    def resume(self):
        os.killpg(self.proc.pid, signal.SIGCONT)

    def restart(self, wait=True, timeout=60):
        if self.alive():
            self.stop()
        self.start(wait=wait, timeout=timeout)

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def stderr_since_start(self):
        with open(self.stderr_path, "rb") as f:
            f.seek(self.log_start)
            return f.read().decode(errors="replace")

    def sanitizer_reports(self):
        text = self.stderr()
        return [p for p in SANITIZER_PATTERNS if p in text]


_active_clusters = []


class Cluster:
    """A private ZooKeeper and N brokers (ids 0..N-1) in a fresh temp dir.

    Use as a context manager. On an exception all server logs are printed and
    the temp dir is kept; at teardown any sanitizer report fails the test.
    """

    def __init__(self, brokers=1, overrides=None, start_brokers=True, start_zk=True, name="cluster"):
        self.workdir = tempfile.mkdtemp(prefix="kanal-it-%s-" % name)
        self.zk = ZooKeeper(self.workdir)
        self.brokers = []
        ov = dict(DEFAULT_OVERRIDES)
        ov.update(overrides or {})
        for i in range(brokers):
            self.brokers.append(Broker(self, i, ov))
        self._start_brokers = start_brokers
        self._start_zk = start_zk
        self.failed = False  # set by Runner.case when a case fails inside

    def __enter__(self):
        _active_clusters.append(self)
        try:
            if self._start_zk:
                self.zk.start()
            if self._start_brokers:
                for b in self.brokers:
                    b.start(wait=False)
                for b in self.brokers:
                    b.wait_ready()
        except BaseException:
            self.dump_logs()
            self.teardown(keep=True)
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        failed = exc_type is not None
        if not failed and self.failed:
            self.teardown(keep=True)  # logs were printed when the case failed
            return False
        if not failed:
            # A clean stop lets LeakSanitizer run in sanitized builds.
            self.stop_all()
        try:
            self.check_sanitizers()
        except TestFailure:
            if not failed:
                self.dump_logs()
                self.teardown(keep=True)
                raise
        if failed:
            self.dump_logs()
        self.teardown(keep=failed)
        return False

    def stop_all(self, timeout=15):
        """SIGTERMs every running broker; SIGKILLs (and logs) one that hangs."""
        for b in self.brokers:
            if b.alive():
                kill_group(b.proc, signal.SIGCONT)
                os.kill(b.proc.pid, signal.SIGTERM)
        for b in self.brokers:
            if b.proc is None:
                continue
            try:
                rc = b.proc.wait(timeout=scaled(timeout))
                if rc != 0 and rc != -signal.SIGKILL:
                    log("note: broker %d exited with %s at teardown" % (b.id, rc))
            except subprocess.TimeoutExpired:
                log("note: broker %d ignored SIGTERM for %.0fs at teardown; killed"
                    % (b.id, scaled(timeout)))
                kill_group(b.proc)
                b.proc.wait()

    @property
    def zk_connect(self):
        return self.zk.connect

    @property
    def bootstrap(self):
        return ",".join(b.address for b in self.brokers)

    def broker(self, i=0):
        return self.brokers[i]

    def any_alive(self):
        for b in self.brokers:
            if b.alive():
                return b
        raise TestFailure("no broker is running")

    def check_sanitizers(self):
        bad = [(b.id, r) for b in self.brokers for r in b.sanitizer_reports()]
        if bad:
            raise TestFailure("sanitizer report in broker stderr: %s" % bad)

    def dump_logs(self, tail_lines=400):
        out = sys.stdout
        for b in self.brokers:
            if b.proc is not None and b.proc.poll() is not None:
                out.write("\n***** broker %d is not running: exit status %s *****\n"
                          % (b.id, b.proc.returncode))
            if b.sanitizer_reports():
                out.write("\n***** broker %d stderr has sanitizer output: %s *****\n"
                          % (b.id, b.sanitizer_reports()))
            lines = b.stderr().splitlines()
            out.write("\n----- broker %d stderr (%s, last %d of %d lines) -----\n"
                      % (b.id, b.stderr_path, min(tail_lines, len(lines)), len(lines)))
            out.write("\n".join(lines[-tail_lines:]) + "\n")
        try:
            with open(self.zk.log_path, errors="replace") as f:
                zl = f.read().splitlines()
            out.write("\n----- zookeeper log (%s, last 40 lines) -----\n" % self.zk.log_path)
            out.write("\n".join(zl[-40:]) + "\n")
        except FileNotFoundError:
            pass
        out.write("----- server files kept in %s -----\n" % self.workdir)
        out.flush()

    def teardown(self, keep=False):
        if self in _active_clusters:
            _active_clusters.remove(self)
        for b in self.brokers:
            if b.alive():
                kill_group(b.proc, signal.SIGCONT)
                kill_group(b.proc, signal.SIGKILL)
                b.proc.wait()
        self.zk.stop()
        if not keep and not os.environ.get("KANAL_KEEP_TMP"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ---- helpers used by several tests

    def metadata(self, topics=None, broker=None):
        b = broker or self.any_alive()
        with b.connect() as c:
            return c.metadata(topics)

    def create_topic(self, topic, partitions=1, replication_factor=1, timeout=30):
        """Creates a topic through the controller (raw CreateTopics v0) and
        waits until every partition has a leader."""
        # Like a real client: find the controller, and try again on
        # NOT_CONTROLLER (a broker answers Metadata before an election ends).
        result = {}

        def attempt():
            md = self.metadata([])
            ctrl = [b for b in self.brokers if b.id == md["controller"] and b.alive()]
            if not ctrl:
                return False
            # The controller assigns replicas over the brokers it has seen
            # register: a broker that has just started may not be among
            # them yet, and the spread a test expects would differ.
            seen = {x["node_id"] for x in self.metadata([], broker=ctrl[0])["brokers"]}
            if not {b.id for b in self.brokers if b.alive()} <= seen:
                return False
            with ctrl[0].connect() as c:
                result["err"] = c.create_topic(topic, partitions, replication_factor)
            return result["err"] != kw.NOT_CONTROLLER
        try:
            wait_until(attempt, timeout, "a controller to create %s" % topic, interval=0.1)
        except TestFailure as e:
            raise TestFailure("%s; last CreateTopics v0 error: %s" % (e, result.get("err")))
        expect(result["err"] in (kw.NONE, kw.TOPIC_ALREADY_EXISTS),
               "CreateTopics v0 %s: error %d" % (topic, result["err"]))
        self.wait_topic(topic, partitions, timeout)

    def wait_topic(self, topic, partitions, timeout=30):
        def ok():
            t = self.metadata([topic])["topics"].get(topic)
            return (t and t["error"] == 0 and len(t["partitions"]) == partitions
                    and all(p["leader"] >= 0 for p in t["partitions"]))
        wait_until(ok, timeout, "topic %s with %d led partitions" % (topic, partitions))

    def leader_of(self, topic, partition):
        t = self.metadata([topic])["topics"][topic]
        for p in t["partitions"]:
            if p["partition"] == partition:
                return [b for b in self.brokers if b.id == p["leader"]][0]
        raise TestFailure("no partition %s-%d" % (topic, partition))


def run_cmd(argv, input=None, timeout=60, check=True, env=None):
    """Runs a client command (kcat, node); fails with its output on error."""
    log("$ " + " ".join(argv))
    try:
        p = subprocess.run(argv, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=scaled(timeout), env=env)
    except subprocess.TimeoutExpired as e:
        raise TestFailure("%s timed out after %.0fs; stderr: %s"
                          % (argv[0], scaled(timeout), (e.stderr or b"")[-2000:].decode(errors="replace")))
    if check and p.returncode != 0:
        raise TestFailure("%s exited %d\nstdout: %s\nstderr: %s" % (
            " ".join(argv), p.returncode, p.stdout[-2000:].decode(errors="replace"),
            p.stderr[-4000:].decode(errors="replace")))
    return p


# --------------------------------------------------------------------------
# Runner: named cases, one summary line, a hard timeout for the whole file.

class HardTimeout(BaseException):
    """Raised by SIGALRM; a BaseException so polling loops cannot swallow it."""


class Runner:
    def __init__(self, name, hard_timeout):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.failures = []
        self.hard_timeout = scaled(hard_timeout)
        signal.signal(signal.SIGALRM, self._on_alarm)
        signal.signal(signal.SIGTERM, self._on_term)
        signal.alarm(int(self.hard_timeout))
        self.seed = int(os.environ.get("KANAL_TEST_SEED") or time.time_ns() % 1000000007)
        random.seed(self.seed)
        log("%s: hard timeout %.0fs, KANAL_TEST_SEED=%d, kanald %s"
            % (name, self.hard_timeout, self.seed, os.environ.get("KANAL_BIN", "(default)")))

    def _on_alarm(self, *_):
        raise HardTimeout("%s: hard timeout of %.0fs reached" % (self.name, self.hard_timeout))

    def _on_term(self, *_):
        raise HardTimeout("%s: terminated" % self.name)

    def case(self, title, fn, *args, **kwargs):
        """Runs one case; a failure is recorded and the run goes on."""
        log("=== %s" % title)
        t0 = time.monotonic()
        try:
            fn(*args, **kwargs)
        except HardTimeout:
            log("FAIL %s: hard timeout" % title)
            raise  # counted by main()
        except Exception as e:
            self.failed += 1
            self.failures.append(title)
            traceback.print_exc(file=sys.stdout)
            for c in _active_clusters:
                c.failed = True
                c.dump_logs()
            # The reason again after the logs, on one line: CI shows the tail.
            why = " ".join(str(e).split())[:400] or type(e).__name__
            log("FAIL %s (%.1fs): %s" % (title, time.monotonic() - t0, why))
            return False
        self.passed += 1
        log("ok   %s (%.1fs)" % (title, time.monotonic() - t0))
        return True

    def fail(self, title, exc=None):
        """Counts a failure that happened outside case() (e.g. cluster setup)."""
        self.failed += 1
        self.failures.append(title)
        why = ""
        if exc is not None:
            traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stdout)
            why = ": " + (" ".join(str(exc).split())[:400] or type(exc).__name__)
        log("FAIL %s%s" % (title, why))

    def finish(self):
        signal.alarm(0)
        _kill_all_children()
        if self.failures:
            print("failed: %s" % ", ".join(self.failures))
        print("%d passed, %d failed" % (self.passed, self.failed))
        sys.stdout.flush()
        sys.exit(1 if self.failed or not self.passed else 0)


def main(name, hard_timeout, body):
    """Runs body(runner) with cleanup on any error; prints the summary line."""
    run = Runner(name, hard_timeout)
    try:
        body(run)
    except HardTimeout as e:
        run.fail(str(e))
    except Exception as e:
        run.fail("%s: setup/teardown" % name, e)
    finally:
        _kill_all_children()
    run.finish()
