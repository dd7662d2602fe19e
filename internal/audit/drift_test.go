package audit

import (
	"context"
	"slices"
	"testing"

	"gomodules.xyz/jsonpatch/v2"

	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/review"
)

func TestFieldPath(t *testing.T) {
	for _, tc := range []struct{ pointer, want string }{
		{"/spec/tolerations", "spec.tolerations"},
		{"/spec/tolerations/1", "spec.tolerations[1]"},
		{"/spec/containers/0/env/-", "spec.containers[0].env[-]"},
		{"/spec/containers/0/resources/limits/nvidia.com~1gpu", `spec.containers[0].resources.limits["nvidia.com/gpu"]`},
		{"/metadata/annotations/a~0b", `metadata.annotations["a~b"]`},
		{"/spec/nodeSelector/karpenter.sh~1capacity-type", `spec.nodeSelector["karpenter.sh/capacity-type"]`},
		{"/spec/terminationGracePeriodSeconds", "spec.terminationGracePeriodSeconds"},
	} {
		if got := review.FieldPath(tc.pointer); got != tc.want {
			t.Errorf("FieldPath(%q) = %q, want %q", tc.pointer, got, tc.want)
		}
	}
}

// TestDriftPerMutator: each fixture pod misses what one mutator adds, and
// gets the drift finding of that mutator and no other.
func TestDriftPerMutator(t *testing.T) {
	runner, src := fixtureRunner(t, nil)
	got := map[string][]string{}
	rep := collect(func(r *Result) {
		for _, v := range r.Violations {
			if Family(v.Policy) == DriftFamily {
				got[r.Object.Name] = append(got[r.Object.Name], v.Policy)
				if v.Action != engine.ActionAudit || v.Message == "" || v.Path == "" {
					t.Errorf("%s: %+v: want action audit, a message and a path", r.Object.Name, v)
				}
			}
		}
	})
	if _, err := runner.Run(context.Background(), src, rep); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"vllm-0":        {"drift.gpu-tolerations"},
		"rag-agent-0":   {"drift.credentials"},
		"batch-embed-0": {"drift.prestop-drain"},
		"tenant-a-llm":  {"drift.mig"},
	}
	for name, w := range want {
		if !slices.Equal(got[name], w) {
			t.Errorf("%s: drift findings %v, want %v", name, got[name], w)
		}
	}
	for name, g := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: unexpected drift findings %v", name, g)
		}
	}
}

// TestDriftPoliciesClaimEveryOperation: every operation the real mutator
// chain produces for the fixtures is reported by exactly one drift
// policy, so that no mutation goes unreported and none twice.
func TestDriftPoliciesClaimEveryOperation(t *testing.T) {
	runner, src := fixtureRunner(t, nil)
	e := testEngine(t)
	ops := 0
	rep := collect(func(r *Result) {
		for _, op := range r.Patch {
			ops++
			in, err := review.DriftInput(nil, []jsonpatch.Operation{op})
			if err != nil {
				t.Fatal(err)
			}
			found, err := e.Evaluate(context.Background(), engine.Selector{Target: engine.TargetDrift}, in)
			if err != nil {
				t.Fatal(err)
			}
			if len(found) != 1 {
				t.Errorf("%s: operation %s %s is reported by %d drift policies", r.Object, op.Operation, op.Path, len(found))
			}
		}
	})
	if _, err := runner.Run(context.Background(), src, rep); err != nil {
		t.Fatal(err)
	}
	if ops < 5 {
		t.Fatalf("only %d patch operations in the fixtures; the test proves little", ops)
	}
}

// TestDriftNothingWithoutPatch: a pod the mutators leave alone has no
// drift finding, and admission (no input.drift) never evaluates them.
func TestDriftNothingWithoutPatch(t *testing.T) {
	e := testEngine(t)
	in, err := review.DriftInput(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	found, err := e.Evaluate(context.Background(), engine.Selector{Target: engine.TargetDrift}, in)
	if err != nil || len(found) != 0 {
		t.Fatalf("findings %v, err %v", found, err)
	}
	for _, p := range e.Policies() {
		if p.Family == DriftFamily && (p.AppliesTo(engine.TargetPod) || !p.AppliesTo(engine.TargetDrift)) {
			t.Errorf("%s must target drift only, so admission never evaluates it", p.ID)
		}
	}
}

// collect is a report that hands each result to f.
type collect func(*Result)

func (c collect) Add(r *Result) error  { c(r); return nil }
func (c collect) Close(*Summary) error { return nil }

var _ Report = collect(nil)
