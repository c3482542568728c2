package tests

// End-to-end on a real Kubernetes node (scripts/cluster.sh, which make test's e2e stage brings
// up and down): what Argo CD would roll out from the GitOps repository, applied through the
// API server and run by the kubelet with containerd. The first hop of the node loop; the
// controllers (Argo Workflows, Argo Events, Argo CD, kpack) are not on the node yet.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestE2EClusterRunsThePublishedImageFromTheGitOpsApp(t *testing.T) {
	client, _ := requireCluster(t)
	ctx := context.Background()
	image, digest := publish(t, "web_flask", "luban-test/cluster-app")

	namespace := fmt.Sprintf("luban-e2e-%d", time.Now().UnixNano())
	port := freeNodePort(t)
	deployment, service := renderGitOpsApp(t, image, digest, namespace, port)
	if got := deployment.Spec.Template.Spec.Containers[0].Image; got != image+"@"+digest {
		t.Fatalf("rendered image %q, want %s@%s", got, image, digest)
	}
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.CoreV1().Namespaces().Delete(context.Background(), namespace, metav1.DeleteOptions{})
	})
	started := time.Now()
	if _, err := client.AppsV1().Deployments(namespace).Create(ctx, &deployment, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Services(namespace).Create(ctx, &service, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The kubelet pulls the image by digest from the TLS registry, with the testbed's CA, and
	// runs it with the manifest's securityContext (non-root 1002, no capabilities, seccomp).
	waitAvailable(t, client, namespace, "sample-app", 3*time.Minute)
	t.Logf("deployment available in %s", time.Since(started).Round(100*time.Millisecond))

	pods, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=sample-app"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("want one sample-app pod, got %v (%v)", pods, err)
	}
	if id := pods.Items[0].Status.ContainerStatuses[0].ImageID; !strings.HasSuffix(id, digest) {
		t.Fatalf("the pod runs image %q, not the published digest %s", id, digest)
	}
	if body := answer(t, port); !strings.Contains(body, "Hello from Luban") || !strings.Contains(body, `"uid":1002`) {
		t.Fatalf("the app on the node should answer as uid 1002, answered %q", body)
	}
}
