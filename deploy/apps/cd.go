package apps

import (
	cdv1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The service accounts of luban-gitops' steps (deploy/argo/workflows/rbac.yaml) that read an
// app's environments.
const (
	rolloutAccount   = "luban-rollout"
	preflightAccount = "luban-preflight"
	inCluster        = "https://kubernetes.default.svc"
)

// Project is the app's Argo CD project: it deploys only from the GitOps repository, only into
// the app's namespaces, and only the namespaced kinds the app needs (no cluster-wide object,
// no Secrets, roles or service accounts), so a commit to the GitOps repository can't reach
// beyond the app, and one app's Applications can't deploy into another's namespaces.
func (a App) Project() string { return "luban-" + a.Metadata.Name }

// Deploy is what the app's environments need in Argo CD and in their namespaces. The
// namespaces are made here, by whoever onboards the app, not by a GitOps commit: each enforces
// Pod Security "restricted" and signed images (deploy/admission).
func Deploy(app App, config Config) []any {
	var objects []any
	project := &cdv1.AppProject{
		TypeMeta:   metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "AppProject"},
		ObjectMeta: metav1.ObjectMeta{Name: app.Project(), Namespace: config.ArgoCDNamespace, Labels: labels(app)},
		Spec: cdv1.AppProjectSpec{
			Description:              "The environments of " + app.Metadata.Name + ", built by Luban and deployed from the GitOps repository.",
			SourceRepos:              []string{config.GitOpsRepo},
			ClusterResourceWhitelist: []metav1.GroupKind{},
			NamespaceResourceWhitelist: []metav1.GroupKind{
				{Group: "apps", Kind: "Deployment"}, {Group: "", Kind: "Service"}, {Group: "", Kind: "ConfigMap"}},
		},
	}
	var names []string
	for i, env := range app.Spec.Environments {
		names = append(names, app.Application(i))
		project.Spec.Destinations = append(project.Spec.Destinations, cdv1.ApplicationDestination{Server: inCluster, Namespace: env.Namespace})
		objects = append(objects, &corev1.Namespace{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: env.Namespace, Labels: map[string]string{
				partOf: "luban", "luban.io/app": app.Metadata.Name, "luban.io/environment": env.Name,
				"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest",
				"pod-security.kubernetes.io/warn": "restricted", "luban.io/signed-images": "required",
			}},
		})
	}
	objects = append(objects, project)
	for i, env := range app.Spec.Environments {
		objects = append(objects, &cdv1.Application{
			TypeMeta:   metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "Application"},
			ObjectMeta: metav1.ObjectMeta{Name: app.Application(i), Namespace: config.ArgoCDNamespace, Labels: labels(app)},
			Spec: cdv1.ApplicationSpec{
				Project: app.Project(),
				Source: &cdv1.ApplicationSource{RepoURL: config.GitOpsRepo, TargetRevision: config.GitOpsBranch, Path: env.Path,
					Kustomize: &cdv1.ApplicationSourceKustomize{}},
				Destination: cdv1.ApplicationDestination{Server: inCluster, Namespace: env.Namespace},
				SyncPolicy:  &cdv1.SyncPolicy{Automated: &cdv1.SyncPolicyAutomated{Prune: true, SelfHeal: true}},
			},
		})
		// The rollout check reads the environment's Deployments, pods and events, nothing else
		// (no Secrets, no logs, no writes).
		objects = append(objects, role(app, rolloutAccount, env.Namespace, config,
			rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get"}},
			rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods", "events"}, Verbs: []string{"list"}})...)
		// The preflight checks that the Secrets, ConfigMaps and service accounts the new
		// version's pods name exist. Kubernetes has no "exists" permission: `get` on Secrets
		// would let the account read their data, though the preflight asks for metadata only
		// and runs nothing but luban-rollout, in a pod no build wrote to (docs/argo-cd.md).
		objects = append(objects, role(app, preflightAccount, env.Namespace, config,
			rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets", "configmaps", "serviceaccounts"}, Verbs: []string{"get"}})...)
	}
	// In Argo CD's namespace, each account may read this app's Applications (by name) and the
	// rollout check may ask Argo CD to refresh them (an annotation) instead of waiting for its
	// poll.
	objects = append(objects, role(app, rolloutAccount, config.ArgoCDNamespace, config,
		rbacv1.PolicyRule{APIGroups: []string{"argoproj.io"}, Resources: []string{"applications"}, ResourceNames: names, Verbs: []string{"get", "patch"}})...)
	objects = append(objects, role(app, preflightAccount, config.ArgoCDNamespace, config,
		rbacv1.PolicyRule{APIGroups: []string{"argoproj.io"}, Resources: []string{"applications"}, ResourceNames: names, Verbs: []string{"get"}})...)
	return objects
}

func labels(app App) map[string]string {
	return map[string]string{partOf: "luban", "luban.io/app": app.Metadata.Name}
}

// role is a Role with `rules` in `namespace` bound to the workflows' service account `account`.
// In Argo CD's namespace, which all apps share, the name says whose it is.
func role(app App, account, namespace string, config Config, rules ...rbacv1.PolicyRule) []any {
	name := account
	if namespace == config.ArgoCDNamespace {
		name = account + "-" + app.Metadata.Name
	}
	meta := metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels(app)}
	return []any{
		&rbacv1.Role{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"}, ObjectMeta: meta, Rules: rules},
		&rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: meta,
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: account, Namespace: config.WorkflowsNamespace}},
		},
	}
}
