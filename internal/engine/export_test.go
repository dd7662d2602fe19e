package engine

import (
	"context"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// EvaluateWith is Evaluate with extra evaluation options (a tracer that
// counts work), for the engine's own tests.
func (e *Engine) EvaluateWith(ctx context.Context, sel Selector, input ast.Value, opts ...rego.EvalOption) ([]Finding, error) {
	return e.evaluate(ctx, sel, input, opts)
}
