package review_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/manifest"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
	"github.com/tollgate-dev/tollgate/internal/wiring"
)

const exceptionState = `
apiVersion: v1
kind: Namespace
metadata: {name: gpu-monitoring, labels: {tollgate.dev/pss-level: baseline}}
---
apiVersion: v1
kind: Namespace
metadata: {name: psa-baseline, labels: {pod-security.kubernetes.io/enforce: baseline, pod-security.kubernetes.io/enforce-version: v1.30}}
---
apiVersion: v1
kind: Namespace
metadata: {name: psa-privileged, labels: {pod-security.kubernetes.io/enforce: privileged}}
---
apiVersion: v1
kind: Namespace
metadata: {name: both, labels: {tollgate.dev/pss-level: restricted, pod-security.kubernetes.io/enforce: privileged}}
---
apiVersion: tollgate.dev/v1alpha1
kind: PolicyException
metadata: {name: dcgm-host, namespace: gpu-monitoring}
spec:
  policies: [pss.baseline.privileged, pss.baseline.host*]
  match:
    kinds: [Pod, DaemonSet]
    names: [dcgm-exporter-*]
    selector: {matchLabels: {app: dcgm-exporter}}
  reason: DCGM exporter reads GPU counters through the host
  ticket: PLAT-1234
  expiresAt: "2027-03-01T00:00:00Z"
---
apiVersion: tollgate.dev/v1alpha1
kind: PolicyException
metadata: {name: no-reason, namespace: gpu-monitoring}
spec:
  policies: [pss.baseline.privileged]
  expiresAt: "2027-03-01T00:00:00Z"
`

const dcgmPod = `apiVersion: v1
kind: Pod
metadata: {generateName: dcgm-exporter-, namespace: NS, labels: {app: LABEL}}
spec:
  hostPID: true
  containers: [{name: c, image: "i:1", securityContext: {privileged: true}}]
`

func exceptionReviewer(t *testing.T, now time.Time, mutate func(*config.Config)) *review.Reviewer {
	t.Helper()
	cfg := config.Default()
	if mutate != nil {
		mutate(cfg)
	}
	e, err := wiring.NewEngine(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	docs, errs := manifest.Parse("state.yaml", []byte(exceptionState), true)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	st := state.NewStatic()
	for _, d := range docs {
		st.Add(d.Object)
	}
	r, err := wiring.NewReviewer(engine.NewHolder(e), cfg, st, wiring.Deps{}, review.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func review1(t *testing.T, r *review.Reviewer, doc string) *review.Result {
	t.Helper()
	docs, errs := manifest.Parse("obj.yaml", []byte(doc), true)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	res, err := r.Review(context.Background(), &review.Request{Object: docs[0].Object, Operation: "CREATE"})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func policies[T any](l []T, id func(T) string) []string {
	var out []string
	for _, v := range l {
		out = append(out, id(v))
	}
	slices.Sort(out)
	return out
}

func TestExceptions(t *testing.T) {
	before := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	after := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, ns, label string
		now             time.Time
		wantAllowed     bool
		wantExcepted    []string
	}{
		{"valid", "gpu-monitoring", "dcgm-exporter", before, true, []string{"pss.baseline.hostNamespaces", "pss.baseline.privileged"}},
		{"expired", "gpu-monitoring", "dcgm-exporter", after, false, nil},
		{"selector miss", "gpu-monitoring", "other", before, false, nil},
		{"namespace miss", "psa-baseline", "dcgm-exporter", before, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := exceptionReviewer(t, tc.now, nil)
			res := review1(t, r, strings.NewReplacer("NS", tc.ns, "LABEL", tc.label).Replace(dcgmPod))
			got := policies(res.Excepted, func(e review.Excepted) string { return e.Policy })
			if res.Allowed != tc.wantAllowed || !slices.Equal(got, tc.wantExcepted) {
				t.Fatalf("allowed %v excepted %v, want %v %v; violations %+v", res.Allowed, got, tc.wantAllowed, tc.wantExcepted, res.Violations)
			}
			if len(tc.wantExcepted) > 0 {
				want := "pss.baseline.privileged: excepted by PolicyException gpu-monitoring/dcgm-host until 2027-03-01 (PLAT-1234)"
				if !slices.Contains(res.Warnings, want) {
					t.Errorf("warnings %q lack %q", res.Warnings, want)
				}
				if e := res.Excepted[0].Exception; e.Name != "dcgm-host" || e.Ticket != "PLAT-1234" || e.ExpiresAt != "2027-03-01T00:00:00Z" {
					t.Errorf("exception %+v", e)
				}
				if len(res.Violations) != 0 {
					t.Errorf("excepted findings left violations %+v", res.Violations)
				}
			}
		})
	}
}

func TestRequestNowOverridesClock(t *testing.T) {
	r := exceptionReviewer(t, time.Date(2027, 4, 1, 0, 0, 0, 0, time.UTC), nil)
	docs, _ := manifest.Parse("obj.yaml", []byte(strings.NewReplacer("NS", "gpu-monitoring", "LABEL", "dcgm-exporter").Replace(dcgmPod)), true)
	res, err := r.Review(context.Background(), &review.Request{Object: docs[0].Object, Operation: "CREATE", Now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil || !res.Allowed {
		t.Fatalf("%v %+v", err, res)
	}
}

func TestExceptionValidAtAdmission(t *testing.T) {
	r := exceptionReviewer(t, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), nil)
	const exc = `apiVersion: tollgate.dev/v1alpha1
kind: PolicyException
metadata: {name: e, namespace: tollgate-system}
spec:
  policies: [POLICY]
  match: {selector: {matchExpressions: [{key: app, operator: OP}]}}
  reason: REASON
  expiresAt: "EXPIRES"
`
	for _, tc := range []struct {
		name, policy, op, reason, expires string
		want                              []string
	}{
		{"valid", "nodepool.*", "Exists", "r", "2027-03-01T00:00:00Z", nil},
		{"no reason", "nodepool.gpu", "Exists", `""`, "2027-03-01T00:00:00Z", []string{"spec.reason"}},
		{"too long", "nodepool.gpu", "Exists", "r", "2027-12-01T00:00:00Z", []string{"spec.expiresAt"}},
		{"blanket", `"*"`, "Exists", "r", "2027-03-01T00:00:00Z", []string{"spec.policies[0]"}},
		{"unknown", "nodepool.gpus", "Exists", "r", "2027-03-01T00:00:00Z", []string{"spec.policies[0]"}},
		{"bad selector", "nodepool.gpu", "Has", "r", "2027-03-01T00:00:00Z", []string{"spec.match.selector"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := review1(t, r, strings.NewReplacer("POLICY", tc.policy, "OP", tc.op, "REASON", tc.reason, "EXPIRES", tc.expires).Replace(exc))
			got := policies(res.Violations, func(v review.Violation) string { return v.Path })
			if !slices.Equal(got, tc.want) || res.Allowed != (len(tc.want) == 0) {
				t.Errorf("paths %v allowed %v, want %v; %+v", got, res.Allowed, tc.want, res.Violations)
			}
		})
	}
}

func TestPSALabels(t *testing.T) {
	pod := `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: NS}
spec:
  containers: [{name: c, image: "i:1"}]
`
	for _, tc := range []struct {
		ns       string
		off      bool
		wantPSS  bool // restricted findings
		wantDeny bool
	}{
		{"psa-baseline", false, false, false},   // PSA enforce baseline: a plain pod passes
		{"psa-baseline", true, true, true},      // configurable off: the configuration's restricted
		{"psa-privileged", false, false, false}, // privileged: no pss check
		{"both", false, true, true},             // Tollgate's label wins
	} {
		r := exceptionReviewer(t, time.Now(), func(c *config.Config) { c.PSS.PodSecurityLabels = !tc.off })
		res := review1(t, r, strings.Replace(pod, "NS", tc.ns, 1))
		hasPSS := slices.ContainsFunc(res.Violations, func(v review.Violation) bool { return strings.HasPrefix(v.Policy, "pss.restricted.") })
		if hasPSS != tc.wantPSS || res.Allowed == tc.wantDeny {
			t.Errorf("%s (labels off %v): restricted findings %v allowed %v; %+v", tc.ns, tc.off, hasPSS, res.Allowed, res.Violations)
		}
	}
}
