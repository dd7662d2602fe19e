package gather_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/manifest"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
	"github.com/tollgate-dev/tollgate/internal/wiring"
)

// platform is a small GPU platform: a namespace with a GPU quota nearly
// used up (15 GPUs and three 1/7 MIG slices), one with a $20/h budget, one
// without any GPU limit that overrides the quota family to warn, and a
// disruption budget.
const platform = `
apiVersion: v1
kind: Namespace
metadata: {name: inference}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: gpu-quota, namespace: inference}
spec: {hard: {requests.nvidia.com/gpu: "16"}}
---
apiVersion: v1
kind: Pod
metadata: {name: big, namespace: inference}
spec: {containers: [{name: c, image: i, resources: {limits: {nvidia.com/gpu: 15}}}]}
---
apiVersion: v1
kind: Pod
metadata: {name: slices, namespace: inference}
spec: {containers: [{name: c, image: i, resources: {limits: {nvidia.com/mig-1g.10gb: 3}}}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: budget, annotations: {tollgate.dev/gpu-quota: "64", tollgate.dev/gpu-cost-per-hour: "20"}}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: budget}
spec:
  nodeSelector: {node.kubernetes.io/instance-type: p5.48xlarge}
  containers: [{name: c, image: i, resources: {limits: {nvidia.com/gpu: 2}}}]
---
apiVersion: v1
kind: Namespace
metadata: {name: lab, labels: {tollgate.dev/quota: warn}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: lab}
spec: {minAvailable: 1, selector: {matchLabels: {app: web}}}
`

const restricted = `securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}`

func container(resources string) string {
	return `containers: [{name: c, image: i:1, securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}, resources: {limits: ` + resources + `}}]`
}

func platformReviewer(t testing.TB, extra ...string) *review.Reviewer {
	t.Helper()
	cfg := config.Default()
	e, err := wiring.NewEngine(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := state.NewStatic()
	for _, src := range append([]string{platform}, extra...) {
		docs, errs := manifest.Parse("platform.yaml", []byte(src), true)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		for _, d := range docs {
			st.Add(d.Object)
		}
	}
	r, err := wiring.NewReviewer(engine.NewHolder(e), cfg, st, wiring.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReviewWithClusterState(t *testing.T) {
	r := platformReviewer(t)
	owned := `ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: rs, uid: u, controller: true}]`
	for _, tc := range []struct {
		name, object string
		allowed      bool
		want         []string // policy:action
		message      string   // of the first violation, when set
	}{
		{"a MIG slice that still fits", fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: inference}\nspec:\n  %s\n  %s\n", restricted, container("{nvidia.com/mig-3g.40gb: 1}")),
			true, nil, ""},
		{"a GPU past the quota", fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: inference}\nspec:\n  %s\n  %s\n", restricted, container("{nvidia.com/gpu: 1}")),
			false, []string{"quota.gpu:deny"},
			`GPU quota of namespace "inference" exceeded: 15.43 GPUs in use + 1 requested = 16.43, over the limit of 16 (ResourceQuota gpu-quota, requests.nvidia.com/gpu); MIG slices count as their fraction of a GPU`},
		{"over the cost budget", fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: budget}\nspec:\n  nodeSelector: {node.kubernetes.io/instance-type: p5.48xlarge}\n  %s\n  %s\n", restricted, container("{nvidia.com/gpu: 1}")),
			false, []string{"quota.cost:deny"},
			`GPU cost of namespace "budget" over budget: $13.76/h in use + $6.88/h requested (1 GPU at $6.88 per GPU-hour on p5.48xlarge) = $20.64/h, over the limit of $20.00/h (namespace annotation tollgate.dev/gpu-cost-per-hour)`},
		{"no GPU limit, and the namespace turns quota to warn", fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: lab}\nspec:\n  %s\n  %s\n", restricted, container("{nvidia.com/gpu: 16}")),
			true, []string{"quota.declared:warn", "quota.per-pod:warn"}, ""},
		{"a bare pod on Spot", fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: lab}\nspec:\n  nodeSelector: {karpenter.sh/capacity-type: spot}\n  terminationGracePeriodSeconds: 300\n  %s\n  %s\n", restricted, container("{cpu: 1}")),
			false, []string{"spot.controller:deny", "spot.drain:warn", "spot.grace:warn"}, ""},
		{"an owned, drained Spot pod", fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: lab, %s}\nspec:\n  nodeSelector: {karpenter.sh/capacity-type: spot}\n  %s\n  containers: [{name: c, image: i:1, lifecycle: {preStop: {sleep: {seconds: 5}}}, securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}}]\n", owned, restricted),
			true, nil, ""},
		{"replicated Spot workloads need a PDB that selects them", fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: lab}\nspec:\n  replicas: 3\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    spec:\n      nodeSelector: {karpenter.sh/capacity-type: spot}\n      %s\n      %s\n", restricted, container("{cpu: 1}")),
			true, []string{"spot.pdb:warn"},
			`Deployment with 3 replicas can run on Spot capacity (nodeSelector karpenter.sh/capacity-type=spot) but no PodDisruptionBudget selects its pods (labels app=api): consolidation and interruption draining can take every replica at once; add a PodDisruptionBudget`},
		{"and are fine with one", fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: lab}\nspec:\n  replicas: 3\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      nodeSelector: {karpenter.sh/capacity-type: spot}\n      %s\n      %s\n", restricted, container("{cpu: 1}")),
			true, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, errs := manifest.Parse("object.yaml", []byte(tc.object), true)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			// Without mutation: these cases are about validation; the
			// mutators have their own tests.
			res, err := r.Review(context.Background(), &review.Request{Object: ds[0].Object, Operation: "CREATE"})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range res.Violations {
				got = append(got, v.Policy+":"+string(v.Action))
			}
			if res.Allowed != tc.allowed || !slices.Equal(got, tc.want) {
				t.Errorf("allowed %v %v, want %v %v: %+v", res.Allowed, got, tc.allowed, tc.want, res.Violations)
			}
			if tc.message != "" && len(res.Violations) > 0 && res.Violations[0].Message != tc.message {
				t.Errorf("message\n%s\nwant\n%s", res.Violations[0].Message, tc.message)
			}
		})
	}
}

// BenchmarkReviewSpotGPUPod is the validation of a Spot GPU pod in a
// namespace with a GPU quota, a cost budget and running GPU pods, in a
// cluster with four NodePools: the gatherers of this package plus every
// pod policy (without mutation). The cost budget refuses it.
func BenchmarkReviewSpotGPUPod(b *testing.B) {
	var pools string
	for i := range 4 {
		pools += fmt.Sprintf(`---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: pool-%d}
spec:
  template:
    spec:
      requirements:
      - {key: karpenter.sh/capacity-type, operator: In, values: [spot, on-demand]}
      - {key: node.kubernetes.io/instance-type, operator: In, values: [p5.48xlarge, p4de.24xlarge, g6e.12xlarge]}
      taints: [{key: nvidia.com/gpu, effect: NoSchedule}]
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
  limits: {nvidia.com/gpu: 64}
`, i)
	}
	r := platformReviewer(b, pools)
	ds, errs := manifest.Parse("pod.yaml", []byte(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: p, namespace: budget, labels: {app: vllm}, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: rs, uid: u, controller: true}]}
spec:
  nodeSelector: {karpenter.sh/nodepool: pool-1}
  tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
  %s
  containers: [{name: c, image: i:1, lifecycle: {preStop: {sleep: {seconds: 5}}}, securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}, resources: {limits: {nvidia.com/gpu: 1}}}]
`, restricted)), true)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	req := &review.Request{Object: ds[0].Object, Operation: "CREATE"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		// The pod's p5 price breaks the namespace's $20/h budget.
		res, err := r.Review(ctx, req)
		if err != nil || len(res.Violations) != 1 || res.Violations[0].Policy != "quota.cost" {
			b.Fatalf("%v %+v", err, res.Violations)
		}
	}
}
