package main

// `luban-osv-gate project-files`: the clone step's last moves. A project descriptor
// (project.toml) may say which of the repository's files go into the build (`include`) or
// which stay out (`exclude`); pack applies that before the lifecycle sees the app, and so does
// this, on the clone, before any gate or build step reads it: a `.env` a team excluded never
// reaches the image. The same schema versions as pack (0.2: `[io.buildpacks]`, none or 0.1:
// `[build]`), the same matcher (go-gitignore, gitignore's syntax over paths relative to the
// app), the same rule that a descriptor can't have both. Then the digest of the build's inputs
// (InputsDigest): what is left of the commit, and the settings that change what a build makes.

import (
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/BurntSushi/toml"
	ignore "github.com/sabhiram/go-gitignore"
)

// FileFilter says which of the app's files the build gets; nil keeps them all.
type FileFilter struct {
	kind     string // "include" or "exclude"
	patterns []string
	matcher  *ignore.GitIgnore
}

// Keeps: whether the file at `rel` (relative to the app, slash-separated) is in the build.
func (f *FileFilter) Keeps(rel string) bool {
	if f == nil {
		return true
	}
	return f.matcher.MatchesPath(rel) == (f.kind == "include")
}

// ParseProjectDescriptor reads project.toml's include or exclude list.
func ParseProjectDescriptor(raw []byte) (*FileFilter, error) {
	var descriptor struct {
		Project struct {
			SchemaVersion string `toml:"schema-version"`
		} `toml:"_"`
		IO struct {
			Buildpacks files `toml:"buildpacks"`
		} `toml:"io"`
		Build files `toml:"build"` // schema 0.1
	}
	if err := toml.Unmarshal(raw, &descriptor); err != nil {
		return nil, fmt.Errorf("project.toml is not valid TOML: %w", err)
	}
	var listed files
	switch version := descriptor.Project.SchemaVersion; version {
	case "0.2":
		listed = descriptor.IO.Buildpacks
	case "", "0.1":
		listed = descriptor.Build
	default:
		return nil, fmt.Errorf("project.toml: unknown schema-version %q under [_] (pack reads 0.1 and 0.2)", version)
	}
	section := "[io.buildpacks]"
	if descriptor.Project.SchemaVersion != "0.2" {
		section = "[build]"
	}
	switch {
	case len(listed.Include) > 0 && len(listed.Exclude) > 0:
		return nil, fmt.Errorf("project.toml: %s has both `include` and `exclude`; keep one (pack refuses both too)", section)
	case len(listed.Exclude) > 0:
		return &FileFilter{kind: "exclude", patterns: listed.Exclude, matcher: ignore.CompileIgnoreLines(listed.Exclude...)}, nil
	case len(listed.Include) > 0:
		return &FileFilter{kind: "include", patterns: listed.Include, matcher: ignore.CompileIgnoreLines(listed.Include...)}, nil
	}
	return nil, nil
}

type files struct {
	Include []string `toml:"include"`
	Exclude []string `toml:"exclude"`
}

// ApplyFileFilter removes from the app what the filter leaves out: each file (or link) that
// isn't kept, then each directory it left empty that isn't kept either, as pack's archive of
// the app would lack them. Links are removed, never followed. It returns what it removed.
func ApplyFileFilter(source string, filter *FileFilter) ([]string, error) {
	if filter == nil {
		return nil, nil
	}
	var removed, dirs []string
	err := walkApp(source, func(path, rel string, entry fs.DirEntry) error {
		if entry.IsDir() {
			dirs = append(dirs, rel)
			return nil
		}
		if !filter.Keeps(rel) {
			removed = append(removed, rel)
			return os.Remove(path)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Deepest first, so a directory's emptied children go before it.
	slices.Reverse(dirs)
	for _, rel := range dirs {
		if filter.Keeps(rel) {
			continue
		}
		// A directory something kept is still in stays.
		if err := os.Remove(filepath.Join(source, filepath.FromSlash(rel))); err == nil {
			removed = append(removed, rel+"/")
		} else if !errors.Is(err, syscall.ENOTEMPTY) {
			return nil, err
		}
	}
	return removed, nil
}

// InputsDigest is the hex SHA-256 of what a build reads: each path under source (sorted, as
// bytes), its kind and executable bit, and a file's content or a link's target (never
// followed); then each of `settings` (the builder, the run image, the build env). Two
// commits with the same digest build the same image but for its labels.
func InputsDigest(source string, settings []string) (string, error) {
	sum := sha256.New()
	err := walkApp(source, func(path, rel string, entry fs.DirEntry) error {
		info, err := entry.Info()
		if err != nil {
			return err
		}
		// One record per path: kind, executable bit, path, content; each field NUL-ended.
		fmt.Fprintf(sum, "%s\x00%t\x00%s\x00", kind(info.Mode()), info.Mode()&0o111 != 0, rel)
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(sum, "%s\x00", target)
		case info.Mode().IsRegular():
			file, err := os.Open(path)
			if err != nil {
				return err
			}
			content := sha256.New()
			_, err = io.Copy(content, file)
			file.Close()
			if err != nil {
				return err
			}
			fmt.Fprintf(sum, "%x\x00", content.Sum(nil))
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	for _, setting := range settings {
		fmt.Fprintf(sum, "setting\x00%s\x00", setting)
	}
	return fmt.Sprintf("%x", sum.Sum(nil)), nil
}

// walkApp visits every path under source but source itself, in lexical order, links not
// followed; rel is the path relative to source, slash-separated.
func walkApp(source string, visit func(path, rel string, entry fs.DirEntry) error) error {
	return filepath.WalkDir(source, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(source, path)
		if err != nil || rel == "." {
			return err
		}
		return visit(path, filepath.ToSlash(rel), entry)
	})
}

func kind(mode fs.FileMode) string {
	switch {
	case mode.IsDir():
		return "dir"
	case mode&fs.ModeSymlink != 0:
		return "link"
	case mode.IsRegular():
		return "file"
	}
	return "other"
}

// settingFlags collects repeated -setting values.
type settingFlags []string

func (s *settingFlags) String() string     { return strings.Join(*s, ",") }
func (s *settingFlags) Set(v string) error { *s = append(*s, v); return nil }

func runProjectFiles(args []string) error {
	flags := flag.NewFlagSet("project-files", flag.ContinueOnError)
	source := flags.String("source", "/workspace/source", "the commit's files, which this changes")
	inputs := flags.String("inputs", "", "a file to write the digest of the build's inputs to (hex)")
	var settings, settingFiles settingFlags
	flags.Var(&settings, "setting", "a setting that changes what the build makes (repeat): part of the inputs' digest")
	flags.Var(&settingFiles, "setting-file", "name=path: a file whose content is such a setting (repeat); a missing file is `absent`")
	if err := flags.Parse(args); err != nil {
		return err
	}
	for _, file := range settingFiles {
		name, path, _ := strings.Cut(file, "=")
		raw, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			settings = append(settings, name+"=absent")
		case err != nil:
			return err
		default:
			settings = append(settings, fmt.Sprintf("%s=sha256:%x", name, sha256.Sum256(raw)))
		}
	}
	if err := applyProjectDescriptor(*source); err != nil {
		return err
	}
	if *inputs == "" {
		return nil
	}
	digest, err := InputsDigest(*source, settings)
	if err != nil {
		return err
	}
	fmt.Printf("The build's inputs: sha256:%s\n", digest)
	return os.WriteFile(*inputs, []byte(digest), 0o644)
}

// applyProjectDescriptor reads project.toml, if any, and removes what it leaves out.
func applyProjectDescriptor(source string) error {
	raw, err := readAppFile(source, "project.toml")
	if err != nil {
		return fmt.Errorf("project.toml can't be read (%v): a link must stay inside the repository", err)
	} else if raw == nil {
		return nil
	}
	filter, err := ParseProjectDescriptor(raw)
	if err != nil || filter == nil {
		return err
	}
	removed, err := ApplyFileFilter(source, filter)
	if err != nil {
		return err
	}
	fmt.Printf("project.toml: %s %s: %d path(s) left out of the build\n", filter.kind, strings.Join(filter.patterns, ", "), len(removed))
	for i, rel := range removed {
		if i == 20 {
			fmt.Printf("  … and %d more\n", len(removed)-i)
			break
		}
		fmt.Println("  " + rel)
	}
	return nil
}
