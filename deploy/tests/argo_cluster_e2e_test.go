package tests

// End-to-end on the node with the real Argo Workflows controller (scripts/cluster.sh runs it
// with its executor image): our luban-build WorkflowTemplate, applied with one documented test
// overlay, clones a commit from a Git server on 127.0.0.1, gates, builds with the lifecycle's
// phases, pushes to the TLS registry and signs; the node then runs the digest the workflow
// reported and the app answers with what the commit says.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	argo "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// The Argo Workflows test bench: clients of the cluster and a namespace of the test's own.
type argoBench struct {
	client    *kubernetes.Clientset
	argo      *argo.Clientset
	dynamic   *dynamic.DynamicClient
	mapper    *restmapper.DeferredDiscoveryRESTMapper
	namespace string
}

func newArgoBench(t *testing.T) *argoBench {
	t.Helper()
	client := requireCluster(t)
	config, err := clientcmd.BuildConfigFromFlags("", os.Getenv("CLUSTER_KUBECONFIG"))
	if err != nil {
		t.Fatal(err)
	}
	b := &argoBench{client: client, argo: argo.NewForConfigOrDie(config), dynamic: dynamic.NewForConfigOrDie(config),
		mapper:    restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(client.Discovery())),
		namespace: fmt.Sprintf("luban-argo-%d", time.Now().UnixNano())}
	ctx := context.Background()
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: b.namespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.CoreV1().Namespaces().Delete(context.Background(), b.namespace, metav1.DeleteOptions{}) })
	return b
}

// apply creates every document of a manifest file of the repository, unchanged, in the
// bench's namespace (as `kubectl apply -n` would, through the API's discovery).
func (b *argoBench) apply(t *testing.T, file string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), file))
	if err != nil {
		t.Fatal(err)
	}
	decoder := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(string(raw)), 4096)
	for {
		var object unstructured.Unstructured
		if err := decoder.Decode(&object.Object); errors.Is(err, io.EOF) {
			return
		} else if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if object.Object == nil {
			continue
		}
		gvk := object.GroupVersionKind()
		mapping, err := b.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("%s: %s: %v", file, gvk, err)
		}
		if _, err := b.dynamic.Resource(mapping.Resource).Namespace(b.namespace).Create(context.Background(), &object, metav1.CreateOptions{}); err != nil {
			t.Fatalf("%s: creating %s %s: %v", file, gvk.Kind, object.GetName(), err)
		}
	}
}

// hostPathVolume makes a PersistentVolume of `dir` reserved for the claim `claim` of the
// bench's namespace: the node has no storage provisioner, so each claim the workflow makes
// (its volumeClaimTemplates) or names gets one made here.
func (b *argoBench) hostPathVolume(t *testing.T, claim, dir string) {
	t.Helper()
	name := b.namespace + "-" + claim
	volume := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			ClaimRef:                      &corev1.ObjectReference{Namespace: b.namespace, Name: claim},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: dir},
			},
		},
	}
	ctx := context.Background()
	if _, err := b.client.CoreV1().PersistentVolumes().Create(ctx, volume, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.client.CoreV1().PersistentVolumes().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// gitServer serves the bare repositories under its root over Git's smart HTTP on 127.0.0.1,
// with git's own http-backend, as a forge would.
func gitServer(t *testing.T) (string, string) {
	t.Helper()
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	root := workspace(t)
	server := httptest.NewServer(&cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	})
	t.Cleanup(server.Close)
	return server.URL, root
}

// pushImage pushes an image of the engine to the testbed registry as repo:latest and returns
// repo@digest, the way the node's pods name it.
func pushImage(t *testing.T, local, repo string) string {
	t.Helper()
	remote := registry + "/" + repo
	if out, err := exec.Command(filepath.Join(repoRoot(t), "scripts/registry.sh"), "push", local, remote+":latest").CombinedOutput(); err != nil {
		t.Fatalf("push %s: %v\n%s", remote, err, out)
	}
	return remote + "@" + registryDigest(t, registryCA(t), repo, "latest")
}

// stepToolsImage is the build image (Debian with sh and git) with the gate (built here from
// deploy/gate), osv-scanner and cosign at the tests' versions: it stands in for alpine/git,
// the gate image and cosign's image, which this machine has no registry to pull from.
func stepToolsImage(t *testing.T) string {
	t.Helper()
	context := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(context, "luban-osv-gate"), ".")
	build.Dir = filepath.Join(repoRoot(t), "deploy/gate")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build deploy/gate: %v\n%s", err, out)
	}
	for _, tool := range []string{"osv-scanner", "cosign"} {
		path, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s is not on PATH (scripts/install-tools.sh builds it): %v", tool, err)
		}
		if out, err := exec.Command("cp", path, filepath.Join(context, tool)).CombinedOutput(); err != nil {
			t.Fatalf("cp %s: %v %s", path, err, out)
		}
	}
	writeFile(t, filepath.Join(context, "Containerfile"),
		fmt.Sprintf("FROM %s\nCOPY luban-osv-gate osv-scanner cosign /usr/local/bin/\n", gitImage))
	local := "localhost/luban-test/step-tools:latest"
	docker := filepath.Join(repoRoot(t), "scripts/docker.sh")
	if out, err := exec.Command(docker, "build", "-q", "-t", local, "-f", filepath.Join(context, "Containerfile"), context).CombinedOutput(); err != nil {
		t.Fatalf("building the step tools image: %v\n%s", err, out)
	}
	return pushImage(t, local, "luban-test/step-tools")
}

// buildTemplate is deploy/argo/workflows/build-template.yaml with the node test's one overlay:
// the clone step runs `tools` (alpine/git is not in the testbed).
func buildTemplate(t *testing.T, tools string) *wfv1.WorkflowTemplate {
	t.Helper()
	var template wfv1.WorkflowTemplate
	doc := documents(t, filepath.Join(repoRoot(t), "deploy/argo/workflows/build-template.yaml"), "WorkflowTemplate")[0]
	if err := yaml.UnmarshalStrict(doc, &template); err != nil {
		t.Fatal(err)
	}
	for i := range template.Spec.Templates {
		if template.Spec.Templates[i].Name == "clone" {
			template.Spec.Templates[i].Container.Image = tools
			return &template
		}
	}
	t.Fatal("luban-build has no clone template")
	return nil
}

// submitBuild runs luban-build as a Workflow named `name` (the Sensor's trigger submits the same
// workflowTemplateRef) and waits for it to end. Its workspace claim gets a volume first.
func (b *argoBench) submitBuild(t *testing.T, name string, params map[string]string) *wfv1.Workflow {
	t.Helper()
	b.hostPathVolume(t, name+"-workspace", chownedWorkspace(t))
	keys := make([]string, 0, len(params))
	for key := range params {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	var arguments []wfv1.Parameter
	for _, key := range keys {
		arguments = append(arguments, wfv1.Parameter{Name: key, Value: wfv1.AnyStringPtr(params[key])})
	}
	workflow := &wfv1.Workflow{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: wfv1.WorkflowSpec{
			WorkflowTemplateRef: &wfv1.WorkflowTemplateRef{Name: "luban-build"},
			Arguments:           wfv1.Arguments{Parameters: arguments},
		},
	}
	ctx := context.Background()
	workflows := b.argo.ArgoprojV1alpha1().Workflows(b.namespace)
	started := time.Now()
	if _, err := workflows.Create(ctx, workflow, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		current, err := workflows.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if current.Status.Phase.Completed() {
			t.Logf("workflow %s: %s in %s%s", name, current.Status.Phase, time.Since(started).Round(time.Second), stepTimes(current))
			return current
		}
	}
	t.Fatalf("workflow %s did not end in 5 minutes:\n%s", name, namespaceReport(b.client, b.namespace))
	return nil
}

func chownedWorkspace(t *testing.T) string {
	t.Helper()
	dir := workspace(t)
	chownToBuildUser(t, dir)
	return dir
}

// stepTimes lists the workflow's steps in the order they started, with how long each took.
func stepTimes(workflow *wfv1.Workflow) string {
	var pods []wfv1.NodeStatus
	for _, node := range workflow.Status.Nodes {
		if node.Type == wfv1.NodeTypePod {
			pods = append(pods, node)
		}
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].StartedAt.Before(&pods[j].StartedAt) })
	var out strings.Builder
	for _, node := range pods {
		fmt.Fprintf(&out, "\n  %-20s %-9s %5s  %s", node.DisplayName, node.Phase,
			node.FinishedAt.Sub(node.StartedAt.Time).Round(time.Second), node.Message)
	}
	return out.String()
}

// stepLog is what a step's main container printed, read from the kubelet's log files (the node
// has no address, so the API server can't fetch logs).
func (b *argoBench) stepLog(t *testing.T, workflow *wfv1.Workflow, step string) string {
	t.Helper()
	for _, node := range workflow.Status.Nodes {
		if node.DisplayName != step || node.Type != wfv1.NodeTypePod {
			continue
		}
		pods, err := b.client.CoreV1().Pods(b.namespace).List(context.Background(), metav1.ListOptions{
			LabelSelector: "workflows.argoproj.io/workflow=" + workflow.Name})
		if err != nil {
			t.Fatal(err)
		}
		for _, pod := range pods.Items {
			if pod.Annotations["workflows.argoproj.io/node-id"] != node.ID {
				continue
			}
			logs, _ := filepath.Glob(filepath.Join("/var/log/pods", fmt.Sprintf("%s_%s_%s", b.namespace, pod.Name, pod.UID), "main", "*.log"))
			var out strings.Builder
			for _, file := range logs {
				raw, _ := os.ReadFile(file)
				out.Write(raw)
			}
			return out.String()
		}
	}
	t.Fatalf("workflow %s has no step %q with a pod", workflow.Name, step)
	return ""
}

func outputDigest(workflow *wfv1.Workflow) string {
	if outputs := workflow.Status.Nodes[workflow.Name].Outputs; outputs != nil {
		for _, parameter := range outputs.Parameters {
			if parameter.Name == "digest" && parameter.Value != nil {
				return parameter.Value.String()
			}
		}
	}
	return ""
}

// answer is what the app on the host network answers on `port`, waiting for it to listen.
func answer(t *testing.T, port int) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			continue
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return string(raw)
		}
	}
	t.Fatalf("nothing answered on 127.0.0.1:%d", port)
	return ""
}

func TestE2EClusterArgoWorkflowBuildsTheCommitTheNodeRuns(t *testing.T) {
	b := newArgoBench(t)
	ctx := context.Background()
	tools := stepToolsImage(t)
	builder := pushImage(t, builderImage, "luban-test/builder")

	// The app's repository on a Git server on 127.0.0.1; the commit says what the app answers.
	url, gitRoot := gitServer(t)
	app := gitRepo(t, "test-fixtures/web_flask", "first")
	setGreeting := func(greeting, message string) string {
		raw, err := os.ReadFile(filepath.Join(app, "app.py"))
		if err != nil {
			t.Fatal(err)
		}
		changed := regexp.MustCompile(`"message": "[^"]*"`).ReplaceAllString(string(raw), fmt.Sprintf("%q: %q", "message", greeting))
		writeFile(t, filepath.Join(app, "app.py"), changed)
		git(t, app, "commit", "-q", "-am", message)
		git(t, app, "push", "-q", filepath.Join(gitRoot, "app.git"), "main")
		return git(t, app, "rev-parse", "HEAD")
	}
	git(t, gitRoot, "init", "-q", "--bare", "-b", "main", "app.git")
	// As forges do, a fetch may ask for any commit reachable from a branch.
	git(t, filepath.Join(gitRoot, "app.git"), "config", "uploadpack.allowReachableSHA1InWant", "true")
	first := setGreeting("Hello from the first commit", "first greeting")

	// What a site installs next to the template: its RBAC (unchanged), the push Secret (the
	// testbed registry needs no login), the cosign key, the CAs, the OSV database.
	b.apply(t, "deploy/argo/workflows/rbac.yaml")
	template := buildTemplate(t, tools)
	if _, err := b.argo.ArgoprojV1alpha1().WorkflowTemplates(b.namespace).Create(ctx, template, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	keys := t.TempDir()
	password := "luban-e2e-cosign-password"
	generate := exec.Command("cosign", "generate-key-pair")
	generate.Dir = keys
	generate.Env = append(os.Environ(), "COSIGN_PASSWORD="+password)
	if out, err := generate.CombinedOutput(); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	cosignKey, err := os.ReadFile(filepath.Join(keys, "cosign.key"))
	if err != nil {
		t.Fatal(err)
	}
	secrets := b.client.CoreV1().Secrets(b.namespace)
	for _, secret := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Name: "registry-credentials"}, Type: corev1.SecretTypeDockerConfigJson,
			StringData: map[string]string{".dockerconfigjson": `{"auths":{}}`}},
		{ObjectMeta: metav1.ObjectMeta{Name: "luban-cosign"}, StringData: map[string]string{"cosign.key": string(cosignKey), "cosign.password": password}},
	} {
		if _, err := secrets.Create(ctx, secret, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// The CA bundle: the registry's CA and, as a company's would, this network's proxy's.
	caDir, _ := caConfigMap(t)
	caBundle := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "luban-ca-bundle"}, Data: map[string]string{}}
	for _, name := range []string{"registry.crt", "network.crt"} {
		raw, err := os.ReadFile(filepath.Join(caDir, name))
		if err != nil {
			t.Fatal(err)
		}
		caBundle.Data[name] = string(raw)
	}
	if _, err := b.client.CoreV1().ConfigMaps(b.namespace).Create(ctx, caBundle, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
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

	repo := "luban-test/cluster-build"
	ca := registryCA(t)
	forgetImage(t, ca, repo, "latest")
	params := map[string]string{
		"repo-url":      url + "/app.git",
		"revision":      first,
		"image":         registry + "/" + repo,
		"builder-image": builder,
		"run-image":     registryRunImage,
		"gate-image":    tools,
		"cosign-image":  tools,
		"build-env":     "UV_PYTHON_DOWNLOADS_JSON_URL=" + mirrorURL + "/python/downloads.json",
	}
	built := b.submitBuild(t, "build-first", params)
	if built.Status.Phase != wfv1.WorkflowSucceeded {
		t.Fatalf("the build workflow %s: %s\nbuild step:\n%s", built.Status.Phase, built.Status.Message, b.stepLog(t, built, "build"))
	}
	digest := outputDigest(built)
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(digest) {
		t.Fatalf("the workflow's output digest is %q", digest)
	}
	if got := registryDigest(t, ca, repo, "latest"); got != digest {
		t.Fatalf("the registry has %s, the workflow reported %s", got, digest)
	}

	// The node runs what the workflow reported, as the GitOps app deploys it.
	port := freePort(t)
	deployment := renderGitOpsApp(t, registry+"/"+repo, digest, b.namespace, port)
	deployments := b.client.AppsV1().Deployments(b.namespace)
	if _, err := deployments.Create(ctx, &deployment, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b.waitRunning(t, digest)
	if body := answer(t, port); !strings.Contains(body, "Hello from the first commit") {
		t.Fatalf("the app should answer with the first commit's greeting, answered %q", body)
	}

	// A code change: a second workflow, a second digest, rolled out; the app answers with it.
	params["revision"] = setGreeting("Hello from the second commit", "second greeting")
	rebuilt := b.submitBuild(t, "build-second", params)
	if rebuilt.Status.Phase != wfv1.WorkflowSucceeded {
		t.Fatalf("the second build workflow %s: %s\nbuild step:\n%s", rebuilt.Status.Phase, rebuilt.Status.Message, b.stepLog(t, rebuilt, "build"))
	}
	second := outputDigest(rebuilt)
	if second == digest || registryDigest(t, ca, repo, "latest") != second {
		t.Fatalf("the code change should publish a new digest: first %s, second %q, registry %s", digest, second, registryDigest(t, ca, repo, "latest"))
	}
	deployment = renderGitOpsApp(t, registry+"/"+repo, second, b.namespace, port)
	if _, err := deployments.Update(ctx, &deployment, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	b.waitRunning(t, second)
	if body := answer(t, port); !strings.Contains(body, "Hello from the second commit") {
		t.Fatalf("the app should answer with the second commit's greeting, answered %q", body)
	}

	// A commit whose uv.lock no longer matches pyproject.toml: the workflow fails in the build
	// step with the buildpack's message, and nothing is pushed.
	pyproject := filepath.Join(app, "pyproject.toml")
	raw, err := os.ReadFile(pyproject)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, pyproject, strings.Replace(string(raw), "dependencies = [", `dependencies = ["six>=1.16", `, 1))
	git(t, app, "commit", "-q", "-am", "a dependency without `uv lock`")
	git(t, app, "push", "-q", filepath.Join(gitRoot, "app.git"), "main")
	params["revision"] = git(t, app, "rev-parse", "HEAD")
	stale := b.submitBuild(t, "build-stale-lock", params)
	if stale.Status.Phase != wfv1.WorkflowFailed {
		t.Fatalf("a stale lock must fail the workflow, it ended %s", stale.Status.Phase)
	}
	if log := b.stepLog(t, stale, "build"); !strings.Contains(log, "`uv.lock` is out of date") || !strings.Contains(log, "Run `uv lock` in the project") {
		t.Errorf("the build step's log should carry the buildpack's message:\n%s", log)
	}
	if got := registryDigest(t, ca, repo, "latest"); got != second {
		t.Errorf("a failed build pushed %s over %s", got, second)
	}
}

// waitRunning waits until the sample app's one ready pod runs `digest`.
func (b *argoBench) waitRunning(t *testing.T, digest string) {
	t.Helper()
	waitAvailable(t, b.client, b.namespace, "sample-app", 3*time.Minute)
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		pods, err := b.client.CoreV1().Pods(b.namespace).List(context.Background(), metav1.ListOptions{LabelSelector: "app=sample-app"})
		if err != nil {
			t.Fatal(err)
		}
		if len(pods.Items) == 1 && len(pods.Items[0].Status.ContainerStatuses) == 1 {
			status := pods.Items[0].Status.ContainerStatuses[0]
			if status.Ready && strings.HasSuffix(status.ImageID, digest) {
				return
			}
		}
	}
	t.Fatalf("no ready sample-app pod runs %s", digest)
}
