package tests

// Every pod that deploy/ defines is checked with the upstream Pod Security Admission code at
// level "restricted", the level a namespace enforcing Pod Security would apply: Workflow
// template containers (with the workflow's pod security context), the Sensor's and
// EventSource's pods, and the GitOps example's Deployment. The one exception is the documented
// pack variant, whose Docker-in-Docker sidecar must be privileged.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	cdv1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

func TestEveryPodInDeployPassesPodSecurityRestricted(t *testing.T) {
	var pods []namedPod
	for _, file := range []string{
		"deploy/argo/workflows/build-template.yaml",
		"deploy/argo/workflows/build-template-pack.yaml",
		"deploy/argo/cd/update-digest-template.yaml",
		"deploy/argo/cd/promote-template.yaml",
	} {
		pods = append(pods, workflowPods(t, file)...)
	}
	pods = append(pods,
		argoEventsPod(t, "Sensor"),
		argoEventsPod(t, "EventSource"),
		deploymentPod(t, "deploy/argo/cd/gitops-example/apps/sample-app/base/deployment.yaml"),
		deploymentPod(t, "deploy/admission/admission.yaml"),
	)
	// Every manifest with a pod in it is covered: a new one must be added above.
	covered := map[string]bool{}
	for _, pod := range pods {
		covered[strings.SplitN(pod.name, "#", 2)[0]] = true
	}
	filepath.WalkDir(filepath.Join(repoRoot(t), "deploy"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		raw, _ := os.ReadFile(path)
		rel, _ := filepath.Rel(repoRoot(t), path)
		if (strings.Contains(string(raw), "containers:") || strings.Contains(string(raw), "container:")) && !covered[rel] {
			t.Errorf("%s defines containers but is not checked for Pod Security", rel)
		}
		return nil
	})

	for _, pod := range pods {
		violations := restrictedViolations(t, &pod.spec)
		reason, excepted := podSecurityExceptions[pod.name]
		switch {
		case excepted && len(violations) == 0:
			t.Errorf("%s is listed as an exception (%s) but passes: remove it from the list", pod.name, reason)
		case !excepted && len(violations) > 0:
			t.Errorf("%s violates Pod Security \"restricted\":\n  %s", pod.name, strings.Join(violations, "\n  "))
		}
	}
}

// The check itself: a container without the restricted settings is reported.
func TestPodSecurityCheckReportsAnUnrestrictedContainer(t *testing.T) {
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}
	if len(restrictedViolations(t, &spec)) == 0 {
		t.Fatal("a bare container must violate restricted")
	}
}

// What a commit to the GitOps repository can deploy, decided by Argo CD's own project checks
// and the Pod Security admission code at the level the app's namespace enforces: only the
// app's namespaced kinds, only in its namespace; no cluster-wide object (a Namespace would let
// it adopt, relabel or prune any namespace); no privileged pod; the app's pods get no token.
func TestAGitOpsCommitCannotReachBeyondItsApp(t *testing.T) {
	const file = "luban-apps' rendering of deploy/install/apps"
	namespace, app, project := exampleDeploy(t)

	for _, gk := range []schema.GroupKind{{Kind: "Namespace"}, {Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"},
		{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}, {Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration"}} {
		if project.IsGroupKindPermitted(gk, false) {
			t.Errorf("the project lets a GitOps commit create the cluster-wide %s", gk)
		}
	}
	for _, gk := range []schema.GroupKind{{Kind: "Secret"}, {Kind: "ServiceAccount"}, {Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}, {Kind: "Pod"}} {
		if project.IsGroupKindPermitted(gk, true) {
			t.Errorf("the project lets a GitOps commit create a %s, which the app doesn't need", gk)
		}
	}
	if !project.IsGroupKindPermitted(schema.GroupKind{Group: "apps", Kind: "Deployment"}, true) {
		t.Error("the project must let the app's Deployment through")
	}
	cluster := &cdv1.Cluster{Server: app.Spec.Destination.Server}
	none := func(string) ([]*cdv1.Cluster, error) { return nil, nil }
	for ns, want := range map[string]bool{namespace.Name: true, "kube-system": false, "argo": false, "argocd": false, "default": false} {
		if got, err := project.IsDestinationPermitted(cluster, ns, none); err != nil || got != want {
			t.Errorf("deploying into %q: permitted=%v, want %v (%v)", ns, got, want, err)
		}
	}
	if app.Spec.Destination.Namespace != namespace.Name || app.Spec.SyncPolicy.SyncOptions.HasOption("CreateNamespace=true") {
		t.Errorf("the Application must deploy into the namespace %s defines (%s), and not create one", file, namespace.Name)
	}

	// luban-admission's webhook covers the namespace: only signed images run there.
	var webhook admissionregistrationv1.ValidatingWebhookConfiguration
	decodeDocument(t, "deploy/admission/admission.yaml", "ValidatingWebhookConfiguration", &webhook)
	selector, err := metav1.LabelSelectorAsSelector(webhook.Webhooks[0].NamespaceSelector)
	if err != nil || !selector.Matches(labels.Set(namespace.Labels)) {
		t.Errorf("the namespace's labels %v must match luban-admission's namespaceSelector (%v)", namespace.Labels, err)
	}

	// The namespace enforces Pod Security; a privileged pod in a commit is refused there, the
	// sample app is admitted.
	level, err := psaapi.ParseLevel(namespace.Labels[psaapi.EnforceLevelLabel])
	if err != nil || level != psaapi.LevelRestricted {
		t.Fatalf("the namespace must enforce Pod Security restricted, has %q", namespace.Labels[psaapi.EnforceLevelLabel])
	}
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks())
	if err != nil {
		t.Fatal(err)
	}
	admitted := func(spec *corev1.PodSpec) bool {
		for _, result := range evaluator.EvaluatePod(psaapi.LevelVersion{Level: level, Version: psaapi.LatestVersion()}, &metav1.ObjectMeta{}, spec) {
			if !result.Allowed {
				return false
			}
		}
		return true
	}
	privileged := true
	hostile := corev1.PodSpec{HostPID: true, Containers: []corev1.Container{{Name: "x", Image: "x",
		SecurityContext: &corev1.SecurityContext{Privileged: &privileged}}}}
	if admitted(&hostile) {
		t.Error("a privileged pod committed to the GitOps repository must be refused by the namespace")
	}
	sample := deploymentPod(t, "deploy/argo/cd/gitops-example/apps/sample-app/base/deployment.yaml")
	if !admitted(&sample.spec) {
		t.Error("the sample app must be admitted by its namespace")
	}
	if sample.spec.AutomountServiceAccountToken == nil || *sample.spec.AutomountServiceAccountToken {
		t.Error("the sample app's pods must not mount a service-account token")
	}
}
