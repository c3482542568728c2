package tests

// Helpers for the tests in sensor_test.go.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
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

// decodeDocument decodes the first document of `kind` in the repository's manifest `file`
// strictly (unknown fields are errors) into `into`.
func decodeDocument(t *testing.T, file, kind string, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(documents(t, filepath.Join(repoRoot(t), file), kind)[0], into); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// pushEvent wraps a GitHub push payload the way the github event source hands it to sensors.
func pushEvent(t *testing.T, payload []byte) *v1alpha1.Event {
	t.Helper()
	return githubEvent(t, "push", payload)
}

// githubEvent wraps a GitHub payload of the kind `event` (X-GitHub-Event) the way the github
// event source hands it to sensors: it adds the header's value to the body.
func githubEvent(t *testing.T, event string, payload []byte) *v1alpha1.Event {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(payload, &body); err != nil {
		t.Fatal(err)
	}
	body["X-GitHub-Event"] = event
	data, err := json.Marshal(map[string]any{
		"headers": map[string][]string{"X-Github-Event": {event}},
		"body":    body,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &v1alpha1.Event{
		Context: &v1alpha1.EventContext{Type: "github", Source: "luban-apps", Subject: "sample-app", DataContentType: "application/json"},
		Data:    data,
	}
}

// pushPayload is testdata/push-main.json, a push to main of luban-buildpacks/sample-app
// written after GitHub's documented push event, with `change` applied to its decoded form.
func pushPayload(t *testing.T, change func(map[string]any)) []byte {
	t.Helper()
	return testdataPayload(t, "push-main.json", change)
}

// testdataPayload is a payload of testdata/ with `change` applied to its decoded form.
func testdataPayload(t *testing.T, file string, change func(map[string]any)) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var payload map[string]any
	if err := json.Unmarshal(raw, &payload); err != nil {
		t.Fatal(err)
	}
	if change != nil {
		change(payload)
	}
	out, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func passes(t *testing.T, sensor *v1alpha1.Sensor, payload []byte) bool {
	t.Helper()
	return passesAs(t, sensor, "sample-app-push", "push", payload)
}

// passesAs says whether the Sensor's dependency `name` passes a delivery of the kind `event`.
func passesAs(t *testing.T, sensor *v1alpha1.Sensor, name, event string, payload []byte) bool {
	t.Helper()
	for _, dep := range sensor.Spec.Dependencies {
		if dep.Name == name {
			ok, err := dependencies.Filter(githubEvent(t, event, payload), dep.Filters, dep.FiltersLogicalOperator)
			if err != nil {
				t.Fatalf("filter error: %v", err)
			}
			return ok
		}
	}
	t.Fatalf("the Sensor has no dependency %q", name)
	return false
}

// sensorWorkflow is the Workflow the Sensor's trigger submits for a push, its parameters filled
// in by Argo Events' own code.
func sensorWorkflow(t *testing.T, sensor *v1alpha1.Sensor, payload []byte) *unstructured.Unstructured {
	t.Helper()
	return triggeredWorkflow(t, sensor, "sample-app-build", pushEvent(t, payload))
}

// triggeredWorkflow is the Workflow the Sensor's trigger `name` submits for `event` (its
// condition's one dependency).
func triggeredWorkflow(t *testing.T, sensor *v1alpha1.Sensor, name string, event *v1alpha1.Event) *unstructured.Unstructured {
	t.Helper()
	index := slices.IndexFunc(sensor.Spec.Triggers, func(trigger v1alpha1.Trigger) bool { return trigger.Template.Name == name })
	if index < 0 {
		t.Fatalf("the Sensor has no trigger %q", name)
	}
	trigger := sensor.Spec.Triggers[index].Template.ArgoWorkflow
	resource, err := json.Marshal(trigger.Source.Resource)
	if err != nil {
		t.Fatal(err)
	}
	workflow := &unstructured.Unstructured{}
	if err := workflow.UnmarshalJSON(resource); err != nil {
		t.Fatal(err)
	}
	events := map[string]*v1alpha1.Event{sensor.Spec.Triggers[index].Template.Conditions: event}
	if err := triggers.ApplyResourceParameters(events, trigger.Parameters, workflow); err != nil {
		t.Fatal(err)
	}
	return workflow
}

// workflowArguments are a submitted Workflow's parameters, by name.
func workflowArguments(workflow *unstructured.Unstructured) map[string]string {
	params, _, _ := unstructured.NestedSlice(workflow.Object, "spec", "arguments", "parameters")
	got := map[string]string{}
	for _, p := range params {
		m := p.(map[string]any)
		got[m["name"].(string)], _ = m["value"].(string)
	}
	return got
}

// pullRequestPayload is testdata/pull-request-opened.json (GitHub's documented pull_request
// event, trimmed), with `change` applied.
func pullRequestPayload(t *testing.T, change func(map[string]any)) []byte {
	t.Helper()
	return testdataPayload(t, "pull-request-opened.json", change)
}
