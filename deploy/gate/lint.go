package main

// `luban-osv-gate lint`: ruff before the build, when the project uses it ([tool.ruff],
// ruff.toml or .ruff.toml, or ruff in a dependency group). The ruff is the one the project
// locked: uv installs only the groups that hold it, and `ruff check` and `ruff format --check`
// run on a copy of the commit. A project that configures ruff without locking it is told how
// to, not checked with a ruff of our choosing. `[tool.luban] lint = false` turns it off.

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// LintPlan is what the lint gate will run, worked out from the project's files.
type LintPlan struct {
	Run    bool
	Reason string
	// Groups are the dependency groups that hold ruff.
	Groups []string
}

// PlanLint decides from pyproject.toml and whether a ruff.toml exists.
func PlanLint(pyproject []byte, ruffToml bool) (LintPlan, error) {
	var project struct {
		DependencyGroups map[string][]any `toml:"dependency-groups"`
		Tool             struct {
			Ruff  map[string]any `toml:"ruff"`
			Luban struct {
				Lint *bool `toml:"lint"`
			} `toml:"luban"`
		} `toml:"tool"`
	}
	if err := toml.Unmarshal(pyproject, &project); err != nil {
		return LintPlan{}, fmt.Errorf("pyproject.toml is not valid TOML: %w", err)
	}
	if l := project.Tool.Luban.Lint; l != nil && !*l {
		return LintPlan{Reason: "turned off ([tool.luban] lint = false)"}, nil
	}
	groups := groupsHolding(project.DependencyGroups, "ruff")
	switch {
	case len(groups) > 0:
		return LintPlan{Run: true, Groups: groups}, nil
	case project.Tool.Ruff != nil || ruffToml:
		return LintPlan{Reason: "ruff is configured but no dependency group holds it: `uv add --dev ruff` to check it here"}, nil
	}
	return LintPlan{Reason: "no linter configured"}, nil
}

var (
	ruffProblem = regexp.MustCompile(`^(.+?):(\d+):(\d+): ([A-Z]+[0-9]*) (.*)$`)
	// "Would reformat: app.py" (older ruff), or "unformatted: …" then "--> app.py:6:13".
	ruffReformat = regexp.MustCompile(`^Would reformat: (.+)$`)
	ruffLocation = regexp.MustCompile(`^-->\s*(.+?):\d+:\d+$`)
)

// LintSummary is what `ruff check --output-format concise` and `ruff format --check` said.
type LintSummary struct {
	Problems   []string // "app.py:1:8 F401 `os` imported but unused"
	Reformats  []string // paths
	CheckFault bool     // ruff check failed without listing problems (a bad configuration)
}

// ParseRuff reads the two commands' output.
func ParseRuff(check, format string) LintSummary {
	var s LintSummary
	for _, line := range strings.Split(check, "\n") {
		if m := ruffProblem.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			s.Problems = append(s.Problems, fmt.Sprintf("%s:%s:%s %s %s", m[1], m[2], m[3], m[4], m[5]))
		}
	}
	unformatted := false
	for _, line := range strings.Split(format, "\n") {
		line = strings.TrimSpace(line)
		if m := ruffReformat.FindStringSubmatch(line); m != nil {
			s.Reformats = append(s.Reformats, m[1])
		} else if strings.HasPrefix(line, "unformatted:") {
			unformatted = true
		} else if m := ruffLocation.FindStringSubmatch(line); m != nil && unformatted {
			s.Reformats = append(s.Reformats, m[1])
			unformatted = false
		}
	}
	return s
}

// Line is the one-line outcome.
func (s LintSummary) Line() string {
	var parts []string
	if n := len(s.Problems); n > 0 {
		parts = append(parts, fmt.Sprintf("%s; the first: %s", counted(n, "ruff check problem"), s.Problems[0]))
	}
	if n := len(s.Reformats); n > 0 {
		parts = append(parts, fmt.Sprintf("%s to reformat (%s)", counted(n, "file"), strings.Join(s.Reformats[:min(n, 3)], ", ")))
	}
	if len(parts) == 0 {
		return "ruff check and ruff format: clean"
	}
	return strings.Join(parts, "; ")
}

// counted is "1 file", "3 files".
func counted(n int, word string) string {
	return fmt.Sprintf("%d %s", n, plural(n, word, word+"s"))
}

func runLint(args []string) error {
	flags := flag.NewFlagSet("lint", flag.ContinueOnError)
	gate := newSandboxGate(flags, 5*time.Minute, "Lint", "lint failed", "Run `uv run ruff check --fix` and `uv run ruff format` in the project")
	if err := flags.Parse(args); err != nil {
		return err
	}
	pyproject, err := readAppFile(*gate.source, "pyproject.toml")
	if err != nil {
		return err
	} else if pyproject == nil {
		return gate.outcome("no linter configured (no pyproject.toml)")
	}
	ruffToml := false
	for _, name := range []string{"ruff.toml", ".ruff.toml"} {
		if _, err := os.Lstat(filepath.Join(*gate.source, name)); err == nil {
			ruffToml = true
		}
	}
	plan, err := PlanLint(pyproject, ruffToml)
	if err != nil {
		return err
	}
	if !plan.Run {
		return gate.outcome(plan.Reason)
	}
	box, cancel, err := gate.open()
	if err != nil {
		return err
	}
	defer cancel()
	defer box.close()
	if problem := box.sync(plan.Groups, false, true); problem != "" {
		return gate.fail(problem)
	}
	check, checkErr := box.output("run", "--no-sync", "ruff", "check", "--no-cache", "--output-format", "concise", ".")
	format, formatErr := box.output("run", "--no-sync", "ruff", "format", "--no-cache", "--check", ".")
	if box.ctx.Err() != nil {
		return gate.fail(fmt.Sprintf("ruff took longer than %s", *gate.timeout))
	}
	summary := ParseRuff(check, format)
	switch {
	case len(summary.Problems) > 0 || len(summary.Reformats) > 0:
		return gate.fail(summary.Line())
	case checkErr != nil:
		return gate.fail("ruff check failed: " + oneLine(check))
	case formatErr != nil:
		return gate.fail("ruff format --check failed: " + oneLine(format))
	}
	return gate.outcome(summary.Line())
}

// oneLine is the last non-empty line of text.
func oneLine(text string) string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
