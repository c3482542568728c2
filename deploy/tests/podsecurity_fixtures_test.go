package tests

// Helpers for the tests in podsecurity_test.go.

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/luban-buildpacks/luban/deploy/apps"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"
)

// Templates that may break "restricted", with why. Nothing else may.
var podSecurityExceptions = map[string]string{
	"deploy/argo/workflows/build-template-pack.yaml#pack": "pack needs a Docker daemon: the dind sidecar is privileged (documented as the less isolated variant)",
}

type namedPod struct {
	name string
	spec corev1.PodSpec
}

// workflowPods turns each container template of a WorkflowTemplate into the pod Argo would
// make of it: the workflow's (or template's) pod security context, the container, sidecars.
func workflowPods(t *testing.T, file string) []namedPod {
	t.Helper()
	var wt struct {
		Spec struct {
			SecurityContext *corev1.PodSecurityContext `json:"securityContext"`
			Templates       []struct {
				Name            string                     `json:"name"`
				SecurityContext *corev1.PodSecurityContext `json:"securityContext"`
				Container       *corev1.Container          `json:"container"`
				Script          *corev1.Container          `json:"script"`
				Sidecars        []corev1.Container         `json:"sidecars"`
			} `json:"templates"`
		} `json:"spec"`
	}
	for _, doc := range documents(t, filepath.Join(repoRoot(t), file), "WorkflowTemplate") {
		if err := yaml.Unmarshal(doc, &wt); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	var pods []namedPod
	for _, tpl := range wt.Spec.Templates {
		main := tpl.Container
		if main == nil {
			main = tpl.Script
		}
		if main == nil {
			continue
		}
		spec := corev1.PodSpec{SecurityContext: wt.Spec.SecurityContext, Containers: []corev1.Container{*main}}
		if tpl.SecurityContext != nil {
			spec.SecurityContext = tpl.SecurityContext
		}
		spec.Containers = append(spec.Containers, tpl.Sidecars...)
		pods = append(pods, namedPod{file + "#" + tpl.Name, spec})
	}
	return pods
}

// argoEventsPod is the pod of a Sensor or EventSource: its `spec.template`.
// argoEventsPod is the pod of the example's EventSource or Sensor, as luban-apps renders them.
func argoEventsPod(t *testing.T, kind string) namedPod {
	t.Helper()
	list, config := exampleSite(t)
	template := apps.EventSource(list, config).Spec.Template
	if kind == "Sensor" {
		template = loadSensor(t).Spec.Template
	}
	container := corev1.Container{Name: "main"}
	if template.Container != nil {
		container = corev1.Container{Name: "main", SecurityContext: template.Container.SecurityContext}
	}
	return namedPod{"luban-apps#" + kind, corev1.PodSpec{
		SecurityContext: template.SecurityContext,
		Containers:      []corev1.Container{container},
	}}
}

func deploymentPod(t *testing.T, file string) namedPod {
	t.Helper()
	var deployment struct {
		Spec struct {
			Template struct {
				Spec corev1.PodSpec `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(documents(t, filepath.Join(repoRoot(t), file), "Deployment")[0], &deployment); err != nil {
		t.Fatal(err)
	}
	return namedPod{file, deployment.Spec.Template.Spec}
}

func restrictedViolations(t *testing.T, spec *corev1.PodSpec) []string {
	t.Helper()
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks())
	if err != nil {
		t.Fatal(err)
	}
	level := psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}
	var violations []string
	for _, result := range evaluator.EvaluatePod(level, &metav1.ObjectMeta{}, spec) {
		if !result.Allowed {
			violations = append(violations, fmt.Sprintf("%s (%s)", result.ForbiddenReason, result.ForbiddenDetail))
		}
	}
	return violations
}
