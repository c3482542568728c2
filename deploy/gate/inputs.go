package main

// What the gate scans, decided the way the build decides what it installs, and the checks
// that keep it from passing what it can't see: the lockfile resolved like luban/python-uv
// resolves it (links followed only inside the app), requirements pinned, and an OSV database
// that has advisories and is recent.

import (
	"archive/zip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"
	"time"
)

// Lockfile is the file the build installs from: uv.lock when the app has one (luban/python-uv
// installs it with `uv sync --locked`, whatever else is there), else requirements.txt.
type Lockfile struct {
	Name string
	// Requirements are requirements.txt's requirement lines, with those of every file it
	// includes (`-r`), for the pin check; empty for uv.lock.
	Requirements []Requirement
}

// Requirement is one requirement line: where it is and what it says.
type Requirement struct {
	File string
	Line int
	Text string
}

// ResolveLockfile opens the app as a root: a link is followed only while it stays inside
// (as the buildpack reads app files), and one that leaves the app is an error, not a reason
// to scan another file.
func ResolveLockfile(source string) (Lockfile, error) {
	root, err := os.OpenRoot(source)
	if err != nil {
		return Lockfile{}, err
	}
	defer root.Close()
	for _, name := range []string{"uv.lock", "requirements.txt"} {
		if _, err := root.Lstat(name); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		info, err := root.Stat(name)
		if err != nil {
			return Lockfile{}, fmt.Errorf("%s leads outside the app or can't be read (%v): the build would refuse it too", name, err)
		}
		if !info.Mode().IsRegular() {
			return Lockfile{}, fmt.Errorf("%s is not a regular file", name)
		}
		lock := Lockfile{Name: name}
		if name == "requirements.txt" {
			if lock.Requirements, err = readRequirements(root, name, 0); err != nil {
				return Lockfile{}, err
			}
		}
		return lock, nil
	}
	return Lockfile{}, fmt.Errorf("no uv.lock or requirements.txt in %s: nothing says which packages the image has", source)
}

var includeFlag = regexp.MustCompile(`^(-r|--requirement)(\s*=\s*|\s+|)(\S+)$`)

// readRequirements reads a requirements file and, recursively, what it includes with `-r`,
// through the root (confined to the app).
func readRequirements(root *os.Root, name string, depth int) ([]Requirement, error) {
	if depth > 10 {
		return nil, fmt.Errorf("%s: includes nest more than 10 deep", name)
	}
	file, err := root.Open(name)
	if err != nil {
		return nil, fmt.Errorf("%s leads outside the app or can't be read (%v)", name, err)
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, 4<<20))
	if err != nil {
		return nil, err
	}
	var out []Requirement
	lines := strings.Split(strings.ReplaceAll(string(data), "\\\n", " "), "\n")
	for i, raw := range lines {
		line := strings.TrimSpace(raw)
		if hash := strings.Index(line, " #"); hash >= 0 {
			line = strings.TrimSpace(line[:hash])
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if m := includeFlag.FindStringSubmatch(line); m != nil {
			if strings.Contains(m[3], "://") {
				return nil, fmt.Errorf("%s line %d includes %s from the network: the gate can't see what it holds", name, i+1, m[3])
			}
			included, err := readRequirements(root, path.Join(path.Dir(name), m[3]), depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, included...)
			continue
		}
		if strings.HasPrefix(line, "-") {
			// Options (--index-url, -c constraints, --hash on its own line…): not a package.
			if strings.HasPrefix(line, "-e") || strings.HasPrefix(line, "--editable") {
				out = append(out, Requirement{File: name, Line: i + 1, Text: line})
			}
			continue
		}
		out = append(out, Requirement{File: name, Line: i + 1, Text: line})
	}
	return out, nil
}

var (
	requirementName = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$`)
	// One exact version: `==1.2.3` or `===1.2.3`, no wildcard, no second clause.
	exactPin = regexp.MustCompile(`^===?\s*[A-Za-z0-9.+!_-]+$`)
)

// Pin reads a requirement line: the package's name and whether it names one exact version.
func Pin(text string) (name string, pinned bool) {
	spec := text
	if semi := strings.Index(spec, ";"); semi >= 0 {
		spec = spec[:semi]
	}
	// Per-requirement options such as --hash=sha256:… follow the specifier.
	if opt := strings.Index(spec, " --"); opt >= 0 {
		spec = spec[:opt]
	}
	m := requirementName.FindStringSubmatch(strings.TrimSpace(spec))
	if m == nil || strings.Contains(text, "://") || strings.HasPrefix(text, "-") {
		return "", false
	}
	return strings.ToLower(m[1]), exactPin.MatchString(strings.TrimSpace(m[3]))
}

// UnpinnedProblems lists the requirements that don't name one exact version and aren't
// accepted by the allow-list's [[unpinned]] entries: osv-scanner can only match a version
// it knows, so a range (`flask<2.2.5`) would pass unscanned.
func UnpinnedProblems(requirements []Requirement, allow AllowList, today time.Time) []string {
	var problems []string
	for _, r := range requirements {
		name, pinned := Pin(r.Text)
		if pinned {
			continue
		}
		if entry := allow.UnpinnedEntry(name); entry != nil {
			if !today.After(entry.expires) {
				fmt.Printf("warning: %s line %d: %s is not pinned; accepted by the allow-list until %s: %s\n", r.File, r.Line, r.Text, entry.expires.Format("2006-01-02"), entry.Reason)
				continue
			}
			problems = append(problems, fmt.Sprintf("%s line %d: `%s` is not pinned to one version, and the allow-list accepted that only until %s", r.File, r.Line, r.Text, entry.expires.Format("2006-01-02")))
			continue
		}
		problems = append(problems, fmt.Sprintf("%s line %d: `%s` is not pinned to one version (`name==1.2.3`), so the gate can't know which version the build installs", r.File, r.Line, r.Text))
	}
	return problems
}

// CheckDatabase refuses an OSV database with no advisories, or whose newest advisory was
// modified more than maxAge before now: an empty or stale database must not look like a
// clean scan. It returns the number of advisories and the newest modification.
func CheckDatabase(database string, maxAge time.Duration, now time.Time) (int, time.Time, error) {
	archive, err := zip.OpenReader(database)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("the OSV database %s is not a zip archive: %v", database, err)
	}
	defer archive.Close()
	count := 0
	var newest time.Time
	for _, file := range archive.File {
		if !strings.HasSuffix(file.Name, ".json") {
			continue
		}
		r, err := file.Open()
		if err != nil {
			return 0, time.Time{}, fmt.Errorf("the OSV database %s: %s: %v", database, file.Name, err)
		}
		var head struct {
			Modified time.Time `json:"modified"`
		}
		err = json.NewDecoder(io.LimitReader(r, 16<<20)).Decode(&head)
		r.Close()
		if err != nil {
			return 0, time.Time{}, fmt.Errorf("the OSV database %s: %s is not an OSV advisory: %v", database, file.Name, err)
		}
		count++
		if head.Modified.After(newest) {
			newest = head.Modified
		}
	}
	if count == 0 {
		return 0, newest, fmt.Errorf("the OSV database %s has no advisories: an empty database would pass every build", database)
	}
	if age := now.Sub(newest); age > maxAge {
		return count, newest, fmt.Errorf("the OSV database %s is stale: its newest advisory was modified %s, %d days ago; the gate accepts at most %d (--max-db-age-days).\nhint: Mirror https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip again (docs/vulnerabilities.md)",
			database, newest.Format("2006-01-02"), int(age.Hours()/24), int(maxAge.Hours()/24))
	}
	return count, newest, nil
}
