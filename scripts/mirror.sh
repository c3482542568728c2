#!/usr/bin/env bash
# Starts or stops the HTTP server for the local mirror (127.0.0.1:$MIRROR_PORT).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
pidfile=$LUBAN_TESTBED/mirror.pid
# The mirror directory carries an id, so a server on the port that serves another testbed's
# mirror (whose files have other checksums) is noticed instead of used.
id_file=$LUBAN_TESTBED/mirror/testbed-id
serving_ours() { [ "$(curl -fsS "$MIRROR_URL/testbed-id" 2>/dev/null)" = "$(cat "$id_file")" ]; }

case ${1:-start} in
  start)
    [ -f "$id_file" ] || od -An -N8 -tx8 /dev/urandom | tr -d ' ' > "$id_file"
    serving_ours && exit 0
    if curl -fsS -o /dev/null "$MIRROR_URL/" 2>/dev/null; then
      die "port $MIRROR_PORT serves another mirror; stop it or set MIRROR_PORT"
    fi
    nohup python3 -m http.server --bind 127.0.0.1 --directory "$LUBAN_TESTBED/mirror" "$MIRROR_PORT" \
      >"$LUBAN_TESTBED/mirror.log" 2>&1 &
    echo $! > "$pidfile"
    for _ in $(seq 50); do serving_ours && exit 0; sleep 0.1; done
    die "the mirror server did not start (see $LUBAN_TESTBED/mirror.log)"
    ;;
  stop) [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null; rm -f "$pidfile" ;;
  *) die "usage: mirror.sh start|stop" ;;
esac
