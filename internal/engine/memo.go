package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"k8s.io/utils/lru"
)

// Some policies depend on a small part of the input that many requests
// share: the iam family judges the documents of the role a pod assumes, and
// a Deployment's hundred replicas assume the same role. Such a policy
// declares what it reads (METADATA custom.reads: [state.iam]); the engine
// checks the claim against the compiled rules, transitively, evaluates the
// policy on that part of the input alone, and keeps its findings for the
// next input holding the same values there. Since the policy is evaluated on
// nothing but the declared part, a cached finding is exactly what a fresh
// evaluation would give.

// memoSize bounds the findings kept per engine (one entry per distinct
// input part, e.g. per role and document version).
const memoSize = 4096

// memoGroup is the policies of a query that read the same input parts,
// evaluated together.
type memoGroup struct {
	*batch
	key   string // the group's policy ids, part of every cache key
	reads [][]string
}

// verifyReads checks that the rules of module m, and every rule they
// depend on, read no part of the input but reads.
func verifyReads(c *ast.Compiler, m *ast.Module, reads []string) error {
	paths := make([][]string, len(reads))
	for i, r := range reads {
		paths[i] = strings.Split(r, ".")
	}
	seen := map[*ast.Rule]bool{}
	queue := slices.Clone(m.Rules)
	var problems []string
	for len(queue) > 0 {
		r := queue[0]
		queue = queue[1:]
		if seen[r] {
			continue
		}
		seen[r] = true
		// The compiler turns every use of input, a bare one included, into
		// a ref.
		ast.WalkRefs(r, func(ref ast.Ref) bool {
			if !ref[0].Equal(ast.InputRootDocument) {
				return false
			}
			if !readsWithin(ref, paths) {
				problems = append(problems, fmt.Sprintf("%s reads %s", location(r), ref))
			}
			return false
		})
		// A result that may change between evaluations (time, random,
		// http.send) cannot be reused.
		nondeterministic := func(op ast.Ref) {
			if b, ok := ast.BuiltinMap[op.String()]; ok && b.Nondeterministic {
				problems = append(problems, fmt.Sprintf("%s calls %s, whose result may change", location(r), op))
			}
		}
		ast.WalkExprs(r, func(x *ast.Expr) bool {
			if x.IsCall() {
				nondeterministic(x.Operator())
			}
			return false
		})
		ast.WalkTerms(r, func(t *ast.Term) bool {
			if call, ok := t.Value.(ast.Call); ok {
				if op, ok := call[0].Value.(ast.Ref); ok {
					nondeterministic(op)
				}
			}
			return false
		})
		for dep := range c.Graph.Dependencies(r) {
			if d, ok := dep.(*ast.Rule); ok && !seen[d] {
				queue = append(queue, d)
			}
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("custom.reads %v does not hold: %s", reads, strings.Join(slices.Compact(problems), "; "))
	}
	return nil
}

func location(r *ast.Rule) string {
	if r.Location == nil {
		return r.Head.Name.String()
	}
	return fmt.Sprintf("%s:%d", r.Location.File, r.Location.Row)
}

// readsWithin reports whether an input ref stays inside one of paths: its
// first terms are the path's names, as constants.
func readsWithin(ref ast.Ref, paths [][]string) bool {
	for _, p := range paths {
		if len(ref) <= len(p) {
			continue
		}
		ok := true
		for i, name := range p {
			if s, isStr := ref[i+1].Value.(ast.String); !isStr || string(s) != name {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// part returns the input reduced to paths: the object holding only the
// values input has there.
func part(input ast.Value, paths [][]string) ast.Value {
	out := ast.NewObject()
	for _, p := range paths {
		v := input
		for _, name := range p {
			obj, ok := v.(ast.Object)
			if !ok {
				v = nil
				break
			}
			t := obj.Get(ast.InternedTerm(name))
			if t == nil {
				v = nil
				break
			}
			v = t.Value
		}
		if v == nil {
			continue
		}
		dst := out
		for _, name := range p[:len(p)-1] {
			k := ast.InternedTerm(name)
			var next ast.Object
			if t := dst.Get(k); t != nil {
				next, _ = t.Value.(ast.Object)
			}
			if next == nil {
				next = ast.NewObject()
				dst.Insert(k, ast.NewTerm(next))
			}
			dst = next
		}
		dst.Insert(ast.InternedTerm(p[len(p)-1]), ast.NewTerm(v))
	}
	return out
}

// memo holds findings of memoised groups, by group and input part.
type memo struct {
	cache        *lru.Cache
	hits, misses atomic.Int64
}

func newMemo() *memo { return &memo{cache: lru.New(memoSize)} }

// MemoStats reports how often memoised policies' findings were reused
// (hits) and evaluated (misses) since the engine was built.
func (e *Engine) MemoStats() (hits, misses int64) {
	return e.memo.hits.Load(), e.memo.misses.Load()
}

// evaluate returns the group's findings for input, from the cache when an
// input with the same part was evaluated before.
func (m *memo) evaluate(ctx context.Context, e *Engine, g *memoGroup, input ast.Value, opts []rego.EvalOption) ([]Finding, error) {
	sub := part(input, g.reads)
	key := g.key + "\x00" + sub.String()
	if v, ok := m.cache.Get(key); ok {
		m.hits.Add(1)
		return v.([]Finding), nil
	}
	m.misses.Add(1)
	out, err := e.evalBatch(ctx, g.batch, sub, opts)
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []Finding{}
	}
	// A policy's error is kept too: on the same part the policy fails the
	// same way, and retrying it would cost a failing evaluation per review.
	m.cache.Add(key, out)
	return out, nil
}
