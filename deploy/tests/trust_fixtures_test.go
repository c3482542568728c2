package tests

// The trust rule of docs/argo-workflows.md, checked over every WorkflowTemplate under deploy/:
// a step that holds a credential opens nothing on the shared workspace volume except the paths
// the doc's trust table lists for it. The table is the one definition; this test keeps it true.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

const trustDoc = "docs/argo-workflows.md"

// trustRow is one row of the doc's trust table.
type trustRow struct {
	credentials []string
	reads       map[string]bool
}

var backticked = regexp.MustCompile("`([^`]+)`")

// readTrustTable parses the table under "## Trust": the step (`template/name`), the
// credentials it holds and the shared-volume paths it may read, each in backticks.
func readTrustTable(root string) (map[string]trustRow, error) {
	raw, err := os.ReadFile(filepath.Join(root, trustDoc))
	if err != nil {
		return nil, err
	}
	_, section, ok := strings.Cut(string(raw), "\n## Trust\n")
	if !ok {
		return nil, fmt.Errorf("%s has no \"## Trust\" section", trustDoc)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	rows := map[string]trustRow{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if !strings.HasPrefix(line, "| `") || len(cells) != 4 {
			continue
		}
		row := trustRow{reads: map[string]bool{}}
		for _, m := range backticked.FindAllStringSubmatch(cells[1], -1) {
			row.credentials = append(row.credentials, m[1])
		}
		sort.Strings(row.credentials)
		for _, m := range backticked.FindAllStringSubmatch(cells[2], -1) {
			row.reads[m[1]] = true
		}
		rows[strings.Trim(cells[0], "`")] = row
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: the trust table has no rows", trustDoc)
	}
	return rows, nil
}

// stepTrust is what one container template holds and what it names on the shared volume.
type stepTrust struct {
	credentials []string
	// The paths under a shared volume's mount that its command and arguments name.
	paths []string
}

// credentialsOf: the Secret volumes a template mounts, projected service-account tokens,
// and env values taken from Secrets (`env:NAME`). sharedPaths: the paths under the mount
// of a volume every step shares (the workflow's volume claim templates) that its command,
// arguments and env name.
func trustOf(wt *wfv1.WorkflowTemplate, tpl *wfv1.Template) stepTrust {
	secretVolumes, shared := map[string]bool{}, map[string]bool{}
	for _, v := range wt.Spec.Volumes {
		if v.Secret != nil || (v.Projected != nil && len(v.Projected.Sources) > 0) {
			secretVolumes[v.Name] = true
		}
	}
	for _, claim := range wt.Spec.VolumeClaimTemplates {
		shared[claim.Name] = true
	}
	var st stepTrust
	container := tpl.Container
	if container == nil {
		return st
	}
	var mounts []string
	for _, m := range container.VolumeMounts {
		if secretVolumes[m.Name] {
			st.credentials = append(st.credentials, m.Name)
		}
		if shared[m.Name] {
			mounts = append(mounts, m.MountPath)
		}
	}
	text := strings.Join(append(append([]string{}, container.Command...), container.Args...), "\n")
	for _, e := range container.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			st.credentials = append(st.credentials, "env:"+e.Name)
		}
		text += "\n" + e.Value
	}
	// A Kubernetes token is a credential too: the API access of its service account.
	if tpl.AutomountServiceAccountToken != nil && *tpl.AutomountServiceAccountToken {
		st.credentials = append(st.credentials, "service-account-token")
	}
	sort.Strings(st.credentials)
	seen := map[string]bool{}
	for _, mount := range mounts {
		path := regexp.MustCompile(regexp.QuoteMeta(mount) + `(/[A-Za-z0-9._-]+)*`)
		for _, p := range path.FindAllString(text, -1) {
			if !seen[p] {
				seen[p] = true
				st.paths = append(st.paths, p)
			}
		}
		if len(path.FindAllString(text, -1)) == 0 {
			// Mounted but never named: the mount itself is what it may read.
			st.paths = append(st.paths, mount)
		}
	}
	return st
}

// trustProblems checks every container template of every WorkflowTemplate against the table.
func trustProblems(manifests []manifest, table map[string]trustRow) []string {
	var problems []string
	for _, m := range manifests {
		wt, ok := m.object.(*wfv1.WorkflowTemplate)
		if !ok {
			continue
		}
		for i := range wt.Spec.Templates {
			tpl := &wt.Spec.Templates[i]
			if tpl.Container == nil {
				continue
			}
			name := wt.Name + "/" + tpl.Name
			st := trustOf(wt, tpl)
			row, listed := table[name]
			if !listed {
				if len(st.credentials) > 0 {
					problems = append(problems, fmt.Sprintf("%s holds %s and has no row in %s's trust table", name, strings.Join(st.credentials, ", "), trustDoc))
				}
				continue
			}
			if strings.Join(row.credentials, ",") != strings.Join(st.credentials, ",") {
				problems = append(problems, fmt.Sprintf("%s holds [%s]; %s's trust table says [%s]", name, strings.Join(st.credentials, ", "), trustDoc, strings.Join(row.credentials, ", ")))
			}
			if len(st.credentials) == 0 {
				continue
			}
			for _, p := range st.paths {
				if !row.reads[p] {
					problems = append(problems, fmt.Sprintf("%s holds %s and opens %s on the shared volume, which build-time code can write; it is not on its validated-input list in %s's trust table", name, strings.Join(st.credentials, ", "), p, trustDoc))
				}
			}
		}
	}
	return problems
}
