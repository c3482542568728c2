package tests

// The site of the node's kpack test (kpack_cluster_e2e_test.go) and its moves: kpack's
// ClusterStore, ClusterStack and ClusterBuilder made from deploy/kpack's manifests, the Image
// built, and what each must show.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kpackv1 "github.com/pivotal/kpack/pkg/apis/build/v1alpha2"
	corev1alpha1 "github.com/pivotal/kpack/pkg/apis/core/v1alpha1"
	kpackclient "github.com/pivotal/kpack/pkg/client/clientset/versioned/typed/build/v1alpha2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kpackSite is the node with kpack's client, and what the steps hand on.
type kpackSite struct {
	b       *argoBench
	client  kpackclient.KpackV1alpha2Interface
	stack   kpackv1.ClusterStack
	builder kpackv1.ClusterBuilder
	// The Image's service binding, whose password must stay out of the build's log.
	binding         corev1.Secret
	bindingPassword string
}

// clusterBuilder makes deploy/kpack's ClusterStore, ClusterStack and ClusterBuilder (with the
// testbed's images) and waits until kpack has made the builder.
func (k *kpackSite) clusterBuilder(t *testing.T) *kpackv1.ClusterBuilder {
	t.Helper()
	b, client, ctx := k.b, k.client, context.Background()
	// The store's package, the stack's images and the builder's tag in the testbed registry.
	buildpacks := pushPackage(t, "luban-test/buildpacks/python", "0.1.0")
	buildImage := imageWithCAs(t, os.Getenv("BUILD_IMAGE"), "luban-test/build-with-cas")
	runImage := pushImage(t, os.Getenv("RUN_IMAGE"), "luban-test/run")
	var store kpackv1.ClusterStore
	decodeDocument(t, kpackManifest, "ClusterStore", &store)
	store.Spec.Sources = []corev1alpha1.ImageSource{{Image: buildpacks}}
	decodeDocument(t, kpackManifest, "ClusterStack", &k.stack)
	k.stack.Spec.Id = "io.luban.stacks.bookworm"
	k.stack.Spec.BuildImage.Image, k.stack.Spec.RunImage.Image = buildImage, runImage
	decodeDocument(t, kpackManifest, "ClusterBuilder", &k.builder)
	k.builder.Spec.Tag = registry + "/luban-test/kpack-builder"
	var account corev1.ServiceAccount
	decodeDocument(t, kpackManifest, "ServiceAccount", &account)
	if k.builder.Spec.ServiceAccountRef.Name != account.Name || k.builder.Spec.ServiceAccountRef.Namespace != account.Namespace {
		t.Fatalf("the ClusterBuilder's service account %v is not kpack.yaml's %s/%s", k.builder.Spec.ServiceAccountRef, account.Namespace, account.Name)
	}
	// kpack's webhook would default them (it isn't on the node): kpack's own defaulting.
	store.SetDefaults(ctx)
	k.stack.SetDefaults(ctx)
	k.builder.SetDefaults(ctx)

	// The registry credentials the service account names (the testbed registry needs no login).
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: account.Secrets[0].Name, Namespace: account.Namespace},
		Type: corev1.SecretTypeDockerConfigJson, StringData: map[string]string{".dockerconfigjson": `{"auths":{}}`}}
	cleanup := func() {
		client.ClusterBuilders().Delete(context.Background(), k.builder.Name, metav1.DeleteOptions{})
		client.ClusterStacks().Delete(context.Background(), k.stack.Name, metav1.DeleteOptions{})
		client.ClusterStores().Delete(context.Background(), store.Name, metav1.DeleteOptions{})
		b.client.CoreV1().ServiceAccounts(account.Namespace).Delete(context.Background(), account.Name, metav1.DeleteOptions{})
		b.client.CoreV1().Secrets(account.Namespace).Delete(context.Background(), secret.Name, metav1.DeleteOptions{})
	}
	cleanup()
	t.Cleanup(cleanup)
	if _, err := b.client.CoreV1().Secrets(account.Namespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.CoreV1().ServiceAccounts(account.Namespace).Create(ctx, &account, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	if _, err := client.ClusterStores().Create(ctx, &store, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.ClusterStacks().Create(ctx, &k.stack, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.ClusterBuilders().Create(ctx, &k.builder, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	var made *kpackv1.ClusterBuilder
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		current, err := client.ClusterBuilders().Get(ctx, k.builder.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		if ready := current.Status.GetCondition(corev1alpha1.ConditionReady); ready != nil && ready.IsTrue() {
			made = current
			break
		}
	}
	if made == nil {
		current, _ := client.ClusterBuilders().Get(ctx, k.builder.Name, metav1.GetOptions{})
		stores, _ := client.ClusterStores().Get(ctx, store.Name, metav1.GetOptions{})
		stacks, _ := client.ClusterStacks().Get(ctx, k.stack.Name, metav1.GetOptions{})
		t.Fatalf("the ClusterBuilder is not ready after 2 minutes:\nbuilder %+v\nstore %+v\nstack %+v", current.Status.Conditions, stores.Status.Conditions, stacks.Status.Conditions)
	}
	t.Logf("ClusterBuilder ready in %s: %s", time.Since(started).Round(100*time.Millisecond), made.Status.LatestImage)

	return made
}

// builderIsOurs: the builder is in the registry, with our order, buildpacks, stack and lifecycle.
func (k *kpackSite) builderIsOurs(t *testing.T, made *kpackv1.ClusterBuilder) {
	t.Helper()
	tag := strings.TrimPrefix(made.Status.LatestImage[:strings.Index(made.Status.LatestImage, "@")], registry+"/")
	repo, reference, _ := strings.Cut(tag, ":")
	if digest := registryDigest(t, registryCA(t), repo, reference); digest == "" || !strings.HasSuffix(made.Status.LatestImage, "@"+digest) {
		t.Errorf("the registry has %s:%s at %q, kpack reports %s", repo, reference, digest, made.Status.LatestImage)
	}
	var composite buildpackDescriptor
	decodeTOML(t, filepath.Join(repoRoot(t), "buildpacks/python/buildpack.toml"), &composite)
	want := []corev1alpha1.BuildpackMetadata{{Id: composite.Buildpack.ID, Version: composite.Buildpack.Version}}
	for _, member := range composite.Order[0].Group {
		want = append(want, corev1alpha1.BuildpackMetadata{Id: member.ID, Version: member.Version})
	}
	for _, buildpack := range want {
		if !made.Status.BuilderMetadata.Include(buildpack) {
			t.Errorf("the builder lacks %s@%s: %+v", buildpack.Id, buildpack.Version, made.Status.BuilderMetadata)
		}
	}
	if len(made.Status.Order) != 1 || len(made.Status.Order[0].Group) != 1 || made.Status.Order[0].Group[0].Id != composite.Buildpack.ID {
		t.Errorf("the builder's order is %+v, kpack.yaml's is %s", made.Status.Order, composite.Buildpack.ID)
	}
	// kpack copies the run image next to the builder.
	if made.Status.Stack.ID != k.stack.Spec.Id || !strings.HasPrefix(made.Status.Stack.RunImage, k.builder.Spec.Tag+":") {
		t.Errorf("the builder's stack is %+v", made.Status.Stack)
	}
	var pinned builderConfig
	decodeTOML(t, filepath.Join(repoRoot(t), "builder.toml"), &pinned)
	if got := made.Status.Lifecycle.Version; got != pinned.Lifecycle.Version {
		t.Errorf("the builder has lifecycle %s, builder.toml pins %s", got, pinned.Lifecycle.Version)
	}
}

// image builds deploy/kpack's Image of the app, from a Git server on 127.0.0.1, and waits until
// it is ready.
func (k *kpackSite) image(t *testing.T) *kpackv1.Image {
	t.Helper()
	b, client, ctx := k.b, k.client, context.Background()
	// The app's repository on a Git server on 127.0.0.1, and what the Image's namespace holds:
	// its service account with the registry credentials and the cosign key pair kpack signs with.
	url, gitRoot := gitServer(t, "unused", nil)
	app := gitRepo(t, "test-fixtures/web_flask", "the app")
	git(t, gitRoot, "clone", "-q", "--bare", app, "app.git")
	// As forges do, a fetch may ask for any commit reachable from a branch (kpack fetches the one
	// it resolved).
	git(t, filepath.Join(gitRoot, "app.git"), "config", "uploadpack.allowReachableSHA1InWant", "true")
	keys := t.TempDir()
	cosignKeyPair(t, keys, "luban-e2e-cosign-password")
	cosignKey, err := os.ReadFile(filepath.Join(keys, "cosign.key"))
	if err != nil {
		t.Fatal(err)
	}
	var image kpackv1.Image
	decodeDocument(t, kpackManifest, "Image", &image)
	var appAccount corev1.ServiceAccount
	for _, doc := range documents(t, filepath.Join(repoRoot(t), kpackManifest), "ServiceAccount") {
		decodeYAML(t, doc, &appAccount)
		if appAccount.Name == image.Spec.ServiceAccountName {
			break
		}
	}
	appAccount.Namespace, image.Namespace = b.namespace, b.namespace
	// The signing Secret the account lists: kpack's own key, not the gated workflow's.
	signingSecret := ""
	for _, ref := range appAccount.Secrets {
		if ref.Name != "registry-credentials" {
			signingSecret = ref.Name
		}
	}
	if signingSecret != "luban-kpack-cosign" {
		t.Fatalf("%s's %s should list luban-kpack-cosign (kpack builds are not gated), lists %v", kpackManifest, appAccount.Name, appAccount.Secrets)
	}
	for _, secret := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Name: "registry-credentials"}, Type: corev1.SecretTypeDockerConfigJson,
			StringData: map[string]string{".dockerconfigjson": `{"auths":{}}`}},
		{ObjectMeta: metav1.ObjectMeta{Name: signingSecret},
			StringData: map[string]string{"cosign.key": string(cosignKey), "cosign.password": "luban-e2e-cosign-password"}},
	} {
		if _, err := b.client.CoreV1().Secrets(b.namespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// The Image's service binding: kpack.yaml's Secret, with a password of the test's.
	if len(image.Spec.Build.Services) != 1 || image.Spec.Build.Services[0].Kind != "Secret" {
		t.Fatalf("%s's Image should bind one Secret of private-index credentials, binds %v", kpackManifest, image.Spec.Build.Services)
	}
	for _, doc := range documents(t, filepath.Join(repoRoot(t), kpackManifest), "Secret") {
		decodeYAML(t, doc, &k.binding)
		if k.binding.Name == image.Spec.Build.Services[0].Name {
			break
		}
	}
	if k.binding.Name != image.Spec.Build.Services[0].Name || k.binding.StringData["type"] != "uv-index" {
		t.Fatalf("%s should hold the Secret %s of type uv-index", kpackManifest, image.Spec.Build.Services[0].Name)
	}
	k.bindingPassword = "kpack-binding-pw-4f9c2e"
	k.binding.Namespace, k.binding.StringData["password"] = b.namespace, k.bindingPassword
	if _, err := b.client.CoreV1().Secrets(b.namespace).Create(ctx, &k.binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.CoreV1().ServiceAccounts(b.namespace).Create(ctx, &appAccount, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b.hostNetworkWebhook(t, kpackv1.BuildLabel)
	image.Spec.Tag = registry + "/luban-test/kpack-app"
	image.Spec.Source.Git.URL = url + "/app.git"
	// The Python mirror, and uv told to use the build image's CAs (this network's proxy's among
	// them, as a company's would be; uv's own roots are the public ones).
	image.Spec.Build.Env = append(image.Spec.Build.Env,
		corev1.EnvVar{Name: "UV_PYTHON_DOWNLOADS_JSON_URL", Value: mirrorURL + "/python/downloads.json"},
		corev1.EnvVar{Name: "SSL_CERT_FILE", Value: "/etc/ssl/certs/ca-certificates.crt"})
	image.SetDefaults(ctx)
	forgetImage(t, registryCA(t), "luban-test/kpack-app", "latest")
	started := time.Now()
	if _, err := client.Images(b.namespace).Create(ctx, &image, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var built *kpackv1.Image
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline) && built == nil; time.Sleep(2 * time.Second) {
		current, err := client.Images(b.namespace).Get(ctx, image.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ready := current.Status.GetCondition(corev1alpha1.ConditionReady); ready != nil && ready.IsTrue() {
			built = current
		} else if ready != nil && ready.IsFalse() && current.Status.BuildCounter > 0 {
			builds, _ := client.Builds(b.namespace).List(ctx, metav1.ListOptions{})
			for _, build := range builds.Items {
				if condition := build.Status.GetCondition(corev1alpha1.ConditionSucceeded); condition != nil && condition.IsFalse() {
					t.Fatalf("the kpack build failed: %s\n%s", condition.Message, namespaceReport(b.client, b.namespace))
				}
			}
		}
	}
	if built == nil {
		t.Fatalf("the Image is not ready after 5 minutes:\n%s", namespaceReport(b.client, b.namespace))
	}
	t.Logf("Image built in %s: %s", time.Since(started).Round(100*time.Millisecond), built.Status.LatestImage)

	return built
}

// signedAndBoundWithoutLeaks: kpack signed the image with the service account's cosign key
// (docs/kpack.md), and its build read the service binding without printing its password.
func (k *kpackSite) signedAndBoundWithoutLeaks(t *testing.T, built *kpackv1.Image) {
	t.Helper()
	b, ctx := k.b, context.Background()
	digest := built.Status.LatestImage[strings.LastIndex(built.Status.LatestImage, "@")+1:]
	if registryDigest(t, registryCA(t), "luban-test/kpack-app", strings.Replace(digest, ":", "-", 1)+".sig") == "" {
		t.Errorf("kpack pushed no cosign signature for %s", digest)
	}
	// kpack builds in a volume it owns (mode 2777), whose mode the build user can't change: the
	// build says so, and goes on with the app's files read-only.
	pods, err := b.client.CoreV1().Pods(b.namespace).List(ctx, metav1.ListOptions{LabelSelector: kpackv1.BuildLabel})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("one build pod expected: %v", err)
	}
	buildLog := containerLog(&pods.Items[0], "build")
	if !strings.Contains(buildLog, "`/workspace` itself belongs to the platform") {
		t.Errorf("the build should say that kpack's /workspace stays writable:\n%s", buildLog)
	}
	// kpack mounted the binding where luban/python-uv reads it, and its password stayed out of
	// the log.
	wantBinding := fmt.Sprintf("Credentials for index `%s` from service binding `%s` (type `uv-index`)", k.binding.StringData["name"], k.binding.Name)
	if !strings.Contains(buildLog, wantBinding) || strings.Contains(buildLog, k.bindingPassword) {
		t.Errorf("the build should read the service binding (%q) and never print its password:\n%s", wantBinding, buildLog)
	}

}

// runs: the image runs on the node and answers as the app, as uid 1002.
func (k *kpackSite) runs(t *testing.T, built *kpackv1.Image) {
	t.Helper()
	b, ctx := k.b, context.Background()
	port := freePort(t)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "kpack-app", Labels: map[string]string{"app": "kpack-app"}},
		Spec: corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{{
			Name: "app", Image: built.Status.LatestImage, Env: []corev1.EnvVar{{Name: "PORT", Value: fmt.Sprint(port)}},
		}}},
	}
	if _, err := b.client.CoreV1().Pods(b.namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b.waitReady(t, "app=kpack-app")
	if body := answer(t, port); !strings.Contains(body, "Hello from Luban") || !strings.Contains(body, `"uid":1002`) {
		t.Fatalf("the app kpack built should answer as uid 1002, answered %q", body)
	}
}
