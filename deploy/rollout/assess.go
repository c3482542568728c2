package main

import (
	"fmt"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The decisions of a rollout check, as pure functions over the objects the API server returns:
// is the Application synced to the GitOps commit, has a Deployment finished rolling out, and
// has a new pod failed in a way that waiting won't mend.

// Resource is a Deployment the Application manages.
type Resource struct{ Namespace, Name string }

// Sync is what the Application says about the GitOps commit being rolled out.
type Sync struct {
	Synced      bool
	Failure     string // set when Argo CD tried to sync the commit and failed
	State       string // for the log while waiting
	Deployments []Resource
}

// ApplicationSync reads an Argo CD Application: synced to `revision` (a GitOps commit SHA), or
// failed syncing it, or neither yet.
func ApplicationSync(app *unstructured.Unstructured, revision string) Sync {
	str := func(fields ...string) string {
		value, _, _ := unstructured.NestedString(app.Object, fields...)
		return value
	}
	status, synced := str("status", "sync", "status"), str("status", "sync", "revision")
	phase, message := str("status", "operationState", "phase"), str("status", "operationState", "message")
	operated := str("status", "operationState", "syncResult", "revision")
	if operated == "" {
		operated = str("status", "operationState", "operation", "sync", "revision")
	}
	result := Sync{State: fmt.Sprintf("Argo CD: sync %s at %s, last operation %s", orNone(status), short(synced), orNone(phase))}
	if operated == revision && (phase == "Failed" || phase == "Error") {
		result.Failure = fmt.Sprintf("Argo CD could not sync GitOps commit %s: %s", short(revision), oneLine(message))
		return result
	}
	if status != "Synced" || synced != revision {
		return result
	}
	result.Synced = true
	resources, _, _ := unstructured.NestedSlice(app.Object, "status", "resources")
	for _, item := range resources {
		resource, ok := item.(map[string]any)
		if !ok {
			continue
		}
		group, _ := resource["group"].(string)
		kind, _ := resource["kind"].(string)
		if group != "apps" || kind != "Deployment" {
			continue
		}
		namespace, _ := resource["namespace"].(string)
		name, _ := resource["name"].(string)
		if namespace == "" {
			namespace, _, _ = unstructured.NestedString(app.Object, "spec", "destination", "namespace")
		}
		result.Deployments = append(result.Deployments, Resource{namespace, name})
	}
	return result
}

// Progress is how far a Deployment's rollout has come.
type Progress struct {
	Complete bool
	Failure  string
	State    string
}

// DeploymentProgress is `kubectl rollout status` as a function: complete when the controller
// has seen the current spec, every replica runs it and is available, and no old replica is
// left; failed when the Deployment's progress deadline passed.
func DeploymentProgress(d *appsv1.Deployment) Progress {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	state := fmt.Sprintf("Deployment %s: %d of %d updated, %d available, %d in all", d.Name, s.UpdatedReplicas, want, s.AvailableReplicas, s.Replicas)
	for _, c := range s.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" && s.ObservedGeneration >= d.Generation {
			return Progress{Failure: fmt.Sprintf("Deployment %s did not progress within its deadline (%s)", d.Name, oneLine(c.Message)), State: state}
		}
	}
	if s.ObservedGeneration < d.Generation {
		return Progress{State: fmt.Sprintf("Deployment %s: waiting for the controller to see generation %d", d.Name, d.Generation)}
	}
	complete := s.UpdatedReplicas == want && s.Replicas == want && s.AvailableReplicas == want
	return Progress{Complete: complete, State: state}
}

// Waiting reasons that mean a container won't start by itself: the image can't be pulled, its
// configuration names something that isn't there, or it keeps exiting.
var stuck = map[string]bool{
	"CrashLoopBackOff":           true,
	"ImagePullBackOff":           true,
	"ErrImageNeverPull":          true,
	"InvalidImageName":           true,
	"CreateContainerConfigError": true,
	"CreateContainerError":       true,
	"RunContainerError":          true,
}

// restartsToFail: a new pod whose container restarted this often is crash-looping, whether or
// not the kubelet has said so yet.
const restartsToFail = 2

// PodFailure says why a pod of the new version can't become ready, or "" while it still may.
// Its `lines` are the container's last output, when the kubelet kept it (terminationMessagePolicy
// FallbackToLogsOnError); `container` is the failing container's name.
func PodFailure(pod *corev1.Pod) (reason, container string, lines []string) {
	for _, c := range pod.Status.ContainerStatuses {
		waiting := ""
		if c.State.Waiting != nil {
			waiting = c.State.Waiting.Reason
		}
		if !stuck[waiting] && c.RestartCount < restartsToFail {
			continue
		}
		var parts []string
		if terminated := c.LastTerminationState.Terminated; terminated != nil {
			parts = append(parts, fmt.Sprintf("exited with code %d", terminated.ExitCode))
			lines = lastLines(terminated.Message, 80)
		} else if terminated := c.State.Terminated; terminated != nil {
			parts = append(parts, fmt.Sprintf("exited with code %d", terminated.ExitCode))
			lines = lastLines(terminated.Message, 80)
		}
		if c.RestartCount > 0 {
			parts = append(parts, fmt.Sprintf("restarted %d times", c.RestartCount))
		}
		if waiting != "" {
			detail := waiting
			if m := c.State.Waiting.Message; m != "" && waiting != "CrashLoopBackOff" {
				detail += ": " + oneLine(m)
			}
			parts = append(parts, detail)
		}
		reason = fmt.Sprintf("pod %s, container %s: %s", pod.Name, c.Name, strings.Join(parts, ", "))
		if line := telling(lines); line != "" {
			reason += "; its output: " + line
		}
		return reason, c.Name, lines
	}
	return "", "", nil
}

// RunsTemplate tells the pods of a Deployment's current template from the old ones: same
// container images, in order.
func RunsTemplate(pod *corev1.Pod, d *appsv1.Deployment) bool {
	want := d.Spec.Template.Spec.Containers
	if len(pod.Spec.Containers) != len(want) {
		return false
	}
	for i, c := range pod.Spec.Containers {
		if c.Image != want[i].Image {
			return false
		}
	}
	return true
}

// The app's last output goes into the step's log, the commit status and the rollback's GitOps
// commit: a password in a URL, or in a `password=…`-style pair, is masked there first.
var (
	urlPassword = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*):[^/\s@]+@`)
	secretPair  = regexp.MustCompile(`(?i)\b([a-z0-9_]*(?:password|passwd|secret|token|api_?key|access_?key)[a-z0-9_]*)(["']?\s*[=:]\s*)("[^"]*"|'[^']*'|\S+)`)
)

// Redact masks what looks like a credential in a line of the app's output.
func Redact(line string) string {
	line = urlPassword.ReplaceAllString(line, "$1:***@")
	return secretPair.ReplaceAllString(line, "$1$2***")
}

// pythonError is the last line of a Python traceback: the exception and its message.
var pythonError = regexp.MustCompile(`^[A-Za-z_][\w.]*(Error|Exception): `)

// telling picks the line of a crashed container's output that says most: the last Python
// exception with a message (a server's own shutdown traceback often follows the app's error),
// else the last line.
func telling(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if pythonError.MatchString(lines[i]) {
			return lines[i]
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return lines[len(lines)-1]
}

func lastLines(text string, n int) []string {
	var lines []string
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if line = strings.TrimRight(line, " \r\t"); line != "" {
			lines = append(lines, Redact(line))
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

func oneLine(text string) string {
	return strings.Join(strings.Fields(text), " ")
}

func orNone(text string) string {
	if text == "" {
		return "(none)"
	}
	return text
}

func short(revision string) string {
	if len(revision) > 12 {
		return revision[:12]
	}
	return orNone(revision)
}
