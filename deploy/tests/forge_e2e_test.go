package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// luban-status posts a commit status while the forge is down for a few seconds: it retries,
// and the status is there when the forge is back, read through the forge's API.
func TestE2ECommitStatusArrivesAfterAForgeOutage(t *testing.T) {
	requireE2E(t)
	f := startForge(t)
	repository := f.repository(t, "status-outage")
	app := gitRepo(t, "test-fixtures/web_flask", "first")
	f.git(t, app, "push", "-q", f.pushURL(repository), "HEAD:main")
	revision := git(t, app, "rev-parse", "HEAD")
	token := f.token(t, "write:repository")

	bin := t.TempDir()
	buildDeployProgram(t, "deploy/status", "luban-status", bin)
	f.stop(t)
	t.Cleanup(func() { startForge(t) })
	post := exec.Command(filepath.Join(bin, "luban-status"), "--mode=post", "--forge-api="+f.url+"/api/v1",
		"--repository="+repository, "--revision="+revision, "--context=luban/tests", "--state=failure",
		"--description=2 failed: test_api.py::test_login", "--retry-for=1m")
	post.Env = append(os.Environ(), "FORGE_TOKEN="+token, "SSL_CERT_FILE="+filepath.Join(testbedDir, "registry/ca.crt"))
	var output strings.Builder
	post.Stdout, post.Stderr = &output, &output
	if err := post.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Second)
	startForge(t)
	if err := post.Wait(); err != nil {
		t.Fatalf("luban-status should post once the forge is back: %v\n%s", err, output.String())
	}
	if !strings.Contains(output.String(), "retrying") {
		t.Errorf("the forge was down: luban-status should have said it retried:\n%s", output.String())
	}
	if strings.Contains(output.String(), token) {
		t.Errorf("luban-status printed its token:\n%s", output.String())
	}
	got := f.statuses(t, repository, revision)["luban/tests"]
	if got.State != "failure" || got.Description != "2 failed: test_api.py::test_login" {
		t.Errorf("the forge has %+v for luban/tests", got)
	}
}
