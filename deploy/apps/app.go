// Package apps reads the pipeline's app files (one small file per app: its repository, image,
// GitOps paths, environments and build settings) and the site's config, checks them, and
// renders what each app needs on the cluster: its webhook endpoint in the EventSource, its
// Sensor dependencies and triggers, and its Argo CD Applications with their namespaces,
// project and Roles. Adding an app is adding its file; nothing else is edited by hand.
package apps

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// App is one app file, e.g. deploy/install/apps/sample-app.yaml.
type App struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Spec       Spec     `json:"spec"`
	// The file it was read from, for messages.
	File string `json:"-"`
}

type Metadata struct {
	Name string `json:"name"`
}

type Spec struct {
	// The repository on the forge, owner/name, as its webhook deliveries name it.
	Repository string `json:"repository"`
	// The repository's clone URL (https). The build clones this URL, never one from a delivery.
	CloneURL string `json:"cloneURL"`
	// The image the build publishes, without tag or digest.
	Image string `json:"image"`
	// The environments, in promotion order: a push to the default branch deploys to the first;
	// luban-promote deploys each of the others from the one before.
	Environments []Environment `json:"environments"`
	Build        Build         `json:"build,omitempty"`
}

type Environment struct {
	Name string `json:"name"`
	// The kustomization in the GitOps repository that this environment's Application deploys.
	Path string `json:"path"`
	// The namespace the app runs in there; its own, no other app's.
	Namespace string `json:"namespace"`
}

// Build holds the app's settings of luban-build (docs/argo-workflows.md); unset ones keep the
// template's defaults.
type Build struct {
	// Non-secret build env (BP_UV_GROUPS, UV_INDEX_URL, ...). Secrets never go here.
	Env   map[string]string `json:"env,omitempty"`
	Tests *bool             `json:"tests,omitempty"`
	Lint  *bool             `json:"lint,omitempty"`
	// RegistryCache keeps the default branch's build cache between workflows in the app's own
	// <image>-cache, which no other app may name. Off by default: build-time code (a build
	// backend, a setup.py) can write the cache, and a registry cache would carry what one
	// commit wrote into the next commit's build; with it off, each workflow starts cold.
	RegistryCache bool `json:"registryCache,omitempty"`
}

const (
	APIVersion = "luban.io/v1alpha1"
	Kind       = "App"
)

var (
	dnsLabel   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	repository = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
	// registry[:port]/path, lower case, no tag or digest.
	imageName = regexp.MustCompile(`^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+$`)
	gitopsDir = regexp.MustCompile(`^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$`)
	envKey    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Load reads every *.yaml file of dir as an app and checks each, and all of them together.
// Errors name the file and the app.
func Load(dir string) ([]App, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s has no app files (*.yaml); add one per app (docs/apps.md)", dir)
	}
	slices.Sort(files)
	var apps []App
	for _, file := range files {
		app, err := Read(file)
		if err != nil {
			return nil, err
		}
		apps = append(apps, app)
	}
	return apps, CheckTogether(apps)
}

// Read reads and checks one app file.
func Read(file string) (App, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return App{}, err
	}
	var app App
	// Strict: a misspelt field is an error, not a setting silently left out.
	if err := yaml.UnmarshalStrict(raw, &app); err != nil {
		name := filepath.Base(file)
		var meta struct {
			Metadata Metadata `json:"metadata"`
		}
		if yaml.Unmarshal(raw, &meta) == nil && meta.Metadata.Name != "" {
			name = meta.Metadata.Name
		}
		// sigs.k8s.io/yaml wraps the decoder's message twice; the last part says what is wrong.
		message := err.Error()
		if i := strings.LastIndex(message, "json: "); i >= 0 {
			message = message[i+len("json: "):]
		}
		return App{}, fmt.Errorf("app %s (%s): %s (docs/apps.md lists the fields)", name, file, message)
	}
	app.File = file
	if err := app.Check(); err != nil {
		return App{}, err
	}
	return app, nil
}

// Check checks one app on its own.
func (a App) Check() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if a.APIVersion != APIVersion || a.Kind != Kind {
		add("apiVersion and kind must be %s and %s, not %q and %q", APIVersion, Kind, a.APIVersion, a.Kind)
	}
	if !dnsLabel.MatchString(a.Metadata.Name) || len(a.Metadata.Name) > 40 {
		add("metadata.name %q must be a DNS label of at most 40 characters (lower case letters, digits, '-')", a.Metadata.Name)
	}
	if !repository.MatchString(a.Spec.Repository) {
		add("spec.repository %q must be owner/name, as the forge names the repository", a.Spec.Repository)
	}
	if !strings.HasPrefix(a.Spec.CloneURL, "https://") || strings.ContainsAny(a.Spec.CloneURL, "@ \n\"'") {
		add("spec.cloneURL %q must be an https URL without credentials", a.Spec.CloneURL)
	}
	if !imageName.MatchString(a.Spec.Image) {
		add("spec.image %q must be registry/repository in lower case, without a tag or digest", a.Spec.Image)
	}
	if len(a.Spec.Environments) == 0 {
		add("spec.environments is empty: name at least the one a push deploys to")
	}
	seen := map[string]bool{}
	for i, env := range a.Spec.Environments {
		where := fmt.Sprintf("spec.environments[%d]", i)
		if !dnsLabel.MatchString(env.Name) {
			add("%s.name %q must be a DNS label", where, env.Name)
		}
		if seen[env.Name] {
			add("%s.name %q is there twice", where, env.Name)
		}
		seen[env.Name] = true
		if !gitopsDir.MatchString(env.Path) || slices.Contains(strings.Split(env.Path, "/"), "..") || slices.Contains(strings.Split(env.Path, "/"), ".") {
			add("%s.path %q must be a relative directory of the GitOps repository (no '..')", where, env.Path)
		}
		if !dnsLabel.MatchString(env.Namespace) {
			add("%s.namespace %q must be a DNS label", where, env.Namespace)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(a.Spec.Build.Env)) {
		if !envKey.MatchString(key) {
			add("spec.build.env key %q must be a variable name (letters, digits, '_')", key)
		}
		if strings.ContainsAny(a.Spec.Build.Env[key], "\n\r") {
			add("spec.build.env %s has a line break; one line per value", key)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("app %s (%s):\n  - %s", a.Metadata.Name, a.File, strings.Join(problems, "\n  - "))
}

// CheckTogether refuses two apps that would share what keeps them apart: a name, a repository,
// an image, a GitOps path or a namespace.
func CheckTogether(apps []App) error {
	owner := map[string]string{}
	var problems []string
	claim := func(app App, what, value string) {
		key := what + "\x00" + value
		if other, ok := owner[key]; ok && other != app.Metadata.Name {
			problems = append(problems, fmt.Sprintf("app %s (%s): %s %q is app %s's", app.Metadata.Name, app.File, what, value, other))
			return
		} else if ok {
			problems = append(problems, fmt.Sprintf("app %s (%s): %s %q is there twice", app.Metadata.Name, app.File, what, value))
			return
		}
		owner[key] = app.Metadata.Name
	}
	for _, app := range apps {
		claim(app, "name", app.Metadata.Name)
		claim(app, "repository", strings.ToLower(app.Spec.Repository))
		claim(app, "image", app.Spec.Image)
		claim(app, "image", app.CacheImage())
		for i, env := range app.Spec.Environments {
			claim(app, "GitOps path", env.Path)
			claim(app, "namespace", env.Namespace)
			claim(app, "Application", app.Application(i))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return nil
}

// CacheImage is where the app's build cache is kept: its own repository.
func (a App) CacheImage() string { return a.Spec.Image + "-cache" }

// Application is the name of the Argo CD Application of the app's environment i: the app's own
// name for the first (where pushes deploy), <app>-<environment> for the others.
func (a App) Application(i int) string {
	if i == 0 {
		return a.Metadata.Name
	}
	return a.Metadata.Name + "-" + a.Spec.Environments[i].Name
}

// Config is the site's config (deploy/install/config.env): the settings of the install that the
// apps' objects need too.
type Config struct {
	GitOpsRepo   string
	GitOpsBranch string
	// The namespace of luban-build and the apps' EventSource and Sensor.
	WorkflowsNamespace string
	ArgoCDNamespace    string
}

// configKeys are config.env's keys that the apps' objects read, with their defaults ("" is
// required).
var configKeys = map[string]string{
	"gitops-repo":         "",
	"gitops-branch":       "main",
	"workflows-namespace": "argo",
	"argocd-namespace":    "argocd",
}

// ReadConfig reads the site's config.env (KEY=VALUE lines, '#' comments, as kustomize's
// configMapGenerator reads it). Keys the apps don't need are the install's, and left alone.
func ReadConfig(file string) (Config, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return Config{}, err
	}
	values := map[string]string{}
	scanner := bufio.NewScanner(bytes.NewReader(raw))
	for line := 1; scanner.Scan(); line++ {
		text := strings.TrimSpace(scanner.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		key, value, ok := strings.Cut(text, "=")
		if !ok {
			return Config{}, fmt.Errorf("%s:%d: %q is not KEY=VALUE", file, line, text)
		}
		values[key] = value
	}
	for key, fallback := range configKeys {
		if values[key] == "" {
			if fallback == "" {
				return Config{}, fmt.Errorf("%s: %s is not set; the apps' Applications deploy from it", file, key)
			}
			values[key] = fallback
		}
	}
	config := Config{
		GitOpsRepo: values["gitops-repo"], GitOpsBranch: values["gitops-branch"],
		WorkflowsNamespace: values["workflows-namespace"], ArgoCDNamespace: values["argocd-namespace"],
	}
	if !strings.HasPrefix(config.GitOpsRepo, "https://") {
		return Config{}, fmt.Errorf("%s: gitops-repo %q must be an https URL", file, config.GitOpsRepo)
	}
	for _, namespace := range []string{config.WorkflowsNamespace, config.ArgoCDNamespace} {
		if !dnsLabel.MatchString(namespace) {
			return Config{}, fmt.Errorf("%s: namespace %q must be a DNS label", file, namespace)
		}
	}
	return config, nil
}

// PromoteParameters are luban-promote's parameters that put the digest environment i-1 runs
// into environment i (i ≥ 1): `argo submit --from workflowtemplate/luban-promote -p key=value …`.
func (a App) PromoteParameters(i int) map[string]string {
	return map[string]string{
		"from-application":       a.Application(i - 1),
		"from-kustomization-dir": a.Spec.Environments[i-1].Path,
		"application":            a.Application(i),
		"kustomization-dir":      a.Spec.Environments[i].Path,
		"image":                  a.Spec.Image,
		"image-name":             a.Metadata.Name,
		"repo-url":               a.Spec.CloneURL,
	}
}
