package review

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/tollgate-dev/tollgate/internal/engine"
)

// drift adds to res the findings of the drift policies (target drift):
// what the mutators would change on a running pod were it created today.
// They read input.drift: the patch, each operation with its field path,
// and the container names by field path.
func (p *pass) drift(ctx context.Context, res *Result) error {
	req := p.req
	if res.Exempt != "" || len(res.Patch) == 0 {
		return nil
	}
	input, err := DriftInput(req.Object.Pod(), res.Patch)
	if err != nil {
		return err
	}
	sel := engine.Selector{Target: engine.TargetDrift}
	if p.r.evaluated != nil {
		p.r.evaluated(sel)
	}
	findings, err := p.r.engines.Load().Evaluate(ctx, sel, input)
	if err != nil {
		return fmt.Errorf("%s: %w", req.Object.Ref(), err)
	}
	excepts, err := p.exceptionsFor(ctx, req.Object, findings)
	if err != nil {
		return err
	}
	p.record(res, findings, req.Object, engine.TargetPod, excepts)
	return nil
}

// DriftInput is the input of the drift policies: input.drift.patch, each
// operation with op, path, field (the path as policies write it) and value,
// and input.drift.containers, the container names by field path.
func DriftInput(pod *corev1.Pod, patch []jsonpatch.Operation) (ast.Value, error) {
	ops := make([]any, len(patch))
	for i, op := range patch {
		m := map[string]any{"op": op.Operation, "path": op.Path, "field": FieldPath(op.Path)}
		if op.Value != nil {
			m["value"] = op.Value
		}
		ops[i] = m
	}
	containers := map[string]any{}
	if pod != nil {
		for i, c := range pod.Spec.InitContainers {
			containers[fmt.Sprintf("spec.initContainers[%d]", i)] = c.Name
		}
		for i, c := range pod.Spec.Containers {
			containers[fmt.Sprintf("spec.containers[%d]", i)] = c.Name
		}
	}
	return ast.InterfaceToValue(map[string]any{"drift": map[string]any{"patch": ops, "containers": containers}})
}

// FieldPath writes a JSON pointer the way policies write field paths:
// /spec/containers/0/resources/limits/nvidia.com~1gpu is
// spec.containers[0].resources.limits["nvidia.com/gpu"].
func FieldPath(pointer string) string {
	var b strings.Builder
	for i, seg := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
		switch {
		case isIndex(seg):
			b.WriteString("[" + seg + "]")
		case isIdentifier(seg):
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(seg)
		default:
			b.WriteString("[" + strconv.Quote(seg) + "]")
		}
	}
	return b.String()
}

func isIndex(s string) bool {
	if s == "-" {
		return true
	}
	_, err := strconv.Atoi(s)
	return err == nil && s != "" && s[0] != '+' && s[0] != '-'
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}
