package main

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const (
	deployed = "1111111111111111111111111111111111111111"
	newer    = "2222222222222222222222222222222222222222"
)

func application(sync, revision, phase, operated, message string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"spec": map[string]any{"destination": map[string]any{"namespace": "sample-app"}},
		"status": map[string]any{
			"sync": map[string]any{"status": sync, "revision": revision},
			"operationState": map[string]any{
				"phase": phase, "message": message,
				"syncResult": map[string]any{"revision": operated},
			},
			"resources": []any{
				map[string]any{"group": "apps", "kind": "Deployment", "name": "sample-app", "namespace": "sample-app"},
				map[string]any{"group": "", "kind": "Service", "name": "sample-app", "namespace": "sample-app"},
				map[string]any{"group": "apps", "kind": "Deployment", "name": "worker"},
			},
		},
	}}
}

func TestApplicationSync(t *testing.T) {
	synced := ApplicationSync(application("Synced", newer, "Succeeded", newer, ""), newer)
	if !synced.Synced || synced.Failure != "" {
		t.Fatalf("synced to the commit: %+v", synced)
	}
	want := []Resource{{"sample-app", "sample-app"}, {"sample-app", "worker"}}
	if len(synced.Deployments) != 2 || synced.Deployments[0] != want[0] || synced.Deployments[1] != want[1] {
		t.Errorf("the Deployments (a missing namespace is the destination's): %+v", synced.Deployments)
	}
	// Synced, but to the commit before: still waiting.
	if s := ApplicationSync(application("Synced", deployed, "Succeeded", deployed, ""), newer); s.Synced || s.Failure != "" {
		t.Errorf("synced to another commit must wait: %+v", s)
	}
	if s := ApplicationSync(application("OutOfSync", newer, "Running", newer, ""), newer); s.Synced || s.Failure != "" {
		t.Errorf("a running sync must wait: %+v", s)
	}
	failed := ApplicationSync(application("OutOfSync", deployed, "Failed", newer, "one or more objects failed to apply,\n reason: Deployment.apps is forbidden"), newer)
	if failed.Synced || !strings.Contains(failed.Failure, "could not sync GitOps commit 222222222222: one or more objects failed to apply, reason: Deployment.apps is forbidden") {
		t.Errorf("a failed sync of the commit: %+v", failed)
	}
	// A failed sync of an older commit is not this commit's failure.
	if s := ApplicationSync(application("OutOfSync", deployed, "Failed", deployed, "boom"), newer); s.Failure != "" {
		t.Errorf("an older commit's failed sync: %+v", s)
	}
}

func deployment(generation, observed int64, replicas, updated, available, total int32, conditions ...appsv1.DeploymentCondition) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "sample-app", Generation: generation},
		Spec:       appsv1.DeploymentSpec{Replicas: &replicas},
		Status: appsv1.DeploymentStatus{ObservedGeneration: observed, UpdatedReplicas: updated,
			AvailableReplicas: available, Replicas: total, Conditions: conditions},
	}
}

func TestDeploymentProgress(t *testing.T) {
	for name, tc := range map[string]struct {
		d        *appsv1.Deployment
		complete bool
		failure  string
	}{
		"rolled out":                     {deployment(3, 3, 2, 2, 2, 2), true, ""},
		"not yet seen by the controller": {deployment(4, 3, 2, 2, 2, 2), false, ""},
		"new pod not yet available":      {deployment(3, 3, 1, 1, 1, 2), false, ""},
		"an old pod still terminating":   {deployment(3, 3, 1, 1, 1, 2), false, ""},
		"new pods not ready":             {deployment(3, 3, 2, 2, 0, 2), false, ""},
		"deadline passed": {deployment(3, 3, 1, 1, 1, 2, appsv1.DeploymentCondition{
			Type: appsv1.DeploymentProgressing, Reason: "ProgressDeadlineExceeded",
			Message: `ReplicaSet "sample-app-5d8" has timed out progressing.`}),
			false, `Deployment sample-app did not progress within its deadline (ReplicaSet "sample-app-5d8" has timed out progressing.)`},
	} {
		got := DeploymentProgress(tc.d)
		if got.Complete != tc.complete || got.Failure != tc.failure {
			t.Errorf("%s: %+v", name, got)
		}
	}
}

func pod(statuses ...corev1.ContainerStatus) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "sample-app-5d8-x2x"},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "registry/app@sha256:new"}}},
		Status: corev1.PodStatus{ContainerStatuses: statuses}}
}

func TestPodFailure(t *testing.T) {
	crashed := corev1.ContainerStatus{Name: "web", RestartCount: 1,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 10s restarting failed container"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3,
			Message: "Traceback (most recent call last):\n  File \"app.py\", line 1\nModuleNotFoundError: No module named 'nope'\n\n"}}}
	reason, container, lines := PodFailure(pod(crashed))
	if container != "web" {
		t.Errorf("the failing container: %q", container)
	}
	if reason != "pod sample-app-5d8-x2x, container web: exited with code 3, restarted 1 times, CrashLoopBackOff; its output: ModuleNotFoundError: No module named 'nope'" {
		t.Errorf("crash loop: %q", reason)
	}
	if len(lines) != 3 || lines[0] != "Traceback (most recent call last):" {
		t.Errorf("the last output, blank lines dropped: %q", lines)
	}

	// Restarted twice and running again: crash-looping before the kubelet says so.
	running := corev1.ContainerStatus{Name: "web", RestartCount: 2,
		State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}}
	if reason, _, _ := PodFailure(pod(running)); reason != "pod sample-app-5d8-x2x, container web: exited with code 1, restarted 2 times" {
		t.Errorf("restarted twice: %q", reason)
	}

	pull := corev1.ContainerStatus{Name: "web", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
		Reason: "ImagePullBackOff", Message: "Back-off pulling image \"registry/app@sha256:new\""}}}
	if reason, _, _ := PodFailure(pod(pull)); !strings.HasSuffix(reason, `ImagePullBackOff: Back-off pulling image "registry/app@sha256:new"`) {
		t.Errorf("image pull: %q", reason)
	}

	for name, status := range map[string]corev1.ContainerStatus{
		"starting":           {Name: "web", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}},
		"running, not ready": {Name: "web", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
		"restarted once":     {Name: "web", RestartCount: 1, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
		"pulling, once":      {Name: "web", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull"}}},
	} {
		if reason, _, _ := PodFailure(pod(status)); reason != "" {
			t.Errorf("%s may still become ready: %q", name, reason)
		}
	}
}

// gunicorn's own traceback follows the app's import error: the app's error is the telling line.
func TestTheTellingLineIsTheAppsError(t *testing.T) {
	lines := []string{
		"Traceback (most recent call last):",
		`  File "/workspace/app.py", line 1, in <module>`,
		"ModuleNotFoundError: No module named 'luban_no_such_module'",
		"[2026-12-05 14:59:29 +0000] [1] [ERROR] Reason: Worker failed to boot.",
		"Traceback (most recent call last):",
		"    raise HaltServer(reason, self.WORKER_BOOT_ERROR)",
		"gunicorn.errors.HaltServer: <HaltServer 'Worker failed to boot.' 3>",
	}
	if got := telling(lines); got != "ModuleNotFoundError: No module named 'luban_no_such_module'" {
		t.Errorf("telling: %q", got)
	}
	if got := telling([]string{"starting", "Killed"}); got != "Killed" {
		t.Errorf("without a Python error, the last line: %q", got)
	}
	if got := telling(nil); got != "" {
		t.Errorf("no output: %q", got)
	}
}

func TestRunsTemplate(t *testing.T) {
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "web", Image: "registry/app@sha256:new"}}}}}}
	if !RunsTemplate(pod(), d) {
		t.Error("a pod of the new image")
	}
	d.Spec.Template.Spec.Containers[0].Image = "registry/app@sha256:old"
	if RunsTemplate(pod(), d) {
		t.Error("a pod of another image")
	}
}

func TestRedact(t *testing.T) {
	for line, want := range map[string]string{
		"sqlalchemy.exc.OperationalError: connection to postgresql://app:s3cr3t@db:5432/app failed": "sqlalchemy.exc.OperationalError: connection to postgresql://app:***@db:5432/app failed",
		"KeyError: 'DATABASE_URL'":                   "KeyError: 'DATABASE_URL'",
		"settings: API_KEY=abc123 DEBUG=1":           "settings: API_KEY=*** DEBUG=1",
		`config {"db_password": "hunter2", "x": 1}`:  `config {"db_password": ***, "x": 1}`,
		"ValueError: SECRET_KEY: 'xyz' is too short": "ValueError: SECRET_KEY: *** is too short",
		"https://example.com/path@v1":                "https://example.com/path@v1",
	} {
		if got := Redact(line); got != want {
			t.Errorf("Redact(%q) = %q, want %q", line, got, want)
		}
	}
}
