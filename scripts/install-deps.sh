#!/usr/bin/env bash
# Installs everything Kanal's build and tests need (Debian 12). Idempotent and
# fast on reruns: apt is skipped entirely when every package is installed, and
# npm ci is skipped when tests/integration/node_modules matches the lock file.
set -euo pipefail

cd "$(dirname "$0")/.."

PACKAGES=(
    build-essential cmake pkg-config git procps iproute2
    libuv1-dev libzookeeper-mt-dev zlib1g-dev libjansson-dev
    liblz4-dev libzstd-dev libsnappy-dev librdkafka-dev
    libcmocka-dev clang libclang-rt-14-dev libfuzzer-14-dev
    zookeeper default-jre-headless
    kcat python3 python3-confluent-kafka python3-kafka
    systemd
)
# node: prefer one already on PATH (the machines carry node 20); Debian's
# nodejs + npm only when there is none.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    SUDO=
    if [ "$(id -u)" -ne 0 ]; then
        SUDO=sudo
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    echo "install-deps: all ${#PACKAGES[@]} Debian packages present"
fi

# kafkajs for the integration tests, pinned by package-lock.json.
stamp=tests/integration/node_modules/.kanal-lock-stamp
if [ -f "$stamp" ] && cmp -s "$stamp" tests/integration/package-lock.json; then
    echo "install-deps: kafkajs up to date"
else
    echo "install-deps: npm ci in tests/integration"
    (cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
    cp tests/integration/package-lock.json "$stamp"
fi
