package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdv1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/luban-buildpacks/luban/deploy/apps"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kustomize "sigs.k8s.io/kustomize/api/types"
)

// A hostile commit to the GitOps repository (on the testbed's forge), synced by the real Argo
// CD on the node with the Application and AppProject luban-apps renders: a cluster-wide Namespace
// and a pod that shares the host's PIDs with added capabilities next to the app's manifests.
// Argo CD refuses both (the project allows neither), and the namespace never exists. The app's namespace labels, applied to the bench's namespace, make
// the node's own Pod Security admission refuse the same pod sent straight to the API.
func TestE2EClusterAGitOpsCommitCannotReachBeyondItsApp(t *testing.T) {
	b := newArgoBench(t)
	ctx := context.Background()
	forge := startForge(t)
	gitops := forge.repository(t, "gitops")
	hostileNamespace := fmt.Sprintf("luban-hostile-%d", time.Now().UnixNano())
	seed := gitRepo(t, "deploy/argo/cd/gitops-example", "seed")
	writeYAML(t, filepath.Join(seed, "clusters/luban-node/kustomization.yaml"), nodeOverlay("../../apps/sample-app/staging", b.namespace, freeNodePort(t)))
	hostilePod := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: hostile, namespace: %s}
spec:
  hostPID: true
  containers:
    - name: x
      image: %s
      # The API server refuses privileged pods outright; this one breaks Pod Security's levels.
      securityContext: {allowPrivilegeEscalation: true, capabilities: {add: [SYS_ADMIN]}}
`, b.namespace, runImage)
	writeFile(t, filepath.Join(seed, "apps/sample-app/staging/hostile.yaml"),
		fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n---\n%s", hostileNamespace, hostilePod))
	var kustomization kustomize.Kustomization
	path := filepath.Join(seed, "apps/sample-app/staging/kustomization.yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	decodeYAML(t, raw, &kustomization)
	kustomization.Resources = append(kustomization.Resources, "hostile.yaml")
	writeYAML(t, path, kustomization)
	git(t, seed, "add", "-A")
	git(t, seed, "commit", "-q", "-m", "a hostile commit")
	forge.git(t, seed, "push", "-q", forge.pushURL(gitops), "HEAD:main")
	// The app as luban-apps renders its Application and AppProject from its file.
	b.createApps(t, nodeApp("sample-app", forge, "luban/app", registry+"/luban-test/hostile",
		apps.Environment{Name: "staging", Path: "clusters/luban-node", Namespace: b.namespace}), b.nodeConfig(forge.cloneURL(gitops)))

	applications := b.dynamic.Resource(cdv1.SchemeGroupVersion.WithResource("applications")).Namespace("argocd")
	var status string
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		app, err := applications.Get(ctx, "sample-app", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(app.Object["status"])
		status = string(raw)
		if strings.Contains(status, "Namespace is not permitted in project") && strings.Contains(status, "Pod is not permitted in project") {
			break
		}
	}
	if !strings.Contains(status, "Namespace is not permitted in project") || !strings.Contains(status, "Pod is not permitted in project") {
		t.Fatalf("Argo CD should refuse the commit's Namespace and Pod; the Application's status:\n%s", status)
	}
	if _, err := b.client.CoreV1().Namespaces().Get(ctx, hostileNamespace, metav1.GetOptions{}); err == nil {
		t.Errorf("the commit's namespace %s was created", hostileNamespace)
	}
	if _, err := b.client.CoreV1().Pods(b.namespace).Get(ctx, "hostile", metav1.GetOptions{}); err == nil {
		t.Error("the commit's hostile pod was created")
	}

	// The app namespace's Pod Security labels, on the node: the pod is refused at the API too.
	appNamespace, _, _ := exampleDeploy(t)
	namespace, err := b.client.CoreV1().Namespaces().Get(ctx, b.namespace, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for key, value := range appNamespace.Labels {
		if strings.HasPrefix(key, "pod-security.kubernetes.io/") {
			namespace.Labels[key] = value
		}
	}
	if _, err := b.client.CoreV1().Namespaces().Update(ctx, namespace, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	decodeYAML(t, []byte(hostilePod), &pod)
	if _, err := b.client.CoreV1().Pods(b.namespace).Create(ctx, &pod, metav1.CreateOptions{}); err == nil || !strings.Contains(err.Error(), "violates PodSecurity \"restricted:latest\"") {
		t.Errorf("the node must refuse the hostile pod in a namespace labelled as the app's: %v", err)
	}
}
