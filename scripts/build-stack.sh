#!/usr/bin/env bash
# Builds the stack's build and run images.
#   build-stack.sh bookworm   Debian bookworm; from debian:bookworm-slim when a registry can be
#                             reached, else from a rootfs bootstrapped here from Debian packages.
#   build-stack.sh al2023     Amazon Linux 2023 (needs public.ecr.aws).
#   build-stack.sh auto       al2023 when its base image can be pulled, else bookworm; prints
#                             the choice on stdout.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

stack=${1:-auto}
engine=podman; have podman || engine=docker

can_pull() { timeout 60 "$engine" pull -q "$1" >/dev/null 2>&1; }

if [ "$stack" = auto ]; then
  if can_pull public.ecr.aws/amazonlinux/amazonlinux:2023-minimal; then stack=al2023; else stack=bookworm; fi
  log "Stack: $stack ($( [ "$stack" = al2023 ] && echo 'AL2023 base images are reachable' || echo 'no registry reachable, using the Debian bookworm twin built from Debian packages'))"
fi

base_build="" base_run=""
case $stack in
  al2023) ;;
  bookworm)
    if "$engine" image exists "$BASE_IMAGE" 2>/dev/null; then
      base_build=$BASE_IMAGE base_run=$BASE_IMAGE
    elif can_pull docker.io/library/debian:bookworm-slim; then
      base_build=docker.io/library/debian:bookworm-slim base_run=$base_build
    else
      log "No registry reachable: bootstrapping a bookworm rootfs from Debian packages"
      mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
      rootfs=$LUBAN_TESTBED/rootfs-bookworm
      rm -rf "$rootfs"
      debootstrap --variant=minbase bookworm "$rootfs" "${mirror:-http://deb.debian.org/debian}" >/dev/null
      rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
      tar -C "$rootfs" -c . | "$engine" import - "$BASE_IMAGE" >/dev/null
      rm -rf "$rootfs"
      base_build=$BASE_IMAGE base_run=$BASE_IMAGE
    fi
    ;;
  *) die "unknown stack '$stack' (bookworm, al2023 or auto)" ;;
esac

set -a; source "$LUBAN_ROOT/stack/stack.env"; set +a
released=$(date -u +%Y-%m-%d)
build_args=(--build-arg "CNB_USER_ID=$CNB_USER_ID" --build-arg "CNB_RUN_USER_ID=$CNB_RUN_USER_ID"
  --build-arg "CNB_GROUP_ID=$CNB_GROUP_ID" --build-arg "CNB_USER_NAME=$CNB_USER_NAME"
  --build-arg "STACK_MAINTAINER=$STACK_MAINTAINER" --build-arg "STACK_HOMEPAGE=$STACK_HOMEPAGE"
  --build-arg "RELEASED=$released")
format=(); [ "$engine" = podman ] && format=(--format docker) # keep SHELL and HEALTHCHECK
for kind in build run; do
  image=$(stack_image "$kind" "$stack")
  base=$([ "$kind" = build ] && echo "$base_build" || echo "$base_run")
  log "Building $image"
  "$engine" build -q --network host "${format[@]}" "${build_args[@]}" ${base:+--build-arg "BASE_IMAGE=$base"} \
    -t "$image" -f "$LUBAN_ROOT/stack/$stack/$kind/Dockerfile" "$LUBAN_ROOT/stack" >/dev/null
done
echo "$stack"
