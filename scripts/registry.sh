#!/usr/bin/env bash
# A container registry on 127.0.0.1:$REGISTRY_PORT with a self-signed certificate (Debian's
# docker-registry, distribution 2.8), the way a company's private registry with its own CA is
# reached. `start` also writes the testbed CA bundle (this machine's CAs + the registry's) that
# scripts/pack-build.sh mounts into builds, and pushes the run image there for --publish builds.
#   registry.sh start | running | stop | ca | pull IMAGE | push LOCAL_IMAGE IMAGE
set -euo pipefail
source "$(dirname "$0")/lib.sh"

dir=$LUBAN_TESTBED/registry
pidfile=$dir/registry.pid

ca_bundle() {
  mkdir -p "$dir"
  if ! [ -f "$dir/ca.crt" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$TESTBED_NAME-registry" \
      -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
      -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
  fi
  cat /etc/ssl/certs/ca-certificates.crt "$dir/ca.crt" > "$LUBAN_TESTBED/ca-bundle.crt"
  # podman reads a registry's CA from a certs.d directory named after the registry.
  mkdir -p "$dir/certs.d/$REGISTRY"
  cp "$dir/ca.crt" "$dir/certs.d/$REGISTRY/ca.crt"
}

up() { curl -fsS --cacert "$dir/ca.crt" -o /dev/null "https://$REGISTRY/v2/" 2>/dev/null; }

case ${1:-start} in
  ca) ca_bundle ;;
  start)
    ca_bundle
    if ! up; then
      have docker-registry || die "docker-registry is missing (scripts/install-tools.sh installs it)"
      mkdir -p "$dir/storage"
      cat > "$dir/config.yml" <<YAML
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $dir/storage}, delete: {enabled: true}}
http: {addr: $REGISTRY, tls: {certificate: $dir/ca.crt, key: $dir/ca.key}}
YAML
      nohup docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
      echo $! > "$pidfile"
      for _ in $(seq 50); do up && break; sleep 0.2; done
      up || die "the registry did not start (see $dir/registry.log)"
    fi
    ensure_engine
    if [ "$ENGINE" = podman ]; then
      podman push -q --cert-dir "$dir/certs.d/$REGISTRY" "$RUN_IMAGE" "$REGISTRY_RUN_IMAGE"
    else
      docker tag "$RUN_IMAGE" "$REGISTRY_RUN_IMAGE" && docker push -q "$REGISTRY_RUN_IMAGE" >/dev/null
    fi
    log "Registry on https://$REGISTRY (CA $dir/ca.crt), run image pushed"
    ;;
  pull) # registry.sh pull IMAGE: pull a pushed image into the engine, trusting the registry's CA
    ensure_engine
    if [ "$ENGINE" = podman ]; then podman pull -q --cert-dir "$dir/certs.d/$REGISTRY" "$2" >/dev/null
    else docker pull -q "$2" >/dev/null; fi
    ;;
  push) # registry.sh push LOCAL_IMAGE IMAGE: push an image of the engine to the registry
    ensure_engine
    if [ "$ENGINE" = podman ]; then podman push -q --cert-dir "$dir/certs.d/$REGISTRY" "$2" "$3"
    else docker tag "$2" "$3" && docker push -q "$3" >/dev/null; fi
    ;;
  running) up ;;
  stop) [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null; rm -f "$pidfile" ;;
  *) die "usage: registry.sh start|stop|ca|pull IMAGE|push LOCAL_IMAGE IMAGE" ;;
esac
