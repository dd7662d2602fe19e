package gather

import (
	"testing"

	"github.com/tollgate-dev/tollgate/internal/config"
)

func gpuPod(ns, name, resources string) string {
	return `apiVersion: v1
kind: Pod
metadata: {name: ` + name + `, namespace: ` + ns + `}
spec:
  containers: [{name: c, image: i, resources: {limits: ` + resources + `}}]
`
}

func TestQuota(t *testing.T) {
	st := staticState(t, cluster)
	q := &Quota{Validators: config.Default().Validators}
	for _, tc := range []struct {
		name, object, want string
	}{
		{"a pod without GPUs has no quota state", gpuPod("quota", "web", "{cpu: 1}"), `null`},
		{"templates have none", `apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: quota}
spec:
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: a}}
    spec: {containers: [{name: c, image: i, resources: {limits: {nvidia.com/gpu: 1}}}]}
`, `null`},
		{"no quota declared", gpuPod("plain", "p", "{nvidia.com/gpu: 1}"),
			`{"requested":1,"declared":false}`},
		{"the smallest unscoped ResourceQuota; finished pods and MIG slices as fractions", gpuPod("quota", "new", "{nvidia.com/gpu: 2}"),
			`{"requested":2,"declared":true,"limit":12,"source":"ResourceQuota team-limits, limits.nvidia.com/gpu","used":8.857143}`},
		{"a pod never counts toward its own quota", gpuPod("quota", "train-0", "{nvidia.com/gpu: 8}"),
			`{"requested":8,"declared":true,"limit":12,"source":"ResourceQuota team-limits, limits.nvidia.com/gpu","used":0.857143}`},
		{"the annotation wins when smaller; the cost budget prices by instance type", gpuPod("annotated", "new", "{nvidia.com/mig-1g.10gb: 1}"),
			`{"requested":0.142857,"declared":true,"limit":2,"source":"namespace annotation tollgate.dev/gpu-quota","used":1,` +
				`"cost":{"limit":50,"requested":{"gpus":0.142857,"instanceTypes":[]},"used":[{"gpus":1,"instanceTypes":["g6e.12xlarge","g6e.16xlarge","g6e.24xlarge","g6e.2xlarge","g6e.48xlarge","g6e.4xlarge","g6e.8xlarge","g6e.xlarge"]}]}}`},
		{"scoped quotas declare a limit they do not enforce for every pod", gpuPod("scoped", "p", "{nvidia.com/gpu: 1}"),
			`{"requested":1,"declared":true}`},
		{"unreadable annotations", gpuPod("broken", "p", "{nvidia.com/gpu: 1}"),
			`{"requested":1,"declared":false,"used":0,"problems":["annotation tollgate.dev/gpu-quota \"lots\" is not a number of GPUs"],` +
				`"cost":{"problem":"annotation tollgate.dev/gpu-cost-per-hour \"fifty\" is not an amount of dollars per hour","requested":{"gpus":1,"instanceTypes":[]},"used":[]}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := gathered(t, q, gathering(t, st, tc.object)); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestQuotaPricesNodePoolPlacements(t *testing.T) {
	st := staticState(t, cluster, `
apiVersion: v1
kind: Namespace
metadata: {name: budget, annotations: {tollgate.dev/gpu-cost-per-hour: "100"}}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: budget}
spec:
  nodeSelector: {karpenter.sh/nodepool: gpu-training-pool}
  containers: [{name: c, image: i, resources: {limits: {nvidia.com/gpu: 8}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: budget}
spec:
  nodeSelector: {karpenter.sh/nodepool: a-families}
  containers: [{name: c, image: i, resources: {limits: {nvidia.com/gpu: 4}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: c, namespace: budget}
spec:
  nodeSelector: {karpenter.sh/nodepool: unknown-pool}
  containers: [{name: c, image: i, resources: {limits: {nvidia.com/gpu: 1}}}]
`)
	object := `apiVersion: v1
kind: Pod
metadata: {name: new, namespace: budget}
spec:
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions: [{key: node.kubernetes.io/instance-type, operator: In, values: [p5.48xlarge, g6e.xlarge]}]
  containers: [{name: c, image: i, resources: {limits: {nvidia.com/gpu: 1}}}]
`
	want := `{"requested":1,"declared":false,"used":13,"cost":{"limit":100,"requested":{"gpus":1,"instanceTypes":["g6e.xlarge","p5.48xlarge"]},` +
		`"used":[{"gpus":4,"instanceTypes":["p5en.48xlarge"]},{"gpus":8,"instanceTypes":["p4de.24xlarge","p5.48xlarge"]},{"gpus":1,"instanceTypes":[]}]}}`
	if got := gathered(t, &Quota{Validators: config.Default().Validators}, gathering(t, st, object)); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestQuotaCountsConfiguredResources(t *testing.T) {
	v := config.Default().Validators
	v.GPUResources["nvidia.com/gpu.shared"] = 0.25
	st := staticState(t, `
apiVersion: v1
kind: Namespace
metadata: {name: shared, annotations: {tollgate.dev/gpu-quota: "1"}}
---
`+gpuPod("shared", "a", "{nvidia.com/gpu.shared: 3}"))
	want := `{"requested":0.5,"declared":true,"limit":1,"source":"namespace annotation tollgate.dev/gpu-quota","used":0.75}`
	if got := gathered(t, &Quota{Validators: v}, gathering(t, st, gpuPod("shared", "b", "{nvidia.com/gpu.shared: 2}"))); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
