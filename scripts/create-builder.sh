#!/usr/bin/env bash
# Creates the builder luban/builder:<stack> from the local stack images, with a config written
# by `cargo xtask builder-config` (a TOML library, never text edits). The builder carries the
# digest of the sources it was made from (label io.luban.sources), which the end-to-end tests
# compare with the working tree.
#   bookworm (default)  offline: luban/uv's inventory points at the local mirror, and the
#                       lifecycle is the tarball built from the Go module (builders/bookworm.toml)
#   bookworm-floor      the benchmarks' lifecycle-floor builder (bench/floor-builder.toml)
#   al2023              the release builder.toml with the local AL2023 images; the release uv
#                       inventory and lifecycle download (needs the internet)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
stack=${1:-bookworm}
image=$(builder_image "$stack")
config=$LUBAN_ROOT/target/builder-$stack.toml
offline=(--lifecycle-uri "$LUBAN_TESTBED/lifecycle-$(xtask lifecycle-version).tgz"
  --build-image "$BUILD_IMAGE" --run-image "$RUN_IMAGE")

case $stack in
  bookworm)
    "$LUBAN_ROOT/scripts/package-buildpacks.sh" --uv-inventory "$LUBAN_TESTBED/mirror/uv-inventory.toml"
    xtask builder-config --config "$LUBAN_ROOT/builders/bookworm.toml" --out "$config" "${offline[@]}"
    ;;
  bookworm-floor)
    xtask builder-config --config "$LUBAN_ROOT/bench/floor-builder.toml" --out "$config" "${offline[@]}"
    ;;
  al2023)
    "$LUBAN_ROOT/scripts/package-buildpacks.sh"
    xtask builder-config --config "$LUBAN_ROOT/builder.toml" --out "$config" \
      --build-image "$(stack_image build al2023)" --run-image "$(stack_image run al2023)"
    ;;
  *) die "unknown stack '$stack' (bookworm, bookworm-floor or al2023)" ;;
esac

label=$(xtask builder-label)
ensure_engine
log "Creating $image"
pack builder create "$image" --config "$config" --pull-policy never --label "$label" >/dev/null
pack config trusted-builders add "$image" >/dev/null 2>&1 || true
log "Builder ready: $image"
