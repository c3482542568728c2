package main

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func appWith(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The gate scans what the build installs: uv.lock whenever there is one, also when it is a
// link to a file inside the app (the buildpack follows it); a link out of the app fails, it
// is never a reason to scan requirements.txt instead.
func TestTheGateScansTheFileTheBuildInstalls(t *testing.T) {
	app := appWith(t, map[string]string{"locks/prod.lock": "version = 1\n", "requirements.txt": "six==1.17.0\n"})
	os.Symlink("locks/prod.lock", filepath.Join(app, "uv.lock"))
	if lock, err := ResolveLockfile(app); err != nil || lock.Name != "uv.lock" {
		t.Errorf("a uv.lock linked inside the app is what the build installs: %+v %v", lock, err)
	}

	outside := appWith(t, map[string]string{"uv.lock": "version = 1\n"})
	app = appWith(t, map[string]string{"requirements.txt": "six==1.17.0\n"})
	os.Symlink(filepath.Join(outside, "uv.lock"), filepath.Join(app, "uv.lock"))
	if lock, err := ResolveLockfile(app); err == nil || !strings.Contains(err.Error(), "uv.lock leads outside the app") {
		t.Errorf("a uv.lock linked out of the app must fail, not fall back to requirements.txt: %+v %v", lock, err)
	}

	app = appWith(t, map[string]string{
		"requirements.txt":      "-r requirements/base.txt\nflask==3.1.0 --hash=sha256:abc\n",
		"requirements/base.txt": "# base\nsix==1.17.0 ; python_version >= '3.8'\n--index-url https://pypi.example/simple\n",
	})
	lock, err := ResolveLockfile(app)
	if err != nil || lock.Name != "requirements.txt" || len(lock.Requirements) != 2 {
		t.Fatalf("requirements.txt with its include: %+v %v", lock, err)
	}
	if problems := UnpinnedProblems(lock.Requirements, AllowList{}, today); len(problems) != 0 {
		t.Errorf("pinned requirements pass: %v", problems)
	}

	app = appWith(t, map[string]string{"requirements.txt": "-r ../../etc/passwd\n"})
	if _, err := ResolveLockfile(app); err == nil {
		t.Error("an include that leaves the app must fail")
	}
}

func TestUnpinnedRequirementsAreRefusedUnlessAllowListed(t *testing.T) {
	for text, pinned := range map[string]bool{
		"flask==3.1.0": true, "Flask[async] == 3.1.0": true, "flask===3.1.0": true,
		"flask==3.1.0 ; python_version < '3.13'": true, "flask==3.1.0 --hash=sha256:00": true,
		"flask": false, "flask<2.2.5": false, "flask>=3,<4": false, "flask==3.*": false,
		"flask==3.1.0,!=3.1.1": false, "flask @ https://files.example/flask.whl": false,
		"./vendor/flask": false, "-e .": false,
	} {
		if _, got := Pin(text); got != pinned {
			t.Errorf("%q: pinned=%v, want %v", text, got, pinned)
		}
	}
	requirements := []Requirement{{"requirements.txt", 1, "flask<2.2.5"}, {"requirements.txt", 2, "six==1.17.0"}}
	problems := UnpinnedProblems(requirements, AllowList{}, today)
	if len(problems) != 1 || !strings.Contains(problems[0], "requirements.txt line 1: `flask<2.2.5` is not pinned") {
		t.Errorf("the range must be refused, naming its line: %v", problems)
	}
	allow, err := ParseAllowList("allow.toml", []byte("[[unpinned]]\npackage = \"Flask\"\nreason = \"vendored fork\"\nexpires = 2026-12-31\n"))
	if err != nil {
		t.Fatal(err)
	}
	if problems := UnpinnedProblems(requirements, allow, today); len(problems) != 0 {
		t.Errorf("an allow-listed package passes: %v", problems)
	}
	if problems := UnpinnedProblems(requirements, allow, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)); len(problems) != 1 {
		t.Errorf("an expired [[unpinned]] entry accepts nothing: %v", problems)
	}
	if _, err := ParseAllowList("allow.toml", []byte("[[unpinned]]\npackage = \"flask\"\nreason = \"x\"\n")); err == nil {
		t.Error("an [[unpinned]] entry without a date must be refused")
	}
}

func osvZip(t *testing.T, modified ...string) string {
	t.Helper()
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	for i, m := range modified {
		w, _ := z.Create(fmt.Sprintf("a-%d.json", i))
		fmt.Fprintf(w, `{"id":"LUBAN-%d","modified":%q}`, i, m)
	}
	z.Close()
	path := filepath.Join(t.TempDir(), "all.zip")
	os.WriteFile(path, buf.Bytes(), 0o644)
	return path
}

func TestAnEmptyOrStaleDatabaseFailsTheGate(t *testing.T) {
	week := 7 * 24 * time.Hour
	if n, newest, err := CheckDatabase(osvZip(t, "2026-11-01T00:00:00Z", "2026-11-22T10:00:00Z"), week, today); err != nil || n != 2 || newest.Day() != 22 {
		t.Errorf("a database modified yesterday passes: %d %v %v", n, newest, err)
	}
	if _, _, err := CheckDatabase(osvZip(t), week, today); err == nil || !strings.Contains(err.Error(), "has no advisories") {
		t.Errorf("an empty database must fail: %v", err)
	}
	if _, _, err := CheckDatabase(osvZip(t, "2026-09-01T00:00:00Z"), week, today); err == nil || !strings.Contains(err.Error(), "is stale: its newest advisory was modified 2026-09-01, 83 days ago") {
		t.Errorf("a months-old database must fail: %v", err)
	}
	notZip := filepath.Join(t.TempDir(), "all.zip")
	os.WriteFile(notZip, []byte("PK nonsense"), 0o644)
	if _, _, err := CheckDatabase(notZip, week, today); err == nil {
		t.Error("a file that isn't a zip must fail")
	}
}
