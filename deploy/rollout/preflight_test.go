package main

import (
	"strings"
	"testing"
)

const renderedApp = `apiVersion: v1
kind: ConfigMap
metadata: {name: sample-app-settings}
data: {MODE: production}
---
apiVersion: v1
kind: Service
metadata: {name: sample-app}
spec: {ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: sample-app}
spec:
  template:
    spec:
      serviceAccountName: sample-app
      imagePullSecrets: [{name: registry-pull}]
      initContainers:
        - name: migrate
          image: app
          envFrom: [{secretRef: {name: sample-app-database}}]
      containers:
        - name: web
          image: app
          env:
            - {name: PORT, value: "8000"}
            - name: DATABASE_URL
              valueFrom: {secretKeyRef: {name: sample-app-database, key: url}}
            - name: MODE
              valueFrom: {configMapKeyRef: {name: sample-app-settings, key: MODE}}
            - name: FLAGS
              valueFrom: {configMapKeyRef: {name: feature-flags, key: all, optional: true}}
          envFrom: [{configMapRef: {name: shared-settings}}]
          volumeMounts: [{name: tls, mountPath: /tls}]
      volumes:
        - name: tls
          secret: {secretName: sample-app-tls}
        - name: bundle
          projected:
            sources: [{configMap: {name: ca-bundle}}, {secret: {name: extra, optional: true}}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: cleanup, namespace: jobs}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          serviceAccountName: default
          containers: [{name: cleanup, image: app, envFrom: [{secretRef: {name: cleanup-token}}]}]
`

func TestReferencesListWhatThePodsNeedFromTheirNamespace(t *testing.T) {
	refs, err := References([]byte(renderedApp), "sample-app")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ref := range refs {
		got = append(got, ref.String())
	}
	want := []string{
		"ConfigMap sample-app/ca-bundle (volume bundle, Deployment sample-app)",
		"ConfigMap sample-app/shared-settings (envFrom of container web, Deployment sample-app)",
		"Secret jobs/cleanup-token (envFrom of container cleanup, CronJob cleanup)",
		"Secret sample-app/registry-pull (imagePullSecrets, Deployment sample-app)",
		"Secret sample-app/sample-app-database (envFrom of container migrate, Deployment sample-app)",
		"Secret sample-app/sample-app-tls (volume tls, Deployment sample-app)",
		"ServiceAccount sample-app/sample-app (serviceAccountName, Deployment sample-app)",
	}
	// Sorted by kind and name; the ConfigMap the manifests make, the optional ones and the
	// namespace's own `default` service account are left out; a name is listed once.
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("references:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestReferencesRefuseWhatIsNotAManifest(t *testing.T) {
	if _, err := References([]byte("kind: Deployment\n---\n: [\n"), "sample-app"); err == nil || !strings.Contains(err.Error(), "document 2 of the rendered manifests") {
		t.Errorf("a broken document: %v", err)
	}
	if refs, err := References(nil, "sample-app"); err != nil || len(refs) != 0 {
		t.Errorf("no manifests: %v %v", refs, err)
	}
}

func TestMissingTextNamesWhatToCreate(t *testing.T) {
	one := []Reference{{Kind: "Secret", Namespace: "sample-app", Name: "db", Use: "env DATABASE_URL of container web, Deployment sample-app"}}
	if got, want := MissingText(one), "missing Secret sample-app/db (env DATABASE_URL of container web, Deployment sample-app); create it, then deploy again (nothing was committed)"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	many := append(one, one[0], one[0], one[0], one[0])
	if got := MissingText(many); !strings.Contains(got, "and 2 more; create them") {
		t.Errorf("five: %s", got)
	}
	if MissingText(nil) != "" {
		t.Error("nothing missing says nothing")
	}
}
