package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pack's rules for project.toml: schema 0.2 lists files under [io.buildpacks], none or 0.1
// under [build]; gitignore's syntax over paths relative to the app; not both lists.
func TestProjectDescriptorSaysWhichFilesTheBuildGets(t *testing.T) {
	for _, c := range []struct {
		name, toml    string
		kept, notKept []string
	}{
		{"0.2 exclude", "[_]\nschema-version = \"0.2\"\n[io.buildpacks]\nexclude = [\"docs\", \"/README.md\", \".env\", \"*.ipynb\"]\n",
			[]string{"app.py", "pkg/README.md", "src/app/env.py"}, []string{"docs", "docs/guide.md", "README.md", ".env", "pkg/.env", "notes/a.ipynb"}},
		{"0.2 include", "[_]\nschema-version = \"0.2\"\n[io.buildpacks]\ninclude = [\"/src\", \"pyproject.toml\", \"uv.lock\"]\n",
			[]string{"src/app.py", "pyproject.toml", "uv.lock"}, []string{"tests/test_app.py", "README.md", ".env"}},
		{"0.1 exclude", "[project]\nid = \"x\"\n[build]\nexclude = [\"tests/\"]\n",
			[]string{"app.py"}, []string{"tests/test_app.py"}},
		// schema 0.2 reads [io.buildpacks] only: its [build] is nothing pack knows.
		{"0.2 ignores [build]", "[_]\nschema-version = \"0.2\"\n[build]\nexclude = [\"app.py\"]\n", []string{"app.py"}, nil},
	} {
		filter, err := ParseProjectDescriptor([]byte(c.toml))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, rel := range c.kept {
			if !filter.Keeps(rel) {
				t.Errorf("%s: %s must go into the build", c.name, rel)
			}
		}
		for _, rel := range c.notKept {
			if filter.Keeps(rel) {
				t.Errorf("%s: %s must stay out of the build", c.name, rel)
			}
		}
	}
	for toml, want := range map[string]string{
		"[_]\nschema-version = \"0.2\"\n[io.buildpacks]\ninclude = [\"src\"]\nexclude = [\"docs\"]\n": "[io.buildpacks] has both `include` and `exclude`",
		"[build]\ninclude = [\"src\"]\nexclude = [\"docs\"]\n":                                        "[build] has both",
		"[_]\nschema-version = \"0.3\"\n":                                                             `unknown schema-version "0.3"`,
		"[io.buildpacks\n":                                                                            "not valid TOML",
	} {
		if _, err := ParseProjectDescriptor([]byte(toml)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: want an error saying %q, got %v", toml, want, err)
		}
	}
	if filter, err := ParseProjectDescriptor([]byte("[_]\nname = \"app\"\n")); err != nil || filter != nil || !filter.Keeps("anything") {
		t.Errorf("a descriptor without lists keeps everything: %v %v", filter, err)
	}
}

// The files left out are removed from the clone (links too, never followed), and so are the
// directories they leave empty; a directory something kept is in stays.
func TestFilesLeftOutAreRemovedFromTheClone(t *testing.T) {
	app := t.TempDir()
	outside := filepath.Join(t.TempDir(), "precious")
	for _, name := range []string{"app.py", ".env", "docs/guide.md", "docs/img/a.png", "src/mod.py", "src/notes.md"} {
		os.MkdirAll(filepath.Join(app, filepath.Dir(name)), 0o755)
		os.WriteFile(filepath.Join(app, name), []byte("x"), 0o644)
	}
	os.WriteFile(outside, []byte("keep me"), 0o644)
	os.Symlink(outside, filepath.Join(app, "link.md"))
	filter, err := ParseProjectDescriptor([]byte("[_]\nschema-version = \"0.2\"\n[io.buildpacks]\nexclude = [\"docs\", \".env\", \"*.md\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	removed, err := ApplyFileFilter(app, filter)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".env", "docs/guide.md", "docs/img/a.png", "link.md", "src/notes.md", "docs/img/", "docs/"}
	if !slices.Equal(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}
	for _, name := range []string{"app.py", "src/mod.py"} {
		if _, err := os.Stat(filepath.Join(app, name)); err != nil {
			t.Errorf("%s must stay: %v", name, err)
		}
	}
	if raw, err := os.ReadFile(outside); err != nil || string(raw) != "keep me" {
		t.Errorf("the link's target must be left alone: %q %v", raw, err)
	}
}

// The inputs' digest changes with anything a build reads, and only with that.
func TestTheInputsDigestFollowsWhatTheBuildReads(t *testing.T) {
	tree := func(change func(dir string)) string {
		t.Helper()
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "pkg"), 0o755)
		os.WriteFile(filepath.Join(dir, "app.py"), []byte("print('hi')\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "pkg/run.sh"), []byte("#!/bin/sh\n"), 0o755)
		os.Symlink("app.py", filepath.Join(dir, "main.py"))
		if change != nil {
			change(dir)
		}
		digest, err := InputsDigest(dir, []string{"builder=b@sha256:1", "build-env=A=1"})
		if err != nil {
			t.Fatal(err)
		}
		return digest
	}
	base := tree(nil)
	if len(base) != 64 || tree(nil) != base {
		t.Fatalf("the same tree must give the same 64-hex digest: %s, %s", base, tree(nil))
	}
	for name, change := range map[string]func(string){
		"a file's content":  func(d string) { os.WriteFile(filepath.Join(d, "app.py"), []byte("print('ho')\n"), 0o644) },
		"an executable bit": func(d string) { os.Chmod(filepath.Join(d, "pkg/run.sh"), 0o644) },
		"a link's target": func(d string) {
			os.Remove(filepath.Join(d, "main.py"))
			os.Symlink("pkg/run.sh", filepath.Join(d, "main.py"))
		},
		"a new empty file": func(d string) { os.WriteFile(filepath.Join(d, "NOTES"), nil, 0o644) },
		"a renamed file":   func(d string) { os.Rename(filepath.Join(d, "pkg/run.sh"), filepath.Join(d, "pkg/start.sh")) },
		"a new directory":  func(d string) { os.Mkdir(filepath.Join(d, "static"), 0o755) },
	} {
		if tree(change) == base {
			t.Errorf("%s must change the digest", name)
		}
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "app.py"), []byte("x"), 0o644)
	one, _ := InputsDigest(dir, []string{"builder=b@sha256:1"})
	other, _ := InputsDigest(dir, []string{"builder=b@sha256:2"})
	if one == other {
		t.Error("another builder must change the digest")
	}
}

// The key the image is verified with is an input: after a new key, nothing signed with the old
// one is reused (its signature would not verify).
func TestTheVerifyingKeyIsPartOfTheInputs(t *testing.T) {
	app, keys := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(app, "app.py"), []byte("x"), 0o644)
	digest := func(key string) string {
		t.Helper()
		out := filepath.Join(t.TempDir(), "inputs")
		if err := runProjectFiles([]string{"-source", app, "-inputs", out, "-setting-file", "cosign-public-key=" + filepath.Join(keys, key)}); err != nil {
			t.Fatal(err)
		}
		raw, _ := os.ReadFile(out)
		return string(raw)
	}
	os.WriteFile(filepath.Join(keys, "old.pub"), []byte("-----BEGIN PUBLIC KEY-----\nold\n"), 0o644)
	os.WriteFile(filepath.Join(keys, "new.pub"), []byte("-----BEGIN PUBLIC KEY-----\nnew\n"), 0o644)
	if old, renewed, none := digest("old.pub"), digest("new.pub"), digest("missing.pub"); old == renewed || old == none || len(old) != 64 {
		t.Errorf("each key, and none, must give its own inputs digest: %q %q %q", old, renewed, none)
	}
}
