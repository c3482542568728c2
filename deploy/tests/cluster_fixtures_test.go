package tests

// Helpers for the tests in cluster_e2e_test.go.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kustomize/api/krusty"
	kustomize "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// requireCluster is requireE2E plus a client of the testbed's cluster and its configuration.
func requireCluster(t *testing.T) (*kubernetes.Clientset, *rest.Config) {
	t.Helper()
	requireE2E(t)
	path := os.Getenv("CLUSTER_KUBECONFIG")
	config, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatalf("no cluster (%v): make test's e2e stage brings it up with `scripts/cluster.sh up`", err)
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Discovery().ServerVersion(); err != nil {
		t.Fatalf("the cluster does not answer (%v): `scripts/cluster.sh up`", err)
	}
	return client, config
}

// publish builds a fixture with the offline builder and publishes it to the testbed registry;
// it returns the image's name and manifest digest.
func publish(t *testing.T, fixture, repo string) (string, string) {
	t.Helper()
	app := filepath.Join(t.TempDir(), "app")
	copyTree(t, filepath.Join(repoRoot(t), "test-fixtures", fixture), app)
	image := registry + "/" + repo
	build := exec.Command(filepath.Join(repoRoot(t), "scripts/pack-build.sh"), image,
		"--path", app, "--publish", "--run-image", registryRunImage)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("pack build %s: %v\n%s", fixture, err, out)
	}
	digest := registryDigest(t, registryCA(t), repo, "latest")
	if !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("no digest for %s in the registry: %q", image, digest)
	}
	return image, digest
}

// renderGitOpsApp renders the GitOps example's sample app with kustomize's own code, after
// setting its image to image@digest as the GitOps step commits it, through a test overlay
// that only adapts it to the node (nodeOverlay).
func renderGitOpsApp(t *testing.T, image, digest, namespace string, port int) (appsv1.Deployment, corev1.Service) {
	t.Helper()
	app := filepath.Join(t.TempDir(), "sample-app")
	copyTree(t, filepath.Join(repoRoot(t), "deploy/argo/cd/gitops-example/apps/sample-app"), app)
	staging := filepath.Join(app, "staging")
	var kustomization kustomize.Kustomization
	raw, err := os.ReadFile(filepath.Join(staging, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &kustomization); err != nil {
		t.Fatal(err)
	}
	if len(kustomization.Images) != 1 {
		t.Fatalf("the sample app's staging kustomization should set one image, sets %d", len(kustomization.Images))
	}
	kustomization.Images[0].NewName, kustomization.Images[0].Digest = image, digest
	writeYAML(t, filepath.Join(staging, "kustomization.yaml"), kustomization)
	return renderForTheNode(t, app, namespace, port)
}

// onTheNode makes the environment's kustomization in `dir` run on the node, in place: its
// namespace, and nodeOverlay's patches (one replica, the Service a NodePort `port` on
// 127.0.0.1). The environment's directory is then both what the deploy step sets the digest in
// and what the Application deploys, as an app file's `path` says.
func onTheNode(t *testing.T, dir, namespace string, port int) {
	t.Helper()
	var kustomization kustomize.Kustomization
	if err := yaml.UnmarshalStrict([]byte(readText(t, filepath.Join(dir, "kustomization.yaml"))), &kustomization); err != nil {
		t.Fatal(err)
	}
	kustomization.Namespace = namespace
	kustomization.Patches = append(kustomization.Patches, nodeOverlay("", namespace, port).Patches...)
	writeYAML(t, filepath.Join(dir, "kustomization.yaml"), kustomization)
}

// renderForTheNode renders the staging kustomization of the sample app in `app` (a copy of
// apps/sample-app) as Argo CD would, through the node overlay: its Deployment and Service.
func renderForTheNode(t *testing.T, app, namespace string, port int) (appsv1.Deployment, corev1.Service) {
	t.Helper()
	dir := t.TempDir()
	copyTree(t, app, filepath.Join(dir, "sample-app"))
	overlay := nodeOverlay("../sample-app/staging", namespace, port)
	writeYAML(t, filepath.Join(dir, "node", "kustomization.yaml"), overlay)
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(dir, "node"))
	if err != nil {
		t.Fatal(err)
	}
	var deployment appsv1.Deployment
	var service corev1.Service
	for _, resource := range resources.Resources() {
		var into any
		switch resource.GetKind() {
		case "Deployment":
			into = &deployment
		case "Service":
			into = &service
		default:
			t.Fatalf("the sample app renders a %s the node test does not apply", resource.GetKind())
		}
		doc, err := resource.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.UnmarshalStrict(doc, into); err != nil {
			t.Fatal(err)
		}
	}
	return deployment, service
}

// nodeOverlay adapts the sample app at `base` (a kustomization directory) to the node: its own
// namespace, one replica, and its Service a NodePort `port` (in 30000-32767), which kube-proxy
// serves on 127.0.0.1 only and sends to ready pods. The pods stay on the pod network, so a
// rolling update runs the new pod beside the old one as it would anywhere.
func nodeOverlay(base, namespace string, port int) kustomize.Kustomization {
	replicas := `apiVersion: apps/v1
kind: Deployment
metadata: {name: sample-app}
spec: {replicas: 1}
`
	nodePort := fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: sample-app}
spec:
  type: NodePort
  ports: [{name: http, port: 80, targetPort: 8000, nodePort: %d}]
`, port)
	return kustomize.Kustomization{
		TypeMeta:  kustomize.TypeMeta{APIVersion: kustomize.KustomizationVersion, Kind: kustomize.KustomizationKind},
		Namespace: namespace,
		Resources: []string{base},
		Patches:   []kustomize.Patch{{Patch: replicas}, {Patch: nodePort}},
	}
}

// freeNodePort is a NodePort (30000-32767) nothing on 127.0.0.1 listens on.
func freeNodePort(t *testing.T) int {
	t.Helper()
	for range 100 {
		port := 30000 + rand.IntN(2768)
		if listener, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			listener.Close()
			return port
		}
	}
	t.Fatal("no free NodePort")
	return 0
}

func writeYAML(t *testing.T, path string, value any) {
	t.Helper()
	doc, err := yaml.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(doc))
}

func freePort(t *testing.T) int {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	return listener.Addr().(*net.TCPAddr).Port
}

// waitAvailable waits for the Deployment's replica; on timeout it fails with what the pods
// and the namespace's events say.
func waitAvailable(t *testing.T, client *kubernetes.Clientset, namespace, name string, timeout time.Duration) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		deployment, err := client.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil && deployment.Status.AvailableReplicas >= 1 {
			return
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("deployment %s/%s has no available replica after %s:\n%s", namespace, name, timeout, namespaceReport(client, namespace))
}

// namespaceReport is what the namespace's pods and events say, for a test that waited in vain.
func namespaceReport(client *kubernetes.Clientset, namespace string) string {
	ctx := context.Background()
	var report strings.Builder
	if pods, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{}); err == nil {
		for _, pod := range pods.Items {
			fmt.Fprintf(&report, "pod %s: %s\n", pod.Name, pod.Status.Phase)
			for _, status := range pod.Status.ContainerStatuses {
				fmt.Fprintf(&report, "  %s: %+v\n", status.Name, status.State)
			}
		}
	}
	if events, err := client.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{}); err == nil {
		for _, event := range events.Items {
			fmt.Fprintf(&report, "event %s %s: %s\n", event.InvolvedObject.Name, event.Reason, event.Message)
		}
	}
	return report.String()
}
