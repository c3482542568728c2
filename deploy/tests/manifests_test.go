package tests

// Every document under deploy/ is decoded strictly (an unknown or misspelled field is an
// error) into the upstream project's own Go type for its kind, and then checked by the
// validation that project runs itself where it ships one: Argo Workflows' template
// validation (with the Workflow the Sensor submits resolved against our templates), Argo
// Events' sensor validation, and kpack's defaulting plus Validate methods. The apps' EventSource
// and Sensor are what luban-apps renders from deploy/install's example; Argo Events'
// event-source validation of it runs in deploy/apps (its package links an HDFS client whose
// protobuf names clash with Argo Workflows' in one binary). Argo CD, Kustomize and
// Kubernetes' built-in kinds have no offline validation beyond their types.

import (
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

func TestEveryManifestDecodesStrictlyAndValidates(t *testing.T) {
	for _, problem := range manifestProblems(t, unchanged) {
		t.Error(problem)
	}
}

// The check itself: a misspelled field or an invalid value in a real manifest is reported,
// for each upstream project's kinds.
func TestBrokenManifestsAreReported(t *testing.T) {
	cases := []struct{ file, old, new, want string }{
		{"deploy/install/apps/sample-app.yaml", "  image:", "  imgae:", `app sample-app`},
		{"deploy/argo/events/sensor-rbac.yaml", "verbs: [create, list]", "verb: [create, list]", `unknown field "verb"`},
		{"deploy/argo/workflows/build-template.yaml", "entrypoint:", "entrypont:", "entrypont"},
		{"deploy/argo/workflows/build-template.yaml", "{{inputs.parameters.", "{{inputs.parameter.", "inputs.parameter."},
		{"deploy/argo/cd/update-digest-template.yaml", "{{inputs.parameters.digest}}", "{{inputs.parameters.digets}}", "digets"},
		{"deploy/kpack/kpack.yaml", "serviceAccountName:", "serviceAccount:", "serviceAccount"},
		{"deploy/kpack/kpack.yaml", "tag: registry.example.com/luban/sample-app", "tag: ''", "tag"},
		{"deploy/argo/workflows/rbac.yaml", "name: luban-build.service-account-token", "name: luban-build-token", "luban-build.service-account-token"},
		{"deploy/argo/workflows/build-template.yaml", "    - name: cosign-public-key\n      configMap:", "    - name: cosign-public-kee\n      configMap:", `mounts the volume "cosign-public-key"`},
		{"deploy/argo/workflows/build-template.yaml", "    - name: vulnerability-gate\n      container:",
			"    - name: vulnerability-gate\n      outputs: {artifacts: [{name: report, path: /tmp/report.json}]}\n      container:", "output artifacts"},
		// The trust rule (docs/argo-workflows.md): the signing steps with the workspace again,
		// the exporter reading analyzed.toml from it, a credential the table doesn't list.
		{"deploy/argo/workflows/build-template.yaml", "volumeMounts: &cosign-mounts\n",
			"volumeMounts: &cosign-mounts\n          - {name: workspace, mountPath: /workspace, readOnly: true}\n",
			"luban-build/attest-sbom holds cosign-key, env:COSIGN_PASSWORD, registry-auth and opens /workspace on the shared volume"},
		{"deploy/argo/workflows/build-template.yaml", "-analyzed=/tmp/luban/analyzed.toml", "-analyzed=/workspace/layers/analyzed.toml",
			"luban-build/export holds registry-auth and opens /workspace/layers/analyzed.toml"},
		{"deploy/argo/workflows/build-template.yaml", "            mountPath: /luban/build-secrets\n            readOnly: true\n",
			"            mountPath: /luban/build-secrets\n            readOnly: true\n          - {name: registry-auth, mountPath: /luban/registry-auth}\n",
			"luban-build/tests holds [build-secrets, registry-auth]"},
	}
	for _, c := range cases {
		t.Run(c.file+" "+c.new, func(t *testing.T) {
			edited := false
			problems := manifestProblems(t, func(path string, raw []byte) []byte {
				if path != c.file {
					return raw
				}
				if !strings.Contains(string(raw), c.old) {
					t.Fatalf("%s has no %q to break", path, c.old)
				}
				edited = true
				return []byte(strings.Replace(string(raw), c.old, c.new, 1))
			})
			if !edited {
				t.Fatalf("no manifest %s", c.file)
			}
			if len(problems) == 0 || !strings.Contains(strings.Join(problems, "\n"), c.want) {
				t.Fatalf("breaking %s (%q → %q) must be reported naming %q; got %q", c.file, c.old, c.new, c.want, problems)
			}
			t.Logf("reported: %s", strings.Join(problems, "\n"))
		})
	}
}

// A build workflow has a deadline: build-time code that hangs must not hold the node (and a
// build's credentials) forever.
func TestBuildWorkflowsHaveADeadline(t *testing.T) {
	for _, file := range []string{"deploy/argo/workflows/build-template.yaml", "deploy/argo/workflows/build-template-pack.yaml"} {
		var wt wfv1.WorkflowTemplate
		decodeDocument(t, file, "WorkflowTemplate", &wt)
		if d := wt.Spec.ActiveDeadlineSeconds; d == nil || *d <= 0 || *d > 4*3600 {
			t.Errorf("%s: spec.activeDeadlineSeconds should be set, at most 4 hours; is %v", file, d)
		}
	}
}

// Nothing is built, pushed or deployed before the gates have passed: in both build
// WorkflowTemplates the clone runs alone, then the gates side by side (the vulnerability gate,
// the secret scan and, in luban-build, the tests and the linter, with `reuse`, which asks the
// registry for an image of the same inputs and reads no file), and only then any step that
// runs the lifecycle.
func TestTheGatesRunBeforeAnythingIsBuilt(t *testing.T) {
	for file, gates := range map[string]string{
		"deploy/argo/workflows/build-template.yaml":      "vulnerability-gate secret-scan tests lint reuse",
		"deploy/argo/workflows/build-template-pack.yaml": "vulnerability-gate secret-scan",
	} {
		groups := stepGroups(t, file, "build")
		if len(groups) < 3 || strings.Join(groups[0], " ") != "clone" || strings.Join(groups[1], " ") != gates {
			t.Errorf("%s: the step groups are %v; want [clone], then [%s], then the build", file, groups, gates)
		}
	}
}

// A digest is signed right after it is pushed, and luban-gitops commits a digest only after
// its signature verified: the commit step is never reached for an unsigned one.
func TestSigningFollowsThePushAndVerificationPrecedesTheCommit(t *testing.T) {
	stepsOf := func(file, template string) []string {
		var order []string
		for _, group := range stepGroups(t, file, template) {
			order = append(order, group...)
		}
		return order
	}
	build := strings.Join(stepsOf("deploy/argo/workflows/build-template.yaml", "build"), " ")
	if !strings.HasSuffix(build, "export sbom sign attest-sbom deploy") {
		t.Errorf("luban-build's steps are %q; want export (with sbom), sign, attest-sbom, deploy last", build)
	}
	deploy := strings.Join(stepsOf("deploy/argo/cd/update-digest-template.yaml", "update-digest"), " ")
	if deploy != "verify-signature render preflight commit-digest rollout roll-back rolled-back rollout-failed" {
		t.Errorf("luban-gitops' update-digest runs %q; want verify-signature (and render), the preflight, then commit-digest, then the rollout check and its rollback", deploy)
	}
}
