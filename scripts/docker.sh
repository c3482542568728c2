#!/usr/bin/env bash
# The docker CLI pointed at the testbed's engine (a Docker daemon, or podman's API socket).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_engine
exec docker "$@"
