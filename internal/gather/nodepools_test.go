package gather

import (
	"strings"
	"testing"

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
