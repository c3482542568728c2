#!/usr/bin/env bash
# Creates the builder luban/builder:<stack> from the local stack images. (Not localhost/...:
# images made through the Docker API would be stored as docker.io/localhost/..., which the
# docker CLI then can't name.)
#   bookworm (default)  offline: luban/uv's inventory points at the local mirror, and the
#                       lifecycle is the tarball built from the Go module (builders/bookworm.toml)
#   bookworm-floor      the benchmarks' lifecycle-floor builder (bench/floor-builder.toml)
#   al2023              the release builder.toml with the local AL2023 images; the release uv
#                       inventory and lifecycle download (needs the internet)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
stack=${1:-bookworm}
image=luban/builder:$stack
config=$LUBAN_ROOT/target/builder-$stack.toml

offline_config() { # source: the lifecycle from the local tarball, paths made absolute
  mkdir -p "$(dirname "$config")"
  sed -e "s|^version = \"$LIFECYCLE_VERSION\"|uri = \"$LUBAN_TESTBED/lifecycle-$LIFECYCLE_VERSION.tgz\"|" \
      -e "s|\"../target/|\"$LUBAN_ROOT/target/|" \
      -e "s|^uri = \"floor-buildpack\"|uri = \"$LUBAN_ROOT/bench/floor-buildpack\"|" \
      "$1" > "$config"
  grep -q '^uri = ".*lifecycle' "$config" || die "$1 must pin [lifecycle] version = \"$LIFECYCLE_VERSION\""
}

case $stack in
  bookworm)
    "$LUBAN_ROOT/scripts/package-buildpacks.sh" --uv-inventory "$LUBAN_TESTBED/mirror/uv-inventory.toml"
    offline_config "$LUBAN_ROOT/builders/bookworm.toml"
    ;;
  bookworm-floor) offline_config "$LUBAN_ROOT/bench/floor-builder.toml" ;;
  al2023)
    "$LUBAN_ROOT/scripts/package-buildpacks.sh"
    mkdir -p "$(dirname "$config")"
    sed -e "s|ghcr.io/luban-buildpacks/\(build\|run\):al2023|localhost/luban/\1:al2023|" \
        -e "s|\"target/|\"$LUBAN_ROOT/target/|" \
        "$LUBAN_ROOT/builder.toml" > "$config"
    ;;
  *) die "unknown stack '$stack' (bookworm, bookworm-floor or al2023)" ;;
esac

ensure_engine
log "Creating $image"
pack builder create "$image" --config "$config" --pull-policy never >/dev/null
pack config trusted-builders add "$image" >/dev/null 2>&1 || true
log "Builder ready: $image"
