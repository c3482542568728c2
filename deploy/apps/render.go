package apps

import (
	"bytes"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// Objects are everything the apps need on the cluster: the EventSource and the Sensor of all of
// them, then each app's environments (Deploy).
func Objects(apps []App, config Config) ([]any, error) {
	sensor, err := Sensor(apps, config)
	if err != nil {
		return nil, err
	}
	objects := []any{EventSource(apps, config), sensor}
	for _, app := range apps {
		objects = append(objects, Deploy(app, config)...)
	}
	return objects, nil
}

// Render is Objects as YAML documents, for `kubectl apply -f -`.
func Render(apps []App, config Config) ([]byte, error) {
	objects, err := Objects(apps, config)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.WriteString("# Rendered by luban-apps from the app files; edit those, not this.\n")
	for _, object := range objects {
		content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(object)
		if err != nil {
			return nil, err
		}
		// What the API server fills in, left out.
		unstructured.RemoveNestedField(content, "status")
		unstructured.RemoveNestedField(content, "metadata", "creationTimestamp")
		dropNulls(content)
		raw, err := yaml.Marshal(content)
		if err != nil {
			return nil, fmt.Errorf("%T: %v", object, err)
		}
		out.WriteString("---\n")
		out.Write(raw)
	}
	return out.Bytes(), nil
}

// dropNulls removes the null fields that typed objects' unset pointers and slices marshal to.
func dropNulls(object map[string]any) {
	for key, value := range object {
		switch value := value.(type) {
		case nil:
			delete(object, key)
		case map[string]any:
			dropNulls(value)
		case []any:
			for _, item := range value {
				if item, ok := item.(map[string]any); ok {
					dropNulls(item)
				}
			}
		}
	}
}
