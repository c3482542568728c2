package tests

// End-to-end tests of the workflow steps: each step's real container command, read from the
// WorkflowTemplate (never a copy), runs in a container on the testbed with the template's
// env and mounts. They need the testbed (make builder, scripts/registry.sh start) and run
// in make test's e2e stage (LUBAN_E2E=1).

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestE2ECloneStepChecksOutTheExactCommit(t *testing.T) {
	requireE2E(t)
	repo := gitRepo(t, "test-fixtures/requirements_without_lock", "first")
	first := git(t, repo, "rev-parse", "HEAD")
	if err := os.WriteFile(filepath.Join(repo, "main.py"), []byte("print('second')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, repo, "commit", "-q", "-am", "second")
	git(t, repo, "config", "uploadpack.allowAnySHA1InWant", "true")
	chownToBuildUser(t, repo)
	bin := t.TempDir()
	buildGate(t, bin)
	gate := gateMount(bin)

	ws := workspace(t)
	clone := loadStep(t, "deploy/argo/workflows/build-template.yaml", "clone",
		map[string]string{"gate-image": gitImage, "builder-image": builderImage, "run-image": "", "build-env": "", "since": "", "repo-url": "file:///repo", "revision": first})
	out, err := clone.run(t, gitImage, "1001:1000", gate, ws+":/workspace", repo+":/repo:ro")
	if err != nil {
		t.Fatalf("clone step failed: %v\n%s", err, out)
	}
	main, _ := os.ReadFile(filepath.Join(ws, "source/main.py"))
	if !strings.Contains(string(main), "import six") {
		t.Errorf("the workspace should hold the first commit's main.py, has %q", main)
	}
	if _, err := os.Stat(filepath.Join(ws, "source/.git")); !os.IsNotExist(err) {
		t.Error("the clone step must not leave .git in the build source")
	}
	created := loadStep(t, "deploy/argo/workflows/build-template.yaml", "clone",
		map[string]string{"gate-image": gitImage, "builder-image": builderImage, "run-image": "", "build-env": "", "since": "", "repo-url": "file:///repo", "revision": first})
	_, createdOut, err := created.runReading(t, gitImage, "1001:1000", "/tmp/luban-created", gate, workspace(t)+":/workspace", repo+":/repo:ro")
	if want := git(t, repo, "show", "-s", "--format=%cI", first); err != nil || strings.TrimSpace(createdOut) != want {
		t.Errorf("the clone step's output `created` is %q, want the commit's time %q (%v)", createdOut, want, err)
	}

	wrong := loadStep(t, "deploy/argo/workflows/build-template.yaml", "clone",
		map[string]string{"gate-image": gitImage, "builder-image": builderImage, "run-image": "", "build-env": "", "since": "", "repo-url": "file:///repo", "revision": strings.Repeat("0", 40)})
	if out, err := wrong.run(t, gitImage, "1001:1000", gate, workspace(t)+":/workspace", repo+":/repo:ro"); err == nil {
		t.Errorf("a revision that doesn't exist must fail the step:\n%s", out)
	}
	// A URL with a password would be published as the image's source: refused.
	withPassword := loadStep(t, "deploy/argo/workflows/build-template.yaml", "clone",
		map[string]string{"gate-image": gitImage, "builder-image": builderImage, "run-image": "", "build-env": "", "since": "", "repo-url": "https://user:token@git.example/app.git", "revision": first})
	if out, err := withPassword.run(t, gitImage, "1001:1000", gate, workspace(t)+":/workspace"); err == nil || !strings.Contains(out, "must not carry credentials") {
		t.Errorf("a repo-url with credentials must be refused: %v\n%s", err, out)
	}
	// Not a full SHA: refused before git sees it.
	for _, revision := range []string{"main", first[:12], "--upload-pack=touch /tmp/x", first + "\n"} {
		bad := loadStep(t, "deploy/argo/workflows/build-template.yaml", "clone",
			map[string]string{"gate-image": gitImage, "builder-image": builderImage, "run-image": "", "build-env": "", "since": "", "repo-url": "file:///repo", "revision": revision})
		if out, err := bad.run(t, gitImage, "1001:1000", gate, workspace(t)+":/workspace", repo+":/repo:ro"); err == nil || !strings.Contains(out, "full commit SHA") {
			t.Errorf("revision %q must be refused: %v\n%s", revision, err, out)
		}
	}
	badSince := loadStep(t, "deploy/argo/workflows/build-template.yaml", "clone",
		map[string]string{"gate-image": gitImage, "builder-image": builderImage, "run-image": "", "build-env": "", "since": "--all", "repo-url": "file:///repo", "revision": first})
	if out, err := badSince.run(t, gitImage, "1001:1000", gate, workspace(t)+":/workspace", repo+":/repo:ro"); err == nil || !strings.Contains(out, "since must be empty or a full commit SHA") {
		t.Errorf("a `since` that isn't a commit SHA must be refused: %v\n%s", err, out)
	}
	// project.toml's exclude, as pack applies it: the files it names never reach the workspace.
	writeFile(t, filepath.Join(repo, "project.toml"), "[_]\nschema-version = \"0.2\"\n[io.buildpacks]\nexclude = [\".env\", \"docs\"]\n")
	writeFile(t, filepath.Join(repo, ".env"), "DATABASE_PASSWORD=luban-e2e-not-for-the-image\n")
	writeFile(t, filepath.Join(repo, "docs/guide.md"), "# guide\n")
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-q", "-m", "a descriptor")
	described := git(t, repo, "rev-parse", "HEAD")
	chownToBuildUser(t, repo)
	ws = workspace(t)
	withDescriptor := loadStep(t, "deploy/argo/workflows/build-template.yaml", "clone",
		map[string]string{"gate-image": gitImage, "builder-image": builderImage, "run-image": "", "build-env": "", "since": "", "repo-url": "file:///repo", "revision": described})
	if out, err := withDescriptor.run(t, gitImage, "1001:1000", gate, ws+":/workspace", repo+":/repo:ro"); err != nil || !strings.Contains(out, "project.toml: exclude .env, docs: 3 path(s) left out of the build") {
		t.Fatalf("the clone should apply project.toml's exclude: %v\n%s", err, out)
	}
	for name, want := range map[string]bool{".env": false, "docs": false, "main.py": true, "project.toml": true} {
		if _, err := os.Lstat(filepath.Join(ws, "source", name)); (err == nil) != want {
			t.Errorf("after project.toml's exclude, %s in the workspace: %v, want %v", name, err == nil, want)
		}
	}
}

// The lifecycle's phases as the WorkflowTemplate runs them, one container each, sharing the
// workspace volume: the app's build-time code (a setup.py that hunts for credentials) runs in
// the build step and finds none, while the export step pushes with them.
func TestE2EPhaseStepsPublishWithCredentialsBuildTimeCodeNeverSees(t *testing.T) {
	requireE2E(t)
	ws := workspace(t)
	source := filepath.Join(ws, "source")
	if err := os.MkdirAll(source, 0o777); err != nil {
		t.Fatal(err)
	}
	copyTree(t, filepath.Join(repoRoot(t), "test-fixtures/build_backend_probe"), source)
	chownToBuildUser(t, ws)

	// The registry Secret (the testbed registry needs no login, so the token is a marker the
	// probe looks for) and the CA ConfigMap: the registry's CA and, as a company's would, the
	// CAs of this network's proxy. A build Secret with one key, as platform env.
	auth := t.TempDir()
	token := "luban-e2e-registry-token-" + fmt.Sprint(time.Now().UnixNano())
	os.WriteFile(filepath.Join(auth, "config.json"), []byte(`{"auths":{"registry.example":{"auth":"`+token+`"}}}`), 0o644)
	caDir, ca := caConfigMap(t)
	secrets := t.TempDir()
	os.WriteFile(filepath.Join(secrets, "UV_PYTHON_DOWNLOADS_JSON_URL"), []byte(mirrorURL+"/python/downloads.json"), 0o644)
	os.Chmod(secrets, 0o755)

	image := registry + "/luban-test/argo-phases"
	// The probe must run: no previous image whose venv the build would keep.
	forgetImage(t, ca, "luban-test/argo-phases", "latest")
	params := map[string]string{
		"builder-image":     builderImage,
		"image":             image,
		"run-image":         registryRunImage,
		"cache-image":       "",
		"insecure-registry": "",
		"build-env":         "BP_UV_EXTRAS=\nBP_UV_GROUPS=\nBP_OCI_REVISION=not-the-clone's",
		// What the clone step and the workflow give the build: the image's provenance.
		"revision": strings.Repeat("5a", 20),
		"repo-url": "https://git.example/acme/probe.git",
		"created":  "2026-11-20T10:00:00Z",
		// reuse's name for an image of these inputs, which the export adds.
		"inputs-tag": image + ":inputs-" + fmt.Sprintf("%064x", time.Now().UnixNano()),
	}
	registryMounts := []string{ws + ":/workspace", auth + ":/luban/registry-auth:ro", caDir + ":/luban/ca:ro"}
	buildMounts := []string{ws + ":/workspace", secrets + ":/luban/build-secrets:ro", caDir + ":/luban/ca:ro"}
	// Another image the registry credentials can read: what hostile build-time code would
	// like the deployed image to be based on.
	evilBase := pushImage(t, gitImage, "luban-test/evil-base")
	outputs := map[string]string{}
	var buildLog string
	for _, phase := range []struct{ name, template, output, param string }{
		{"analyze", "registry-phase", "/tmp/luban-analyzed.toml", "analyzed"},
		{"detect", "buildpack-phase", "/tmp/luban-group.toml", "group"},
		{"restore", "registry-phase", "", ""},
		{"build", "buildpack-phase", "", ""},
		{"export", "export", "/tmp/luban-digest", "digest"},
	} {
		params["phase"] = phase.name
		params["analyzed"], params["group"] = outputs["analyzed"], outputs["group"]
		s := loadStep(t, "deploy/argo/workflows/build-template.yaml", phase.template, params)
		mounts := buildMounts
		if phase.template != "buildpack-phase" {
			mounts = registryMounts
		}
		out, output, err := s.runReading(t, s.Image, "1001:1000", phase.output, mounts...)
		if err != nil {
			t.Fatalf("%s step failed: %v\n%s", phase.name, err, out)
		}
		if strings.Contains(out, token) {
			t.Errorf("the %s step printed the registry token", phase.name)
		}
		if phase.param != "" {
			outputs[phase.param] = output
		}
		if phase.name == "build" {
			buildLog = out
			// What build-time code can do to the volume once it has run: point the
			// exporter at another base image. The export step must not read it.
			writeFile(t, filepath.Join(ws, "layers/analyzed.toml"),
				fmt.Sprintf("[run-image]\n  reference = %q\n  image = %q\n", evilBase, evilBase))
		}
	}
	digest := outputs["digest"]
	if !strings.Contains(outputs["analyzed"], "[run-image]") || !strings.Contains(outputs["group"], "luban/python-uv") {
		t.Errorf("the analyze and detect steps should output analyzed.toml and group.toml:\n%s\n%s", outputs["analyzed"], outputs["group"])
	}
	if !strings.Contains(buildLog, "luban-probe==1.0") {
		t.Errorf("the probe package should have been built and installed:\n%s", buildLog)
	}
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(digest) {
		t.Fatalf("the export step's output parameter (digest) is %q", digest)
	}
	if got := registryDigest(t, ca, "luban-test/argo-phases", "latest"); got != digest {
		t.Errorf("the registry has %s, the step reported %s", got, digest)
	}
	if tag := strings.TrimPrefix(params["inputs-tag"], image+":"); registryDigest(t, ca, "luban-test/argo-phases", tag) != digest {
		t.Errorf("the export should also tag the image %s", tag)
	}
	if _, err := os.Stat(filepath.Join(ws, "digest")); !os.IsNotExist(err) {
		t.Error("the digest must not be kept on the shared volume, where build-time code can write")
	}

	pull := exec.Command(filepath.Join(repoRoot(t), "scripts/registry.sh"), "pull", image+"@"+digest)
	if out, err := pull.CombinedOutput(); err != nil {
		t.Fatalf("pull: %v\n%s", err, out)
	}
	labels, err := exec.Command(filepath.Join(repoRoot(t), "scripts/docker.sh"), "image", "inspect", "--format", "{{json .Config.Labels}}", image+"@"+digest).Output()
	if err != nil {
		t.Fatalf("inspect: %v", err)
	}
	if evil := evilBase[strings.LastIndex(evilBase, "@")+1:]; strings.Contains(string(labels), "evil-base") || strings.Contains(string(labels), evil) ||
		!strings.Contains(string(labels), strings.Split(strings.TrimPrefix(registryRunImage, registry+"/"), ":")[0]) {
		t.Errorf("the image must be based on the run image the analyze step found (%s), not on the one the build wrote into analyzed.toml (%s): %s", registryRunImage, evilBase, labels)
	}
	for key, want := range map[string]string{"revision": params["revision"], "source": params["repo-url"], "created": params["created"]} {
		if !strings.Contains(string(labels), fmt.Sprintf("%q:%q", "org.opencontainers.image."+key, want)) {
			t.Errorf("the image's label org.opencontainers.image.%s should be %q: %s", key, want, labels)
		}
	}
	run, err := exec.Command(filepath.Join(repoRoot(t), "scripts/docker.sh"), "run", "--rm", "--entrypoint", "launcher",
		image+"@"+digest, "python", "main.py").CombinedOutput()
	if err != nil || !regexp.MustCompile(`probe looked at [1-9][0-9]* places and found: nothing`).Match(run) {
		t.Errorf("the published image should run and report what the probe found: %v\n%s", err, run)
	}
}

// A build-env key that isn't a variable name (it would write outside platform/env) fails the
// step before any buildpack runs.
func TestE2EBuildEnvKeysMustBeVariableNames(t *testing.T) {
	requireE2E(t)
	ws := workspace(t)
	chownToBuildUser(t, ws)
	for _, env := range []string{"../../etc/x=1", "A/B=1", "1X=2", "X Y=1"} {
		s := loadStep(t, "deploy/argo/workflows/build-template.yaml", "buildpack-phase", map[string]string{
			"phase": "detect", "build-env": env, "builder-image": builderImage,
			"revision": strings.Repeat("5a", 20), "repo-url": "https://git.example/app.git", "created": "",
		})
		out, err := s.run(t, builderImage, "1001:1000", ws+":/workspace")
		if err == nil || !strings.Contains(out, "is not a variable name") {
			t.Errorf("build-env %q must fail the step: %v\n%s", env, err, out)
		}
	}
}

func TestE2EGitOpsStepCommitsTheNewDigestOnce(t *testing.T) {
	g := newGitOpsStepSite(t)
	before := g.count(t)
	digest := "sha256:" + strings.Repeat("ab", 32)
	// Rendered for the preflight first: the manifests with the new digest, nothing committed.
	out, manifests, err := g.render(t, digest, g.first)
	if err != nil || !strings.Contains(out, "nothing committed") || !strings.Contains(manifests, "image: "+g.params["image"]+"@"+digest) ||
		!strings.Contains(manifests, "kind: Deployment") {
		t.Fatalf("render should give the manifests with the new image and commit nothing: %v\n%s\nmanifests:\n%s", err, out, manifests)
	}
	if after := g.count(t); after != before {
		t.Fatalf("render committed: history went from %s to %s", before, after)
	}
	if out, err := g.commitDigest(t, digest, g.first); err != nil {
		t.Fatalf("update-digest step failed: %v\n%s", err, out)
	}
	if after := g.count(t); before == after || git(t, g.bare, "rev-list", "--count", "main", "^"+git(t, g.seed, "rev-parse", "HEAD")) != "1" {
		t.Fatalf("expected exactly one new commit, history went from %s to %s", before, after)
	}
	kustomization := git(t, g.bare, "show", "main:apps/sample-app/staging/kustomization.yaml")
	if !strings.Contains(kustomization, "digest: "+digest) || !strings.Contains(kustomization, "newName: "+g.params["image"]) || strings.Contains(kustomization, "sha256:0000") {
		t.Errorf("the kustomization should carry the image and the new digest:\n%s", kustomization)
	}
	if msg := git(t, g.bare, "log", "-1", "--format=%s", "main"); msg != "Deploy sample-app@"+digest {
		t.Errorf("commit message %q", msg)
	}
	if deployed := g.deployed(t); deployed != g.first {
		t.Errorf("source-commit should record %s, holds %q", g.first, deployed)
	}

	// The same digest again is no new commit; a value that isn't a digest fails.
	if out, err := g.commitDigest(t, digest, g.first); err != nil || !strings.Contains(out, "already at") {
		t.Errorf("re-running with the same digest should change nothing: %v\n%s", err, out)
	}
	head := g.head(t)
	for _, digest := range []string{
		"latest",
		"sha256:" + strings.Repeat("ab", 31),
		"sha256:" + strings.Repeat("AB", 32),
		// The injection that once passed a `sha256:` prefix check and, through `awk -v`, added
		// a remote component to the kustomization Argo CD syncs.
		"sha256:" + strings.Repeat("ab", 32) + `\ncomponents:\n  - https://evil.example//evil`,
		"sha256:" + strings.Repeat("ab", 32) + "\ncomponents:\n  - https://evil.example//evil",
	} {
		if out, err := g.commitDigest(t, digest, g.first); err == nil || !strings.Contains(out, "not an image digest") {
			t.Errorf("digest %q must fail the step before any change: %v\n%s", digest, err, out)
		}
		if now := g.head(t); now != head {
			t.Fatalf("digest %q changed the GitOps repository (%s → %s)", digest, head, now)
		}
	}
}

// Deploys go forward only: `second` descends from the deployed `first` and is deployed;
// `first` again (an older push whose workflow finished last) and `other` (on another line)
// are superseded, and nothing is committed.
func TestE2EGitOpsStepDeploysDescendantsOnly(t *testing.T) {
	g := newGitOpsStepSite(t)
	g.mustCommitDigest(t, "sha256:"+strings.Repeat("ab", 32), g.first)
	g.mustCommitDigest(t, "sha256:"+strings.Repeat("cd", 32), g.second)
	head := g.head(t)
	for _, revision := range []string{g.first, g.other} {
		if out, err := g.commitDigest(t, "sha256:"+strings.Repeat("ef", 32), revision); err != nil || !strings.Contains(out, "Superseded: "+revision+" does not descend from "+g.second) {
			t.Errorf("%s must be superseded by the deployed %s: %v\n%s", revision, g.second, err, out)
		}
		if now := g.head(t); now != head {
			t.Fatalf("a superseded commit changed the GitOps repository (%s → %s)", head, now)
		}
	}
}

// A rejected push (another deploy landed first) is tried again on the new tip: a hook rejects
// the first push only.
func TestE2EGitOpsStepTriesARejectedPushAgain(t *testing.T) {
	g := newGitOpsStepSite(t)
	hook := filepath.Join(g.bare, "hooks", "pre-receive")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\n[ -e rejected-once ] && exit 0\ntouch rejected-once\necho 'another deploy landed first' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	chownToBuildUser(t, g.remote)
	if out, err := g.commitDigest(t, "sha256:"+strings.Repeat("12", 32), g.second); err != nil || !strings.Contains(out, "trying again on the new tip") || !strings.Contains(out, "Committed sample-app@") {
		t.Errorf("a rejected push should be tried again and land: %v\n%s", err, out)
	}
	if deployed := g.deployed(t); deployed != g.second {
		t.Errorf("after the retry source-commit should be %s, is %q", g.second, deployed)
	}
}

// An image name with a newline, or one no container uses (which would commit a change that
// deploys nothing): refused, nothing committed.
func TestE2EGitOpsStepRefusesAnImageNameTheManifestsDontUse(t *testing.T) {
	g := newGitOpsStepSite(t)
	head := g.head(t)
	g.params["image-name"] = "sample-app\nx"
	if out, err := g.commitDigest(t, "sha256:"+strings.Repeat("ab", 32), g.first); err == nil {
		t.Errorf("an image name with a newline must fail:\n%s", out)
	}
	g.params["image-name"] = "sampel-app"
	if out, err := g.commitDigest(t, "sha256:"+strings.Repeat("cd", 32), g.first); err == nil || !strings.Contains(out, "no container in apps/sample-app/staging uses the image 'sampel-app'") {
		t.Errorf("an image name no container uses must fail: %v\n%s", err, out)
	}
	if now := g.head(t); now != head {
		t.Fatalf("a failed step changed the GitOps repository (%s → %s)", head, now)
	}
}

// `second` didn't become ready: roll-back restores the directory as the commit before had it
// (first's digest and source-commit) in one commit that says why, the reason passed as data;
// run again, it leaves alone a commit that is no longer deployed.
func TestE2EGitOpsRollBackRestoresThePreviousDeploy(t *testing.T) {
	g := newGitOpsStepSite(t)
	g.mustCommitDigest(t, "sha256:"+strings.Repeat("ab", 32), g.first)
	g.mustCommitDigest(t, "sha256:"+strings.Repeat("cd", 32), g.second)
	head := g.head(t)
	reason := `pod sample-app-x, container web: exited with code 3; last output: $(touch /tmp/pwned) "quoted"`
	rollBack := loadStep(t, "deploy/argo/cd/update-digest-template.yaml", "roll-back", map[string]string{
		"gitops-repo": "file:///remote/gitops.git", "gitops-branch": "main", "gitops-image": gitImage,
		"kustomization-dir": "apps/sample-app/staging", "image-name": "sample-app", "revision": g.second, "gitops-commit": head, "reason": reason,
	})
	out, err := rollBack.run(t, gitImage, "1001:1000", g.remote+":/remote")
	if err != nil || !strings.Contains(out, "Rolled back apps/sample-app/staging to its state before "+head) {
		t.Fatalf("roll-back should restore the previous deploy: %v\n%s", err, out)
	}
	if deployed := g.deployed(t); deployed != g.first {
		t.Errorf("after the rollback source-commit should be %s again, is %q", g.first, deployed)
	}
	if k := git(t, g.bare, "show", "main:apps/sample-app/staging/kustomization.yaml"); !strings.Contains(k, "digest: sha256:"+strings.Repeat("ab", 32)) {
		t.Errorf("after the rollback the kustomization should carry first's digest:\n%s", k)
	}
	if message := git(t, g.bare, "log", "-1", "--format=%B", "main"); !strings.HasPrefix(message, "Roll back sample-app: source commit "+g.second+" did not become ready") || !strings.Contains(message, reason) {
		t.Errorf("the rollback commit's message: %q", message)
	}
	rolledBack := g.head(t)
	if out, err := rollBack.run(t, gitImage, "1001:1000", g.remote+":/remote"); err != nil || !strings.Contains(out, "A newer deploy replaced "+g.second) {
		t.Errorf("a rollback of a commit no longer deployed must do nothing: %v\n%s", err, out)
	}
	if now := g.head(t); now != rolledBack {
		t.Errorf("a second rollback changed the GitOps repository (%s → %s)", rolledBack, now)
	}
}

// The reuse step of the WorkflowTemplate, its real command in a container, against the testbed
// registry (TLS with its CA, as the ca-configmap gives it): no image of these inputs yet → it
// says so; one exists → it outputs that digest and tags nothing; as publish-reused (after the
// gates) it tags that digest with the workflow's image name (a pull request's tag here), and
// refuses a digest the inputs' tag no longer names. Values that aren't what they claim are
// refused before the registry is asked.
func TestE2EReuseStepFindsAnImageOfTheSameInputs(t *testing.T) {
	requireE2E(t)
	bin := t.TempDir()
	buildGate(t, bin)
	caDir, ca := caConfigMap(t)
	auth := t.TempDir()
	writeFile(t, filepath.Join(auth, "config.json"), `{"auths":{}}`)
	inputs := fmt.Sprintf("%064x", time.Now().UnixNano())
	repo := "luban-test/reuse"
	reuse := func(image, inputs string, publish ...string) (string, string, error) {
		s := loadStep(t, "deploy/argo/workflows/build-template.yaml", "reuse",
			map[string]string{"gate-image": gitImage, "image": image, "inputs": inputs, "insecure-registry": "", "publish": strings.Join(publish, "")})
		return s.runReading(t, gitImage, "1001:1000", "/tmp/luban-reused", gateMount(bin),
			auth+":/luban/registry-auth:ro", caDir+":/luban/ca:ro")
	}
	out, reused, err := reuse(registry+"/"+repo+":pr-9", inputs)
	if err != nil || reused != "" || !strings.Contains(out, "no image of these inputs yet ("+registry+"/"+repo+":inputs-"+inputs+")") {
		t.Fatalf("with no image of these inputs the step must build: %v %q\n%s", err, reused, out)
	}

	// An image the export tagged with these inputs.
	image, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(registry + "/" + repo + ":inputs-" + inputs)
	if err := remote.Write(ref, image, remote.WithTransport(registryClient(ca).Transport)); err != nil {
		t.Fatal(err)
	}
	digest, _ := image.Digest()
	forgetImage(t, ca, repo, "pr-9")
	out, reused, err = reuse(registry+"/"+repo+":pr-9", inputs)
	if err != nil || reused != digest.String() || !strings.Contains(out, "Reuse "+digest.String()) {
		t.Fatalf("an image of these inputs must be reused: %v %q\n%s", err, reused, out)
	}
	if got := registryDigest(t, ca, repo, "pr-9"); got != "" {
		t.Errorf("nothing may be tagged before the gates passed, pr-9 is %q", got)
	}
	if out, _, err := reuse(registry+"/"+repo+":pr-9", inputs, digest.String()); err != nil || !strings.Contains(out, "Published "+digest.String()) {
		t.Fatalf("publish-reused must tag the image: %v\n%s", err, out)
	}
	if got := registryDigest(t, ca, repo, "pr-9"); got != digest.String() {
		t.Errorf("the reused image should be tagged pr-9, the registry has %q", got)
	}
	other := "sha256:" + strings.Repeat("0", 64)
	if out, _, err := reuse(registry+"/"+repo+":pr-9", inputs, other); err == nil || !strings.Contains(out, "now names "+digest.String()) {
		t.Errorf("publishing a digest the inputs' tag doesn't name must fail: %v\n%s", err, out)
	}

	for _, bad := range [][2]string{
		{registry + "/" + repo, "latest"},
		{registry + "/" + repo, inputs + "\n"},
		{registry + "/" + repo + "@" + digest.String(), inputs},
		{"Not An Image", inputs},
	} {
		if out, _, err := reuse(bad[0], bad[1]); err == nil {
			t.Errorf("image %q with inputs %q must be refused:\n%s", bad[0], bad[1], out)
		}
	}
}
