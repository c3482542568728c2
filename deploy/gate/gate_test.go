package main

import (
	"strings"
	"testing"
	"time"
)

// The shape of osv-scanner 2.3's JSON for one package with two advisories: one with a CVSS
// score (grouped, max_severity), one with only the GHSA database's severity word.
const scanJSON = `{"results":[{"source":{"path":"/workspace/source/uv.lock","type":"lockfile"},
 "packages":[{"package":{"name":"luban-private-greeting","version":"1.0.0","ecosystem":"PyPI"},
  "vulnerabilities":[
   {"id":"LUBAN-2026-0001","aliases":["CVE-2026-99999"],"summary":"Greeting injection",
    "affected":[{"package":{"name":"luban-private-greeting","ecosystem":"PyPI"},
     "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0.1"}]}]}]},
   {"id":"GHSA-aaaa-bbbb-cccc","summary":"Slow greeting","database_specific":{"severity":"MODERATE"},
    "affected":[{"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}],
  "groups":[{"ids":["LUBAN-2026-0001"],"aliases":["CVE-2026-99999","LUBAN-2026-0001"],"max_severity":"8.1"},
            {"ids":["GHSA-aaaa-bbbb-cccc"],"aliases":["GHSA-aaaa-bbbb-cccc"],"max_severity":""}]}]}]}`

var today = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

func evaluate(t *testing.T, allowList string) []Finding {
	t.Helper()
	allow, err := ParseAllowList("allow.toml", []byte(allowList))
	if err != nil {
		t.Fatal(err)
	}
	findings, err := Evaluate([]byte(scanJSON), allow, today)
	if err != nil {
		t.Fatal(err)
	}
	return findings
}

func TestSeverityComesFromTheScoreThenTheDatabaseWord(t *testing.T) {
	findings := evaluate(t, "")
	if len(findings) != 2 {
		t.Fatalf("want 2 findings, got %+v", findings)
	}
	ghsa, luban := findings[0], findings[1]
	if luban.Severity != High || ghsa.Severity != Medium {
		t.Errorf("severities: %s %s", luban.Severity, ghsa.Severity)
	}
	if !luban.Blocks(High) || ghsa.Blocks(High) || !ghsa.Blocks(Medium) || luban.Blocks(Critical) {
		t.Error("blocking follows the threshold")
	}
	text := luban.Describe()
	for _, want := range []string{"luban-private-greeting 1.0.0: LUBAN-2026-0001 (high severity)", "CVE-2026-99999", "Fixed in 1.0.1", "uv lock --upgrade-package luban-private-greeting"} {
		if !strings.Contains(text, want) {
			t.Errorf("%q not in %q", want, text)
		}
	}
	if !strings.Contains(ghsa.Describe(), "No fixed version is known") {
		t.Error(ghsa.Describe())
	}
}

func TestAnAllowListEntryAcceptsUntilItExpires(t *testing.T) {
	// By an alias, before its date: accepted, with its reason.
	findings := evaluate(t, "[[allow]]\nid = \"CVE-2026-99999\"\nreason = \"not reachable: we never greet\"\nexpires = 2026-11-23\n")
	if f := findings[1]; f.Blocks(High) || f.Allowed == nil || !strings.Contains(f.Describe(), "until 2026-11-23: not reachable") {
		t.Errorf("should be accepted: %s", f.Describe())
	}
	// The day after: blocks again, and says the entry expired.
	findings = evaluate(t, "[[allow]]\nid = \"LUBAN-2026-0001\"\nreason = \"r\"\nexpires = 2026-11-22\n")
	if f := findings[1]; !f.Blocks(High) || !strings.Contains(f.Describe(), "accepted it until 2026-11-22; that date has passed") {
		t.Errorf("should block: %s", f.Describe())
	}
}

func TestUnknownSeverityBlocks(t *testing.T) {
	f := Finding{Package: "x", Version: "1", ID: "PYSEC-1"}
	if !f.Blocks(Critical) || !strings.Contains(f.Describe(), "severity is unknown") {
		t.Error(f.Describe())
	}
}

func TestTheAllowListIsStrict(t *testing.T) {
	for allowList, want := range map[string]string{
		"[[allow]]\nid = \"CVE-1\"\nreason = \"r\"\n":                      "an expiry date is required",
		"[[allow]]\nid = \"CVE-1\"\nexpires = 2027-01-01\n":                "a reason is required",
		"[[allow]]\nid = \"*\"\nreason = \"r\"\nexpires = 2027-01-01\n":    "is not an advisory id",
		"[[allow]]\nid = \"CVE-1\"\nreason = \"r\"\nexpire = 2027-01-01\n": "unknown key(s) allow.expire",
		"[[allow]]\nid = \"CVE-1\"\nreason = \"r\"\nexpires = \"soon\"\n":  "allow.toml",
		"[[alow]]\nid = \"CVE-1\"\n":                                       "unknown key(s)",
	} {
		_, err := ParseAllowList("allow.toml", []byte(allowList))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: want an error with %q, got %v", allowList, want, err)
		}
	}
}

func TestThresholds(t *testing.T) {
	for _, bad := range []string{"", "moderate", "severe"} {
		if _, err := ParseThreshold(bad); err == nil {
			t.Errorf("%q must be refused", bad)
		}
	}
	if s, err := ParseThreshold("Critical"); err != nil || s != Critical {
		t.Error(s, err)
	}
}

func TestOutputThatIsNotJSONIsAnError(t *testing.T) {
	if _, err := Evaluate([]byte("Scanning..."), AllowList{}, today); err == nil {
		t.Error("want an error")
	}
}
