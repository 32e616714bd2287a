#!/usr/bin/env bash
# Start or stop a private, single-node ZooKeeper for development and tests.
#
#   scripts/zk.sh start <dir> [port]   start in the background; prints the port
#   scripts/zk.sh stop <dir>           stop the one started in <dir>
#   scripts/zk.sh status <dir>         exit 0 when it answers ruok
#
# Uses the Debian "zookeeper" package. Everything it writes (zoo.cfg, data,
# log, pid, port) lives in <dir>. tickTime=500 so sessions from 1 s to 10 s
# are allowed, which keeps broker failover tests short. When no port is given
# a free loopback port is picked.
set -eu

ZK_HOME=${ZK_HOME:-/usr/share/zookeeper}
ZK_START_TIMEOUT=${ZK_START_TIMEOUT:-60}     # seconds until ruok must answer
ZK_STOP_TIMEOUT=${ZK_STOP_TIMEOUT:-10}       # seconds before SIGKILL

die() { echo "zk.sh: $*" >&2; exit 1; }

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

port_in_use() {
    (exec 2>/dev/null; exec 3<>"/dev/tcp/127.0.0.1/$1")
}

# ruok <port>: true when the server answers "imok".
ruok() {
    local reply
    reply=$(exec 2>/dev/null; exec 3<>"/dev/tcp/127.0.0.1/$1" && printf ruok >&3 && timeout 2 cat <&3) || return 1
    [ "$reply" = imok ]
}

alive() { [ -f "$1/zk.pid" ] && kill -0 "$(cat "$1/zk.pid")" 2>/dev/null; }

cmd_start() {
    local dir=$1 port=${2:-}
    mkdir -p "$dir/data"
    dir=$(cd "$dir" && pwd)
    if alive "$dir"; then
        port=$(cat "$dir/zk.port")
        ruok "$port" || die "ZooKeeper pid $(cat "$dir/zk.pid") in $dir runs but does not answer on $port"
        echo "$port"
        return 0
    fi
    [ -x "$ZK_HOME/bin/zkServer.sh" ] || die "$ZK_HOME/bin/zkServer.sh not found (apt-get install zookeeper)"
    if [ -z "$port" ]; then
        port=$(free_port)
    elif port_in_use "$port"; then
        die "port $port is already in use"
    fi
    cat >"$dir/zoo.cfg" <<EOF
tickTime=500
initLimit=10
syncLimit=5
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,stat,mntr
EOF
    # The Debian zkEnv.sh resets ZOO_LOG_DIR, ZOOCFGDIR and CLASSPATH, so the log
    # location, console logging and a classpath with a log4j binding (without
    # it slf4j logs nothing) go in as JVM flags: a later -D or -cp wins.
    local cp=/etc/zookeeper/conf:/usr/share/java/zookeeper.jar
    local jar
    for jar in slf4j-log4j12.jar log4j-1.2.jar; do
        [ -f "/usr/share/java/$jar" ] && cp="$cp:/usr/share/java/$jar"
    done
    (
        export ZOOCFGDIR="$dir" ZOO_LOG_DIR="$dir" JMXDISABLE=true
        export JVMFLAGS="-Xmx256m -cp $cp -Dzookeeper.log.dir=$dir -Dzookeeper.root.logger=INFO,CONSOLE"
        exec setsid "$ZK_HOME/bin/zkServer.sh" start-foreground "$dir/zoo.cfg" \
            </dev/null >"$dir/zookeeper.log" 2>&1
    ) &
    echo $! >"$dir/zk.pid"
    echo "$port" >"$dir/zk.port"
    local deadline=$((SECONDS + ZK_START_TIMEOUT))
    until ruok "$port"; do
        if ! alive "$dir"; then
            tail -n 30 "$dir/zookeeper.log" >&2 || true
            die "ZooKeeper exited during start-up (log: $dir/zookeeper.log)"
        fi
        if [ $SECONDS -ge $deadline ]; then
            tail -n 30 "$dir/zookeeper.log" >&2 || true
            cmd_stop "$dir"
            die "ZooKeeper did not answer ruok on 127.0.0.1:$port within ${ZK_START_TIMEOUT}s"
        fi
        sleep 0.2
    done
    echo "$port"
}

cmd_stop() {
    local dir=$1 pid
    [ -f "$dir/zk.pid" ] || return 0
    pid=$(cat "$dir/zk.pid")
    if kill -0 "$pid" 2>/dev/null; then
        # setsid made the server a process-group leader: signal the whole group.
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        local deadline=$((SECONDS + ZK_STOP_TIMEOUT))
        while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$dir/zk.pid"
}

cmd_status() {
    local dir=$1
    alive "$dir" && ruok "$(cat "$dir/zk.port")"
}

[ $# -ge 2 ] || die "usage: $0 start <dir> [port] | stop <dir> | status <dir>"
case $1 in
    start) cmd_start "$2" "${3:-}" ;;
    stop) cmd_stop "$2" ;;
    status) cmd_status "$2" ;;
    *) die "unknown command '$1' (start, stop, status)" ;;
esac
