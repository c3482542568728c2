#!/usr/bin/env bash
# `uv lock` in an app directory with the testbed's uv and Python (see uv.sh).
#   uv-lock.sh APP_DIR [uv lock arguments...]
set -euo pipefail
app=${1:?usage: uv-lock.sh APP_DIR [uv lock arguments...]}
shift
exec "$(dirname "$0")/uv.sh" "$app" lock --quiet "$@"
