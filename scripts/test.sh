#!/usr/bin/env bash
# The whole test suite, in stages, with a summary: tests run, passed, failed, and the wall time
# of each stage. `scripts/test.sh [stage...]` runs only the named stages
# (lint unit testbed e2e); `T=<filter>` narrows the end-to-end tests to matching names.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$LUBAN_ROOT"

stages=("$@")
((${#stages[@]})) || stages=(lint unit testbed e2e)
E2E_THREADS=${E2E_THREADS:-3}

declare -a summary=()
total_run=0 total_passed=0 total_failed=0 failed_stage=""

# Counts the tests in a stage's log: cargo's "test result:" lines and go test -v's
# "--- PASS/FAIL" lines. Prints: run passed failed.
count_tests() {
  awk '/^test result:/ {for (i=1;i<=NF;i++) {if ($(i+1) ~ /^passed;?/) p+=$i; if ($(i+1) ~ /^failed;?/) f+=$i}}
       /^--- PASS: / {p++} /^--- FAIL: / {f++}
       END {print p+f, p+0, f+0}' "$1"
}

stage() { # name command...
  local name=$1; shift
  local log=$LUBAN_TESTBED/logs/$name.log start end run=0 passed=0 failed=0 status
  mkdir -p "$(dirname "$log")"
  log "Stage $name"
  start=$(date +%s)
  "$@" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  end=$(date +%s)
  read -r run passed failed < <(count_tests "$log")
  total_run=$((total_run + run)); total_passed=$((total_passed + passed)); total_failed=$((total_failed + failed))
  summary+=("$(printf '%-8s %-6s %5ss  %4s run  %4s passed  %4s failed' "$name" "$([ "$status" = 0 ] && echo ok || echo FAILED)" $((end - start)) "$run" "$passed" "$failed")")
  if [ "$status" != 0 ]; then failed_stage=$name; fi
  return "$status"
}

# The Go modules under deploy/: the tests, luban-apps, and the programs the workflows' images run.
GO_MODULES=(deploy/tests deploy/apps deploy/gate deploy/admission deploy/rollout deploy/status)

lint() {
  set -e
  cargo fmt --all --check
  cargo clippy --quiet --workspace --all-targets --locked -- -D warnings
  "$LUBAN_ROOT/scripts/install-tools.sh" --lint-only
  hadolint stack/*/*/Dockerfile
  actionlint
  shellcheck -x scripts/*.sh .ci/run stack/common/*.sh
  local module unformatted
  unformatted=$(gofmt -l "${GO_MODULES[@]}" scripts/overlays)
  test -z "$unformatted" || die "the Go files need gofmt: $unformatted"
  for module in "${GO_MODULES[@]}"; do (cd "$module" && go vet ./...); done
  for module in "${GO_MODULES[@]}"; do [ ! -f "$module/Dockerfile" ] || hadolint "$module/Dockerfile"; done
  echo "lint: fmt, clippy, hadolint, actionlint, shellcheck, gofmt, go vet clean"
}

# Rust unit tests, and the deploy/ tests that need no testbed (Sensor filters through Argo
# Events' own code, kpack consistency).
unit() {
  set -e
  cargo test --workspace --locked
  local module
  for module in "${GO_MODULES[@]}"; do (cd "$module" && go test -count=1 -v ./...); done
}

testbed() {
  set -e
  "$LUBAN_ROOT/scripts/install-tools.sh"
  "$LUBAN_ROOT/scripts/build-stack.sh" bookworm >/dev/null
  "$LUBAN_ROOT/scripts/make-mirror.sh"
  "$LUBAN_ROOT/scripts/mirror.sh" start
  "$LUBAN_ROOT/scripts/registry.sh" start
  "$LUBAN_ROOT/scripts/create-builder.sh" bookworm
}

e2e() {
  "$LUBAN_ROOT/scripts/mirror.sh" start
  "$LUBAN_ROOT/scripts/registry.sh" start
  "$LUBAN_ROOT/scripts/gitea.sh" start
  local status=0
  case ${T:-} in
    TestE2E*|TestBench*) ;;
    *) cargo test --workspace --locked --no-fail-fast --test integration_test -- --ignored --test-threads "$E2E_THREADS" ${T:+"$T"} || status=$? ;;
  esac
  # The workflow steps' real commands, from the WorkflowTemplates, in containers
  # (T=TestE2E... picks one of these instead of a cargo test).
  # With the single-node cluster up for the tests that run on it (TestE2ECluster...).
  case ${T:-TestE2E} in
    TestE2E*|TestBench*)
      "$LUBAN_ROOT/scripts/cluster.sh" up || status=$?
      # -timeout: the node's loop test alone takes about 3 minutes (Go's default is 10 for all).
      (cd deploy/tests && LUBAN_E2E=1 go test -count=1 -timeout 30m -v -run "${T:-TestE2E}" ./...) || status=$?
      "$LUBAN_ROOT/scripts/cluster.sh" down || status=$?
      ;;
  esac
  # Rebuilt test images leave their previous versions behind; drop them so disk use stays flat.
  "$LUBAN_ROOT/scripts/docker.sh" image prune -f >/dev/null 2>&1 || true
  return "$status"
}

started=$(date +%s)
for s in "${stages[@]}"; do
  case $s in
    # Not `stage ... || break`: inside an || list bash ignores the stages' own `set -e`.
    lint|unit|testbed|e2e) stage "$s" "$s" ;;
    *) die "unknown stage $s (lint unit testbed e2e)" ;;
  esac
  [ -z "$failed_stage" ] || break
done

echo
echo "Summary"
printf '  %s\n' "${summary[@]}"
printf '%s tests run in %ss\n' "$total_run" $(( $(date +%s) - started ))
printf 'total: %s passed, %s failed\n' "$total_passed" "$total_failed"
[ -z "$failed_stage" ] || { echo "FAILED in stage $failed_stage"; exit 1; }
