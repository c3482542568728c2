package apps

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	eventsv1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"github.com/argoproj/argo-events/pkg/reconciler/eventsource"
	"github.com/argoproj/argo-events/pkg/reconciler/sensor"
)

const (
	exampleApps   = "../install/apps"
	exampleConfig = "../install/config.env"
)

// appFile is a valid app file of `name`, with `change` applied to its text.
func appFile(name string, change func(string) string) string {
	text := `apiVersion: luban.io/v1alpha1
kind: App
metadata:
  name: NAME
spec:
  repository: team/NAME
  cloneURL: https://forge.example/team/NAME.git
  image: registry.example.com/team/NAME
  environments:
    - name: staging
      path: apps/NAME/staging
      namespace: NAME
    - name: production
      path: apps/NAME/production
      namespace: NAME-production
  build:
    env:
      BP_UV_GROUPS: web
    tests: false
    registryCache: true
`
	text = strings.ReplaceAll(text, "NAME", name)
	if change != nil {
		text = change(text)
	}
	return text
}

func writeApps(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func exampleSite(t *testing.T) ([]App, Config) {
	t.Helper()
	config, err := ReadConfig(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	apps, err := Load(exampleApps)
	if err != nil {
		t.Fatal(err)
	}
	return apps, config
}

// The example's objects pass Argo Events' own validation of an EventSource and a Sensor.
func TestTheExampleRendersWhatArgoEventsAccepts(t *testing.T) {
	apps, config := exampleSite(t)
	if err := eventsource.ValidateEventSource(EventSource(apps, config)); err != nil {
		t.Errorf("the EventSource: %v", err)
	}
	s, err := Sensor(apps, config)
	if err != nil {
		t.Fatal(err)
	}
	bus := &eventsv1.EventBus{Spec: eventsv1.EventBusSpec{JetStream: &eventsv1.JetStreamBus{Version: "latest"}}}
	if err := sensor.ValidateSensor(s, bus); err != nil {
		t.Errorf("the Sensor: %v", err)
	}
	if _, err := Render(apps, config); err != nil {
		t.Fatal(err)
	}
}

// Two apps: each has its own endpoint and secret key, and every one of its Sensor dependencies
// listens to its own event only and filters on its own repository.
func TestEachAppHearsOnlyItsOwnEndpoint(t *testing.T) {
	apps, err := Load(writeApps(t, map[string]string{"a.yaml": appFile("app-a", nil), "b.yaml": appFile("app-b", nil)}))
	if err != nil {
		t.Fatal(err)
	}
	config := Config{GitOpsRepo: "https://forge.example/team/gitops.git", GitOpsBranch: "main", WorkflowsNamespace: "argo", ArgoCDNamespace: "argocd"}
	source := EventSource(apps, config)
	s, err := Sensor(apps, config)
	if err != nil {
		t.Fatal(err)
	}
	for _, app := range apps {
		name := app.Metadata.Name
		entry, ok := source.Spec.Github[name]
		if !ok || entry.Webhook.Endpoint != "/push/"+name || entry.WebhookSecret.Key != name ||
			entry.Repositories[0].Owner+"/"+entry.Repositories[0].Names[0] != app.Spec.Repository {
			t.Errorf("%s's event source entry is %+v", name, entry)
		}
		deps := 0
		for _, dep := range s.Spec.Dependencies {
			if !strings.HasPrefix(dep.Name, name+"-") {
				continue
			}
			deps++
			if dep.EventName != name || !strings.Contains(dep.Filters.Exprs[1].Expr, `repository == "`+app.Spec.Repository+`"`) {
				t.Errorf("%s's dependency %s listens to %s with %q", name, dep.Name, dep.EventName, dep.Filters.Exprs[1].Expr)
			}
		}
		if deps != 3 {
			t.Errorf("%s has %d dependencies, want 3", name, deps)
		}
	}
	if len(s.Spec.Triggers) != 6 {
		t.Errorf("%d triggers, want 3 per app", len(s.Spec.Triggers))
	}
}

// A mistake in an app file is refused, naming the app and saying what is wrong.
func TestAMalformedAppIsRefusedByName(t *testing.T) {
	for name, c := range map[string]struct {
		change func(string) string
		want   string
	}{
		"a misspelt field": {func(s string) string { return strings.Replace(s, "  image:", "  imgae:", 1) }, `unknown field "imgae"`},
		"a tagged image": {func(s string) string {
			return strings.Replace(s, "registry.example.com/team/broken", "registry.example.com/team/broken:latest", 1)
		}, "spec.image"},
		"no environments":            {func(s string) string { return s[:strings.Index(s, "  environments:")] }, "spec.environments is empty"},
		"a path out of the repo":     {func(s string) string { return strings.Replace(s, "apps/broken/staging", "../other/staging", 1) }, "spec.environments[0].path"},
		"a clone URL with a token":   {func(s string) string { return strings.Replace(s, "https://forge", "https://token@forge", 1) }, "spec.cloneURL"},
		"a build env key with a dot": {func(s string) string { return strings.Replace(s, "BP_UV_GROUPS", "BP.UV", 1) }, "spec.build.env key"},
		"an unknown kind":            {func(s string) string { return strings.Replace(s, "kind: App", "kind: Ap", 1) }, "apiVersion and kind"},
	} {
		dir := writeApps(t, map[string]string{"good.yaml": appFile("good", nil), "broken.yaml": appFile("broken", c.change)})
		_, err := Load(dir)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.Contains(err.Error(), "app broken (") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want the app's name and %q", name, err, c.want)
		}
	}
}

// Two apps can't share what keeps them apart.
func TestTwoAppsCantShareAnImagePathOrNamespace(t *testing.T) {
	for name, c := range map[string]struct {
		change func(string) string
		want   string
	}{
		"the same image": {func(s string) string {
			return strings.Replace(s, "example.com/team/app-b\n", "example.com/team/app-a\n", 1)
		}, `image "registry.example.com/team/app-a" is app app-a's`},
		"the same GitOps path": {func(s string) string { return strings.Replace(s, "apps/app-b/staging", "apps/app-a/staging", 1) }, `GitOps path "apps/app-a/staging" is app app-a's`},
		"the same namespace":   {func(s string) string { return strings.Replace(s, "namespace: app-b-production", "namespace: app-a", 1) }, `namespace "app-a" is app app-a's`},
		"the same repository": {func(s string) string {
			return strings.Replace(s, "repository: team/app-b", "repository: Team/App-A", 1)
		}, `repository "team/app-a" is app app-a's`},
	} {
		dir := writeApps(t, map[string]string{"a.yaml": appFile("app-a", nil), "b.yaml": appFile("app-b", c.change)})
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "app app-b (") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want %q", name, err, c.want)
		}
	}
}

func TestTheConfigNeedsTheGitOpsRepository(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.env")
	os.WriteFile(file, []byte("# nothing set\nregistry=registry.example.com\n"), 0o644)
	if _, err := ReadConfig(file); err == nil || !strings.Contains(err.Error(), "gitops-repo is not set") {
		t.Errorf("%v", err)
	}
	os.WriteFile(file, []byte("gitops-repo=https://forge.example/gitops.git\nworkflows-namespace=Argo\n"), 0o644)
	if _, err := ReadConfig(file); err == nil || !strings.Contains(err.Error(), `namespace "Argo"`) {
		t.Errorf("%v", err)
	}
}
