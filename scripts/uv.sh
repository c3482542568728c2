#!/usr/bin/env bash
# uv in an app directory with the testbed's uv (the version luban/uv pins) and a Python from
# the testbed mirror, so nothing depends on the host's Pythons. The tests and benchmarks lock
# and build with it.
#   uv.sh APP_DIR uv-arguments...
set -euo pipefail
source "$(dirname "$0")/lib.sh"
app=${1:?usage: uv.sh APP_DIR uv-arguments...}
shift
cd "$app"
UV_PYTHON_PREFERENCE=only-managed UV_PYTHON_INSTALL_DIR=$LUBAN_TESTBED/host-python \
  UV_PYTHON_DOWNLOADS_JSON_URL=$MIRROR_URL/python/downloads.json \
  exec "$LUBAN_BIN/uv" "$@"
