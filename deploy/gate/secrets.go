package main

// `luban-osv-gate secrets`: the secret scan before the build. gitleaks, with its default rules,
// scans the commit's files (what the image would carry) and, given the clone step's history,
// every commit the push brought (`since..revision`, the whole history when `since` is unknown):
// a key committed and removed in the same push is in the forge's history all the same. Any
// finding stops the workflow before anything is built, signed or pushed. Secrets are redacted by gitleaks and never printed here:
// a finding is its kind, file and line. The allow-list is the repository's `.gitleaksignore`
// (one fingerprint per line, each a finding someone looked at); the repository's own
// `.gitleaks.toml` is not read, so a commit can't switch the rules off.

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
)

// gitleaksConfig is the configuration the scan runs with: gitleaks' default rules, nothing
// from the repository. Passed in GITLEAKS_CONFIG_TOML, which gitleaks reads before it looks for
// `<source>/.gitleaks.toml`.
const gitleaksConfig = "[extend]\nuseDefault = true\n"

// Leak is what the gate reads of a gitleaks JSON report entry (never Secret or Match).
type Leak struct {
	RuleID      string
	Description string
	File        string
	StartLine   int
	Commit      string // the commit that added it; empty for a finding in the commit's files
	Fingerprint string
	// The same secret's fingerprint as a finding in the commit's files, when it is still there:
	// .gitleaksignore needs both to let it through.
	FilesFingerprint string `json:"-"`
}

// MergeFindings is the commit's files' findings and the history's, a secret that is in both
// (added by a pushed commit and still there) once, as the history names it (with its commit).
func MergeFindings(files, history []Leak) []Leak {
	type place struct {
		rule, file string
		line       int
	}
	merged := append([]Leak(nil), history...)
	inHistory := map[place]int{}
	for i, f := range merged {
		inHistory[place{f.RuleID, f.File, f.StartLine}] = i
	}
	for _, f := range files {
		if i, ok := inHistory[place{f.RuleID, f.File, f.StartLine}]; ok {
			merged[i].FilesFingerprint = f.Fingerprint
		} else {
			merged = append(merged, f)
		}
	}
	sortFindings(merged)
	return merged
}

// ParseFindings reads a gitleaks JSON report.
func ParseFindings(raw []byte) ([]Leak, error) {
	var findings []Leak
	if err := json.Unmarshal(raw, &findings); err != nil {
		return nil, fmt.Errorf("gitleaks' report is not what this gate reads: %w", err)
	}
	sortFindings(findings)
	return findings, nil
}

// sortFindings orders findings by file, line, then commit.
func sortFindings(findings []Leak) {
	sort.Slice(findings, func(i, j int) bool {
		a, b := findings[i], findings[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.StartLine != b.StartLine {
			return a.StartLine < b.StartLine
		}
		return a.Commit < b.Commit
	})
}

// SecretsSummary is the one line a person reads first (the commit status's description): how
// many, and where the first one is.
func SecretsSummary(findings []Leak) string {
	if len(findings) == 0 {
		return "no secrets found"
	}
	summary := findings[0].where()
	if len(findings) > 1 {
		summary = fmt.Sprintf("%d secrets found; the first: %s", len(findings), summary)
	}
	return summary
}

// where is a finding's kind and place: "AWS access token in app/settings.py:12", and "(commit
// 1a2b3c4d5e6f)" when it is in a pushed commit.
func (f Leak) where() string {
	place := fmt.Sprintf("%s in %s:%d", ruleName(f.RuleID), f.File, f.StartLine)
	if f.Commit != "" {
		place += fmt.Sprintf(" (commit %.12s)", f.Commit)
	}
	return place
}

// ruleName: gitleaks' rule id as words ("aws-access-token" → "AWS access token").
func ruleName(id string) string {
	words := strings.Split(id, "-")
	for i, w := range words {
		switch w {
		case "aws", "gcp", "api", "jwt", "rsa", "ssh", "pat", "npm", "pypi":
			words[i] = strings.ToUpper(w)
		}
	}
	return strings.Join(words, " ")
}

func runSecrets(args []string) error {
	flags := flag.NewFlagSet("secrets", flag.ContinueOnError)
	source := flags.String("source", "/workspace/source", "the commit's files")
	history := flags.String("history", "", "a bare repository holding the pushed commits (the clone step's), or none")
	since := flags.String("since", "", "the commit before the push (its commits are since..revision); empty: the whole history")
	revision := flags.String("revision", "", "the pushed commit, with -history")
	scanner := flags.String("gitleaks", "gitleaks", "the gitleaks program")
	result := flags.String("result", "", "a file to write the one-line outcome to (for the commit status)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	// Symbolic links are not followed (gitleaks' default): a link can't make it read outside
	// the commit. From the commit's root, so files and fingerprints read as the repository's
	// paths.
	findings, err := gitleaks(*scanner, *source, "dir", ".")
	if err != nil {
		return fmt.Errorf("gitleaks could not scan %s: %v", *source, err)
	}
	scope := "the commit's files"
	if *history != "" {
		// Data from the workflow's parameters: commit SHAs, checked before git sees them.
		span := *revision
		if !isCommitSHA(*revision) || (*since != "" && !isCommitSHA(*since)) {
			return fmt.Errorf("-revision and -since must be full commit SHAs (40 or 64 hex digits): %q, %q", *revision, *since)
		}
		scope = "the commit's files and its whole history"
		if *since != "" {
			span = *since + ".." + *revision
			scope = fmt.Sprintf("the commit's files and the pushed commits (%.12s..%.12s)", *since, *revision)
		}
		pushed, err := gitleaks(*scanner, *source, "git", *history, "--log-opts", span)
		if err != nil {
			return fmt.Errorf("gitleaks could not scan the history in %s: %v", *history, err)
		}
		findings = MergeFindings(findings, pushed)
	}
	summary := SecretsSummary(findings)
	if *result != "" {
		if err := os.WriteFile(*result, []byte(summary+"\n"), 0o644); err != nil {
			return err
		}
	}
	if len(findings) == 0 {
		fmt.Printf("Secret scan: no secrets found in %s (gitleaks %s, default rules)\n", scope, gitleaksVersion(*scanner))
		return nil
	}
	fmt.Printf("Secret scan of %s: %s\n", scope, summary)
	for _, f := range findings {
		fmt.Printf("  %s  (%s)\n      fingerprint: %s\n", f.where(), f.Description, f.Fingerprint)
		if f.FilesFingerprint != "" {
			fmt.Printf("      fingerprint: %s\n", f.FilesFingerprint)
		}
	}
	return fmt.Errorf("%d secret(s) pushed; nothing was built.\n"+
		"hint: A secret that was pushed is no longer secret: rotate it, then remove it from the code\n"+
		"      (read it from the environment or a service binding). If a finding is not a secret,\n"+
		"      add its fingerprint, one per line, to .gitleaksignore at the repository's root",
		len(findings))
}

// gitleaks runs one scan (`dir .` or `git <repository> --log-opts <span>`) from the commit's
// root, whose .gitleaksignore it honours, and reads its redacted JSON report. Exit code 0 with
// findings: the gate reads the report and decides.
func gitleaks(scanner, source string, scan ...string) ([]Leak, error) {
	report, err := os.CreateTemp("", "gitleaks-*.json")
	if err != nil {
		return nil, err
	}
	report.Close()
	defer os.Remove(report.Name())
	cmd := exec.Command(scanner, append(scan, "--no-banner", "--redact", "--exit-code", "0",
		"--report-format", "json", "--report-path", report.Name(), "--log-level", "error",
		"--gitleaks-ignore-path", ".")...)
	cmd.Dir = source
	cmd.Env = append(withoutGitleaksConfig(os.Environ()), "GITLEAKS_CONFIG_TOML="+gitleaksConfig)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(report.Name())
	if err != nil {
		return nil, err
	}
	return ParseFindings(raw)
}

// isCommitSHA: 40 (SHA-1) or 64 (SHA-256) lower-case hex digits.
func isCommitSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}

// withoutGitleaksConfig drops the variables that would make gitleaks read another
// configuration than the gate's.
func withoutGitleaksConfig(env []string) []string {
	var kept []string
	for _, e := range env {
		if !strings.HasPrefix(e, "GITLEAKS_CONFIG=") && !strings.HasPrefix(e, "GITLEAKS_CONFIG_TOML=") {
			kept = append(kept, e)
		}
	}
	return kept
}

func gitleaksVersion(scanner string) string {
	out, err := exec.Command(scanner, "version").Output()
	if err != nil {
		return "(version unknown)"
	}
	return strings.TrimSpace(string(out))
}
