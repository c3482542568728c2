package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// The kpack manifests name exactly the buildpack ids and versions, stack id and images that
// builder.toml, package.toml, the buildpacks and the stack images declare.
func TestKpackManifestsMatchTheBuilderPackageAndStack(t *testing.T) {
	root := repoRoot(t)
	kpack := filepath.Join(root, "deploy/kpack/kpack.yaml")

	var builder builderConfig
	decodeTOML(t, filepath.Join(root, "builder.toml"), &builder)
	var composite buildpackDescriptor
	decodeTOML(t, filepath.Join(root, "buildpacks/python/buildpack.toml"), &composite)

	var stack struct {
		Spec struct {
			ID         string
			BuildImage struct{ Image string }
			RunImage   struct{ Image string }
		}
	}
	decodeYAML(t, documents(t, kpack, "ClusterStack")[0], &stack)
	if stack.Spec.ID != builder.Stack.ID {
		t.Errorf("ClusterStack id %q, builder.toml stack id %q", stack.Spec.ID, builder.Stack.ID)
	}
	if stack.Spec.BuildImage.Image != builder.Build.Image || stack.Spec.RunImage.Image != builder.Run.Images[0].Image {
		t.Errorf("ClusterStack images %q/%q, builder.toml %q/%q", stack.Spec.BuildImage.Image,
			stack.Spec.RunImage.Image, builder.Build.Image, builder.Run.Images[0].Image)
	}
	// The stack images themselves carry that id (label and CNB_STACK_ID).
	for _, kind := range []string{"build", "run"} {
		dockerfile, err := os.ReadFile(filepath.Join(root, "stack/al2023", kind, "Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
		want := regexp.MustCompile(`(?m)^ARG STACK_ID=` + regexp.QuoteMeta(stack.Spec.ID) + `$`)
		if !want.Match(dockerfile) {
			t.Errorf("stack/al2023/%s/Dockerfile doesn't set STACK_ID=%s", kind, stack.Spec.ID)
		}
	}

	var clusterBuilder struct {
		Spec struct {
			Order []struct {
				Group []struct{ ID, Version string }
			}
		}
	}
	decodeYAML(t, documents(t, kpack, "ClusterBuilder")[0], &clusterBuilder)
	if len(clusterBuilder.Spec.Order) != len(builder.Order) {
		t.Fatalf("ClusterBuilder has %d order groups, builder.toml %d", len(clusterBuilder.Spec.Order), len(builder.Order))
	}
	for i, group := range builder.Order {
		for j, entry := range group.Group {
			got := clusterBuilder.Spec.Order[i].Group[j]
			if got.ID != entry.ID || got.Version != entry.Version {
				t.Errorf("ClusterBuilder order %d.%d is %s@%s, builder.toml %s@%s", i, j, got.ID, got.Version, entry.ID, entry.Version)
			}
		}
	}
	if builder.Order[0].Group[0].ID != composite.Buildpack.ID || builder.Order[0].Group[0].Version != composite.Buildpack.Version {
		t.Errorf("builder.toml orders %v, the composite is %s@%s", builder.Order[0].Group[0], composite.Buildpack.ID, composite.Buildpack.Version)
	}

	// The store's package is the composite at its version, and it groups the real buildpacks.
	var store struct {
		Spec struct {
			Sources []struct{ Image string }
		}
	}
	decodeYAML(t, documents(t, kpack, "ClusterStore")[0], &store)
	if want := ":" + composite.Buildpack.Version; len(store.Spec.Sources) != 1 || !regexp.MustCompile(regexp.QuoteMeta(want)+`$`).MatchString(store.Spec.Sources[0].Image) {
		t.Errorf("ClusterStore sources %v should be the luban/python package tagged %s", store.Spec.Sources, want)
	}
	for _, member := range composite.Order[0].Group {
		var descriptor buildpackDescriptor
		dir := filepath.Join(root, "buildpacks", filepath.Base(member.ID))
		decodeTOML(t, filepath.Join(dir, "buildpack.toml"), &descriptor)
		if descriptor.Buildpack.ID != member.ID || descriptor.Buildpack.Version != member.Version {
			t.Errorf("the composite groups %s@%s, %s declares %s@%s", member.ID, member.Version, dir, descriptor.Buildpack.ID, descriptor.Buildpack.Version)
		}
		// kpack 0.17+ is what accepts Buildpack API 0.10 (stated in kpack.yaml).
		if descriptor.API != "0.10" {
			t.Errorf("%s declares Buildpack API %s; kpack.yaml states the kpack version for 0.10", member.ID, descriptor.API)
		}
	}
	raw, _ := os.ReadFile(kpack)
	if !regexp.MustCompile(`kpack 0\.17 or later`).Match(raw) {
		t.Error("kpack.yaml must state the kpack version it needs")
	}
}
