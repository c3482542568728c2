package apps

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	eventsv1 "github.com/argoproj/argo-events/pkg/apis/events/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const (
	// EventSourceName and SensorName are the one EventSource and the one Sensor of all apps.
	EventSourceName = "luban-apps"
	SensorName      = "luban-apps"
	// WebhookSecret holds one key per app: its webhook secret. A delivery is the app's only if
	// it arrives at the app's endpoint signed with the app's secret.
	WebhookSecret = "luban-webhook-secrets"
	WebhookPort   = "12000"
	// The sensor's service account (deploy/argo/events/sensor-rbac.yaml).
	sensorAccount = "luban-sensor"
	partOf        = "app.kubernetes.io/part-of"
)

// Endpoint is the app's webhook path on the event source: the forge's webhook for the app's
// repository delivers here, and nowhere else.
func (a App) Endpoint() string { return "/push/" + a.Metadata.Name }

// restricted is the pod template of the event source's and the sensor's pods: non-root, no
// privilege escalation, no capabilities (Pod Security "restricted").
func restricted(account string) *eventsv1.Template {
	user := int64(1000)
	yes, no := true, false
	return &eventsv1.Template{
		ServiceAccountName: account,
		SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: &user,
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		Container: &eventsv1.Container{SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no,
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}},
	}
}

// EventSource receives every app's webhook deliveries (GitHub's, or Gitea's, which signs them
// the same way): one endpoint per app, each checked against the app's own secret.
func EventSource(apps []App, config Config) *eventsv1.EventSource {
	source := &eventsv1.EventSource{
		TypeMeta:   metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "EventSource"},
		ObjectMeta: metav1.ObjectMeta{Name: EventSourceName, Namespace: config.WorkflowsNamespace, Labels: map[string]string{partOf: "luban"}},
		Spec: eventsv1.EventSourceSpec{
			Template: restricted(""),
			Service:  &eventsv1.Service{Ports: []corev1.ServicePort{{Port: 12000, TargetPort: intstr.FromInt32(12000)}}},
			Github:   map[string]eventsv1.GithubEventSource{},
		},
	}
	for _, app := range apps {
		owner, name, _ := strings.Cut(app.Spec.Repository, "/")
		source.Spec.Github[app.Metadata.Name] = eventsv1.GithubEventSource{
			Repositories: []eventsv1.OwnedRepositories{{Owner: owner, Names: []string{name}}},
			Webhook:      &eventsv1.WebhookContext{Endpoint: app.Endpoint(), Port: WebhookPort, Method: "POST"},
			Events:       []string{"push", "pull_request"},
			ContentType:  "json",
			Active:       true,
			WebhookSecret: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: WebhookSecret}, Key: app.Metadata.Name},
		}
	}
	return source
}

// The payload fields the filters read.
var (
	kind           = eventsv1.PayloadField{Name: "event", Path: "body.X-GitHub-Event"}
	repositoryName = eventsv1.PayloadField{Name: "repository", Path: "body.repository.full_name"}
	ref            = eventsv1.PayloadField{Name: "ref", Path: "body.ref"}
	defaultBranch  = eventsv1.PayloadField{Name: "default_branch", Path: "body.repository.default_branch"}
	after          = eventsv1.PayloadField{Name: "after", Path: "body.after"}
	headRepository = eventsv1.PayloadField{Name: "head_repository", Path: "body.pull_request.head.repo.full_name"}
	headSHA        = eventsv1.PayloadField{Name: "head", Path: "body.pull_request.head.sha"}
	action         = eventsv1.PayloadField{Name: "action", Path: "body.action"}
)

// dependency is one of the app's three kinds of delivery: the event kind first (the event source
// adds its X-GitHub-Event header to the body), because the next expression's fields exist only
// in that kind; then what must hold of it, always with the app's own repository.
func dependency(app App, suffix, event, expr string, fields ...eventsv1.PayloadField) eventsv1.EventDependency {
	return eventsv1.EventDependency{
		Name:            app.Metadata.Name + "-" + suffix,
		EventSourceName: EventSourceName,
		EventName:       app.Metadata.Name,
		Filters: &eventsv1.EventDependencyFilter{Exprs: []eventsv1.ExprFilter{
			{Expr: fmt.Sprintf("event == %q", event), Fields: []eventsv1.PayloadField{kind}},
			{Expr: fmt.Sprintf("repository == %q && ", app.Spec.Repository) + expr, Fields: append([]eventsv1.PayloadField{repositoryName}, fields...)},
		}},
	}
}

// A commit's SHA and nothing else: it becomes the revision built and part of image tags.
const sha = `"^[0-9a-f]{40}$"`

// A deletion's `after` is all zeros (Gitea's payload has no `deleted`, and a filter naming a
// missing field drops every event).
const notDeleted = ` && after != "0000000000000000000000000000000000000000"`

// Sensor submits luban-build for each app's deliveries, with the app's settings written in from
// its file: the payload gives only the commit (a checked SHA), the commit before it and a pull
// request's number. Per app:
//   - a push to the default branch is built, tested, signed and deployed to the first
//     environment;
//   - a push to another branch is built, tested and signed as <image>:commit-<sha>, with its
//     statuses and no deploy;
//   - a pull request from a branch of the repository (opened, reopened, new commits) builds its
//     head commit as <image>:pr-<number>, never deployed; one from a fork is not built (its code
//     would run with the build's Secret).
//
// Tags and deletions start nothing.
func Sensor(apps []App, config Config) (*eventsv1.Sensor, error) {
	sensor := &eventsv1.Sensor{
		TypeMeta:   metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "Sensor"},
		ObjectMeta: metav1.ObjectMeta{Name: SensorName, Namespace: config.WorkflowsNamespace, Labels: map[string]string{partOf: "luban"}},
		Spec:       eventsv1.SensorSpec{Template: restricted(sensorAccount)},
	}
	for _, app := range apps {
		push := dependency(app, "push", "push",
			`ref == "refs/heads/" + default_branch && after =~ `+sha+notDeleted, ref, defaultBranch, after)
		branch := dependency(app, "branch-push", "push",
			`ref =~ "^refs/heads/" && ref != "refs/heads/" + default_branch && after =~ `+sha+notDeleted, ref, defaultBranch, after)
		// Gitea says "synchronized" where GitHub says "synchronize".
		pull := dependency(app, "pull-request", "pull_request",
			`head_repository == repository && head =~ `+sha+` && (action == "opened" || action == "reopened" || action == "synchronize" || action == "synchronized")`,
			headRepository, headSHA, action)
		sensor.Spec.Dependencies = append(sensor.Spec.Dependencies, push, branch, pull)

		deploy := map[string]string{
			"kustomization-dir": app.Spec.Environments[0].Path,
			"application":       app.Application(0),
			"image-name":        app.Metadata.Name,
		}
		if app.Spec.Build.RegistryCache {
			deploy["cache-image"] = app.CacheImage()
		}
		undeployed := map[string]string{"gitops-repo": "", "cache-image": ""}
		triggers := []struct {
			name, dependency, image string
			revision, since         string
			fixed                   map[string]string
		}{
			{"build", push.Name, "", "body.after", "body.before", deploy},
			// Other branches and pull requests: no deploy, and no cache of the default branch's
			// to write to (their code runs in the build; the next push to main must not restore
			// what they left).
			{"build-branch", branch.Name, app.Spec.Image + ":commit-{{ .Input.body.after }}", "body.after", "body.before", undeployed},
			// The number is an integer in the payload: the tag is pr-<number>.
			{"build-pull-request", pull.Name, app.Spec.Image + ":pr-{{ .Input.body.number }}", "body.pull_request.head.sha", "body.pull_request.base.sha", undeployed},
		}
		for _, t := range triggers {
			fixed := map[string]string{
				"repo-url":         app.Spec.CloneURL,
				"forge-repository": app.Spec.Repository,
				"image":            app.Spec.Image,
			}
			maps.Copy(fixed, t.fixed)
			maps.Copy(fixed, app.buildParameters())
			trigger, err := workflowTrigger(app.Metadata.Name+"-"+t.name, t.dependency, fixed, t.image, t.revision, t.since)
			if err != nil {
				return nil, err
			}
			sensor.Spec.Triggers = append(sensor.Spec.Triggers, trigger)
		}
	}
	return sensor, nil
}

// buildParameters are the app's build settings as luban-build's parameters.
func (a App) buildParameters() map[string]string {
	parameters := map[string]string{}
	if len(a.Spec.Build.Env) > 0 {
		var lines []string
		for _, key := range slices.Sorted(maps.Keys(a.Spec.Build.Env)) {
			lines = append(lines, key+"="+a.Spec.Build.Env[key])
		}
		parameters["build-env"] = strings.Join(lines, "\n")
	}
	if a.Spec.Build.Tests != nil {
		parameters["tests"] = fmt.Sprint(*a.Spec.Build.Tests)
	}
	if a.Spec.Build.Lint != nil {
		parameters["lint"] = fmt.Sprint(*a.Spec.Build.Lint)
	}
	return parameters
}

// workflowTrigger submits luban-build with `fixed` parameters and, from the delivery of
// `dependency`, the revision and the commit before it; `image`, when set, is a template of the
// delivery (a tag with the commit or pull request number) that replaces the fixed image.
func workflowTrigger(name, dependency string, fixed map[string]string, image, revision, since string) (eventsv1.Trigger, error) {
	type parameter struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	var parameters []parameter
	var fromDelivery []eventsv1.TriggerParameter
	fromPayload := func(name string, src eventsv1.TriggerParameterSource) {
		src.DependencyName = dependency
		fromDelivery = append(fromDelivery, eventsv1.TriggerParameter{Src: &src,
			Dest: fmt.Sprintf("spec.arguments.parameters.%d.value", len(parameters))})
		parameters = append(parameters, parameter{Name: name})
	}
	fromPayload("revision", eventsv1.TriggerParameterSource{DataKey: revision})
	// The secret scan reads the commits since this one.
	fromPayload("since", eventsv1.TriggerParameterSource{DataKey: since})
	if image != "" {
		fromPayload("image", eventsv1.TriggerParameterSource{DataTemplate: image})
		delete(fixed, "image")
	}
	for _, key := range slices.Sorted(maps.Keys(fixed)) {
		parameters = append(parameters, parameter{Name: key, Value: fixed[key]})
	}
	workflow := map[string]any{
		"apiVersion": "argoproj.io/v1alpha1",
		"kind":       "Workflow",
		"metadata":   map[string]any{"generateName": name + "-"},
		"spec": map[string]any{
			"workflowTemplateRef": map[string]any{"name": "luban-build"},
			"arguments":           map[string]any{"parameters": parameters},
		},
	}
	raw, err := json.Marshal(workflow)
	if err != nil {
		return eventsv1.Trigger{}, err
	}
	resource := eventsv1.K8SResource{Value: raw}
	return eventsv1.Trigger{Template: &eventsv1.TriggerTemplate{
		Name:       name,
		Conditions: dependency,
		ArgoWorkflow: &eventsv1.ArgoWorkflowTrigger{
			Operation:  eventsv1.Submit,
			Source:     &eventsv1.ArtifactLocation{Resource: &resource},
			Parameters: fromDelivery,
		},
	}}, nil
}
