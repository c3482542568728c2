package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The `sign` and `attest-sbom` steps of luban-build and the `verify-signature` step of
// luban-gitops, with their real commands and arguments, in containers: cosign (built from the
// Go module proxy at the pinned version) against the testbed's TLS registry, with key pairs
// made here. A signed digest verifies; an unsigned one, or one signed by another key, is
// refused, and luban-gitops then never reaches its commit step.
func TestE2ESignedDigestsVerifyAndOthersAreRefused(t *testing.T) {
	requireE2E(t)
	cosign := lookTool(t, "cosign")
	root := repoRoot(t)
	password := "luban-e2e-cosign-password"
	keys, otherKeys := t.TempDir(), t.TempDir()
	for _, dir := range []string{keys, otherKeys} {
		cosignKeyPair(t, dir, password)
		writeFile(t, filepath.Join(dir, "trusted_root.json"), `{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`)
		os.Chmod(dir, 0o755)
		os.Chmod(filepath.Join(dir, "cosign.key"), 0o644)
	}

	// The steps run cosign's own image at the version the tests build.
	want := "ghcr.io/sigstore/cosign/cosign:v" + os.Getenv("COSIGN_VERSION")
	for _, file := range []string{"deploy/argo/workflows/build-template.yaml", "deploy/argo/cd/update-digest-template.yaml"} {
		raw, err := os.ReadFile(filepath.Join(root, file))
		if err != nil || !strings.Contains(string(raw), "value: "+want+"\n") {
			t.Errorf("%s: the cosign-image default should be %s", file, want)
		}
	}

	// The CA ConfigMap (the registry's CA among the network's); an empty docker config (the
	// testbed registry needs no login).
	caDir, ca := caConfigMap(t)
	os.Chmod(caDir, 0o755)
	auth := t.TempDir()
	writeFile(t, filepath.Join(auth, "config.json"), `{"auths":{}}`)
	os.Chmod(auth, 0o755)

	// Two images in the registry: one the workflow signs, one nobody signs.
	repo := registry + "/luban-test/signing"
	push := func(local, remote string) string {
		if out, err := exec.Command(filepath.Join(root, "scripts/registry.sh"), "push", local, remote).CombinedOutput(); err != nil {
			t.Fatalf("push %s: %v\n%s", remote, err, out)
		}
		tag := remote[strings.LastIndex(remote, ":")+1:]
		return registryDigest(t, ca, "luban-test/signing", tag)
	}
	signed := push(runImage, repo+":signed")
	unsigned := push(gitImage, repo+":unsigned")
	if signed == "" || unsigned == "" || signed == unsigned {
		t.Fatalf("two different digests expected, got %q and %q", signed, unsigned)
	}

	// The SBOM as the `sbom` step passes it on (a parameter that Argo writes into the step);
	// neither step mounts the shared volume.
	bin := cosign + ":/usr/local/bin/cosign:ro"
	params := map[string]string{"image": repo, "digest": signed, "cosign-image": gitImage, "cosign-secret": "luban-cosign",
		"env:COSIGN_PASSWORD": password,
		"sbom":                `{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[{"type":"library","name":"flask","version":"3.1.0"}]}`}
	for _, template := range []string{"sign", "attest-sbom"} {
		step := loadStep(t, "deploy/argo/workflows/build-template.yaml", template, params)
		if out, err := step.run(t, gitImage, "1001:1000", bin, auth+":/luban/registry-auth:ro",
			keys+":/luban/cosign:ro", caDir+":/luban/ca:ro"); err != nil {
			t.Fatalf("the %s step failed: %v\n%s", template, err, out)
		}
	}

	verify := func(digest, publicKeys string) (string, error) {
		step := loadStep(t, "deploy/argo/cd/update-digest-template.yaml", "verify-signature",
			map[string]string{"image": repo, "digest": digest, "cosign-image": gitImage})
		return step.run(t, gitImage, "1001:1000", bin, publicKeys+":/luban/cosign:ro",
			auth+":/luban/registry-auth:ro", caDir+":/luban/ca:ro")
	}
	if out, err := verify(signed, keys); err != nil || !strings.Contains(out, "The signatures were verified against the specified public key") {
		t.Errorf("the signed digest should verify: %v\n%s", err, out)
	} else if strings.Contains(out, "TUF") {
		t.Errorf("verification must not reach for Sigstore's TUF repository:\n%s", out)
	}
	if out, err := verify(unsigned, keys); err == nil || !strings.Contains(out, "no signatures found") {
		t.Errorf("an unsigned digest must be refused: %v\n%s", err, out)
	}
	if out, err := verify(signed, otherKeys); err == nil || !strings.Contains(out, "no matching signatures") {
		t.Errorf("a digest signed by another key must be refused: %v\n%s", err, out)
	}

	// The SBOM attestation verifies with the same key and carries the SBOM.
	attestation := exec.Command(cosign, "verify-attestation", "--key", filepath.Join(keys, "cosign.pub"),
		"--insecure-ignore-tlog=true", "--trusted-root", filepath.Join(keys, "trusted_root.json"), "--type=cyclonedx", repo+"@"+signed)
	attestation.Env = append(os.Environ(), "SSL_CERT_FILE="+filepath.Join(testbedDir, "ca-bundle.crt"))
	if out, err := attestation.Output(); err != nil || !strings.Contains(string(out), "payload") {
		t.Errorf("the SBOM attestation should verify: %v\n%s", err, out)
	}
}
