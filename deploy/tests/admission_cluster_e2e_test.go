package tests

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
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

// servingCertificate makes a CA and a certificate for 127.0.0.1 signed by it, in dir
// (tls.crt, tls.key); it returns the CA's PEM, the webhook's caBundle.
func servingCertificate(t *testing.T, dir string) []byte {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "luban-admission-test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "luban-admission"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	writeFile(t, filepath.Join(dir, "tls.crt"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})))
	writeFile(t, filepath.Join(dir, "tls.key"), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}

// startAdmission builds luban-admission from deploy/admission and runs it on 127.0.0.1 with
// the public key in keys, trusting the testbed registry's CA; it returns its URL and caBundle.
func startAdmission(t *testing.T, keys string) (string, []byte) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "luban-admission")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Join(repoRoot(t), "deploy/admission")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build deploy/admission: %v\n%s", err, out)
	}
	tlsDir := t.TempDir()
	caBundle := servingCertificate(t, tlsDir)
	address := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	logFile, _ := os.Create(filepath.Join(t.TempDir(), "admission.log"))
	server := exec.Command(bin, "--listen="+address, "--tls-cert="+filepath.Join(tlsDir, "tls.crt"),
		"--tls-key="+filepath.Join(tlsDir, "tls.key"), "--public-key="+filepath.Join(keys, "cosign.pub"))
	server.Env = append(os.Environ(), "SSL_CERT_FILE="+filepath.Join(testbedDir, "ca-bundle.crt"))
	server.Stdout, server.Stderr = logFile, logFile
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		server.Process.Kill()
		server.Wait()
		if t.Failed() {
			log, _ := os.ReadFile(logFile.Name())
			t.Logf("luban-admission's log:\n%s", log)
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if conn, err := net.Dial("tcp", address); err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("luban-admission never listened on %s", address)
		}
	}
	return "https://" + address + "/verify", caBundle
}

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
	// The bench's namespace gets the app namespace's label (application.yaml's).
	var appNamespace corev1.Namespace
	decodeDocument(t, "deploy/argo/cd/application.yaml", "Namespace", &appNamespace)
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
