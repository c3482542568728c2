package main

// `luban-osv-gate secrets`: the secret scan before the build. gitleaks, with its default rules,
// scans the commit's files (what the image would carry); any finding stops the workflow before
// anything is built, signed or pushed. Secrets are redacted by gitleaks and never printed here:
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
	Fingerprint string
}

// ParseFindings reads a gitleaks JSON report.
func ParseFindings(raw []byte) ([]Leak, error) {
	var findings []Leak
	if err := json.Unmarshal(raw, &findings); err != nil {
		return nil, fmt.Errorf("gitleaks' report is not what this gate reads: %w", err)
	}
	sort.Slice(findings, func(i, j int) bool {
		if findings[i].File != findings[j].File {
			return findings[i].File < findings[j].File
		}
		return findings[i].StartLine < findings[j].StartLine
	})
	return findings, nil
}

// SecretsSummary is the one line a person reads first (the commit status's description): how
// many, and where the first one is.
func SecretsSummary(findings []Leak) string {
	if len(findings) == 0 {
		return "no secrets found"
	}
	first := findings[0]
	summary := fmt.Sprintf("%s in %s:%d", ruleName(first.RuleID), first.File, first.StartLine)
	if len(findings) > 1 {
		summary = fmt.Sprintf("%d secrets found; the first: %s", len(findings), summary)
	}
	return summary
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
	scanner := flags.String("gitleaks", "gitleaks", "the gitleaks program")
	result := flags.String("result", "", "a file to write the one-line outcome to (for the commit status)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	report, err := os.CreateTemp("", "gitleaks-*.json")
	if err != nil {
		return err
	}
	report.Close()
	defer os.Remove(report.Name())
	// Exit code 0 with findings: the gate reads the report and decides. Symbolic links are not
	// followed (gitleaks' default): a link can't make it read outside the commit.
	// From the commit's root, so files and fingerprints read as the repository's paths.
	cmd := exec.Command(*scanner, "dir", ".", "--no-banner", "--redact", "--exit-code", "0",
		"--report-format", "json", "--report-path", report.Name(), "--log-level", "error",
		"--gitleaks-ignore-path", ".")
	cmd.Dir = *source
	cmd.Env = append(withoutGitleaksConfig(os.Environ()), "GITLEAKS_CONFIG_TOML="+gitleaksConfig)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("gitleaks could not scan %s: %v", *source, err)
	}
	raw, err := os.ReadFile(report.Name())
	if err != nil {
		return err
	}
	findings, err := ParseFindings(raw)
	if err != nil {
		return err
	}
	summary := SecretsSummary(findings)
	if *result != "" {
		if err := os.WriteFile(*result, []byte(summary+"\n"), 0o644); err != nil {
			return err
		}
	}
	if len(findings) == 0 {
		fmt.Println("Secret scan: no secrets found in the commit's files (gitleaks " + gitleaksVersion(*scanner) + ", default rules)")
		return nil
	}
	fmt.Printf("Secret scan: %s\n", summary)
	for _, f := range findings {
		fmt.Printf("  %s:%d  %s (%s)\n      fingerprint: %s\n", f.File, f.StartLine, ruleName(f.RuleID), f.Description, f.Fingerprint)
	}
	return fmt.Errorf("%d secret(s) in the commit; nothing was built.\n"+
		"hint: A secret that was pushed is no longer secret: rotate it, then remove it from the code\n"+
		"      (read it from the environment or a service binding). If a finding is not a secret,\n"+
		"      add its fingerprint, one per line, to .gitleaksignore at the repository's root",
		len(findings))
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
