#!/usr/bin/env bash
# THE README main command: install what is needed, build, start ZooKeeper and
# a 3-broker Kanal cluster on this machine, produce and consume with kcat on a
# replication-factor-3 topic, kill -9 the partition leader while producing,
# show that every record survived and that the killed broker rejoins, and say
# how to stop. The cluster keeps running.
#
#   scripts/quickstart.sh          start (or reuse) the cluster and run the demo
#   scripts/quickstart.sh stop     SIGTERM the broker(s), then stop ZooKeeper
#   scripts/quickstart.sh status   show what runs where
#
# Everything lives under ./run/ (ZooKeeper data, broker logs and data).
#   KANAL_BROKERS=N    number of brokers (default 3; ids 0..N-1, ports 9092+id
#                      when free); with fewer than 3 the failover demo is skipped
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
RUN=$ROOT/run
BROKERS=${KANAL_BROKERS:-3}
KANAL=$ROOT/build/src/cli/kanal
KANALD=$ROOT/build/src/broker/kanald
CONF=$ROOT/conf/kanald.properties
TOPIC=quickstart
START_TIMEOUT=60      # seconds for a broker to answer

if [ -t 1 ]; then
    say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
    say() { printf '\n== %s\n' "$*"; }
fi
die() { echo "quickstart: $*" >&2; exit 1; }

port_in_use() { (exec 2>/dev/null; exec 3<>"/dev/tcp/127.0.0.1/$1"); }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

bootstrap() {
    local list="" id
    for ((id = 0; id < BROKERS; id++)); do
        [ -f "$RUN/broker-$id/port" ] && list="$list${list:+,}127.0.0.1:$(cat "$RUN/broker-$id/port")"
    done
    echo "$list"
}

stop_all() {
    local id pid dir
    for dir in "$RUN"/broker-*; do
        [ -d "$dir" ] || continue
        if pid_alive "$dir/kanald.pid"; then
            pid=$(cat "$dir/kanald.pid")
            echo "stopping broker in $dir (pid $pid, SIGTERM)"
            kill -TERM "$pid"
            for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            if kill -0 "$pid" 2>/dev/null; then
                echo "broker pid $pid still running after 30 s; SIGKILL"
                kill -KILL "$pid" 2>/dev/null || true
            fi
        fi
        rm -f "$dir/kanald.pid"
    done
    if [ -d "$RUN/zk" ]; then
        echo "stopping ZooKeeper"
        "$ROOT/scripts/zk.sh" stop "$RUN/zk"
    fi
    echo "stopped. Data stays in $RUN (rm -rf run/ to start afresh)."
}

status() {
    local id
    if "$ROOT/scripts/zk.sh" status "$RUN/zk" 2>/dev/null; then
        echo "ZooKeeper: 127.0.0.1:$(cat "$RUN/zk/zk.port") (pid $(cat "$RUN/zk/zk.pid"))"
    else
        echo "ZooKeeper: not running"
    fi
    local dir
    for dir in "$RUN"/broker-*; do
        [ -d "$dir" ] || continue
        id=${dir##*/broker-}
        if pid_alive "$dir/kanald.pid"; then
            echo "broker $id: 127.0.0.1:$(cat "$dir/port") (pid $(cat "$dir/kanald.pid"), log $dir/kanald.log)"
        else
            echo "broker $id: not running"
        fi
    done
}

# start_broker <id> <zk port>
start_broker() {
    local id=$1 zkport=$2
    local dir=$RUN/broker-$id port  # (a separate local: words expand before local runs)
    mkdir -p "$dir/data"
    if pid_alive "$dir/kanald.pid"; then
        echo "broker $id already running (pid $(cat "$dir/kanald.pid"))"
        return 0
    fi
    port=$((9092 + id))
    if [ -f "$dir/port" ]; then port=$(cat "$dir/port"); fi
    if port_in_use "$port"; then
        port=$(free_port)
        echo "port $((9092 + id)) is taken; broker $id uses $port"
    fi
    echo "$port" >"$dir/port"
    setsid "$KANALD" --config "$CONF" \
        --override "broker.id=$id" \
        --override "listeners=PLAINTEXT://127.0.0.1:$port" \
        --override "advertised.listeners=PLAINTEXT://127.0.0.1:$port" \
        --override "log.dirs=$dir/data" \
        --override "zookeeper.connect=127.0.0.1:$zkport" \
        --override "offsets.topic.replication.factor=$((BROKERS < 3 ? BROKERS : 3))" \
        </dev/null >>"$dir/kanald.log" 2>&1 &
    echo $! >"$dir/kanald.pid"
    echo "broker $id starting on 127.0.0.1:$port (pid $!, log run/broker-$id/kanald.log)"
}

# wait_broker <id>: until kcat -L through this broker lists it.
wait_broker() {
    local id=$1
    local dir=$RUN/broker-$id port deadline=$((SECONDS + START_TIMEOUT))
    port=$(cat "$dir/port")
    until kcat -L -b "127.0.0.1:$port" -m 2 2>/dev/null | grep -q "broker $id at 127.0.0.1:$port"; do
        if ! pid_alive "$dir/kanald.pid"; then
            tail -n 30 "$dir/kanald.log" >&2
            die "broker $id exited during start-up (log: run/broker-$id/kanald.log)"
        fi
        [ $SECONDS -lt $deadline ] || { tail -n 30 "$dir/kanald.log" >&2; die "broker $id did not answer within ${START_TIMEOUT}s"; }
        sleep 0.2
    done
    echo "broker $id is up"
}

case "${1:-start}" in
    stop) stop_all; exit 0 ;;
    status) status; exit 0 ;;
    start) ;;
    *) die "usage: $0 [start|stop|status]" ;;
esac

say "Installing dependencies"
./scripts/install-deps.sh </dev/null

say "Building kanald (build/)"
if [ -f build/CMakeCache.txt ]; then
    cmake -S . -B build >/dev/null
else
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build build --target kanald kanal -j"${KANAL_JOBS:-2}"
[ -x "$KANALD" ] || die "no kanald at $KANALD after the build"
[ -f "$CONF" ] || die "missing $CONF"

say "Starting ZooKeeper (run/zk)"
mkdir -p "$RUN"
if "$ROOT/scripts/zk.sh" status "$RUN/zk" 2>/dev/null; then
    ZKPORT=$(cat "$RUN/zk/zk.port")
elif [ ! -f "$RUN/zk/zk.port" ] && ! port_in_use 2181; then
    ZKPORT=$("$ROOT/scripts/zk.sh" start "$RUN/zk" 2181)
else
    # 2181 is someone else's; or we ran before on some port: reuse it if free.
    want=""
    [ -f "$RUN/zk/zk.port" ] && ! port_in_use "$(cat "$RUN/zk/zk.port")" && want=$(cat "$RUN/zk/zk.port")
    ZKPORT=$("$ROOT/scripts/zk.sh" start "$RUN/zk" $want)
fi
echo "ZooKeeper on 127.0.0.1:$ZKPORT"

say "Starting $BROKERS broker(s)"
for ((id = 0; id < BROKERS; id++)); do start_broker "$id" "$ZKPORT"; done
for ((id = 0; id < BROKERS; id++)); do wait_broker "$id"; done
BOOTSTRAP=$(bootstrap)

say "Creating topic '$TOPIC'"
/usr/bin/python3 - "$BOOTSTRAP" "$TOPIC" "$BROKERS" <<'PY'
import sys
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka import KafkaError
bootstrap, topic, brokers = sys.argv[1], sys.argv[2], int(sys.argv[3])
admin = AdminClient({"bootstrap.servers": bootstrap})
rf = min(3, brokers)
fut = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=rf)],
                          operation_timeout=20)[topic]
try:
    fut.result(timeout=30)
    print("created %s (1 partition, replication factor %d)" % (topic, rf))
except Exception as e:
    err = e.args[0] if e.args else None
    if getattr(err, "code", lambda: None)() == KafkaError.TOPIC_ALREADY_EXISTS:
        print("%s already exists" % topic)
    else:
        raise SystemExit("create %s failed: %s" % (topic, e))
PY

say "Producing 3 lines with kcat"
STAMP=$(date +%H:%M:%S)
printf 'greeting:hello from kanal (%s)\ncount:one two three\nbye:see you (%s)\n' "$STAMP" "$STAMP" |
    tee /dev/stderr | kcat -P -b "$BOOTSTRAP" -t "$TOPIC" -K : -X acks=all

say "Consuming '$TOPIC' from the beginning with kcat"
kcat -C -b "$BOOTSTRAP" -t "$TOPIC" -o beginning -e -q -f 'offset %o  key %k  value %s\n'

say "kcat -L (cluster metadata)"
kcat -L -b "$BOOTSTRAP"

if [ "$BROKERS" -ge 3 ]; then
    say "Failover: kill -9 the leader of $TOPIC-0 while producing with acks=all"
    "$KANAL" -b "$BOOTSTRAP" topic describe "$TOPIC"
    LEADER=$("$KANAL" -b "$BOOTSTRAP" topic describe "$TOPIC" --output json |
        /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); d=d[0] if isinstance(d,list) else d; print(d["partitions"][0]["leader"])')
    BEFORE=$(kcat -C -b "$BOOTSTRAP" -t "$TOPIC" -o beginning -e -q | wc -l)
    echo "leader of $TOPIC-0 is broker $LEADER; $BEFORE records so far"
    # 200 records before the kill and 200 after; kcat retries on the new leader.
    (
        seq 1 200 | sed 's/^/before-kill-/'
        sleep 1
        seq 1 200 | sed 's/^/after-kill-/'
    ) | kcat -P -b "$BOOTSTRAP" -t "$TOPIC" -X acks=all -X message.timeout.ms=30000 &
    PRODUCER=$!
    sleep 0.5
    kill -9 "$(cat "$RUN/broker-$LEADER/kanald.pid")"
    wait "$(cat "$RUN/broker-$LEADER/kanald.pid")" 2>/dev/null || true
    echo "killed broker $LEADER (kill -9) at $(date +%T.%N | cut -c1-12)"
    wait "$PRODUCER" || die "the producer reported failures"
    AFTER=$(kcat -C -b "$BOOTSTRAP" -t "$TOPIC" -o beginning -e -q | wc -l)
    echo "records now: $AFTER (expected $((BEFORE + 400)))"
    [ "$AFTER" -eq $((BEFORE + 400)) ] || die "records were lost"
    "$KANAL" -b "$BOOTSTRAP" topic describe "$TOPIC"
    say "Restarting broker $LEADER: it catches up and rejoins the ISR"
    start_broker "$LEADER" "$ZKPORT"
    wait_broker "$LEADER"
    for _ in $(seq 100); do
        "$KANAL" -b "$BOOTSTRAP" cluster status >/dev/null 2>&1 && break
        sleep 0.2
    done
    "$KANAL" -b "$BOOTSTRAP" topic describe "$TOPIC"
    "$KANAL" -b "$BOOTSTRAP" cluster status || true
fi

say "The cluster keeps running"
status
cat <<EOF

Try:  kcat -b $BOOTSTRAP -L
      echo hi | kcat -b $BOOTSTRAP -t $TOPIC -P
      kcat -b $BOOTSTRAP -t $TOPIC -C -e
Stop: scripts/quickstart.sh stop
EOF
