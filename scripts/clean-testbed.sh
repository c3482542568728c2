#!/usr/bin/env bash
# make clean-testbed: stops the testbed's mirror, registry and forge and removes its directory (the
# one scripts/lib.sh defines, so LUBAN_TESTBED and XDG_CACHE_HOME are honoured).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
"$LUBAN_ROOT/scripts/mirror.sh" stop || true
"$LUBAN_ROOT/scripts/registry.sh" stop || true
"$LUBAN_ROOT/scripts/gitea.sh" stop || true
"$LUBAN_ROOT/scripts/cluster.sh" down || true
log "Removing $LUBAN_TESTBED"
rm -rf "$LUBAN_TESTBED"
