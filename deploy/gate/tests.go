package main

// `luban-osv-gate tests`: the project's own test suite before the build. When the project uses
// pytest (in a dependency group, or `[tool.pytest.ini_options]`), uv installs the locked
// dependencies with the groups that hold pytest into a throwaway environment and runs pytest
// on a copy of the commit (the shared volume stays as the clone left it), with CI=true, a
// private temp dir and a time limit. The JUnit XML is summed up in one line ("41 passed, 2
// failed: test_api.py::test_login") for the commit status. `[tool.luban] tests = false` turns
// it off. This step runs the app's code: it holds no credential.

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
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
				DevDependencies []string `toml:"dev-dependencies"`
			} `toml:"uv"`
		} `toml:"tool"`
	}
	if err := toml.Unmarshal(pyproject, &project); err != nil {
		return TestPlan{}, fmt.Errorf("pyproject.toml is not valid TOML: %w", err)
	}
	if t := project.Tool.Luban.Tests; t != nil && !*t {
		return TestPlan{Reason: "turned off ([tool.luban] tests = false)"}, nil
	}
	var groups []string
	for name, entries := range project.DependencyGroups {
		for _, entry := range entries {
			// An entry is a requirement string, or a table such as {include-group = "..."}.
			if s, ok := entry.(string); ok && isPytest(s) {
				groups = append(groups, name)
				break
			}
		}
	}
	legacy := false
	for _, s := range project.Tool.Uv.DevDependencies {
		legacy = legacy || isPytest(s)
	}
	sort.Strings(groups)
	switch {
	case len(groups) > 0:
		return TestPlan{Run: true, Groups: groups}, nil
	case legacy:
		// uv installs [tool.uv] dev-dependencies as the `dev` group.
		return TestPlan{Run: true, Groups: []string{"dev"}}, nil
	case project.Tool.Pytest != nil:
		return TestPlan{Reason: "[tool.pytest.ini_options] is set but no dependency group holds pytest: add it with `uv add --dev pytest`"}, nil
	}
	return TestPlan{Reason: "no tests: no dependency group holds pytest"}, nil
}

func isPytest(requirement string) bool {
	m := requirementName.FindStringSubmatch(strings.TrimSpace(requirement))
	return m != nil && strings.EqualFold(strings.NewReplacer("_", "-", ".", "-").Replace(m[1]), "pytest")
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
		// A module that failed to import: pytest names it alone ("test_app").
		return name + ".py"
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

// EnvDir reads a directory of env files (a mounted Secret: one file per variable), as the
// build's platform/env. A missing directory is no variables.
func EnvDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var env []string
	for _, e := range entries {
		if !envName.MatchString(e.Name()) {
			continue // the Secret volume's own ..data entries
		}
		value, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		env = append(env, e.Name()+"="+string(value))
	}
	return env, nil
}

func runTests(args []string) error {
	flags := flag.NewFlagSet("tests", flag.ContinueOnError)
	source := flags.String("source", "/workspace/source", "the commit's files (read only)")
	uv := flags.String("uv", "uv", "the uv program")
	result := flags.String("result", "", "a file to write the one-line outcome to (for the commit status)")
	junit := flags.String("junit", "", "where to keep pytest's JUnit XML (optional)")
	timeout := flags.Duration("timeout", 10*time.Minute, "how long installing and running the tests may take")
	envDir := flags.String("env-dir", "", "a directory whose files are more env variables (the build's Secret: a private index's credentials)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	outcome := func(line string) error {
		fmt.Println("Tests: " + line)
		if *result == "" {
			return nil
		}
		return os.WriteFile(*result, []byte(line+"\n"), 0o644)
	}
	root, err := os.OpenRoot(*source)
	if err != nil {
		return err
	}
	pyproject, err := fs.ReadFile(root.FS(), "pyproject.toml")
	root.Close()
	if errors.Is(err, fs.ErrNotExist) {
		return outcome("no tests: no pyproject.toml")
	} else if err != nil {
		return err
	}
	plan, err := PlanTests(pyproject)
	if err != nil {
		return err
	}
	if !plan.Run {
		return outcome(plan.Reason)
	}
	buildEnv, err := BuildEnv(os.Getenv("BUILD_ENV"))
	if err != nil {
		return err
	}
	if *envDir != "" {
		secrets, err := EnvDir(*envDir)
		if err != nil {
			return err
		}
		buildEnv = append(buildEnv, secrets...)
	}

	// A copy of the commit in a private directory: the tests write where they like, and the
	// shared volume the build reads stays as the clone left it.
	work, err := os.MkdirTemp("", "luban-tests-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	app := filepath.Join(work, "app")
	if err := os.CopyFS(app, os.DirFS(*source)); err != nil {
		return fmt.Errorf("copying the commit: %w", err)
	}
	for _, dir := range []string{"tmp", "home", "cache"} {
		if err := os.Mkdir(filepath.Join(work, dir), 0o700); err != nil {
			return err
		}
	}
	env := append(buildEnv, "CI=true", "HOME="+filepath.Join(work, "home"), "TMPDIR="+filepath.Join(work, "tmp"),
		"UV_CACHE_DIR="+filepath.Join(work, "cache"), "UV_PROJECT_ENVIRONMENT="+filepath.Join(work, "venv"),
		"UV_PYTHON_INSTALL_DIR="+filepath.Join(work, "python"), "UV_PYTHON_PREFERENCE=only-managed",
		"UV_NO_PROGRESS=1", "PATH="+os.Getenv("PATH"), "SSL_CERT_DIR="+os.Getenv("SSL_CERT_DIR"), "SSL_CERT_FILE="+os.Getenv("SSL_CERT_FILE"))
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	command := func(args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, *uv, args...)
		cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = app, env, os.Stdout, os.Stdout
		return cmd
	}
	sync := []string{"sync", "--locked"}
	for _, g := range plan.Groups {
		sync = append(sync, "--group", g)
	}
	fmt.Printf("Tests: uv %s\n", strings.Join(sync, " "))
	installing := command(sync...)
	var said bytes.Buffer
	installing.Stdout = io.MultiWriter(os.Stdout, &said)
	installing.Stderr = installing.Stdout
	if err := installing.Run(); err != nil {
		switch {
		case ctx.Err() != nil:
			return failTests(outcome, fmt.Sprintf("installing the test dependencies took longer than %s", *timeout))
		case strings.Contains(said.String(), "needs to be updated"):
			return failTests(outcome, "`uv.lock` is out of date: run `uv lock` and commit it")
		}
		return failTests(outcome, "the test dependencies could not be installed (uv sync --locked failed; its output is above)")
	}
	report := filepath.Join(work, "junit.xml")
	pytest := []string{"run", "--no-sync", "pytest", "-p", "no:cacheprovider", "--junitxml=" + report, "-q"}
	fmt.Printf("Tests: uv %s\n", strings.Join(pytest, " "))
	runErr := command(pytest...).Run()
	if ctx.Err() != nil {
		return failTests(outcome, fmt.Sprintf("the tests took longer than %s", *timeout))
	}
	raw, err := os.ReadFile(report)
	if err != nil {
		return failTests(outcome, "pytest wrote no report (its output is above)")
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
		return failTests(outcome, summary.Line())
	case runErr != nil && errors.As(runErr, &exit) && exit.ExitCode() == 5:
		return outcome("no tests collected")
	case runErr != nil:
		return failTests(outcome, "pytest failed: "+runErr.Error())
	}
	return outcome(summary.Line())
}

// failTests writes the outcome and fails the step with it.
func failTests(outcome func(string) error, line string) error {
	if err := outcome(line); err != nil {
		return err
	}
	return fmt.Errorf("the tests failed: %s; nothing was built.\nhint: Run `uv run pytest` in the project to see the same", line)
}
