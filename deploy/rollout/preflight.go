package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// The preflight's decisions, as pure functions over the rendered manifests: which objects the
// pods of the new version need from their namespace (Secrets, ConfigMaps, service accounts,
// image pull Secrets) that the manifests don't bring themselves.

// A Reference is an object a pod of the manifests needs in its namespace before it can start.
type Reference struct {
	Kind, Namespace, Name string
	// Where the manifests name it: "env DATABASE_URL of container web, Deployment sample-app".
	Use string
}

func (r Reference) String() string {
	return fmt.Sprintf("%s %s/%s (%s)", r.Kind, r.Namespace, r.Name, r.Use)
}

// References reads rendered manifests (YAML documents, `kustomize build`'s output) and lists
// what their pods need from the namespace: objects without a namespace go to `namespace`, the
// Application's destination, as Argo CD puts them. A reference marked optional is left out, and
// so is one the manifests create themselves.
func References(manifests []byte, namespace string) ([]Reference, error) {
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifests), 4096)
	provided := map[string]bool{}
	var refs []Reference
	for index := 1; ; index++ {
		var object unstructured.Unstructured
		if err := decoder.Decode(&object.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("document %d of the rendered manifests is not a Kubernetes object: %w", index, err)
		}
		if object.Object == nil {
			continue
		}
		ns := object.GetNamespace()
		if ns == "" {
			ns = namespace
		}
		kind := object.GetKind()
		provided[kind+"/"+ns+"/"+object.GetName()] = true
		path, ok := podSpecPath[kind]
		if !ok {
			continue
		}
		raw, found, err := unstructured.NestedMap(object.Object, path...)
		if err != nil || !found {
			continue
		}
		var spec corev1.PodSpec
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &spec); err != nil {
			return nil, fmt.Errorf("%s %s: its pod spec doesn't read as one: %w", kind, object.GetName(), err)
		}
		for _, ref := range podReferences(&spec) {
			ref.Namespace = ns
			ref.Use += ", " + kind + " " + object.GetName()
			refs = append(refs, ref)
		}
	}
	var needed []Reference
	seen := map[string]bool{}
	for _, ref := range refs {
		key := ref.Kind + "/" + ref.Namespace + "/" + ref.Name
		if provided[key] || seen[key] {
			continue
		}
		seen[key] = true
		needed = append(needed, ref)
	}
	sort.SliceStable(needed, func(i, j int) bool { return needed[i].Kind+needed[i].Name < needed[j].Kind+needed[j].Name })
	return needed, nil
}

// Where each workload kind keeps its pod spec.
var podSpecPath = map[string][]string{
	"Pod":         {"spec"},
	"Deployment":  {"spec", "template", "spec"},
	"StatefulSet": {"spec", "template", "spec"},
	"DaemonSet":   {"spec", "template", "spec"},
	"ReplicaSet":  {"spec", "template", "spec"},
	"Job":         {"spec", "template", "spec"},
	"CronJob":     {"spec", "jobTemplate", "spec", "template", "spec"},
}

func podReferences(spec *corev1.PodSpec) []Reference {
	var refs []Reference
	add := func(kind, name string, optional *bool, use string) {
		if name != "" && (optional == nil || !*optional) {
			refs = append(refs, Reference{Kind: kind, Name: name, Use: use})
		}
	}
	// Every namespace has `default`, made by Kubernetes itself.
	if spec.ServiceAccountName != "" && spec.ServiceAccountName != "default" {
		add("ServiceAccount", spec.ServiceAccountName, nil, "serviceAccountName")
	}
	for _, s := range spec.ImagePullSecrets {
		add("Secret", s.Name, nil, "imagePullSecrets")
	}
	for _, v := range spec.Volumes {
		use := "volume " + v.Name
		if s := v.Secret; s != nil {
			add("Secret", s.SecretName, s.Optional, use)
		}
		if c := v.ConfigMap; c != nil {
			add("ConfigMap", c.Name, c.Optional, use)
		}
		if p := v.Projected; p != nil {
			for _, source := range p.Sources {
				if s := source.Secret; s != nil {
					add("Secret", s.Name, s.Optional, use)
				}
				if c := source.ConfigMap; c != nil {
					add("ConfigMap", c.Name, c.Optional, use)
				}
			}
		}
	}
	containers := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	for _, c := range containers {
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			use := "env " + e.Name + " of container " + c.Name
			if s := e.ValueFrom.SecretKeyRef; s != nil {
				add("Secret", s.Name, s.Optional, use)
			}
			if m := e.ValueFrom.ConfigMapKeyRef; m != nil {
				add("ConfigMap", m.Name, m.Optional, use)
			}
		}
		for _, from := range c.EnvFrom {
			use := "envFrom of container " + c.Name
			if s := from.SecretRef; s != nil {
				add("Secret", s.Name, s.Optional, use)
			}
			if m := from.ConfigMapRef; m != nil {
				add("ConfigMap", m.Name, m.Optional, use)
			}
		}
	}
	return refs
}

// MissingText is the preflight's one-line verdict on the references not found.
func MissingText(missing []Reference) string {
	if len(missing) == 0 {
		return ""
	}
	const shown = 3
	var parts []string
	for i, ref := range missing {
		if i == shown {
			parts = append(parts, fmt.Sprintf("and %d more", len(missing)-shown))
			break
		}
		parts = append(parts, ref.String())
	}
	what := "it"
	if len(missing) > 1 {
		what = "them"
	}
	return fmt.Sprintf("missing %s; create %s, then deploy again (nothing was committed)", strings.Join(parts, ", "), what)
}
