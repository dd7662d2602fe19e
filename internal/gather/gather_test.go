package gather

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/manifest"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
)

// cluster is the state the gatherer tests read: namespaces with and
// without GPU limits, running GPU pods, disruption budgets and NodePools.
const cluster = `
apiVersion: v1
kind: Namespace
metadata: {name: quota}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: gpu-quota, namespace: quota}
spec: {hard: {requests.nvidia.com/gpu: "16", requests.cpu: "128"}}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: team-limits, namespace: quota}
spec: {hard: {limits.nvidia.com/gpu: "12"}}
---
apiVersion: v1
kind: Pod
metadata: {name: train-0, namespace: quota}
spec:
  nodeSelector: {karpenter.sh/nodepool: gpu-training-pool}
  containers: [{name: c, image: i, resources: {limits: {nvidia.com/gpu: 8}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: slice, namespace: quota}
spec:
  containers: [{name: c, image: i, resources: {limits: {nvidia.com/mig-3g.40gb: 2}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: finished, namespace: quota}
spec:
  containers: [{name: c, image: i, resources: {limits: {nvidia.com/gpu: 8}}}]
status: {phase: Succeeded}
---
apiVersion: v1
kind: Namespace
metadata: {name: annotated, annotations: {tollgate.dev/gpu-quota: "2", tollgate.dev/gpu-cost-per-hour: "$50"}}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: big, namespace: annotated}
spec: {hard: {requests.nvidia.com/gpu: "64"}}
---
apiVersion: v1
kind: Pod
metadata: {name: infer, namespace: annotated}
spec:
  nodeSelector: {karpenter.k8s.aws/instance-family: g6e}
  containers: [{name: c, image: i, resources: {limits: {nvidia.com/gpu: 1}}}]
---
apiVersion: v1
kind: Namespace
metadata: {name: scoped}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: high-priority, namespace: scoped}
spec:
  hard: {requests.nvidia.com/gpu: "4"}
  scopeSelector: {matchExpressions: [{scopeName: PriorityClass, operator: In, values: [high]}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: broken, annotations: {tollgate.dev/gpu-quota: lots, tollgate.dev/gpu-cost-per-hour: fifty}}
---
apiVersion: v1
kind: Namespace
metadata: {name: plain, annotations: {tollgate.dev/mig-profile: 1g.10gb}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: vllm, namespace: plain}
spec: {minAvailable: 1, selector: {matchLabels: {app: vllm}}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: everything, namespace: plain}
spec: {maxUnavailable: "50%", selector: {}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: nothing, namespace: plain}
spec: {maxUnavailable: 1}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: bad, namespace: plain}
spec: {maxUnavailable: 1, selector: {matchExpressions: [{key: app, operator: Matches}]}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: elsewhere, namespace: quota}
spec: {minAvailable: 1, selector: {matchLabels: {app: vllm}}}
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: gpu-training-pool}
spec:
  template:
    spec:
      requirements:
      - {key: node.kubernetes.io/instance-type, operator: In, values: [p5.48xlarge, p4de.24xlarge]}
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: a-families}
spec:
  template:
    spec:
      requirements:
      - {key: karpenter.k8s.aws/instance-family, operator: In, values: [p5en]}
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
`

func staticState(t *testing.T, docs ...string) *state.Static {
	t.Helper()
	st := state.NewStatic()
	for _, src := range docs {
		ds, errs := manifest.Parse("state.yaml", []byte(src), true)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		for _, d := range ds {
			st.Add(d.Object)
		}
	}
	return st
}

// gathering is what the reviewer passes a gatherer for one manifest.
func gathering(t *testing.T, st *state.Static, src string) *review.Gathering {
	t.Helper()
	ds, errs := manifest.Parse("object.yaml", []byte(src), true)
	if len(errs) > 0 || len(ds) != 1 {
		t.Fatalf("%v", errs)
	}
	o := ds[0].Object
	kubeobjects.Default(o)
	ns, err := st.Namespace(context.Background(), o.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	g := &review.Gathering{Object: o, Target: review.TargetOf(o), Namespace: ns, State: st, Pod: o.Pod()}
	if g.Target == engine.TargetTemplate {
		g.Template, _ = o.Template()
	}
	return g
}

// gathered runs a gatherer and returns its state as JSON ("null" for none).
func gathered(t *testing.T, gt review.Gatherer, g *review.Gathering) string {
	t.Helper()
	v, err := gt.Gather(context.Background(), g)
	if err != nil {
		t.Fatal(err)
	}
	if av, ok := v.(ast.Value); ok {
		if v, err = ast.JSON(av); err != nil {
			t.Fatal(err)
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestGatherersKeys(t *testing.T) {
	var keys []string
	for _, g := range Gatherers(config.Default().Validators, nil) {
		keys = append(keys, g.Key())
	}
	if got, _ := json.Marshal(keys); string(got) != `["quota","pdbs","nodepools","disruption","placement"]` {
		t.Errorf("keys %s", got)
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
