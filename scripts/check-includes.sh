#!/bin/sh
# Fails when a module includes a header of a module it may not depend on
# (docs/architecture.md): util <- proto <- log; util <- net;
# {util, proto, net} <- cluster; everything <- broker; util <- cli.
# Also: nothing under include/ may include a private _int.h header.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
allowed() {
  case "$1" in
    util) echo "util" ;;
    proto) echo "util proto" ;;
    log) echo "util proto log" ;;
    net) echo "util net" ;;
    cluster) echo "util proto net cluster" ;;
    group) echo "util proto group" ;;
    broker) echo "util proto log net cluster group broker" ;;
    cli) echo "util cli" ;;
    *) echo "" ;;
  esac
}
bad=0
checked=0
for mod in util proto log net cluster group broker cli; do
  ok=$(allowed "$mod")
  for f in $(find "src/$mod" "include/kanal/$mod" -name '*.[ch]' 2>/dev/null); do
    checked=$((checked + 1))
    for dep in $(sed -n 's/^#include "kanal\/\([a-z]*\)\/.*/\1/p' "$f" | sort -u); do
      case " $ok " in
        *" $dep "*) ;;
        *) echo "FORBIDDEN: $f includes kanal/$dep/ (module $mod may use: $ok)"; bad=$((bad + 1)) ;;
      esac
    done
  done
done
for f in $(find include -name '*.h'); do
  if grep -q '^#include ".*_int\.h"' "$f"; then
    echo "FORBIDDEN: public header $f includes a private _int.h"; bad=$((bad + 1))
  fi
done
echo "checked $checked files: $((checked - bad)) passed, $bad failed"
[ "$bad" -eq 0 ]
