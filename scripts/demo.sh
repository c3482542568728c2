#!/usr/bin/env bash
# make demo: from a fresh machine to a running app image.
#   1. installs what is missing (container engine, pack, lifecycle),
#   2. builds the stack (AL2023 where its base images can be pulled, else the bookworm twin),
#   3. makes the local uv/CPython mirror, packages the buildpacks, creates the builder,
#   4. builds test-fixtures/web_flask with pack, starts it, and prints its HTTP answer,
#      the user it runs as and the image size.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
started=$(date +%s)

"$LUBAN_ROOT/scripts/install-tools.sh"
stack=$("$LUBAN_ROOT/scripts/build-stack.sh" "${STACK:-auto}")
"$LUBAN_ROOT/scripts/make-mirror.sh"
"$LUBAN_ROOT/scripts/mirror.sh" start
"$LUBAN_ROOT/scripts/create-builder.sh" "$stack"
export LUBAN_BUILDER=luban/builder:$stack
[ "$stack" = bookworm ] || export LUBAN_PYTHON_MIRROR=off

image=luban-demo/web-flask
log "pack build $image --builder $LUBAN_BUILDER --path test-fixtures/web_flask"
build_started=$(date +%s)
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
