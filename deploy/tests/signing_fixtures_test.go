package tests

// Helpers for the tests in signing_e2e_test.go.

import (
	"os"
	"os/exec"
	"testing"
)

// cosignKeyPair makes cosign.key (encrypted with password) and cosign.pub in dir.
func cosignKeyPair(t *testing.T, dir, password string) {
	t.Helper()
	generate := exec.Command(lookTool(t, "cosign"), "generate-key-pair")
	generate.Dir = dir
	generate.Env = append(os.Environ(), "COSIGN_PASSWORD="+password)
	if out, err := generate.CombinedOutput(); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
}

// lookTool is the path of a tool scripts/install-tools.sh builds.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not on PATH (scripts/install-tools.sh builds it): %v", name, err)
	}
	return path
}
