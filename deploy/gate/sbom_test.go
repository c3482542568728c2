package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const sbomPath = "layers/sbom/launch/luban_python-uv/venv/sbom.cdx.json"

// The shape uv 0.9's `uv export --format cyclonedx1.5` writes, as luban/python-uv keeps it.
const uvSBOM = `{
  "bomFormat": "CycloneDX",
  "specVersion": "1.5",
  "serialNumber": "urn:uuid:0b6c2f1e-4a1d-4c2e-8f00-1a2b3c4d5e6f",
  "version": 1,
  "metadata": {
    "tools": [{"vendor": "Astral Software Inc.", "name": "uv", "version": "0.9.5"}],
    "component": {"type": "library", "bom-ref": "app-1@0.1.0", "name": "app", "version": "0.1.0"}
  },
  "components": [
    {"type": "library", "bom-ref": "flask-2@3.1.0", "name": "flask", "version": "3.1.0", "purl": "pkg:pypi/flask@3.1.0"}
  ],
  "dependencies": [{"ref": "app-1@0.1.0", "dependsOn": ["flask-2@3.1.0"]}]
}`

func workspaceWith(t *testing.T, content string) string {
	t.Helper()
	root := t.TempDir()
	path := filepath.Join(root, sbomPath)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestTheBuildsSBOMIsParsedAndWrittenAgain(t *testing.T) {
	data, err := ReadBeneath(workspaceWith(t, uvSBOM), sbomPath, MaxSBOMBytes)
	if err != nil {
		t.Fatal(err)
	}
	out, components, err := ParseSBOM(data)
	if err != nil {
		t.Fatal(err)
	}
	if components != 1 || !strings.Contains(string(out), `"purl":"pkg:pypi/flask@3.1.0"`) || strings.Contains(string(out), "\n") {
		t.Errorf("expected the one component, compact: %d %s", components, out)
	}
}

// A symbolic link anywhere on the path — the file, or a directory on its way — is refused,
// whatever it points at: the signing step's own credentials, or a file the build wrote.
func TestASymbolicLinkOnTheSBOMsPathIsNeverFollowed(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(secret, []byte(`{"auths":{"registry.example":{"auth":"c2VjcmV0"}}}`), 0o600)
	for _, link := range []string{sbomPath, "layers/sbom/launch", "layers"} {
		root := workspaceWith(t, uvSBOM)
		target := filepath.Join(root, link)
		os.RemoveAll(target)
		if err := os.Symlink(secret, target); err != nil {
			t.Fatal(err)
		}
		_, err := ReadBeneath(root, sbomPath, MaxSBOMBytes)
		if err == nil || !strings.Contains(err.Error(), link+" is a symbolic link: refused") {
			t.Errorf("a link at %s must be refused: %v", link, err)
		}
	}
}

func TestTheSBOMMustBeASmallRegularCycloneDXFile(t *testing.T) {
	root := workspaceWith(t, uvSBOM)
	if _, err := ReadBeneath(root, "../etc/passwd", MaxSBOMBytes); err == nil {
		t.Error("a path leaving the workspace must be refused")
	}
	if _, err := ReadBeneath(root, sbomPath, 100); err == nil || !strings.Contains(err.Error(), "more than the 100") {
		t.Errorf("a file over the cap must be refused: %v", err)
	}
	fifo := filepath.Join(root, sbomPath)
	os.Remove(fifo)
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadBeneath(root, sbomPath, MaxSBOMBytes); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a FIFO must be refused without blocking: %v", err)
	}
	if _, err := ReadBeneath(t.TempDir(), sbomPath, MaxSBOMBytes); !errors.Is(err, errNoSBOM) {
		t.Errorf("a missing SBOM is errNoSBOM: %v", err)
	}
	for what, doc := range map[string]string{
		"not JSON":        `{"auths":`,
		"another format":  `{"bomFormat":"SPDX","specVersion":"1.5"}`,
		"unknown version": `{"bomFormat":"CycloneDX","specVersion":"9.9"}`,
		"unknown field":   `{"bomFormat":"CycloneDX","specVersion":"1.5","auths":{"r":{"auth":"x"}}}`,
		"nameless":        `{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"type":"library"}]}`,
		"two documents":   uvSBOM + uvSBOM,
	} {
		if _, _, err := ParseSBOM([]byte(doc)); err == nil {
			t.Errorf("%s must be refused", what)
		}
	}
}
