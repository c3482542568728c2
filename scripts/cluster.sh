#!/usr/bin/env bash
# A single-node Kubernetes cluster on 127.0.0.1, from what the testbed has: etcd, containerd
# and the CNI plugins from Debian, kube-apiserver, kube-controller-manager, kube-scheduler,
# kubelet and kube-proxy built from the Go module proxy (scripts/install-tools.sh).
#   cluster.sh up | down | status
# Every process listens on 127.0.0.1 and is stopped by `down`, which also forgets the cluster's
# state (etcd's data, the kubelet's pods and their containers and pulled images), removes the
# pods' network namespaces and puts back what `up` changed (ip_forward, the registry if `up`
# started it); the certificates and the pause image stay. Workflow pods share the host's
# network, so every listener there asks for credentials: etcd and its peers TLS with client
# certificates, the API server no anonymous requests, Redis a password, the event bus (on the
# pod network's gateway) TLS and a user and password.
# Pods that serve mostly use `hostNetwork: true`. The others get an address on the pod network,
# a bridge (luban0, $CLUSTER_POD_SUBNET) that `up` makes and `down` removes, with no route
# beyond it: they reach the API server through a relay at the bridge's address
# ($CLUSTER_POD_GATEWAY; their KUBERNETES_SERVICE_HOST must say so) and the event bus there.
# Nothing dials a ClusterIP. containerd pulls from the testbed registry with its CA.
# Limits (see docs/walkthrough.md): the kubelet refuses a loopback node IP, so the node has no
# address and the API server can't reach it for `kubectl logs`/`exec`; no DNS. kube-proxy serves
# NodePorts on 127.0.0.0/8 only.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

dir=$LUBAN_TESTBED/cluster
pki=$dir/pki
bin=$LUBAN_TESTBED/kubernetes-$KUBERNETES_VERSION/bin
sock=$dir/containerd/containerd.sock
node=luban-node
etcd_port=$((CLUSTER_API_PORT + 1))
etcd_peer_port=$((CLUSTER_API_PORT + 2))
# A sandbox ("pause") image made here from the run image: any image whose entrypoint blocks.
pause_image=localhost/luban/pause:1
bridge=luban0

# A CA, serving and client certificates, the service-account key pair and one kubeconfig per
# component (client certificates: admin is system:masters; the node is system:node:<name>).
make_pki() {
  # Made again when the pod network's gateway (in the API server's and NATS' names) changed,
  # or when a credential of a later version of this script is missing.
  [ -f "$CLUSTER_KUBECONFIG" ] && [ -f "$pki/nats.crt" ] && [ -f "$pki/etcd.crt" ] &&
    [ -f "$pki/redis.conf" ] && [ -f "$CLUSTER_NATS_AUTH" ] && [ -f "$pki/proxy.kubeconfig" ] &&
    openssl x509 -in "$pki/nats.crt" -noout -ext subjectAltName | grep -qxF "    IP Address:$CLUSTER_POD_GATEWAY" &&
    return 0
  rm -rf "$pki" && mkdir -p "$pki"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$TESTBED_NAME-cluster-ca" \
    -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
  cert() { # name subject [subjectAltName]
    openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$pki/$1.key" -out "$pki/$1.csr" 2>/dev/null
    {
      echo "basicConstraints=CA:FALSE"
      echo "extendedKeyUsage=serverAuth,clientAuth"
      [ -z "${3:-}" ] || echo "subjectAltName=$3"
    } >"$pki/$1.ext"
    openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
      -days 3650 -extfile "$pki/$1.ext" -out "$pki/$1.crt" 2>/dev/null
  }
  cert apiserver /CN=kube-apiserver \
    "IP:127.0.0.1,IP:$CLUSTER_POD_GATEWAY,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
  cert nats /CN=luban-nats "IP:$CLUSTER_POD_GATEWAY"
  cert etcd /CN=luban-etcd "IP:127.0.0.1"
  cert apiserver-etcd-client /CN=kube-apiserver-etcd-client
  # Passwords, in files only their programs read (never on a command line, which `ps` shows).
  (
    umask 077
    printf 'bind 127.0.0.1\nprotected-mode yes\nrequirepass %s\n' "$(openssl rand -hex 24)" >"$pki/redis.conf"
    local nats_password
    nats_password=$(openssl rand -hex 24)
    printf 'authorization {\n  user: luban\n  password: "%s"\n}\n' "$nats_password" >"$pki/nats-auth.conf"
    # The EventBus's accessSecret holds this (Argo Events reads `username`/`password`).
    printf 'username: luban\npassword: %s\n' "$nats_password" >"$CLUSTER_NATS_AUTH"
  )
  cert controller-manager /CN=system:kube-controller-manager
  cert scheduler /CN=system:kube-scheduler
  cert proxy /CN=system:kube-proxy
  cert node "/O=system:nodes/CN=system:node:$node"
  cert admin "/O=system:masters/CN=$TESTBED_NAME-admin"
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  for who in controller-manager scheduler proxy node admin; do
    local kc=$pki/$who.kubeconfig
    kubectl config set-cluster luban --server "https://127.0.0.1:$CLUSTER_API_PORT" \
      --certificate-authority "$pki/ca.crt" --embed-certs --kubeconfig "$kc.tmp" >/dev/null
    kubectl config set-credentials "$who" --client-certificate "$pki/$who.crt" \
      --client-key "$pki/$who.key" --embed-certs --kubeconfig "$kc.tmp" >/dev/null
    kubectl config set-context luban --cluster luban --user "$who" --kubeconfig "$kc.tmp" >/dev/null
    kubectl config use-context luban --kubeconfig "$kc.tmp" >/dev/null
    mv "$kc.tmp" "$kc"
  done
}

write_configs() {
  mkdir -p "$dir/containerd" "$dir/cni" "$dir/certs.d/$REGISTRY"
  # The testbed registry over HTTPS with its CA (containerd would try plain HTTP first for a
  # loopback registry without a hosts.toml that names the scheme).
  cat >"$dir/certs.d/$REGISTRY/hosts.toml" <<EOF
server = "https://$REGISTRY"
[host."https://$REGISTRY"]
  capabilities = ["pull", "resolve"]
  ca = "$LUBAN_TESTBED/registry/ca.crt"
EOF
  # The bridge plugin with the gateway's address on the bridge and no default route
  # (isDefaultGateway false): pods reach the subnet and nothing else.
  rm -f "$dir/cni/10-luban.conflist"
  cat >"$dir/cni/10-luban-pods.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "luban-pods", "plugins": [{"type": "bridge", "bridge": "$bridge",
  "isGateway": true, "isDefaultGateway": false, "ipMasq": false,
  "ipam": {"type": "host-local", "dataDir": "$dir/cni-ipam",
    "ranges": [[{"subnet": "$CLUSTER_POD_SUBNET", "gateway": "$CLUSTER_POD_GATEWAY"}]]}}]}
EOF
  # restrict_oom_score_adj and disable_apparmor: this sandbox forbids a negative oom_score_adj
  # (the kubelet asks for -998) and has no AppArmor.
  cat >"$dir/containerd/config.toml" <<EOF
version = 2
root = "$dir/containerd/root"
state = "$dir/containerd/state"
[grpc]
  address = "$sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_image"
  restrict_oom_score_adj = true
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$dir/certs.d"
EOF
  cat >"$dir/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failSwapOn: false
cgroupsPerQOS: false
enforceNodeAllocatable: []
containerRuntimeEndpoint: unix://$sock
address: 127.0.0.1
port: $((CLUSTER_API_PORT + 3))
healthzBindAddress: 127.0.0.1
healthzPort: $((CLUSTER_API_PORT + 4))
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: AlwaysAllow}
# Absolute thresholds: a percentage of a shared 250 GB disk (2.5 GB) tainted the node with disk
# pressure while 1.5 GB were still free, and the eviction that followed removed images.
evictionHard: {memory.available: "100Mi", nodefs.available: "256Mi", imagefs.available: "256Mi"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
}

running() { [ -f "$dir/run/$1.pid" ] && kill -0 "$(cat "$dir/run/$1.pid")" 2>/dev/null; }

start() { # name command...
  local name=$1 pid=$dir/run/$1.pid
  shift
  if running "$name"; then return 0; fi
  mkdir -p "$dir/run" "$dir/logs"
  setsid "$@" >"$dir/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$pid"
}

stop() { # name: the process and its group (`start` makes each the leader of its own)
  local pid=$dir/run/$1.pid
  [ -f "$pid" ] || return 0
  kill -- "-$(cat "$pid")" 2>/dev/null || kill "$(cat "$pid")" 2>/dev/null || true
  for _ in $(seq 20); do kill -0 "$(cat "$pid")" 2>/dev/null || break; sleep 0.5; done
  kill -9 -- "-$(cat "$pid")" 2>/dev/null || kill -9 "$(cat "$pid")" 2>/dev/null || true
  rm -f "$pid"
}

# Starts a host process that listens on every address, with no setting to choose one (metrics,
# health, pprof ports), in a network namespace of its own with only loopback: nothing outside
# can reach what it serves. The host ports it dials on 127.0.0.1 (the API server, …) are relayed
# into the namespace over unix sockets. ISOLATED_SETUP is shell to run inside first.
isolated() { # name "port..." command...
  local name=$1 ports=$2 relays=$dir/run/relays port inner=""
  shift 2
  mkdir -p "$relays"
  for port in $ports; do
    start "relay-$port" socat "UNIX-LISTEN:$relays/$port.sock,fork,unlink-early,mode=600" "TCP:127.0.0.1:$port"
    inner+="socat TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:$relays/$port.sock & "
  done
  start "$name" unshare --net --mount --propagation private sh -c \
    "ip link set lo up && ${ISOLATED_SETUP:-:} && $inner exec \"\$@\"" "$name" "$@"
}

wait_for() { # what seconds command...
  local what=$1 seconds=$2
  shift 2
  for _ in $(seq "$seconds"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  die "$what is not ready after ${seconds}s (logs in $dir/logs)"
}

k() { kubectl --kubeconfig "$CLUSTER_KUBECONFIG" "$@"; }

# The engine's image as a tar for containerd, or pushed to the testbed registry.
engine() { if [ "$ENGINE" = docker ]; then docker "$@"; else podman "$@"; fi; }

# An image on the run image of static binaries: FILE:PATH copies FILE to PATH, and the first
# is the entrypoint. Pushed to the testbed registry as $REGISTRY/luban/TAG.
binary_image() { # tag file:path...
  local tag=$1 context=$dir/images/${1%%:*} entry=${2#*:}
  shift
  rm -rf "$context" && mkdir -p "$context"
  {
    printf 'FROM %s\n' "$RUN_IMAGE"
    for file in "$@"; do
      cp "${file%%:*}" "$context/" && printf 'COPY %s %s\n' "$(basename "${file%%:*}")" "${file#*:}"
    done
    printf 'ENTRYPOINT ["%s"]\n' "$entry"
  } | engine build -q -t "localhost/luban/$tag" -f - "$context" >/dev/null
  "$LUBAN_ROOT/scripts/registry.sh" push "localhost/luban/$tag" "$REGISTRY/luban/$tag"
}

# Argo Workflows' controller, as a host process with the admin kubeconfig (in a pod it would
# reach the API server through the `kubernetes` Service's ClusterIP, which nothing here routes),
# watching every namespace; its CRDs from the same module version. The executor image (argoexec
# on the run image) is pushed to the testbed registry, where the kubelet pulls it like any other.
# The controller's configuration is the test platform's: the executor reaches the API server on
# 127.0.0.1, and workflows' pods use the host's network (the node's pods have only loopback).
argo_workflows_up() {
  local version argo executor
  version=$(deploy_module_version github.com/argoproj/argo-workflows/v3)
  argo=$LUBAN_TESTBED/argo-workflows-$version/bin
  executor=$REGISTRY/luban/argoexec:$version
  binary_image "argoexec:$version" "$argo/argoexec:/bin/argoexec"
  k apply --server-side -k "$(module_dir "github.com/argoproj/argo-workflows/v3@$version")/manifests/base/crds/minimal" >/dev/null
  k create namespace argo --dry-run=client -o yaml | k apply -f - >/dev/null
  k -n argo create configmap workflow-controller-configmap --dry-run=client -o yaml \
    --from-literal=executor="{env: [{name: KUBERNETES_SERVICE_HOST, value: 127.0.0.1}, {name: KUBERNETES_SERVICE_PORT, value: \"$CLUSTER_API_PORT\"}]}" \
    --from-literal=workflowDefaults="{spec: {hostNetwork: true}}" \
    --from-literal=metricsConfig="{enabled: false}" --from-literal=telemetryConfig="{enabled: false}" |
    k apply -f - >/dev/null
  # DEFAULT_REQUEUE_TIME: how soon the controller looks at a workflow again (10s upstream); the
  # tests' workflows are short, and each of their steps would wait for it.
  # Isolated: it serves pprof on every address (:6060), with no setting.
  LEADER_ELECTION_DISABLE=true DEFAULT_REQUEUE_TIME=2s isolated workflow-controller "$CLUSTER_API_PORT" \
    "$argo/workflow-controller" --kubeconfig "$CLUSTER_KUBECONFIG" --namespace argo \
    --executor-image "$executor" --executor-image-pull-policy Always
}

# The pod network's bridge with the gateway's address, and the API server's relay there (the
# API server itself listens on 127.0.0.1 only).
pod_network() {
  local route
  if running kube-apiserver && ! ip -4 addr show dev "$bridge" 2>/dev/null | grep -qF " $CLUSTER_POD_GATEWAY/"; then
    die "The cluster is running with another pod network: \`cluster.sh down\` first."
  fi
  route=$(ip -4 route show "$CLUSTER_POD_SUBNET" | grep -v "dev $bridge " || true)
  [ -z "$route" ] || die "The pod network $CLUSTER_POD_SUBNET is already routed here ($route).
Choose a free subnet: CLUSTER_POD_SUBNET=10.245.0.0/24 CLUSTER_POD_GATEWAY=10.245.0.1 make cluster"
  ip link show "$bridge" >/dev/null 2>&1 || ip link add "$bridge" type bridge
  ip addr replace "$CLUSTER_POD_GATEWAY/${CLUSTER_POD_SUBNET#*/}" dev "$bridge"
  ip link set "$bridge" up
  start api-relay socat "TCP-LISTEN:$CLUSTER_API_PORT,bind=$CLUSTER_POD_GATEWAY,fork,reuseaddr" \
    "TCP:127.0.0.1:$CLUSTER_API_PORT"
}

# Argo Events' controller, a host process with the admin kubeconfig like the others; it makes
# the Deployments of EventSources and Sensors, whose pods run the same binary's image (pushed to
# the testbed registry; with Argo Workflows' CLI, which sensors run for argoWorkflow triggers,
# as upstream's image has it) on the pod network: their metrics port is fixed (7777), so two of them
# can't share the host's network. The controller's configuration is upstream's (the
# controller-config of its install manifests), which it reads only from /etc/argo-events: in a
# private mount namespace an overlay of /etc adds it (the host's /etc is not touched). The event
# bus is a NATS server with JetStream at the pod network's gateway (EventBus `jetstreamExotic`;
# the controller's own would be a StatefulSet behind ClusterIP Services), TLS with the cluster
# CA's certificate (Argo Events' client always asks for TLS).
argo_events_up() {
  local version events module
  version=$(deploy_module_version github.com/argoproj/argo-events)
  events=$LUBAN_TESTBED/argo-events-$version/bin
  binary_image "argo-events:$version" "$events/argo-events:/bin/argo-events" \
    "$LUBAN_TESTBED/argo-workflows-$(deploy_module_version github.com/argoproj/argo-workflows/v3)/bin/argo:/usr/local/bin/argo"
  module=$(module_dir "github.com/argoproj/argo-events@$version")
  k apply --server-side -k "$module/manifests/base/crds" >/dev/null
  if ! running argo-events-controller; then
    rm -rf "$dir/argo-events" && mkdir -p "$dir/argo-events/etc/argo-events" "$dir/argo-events/work"
    k create --dry-run=client -f "$module/manifests/base/controller-manager/controller-config.yaml" \
      -o jsonpath='{.data.controller-config\.yaml}' >"$dir/argo-events/etc/argo-events/controller-config.yaml"
  fi
  start nats-server "$events/nats-server" --addr "$CLUSTER_POD_GATEWAY" --port "${CLUSTER_NATS_URL##*:}" \
    --jetstream --store_dir "$dir/nats" --tls --tlscert "$pki/nats.crt" --tlskey "$pki/nats.key" \
    --config "$pki/nats-auth.conf"
  # Isolated: its metrics and health ports listen on every address, with no setting.
  ARGO_EVENTS_IMAGE=$REGISTRY/luban/argo-events:$version KUBECONFIG=$CLUSTER_KUBECONFIG \
    ISOLATED_SETUP="mount -t overlay overlay -o lowerdir=/etc,upperdir=$dir/argo-events/etc,workdir=$dir/argo-events/work /etc" \
    isolated argo-events-controller "$CLUSTER_API_PORT" \
    "$events/argo-events" controller --leader-election=false \
    --metrics-port $((CLUSTER_API_PORT + 8)) --health-port $((CLUSTER_API_PORT + 9))
}

# Argo CD's application controller and repo server, host processes like the workflow
# controller, with Debian's redis as their cache, all on 127.0.0.1; the CRDs from the same
# module version. ARGOCD_FAKE_IN_CLUSTER is Argo CD's own switch for a controller outside the
# cluster: the in-cluster destination (https://kubernetes.default.svc) uses the admin
# kubeconfig instead of the pod's token and the Service's ClusterIP. The test platform's
# settings: the repo server without TLS (loopback only), no GPG, and applications compared
# with their Git repository every 5 s (2–3 min upstream, where a webhook from the Git server
# usually says when; the branch's commit is cached 5 s instead of 3 min).
argo_cd_up() {
  local version argocd module
  version=$(deploy_module_version github.com/argoproj/argo-cd/v3)
  argocd=$LUBAN_TESTBED/argo-cd-$version/bin/argocd
  module=$(module_dir "github.com/argoproj/argo-cd/v3@$version")
  k apply --server-side -k "$module/manifests/crds" >/dev/null
  k create namespace argocd --dry-run=client -o yaml | k apply -f - >/dev/null
  k -n argocd create configmap argocd-cm --dry-run=client -o yaml | k label --local -f - -o yaml app.kubernetes.io/part-of=argocd |
    k apply -f - >/dev/null
  if ! k -n argocd get secret argocd-secret >/dev/null 2>&1; then
    k -n argocd create secret generic argocd-secret --dry-run=client -o yaml \
      --from-literal=server.secretkey="$(openssl rand -hex 32)" |
      k label --local -f - -o yaml app.kubernetes.io/part-of=argocd | k apply -f - >/dev/null
  fi
  local redis=127.0.0.1:$((CLUSTER_API_PORT + 10)) repo=127.0.0.1:$((CLUSTER_API_PORT + 11))
  local redis_password
  redis_password=$(sed -n 's/^requirepass //p' "$pki/redis.conf")
  start redis redis-server "$pki/redis.conf" --port "${redis##*:}" --save "" --appendonly no
  # The certificates Argo CD trusts per Git server, one file named after each host, as its
  # argocd-tls-certs-cm ConfigMap is mounted in a cluster: the testbed's forge (Gitea, on
  # 127.0.0.1) serves the registry's certificate. A link, so a registry made later is read.
  mkdir -p "$LUBAN_TESTBED/argocd-tls"
  ln -sfn ../registry/ca.crt "$LUBAN_TESTBED/argocd-tls/127.0.0.1"
  REDIS_PASSWORD=$redis_password ARGOCD_BINARY_NAME=argocd-repo-server ARGOCD_GPG_ENABLED=false \
    ARGOCD_TLS_DATA_PATH=$LUBAN_TESTBED/argocd-tls start argocd-repo-server "$argocd" --address 127.0.0.1 --port "${repo##*:}" --disable-tls \
    --redis "$redis" --metrics-address 127.0.0.1 --metrics-port $((CLUSTER_API_PORT + 12)) \
    --revision-cache-expiration 5s
  # Isolated: its metrics port listens on every address, with no setting.
  REDIS_PASSWORD=$redis_password ARGOCD_BINARY_NAME=argocd-application-controller ARGOCD_FAKE_IN_CLUSTER=true \
    KUBECONFIG=$CLUSTER_KUBECONFIG isolated argocd-application-controller \
    "$CLUSTER_API_PORT ${redis##*:} ${repo##*:}" "$argocd" \
    --namespace argocd --repo-server "$repo" --repo-server-plaintext --redis "$redis" \
    --metrics-port $((CLUSTER_API_PORT + 13)) --app-resync 5 --app-resync-jitter 0
}

# kpack's controller, a host process with the admin kubeconfig like the others, with its
# namespace, CRDs and logging configuration from the same module version, and the default
# ClusterLifecycle kpack's install makes: here the lifecycle the builder pins, made into an image
# by the lifecycle's own tools/image (on the run image) and pushed to the testbed registry.
# kpack has no setting for a registry's CA: the controller trusts the testbed's bundle through
# SSL_CERT_FILE, and the image of its build pods' own steps (build-init, completion, rebase,
# build-waiter, in /cnb/process as kpack runs them) carries the bundle as its system CAs. It is
# isolated (its profiling port listens on every address): it reaches the API server, the
# registry and the tests' Git server ($CLUSTER_GIT_PORT) through relays. Build
# pods can't ask for the host's network: the tests give them it with an admission webhook. Not
# here: kpack's webhook (its defaulting and CRD conversion need the API server to dial a
# Service).
kpack_up() {
  local version config lifecycle_version lifecycle kbin process
  version=$(deploy_module_version github.com/pivotal/kpack)
  config=$(module_dir "github.com/pivotal/kpack@$version")/config
  lifecycle_version=$(xtask lifecycle-version)
  lifecycle=$REGISTRY/luban/lifecycle:$lifecycle_version
  (cd "$(module_dir "github.com/buildpacks/lifecycle@v$lifecycle_version")" &&
    SSL_CERT_FILE=$LUBAN_TESTBED/ca-bundle.crt go run ./tools/image -baseImage "$REGISTRY_RUN_IMAGE" \
      -lifecyclePath "$LUBAN_TESTBED/lifecycle-$lifecycle_version.tgz" -tag "$lifecycle" >"$dir/logs/lifecycle-image.log" 2>&1) ||
    die "The lifecycle image could not be made (log in $dir/logs/lifecycle-image.log)"
  for file in 100-namespace build builder buildpack clusterbuilder clusterbuildpack clusterlifecycle \
    clusterstack clusterstore image sourceresolver config-logging; do
    k apply --server-side -f "$config/$file.yaml" >/dev/null
  done
  k apply -f - >/dev/null <<EOF
apiVersion: kpack.io/v1alpha2
kind: ClusterLifecycle
metadata: {name: default-lifecycle}
spec: {image: "$lifecycle"}
EOF
  kbin=$LUBAN_TESTBED/kpack-$version/bin
  process=$REGISTRY/luban/kpack-process:$version
  binary_image "kpack-process:$version" "$kbin/build-init:/cnb/process/build-init" \
    "$kbin/completion:/cnb/process/completion" "$kbin/rebase:/cnb/process/rebase" \
    "$kbin/build-waiter:/cnb/process/build-waiter" "$LUBAN_TESTBED/ca-bundle.crt:/etc/ssl/certs/ca-certificates.crt"
  BUILD_INIT_IMAGE=$process COMPLETION_IMAGE=$process REBASE_IMAGE=$process BUILD_WAITER_IMAGE=$process \
    SYSTEM_NAMESPACE=kpack SYSTEM_SERVICE_ACCOUNT=controller CONFIG_LOGGING_NAME=config-logging \
    CONFIG_OBSERVABILITY_NAME=config-observability METRICS_DOMAIN=kpack.io \
    SSL_CERT_FILE=$LUBAN_TESTBED/ca-bundle.crt KUBECONFIG=$CLUSTER_KUBECONFIG \
    isolated kpack-controller "$CLUSTER_API_PORT $REGISTRY_PORT $CLUSTER_GIT_PORT" \
    "$kbin/controller" --kubeconfig "$CLUSTER_KUBECONFIG"
}

# kube-proxy in iptables mode, so a Service's NodePort answers on 127.0.0.1 (and only on
# 127.0.0.0/8) and sends each request to a ready pod: the stable address a rolling update keeps
# serving on, which two hostNetwork pods sharing a port can't give. For localhost NodePorts it
# turns on route_localnet (and drops packets for 127.0.0.0/8 from anywhere else); `down` runs
# its --cleanup and puts route_localnet back. It leaves the conntrack settings as they are. It
# looks for the node's addresses for about 30 s before it settles for loopback (the node has
# none, on purpose), so `up` starts it early and waits for it last.
kube_proxy_up() {
  [ -f "$dir/run/route_localnet.before" ] || sysctl -n net.ipv4.conf.all.route_localnet >"$dir/run/route_localnet.before"
  start kube-proxy "$bin/kube-proxy" --kubeconfig "$pki/proxy.kubeconfig" --hostname-override "$node" \
    --proxy-mode iptables --nodeport-addresses 127.0.0.0/8 --cluster-cidr "$CLUSTER_POD_SUBNET" \
    --metrics-bind-address "127.0.0.1:$((CLUSTER_API_PORT + 15))" \
    --healthz-bind-address "127.0.0.1:$((CLUSTER_API_PORT + 16))" \
    --conntrack-max-per-core 0 --conntrack-tcp-timeout-established 0 --conntrack-tcp-timeout-close-wait 0
}

up() {
  local started
  started=$(date +%s)
  "$LUBAN_ROOT/scripts/install-tools.sh" --cluster
  ensure_engine
  mkdir -p "$dir/run"
  # What `up` changes on the host, for `down` to put back: ip_forward (the bridge plugin turns
  # it on), and the registry when `up` starts it.
  [ -f "$dir/run/ip_forward.before" ] || sysctl -n net.ipv4.ip_forward >"$dir/run/ip_forward.before"
  # The images the node runs (the executor's, the tests') come from the testbed registry.
  if ! "$LUBAN_ROOT/scripts/registry.sh" running; then
    "$LUBAN_ROOT/scripts/registry.sh" start
    touch "$dir/run/registry.started"
  fi
  pod_network
  make_pki
  write_configs
  # etcd speaks TLS and asks every client and peer for a certificate of the cluster's CA.
  start etcd etcd --name luban --data-dir "$dir/etcd" \
    --listen-client-urls "https://127.0.0.1:$etcd_port" --advertise-client-urls "https://127.0.0.1:$etcd_port" \
    --listen-peer-urls "https://127.0.0.1:$etcd_peer_port" \
    --initial-advertise-peer-urls "https://127.0.0.1:$etcd_peer_port" \
    --initial-cluster "luban=https://127.0.0.1:$etcd_peer_port" \
    --cert-file "$pki/etcd.crt" --key-file "$pki/etcd.key" --client-cert-auth --trusted-ca-file "$pki/ca.crt" \
    --peer-cert-file "$pki/etcd.crt" --peer-key-file "$pki/etcd.key" --peer-client-cert-auth \
    --peer-trusted-ca-file "$pki/ca.crt" --listen-metrics-urls ""
  start containerd containerd --config "$dir/containerd/config.toml"
  start kube-apiserver "$bin/kube-apiserver" --etcd-servers "https://127.0.0.1:$etcd_port" \
    --etcd-cafile "$pki/ca.crt" --etcd-certfile "$pki/apiserver-etcd-client.crt" \
    --etcd-keyfile "$pki/apiserver-etcd-client.key" --anonymous-auth=false \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$CLUSTER_API_PORT" \
    --endpoint-reconciler-type none \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" \
    --kubelet-client-certificate "$pki/admin.crt" --kubelet-client-key "$pki/admin.key" \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range 10.96.0.0/24 --authorization-mode Node,RBAC
  wait_for kube-apiserver 90 k get --raw /readyz
  kube_proxy_up
  start kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig "$pki/controller-manager.kubeconfig" --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port $((CLUSTER_API_PORT + 5)) \
    --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --use-service-account-credentials \
    --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key"
  start kube-scheduler "$bin/kube-scheduler" --kubeconfig "$pki/scheduler.kubeconfig" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port $((CLUSTER_API_PORT + 6))
  wait_for containerd 30 ctr -a "$sock" version
  if ! ctr -a "$sock" -n k8s.io images ls -q | grep -qxF "$pause_image"; then
    local tar
    tar=$(mktemp)
    printf 'FROM %s\nENTRYPOINT ["sleep", "infinity"]\n' "$RUN_IMAGE" |
      engine build -q -t "$pause_image" -f - "$dir" >/dev/null
    engine save -o "$tar" "$pause_image" >/dev/null 2>"$dir/logs/pause-image.log"
    ctr -a "$sock" -n k8s.io images import "$tar" >/dev/null
    rm -f "$tar"
  fi
  # Pinned, as the CRI plugin pins a sandbox image it pulls itself: containerd 1.7 and later then
  # report it pinned and the kubelet's image garbage collection (under disk pressure) leaves it,
  # where nothing could pull it back. Debian's containerd 1.6 ignores the label; there the
  # absolute eviction thresholds of kubelet.yaml are what keep the node from collecting it.
  ctr -a "$sock" -n k8s.io images label "$pause_image" io.cri-containerd.pinned=pinned >/dev/null
  # --node-ip 127.0.0.1: the kubelet refuses it ("nodeIP can't be loopback") and leaves the node
  # without addresses, which is the point: otherwise it would publish the host's outside address
  # and the API server would dial that for logs and exec.
  start kubelet "$bin/kubelet" --kubeconfig "$pki/node.kubeconfig" --config "$dir/kubelet.yaml" \
    --hostname-override "$node" --node-ip 127.0.0.1 \
    --root-dir "$dir/kubelet" --cert-dir "$dir/kubelet/pki"
  wait_for "node $node" 120 k wait --for=condition=Ready "node/$node" --timeout 1s
  argo_workflows_up
  argo_events_up
  argo_cd_up
  kpack_up
  wait_for kube-proxy 60 curl -fsS "http://127.0.0.1:$((CLUSTER_API_PORT + 16))/healthz"
  log "Cluster up in $(($(date +%s) - started))s: Kubernetes $KUBERNETES_VERSION, KUBECONFIG=$CLUSTER_KUBECONFIG"
}

down() {
  for name in kpack-controller argocd-application-controller argocd-repo-server redis argo-events-controller nats-server \
    workflow-controller kube-proxy kubelet kube-scheduler kube-controller-manager api-relay kube-apiserver; do
    stop "$name"
  done
  # kube-proxy's iptables chains and the sysctl it turned on.
  [ ! -x "$bin/kube-proxy" ] || "$bin/kube-proxy" --cleanup >"$dir/logs/kube-proxy-cleanup.log" 2>&1 || true
  if [ -f "$dir/run/route_localnet.before" ]; then
    sysctl -qw "net.ipv4.conf.all.route_localnet=$(cat "$dir/run/route_localnet.before")"
    rm -f "$dir/run/route_localnet.before"
  fi
  local relay
  for relay in "$dir"/run/relay-*.pid; do
    [ -e "$relay" ] || continue
    relay=${relay##*/}
    stop "${relay%.pid}"
  done
  if [ -S "$sock" ]; then
    local c=(ctr -a "$sock" -n k8s.io) task
    for task in $("${c[@]}" tasks ls -q 2>/dev/null); do
      "${c[@]}" tasks kill -s SIGKILL "$task" >/dev/null 2>&1 || true
    done
    # The pods' containers and the images they pulled go too (every run pushes new images; the
    # testbed registry keeps them), so the disk doesn't fill up run after run until the kubelet
    # taints the node with disk pressure. The pause image, imported, stays.
    sleep 1
    for task in $("${c[@]}" tasks ls -q 2>/dev/null); do "${c[@]}" tasks delete -f "$task" >/dev/null 2>&1 || true; done
    "${c[@]}" containers ls -q 2>/dev/null | xargs -r "${c[@]}" containers rm >/dev/null 2>&1 || true
    "${c[@]}" images ls -q 2>/dev/null | grep -vxF "$pause_image" | xargs -r "${c[@]}" images rm --sync >/dev/null 2>&1 || true
  fi
  stop containerd
  pkill -f "containerd-shim-runc-v2 .*-address $sock" 2>/dev/null || true
  stop etcd
  # The kubelet's volume mounts (service-account tokens, secrets), innermost first.
  local mounts
  mounts=$(cut -d' ' -f2 /proc/mounts | grep -F "$dir/" | sort -r || true)
  for m in $mounts; do umount -l "$m" 2>/dev/null || true; done
  # Each `up` starts from an empty cluster.
  rm -rf "$dir/etcd" "$dir/kubelet" "$dir/nats" "$dir/cni-ipam" "$dir/argo-events"
  # The pods' network namespaces (their veths go with them): the runtime made them and, killed,
  # never asked the CNI plugin to remove them.
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^cni-/ {print $1}'); do ip netns delete "$ns" 2>/dev/null || true; done
  ! ip link show "$bridge" >/dev/null 2>&1 || ip link delete "$bridge"
  if [ -f "$dir/run/ip_forward.before" ]; then
    sysctl -qw "net.ipv4.ip_forward=$(cat "$dir/run/ip_forward.before")"
    rm -f "$dir/run/ip_forward.before"
  fi
  if [ -f "$dir/run/registry.started" ]; then
    "$LUBAN_ROOT/scripts/registry.sh" stop
    rm -f "$dir/run/registry.started"
  fi
  log "Cluster down"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) k get nodes,pods --all-namespaces -o wide ;;
  *) die "usage: cluster.sh up | down | status" ;;
esac
