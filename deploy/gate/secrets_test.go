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
