package main

import (
	"strings"
	"testing"
)

// A gitleaks report as `gitleaks dir --redact --report-format json` writes it.
const report = `[
 {"RuleID": "private-key", "Description": "Identified a Private Key.", "StartLine": 1, "File": "deploy.pem",
  "Match": "REDACTED", "Secret": "REDACTED", "Fingerprint": "deploy.pem:private-key:1"},
 {"RuleID": "aws-access-token", "Description": "Identified a pattern that may indicate AWS credentials.", "StartLine": 12,
  "File": "app/settings.py", "Match": "REDACTED", "Secret": "REDACTED", "Fingerprint": "app/settings.py:aws-access-token:12"}
]`

func TestSecretFindingsAreSummedUpByKindAndPlace(t *testing.T) {
	findings, err := ParseFindings([]byte(report))
	if err != nil {
		t.Fatal(err)
	}
	if len(findings) != 2 || findings[0].File != "app/settings.py" {
		t.Fatalf("findings, by file: %+v", findings)
	}
	if got := SecretsSummary(findings); got != "2 secrets found; the first: AWS access token in app/settings.py:12" {
		t.Errorf("summary: %q", got)
	}
	if got := SecretsSummary(findings[1:]); got != "private key in deploy.pem:1" {
		t.Errorf("one finding: %q", got)
	}
	if got := SecretsSummary(nil); got != "no secrets found" {
		t.Errorf("none: %q", got)
	}
	if _, err := ParseFindings([]byte(`{"not": "a list"}`)); err == nil || !strings.Contains(err.Error(), "report") {
		t.Errorf("a report of another shape must be an error: %v", err)
	}
}

func TestTheGateNeverPassesGitleaksAnotherConfiguration(t *testing.T) {
	env := withoutGitleaksConfig([]string{"PATH=/bin", "GITLEAKS_CONFIG=/workspace/source/off.toml", "GITLEAKS_CONFIG_TOML=x", "HOME=/tmp"})
	if strings.Join(env, " ") != "PATH=/bin HOME=/tmp" {
		t.Errorf("env: %v", env)
	}
}

// A secret a pushed commit added and the commit still holds is one finding, named with its
// commit, carrying both fingerprints; one only in the history, or only in the files, stays.
func TestHistoryAndFilesFindingsMergeOncePerSecret(t *testing.T) {
	commit := "de9689d3736b24a537bf12935076e2213b69420b"
	history := []Leak{
		{RuleID: "aws-access-token", File: "settings.py", StartLine: 4, Commit: commit, Fingerprint: commit + ":settings.py:aws-access-token:4"},
		{RuleID: "private-key", File: "old.pem", StartLine: 1, Commit: commit, Fingerprint: commit + ":old.pem:private-key:1"},
	}
	files := []Leak{
		{RuleID: "aws-access-token", File: "settings.py", StartLine: 4, Fingerprint: "settings.py:aws-access-token:4"},
		{RuleID: "github-pat", File: "ci.sh", StartLine: 2, Fingerprint: "ci.sh:github-pat:2"},
	}
	merged := MergeFindings(files, history)
	if len(merged) != 3 {
		t.Fatalf("three secrets, each once: %+v", merged)
	}
	if merged[0].File != "ci.sh" || merged[0].Commit != "" || merged[1].File != "old.pem" || merged[2].FilesFingerprint != "settings.py:aws-access-token:4" {
		t.Errorf("merged, by file, the settings' key with both fingerprints: %+v", merged)
	}
	if got := SecretsSummary(merged[2:]); got != "AWS access token in settings.py:4 (commit de9689d3736b)" {
		t.Errorf("a pushed commit's finding names its commit: %q", got)
	}
}

func TestOnlyFullCommitSHAsReachGit(t *testing.T) {
	for _, good := range []string{strings.Repeat("a", 40), strings.Repeat("0f", 32)} {
		if !isCommitSHA(good) {
			t.Errorf("%q is a commit SHA", good)
		}
	}
	for _, bad := range []string{"", "main", "HEAD~1", strings.Repeat("A", 40), strings.Repeat("a", 39), "--all" + strings.Repeat("a", 35), strings.Repeat("a", 40) + "\n"} {
		if isCommitSHA(bad) {
			t.Errorf("%q must not pass as a commit SHA", bad)
		}
	}
}
