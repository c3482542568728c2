#!/usr/bin/env bash
# Creates the offline bookworm builder: the test inventory (local mirror) in luban/uv, the
# lifecycle tarball built from the Go module, and the local stack images.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

"$LUBAN_ROOT/scripts/package-buildpacks.sh" --uv-inventory "$LUBAN_TESTBED/mirror/uv-inventory.toml"

config=$LUBAN_ROOT/target/builder-bookworm.offline.toml
sed -e "s|^version = \"$LIFECYCLE_VERSION\"|uri = \"$LUBAN_TESTBED/lifecycle-$LIFECYCLE_VERSION.tgz\"|" \
    -e "s|\"../target/|\"$LUBAN_ROOT/target/|" \
    "$LUBAN_ROOT/builders/bookworm.toml" > "$config"
grep -q '^uri = ".*lifecycle' "$config" || die "builders/bookworm.toml must pin [lifecycle] version = \"$LIFECYCLE_VERSION\""

log "Creating $BUILDER_IMAGE"
ensure_engine
pack builder create "$BUILDER_IMAGE" --config "$config" --pull-policy never >/dev/null
pack config trusted-builders add "$BUILDER_IMAGE" >/dev/null 2>&1 || true
log "Builder ready: $BUILDER_IMAGE"
