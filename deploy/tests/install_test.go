package tests

// deploy/install, the pipeline as a kustomize base with one config (config.env), built with
// Kustomize's own code as `kubectl apply -k` builds it.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/luban-buildpacks/luban/deploy/apps"
	"sigs.k8s.io/kustomize/api/krusty"
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

func asList(value any) []any {
	list, _ := value.([]any)
	return list
}
