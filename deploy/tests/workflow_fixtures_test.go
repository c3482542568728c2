package tests

// Helpers for the tests in workflow_e2e_test.go.

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// The testbed's settings, from the environment scripts/lib.sh exports (no defaults here);
// requireE2E reads them.
var (
	testbedDir, registry, registryRunImage, builderImage, mirrorURL, privateIndexPort, runImage string
	// The build image: Debian with sh and git, standing in for alpine/git (no registry here).
	gitImage string
)

func requireE2E(t *testing.T) {
	t.Helper()
	if os.Getenv("LUBAN_E2E") == "" {
		t.Skip("end-to-end: set LUBAN_E2E=1 (make test's e2e stage does)")
	}
	setting := func(name string) string {
		value := os.Getenv(name)
		if value == "" {
			t.Fatalf("%s is not set: run the end-to-end tests through make (`make e2e`, or `T=TestE2E... make e2e`), which sets the testbed's settings from scripts/lib.sh", name)
		}
		return value
	}
	testbedDir, registry, registryRunImage = setting("LUBAN_TESTBED"), setting("REGISTRY"), setting("REGISTRY_RUN_IMAGE")
	builderImage, mirrorURL, gitImage = setting("BUILDER_IMAGE"), setting("MIRROR_URL"), setting("BUILD_IMAGE")
	privateIndexPort, runImage = setting("PRIVATE_INDEX_PORT"), setting("RUN_IMAGE")
}

type step struct {
	Image   string
	Command []string
	Args    []string
	Env     map[string]string
	// Raw input artifacts: what Argo writes into the container at each path.
	Files map[string]string
}

// loadStep reads one template's container from a WorkflowTemplate file and fills in
// `{{workflow.parameters.*}}` / `{{inputs.parameters.*}}` from params. Env entries that come
// from Secrets (valueFrom) are left out unless params names them.
func loadStep(t *testing.T, file, template string, params map[string]string) step {
	t.Helper()
	var wt struct {
		Spec struct {
			Templates []struct {
				Name   string
				Inputs struct {
					Artifacts []struct {
						Path string
						Raw  *struct{ Data string }
					}
				}
				Container *struct {
					Image   string
					Command []string
					Args    []string
					Env     []struct {
						Name  string
						Value *string
					}
				}
			}
		}
	}
	doc := documents(t, filepath.Join(repoRoot(t), file), "WorkflowTemplate")[0]
	if err := yaml.Unmarshal(doc, &wt); err != nil {
		t.Fatal(err)
	}
	placeholder := regexp.MustCompile(`\{\{(?:workflow|inputs)\.parameters\.([a-z0-9-]+)\}\}`)
	fill := func(s string) string {
		return placeholder.ReplaceAllStringFunc(s, func(m string) string {
			name := placeholder.FindStringSubmatch(m)[1]
			value, ok := params[name]
			if !ok {
				t.Fatalf("%s uses parameter %q, which the test doesn't set", template, name)
			}
			return value
		})
	}
	for _, tpl := range wt.Spec.Templates {
		if tpl.Name != template || tpl.Container == nil {
			continue
		}
		s := step{Image: fill(tpl.Container.Image), Command: tpl.Container.Command, Env: map[string]string{}, Files: map[string]string{}}
		for _, artifact := range tpl.Inputs.Artifacts {
			if artifact.Raw != nil {
				s.Files[artifact.Path] = fill(artifact.Raw.Data)
			}
		}
		for _, arg := range tpl.Container.Args {
			s.Args = append(s.Args, fill(arg))
		}
		for _, env := range tpl.Container.Env {
			if env.Value != nil {
				s.Env[env.Name] = fill(*env.Value)
			} else if v, ok := params["env:"+env.Name]; ok {
				s.Env[env.Name] = v
			}
		}
		return s
	}
	t.Fatalf("%s has no container template %q", file, template)
	return step{}
}

// run starts the step in a container: `image` overrides the template's (the testbed has no
// registry for alpine/git), volumes are host:container pairs.
func (s step) run(t *testing.T, image string, user string, volumes ...string) (string, error) {
	t.Helper()
	out, _, err := s.runReading(t, image, user, "", volumes...)
	return out, err
}

// runReading is run that also returns the content of `file` in the container after the step
// (an output parameter's path), or "" when file is empty or absent.
func (s step) runReading(t *testing.T, image, user, file string, volumes ...string) (string, string, error) {
	t.Helper()
	// No --rm: through some engines' Docker API a removed container reports exit code 0
	// whatever its command did, so the code is read from the container before removing it.
	name := fmt.Sprintf("luban-step-%d-%d", os.Getpid(), time.Now().UnixNano())
	args := []string{"run", "--name", name, "--network", "host", "--user", user, "--entrypoint", s.Command[0]}
	for name, value := range s.Env {
		args = append(args, "--env", name+"="+value)
	}
	for _, v := range volumes {
		args = append(args, "--volume", v)
	}
	for path, content := range s.Files {
		file := filepath.Join(t.TempDir(), "artifact")
		writeFile(t, file, content)
		args = append(args, "--volume", file+":"+path+":ro")
	}
	args = append(args, image)
	args = append(args, s.Command[1:]...)
	args = append(args, s.Args...)
	docker := filepath.Join(repoRoot(t), "scripts/docker.sh")
	out, _ := exec.Command(docker, args...).CombinedOutput()
	code, err := exec.Command(docker, "inspect", "--format", "{{.State.ExitCode}}", name).Output()
	var content string
	if file != "" {
		dir := t.TempDir()
		if cp, err := exec.Command(docker, "cp", name+":"+file, filepath.Join(dir, "out")).CombinedOutput(); err == nil {
			data, _ := os.ReadFile(filepath.Join(dir, "out"))
			content = string(data)
		} else {
			t.Logf("docker cp %s: %v %s", file, err, cp)
		}
	}
	exec.Command(docker, "rm", "-f", name).Run()
	if err != nil {
		return string(out), content, fmt.Errorf("inspecting the step's container: %w", err)
	}
	if c := strings.TrimSpace(string(code)); c != "0" {
		return string(out), content, fmt.Errorf("the step exited with %s", c)
	}
	return string(out), content, nil
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return gitEnv(t, dir, nil, args...)
}

// gitEnv is git with more environment variables.
func gitEnv(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	// The repositories are owned by the containers' user; git on the host may read them.
	cmd := exec.Command("git", append([]string{"-c", "safe.directory=*"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), env...), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// workspace makes a directory the containers' users (1001:1000) can write, like the
// workflow's volume with fsGroup 1000.
func workspace(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}

// chownToBuildUser gives a tree to 1001:1000, as the clone step (and fsGroup) would leave it;
// git in the containers refuses repositories owned by someone else.
func chownToBuildUser(t *testing.T, dir string) {
	t.Helper()
	if out, err := exec.Command("chown", "-R", "1001:1000", dir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", from+"/.", to).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
}

// gitRepo makes a Git repository on branch main whose one commit holds the files of `from`
// (a path relative to the repository root) and returns its directory.
func gitRepo(t *testing.T, from, message string) string {
	t.Helper()
	repo := workspace(t)
	copyTree(t, filepath.Join(repoRoot(t), from), repo)
	git(t, repo, "init", "-q", "-b", "main")
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-q", "-m", message)
	return repo
}

// caConfigMap writes what the ca-certificates ConfigMap holds on a site behind its own CAs:
// the testbed registry's CA and this network's. It returns the directory and the registry's CA.
// registryCA is the testbed registry's CA certificate.
func registryCA(t *testing.T) []byte {
	t.Helper()
	ca, err := os.ReadFile(filepath.Join(testbedDir, "registry/ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func caConfigMap(t *testing.T) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	ca := registryCA(t)
	os.WriteFile(filepath.Join(dir, "registry.crt"), ca, 0o644)
	hostCAs, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "network.crt"), hostCAs, 0o644)
	return dir, ca
}

// registryClient talks to the testbed registry, trusting its CA.
func registryClient(ca []byte) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// forgetImage deletes repo:tag's manifest from the registry, so a build starts with no previous
// image (whose launch-only layers, such as the venv, it would otherwise keep by metadata).
func forgetImage(t *testing.T, ca []byte, repo, tag string) {
	t.Helper()
	digest := registryDigest(t, ca, repo, tag)
	if digest == "" {
		return
	}
	client := registryClient(ca)
	req, _ := http.NewRequest(http.MethodDelete, fmt.Sprintf("https://%s/v2/%s/manifests/%s", registry, repo, digest), nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("deleting %s@%s from the registry: %s", repo, digest, resp.Status)
	}
}

// registryDigest asks the registry for the manifest digest of repo:tag.
func registryDigest(t *testing.T, ca []byte, repo, tag string) string {
	t.Helper()
	client := registryClient(ca)
	req, _ := http.NewRequest(http.MethodHead, fmt.Sprintf("https://%s/v2/%s/manifests/%s", registry, repo, tag), nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("Docker-Content-Digest")
}

// gitOpsStepSite is what luban-gitops' steps work on, in directories (file:// URLs): the GitOps
// repository (bare, like the remote) with the example overlay, and the app's source
// repository: first ← second, and `other`, a commit on another line.
type gitOpsStepSite struct {
	seed, remote, bare   string
	first, second, other string
	params               map[string]string // commit-digest's, but for digest and revision
	tools                string            // kustomize, where Argo CD's image has it
}

func newGitOpsStepSite(t *testing.T) *gitOpsStepSite {
	t.Helper()
	requireE2E(t)
	g := &gitOpsStepSite{seed: gitRepo(t, "deploy/argo/cd/gitops-example", "seed"), remote: workspace(t)}
	git(t, g.remote, "clone", "-q", "--bare", g.seed, "gitops.git")
	g.bare = filepath.Join(g.remote, "gitops.git")
	app := gitRepo(t, "test-fixtures/requirements_without_lock", "first")
	g.first = git(t, app, "rev-parse", "HEAD")
	git(t, app, "commit", "-q", "--allow-empty", "-m", "second")
	g.second = git(t, app, "rev-parse", "HEAD")
	git(t, app, "checkout", "-q", "-b", "other", g.first)
	git(t, app, "commit", "-q", "--allow-empty", "-m", "other")
	g.other = git(t, app, "rev-parse", "HEAD")
	git(t, g.remote, "clone", "-q", "--bare", app, "app.git")
	chownToBuildUser(t, g.remote)
	g.params = map[string]string{
		"gitops-repo": "file:///remote/gitops.git", "gitops-branch": "main", "gitops-image": gitImage,
		"kustomization-dir": "apps/sample-app/staging", "image-name": "sample-app", "image": "registry.example.com/luban/sample-app",
		"repo-url": "file:///remote/app.git", "mode": "commit",
	}
	// The step's image (Argo CD's) has git and kustomize; here the build image has git, and
	// kustomize (built by install-tools.sh) is mounted where Argo CD's image has it.
	g.tools = lookTool(t, "kustomize") + ":/usr/local/bin/kustomize:ro"
	return g
}

// commitDigest runs the commit-digest step for `digest`, built from `revision`.
func (g *gitOpsStepSite) commitDigest(t *testing.T, digest, revision string) (string, error) {
	t.Helper()
	params := maps.Clone(g.params)
	params["digest"], params["revision"] = digest, revision
	return loadStep(t, "deploy/argo/cd/update-digest-template.yaml", "commit-digest", params).
		run(t, gitImage, "1001:1000", g.remote+":/remote", g.tools)
}

// render runs the commit-digest step in render mode: what it says, and the manifests it
// rendered for the preflight.
func (g *gitOpsStepSite) render(t *testing.T, digest, revision string) (string, string, error) {
	t.Helper()
	params := maps.Clone(g.params)
	params["digest"], params["revision"], params["mode"] = digest, revision, "render"
	return loadStep(t, "deploy/argo/cd/update-digest-template.yaml", "commit-digest", params).
		runReading(t, gitImage, "1001:1000", "/tmp/luban-manifests.yaml", g.remote+":/remote", g.tools)
}

func (g *gitOpsStepSite) mustCommitDigest(t *testing.T, digest, revision string) {
	t.Helper()
	if out, err := g.commitDigest(t, digest, revision); err != nil || !strings.Contains(out, "Committed sample-app@") {
		t.Fatalf("%s of %.12s should be deployed: %v\n%s", digest, revision, err, out)
	}
}

func (g *gitOpsStepSite) head(t *testing.T) string {
	t.Helper()
	return git(t, g.bare, "rev-parse", "main")
}

func (g *gitOpsStepSite) count(t *testing.T) string {
	t.Helper()
	return git(t, g.bare, "rev-list", "--count", "main")
}

// deployed is the source commit the GitOps repository deploys.
func (g *gitOpsStepSite) deployed(t *testing.T) string {
	t.Helper()
	return git(t, g.bare, "show", "main:apps/sample-app/staging/source-commit")
}
