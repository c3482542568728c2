package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The promotion's decision, as a pure function: which digest of the image does an environment
// run, healthy, and at which GitOps commit. Production is promoted to exactly that.

var imageDigest = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// Staged is what an environment runs: the image digest and the GitOps commit it was synced to.
type Staged struct {
	Digest, GitOpsCommit string
}

// StagedDigest reads the Application (synced and healthy) and its Deployments (every one
// rolled out): the one digest of `image` their containers run. Anything else (not synced,
// degraded, mid-rollout, two digests, the image by tag) is an error that says so.
func StagedDigest(app *unstructured.Unstructured, deployments []*appsv1.Deployment, image string) (Staged, error) {
	str := func(fields ...string) string {
		value, _, _ := unstructured.NestedString(app.Object, fields...)
		return value
	}
	name := app.GetName()
	sync, revision, health := str("status", "sync", "status"), str("status", "sync", "revision"), str("status", "health", "status")
	if sync != "Synced" || health != "Healthy" {
		return Staged{}, fmt.Errorf("Application %s is not synced and healthy (sync %s, health %s): promote once it is", name, orNone(sync), orNone(health))
	}
	if !validRevision.MatchString(revision) {
		return Staged{}, fmt.Errorf("Application %s reports no GitOps commit it is synced to", name)
	}
	if len(deployments) == 0 {
		return Staged{}, fmt.Errorf("Application %s deploys no Deployment", name)
	}
	digests := map[string]bool{}
	for _, d := range deployments {
		if progress := DeploymentProgress(d); !progress.Complete {
			return Staged{}, fmt.Errorf("Application %s is still rolling out (%s): promote once it is done", name, progress.State)
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			repository, digest, pinned := strings.Cut(c.Image, "@")
			if slash, colon := strings.LastIndex(repository, "/"), strings.LastIndex(repository, ":"); colon > slash {
				repository = repository[:colon] // a tag
			}
			if repository != image {
				continue
			}
			if !pinned || !imageDigest.MatchString(digest) {
				return Staged{}, fmt.Errorf("Deployment %s runs %s, not a digest of it: only a digest is promoted", d.Name, c.Image)
			}
			digests[digest] = true
		}
	}
	switch len(digests) {
	case 0:
		return Staged{}, fmt.Errorf("no container of Application %s runs %s", name, image)
	case 1:
		for digest := range digests {
			return Staged{Digest: digest, GitOpsCommit: revision}, nil
		}
	}
	return Staged{}, errors.New("Application " + name + " runs more than one digest of " + image + ": promote once one is live")
}
