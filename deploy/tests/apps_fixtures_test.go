package tests

// The apps' objects as luban-apps renders them (deploy/apps): from deploy/install's example
// config and app files, or from a test's own.

import (
	"os"
	"path/filepath"
	"testing"

	cdv1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	eventsv1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"github.com/luban-buildpacks/luban/deploy/apps"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// exampleSite is deploy/install's config and app files.
func exampleSite(t *testing.T) ([]apps.App, apps.Config) {
	t.Helper()
	root := repoRoot(t)
	config, err := apps.ReadConfig(filepath.Join(root, "deploy/install/config.env"))
	if err != nil {
		t.Fatal(err)
	}
	list, err := apps.Load(filepath.Join(root, "deploy/install/apps"))
	if err != nil {
		t.Fatal(err)
	}
	return list, config
}

// loadSensor is the example's Sensor.
func loadSensor(t *testing.T) *eventsv1.Sensor {
	t.Helper()
	list, config := exampleSite(t)
	sensor, err := apps.Sensor(list, config)
	if err != nil {
		t.Fatal(err)
	}
	return sensor
}

// exampleDeploy is the example app's first environment as luban-apps renders it: its Namespace,
// its Application and their project.
func exampleDeploy(t *testing.T) (corev1.Namespace, cdv1.Application, cdv1.AppProject) {
	t.Helper()
	list, config := exampleSite(t)
	var namespace *corev1.Namespace
	var application *cdv1.Application
	var project *cdv1.AppProject
	for _, object := range apps.Deploy(list[0], config) {
		switch object := object.(type) {
		case *corev1.Namespace:
			if namespace == nil {
				namespace = object
			}
		case *cdv1.Application:
			if application == nil {
				application = object
			}
		case *cdv1.AppProject:
			project = object
		}
	}
	if namespace == nil || application == nil || project == nil {
		t.Fatal("luban-apps rendered no Namespace, Application or AppProject for the example app")
	}
	return *namespace, *application, *project
}

// writeAppFile writes an app file of the test's into dir.
func writeAppFile(t *testing.T, dir string, app apps.App) {
	t.Helper()
	app.APIVersion, app.Kind = apps.APIVersion, apps.Kind
	raw, err := yaml.Marshal(app)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, app.Metadata.Name+".yaml"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}
