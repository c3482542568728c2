#!/usr/bin/env bash
# make demo: from a fresh machine to a running app image, installing only what the demo needs
# (the test tools come with `make test`). One line per phase, with its duration:
#   engine      a container engine and the Debian tools (apt; first, alone)
#   then, side by side, the network/disk-bound and the CPU-bound work:
#   stack       the stack images (AL2023 where its base images can be pulled, else the bookworm
#               twin from a rootfs bootstrapped from Debian packages)
#   pack        pack and the lifecycle, built from the Go module proxy
#   mirror      the local uv/CPython mirror, then
#   buildpacks  the buildpacks compiled (static; the dev profile, as `cargo libcnb package` does)
#   builder     the buildpacks packaged and the builder created
#   app         test-fixtures/web_flask built with pack, started, queried: its HTTP answer, the
#               user it runs as and the image size.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
started=$(date +%s)
logs=$LUBAN_TESTBED/logs/demo
mkdir -p "$logs"

phase_line() { printf '  %-11s %4ss  %s\n' "$1" "$2" "$3" >&2; }

# phase NAME DESCRIPTION COMMAND...: runs COMMAND with its output in the phase's log; on failure
# prints the log's end and stops the demo.
phase() {
  local name=$1 what=$2 start status=0
  shift 2
  start=$(date +%s)
  "$@" >"$logs/$name.log" 2>&1 || status=$?
  phase_line "$name" $(( $(date +%s) - start )) "$what"
  if [ "$status" != 0 ]; then
    tail -n 30 "$logs/$name.log" >&2
    die "phase $name failed (whole log: $logs/$name.log)"
  fi
}

# The demo compiles the way `cargo libcnb package` does by default: the buildpacks with the dev
# profile (unoptimised, stripped: 114 CPU-seconds, against 194 for the release profile without
# LTO; docs/measurements.md), cargo xtask without debug info (48 instead of 64). The code is the
# same; CI and `make test` build the release profile. Both `xtask package` runs (the buildpacks
# phase and the builder's) see the same profile, so the second compiles nothing.
export LUBAN_BUILDPACKS_PROFILE=dev CARGO_PROFILE_DEV_DEBUG=0
log "Luban demo: phases and their durations (logs in $logs)"
phase engine "container engine and Debian tools" "$LUBAN_ROOT/scripts/install-tools.sh" --engine

# The buildpacks' compile is the longest CPU-bound phase, so it goes first in line: the stack
# (network and disk) starts at once, the Go builds of pack and the lifecycle and the mirror
# beside it at a lower priority (both wait for cargo xtask where they need it). Separate cargo
# build directories (debug for cargo xtask, release for the buildpacks) keep the two compiles
# from waiting on each other's lock.
stack_file=$logs/stack.name
build_stack() { "$LUBAN_ROOT/scripts/build-stack.sh" "${STACK:-auto}" >"$stack_file"; }
phase stack "stack images" build_stack &
stack_pid=$!
phase pack "pack and the lifecycle from the Go module proxy" nice -n 10 "$LUBAN_ROOT/scripts/install-tools.sh" --pack-lifecycle &
pack_pid=$!
phase mirror "local uv/CPython mirror" nice -n 10 "$LUBAN_ROOT/scripts/make-mirror.sh" &
mirror_pid=$!
phase xtask "the repository's build tool (cargo xtask)" cargo build -q -p luban-xtask --manifest-path "$LUBAN_ROOT/Cargo.toml"
phase buildpacks "buildpacks compiled (dev profile, as \`cargo libcnb package\` does)" xtask package
for job in stack:$stack_pid pack:$pack_pid mirror:$mirror_pid; do
  wait "${job#*:}" || die "phase ${job%%:*} failed (see $logs/${job%%:*}.log)"
done
"$LUBAN_ROOT/scripts/mirror.sh" start
stack=$(cat "$stack_file")
phase builder "builder luban/builder:$stack" "$LUBAN_ROOT/scripts/create-builder.sh" "$stack"
export LUBAN_BUILDER=luban/builder:$stack
[ "$stack" = bookworm ] || export LUBAN_PYTHON_MIRROR=off

image=luban-demo/web-flask
build_started=$(date +%s)
phase app "pack build $image --builder $LUBAN_BUILDER --path test-fixtures/web_flask" \
  "$LUBAN_ROOT/scripts/pack-build.sh" "$image" --path "$LUBAN_ROOT/test-fixtures/web_flask"
build_seconds=$(( $(date +%s) - build_started ))

ensure_engine
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
container=$(docker run -d --network host --env "PORT=$port" "$image")
trap 'docker rm -f "$container" >/dev/null 2>&1 || true' EXIT
answer="" code=""
for _ in $(seq 60); do
  if answer=$(curl -fsS -w '\n%{http_code}' "http://127.0.0.1:$port/" 2>/dev/null); then break; fi
  sleep 0.5
done
code=$(tail -n1 <<<"$answer"); body=$(head -n1 <<<"$answer")
user=$(docker exec "$container" id)
size=$(docker image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1000/1000}')

echo
echo "Luban demo ($stack stack, builder $LUBAN_BUILDER)"
echo "  app answer:  HTTP ${code:-no answer} $body"
echo "  runs as:     $user"
echo "  image size:  $size ($image)"
echo "  pack build:  ${build_seconds}s; whole demo: $(( $(date +%s) - started ))s"
echo "  try:         docker run --rm --user 0 $image   # refused: the image never runs as root"
[ "$code" = 200 ] || die "the app did not answer HTTP 200; logs: $(docker logs "$container" 2>&1 | tail -20)"
echo
echo "Next: build your own uv project with this builder:"
echo "  $LUBAN_ROOT/scripts/pack-build.sh myapp --path /path/to/your/project"
echo "  docker run --rm -p 8080:8080 myapp"
echo "(pack-build.sh is \`pack build --builder $LUBAN_BUILDER\` with this machine's offline mirror;"
echo " the settings, BP_* and UV_*, are in README.md, \"Settings\".)"
