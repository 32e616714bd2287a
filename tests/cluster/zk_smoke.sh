#!/bin/sh
# Starts a private ZooKeeper on a free loopback port and runs zk_smoke:
#   1. no ZooKeeper at the address: a clear error within connection_timeout_ms
#   2. full cycle under a chroot: register, win controller, topic create/lead/delete, stop
#   3. kill -9 a registered broker, restart it at once: it waits for the stale
#      /brokers/ids/<id> to expire (saying so), then completes the full cycle
#   4. SIGSTOP a broker until ZooKeeper expires its session, SIGCONT: it opens a
#      new session, re-registers and wins the election again
# Usage: zk_smoke.sh path/to/zk_smoke
set -u
SMOKE=${1:?usage: zk_smoke.sh path/to/zk_smoke}
ZKBIN=/usr/share/zookeeper/bin/zkServer.sh
[ -x "$ZKBIN" ] || { echo "SKIP: $ZKBIN missing"; exit 0; }
command -v java >/dev/null || { echo "SKIP: java missing"; exit 0; }
PY=/usr/bin/python3
DIR=$(mktemp -d /tmp/kn-zk-smoke.XXXXXX)
free_port() { $PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
PORT=$(free_port)
DEAD=$(free_port)
ZKPID=
HOLD=
cleanup() {
  [ -n "$HOLD" ] && kill -9 "$HOLD" 2>/dev/null
  [ -n "$ZKPID" ] && kill -TERM -- "-$ZKPID" 2>/dev/null
  sleep 0.3; [ -n "$ZKPID" ] && kill -KILL -- "-$ZKPID" 2>/dev/null
  rm -rf "$DIR"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$DIR"/*.log; do echo "--- $f"; tail -n 60 "$f"; done; exit 1; }

mkdir -p "$DIR/data"
cat > "$DIR/zoo.cfg" <<CFG
tickTime=500
initLimit=10
syncLimit=5
dataDir=$DIR/data
clientPort=$PORT
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok,stat,mntr
CFG
ZOOCFGDIR=$DIR ZOO_LOG_DIR=$DIR setsid "$ZKBIN" start-foreground "$DIR/zoo.cfg" > "$DIR/zk.log" 2>&1 &
ZKPID=$!
# Ready when it answers ruok (asked, not slept for), at most 30 s.
$PY - "$PORT" <<'PYEOF' || fail "ZooKeeper did not start"
import socket, sys, time
port = int(sys.argv[1]); end = time.time() + 30
while time.time() < end:
    try:
        s = socket.create_connection(("127.0.0.1", port), 1); s.sendall(b"ruok")
        if s.recv(4) == b"imok": sys.exit(0)
    except OSError: pass
    time.sleep(0.1)
sys.exit(1)
PYEOF
echo "ZooKeeper up on 127.0.0.1:$PORT"

# 1. missing ZooKeeper
start=$(date +%s)
timeout 20 "$SMOKE" "127.0.0.1:$DEAD" 1 nozk > "$DIR/nozk.log" 2>&1 || fail "nozk run"
grep -q "cannot reach ZooKeeper at 127.0.0.1:$DEAD after 3000 ms" "$DIR/nozk.log" || fail "no clear error without ZooKeeper"
[ $(( $(date +%s) - start )) -le 10 ] || fail "missing ZooKeeper took too long"
echo "ok 1 - missing ZooKeeper: clear error, bounded"

# 2. full cycle under a chroot that does not exist yet
timeout 60 "$SMOKE" "127.0.0.1:$PORT/kanal/smoke" 1 full > "$DIR/full.log" 2>&1 || fail "full run"
grep -q "SMOKE OK" "$DIR/full.log" || fail "full run did not report OK"
echo "ok 2 - register, controller, create/lead/delete topic, stop"

# 3. kill -9 and restart at once
"$SMOKE" "127.0.0.1:$PORT/kanal/smoke" 1 hold > "$DIR/hold.out" 2> "$DIR/hold.log" &
HOLD=$!
i=0; while ! grep -q READY "$DIR/hold.out" 2>/dev/null; do
  i=$((i+1)); [ $i -gt 300 ] && fail "hold run never ready"; sleep 0.1; done
kill -9 "$HOLD"; wait "$HOLD" 2>/dev/null; HOLD=
timeout 60 "$SMOKE" "127.0.0.1:$PORT/kanal/smoke" 1 full > "$DIR/restart.log" 2>&1 || fail "restart run"
grep -q "waiting up to .* for the stale registration of broker 1 to expire" "$DIR/restart.log" || fail "no stale-registration wait logged"
grep -q "SMOKE OK" "$DIR/restart.log" || fail "restart run did not report OK"
echo "ok 3 - restart after kill -9 waits for the stale registration, then works"

# 4. session expiry: freeze a registered broker past its session timeout
"$SMOKE" "127.0.0.1:$PORT/kanal/smoke" 2 hold > "$DIR/expire.out" 2> "$DIR/expire.log" &
HOLD=$!
i=0; while ! grep -q "controller: follower -> active" "$DIR/expire.log" 2>/dev/null; do
  i=$((i+1)); [ $i -gt 300 ] && fail "expiry run never became controller"; sleep 0.1; done
kill -STOP "$HOLD"
# Ask ZooKeeper (not the clock) until the frozen session's registration is gone.
$PY - "$PORT" <<'PYEOF' || fail "session of the frozen broker never expired"
import socket, sys, time
port = int(sys.argv[1]); end = time.time() + 30
def stat():
    s = socket.create_connection(("127.0.0.1", port), 1); s.sendall(b"mntr"); out = b""
    while True:
        d = s.recv(65536)
        if not d: return out.decode()
        out += d
while time.time() < end:
    m = stat()
    eph = [l for l in m.splitlines() if l.startswith("zk_ephemerals_count")]
    if eph and int(eph[0].split()[-1]) == 0: sys.exit(0)
    time.sleep(0.2)
sys.exit(1)
PYEOF
kill -CONT "$HOLD"
i=0; while ! grep -q "re-registered /brokers/ids/2" "$DIR/expire.log"; do
  i=$((i+1)); [ $i -gt 300 ] && fail "no re-registration after session expiry"; sleep 0.1; done
i=0; while [ "$(grep -c "controller: follower -> active" "$DIR/expire.log")" -lt 2 ]; do
  i=$((i+1)); [ $i -gt 300 ] && fail "no re-election after session expiry"; sleep 0.1; done
grep -q "EXPIRED" "$DIR/expire.log" || fail "expiry not logged"
kill -9 "$HOLD"; wait "$HOLD" 2>/dev/null; HOLD=
echo "ok 4 - session expiry: new session, re-registered, controller again"
[ -n "${VERBOSE:-}" ] && for f in "$DIR"/nozk.log "$DIR"/full.log "$DIR"/hold.log "$DIR"/restart.log "$DIR"/expire.log; do echo "--- $f"; cat "$f"; done
exit 0
