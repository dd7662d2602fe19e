package placement

import (
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// FuzzPlace feeds arbitrary NodePool and pod JSON to placement: it never
// panics, reports a malformed NodePool instead of failing, and a pod that
// fits is never also without candidates.
func FuzzPlace(f *testing.F) {
	for _, seed := range [][2]string{{inference, gpuPod(gpuTol, 1)}, {autoMode, gpuPod("nodeSelector: {karpenter.k8s.aws/instance-family: g5},", 2)}} {
		np, err1 := yaml.YAMLToJSON([]byte(seed[0]))
		pod, err2 := yaml.YAMLToJSON([]byte(seed[1]))
		if err1 != nil || err2 != nil {
			f.Fatal(err1, err2)
		}
		f.Add(np, pod)
	}
	f.Add([]byte(`{"metadata":{"name":"x"},"spec":{"limits":{"cpu":"x"},"template":{"spec":{"requirements":[{"key":"karpenter.k8s.aws/instance-gpu-count","operator":"Gt","values":["9999999999999999999999"]}],"taints":[{"key":"","effect":""}]}}}}`), []byte(`{"spec":{"nodeSelector":{"karpenter.sh/nodepool":"x"}}}`))
	f.Add([]byte(`{"spec":{"template":{"metadata":{"labels":{"a":1}},"spec":{"requirements":[1,{"key":"k","operator":"Lte","values":["-1"]}]}}}}`), []byte(`{"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"k","operator":"Gt","values":["x"]}]}]}}}}}`))
	cat := catalog(f)
	f.Fuzz(func(t *testing.T, np, podJSON []byte) {
		var m map[string]any
		if json.Unmarshal(np, &m) != nil {
			return
		}
		var pod corev1.Pod
		if json.Unmarshal(podJSON, &pod) != nil {
			return
		}
		c, err := NewCluster([]map[string]any{m}, nil, Options{Catalog: cat, GPUResources: []string{"nvidia.com/gpu"}})
		if err != nil {
			t.Fatal(err)
		}
		res := c.Place(&pod)
		if res.Fits && len(res.Reachable) == 0 {
			t.Fatalf("fits with no reachable candidate: %+v", res)
		}
		for _, b := range res.Blocked {
			if b.Reason == "" {
				t.Fatalf("blocked without a reason: %+v", b)
			}
		}
	})
}
