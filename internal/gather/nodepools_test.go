package gather

import (
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/tollgate-dev/tollgate/internal/config"
)

func TestNodePools(t *testing.T) {
	withPools := staticState(t, cluster)
	noPools := staticState(t, `
apiVersion: v1
kind: Namespace
metadata: {name: quota}
`)
	n := &NodePools{Validators: config.Default().Validators}
	const both = `[{"name":"a-families"},{"name":"gpu-training-pool"}]`
	for _, tc := range []struct {
		name, object string
		withPools    string
		noPools      string
	}{
		{"a CPU pod does not pay for them", gpuPod("quota", "web", "{cpu: 1}"), `null`, `null`},
		{"GPU pods get them", gpuPod("quota", "p", "{nvidia.com/gpu: 1}"), both, `[]`},
		{"MIG slices too", gpuPod("quota", "p", "{nvidia.com/mig-1g.10gb: 1}"), both, `[]`},
		{"a pod that names a MIG profile", `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: quota, annotations: {tollgate.dev/mig-profile: 3g.40gb}}
spec: {containers: [{name: c, image: i}]}
`, both, `[]`},
		{"a namespace with a default MIG profile", gpuPod("plain", "p", "{cpu: 1}"), both, `null`},
		{"a template that selects a NodePool", `apiVersion: batch/v1
kind: Job
metadata: {name: j, namespace: quota}
spec:
  template:
    spec:
      restartPolicy: Never
      affinity:
        nodeAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 1
            preference: {matchExpressions: [{key: karpenter.sh/nodepool, operator: In, values: [spot]}]}
      containers: [{name: c, image: i}]
`, both, `[]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(t, gathered(t, n, gathering(t, withPools, tc.object))); got != tc.withPools {
				t.Errorf("with NodePools: %s, want %s", got, tc.withPools)
			}
			if !strings.Contains(tc.object, "namespace: plain") {
				if got := names(t, gathered(t, n, gathering(t, noPools, tc.object))); got != tc.noPools {
					t.Errorf("without NodePools: %s, want %s", got, tc.noPools)
				}
			}
		})
	}
}

// names reduces gathered NodePools to their names, keeping null and [].
func names(t *testing.T, js string) string {
	t.Helper()
	if js == "null" || js == "[]" {
		return js
	}
	var pools []struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := jsonUnmarshal(js, &pools); err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, p := range pools {
		parts = append(parts, `{"name":"`+p.Metadata.Name+`"}`)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// The conversion of a NodePool list is reused while the reader hands out
// the same NodePools, and redone when one of them is replaced.
func TestNodePoolsValueReused(t *testing.T) {
	n := &NodePools{}
	pool := func(name, rv string) map[string]any {
		return map[string]any{"metadata": map[string]any{"name": name, "resourceVersion": rv}}
	}
	a, b := pool("a", "1"), pool("b", "1")
	first, err := n.value([]map[string]any{a, b})
	if err != nil {
		t.Fatal(err)
	}
	again, _ := n.value([]map[string]any{a, b})
	if first != again {
		t.Error("the same NodePools were converted again")
	}
	b2 := pool("b", "2")
	updated, _ := n.value([]map[string]any{a, b2})
	if updated == first || !strings.Contains(updated.(ast.Value).String(), `"resourceVersion": "2"`) {
		t.Errorf("a replaced NodePool was not converted again: %v", updated)
	}
	if fewer, _ := n.value([]map[string]any{a}); fewer.(ast.Value).Compare(ast.MustParseTerm(`[{"metadata": {"name": "a", "resourceVersion": "1"}}]`).Value) != 0 {
		t.Errorf("a deleted NodePool is still listed: %v", fewer)
	}
}
