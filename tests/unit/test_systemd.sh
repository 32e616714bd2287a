#!/bin/sh
# The systemd units and snippets in conf/systemd/ must pass
# `systemd-analyze verify` (no warnings either). ExecStart points at
# /usr/sbin/kanald, which verify wants to exist, so the unit is checked as a
# copy whose ExecStart is the kanald under test ($KANAL_BIN, else /bin/true).
# Skips (exit 0 with a message) where systemd-analyze is missing.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)/conf/systemd
if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "SKIP: systemd-analyze not installed (apt-get install systemd)"
    exit 0
fi
bin=${KANAL_BIN:-/bin/true}
[ -x "$bin" ] || bin=/bin/true
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
for unit in "$src"/*.service; do
    name=$(basename "$unit")
    sed "s#/usr/sbin/kanald#$bin#g" "$unit" >"$tmp/$name"
    # An instance name too: %i expands in ExecStart and ConditionPathExists.
    inst=$(echo "$name" | sed 's/@\.service$/@1.service/')
    [ "$inst" != "$name" ] && cp "$tmp/$name" "$tmp/$inst"
    for u in "$tmp/$name" ${inst:+"$tmp/$inst"}; do
        [ -f "$u" ] || continue
        out=$(cd "$tmp" && systemd-analyze verify "$u" 2>&1)
        rc=$?
        if [ $rc -ne 0 ] || [ -n "$out" ]; then
            echo "FAIL: systemd-analyze verify $(basename "$u") (rc $rc):"
            echo "$out"
            fail=1
        else
            echo "ok: $(basename "$u")"
        fi
    done
    # Things the unit must keep (issue 6): readiness, restarts, sandbox, user.
    for want in '^Type=notify' '^Restart=on-failure' '^LimitNOFILE=' '^ProtectSystem=strict' \
        '^ReadWritePaths=' '^NoNewPrivileges=yes' '^PrivateTmp=yes' '^User=kanal' \
        '^Wants=.*zookeeper.service' '^After=.*zookeeper.service'; do
        if ! grep -q "$want" "$unit"; then
            echo "FAIL: $name lacks $want"
            fail=1
        fi
    done
done
# sysusers/tmpfiles snippets parse (--dry-run needs no root).
if command -v systemd-sysusers >/dev/null 2>&1 && [ -f "$src/kanal.sysusers.conf" ]; then
    if out=$(systemd-sysusers --dry-run "$src/kanal.sysusers.conf" 2>&1); then
        echo "ok: kanal.sysusers.conf"
    else
        echo "FAIL: systemd-sysusers --dry-run kanal.sysusers.conf:"; echo "$out"; fail=1
    fi
fi
if command -v systemd-tmpfiles >/dev/null 2>&1 && [ -f "$src/kanal.tmpfiles.conf" ]; then
    # --dry-run is newer than Debian 12's systemd; parse with a harmless root.
    if out=$(systemd-tmpfiles --root="$tmp/root" --create "$src/kanal.tmpfiles.conf" 2>&1 | grep -iv "failed to resolve user\|failed to resolve group\|unknown user\|unknown group"); [ -z "$out" ]; then
        echo "ok: kanal.tmpfiles.conf"
    else
        echo "FAIL: systemd-tmpfiles kanal.tmpfiles.conf:"; echo "$out"; fail=1
    fi
fi
exit $fail
