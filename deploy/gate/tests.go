package main

// `luban-osv-gate tests`: the project's own test suite before the build. When the project uses
// pytest (in a dependency group, or `[tool.pytest.ini_options]`), uv installs the locked
// dependencies with the groups that hold pytest into a throwaway environment and runs pytest
// on a copy of the commit (the shared volume stays as the clone left it), with CI=true, a
// private temp dir and a time limit. The JUnit XML is summed up in one line ("41 passed, 2
// failed: test_api.py::test_login") for the commit status. `[tool.luban] tests = false` turns
// it off. This step runs the app's code: it holds no credential.

import (
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// TestPlan is what the tests gate will run, worked out from pyproject.toml alone.
type TestPlan struct {
	// Run is false when there is nothing to run; Reason then says why.
	Run    bool
	Reason string
	// Groups are the dependency groups to install (those that hold pytest).
	Groups []string
	// Workspace: install every member (the tests may be any member's).
	Workspace bool
}

// PlanTests decides from pyproject.toml whether and how the project's tests run.
func PlanTests(pyproject []byte) (TestPlan, error) {
	var project struct {
		DependencyGroups map[string][]any `toml:"dependency-groups"`
		Tool             struct {
			Pytest *struct {
				IniOptions map[string]any `toml:"ini_options"`
			} `toml:"pytest"`
			Luban struct {
				Tests *bool `toml:"tests"`
			} `toml:"luban"`
			Uv struct {
				DevDependencies []string       `toml:"dev-dependencies"`
				Workspace       map[string]any `toml:"workspace"`
			} `toml:"uv"`
		} `toml:"tool"`
	}
	if err := toml.Unmarshal(pyproject, &project); err != nil {
		return TestPlan{}, fmt.Errorf("pyproject.toml is not valid TOML: %w", err)
	}
	if t := project.Tool.Luban.Tests; t != nil && !*t {
		return TestPlan{Reason: "turned off ([tool.luban] tests = false)"}, nil
	}
	groups := groupsHolding(project.DependencyGroups, "pytest")
	legacy := false
	for _, s := range project.Tool.Uv.DevDependencies {
		legacy = legacy || isRequirement(s, "pytest")
	}
	workspace := project.Tool.Uv.Workspace != nil
	switch {
	case len(groups) > 0:
		return TestPlan{Run: true, Groups: groups, Workspace: workspace}, nil
	case legacy:
		// uv installs [tool.uv] dev-dependencies as the `dev` group.
		return TestPlan{Run: true, Groups: []string{"dev"}, Workspace: workspace}, nil
	case project.Tool.Pytest != nil:
		return TestPlan{Reason: "[tool.pytest.ini_options] is set but no dependency group holds pytest: add it with `uv add --dev pytest`"}, nil
	}
	return TestPlan{Reason: "no tests: no dependency group holds pytest"}, nil
}

// groupsHolding names the dependency groups that require `name`, sorted.
func groupsHolding(dependencyGroups map[string][]any, name string) []string {
	var groups []string
	for group, entries := range dependencyGroups {
		for _, entry := range entries {
			// An entry is a requirement string, or a table such as {include-group = "..."}.
			if s, ok := entry.(string); ok && isRequirement(s, name) {
				groups = append(groups, group)
				break
			}
		}
	}
	sort.Strings(groups)
	return groups
}

// isRequirement says whether a requirement string names the distribution `name`.
func isRequirement(requirement, name string) bool {
	m := requirementName.FindStringSubmatch(strings.TrimSpace(requirement))
	return m != nil && strings.EqualFold(strings.NewReplacer("_", "-", ".", "-").Replace(m[1]), name)
}

// TestSummary is what a JUnit XML report says.
type TestSummary struct {
	// Errors are tests that couldn't run (a fixture's error, a module that doesn't import).
	Passed, Failed, Errors, Skipped int
	// Names of the failed tests, as pytest names them (path::name).
	Failures []string
}

// ParseJUnit reads pytest's JUnit XML (a <testsuites> of <testsuite>s, or one <testsuite>).
func ParseJUnit(raw []byte) (TestSummary, error) {
	type testcase struct {
		Classname string    `xml:"classname,attr"`
		Name      string    `xml:"name,attr"`
		File      string    `xml:"file,attr"`
		Failure   *struct{} `xml:"failure"`
		Error     *struct{} `xml:"error"`
		Skipped   *struct{} `xml:"skipped"`
	}
	type suite struct {
		Cases []testcase `xml:"testcase"`
	}
	var doc struct {
		XMLName xml.Name
		Suites  []suite    `xml:"testsuite"`
		Cases   []testcase `xml:"testcase"`
	}
	if err := xml.Unmarshal(raw, &doc); err != nil {
		return TestSummary{}, fmt.Errorf("pytest's JUnit report can't be read: %w", err)
	}
	cases := doc.Cases
	for _, s := range doc.Suites {
		cases = append(cases, s.Cases...)
	}
	var summary TestSummary
	for _, c := range cases {
		switch {
		case c.Failure != nil:
			summary.Failed++
			summary.Failures = append(summary.Failures, pytestID(c.Classname, c.Name))
		case c.Error != nil:
			summary.Errors++
			summary.Failures = append(summary.Failures, pytestID(c.Classname, c.Name))
		case c.Skipped != nil:
			summary.Skipped++
		default:
			summary.Passed++
		}
	}
	return summary, nil
}

// pytestID turns JUnit's classname ("tests.test_api.TestLogin") and name into pytest's node
// id ("tests/test_api.py::TestLogin::test_login").
func pytestID(classname, name string) string {
	if classname == "" {
		// A module that failed to import: pytest names it alone, dotted ("tests.test_app").
		return strings.ReplaceAll(name, ".", "/") + ".py"
	}
	parts := strings.Split(classname, ".")
	// The module is the last part that starts with "test"; what follows are classes.
	module := len(parts) - 1
	for i := len(parts) - 1; i >= 0; i-- {
		if strings.HasPrefix(parts[i], "test") {
			module = i
			break
		}
	}
	id := strings.Join(parts[:module+1], "/") + ".py"
	for _, class := range parts[module+1:] {
		id += "::" + class
	}
	return id + "::" + name
}

// Line is the one-line outcome for the commit status.
func (s TestSummary) Line() string {
	counts := []string{fmt.Sprintf("%d passed", s.Passed)}
	if s.Failed > 0 {
		counts = append(counts, fmt.Sprintf("%d failed", s.Failed))
	}
	if s.Errors == 1 {
		counts = append(counts, "1 error")
	} else if s.Errors > 1 {
		counts = append(counts, fmt.Sprintf("%d errors", s.Errors))
	}
	if s.Skipped > 0 {
		counts = append(counts, fmt.Sprintf("%d skipped", s.Skipped))
	}
	line := strings.Join(counts, ", ")
	if len(s.Failures) > 0 {
		shown := s.Failures
		if len(shown) > 3 {
			shown = append(shown[:3:3], "…")
		}
		line += ": " + strings.Join(shown, ", ")
	}
	return line
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// BuildEnv reads luban-build's `build-env` (KEY=VALUE lines), for uv's settings (its index,
// its Python downloads); a key that isn't a variable name is refused, as the build refuses it.
func BuildEnv(text string) ([]string, error) {
	var env []string
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok || !envName.MatchString(key) {
			return nil, fmt.Errorf("build-env line %d: %q is not KEY=VALUE with KEY a variable name", n+1, line)
		}
		env = append(env, key+"="+value)
	}
	return env, nil
}

func runTests(args []string) error {
	flags := flag.NewFlagSet("tests", flag.ContinueOnError)
	gate := newSandboxGate(flags, 10*time.Minute, "Tests", "the tests failed", "Run `uv run pytest` in the project to see the same")
	junit := flags.String("junit", "", "where to keep pytest's JUnit XML (optional)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	pyproject, err := readAppFile(*gate.source, "pyproject.toml")
	if err != nil {
		return err
	} else if pyproject == nil {
		return gate.outcome("no tests: no pyproject.toml")
	}
	plan, err := PlanTests(pyproject)
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
	if problem := box.sync(plan.Groups, plan.Workspace, false); problem != "" {
		return gate.fail(problem)
	}
	report := filepath.Join(box.work, "junit.xml")
	// `python -m pytest`, which puts the project's directory on sys.path as most projects'
	// own runs do (a top-level `app` package imports without being installed).
	runErr := box.uv("run", "--no-sync", "python", "-m", "pytest", "-p", "no:cacheprovider", "--junitxml="+report, "-q").Run()
	if box.ctx.Err() != nil {
		return gate.fail(fmt.Sprintf("the tests took longer than %s", *gate.timeout))
	}
	raw, err := os.ReadFile(report)
	if err != nil {
		return gate.fail("pytest wrote no report (its output is above)")
	}
	if *junit != "" {
		if err := os.WriteFile(*junit, raw, 0o644); err != nil {
			return err
		}
	}
	summary, err := ParseJUnit(raw)
	if err != nil {
		return err
	}
	var exit *exec.ExitError
	switch {
	case summary.Failed > 0 || summary.Errors > 0:
		return gate.fail(summary.Line())
	case runErr != nil && errors.As(runErr, &exit) && exit.ExitCode() == 5:
		return gate.outcome("no tests collected")
	case runErr != nil:
		return gate.fail("pytest failed: " + runErr.Error())
	}
	return gate.outcome(summary.Line())
}
