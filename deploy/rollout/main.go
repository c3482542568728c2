// luban-rollout: after a GitOps commit, waits until Argo CD has synced it and every Deployment
// of the Application has rolled out with all its new pods ready, or says why not. It asks Argo
// CD to refresh at once rather than wait for its poll, and fails early when a new pod can't
// start (crash loop, image pull, missing configuration), naming the pod, its exit code and its
// last output. The workflow (deploy/argo/cd/update-digest-template.yaml) rolls back on failure.
//
//	luban-rollout --application sample-app --revision <GitOps commit> --timeout 3m --result /tmp/result
//
// It runs in a pod with the luban-rollout service account's token (read Applications and ask
// them to refresh; read Deployments, pods and events), and reads nothing else.
//
// Before the GitOps commit, its preflight checks that what the new version's pods need from
// their namespace is there (Secrets, ConfigMaps, service accounts, image pull Secrets), with
// the luban-preflight service account's token, which may read those objects' metadata in the
// app's namespace and the Application; it asks for metadata only, never a Secret's data:
//
//	luban-rollout preflight --application sample-app --manifests "$(kustomize build …)" --result /tmp/result
//
// A promotion (luban-promote) asks which digest the environment it promotes from runs, synced
// and healthy, with the luban-rollout service account's token:
//
//	luban-rollout staged --application sample-app --image registry.example.com/team/app --digest-file /tmp/digest --gitops-commit-file /tmp/commit
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
)

var applications = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}

var (
	validName     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)
	validRevision = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "preflight" {
		preflightMain(os.Args[2:])
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "staged" {
		stagedMain(os.Args[2:])
		return
	}
	app := targetFlags(flag.CommandLine, "the Argo CD Application that deploys the GitOps path")
	revision := flag.String("revision", "", "the GitOps commit (full SHA) to wait for")
	timeout := flag.Duration("timeout", 3*time.Minute, "how long the sync and the rollout may take together")
	flag.Parse()
	err := app.check()
	switch {
	case err != nil:
	case !validRevision.MatchString(*revision):
		err = fmt.Errorf("--revision %q is not a full commit SHA", *revision)
	case *timeout <= 0:
		err = errors.New("--timeout must be positive")
	default:
		err = run(*app.application, *app.namespace, *revision, *timeout)
	}
	finish("Rollout", "live", *app.result, err)
}

// target is what every mode of luban-rollout is given: the Argo CD Application it works on,
// and a file for its one-line outcome.
type target struct{ application, namespace, result *string }

func targetFlags(flags *flag.FlagSet, application string) target {
	return target{
		application: flags.String("application", "", application),
		namespace:   flags.String("argocd-namespace", "argocd", "the namespace of Argo CD's Applications"),
		result:      flags.String("result", "", "a file to write the outcome to, one line (for the commit status)"),
	}
}

func (t target) check() error {
	switch {
	case !validName.MatchString(*t.application):
		return fmt.Errorf("--application %q is not a Kubernetes object name", *t.application)
	case !validName.MatchString(*t.namespace):
		return fmt.Errorf("--argocd-namespace %q is not a namespace name", *t.namespace)
	}
	return nil
}

// cluster holds the API clients, from the pod's service-account token.
type cluster struct {
	apps    dynamic.Interface
	client  kubernetes.Interface
	objects metadata.Interface
}

func connect() (*cluster, error) {
	config, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("no Kubernetes API access in this pod: %w", err)
	}
	var c cluster
	if c.apps, err = dynamic.NewForConfig(config); err != nil {
		return nil, err
	}
	if c.client, err = kubernetes.NewForConfig(config); err != nil {
		return nil, err
	}
	if c.objects, err = metadata.NewForConfig(config); err != nil {
		return nil, err
	}
	return &c, nil
}

// application reads the Argo CD Application `name` in `namespace`.
func (c *cluster) application(ctx context.Context, namespace, name string) (*unstructured.Unstructured, error) {
	app, err := c.apps.Resource(applications).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("can't read Application %s/%s: %w", namespace, name, err)
	}
	return app, nil
}

// finish writes the outcome's one line to `result` (for the commit status) and exits 1 on err.
func finish(what, success, result string, err error) {
	line := success
	if err != nil {
		line = oneLine(err.Error())
		fmt.Fprintf(os.Stderr, "%s failed: %v\n", what, err)
	}
	if result != "" {
		if werr := os.WriteFile(result, []byte(line+"\n"), 0o644); werr != nil {
			fmt.Fprintf(os.Stderr, "can't write %s: %v\n", result, werr)
		}
	}
	if err != nil {
		os.Exit(1)
	}
}

func run(application, namespace, revision string, timeout time.Duration) error {
	c, err := connect()
	if err != nil {
		return err
	}
	client := c.client
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	started := time.Now()
	appClient := c.apps.Resource(applications).Namespace(namespace)

	// Argo CD polls its repositories every few minutes; the annotation makes it look now.
	refresh := []byte(`{"metadata":{"annotations":{"argocd.argoproj.io/refresh":"normal"}}}`)
	if _, err := appClient.Patch(ctx, application, types.MergePatchType, refresh, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("can't ask Argo CD to refresh Application %s/%s: %w", namespace, application, err)
	}
	fmt.Printf("Asked Argo CD to refresh %s; waiting for GitOps commit %s\n", application, short(revision))

	var sync Sync
	last := ""
	report := func(state string) {
		if state != last {
			fmt.Printf("%5.1fs  %s\n", time.Since(started).Seconds(), state)
			last = state
		}
	}
	for {
		app, err := appClient.Get(ctx, application, metav1.GetOptions{})
		if err != nil {
			return deadline(ctx, fmt.Errorf("can't read Application %s/%s: %w", namespace, application, err), last)
		}
		sync = ApplicationSync(app, revision)
		report(sync.State)
		if sync.Failure != "" {
			return errors.New(sync.Failure)
		}
		if sync.Synced {
			break
		}
		if err := pause(ctx); err != nil {
			return deadline(ctx, fmt.Errorf("Argo CD did not sync GitOps commit %s in %s", short(revision), timeout), last)
		}
	}
	fmt.Printf("%5.1fs  synced; %d Deployment(s) to roll out\n", time.Since(started).Seconds(), len(sync.Deployments))

	pending := sync.Deployments
	for len(pending) > 0 {
		var still []Resource
		for _, r := range pending {
			d, err := client.AppsV1().Deployments(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
			if err != nil {
				return deadline(ctx, fmt.Errorf("can't read Deployment %s/%s: %w", r.Namespace, r.Name, err), last)
			}
			progress := DeploymentProgress(d)
			report(progress.State)
			pods, err := client.CoreV1().Pods(r.Namespace).List(ctx, metav1.ListOptions{
				LabelSelector: metav1.FormatLabelSelector(d.Spec.Selector)})
			if err != nil {
				return deadline(ctx, fmt.Errorf("can't list the pods of Deployment %s/%s: %w", r.Namespace, r.Name, err), last)
			}
			var fresh []corev1.Pod
			for i := range pods.Items {
				pod := &pods.Items[i]
				if !RunsTemplate(pod, d) {
					continue
				}
				fresh = append(fresh, *pod)
				if reason, container, lines := PodFailure(pod); reason != "" {
					printLines(r.Namespace, pod.Name, container, lines)
					return fmt.Errorf("the new version does not start: %s", reason)
				}
			}
			if progress.Failure != "" {
				return fmt.Errorf("%s%s", progress.Failure, events(client, r.Namespace, fresh))
			}
			if !progress.Complete {
				still = append(still, r)
				if ctx.Err() != nil {
					return fmt.Errorf("the rollout did not finish in %s: %s%s", timeout, progress.State, events(client, r.Namespace, fresh))
				}
			}
		}
		pending = still
		if len(pending) > 0 {
			_ = pause(ctx) // the next round reports the deadline with the Deployment's state
		}
	}
	fmt.Printf("%5.1fs  live: every Deployment rolled out, its new pods ready\n", time.Since(started).Seconds())
	return nil
}

// events: the newest Warning event of the new version's pods (a failing readiness probe says
// why here), as a suffix for a failure message.
func events(client kubernetes.Interface, namespace string, pods []corev1.Pod) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := client.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{FieldSelector: "type=Warning"})
	if err != nil {
		return ""
	}
	names := map[string]bool{}
	for _, pod := range pods {
		names[pod.Name] = true
	}
	var newest *corev1.Event
	for i := range list.Items {
		e := &list.Items[i]
		if e.InvolvedObject.Kind != "Pod" || !names[e.InvolvedObject.Name] {
			continue
		}
		if newest == nil || e.LastTimestamp.After(newest.LastTimestamp.Time) {
			newest = e
		}
	}
	if newest == nil {
		return ""
	}
	return fmt.Sprintf("; pod %s: %s", newest.InvolvedObject.Name, oneLine(newest.Message))
}

// printLines shows what the kubelet kept of a crashed container's output: its last 80 lines
// or 2 KB, which a server's own traceback can fill (gunicorn's after a worker failed to boot),
// so it says where the whole output is.
func printLines(namespace, pod, container string, lines []string) {
	if len(lines) > 0 {
		fmt.Printf("The last output of %s (what the kubelet keeps: 80 lines or 2 KB at most):\n", pod)
		for _, line := range lines {
			fmt.Printf("  | %s\n", line)
		}
	}
	fmt.Printf("The whole output: kubectl logs -n %s %s -c %s --previous\n", namespace, pod, container)
}

func pause(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Second):
		return nil
	}
}

// deadline names the deadline when the context ran out, else the error itself.
func deadline(ctx context.Context, err error, last string) error {
	if ctx.Err() != nil && last != "" {
		return fmt.Errorf("%w (last seen: %s)", err, strings.TrimSpace(last))
	}
	return err
}

// preflightMain checks the rendered manifests' references in the cluster; the deploy commits
// nothing when one is missing.
func preflightMain(args []string) {
	flags := flag.NewFlagSet("preflight", flag.ExitOnError)
	app := targetFlags(flags, "the Argo CD Application that deploys the manifests (its destination namespace)")
	manifests := flags.String("manifests", "", "the rendered manifests (kustomize build's output)")
	flags.Parse(args)
	err := app.check()
	if err == nil {
		err = preflight(*app.application, *app.namespace, []byte(*manifests))
	}
	finish("Preflight", "everything the new version needs is in the cluster", *app.result, err)
}

// The kinds a reference names, as API resources.
var referenced = map[string]schema.GroupVersionResource{
	"Secret":         {Version: "v1", Resource: "secrets"},
	"ConfigMap":      {Version: "v1", Resource: "configmaps"},
	"ServiceAccount": {Version: "v1", Resource: "serviceaccounts"},
}

func preflight(application, namespace string, manifests []byte) error {
	c, err := connect()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	app, err := c.application(ctx, namespace, application)
	if err != nil {
		return err
	}
	destination, _, _ := unstructured.NestedString(app.Object, "spec", "destination", "namespace")
	if destination == "" {
		return fmt.Errorf("Application %s/%s has no destination namespace", namespace, application)
	}
	refs, err := References(manifests, destination)
	if err != nil {
		return err
	}
	var missing []Reference
	for _, ref := range refs {
		// Metadata only: the check never receives a Secret's data.
		_, err := c.objects.Resource(referenced[ref.Kind]).Namespace(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			fmt.Printf("missing: %s\n", ref)
			missing = append(missing, ref)
		case err != nil:
			return fmt.Errorf("can't check %s: %w", ref, err)
		default:
			fmt.Printf("found:   %s\n", ref)
		}
	}
	if len(missing) > 0 {
		return errors.New(MissingText(missing))
	}
	fmt.Printf("%d reference(s) checked in namespace %s: all there\n", len(refs), destination)
	return nil
}

// stagedMain writes the digest the Application runs, healthy, and the GitOps commit it is
// synced to, to --digest-file and --gitops-commit-file.
func stagedMain(args []string) {
	flags := flag.NewFlagSet("staged", flag.ExitOnError)
	app := targetFlags(flags, "the Argo CD Application of the environment promoted from")
	image := flags.String("image", "", "the image repository whose digest is promoted")
	digestFile := flags.String("digest-file", "", "a file to write the digest to")
	commitFile := flags.String("gitops-commit-file", "", "a file to write the GitOps commit to")
	flags.Parse(args)
	var staged Staged
	err := app.check()
	switch {
	case err != nil:
	case *image == "" || strings.ContainsAny(*image, "@ \n"):
		err = fmt.Errorf("--image %q is not an image repository", *image)
	default:
		staged, err = readStaged(*app.application, *app.namespace, *image)
	}
	if err == nil && *digestFile != "" {
		err = os.WriteFile(*digestFile, []byte(staged.Digest+"\n"), 0o644)
	}
	if err == nil && *commitFile != "" {
		err = os.WriteFile(*commitFile, []byte(staged.GitOpsCommit+"\n"), 0o644)
	}
	if err == nil {
		fmt.Printf("%s runs %s@%s, synced to GitOps commit %s, healthy\n", *app.application, *image, staged.Digest, short(staged.GitOpsCommit))
	}
	finish("Reading the staged version", "staged "+staged.Digest, *app.result, err)
}

func readStaged(application, namespace, image string) (Staged, error) {
	c, err := connect()
	if err != nil {
		return Staged{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	app, err := c.application(ctx, namespace, application)
	if err != nil {
		return Staged{}, err
	}
	revision, _, _ := unstructured.NestedString(app.Object, "status", "sync", "revision")
	var deployments []*appsv1.Deployment
	for _, r := range ApplicationSync(app, revision).Deployments {
		d, err := c.client.AppsV1().Deployments(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
		if err != nil {
			return Staged{}, fmt.Errorf("can't read Deployment %s/%s: %w", r.Namespace, r.Name, err)
		}
		deployments = append(deployments, d)
	}
	return StagedDigest(app, deployments, image)
}
