package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// A batch evaluates many policies, all embedded or all an operator's, with
// one prepared query, binding each
// policy's violation set to a variable: one pass of the interpreter shares
// the work of the libraries (lib.pss containers, lib.spot placements) between
// all of them. An evaluation error in any policy (a conflict between
// complete rules, an object with duplicate keys) aborts that whole query, so
// when the batch fails the engine evaluates its policies one by one, and the
// policy that fails becomes a Finding with Err set, enforced at its own
// action on error, while every other policy is judged as usual. The error
// path costs one more evaluation per policy; the common path costs nothing.

// PolicyError is the evaluation error of one policy on one input.
type PolicyError struct {
	Policy string // policy id
	File   string
	Err    error
}

func (e *PolicyError) Error() string {
	return fmt.Sprintf("policy %s (%s) could not be evaluated: %v", e.Policy, e.File, e.Err)
}

func (e *PolicyError) Unwrap() error { return e.Err }

type batch struct {
	pq       rego.PreparedEvalQuery
	policies []*Policy // policies[i] is bound to variable vars[i]
	vars     []string
	// alone[i] is the query of policies[i] by itself, prepared when the
	// batch first fails.
	alone []*lazyQuery
}

type lazyQuery struct {
	once sync.Once
	b    *batch
	err  error
}

// prepare builds the batch of ps.
func (e *Engine) prepare(ctx context.Context, ps []*Policy) (*batch, error) {
	b, err := e.prepareOnly(ctx, ps)
	if err != nil {
		return nil, err
	}
	if len(ps) > 1 {
		b.alone = make([]*lazyQuery, len(ps))
		for i := range ps {
			b.alone[i] = &lazyQuery{}
		}
	}
	return b, nil
}

func (e *Engine) prepareOnly(ctx context.Context, ps []*Policy) (*batch, error) {
	b := &batch{policies: ps, vars: make([]string, len(ps))}
	body := make([]string, len(ps))
	for i, p := range ps {
		b.vars[i] = fmt.Sprintf("v%d", i)
		body[i] = fmt.Sprintf("%s = %s.violation", b.vars[i], p.Package)
	}
	var err error
	b.pq, err = rego.New(
		rego.Query(strings.Join(body, "; ")),
		rego.Compiler(e.compiler),
		rego.Store(e.store),
		rego.Capabilities(Capabilities()),
		// An operator's policy whose built-in fails (to_number("x"),
		// units.parse of garbage) would otherwise just not report:
		// failing open. Strict, the failure is the policy's error, at
		// its action on error. The embedded policies keep OPA's default
		// (a failing built-in is undefined), which their tests and the
		// conformance suites pin.
		rego.StrictBuiltinErrors(len(ps) > 0 && !ps[0].Builtin),
	).PrepareForEval(ctx)
	return b, err
}

// evalBatch evaluates the batch on input; see the comment at the top of
// the file.
func (e *Engine) evalBatch(ctx context.Context, b *batch, input ast.Value, opts []rego.EvalOption) ([]Finding, error) {
	out, err := b.evalOnce(ctx, input, opts)
	if err == nil {
		return out, nil
	}
	// A deadline or a cancellation is the request's, not a policy's.
	if ctx.Err() != nil || topdown.IsCancel(err) {
		return nil, err
	}
	if len(b.policies) == 1 {
		return []Finding{policyError(b.policies[0], err)}, nil
	}
	out = out[:0]
	for i, p := range b.policies {
		lq := b.alone[i]
		// Prepared once for every later request: not cut short by this
		// request's deadline.
		lq.once.Do(func() { lq.b, lq.err = e.prepareOnly(context.WithoutCancel(ctx), []*Policy{p}) })
		if lq.err != nil {
			out = append(out, policyError(p, lq.err))
			continue
		}
		fs, err := lq.b.evalOnce(ctx, input, opts)
		if err != nil {
			if ctx.Err() != nil || topdown.IsCancel(err) {
				return nil, err
			}
			out = append(out, policyError(p, err))
			continue
		}
		out = append(out, fs...)
	}
	return out, nil
}

// errNoResult is a query that gave no result: a violation that is not a
// partial set (refused at load, see contract.go) or undefined.
var errNoResult = errors.New("violation is undefined")

func (b *batch) evalOnce(ctx context.Context, input ast.Value, opts []rego.EvalOption) ([]Finding, error) {
	rs, err := b.pq.Eval(ctx, append([]rego.EvalOption{rego.EvalParsedInput(input)}, opts...)...)
	if err != nil {
		return nil, err
	}
	switch len(rs) {
	case 1:
	case 0:
		return nil, errNoResult
	default:
		return nil, fmt.Errorf("%d result sets, want 1", len(rs))
	}
	var out []Finding
	for i, p := range b.policies {
		vs, ok := rs[0].Bindings[b.vars[i]].([]any)
		if !ok {
			return nil, fmt.Errorf("policy %s: violation is %T, not a set", p.ID, rs[0].Bindings[b.vars[i]])
		}
		for _, v := range vs {
			out = append(out, findingFrom(p, v))
		}
	}
	return out, nil
}

func policyError(p *Policy, err error) Finding {
	pe := &PolicyError{Policy: p.ID, File: p.File, Err: err}
	return Finding{Policy: p, Err: pe, Message: pe.Error()}
}

// Evaluate runs every policy the selector chooses against input and returns
// their findings, ordered by policy id. A policy that fails to evaluate is a
// Finding with Err set (Finding.Action); the error returned is the
// request's own (an unprepared query, the context's deadline).
func (e *Engine) Evaluate(ctx context.Context, sel Selector, input ast.Value) ([]Finding, error) {
	return e.evaluate(ctx, sel, input, nil)
}

func (e *Engine) evaluate(ctx context.Context, sel Selector, input ast.Value, opts []rego.EvalOption) ([]Finding, error) {
	q, err := e.query(ctx, sel)
	if err != nil {
		return nil, err
	}
	var out []Finding
	for _, b := range q.main {
		fs, err := e.evalBatch(ctx, b, input, opts)
		if err != nil {
			return nil, fmt.Errorf("evaluating %s policies: %w", sel.Target, err)
		}
		out = append(out, fs...)
	}
	for _, g := range q.groups {
		fs, err := e.memo.evaluate(ctx, e, g, input, opts)
		if err != nil {
			return nil, fmt.Errorf("evaluating %s policies: %w", sel.Target, err)
		}
		out = append(out, fs...)
	}
	slices.SortStableFunc(out, func(a, b Finding) int { return strings.Compare(a.Policy.ID, b.Policy.ID) })
	return out, nil
}
