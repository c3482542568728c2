package tests

// Helpers for the tests in kpack_test.go.

import (
	"testing"

	"github.com/BurntSushi/toml"
	"sigs.k8s.io/yaml"
)

// orderGroup is one [[order]] entry of a buildpack.toml or builder.toml.
type orderGroup struct {
	Group []struct {
		ID      string `toml:"id"`
		Version string `toml:"version"`
	} `toml:"group"`
}

type buildpackDescriptor struct {
	API       string `toml:"api"`
	Buildpack struct {
		ID      string `toml:"id"`
		Version string `toml:"version"`
	} `toml:"buildpack"`
	Order []orderGroup `toml:"order"`
}

type builderConfig struct {
	Order []orderGroup `toml:"order"`
	Build struct {
		Image string `toml:"image"`
	} `toml:"build"`
	Run struct {
		Images []struct {
			Image string `toml:"image"`
		} `toml:"images"`
	} `toml:"run"`
	Stack struct {
		ID         string `toml:"id"`
		BuildImage string `toml:"build-image"`
		RunImage   string `toml:"run-image"`
	} `toml:"stack"`
	Lifecycle struct {
		Version string `toml:"version"`
	} `toml:"lifecycle"`
}

func decodeTOML(t *testing.T, path string, into any) {
	t.Helper()
	if _, err := toml.DecodeFile(path, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func decodeYAML(t *testing.T, doc []byte, into any) {
	t.Helper()
	if err := yaml.Unmarshal(doc, into); err != nil {
		t.Fatal(err)
	}
}
