package tests

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// On the node: deploy/admission's ValidatingWebhookConfiguration (its rules, namespace
// selector and failure policy, with the test's URL and CA instead of the Service) and
// luban-admission built from deploy/admission. In a namespace labelled as the app's is, a pod
// of an image nobody signed is refused, naming it; a tag instead of a digest is refused; once
// cosign has signed the digest with the site's key, the same pod is admitted.
func TestE2EClusterAnUnsignedImageIsRefusedAtDeployTime(t *testing.T) {
	b := newArgoBench(t)
	ctx := context.Background()
	keys := t.TempDir()
	password := "luban-e2e-admission-password"
	cosignKeyPair(t, keys, password)
	url, caBundle := startAdmission(t, keys)

	var configuration admissionregistrationv1.ValidatingWebhookConfiguration
	decodeDocument(t, "deploy/admission/admission.yaml", "ValidatingWebhookConfiguration", &configuration)
	configuration.Name = b.namespace + "-signed-images"
	webhook := &configuration.Webhooks[0]
	webhook.ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caBundle}
	webhooks := b.client.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	if _, err := webhooks.Create(ctx, &configuration, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { webhooks.Delete(context.Background(), configuration.Name, metav1.DeleteOptions{}) })
	// The bench's namespace gets the app namespace's label (as luban-apps renders it).
	appNamespace, _, _ := exampleDeploy(t)
	namespace, err := b.client.CoreV1().Namespaces().Get(ctx, b.namespace, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	namespace.Labels["luban.io/signed-images"] = appNamespace.Labels["luban.io/signed-images"]
	if _, err := b.client.CoreV1().Namespaces().Update(ctx, namespace, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	image := pushImage(t, runImage, "luban-test/admission")
	pod := func(name, image string) error {
		no := false
		_, err := b.client.CoreV1().Pods(b.namespace).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{AutomountServiceAccountToken: &no,
				Containers: []corev1.Container{{Name: "app", Image: image, Command: []string{"sleep", "300"}}}},
		}, metav1.CreateOptions{})
		return err
	}
	// The webhook may take a moment to be called: the API server reads configurations lazily.
	var refused error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		if refused = pod("unsigned", image); refused != nil {
			break
		}
		b.client.CoreV1().Pods(b.namespace).Delete(ctx, "unsigned", metav1.DeleteOptions{})
	}
	if refused == nil || !strings.Contains(refused.Error(), "has no signature by the site's key") || !strings.Contains(refused.Error(), image) {
		t.Fatalf("a pod of an unsigned image must be refused, naming it: %v", refused)
	}
	tag := registry + "/luban-test/admission:latest"
	if err := pod("tagged", tag); err == nil || !strings.Contains(err.Error(), "not pinned by digest") {
		t.Errorf("a pod of a tag must be refused: %v", err)
	}

	sign := exec.Command(lookTool(t, "cosign"), "sign", "--key", filepath.Join(keys, "cosign.key"), "--tlog-upload=false", "--yes", image)
	sign.Env = append(os.Environ(), "COSIGN_PASSWORD="+password, "SSL_CERT_FILE="+filepath.Join(testbedDir, "ca-bundle.crt"))
	if out, err := sign.CombinedOutput(); err != nil {
		t.Fatalf("cosign sign: %v\n%s", err, out)
	}
	if err := pod("signed", image); err != nil {
		t.Fatalf("a pod of the signed digest must be admitted: %v", err)
	}
}
