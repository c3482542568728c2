package tests

// End-to-end on the node, the loop the CI/CD is for, with the real Argo Events, Argo Workflows
// and Argo CD controllers (scripts/cluster.sh runs them): a `git push` to the app's repository,
// on a Git server on 127.0.0.1, makes the server deliver the push as GitHub would,
// HMAC-signed, to our EventSource's pod;
// our Sensor's pod submits luban-build; the workflow controller's pods clone, gate, build with
// the lifecycle's phases, push to the TLS registry and sign, and its deploy step (luban-gitops'
// update-digest) verifies the signature and commits the digest to the GitOps repository (on
// the same Git server); Argo CD syncs our Application to the node; the app answers with what
// the app's commit says. The manifests are applied unchanged but for the overlays each use
// names.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestE2EClusterPushBuildsSignsCommitsAndTheNodeRunsTheCommit(t *testing.T) {
	b := newArgoBench(t)
	ctx := context.Background()
	b.provisionVolumes(t)
	tools := stepToolsImage(t)
	builder := pushImage(t, builderImage, "luban-test/builder")
	loopStarted := time.Now()

	// The app's repository on the testbed's forge (Gitea), which delivers its pushes to our
	// EventSource signed with the webhook secret and takes the commit statuses; the GitOps
	// repository on the tests' Git server, which Argo CD reaches without TLS. Each app commit
	// says what the app answers.
	forge := startForge(t)
	appRepo := forge.repository(t, "app")
	gitPassword := fmt.Sprintf("luban-e2e-git-%d", time.Now().UnixNano())
	webhookSecret := fmt.Sprintf("luban-e2e-webhook-%d", time.Now().UnixNano())
	var webhook string
	// A push as GitHub delivers it for the app's repository (testdata/push-main.json), with the
	// forge's names, for deliveries the test makes itself.
	payload := func(revision, ref string) []byte {
		return pushPayload(t, func(p map[string]any) {
			p["after"], p["ref"] = revision, ref
			p["repository"].(map[string]any)["clone_url"] = forge.cloneURL(appRepo)
			p["repository"].(map[string]any)["full_name"] = appRepo
		})
	}
	url, gitRoot := gitServer(t, gitPassword, nil)
	app := gitRepo(t, "test-fixtures/web_flask", "first")
	// The app's first commit on main before the webhook exists: Gitea makes the first branch
	// pushed to an empty repository its default one (the push to `feature` below must not be).
	forge.git(t, app, "push", "-q", forge.pushURL(appRepo), "HEAD:main")
	// The GitOps repository: the example, and this cluster's overlay of the app (nodeOverlay),
	// which the Application deploys.
	port := freeNodePort(t)
	seed := gitRepo(t, "deploy/argo/cd/gitops-example", "seed")
	writeYAML(t, filepath.Join(seed, "clusters/luban-node/kustomization.yaml"), nodeOverlay("../../apps/sample-app", b.namespace, port))
	git(t, seed, "add", "-A")
	git(t, seed, "commit", "-q", "-m", "the luban-node cluster")
	git(t, gitRoot, "clone", "-q", "--bare", seed, "gitops.git")
	gitops := filepath.Join(gitRoot, "gitops.git")
	git(t, gitops, "config", "http.receivepack", "true")
	commit := func(message string, change func()) string {
		change()
		git(t, app, "commit", "-q", "-am", message)
		return git(t, app, "rev-parse", "HEAD")
	}
	// `git push` of the app's HEAD to `branch` on the forge; the forge then delivers its webhook.
	push := func(branch string) time.Time {
		t.Helper()
		pushed := time.Now()
		forge.git(t, app, "push", "-q", forge.pushURL(appRepo), "HEAD:"+branch)
		return pushed
	}
	greeting := func(text string) func() {
		return func() {
			raw, err := os.ReadFile(filepath.Join(app, "app.py"))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(app, "app.py"),
				regexp.MustCompile(`"message": "[^"]*"`).ReplaceAllString(string(raw), fmt.Sprintf("%q: %q", "message", text)))
		}
	}

	// What a site installs: both templates (its images, mirrors and GitOps repository as
	// defaults) with their RBAC, the push Secret (the testbed registry needs no login), the
	// cosign key pair, the Git credentials, the CAs (the registry's and, as a company's, this
	// network's proxy's) and the OSV database.
	repo := "luban-test/cluster-loop"
	// The statuses link each step's log in the Argo Workflows UI at this address.
	const argoUI = "https://argo.luban.test"
	b.apply(t, "deploy/argo/workflows/rbac.yaml")
	// luban-gitops unchanged: luban-build's deploy step runs its update-digest with luban-build's
	// parameters and volumes.
	for _, template := range []*wfv1.WorkflowTemplate{
		b.onNode(t, buildTemplate(t, tools, map[string]string{
			"builder-image": builder, "run-image": registryRunImage, "gate-image": tools, "cosign-image": tools,
			"build-env":   "UV_PYTHON_DOWNLOADS_JSON_URL=" + mirrorURL + "/python/downloads.json",
			"gitops-repo": url + "/gitops.git", "gitops-image": tools, "rollout-image": tools,
			"forge-api": forge.url + "/api/v1", "status-image": tools, "argo-ui-url": argoUI,
		})),
		b.onNode(t, siteTemplate(t, "deploy/argo/cd/update-digest-template.yaml", map[string]string{})),
	} {
		if _, err := b.argo.ArgoprojV1alpha1().WorkflowTemplates(b.namespace).Create(ctx, template, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	keys := t.TempDir()
	password := "luban-e2e-cosign-password"
	cosignKeyPair(t, keys, password)
	read := func(path string) string {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	for _, secret := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Name: "registry-credentials"}, Type: corev1.SecretTypeDockerConfigJson,
			StringData: map[string]string{".dockerconfigjson": `{"auths":{}}`}},
		{ObjectMeta: metav1.ObjectMeta{Name: "luban-cosign"}, StringData: map[string]string{"cosign.key": read(filepath.Join(keys, "cosign.key")), "cosign.password": password}},
		{ObjectMeta: metav1.ObjectMeta{Name: "gitops-credentials"}, StringData: map[string]string{"username": "luban", "password": gitPassword}},
		{ObjectMeta: metav1.ObjectMeta{Name: "forge-status-token"}, StringData: map[string]string{"token": forge.token(t, "write:repository")}},
	} {
		if _, err := b.client.CoreV1().Secrets(b.namespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	caDir, ca := caConfigMap(t)
	for _, configMap := range []*corev1.ConfigMap{
		{ObjectMeta: metav1.ObjectMeta{Name: "luban-ca-bundle"}, Data: map[string]string{
			"registry.crt": read(filepath.Join(caDir, "registry.crt")), "network.crt": read(filepath.Join(caDir, "network.crt"))}},
		// docs/signing.md: the public key, and a trusted root that names no public authority.
		{ObjectMeta: metav1.ObjectMeta{Name: "luban-cosign-public-key"}, Data: map[string]string{
			"cosign.pub": read(filepath.Join(keys, "cosign.pub")), "trusted_root.json": `{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`}},
	} {
		if _, err := b.client.CoreV1().ConfigMaps(b.namespace).Create(ctx, configMap, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	database := t.TempDir()
	writeOSVDatabase(t, database, gateAdvisory)
	os.Chmod(database, 0o755)
	b.hostPathVolume(t, "osv-database", database)
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "osv-database"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if _, err := b.client.CoreV1().PersistentVolumeClaims(b.namespace).Create(ctx, claim, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("site set up in %s", time.Since(loopStarted).Round(100*time.Millisecond))

	// Our EventSource and Sensor (publishing to the test's repository) on the node.
	webhook = b.installEvents(t, buildSensor(t, registry+"/"+repo, appRepo), webhookSecret)
	forge.webhook(t, appRepo, webhook, webhookSecret)
	t.Logf("site and event source set up in %s", time.Since(loopStarted).Round(100*time.Millisecond))

	seen := map[string]bool{}
	// A push of the app's HEAD (`revision`) to main; the Sensor's Workflow, once it appears,
	// which must build that revision.
	submitted := func(revision string) string {
		t.Helper()
		pushed := push("main")
		name := b.nextWorkflow(t, seen)
		t.Logf("push → the Sensor submitted %s: %s", name, time.Since(pushed).Round(100*time.Millisecond))
		workflow, err := b.argo.ArgoprojV1alpha1().Workflows(b.namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := workflow.Spec.Arguments.GetParameterByName("revision"); got == nil || got.Value.String() != revision {
			t.Fatalf("the Workflow builds revision %v, the push was %s", got, revision)
		}
		return name
	}
	// Argo CD's Application, from the start: its first sync runs the example's image, which
	// doesn't exist, so the first deploy replaces a version that never got ready.
	b.createApplication(t, url+"/gitops.git", "clusters/luban-node")

	// One push to main: the Sensor's Workflow builds it, commits its digest to the GitOps
	// repository and waits until Argo CD rolled it out on the node. It returns the digest.
	loop := func(revision, greeting string) string {
		t.Helper()
		built := b.waitWorkflow(t, submitted(revision))
		if built.Status.Phase != wfv1.WorkflowSucceeded {
			t.Fatalf("the build workflow %s: %s\n%s", built.Status.Phase, built.Status.Message, b.failedStepLog(t, built))
		}
		digest := outputDigest(built)
		if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(digest) || registryDigest(t, ca, repo, "latest") != digest {
			t.Fatalf("the workflow reported %q, the registry has %s", digest, registryDigest(t, ca, repo, "latest"))
		}

		// Its last step, deploy (luban-gitops' update-digest), verified the signature and
		// committed the digest.
		if message := git(t, gitops, "log", "-1", "--format=%s", "main"); message != "Deploy sample-app@"+digest {
			t.Fatalf("the GitOps repository's last commit is %q", message)
		}

		// Argo CD syncs the GitOps repository's new commit to the node. The Application is made
		// after the first commit: before it, the example names an image that doesn't exist.
		// Hops are timed from the commit's own time (whole seconds).
		seconds, err := strconv.ParseInt(git(t, gitops, "log", "-1", "--format=%ct", "main"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		committed := time.Unix(seconds, 0)
		b.waitSynced(t, git(t, gitops, "rev-parse", "main"))
		t.Logf("GitOps commit → Argo CD synced it: %s", time.Since(committed).Round(time.Second))
		b.waitRunning(t, digest)
		if body := answer(t, port); !strings.Contains(body, greeting) || !strings.Contains(body, `"uid":1002`) {
			t.Fatalf("the app should answer with %q as uid 1002, answered %q", greeting, body)
		}
		t.Logf("GitOps commit → the app answers with it: %s", time.Since(committed).Round(time.Second))
		return digest
	}

	// Deliveries that must start nothing: one signed with another secret (refused by the event
	// source), the push to another branch (accepted, dropped by the Sensor's filter). The Sensor
	// handles events in order, so the push to main after them must be the only Workflow.
	first := commit("first greeting, and a test", func() {
		greeting("Hello from the first commit")()
		writeFile(t, filepath.Join(app, "test_app.py"), webFlaskTest(""))
		git(t, app, "add", "test_app.py")
	})
	if status, err := deliver(webhook, payload(first, "refs/heads/main"), "not-the-webhook-secret"); err != nil || status == http.StatusOK {
		t.Fatalf("a delivery signed with another secret must be refused: %d (%v)", status, err)
	}
	push("feature")
	// Gitea delivers a push's webhook after the push returns: let this one reach the event
	// source before the push to main, so the Sensor sees them in that order.
	time.Sleep(3 * time.Second)
	forgetImage(t, ca, repo, "latest")
	digest := loop(first, "Hello from the first commit")
	workflows, err := b.argo.ArgoprojV1alpha1().Workflows(b.namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(workflows.Items) != 1 {
		t.Fatalf("one Workflow expected (the push to main), found %d", len(workflows.Items))
	}
	t.Logf("first push → the app answers with it: %s", time.Since(loopStarted).Round(time.Second))
	// Every stage reported on the commit, read back through the forge, each linking its log.
	statuses := forge.wantStatuses(t, appRepo, first, map[string]string{
		"luban/secrets": "success", "luban/tests": "success: 1 passed", "luban/lint": "success: no linter configured",
		"luban/vulnerabilities": "success", "luban/build": "success: built sha256:",
		"luban/sign": "success", "luban/deploy": "success: deployed and live",
	})
	if link := statuses["luban/build"].TargetURL; !strings.HasPrefix(link, argoUI+"/workflows/"+b.namespace+"/luban-build-") || !strings.Contains(link, "nodeId=") {
		t.Errorf("luban/build should link its step's log in the Argo Workflows UI, links %q", link)
	}

	// A code change: a second digest, committed and rolled out; the app answers with it.
	changed := time.Now()
	second := loop(commit("second greeting", greeting("Hello from the second commit")), "Hello from the second commit")
	if second == digest {
		t.Fatalf("the code change should publish a new digest, got %s again", digest)
	}
	t.Logf("second push → the app answers with it: %s", time.Since(changed).Round(time.Second))

	// A pull request from a branch: its head commit is built, tested, signed and published as
	// :pr-<number>, its statuses are on that commit, and nothing is deployed. (The push of the
	// branch itself starts nothing.)
	gitopsHead := git(t, gitops, "rev-parse", "main")
	proposal := commit("bonjour", greeting("Bonjour from a pull request"))
	push("bonjour")
	git(t, app, "reset", "-q", "--hard", "HEAD~1")
	number, head := forge.pullRequest(t, appRepo, "bonjour", "main", "Greet in French")
	if head != proposal {
		t.Fatalf("the pull request's head is %s, the branch's commit %s", head, proposal)
	}
	reviewed := b.waitWorkflow(t, b.nextWorkflow(t, seen))
	if got := reviewed.Spec.Arguments.GetParameterByName("revision"); reviewed.Status.Phase != wfv1.WorkflowSucceeded || got == nil || got.Value.String() != proposal {
		t.Fatalf("the pull request's workflow should build %s and succeed: %s, builds %v\n%s", proposal, reviewed.Status.Phase, got, b.failedStepLog(t, reviewed))
	}
	tag := fmt.Sprintf("pr-%d", number)
	if digest := outputDigest(reviewed); digest == "" || registryDigest(t, ca, repo, tag) != digest {
		t.Errorf("the pull request's image should be %s:%s, the workflow built %q, the registry has %q", repo, tag, digest, registryDigest(t, ca, repo, tag))
	}
	if git(t, gitops, "rev-parse", "main") != gitopsHead {
		t.Errorf("a pull request must not change the GitOps repository")
	}
	forge.wantStatuses(t, appRepo, proposal, map[string]string{
		"luban/tests": "success: 1 passed", "luban/build": "success: built sha256:", "luban/sign": "success",
		"luban/deploy": "success: not deployed (no GitOps repository)",
	})

	// Three pushes within 5 s, three workflows side by side: their deploys run one at a time
	// (a mutex per app) and in commit order, so the newest commit is live at the end, each
	// other one was deployed before it or superseded, and the GitOps history of source commits
	// never goes backwards.
	gitopsBefore := git(t, gitops, "rev-parse", "main")
	burst := time.Now()
	var revisions []string
	for i := 1; i <= 3; i++ {
		text := fmt.Sprintf("Hello from burst push %d", i)
		revisions = append(revisions, commit(text, greeting(text)))
		push("main")
	}
	if took := time.Since(burst); took > 5*time.Second {
		t.Errorf("the three pushes took %s (meant to be within 5 s)", took.Round(100*time.Millisecond))
	}
	// The Sensor's three Workflows, by the revision each builds.
	names := make([]string, len(revisions))
	for range revisions {
		name := b.nextWorkflow(t, seen)
		workflow, err := b.argo.ArgoprojV1alpha1().Workflows(b.namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		built := workflow.Spec.Arguments.GetParameterByName("revision")
		i := slices.IndexFunc(revisions, func(r string) bool { return built != nil && built.Value.String() == r })
		if i < 0 || names[i] != "" {
			t.Fatalf("the Workflow %s builds %v, not one of the burst's pushes %v (or one already built)", name, built, revisions)
		}
		names[i] = name
	}
	t.Logf("three pushes in %s → their three Workflows: %s", time.Since(burst).Round(100*time.Millisecond), names)
	var newest string
	for i, name := range names {
		done := b.waitWorkflow(t, name)
		if done.Status.Phase != wfv1.WorkflowSucceeded {
			t.Fatalf("burst workflow %s: %s\n%s", name, done.Status.Phase, b.failedStepLog(t, done))
		}
		result := deployResult(done)
		t.Logf("burst push %d (%s): %s", i+1, revisions[i][:12], result)
		if result != "deployed" && result != "superseded" {
			t.Errorf("burst push %d's deploy ended %q, not deployed or superseded", i+1, result)
		}
		if i == len(names)-1 {
			if result != "deployed" {
				t.Fatalf("the newest push must be deployed, its deploy ended %q", result)
			}
			newest = outputDigest(done)
		}
	}
	// The GitOps history since the burst: each deploy's source commit descends from the one
	// before it, and the last is the newest push.
	previous := revisions[0] + "^"
	for _, gitopsCommit := range strings.Fields(git(t, gitops, "rev-list", "--reverse", gitopsBefore+"..main")) {
		source := git(t, gitops, "show", gitopsCommit+":apps/sample-app/source-commit")
		if out, err := exec.Command("git", "-C", app, "merge-base", "--is-ancestor", previous, source).CombinedOutput(); err != nil {
			t.Errorf("the GitOps history went backwards: %s deploys %s after %s (%v %s)", gitopsCommit[:12], source[:12], previous, err, out)
		}
		previous = source
	}
	if previous != revisions[2] {
		t.Errorf("the GitOps repository should end at the newest push %s, ends at %s", revisions[2], previous)
	}
	b.waitSynced(t, git(t, gitops, "rev-parse", "main"))
	b.waitRunning(t, newest)
	if body := answer(t, port); !strings.Contains(body, "Hello from burst push 3") {
		t.Fatalf("after the burst the app should answer with the newest push, answered %q", body)
	}
	t.Logf("three pushes → the newest answers: %s", time.Since(burst).Round(time.Second))
	second = registryDigest(t, ca, repo, "latest")

	// A commit whose app crashes at start: built, signed and committed, then its rollout check
	// sees the new pod crash-loop, the deploy restores the previous digest and fails, naming the
	// pod's exit code and last output. A request loop on the Service's NodePort (127.0.0.1)
	// from before the push until the rollback is live: every request answered by the previous
	// version.
	stopLoop, served := requestLoop(t, port, "Hello from burst push 3")
	gitopsHead = git(t, gitops, "rev-parse", "main")
	// (Its tests go with it: they would import the app and stop the commit before the build.)
	appSource := read(filepath.Join(app, "app.py"))
	crashing := commit("an import that fails at start", func() {
		writeFile(t, filepath.Join(app, "app.py"), "import luban_no_such_module  # noqa: F401\n"+appSource)
		git(t, app, "rm", "-q", "test_app.py")
	})
	crashed := b.waitWorkflow(t, submitted(crashing))
	answered, failures := stopLoop()
	t.Logf("the crashing commit: workflow %s; the request loop: %d answered, %d failed", crashed.Status.Phase, answered, len(failures))
	if crashed.Status.Phase != wfv1.WorkflowFailed {
		t.Fatalf("a version that crashes at start must fail the workflow, it ended %s", crashed.Status.Phase)
	}
	// What the kubelet keeps of the output is its last 2 KB, which gunicorn's own traceback
	// fills after a worker fails to boot (the app's ModuleNotFoundError is before it): the
	// check names gunicorn's reason and says where the whole output is.
	if log := b.stepLog(t, crashed, "rollout"); !strings.Contains(log, "exited with code") || !strings.Contains(log, "Worker failed to boot") ||
		!strings.Contains(log, "--previous") {
		t.Errorf("the rollout check should name the exit code, the server's reason and where the whole output is:\n%s", log)
	}
	if log := b.stepLog(t, crashed, "rollout-failed"); !strings.Contains(log, "rolled back; the previous version serves again") {
		t.Errorf("the deploy should end saying it rolled back:\n%s", log)
	}
	messages := strings.Split(git(t, gitops, "log", "--format=%s", gitopsHead+"..main"), "\n")
	if len(messages) != 2 || !strings.HasPrefix(messages[0], "Roll back sample-app") || !strings.HasPrefix(messages[1], "Deploy sample-app@") {
		t.Errorf("the GitOps repository should hold the deploy and its rollback, holds %q", messages)
	}
	if source := git(t, gitops, "show", "main:apps/sample-app/source-commit"); source != revisions[2] {
		t.Errorf("after the rollback the deployed source commit should be the burst's newest %s, is %s", revisions[2], source)
	}
	if answered == 0 || len(failures) > 0 {
		t.Errorf("the app must keep answering with the previous version through the failed rollout: %d answered, failures %v", answered, failures)
	}
	served()
	forge.wantStatuses(t, appRepo, crashing, map[string]string{"luban/tests": "success: no tests collected", "luban/sign": "success", "luban/deploy": "failure: exited with code"})
	b.waitRunning(t, newest)
	second = registryDigest(t, ca, repo, "latest")

	// A commit whose uv.lock no longer matches pyproject.toml: the tests step can't install it
	// and stops the workflow before the build, saying so; nothing is pushed or deployed. (The
	// build's own message for it is the buildpack end-to-end tests'.)
	gitopsHead = git(t, gitops, "rev-parse", "main")
	pyproject := read(filepath.Join(app, "pyproject.toml"))
	stale := commit("a dependency without `uv lock`", func() {
		writeFile(t, filepath.Join(app, "pyproject.toml"), strings.Replace(pyproject, "dependencies = [", `dependencies = ["six>=1.16", `, 1))
	})
	failed := b.waitWorkflow(t, submitted(stale))
	if failed.Status.Phase != wfv1.WorkflowFailed {
		t.Fatalf("a stale lock must fail the workflow, it ended %s", failed.Status.Phase)
	}
	if log := b.stepLog(t, failed, "tests"); !strings.Contains(log, "needs to be updated") || !strings.Contains(log, "run `uv lock` and commit it") {
		t.Errorf("the tests step's log should carry uv's message and what to do:\n%s", log)
	}
	if outputDigest(failed) != "" || registryDigest(t, ca, repo, "latest") != second {
		t.Errorf("a failed build must publish nothing: output %q, registry %s (was %s)", outputDigest(failed), registryDigest(t, ca, repo, "latest"), second)
	}
	if head := git(t, gitops, "rev-parse", "main"); head != gitopsHead {
		t.Errorf("a failed build changed the GitOps repository (%s → %s)", gitopsHead, head)
	}
	forge.wantStatuses(t, appRepo, stale, map[string]string{
		"luban/secrets": "success", "luban/tests": "failure: `uv.lock` is out of date",
		"luban/build": "error: not run: luban/tests failed", "luban/deploy": "error: not run: luban/tests failed",
	})

	// A commit with an AWS key in it: the secret scan stops it before anything is built, and
	// names the file and line, never the key.
	key := "AKIAZ7X2Q4M5N6P3RSTW"
	leak := commit("an AWS key in the settings", func() {
		writeFile(t, filepath.Join(app, "settings.py"), "AWS_ACCESS_KEY_ID = \""+key+"\"\n")
		git(t, app, "add", "settings.py")
	})
	leaked := b.waitWorkflow(t, submitted(leak))
	if leaked.Status.Phase != wfv1.WorkflowFailed {
		t.Fatalf("a commit with a credential must fail the workflow, it ended %s", leaked.Status.Phase)
	}
	if log := b.stepLog(t, leaked, "secret-scan"); !strings.Contains(log, "AWS access token in settings.py:1") || strings.Contains(log, key) {
		t.Errorf("the secret scan should name the finding and never the key:\n%s", log)
	}
	for _, node := range leaked.Status.Nodes {
		if node.Type == wfv1.NodeTypePod && (node.DisplayName == "build" || node.DisplayName == "export") {
			t.Errorf("nothing may be built after the secret scan failed; %s ran (%s)", node.DisplayName, node.Phase)
		}
	}
	if registryDigest(t, ca, repo, "latest") != second {
		t.Errorf("a commit with a credential must publish nothing")
	}
	for context, s := range forge.wantStatuses(t, appRepo, leak, map[string]string{
		"luban/secrets": "failure: settings.py:1", "luban/build": "error: not run: luban/secrets failed",
	}) {
		if strings.Contains(s.Description, key) {
			t.Errorf("the %s status shows the key: %q", context, s.Description)
		}
	}

	// A commit whose test fails (the app, the lock and the files as they were before): the tests
	// step stops it before anything is built, and luban/tests names the failing test.
	failingTest := commit("a test that expects another greeting", func() {
		writeFile(t, filepath.Join(app, "app.py"), appSource)
		writeFile(t, filepath.Join(app, "pyproject.toml"), pyproject)
		git(t, app, "rm", "-q", "settings.py")
		writeFile(t, filepath.Join(app, "test_app.py"), webFlaskTest("Hello from a greeting nobody wrote"))
		git(t, app, "add", "test_app.py")
	})
	tested := b.waitWorkflow(t, submitted(failingTest))
	if tested.Status.Phase != wfv1.WorkflowFailed {
		t.Fatalf("a commit whose tests fail must fail the workflow, it ended %s", tested.Status.Phase)
	}
	for _, node := range tested.Status.Nodes {
		if node.Type == wfv1.NodeTypePod && (node.DisplayName == "build" || node.DisplayName == "export") {
			t.Errorf("nothing may be built after the tests failed; %s ran (%s)", node.DisplayName, node.Phase)
		}
	}
	if registryDigest(t, ca, repo, "latest") != second || git(t, gitops, "rev-parse", "main") != gitopsHead {
		t.Errorf("a commit whose tests fail must publish and deploy nothing")
	}
	forge.wantStatuses(t, appRepo, failingTest, map[string]string{
		"luban/secrets": "success", "luban/tests": "failure: 1 passed, 1 failed: test_app.py::test_greeting",
		"luban/build": "error: not run: luban/tests failed", "luban/deploy": "error: not run: luban/tests failed",
	})
}
