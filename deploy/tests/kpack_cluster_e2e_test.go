package tests

// kpack on the node: its controller (scripts/cluster.sh runs it, at the version go.mod requires)
// resolves deploy/kpack's ClusterStore, ClusterStack and ClusterBuilder and makes the builder
// from our buildpack package, the stack images and the lifecycle the builder pins; then it
// builds deploy/kpack's Image from the app's Git repository with its build pods, signs it, and
// the image runs on the node. What it shows: the kpack version kpack.yaml names accepts the
// buildpacks (Buildpack API 0.10), makes a builder whose order, buildpacks and stack are ours,
// and builds an app that starts. Overlays: the package, stack images and tags in the testbed
// registry, the bookworm twin's stack id (its images carry it) with the testbed's CAs in its
// build image (kpack gives build pods no CA), the Git server's URL, the Python mirror, the
// namespace; and build pods on the host's network (a test-scoped mutating webhook: kpack has no
// such setting), as the workflows' pods are.

import (
	"testing"

	kpack "github.com/pivotal/kpack/pkg/client/clientset/versioned"
)

func TestE2EClusterKpackMakesOurBuilderAndBuildsTheAppThatRuns(t *testing.T) {
	k := &kpackSite{b: newArgoBench(t)}
	k.client = kpack.NewForConfigOrDie(k.b.config).KpackV1alpha2()
	made := k.clusterBuilder(t)
	k.builderIsOurs(t, made)
	if t.Failed() {
		return
	}
	built := k.image(t)
	k.signedAndBoundWithoutLeaks(t, built)
	k.runs(t, built)
}
