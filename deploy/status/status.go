package main

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// A Node is what luban-status reads of a workflow node (status.nodes in the Workflow object).
type Node struct {
	ID          string    `json:"id"`
	DisplayName string    `json:"displayName"`
	Type        string    `json:"type"`
	Phase       string    `json:"phase"`
	BoundaryID  string    `json:"boundaryID"`
	Message     string    `json:"message"`
	StartedAt   time.Time `json:"startedAt"`
	Outputs     *struct {
		Parameters []struct {
			Name  string  `json:"name"`
			Value *string `json:"value"`
		} `json:"parameters"`
	} `json:"outputs"`
}

func (n Node) output(name string) string {
	if n.Outputs == nil {
		return ""
	}
	for _, p := range n.Outputs.Parameters {
		if p.Name == name && p.Value != nil {
			return strings.TrimSpace(*p.Value)
		}
	}
	return ""
}

func (n Node) ended() bool {
	switch n.Phase {
	case "Succeeded", "Skipped", "Failed", "Error", "Omitted":
		return true
	}
	return false
}

func (n Node) failed() bool { return n.Phase == "Failed" || n.Phase == "Error" }

// A Stage is a commit status context and the steps of luban-build (display names of the
// build's top-level steps) whose outcome it reports. Its steps run in this order.
type Stage struct {
	Context string
	Steps   []string
	// What a success says, from the stage's nodes.
	Success func(nodes map[string]Node) string
}

// Stages are luban-build's stages as commit statuses. Their context names are stable: a branch
// protection rule requires them by name.
var Stages = []Stage{
	{Context: "luban/secrets", Steps: []string{"secret-scan"}, Success: func(nodes map[string]Node) string {
		return orDefault(nodes["secret-scan"].output("result"), "no secrets found")
	}},
	{Context: "luban/tests", Steps: []string{"tests"}, Success: func(nodes map[string]Node) string {
		if nodes["tests"].Phase == "Skipped" {
			return "turned off (the workflow's tests parameter)"
		}
		return orDefault(nodes["tests"].output("result"), "passed")
	}},
	{Context: "luban/lint", Steps: []string{"lint"}, Success: func(nodes map[string]Node) string {
		if nodes["lint"].Phase == "Skipped" {
			return "turned off (the workflow's lint parameter)"
		}
		return orDefault(nodes["lint"].output("result"), "clean")
	}},
	{Context: "luban/vulnerabilities", Steps: []string{"vulnerability-gate"}, Success: func(nodes map[string]Node) string {
		return orDefault(nodes["vulnerability-gate"].output("result"), "no vulnerability at or above the threshold")
	}},
	// `reuse` found an image of the same inputs: the build's steps are skipped.
	{Context: "luban/build", Steps: []string{"reuse", "publish-reused", "analyze", "detect", "restore", "build", "export", "sbom"}, Success: func(nodes map[string]Node) string {
		if digest := nodes["reuse"].output("digest"); digest != "" {
			return "reused " + shortDigest(digest) + ": its inputs were built before"
		}
		if digest := nodes["export"].output("digest"); digest != "" {
			return "built " + shortDigest(digest)
		}
		return "built"
	}},
	{Context: "luban/sign", Steps: []string{"sign", "attest-sbom"}, Success: func(nodes map[string]Node) string {
		switch {
		case nodes["sign"].Phase == "Skipped":
			return "signed when it was built (reused)"
		case nodes["attest-sbom"].Phase == "Succeeded":
			return "signed, with a signed SBOM"
		}
		return "signed"
	}},
	{Context: "luban/deploy", Steps: []string{"deploy"}, Success: func(nodes map[string]Node) string {
		switch result := nodes["deploy"].output("result"); result {
		case "deployed":
			return "deployed and live"
		case "":
			if nodes["deploy"].Phase == "Skipped" {
				return "not deployed (no GitOps repository)"
			}
			return "deployed"
		default:
			return result
		}
	}},
}

// A Status is one commit status to post.
type Status struct {
	Context     string `json:"context"`
	State       string `json:"state"`
	Description string `json:"description"`
	NodeID      string `json:"-"`
}

// Statuses works out each stage's status from the workflow's nodes. done says the build's
// steps are over (the exit handler, or the watcher once the `stages` node ended): a stage
// that never ran is then an error that names the stage that stopped the build.
func Statuses(all map[string]Node, done bool) []Status {
	// Each top-level step by display name, and every node inside it (templateRef'd steps).
	top := map[string]Node{}
	inside := map[string][]Node{}
	for _, n := range all {
		if n.Type == "StepGroup" {
			continue
		}
		top[n.DisplayName] = n
	}
	root := func(n Node) string {
		for seen := 0; n.BoundaryID != "" && seen < 16; seen++ {
			parent, ok := all[n.BoundaryID]
			if !ok {
				break
			}
			if _, stage := stageOf(parent.DisplayName); stage {
				return parent.DisplayName
			}
			n = parent
		}
		return ""
	}
	for _, n := range all {
		if name := root(n); name != "" && n.Type == "Pod" {
			inside[name] = append(inside[name], n)
		}
	}

	var statuses []Status
	firstFailure := ""
	for _, stage := range Stages {
		nodes := map[string]Node{}
		var members []Node
		for _, step := range stage.Steps {
			if n, ok := top[step]; ok {
				nodes[step] = n
				members = append(members, n)
				members = append(members, inside[step]...)
			}
		}
		sort.SliceStable(members, func(i, j int) bool { return members[i].StartedAt.Before(members[j].StartedAt) })
		status := Status{Context: stage.Context}
		var failed *Node
		for i := range members {
			if members[i].failed() && (failed == nil || members[i].Type == "Pod" && failed.Type != "Pod") {
				failed = &members[i]
			}
		}
		complete := len(nodes) == len(stage.Steps)
		for _, n := range nodes {
			complete = complete && n.ended()
		}
		switch {
		case failed != nil:
			status.State, status.Description, status.NodeID = "failure", failureText(*failed), failed.ID
			if failed.Phase == "Error" {
				status.State = "error"
			}
			if firstFailure == "" {
				firstFailure = stage.Context
			}
		case complete:
			status.State, status.Description = "success", stage.Success(nodes)
			status.NodeID = nodes[stage.Steps[len(stage.Steps)-1]].ID
		case done && (len(nodes) == 0 || firstFailure != ""):
			// Never started, or stopped when an earlier stage failed (the build's `reuse` runs
			// beside the gates, and the rest of its steps never start when one fails).
			status.State = "error"
			status.Description = "not run"
			if firstFailure != "" {
				status.Description = "not run: " + firstFailure + " failed"
			}
		case done:
			status.State, status.Description = "error", "stopped before it finished"
		default:
			status.State, status.Description = "pending", "waiting"
			for _, step := range stage.Steps {
				if n, ok := nodes[step]; ok && !n.ended() {
					status.Description, status.NodeID = step+" running", n.ID
				}
			}
		}
		status.Description = clip(status.Description)
		statuses = append(statuses, status)
	}
	return statuses
}

func stageOf(step string) (Stage, bool) {
	for _, stage := range Stages {
		for _, s := range stage.Steps {
			if s == step {
				return stage, true
			}
		}
	}
	return Stage{}, false
}

// failureText is what a failed node says: its one-line result or reason if it wrote one, else
// the telling line of its message (Argo puts the container's last output there when the
// container's terminationMessagePolicy is FallbackToLogsOnError).
func failureText(n Node) string {
	for _, name := range []string{"result", "reason"} {
		if text := n.output(name); text != "" {
			return n.DisplayName + ": " + text
		}
	}
	message := n.Message
	if _, rest, ok := strings.Cut(message, "): "); ok {
		message = rest
	}
	if buildTimeCode[n.DisplayName] {
		// The app's code printed into this output: only our buildpacks' own headline is
		// repeated (the last `Error: ` line), never a line the app's code could have chosen.
		if headline := lastHeadline(message); headline != "" {
			return n.DisplayName + " failed: " + headline
		}
		if m := exitCode.FindStringSubmatch(n.Message); m != nil {
			return n.DisplayName + " failed with exit code " + m[1] + "; its log has the output"
		}
		return n.DisplayName + " failed; its log has the output"
	}
	return n.DisplayName + " failed: " + Redact(tellingLine(message))
}

// The steps in which the app's build-time code runs (its build backend, an sdist's setup.py).
var buildTimeCode = map[string]bool{"detect": true, "build": true}

var exitCode = regexp.MustCompile(`\(exit code (\d+)\)`)

var headline = regexp.MustCompile(`^(?:!\s*)?Error: (.+)$`)

func lastHeadline(text string) string {
	found := ""
	for _, line := range strings.Split(text, "\n") {
		if m := headline.FindStringSubmatch(strings.TrimSpace(stripANSI.ReplaceAllString(line, ""))); m != nil {
			found = m[1]
		}
	}
	return Redact(found)
}

var (
	urlCredentials = regexp.MustCompile(`://[^/\s:@]+:[^/\s@]+@`)
	secretPair     = regexp.MustCompile(`(?i)\b(password|passwd|token|secret|api[_-]?key)(["']?\s*[=:]\s*)("[^"]*"|'[^']*'|\S+)`)
)

// Redact masks URL credentials and password=/token: pairs in text that goes into a status.
func Redact(text string) string {
	text = urlCredentials.ReplaceAllString(text, "://[redacted]@")
	return secretPair.ReplaceAllString(text, "${1}${2}[redacted]")
}

var errorLine = regexp.MustCompile(`(?i)^\s*(\[?error\]?|!|✗|×)[:\s]`)

// tellingLine picks the line of a failure's output a person wants first: the first line that
// says it is an error, else the last non-empty line.
func tellingLine(text string) string {
	var last string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(stripANSI.ReplaceAllString(line, ""))
		if line == "" {
			continue
		}
		if errorLine.MatchString(line) {
			return line
		}
		last = line
	}
	return orDefault(last, "no output")
}

var stripANSI = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

// clip keeps a description within GitHub's 140 characters.
func clip(text string) string {
	text = strings.Join(strings.Fields(text), " ")
	if runes := []rune(text); len(runes) > 140 {
		return string(runes[:139]) + "…"
	}
	return text
}

func shortDigest(digest string) string {
	if len(digest) > len("sha256:")+12 {
		return digest[:len("sha256:")+12]
	}
	return digest
}

func orDefault(text, otherwise string) string {
	if text == "" {
		return otherwise
	}
	return text
}

// TargetURL is the Argo Workflows UI's page of one node of the workflow, with its log open.
func TargetURL(ui, namespace, workflow, node string) string {
	if ui == "" {
		return ""
	}
	url := fmt.Sprintf("%s/workflows/%s/%s", strings.TrimRight(ui, "/"), namespace, workflow)
	if node != "" {
		url += "?nodeId=" + node + "&sidePanel=logs:" + node + ":main"
	}
	return url
}
