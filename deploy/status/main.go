// luban-status: posts luban-build's stages as commit statuses on the commit it builds, through
// the forge's commit status API (`POST /repos/{owner}/{repo}/statuses/{sha}`, which GitHub
// and Gitea both serve), each with a target URL to the step's log in the Argo Workflows UI.
//
//	luban-status --mode watch --workflow NAME --forge-api https://gitea.example/api/v1 \
//	  --repository team/app --revision <sha>
//
// `--mode post --context C --state S --description D [--target-url U]` posts one status (a
// site's own stage, or the pack variant's).
//
// `--mode watch` runs beside the build: it posts every stage as pending, then each stage's
// outcome as soon as its steps end, and exits once the build's steps are over. `--mode final`
// is the exit handler: it posts every stage's outcome, so a status is posted on every failure
// path, a stage that never ran included. Posts are retried while the forge is down or busy.
//
// It reads the Workflow (the luban-status service account may get workflows) and the forge
// token from $FORGE_TOKEN; it opens no file and runs nothing of the app's.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

var workflows = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "workflows"}

var (
	validName       = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)
	validRevision   = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)
	validRepository = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$`)
)

// Options are the command line, checked before anything is read or posted.
type Options struct {
	Mode, Workflow, Namespace, ForgeAPI, Repository, Revision, ArgoUI string
	// --mode post's status.
	Post     Status
	Target   string
	RetryFor time.Duration
}

var validState = map[string]bool{"pending": true, "success": true, "failure": true, "error": true}
var validContext = regexp.MustCompile(`^[A-Za-z0-9_./-]{1,64}$`)

func (o Options) check() error {
	if o.Mode == "post" {
		switch {
		case !validContext.MatchString(o.Post.Context):
			return fmt.Errorf("--context %q: letters, digits and . _ / - only", o.Post.Context)
		case !validState[o.Post.State]:
			return fmt.Errorf("--state %q: pending, success, failure or error", o.Post.State)
		}
		if o.Target != "" {
			if err := checkURL("--target-url", o.Target); err != nil {
				return err
			}
		}
	}
	switch {
	case o.Mode != "watch" && o.Mode != "final" && o.Mode != "post":
		return fmt.Errorf("--mode %q: watch, final or post", o.Mode)
	case o.Mode != "post" && !validName.MatchString(o.Workflow):
		return fmt.Errorf("--workflow %q is not a workflow name", o.Workflow)
	case o.Mode != "post" && !validName.MatchString(o.Namespace):
		return fmt.Errorf("--namespace %q is not a namespace name", o.Namespace)
	case !validRepository.MatchString(o.Repository) || strings.Contains(o.Repository, ".."):
		return fmt.Errorf("--repository %q is not owner/name", o.Repository)
	case !validRevision.MatchString(o.Revision):
		return fmt.Errorf("--revision %q is not a full commit SHA", o.Revision)
	case o.RetryFor <= 0:
		return errors.New("--retry-for must be positive")
	}
	if err := checkURL("--forge-api", o.ForgeAPI); err != nil {
		return err
	}
	if o.ArgoUI != "" {
		return checkURL("--argo-ui", o.ArgoUI)
	}
	return nil
}

func checkURL(flag, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%s %q must be an http(s) URL without credentials, query or fragment", flag, raw)
	}
	return nil
}

func main() {
	var o Options
	flag.StringVar(&o.Mode, "mode", "watch", "watch (beside the build) or final (the exit handler)")
	flag.StringVar(&o.Workflow, "workflow", "", "this workflow's name")
	flag.StringVar(&o.Namespace, "namespace", "", "this workflow's namespace")
	flag.StringVar(&o.ForgeAPI, "forge-api", "", "the forge's API root: https://api.github.com, https://gitea.example/api/v1")
	flag.StringVar(&o.Repository, "repository", "", "owner/name of the repository the commit is in")
	flag.StringVar(&o.Revision, "revision", "", "the commit (full SHA)")
	flag.StringVar(&o.ArgoUI, "argo-ui", "", "the Argo Workflows UI's address, for the statuses' links (optional)")
	flag.StringVar(&o.Post.Context, "context", "", "--mode post: the status's context")
	flag.StringVar(&o.Post.State, "state", "", "--mode post: pending, success, failure or error")
	flag.StringVar(&o.Post.Description, "description", "", "--mode post: what it says")
	flag.StringVar(&o.Target, "target-url", "", "--mode post: its link (optional)")
	flag.DurationVar(&o.RetryFor, "retry-for", 2*time.Minute, "how long one status post is retried while the forge is unreachable")
	flag.Parse()
	token := os.Getenv("FORGE_TOKEN")
	err := o.check()
	if err == nil && token == "" {
		err = errors.New("FORGE_TOKEN is empty: set the status Secret's `token`")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "luban-status:", err)
		os.Exit(2)
	}
	forge := &Forge{API: strings.TrimRight(o.ForgeAPI, "/"), Repository: o.Repository, Token: token, RetryFor: o.RetryFor, Client: &http.Client{Timeout: 15 * time.Second}}
	if err := run(o, forge); err != nil {
		fmt.Fprintln(os.Stderr, "luban-status:", forge.redact(err.Error()))
		os.Exit(1)
	}
}

func run(o Options, forge *Forge) error {
	if o.Mode == "post" {
		o.Post.Description = clip(o.Post.Description)
		return forge.Post(o.Revision, o.Post, o.Target)
	}
	config, err := rest.InClusterConfig()
	if err != nil {
		return err
	}
	client, err := dynamic.NewForConfig(config)
	if err != nil {
		return err
	}
	read := func() (map[string]Node, error) {
		object, err := client.Resource(workflows).Namespace(o.Namespace).Get(context.Background(), o.Workflow, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("reading workflow %s: %w", o.Workflow, err)
		}
		raw, err := json.Marshal(object.Object["status"])
		if err != nil {
			return nil, err
		}
		var status struct {
			Nodes map[string]Node `json:"nodes"`
		}
		if err := json.Unmarshal(raw, &status); err != nil {
			return nil, fmt.Errorf("workflow %s's status: %w", o.Workflow, err)
		}
		return status.Nodes, nil
	}
	post := func(s Status) error {
		err := forge.Post(o.Revision, s, TargetURL(o.ArgoUI, o.Namespace, o.Workflow, s.NodeID))
		if err == nil {
			fmt.Printf("%s: %s (%s)\n", s.Context, s.State, s.Description)
		}
		return err
	}

	if o.Mode == "final" {
		nodes, err := read()
		if err != nil {
			return err
		}
		var failed []string
		for _, s := range Statuses(nodes, true) {
			if err := post(s); err != nil {
				failed = append(failed, err.Error())
			}
		}
		if len(failed) > 0 {
			return errors.New(strings.Join(failed, "; "))
		}
		return nil
	}

	// Watch: post what changed every two seconds until the build's steps are over. It never
	// fails the build: what it can't post, the exit handler posts.
	posted := map[string]Status{}
	var unreadableSince time.Time
	for {
		nodes, err := read()
		if err != nil {
			fmt.Fprintln(os.Stderr, "luban-status:", err)
			if unreadableSince.IsZero() {
				unreadableSince = time.Now()
			} else if time.Since(unreadableSince) > o.RetryFor {
				fmt.Fprintf(os.Stderr, "luban-status: the workflow has been unreadable for %s; the exit handler will post the outcomes\n", o.RetryFor)
				return nil
			}
			time.Sleep(2 * time.Second)
			continue
		}
		unreadableSince = time.Time{}
		done := false
		for _, n := range nodes {
			if n.DisplayName == "stages" && n.ended() {
				done = true
			}
		}
		for _, s := range Statuses(nodes, done) {
			if posted[s.Context] == s {
				continue
			}
			if err := post(s); err != nil {
				fmt.Fprintln(os.Stderr, "luban-status:", forge.redact(err.Error()))
				continue
			}
			posted[s.Context] = s
		}
		if done {
			return nil
		}
		time.Sleep(2 * time.Second)
	}
}

// Forge posts commit statuses to a GitHub-compatible API.
type Forge struct {
	API, Repository, Token string
	RetryFor               time.Duration
	Client                 *http.Client
}

// Post posts one status, retrying with backoff while the forge is unreachable, answers 5xx
// or 429, for up to RetryFor; any other answer is final.
func (f *Forge) Post(revision string, s Status, target string) error {
	body, err := json.Marshal(map[string]string{"state": s.State, "context": s.Context, "description": s.Description, "target_url": target})
	if err != nil {
		return err
	}
	endpoint := fmt.Sprintf("%s/repos/%s/statuses/%s", f.API, f.Repository, revision)
	deadline := time.Now().Add(f.RetryFor)
	wait := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		retry, err := f.postOnce(endpoint, body)
		if err == nil {
			return nil
		}
		if !retry || time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("posting %s to %s (attempt %d): %w", s.Context, endpoint, attempt, err)
		}
		fmt.Fprintf(os.Stderr, "luban-status: %s: %v; retrying in %s\n", s.Context, f.redact(err.Error()), wait)
		time.Sleep(wait)
		wait = min(wait*2, 10*time.Second)
	}
}

func (f *Forge) postOnce(endpoint string, body []byte) (retry bool, err error) {
	request, err := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	request.Header.Set("Authorization", "token "+f.Token)
	request.Header.Set("Content-Type", "application/json")
	request.Header.Set("Accept", "application/json")
	response, err := f.Client.Do(request)
	if err != nil {
		return true, err
	}
	defer response.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(response.Body, 512))
	switch {
	case response.StatusCode/100 == 2:
		return false, nil
	case response.StatusCode >= 500 || response.StatusCode == http.StatusTooManyRequests:
		return true, fmt.Errorf("the forge answered %s", response.Status)
	default:
		return false, fmt.Errorf("the forge answered %s: %s", response.Status, strings.TrimSpace(string(answer)))
	}
}

// redact keeps the token out of anything printed.
func (f *Forge) redact(text string) string {
	if f.Token == "" {
		return text
	}
	return strings.ReplaceAll(text, f.Token, "[token]")
}
