#!/usr/bin/env bash
# `pack build` with the offline testbed's settings; every argument is passed on to pack.
# The demo, the end-to-end tests and the benchmarks all build through this one script.
#   - the bookworm builder, trusted, images only from the local engine (no registry);
#   - host networking, so the build reaches the local mirror and registry on 127.0.0.1;
#   - uv's Python downloads from the local mirror (UV_PYTHON_DOWNLOADS_JSON_URL), exactly as an
#     air-gapped site would set it;
#   - the testbed CA bundle (this machine's CAs plus the local registry's) mounted over the
#     build container's, and SSL_CERT_FILE pointing uv at it. It is a mount, never a layer.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_engine

ca=${LUBAN_CA_BUNDLE:-$LUBAN_TESTBED/ca-bundle.crt}
[ -f "$ca" ] || "$LUBAN_ROOT/scripts/registry.sh" ca
# pack itself talks to the registry for --publish builds.
export SSL_CERT_FILE=$ca

mirror=()
# The AL2023 builder uses python-build-standalone from the internet: the mirror's CPython
# builds link the host's shared libraries, which only the bookworm run image carries.
if [ "${LUBAN_PYTHON_MIRROR:-on}" = on ]; then
  mirror=(--env "UV_PYTHON_DOWNLOADS_JSON_URL=$MIRROR_URL/python/downloads.json")
fi

exec pack build "$@" \
  --builder "${LUBAN_BUILDER:-$BUILDER_IMAGE}" --trust-builder --pull-policy never \
  --docker-host=inherit --network host \
  --volume "$ca:/etc/ssl/certs/ca-certificates.crt:ro" \
  --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
  "${mirror[@]}"
