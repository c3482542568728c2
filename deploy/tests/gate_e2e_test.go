package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The gate step of the WorkflowTemplate, with its real command and arguments, in a container:
// osv-scanner (built by install-tools.sh at the pinned version) and luban-osv-gate (built
// here from deploy/gate) scan a uv.lock that uv locked against the private index, offline,
// against an OSV database directory this test writes.
func TestE2EVulnerabilityGateStopsAdvisoriesAtTheThreshold(t *testing.T) {
	requireE2E(t)
	bin := t.TempDir()
	buildGate(t, bin)
	scanner := lookTool(t, "osv-scanner")

	db := t.TempDir()
	writeOSVDatabase(t, db, gateAdvisory)
	index := startIndex(t)
	app := t.TempDir()
	lockApp(t, app, index, "1.0.0")
	// The app's own osv-scanner.toml would silence the advisory with no reason or date: the
	// gate doesn't honour it.
	writeFile(t, filepath.Join(app, "osv-scanner.toml"), "[[IgnoredVulns]]\nid = \"LUBAN-2026-0001\"\n")
	chownToBuildUser(t, app)

	gate := func(threshold, database string) (string, string, error) {
		s := loadStep(t, "deploy/argo/workflows/build-template.yaml", "vulnerability-gate",
			map[string]string{"gate-image": gitImage, "vulnerability-threshold": threshold, "osv-database-max-age-days": "7"})
		// What a site with an artifact repository adds to keep the findings as JSON.
		s.Args = append(s.Args, "--report=/tmp/vulnerability-report.json")
		return s.runReading(t, gitImage, "1001:1000", "/tmp/vulnerability-report.json",
			app+":/workspace/source:ro", database+":/osv:ro",
			gateMount(bin),
			scanner+":/usr/local/bin/osv-scanner:ro")
	}
	expect := func(what string, out string, err error, failed bool, texts ...string) {
		t.Helper()
		if (err != nil) != failed {
			t.Errorf("%s: the step should have %s: %v\n%s", what, map[bool]string{true: "failed", false: "passed"}[failed], err, out)
		}
		for _, text := range texts {
			if !strings.Contains(out, text) {
				t.Errorf("%s: %q not in the step's output:\n%s", what, text, out)
			}
		}
	}

	out, report, err := gate("high", db)
	expect("1.0.0 locked", out, err, true,
		"error: luban-private-greeting 1.0.0: LUBAN-2026-0001 (high severity), also CVE-2026-99999",
		"Fixed in 1.0.1: upgrade (`uv lock --upgrade-package luban-private-greeting`)",
		"the vulnerability gate stopped the build: 1 advisory at or above high severity")
	var parsed struct {
		Findings []struct {
			ID     string `json:"id"`
			Blocks bool   `json:"blocks"`
		} `json:"findings"`
	}
	if json.Unmarshal([]byte(report), &parsed) != nil || len(parsed.Findings) != 1 || !parsed.Findings[0].Blocks {
		t.Errorf("the report should list the blocking advisory: %q", report)
	}

	out, _, err = gate("critical", db)
	expect("threshold critical", out, err, false, "note: luban-private-greeting 1.0.0: LUBAN-2026-0001", "No advisory at or above critical severity")

	allowList := filepath.Join(app, ".luban", "vulnerability-allowlist.toml")
	writeFile(t, allowList, "[[allow]]\nid = \"CVE-2026-99999\"\nreason = \"we never greet strangers\"\nexpires = 2999-12-31\n")
	out, _, err = gate("high", db)
	expect("allow-listed", out, err, false, "warning: luban-private-greeting 1.0.0: LUBAN-2026-0001", "Accepted by the allow-list until 2999-12-31: we never greet strangers")

	writeFile(t, allowList, "[[allow]]\nid = \"LUBAN-2026-0001\"\nreason = \"we never greet strangers\"\nexpires = 2026-01-31\n")
	out, _, err = gate("high", db)
	expect("allow-list entry expired", out, err, true, "accepted it until 2026-01-31; that date has passed")

	writeFile(t, allowList, "[[allow]]\nid = \"LUBAN-2026-0001\"\nreason = \"forever\"\n")
	out, _, err = gate("high", db)
	expect("allow-list entry without a date", out, err, true, "an expiry date is required")
	os.Remove(allowList)

	out, _, err = gate("high", t.TempDir())
	expect("no database", out, err, true, "no OSV database for PyPI at /osv/osv-scanner/PyPI/all.zip")

	out, _, err = gate("severe", db)
	expect("bad threshold", out, err, true, `the severity threshold "severe" is not one of`)

	lockApp(t, app, index, "1.0.1")
	out, _, err = gate("high", db)
	expect("1.0.1 locked", out, err, false, "No advisory at or above high severity: the build may be deployed (0 finding(s) in all)")

	// Fails closed. A database with no advisories, or a months-old one, clears nothing.
	empty, stale := t.TempDir(), t.TempDir()
	writeOSVDatabase(t, empty)
	writeOSVDatabase(t, stale, strings.Replace(gateAdvisoryModifiedOn, "MODIFIED", "2026-09-01T00:00:00Z", 1))
	out, _, err = gate("high", empty)
	expect("empty database", out, err, true, "has no advisories: an empty database would pass every build")
	out, _, err = gate("high", stale)
	expect("stale database", out, err, true, "is stale: its newest advisory was modified 2026-09-01")

	// The build installs uv.lock, also when it is a link inside the app; the gate scans that
	// one, not a harmless requirements.txt beside it.
	vulnerable := t.TempDir()
	lockApp(t, vulnerable, index, "1.0.0")
	app = t.TempDir()
	copyTree(t, vulnerable, app)
	os.MkdirAll(filepath.Join(app, "locks"), 0o755)
	os.Rename(filepath.Join(app, "uv.lock"), filepath.Join(app, "locks/prod.lock"))
	os.Symlink("locks/prod.lock", filepath.Join(app, "uv.lock"))
	writeFile(t, filepath.Join(app, "requirements.txt"), "luban-private-greeting==1.0.1\n")
	out, _, err = gate("high", db)
	expect("uv.lock linked inside the app", out, err, true, "Scanned uv.lock", "error: luban-private-greeting 1.0.0: LUBAN-2026-0001")

	// A range in requirements.txt can't be matched to a version: refused, naming the line.
	app = t.TempDir()
	writeFile(t, filepath.Join(app, "requirements.txt"), "six==1.17.0\nluban-private-greeting<1.0.1\n")
	out, _, err = gate("high", db)
	expect("unpinned requirement", out, err, true, "requirements.txt line 2: `luban-private-greeting<1.0.1` is not pinned to one version")
}

// The `sbom` step, with its real command, in a container (luban-osv-gate built here): it
// passes on the SBOM the build wrote once it has checked it, says why when there is none, and
// refuses a symbolic link that hostile build-time code left where the SBOM should be — the
// link that once made the signing step attest the registry's Docker config.
func TestE2ESBOMStepPassesOnACheckedSBOMAndNeverFollowsALink(t *testing.T) {
	requireE2E(t)
	bin := t.TempDir()
	buildGate(t, bin)
	const path = "layers/sbom/launch/luban_python-uv/venv/sbom.cdx.json"
	secret := filepath.Join(t.TempDir(), "config.json")
	token := "luban-e2e-sbom-token-" + fmt.Sprint(time.Now().UnixNano())
	writeFile(t, secret, `{"auths":{"registry.example":{"auth":"`+token+`"}}}`)

	sbomStep := func(ws string) (string, string, string, error) {
		s := loadStep(t, "deploy/argo/workflows/build-template.yaml", "sbom", map[string]string{"gate-image": gitImage})
		mounts := []string{ws + ":/workspace:ro", gateMount(bin),
			// Where the signing step mounts the registry's Docker config.
			secret + ":/luban/registry-auth/config.json:ro"}
		out, sbom, err := s.runReading(t, gitImage, "1001:1000", "/tmp/luban-sbom.json", mounts...)
		_, present, _ := s.runReading(t, gitImage, "1001:1000", "/tmp/luban-sbom.json.present", mounts...)
		return out, sbom, present, err
	}

	ws := workspace(t)
	writeFile(t, filepath.Join(ws, path), `{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,
 "components":[{"type":"library","bom-ref":"flask-1@3.1.0","name":"flask","version":"3.1.0","purl":"pkg:pypi/flask@3.1.0"}]}`)
	out, sbom, present, err := sbomStep(ws)
	if err != nil || present != "true" || !strings.Contains(sbom, `"purl":"pkg:pypi/flask@3.1.0"`) || !strings.Contains(out, "1 components") {
		t.Errorf("a CycloneDX SBOM should be passed on: %v present=%q sbom=%q\n%s", err, present, sbom, out)
	}

	out, sbom, present, err = sbomStep(workspace(t))
	if err != nil || present != "false" || sbom != "" || !strings.Contains(out, "No dependency SBOM to attest") {
		t.Errorf("no SBOM: the step should say so and pass on nothing: %v present=%q sbom=%q\n%s", err, present, sbom, out)
	}

	for _, link := range []string{path, "layers/sbom"} {
		hostile := workspace(t)
		writeFile(t, filepath.Join(hostile, path), `{"bomFormat":"CycloneDX","specVersion":"1.5"}`)
		os.RemoveAll(filepath.Join(hostile, link))
		target := "/luban/registry-auth/config.json"
		if link != path {
			target = "/luban/registry-auth"
		}
		if err := os.Symlink(target, filepath.Join(hostile, link)); err != nil {
			t.Fatal(err)
		}
		out, sbom, _, err = sbomStep(hostile)
		if err == nil || !strings.Contains(out, link+" is a symbolic link: refused") || strings.Contains(out+sbom, token) {
			t.Errorf("a link at %s must fail the step without reading what it points at: %v sbom=%q\n%s", link, err, sbom, out)
		}
	}
}

// The clone and secret scan steps of the WorkflowTemplate, their real commands, in containers
// as luban-build chains them: gitleaks (built by install-tools.sh at the pinned version) and
// luban-osv-gate over a commit's files and the commits pushed since `since`.
func TestE2ESecretScanStopsACommitWithACredential(t *testing.T) {
	requireE2E(t)
	s := newSecretScanSite(t)
	if out, result, err := s.scan(t, s.head(t), ""); err != nil || !strings.Contains(out, "no secrets found in the commit's files and its whole history") || result != "no secrets found" {
		t.Fatalf("a clean app must pass: %v\n%s\nresult %q", err, out, result)
	}

	// A key and a secret in the settings, a private key beside them, and the app's own
	// .gitleaks.toml that would switch the rules off: the gate doesn't read it.
	before := s.head(t)
	key, secret := "AKIAZ7X2Q4M5N6P3RSTW", "w9Jr2kXbQ8vN4mT6yP1sL3dF7gH0zA5cE8uB2nM4"
	leak := s.commit(t, "settings", map[string]string{
		"settings.py":    "import os\n\nDEBUG = False\nAWS_ACCESS_KEY_ID = \"" + key + "\"\nAWS_SECRET_ACCESS_KEY = \"" + secret + "\"\n",
		".gitleaks.toml": "[extend]\nuseDefault = false\n[[rules]]\nid = \"nothing\"\nregex = \"zzzzzzzzzzzz\"\n",
	})
	out, result, err := s.scan(t, leak, before)
	if err == nil {
		t.Fatalf("a commit with a credential must fail the step:\n%s", out)
	}
	where := fmt.Sprintf("AWS access token in settings.py:4 (commit %.12s)", leak)
	for _, text := range []string{where, "settings.py:5", "fingerprint: " + leak + ":settings.py:aws-access-token:4",
		"fingerprint: settings.py:aws-access-token:4", "nothing was built", "rotate it", ".gitleaksignore"} {
		if !strings.Contains(out, text) {
			t.Errorf("%q not in the step's output:\n%s", text, out)
		}
	}
	if result != "2 secrets found; the first: "+where {
		t.Errorf("the one-line result: %q", result)
	}
	if strings.Contains(out, key) || strings.Contains(out, secret) || strings.Contains(result, key) {
		t.Errorf("the secret itself must never be printed:\n%s", out)
	}

	// Removed in the next commit: a push of both still fails (the key is in the forge's
	// history), naming the commit; a later push, whose commits don't hold it, passes.
	removed := s.commit(t, "no settings", map[string]string{"settings.py": ""})
	if out, result, err := s.scan(t, removed, before); err == nil || result != "2 secrets found; the first: "+where {
		t.Errorf("a key removed in the same push must still fail it: %v %q\n%s", err, result, out)
	}
	if out, _, err := s.scan(t, removed, leak); err != nil || !strings.Contains(out, fmt.Sprintf("no secrets found in the commit's files and the pushed commits (%.12s..%.12s)", leak, removed)) {
		t.Errorf("a push after the key's must pass: %v\n%s", err, out)
	}
	// A `since` outside the history (a forced push) or all zeros (a new branch): the whole
	// history, which holds the key.
	for _, since := range []string{strings.Repeat("0", 40), strings.Repeat("e", 40)} {
		if out, result, err := s.scan(t, removed, since); err == nil || result != "2 secrets found; the first: "+where {
			t.Errorf("since %s must scan the whole history: %v %q\n%s", since, err, result, out)
		}
	}

	// Findings someone checked, by fingerprint in .gitleaksignore: the push passes.
	fingerprints := regexp.MustCompile(`fingerprint: (\S+)`).FindAllStringSubmatch(out, -1)
	var ignore strings.Builder
	for _, m := range fingerprints {
		ignore.WriteString(m[1] + "\n")
	}
	allowed := s.commit(t, "checked", map[string]string{".gitleaksignore": ignore.String()})
	if out, _, err := s.scan(t, allowed, before); err != nil || !strings.Contains(out, "no secrets found") {
		t.Errorf("findings in .gitleaksignore must pass: %v\n%s", err, out)
	}
}

// The tests step of the WorkflowTemplate, with its real command, in a container: uv installs
// the locked dev group (pytest) with a Python from the testbed mirror and runs the app's
// tests on a copy of the commit; a failing test fails the step naming it, the commit's files
// stay as they were, and `[tool.luban] tests = false` turns it off.
func TestE2ETestsStepRunsTheProjectsTestsAndNamesTheFailures(t *testing.T) {
	requireE2E(t)
	app := t.TempDir()
	copyTree(t, filepath.Join(repoRoot(t), "test-fixtures/web_flask"), app)
	run := sandboxStep(t, "tests", app)
	writeFile(t, filepath.Join(app, "test_app.py"), webFlaskTest("Hello from Luban"))
	out, result, err := run()
	if err != nil || strings.TrimSpace(result) != "2 passed" {
		t.Fatalf("the app's passing tests must pass the step: %v\n%s\nresult %q", err, out, result)
	}

	writeFile(t, filepath.Join(app, "test_app.py"), webFlaskTest("Hello from the tests"))
	before := treeListing(t, app)
	out, result, err = run()
	if err == nil {
		t.Fatalf("a failing test must fail the step:\n%s", out)
	}
	if strings.TrimSpace(result) != "1 passed, 1 failed: test_app.py::test_greeting" || !strings.Contains(out, "nothing was built") {
		t.Errorf("the result should name the failing test: %q\n%s", result, out)
	}
	if after := treeListing(t, app); after != before {
		t.Errorf("the tests must run on a copy: the commit's files changed\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// A dependency added without `uv lock`: the lock can't install, and the result says why.
	pyproject, err := os.ReadFile(filepath.Join(app, "pyproject.toml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(app, "pyproject.toml"), strings.Replace(string(pyproject), "dependencies = [", `dependencies = ["six>=1.16", `, 1))
	if out, result, err := run(); err == nil || strings.TrimSpace(result) != "`uv.lock` is out of date: run `uv lock` and commit it" {
		t.Errorf("a stale lock must fail the step saying so: %v %q\n%s", err, result, out)
	}

	writeFile(t, filepath.Join(app, "pyproject.toml"), string(pyproject)+"\n[tool.luban]\ntests = false\n")
	if out, result, err := run(); err != nil || strings.TrimSpace(result) != "turned off ([tool.luban] tests = false)" {
		t.Errorf("[tool.luban] tests = false must skip the tests: %v %q\n%s", err, result, out)
	}
}

// The lint step with its real command, in a container: the ruff the app locked (added to its
// dev group with uv) checks a copy of the commit; an unused import and then a file ruff would
// reformat fail it, named; clean code passes.
func TestE2ELintStepRunsTheRuffTheProjectLocked(t *testing.T) {
	requireE2E(t)
	app := t.TempDir()
	copyTree(t, filepath.Join(repoRoot(t), "test-fixtures/web_flask"), app)
	run := sandboxStep(t, "lint", app)
	if out, result, err := run(); err != nil || strings.TrimSpace(result) != "no linter configured" {
		t.Fatalf("an app without ruff has nothing to lint: %v %q\n%s", err, result, out)
	}
	if out, err := exec.Command(filepath.Join(repoRoot(t), "scripts/uv.sh"), app, "add", "--quiet", "--dev", "--no-sync", "ruff").CombinedOutput(); err != nil {
		t.Fatalf("uv add --dev ruff: %v\n%s", err, out)
	}
	source, err := os.ReadFile(filepath.Join(app, "app.py"))
	if err != nil {
		t.Fatal(err)
	}
	if out, result, err := run(); err != nil || strings.TrimSpace(result) != "ruff check and ruff format: clean" {
		t.Fatalf("the fixture is clean: %v %q\n%s", err, result, out)
	}
	writeFile(t, filepath.Join(app, "app.py"), "import json\n"+string(source))
	out, result, err := run()
	if err == nil || !strings.HasPrefix(strings.TrimSpace(result), "1 ruff check problem; the first: app.py:1:8 F401") {
		t.Errorf("an unused import must fail the step, named: %v %q\n%s", err, result, out)
	}
	writeFile(t, filepath.Join(app, "app.py"), strings.Replace(string(source), "app = Flask(__name__)", "app = Flask( __name__ )", 1))
	out, result, err = run()
	if err == nil || strings.TrimSpace(result) != "1 file to reformat (app.py)" {
		t.Errorf("a file ruff would reformat must fail the step, named: %v %q\n%s", err, result, out)
	}
}
