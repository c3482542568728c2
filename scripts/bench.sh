#!/usr/bin/env bash
# make bench: the benchmark table (bench/bench.py) with the same testbed and builder as
# make test. RUNS=<n> (default 3) and BENCH_FIXTURES="bench_small bench_large" narrow it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
"$LUBAN_ROOT/scripts/install-tools.sh"
"$LUBAN_ROOT/scripts/build-stack.sh" bookworm >/dev/null
"$LUBAN_ROOT/scripts/make-mirror.sh"
"$LUBAN_ROOT/scripts/mirror.sh" start
"$LUBAN_ROOT/scripts/registry.sh" start
"$LUBAN_ROOT/scripts/create-builder.sh" bookworm
"$LUBAN_ROOT/scripts/create-builder.sh" bookworm-floor
ensure_engine
FLOOR_BUILDER_IMAGE=$(builder_image bookworm-floor)
export FLOOR_BUILDER_IMAGE RUN_IMAGE ENGINE
exec python3 "$LUBAN_ROOT/bench/bench.py"
