package tests

// Every document under deploy/ is decoded strictly (an unknown or misspelled field is an
// error) into the upstream Go types where this project can have them: Argo Events' Sensor
// and EventSource, and Kubernetes' built-in kinds. The Go module proxy refuses Argo Workflows'
// and kpack's modules here, so their kinds (and Argo CD's, whose module costs minutes of
// compiling) are only parsed and checked for a kind this test knows; their fields are
// exercised by the workflow-step tests and kpack_test.go.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// The upstream type each kind decodes into.
var strictKinds = map[string]func() any{
	"Sensor":         func() any { return &v1alpha1.Sensor{} },
	"EventSource":    func() any { return &v1alpha1.EventSource{} },
	"Deployment":     func() any { return &appsv1.Deployment{} },
	"ServiceAccount": func() any { return &corev1.ServiceAccount{} },
	"Role":           func() any { return &rbacv1.Role{} },
	"RoleBinding":    func() any { return &rbacv1.RoleBinding{} },
}

// Kinds whose upstream types this project can't build against here (see above).
var parsedOnlyKinds = map[string]bool{
	"WorkflowTemplate": true, "Application": true, "AppProject": true,
	"ClusterStore": true, "ClusterStack": true, "ClusterBuilder": true, "Image": true,
	"Kustomization": true,
}

// manifestErrors decodes every document of one file and returns what is wrong with each.
func manifestErrors(path string, raw []byte) []string {
	var problems []string
	for i, doc := range strings.Split(string(raw), "\n---\n") {
		var meta struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			problems = append(problems, path+": "+err.Error())
			continue
		}
		if newObject, ok := strictKinds[meta.Kind]; ok {
			if err := yaml.UnmarshalStrict([]byte(doc), newObject()); err != nil {
				problems = append(problems, path+" ("+meta.Kind+"): "+err.Error())
			}
		} else if !parsedOnlyKinds[meta.Kind] {
			problems = append(problems, fmt.Sprintf("%s: document %d has unknown kind %q", path, i+1, meta.Kind))
		}
	}
	return problems
}

func TestEveryManifestDecodesStrictly(t *testing.T) {
	files := 0
	err := filepath.WalkDir(filepath.Join(repoRoot(t), "deploy"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") || strings.Contains(path, "/tests/") {
			return err
		}
		files++
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot(t), path)
		for _, problem := range manifestErrors(rel, raw) {
			t.Error(problem)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 9 {
		t.Fatalf("found only %d manifests under deploy/", files)
	}
}

// The check itself: a misspelled field in a real manifest is reported.
func TestAMisspelledFieldIsReported(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy/argo/events/sensor.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(raw), "serviceAccountName:", "serviceAcountName:", 1)
	if problems := manifestErrors("sensor.yaml", []byte(broken)); len(problems) == 0 {
		t.Fatal("a misspelled field must be reported")
	}
}
