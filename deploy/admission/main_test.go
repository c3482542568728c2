package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

const signed = "registry.example.com/app@sha256:" + "ab" + "ab" + "abababababababababababababababababababababababababababababab"

// A verifier that accepts only `signed`.
func onlySigned(_ context.Context, image string) error {
	if image != signed {
		return errors.New(image + " has no signature by the site's key")
	}
	return nil
}

func review(t *testing.T, kind string, object any) *admissionv1.AdmissionResponse {
	t.Helper()
	raw, err := json.Marshal(object)
	if err != nil {
		t.Fatal(err)
	}
	return Review(context.Background(), &admissionv1.AdmissionReview{Request: &admissionv1.AdmissionRequest{
		UID: "1", Kind: metav1.GroupVersionKind{Kind: kind}, Object: runtime.RawExtension{Raw: raw},
	}}, onlySigned)
}

func TestEveryImageOfAPodOrWorkloadMustBeSigned(t *testing.T) {
	pod := func(images ...string) map[string]any {
		var containers []map[string]any
		for _, image := range images {
			containers = append(containers, map[string]any{"name": "c", "image": image})
		}
		return map[string]any{"containers": containers}
	}
	if r := review(t, "Pod", map[string]any{"spec": pod(signed)}); !r.Allowed || r.UID != "1" {
		t.Errorf("a pod of a signed digest is admitted: %+v", r)
	}
	r := review(t, "Pod", map[string]any{"spec": map[string]any{
		"initContainers": []map[string]any{{"name": "i", "image": "evil/init:latest"}},
		"containers":     []map[string]any{{"name": "c", "image": signed}}}})
	if r.Allowed || !strings.Contains(r.Result.Message, "evil/init:latest") {
		t.Errorf("an unsigned init container is refused, named: %+v", r.Result)
	}
	deployment := map[string]any{"spec": map[string]any{"template": map[string]any{"spec": pod(signed, "registry.example.com/app@sha256:00")}}}
	if r := review(t, "Deployment", deployment); r.Allowed || !strings.Contains(r.Result.Message, "@sha256:00 has no signature") {
		t.Errorf("a Deployment with an unsigned image is refused: %+v", r.Result)
	}
	cron := map[string]any{"spec": map[string]any{"jobTemplate": map[string]any{"spec": map[string]any{"template": map[string]any{"spec": pod("x")}}}}}
	if r := review(t, "CronJob", cron); r.Allowed {
		t.Error("a CronJob's pod template is checked too")
	}
	if r := review(t, "Service", map[string]any{}); r.Allowed {
		t.Error("a kind it doesn't know is refused, not waved through")
	}
}

func TestAnImageNotPinnedByDigestIsRefusedBeforeAnyRegistryCall(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	verify, err := cosignVerify(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(context.Background(), "registry.example.com/app:latest"); err == nil || !strings.Contains(err.Error(), "not pinned by digest") {
		t.Errorf("a tag must be refused: %v", err)
	}
}
