package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/manifest"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
	"github.com/tollgate-dev/tollgate/internal/wiring"
)

// TestExceptedFindingsListed: excepted findings are counted apart from
// findings, per exception, and listed in the table with the exception.
func TestExceptedFindingsListed(t *testing.T) {
	r := &Result{Result: review.Result{
		Object: kubeobjects.Ref{Kind: "Pod", Namespace: "gpu-monitoring", Name: "dcgm-exporter-x"}, Allowed: true,
		Excepted: []review.Excepted{{
			Violation: review.Violation{Policy: "pss.baseline.privileged", Severity: "critical", Action: "deny", Message: "privileged"},
			Exception: review.ExceptionRef{Namespace: "gpu-monitoring", Name: "dcgm-host", ExpiresAt: "2027-03-01T00:00:00Z"},
		}},
	}}
	s := NewSummary()
	s.Add(r)
	if s.Findings != 0 || s.Excepted != 1 || s.ExceptedBy["gpu-monitoring/dcgm-host"] != 1 {
		t.Errorf("summary findings %d excepted %d by %v", s.Findings, s.Excepted, s.ExceptedBy)
	}
	var b bytes.Buffer
	tab := NewTable(&b)
	if err := tab.Add(r); err != nil {
		t.Fatal(err)
	}
	if err := tab.Close(s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "excepted by PolicyException gpu-monitoring/dcgm-host until 2027-03-01T00:00:00Z: privileged") {
		t.Errorf("table does not list the excepted finding:\n%s", b.String())
	}
}

// exceptionManifests: a baseline namespace with a privileged DCGM pod; an
// exception that excepts it and expires in 3 days; one that matches the
// pod but excepts a policy it does not break; one whose selector matches
// nothing; an expired one; one in a namespace outside the audit's scope.
const exceptionManifests = `apiVersion: v1
kind: Namespace
metadata: {name: gpu-monitoring, labels: {tollgate.dev/pss-level: baseline}}
---
apiVersion: v1
kind: Pod
metadata: {name: dcgm-exporter-x, namespace: gpu-monitoring, labels: {app: dcgm-exporter}}
spec:
  containers:
  - {name: c, image: "nvcr.io/nvidia/k8s/dcgm-exporter:4.2.3", securityContext: {privileged: true}}
---
apiVersion: tollgate.dev/v1alpha1
kind: PolicyException
metadata: {name: dcgm-host, namespace: gpu-monitoring}
spec:
  policies: [pss.baseline.privileged]
  match: {selector: {matchLabels: {app: dcgm-exporter}}}
  reason: DCGM exporter reads GPU counters through the host
  ticket: PLAT-1234
  expiresAt: "2027-01-04T00:00:00Z"
---
apiVersion: tollgate.dev/v1alpha1
kind: PolicyException
metadata: {name: dcgm-hostpath, namespace: gpu-monitoring}
spec:
  policies: [pss.baseline.hostPathVolumes]
  match: {names: [dcgm-exporter-*]}
  reason: the exporter used to mount /var/lib/kubelet
  expiresAt: "2027-05-01T00:00:00Z"
---
apiVersion: tollgate.dev/v1alpha1
kind: PolicyException
metadata: {name: old-driver, namespace: gpu-monitoring}
spec:
  policies: [pss.baseline.privileged]
  match: {selector: {matchLabels: {app: legacy-driver}}}
  reason: legacy storage driver, removed in PLAT-999
  expiresAt: "2027-02-01T00:00:00Z"
---
apiVersion: tollgate.dev/v1alpha1
kind: PolicyException
metadata: {name: vendor-root, namespace: gpu-monitoring}
spec:
  policies: [pss.restricted.runAsNonRoot]
  reason: the vendor image runs as root until its next release
  expiresAt: "2026-12-20T00:00:00Z"
---
apiVersion: tollgate.dev/v1alpha1
kind: PolicyException
metadata: {name: elsewhere, namespace: storage}
spec:
  policies: [pss.baseline.hostPathVolumes]
  reason: CSI node plugin
  expiresAt: "2027-01-10T00:00:00Z"
`

// TestExceptionHealth: the audit summary lists exceptions expiring within
// 14 days (of the reviewer's clock), expired ones, and ones that excepted
// nothing, with why; the table and the HTML report print them.
func TestExceptionHealth(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "m.yaml"), []byte(exceptionManifests), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		namespaces []string
		want       ExceptionHealth
	}{
		{"every namespace", nil, ExceptionHealth{
			Expiring: []ExceptionNote{
				{"gpu-monitoring", "dcgm-host", "2027-01-04T00:00:00Z", "PLAT-1234", "expires in 3 days"},
				{"storage", "elsewhere", "2027-01-10T00:00:00Z", "", "expires in 9 days"},
			},
			Expired: []ExceptionNote{{"gpu-monitoring", "vendor-root", "2026-12-20T00:00:00Z", "", "expired"}},
			Unused: []ExceptionNote{
				{"gpu-monitoring", "dcgm-hostpath", "2027-05-01T00:00:00Z", "", "excepts no finding"},
				{"gpu-monitoring", "old-driver", "2027-02-01T00:00:00Z", "", "matches no object"},
				{"storage", "elsewhere", "2027-01-10T00:00:00Z", "", "matches no object"},
			},
		}},
		{"one namespace", []string{"gpu-monitoring"}, ExceptionHealth{
			Expiring: []ExceptionNote{
				{"gpu-monitoring", "dcgm-host", "2027-01-04T00:00:00Z", "PLAT-1234", "expires in 3 days"},
				{"storage", "elsewhere", "2027-01-10T00:00:00Z", "", "expires in 9 days"},
			},
			Expired: []ExceptionNote{{"gpu-monitoring", "vendor-root", "2026-12-20T00:00:00Z", "", "expired"}},
			Unused: []ExceptionNote{
				{"gpu-monitoring", "dcgm-hostpath", "2027-05-01T00:00:00Z", "", "excepts no finding"},
				{"gpu-monitoring", "old-driver", "2027-02-01T00:00:00Z", "", "matches no object"},
			},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs, err := manifest.Load([]string{dir}, manifest.Options{Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			st := state.NewStatic()
			for _, d := range docs {
				if !d.Skipped && state.IsState(d.Object) {
					st.Add(d.Object)
				}
			}
			now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
			r, err := wiring.NewReviewer(engine.NewHolder(testEngine(t)), config.Default(), st, wiring.Deps{}, review.WithClock(func() time.Time { return now }))
			if err != nil {
				t.Fatal(err)
			}
			runner := &Runner{Reviewer: r, Namespaces: tc.namespaces}
			var table, html bytes.Buffer
			tab := NewTable(&table)
			h, err := NewReport("html", &html, testMeta(t))
			if err != nil {
				t.Fatal(err)
			}
			s, err := runner.Run(context.Background(), &Files{Docs: docs}, Reports{tab, h})
			if err != nil {
				t.Fatal(err)
			}
			if s.Excepted != 1 || s.ExceptedBy["gpu-monitoring/dcgm-host"] != 1 {
				t.Fatalf("excepted %d by %v, want the pod's privileged finding by dcgm-host", s.Excepted, s.ExceptedBy)
			}
			if s.Exceptions == nil {
				t.Fatal("no exception listed")
			}
			if !reflect.DeepEqual(tc.want, *s.Exceptions) {
				t.Errorf("exceptions:\n got %+v\nwant %+v", *s.Exceptions, tc.want)
			}
			for _, want := range []string{
				"PolicyExceptions expiring within 14 days:\n  gpu-monitoring/dcgm-host until 2027-01-04T00:00:00Z (PLAT-1234): expires in 3 days\n",
				"Expired PolicyExceptions (they except nothing):\n  gpu-monitoring/vendor-root until 2026-12-20T00:00:00Z: expired\n",
				"PolicyExceptions that excepted nothing in this audit:\n  gpu-monitoring/dcgm-hostpath until 2027-05-01T00:00:00Z: excepts no finding\n",
			} {
				if !strings.Contains(table.String(), want) {
					t.Errorf("table lacks %q:\n%s", want, table.String())
				}
			}
			for _, want := range []string{`id="exceptions-expiring"`, `<code>gpu-monitoring/old-driver</code> until 2027-02-01T00:00:00Z: matches no object`} {
				if !strings.Contains(html.String(), want) {
					t.Errorf("HTML lacks %q", want)
				}
			}
			b, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), `"exceptions":{"expiring":[{"namespace":"gpu-monitoring","name":"dcgm-host","expiresAt":"2027-01-04T00:00:00Z","ticket":"PLAT-1234","note":"expires in 3 days"}`) {
				t.Errorf("JSON summary: %s", b)
			}
		})
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		13*24*time.Hour + 5*time.Hour: "13 days",
		47 * time.Hour:                "47 hours",
		90 * time.Minute:              "90 minutes",
		61 * time.Second:              "1 minute",
		10 * time.Second:              "1 minute",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
