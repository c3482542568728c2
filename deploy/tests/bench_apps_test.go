package tests

// make bench-apps: several apps pushing at once on one node. The loop test's site with three
// apps (the sample app and two beside it, each onboarded by its own file), then
// LUBAN_BENCH_ROUNDS (3) rounds in which every app pushes a code change to web_flask, all of
// them within seconds: the Sensor submits a Workflow per push at once, the builds queue on the
// `parallel-builds` semaphore (2), and deploys queue per app. Every push must end deployed or
// superseded (an older commit never replaces a newer one), none lost, and each app must end
// answering its last push. The table goes to the log and to bench/results/apps-<time>.md.
// Not part of make test.

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

// benchPush is one push of the load run and what became of it.
type benchPush struct {
	app      string
	round    int
	revision string
	greeting string
	pushed   time.Time
	workflow *wfv1.Workflow
	result   string    // the deploy step's: deployed, superseded, …
	answered time.Time // when the app first answered with this push's greeting (zero: never)
}

func TestBenchApps(t *testing.T) {
	requireE2E(t)
	rounds := 3
	if n, err := strconv.Atoi(os.Getenv("LUBAN_BENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	l := newPushLoopOf(t, "second-app", "third-app")
	type app struct {
		name   string
		port   int
		commit func(text string) string
		push   func()
	}
	targets := []app{{"sample-app", l.port,
		func(text string) string { return l.commit(t, text, l.greeting(t, text)) },
		func() { l.push(t, "main") }}}
	for _, other := range l.others {
		targets = append(targets, app{other.name, other.port,
			func(text string) string { return other.commit(t, text) },
			func() { l.forge.git(t, other.app, "push", "-q", l.forge.pushURL(other.repo), "HEAD:main") }})
	}

	// Each app's answers, polled every 250 ms from before the first push: when each greeting
	// was first seen.
	stop := make(chan struct{})
	var wait sync.WaitGroup
	seen := make([]map[string]time.Time, len(targets))
	for i, target := range targets {
		seen[i] = map[string]time.Time{}
		wait.Add(1)
		go func() {
			defer wait.Done()
			client := &http.Client{Timeout: time.Second}
			for {
				select {
				case <-stop:
					return
				case <-time.After(250 * time.Millisecond):
				}
				if _, body, err := ask(client, target.port); err == nil {
					for round := 1; round <= rounds; round++ {
						greeting := fmt.Sprintf("%s round %d", target.name, round)
						if _, ok := seen[i][greeting]; !ok && strings.Contains(body, greeting) {
							seen[i][greeting] = time.Now()
						}
					}
				}
			}
		}()
	}

	var pushes []*benchPush
	for round := 1; round <= rounds; round++ {
		for _, target := range targets {
			greeting := fmt.Sprintf("%s round %d", target.name, round)
			revision := target.commit(greeting)
			pushed := time.Now()
			target.push()
			pushes = append(pushes, &benchPush{app: target.name, round: round, revision: revision, greeting: greeting, pushed: pushed})
		}
	}
	t.Logf("%d pushes of %d apps in %s", len(pushes), len(targets), time.Since(pushes[0].pushed).Round(100*time.Millisecond))
	// A Workflow per push, none lost: by the revision each builds.
	byRevision := map[string]*benchPush{}
	for _, push := range pushes {
		byRevision[push.revision] = push
	}
	var names []string
	for range pushes {
		name := l.b.nextWorkflow(t, l.seen)
		revision := l.workflow(t, name).Spec.Arguments.GetParameterByName("revision")
		if revision == nil || byRevision[revision.Value.String()] == nil {
			t.Fatalf("the Workflow %s builds %v, none of the pushes", name, revision)
		}
		names = append(names, name)
	}
	for _, name := range names {
		done := l.b.waitWorkflow(t, name)
		push := byRevision[done.Spec.Arguments.GetParameterByName("revision").Value.String()]
		push.workflow, push.result = done, deployResult(done)
		if done.Status.Phase != wfv1.WorkflowSucceeded || (push.result != "deployed" && push.result != "superseded") {
			t.Errorf("%s round %d (%s): %s, deploy %q\n%s", push.app, push.round, name, done.Status.Phase, push.result, l.b.failedStepLog(t, done))
		}
	}
	// Each app ends answering its last round.
	for _, target := range targets {
		last := fmt.Sprintf("%s round %d", target.name, rounds)
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
			if body := answer(t, target.port); strings.Contains(body, last) {
				break
			}
		}
		if body := answer(t, target.port); !strings.Contains(body, last) {
			t.Errorf("%s answers %q, not its last push", target.name, body)
		}
	}
	close(stop)
	wait.Wait()
	for i, target := range targets {
		for _, push := range pushes {
			if push.app == target.name {
				push.answered = seen[i][push.greeting]
			}
		}
	}
	report := appsTable(pushes, len(targets))
	t.Logf("%d apps × %d pushes on the node:\n%s", len(targets), rounds, report)
	path := filepath.Join(repoRoot(t), "bench", "results", "apps-"+time.Now().UTC().Format("20060102T1504")+".md")
	header := fmt.Sprintf("# make bench-apps, %s\n\n%d apps (web_flask each, onboarded by its own file) × %d code-change pushes, all pushed within seconds; parallel-builds 2; the gates on; the node of `make cluster` (2 cores). Seconds.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), len(targets), rounds)
	if err := os.WriteFile(path, []byte(header+report), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("written to %s", path)
}

// appsTable is a Markdown table of the load run, a row per push, and its summary: outcomes,
// builds per hour (pushes whose image was built, over the time from the first push to the last
// workflow's end) and push → the app answers, p50 and p95, over the pushes that went live.
func appsTable(pushes []*benchPush, apps int) string {
	var out strings.Builder
	out.WriteString("| app | round | deploy | waited for a build slot | workflow | push → the app answers |\n|---|---:|---|---:|---:|---:|\n")
	outcomes := map[string]int{}
	var live []float64
	built := 0
	first, last := pushes[0].pushed, pushes[0].pushed
	for _, push := range pushes {
		w := push.workflow
		outcomes[push.result]++
		start, _ := stepSpan(w, []string{"clone"})
		if _, exported := stepSpan(w, []string{"export"}); !exported.IsZero() {
			built++
		}
		if w.Status.FinishedAt.After(last) {
			last = w.Status.FinishedAt.Time
		}
		answers := "never (superseded)"
		if !push.answered.IsZero() {
			seconds := push.answered.Sub(push.pushed).Seconds()
			live = append(live, seconds)
			answers = fmt.Sprintf("%.1f", seconds)
		}
		fmt.Fprintf(&out, "| %s | %d | %s | %.0f | %.0f | %s |\n", push.app, push.round, push.result,
			start.Sub(w.CreationTimestamp.Time).Seconds(), w.Status.FinishedAt.Sub(w.CreationTimestamp.Time).Seconds(), answers)
	}
	slices.Sort(live)
	percentile := func(p float64) float64 {
		if len(live) == 0 {
			return 0
		}
		return live[min(len(live)-1, int(p*float64(len(live))+0.5)-1)]
	}
	span := last.Sub(first)
	fmt.Fprintf(&out, "\n%d pushes of %d apps: %d deployed, %d superseded, %d other; none lost.\n", len(pushes), apps,
		outcomes["deployed"], outcomes["superseded"], len(pushes)-outcomes["deployed"]-outcomes["superseded"])
	fmt.Fprintf(&out, "%d images built in %.0f s from the first push to the last workflow's end: %.0f builds/hour.\n", built, span.Seconds(), float64(built)/span.Hours())
	fmt.Fprintf(&out, "push → the app answers (%d pushes that went live): p50 %.1f s, p95 %.1f s.\n", len(live), percentile(0.5), percentile(0.95))
	return out.String()
}
