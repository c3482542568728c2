package tests

// Helpers for the tests in kpack_cluster_e2e_test.go.

import (
	"archive/tar"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// pushPackage pushes the buildpack package the testbed made (target/luban_python.cnb, an OCI
// layout in a tar) to the testbed registry as repo:tag and returns repo@digest.
func pushPackage(t *testing.T, repo, tag string) string {
	t.Helper()
	archive, err := os.Open(filepath.Join(repoRoot(t), "target/luban_python.cnb"))
	if err != nil {
		t.Fatalf("the buildpack package (made by make test's testbed stage, scripts/package-buildpacks.sh): %v", err)
	}
	defer archive.Close()
	dir := t.TempDir()
	entries := tar.NewReader(archive)
	for {
		header, err := entries.Next()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, filepath.Clean("/"+header.Name))
		switch header.Typeflag {
		case tar.TypeDir:
			os.MkdirAll(path, 0o755)
		case tar.TypeReg:
			os.MkdirAll(filepath.Dir(path), 0o755)
			file, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(file, entries); err != nil {
				t.Fatal(err)
			}
			file.Close()
		}
	}
	index, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := index.IndexManifest()
	if err != nil || len(manifest.Manifests) != 1 {
		t.Fatalf("the package should hold one image: %v %v", manifest, err)
	}
	image, err := index.Image(manifest.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(registry + "/" + repo + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, image, remote.WithTransport(registryClient(registryCA(t)).Transport)); err != nil {
		t.Fatal(err)
	}
	digest, err := image.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return registry + "/" + repo + "@" + digest.String()
}

// hostNetworkWebhook registers a mutating admission webhook, served by the test on 127.0.0.1,
// that puts the bench namespace's pods carrying `label` on the host's network.
func (b *argoBench) hostNetworkWebhook(t *testing.T, label string) {
	t.Helper()
	server := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var review admissionv1.AdmissionReview
		if err := json.NewDecoder(r.Body).Decode(&review); err != nil || review.Request == nil {
			http.Error(w, "not an AdmissionReview", http.StatusBadRequest)
			return
		}
		patch := admissionv1.PatchTypeJSONPatch
		review.Response = &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true, PatchType: &patch,
			Patch: []byte(`[{"op": "add", "path": "/spec/hostNetwork", "value": true}]`)}
		review.Request = nil
		json.NewEncoder(w).Encode(review)
	}))
	t.Cleanup(server.Close)
	url := server.URL + "/mutate"
	none, fail := admissionregistrationv1.SideEffectClassNone, admissionregistrationv1.Fail
	configuration := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: b.namespace + "-host-network"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "host-network.luban.test",
			ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url,
				CABundle: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: server.Certificate().Raw})},
			Rules: []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": b.namespace}},
			ObjectSelector:          &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: label, Operator: metav1.LabelSelectorOpExists}}},
			SideEffects:             &none,
			FailurePolicy:           &fail,
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
	webhooks := b.client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	if _, err := webhooks.Create(context.Background(), configuration, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { webhooks.Delete(context.Background(), configuration.Name, metav1.DeleteOptions{}) })
}

// imageWithCAs is `image` with the testbed's CA bundle (this machine's CAs and the registry's)
// as its system CAs, pushed to the testbed registry as repo.
func imageWithCAs(t *testing.T, image, repo string) string {
	t.Helper()
	context := t.TempDir()
	bundle, err := os.ReadFile(filepath.Join(testbedDir, "ca-bundle.crt"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(context, "ca-bundle.crt"), string(bundle))
	return buildImage(t, context, fmt.Sprintf("FROM %s\nCOPY ca-bundle.crt /etc/ssl/certs/ca-certificates.crt\n", image), repo)
}

// The kpack manifests the test gives the node.
const kpackManifest = "deploy/kpack/kpack.yaml"
