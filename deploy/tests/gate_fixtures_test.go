package tests

// Helpers for the tests in gate_e2e_test.go.

import (
	"archive/zip"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// An advisory written by this project for a package only the test's private index serves, so
// no real advisory can make the test pass or fail. Modified today: the gate refuses a
// database whose newest advisory is older than a week.
var gateAdvisory = strings.Replace(gateAdvisoryModifiedOn, "MODIFIED", time.Now().UTC().Format(time.RFC3339), 1)

const gateAdvisoryModifiedOn = `{"schema_version": "1.6.0", "id": "LUBAN-2026-0001",
 "modified": "MODIFIED", "published": "2026-11-01T00:00:00Z",
 "aliases": ["CVE-2026-99999"], "summary": "Greeting injection in luban-private-greeting",
 "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
 "affected": [{"package": {"ecosystem": "PyPI", "name": "luban-private-greeting"},
   "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0.1"}]}]}]}`

// buildGate builds luban-osv-gate from deploy/gate, static, into dir.
func buildGate(t *testing.T, dir string) {
	t.Helper()
	buildDeployProgram(t, "deploy/gate", "luban-osv-gate", dir)
}

// gateMount mounts the luban-osv-gate that buildGate built in dir where the gate image has it.
func gateMount(dir string) string {
	return filepath.Join(dir, "luban-osv-gate") + ":/usr/local/bin/luban-osv-gate:ro"
}

// buildDeployProgram builds the Go program in the repository's `module` directory, static, as
// dir/name.
func buildDeployProgram(t *testing.T, module, name, dir string) {
	t.Helper()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, name), ".")
	build.Dir = filepath.Join(repoRoot(t), module)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", module, err, out)
	}
}

// writeOSVDatabase lays out an offline OSV database as osv-scanner reads it:
// <dir>/osv-scanner/PyPI/all.zip, one JSON file per advisory.
func writeOSVDatabase(t *testing.T, dir string, advisories ...string) {
	t.Helper()
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	for i, advisory := range advisories {
		w, err := z.Create(fmt.Sprintf("advisory-%d.json", i))
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(advisory))
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "osv-scanner", "PyPI", "all.zip"), buf.String())
	os.Chmod(dir, 0o755)
}

// startIndex serves test-fixtures/private_index_packages (luban-private-greeting 1.0.0 and
// 1.0.1, built from test-fixtures/private_index_source) with pypiserver, without credentials,
// on the testbed's private index port; it is stopped when the test ends.
func startIndex(t *testing.T) string {
	t.Helper()
	packages := filepath.Join(repoRoot(t), "test-fixtures/private_index_packages")
	port := privateIndexPort
	server := exec.Command(filepath.Join(testbedDir, "pypiserver/bin/pypi-server"), "run",
		"-i", "127.0.0.1", "-p", port, "-a", ".", "-P", ".", packages)
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Process.Kill(); server.Wait() })
	url := "http://127.0.0.1:" + port + "/simple/"
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the private index at %s never answered", url)
		}
	}
	return url
}

// lockApp writes an app that depends on luban-private-greeting==version from the index and
// locks it with uv (scripts/uv-lock.sh).
func lockApp(t *testing.T, app, index, version string) {
	t.Helper()
	writeTOML(t, filepath.Join(app, "pyproject.toml"), map[string]any{
		"project": map[string]any{
			"name": "gate-app", "version": "0.1.0", "requires-python": ">=3.12",
			"dependencies": []string{"luban-private-greeting==" + version},
		},
		"tool": map[string]any{"uv": map[string]any{
			"index":   []map[string]any{{"name": "private", "url": index, "explicit": true}},
			"sources": map[string]any{"luban-private-greeting": map[string]any{"index": "private"}},
		}},
	})
	if out, err := exec.Command(filepath.Join(repoRoot(t), "scripts/uv-lock.sh"), app).CombinedOutput(); err != nil {
		t.Fatalf("uv lock: %v\n%s", err, out)
	}
}

func writeTOML(t *testing.T, path string, value any) {
	t.Helper()
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(value); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, buf.String())
}

func writeFile(t *testing.T, path, contents string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(contents), 0o644); err != nil {
		t.Fatal(err)
	}
}

// webFlaskTest is a test module for test-fixtures/web_flask: a test that passes whatever the
// greeting, and one that expects `greeting` (none when it is empty).
func webFlaskTest(greeting string) string {
	module := "from app import app\n\n\ndef test_answers():\n    assert app.test_client().get(\"/\").status_code == 200\n"
	if greeting != "" {
		module += fmt.Sprintf("\n\ndef test_greeting():\n    assert app.test_client().get(\"/\").get_json()[\"message\"] == %q\n", greeting)
	}
	return module
}

// sandboxStep runs a step of luban-build that runs the app's own tools with uv (tests, lint)
// in a container, on `app` as the commit, with the gate built here, the testbed's uv, the CAs
// as the ca-configmap gives them (this network's proxy's among them) and Pythons from the
// testbed mirror. It returns the output, the `result` and the error.
func sandboxStep(t *testing.T, template, app string) func() (string, string, error) {
	t.Helper()
	bin := t.TempDir()
	buildGate(t, bin)
	uv := lookTool(t, "uv")
	caDir, _ := caConfigMap(t)
	return func() (string, string, error) {
		s := loadStep(t, "deploy/argo/workflows/build-template.yaml", template, map[string]string{
			"gate-image": gitImage, "tests-timeout": "5m",
			"build-env": "UV_PYTHON_DOWNLOADS_JSON_URL=" + mirrorURL + "/python/downloads.json",
		})
		chownToBuildUser(t, app)
		return s.runReading(t, gitImage, "1001:1000", "/tmp/luban-"+template, app+":/workspace/source:ro", caDir+":/luban/ca:ro",
			gateMount(bin), uv+":/usr/local/bin/uv:ro")
	}
}

// treeListing is every path under dir with its size, one per line.
func treeListing(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		lines = append(lines, fmt.Sprintf("%s %d", strings.TrimPrefix(path, dir), info.Size()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// secretScanSite is an app's repository and the tools the clone and secret scan steps run.
type secretScanSite struct {
	repo, bin, gitleaks string
}

func newSecretScanSite(t *testing.T) *secretScanSite {
	t.Helper()
	s := &secretScanSite{repo: gitRepo(t, "test-fixtures/web_flask", "first"), bin: t.TempDir(), gitleaks: lookTool(t, "gitleaks")}
	buildGate(t, s.bin)
	// As forges do: a fetch may name any commit, and leave files out.
	git(t, s.repo, "config", "uploadpack.allowAnySHA1InWant", "true")
	git(t, s.repo, "config", "uploadpack.allowFilter", "true")
	return s
}

func (s *secretScanSite) head(t *testing.T) string {
	t.Helper()
	return git(t, s.repo, "rev-parse", "HEAD")
}

// commit writes files (an empty text removes the file) and commits them; it returns the commit.
func (s *secretScanSite) commit(t *testing.T, message string, files map[string]string) string {
	t.Helper()
	for name, text := range files {
		if text == "" {
			git(t, s.repo, "rm", "-q", name)
			continue
		}
		writeFile(t, filepath.Join(s.repo, name), text)
		git(t, s.repo, "add", name)
	}
	git(t, s.repo, "commit", "-q", "-m", message)
	return s.head(t)
}

// scan runs the clone step for `revision` (`since` the commit before the push) into a fresh
// workspace, then the secret scan step with the clone's output; it returns the scan's output,
// its one-line result and its error.
func (s *secretScanSite) scan(t *testing.T, revision, since string) (string, string, error) {
	t.Helper()
	chownToBuildUser(t, s.repo)
	ws := workspace(t)
	clone := loadStep(t, "deploy/argo/workflows/build-template.yaml", "clone",
		map[string]string{"gate-image": gitImage, "builder-image": builderImage, "run-image": "", "build-env": "", "repo-url": "file:///repo", "revision": revision, "since": since})
	gate := gateMount(s.bin)
	out, cloneSince, err := clone.runReading(t, gitImage, "1001:1000", "/tmp/luban-since", ws+":/workspace", s.repo+":/repo:ro", gate)
	if err != nil {
		t.Fatalf("the clone step failed: %v\n%s", err, out)
	}
	scan := loadStep(t, "deploy/argo/workflows/build-template.yaml", "secret-scan",
		map[string]string{"gate-image": gitImage, "revision": revision, "since": cloneSince})
	out, result, err := scan.runReading(t, gitImage, "1001:1000", "/tmp/luban-secret-scan", ws+":/workspace:ro",
		gate, s.gitleaks+":/usr/local/bin/gitleaks:ro")
	return out, strings.TrimSpace(result), err
}
