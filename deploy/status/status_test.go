package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// node is a workflow node as the Workflow object has it.
func node(id, name, kind, phase string, started int, outputs map[string]string) Node {
	n := Node{ID: id, DisplayName: name, Type: kind, Phase: phase, StartedAt: time.Unix(int64(started), 0)}
	if len(outputs) > 0 {
		n.Outputs = &struct {
			Parameters []struct {
				Name  string  `json:"name"`
				Value *string `json:"value"`
			} `json:"parameters"`
		}{}
		for name, value := range outputs {
			value := value
			n.Outputs.Parameters = append(n.Outputs.Parameters, struct {
				Name  string  `json:"name"`
				Value *string `json:"value"`
			}{name, &value})
		}
	}
	return n
}

func nodes(list ...Node) map[string]Node {
	all := map[string]Node{}
	for _, n := range list {
		all[n.ID] = n
	}
	return all
}

func byContext(statuses []Status) map[string]Status {
	m := map[string]Status{}
	for _, s := range statuses {
		m[s.Context] = s
	}
	return m
}

func TestEveryStageIsPendingWhileTheBuildStarts(t *testing.T) {
	got := byContext(Statuses(nodes(node("c", "clone", "Pod", "Running", 1, nil)), false))
	if len(got) != len(Stages) {
		t.Fatalf("one status per stage, got %v", got)
	}
	for _, s := range got {
		if s.State != "pending" {
			t.Errorf("%s: %s, want pending", s.Context, s.State)
		}
	}
}

func TestAGoodBuildIsSuccessEverywhere(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	all := nodes(
		node("s", "secret-scan", "Pod", "Succeeded", 2, map[string]string{"result": "no secrets found"}),
		node("v", "vulnerability-gate", "Pod", "Succeeded", 2, nil),
		node("p", "tests", "Pod", "Succeeded", 2, map[string]string{"result": "3 passed"}),
		node("l", "lint", "Pod", "Succeeded", 2, nil),
		node("u", "reuse", "Pod", "Succeeded", 2, nil), node("q", "publish-reused", "Skipped", "Skipped", 3, nil),
		node("a", "analyze", "Pod", "Succeeded", 3, nil), node("d", "detect", "Pod", "Succeeded", 4, nil),
		node("r", "restore", "Pod", "Succeeded", 5, nil), node("b", "build", "Pod", "Succeeded", 6, nil),
		node("e", "export", "Pod", "Succeeded", 7, map[string]string{"digest": digest}),
		node("o", "sbom", "Pod", "Succeeded", 7, nil),
		node("g", "sign", "Pod", "Succeeded", 8, nil), node("t", "attest-sbom", "Pod", "Succeeded", 9, nil),
		node("y", "deploy", "Steps", "Succeeded", 10, map[string]string{"result": "deployed"}),
	)
	got := byContext(Statuses(all, false))
	for _, s := range got {
		if s.State != "success" {
			t.Errorf("%s: %s (%s), want success", s.Context, s.State, s.Description)
		}
	}
	if d := got["luban/build"].Description; d != "built sha256:abababababab" {
		t.Errorf("the build's description: %q", d)
	}
	if d := got["luban/deploy"].Description; d != "deployed and live" {
		t.Errorf("the deploy's description: %q", d)
	}
	if got["luban/build"].NodeID != "o" {
		t.Errorf("the build's status should link its last step, links %q", got["luban/build"].NodeID)
	}
}

// An image of the same inputs, reused: the build's and signing's steps were skipped, and their
// statuses say so as successes.
func TestAReusedImageIsBuiltAndSignedAlready(t *testing.T) {
	digest := "sha256:" + strings.Repeat("cd", 32)
	all := nodes(node("u", "reuse", "Pod", "Succeeded", 2, map[string]string{"digest": digest}))
	all["p"] = node("p", "publish-reused", "Pod", "Succeeded", 3, nil)
	for i, step := range []string{"analyze", "detect", "restore", "build", "export", "sbom", "sign", "attest-sbom"} {
		all[step] = node(step, step, "Skipped", "Skipped", 3+i, nil)
	}
	got := byContext(Statuses(all, true))
	if s := got["luban/build"]; s.State != "success" || s.Description != "reused sha256:cdcdcdcdcdcd: its inputs were built before" {
		t.Errorf("luban/build of a reused image: %+v", s)
	}
	if s := got["luban/sign"]; s.State != "success" || s.Description != "signed when it was built (reused)" {
		t.Errorf("luban/sign of a reused image: %+v", s)
	}
	// The registry could not be asked: the build stage failed, saying so.
	failed := nodes(node("u", "reuse", "Pod", "Failed", 2, nil))
	failed["u"] = Node{ID: "u", DisplayName: "reuse", Type: "Pod", Phase: "Failed", Message: "Error: can't ask the registry for registry.example/app:inputs-…"}
	if s := byContext(Statuses(failed, true))["luban/build"]; s.State != "failure" || !strings.Contains(s.Description, "can't ask the registry") {
		t.Errorf("luban/build when reuse failed: %+v", s)
	}
}

// A gate failed while `reuse` ran beside it: the build's other steps never started, and its
// status says which stage stopped it.
func TestABuildStoppedByAGateIsNotRunThoughReuseRan(t *testing.T) {
	all := nodes(
		node("s", "secret-scan", "Pod", "Succeeded", 2, nil),
		node("p", "tests", "Pod", "Failed", 2, map[string]string{"result": "`uv.lock` is out of date"}),
		node("u", "reuse", "Pod", "Succeeded", 2, nil),
	)
	got := byContext(Statuses(all, true))
	if s := got["luban/build"]; s.State != "error" || s.Description != "not run: luban/tests failed" {
		t.Errorf("luban/build after a failed gate: %+v", s)
	}
}

// A stage is not done while one of its steps is still to come.
func TestAStageHalfDoneIsPending(t *testing.T) {
	all := nodes(node("a", "analyze", "Pod", "Succeeded", 3, nil), node("d", "detect", "Pod", "Running", 4, nil))
	if s := byContext(Statuses(all, false))["luban/build"]; s.State != "pending" || s.Description != "detect running" || s.NodeID != "d" {
		t.Errorf("luban/build while detect runs: %+v", s)
	}
}

func TestAFailedGateNamesTheFindingAndTheStagesAfterItAreNotRun(t *testing.T) {
	all := nodes(
		node("s", "secret-scan", "Pod", "Failed", 2, map[string]string{"result": "1 secret: AWS access token in settings.py:1"}),
		node("v", "vulnerability-gate", "Pod", "Succeeded", 2, nil),
	)
	got := byContext(Statuses(all, true))
	if s := got["luban/secrets"]; s.State != "failure" || s.Description != "secret-scan: 1 secret: AWS access token in settings.py:1" || s.NodeID != "s" {
		t.Errorf("luban/secrets: %+v", s)
	}
	if s := got["luban/vulnerabilities"]; s.State != "success" {
		t.Errorf("luban/vulnerabilities: %+v", s)
	}
	for _, context := range []string{"luban/build", "luban/sign", "luban/deploy"} {
		if s := got[context]; s.State != "error" || s.Description != "not run: luban/secrets failed" {
			t.Errorf("%s: %+v", context, s)
		}
	}
}

// A failed rollout is reported from the pod inside the deploy step that failed first, with
// the reason it wrote.
func TestAFailedDeploySaysWhyFromTheStepInsideIt(t *testing.T) {
	deploy := node("y", "deploy", "Steps", "Failed", 10, nil)
	rollout := node("y1", "rollout", "Pod", "Failed", 11, map[string]string{"reason": "pod app-1: container app exited with code 3"})
	rollout.BoundaryID = "y"
	failed := node("y2", "rollout-failed", "Pod", "Failed", 14, nil)
	failed.BoundaryID = "y"
	failed.Message = "Error (exit code 1)"
	s := byContext(Statuses(nodes(deploy, rollout, failed), true))["luban/deploy"]
	if s.State != "failure" || s.Description != "rollout: pod app-1: container app exited with code 3" || s.NodeID != "y1" {
		t.Errorf("luban/deploy: %+v", s)
	}
}

// A failed build's description is the buildpack's error line from the container's output,
// which Argo puts in the node's message.
func TestAFailedBuildSaysTheBuildpacksError(t *testing.T) {
	build := node("b", "build", "Pod", "Failed", 6, nil)
	build.Message = "Error (exit code 1): Error: the app's own line\n[Determining the Python version]\n\x1b[31m! Error: `uv.lock` is out of date\x1b[0m\n\nRun `uv lock` in the project.\nERROR: failed to build: exit status 1"
	s := byContext(Statuses(nodes(build), true))["luban/build"]
	if s.State != "failure" || s.Description != "build failed: `uv.lock` is out of date" {
		t.Errorf("luban/build: %+v", s)
	}
}

// Build-time code chose what the build step printed: without our headline, the status says
// where to look and repeats none of it.
func TestABuildStepsOutputIsNeverRepeatedUnlessItIsOurHeadline(t *testing.T) {
	build := node("b", "build", "Pod", "Failed", 6, nil)
	build.Message = "Error (exit code 1): error: AKIAZ7X2Q4M5N6P3RSTW\nERROR: failed to build: exit status 1"
	s := byContext(Statuses(nodes(build), true))["luban/build"]
	if s.Description != "build failed with exit code 1; its log has the output" {
		t.Errorf("luban/build: %+v", s)
	}
	clone := node("c", "export", "Pod", "Failed", 7, nil)
	clone.Message = "Error (exit code 1): error: pushing to https://bot:hunter2@registry.example/app: password=hunter2"
	if s := byContext(Statuses(nodes(clone), true))["luban/build"]; strings.Contains(s.Description, "hunter2") {
		t.Errorf("a credential in a status: %+v", s)
	}
}

func TestDescriptionsFitGitHubsLimit(t *testing.T) {
	long := strings.Repeat("word ", 60)
	s := byContext(Statuses(nodes(node("s", "secret-scan", "Pod", "Failed", 2, map[string]string{"result": long})), true))["luban/secrets"]
	if n := len([]rune(s.Description)); n > 140 {
		t.Errorf("description of %d characters", n)
	}
}

func TestTargetURLOpensTheStepsLog(t *testing.T) {
	if got := TargetURL("https://argo.example/", "ci", "luban-build-x", "n1"); got != "https://argo.example/workflows/ci/luban-build-x?nodeId=n1&sidePanel=logs:n1:main" {
		t.Errorf("target URL: %s", got)
	}
	if got := TargetURL("", "ci", "w", "n"); got != "" {
		t.Errorf("no UI, no URL: %s", got)
	}
}

func TestOptionsAreChecked(t *testing.T) {
	good := Options{Mode: "watch", Workflow: "luban-build-x", Namespace: "ci", ForgeAPI: "https://gitea.example/api/v1",
		Repository: "team/app", Revision: strings.Repeat("a", 40), RetryFor: time.Minute}
	if err := good.check(); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(*Options){
		"mode":            func(o *Options) { o.Mode = "both" },
		"repository path": func(o *Options) { o.Repository = "team/../admin" },
		"repository":      func(o *Options) { o.Repository = "team/app/statuses" },
		"revision":        func(o *Options) { o.Revision = "main" },
		"forge API":       func(o *Options) { o.ForgeAPI = "https://user:pass@gitea.example" },
		"forge scheme":    func(o *Options) { o.ForgeAPI = "file:///etc/passwd" },
		"argo UI":         func(o *Options) { o.ArgoUI = "javascript:alert(1)" },
		"post's state":    func(o *Options) { o.Mode, o.Post = "post", Status{Context: "luban/lint", State: "done"} },
		"post's context":  func(o *Options) { o.Mode, o.Post = "post", Status{Context: "luban lint", State: "success"} },
	} {
		o := good
		change(&o)
		if o.check() == nil {
			t.Errorf("%s: accepted %+v", name, o)
		}
	}
}

// The forge answering 503 twice: the third post arrives; a 422 is final and says why, without
// the token.
func TestPostRetriesWhileTheForgeIsDown(t *testing.T) {
	var calls atomic.Int32
	var got map[string]string
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if r.Header.Get("Authorization") != "token secret-token" || r.URL.Path != "/repos/team/app/statuses/"+strings.Repeat("a", 40) {
			http.Error(w, "wrong request", http.StatusUnprocessableEntity)
			return
		}
		json.NewDecoder(r.Body).Decode(&got)
		w.WriteHeader(http.StatusCreated)
	}))
	defer server.Close()
	forge := &Forge{API: server.URL, Repository: "team/app", Token: "secret-token", RetryFor: 10 * time.Second, Client: server.Client()}
	if err := forge.Post(strings.Repeat("a", 40), Status{Context: "luban/build", State: "success", Description: "built"}, "https://argo/x"); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 || got["context"] != "luban/build" || got["state"] != "success" || got["target_url"] != "https://argo/x" {
		t.Errorf("%d calls, posted %v", calls.Load(), got)
	}
	forge.Repository = "other/app"
	err := forge.Post(strings.Repeat("a", 40), Status{Context: "luban/build", State: "success"}, "")
	if err == nil || !strings.Contains(err.Error(), "422") || strings.Contains(forge.redact(err.Error()+forge.Token), "secret-token") {
		t.Errorf("a refused post should fail at once, saying so without the token: %v", err)
	}
}
