package tests

// kpack on the node: its controller (scripts/cluster.sh runs it, at the version go.mod requires)
// resolves deploy/kpack's ClusterStore, ClusterStack and ClusterBuilder and makes the builder
// from our buildpack package, the stack images and the lifecycle the builder pins. What it
// shows: the kpack version kpack.yaml names accepts the buildpacks (Buildpack API 0.10) and
// builds a builder whose order, buildpacks and stack are ours. Overlays: the package, stack
// images and builder tag in the testbed registry, and the bookworm twin's stack id (its images
// carry it).

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	kpackv1 "github.com/pivotal/kpack/pkg/apis/build/v1alpha2"
	corev1alpha1 "github.com/pivotal/kpack/pkg/apis/core/v1alpha1"
	kpack "github.com/pivotal/kpack/pkg/client/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// pushPackage pushes the buildpack package the testbed made (target/luban_python.cnb, an OCI
// layout in a tar) to the testbed registry as repo:tag and returns repo@digest.
func pushPackage(t *testing.T, repo, tag string) string {
	t.Helper()
	archive, err := os.Open(filepath.Join(repoRoot(t), "target/luban_python.cnb"))
	if err != nil {
		t.Fatalf("the buildpack package (made by make test's testbed stage, scripts/package-buildpacks.sh): %v", err)
	}
	defer archive.Close()
	dir := t.TempDir()
	entries := tar.NewReader(archive)
	for {
		header, err := entries.Next()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, filepath.Clean("/"+header.Name))
		switch header.Typeflag {
		case tar.TypeDir:
			os.MkdirAll(path, 0o755)
		case tar.TypeReg:
			os.MkdirAll(filepath.Dir(path), 0o755)
			file, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(file, entries); err != nil {
				t.Fatal(err)
			}
			file.Close()
		}
	}
	index, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := index.IndexManifest()
	if err != nil || len(manifest.Manifests) != 1 {
		t.Fatalf("the package should hold one image: %v %v", manifest, err)
	}
	image, err := index.Image(manifest.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(registry + "/" + repo + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, image, remote.WithTransport(registryClient(registryCA(t)).Transport)); err != nil {
		t.Fatal(err)
	}
	digest, err := image.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return registry + "/" + repo + "@" + digest.String()
}

// kpackDocument decodes deploy/kpack/kpack.yaml's one document of `kind` strictly into `into`.
func kpackDocument(t *testing.T, kind string, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(documents(t, filepath.Join(repoRoot(t), "deploy/kpack/kpack.yaml"), kind)[0], into); err != nil {
		t.Fatal(err)
	}
}

func TestE2EClusterKpackMakesTheBuilderFromOurPackageAndStack(t *testing.T) {
	b := newArgoBench(t)
	ctx := context.Background()
	config, err := clientcmd.BuildConfigFromFlags("", os.Getenv("CLUSTER_KUBECONFIG"))
	if err != nil {
		t.Fatal(err)
	}
	client := kpack.NewForConfigOrDie(config).KpackV1alpha2()

	// The store's package, the stack's images and the builder's tag in the testbed registry.
	buildpacks := pushPackage(t, "luban-test/buildpacks/python", "0.1.0")
	buildImage := pushImage(t, os.Getenv("BUILD_IMAGE"), "luban-test/build")
	runImage := pushImage(t, os.Getenv("RUN_IMAGE"), "luban-test/run")
	var store kpackv1.ClusterStore
	kpackDocument(t, "ClusterStore", &store)
	store.Spec.Sources = []corev1alpha1.ImageSource{{Image: buildpacks}}
	var stack kpackv1.ClusterStack
	kpackDocument(t, "ClusterStack", &stack)
	stack.Spec.Id = "io.luban.stacks.bookworm"
	stack.Spec.BuildImage.Image, stack.Spec.RunImage.Image = buildImage, runImage
	var builder kpackv1.ClusterBuilder
	kpackDocument(t, "ClusterBuilder", &builder)
	builder.Spec.Tag = registry + "/luban-test/kpack-builder"
	var account corev1.ServiceAccount
	kpackDocument(t, "ServiceAccount", &account)
	if builder.Spec.ServiceAccountRef.Name != account.Name || builder.Spec.ServiceAccountRef.Namespace != account.Namespace {
		t.Fatalf("the ClusterBuilder's service account %v is not kpack.yaml's %s/%s", builder.Spec.ServiceAccountRef, account.Namespace, account.Name)
	}
	// kpack's webhook would default them (it isn't on the node): kpack's own defaulting.
	store.SetDefaults(ctx)
	stack.SetDefaults(ctx)
	builder.SetDefaults(ctx)

	// The registry credentials the service account names (the testbed registry needs no login).
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: account.Secrets[0].Name, Namespace: account.Namespace},
		Type: corev1.SecretTypeDockerConfigJson, StringData: map[string]string{".dockerconfigjson": `{"auths":{}}`}}
	cleanup := func() {
		client.ClusterBuilders().Delete(context.Background(), builder.Name, metav1.DeleteOptions{})
		client.ClusterStacks().Delete(context.Background(), stack.Name, metav1.DeleteOptions{})
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
	if _, err := client.ClusterStacks().Create(ctx, &stack, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.ClusterBuilders().Create(ctx, &builder, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	var made *kpackv1.ClusterBuilder
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		current, err := client.ClusterBuilders().Get(ctx, builder.Name, metav1.GetOptions{})
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
		current, _ := client.ClusterBuilders().Get(ctx, builder.Name, metav1.GetOptions{})
		stores, _ := client.ClusterStores().Get(ctx, store.Name, metav1.GetOptions{})
		stacks, _ := client.ClusterStacks().Get(ctx, stack.Name, metav1.GetOptions{})
		t.Fatalf("the ClusterBuilder is not ready after 2 minutes:\nbuilder %+v\nstore %+v\nstack %+v", current.Status.Conditions, stores.Status.Conditions, stacks.Status.Conditions)
	}
	t.Logf("ClusterBuilder ready in %s: %s", time.Since(started).Round(100*time.Millisecond), made.Status.LatestImage)

	// The builder is in the registry, with our order, buildpacks, stack and lifecycle.
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
	if made.Status.Stack.ID != stack.Spec.Id || !strings.HasPrefix(made.Status.Stack.RunImage, builder.Spec.Tag+":") {
		t.Errorf("the builder's stack is %+v", made.Status.Stack)
	}
	var pinned builderConfig
	decodeTOML(t, filepath.Join(repoRoot(t), "builder.toml"), &pinned)
	if got := made.Status.Lifecycle.Version; got != pinned.Lifecycle.Version {
		t.Errorf("the builder has lifecycle %s, builder.toml pins %s", got, pinned.Lifecycle.Version)
	}
}
