package gather

import (
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/config"
)

// TestQuotaOfHugeCounts: the API server stores a ResourceQuota of 1e70000
// GPUs and pods asking for as many; the quota state stays JSON (no +Inf),
// says what it ignored, and the namespace's use is capped, not infinite.
func TestQuotaOfHugeCounts(t *testing.T) {
	st := staticState(t, `
apiVersion: v1
kind: Namespace
metadata: {name: huge, annotations: {tollgate.dev/gpu-quota: "1e70000"}}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: gpus, namespace: huge}
spec: {hard: {requests.nvidia.com/gpu: 1e70000}}
---
apiVersion: v1
kind: Pod
metadata: {name: running, namespace: huge}
spec:
  nodeName: n1
  containers: [{name: c, image: i, resources: {limits: {nvidia.com/gpu: 1e70000}}}]
`)
	q := &Quota{Validators: config.Default().Validators}
	got := gathered(t, q, gathering(t, st, `
apiVersion: v1
kind: Pod
metadata: {name: new, namespace: huge}
spec:
  containers: [{name: c, image: i, resources: {limits: {nvidia.com/gpu: 1}}}]
`))
	for _, want := range []string{
		`ResourceQuota gpus, requests.nvidia.com/gpu 10e69999 is not a number of GPUs; it is ignored`,
		`annotation tollgate.dev/gpu-quota \"1e70000\" is not a number of GPUs`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("quota state %s does not say %q", got, want)
		}
	}
	if strings.Contains(got, "Inf") {
		t.Errorf("quota state holds an infinity: %s", got)
	}
}
