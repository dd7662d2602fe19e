package audit

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// reportClient is a fake client that knows the PolicyReport kinds.
func reportClient(t *testing.T, api ReportAPI, objs ...client.Object) client.WithWatch {
	t.Helper()
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(api.GroupVersion().WithKind(api.Kind), meta.RESTScopeNamespace)
	mapper.Add(api.GroupVersion().WithKind(api.ClusterKind), meta.RESTScopeRoot)
	return fake.NewClientBuilder().WithScheme(runtime.NewScheme()).WithRESTMapper(mapper).WithObjects(objs...).Build()
}

func listReports(t *testing.T, c client.Client, api ReportAPI, kind string) map[string]*unstructured.Unstructured {
	t.Helper()
	l := &unstructured.UnstructuredList{}
	l.SetGroupVersionKind(api.GroupVersion().WithKind(kind + "List"))
	if err := c.List(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	out := map[string]*unstructured.Unstructured{}
	for i := range l.Items {
		out[l.Items[i].GetNamespace()] = &l.Items[i]
	}
	return out
}

// TestBackgroundSync: a round creates the reports, a second round with the
// same findings writes nothing, a changed namespace is updated in place
// keeping the timestamps of findings it had, and the report of a namespace
// that has nothing audited any more is deleted. Metrics follow each round.
func TestBackgroundSync(t *testing.T) {
	ctx := context.Background()
	stale := &unstructured.Unstructured{}
	stale.SetGroupVersionKind(WGPolicy.GroupVersion().WithKind("PolicyReport"))
	stale.SetNamespace("deleted-team")
	stale.SetName(ReportName)
	stale.SetLabels(map[string]string{LabelManagedBy: ReportSource})
	foreign := stale.DeepCopy()
	foreign.SetNamespace("other")
	foreign.SetName("other-tool-report")
	foreign.SetLabels(map[string]string{LabelManagedBy: "other-tool"})
	c := reportClient(t, WGPolicy, stale, foreign)

	reg := prometheus.NewRegistry()
	metrics := NewMetrics(reg)
	now := testNow
	b := &Background{API: WGPolicy, Client: c, Metrics: metrics, Log: logr.Discard(), MaxResults: 100, Now: func() time.Time { return now }}
	round := func(runner *Runner, src Source) {
		t.Helper()
		b.Runner = runner
		if err := b.round(ctx, src); err != nil {
			t.Fatal(err)
		}
	}

	runner, src := fixtureRunner(t, nil)
	round(runner, src)
	reports := listReports(t, c, WGPolicy, "PolicyReport")
	if _, ok := reports["deleted-team"]; ok {
		t.Error("the stale report of deleted-team was not deleted")
	}
	if _, ok := reports["other"]; !ok {
		t.Error("a report Tollgate does not manage was deleted")
	}
	ai := reports["ai-inference"]
	if ai == nil || reports["legacy"] == nil {
		t.Fatalf("reports of ai-inference and legacy missing: %v", keys(reports))
	}
	if cluster := listReports(t, c, WGPolicy, "ClusterPolicyReport"); cluster[""] == nil {
		t.Error("no ClusterPolicyReport for the NodePool")
	}
	rv := ai.GetResourceVersion()

	// Same findings an hour later: nothing is written.
	now = now.Add(time.Hour)
	runner, src = fixtureRunner(t, nil)
	round(runner, src)
	if got := listReports(t, c, WGPolicy, "PolicyReport")["ai-inference"].GetResourceVersion(); got != rv {
		t.Errorf("an unchanged report was written again (resourceVersion %s -> %s)", rv, got)
	}

	// Only the pods file now: ai-inference loses the Deployment's
	// findings and is updated in place; the NodePool's report goes.
	now = now.Add(time.Hour)
	runner, src = fixtureRunner(t, nil, "testdata/manifests/00-state.yaml", "testdata/manifests/pods.yaml")
	round(runner, src)
	after := listReports(t, c, WGPolicy, "PolicyReport")["ai-inference"]
	if after.GetResourceVersion() == rv {
		t.Error("a changed report was not updated")
	}
	results, _, _ := unstructured.NestedSlice(after.Object, "results")
	for _, r := range results {
		m := r.(map[string]any)
		res := m["resources"].([]any)[0].(map[string]any)
		if res["kind"] == "Deployment" {
			t.Errorf("the Deployment's finding is still reported: %v", m)
		}
		ts := m["timestamp"].(map[string]any)
		if ts["seconds"] != testNow.Unix() {
			t.Errorf("%s on %s: timestamp %v, want the first audit's (%d)", m["policy"], res["name"], ts["seconds"], testNow.Unix())
		}
	}
	if cluster := listReports(t, c, WGPolicy, "ClusterPolicyReport"); len(cluster) != 0 {
		t.Error("the ClusterPolicyReport of a NodePool no longer audited was not deleted")
	}

	if got := testutil.ToFloat64(metrics.Runs.WithLabelValues("success")); got != 3 {
		t.Errorf("runs %v, want 3", got)
	}
	if got := testutil.ToFloat64(metrics.Violations.WithLabelValues("drift.gpu-tolerations", "medium")); got != 1 {
		t.Errorf("violations of drift.gpu-tolerations %v, want 1", got)
	}
	if got := testutil.ToFloat64(metrics.Objects.WithLabelValues("Pod")); got < 5 {
		t.Errorf("pods audited %v", got)
	}
	if testutil.CollectAndCount(metrics.Violations) == 0 || testutil.ToFloat64(metrics.ReportBytes) <= 0 {
		t.Error("violations or report size not exported")
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "tollgate_audit_violations" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "policy" && strings.HasPrefix(l.GetValue(), "nodepool.") {
					t.Errorf("the violations of an earlier round are still exported: %s", l.GetValue())
				}
			}
		}
	}
}

// TestBackgroundWithoutCRDs: without the report CRDs the audit still runs
// and exports its metrics.
func TestBackgroundWithoutCRDs(t *testing.T) {
	// What a client's REST mapper answers for kinds the API server does
	// not serve.
	noMatch := func(obj client.Object) error {
		gvk := obj.GetObjectKind().GroupVersionKind()
		return &meta.NoKindMatchError{GroupKind: gvk.GroupKind(), SearchedVersions: []string{gvk.Version}}
	}
	c := fake.NewClientBuilder().WithScheme(runtime.NewScheme()).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(_ context.Context, _ client.WithWatch, _ client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
			return noMatch(obj)
		},
		Create: func(_ context.Context, _ client.WithWatch, obj client.Object, _ ...client.CreateOption) error {
			return noMatch(obj)
		},
	}).Build()
	metrics := NewMetrics(prometheus.NewRegistry())
	runner, src := fixtureRunner(t, nil)
	b := &Background{API: WGPolicy, Client: c, Metrics: metrics, Log: logr.Discard(), Runner: runner}
	if err := b.round(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	if !b.noReports || testutil.ToFloat64(metrics.Runs.WithLabelValues("success")) != 1 {
		t.Errorf("noReports %v, runs %v", b.noReports, testutil.ToFloat64(metrics.Runs.WithLabelValues("success")))
	}
}

func keys(m map[string]*unstructured.Unstructured) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
