package tests

// Helpers for the tests in manifests_test.go.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cdv1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	eventsv1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	"github.com/argoproj/argo-events/pkg/reconciler/sensor"
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/util/secrets"
	"github.com/argoproj/argo-workflows/v3/workflow/validate"
	"github.com/luban-buildpacks/luban/deploy/apps"
	kpackv1 "github.com/pivotal/kpack/pkg/apis/build/v1alpha2"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"knative.dev/pkg/apis"
	kustomize "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"
)

// The upstream type each kind decodes into.
var manifestKinds = map[string]func() any{
	"WorkflowTemplate": func() any { return &wfv1.WorkflowTemplate{} },
	"Sensor":           func() any { return &eventsv1.Sensor{} },
	"EventSource":      func() any { return &eventsv1.EventSource{} },
	"Application":      func() any { return &cdv1.Application{} },
	"AppProject":       func() any { return &cdv1.AppProject{} },
	"ClusterStore":     func() any { return &kpackv1.ClusterStore{} },
	"ClusterStack":     func() any { return &kpackv1.ClusterStack{} },
	"ClusterBuilder":   func() any { return &kpackv1.ClusterBuilder{} },
	"Image":            func() any { return &kpackv1.Image{} },
	"Kustomization":    func() any { return &kustomize.Kustomization{} },
	"Component":        func() any { return &kustomize.Kustomization{} },
	"ConfigMap":        func() any { return &corev1.ConfigMap{} },
	"Deployment":       func() any { return &appsv1.Deployment{} },
	"ServiceAccount":   func() any { return &corev1.ServiceAccount{} },
	"Secret":           func() any { return &corev1.Secret{} },
	"Namespace":        func() any { return &corev1.Namespace{} },
	"Service":          func() any { return &corev1.Service{} },
	"ValidatingWebhookConfiguration": func() any {
		return &admissionregistrationv1.ValidatingWebhookConfiguration{}
	},
	"Role":        func() any { return &rbacv1.Role{} },
	"RoleBinding": func() any { return &rbacv1.RoleBinding{} },
}

// A kpack resource: kpack's webhook defaults it and then validates it.
type kpackResource interface {
	SetDefaults(ctx context.Context)
	Validate(ctx context.Context) *apis.FieldError
}

// The templates a Workflow may reference, as Argo Workflows' validation looks them up.
type templates map[string]*wfv1.WorkflowTemplate

func (ts templates) Get(name string) (*wfv1.WorkflowTemplate, error) {
	if t, ok := ts[name]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("no WorkflowTemplate %q under deploy/", name)
}

// The event bus the Sensor is validated against: the default JetStream bus of an Argo
// Events install.
var defaultEventBus = &eventsv1.EventBus{Spec: eventsv1.EventBusSpec{JetStream: &eventsv1.JetStreamBus{}}}

// manifest is one decoded document and where it came from.
type manifest struct {
	where  string
	object any
}

// decodeManifests decodes every document of one file strictly, returning the objects and
// what is wrong with the documents that didn't decode.
func decodeManifests(path string, raw []byte) ([]manifest, []string) {
	var decoded []manifest
	var problems []string
	for i, doc := range strings.Split(string(raw), "\n---\n") {
		var meta struct {
			Kind string `json:"kind"`
		}
		where := fmt.Sprintf("%s document %d", path, i+1)
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			problems = append(problems, where+": "+err.Error())
			continue
		}
		newObject, ok := manifestKinds[meta.Kind]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: unknown kind %q", where, meta.Kind))
			continue
		}
		object := newObject()
		if err := yaml.UnmarshalStrict([]byte(doc), object); err != nil {
			problems = append(problems, fmt.Sprintf("%s (%s): %v", where, meta.Kind, err))
			continue
		}
		decoded = append(decoded, manifest{where + " (" + meta.Kind + ")", object})
	}
	return decoded, problems
}

// validateManifests runs each upstream project's own validation over the decoded objects.
func validateManifests(manifests []manifest) []string {
	ours := templates{}
	for _, m := range manifests {
		if t, ok := m.object.(*wfv1.WorkflowTemplate); ok {
			ours[t.Name] = t
		}
	}
	var problems []string
	report := func(where string, err error) {
		if err != nil {
			problems = append(problems, where+": "+err.Error())
		}
	}
	problems = append(problems, executorTokenProblems(manifests)...)
	problems = append(problems, templateRefVolumeProblems(manifests, ours)...)
	ctx := apis.WithinCreate(context.Background())
	for _, m := range manifests {
		switch object := m.object.(type) {
		case *wfv1.WorkflowTemplate:
			report(m.where, validate.ValidateWorkflowTemplate(ours, nil, object, validate.ValidateOpts{}))
		case *eventsv1.Sensor:
			report(m.where, sensor.ValidateSensor(object, defaultEventBus))
			report(m.where, validateSubmittedWorkflows(object, ours))
		case kpackResource:
			object.SetDefaults(ctx)
			if err := object.Validate(ctx); err != nil {
				report(m.where, err)
			}
		}
	}
	return problems
}

// executorTokenProblems: a WorkflowTemplate that turns off the automatic service-account
// token has Argo mount its executor's token from a Secret, named as Argo's own code names it
// for the executor's service account; Kubernetes 1.24 and later no longer make that Secret, and
// without it every pod of the workflow waits for a volume that never comes. It must be in
// deploy/, bound to the service account. Also, no template may have output artifacts: Argo
// fails a step that has one wherever no artifact repository is configured.
func executorTokenProblems(manifests []manifest) []string {
	accounts := map[string]*corev1.ServiceAccount{}
	tokens := map[string]*corev1.Secret{}
	for _, m := range manifests {
		switch object := m.object.(type) {
		case *corev1.ServiceAccount:
			accounts[object.Name] = object
		case *corev1.Secret:
			tokens[object.Name] = object
		}
	}
	var problems []string
	for _, m := range manifests {
		wt, ok := m.object.(*wfv1.WorkflowTemplate)
		if !ok {
			continue
		}
		for _, tpl := range wt.Spec.Templates {
			if tpl.Outputs.Artifacts != nil {
				problems = append(problems, fmt.Sprintf("%s: template %q has output artifacts, which fail the step where no artifact repository is configured", m.where, tpl.Name))
			}
		}
		if wt.Spec.AutomountServiceAccountToken == nil || *wt.Spec.AutomountServiceAccountToken || wt.Spec.Executor == nil {
			continue
		}
		name := wt.Spec.Executor.ServiceAccountName
		account, ok := accounts[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: the executor's service account %q is not under deploy/", m.where, name))
			continue
		}
		token := secrets.TokenNameForServiceAccount(account)
		secret, ok := tokens[token]
		if !ok || secret.Type != corev1.SecretTypeServiceAccountToken || secret.Annotations[corev1.ServiceAccountNameKey] != name {
			problems = append(problems, fmt.Sprintf("%s: Argo mounts the executor's token from the Secret %q, which deploy/ must define (type %s, annotation %s: %s)",
				m.where, token, corev1.SecretTypeServiceAccountToken, corev1.ServiceAccountNameKey, name))
		}
	}
	return problems
}

// templateRefVolumeProblems: a step that runs another WorkflowTemplate's template (templateRef)
// runs it with the calling workflow's volumes, so every volume its containers mount (and those
// of the templates it calls in turn) must be among the caller's. Argo's validation doesn't
// check this; the pod would fail on the node.
func templateRefVolumeProblems(manifests []manifest, ours templates) []string {
	var problems []string
	for _, m := range manifests {
		caller, ok := m.object.(*wfv1.WorkflowTemplate)
		if !ok {
			continue
		}
		volumes := map[string]bool{}
		for _, v := range caller.Spec.Volumes {
			volumes[v.Name] = true
		}
		for _, v := range caller.Spec.VolumeClaimTemplates {
			volumes[v.Name] = true
		}
		var mounts func(wt *wfv1.WorkflowTemplate, name string, seen map[string]bool) []string
		mounts = func(wt *wfv1.WorkflowTemplate, name string, seen map[string]bool) []string {
			if seen[wt.Name+"/"+name] {
				return nil
			}
			seen[wt.Name+"/"+name] = true
			var names []string
			for _, tpl := range wt.Spec.Templates {
				if tpl.Name != name {
					continue
				}
				if tpl.Container != nil {
					for _, mount := range tpl.Container.VolumeMounts {
						names = append(names, mount.Name)
					}
				}
				for _, group := range tpl.Steps {
					for _, step := range group.Steps {
						if step.TemplateRef != nil {
							if other, err := ours.Get(step.TemplateRef.Name); err == nil {
								names = append(names, mounts(other, step.TemplateRef.Template, seen)...)
							}
						} else if step.Template != "" {
							names = append(names, mounts(wt, step.Template, seen)...)
						}
					}
				}
			}
			return names
		}
		for _, tpl := range caller.Spec.Templates {
			for _, group := range tpl.Steps {
				for _, step := range group.Steps {
					if step.TemplateRef == nil {
						continue
					}
					other, err := ours.Get(step.TemplateRef.Name)
					if err != nil {
						continue
					}
					for _, volume := range mounts(other, step.TemplateRef.Template, map[string]bool{}) {
						if !volumes[volume] {
							problems = append(problems, fmt.Sprintf("%s: step %q runs %s/%s, which mounts the volume %q this template doesn't define",
								m.where, step.Name, step.TemplateRef.Name, step.TemplateRef.Template, volume))
						}
					}
				}
			}
		}
	}
	return problems
}

// validateSubmittedWorkflows checks the Workflow each Argo Workflows trigger submits, as the
// controller would on submission: strictly typed, and resolved against our templates.
func validateSubmittedWorkflows(s *eventsv1.Sensor, ours templates) error {
	var problems []error
	for _, trigger := range s.Spec.Triggers {
		argo := trigger.Template.ArgoWorkflow
		if argo == nil || argo.Source == nil || argo.Source.Resource == nil {
			continue
		}
		var workflow wfv1.Workflow
		if err := yaml.UnmarshalStrict(argo.Source.Resource.Value, &workflow); err != nil {
			problems = append(problems, fmt.Errorf("trigger %q: %w", trigger.Template.Name, err))
			continue
		}
		if err := validate.ValidateWorkflow(ours, nil, &workflow, validate.ValidateOpts{Submit: true}); err != nil {
			problems = append(problems, fmt.Errorf("trigger %q: %w", trigger.Template.Name, err))
		}
	}
	return errors.Join(problems...)
}

// manifestProblems decodes and validates every manifest under deploy/.
func manifestProblems(t *testing.T, edit func(path string, raw []byte) []byte) []string {
	t.Helper()
	var all []manifest
	var problems []string
	files := 0
	root := repoRoot(t)
	err := filepath.WalkDir(filepath.Join(root, "deploy"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") || strings.Contains(path, "/tests/") {
			return err
		}
		// App files are not manifests: what luban-apps renders from them is, below.
		if filepath.Dir(path) == filepath.Join(root, exampleAppsDir) {
			return nil
		}
		files++
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		decoded, bad := decodeManifests(rel, edit(rel, raw))
		all = append(all, decoded...)
		problems = append(problems, bad...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 9 {
		t.Fatalf("found only %d manifests under deploy/", files)
	}
	rendered, bad := renderedExample(t, edit)
	all = append(all, rendered...)
	problems = append(problems, bad...)
	table, err := readTrustTable(root)
	if err != nil {
		t.Fatal(err)
	}
	problems = append(problems, trustProblems(all, table)...)
	return append(problems, validateManifests(all)...)
}

func unchanged(_ string, raw []byte) []byte { return raw }

// The example's app files (deploy/install/apps).
const exampleAppsDir = "deploy/install/apps"

// renderedExample is what luban-apps renders from the example's config and app files (each
// through `edit`), decoded as every manifest is; an app file luban-apps refuses is a problem.
func renderedExample(t *testing.T, edit func(path string, raw []byte) []byte) ([]manifest, []string) {
	t.Helper()
	root := repoRoot(t)
	files, err := filepath.Glob(filepath.Join(root, exampleAppsDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no app files in %s (%v)", exampleAppsDir, err)
	}
	dir := t.TempDir()
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, file)
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(file)), edit(rel, raw), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	list, err := apps.Load(dir)
	if err != nil {
		return nil, []string{err.Error()}
	}
	config, err := apps.ReadConfig(filepath.Join(root, "deploy/install/config.env"))
	if err != nil {
		return nil, []string{err.Error()}
	}
	raw, err := apps.Render(list, config)
	if err != nil {
		return nil, []string{err.Error()}
	}
	// Render's first line is a comment before the first separator.
	return decodeManifests("luban-apps render "+exampleAppsDir, raw[strings.Index(string(raw), "---\n")+4:])
}

// stepGroups reads a steps template of a WorkflowTemplate file with Argo's own types: the
// names of its steps, one slice per group (the steps of a group run in parallel).
func stepGroups(t *testing.T, file, template string) [][]string {
	t.Helper()
	var wt wfv1.WorkflowTemplate
	decodeDocument(t, file, "WorkflowTemplate", &wt)
	var groups [][]string
	for _, tpl := range wt.Spec.Templates {
		if tpl.Name != template {
			continue
		}
		for _, group := range tpl.Steps {
			var names []string
			for _, step := range group.Steps {
				names = append(names, step.Name)
			}
			groups = append(groups, names)
		}
	}
	return groups
}
