package engine_test

import (
	"fmt"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/tollgate-dev/tollgate/internal/engine"
)

// Inputs of other families that grow with the object in more than one
// dimension at once. Those still super-linear carry a note (known): the
// case is skipped while it fails and fails once it passes, so that the note
// goes when the rule is fixed.
var otherShapes = []struct {
	name   string
	target engine.Target
	input  func(t testing.TB, n int) ast.Value
	known  string
	// div divides both sizes, for inputs whose every element is costly.
	div int
}{
	{
		name: "training pod: volume mounts by volumes", target: engine.TargetPod,
		input: func(t testing.TB, n int) ast.Value {
			return podInput(t, pod(n, features{training: true}), "restricted", 37)
		},
	},
	{
		name: "MIG pod: node affinity terms by node selector entries", target: engine.TargetPod,
		input: func(t testing.TB, n int) ast.Value {
			p := pod(1, features{gpu: true})
			spec := p["spec"].(map[string]any)
			selector := map[string]any{}
			var terms []any
			for i := range n {
				selector[fmt.Sprintf("example.com/label-%d", i)] = "x"
				terms = append(terms, map[string]any{"matchExpressions": []any{
					map[string]any{"key": fmt.Sprintf("example.com/term-%d", i), "operator": "Exists"},
				}})
			}
			spec["nodeSelector"] = selector
			spec["affinity"] = map[string]any{"nodeAffinity": map[string]any{
				"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{"nodeSelectorTerms": terms},
			}}
			return podInput(t, p, "restricted", 37)
		},
		div: 4,
	},
	{
		name: "Spot pod: capacity-type expressions in one term", target: engine.TargetPod,
		input: func(t testing.TB, n int) ast.Value {
			p := pod(1, features{})
			var exprs []any
			for range n {
				exprs = append(exprs, map[string]any{"key": "karpenter.sh/capacity-type", "operator": "In", "values": []any{"spot"}})
			}
			p["spec"].(map[string]any)["affinity"] = map[string]any{"nodeAffinity": map[string]any{
				"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{"nodeSelectorTerms": []any{map[string]any{"matchExpressions": exprs}}},
			}}
			return podInput(t, p, "restricted", 37)
		},
	},
	{
		name: "drift: patch operations", target: engine.TargetDrift,
		input: func(t testing.TB, n int) ast.Value {
			var patch []any
			containers := map[string]any{}
			for i := range n {
				prefix := fmt.Sprintf("spec.containers[%d]", i)
				containers[prefix] = fmt.Sprintf("c-%d", i)
				for _, v := range []string{"AWS_ROLE_ARN", "AWS_REGION", "AWS_WEB_IDENTITY_TOKEN_FILE"} {
					patch = append(patch, map[string]any{"op": "add", "path": fmt.Sprintf("/spec/containers/%d/env/-", i), "field": prefix + ".env", "value": map[string]any{"name": v, "value": "x"}})
				}
			}
			return mustValue(t, map[string]any{"drift": map[string]any{"patch": patch, "containers": containers}})
		},
		div: 2,
	},
	{
		name: "NodePool: requirements on one key", target: engine.TargetNodePool,
		input: func(t testing.TB, n int) ast.Value {
			var reqs []any
			for i := range n {
				reqs = append(reqs,
					map[string]any{"key": "example.com/zone", "operator": "DoesNotExist"},
					map[string]any{"key": "example.com/zone", "operator": "In", "values": []any{fmt.Sprintf("z-%d", i)}})
			}
			return nodePoolInput(t, reqs)
		},
		div: 2,
	},
	{
		name: "NodePool: listed instance types by requirements", target: engine.TargetNodePool,
		input: func(t testing.TB, n int) ast.Value {
			var types []any
			reqs := []any{}
			for i := range n {
				types = append(types, fmt.Sprintf("x%d.large", i))
				reqs = append(reqs, map[string]any{"key": fmt.Sprintf("example.com/k-%d", i), "operator": "Exists"})
			}
			reqs = append(reqs, map[string]any{"key": "node.kubernetes.io/instance-type", "operator": "In", "values": types})
			return nodePoolInput(t, reqs)
		},
	},
}

// TestOtherFamiliesWorkIsLinear is TestEvaluationWorkIsLinear for inputs
// that grow in two dimensions at once.
func TestOtherFamiliesWorkIsLinear(t *testing.T) {
	e := embeddedEngine(t)
	for _, s := range otherShapes {
		t.Run(s.name, func(t *testing.T) {
			sel := engine.Selector{Target: s.target, Level: "restricted", Version: engine.LatestPSSVersion}
			div := max(s.div, 1)
			in1, in2 := s.input(t, small/div), s.input(t, large/div)
			work(t, e, sel, in1)
			problems := growthProblems(work(t, e, sel, in1), work(t, e, sel, in2), float64(large)/float64(small))
			switch {
			case s.known != "" && len(problems) > 0:
				t.Skipf("known super-linear: %s: %v", s.known, problems)
			case s.known != "":
				t.Errorf("the known problem is fixed (%s): remove the note", s.known)
			}
			for _, p := range problems {
				t.Error(p)
			}
		})
	}
}

func nodePoolInput(t testing.TB, reqs []any) ast.Value {
	np := map[string]any{
		"apiVersion": "karpenter.sh/v1", "kind": "NodePool",
		"metadata": map[string]any{"name": "gpu"},
		"spec": map[string]any{"template": map[string]any{
			"metadata": map[string]any{"labels": map[string]any{}},
			"spec":     map[string]any{"requirements": reqs, "nodeClassRef": map[string]any{"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"}},
		}},
	}
	return mustValue(t, map[string]any{
		"kind":      map[string]any{"group": "karpenter.sh", "version": "v1", "kind": "NodePool"},
		"object":    np,
		"request":   map[string]any{"operation": "CREATE", "userInfo": map[string]any{"username": "alice", "groups": []any{}}},
		"namespace": map[string]any{"name": "", "labels": map[string]any{}, "annotations": map[string]any{}},
		"pss":       map[string]any{"level": "restricted", "version": 37},
		"state":     map[string]any{},
	})
}

func mustValue(t testing.TB, v any) ast.Value {
	t.Helper()
	x, err := ast.InterfaceToValue(v)
	if err != nil {
		t.Fatal(err)
	}
	return x
}
