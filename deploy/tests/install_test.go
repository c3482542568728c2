package tests

// deploy/install, the pipeline as a kustomize component with one config (config.env), built with
// Kustomize's own code as `kubectl apply -k` builds it.

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/luban-buildpacks/luban/deploy/apps"
	"sigs.k8s.io/kustomize/api/krusty"
	kustomize "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// buildInstall builds a copy of deploy/install (with deploy/argo beside it) whose config.env is
// `config`, and returns the objects by kind and name.
func buildInstall(t *testing.T, config string) (map[string]map[string]any, error) {
	t.Helper()
	root := repoRoot(t)
	copyDir := t.TempDir()
	for _, dir := range []string{"deploy/install", "deploy/argo"} {
		if err := os.CopyFS(filepath.Join(copyDir, dir), os.DirFS(filepath.Join(root, dir))); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(copyDir, "deploy/install/config.env"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(copyDir, "deploy/install"))
	if err != nil {
		return nil, err
	}
	objects := map[string]map[string]any{}
	for _, resource := range resources.Resources() {
		content, err := resource.Map()
		if err != nil {
			t.Fatal(err)
		}
		objects[resource.GetKind()+"/"+resource.GetName()] = content
	}
	return objects, nil
}

func exampleConfig(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy/install/config.env"))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// Every setting of config.env reaches the templates' parameters of that name, and every object
// lands in the config's namespace, with the RoleBindings naming its accounts there.
func TestTheInstallBaseCarriesTheSiteConfig(t *testing.T) {
	config := strings.ReplaceAll(exampleConfig(t), "workflows-namespace=argo", "workflows-namespace=ci")
	config = strings.ReplaceAll(config, "gitops-repo=https://github.com/luban-buildpacks/gitops.git", "gitops-repo=https://forge.example/site/gitops.git")
	config = strings.ReplaceAll(config, "gate-image=ghcr.io/luban-buildpacks/osv-gate:0.1.0", "gate-image=mirror.example/osv-gate:0.1.0")
	objects, err := buildInstall(t, config)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"luban-build", "luban-gitops", "luban-promote"} {
		if _, ok := objects["WorkflowTemplate/"+name]; !ok {
			t.Errorf("deploy/install doesn't install the WorkflowTemplate %s", name)
		}
	}
	want := map[string]string{"gitops-repo": "https://forge.example/site/gitops.git", "gate-image": "mirror.example/osv-gate:0.1.0"}
	for key, object := range objects {
		if namespace := object["metadata"].(map[string]any)["namespace"]; namespace != "ci" {
			t.Errorf("%s is in %v, not the config's workflows-namespace", key, namespace)
		}
		for _, subject := range asList(object["subjects"]) {
			if subject.(map[string]any)["namespace"] != "ci" {
				t.Errorf("%s binds %v", key, subject)
			}
		}
		if !strings.HasPrefix(key, "WorkflowTemplate/") {
			continue
		}
		spec := object["spec"].(map[string]any)
		for _, p := range asList(spec["arguments"].(map[string]any)["parameters"]) {
			parameter := p.(map[string]any)
			if value, ok := want[parameter["name"].(string)]; ok && parameter["value"] != value {
				t.Errorf("%s's %s = %v, want config.env's %q", key, parameter["name"], parameter["value"], value)
			}
		}
	}
	// The builds' semaphore counts from a key the installed ConfigMap has.
	build := objects["WorkflowTemplate/luban-build"]["spec"].(map[string]any)
	semaphores := 0
	for _, tpl := range asList(build["templates"]) {
		sync, _ := tpl.(map[string]any)["synchronization"].(map[string]any)
		for _, semaphore := range asList(sync["semaphores"]) {
			ref := semaphore.(map[string]any)["configMapKeyRef"].(map[string]any)
			data, _ := objects["ConfigMap/"+ref["name"].(string)]["data"].(map[string]any)
			if data[ref["key"].(string)] == nil {
				t.Errorf("a semaphore counts from %v, which deploy/install doesn't install", ref)
			}
			semaphores++
		}
	}
	if semaphores == 0 {
		t.Error("luban-build has no semaphore: concurrent pushes would all build at once")
	}
	// luban-apps reads the same file.
	file := filepath.Join(t.TempDir(), "config.env")
	os.WriteFile(file, []byte(config), 0o644)
	site, err := apps.ReadConfig(file)
	if err != nil || site.WorkflowsNamespace != "ci" || site.GitOpsRepo != "https://forge.example/site/gitops.git" {
		t.Errorf("luban-apps reads %+v (%v)", site, err)
	}
}

// With every setting of config.env given a value of its own, each template parameter named
// like a setting carries that value, and every other parameter keeps the template's default:
// a setting reaches its own parameter and no other.
func TestEachSettingReachesItsOwnParametersOnly(t *testing.T) {
	settings := exampleSettings(t)
	for key := range settings {
		settings[key] = "setting-" + key
	}
	delete(settings, "workflows-namespace")
	defaults := map[string]map[string]string{}
	for _, file := range []string{"deploy/argo/workflows/build-template.yaml", "deploy/argo/cd/update-digest-template.yaml", "deploy/argo/cd/promote-template.yaml"} {
		var template wfv1.WorkflowTemplate
		decodeDocument(t, file, "WorkflowTemplate", &template)
		defaults[template.Name] = map[string]string{}
		for _, parameter := range template.Spec.Arguments.Parameters {
			if parameter.Value != nil {
				defaults[template.Name][parameter.Name] = parameter.Value.String()
			}
		}
	}
	for _, object := range siteInstall(t, settings) {
		if object["kind"] != "WorkflowTemplate" {
			continue
		}
		name := object["metadata"].(map[string]any)["name"].(string)
		for _, p := range asList(object["spec"].(map[string]any)["arguments"].(map[string]any)["parameters"]) {
			parameter := p.(map[string]any)
			key, value := parameter["name"].(string), fmt.Sprint(parameter["value"])
			if parameter["value"] == nil {
				value = ""
			}
			want, isSetting := settings[key]
			if !isSetting {
				want = defaults[name][key]
			}
			if value != want {
				t.Errorf("%s's parameter %s = %q, want %q", name, key, value, want)
			}
		}
	}
}

// A config.env without a setting the templates need is refused when the install is built.
func TestTheInstallBaseRefusesAConfigWithoutASetting(t *testing.T) {
	var kept []string
	for _, line := range strings.Split(exampleConfig(t), "\n") {
		if !strings.HasPrefix(line, "forge-api=") {
			kept = append(kept, line)
		}
	}
	if _, err := buildInstall(t, strings.Join(kept, "\n")); err == nil || !strings.Contains(err.Error(), "data.forge-api") {
		t.Errorf("building without forge-api: %v", err)
	}
}

// siteInstall is what `kubectl apply -k site/` installs for a site directory as docs/install.md
// shows it: deploy/install/component (by a relative path: kustomize takes no absolute one) and
// the luban-config its config.env makes, the example's with `settings` changed.
func siteInstall(t *testing.T, settings map[string]string) []map[string]any {
	t.Helper()
	config := exampleSettings(t)
	for key, value := range settings {
		if _, ok := config[key]; !ok {
			t.Fatalf("deploy/install/config.env has no setting %q", key)
		}
		config[key] = value
	}
	site := t.TempDir()
	var env strings.Builder
	for _, key := range slices.Sorted(maps.Keys(config)) {
		fmt.Fprintf(&env, "%s=%s\n", key, config[key])
	}
	if err := os.WriteFile(filepath.Join(site, "config.env"), []byte(env.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	component, err := filepath.Rel(site, filepath.Join(repoRoot(t), "deploy/install/component"))
	if err != nil {
		t.Fatal(err)
	}
	writeYAML(t, filepath.Join(site, "kustomization.yaml"), kustomize.Kustomization{
		TypeMeta:   kustomize.TypeMeta{APIVersion: kustomize.KustomizationVersion, Kind: kustomize.KustomizationKind},
		Components: []string{component},
		ConfigMapGenerator: []kustomize.ConfigMapArgs{{GeneratorArgs: kustomize.GeneratorArgs{
			Name: "luban-config", KvPairSources: kustomize.KvPairSources{EnvSources: []string{"config.env"}},
			Options: &kustomize.GeneratorOptions{DisableNameSuffixHash: true}}}},
	})
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), site)
	if err != nil {
		t.Fatalf("kustomize build of the site's directory: %v", err)
	}
	var objects []map[string]any
	for _, resource := range resources.Resources() {
		content, err := resource.Map()
		if err != nil {
			t.Fatal(err)
		}
		objects = append(objects, content)
	}
	return objects
}

// A site's own directory (docs/install.md) installs the base with its config.env in place of
// the example's: what the node's loop test applies.
func TestASiteInstallsTheBaseWithItsOwnConfig(t *testing.T) {
	objects := siteInstall(t, map[string]string{"workflows-namespace": "ci", "builder-image": "mirror.example/builder:al2023"})
	templates := 0
	for _, object := range objects {
		metadata := object["metadata"].(map[string]any)
		if metadata["namespace"] != "ci" {
			t.Errorf("%s %s is in %v", object["kind"], metadata["name"], metadata["namespace"])
		}
		if object["kind"] == "ConfigMap" && metadata["name"] == "luban-config" && object["data"].(map[string]any)["builder-image"] != "mirror.example/builder:al2023" {
			t.Errorf("the installed luban-config is the example's: %v", object["data"])
		}
		if object["kind"] != "WorkflowTemplate" || metadata["name"] != "luban-build" {
			continue
		}
		templates++
		for _, p := range asList(object["spec"].(map[string]any)["arguments"].(map[string]any)["parameters"]) {
			if parameter := p.(map[string]any); parameter["name"] == "builder-image" && parameter["value"] != "mirror.example/builder:al2023" {
				t.Errorf("luban-build's builder-image is %v", parameter["value"])
			}
		}
	}
	if templates != 1 {
		t.Errorf("the site installs %d luban-build templates", templates)
	}
}

// exampleSettings are deploy/install/config.env's settings, by key.
func exampleSettings(t *testing.T) map[string]string {
	t.Helper()
	settings := map[string]string{}
	for _, line := range strings.Split(exampleConfig(t), "\n") {
		if key, value, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			settings[key] = value
		}
	}
	return settings
}

func asList(value any) []any {
	list, _ := value.([]any)
	return list
}
