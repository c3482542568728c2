package tests

// Helpers for the tests in argo_cluster_e2e_test.go.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	cdv1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	eventsv1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	argo "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	"github.com/luban-buildpacks/luban/deploy/apps"
	"github.com/nats-io/nats.go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"
)

// The Argo Workflows test bench: clients of the cluster and a namespace of the test's own.
type argoBench struct {
	client    *kubernetes.Clientset
	config    *rest.Config
	argo      *argo.Clientset
	dynamic   *dynamic.DynamicClient
	mapper    *restmapper.DeferredDiscoveryRESTMapper
	namespace string
}

func newArgoBench(t *testing.T) *argoBench {
	t.Helper()
	client, config := requireCluster(t)
	b := &argoBench{client: client, config: config,
		argo: argo.NewForConfigOrDie(config), dynamic: dynamic.NewForConfigOrDie(config),
		mapper:    restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(client.Discovery())),
		namespace: fmt.Sprintf("luban-argo-%d", time.Now().UnixNano())}
	ctx := context.Background()
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: b.namespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.CoreV1().Namespaces().Delete(context.Background(), b.namespace, metav1.DeleteOptions{}) })
	return b
}

// createNamespace makes another namespace for the test, deleted when it ends.
func (b *argoBench) createNamespace(t *testing.T, name string) {
	t.Helper()
	if _, err := b.client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{}) })
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
		b.createUnstructured(t, &object)
	}
}

// install installs the pipeline as a site does (siteInstall, `settings` changed in the example's
// config.env), the WorkflowTemplates as the node runs them (onNode).
func (b *argoBench) install(t *testing.T, settings map[string]string) {
	t.Helper()
	for _, content := range siteInstall(t, settings) {
		object := &unstructured.Unstructured{Object: content}
		if object.GetNamespace() != b.namespace {
			t.Fatalf("deploy/install put %s %s in %q, not the config's workflows-namespace", object.GetKind(), object.GetName(), object.GetNamespace())
		}
		if object.GetKind() == "WorkflowTemplate" {
			var template wfv1.WorkflowTemplate
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(content, &template); err != nil {
				t.Fatal(err)
			}
			b.createTyped(t, b.onNode(t, &template))
			continue
		}
		b.createUnstructured(t, object)
	}
}

// createUnstructured creates an object in its own namespace, or the bench's if it names none.
func (b *argoBench) createUnstructured(t *testing.T, object *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	gvk := object.GroupVersionKind()
	mapping, err := b.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		t.Fatalf("%s: %v", gvk, err)
	}
	namespace := object.GetNamespace()
	if namespace == "" {
		namespace = b.namespace
	}
	created, err := b.dynamic.Resource(mapping.Resource).Namespace(namespace).Create(context.Background(), object, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating %s %s: %v", gvk.Kind, object.GetName(), err)
	}
	return created
}

// hostPathVolume makes a PersistentVolume of `dir` reserved for the claim `claim` of the
// bench's namespace: the node has no storage provisioner (see provisionVolumes).
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

// provisionVolumes stands in for a storage provisioner while the test runs: each claim of the
// bench's namespace that no volume is reserved for (the workspace of each workflow, from its
// volumeClaimTemplates) gets a hostPath volume the steps' user may write.
func (b *argoBench) provisionVolumes(t *testing.T) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	provisioned := map[string]bool{}
	// Directories made here, not by t.TempDir: this goroutine may not call t.Fatal.
	root := workspace(t)
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			claims, _ := b.client.CoreV1().PersistentVolumeClaims(b.namespace).List(ctx, metav1.ListOptions{})
			for _, claim := range claims.Items {
				if provisioned[claim.Name] || claim.Spec.VolumeName != "" || claim.Name == "osv-database" {
					continue
				}
				dir := filepath.Join(root, claim.Name)
				if os.Mkdir(dir, 0o755) != nil || os.Chown(dir, 1001, 1000) != nil {
					continue
				}
				volume := &corev1.PersistentVolume{
					ObjectMeta: metav1.ObjectMeta{Name: b.namespace + "-" + claim.Name},
					Spec: corev1.PersistentVolumeSpec{
						Capacity:                      claim.Spec.Resources.Requests,
						AccessModes:                   claim.Spec.AccessModes,
						PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
						ClaimRef:                      &corev1.ObjectReference{Namespace: b.namespace, Name: claim.Name, UID: claim.UID},
						PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir}},
					},
				}
				if _, err := b.client.CoreV1().PersistentVolumes().Create(ctx, volume, metav1.CreateOptions{}); err == nil {
					provisioned[claim.Name] = true
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() {
		stop()
		<-done
		for claim := range provisioned {
			b.client.CoreV1().PersistentVolumes().Delete(context.Background(), b.namespace+"-"+claim, metav1.DeleteOptions{})
		}
	})
}

// gitServer serves the bare repositories under its root over Git's smart HTTP on 127.0.0.1,
// with git's own http-backend, as a forge would: anyone may fetch, pushing takes the user
// `luban` with `password` (repositories that accept pushes say so with http.receivepack).
// After each push it calls onPush, if set, for each ref the push moved (before the pusher is
// answered), as a forge sends its push webhooks; onPush runs on the server's goroutine.
func gitServer(t *testing.T, password string, onPush func(repository, ref, after string)) (string, string) {
	t.Helper()
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	root := workspace(t)
	backend := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	// A repository's refs and the commits they name.
	refs := func(repository string) map[string]string {
		out, _ := exec.Command("git", "-c", "safe.directory=*", "-C", filepath.Join(root, repository),
			"for-each-ref", "--format=%(refname) %(objectname)").Output()
		named := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if ref, commit, ok := strings.Cut(line, " "); ok {
				named[ref] = commit
			}
		}
		return named
	}
	server := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/git-receive-pack") || r.URL.Query().Get("service") == "git-receive-pack" {
			if user, pass, ok := r.BasicAuth(); !ok || user != "luban" || pass != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="luban"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		if onPush == nil || r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			backend.ServeHTTP(w, r)
			return
		}
		repository := strings.Trim(strings.TrimSuffix(r.URL.Path, "/git-receive-pack"), "/")
		before := refs(repository)
		backend.ServeHTTP(w, r)
		for ref, after := range refs(repository) {
			if before[ref] != after {
				onPush(repository, ref, after)
			}
		}
	}))
	// On the port the cluster relays into kpack's controller, which resolves sources itself
	// from a network namespace of its own (scripts/cluster.sh).
	listener, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("CLUSTER_GIT_PORT"))
	if err != nil {
		t.Fatalf("the Git server's port: %v", err)
	}
	server.Listener.Close()
	server.Listener = listener
	server.Start()
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
// deploy/gate), luban-rollout, luban-status, osv-scanner, gitleaks, cosign, kustomize and uv at
// the tests' versions: it stands in for alpine/git, the gate image, cosign's image and Argo
// CD's (git and kustomize), which this machine has no registry to pull from.
func stepToolsImage(t *testing.T) string {
	t.Helper()
	context := t.TempDir()
	buildGate(t, context)
	buildDeployProgram(t, "deploy/rollout", "luban-rollout", context)
	buildDeployProgram(t, "deploy/status", "luban-status", context)
	for _, tool := range []string{"osv-scanner", "gitleaks", "cosign", "kustomize", "uv"} {
		path := lookTool(t, tool)
		if out, err := exec.Command("cp", path, filepath.Join(context, tool)).CombinedOutput(); err != nil {
			t.Fatalf("cp %s: %v %s", path, err, out)
		}
	}
	return buildImage(t, context, fmt.Sprintf("FROM %s\nCOPY luban-osv-gate luban-rollout luban-status osv-scanner gitleaks cosign kustomize uv /usr/local/bin/\n", gitImage),
		"luban-test/step-tools")
}

// buildImage builds `containerfile` in `context` (which holds the files it copies) with the
// engine and pushes the image to the testbed registry as repo; it returns repo@digest.
func buildImage(t *testing.T, context, containerfile, repo string) string {
	t.Helper()
	writeFile(t, filepath.Join(context, "Containerfile"), containerfile)
	local := "localhost/" + repo + ":latest"
	docker := filepath.Join(repoRoot(t), "scripts/docker.sh")
	if out, err := exec.Command(docker, "build", "-q", "-t", local, "-f", filepath.Join(context, "Containerfile"), context).CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", local, err, out)
	}
	return pushImage(t, local, repo)
}

// createTyped creates a typed object (its TypeMeta set) like createUnstructured.
// Its zero status and creation time are left out.
func (b *argoBench) createTyped(t *testing.T, object any) *unstructured.Unstructured {
	t.Helper()
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(object)
	if err != nil {
		t.Fatal(err)
	}
	unstructured.RemoveNestedField(content, "status")
	unstructured.RemoveNestedField(content, "metadata", "creationTimestamp")
	return b.createUnstructured(t, &unstructured.Unstructured{Object: content})
}

// installEvents installs what a site installs for Argo Events: an event bus (the node's NATS
// server: the controller's own would be a StatefulSet behind ClusterIP Services), the apps'
// webhook Secret (`secrets`, by app) and the EventSource and Sensor luban-apps renders for
// `list` (the Sensor's account comes with the install, deploy/argo/events/sensor-rbac.yaml). The overlay: their pods are on
// the node's pod network, where in-cluster clients reach the API server at the gateway
// (KUBERNETES_SERVICE_HOST names the `kubernetes` Service's ClusterIP, which nothing routes).
// It waits for both pods and returns each app's webhook URL.
func (b *argoBench) installEvents(t *testing.T, list []apps.App, config apps.Config, secrets map[string]string) map[string]string {
	t.Helper()
	// The event bus asks for a user and password (cluster.sh made them): its accessSecret.
	natsAuth, err := os.ReadFile(os.Getenv("CLUSTER_NATS_AUTH"))
	if err != nil {
		t.Fatalf("the event bus's credentials (cluster.sh up makes them): %v", err)
	}
	for name, data := range map[string]map[string]string{
		apps.WebhookSecret: secrets,
		"eventbus-auth":    {"auth.yaml": string(natsAuth)},
	} {
		if _, err := b.client.CoreV1().Secrets(b.namespace).Create(context.Background(), &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name}, StringData: data,
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	b.createUnstructured(t, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "EventBus", "metadata": map[string]any{"name": "default"},
		"spec": map[string]any{"jetstreamExotic": map[string]any{
			"url": os.Getenv("CLUSTER_NATS_URL"), "streamConfig": "replicas: 1\nmaxAge: 1h\n",
			"accessSecret": map[string]any{"name": "eventbus-auth", "key": "auth.yaml"}}},
	}})
	apiServer, err := url.Parse(b.config.Host)
	if err != nil {
		t.Fatal(err)
	}
	port := apiServer.Port()
	onPodNetwork := func(template *eventsv1.Template) {
		if template == nil || template.Container == nil {
			t.Fatal("the EventSource and the Sensor should set their pods' container")
		}
		template.Container.Env = append(template.Container.Env,
			corev1.EnvVar{Name: "KUBERNETES_SERVICE_HOST", Value: os.Getenv("CLUSTER_POD_GATEWAY")},
			corev1.EnvVar{Name: "KUBERNETES_SERVICE_PORT", Value: port})
	}
	eventSource := apps.EventSource(list, config)
	onPodNetwork(eventSource.Spec.Template)
	b.createTyped(t, eventSource)
	sensor, err := apps.Sensor(list, config)
	if err != nil {
		t.Fatal(err)
	}
	onPodNetwork(sensor.Spec.Template)
	b.createTyped(t, sensor)
	eventSourcePod := b.waitReady(t, "eventsource-name="+eventSource.Name)
	b.waitReady(t, "sensor-name="+sensor.Name)
	b.waitSubscribed(t)
	urls := map[string]string{}
	for _, app := range list {
		webhook := eventSource.Spec.Github[app.Metadata.Name].Webhook
		urls[app.Metadata.Name] = fmt.Sprintf("http://%s:%s%s", eventSourcePod.Status.PodIP, webhook.Port, webhook.Endpoint)
	}
	return urls
}

// waitSubscribed waits until the Sensor has subscribed to the event bus (the node's NATS server):
// its pod is Ready as soon as it starts, and a delivery before its durable consumer exists
// would not reach it (the consumer starts with new messages). When the test ends the stream
// goes, with the consumer, so that another run's Sensor starts clean.
func (b *argoBench) waitSubscribed(t *testing.T) {
	t.Helper()
	roots := x509.NewCertPool()
	// The cluster's CA also signed the event bus's certificate.
	roots.AppendCertsFromPEM(b.config.CAData)
	secure := nats.Secure(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
	// Without the user and password the bus refuses a client: anyone on the pod network could
	// otherwise publish push events past the webhook's signature check.
	if anonymous, err := nats.Connect(os.Getenv("CLUSTER_NATS_URL"), secure); err == nil {
		anonymous.Close()
		t.Fatal("the event bus accepted a client without credentials")
	}
	var auth struct{ Username, Password string }
	raw, err := os.ReadFile(os.Getenv("CLUSTER_NATS_AUTH"))
	if err != nil || yaml.Unmarshal(raw, &auth) != nil || auth.Password == "" {
		t.Fatalf("the event bus's credentials: %v", err)
	}
	connection, err := nats.Connect(os.Getenv("CLUSTER_NATS_URL"), secure, nats.UserInfo(auth.Username, auth.Password))
	if err != nil {
		t.Fatalf("connecting to the event bus: %v", err)
	}
	stream, err := connection.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stream.DeleteStream("default")
		connection.Close()
	})
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if info, err := stream.StreamInfo("default"); err == nil && info.State.Consumers > 0 {
			return
		}
	}
	t.Fatalf("the Sensor did not subscribe to the event bus in a minute:\n%s", namespaceReport(b.client, b.namespace))
}

// waitReady waits for a ready pod matching `selector` in the bench's namespace and returns it.
func (b *argoBench) waitReady(t *testing.T, selector string) *corev1.Pod {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		pods, err := b.client.CoreV1().Pods(b.namespace).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			t.Fatal(err)
		}
		for _, pod := range pods.Items {
			for _, condition := range pod.Status.Conditions {
				if condition.Type == corev1.PodReady && condition.Status == corev1.ConditionTrue {
					return &pod
				}
			}
		}
	}
	t.Fatalf("no ready pod %s after 3 minutes:\n%s", selector, namespaceReport(b.client, b.namespace))
	return nil
}

// deliver sends `payload` as GitHub delivers a push event, signed with `secret`
// (X-Hub-Signature-256), and returns the HTTP status.
func deliver(url string, payload []byte, secret string) (int, error) {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(payload)
	request, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return 0, err
	}
	request.Header.Set("Content-Type", "application/json")
	request.Header.Set("X-GitHub-Event", "push")
	request.Header.Set("X-GitHub-Delivery", fmt.Sprintf("luban-%d", time.Now().UnixNano()))
	request.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		return 0, err
	}
	response.Body.Close()
	return response.StatusCode, nil
}

// nextWorkflow waits for a Workflow the bench hasn't seen to appear and returns its name.
func (b *argoBench) nextWorkflow(t *testing.T, seen map[string]bool) string {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		workflows, err := b.argo.ArgoprojV1alpha1().Workflows(b.namespace).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, workflow := range workflows.Items {
			if !seen[workflow.Name] {
				seen[workflow.Name] = true
				return workflow.Name
			}
		}
	}
	report := namespaceReport(b.client, b.namespace)
	if pods, err := b.client.CoreV1().Pods(b.namespace).List(context.Background(), metav1.ListOptions{LabelSelector: "sensor-name"}); err == nil {
		for i := range pods.Items {
			log := strings.Split(strings.TrimSpace(containerLog(&pods.Items[i], "main")), "\n")
			report += fmt.Sprintf("\nthe Sensor's log (%s), its end:\n%s", pods.Items[i].Name, strings.Join(log[max(0, len(log)-30):], "\n"))
		}
	}
	t.Fatalf("the Sensor submitted no Workflow in 2 minutes:\n%s", report)
	return ""
}

// waitWorkflow waits for the Workflow `name` to end and prints how long it and each step took.
func (b *argoBench) waitWorkflow(t *testing.T, name string) *wfv1.Workflow {
	t.Helper()
	ctx := context.Background()
	workflows := b.argo.ArgoprojV1alpha1().Workflows(b.namespace)
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		current, err := workflows.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if current.Status.Phase.Completed() {
			took := current.Status.FinishedAt.Sub(current.CreationTimestamp.Time).Round(time.Second)
			t.Logf("workflow %s: %s in %s%s", name, current.Status.Phase, took, stepTimes(current))
			return current
		}
	}
	t.Fatalf("workflow %s did not end in 5 minutes:\n%s", name, namespaceReport(b.client, b.namespace))
	return nil
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
			if pod.Annotations["workflows.argoproj.io/node-id"] == node.ID {
				return containerLog(&pod, "main")
			}
		}
	}
	t.Fatalf("workflow %s has no step %q with a pod", workflow.Name, step)
	return ""
}

// containerLog is what a container of a pod on the node wrote, from the kubelet's files (the
// node has no address, so the API server can't fetch logs).
func containerLog(pod *corev1.Pod, container string) string {
	logs, _ := filepath.Glob(filepath.Join("/var/log/pods", fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID), container, "*.log"))
	var out strings.Builder
	for _, file := range logs {
		raw, _ := os.ReadFile(file)
		out.Write(raw)
	}
	return out.String()
}

// failedStepLog names the workflow's failed steps, with the log of each.
func (b *argoBench) failedStepLog(t *testing.T, workflow *wfv1.Workflow) string {
	t.Helper()
	var out strings.Builder
	for _, node := range workflow.Status.Nodes {
		if node.Type == wfv1.NodeTypePod && node.Phase != wfv1.NodeSucceeded {
			fmt.Fprintf(&out, "step %s (%s, %s):\n%s\n", node.DisplayName, node.Phase, node.Message, b.stepLog(t, workflow, node.DisplayName))
		}
	}
	return out.String()
}

// deployResult is what the workflow's deploy step (luban-gitops' update-digest) did: deployed,
// unchanged or superseded.
func deployResult(workflow *wfv1.Workflow) string {
	for _, node := range workflow.Status.Nodes {
		if node.DisplayName == "deploy" {
			if result := nodeOutput(node, "result"); result != "" {
				return result
			}
		}
	}
	return ""
}

func outputDigest(workflow *wfv1.Workflow) string {
	return nodeOutput(workflow.Status.Nodes[workflow.Name], "digest")
}

// nodeOutput is a node's output parameter `name`, or empty.
func nodeOutput(node wfv1.NodeStatus, name string) string {
	if node.Outputs != nil {
		for _, parameter := range node.Outputs.Parameters {
			if parameter.Name == name && parameter.Value != nil {
				return parameter.Value.String()
			}
		}
	}
	return ""
}

// ask is one request to the app on 127.0.0.1:port: its status and body.
func ask(client *http.Client, port int) (int, string, error) {
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw), nil
}

// answer is what the app on the host network answers on `port`, waiting for it to listen.
func answer(t *testing.T, port int) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if status, body, err := ask(http.DefaultClient, port); err == nil && status == http.StatusOK {
			return body
		}
	}
	t.Fatalf("nothing answered on 127.0.0.1:%d", port)
	return ""
}

// requestLoop asks 127.0.0.1:port every 100 ms, from now until `stop` (at most 1800 requests,
// 3 minutes), and expects each answer to be HTTP 200 with `want` in its body. `stop` returns
// how many were answered that way and what went wrong with the others; `served` then checks
// that one more request is answered.
func requestLoop(t *testing.T, port int, want string) (stop func() (int, []string), served func()) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	check := func() error {
		status, body, err := ask(client, port)
		if err != nil {
			return err
		}
		if status != http.StatusOK || !strings.Contains(body, want) {
			return fmt.Errorf("HTTP %d %q", status, body)
		}
		return nil
	}
	done := make(chan struct{})
	var answered int
	var failures []string
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		deadline := time.Now().Add(3 * time.Minute)
		for i := 0; i < 1800 && time.Now().Before(deadline); i++ {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if err := check(); err != nil {
				failures = append(failures, fmt.Sprintf("%s: %v", time.Now().Format("15:04:05.0"), err))
			} else {
				answered++
			}
		}
	}()
	stop = func() (int, []string) {
		close(done)
		<-finished
		return answered, failures
	}
	served = func() {
		if err := check(); err != nil {
			t.Errorf("after the rollback: %v", err)
		}
	}
	return stop, served
}

// onNode is a WorkflowTemplate as the node runs it: the steps that talk to the API server (the
// preflight, the rollout check, the commit statuses) reach it on 127.0.0.1, as the executor does (workflow
// pods use the host's network; nothing routes the `kubernetes` Service's ClusterIP here).
func (b *argoBench) onNode(t *testing.T, template *wfv1.WorkflowTemplate) *wfv1.WorkflowTemplate {
	t.Helper()
	apiServer, err := url.Parse(b.config.Host)
	if err != nil {
		t.Fatal(err)
	}
	for i := range template.Spec.Templates {
		if c := template.Spec.Templates[i].Container; slices.Contains([]string{"rollout", "preflight", "staged", "commit-status"}, template.Spec.Templates[i].Name) && c != nil {
			c.Env = append(c.Env, corev1.EnvVar{Name: "KUBERNETES_SERVICE_HOST", Value: "127.0.0.1"},
				corev1.EnvVar{Name: "KUBERNETES_SERVICE_PORT", Value: apiServer.Port()})
		}
	}
	return template
}

// createApps makes what luban-apps renders for `app`'s environments in Argo CD's namespace (its
// AppProject and Applications) and in each environment's namespace (the Roles of the deploy's
// preflight and rollout check), deleted again when the test ends. Not its Namespaces: here the
// workflows run in the staging environment's namespace (with the host's network, which Pod
// Security "restricted" refuses), and the test made the others.
func (b *argoBench) createApps(t *testing.T, app apps.App, config apps.Config) {
	t.Helper()
	for _, object := range apps.Deploy(app, config) {
		if _, ok := object.(*corev1.Namespace); ok {
			continue
		}
		created := b.createTyped(t, object)
		mapping, err := b.mapper.RESTMapping(created.GroupVersionKind().GroupKind(), created.GroupVersionKind().Version)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			b.dynamic.Resource(mapping.Resource).Namespace(created.GetNamespace()).Delete(context.Background(), created.GetName(), metav1.DeleteOptions{})
		})
	}
}

// nodeApp is an app file of the node's tests: its repository on the forge, its image in the
// testbed registry, its environments (the GitOps repository's paths and the namespaces that
// stand for its own), and the build env that points uv at the testbed's Python mirror.
func nodeApp(name string, f *forge, repository, image string, environments ...apps.Environment) apps.App {
	return apps.App{APIVersion: apps.APIVersion, Kind: apps.Kind, Metadata: apps.Metadata{Name: name}, Spec: apps.Spec{
		Repository: repository, CloneURL: f.cloneURL(repository), Image: image, Environments: environments,
		Build: apps.Build{Env: map[string]string{"UV_PYTHON_DOWNLOADS_JSON_URL": mirrorURL + "/python/downloads.json"}},
	}}
}

// nodeConfig is the site config of the node's tests: the GitOps repository on the forge, and
// the bench's namespace for the workflows.
func (b *argoBench) nodeConfig(gitopsRepo string) apps.Config {
	return apps.Config{GitOpsRepo: gitopsRepo, GitOpsBranch: "main", WorkflowsNamespace: b.namespace, ArgoCDNamespace: "argocd"}
}

// waitSynced waits for Argo CD's Application `application` to be synced to the GitOps commit
// `revision` and healthy.
func (b *argoBench) waitSynced(t *testing.T, application, revision string) {
	t.Helper()
	applications := b.dynamic.Resource(cdv1.SchemeGroupVersion.WithResource("applications")).Namespace("argocd")
	var last string
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		app, err := applications.Get(context.Background(), application, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sync, _, _ := unstructured.NestedString(app.Object, "status", "sync", "status")
		synced, _, _ := unstructured.NestedString(app.Object, "status", "sync", "revision")
		health, _, _ := unstructured.NestedString(app.Object, "status", "health", "status")
		conditions, _, _ := unstructured.NestedSlice(app.Object, "status", "conditions")
		last = fmt.Sprintf("sync %s at %s, health %s, conditions %v", sync, synced, health, conditions)
		if sync == "Synced" && synced == revision && health == "Healthy" {
			return
		}
	}
	t.Fatalf("Argo CD did not sync %s in 2 minutes: %s\n%s", revision, last, namespaceReport(b.client, b.namespace))
}

// appPods are the names of the sample app's pods, sorted.
func (b *argoBench) appPods(t *testing.T) []string {
	t.Helper()
	pods, err := b.client.CoreV1().Pods(b.namespace).List(context.Background(), metav1.ListOptions{LabelSelector: "app=sample-app"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, pod := range pods.Items {
		names = append(names, pod.Name)
	}
	slices.Sort(names)
	return names
}

// waitRunning waits until the sample app's one ready pod in `namespace` runs `digest`.
func (b *argoBench) waitRunning(t *testing.T, namespace, digest string) {
	t.Helper()
	waitAvailable(t, b.client, namespace, "sample-app", 3*time.Minute)
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		pods, err := b.client.CoreV1().Pods(namespace).List(context.Background(), metav1.ListOptions{LabelSelector: "app=sample-app"})
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
