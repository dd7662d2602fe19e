package review

import (
	"context"
	"fmt"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/exception"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
)

// Excepted is a finding a PolicyException excepted: it is not a violation
// (no denial, warning or audit annotation of its own), and the result
// names the exception. eval -o json and audit list it under "excepted".
type Excepted struct {
	Violation
	Exception ExceptionRef `json:"exception"`
}

// ExceptionRef names the PolicyException that excepted a finding.
type ExceptionRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	ExpiresAt string `json:"expiresAt"`
	Ticket    string `json:"ticket,omitempty"`
	Reason    string `json:"reason"`
}

// except records an excepted finding and the warning that names the
// exception: "pss.baseline.privileged: excepted by PolicyException
// gpu-monitoring/dcgm-host until 2027-03-01 (PLAT-1234)".
func (res *Result) except(v Violation, e *exception.Exception) {
	res.Excepted = append(res.Excepted, Excepted{Violation: v, Exception: ExceptionRef{
		Namespace: e.Namespace, Name: e.Name, ExpiresAt: e.ExpiresAt.UTC().Format(time.RFC3339), Ticket: e.Ticket, Reason: e.Reason,
	}})
	res.Warnings = append(res.Warnings, v.Policy+": "+e.Warning())
}

// Now is the time a request's exceptions are judged at: the request's
// (a suite's now:), else the reviewer's clock.
func (r *Reviewer) Now(req *Request) time.Time {
	if req != nil && !req.Now.IsZero() {
		return req.Now
	}
	return r.now()
}

// Exceptions returns the decider every entry point judges exceptions with.
func (r *Reviewer) Exceptions() exception.Decider { return r.exceptions }

// exceptionsFor returns which exception, if any, excepts a finding of a
// policy on subject. The PolicyExceptions are read (through the request's
// snapshot, once) only when there are findings. Findings of the exception
// family itself are never excepted: an exception cannot vouch for itself.
func (p *pass) exceptionsFor(ctx context.Context, subject *kubeobjects.Object, findings []engine.Finding) (func(*engine.Policy) *exception.Exception, error) {
	none := func(*engine.Policy) *exception.Exception { return nil }
	if len(findings) == 0 || p.target == engine.TargetException {
		return none, nil
	}
	objs, err := p.state.PolicyExceptions(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading PolicyExceptions: %w", err)
	}
	if len(objs) == 0 {
		return none, nil
	}
	// Exceptions that cannot be used (no reason, a blanket policy, ...)
	// except nothing; exception.valid and audit report them.
	excs, _ := exception.ParseAll(objs)
	s := SubjectOf(subject)
	now := p.r.Now(p.req)
	return func(pol *engine.Policy) *exception.Exception {
		if pol.Family == "exception" {
			return nil
		}
		return p.r.exceptions.Find(pol.ID, s, excs, now)
	}, nil
}

// exceptionTerm is input.exception for exception.valid: the time the
// request is judged at, exceptions.maxDuration, the ids of the policies
// the engine holds (a glob must match one) and what is wrong with
// spec.match.selector, as the API server's parser says ("" when it parses
// or is absent).
func (p *pass) exceptionTerm(o *kubeobjects.Object) *ast.Term {
	pols := p.r.engines.Load().Policies()
	ids := make([]*ast.Term, 0, len(pols))
	for _, pol := range pols {
		ids = append(ids, ast.StringTerm(pol.ID))
	}
	selErr := ""
	spec, _ := o.Map["spec"].(map[string]any)
	match, _ := spec["match"].(map[string]any)
	if sel, ok := match["selector"]; ok && sel != nil {
		if _, err := exception.ParseSelector(sel); err != nil {
			selErr = err.Error()
		}
	}
	return ast.ObjectTerm(
		ast.Item(ast.InternedTerm("now"), ast.StringTerm(p.r.Now(p.req).UTC().Format(time.RFC3339))),
		ast.Item(ast.InternedTerm("maxDurationSeconds"), ast.IntNumberTerm(int(p.r.exceptions.MaxDuration/time.Second))),
		ast.Item(ast.InternedTerm("knownPolicies"), ast.ArrayTerm(ids...)),
		ast.Item(ast.InternedTerm("selectorError"), ast.StringTerm(selErr)),
	)
}

// SubjectOf is the object as exceptions match it: its kind, namespace
// (none for cluster-scoped kinds, "default" for namespaced objects given
// without one, as kubectl would place them), name (generateName when the
// name is not set yet), labels and a workload's pod template labels.
func SubjectOf(o *kubeobjects.Object) exception.Subject {
	s := exception.Subject{Kind: o.GVK.Kind, Namespace: o.Namespace, Name: o.Name}
	switch gk := o.GroupKind(); {
	case gk == kubeobjects.NodePool:
		s.Namespace = ""
	case s.Namespace == "":
		s.Namespace = "default"
	}
	if p := o.Pod(); p != nil {
		s.Labels = p.Labels
	} else if t, _ := o.Template(); t != nil {
		s.TemplateLabels = t.Labels
		if acc, ok := o.Typed.(interface{ GetLabels() map[string]string }); ok {
			s.Labels = acc.GetLabels()
		}
	} else if md, ok := o.Map["metadata"].(map[string]any); ok {
		if l, ok := md["labels"].(map[string]any); ok {
			s.Labels = map[string]string{}
			for k, v := range l {
				if sv, ok := v.(string); ok {
					s.Labels[k] = sv
				}
			}
		}
	}
	return s
}
