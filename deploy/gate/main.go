package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const allowListHelp = "`.luban/vulnerability-allowlist.toml`"

func main() {
	subcommands := map[string]func([]string) error{"sbom": runSBOM, "project-files": runProjectFiles, "reuse": runReuse, "secrets": runSecrets, "tests": runTests, "lint": runLint}
	if len(os.Args) > 1 && subcommands[os.Args[1]] != nil {
		run := subcommands[os.Args[1]]
		if err := run(os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "Error: %v\n", err)
			os.Exit(1)
		}
		return
	}
	source := flag.String("source", "/workspace/source", "the app's directory: its uv.lock (or requirements.txt) is scanned")
	db := flag.String("db", "/osv", "the OSV database directory: <db>/osv-scanner/PyPI/all.zip")
	thresholdFlag := flag.String("threshold", "high", "the lowest severity that stops the build: low, medium, high or critical")
	report := flag.String("report", "", "where to also write the findings as JSON (for a workflow artifact, where the site has an artifact repository)")
	scanner := flag.String("osv-scanner", "osv-scanner", "the osv-scanner program")
	maxAge := flag.Int("max-db-age-days", 7, "the oldest the database may be: days since its newest advisory was modified")
	flag.Parse()
	if err := run(*source, *db, *thresholdFlag, *report, *scanner, time.Duration(*maxAge)*24*time.Hour); err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
}

func run(source, db, thresholdFlag, report, scanner string, maxAge time.Duration) error {
	threshold, err := ParseThreshold(thresholdFlag)
	if err != nil {
		return err
	}
	if maxAge <= 0 {
		return fmt.Errorf("--max-db-age-days must be at least 1")
	}
	lock, err := ResolveLockfile(source)
	if err != nil {
		return err
	}
	lockfile := filepath.Join(source, lock.Name)
	database := filepath.Join(db, "osv-scanner", "PyPI", "all.zip")
	if _, err := os.Stat(database); err != nil {
		return fmt.Errorf("no OSV database for PyPI at %s (%v).\nhint: Mirror https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip to that path (see docs/vulnerabilities.md); the gate never downloads", database, errors.Unwrap(err))
	}
	now := time.Now().UTC()
	advisories, newest, err := CheckDatabase(database, maxAge, now)
	if err != nil {
		return err
	}
	fmt.Printf("OSV database: %d advisories, the newest modified %s\n", advisories, newest.Format("2006-01-02"))
	allow := AllowList{}
	allowPath := filepath.Join(source, ".luban", "vulnerability-allowlist.toml")
	if data, err := os.ReadFile(allowPath); err == nil {
		if allow, err = ParseAllowList(allowListHelp, data); err != nil {
			return fmt.Errorf("the allow-list is invalid: %v", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("could not read %s: %v", allowListHelp, err)
	}
	if problems := UnpinnedProblems(lock.Requirements, allow, now.Truncate(24*time.Hour)); len(problems) > 0 {
		return fmt.Errorf("the vulnerability gate can't clear requirements it can't match to a version:\n  %s\nhint: Pin every requirement (`uv pip compile requirements.in -o requirements.txt`, or lock with `uv lock`), or accept one in %s with [[unpinned]] package, reason and expires", strings.Join(problems, "\n  "), allowListHelp)
	}

	// An empty config: osv-scanner would otherwise honour an `osv-scanner.toml` in the app,
	// whose ignores need neither a reason nor an expiry date.
	config := filepath.Join(os.TempDir(), fmt.Sprintf("luban-osv-config-%d.toml", os.Getpid()))
	if err := os.WriteFile(config, nil, 0o600); err != nil {
		return err
	}
	defer os.Remove(config)
	cmd := exec.Command(scanner, "scan", "source", "--offline", "--local-db-path="+db,
		"--config="+config, "--format=json", "--lockfile="+lockfile)
	cmd.Stderr = os.Stderr
	output, err := cmd.Output()
	var exit *exec.ExitError
	// 0: nothing found; 1: vulnerabilities found. Anything else is a failure of the scan.
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		return fmt.Errorf("osv-scanner failed (%v): the build can't be cleared", err)
	}
	findings, err := Evaluate(output, allow, time.Now().UTC().Truncate(24*time.Hour))
	if err != nil {
		return err
	}

	fmt.Printf("Scanned %s against the OSV database (threshold: %s)\n", filepath.Base(lockfile), threshold)
	blocking := 0
	for _, f := range findings {
		prefix := "note"
		switch {
		case f.Blocks(threshold):
			prefix = "error"
			blocking++
		case f.Allowed != nil:
			prefix = "warning"
		}
		fmt.Printf("%s: %s\n", prefix, f.Describe())
	}
	if report != "" {
		if err := writeReport(report, threshold, findings); err != nil {
			return err
		}
	}
	if blocking > 0 {
		return fmt.Errorf("the vulnerability gate stopped the build: %d advisor%s at or above %s severity (or of unknown severity) not accepted by %s", blocking, plural(blocking, "y", "ies"), threshold, allowListHelp)
	}
	fmt.Printf("No advisory at or above %s severity: the build may be deployed (%d finding(s) in all)\n", threshold, len(findings))
	return nil
}

func writeReport(path string, threshold Severity, findings []Finding) error {
	type entry struct {
		Package      string   `json:"package"`
		Version      string   `json:"version"`
		ID           string   `json:"id"`
		Aliases      []string `json:"aliases,omitempty"`
		Severity     string   `json:"severity"`
		Fixed        []string `json:"fixed,omitempty"`
		Blocks       bool     `json:"blocks"`
		AllowedUntil string   `json:"allowed_until,omitempty"`
		Reason       string   `json:"reason,omitempty"`
	}
	out := struct {
		Threshold string  `json:"threshold"`
		Findings  []entry `json:"findings"`
	}{Threshold: threshold.String(), Findings: []entry{}}
	for _, f := range findings {
		e := entry{Package: f.Package, Version: f.Version, ID: f.ID, Aliases: f.Aliases,
			Severity: f.Severity.String(), Fixed: f.Fixed, Blocks: f.Blocks(threshold)}
		if f.Allowed != nil {
			e.AllowedUntil, e.Reason = f.Allowed.expires.Format("2006-01-02"), f.Allowed.Reason
		}
		out.Findings = append(out.Findings, e)
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
