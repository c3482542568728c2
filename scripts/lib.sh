# Shared settings for the Luban scripts. Sourced, never run.
# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables are for the scripts that source this file

LUBAN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Everything the scripts make that is not source: tools, rootfs, mirror, registry, caches.
# Kept outside the clone so repeated runs (and fresh clones on the same machine) reuse it.
LUBAN_TESTBED=${LUBAN_TESTBED:-${XDG_CACHE_HOME:-$HOME/.cache}/luban-testbed}
LUBAN_BIN=$LUBAN_TESTBED/bin

LIFECYCLE_VERSION=0.21.14 # 0.21.15-0.21.17 write corrupt manifests on daemon export (lifecycle#1699)
PACK_VERSION=0.38.2
UV_VERSION=$(awk -F'"' '/^version = / && seen {print $2; exit} /^\[metadata.uv\]/ {seen=1}' "$LUBAN_ROOT/buildpacks/uv/buildpack.toml")

# Python versions the local mirror offers, built from the machine's pyenv builds.
MIRROR_PYTHONS=${MIRROR_PYTHONS:-"3.12.1 3.13.0"}
MIRROR_PORT=${MIRROR_PORT:-18080}
MIRROR_URL="http://127.0.0.1:$MIRROR_PORT"
REGISTRY_PORT=${REGISTRY_PORT:-15443}
REGISTRY=127.0.0.1:$REGISTRY_PORT

# Images.
BASE_IMAGE=localhost/luban/debian-rootfs:bookworm
BUILD_IMAGE=localhost/luban/build:bookworm
RUN_IMAGE=localhost/luban/run:bookworm
BUILDER_IMAGE=luban/builder:bookworm

export PATH="$LUBAN_BIN:$PATH"
export CONTAINERS_CONF="$LUBAN_ROOT/testbed/containers.conf"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

# Makes sure pack and the docker CLI have an engine: a running Docker daemon as it is, else
# podman's Docker-compatible API on a socket of our own (started once, left running).
ensure_engine() {
  if [ -z "${LUBAN_FORCE_PODMAN:-}" ] && [ -z "${DOCKER_HOST:-}" ] && have docker && docker info >/dev/null 2>&1 && ! have podman; then
    ENGINE=docker
    return
  fi
  ENGINE=podman
  local sock=$LUBAN_TESTBED/podman.sock
  export DOCKER_HOST=unix://$sock
  if ! curl -fsS --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; then
    mkdir -p "$LUBAN_TESTBED"
    rm -f "$sock"
    # Started from / : conmon inherits the service's working directory, and a clone that is
    # deleted later would leave every new container failing ("Failed to get working directory").
    # `exec` so no shell waits on it holding our stdout (a stage's tee would never end).
    (cd / && exec nohup podman system service --time=0 "unix://$sock" >"$LUBAN_TESTBED/podman-service.log" 2>&1) &
    for _ in $(seq 100); do
      curl -fsS --unix-socket "$sock" http://d/_ping >/dev/null 2>&1 && return
      sleep 0.1
    done
    die "podman's API service did not start (see $LUBAN_TESTBED/podman-service.log)"
  fi
}
