package main

import (
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
	collection, err := ParseJUnit([]byte(`<testsuites><testsuite><testcase classname="" name="test_app"><error message="collection failure"/></testcase></testsuite></testsuites>`))
	if err != nil || collection.Line() != "0 passed, 1 error: test_app.py" {
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
