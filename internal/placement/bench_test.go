package placement

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// BenchmarkPlacement places one GPU pod in a cluster of 50 NodePools (a
// mix of narrow and open GPU and CPU pools, some tainted) and 200 Nodes.
func BenchmarkPlacement(b *testing.B) {
	families := []string{"g5", "g6", "g6e", "p4d", "p5", "m6i", "c7g", "r6i"}
	var docs []string
	for i := range 50 {
		f := families[i%len(families)]
		taint := ""
		if i%3 == 0 {
			taint = `taints: [{key: nvidia.com/gpu, value: "true", effect: NoSchedule}],`
		}
		docs = append(docs, fmt.Sprintf(`{metadata: {name: pool-%02d}, spec: {limits: {cpu: "1000"}, template: {spec: {%s requirements: [
			{key: karpenter.k8s.aws/instance-family, operator: In, values: [%s]},
			{key: karpenter.sh/capacity-type, operator: In, values: [spot, on-demand]},
			{key: topology.kubernetes.io/zone, operator: In, values: [us-east-1a, us-east-1b]}]}}}}`, i, taint, f))
	}
	var nodes []*corev1.Node
	for i := range 200 {
		nodes = append(nodes, nodeOf(b, fmt.Sprintf(`{metadata: {name: node-%03d, labels: {karpenter.sh/nodepool: pool-%02d, node.kubernetes.io/instance-type: m6i.2xlarge, topology.kubernetes.io/zone: us-east-1a}}, spec: {taints: [{key: nvidia.com/gpu, value: "true", effect: NoSchedule}]}, status: {capacity: {cpu: "8", memory: 32Gi}, allocatable: {cpu: "7910m", memory: 30Gi}}}`, i, i%50)))
	}
	c := cluster(b, pools(b, docs...), nodes)
	pod := podOf(b, gpuPod(`tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}], nodeSelector: {karpenter.sh/capacity-type: spot},`, 1))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if res := c.Place(pod); !res.Fits {
			b.Fatal("does not fit")
		}
	}
}
