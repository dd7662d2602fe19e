package review

import (
	"context"
	"fmt"
	"slices"

	"gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
)

// The review of one object, top to bottom. Every entry point runs these
// steps, each once per request:
//
//	1. admit     the kind is reviewed; the namespace and user are not exempt
//	2. context   the namespace (read once) and the state snapshot every later
//	             step reads through, so no object is read twice
//	3. mutate    pods with Request.Mutate: the mutator chain, the patch
//	             against the submitted raw JSON (mutate.go)
//	4. validate  the object as it will be admitted: API-server defaults,
//	             the input document with the gatherers' state, one policy
//	             evaluation, each finding's action (validate.go)
//	5. revert    only when the mutated pod is denied: the submitted pod is
//	             validated too, and a mutation that caused a denial the
//	             submitted pod does not have is dropped with a warning
//	6. drift     audits of running pods (Request.Drift): what the mutators
//	             would add today (drift.go)
//
// Entry points: Review (eval, audit, test and /validate, which sends
// Mutate=false: other mutating webhooks may have changed the pod since
// /mutate) and Mutate (/mutate: steps 1-3, and 4-5 only when the
// mutators changed the pod).

// pass is one request going through the pipeline.
type pass struct {
	r      *Reviewer
	req    *Request
	target engine.Target
	// ns is the object's namespace, nil when cluster-scoped or unknown.
	ns *corev1.Namespace
	// state is the request's snapshot of the cluster state.
	state snapshot
	// psaCaps caps the action of the findings of Pod Security Admission's
	// warn and audit levels, by policy id (psa.go).
	psaCaps map[string]engine.Action
}

// Review runs the whole pipeline for one object.
func (r *Reviewer) Review(ctx context.Context, req *Request) (*Result, error) {
	p, exempt, err := r.admit(ctx, req)
	if p == nil {
		return exempt, err
	}
	m, err := p.mutate(ctx)
	if err != nil {
		return nil, err
	}
	res, err := p.judge(ctx, m)
	if err != nil {
		return nil, err
	}
	if req.Drift {
		if err := p.drift(ctx, res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// Mutate runs the mutators on a pod (the /mutate webhook). A pod the
// mutators changed is validated, so that a mutation that would cause a
// denial the submitted pod does not have is dropped with a warning (no
// mutator may cause a denial). A pod they did not change is not validated
// here: the /validate webhook does that.
func (r *Reviewer) Mutate(ctx context.Context, req *Request) (*Mutation, error) {
	o := req.Object
	out := newMutation(o)
	switch {
	case TargetOf(o) != engine.TargetPod:
		out.Exempt = "only pods are mutated"
		return out, nil
	case r.mutator == nil:
		out.Exempt = "no mutators are configured"
		return out, nil
	}
	mreq := *req
	mreq.Mutate = true
	p, exempt, err := r.admit(ctx, &mreq)
	if p == nil {
		if exempt != nil {
			out.Exempt = exempt.Exempt
		}
		return out, err
	}
	m, err := p.mutate(ctx)
	if err != nil {
		return nil, err
	}
	if m.changed() {
		if _, err := p.judge(ctx, m); err != nil {
			return nil, err
		}
	}
	return m.result, nil
}

// admit is step 1 and 2: it returns the pass for an object Tollgate
// reviews, or the result that says why it is not reviewed.
func (r *Reviewer) admit(ctx context.Context, req *Request) (*pass, *Result, error) {
	o := req.Object
	target := TargetOf(o)
	res := newResult(o)
	switch {
	case target == "":
		res.Exempt = "kind not reviewed"
	// PolicyExceptions are validated in every namespace: those of
	// Tollgate's own namespace except cluster-scoped objects.
	case target != engine.TargetException && r.cfg.NamespaceExempt(o.Namespace):
		res.Exempt = "namespace " + o.Namespace + " is exempt"
	case r.cfg.UserExempt(req.User.Username):
		res.Exempt = "user " + req.User.Username + " is exempt"
	}
	if res.Exempt != "" {
		return nil, res, nil
	}
	if err := r.checkInput(o); err != nil {
		return nil, nil, err
	}
	p := &pass{r: r, req: req, target: target, state: snapshot{Reader: r.state}}
	if o.Namespace != "" {
		ns, err := p.state.Namespace(ctx, o.Namespace)
		if err != nil {
			return nil, nil, fmt.Errorf("reading namespace %s: %w", o.Namespace, err)
		}
		p.ns = ns
	}
	return p, nil, nil
}

// checkInput refuses an object Tollgate cannot judge (badinput.go).
func (r *Reviewer) checkInput(o *kubeobjects.Object) error {
	if p := o.Pod(); p != nil {
		return r.checkGPUCounts(o, &p.Spec, "spec")
	}
	if t, path := o.Template(); t != nil {
		return r.checkGPUCounts(o, &t.Spec, path)
	}
	return nil
}

func newResult(o *kubeobjects.Object) *Result {
	return &Result{Object: o.Ref(), Allowed: true, Violations: []Violation{}, Warnings: []string{}, Patch: []jsonpatch.Operation{}, Mutated: o.Raw}
}

// judge is steps 4 and 5: the verdict on the object as it will be
// admitted, with the mutation's patch and warnings.
func (p *pass) judge(ctx context.Context, m *mutation) (*Result, error) {
	subject := p.req.Object
	if m.changed() {
		subject = m.object
	}
	verdict, err := p.validate(ctx, subject)
	if err != nil {
		if m.changed() {
			return nil, fmt.Errorf("validating the mutated %s: %w", subject.Ref(), err)
		}
		return nil, err
	}
	if m.changed() && len(verdict.Denied()) > 0 {
		submitted, err := p.validate(ctx, p.req.Object)
		if err != nil {
			return nil, err
		}
		if m.revert(verdict, submitted) {
			verdict = submitted
		}
	}
	if m != nil {
		out := m.result
		verdict.Patch, verdict.Mutated = out.Patch, out.Mutated
		verdict.Warnings = append(slices.Clip(out.Warnings), verdict.Warnings...)
	}
	return verdict, nil
}
