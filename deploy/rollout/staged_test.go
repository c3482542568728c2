package main

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const stagedImage = "registry.example.com/luban/sample-app"

func stagedApp(sync, health string) *unstructured.Unstructured {
	app := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{
		"sync":   map[string]any{"status": sync, "revision": newer},
		"health": map[string]any{"status": health},
	}}}
	app.SetName("sample-app")
	return app
}

func stagedDeployment(images ...string) *appsv1.Deployment {
	d := deployment(3, 3, 2, 2, 2, 2)
	d.Spec.Template.Spec.Containers = nil
	for _, image := range images {
		d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{Name: "c", Image: image})
	}
	return d
}

func TestStagedDigestIsTheOneDigestAHealthyEnvironmentRuns(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	got, err := StagedDigest(stagedApp("Synced", "Healthy"), []*appsv1.Deployment{
		stagedDeployment(stagedImage+"@"+digest, "busybox:1.36"), stagedDeployment(stagedImage + "@" + digest)}, stagedImage)
	if err != nil || got != (Staged{Digest: digest, GitOpsCommit: newer}) {
		t.Fatalf("staged: %+v %v", got, err)
	}
	for name, c := range map[string]struct {
		app         *unstructured.Unstructured
		deployments []*appsv1.Deployment
		want        string
	}{
		"out of sync":    {stagedApp("OutOfSync", "Healthy"), []*appsv1.Deployment{stagedDeployment(stagedImage + "@" + digest)}, "not synced and healthy (sync OutOfSync, health Healthy)"},
		"degraded":       {stagedApp("Synced", "Degraded"), []*appsv1.Deployment{stagedDeployment(stagedImage + "@" + digest)}, "health Degraded"},
		"by tag":         {stagedApp("Synced", "Healthy"), []*appsv1.Deployment{stagedDeployment(stagedImage + ":latest")}, "only a digest is promoted"},
		"another image":  {stagedApp("Synced", "Healthy"), []*appsv1.Deployment{stagedDeployment("busybox@" + digest)}, "no container of Application sample-app runs"},
		"two digests":    {stagedApp("Synced", "Healthy"), []*appsv1.Deployment{stagedDeployment(stagedImage+"@"+digest, stagedImage+"@sha256:"+strings.Repeat("cd", 32))}, "more than one digest"},
		"no deployments": {stagedApp("Synced", "Healthy"), nil, "deploys no Deployment"},
		"rolling out":    {stagedApp("Synced", "Healthy"), []*appsv1.Deployment{deployment(3, 3, 2, 1, 2, 3)}, "still rolling out"},
	} {
		if _, err := StagedDigest(c.app, c.deployments, stagedImage); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}
