package tests

// The testbed's forge (scripts/gitea.sh): Gitea on https://127.0.0.1:$GITEA_PORT with the
// testbed registry's certificate. Tests make their own repositories, tokens and webhooks
// through its API with the administrator's password, and read commit statuses back through it.

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type forge struct {
	url      string // https://127.0.0.1:PORT
	password string // the administrator luban's
	client   *http.Client
}

// startForge starts the testbed's Gitea unless it runs (idempotent) and returns it.
func startForge(t *testing.T) *forge {
	t.Helper()
	script := filepath.Join(repoRoot(t), "scripts/gitea.sh")
	if out, err := exec.Command(script, "start").CombinedOutput(); err != nil {
		t.Fatalf("scripts/gitea.sh start: %v\n%s", err, out)
	}
	password, err := os.ReadFile(filepath.Join(testbedDir, "gitea/admin-password"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(registryCA(t))
	return &forge{
		url:      "https://127.0.0.1:" + os.Getenv("GITEA_PORT"),
		password: strings.TrimSpace(string(password)),
		client:   &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}},
	}
}

// stop and start the forge, for outages.
func (f *forge) stop(t *testing.T) {
	t.Helper()
	if out, err := exec.Command(filepath.Join(repoRoot(t), "scripts/gitea.sh"), "stop").CombinedOutput(); err != nil {
		t.Fatalf("scripts/gitea.sh stop: %v\n%s", err, out)
	}
}

// api calls Gitea's API as the administrator (or with `token`), decoding the answer into out
// unless it is nil; a status outside 2xx fails the test.
func (f *forge) api(t *testing.T, method, path string, body, out any) {
	t.Helper()
	var reader io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		reader = bytes.NewReader(raw)
	}
	request, err := http.NewRequest(method, f.url+"/api/v1"+path, reader)
	if err != nil {
		t.Fatal(err)
	}
	request.SetBasicAuth("luban", f.password)
	request.Header.Set("Content-Type", "application/json")
	response, err := f.client.Do(request)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer response.Body.Close()
	raw, _ := io.ReadAll(response.Body)
	if response.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s %s", method, path, response.Status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v (%s)", method, path, err, raw)
		}
	}
}

// repository makes an empty repository of the administrator's, gone when the test ends; it
// returns owner/name.
func (f *forge) repository(t *testing.T, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
	f.api(t, http.MethodPost, "/user/repos", map[string]any{"name": name, "default_branch": "main"}, nil)
	t.Cleanup(func() {
		// The forge may be down when a test failed mid-outage: best effort.
		request, _ := http.NewRequest(http.MethodDelete, f.url+"/api/v1/repos/luban/"+name, nil)
		request.SetBasicAuth("luban", f.password)
		if response, err := f.client.Do(request); err == nil {
			response.Body.Close()
		}
	})
	return "luban/" + name
}

// cloneURL is the repository's HTTPS address, as its push webhook names it.
func (f *forge) cloneURL(repository string) string { return f.url + "/" + repository + ".git" }

// pushURL is cloneURL with the administrator's credentials, for `git push`.
func (f *forge) pushURL(repository string) string {
	return strings.Replace(f.cloneURL(repository), "https://", "https://luban:"+url.QueryEscape(f.password)+"@", 1)
}

// token makes an access token of the administrator's with these scopes.
func (f *forge) token(t *testing.T, scopes ...string) string {
	t.Helper()
	var made struct {
		SHA1 string `json:"sha1"`
	}
	f.api(t, http.MethodPost, "/users/luban/tokens", map[string]any{"name": fmt.Sprintf("luban-test-%d", time.Now().UnixNano()), "scopes": scopes}, &made)
	return made.SHA1
}

// webhook makes the repository deliver its push and pull request events to `target`, signed
// with `secret`.
func (f *forge) webhook(t *testing.T, repository, target, secret string) {
	t.Helper()
	f.api(t, http.MethodPost, "/repos/"+repository+"/hooks", map[string]any{
		"type": "gitea", "active": true, "events": []string{"push", "pull_request", "pull_request_sync"},
		"config": map[string]string{"url": target, "content_type": "json", "secret": secret},
	}, nil)
}

// commitStatus is one commit status as the forge's API gives it back.
type commitStatus struct {
	Context     string `json:"context"`
	State       string `json:"status"`
	Description string `json:"description"`
	TargetURL   string `json:"target_url"`
}

// statuses is the commit's latest status per context, read through the forge's API.
func (f *forge) statuses(t *testing.T, repository, revision string) map[string]commitStatus {
	t.Helper()
	var combined struct {
		Statuses []commitStatus `json:"statuses"`
	}
	f.api(t, http.MethodGet, "/repos/"+repository+"/commits/"+revision+"/status", nil, &combined)
	latest := map[string]commitStatus{}
	for _, s := range combined.Statuses {
		latest[s.Context] = s
	}
	return latest
}

// git runs git trusting the forge's certificate (GIT_SSL_CAINFO, which wins over git's config).
func (f *forge) git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return gitEnv(t, dir, []string{"GIT_SSL_CAINFO=" + filepath.Join(testbedDir, "ca-bundle.crt")}, args...)
}

// wantStatuses checks a commit's statuses as the forge has them: for each context, "state" or
// "state: words its description holds". It returns them all.
func (f *forge) wantStatuses(t *testing.T, repository, revision string, want map[string]string) map[string]commitStatus {
	t.Helper()
	got := f.statuses(t, repository, revision)
	for _, s := range got {
		t.Logf("%.12s %s: %s (%s)", revision, s.Context, s.State, s.Description)
	}
	for context, expect := range want {
		state, words, _ := strings.Cut(expect, ": ")
		if s, ok := got[context]; !ok || s.State != state || !strings.Contains(s.Description, words) {
			t.Errorf("the forge's %s status of %.12s is %+v, want %q", context, revision, s, expect)
		}
	}
	return got
}

// pullRequest opens a pull request of `head` into `base` and returns its number and head commit.
func (f *forge) pullRequest(t *testing.T, repository, head, base, title string) (int, string) {
	t.Helper()
	var opened struct {
		Number int `json:"number"`
		Head   struct {
			SHA string `json:"sha"`
		} `json:"head"`
	}
	f.api(t, http.MethodPost, "/repos/"+repository+"/pulls", map[string]any{"head": head, "base": base, "title": title}, &opened)
	return opened.Number, opened.Head.SHA
}
