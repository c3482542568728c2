package main

// The sandbox the app's own tools run in before the build (its tests, its linter): a private
// copy of the commit with uv's environment, caches, Pythons and temp dir beside it, so what
// they write never reaches the shared volume the build reads.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

type sandbox struct {
	ctx       context.Context
	work, app string
	env       []string
	program   string
}

func newSandbox(ctx context.Context, source, uv, envDir string) (*sandbox, error) {
	env, err := BuildEnv(os.Getenv("BUILD_ENV"))
	if err != nil {
		return nil, err
	}
	if envDir != "" {
		secrets, err := EnvDir(envDir)
		if err != nil {
			return nil, err
		}
		env = append(env, secrets...)
	}
	work, err := os.MkdirTemp("", "luban-sandbox-")
	if err != nil {
		return nil, err
	}
	box := &sandbox{ctx: ctx, work: work, app: filepath.Join(work, "app"), program: uv}
	if err := os.CopyFS(box.app, os.DirFS(source)); err != nil {
		box.close()
		return nil, fmt.Errorf("copying the commit: %w", err)
	}
	for _, dir := range []string{"tmp", "home", "cache"} {
		if err := os.Mkdir(filepath.Join(work, dir), 0o700); err != nil {
			box.close()
			return nil, err
		}
	}
	// Ours last: they win over the build env's.
	box.env = append(env, "CI=true", "HOME="+filepath.Join(work, "home"), "TMPDIR="+filepath.Join(work, "tmp"),
		"UV_CACHE_DIR="+filepath.Join(work, "cache"), "UV_PROJECT_ENVIRONMENT="+filepath.Join(work, "venv"),
		"UV_PYTHON_INSTALL_DIR="+filepath.Join(work, "python"), "UV_PYTHON_PREFERENCE=only-managed",
		"UV_NO_PROGRESS=1", "PATH="+os.Getenv("PATH"), "SSL_CERT_DIR="+os.Getenv("SSL_CERT_DIR"), "SSL_CERT_FILE="+os.Getenv("SSL_CERT_FILE"))
	return box, nil
}

func (b *sandbox) close() { os.RemoveAll(b.work) }

// uv is a uv command in the copy, its output on ours.
func (b *sandbox) uv(args ...string) *exec.Cmd {
	fmt.Printf("==> uv %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(b.ctx, b.program, args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = b.app, b.env, os.Stdout, os.Stdout
	return cmd
}

// output runs a uv command in the copy, printing its output and returning it.
func (b *sandbox) output(args ...string) (string, error) {
	cmd := b.uv(args...)
	var said bytes.Buffer
	cmd.Stdout = io.MultiWriter(os.Stdout, &said)
	cmd.Stderr = cmd.Stdout
	err := cmd.Run()
	return said.String(), err
}

// sync installs the locked dependencies with `groups` (only them, without the project, when
// `only`; every workspace member's with `allPackages`); it returns what went wrong in one line,
// or "".
func (b *sandbox) sync(groups []string, allPackages, only bool) string {
	args := []string{"sync", "--locked"}
	if allPackages {
		args = append(args, "--all-packages")
	}
	flag := "--group"
	if only {
		flag = "--only-group"
	}
	for _, g := range groups {
		args = append(args, flag, g)
	}
	if said, err := b.output(args...); err != nil {
		switch {
		case b.ctx.Err() != nil:
			return "installing the dependencies took too long"
		case strings.Contains(said, "needs to be updated"):
			return "`uv.lock` is out of date: run `uv lock` and commit it"
		}
		return "the dependencies could not be installed (uv sync --locked failed; its output is above)"
	}
	return ""
}

// sandboxGate is the command line the gates that run the app's tools share, and their outcome.
type sandboxGate struct {
	source, uv, result, envDir *string
	timeout                    *time.Duration
	// name ("Tests") prints before the outcome; failed ("the tests failed") and hint before and
	// after a failure's.
	name, failed, hint string
}

// newSandboxGate registers the shared flags on `flags`.
func newSandboxGate(flags *flag.FlagSet, timeout time.Duration, name, failed, hint string) *sandboxGate {
	return &sandboxGate{
		source:  flags.String("source", "/workspace/source", "the commit's files (read only)"),
		uv:      flags.String("uv", "uv", "the uv program"),
		result:  flags.String("result", "", "a file to write the one-line outcome to (for the commit status)"),
		timeout: flags.Duration("timeout", timeout, "how long installing and running may take"),
		envDir:  flags.String("env-dir", "", "a directory whose files are more env variables (the build's Secret: a private index's credentials)"),
		name:    name, failed: failed, hint: hint,
	}
}

// outcome prints the one-line outcome and writes it to --result, if set (for the commit
// status).
func (g *sandboxGate) outcome(line string) error {
	fmt.Println(g.name + ": " + line)
	if *g.result == "" {
		return nil
	}
	return os.WriteFile(*g.result, []byte(line+"\n"), 0o644)
}

// fail writes the outcome and fails the step with it.
func (g *sandboxGate) fail(line string) error {
	if err := g.outcome(line); err != nil {
		return err
	}
	return fmt.Errorf("%s: %s; nothing was built.\nhint: %s", g.failed, line, g.hint)
}

// open makes the sandbox, with the time limit; close it, then cancel.
func (g *sandboxGate) open() (*sandbox, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(context.Background(), *g.timeout)
	box, err := newSandbox(ctx, *g.source, *g.uv, *g.envDir)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return box, cancel, nil
}

// readAppFile is the commit's file `name`, read through an os.Root (a link that leads out of
// the commit is an error), or nil when it has none.
func readAppFile(source, name string) ([]byte, error) {
	root, err := os.OpenRoot(source)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	raw, err := fs.ReadFile(root.FS(), name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return raw, err
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
