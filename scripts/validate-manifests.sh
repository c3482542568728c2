#!/usr/bin/env bash
# Validates every manifest under deploy/ with kubeconform in strict mode, against the upstream
# CRD schemas in ../shared/schemas (Argo Workflows, Events, CD, kpack) and built-in kinds.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
schemas=${LUBAN_SCHEMAS:-$LUBAN_ROOT/../shared/schemas}
[ -d "$schemas" ] || die "no schema directory at $schemas (set LUBAN_SCHEMAS)"
mapfile -t files < <(find "$LUBAN_ROOT/deploy" -name '*.yaml' -not -path '*/tests/*' | sort)
kubeconform -strict -summary -output text \
  -schema-location "$schemas/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json" \
  -skip Kustomization "${files[@]}"
