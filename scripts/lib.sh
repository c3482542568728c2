# Shared settings for the Luban scripts. Sourced, never run.
# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables are for the scripts that source this file

LUBAN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The testbed's settings: defined here once, exported for every script, test (Rust and Go)
# and benchmark, which read them from the environment and have no defaults of their own.
TESTBED_NAME=luban-testbed
# Everything the scripts make that is not source: tools, rootfs, mirror, registry, caches.
# Kept outside the clone so repeated runs (and fresh clones on the same machine) reuse it.
export LUBAN_TESTBED=${LUBAN_TESTBED:-${XDG_CACHE_HOME:-$HOME/.cache}/$TESTBED_NAME}
LUBAN_BIN=$LUBAN_TESTBED/bin
# pack's cache volumes for the testbed's builds.
export PACK_VOLUME_KEY=${PACK_VOLUME_KEY:-$TESTBED_NAME}

PACK_VERSION=0.38.2
# The vulnerability gate's scanner (deploy/gate): the tests', and the gate image's.
OSV_SCANNER_VERSION=2.3.2
# cosign, for the signing and verification steps' tests (the steps' image is cosign's own, of
# this version).
export COSIGN_VERSION=2.6.1
# kustomize, for the GitOps step's tests (the step's Argo CD image has its own).
KUSTOMIZE_VERSION=5.5.0
# The secret scan of luban-build (gitleaks): the tests', and the gate image's.
GITLEAKS_VERSION=8.30.1
# The forge of the pipeline's tests (Git over HTTPS, webhooks, commit statuses), built from the
# Go module proxy; the port it listens on (127.0.0.1, TLS from the testbed CA).
GITEA_VERSION=1.26.0
export GITEA_PORT=${GITEA_PORT:-18082}

# The single-node cluster (scripts/cluster.sh): Kubernetes built from the Go module proxy, its
# API server's port and the kubeconfig the tests use.
KUBERNETES_VERSION=1.30.4
CLUSTER_API_PORT=${CLUSTER_API_PORT:-16443}
export CLUSTER_KUBECONFIG=$LUBAN_TESTBED/cluster/pki/admin.kubeconfig
# The node's pod network, for pods that don't use the host's: a bridge on the host with this
# subnet and no route beyond it. Such pods reach the API server (a relay) and the event bus at
# the gateway, the bridge's own address.
export CLUSTER_POD_SUBNET=${CLUSTER_POD_SUBNET:-10.244.0.0/24}
export CLUSTER_POD_GATEWAY=${CLUSTER_POD_GATEWAY:-10.244.0.1}
# The event bus of Argo Events on the node: a NATS server with JetStream (TLS) at the gateway.
NATS_SERVER_VERSION=2.10.27
export CLUSTER_NATS_URL=nats://$CLUSTER_POD_GATEWAY:$((CLUSTER_API_PORT + 7))
# Its user and password, as the EventBus's accessSecret holds them (cluster.sh makes them).
export CLUSTER_NATS_AUTH=$LUBAN_TESTBED/cluster/pki/nats-auth.yaml
# The tests' Git server, on a port the cluster relays into kpack's controller.
export CLUSTER_GIT_PORT=$((CLUSTER_API_PORT + 14))

# The controllers the cluster runs (Argo Workflows, ...) are at the versions of their Go modules
# in deploy/tests/go.mod, whose types the manifests are checked with: one definition of each.
deploy_module_version() { (cd "$LUBAN_ROOT/deploy/tests" && go list -m -f '{{.Version}}' "$1"); }

# Python versions the local mirror offers, built from the machine's pyenv builds: by default
# every CPython 3.9 or newer that pyenv has (an air-gapped site mirrors every version its teams
# pin); set MIRROR_PYTHONS="3.12.1 3.13.0" to offer only some.
pyenv_pythons() {
  local root version
  root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
  for version in "$root"/versions/3.*; do
    version=${version##*/}
    [[ $version =~ ^3\.(9|[1-9][0-9])\.[0-9]+$ ]] && [ -x "$root/versions/$version/bin/python3" ] &&
      echo "$version"
  done | sort -V | paste -sd' '
}
MIRROR_PYTHONS=${MIRROR_PYTHONS:-$(pyenv_pythons)}
MIRROR_PORT=${MIRROR_PORT:-18080}
export MIRROR_URL="http://127.0.0.1:$MIRROR_PORT"
REGISTRY_PORT=${REGISTRY_PORT:-15443}
export REGISTRY=127.0.0.1:$REGISTRY_PORT
# The private package index (basic auth) the end-to-end tests start.
export PRIVATE_INDEX_PORT=${PRIVATE_INDEX_PORT:-18081}

# Images. (Builders are not localhost/...: images made through the Docker API would be stored
# as docker.io/localhost/..., which the docker CLI then can't name.)
stack_image() { echo "localhost/luban/$1:$2"; } # kind (build|run) stack
builder_image() { echo "luban/builder:$1"; }    # stack
BASE_IMAGE=localhost/luban/debian-rootfs:bookworm
export BUILD_IMAGE RUN_IMAGE BUILDER_IMAGE REGISTRY_RUN_IMAGE
BUILD_IMAGE=$(stack_image build bookworm)
RUN_IMAGE=$(stack_image run bookworm)
BUILDER_IMAGE=$(builder_image bookworm)
# The run image as --publish builds read it: pushed to the testbed registry.
REGISTRY_RUN_IMAGE=$REGISTRY/luban/run:bookworm

export PATH="$LUBAN_BIN:$PATH"
export CONTAINERS_CONF="$LUBAN_ROOT/testbed/containers.conf"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
# The directory of a module version fetched through the Go module proxy (the module cache's).
module_dir() { # module@version
  local dir
  dir=$(go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [ -n "$dir" ] || die "could not fetch $1 from the Go module proxy"
  echo "$dir"
}
# The repository's own settings read from its TOML files (crates/luban-xtask).
xtask() { (cd "$LUBAN_ROOT" && cargo xtask "$@"); }

# The one engine choice: a running Docker daemon as it is, unless LUBAN_FORCE_PODMAN is set or
# DOCKER_HOST already points somewhere (podman's socket, once ensure_engine has run).
docker_daemon_usable() {
  [ -z "${LUBAN_FORCE_PODMAN:-}" ] && [ -z "${DOCKER_HOST:-}" ] && have docker && docker info >/dev/null 2>&1
}

# Makes sure pack and the docker CLI have an engine: a running Docker daemon as it is, else
# podman's Docker-compatible API on a socket of our own (started once, left running).
ensure_engine() {
  if docker_daemon_usable; then
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
