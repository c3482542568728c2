// Package eventsource runs Argo Events' own event-source validation over deploy/'s
// EventSource. It is a package of its own because that validation links Argo Events' HDFS
// event source, whose protobuf message names clash with the HDFS artifact driver Argo
// Workflows' validation links (../manifests_test.go); one test binary can't hold both.
package eventsource

import (
	"os"
	"strings"
	"testing"

	"github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"github.com/argoproj/argo-events/pkg/reconciler/eventsource"
	"sigs.k8s.io/yaml"
)

const manifest = "../../argo/events/eventsource-github.yaml"

func validateEventSource(raw []byte) error {
	var source v1alpha1.EventSource
	if err := yaml.UnmarshalStrict(raw, &source); err != nil {
		return err
	}
	return eventsource.ValidateEventSource(&source)
}

func TestTheGitHubEventSourceValidates(t *testing.T) {
	raw, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validateEventSource(raw); err != nil {
		t.Fatalf("%s: %v", manifest, err)
	}
}

// The check itself: an event source Argo Events would refuse is reported.
func TestAnInvalidEventSourceIsReported(t *testing.T) {
	raw, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ old, new string }{
		{"port: \"12000\"", "port: \"\""},
		{"endpoint: /push", "endpointt: /push"},
	} {
		if !strings.Contains(string(raw), c.old) {
			t.Fatalf("%s has no %q to break", manifest, c.old)
		}
		broken := strings.Replace(string(raw), c.old, c.new, 1)
		if err := validateEventSource([]byte(broken)); err == nil {
			t.Errorf("%q → %q must be refused", c.old, c.new)
		}
	}
}
