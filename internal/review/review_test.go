package review_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/manifest"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
	"github.com/tollgate-dev/tollgate/internal/wiring"
)

const cluster = `
apiVersion: v1
kind: Namespace
metadata: {name: plain}
---
apiVersion: v1
kind: Namespace
metadata: {name: pss-warn, labels: {tollgate.dev/pss: warn}}
---
apiVersion: v1
kind: Namespace
metadata: {name: pss-off, labels: {tollgate.dev/pss: "off"}}
---
apiVersion: v1
kind: Namespace
metadata: {name: baseline, labels: {tollgate.dev/pss-level: baseline}}
---
apiVersion: v1
kind: Namespace
metadata: {name: old, labels: {tollgate.dev/pss-version: v1.24}}
---
apiVersion: v1
kind: Namespace
metadata: {name: bad-label, labels: {tollgate.dev/pss: maybe}}
`

// rootPod fails baseline (privileged) and restricted checks.
const rootPod = `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: %s, annotations: {tollgate.dev/exempt: "pss"}}
spec:
  os: {name: windows}
  containers: [{name: c, image: "i:1", securityContext: {privileged: true}}]
`

func newReviewer(t *testing.T, mutate func(*config.Config)) *review.Reviewer {
	t.Helper()
	cfg := config.Default()
	if mutate != nil {
		mutate(cfg)
	}
	e, err := wiring.NewEngine(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	docs, errs := manifest.Parse("cluster.yaml", []byte(cluster), true)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	st := state.NewStatic()
	for _, d := range docs {
		st.Add(d.Object)
	}
	r, err := wiring.NewReviewer(engine.NewHolder(e), cfg, st, wiring.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func reviewPod(t *testing.T, r *review.Reviewer, ns string, user authenticationv1.UserInfo) *review.Result {
	t.Helper()
	src := []byte(fmt.Sprintf(rootPod, ns))
	docs, errs := manifest.Parse("pod.yaml", src, true)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	res, err := r.Review(context.Background(), &review.Request{Object: docs[0].Object, Operation: "CREATE", User: user})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// actions returns policy -> action of the result's violations.
func actions(res *review.Result) map[string]engine.Action {
	m := map[string]engine.Action{}
	for _, v := range res.Violations {
		m[v.Policy] = v.Action
	}
	return m
}

func TestActionPrecedence(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     func(*config.Config)
		ns      string
		policy  string
		want    engine.Action
		allowed bool
	}{
		{"metadata default", nil, "plain", "pss.baseline.privileged", engine.ActionDeny, false},
		{"config family", func(c *config.Config) { c.Actions = map[string]engine.Action{"pss": engine.ActionAudit} }, "plain", "pss.baseline.privileged", engine.ActionAudit, true},
		{"config id beats family", func(c *config.Config) {
			c.Actions = map[string]engine.Action{"pss": engine.ActionAudit, "pss.baseline.privileged": engine.ActionWarn}
		}, "plain", "pss.baseline.privileged", engine.ActionWarn, true},
		{"namespace label beats config", func(c *config.Config) {
			c.Actions = map[string]engine.Action{"pss.baseline.privileged": engine.ActionDeny}
		}, "pss-warn", "pss.baseline.privileged", engine.ActionWarn, true},
		{"invalid label ignored", nil, "bad-label", "pss.baseline.privileged", engine.ActionDeny, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := reviewPod(t, newReviewer(t, tc.cfg), tc.ns, authenticationv1.UserInfo{})
			if got := actions(res)[tc.policy]; got != tc.want {
				t.Errorf("%s: action %q, want %q (all: %v)", tc.policy, got, tc.want, actions(res))
			}
			if res.Allowed != tc.allowed {
				t.Errorf("allowed=%v, want %v", res.Allowed, tc.allowed)
			}
		})
	}
}

func TestOffRemovesFindings(t *testing.T) {
	res := reviewPod(t, newReviewer(t, nil), "pss-off", authenticationv1.UserInfo{})
	if len(res.Violations) != 0 || !res.Allowed {
		t.Errorf("tollgate.dev/pss=off: %+v", res.Violations)
	}
}

func TestLevelAndVersionLabels(t *testing.T) {
	r := newReviewer(t, nil)
	// The pod declares Windows: from v1.25 the restricted checks that do
	// not apply to Windows pods are skipped; v1.24 still runs them.
	latest := actions(reviewPod(t, r, "plain", authenticationv1.UserInfo{}))
	old := actions(reviewPod(t, r, "old", authenticationv1.UserInfo{}))
	if _, ok := latest["pss.restricted.allowPrivilegeEscalation"]; ok {
		t.Error("latest: a Windows pod was checked for allowPrivilegeEscalation")
	}
	if _, ok := old["pss.restricted.allowPrivilegeEscalation"]; !ok {
		t.Error("tollgate.dev/pss-version=v1.24: allowPrivilegeEscalation was not checked")
	}
	baseline := actions(reviewPod(t, r, "baseline", authenticationv1.UserInfo{}))
	for id := range baseline {
		if !slices.Contains([]string{"pss.baseline.privileged"}, id) {
			t.Errorf("tollgate.dev/pss-level=baseline reported %s", id)
		}
	}
}

func TestExemptions(t *testing.T) {
	r := newReviewer(t, func(c *config.Config) {
		c.Exemptions.Usernames = []string{"system:serviceaccount:gpu-operator:operator"}
		c.Exemptions.AnnotationGroups = []string{"platform-admins"}
	})
	if res := reviewPod(t, r, "kube-system", authenticationv1.UserInfo{}); res.Exempt == "" || !res.Allowed {
		t.Errorf("kube-system is not exempt: %+v", res)
	}
	if res := reviewPod(t, r, "plain", authenticationv1.UserInfo{Username: "system:serviceaccount:gpu-operator:operator"}); res.Exempt == "" {
		t.Errorf("exempt user reviewed: %+v", res)
	}
	// The tollgate.dev/exempt annotation only counts for allowed users.
	if res := reviewPod(t, r, "plain", authenticationv1.UserInfo{Username: "mallory"}); res.Allowed {
		t.Error("the exemption annotation was honoured for a user who may not use it")
	}
	res := reviewPod(t, r, "plain", authenticationv1.UserInfo{Username: "alice", Groups: []string{"platform-admins"}})
	if !res.Allowed || len(res.Violations) != 0 {
		t.Errorf("an allowed user's exemption annotation was ignored: %+v", res.Violations)
	}
	if _, ok := res.AuditAnnotations["exempted.pss.baseline.privileged"]; !ok {
		t.Errorf("exempted findings are not recorded: %v", res.AuditAnnotations)
	}
	if !slices.Contains(res.Warnings, review.ExemptAnnotationDeprecated) {
		t.Errorf("the deprecated annotation was honoured without its warning: %q", res.Warnings)
	}
}

func TestTemplatesCappedAtWarn(t *testing.T) {
	r := newReviewer(t, nil)
	docs, errs := manifest.Parse("d.yaml", []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: plain}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec: {containers: [{name: c, image: "i:1", securityContext: {privileged: true}}]}
`), true)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	res, err := r.Review(context.Background(), &review.Request{Object: docs[0].Object, Operation: "CREATE"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Allowed {
		t.Fatal("a template was denied")
	}
	a := actions(res)
	if a["pss.baseline.privileged"] != engine.ActionWarn {
		t.Errorf("template action %q, want warn", a["pss.baseline.privileged"])
	}
	for _, v := range res.Violations {
		if v.Policy == "pss.baseline.privileged" && v.Path != "spec.template.spec.containers[0].securityContext.privileged" {
			t.Errorf("template path %q", v.Path)
		}
	}
}
