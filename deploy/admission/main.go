// Package main is luban-admission: a validating admission webhook that admits a pod (or a
// workload's pod template) only when every image it runs is pinned by digest and that digest
// is signed by the site's cosign key, checked against the signature stored next to it in the
// registry. It is the deploy-time half of the signing luban-build does: a GitOps commit, or
// anyone with access to the namespace, can't run an image the pipeline didn't sign.
package main

import (
	"context"
	"crypto"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	sigs "github.com/sigstore/cosign/v2/pkg/signature"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Verify says why an image may not run, or nil.
type Verify func(ctx context.Context, image string) error

// cosignVerify checks image against the public key: pinned by digest, signed.
func cosignVerify(publicKey []byte) (Verify, error) {
	verifier, err := sigs.LoadPublicKeyRaw(publicKey, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("the public key: %w", err)
	}
	return func(ctx context.Context, image string) error {
		ref, err := name.NewDigest(image)
		if err != nil {
			return fmt.Errorf("%s is not pinned by digest (registry/repository@sha256:…): only a signed digest may run", image)
		}
		_, _, err = cosign.VerifyImageSignatures(ctx, ref, &cosign.CheckOpts{
			SigVerifier:   verifier,
			ClaimVerifier: cosign.SimpleClaimVerifier,
			// Key-based signing on an air-gapped site: no transparency log, no certificates.
			IgnoreTlog: true,
			IgnoreSCT:  true,
		})
		if err != nil {
			return fmt.Errorf("%s has no signature by the site's key: %v", image, err)
		}
		return nil
	}, nil
}

// podSpec is the pod a request's object would run: a Pod's, or a workload's template.
func podSpec(kind string, raw []byte) (*corev1.PodSpec, error) {
	// The three places a pod spec is, by kind.
	var object struct {
		Spec struct {
			corev1.PodSpec
			Template    corev1.PodTemplateSpec `json:"template"`
			JobTemplate struct {
				Spec struct {
					Template corev1.PodTemplateSpec `json:"template"`
				} `json:"spec"`
			} `json:"jobTemplate"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(raw, &object); err != nil {
		return nil, err
	}
	switch kind {
	case "Pod":
		return &object.Spec.PodSpec, nil
	case "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job":
		return &object.Spec.Template.Spec, nil
	case "CronJob":
		return &object.Spec.JobTemplate.Spec.Template.Spec, nil
	}
	return nil, fmt.Errorf("luban-admission checks pods and workloads, not %s", kind)
}

// Review decides one AdmissionReview: every image of every container (init and ephemeral
// too) must pass verify. The answer names each image refused and why.
func Review(ctx context.Context, review *admissionv1.AdmissionReview, verify Verify) *admissionv1.AdmissionResponse {
	request := review.Request
	response := &admissionv1.AdmissionResponse{UID: request.UID}
	spec, err := podSpec(request.Kind.Kind, request.Object.Raw)
	if err != nil {
		response.Result = &metav1.Status{Code: http.StatusBadRequest, Message: err.Error()}
		return response
	}
	var images []string
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		images = append(images, c.Image)
	}
	for _, c := range spec.EphemeralContainers {
		images = append(images, c.Image)
	}
	var refused []string
	seen := map[string]bool{}
	for _, image := range images {
		if seen[image] {
			continue
		}
		seen[image] = true
		if err := verify(ctx, image); err != nil {
			refused = append(refused, err.Error())
		}
	}
	if len(refused) > 0 {
		response.Result = &metav1.Status{Code: http.StatusForbidden,
			Message: "luban-admission: " + strings.Join(refused, "; ")}
		return response
	}
	response.Allowed = true
	return response
}

func handler(verify Verify) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var review admissionv1.AdmissionReview
		if err := json.Unmarshal(body, &review); err != nil || review.Request == nil {
			http.Error(w, "not an AdmissionReview", http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
		defer cancel()
		review.Response = Review(ctx, &review, verify)
		review.Request = nil
		if !review.Response.Allowed {
			log.Printf("refused %s: %s", review.Response.UID, review.Response.Result.Message)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(&review)
	}
}

func main() {
	listen := flag.String("listen", ":8443", "the address to serve HTTPS on")
	cert := flag.String("tls-cert", "/luban/tls/tls.crt", "the serving certificate")
	key := flag.String("tls-key", "/luban/tls/tls.key", "the serving key")
	publicKey := flag.String("public-key", "/luban/cosign/cosign.pub", "the cosign public key images must be signed with")
	flag.Parse()
	pem, err := os.ReadFile(*publicKey)
	if err != nil {
		log.Fatalf("reading the public key: %v", err)
	}
	verify, err := cosignVerify(pem)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/verify", handler(verify))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	server := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}}
	log.Printf("luban-admission on %s", *listen)
	if err := server.ListenAndServeTLS(*cert, *key); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
