package review_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/manifest"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
	"github.com/tollgate-dev/tollgate/internal/wiring"
)

// countingReader counts the reads of each kind of state.
type countingReader struct {
	state.Reader
	mu    sync.Mutex
	reads map[string]int
}

func (c *countingReader) count(kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads[kind]++
}

func (c *countingReader) Namespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	c.count("Namespace")
	return c.Reader.Namespace(ctx, name)
}

func (c *countingReader) ServiceAccount(ctx context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	c.count("ServiceAccount")
	return c.Reader.ServiceAccount(ctx, ns, name)
}

func (c *countingReader) ResourceQuotas(ctx context.Context, ns string) ([]*corev1.ResourceQuota, error) {
	c.count("ResourceQuota")
	return c.Reader.ResourceQuotas(ctx, ns)
}

func (c *countingReader) PodDisruptionBudgets(ctx context.Context, ns string) ([]*policyv1.PodDisruptionBudget, error) {
	c.count("PodDisruptionBudget")
	return c.Reader.PodDisruptionBudgets(ctx, ns)
}

func (c *countingReader) NodePools(ctx context.Context) ([]map[string]any, error) {
	c.count("NodePool")
	return c.Reader.NodePools(ctx)
}

const pipelineState = `
apiVersion: v1
kind: Namespace
metadata: {name: ai, annotations: {tollgate.dev/gpu-quota: "8"}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: vllm, namespace: ai, annotations: {eks.amazonaws.com/role-arn: "arn:aws:iam::111122223333:role/vllm"}}
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: gpu}
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: gpu}
      requirements:
      - {key: karpenter.sh/capacity-type, operator: In, values: [spot, on-demand]}
      - {key: node.kubernetes.io/instance-type, operator: In, values: [g5.xlarge]}
      taints: [{key: nvidia.com/gpu, effect: NoSchedule}]
`

// gpuPod is mutated by the real chain (toleration, credentials, drain) and
// passes every policy; bare is the same pod that the chain leaves alone.
const gpuPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"ai",
"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"u","controller":true}]},"spec":{
"serviceAccountName":"vllm","nodeSelector":{"karpenter.sh/nodepool":"gpu"},
"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},
"containers":[{"name":"c","image":"i:1","resources":{"limits":{"nvidia.com/gpu":1}},
"securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}`

// cpuPod needs no mutator.
const cpuPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"ai"},"spec":{
"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},
"containers":[{"name":"c","image":"i:1",
"securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}`

// TestEachStepOncePerReview counts the state reads and policy
// evaluations of one review: the namespace, the ServiceAccount and the
// NodePools are read once however many mutators and gatherers read them,
// and mutation adds no second evaluation. Only a mutation that makes the
// pod denied costs a second one, to tell whether the mutation caused it.
func TestEachStepOncePerReview(t *testing.T) {
	docs, errs := manifest.Parse("state.yaml", []byte(pipelineState), true)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	st := state.NewStatic()
	for _, d := range docs {
		st.Add(d.Object)
	}
	cfg := config.Default()
	e, err := wiring.NewEngine(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		pod    string
		mutate bool
		// webhook uses Mutate (the /mutate path) instead of Review.
		webhook     bool
		evaluations int
		mutated     bool
	}{
		{"validate only", gpuPod, false, false, 1, false},
		{"review with mutation", gpuPod, true, false, 1, true},
		{"review, nothing to mutate", cpuPod, true, false, 1, false},
		{"/mutate with a change", gpuPod, true, true, 1, true},
		{"/mutate, nothing to change", cpuPod, true, true, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cr := &countingReader{Reader: st, reads: map[string]int{}}
			var evaluations int
			r, err := wiring.NewReviewer(engine.NewHolder(e), cfg, cr, wiring.Deps{},
				review.WithEvaluationHook(func(engine.Selector) { evaluations++ }))
			if err != nil {
				t.Fatal(err)
			}
			req := &review.Request{Object: object(t, tc.pod), Operation: "CREATE", Mutate: tc.mutate}
			var patched int
			if tc.webhook {
				m, err := r.Mutate(context.Background(), req)
				if err != nil {
					t.Fatal(err)
				}
				patched = len(m.Patch)
			} else {
				res, err := r.Review(context.Background(), req)
				if err != nil {
					t.Fatal(err)
				}
				if !res.Allowed {
					t.Fatalf("denied: %+v", res.Violations)
				}
				patched = len(res.Patch)
			}
			if (patched > 0) != tc.mutated {
				t.Errorf("patch of %d operations, want mutated=%v", patched, tc.mutated)
			}
			if evaluations != tc.evaluations {
				t.Errorf("%d policy evaluations, want %d", evaluations, tc.evaluations)
			}
			for kind, n := range cr.reads {
				if n > 1 {
					t.Errorf("%s read %d times in one review", kind, n)
				}
			}
			if cr.reads["Namespace"] != 1 {
				t.Errorf("namespace read %d times, want 1", cr.reads["Namespace"])
			}
		})
	}
}

// TestRevertCostsOneMoreEvaluation: a mutation that makes the pod denied
// is the one case with a second evaluation (of the submitted pod).
func TestRevertCostsOneMoreEvaluation(t *testing.T) {
	var evaluations int
	r, err := review.New(engine.NewHolder(testEngineFor(t)), config.Default(), state.NewStatic(),
		review.WithMutator(escalate), review.WithEvaluationHook(func(engine.Selector) { evaluations++ }))
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Review(context.Background(), &review.Request{Object: object(t, compliant), Operation: "CREATE", Mutate: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Allowed || len(res.Patch) != 0 || !strings.Contains(strings.Join(res.Warnings, ";"), "was not mutated") {
		t.Errorf("reverted: allowed %v patch %v warnings %q", res.Allowed, res.Patch, res.Warnings)
	}
	if evaluations != 2 {
		t.Errorf("%d evaluations, want 2 (mutated, then submitted)", evaluations)
	}
}

func testEngineFor(t *testing.T) *engine.Engine {
	t.Helper()
	reviewer(t, tolerate) // builds the shared test engine
	return testEngine
}
