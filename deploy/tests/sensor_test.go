// Tests of the deploy/ manifests that need no cluster: the Sensor's filters and trigger
// parameters run through Argo Events' own code against GitHub's real push payloads, and the
// kpack manifests are checked against what the builder, package and stack files declare.
package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"github.com/argoproj/argo-events/pkg/sensors/dependencies"
	"github.com/argoproj/argo-events/pkg/sensors/triggers"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// repoRoot is the repository root (this package lives in deploy/tests).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// sharedDir is ../shared next to the clone, where the payloads and schemas live.
func sharedDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("LUBAN_SHARED"); dir != "" {
		return dir
	}
	return filepath.Join(repoRoot(t), "..", "shared")
}

// documents returns the YAML documents of a manifest file whose kind is `kind`.
func documents(t *testing.T, path, kind string) [][]byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var found [][]byte
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var meta struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if meta.Kind == kind {
			found = append(found, []byte(doc))
		}
	}
	if len(found) == 0 {
		t.Fatalf("%s has no %s", path, kind)
	}
	return found
}

func loadSensor(t *testing.T) *v1alpha1.Sensor {
	t.Helper()
	var sensor v1alpha1.Sensor
	doc := documents(t, filepath.Join(repoRoot(t), "deploy/argo/events/sensor.yaml"), "Sensor")[0]
	if err := yaml.UnmarshalStrict(doc, &sensor); err != nil {
		t.Fatal(err)
	}
	return &sensor
}

// pushEvent wraps a GitHub payload the way the github event source hands it to sensors.
func pushEvent(t *testing.T, payload []byte) *v1alpha1.Event {
	t.Helper()
	data, err := json.Marshal(map[string]any{
		"header": map[string][]string{"X-Github-Event": {"push"}},
		"body":   json.RawMessage(payload),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &v1alpha1.Event{
		Context: &v1alpha1.EventContext{Type: "github", Source: "github", Subject: "app", DataContentType: "application/json"},
		Data:    data,
	}
}

func readPayload(t *testing.T, name string) []byte {
	t.Helper()
	payload, err := os.ReadFile(filepath.Join(sharedDir(t), "github", name))
	if err != nil {
		t.Fatal(err)
	}
	return payload
}

func passes(t *testing.T, sensor *v1alpha1.Sensor, payload []byte) bool {
	t.Helper()
	dep := sensor.Spec.Dependencies[0]
	ok, err := dependencies.Filter(pushEvent(t, payload), dep.Filters, dep.FiltersLogicalOperator)
	if err != nil {
		t.Fatalf("filter error: %v", err)
	}
	return ok
}

func TestSensorPassesAPushToTheDefaultBranch(t *testing.T) {
	sensor := loadSensor(t)
	if !passes(t, sensor, readPayload(t, "push-payload.json")) {
		t.Fatal("a push to the default branch (refs/heads/master, default_branch master) must pass")
	}
}

func TestSensorFiltersOutOtherBranchesTagsAndDeletions(t *testing.T) {
	sensor := loadSensor(t)
	var payload map[string]any
	if err := json.Unmarshal(readPayload(t, "push-payload.json"), &payload); err != nil {
		t.Fatal(err)
	}
	payload["ref"] = "refs/heads/feature/login"
	other, _ := json.Marshal(payload)
	if passes(t, sensor, other) {
		t.Error("a push to another branch must be filtered out")
	}
	payload["ref"] = "refs/heads/master-old" // a prefix match must not pass
	prefix, _ := json.Marshal(payload)
	if passes(t, sensor, prefix) {
		t.Error("a branch whose name only starts with the default branch must be filtered out")
	}
	for _, example := range []string{"payload.json", "with-installation.payload.json", "with-organization.payload.json"} {
		if passes(t, sensor, readPayload(t, filepath.Join("push-examples", example))) {
			t.Errorf("%s (a tag deletion) must be filtered out", example)
		}
	}
	for _, example := range []string{"with-new-branch.payload.json", "with-no-username-committer.payload.json"} {
		if !passes(t, sensor, readPayload(t, filepath.Join("push-examples", example))) {
			t.Errorf("%s (a push to master) must pass", example)
		}
	}
}

func TestSensorSubmitsTheBuildWithCloneURLAndPushedCommit(t *testing.T) {
	sensor := loadSensor(t)
	trigger := sensor.Spec.Triggers[0].Template.ArgoWorkflow
	resource, err := json.Marshal(trigger.Source.Resource)
	if err != nil {
		t.Fatal(err)
	}
	workflow := &unstructured.Unstructured{}
	if err := workflow.UnmarshalJSON(resource); err != nil {
		t.Fatal(err)
	}
	events := map[string]*v1alpha1.Event{"push": pushEvent(t, readPayload(t, "push-payload.json"))}
	if err := triggers.ApplyResourceParameters(events, trigger.Parameters, workflow); err != nil {
		t.Fatal(err)
	}
	params, _, _ := unstructured.NestedSlice(workflow.Object, "spec", "arguments", "parameters")
	got := map[string]string{}
	for _, p := range params {
		m := p.(map[string]any)
		got[m["name"].(string)], _ = m["value"].(string)
	}
	if got["repo-url"] != "https://github.com/Codertocat/Hello-World.git" {
		t.Errorf("repo-url = %q", got["repo-url"])
	}
	if got["revision"] != "6113728f27ae82c7b1a177c8d03f9e96e0adf246" {
		t.Errorf("revision = %q, want the payload's `after`", got["revision"])
	}

	// Every parameter the Sensor passes is one the WorkflowTemplate declares.
	templateRef, _, _ := unstructured.NestedString(workflow.Object, "spec", "workflowTemplateRef", "name")
	var template struct {
		Metadata struct{ Name string }
		Spec     struct {
			Arguments struct {
				Parameters []struct{ Name string }
			}
		}
	}
	doc := documents(t, filepath.Join(repoRoot(t), "deploy/argo/workflows/build-template.yaml"), "WorkflowTemplate")[0]
	if err := yaml.Unmarshal(doc, &template); err != nil {
		t.Fatal(err)
	}
	if templateRef != template.Metadata.Name {
		t.Errorf("the Sensor submits %q, the template is %q", templateRef, template.Metadata.Name)
	}
	declared := map[string]bool{}
	for _, p := range template.Spec.Arguments.Parameters {
		declared[p.Name] = true
	}
	for name := range got {
		if !declared[name] {
			t.Errorf("the Sensor passes %q, which the WorkflowTemplate doesn't declare", name)
		}
	}
}
