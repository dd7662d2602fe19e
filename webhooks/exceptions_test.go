package webhooks

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/manifest"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
	"github.com/tollgate-dev/tollgate/internal/wiring"
)

const exceptedState = `
apiVersion: v1
kind: Namespace
metadata: {name: gpu-monitoring}
---
apiVersion: tollgate.dev/v1alpha1
kind: PolicyException
metadata: {name: dcgm-host, namespace: gpu-monitoring}
spec:
  policies: [pss.baseline.*]
  match: {names: [root]}
  reason: DCGM exporter reads GPU counters through the host
  ticket: PLAT-1234
  expiresAt: "2027-03-01T00:00:00Z"
`

// TestExceptedFindingIsAWarning: a finding an exception covers is admitted
// with a warning naming the exception, and counted per policy; once the
// exception has expired the same pod is denied.
func TestExceptedFindingIsAWarning(t *testing.T) {
	cfg := config.Default()
	e, err := wiring.NewEngine(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	docs, errs := manifest.Parse("state.yaml", []byte(exceptedState), true)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	st := state.NewStatic()
	for _, d := range docs {
		st.Add(d.Object)
	}
	for _, tc := range []struct {
		now     time.Time
		allowed bool
		counted float64
	}{
		{time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), true, 1},
		{time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC), false, 0},
	} {
		r, err := wiring.NewReviewer(engine.NewHolder(e), cfg, st, wiring.Deps{}, review.WithClock(func() time.Time { return tc.now }))
		if err != nil {
			t.Fatal(err)
		}
		v := &ValidatingHandler{Reviewer: r, Metrics: NewMetrics(prometheus.NewRegistry())}
		body := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1","kind":{"group":"","version":"v1","kind":"Pod"},
"resource":{"group":"","version":"v1","resource":"pods"},"namespace":"gpu-monitoring","operation":"CREATE","userInfo":{"username":"system:serviceaccount:kube-system:daemon-set-controller"},"object":` +
			`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"root","namespace":"gpu-monitoring"},"spec":{"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},"containers":[{"name":"c","image":"i:1","securityContext":{"privileged":true,"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}}}`
		resp, ar := post(t, v, []byte(body))
		if resp.StatusCode != http.StatusOK || ar.Response == nil {
			t.Fatalf("HTTP %d", resp.StatusCode)
		}
		if ar.Response.Allowed != tc.allowed {
			t.Fatalf("at %s: allowed %v, want %v (%+v)", tc.now, ar.Response.Allowed, tc.allowed, ar.Response.Result)
		}
		const want = "pss.baseline.privileged: excepted by PolicyException gpu-monitoring/dcgm-host until 2027-03-01 (PLAT-1234)"
		if tc.allowed && !slices.Contains(ar.Response.Warnings, want) {
			t.Errorf("warnings %q lack %q", ar.Response.Warnings, want)
		}
		if got := testutil.ToFloat64(v.Metrics.ExceptionsApplied.WithLabelValues("pss.baseline.privileged")); got != tc.counted {
			t.Errorf("tollgate_exceptions_applied_total{policy=pss.baseline.privileged} = %v, want %v", got, tc.counted)
		}
	}
}
