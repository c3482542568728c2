#!/usr/bin/env bash
# Makes the local mirror an air-gapped site would run, from what this machine can reach:
#   uv/<version>/uv-<arch>-unknown-linux-musl.tar.gz   uv from its PyPI wheel, in the release layout
#   python/cpython-<v>.tar.gz + python/downloads.json  relocatable CPython from the machine's
#                                                      pyenv builds, listed the way uv reads them
#   uv-inventory.toml                                  [metadata.uv] for the test builder: the
#                                                      mirror's URLs and checksums
# and serves it on 127.0.0.1:$MIRROR_PORT (scripts/mirror.sh). Idempotent.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

mirror=$LUBAN_TESTBED/mirror
UV_VERSION=$(xtask uv-version)
mkdir -p "$mirror/uv/$UV_VERSION" "$mirror/python"
arch=$(uname -m)
case $arch in x86_64) goarch=amd64 ;; aarch64) goarch=arm64 ;; *) die "unsupported machine $arch" ;; esac
uv_file=uv-$arch-unknown-linux-musl.tar.gz

if ! [ -f "$mirror/uv/$UV_VERSION/$uv_file" ]; then
  log "Mirroring uv $UV_VERSION from its PyPI wheel"
  work=$(mktemp -d)
  pip download -q --no-deps --only-binary=:all: --platform "manylinux_2_17_$arch" \
    "uv==$UV_VERSION" -d "$work"
  python3 -m zipfile -e "$work"/uv-*.whl "$work/wheel"
  mkdir -p "$work/uv-$arch-unknown-linux-musl"
  install -m 0755 "$work/wheel/uv-$UV_VERSION.data/scripts/uv" "$work/wheel/uv-$UV_VERSION.data/scripts/uvx" \
    "$work/uv-$arch-unknown-linux-musl/"
  tar -C "$work" -czf "$mirror/uv/$UV_VERSION/$uv_file.tmp" "uv-$arch-unknown-linux-musl"
  mv "$mirror/uv/$UV_VERSION/$uv_file.tmp" "$mirror/uv/$UV_VERSION/$uv_file"
  rm -rf "$work"
fi
# A host copy for the uv floor benchmark and for making fixtures' locks.
mkdir -p "$LUBAN_BIN"
tar -xzf "$mirror/uv/$UV_VERSION/$uv_file" -C "$LUBAN_BIN" --strip-components=1 "uv-$arch-unknown-linux-musl/uv"

xtask uv-mirror-inventory --version "$UV_VERSION" --base-url "$MIRROR_URL/uv" --arch "$goarch" \
  --tarball "$mirror/uv/$UV_VERSION/$uv_file" --out "$mirror/uv-inventory.toml"

pyenv_root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
for version in $MIRROR_PYTHONS; do
  tarball=$mirror/python/cpython-$version.tar.gz
  [ -f "$tarball" ] && continue
  src=$pyenv_root/versions/$version
  [ -x "$src/bin/python3" ] || die "no pyenv build of Python $version in $pyenv_root/versions (set MIRROR_PYTHONS)"
  log "Making a relocatable CPython $version from $src"
  minor=${version%.*}
  work=$(mktemp -d)
  cp -a "$src" "$work/python"
  lib=$work/python/lib/python$minor
  rm -rf "$lib/test" "$lib/idlelib" "$lib/tkinter" "$lib/turtledemo" "$lib/lib-dynload"/_tkinter*.so \
    "$lib/site-packages"/* "$work/python/lib"/libpython*.a "$lib"/config-*/libpython*.a
  find "$work/python" -name __pycache__ -prune -exec rm -rf {} +
  # shellcheck disable=SC2016 # $ORIGIN is for the dynamic linker, not the shell
  patchelf --set-rpath '$ORIGIN/../lib' "$work/python/bin/python$minor"
  # shellcheck disable=SC2016
  for so in "$lib/lib-dynload"/*.so; do patchelf --set-rpath '$ORIGIN/../..' "$so"; done
  tar -C "$work" -czf "$tarball.tmp" python && mv "$tarball.tmp" "$tarball"
  rm -rf "$work"
done

read -ra versions <<< "$MIRROR_PYTHONS"
python3 - "$mirror/python" "$MIRROR_URL" "$arch" "${versions[@]}" <<'PY'
import hashlib, json, sys
directory, url, arch, *versions = sys.argv[1:]
entries = {}
for version in versions:
    major, minor, patch = version.split(".")
    path = f"{directory}/cpython-{version}.tar.gz"
    sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
    entries[f"cpython-{version}-linux-{arch}-gnu"] = {
        "name": "cpython", "arch": {"family": arch, "variant": None}, "os": "linux", "libc": "gnu",
        "major": int(major), "minor": int(minor), "patch": int(patch), "prerelease": "",
        "url": f"{url}/python/cpython-{version}.tar.gz", "sha256": sha, "variant": None, "build": "local",
    }
json.dump(entries, open(f"{directory}/downloads.json", "w"), indent=2)
PY
log "Mirror ready in $mirror: uv $UV_VERSION, CPython $MIRROR_PYTHONS"
