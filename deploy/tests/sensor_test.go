// Tests of the deploy/ manifests that need no cluster: the Sensor's filters and trigger
// parameters run through Argo Events' own code against GitHub's real push payloads, and the
// kpack manifests are checked against what the builder, package and stack files declare.
package tests

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/luban-buildpacks/luban/deploy/apps"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func TestSensorPassesAPushToTheDefaultBranch(t *testing.T) {
	sensor := loadSensor(t)
	if !passes(t, sensor, pushPayload(t, nil)) {
		t.Fatal("a push to the default branch (refs/heads/main, default_branch main) must pass")
	}
	newBranch := pushPayload(t, func(p map[string]any) { p["created"] = true; p["before"] = strings.Repeat("0", 40) })
	if !passes(t, sensor, newBranch) {
		t.Error("the first push of the default branch must pass")
	}
}

func TestSensorFiltersOutOtherReposBranchesTagsAndDeletions(t *testing.T) {
	sensor := loadSensor(t)
	for name, change := range map[string]func(map[string]any){
		"another branch": func(p map[string]any) { p["ref"] = "refs/heads/feature/login" },
		// a prefix match must not pass
		"a branch whose name starts with the default branch's": func(p map[string]any) { p["ref"] = "refs/heads/main-old" },
		"a tag": func(p map[string]any) { p["ref"] = "refs/tags/v1.0.0" },
		"a deletion of the default branch": func(p map[string]any) {
			p["deleted"] = true
			p["after"] = strings.Repeat("0", 40)
		},
		"another repository": func(p map[string]any) {
			repo := p["repository"].(map[string]any)
			repo["full_name"] = "someone-else/sample-app"
			repo["clone_url"] = "https://github.com/someone-else/sample-app.git"
		},
	} {
		if passes(t, sensor, pushPayload(t, change)) {
			t.Errorf("%s must be filtered out", name)
		}
	}
}

// Two apps on one EventSource and Sensor (luban-apps): a delivery at app A's endpoint that
// names app B's repository builds nothing, and what A's push builds, publishes and deploys is
// A's, whatever clone URL the payload carries.
func TestAPushOfOneAppNeverBuildsAnother(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"app-a", "app-b"} {
		writeAppFile(t, dir, apps.App{Metadata: apps.Metadata{Name: name}, Spec: apps.Spec{
			Repository: "team/" + name, CloneURL: "https://forge.example/team/" + name + ".git", Image: "registry.example.com/team/" + name,
			Environments: []apps.Environment{{Name: "staging", Path: "apps/" + name + "/staging", Namespace: name}},
			Build:        apps.Build{RegistryCache: true}}})
	}
	list, err := apps.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, config := exampleSite(t)
	sensor, err := apps.Sensor(list, config)
	if err != nil {
		t.Fatal(err)
	}
	// Argo Events hands a dependency only the events of its own event name (the app's endpoint).
	for _, dep := range sensor.Spec.Dependencies {
		if dep.EventSourceName != apps.EventSourceName || !strings.HasPrefix(dep.Name, dep.EventName+"-") {
			t.Errorf("dependency %s listens to %s/%s", dep.Name, dep.EventSourceName, dep.EventName)
		}
	}
	pushOf := func(repository string) []byte {
		return pushPayload(t, func(p map[string]any) {
			repo := p["repository"].(map[string]any)
			repo["full_name"] = repository
			repo["clone_url"] = "https://forge.example/" + repository + ".git"
		})
	}
	if passesAs(t, sensor, "app-a-push", "push", pushOf("team/app-b")) {
		t.Error("app B's push at app A's endpoint must be dropped")
	}
	if !passesAs(t, sensor, "app-a-push", "push", pushOf("team/app-a")) {
		t.Fatal("app A's push must pass app A's dependency")
	}
	// A's own delivery with another clone URL still builds A's repository into A's image.
	forged := pushPayload(t, func(p map[string]any) {
		repo := p["repository"].(map[string]any)
		repo["full_name"] = "team/app-a"
		repo["clone_url"] = "https://forge.example/team/app-b.git"
	})
	got := workflowArguments(triggeredWorkflow(t, sensor, "app-a-build", pushEvent(t, forged)))
	for key, want := range map[string]string{"repo-url": "https://forge.example/team/app-a.git", "image": "registry.example.com/team/app-a",
		"cache-image": "registry.example.com/team/app-a-cache", "kustomization-dir": "apps/app-a/staging", "application": "app-a",
		"forge-repository": "team/app-a", "image-name": "app-a"} {
		if got[key] != want {
			t.Errorf("app A's build has %s = %q, want %q", key, got[key], want)
		}
	}
}

func TestSensorSubmitsTheBuildWithCloneURLAndPushedCommit(t *testing.T) {
	workflow := sensorWorkflow(t, loadSensor(t), pushPayload(t, nil))
	got := workflowArguments(workflow)
	if got["repo-url"] != "https://github.com/luban-buildpacks/sample-app.git" {
		t.Errorf("repo-url = %q", got["repo-url"])
	}
	if got["revision"] != "4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70" {
		t.Errorf("revision = %q, want the payload's `after`", got["revision"])
	}
	if got["cache-image"] != "" {
		t.Errorf("cache-image = %q: the example app keeps no registry cache (build.registryCache is off)", got["cache-image"])
	}
	if got["since"] != "9a0b1c2d3e4f5061728394a5b6c7d8e9f0a1b2c3" {
		t.Errorf("since = %q, want the payload's `before` (the secret scan reads the commits since)", got["since"])
	}

	// Every parameter the Sensor passes is one the WorkflowTemplate declares.
	templateRef, _, _ := unstructured.NestedString(workflow.Object, "spec", "workflowTemplateRef", "name")
	var template struct {
		Metadata struct{ Name string }
		Spec     struct {
			Arguments struct {
				Parameters []struct{ Name string }
			}
		}
	}
	doc := documents(t, filepath.Join(repoRoot(t), "deploy/argo/workflows/build-template.yaml"), "WorkflowTemplate")[0]
	if err := yaml.Unmarshal(doc, &template); err != nil {
		t.Fatal(err)
	}
	if templateRef != template.Metadata.Name {
		t.Errorf("the Sensor submits %q, the template is %q", templateRef, template.Metadata.Name)
	}
	declared := map[string]bool{}
	for _, p := range template.Spec.Arguments.Parameters {
		declared[p.Name] = true
	}
	for name := range got {
		if !declared[name] {
			t.Errorf("the Sensor passes %q, which the WorkflowTemplate doesn't declare", name)
		}
	}
}

// Gitea's push webhook is GitHub's shape without `created`, `deleted` and `forced`: a push to
// the default branch passes, the push that deletes it (after = zeros) doesn't.
func TestSensorPassesGiteasPushAndFiltersOutItsDeletion(t *testing.T) {
	sensor := loadSensor(t)
	gitea := func(change func(map[string]any)) []byte {
		return pushPayload(t, func(p map[string]any) {
			delete(p, "created")
			delete(p, "deleted")
			delete(p, "forced")
			delete(p, "base_ref")
			if change != nil {
				change(p)
			}
		})
	}
	if !passes(t, sensor, gitea(nil)) {
		t.Error("Gitea's push to the default branch must pass")
	}
	if passes(t, sensor, gitea(func(p map[string]any) { p["after"] = strings.Repeat("0", 40) })) {
		t.Error("Gitea's deletion of the default branch must be filtered out")
	}
	if got := workflowArguments(sensorWorkflow(t, sensor, gitea(nil)))["forge-repository"]; got != "luban-buildpacks/sample-app" {
		t.Errorf("forge-repository = %v, want the payload's repository.full_name", got)
	}
}

// A pull request from a branch of the repository is built when opened, reopened or pushed to;
// one from a fork, a closed one, and pushes never pass the other's dependency.
func TestSensorBuildsPullRequestsFromTheRepositoryOnly(t *testing.T) {
	sensor := loadSensor(t)
	for _, action := range []string{"opened", "reopened", "synchronize", "synchronized"} {
		if !passesAs(t, sensor, "sample-app-pull-request", "pull_request", pullRequestPayload(t, func(p map[string]any) { p["action"] = action })) {
			t.Errorf("a pull request %s must be built", action)
		}
	}
	for name, change := range map[string]func(map[string]any){
		"a closed pull request": func(p map[string]any) { p["action"] = "closed" },
		"a pull request from a fork": func(p map[string]any) {
			p["pull_request"].(map[string]any)["head"].(map[string]any)["repo"].(map[string]any)["full_name"] = "someone/sample-app"
		},
		"a pull request to another repository": func(p map[string]any) {
			p["repository"].(map[string]any)["full_name"] = "someone/sample-app"
		},
	} {
		if passesAs(t, sensor, "sample-app-pull-request", "pull_request", pullRequestPayload(t, change)) {
			t.Errorf("%s must not be built", name)
		}
	}
	if passesAs(t, sensor, "sample-app-push", "pull_request", pullRequestPayload(t, nil)) {
		t.Error("a pull request must not pass as a push")
	}
	if passesAs(t, sensor, "sample-app-pull-request", "push", pushPayload(t, nil)) {
		t.Error("a push must not pass as a pull request")
	}
}

// The pull request's Workflow builds its head commit from its head repository, publishes
// under :pr-<number>, reports on the head commit and deploys nothing.
func TestSensorSubmitsAPullRequestsHeadUnderItsOwnTagWithoutDeploy(t *testing.T) {
	workflow := triggeredWorkflow(t, loadSensor(t), "sample-app-build-pull-request", githubEvent(t, "pull_request", pullRequestPayload(t, nil)))
	got := workflowArguments(workflow)
	want := map[string]string{
		"repo-url": "https://github.com/luban-buildpacks/sample-app.git", "revision": "9a8b7c6d5e4f30211f2e3d4c5b6a79808f7e6d5c",
		"image": "registry.example.com/luban/sample-app:pr-7", "forge-repository": "luban-buildpacks/sample-app", "gitops-repo": "", "cache-image": "",
		"since": "4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70", // the base's commit
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the pull request's Workflow parameters are %v, want %v", got, want)
	}
}

// A push to another branch of the repository is built, tested and signed, published under
// :commit-<sha>, and deploys nothing; the default branch, tags, deletions, other repositories
// and pull requests never pass its dependency.
func TestSensorBuildsOtherBranchesWithoutDeploy(t *testing.T) {
	sensor := loadSensor(t)
	feature := func(p map[string]any) { p["ref"] = "refs/heads/feature/login" }
	if !passesAs(t, sensor, "sample-app-branch-push", "push", pushPayload(t, feature)) {
		t.Fatal("a push to another branch must be built")
	}
	for name, change := range map[string]func(map[string]any){
		"the default branch": nil,
		"a tag":              func(p map[string]any) { p["ref"] = "refs/tags/v1.0.0" },
		"a branch's deletion": func(p map[string]any) {
			feature(p)
			p["after"] = strings.Repeat("0", 40)
		},
		// `after` goes into the image's tag.
		"a push whose after is not a commit SHA": func(p map[string]any) {
			feature(p)
			p["after"] = "latest"
		},
		"another repository's branch": func(p map[string]any) {
			feature(p)
			p["repository"].(map[string]any)["full_name"] = "someone-else/sample-app"
		},
	} {
		if passesAs(t, sensor, "sample-app-branch-push", "push", pushPayload(t, change)) {
			t.Errorf("%s must not pass as another branch's push", name)
		}
	}
	if passesAs(t, sensor, "sample-app-branch-push", "pull_request", pullRequestPayload(t, nil)) {
		t.Error("a pull request must not pass as a push")
	}
	got := workflowArguments(triggeredWorkflow(t, sensor, "sample-app-build-branch", pushEvent(t, pushPayload(t, feature))))
	want := map[string]string{
		"repo-url": "https://github.com/luban-buildpacks/sample-app.git", "revision": "4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70",
		"image":            "registry.example.com/luban/sample-app:commit-4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70",
		"forge-repository": "luban-buildpacks/sample-app", "gitops-repo": "", "since": "9a0b1c2d3e4f5061728394a5b6c7d8e9f0a1b2c3", "cache-image": "",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("another branch's Workflow parameters are %v, want %v", got, want)
	}
}
