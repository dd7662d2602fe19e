package app

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/tollgate-dev/tollgate/internal/webhookconfig"
)

func TestSplitDenial(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want []string
	}{
		{
			`admission webhook "pods.validate.tollgate.dev" denied the request: Tollgate denied Pod a/b: pss.restricted.runAsNonRoot: runAsNonRoot != true; gpu.quota: over quota: 2 > 1`,
			[]string{`admission webhook "pods.validate.tollgate.dev" denied the request: Tollgate denied Pod a/b:`, "pss.restricted.runAsNonRoot: runAsNonRoot != true", "gpu.quota: over quota: 2 > 1"},
		},
		{`pods "x" is forbidden: exceeded quota: q`, []string{`pods "x" is forbidden: exceeded quota: q`}},
		{`Tollgate denied Pod a/b without findings`, []string{`Tollgate denied Pod a/b without findings`}},
	} {
		if got := splitDenial(tc.msg); !slices.Equal(got, tc.want) {
			t.Errorf("splitDenial(%q)\n got %q\nwant %q", tc.msg, got, tc.want)
		}
	}
}

// TestWebhookSetReceive: the demo applies before the webhooks only what no
// rule of the webhooks it registers would send to Tollgate.
func TestWebhookSetReceive(t *testing.T) {
	o := webhookconfig.Defaults()
	o.URL = "https://127.0.0.1:1"
	hooks := webhookSet{validating: webhookconfig.Validating(o), mutating: webhookconfig.Mutating(o)}
	for _, tc := range []struct {
		gvr  schema.GroupVersionResource
		want bool
	}{
		{schema.GroupVersionResource{Version: "v1", Resource: "pods"}, true},
		{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, true},
		{schema.GroupVersionResource{Group: "karpenter.sh", Version: "v1", Resource: "nodepools"}, true},
		{schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, false},
		{schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}, false},
		{schema.GroupVersionResource{Version: "v1", Resource: "resourcequotas"}, false},
	} {
		if got := hooks.receive(&meta.RESTMapping{Resource: tc.gvr}); got != tc.want {
			t.Errorf("receive(%s) = %v, want %v", tc.gvr, got, tc.want)
		}
	}
	if !hooks.receive(nil) {
		t.Error("an unknown resource must count as received")
	}
}
