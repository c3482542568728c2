#!/usr/bin/env bash
# Compiles the buildpacks as static binaries and lays each out as a buildpack directory under
# target/buildpacks/ (`cargo xtask package`, through libcnb-package), then packages the
# composite luban/python as target/luban_python.cnb.
#   --uv-inventory FILE   replace luban/uv's [metadata.uv] with FILE (the offline mirror's)
# LUBAN_TARGET picks the target; by default the musl target where it is installed (release
# builds in GitHub Actions), else the gnu target with a static C runtime: this machine has no
# musl target, and that gives the same kind of self-contained binary.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

args=()
[ -z "${LUBAN_TARGET:-}" ] || args+=(--target "$LUBAN_TARGET")
while [ $# -gt 0 ]; do
  case $1 in
    --uv-inventory) args+=(--uv-inventory "$2"); shift 2 ;;
    *) die "unknown argument $1" ;;
  esac
done
xtask package "${args[@]}"

ensure_engine
log "Packaging luban/python"
arch=$(uname -m)
(cd "$LUBAN_ROOT" && pack buildpack package "$LUBAN_ROOT/target/luban_python.cnb" \
  --config package.toml --format file --target "linux/$( [ "$arch" = x86_64 ] && echo amd64 || echo arm64 )" >/dev/null)
log "Buildpacks in target/buildpacks, package target/luban_python.cnb"
