#!/usr/bin/env bash
# Starts or stops the HTTP server for the local mirror (127.0.0.1:$MIRROR_PORT).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
pidfile=$LUBAN_TESTBED/mirror.pid
case ${1:-start} in
  start)
    if curl -fsS -o /dev/null "$MIRROR_URL/uv-inventory.toml" 2>/dev/null; then exit 0; fi
    nohup python3 -m http.server --bind 127.0.0.1 --directory "$LUBAN_TESTBED/mirror" "$MIRROR_PORT" \
      >"$LUBAN_TESTBED/mirror.log" 2>&1 &
    echo $! > "$pidfile"
    for _ in $(seq 50); do curl -fsS -o /dev/null "$MIRROR_URL/uv-inventory.toml" 2>/dev/null && exit 0; sleep 0.1; done
    die "the mirror server did not start (see $LUBAN_TESTBED/mirror.log)"
    ;;
  stop) [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null; rm -f "$pidfile" ;;
  *) die "usage: mirror.sh start|stop" ;;
esac
