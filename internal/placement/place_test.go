package placement

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/tollgate-dev/tollgate/internal/gpucatalog"
)

func pools(t testing.TB, docs ...string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, d := range docs {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func podOf(t testing.TB, doc string) *corev1.Pod {
	t.Helper()
	var p corev1.Pod
	if err := yaml.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

func nodeOf(t testing.TB, doc string) *corev1.Node {
	t.Helper()
	var n corev1.Node
	if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
		t.Fatal(err)
	}
	return &n
}

func catalog(t testing.TB) *gpucatalog.Catalog {
	t.Helper()
	cat, err := gpucatalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func cluster(t testing.TB, nps []map[string]any, nodes []*corev1.Node) *Cluster {
	t.Helper()
	c, err := NewCluster(nps, nodes, Options{Catalog: catalog(t), GPUResources: []string{"nvidia.com/gpu"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const (
	inference = `
metadata: {name: gpu-inference}
spec:
  template:
    spec:
      requirements:
      - {key: karpenter.k8s.aws/instance-family, operator: In, values: [g5, g6e]}
      - {key: karpenter.sh/capacity-type, operator: In, values: [spot, on-demand]}
      taints:
      - {key: nvidia.com/gpu, value: "true", effect: NoSchedule}
      startupTaints:
      - {key: node.example.com/not-ready, effect: NoSchedule}
`
	dedicated = `
metadata: {name: dedicated}
spec:
  template:
    spec:
      requirements:
      - {key: node.kubernetes.io/instance-type, operator: In, values: [g5.2xlarge]}
      taints:
      - {key: dedicated, value: "true", effect: NoSchedule}
`
	small = `
metadata: {name: small}
spec:
  template:
    spec:
      requirements:
      - {key: node.kubernetes.io/instance-type, operator: In, values: [g5.2xlarge]}
`
	autoMode = `
metadata: {name: auto-gpu}
spec:
  template:
    spec:
      nodeClassRef: {group: eks.amazonaws.com, kind: NodeClass, name: default}
      requirements:
      - {key: eks.amazonaws.com/instance-family, operator: In, values: [g6e]}
      - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
`
	p4d = `
metadata: {name: a100}
spec:
  template:
    spec:
      requirements:
      - {key: karpenter.k8s.aws/instance-family, operator: In, values: [p4d]}
`
	gpuTol = `tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}],`
)

// gpuPod is a pod asking for gpus GPUs, with spec (YAML of the pod's
// spec fields other than containers) merged in.
func gpuPod(spec string, gpus int) string {
	return fmt.Sprintf(`{metadata: {name: p, namespace: ns}, spec: {%s containers: [{name: c, resources: {requests: {nvidia.com/gpu: "%d"}, limits: {nvidia.com/gpu: "%d"}}}]}}`, spec, gpus, gpus)
}

func TestPlace(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pools   []string
		nodes   []string
		pod     string
		fits    bool
		spot    bool
		reasons map[string]string // candidate -> reason
		missing string
		gpus    []string
	}{
		{
			name:    "instance family not in the pool",
			pools:   []string{inference},
			pod:     gpuPod(gpuTol+"nodeSelector: {karpenter.k8s.aws/instance-family: p5},", 1),
			reasons: map[string]string{"gpu-inference": "instance families [g5 g6e] do not include p5 (nodeSelector karpenter.k8s.aws/instance-family=p5)"},
		},
		{
			name:  "spot from the pool, not the selector",
			pools: []string{inference},
			pod:   gpuPod(gpuTol, 1),
			fits:  true, spot: true, gpus: []string{"A10G", "L40S"},
		},
		{
			name:    "taint not tolerated; startup taints ignored",
			pools:   []string{dedicated, inference},
			pod:     gpuPod(gpuTol, 1),
			fits:    true,
			spot:    true,
			reasons: map[string]string{"dedicated": "taint dedicated=true:NoSchedule not tolerated"},
			gpus:    []string{"A10G", "L40S"},
		},
		{
			name:    "too many GPUs for the largest type",
			pools:   []string{small},
			pod:     gpuPod("", 8),
			reasons: map[string]string{"small": "8 nvidia.com/gpu exceed the largest allowed instance type g5.2xlarge (1 GPU)"},
		},
		{
			name:    "a NodePool name the cluster does not have",
			pools:   []string{small},
			pod:     gpuPod("nodeSelector: {karpenter.sh/nodepool: gpu-training},", 1),
			missing: "nodeSelector karpenter.sh/nodepool=gpu-training",
		},
		{
			name:  "on-demand only pool is not spot",
			pools: []string{autoMode},
			pod:   gpuPod("", 1),
			fits:  true, gpus: []string{"L40S"},
		},
		{
			name:    "Auto Mode label keys mean the same attribute",
			pools:   []string{autoMode},
			pod:     gpuPod("nodeSelector: {karpenter.k8s.aws/instance-family: g5},", 1),
			reasons: map[string]string{"auto-gpu": "instance families [g6e] do not include g5 (nodeSelector karpenter.k8s.aws/instance-family=g5)"},
		},
		{
			name:    "a custom label the pool does not set",
			pools:   []string{small},
			pod:     gpuPod("nodeSelector: {team: a},", 1),
			reasons: map[string]string{"small": "label team is not set by the NodePool (nodeSelector team=a)"},
		},
		{
			name:    "spot asked, pool has no capacity-type requirement",
			pools:   []string{small},
			pod:     gpuPod("nodeSelector: {karpenter.sh/capacity-type: spot},", 1),
			reasons: map[string]string{"small": "capacity types [on-demand] do not include spot (nodeSelector karpenter.sh/capacity-type=spot)"},
		},
		{
			name:  "an existing node fits without Karpenter",
			nodes: []string{`{metadata: {name: n1, labels: {node.kubernetes.io/instance-type: g5.xlarge, eks.amazonaws.com/capacityType: SPOT}}, status: {allocatable: {nvidia.com/gpu: "1", cpu: "4", memory: 16Gi}}}`},
			pod:   gpuPod("", 1),
			fits:  true, spot: true, gpus: []string{"A10G"},
		},
		{
			name:    "an existing node without the GPUs",
			nodes:   []string{`{metadata: {name: n1}, status: {allocatable: {cpu: "4", memory: 16Gi}}}`},
			pod:     gpuPod("", 1),
			reasons: map[string]string{"n1": "insufficient nvidia.com/gpu"},
		},
		{
			name:  "p4d offers A100 40GB",
			pools: []string{p4d},
			pod:   gpuPod("", 1),
			fits:  true, gpus: []string{"A100-40GB"},
		},
		{
			name:  "Karpenter's Gte bounds the GPU count",
			pools: []string{`{metadata: {name: big}, spec: {template: {spec: {requirements: [{key: karpenter.k8s.aws/instance-family, operator: In, values: [g6e]}, {key: karpenter.k8s.aws/instance-gpu-count, operator: Gte, values: ["4"]}]}}}}`},
			pod:   gpuPod("", 1),
			fits:  true, gpus: []string{"L40S"},
		},
		{
			name:    "Lte keeps a pool to small instances",
			pools:   []string{`{metadata: {name: small-gpu}, spec: {template: {spec: {requirements: [{key: karpenter.k8s.aws/instance-family, operator: In, values: [g6e]}, {key: karpenter.k8s.aws/instance-gpu-count, operator: Lte, values: ["1"]}]}}}}`},
			pod:     gpuPod("", 4),
			reasons: map[string]string{"small-gpu": "4 nvidia.com/gpu exceed the largest allowed instance type g6e.16xlarge (1 GPU)"},
		},
		{
			name:  "required affinity terms are ORed",
			pools: []string{inference},
			pod: gpuPod(gpuTol+`affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [
			{matchExpressions: [{key: karpenter.k8s.aws/instance-family, operator: In, values: [p5]}]},
			{matchExpressions: [{key: karpenter.k8s.aws/instance-gpu-count, operator: Gt, values: ["3"]}]}]}}},`, 4),
			fits: true, spot: true, gpus: []string{"A10G", "L40S"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var nodes []*corev1.Node
			for _, n := range tc.nodes {
				nodes = append(nodes, nodeOf(t, n))
			}
			res := cluster(t, pools(t, tc.pools...), nodes).Place(podOf(t, tc.pod))
			if res.Fits != tc.fits || res.Spot != tc.spot || res.MissingNodePool != tc.missing {
				t.Errorf("fits %v spot %v missing %q, want %v %v %q: %+v", res.Fits, res.Spot, res.MissingNodePool, tc.fits, tc.spot, tc.missing, res)
			}
			got := map[string]string{}
			for _, b := range res.Blocked {
				got[b.Name] = b.Reason
			}
			if len(got) != len(tc.reasons) {
				t.Errorf("blocked %v, want %v", got, tc.reasons)
			}
			for name, want := range tc.reasons {
				if got[name] != want {
					t.Errorf("%s: reason %q, want %q", name, got[name], want)
				}
			}
			if tc.gpus != nil && !slices.Equal(res.GPUs, tc.gpus) {
				t.Errorf("GPUs %v, want %v", res.GPUs, tc.gpus)
			}
		})
	}
}

func TestMIGProfilesOfP4d(t *testing.T) {
	res := cluster(t, pools(t, p4d), nil).Place(podOf(t, gpuPod("", 1)))
	if slices.Contains(res.MIGProfiles, "3g.40gb") || !slices.Contains(res.MIGProfiles, "3g.20gb") {
		t.Errorf("p4d is A100 40GB: profiles %v", res.MIGProfiles)
	}
}

func TestLimitsReached(t *testing.T) {
	np := pools(t, `
metadata: {name: train}
spec:
  limits: {nvidia.com/gpu: 16}
  template:
    spec:
      requirements:
      - {key: karpenter.k8s.aws/instance-family, operator: In, values: [p5]}
`)
	var nodes []*corev1.Node
	for _, name := range []string{"a", "b"} {
		nodes = append(nodes, nodeOf(t, `{metadata: {name: `+name+`, labels: {karpenter.sh/nodepool: train}, taints: []}, spec: {taints: [{key: busy, effect: NoSchedule}]}, status: {capacity: {nvidia.com/gpu: "8"}, allocatable: {nvidia.com/gpu: "8"}}}`))
	}
	res := cluster(t, np, nodes).Place(podOf(t, gpuPod("", 1)))
	if res.Fits {
		t.Fatalf("fits: %+v", res)
	}
	if got := res.Blocked[0].Reason; got != "limits reached: nvidia.com/gpu 16 of 16 in use" {
		t.Errorf("reason %q", got)
	}
	// One node's worth left: an 8-GPU p5.48xlarge would exceed it, the
	// 1-GPU p5.4xlarge does not.
	res = cluster(t, np, nodes[:1]).Place(podOf(t, gpuPod("", 1)))
	if !res.Fits || !slices.Equal(res.Reachable[0].InstanceTypes, []string{"p5.48xlarge", "p5.4xlarge"}) {
		t.Errorf("with 8 of 16 used: %+v", res.Reachable)
	}
}

func TestMalformedRequirementsAreReportedNotFatal(t *testing.T) {
	np := pools(t, `
metadata: {name: bad}
spec:
  template:
    spec:
      requirements:
      - {key: karpenter.k8s.aws/instance-gpu-count, operator: Gt, values: ["many"]}
      - {key: karpenter.k8s.aws/instance-family, operator: Near, values: [g5]}
      - {key: karpenter.k8s.aws/instance-family, operator: In, values: [g5]}
`)
	res := cluster(t, np, nil).Place(podOf(t, gpuPod("", 1)))
	if !res.Fits {
		t.Errorf("a malformed requirement blocked the pool: %+v", res)
	}
	want := []Problem{
		{NodePool: "bad", Path: "spec.template.spec.requirements[0]", Message: `operator Gt needs an integer value, not "many"`},
		{NodePool: "bad", Path: "spec.template.spec.requirements[1]", Message: `unknown operator "Near" (In, NotIn, Exists, DoesNotExist, Gt, Lt, Gte or Lte)`},
	}
	if !slices.Equal(res.Problems, want) {
		t.Errorf("problems %+v, want %+v", res.Problems, want)
	}
}

func TestUnknownInstanceTypesNarrowNothing(t *testing.T) {
	np := pools(t, `
metadata: {name: future}
spec:
  template:
    spec:
      requirements:
      - {key: karpenter.k8s.aws/instance-family, operator: In, values: [p9]}
`)
	res := cluster(t, np, nil).Place(podOf(t, gpuPod("", 8)))
	if !res.Fits || res.GPUsKnown {
		t.Errorf("an unknown family must not block nor name GPUs: %+v", res)
	}
}
