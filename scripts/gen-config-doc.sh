#!/bin/sh
# docs/configuration.md is generated from src/broker/config.c.
#   gen-config-doc.sh --write GEN_BINARY DOC   rewrite DOC
#   gen-config-doc.sh --check GEN_BINARY DOC   fail if DOC is stale
# GEN_BINARY is tests/unit/gen_config_doc.c built (target gen_config_doc).
set -eu
mode=${1:-}; gen=${2:-}; doc=${3:-}
if [ -z "$mode" ] || [ -z "$gen" ] || [ -z "$doc" ]; then
    echo "usage: $0 --write|--check GEN_BINARY DOC" >&2
    exit 2
fi
tmp=$(mktemp "${TMPDIR:-/tmp}/kanal-config-doc.XXXXXX")
trap 'rm -f "$tmp"' EXIT
"$gen" > "$tmp"
case "$mode" in
--write)
    cp "$tmp" "$doc"
    echo "wrote $doc"
    ;;
--check)
    if ! cmp -s "$tmp" "$doc"; then
        echo "$doc is out of date with src/broker/config.c; run: cmake --build <build-dir> --target gen-config-doc" >&2
        diff -u "$doc" "$tmp" | head -n 40 >&2 || true
        exit 1
    fi
    echo "$doc is up to date"
    ;;
*)
    echo "unknown mode $mode" >&2
    exit 2
    ;;
esac
