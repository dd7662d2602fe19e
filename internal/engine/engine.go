// Package engine compiles Tollgate's Rego policies once, prepares one query per
// target kind, and evaluates them concurrently. Policy identity, severity,
// default action and documentation come from each package's METADATA block.
package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// ErrBundle wraps every error caused by the policy sources themselves
// (syntax, compile or metadata errors), as opposed to evaluation errors.
var ErrBundle = errors.New("policy bundle")

// Finding is one violation reported by a policy's Rego.
type Finding struct {
	Policy  *Policy
	Message string
	// Path is the field path inside the evaluated pod or object, as the
	// policy reported it (relative to the pod template for template targets).
	Path string
	// Err is set when the policy could not be evaluated on the object (a
	// *PolicyError); Message then says so, naming the policy and the error.
	Err error
}

// Action is the action of the finding given its policy's resolved action
// (configuration, namespace label): that action for a violation; for an
// evaluation error, the weaker of it and the policy's OnError, so that an
// error is never enforced more strongly than a violation would be.
func (f Finding) Action(resolved Action) Action {
	if f.Err != nil {
		return Weaker(resolved, f.Policy.OnError)
	}
	return resolved
}

// Engine is a compiled bundle with its prepared queries. It is immutable and
// safe for concurrent use; a new bundle means a new Engine.
type Engine struct {
	policies []*Policy
	byID     map[string]*Policy
	// queries holds one prepared query per target and Pod Security
	// Standards level and version, holding only the policies that can
	// report there (pre-filtered by kind, level and version).
	queries  sync.Map // querySelector -> *query
	pss      pssTable
	compiler *ast.Compiler
	store    storage.Store
	files    *Files
	memo     *memo
}

// Selector chooses which policies a query holds: those that target Target
// and, for pss checks, are active at Level and Version.
type Selector struct {
	Target  Target
	Level   string
	Version Version
	// NoPSS leaves the embedded pss checks out: the caller knows, from
	// upstream Pod Security Admission's evaluator, that none of them
	// reports.
	NoPSS bool
	// OnlyPSS keeps only the pss checks (Pod Security Admission's warn and
	// audit levels, evaluated beside the enforced one).
	OnlyPSS bool
}

type query struct {
	// main holds the policies evaluated on the whole input, embedded ones
	// and operators' apart (batch.go): nil when there are none.
	main []*batch
	// groups are the memoised policies (custom.reads), evaluated apart.
	groups []*memoGroup
}

// Options tune what New builds.
type Options struct {
	// Params are merged over data.tollgate.params from the bundle's data.json.
	Params map[string]any
	// PSSLevel and PSSVersion are the defaults whose queries are prepared
	// at start; other levels and versions are prepared on first use.
	PSSLevel   string
	PSSVersion Version
	// OnError is the action on evaluation errors of policies whose
	// METADATA sets no custom.onError; default deny (fail closed, as the
	// validating webhooks are).
	OnError Action
	// Canary is the corpus a bundle with operator policies must evaluate
	// without error before it is used; nil means DefaultCanary.
	Canary []CanaryCase
}

// New compiles the sources and prepares the queries.
func New(ctx context.Context, files *Files, opts Options) (*Engine, error) {
	modules := make(map[string]*ast.Module, len(files.Modules))
	for name, m := range files.Modules {
		modules[name] = m
	}
	c := ast.NewCompiler().
		WithCapabilities(Capabilities()).
		WithStrict(true).
		WithEnablePrintStatements(false).
		WithUseTypeCheckAnnotations(true)
	c.Compile(modules)
	if c.Failed() {
		return nil, fmt.Errorf("%w: %w", ErrBundle, explainWithheld(c.Errors))
	}
	if opts.OnError == "" {
		opts.OnError = ActionDeny
	}
	e := &Engine{byID: map[string]*Policy{}, compiler: c, files: files, memo: newMemo()}
	if err := e.discover(c, files, opts.OnError); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBundle, err)
	}
	e.pss = buildPSSTable(e.policies)

	data := map[string]any{}
	if err := MergeInto(data, deepCopy(files.Data).(map[string]any)); err != nil {
		return nil, err
	}
	if len(opts.Params) > 0 {
		tg, _ := data["tollgate"].(map[string]any)
		if tg == nil {
			tg = map[string]any{}
			data["tollgate"] = tg
		}
		params, _ := tg["params"].(map[string]any)
		if params == nil {
			params = map[string]any{}
			tg["params"] = params
		}
		if err := MergeInto(params, deepCopy(opts.Params).(map[string]any)); err != nil {
			return nil, err
		}
	}
	e.store = inmem.NewFromObject(data)
	// Prepare every target's query at the configured default level and
	// version now, so that a bundle that cannot be prepared fails at start.
	for _, t := range Targets {
		sel := Selector{Target: t}
		if t == TargetPod || t == TargetTemplate {
			sel.Level, sel.Version = opts.PSSLevel, opts.PSSVersion
		}
		if _, err := e.query(ctx, sel); err != nil {
			return nil, err
		}
	}
	// The embedded policies are tested in CI; an operator's are not
	// (canary.go).
	if slices.ContainsFunc(e.policies, func(p *Policy) bool { return !p.Builtin }) {
		if err := e.Smoke(ctx, opts.Canary); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBundle, err)
		}
		// Start serving with no canary findings memoised or counted.
		e.memo = newMemo()
	}
	return e, nil
}

// query returns the prepared query for a selector, preparing it on first use.
func (e *Engine) query(ctx context.Context, sel Selector) (*query, error) {
	if sel.Target != TargetPod && sel.Target != TargetTemplate {
		sel.Level, sel.Version = "", 0
	} else if sel.Version > LatestPSSVersion {
		sel.Version = LatestPSSVersion
	}
	if q, ok := e.queries.Load(sel); ok {
		return q.(*query), nil
	}
	var ps []*Policy
	groups := map[string][]*Policy{}
	for _, p := range e.policies {
		if p.AppliesTo(sel.Target) && (!sel.OnlyPSS || p.PSS != nil) && (p.PSS == nil || (!(sel.NoPSS && p.Builtin) && e.PSSActive(p, sel.Level, sel.Version))) {
			if len(p.Reads) > 0 {
				k := fmt.Sprintf("%t;%s", p.Builtin, strings.Join(p.Reads, ","))
				groups[k] = append(groups[k], p)
				continue
			}
			ps = append(ps, p)
		}
	}
	q := &query{}
	var err error
	for _, builtin := range []bool{true, false} {
		part := slices.DeleteFunc(slices.Clone(ps), func(p *Policy) bool { return p.Builtin != builtin })
		if len(part) == 0 {
			continue
		}
		b, err := e.prepare(ctx, part)
		if err != nil {
			return nil, fmt.Errorf("preparing the %s query: %w", sel.Target, err)
		}
		q.main = append(q.main, b)
	}
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		g := &memoGroup{}
		if g.batch, err = e.prepare(ctx, groups[k]); err != nil {
			return nil, fmt.Errorf("preparing the %s query: %w", sel.Target, err)
		}
		for _, r := range g.policies[0].Reads {
			g.reads = append(g.reads, strings.Split(r, "."))
		}
		ids := make([]string, len(g.policies))
		for i, p := range g.policies {
			ids[i] = p.ID
		}
		g.key = strings.Join(ids, ",")
		q.groups = append(q.groups, g)
	}
	actual, _ := e.queries.LoadOrStore(sel, q)
	return actual.(*query), nil
}

// discover finds every package with a violation rule and reads its METADATA.
func (e *Engine) discover(c *ast.Compiler, files *Files, onError Action) error {
	as := c.GetAnnotationSet()
	names := make([]string, 0, len(files.Modules))
	for name := range files.Modules {
		names = append(names, name)
	}
	sort.Strings(names)
	var errs []error
	for _, name := range names {
		m := c.Modules[name]
		hasViolation := slices.ContainsFunc(m.Rules, isViolation)
		a := as.GetPackageScope(m.Package)
		declaresID := a != nil && a.Custom["id"] != nil
		if !hasViolation {
			if declaresID {
				errs = append(errs, fmt.Errorf("%s: package %s declares policy id %v but has no violation rule", name, m.Package.Path, a.Custom["id"]))
			}
			continue
		}
		p, err := policyFromAnnotations(m.Package.Path, a, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.Builtin = files.builtinFiles[name]
		if p.OnError == "" {
			p.OnError = onError
		}
		if err := checkViolation(c, m, name); err != nil {
			errs = append(errs, fmt.Errorf("policy %s: %w", p.ID, err))
			continue
		}
		if len(p.Reads) > 0 {
			if err := verifyReads(c, m, p.Reads); err != nil {
				errs = append(errs, fmt.Errorf("%s: policy %s: %w", name, p.ID, err))
				continue
			}
		}
		if p.Builtin {
			if err := checkBuiltinLayout(name, m.Package.Path, p); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if prev, dup := e.byID[p.ID]; dup {
			errs = append(errs, fmt.Errorf("%s: policy id %s is already declared by %s", name, p.ID, prev.File))
			continue
		}
		e.byID[p.ID] = p
		e.policies = append(e.policies, p)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, p := range e.policies {
		if p.PSS == nil {
			continue
		}
		for _, o := range p.PSS.Overrides {
			q, ok := e.byID[o]
			if !ok || q.PSS == nil || q.PSS.Level != "baseline" || p.PSS.Level != "restricted" {
				errs = append(errs, fmt.Errorf("%s: policy %s: override %s must name a baseline pss check and be set on a restricted one", p.File, p.ID, o))
			}
		}
	}
	sort.Slice(e.policies, func(i, j int) bool { return e.policies[i].ID < e.policies[j].ID })
	return errors.Join(errs...)
}

// checkBuiltinLayout enforces <family>/<name>.rego = package tollgate.<family>.<name>
// with an id in that family.
func checkBuiltinLayout(file string, pkg ast.Ref, p *Policy) error {
	dir, base := path.Split(file)
	family := path.Base(dir)
	name := strings.TrimSuffix(base, ".rego")
	want := fmt.Sprintf("data.tollgate.%s.%s", family, name)
	if pkg.String() != want {
		return fmt.Errorf("%s: package %s should be %s", file, pkg, strings.TrimPrefix(want, "data."))
	}
	if p.Family != family {
		return fmt.Errorf("%s: policy id %s is not in family %s", file, p.ID, family)
	}
	return nil
}

// Policies lists every policy, sorted by id.
func (e *Engine) Policies() []*Policy { return e.policies }

// Policy returns a policy by id.
func (e *Engine) Policy(id string) (*Policy, bool) {
	p, ok := e.byID[id]
	return p, ok
}

// Compiler returns the compiled production modules (used by the Rego test runner).
func (e *Engine) Compiler() *ast.Compiler { return e.compiler }

// Files returns the sources the engine was built from.
func (e *Engine) Files() *Files { return e.files }

// Empty reports whether the selector chooses no policy at all, so that a
// caller can skip building the input.
func (e *Engine) Empty(ctx context.Context, sel Selector) (bool, error) {
	q, err := e.query(ctx, sel)
	if err != nil {
		return false, err
	}
	return len(q.main) == 0 && len(q.groups) == 0, nil
}

// findingFrom accepts {"msg": ..., "path": ...} objects and, for operator
// policies written in the common Gatekeeper style, plain strings.
func findingFrom(p *Policy, v any) Finding {
	f := Finding{Policy: p}
	switch x := v.(type) {
	case string:
		f.Message = x
	case map[string]any:
		f.Message, _ = x["msg"].(string)
		f.Path, _ = x["path"].(string)
		if f.Message == "" {
			f.Message = fmt.Sprint(x)
		}
	default:
		f.Message = fmt.Sprint(x)
	}
	return f
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, v := range x {
			m[k] = deepCopy(v)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, v := range x {
			s[i] = deepCopy(v)
		}
		return s
	}
	return v
}
