package tests

// The site of the node's loop test (argo_cluster_e2e_test.go), and the moves its scenarios
// make: commit, push, wait for the Sensor's Workflow, wait for the app to answer.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/luban-buildpacks/luban/deploy/apps"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kustomize "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"
)

// The statuses link each step's log in the Argo Workflows UI at this address.
const loopArgoUI = "https://argo.luban.test"

// pushLoop is what a site installs, on the node: both templates with their RBAC, Secrets,
// ConfigMaps and OSV database, the EventSource and Sensor, the app's repository on the forge
// (Gitea) with its webhook, the GitOps repository (on the forge too, which Argo CD trusts by
// its certificate, as argocd-tls-certs-cm would say) and Argo CD's Application. Each app
// commit says what the app answers.
type pushLoop struct {
	b          *argoBench
	forge      *forge
	appRepo    string // owner/name on the forge
	gitopsRepo string // owner/name on the forge
	app        string // the app's working copy
	gitops     string // the test's copy of the GitOps repository (bare; read it with gitopsGit)
	repo       string // the image's repository in the testbed registry
	webhook    string // the event source's address
	secret     string // the webhook secret
	port       int    // the app's NodePort on 127.0.0.1
	// Production: its namespace and NodePort; luban-promote deploys it.
	production     string
	productionPort int
	ca             []byte // the registry's CA
	appFile        apps.App
	// Apps onboarded beside it, each by its own file: its own repository, image, GitOps path
	// and namespace. The loop test has one (second), make bench-apps two.
	others  []*otherApp
	second  *otherApp
	seen    map[string]bool
	started time.Time
	// What the scenarios hand on.
	published string // the digest the registry's `latest` names
	live      string // the digest the app runs
	deployed  string // the source commit the GitOps repository deploys
}

func newPushLoop(t *testing.T) *pushLoop {
	t.Helper()
	return newPushLoopOf(t, "second-app")
}

// newPushLoopOf is the site with the sample app and the apps `others` beside it.
func newPushLoopOf(t *testing.T, others ...string) *pushLoop {
	t.Helper()
	b := newArgoBench(t)
	ctx := context.Background()
	b.provisionVolumes(t)
	tools := stepToolsImage(t)
	builder := pushImage(t, builderImage, "luban-test/builder")
	l := &pushLoop{b: b, forge: startForge(t), repo: "luban-test/cluster-loop", seen: map[string]bool{}, started: time.Now(),
		secret: fmt.Sprintf("luban-e2e-webhook-%d", time.Now().UnixNano())}
	l.appRepo = l.forge.repository(t, "app")
	l.gitopsRepo = l.forge.repository(t, "gitops")
	gitopsRepo := l.gitopsRepo
	l.app = gitRepo(t, "test-fixtures/web_flask", "first")
	// The app's first commit on main before the webhook exists: Gitea makes the first branch
	// pushed to an empty repository its default one (a push to `feature` must not be).
	l.forge.git(t, l.app, "push", "-q", l.forge.pushURL(l.appRepo), "HEAD:main")
	// The GitOps repository: the example, each environment's overlay made to run on the node
	// (onTheNode) and naming its namespace, as a site's does (the deploy's preflight renders it
	// and looks there): what the app file's environments name.
	l.port = freeNodePort(t)
	l.production, l.productionPort = b.namespace+"-production", freeNodePort(t)
	seed := gitRepo(t, "deploy/argo/cd/gitops-example", "seed")
	onTheNode(t, filepath.Join(seed, "apps/sample-app/staging"), b.namespace, l.port)
	onTheNode(t, filepath.Join(seed, "apps/sample-app/production"), l.production, l.productionPort)
	for _, name := range others {
		l.others = append(l.others, newOtherApp(t, l.forge, seed, name, b.namespace+"-"+name))
	}
	if len(l.others) > 0 {
		l.second = l.others[0]
	}
	git(t, seed, "add", "-A")
	git(t, seed, "commit", "-q", "-m", "the luban-node cluster")
	l.forge.git(t, seed, "push", "-q", l.forge.pushURL(gitopsRepo), "HEAD:main")
	l.gitops = filepath.Join(t.TempDir(), "gitops.git")
	l.forge.git(t, filepath.Dir(l.gitops), "clone", "-q", "--bare", l.forge.cloneURL(gitopsRepo), l.gitops)

	// The pipeline from deploy/install with this site's config.env (the example's, with its own
	// images, forge and GitOps repository), as `kubectl apply -k` of a site's overlay would
	// install it.
	b.install(t, map[string]string{
		"workflows-namespace": b.namespace, "argocd-namespace": "argocd",
		"gitops-repo": l.forge.cloneURL(gitopsRepo), "gitops-branch": "main",
		"forge-api": l.forge.url + "/api/v1", "argo-ui-url": loopArgoUI,
		"builder-image": builder, "run-image": registryRunImage,
		"gate-image": tools, "cosign-image": tools, "gitops-image": tools, "rollout-image": tools, "status-image": tools,
	})
	// The push Secret (the testbed registry needs no login), the cosign key pair, the Git
	// credentials, the status token, the CAs (the registry's and, as a company's, this
	// network's proxy's) and the OSV database.
	keys := t.TempDir()
	password := "luban-e2e-cosign-password"
	cosignKeyPair(t, keys, password)
	for _, secret := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Name: "registry-credentials"}, Type: corev1.SecretTypeDockerConfigJson,
			StringData: map[string]string{".dockerconfigjson": `{"auths":{}}`}},
		{ObjectMeta: metav1.ObjectMeta{Name: "luban-cosign"}, StringData: map[string]string{"cosign.key": readText(t, filepath.Join(keys, "cosign.key")), "cosign.password": password}},
		{ObjectMeta: metav1.ObjectMeta{Name: "gitops-credentials"}, StringData: map[string]string{"username": "luban", "password": l.forge.token(t, "write:repository")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "forge-status-token"}, StringData: map[string]string{"token": l.forge.token(t, "write:repository")}},
	} {
		if _, err := b.client.CoreV1().Secrets(b.namespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var caDir string
	caDir, l.ca = caConfigMap(t)
	for _, configMap := range []*corev1.ConfigMap{
		{ObjectMeta: metav1.ObjectMeta{Name: "luban-ca-bundle"}, Data: map[string]string{
			"registry.crt": readText(t, filepath.Join(caDir, "registry.crt")), "network.crt": readText(t, filepath.Join(caDir, "network.crt"))}},
		// docs/signing.md: the public key, and a trusted root that names no public authority.
		{ObjectMeta: metav1.ObjectMeta{Name: "luban-cosign-public-key"}, Data: map[string]string{
			"cosign.pub": readText(t, filepath.Join(keys, "cosign.pub")), "trusted_root.json": `{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`}},
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
	t.Logf("site set up in %s", time.Since(l.started).Round(100*time.Millisecond))

	// The app's file (its repository on the forge, its image in the testbed registry, staging and
	// production), what luban-apps renders from it: the EventSource and Sensor on the node, and
	// the forge's webhook to the app's endpoint.
	config := b.nodeConfig(l.forge.cloneURL(gitopsRepo))
	l.appFile = nodeApp("sample-app", l.forge, l.appRepo, registry+"/"+l.repo,
		apps.Environment{Name: "staging", Path: "apps/sample-app/staging", Namespace: b.namespace},
		apps.Environment{Name: "production", Path: "apps/sample-app/production", Namespace: l.production})
	// Onboarding: one file per app in the site's directory of app files.
	appsDir := t.TempDir()
	writeAppFile(t, appsDir, l.appFile)
	secrets := map[string]string{"sample-app": l.secret}
	for _, other := range l.others {
		other.file = nodeApp(other.name, l.forge, other.repo, registry+"/"+other.image,
			apps.Environment{Name: "staging", Path: other.path, Namespace: other.namespace})
		// The others keep their build cache in the registry, each in its own <image>-cache.
		other.file.Spec.Build.RegistryCache = true
		writeAppFile(t, appsDir, other.file)
		secrets[other.name] = other.secret
	}
	list, err := apps.Load(appsDir)
	if err != nil {
		t.Fatal(err)
	}
	webhooks := b.installEvents(t, list, config, secrets)
	l.webhook = webhooks["sample-app"]
	l.forge.webhook(t, l.appRepo, l.webhook, l.secret)
	for _, other := range l.others {
		other.webhook = webhooks[other.name]
		l.forge.webhook(t, other.repo, other.webhook, other.secret)
	}
	t.Logf("site and event source set up in %s", time.Since(l.started).Round(100*time.Millisecond))
	// Argo CD's Applications, staging and production, from the start: their first sync runs the
	// example's image, which doesn't exist, so the first deploy (the first promotion) replaces a
	// version that never got ready.
	b.createNamespace(t, l.production)
	for _, other := range l.others {
		b.createNamespace(t, other.namespace)
	}
	for _, app := range list {
		b.createApps(t, app, config)
	}
	return l
}

// gitopsGit runs git in the test's copy of the GitOps repository, first fetched from the forge:
// what the deploy step pushed, as Argo CD reads it.
func (l *pushLoop) gitopsGit(t *testing.T, args ...string) string {
	t.Helper()
	l.forge.git(t, l.gitops, "fetch", "-q", "origin", "+refs/heads/*:refs/heads/*")
	return git(t, l.gitops, args...)
}

// gitopsChange is a commit of the site's own to the GitOps repository, pushed to the forge:
// `change` edits a working copy of it. It returns the new head.
func (l *pushLoop) gitopsChange(t *testing.T, message string, change func(dir string)) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "gitops")
	l.forge.git(t, filepath.Dir(dir), "clone", "-q", l.forge.cloneURL(l.gitopsRepo), dir)
	change(dir)
	git(t, dir, "commit", "-q", "-am", message)
	l.forge.git(t, dir, "push", "-q", l.forge.pushURL(l.gitopsRepo), "HEAD:main")
	return git(t, dir, "rev-parse", "HEAD")
}

// readText is a file's contents.
func readText(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// payload is a push as GitHub delivers it for the app's repository (testdata/push-main.json)
// with the forge's names, for deliveries the test makes itself.
func (l *pushLoop) payload(t *testing.T, revision, ref string) []byte {
	t.Helper()
	return pushPayload(t, func(p map[string]any) {
		p["after"], p["ref"] = revision, ref
		p["repository"].(map[string]any)["clone_url"] = l.forge.cloneURL(l.appRepo)
		p["repository"].(map[string]any)["full_name"] = l.appRepo
	})
}

// commit makes `change` to the app and commits it (tracked files); it returns the commit.
func (l *pushLoop) commit(t *testing.T, message string, change func()) string {
	t.Helper()
	change()
	git(t, l.app, "commit", "-q", "-am", message)
	return git(t, l.app, "rev-parse", "HEAD")
}

// push pushes the app's HEAD to `branch` on the forge, which then delivers its webhook.
func (l *pushLoop) push(t *testing.T, branch string) time.Time {
	t.Helper()
	pushed := time.Now()
	l.forge.git(t, l.app, "push", "-q", l.forge.pushURL(l.appRepo), "HEAD:"+branch)
	return pushed
}

// greeting is a change of what the app answers.
func (l *pushLoop) greeting(t *testing.T, text string) func() {
	return func() { setGreeting(t, l.app, text) }
}

// setGreeting makes web_flask in `dir` answer with `text`.
func setGreeting(t *testing.T, dir, text string) {
	t.Helper()
	path := filepath.Join(dir, "app.py")
	writeFile(t, path, regexp.MustCompile(`"message": "[^"]*"`).ReplaceAllString(readText(t, path), fmt.Sprintf("%q: %q", "message", text)))
}

// workflow is the Workflow `name` as it is now.
func (l *pushLoop) workflow(t *testing.T, name string) *wfv1.Workflow {
	t.Helper()
	workflow, err := l.b.argo.ArgoprojV1alpha1().Workflows(l.b.namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return workflow
}

// submitted pushes the app's HEAD (`revision`) to main and returns the Sensor's Workflow, once
// it appears, which must build that revision.
func (l *pushLoop) submitted(t *testing.T, revision string) string {
	t.Helper()
	pushed := l.push(t, "main")
	name := l.b.nextWorkflow(t, l.seen)
	t.Logf("push → the Sensor submitted %s: %s", name, time.Since(pushed).Round(100*time.Millisecond))
	if got := l.workflow(t, name).Spec.Arguments.GetParameterByName("revision"); got == nil || got.Value.String() != revision {
		t.Fatalf("the Workflow builds revision %v, the push was %s", got, revision)
	}
	return name
}

// deploy pushes `revision` to main: the Sensor's Workflow builds it, commits its digest to the
// GitOps repository and waits until Argo CD rolled it out on the node, where the app answers
// with `greeting`. It returns the digest.
func (l *pushLoop) deploy(t *testing.T, revision, greeting string) string {
	t.Helper()
	built := l.b.waitWorkflow(t, l.submitted(t, revision))
	if built.Status.Phase != wfv1.WorkflowSucceeded {
		t.Fatalf("the build workflow %s: %s\n%s", built.Status.Phase, built.Status.Message, l.b.failedStepLog(t, built))
	}
	digest := outputDigest(built)
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(digest) || registryDigest(t, l.ca, l.repo, "latest") != digest {
		t.Fatalf("the workflow reported %q, the registry has %s", digest, registryDigest(t, l.ca, l.repo, "latest"))
	}
	// Its last step, deploy (luban-gitops' update-digest), verified the signature and committed
	// the digest.
	if message := l.gitopsGit(t, "log", "-1", "--format=%s", "main"); message != "Deploy sample-app@"+digest {
		t.Fatalf("the GitOps repository's last commit is %q", message)
	}
	// Argo CD syncs the GitOps repository's new commit to the node. Hops are timed from the
	// commit's own time (whole seconds).
	seconds, err := strconv.ParseInt(l.gitopsGit(t, "log", "-1", "--format=%ct", "main"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	committed := time.Unix(seconds, 0)
	l.b.waitSynced(t, "sample-app", l.gitopsGit(t, "rev-parse", "main"))
	t.Logf("GitOps commit → Argo CD synced it: %s", time.Since(committed).Round(time.Second))
	l.b.waitRunning(t, l.b.namespace, digest)
	if body := answer(t, l.port); !strings.Contains(body, greeting) || !strings.Contains(body, `"uid":1002`) {
		t.Fatalf("the app should answer with %q as uid 1002, answered %q", greeting, body)
	}
	t.Logf("GitOps commit → the app answers with it: %s", time.Since(committed).Round(time.Second))
	l.published, l.live, l.deployed = digest, digest, revision
	return digest
}

// stoppedBeforeTheBuild checks a push a gate stopped: the workflow failed, no build step ran,
// nothing was published and the GitOps repository is as it was (`gitopsHead`).
func (l *pushLoop) stoppedBeforeTheBuild(t *testing.T, done *wfv1.Workflow, gitopsHead, why string) {
	t.Helper()
	if done.Status.Phase != wfv1.WorkflowFailed {
		t.Fatalf("%s must fail the workflow, it ended %s", why, done.Status.Phase)
	}
	for _, node := range done.Status.Nodes {
		if node.Type == wfv1.NodeTypePod && (node.DisplayName == "build" || node.DisplayName == "export") {
			t.Errorf("nothing may be built after %s; %s ran (%s)", why, node.DisplayName, node.Phase)
		}
	}
	if outputDigest(done) != "" || registryDigest(t, l.ca, l.repo, "latest") != l.published {
		t.Errorf("%s must publish nothing: output %q, registry %s (was %s)", why, outputDigest(done), registryDigest(t, l.ca, l.repo, "latest"), l.published)
	}
	if head := l.gitopsGit(t, "rev-parse", "main"); head != gitopsHead {
		t.Errorf("%s changed the GitOps repository (%s → %s)", why, gitopsHead, head)
	}
}

// builtNotDeployed waits for the next Workflow: it built (or reused) `revision` and published
// it as `tag`, and the GitOps repository is still at `gitopsHead`. It returns the digest.
func (l *pushLoop) builtNotDeployed(t *testing.T, revision, tag, gitopsHead string) string {
	t.Helper()
	done := l.b.waitWorkflow(t, l.b.nextWorkflow(t, l.seen))
	if got := done.Spec.Arguments.GetParameterByName("revision"); done.Status.Phase != wfv1.WorkflowSucceeded || got == nil || got.Value.String() != revision {
		t.Fatalf("%s should build %s and succeed: %s, builds %v\n%s", done.Name, revision, done.Status.Phase, got, l.b.failedStepLog(t, done))
	}
	digest := outputDigest(done)
	if digest == "" || registryDigest(t, l.ca, l.repo, tag) != digest {
		t.Errorf("%s's image should be %s:%s, it built %q, the registry has %q", done.Name, l.repo, tag, digest, registryDigest(t, l.ca, l.repo, tag))
	}
	if l.gitopsGit(t, "rev-parse", "main") != gitopsHead {
		t.Errorf("%s must not change the GitOps repository", done.Name)
	}
	t.Logf("%s built %.12s as :%.20s in %s", done.Name, revision, tag, done.Status.FinishedAt.Sub(done.Status.StartedAt.Time).Round(time.Second))
	return digest
}

// deliverForged posts a push of `revision` to the event source signed with `secret`.
func (l *pushLoop) deliverForged(t *testing.T, revision, secret string) int {
	t.Helper()
	status, err := deliver(l.webhook, l.payload(t, revision, "refs/heads/main"), secret)
	if err != nil {
		t.Fatal(err)
	}
	return status
}

// otherApp is an app onboarded beside the sample app: web_flask again, in a repository of its
// own, deployed from its own copy of the example's tree (apps/<name>, its container's image
// named <name>, as luban-apps' image-name says) into its own namespace, from its staging
// overlay (path).
type otherApp struct {
	name, repo, app, image, namespace, path string
	secret, webhook                         string
	port                                    int
	file                                    apps.App
	// What its push left: the digest it deployed, and its GitOps path's tree.
	deployed, tree string
}

// newOtherApp makes the app's repository on the forge (its first commit pushed before any
// webhook) and its tree in the GitOps repository's working copy `seed`.
func newOtherApp(t *testing.T, f *forge, seed, name, namespace string) *otherApp {
	t.Helper()
	other := &otherApp{name: name, repo: f.repository(t, name), app: gitRepo(t, "test-fixtures/web_flask", "first"),
		image: "luban-test/cluster-loop-" + name, namespace: namespace, path: "apps/" + name + "/staging", port: freeNodePort(t),
		secret: fmt.Sprintf("luban-e2e-%s-%d", name, time.Now().UnixNano())}
	f.git(t, other.app, "push", "-q", f.pushURL(other.repo), "HEAD:main")
	tree := filepath.Join(seed, "apps", name)
	copyTree(t, filepath.Join(seed, "apps/sample-app"), tree)
	if err := os.RemoveAll(filepath.Join(tree, "production")); err != nil {
		t.Fatal(err)
	}
	deploymentFile := filepath.Join(tree, "base/deployment.yaml")
	var deployment appsv1.Deployment
	if err := yaml.UnmarshalStrict([]byte(readText(t, deploymentFile)), &deployment); err != nil {
		t.Fatal(err)
	}
	deployment.Spec.Template.Spec.Containers[0].Image = name
	writeYAML(t, deploymentFile, deployment)
	staging := filepath.Join(tree, "staging/kustomization.yaml")
	var kustomization kustomize.Kustomization
	if err := yaml.UnmarshalStrict([]byte(readText(t, staging)), &kustomization); err != nil {
		t.Fatal(err)
	}
	kustomization.Images[0].Name = name
	writeYAML(t, staging, kustomization)
	onTheNode(t, filepath.Join(seed, other.path), namespace, other.port)
	return other
}

// commit changes what the app answers to `text` and commits it; it returns the commit.
func (o *otherApp) commit(t *testing.T, text string) string {
	t.Helper()
	setGreeting(t, o.app, text)
	git(t, o.app, "commit", "-q", "-am", text)
	return git(t, o.app, "rev-parse", "HEAD")
}
