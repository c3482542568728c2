package tests

// End-to-end on the node, the loop the CI/CD is for, with the real Argo Events, Argo Workflows
// and Argo CD controllers (scripts/cluster.sh runs them): a `git push` to the app's repository
// on the testbed's Gitea makes Gitea deliver the push, HMAC-signed, to our EventSource's pod;
// our Sensor's pod submits luban-build; the workflow controller's pods clone, gate, build with
// the lifecycle's phases, push to the TLS registry and sign, and its deploy step (luban-gitops'
// update-digest) verifies the signature and commits the digest to the GitOps repository (on
// Gitea too); Argo CD syncs our Application to the node; the app answers with what
// the app's commit says, and every stage's status is on the commit in Gitea. The manifests are
// applied unchanged but for the overlays each use names. The site is loop_fixtures_test.go's.

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Each scenario is a test of its own, run in this order: each starts where the one before left
// the site (the digest live, the GitOps repository's head), so the first that fails ends the
// run rather than leave the next to start from a site it left half-way.
func TestE2EClusterPushBuildsSignsCommitsAndTheNodeRunsTheCommit(t *testing.T) {
	l := newPushLoop(t)
	for _, scenario := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"FirstPushesDeployAndReport", l.firstPushesDeployAndReport},
		{"SecondAppDeploysApart", l.secondAppDeploysApart},
		{"DocsOnlyPushBuildsNothing", l.docsOnlyPushBuildsNothing},
		{"BranchAndPullRequestAreBuiltNotDeployed", l.branchAndPullRequestAreBuiltNotDeployed},
		{"BurstDeploysInCommitOrder", l.burstDeploysInCommitOrder},
		{"CrashAtStartRollsBackWhileTheOldVersionServes", l.crashAtStartRollsBackWhileTheOldVersionServes},
		{"StaleLockStopsAtTheTests", l.staleLockStopsAtTheTests},
		{"PlantedKeyStopsAtTheSecretScan", l.plantedKeyStopsAtTheSecretScan},
		{"FailingTestStopsTheBuild", l.failingTestStopsTheBuild},
		{"PromotionRunsTheStagingDigest", l.promotionRunsTheStagingDigest},
		{"MissingSecretStopsTheDeploy", l.missingSecretStopsTheDeploy},
		{"TheFirstAppsPushesNeverTouchedTheSecond", l.theFirstAppsPushesNeverTouchedTheSecond},
	} {
		if !t.Run(scenario.name, scenario.run) {
			return
		}
	}
}

// Deliveries that must start nothing come first: one signed with another secret (refused by
// the event source), the push of a tag (accepted, dropped by the Sensor's filters).
// Then the first push to main, the only Workflow, deploys; every stage reported on the commit,
// read back through the forge, each linking its log. A code change: a second digest, deployed.
func (l *pushLoop) firstPushesDeployAndReport(t *testing.T) {
	first := l.commit(t, "first greeting, a test, and docs the build leaves out", func() {
		l.greeting(t, "Hello from the first commit")()
		writeFile(t, filepath.Join(l.app, "test_app.py"), webFlaskTest(""))
		writeFile(t, filepath.Join(l.app, "project.toml"), "[_]\nschema-version = \"0.2\"\n[io.buildpacks]\nexclude = [\"docs\"]\n")
		writeFile(t, filepath.Join(l.app, "docs/operations.md"), "# Operations\n")
		git(t, l.app, "add", "test_app.py", "project.toml", "docs")
	})
	if status := l.deliverForged(t, first, "not-the-webhook-secret"); status == http.StatusOK {
		t.Fatalf("a delivery signed with another secret must be refused: %d", status)
	}
	l.push(t, "refs/tags/v0.1.0")
	// Gitea delivers a push's webhook after the push returns: let this one reach the event
	// source before the push to main, so the Sensor sees them in that order.
	time.Sleep(3 * time.Second)
	forgetImage(t, l.ca, l.repo, "latest")
	digest := l.deploy(t, first, "Hello from the first commit")
	workflows, err := l.b.argo.ArgoprojV1alpha1().Workflows(l.b.namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(workflows.Items) != 1 {
		t.Fatalf("one Workflow expected (the push to main, not the tag's), found %d", len(workflows.Items))
	}
	t.Logf("first push → the app answers with it: %s", time.Since(l.started).Round(time.Second))
	statuses := l.forge.wantStatuses(t, l.appRepo, first, map[string]string{
		"luban/secrets": "success", "luban/tests": "success: 1 passed", "luban/lint": "success: no linter configured",
		"luban/vulnerabilities": "success", "luban/build": "success: built sha256:",
		"luban/sign": "success", "luban/deploy": "success: deployed and live",
	})
	if link := statuses["luban/build"].TargetURL; !strings.HasPrefix(link, loopArgoUI+"/workflows/"+l.b.namespace+"/sample-app-build-") || !strings.Contains(link, "nodeId=") {
		t.Errorf("luban/build should link its step's log in the Argo Workflows UI, links %q", link)
	}

	changed := time.Now()
	if second := l.deploy(t, l.commit(t, "second greeting", l.greeting(t, "Hello from the second commit")), "Hello from the second commit"); second == digest {
		t.Fatalf("the code change should publish a new digest, got %s again", digest)
	}
	t.Logf("second push → the app answers with it: %s", time.Since(changed).Round(time.Second))
}

// A push that changes only what project.toml leaves out (docs/): the clone's digest of the
// build's inputs is the live image's, so `reuse` finds that image, nothing is built or signed
// again, and the deploy records the commit without restarting a pod.
func (l *pushLoop) docsOnlyPushBuildsNothing(t *testing.T) {
	pods := l.b.appPods(t)
	docs := l.commit(t, "docs only", func() {
		writeFile(t, filepath.Join(l.app, "docs/operations.md"), "# Operations\n\nRestart with `kubectl rollout restart`.\n")
	})
	pushed := time.Now()
	done := l.b.waitWorkflow(t, l.submitted(t, docs))
	if done.Status.Phase != wfv1.WorkflowSucceeded || outputDigest(done) != l.live {
		t.Fatalf("a docs-only push should reuse %s: %s, %q\n%s", l.live, done.Status.Phase, outputDigest(done), l.b.failedStepLog(t, done))
	}
	t.Logf("docs-only push → its workflow done, nothing built: %s", done.Status.FinishedAt.Sub(pushed).Round(time.Second))
	for _, node := range done.Status.Nodes {
		if slices.Contains([]string{"analyze", "detect", "restore", "build", "export", "sign"}, node.DisplayName) && node.Phase != wfv1.NodeSkipped {
			t.Errorf("%s ran (%s): an image of these inputs exists", node.DisplayName, node.Phase)
		}
	}
	if deployed := l.gitopsGit(t, "show", "main:apps/sample-app/staging/source-commit"); deployed != docs {
		t.Errorf("the GitOps repository should record %s as deployed, records %s", docs, deployed)
	}
	if now := l.b.appPods(t); !slices.Equal(now, pods) {
		t.Errorf("nothing may be redeployed: the app's pods were %v, are %v", pods, now)
	}
	l.forge.wantStatuses(t, l.appRepo, docs, map[string]string{
		"luban/tests": "success", "luban/build": "success: reused " + l.live[:19] + ": its inputs were built before",
		"luban/sign": "success: signed when it was built", "luban/deploy": "success",
	})
	l.deployed = docs
}

// The push of another branch, then a pull request from it: the branch's commit is built, tested
// and signed as :commit-<sha>; the pull request's workflow tests the same commit again and
// reuses that image (the same inputs) as :pr-<number>; the statuses are on that commit, and
// nothing is deployed.
func (l *pushLoop) branchAndPullRequestAreBuiltNotDeployed(t *testing.T) {
	gitopsHead := l.gitopsGit(t, "rev-parse", "main")
	proposal := l.commit(t, "bonjour", l.greeting(t, "Bonjour from a pull request"))
	l.push(t, "bonjour")
	git(t, l.app, "reset", "-q", "--hard", "HEAD~1")
	branch := l.builtNotDeployed(t, proposal, "commit-"+proposal, gitopsHead)
	number, head := l.forge.pullRequest(t, l.appRepo, "bonjour", "main", "Greet in French")
	if head != proposal {
		t.Fatalf("the pull request's head is %s, the branch's commit %s", head, proposal)
	}
	if reviewed := l.builtNotDeployed(t, proposal, fmt.Sprintf("pr-%d", number), gitopsHead); reviewed != branch {
		t.Errorf("the pull request should reuse the branch's image %s, published %s", branch, reviewed)
	}
	l.forge.wantStatuses(t, l.appRepo, proposal, map[string]string{
		"luban/tests": "success: 1 passed", "luban/build": "success: reused " + branch[:19], "luban/sign": "success: signed when it was built",
		"luban/deploy": "success: not deployed (no GitOps repository)",
	})
}

// Three pushes within 5 s, three workflows side by side: their deploys run one at a time (a
// mutex per app) and in commit order, so the newest commit is live at the end, each other one
// was deployed before it or superseded, and the GitOps history of source commits never goes
// backwards.
func (l *pushLoop) burstDeploysInCommitOrder(t *testing.T) {
	gitopsBefore := l.gitopsGit(t, "rev-parse", "main")
	burst := time.Now()
	var revisions []string
	for i := 1; i <= 3; i++ {
		text := fmt.Sprintf("Hello from burst push %d", i)
		revisions = append(revisions, l.commit(t, text, l.greeting(t, text)))
		l.push(t, "main")
	}
	if took := time.Since(burst); took > 5*time.Second {
		t.Errorf("the three pushes took %s (meant to be within 5 s)", took.Round(100*time.Millisecond))
	}
	// The Sensor's three Workflows, by the revision each builds.
	names := make([]string, len(revisions))
	for range revisions {
		name := l.b.nextWorkflow(t, l.seen)
		built := l.workflow(t, name).Spec.Arguments.GetParameterByName("revision")
		i := slices.IndexFunc(revisions, func(r string) bool { return built != nil && built.Value.String() == r })
		if i < 0 || names[i] != "" {
			t.Fatalf("the Workflow %s builds %v, not one of the burst's pushes %v (or one already built)", name, built, revisions)
		}
		names[i] = name
	}
	t.Logf("three pushes in %s → their three Workflows: %s", time.Since(burst).Round(100*time.Millisecond), names)
	for i, name := range names {
		done := l.b.waitWorkflow(t, name)
		if done.Status.Phase != wfv1.WorkflowSucceeded {
			t.Fatalf("burst workflow %s: %s\n%s", name, done.Status.Phase, l.b.failedStepLog(t, done))
		}
		result := deployResult(done)
		t.Logf("burst push %d (%s): %s", i+1, revisions[i][:12], result)
		if result != "deployed" && result != "superseded" {
			t.Errorf("burst push %d's deploy ended %q, not deployed or superseded", i+1, result)
		}
		if i == len(names)-1 && result != "deployed" {
			t.Fatalf("the newest push must be deployed, its deploy ended %q", result)
		}
		if i == len(names)-1 {
			l.live, l.deployed = outputDigest(done), revisions[i]
		}
	}
	// The GitOps history since the burst: each deploy's source commit descends from the one
	// before it, and the last is the newest push.
	previous := revisions[0] + "^"
	for _, gitopsCommit := range strings.Fields(l.gitopsGit(t, "rev-list", "--reverse", gitopsBefore+"..main")) {
		source := l.gitopsGit(t, "show", gitopsCommit+":apps/sample-app/staging/source-commit")
		if out, err := exec.Command("git", "-C", l.app, "merge-base", "--is-ancestor", previous, source).CombinedOutput(); err != nil {
			t.Errorf("the GitOps history went backwards: %s deploys %s after %s (%v %s)", gitopsCommit[:12], source[:12], previous, err, out)
		}
		previous = source
	}
	if previous != revisions[2] {
		t.Errorf("the GitOps repository should end at the newest push %s, ends at %s", revisions[2], previous)
	}
	l.b.waitSynced(t, "sample-app", l.gitopsGit(t, "rev-parse", "main"))
	l.b.waitRunning(t, l.b.namespace, l.live)
	if body := answer(t, l.port); !strings.Contains(body, "Hello from burst push 3") {
		t.Fatalf("after the burst the app should answer with the newest push, answered %q", body)
	}
	t.Logf("three pushes → the newest answers: %s", time.Since(burst).Round(time.Second))
	l.published = registryDigest(t, l.ca, l.repo, "latest")
}

// A commit whose app crashes at start: built, signed and committed, then its rollout check
// sees the new pod crash-loop, the deploy restores the previous digest and fails, naming the
// pod's exit code and last output. A request loop on the Service's NodePort (127.0.0.1) from
// before the push until the rollback is live: every request answered by the previous version.
// (The commit drops its tests: they would import the app and stop it before the build.)
func (l *pushLoop) crashAtStartRollsBackWhileTheOldVersionServes(t *testing.T) {
	stopLoop, served := requestLoop(t, l.port, "Hello from burst push 3")
	gitopsHead := l.gitopsGit(t, "rev-parse", "main")
	source := readText(t, filepath.Join(l.app, "app.py"))
	crashing := l.commit(t, "an import that fails at start", func() {
		writeFile(t, filepath.Join(l.app, "app.py"), "import luban_no_such_module  # noqa: F401\n"+source)
		git(t, l.app, "rm", "-q", "test_app.py")
	})
	crashed := l.b.waitWorkflow(t, l.submitted(t, crashing))
	answered, failures := stopLoop()
	t.Logf("the crashing commit: workflow %s; the request loop: %d answered, %d failed", crashed.Status.Phase, answered, len(failures))
	if crashed.Status.Phase != wfv1.WorkflowFailed {
		t.Fatalf("a version that crashes at start must fail the workflow, it ended %s", crashed.Status.Phase)
	}
	// What the kubelet keeps of the output is its last 2 KB, which gunicorn's own traceback
	// fills after a worker fails to boot (the app's ModuleNotFoundError is before it): the check
	// names gunicorn's reason and says where the whole output is.
	if log := l.b.stepLog(t, crashed, "rollout"); !strings.Contains(log, "exited with code") || !strings.Contains(log, "Worker failed to boot") ||
		!strings.Contains(log, "--previous") {
		t.Errorf("the rollout check should name the exit code, the server's reason and where the whole output is:\n%s", log)
	}
	if log := l.b.stepLog(t, crashed, "rollout-failed"); !strings.Contains(log, "rolled back; the previous version serves again") {
		t.Errorf("the deploy should end saying it rolled back:\n%s", log)
	}
	messages := strings.Split(l.gitopsGit(t, "log", "--format=%s", gitopsHead+"..main"), "\n")
	if len(messages) != 2 || !strings.HasPrefix(messages[0], "Roll back sample-app") || !strings.HasPrefix(messages[1], "Deploy sample-app@") {
		t.Errorf("the GitOps repository should hold the deploy and its rollback, holds %q", messages)
	}
	if deployed := l.gitopsGit(t, "show", "main:apps/sample-app/staging/source-commit"); deployed != l.deployed {
		t.Errorf("after the rollback the deployed source commit should be the previous one %s, is %s", l.deployed, deployed)
	}
	if answered == 0 || len(failures) > 0 {
		t.Errorf("the app must keep answering with the previous version through the failed rollout: %d answered, failures %v", answered, failures)
	}
	served()
	l.forge.wantStatuses(t, l.appRepo, crashing, map[string]string{"luban/tests": "success: no tests collected", "luban/sign": "success", "luban/deploy": "failure: exited with code"})
	l.b.waitRunning(t, l.b.namespace, l.live)
	l.published = registryDigest(t, l.ca, l.repo, "latest")
	// The next commits restore the app as it was.
	writeFile(t, filepath.Join(l.app, "app.py"), source)
}

// A commit whose uv.lock no longer matches pyproject.toml: the tests step can't install it and
// stops the workflow before the build, saying so. (The build's own message for it is the
// buildpack end-to-end tests'.) The app's crashing import goes with this commit.
func (l *pushLoop) staleLockStopsAtTheTests(t *testing.T) {
	gitopsHead := l.gitopsGit(t, "rev-parse", "main")
	pyproject := readText(t, filepath.Join(l.app, "pyproject.toml"))
	stale := l.commit(t, "a dependency without `uv lock`", func() {
		writeFile(t, filepath.Join(l.app, "pyproject.toml"), strings.Replace(pyproject, "dependencies = [", `dependencies = ["six>=1.16", `, 1))
	})
	failed := l.b.waitWorkflow(t, l.submitted(t, stale))
	l.stoppedBeforeTheBuild(t, failed, gitopsHead, "a stale lock")
	if log := l.b.stepLog(t, failed, "tests"); !strings.Contains(log, "needs to be updated") || !strings.Contains(log, "run `uv lock` and commit it") {
		t.Errorf("the tests step's log should carry uv's message and what to do:\n%s", log)
	}
	l.forge.wantStatuses(t, l.appRepo, stale, map[string]string{
		"luban/secrets": "success", "luban/tests": "failure: `uv.lock` is out of date",
		"luban/build": "error: not run: luban/tests failed", "luban/deploy": "error: not run: luban/tests failed",
	})
	writeFile(t, filepath.Join(l.app, "pyproject.toml"), pyproject)
}

// A key committed in the docs and removed again in the same push: the image would never carry
// it (project.toml leaves docs/ out) and the commit's files are clean, but the key is in the
// forge's history now. The secret scan reads the pushed commits (the payload's
// `before`..`after`), stops the workflow before the build and names the file, line and commit,
// never the key, in its log and the commit's status. The app is otherwise as the live
// version's inputs (the stale lock and the crash undone, the test back): `reuse` finds that
// image, and the failed gate keeps it from being published again.
func (l *pushLoop) plantedKeyStopsAtTheSecretScan(t *testing.T) {
	gitopsHead := l.gitopsGit(t, "rev-parse", "main")
	key := "AKIAZ7X2Q4M5N6P3RSTW"
	planted := l.commit(t, "deploy notes, with an AWS key", func() {
		writeFile(t, filepath.Join(l.app, "test_app.py"), webFlaskTest(""))
		writeFile(t, filepath.Join(l.app, "docs/deploy-notes.md"), "AWS_ACCESS_KEY_ID = \""+key+"\"\n")
		git(t, l.app, "add", "test_app.py", "docs")
	})
	removed := l.commit(t, "the key, read from the environment", func() {
		git(t, l.app, "rm", "-q", "docs/deploy-notes.md")
	})
	leaked := l.b.waitWorkflow(t, l.submitted(t, removed))
	l.stoppedBeforeTheBuild(t, leaked, gitopsHead, "a push with a credential in its history")
	for _, node := range leaked.Status.Nodes {
		if node.DisplayName == "reuse" && nodeOutput(node, "digest") != l.live {
			t.Errorf("reuse should have found the live image %s of the same inputs, found %q", l.live, nodeOutput(node, "digest"))
		}
	}
	where := fmt.Sprintf("AWS access token in docs/deploy-notes.md:1 (commit %.12s)", planted)
	if log := l.b.stepLog(t, leaked, "secret-scan"); !strings.Contains(log, where) || strings.Contains(log, key) {
		t.Errorf("the secret scan should say %q and never show the key:\n%s", where, log)
	}
	for context, s := range l.forge.wantStatuses(t, l.appRepo, removed, map[string]string{
		"luban/secrets": "failure: " + where, "luban/build": "error: not run: luban/secrets failed",
	}) {
		if strings.Contains(s.Description, key) {
			t.Errorf("the %s status shows the key: %q", context, s.Description)
		}
	}
}

// A commit whose test fails (the key gone): the tests step stops it before anything is built,
// and luban/tests names the failing test.
func (l *pushLoop) failingTestStopsTheBuild(t *testing.T) {
	gitopsHead := l.gitopsGit(t, "rev-parse", "main")
	failingTest := l.commit(t, "a test that expects another greeting", func() {
		writeFile(t, filepath.Join(l.app, "test_app.py"), webFlaskTest("Hello from a greeting nobody wrote"))
		git(t, l.app, "add", "test_app.py")
	})
	tested := l.b.waitWorkflow(t, l.submitted(t, failingTest))
	l.stoppedBeforeTheBuild(t, tested, gitopsHead, "a commit whose tests fail")
	l.forge.wantStatuses(t, l.appRepo, failingTest, map[string]string{
		"luban/secrets": "success", "luban/tests": "failure: 1 passed, 1 failed: test_app.py::test_greeting",
		"luban/build": "error: not run: luban/tests failed", "luban/deploy": "error: not run: luban/tests failed",
	})
}

// The site's own GitOps commit makes the app read DATABASE_URL from a Secret nobody created in
// its namespace; then a code change is pushed. Built, tested and signed, its deploy stops at
// the preflight, which names the Secret and where the manifests use it: nothing is committed,
// and the version that serves keeps serving. (Argo CD syncs the site's commit itself; its new
// pod can't start, and the rollout's maxUnavailable 0 keeps the old one.) The last scenario:
// it leaves the GitOps repository needing the Secret.
func (l *pushLoop) missingSecretStopsTheDeploy(t *testing.T) {
	stopLoop, served := requestLoop(t, l.port, "Hello from burst push 3")
	gitopsHead := l.gitopsChange(t, "sample-app reads its database URL from a Secret", func(dir string) {
		path := filepath.Join(dir, "apps/sample-app/base/deployment.yaml")
		var deployment appsv1.Deployment
		if err := yaml.Unmarshal([]byte(readText(t, path)), &deployment); err != nil {
			t.Fatal(err)
		}
		web := &deployment.Spec.Template.Spec.Containers[0]
		web.Env = append(web.Env, corev1.EnvVar{Name: "DATABASE_URL", ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sample-app-database"}, Key: "url"}}})
		writeYAML(t, path, deployment)
	})
	needsDatabase := l.commit(t, "a greeting for the database release", func() {
		writeFile(t, filepath.Join(l.app, "test_app.py"), webFlaskTest(""))
		l.greeting(t, "Hello from the database release")()
	})
	stopped := l.b.waitWorkflow(t, l.submitted(t, needsDatabase))
	answered, failures := stopLoop()
	if stopped.Status.Phase != wfv1.WorkflowFailed {
		t.Fatalf("a deploy whose Secret is missing must fail the workflow, it ended %s", stopped.Status.Phase)
	}
	secret := fmt.Sprintf("missing Secret %s/sample-app-database", l.b.namespace)
	missing := secret + " (env DATABASE_URL of container web, Deployment sample-app)"
	if log := l.b.stepLog(t, stopped, "preflight"); !strings.Contains(log, missing) {
		t.Errorf("the preflight should name the Secret and where it is used, %q:\n%s", missing, log)
	}
	for _, node := range stopped.Status.Nodes {
		if node.DisplayName == "commit-digest" && node.Phase != "" && node.Phase != wfv1.NodeOmitted && node.Phase != wfv1.NodeSkipped {
			t.Errorf("nothing may be committed after the preflight failed; commit-digest %s", node.Phase)
		}
	}
	if head := l.gitopsGit(t, "rev-parse", "main"); head != gitopsHead {
		t.Errorf("the GitOps repository moved from the site's commit %s to %s", gitopsHead, head)
	}
	if answered == 0 || len(failures) > 0 {
		t.Errorf("the live version must keep answering: %d answered, failures %v", answered, failures)
	}
	served()
	l.forge.wantStatuses(t, l.appRepo, needsDatabase, map[string]string{
		"luban/tests": "success", "luban/sign": "success", "luban/deploy": "failure: preflight: " + secret,
	})
}

// The second app, onboarded by its own file: a push to its repository is built from that
// repository into its own image, deployed to its own GitOps path and namespace, and answers on
// its own port; the first app's GitOps path, image and answer are as they were.
func (l *pushLoop) secondAppDeploysApart(t *testing.T) {
	firstTree := l.gitopsGit(t, "rev-parse", "main:apps/sample-app")
	firstPublished := registryDigest(t, l.ca, l.repo, "latest")
	before := l.gitopsGit(t, "rev-parse", "main")
	revision := l.second.commit(t, "second app: hello")
	l.forge.git(t, l.second.app, "push", "-q", l.forge.pushURL(l.second.repo), "HEAD:main")
	done := l.b.waitWorkflow(t, l.b.nextWorkflow(t, l.seen))
	if done.Status.Phase != wfv1.WorkflowSucceeded {
		t.Fatalf("the second app's workflow %s: %s\n%s", done.Status.Phase, done.Status.Message, l.b.failedStepLog(t, done))
	}
	for name, want := range map[string]string{"revision": revision, "repo-url": l.forge.cloneURL(l.second.repo),
		"image": registry + "/" + l.second.image, "kustomization-dir": l.second.path, "application": "second-app",
		"cache-image": registry + "/" + l.second.image + "-cache"} {
		if got := done.Spec.Arguments.GetParameterByName(name); got == nil || got.Value.String() != want {
			t.Errorf("the second app's workflow has %s = %v, want %s", name, got, want)
		}
	}
	digest := outputDigest(done)
	if registryDigest(t, l.ca, l.second.image, "latest") != digest {
		t.Fatalf("the second app's image is not %s", digest)
	}
	// One GitOps commit, in the second app's path only.
	if message := l.gitopsGit(t, "log", "-1", "--format=%s", "main"); message != "Deploy second-app@"+digest {
		t.Fatalf("the GitOps repository's last commit is %q", message)
	}
	for _, changed := range strings.Fields(l.gitopsGit(t, "diff", "--name-only", before, "main")) {
		if !strings.HasPrefix(changed, l.second.path+"/") {
			t.Errorf("the second app's deploy changed %s in the GitOps repository", changed)
		}
	}
	l.b.waitSynced(t, "second-app", l.gitopsGit(t, "rev-parse", "main"))
	l.b.waitRunning(t, l.second.namespace, digest)
	if body := answer(t, l.second.port); !strings.Contains(body, "second app: ") {
		t.Errorf("the second app answers %q", body)
	}
	if tree := l.gitopsGit(t, "rev-parse", "main:apps/sample-app"); tree != firstTree || registryDigest(t, l.ca, l.repo, "latest") != firstPublished {
		t.Error("the second app's push changed the first app's GitOps path or image")
	}
	if body := answer(t, l.port); strings.Contains(body, "second app: ") {
		t.Errorf("the first app answers %q", body)
	}
	l.second.deployed = digest
	l.second.tree = l.gitopsGit(t, "rev-parse", "main:"+l.second.path)
}

// After every push of the first app (deploys, a burst, a rollback, a promotion, refusals), the
// second app's GitOps path, image and running version are what its own push left.
func (l *pushLoop) theFirstAppsPushesNeverTouchedTheSecond(t *testing.T) {
	if tree := l.gitopsGit(t, "rev-parse", "main:"+l.second.path); tree != l.second.tree {
		t.Errorf("the second app's GitOps path changed: %s", l.gitopsGit(t, "log", "--format=%s", "--", l.second.path))
	}
	if published := registryDigest(t, l.ca, l.second.image, "latest"); published != l.second.deployed {
		t.Errorf("the second app's image is %s, its push published %s", published, l.second.deployed)
	}
	l.b.waitRunning(t, l.second.namespace, l.second.deployed)
	if body := answer(t, l.second.port); !strings.Contains(body, "second app: ") {
		t.Errorf("the second app answers %q", body)
	}
}

// luban-promote, submitted as a person would: production gets exactly the digest staging runs,
// healthy (the version the crash rolled back to), its signature verified and nothing built;
// production's overlay records staging's source commit, and production answers as staging
// does. Promoting again changes nothing.
func (l *pushLoop) promotionRunsTheStagingDigest(t *testing.T) {
	gitopsHead := l.gitopsGit(t, "rev-parse", "main")
	promote := func() *wfv1.Workflow {
		// The app file's environments say what is promoted from where (luban-apps).
		var arguments wfv1.Arguments
		for key, value := range l.appFile.PromoteParameters(1) {
			arguments.Parameters = append(arguments.Parameters, wfv1.Parameter{Name: key, Value: wfv1.AnyStringPtr(value)})
		}
		workflow := &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{GenerateName: "luban-promote-"},
			Spec: wfv1.WorkflowSpec{WorkflowTemplateRef: &wfv1.WorkflowTemplateRef{Name: "luban-promote"}, Arguments: arguments}}
		created, err := l.b.argo.ArgoprojV1alpha1().Workflows(l.b.namespace).Create(context.Background(), workflow, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		l.seen[created.Name] = true // not a push's
		return l.b.waitWorkflow(t, created.Name)
	}
	started := time.Now()
	promoted := promote()
	t.Logf("promotion: %s in %s", promoted.Status.Phase, time.Since(started).Round(time.Second))
	if promoted.Status.Phase != wfv1.WorkflowSucceeded {
		t.Fatalf("the promotion ended %s: %s", promoted.Status.Phase, promoted.Status.Message)
	}
	ran := map[string]bool{}
	for _, node := range promoted.Status.Nodes {
		if node.Type == wfv1.NodeTypePod && node.Phase == wfv1.NodeSucceeded {
			ran[node.DisplayName] = true
		}
	}
	for _, step := range []string{"staged", "source-commit", "verify-signature", "preflight", "commit-digest", "rollout"} {
		if !ran[step] {
			t.Errorf("the promotion should have run %s; it ran %v", step, ran)
		}
	}
	kustomization := l.gitopsGit(t, "show", "main:apps/sample-app/production/kustomization.yaml")
	if !strings.Contains(kustomization, "digest: "+l.live) {
		t.Errorf("production's overlay should name the staged digest %s:\n%s", l.live, kustomization)
	}
	if source := l.gitopsGit(t, "show", "main:apps/sample-app/production/source-commit"); source != l.deployed {
		t.Errorf("production's source commit should be staging's %s, is %s", l.deployed, source)
	}
	if staged := l.gitopsGit(t, "diff", "--stat", gitopsHead, "main", "--", "apps/sample-app/staging"); staged != "" {
		t.Errorf("the promotion changed staging: %s", staged)
	}
	deployment, err := l.b.client.AppsV1().Deployments(l.production).Get(context.Background(), "sample-app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if image := deployment.Spec.Template.Spec.Containers[0].Image; image != registry+"/"+l.repo+"@"+l.live {
		t.Errorf("production runs %s, not the staged digest %s", image, l.live)
	}
	if staging, production := answer(t, l.port), answer(t, l.productionPort); staging != production {
		t.Errorf("production answers %q, staging %q", production, staging)
	}
	// Again: the same digest, nothing to commit.
	head := l.gitopsGit(t, "rev-parse", "main")
	again := promote()
	if again.Status.Phase != wfv1.WorkflowSucceeded || l.gitopsGit(t, "rev-parse", "main") != head {
		t.Errorf("promoting the same digest again should succeed and commit nothing: %s", again.Status.Phase)
	}
}
