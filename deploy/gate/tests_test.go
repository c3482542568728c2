package main

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestPlanTestsFindsTheGroupsThatHoldPytest(t *testing.T) {
	for name, c := range map[string]struct {
		pyproject string
		want      TestPlan
	}{
		"dev group": {"[dependency-groups]\ndev = [\"pytest>=8\"]\n", TestPlan{Run: true, Groups: []string{"dev"}}},
		"two groups, an include and extras": {"[dependency-groups]\ntest = [\"Pytest[testing] ; python_version>'3.8'\"]\nlint = [\"ruff\"]\nci = [{include-group = \"test\"}, \"pytest_cov\", \"pytest\"]\n",
			TestPlan{Run: true, Groups: []string{"ci", "test"}}},
		"pytest-cov alone is not pytest": {"[dependency-groups]\ndev = [\"pytest-cov\"]\n", TestPlan{Reason: "no tests: no dependency group holds pytest"}},
		"uv's legacy dev-dependencies":   {"[tool.uv]\ndev-dependencies = [\"pytest\"]\n", TestPlan{Run: true, Groups: []string{"dev"}}},
		"a workspace":                    {"[dependency-groups]\ndev = [\"pytest\"]\n[tool.uv.workspace]\nmembers = [\"apps/*\"]\n", TestPlan{Run: true, Groups: []string{"dev"}, Workspace: true}},
		"ini options without pytest":     {"[tool.pytest.ini_options]\naddopts = \"-q\"\n", TestPlan{Reason: "[tool.pytest.ini_options] is set but no dependency group holds pytest: add it with `uv add --dev pytest`"}},
		"turned off":                     {"[dependency-groups]\ndev = [\"pytest\"]\n[tool.luban]\ntests = false\n", TestPlan{Reason: "turned off ([tool.luban] tests = false)"}},
		"nothing":                        {"[project]\nname = \"app\"\n", TestPlan{Reason: "no tests: no dependency group holds pytest"}},
	} {
		got, err := PlanTests([]byte(c.pyproject))
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v (%v), want %+v", name, got, err, c.want)
		}
	}
	if _, err := PlanTests([]byte("[tool.luban]\ntests = \"no\"\n")); err == nil {
		t.Error("tests = \"no\" is not a boolean and must be refused")
	}
}

func TestParseJUnitNamesTheFailuresAsPytestDoes(t *testing.T) {
	report := `<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="2" skipped="1" tests="5">
<testcase classname="tests.test_api" name="test_health" time="0.01"/>
<testcase classname="tests.test_api" name="test_login" time="0.01"><failure message="assert 401 == 200">...</failure></testcase>
<testcase classname="tests.test_api.TestAdmin" name="test_delete[user]" time="0.01"><error message="fixture">...</error></testcase>
<testcase classname="test_app" name="test_slow" time="0"><skipped message="slow"/></testcase>
<testcase classname="test_app" name="test_index" time="0.01"/>
</testsuite></testsuites>`
	got, err := ParseJUnit([]byte(report))
	if err != nil {
		t.Fatal(err)
	}
	if got.Line() != "2 passed, 1 failed, 1 error, 1 skipped: tests/test_api.py::test_login, tests/test_api.py::TestAdmin::test_delete[user]" {
		t.Errorf("summary: %q", got.Line())
	}
	// A module that doesn't import: pytest's report has an error with no classname.
	collection, err := ParseJUnit([]byte(`<testsuites><testsuite><testcase classname="" name="tests.test_app"><error message="collection failure"/></testcase></testsuite></testsuites>`))
	if err != nil || collection.Line() != "0 passed, 1 error: tests/test_app.py" {
		t.Errorf("a collection error: %q (%v)", collection.Line(), err)
	}
	many := TestSummary{Failed: 5, Failures: []string{"a.py::t1", "a.py::t2", "a.py::t3", "a.py::t4", "a.py::t5"}}
	if line := many.Line(); !strings.HasSuffix(line, "a.py::t3, …") {
		t.Errorf("at most three names: %q", line)
	}
}

func TestBuildEnvRefusesWhatIsNotAVariable(t *testing.T) {
	env, err := BuildEnv("UV_INDEX_URL=https://pypi.example/simple\n\n UV_PYTHON_DOWNLOADS_JSON_URL=http://127.0.0.1/d.json \n")
	if err != nil || len(env) != 2 || env[0] != "UV_INDEX_URL=https://pypi.example/simple" {
		t.Errorf("%v %v", env, err)
	}
	if _, err := BuildEnv("LD_PRELOAD x=1"); err == nil {
		t.Error("a line that is not KEY=VALUE must be refused")
	}
}

func TestPlanLintUsesTheRuffTheProjectLocked(t *testing.T) {
	for name, c := range map[string]struct {
		pyproject string
		ruffToml  bool
		want      LintPlan
	}{
		"ruff in the dev group": {"[dependency-groups]\ndev = [\"ruff>=0.6\", \"pytest\"]\n", false, LintPlan{Run: true, Groups: []string{"dev"}}},
		"configured, not locked": {"[tool.ruff]\nline-length = 100\n", false,
			LintPlan{Reason: "ruff is configured but no dependency group holds it: `uv add --dev ruff` to check it here"}},
		"ruff.toml, not locked": {"[project]\nname = \"a\"\n", true,
			LintPlan{Reason: "ruff is configured but no dependency group holds it: `uv add --dev ruff` to check it here"}},
		"turned off":      {"[dependency-groups]\ndev = [\"ruff\"]\n[tool.luban]\nlint = false\n", false, LintPlan{Reason: "turned off ([tool.luban] lint = false)"}},
		"nothing":         {"[project]\nname = \"a\"\n", false, LintPlan{Reason: "no linter configured"}},
		"ruff-lsp is not": {"[dependency-groups]\ndev = [\"ruff-lsp\"]\n", false, LintPlan{Reason: "no linter configured"}},
	} {
		got, err := PlanLint([]byte(c.pyproject), c.ruffToml)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v (%v), want %+v", name, got, err, c.want)
		}
	}
}

func TestParseRuffSumsUpProblemsAndReformats(t *testing.T) {
	check := "app.py:1:8: F401 [*] `os` imported but unused\nlib/util.py:3:1: E402 Module level import not at top of file\nFound 2 errors.\n[*] 1 fixable with the `--fix` option.\n"
	format := "Would reformat: app.py\nWould reformat: lib/util.py\n2 files would be reformatted, 3 files already formatted\n"
	got := ParseRuff(check, format).Line()
	if got != "2 ruff check problems; the first: app.py:1:8 F401 [*] `os` imported but unused; 2 files to reformat (app.py, lib/util.py)" {
		t.Errorf("summary: %q", got)
	}
	// ruff 0.17's format --check.
	newer := "unformatted: File would be reformatted\n  --> app.py:6:13\n  |\n5 |\n  - app = Flask( __name__ )\n6 + app = Flask(__name__)\n\n1 file would be reformatted\n"
	if got := ParseRuff("All checks passed!\n", newer).Line(); got != "1 file to reformat (app.py)" {
		t.Errorf("ruff 0.17's format output: %q", got)
	}
	if got := ParseRuff("All checks passed!\n", "3 files already formatted\n").Line(); got != "ruff check and ruff format: clean" {
		t.Errorf("clean: %q", got)
	}
}

// The sandbox copies the commit with its links as links: a link to a file outside the commit
// stays a link in the copy, never the file it names.
func TestTheSandboxCopiesLinksAsLinks(t *testing.T) {
	source := t.TempDir()
	if err := os.WriteFile(filepath.Join(source, "app.py"), []byte("print()\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/hostname", filepath.Join(source, "outside")); err != nil {
		t.Fatal(err)
	}
	box, err := newSandbox(context.Background(), source, "uv", "")
	if err != nil {
		t.Fatal(err)
	}
	defer box.close()
	info, err := os.Lstat(filepath.Join(box.app, "outside"))
	if err != nil || info.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link should be copied as a link: %v %v", info, err)
	}
	if target, _ := os.Readlink(filepath.Join(box.app, "outside")); target != "/etc/hostname" {
		t.Errorf("the link names %q", target)
	}
}
