package tests

// make bench-loop: push → live on the node, hop by hop. The loop test's site (newPushLoop:
// Gitea, Argo Events, Argo Workflows, Argo CD, the gates on), one push to set it up, then
// LUBAN_BENCH_PUSHES (5) code changes to web_flask, one at a time. Each hop is read from where
// it happens: the Sensor's Workflow appearing (polled), each step's pod (the Workflow's node
// times, whole seconds), the app's first answer with the new greeting (polled every 250 ms).
// The table goes to the log and to bench/results/loop-<time>.md. Not part of make test.

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

// The hops of a push, in order: a name and the steps (display names) whose span it is.
var loopHops = []struct {
	name  string
	steps []string
}{
	{"clone", []string{"clone"}},
	{"gates (secrets, vulnerabilities, tests, lint, reuse)", []string{"secret-scan", "vulnerability-gate", "tests", "lint", "reuse"}},
	{"build (analyze … export, SBOM)", []string{"publish-reused", "analyze", "detect", "restore", "build", "export", "sbom"}},
	{"sign (image, SBOM attestation)", []string{"sign", "attest-sbom"}},
	{"verify signature, render", []string{"verify-signature", "render"}},
	{"preflight", []string{"preflight"}},
	{"GitOps commit", []string{"commit-digest"}},
	{"Argo CD sync + rollout (luban-rollout)", []string{"rollout"}},
}

func TestBenchLoop(t *testing.T) {
	requireE2E(t)
	pushes := 5
	if n, err := strconv.Atoi(os.Getenv("LUBAN_BENCH_PUSHES")); err == nil && n > 0 {
		pushes = n
	}
	l := newPushLoop(t)
	first := l.commit(t, "the first greeting", l.greeting(t, "Hello from bench push 0"))
	l.deploy(t, first, "Hello from bench push 0")

	columns := []string{"push → Workflow (webhook, Sensor)", "Workflow → first step running"}
	for _, hop := range loopHops {
		columns = append(columns, hop.name)
	}
	columns = append(columns, "steps' pods starting (gaps between steps)", "rollout step ended → first answer (negative: before)", "**push → the app answers**")
	var rows [][]float64
	for i := 1; i <= pushes; i++ {
		greeting := fmt.Sprintf("Hello from bench push %d", i)
		revision := l.commit(t, greeting, l.greeting(t, greeting))
		answered := firstAnswer(l.port, greeting)
		pushed := l.push(t, "main")
		name := l.b.nextWorkflow(t, l.seen)
		toWorkflow := time.Since(pushed).Seconds()
		done := l.b.waitWorkflow(t, name)
		if done.Status.Phase != wfv1.WorkflowSucceeded {
			t.Fatalf("bench push %d: %s: %s", i, done.Status.Phase, l.b.failedStepLog(t, done))
		}
		at := <-answered
		if at.IsZero() {
			t.Fatalf("bench push %d: the app never answered %q", i, greeting)
		}
		row := []float64{toWorkflow}
		start, _ := stepSpan(done, []string{"clone"})
		row = append(row, start.Sub(done.CreationTimestamp.Time).Seconds())
		inSteps := 0.0
		for _, hop := range loopHops {
			s, e := stepSpan(done, hop.steps)
			row = append(row, e.Sub(s).Seconds())
			inSteps += e.Sub(s).Seconds()
		}
		_, rolledOut := stepSpan(done, []string{"rollout"})
		row = append(row, rolledOut.Sub(start).Seconds()-inSteps, at.Sub(rolledOut).Seconds(), at.Sub(pushed).Seconds())
		rows = append(rows, row)
		t.Logf("bench push %d (%.12s): the app answers %.1f s after the push (workflow %s)", i, revision, at.Sub(pushed).Seconds(), name)
		l.deployed = revision
	}
	table := loopTable(columns, rows)
	t.Logf("push → live on the node, %d pushes:\n%s", pushes, table)
	dir := filepath.Join(repoRoot(t), "bench", "results")
	path := filepath.Join(dir, "loop-"+time.Now().UTC().Format("20060102T1504")+".md")
	header := fmt.Sprintf("# make bench-loop, %s\n\nweb_flask, a code change per push, the gates on; the node of `make cluster` (2 cores).\nSeconds; each step's time is its pod's, from the Workflow (whole seconds).\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	if err := os.WriteFile(path, []byte(header+table), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("written to %s", path)
}

// stepSpan is from the first start to the last finish of the Workflow's pods named `steps`.
func stepSpan(workflow *wfv1.Workflow, steps []string) (start, end time.Time) {
	for _, node := range workflow.Status.Nodes {
		if node.Type != wfv1.NodeTypePod || !slices.Contains(steps, node.DisplayName) || node.StartedAt.IsZero() {
			continue
		}
		if start.IsZero() || node.StartedAt.Time.Before(start) {
			start = node.StartedAt.Time
		}
		if node.FinishedAt.Time.After(end) {
			end = node.FinishedAt.Time
		}
	}
	return start, end
}

// firstAnswer polls the app from now on until it answers with `greeting` (3 minutes at most)
// and sends when it first did (zero if never).
func firstAnswer(port int, greeting string) <-chan time.Time {
	answered := make(chan time.Time, 1)
	go func() {
		client := &http.Client{Timeout: time.Second}
		for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
			if _, body, err := ask(client, port); err == nil && strings.Contains(body, greeting) {
				answered <- time.Now()
				return
			}
		}
		answered <- time.Time{}
	}()
	return answered
}

// loopTable is a Markdown table: a row per hop, a column per push, and the median.
func loopTable(columns []string, rows [][]float64) string {
	var out strings.Builder
	out.WriteString("| hop |")
	for i := range rows {
		fmt.Fprintf(&out, " push %d |", i+1)
	}
	out.WriteString(" median |\n|---|")
	for range rows {
		out.WriteString("---:|")
	}
	out.WriteString("---:|\n")
	for c, column := range columns {
		values := make([]float64, len(rows))
		fmt.Fprintf(&out, "| %s |", column)
		for r, row := range rows {
			values[r] = row[c]
			fmt.Fprintf(&out, " %.1f |", row[c])
		}
		slices.Sort(values)
		median := values[len(values)/2]
		if len(values)%2 == 0 {
			median = (values[len(values)/2-1] + values[len(values)/2]) / 2
		}
		fmt.Fprintf(&out, " %.1f |\n", median)
	}
	return out.String()
}
