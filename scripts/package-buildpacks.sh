#!/usr/bin/env bash
# Compiles the buildpacks as static binaries and lays each out as a buildpack directory under
# target/buildpacks/, then packages the composite luban/python as target/luban_python.cnb.
#   --uv-inventory FILE   replace luban/uv's [metadata.uv] with FILE (the offline mirror's)
# Release builds use the musl target (GitHub Actions); this machine has no musl target, so
# the gnu target with a static C runtime gives the same kind of self-contained binary.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

inventory=""
while [ $# -gt 0 ]; do
  case $1 in
    --uv-inventory) inventory=$2; shift 2 ;;
    *) die "unknown argument $1" ;;
  esac
done

arch=$(uname -m)
if [ -n "${LUBAN_TARGET:-}" ]; then target=$LUBAN_TARGET
elif rustup target list --installed 2>/dev/null | grep -qx "$arch-unknown-linux-musl"; then target=$arch-unknown-linux-musl
else target=$arch-unknown-linux-gnu; export RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static"
fi
log "Compiling the buildpacks for $target"
(cd "$LUBAN_ROOT" && cargo build --quiet --release --locked --target "$target" --workspace --bins)
bin_dir=$LUBAN_ROOT/target/$target/release

out=$LUBAN_ROOT/target/buildpacks
rm -rf "$out" && mkdir -p "$out"
for bp in uv python-uv procfile run-user; do
  dir=$out/luban_$bp
  mkdir -p "$dir/bin"
  if [ "$bp" = uv ] && [ -n "$inventory" ]; then
    # Everything before [metadata.uv] (and its comment block) stays; the inventory is replaced.
    awk '/^# The uv release this buildpack installs/ {exit} /^\[metadata.uv\]/ {exit} {print}' \
      "$LUBAN_ROOT/buildpacks/$bp/buildpack.toml" > "$dir/buildpack.toml"
    cat "$inventory" >> "$dir/buildpack.toml"
  else
    cp "$LUBAN_ROOT/buildpacks/$bp/buildpack.toml" "$dir/"
  fi
  install -m 0755 "$bin_dir/luban-$bp" "$dir/bin/build"
  ln -s build "$dir/bin/detect"
done
mkdir -p "$out/luban_run-user/exec.d"
install -m 0755 "$bin_dir/refuse-root" "$out/luban_run-user/exec.d/refuse-root"

ensure_engine
log "Packaging luban/python"
(cd "$LUBAN_ROOT" && pack buildpack package "$LUBAN_ROOT/target/luban_python.cnb" \
  --config package.toml --format file --target "linux/$( [ "$arch" = x86_64 ] && echo amd64 || echo arm64 )" >/dev/null)
log "Buildpacks in $out, package target/luban_python.cnb"
