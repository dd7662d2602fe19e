// Package review is the one path every object takes through Tollgate, for
// admission, `eval`, `audit` and `test` alike: gather the cluster state it
// needs, run the mutators (pods on CREATE), evaluate the policies against the
// result, and resolve each finding's enforcement action.
package review

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"gomodules.xyz/jsonpatch/v2"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/objects"
	"github.com/tollgate-dev/tollgate/internal/state"
)

// Request is one object to review.
type Request struct {
	Object *objects.Object
	// OldObject is the previous version on UPDATE.
	OldObject *objects.Object
	// Operation is CREATE, UPDATE or DELETE.
	Operation string
	User      authenticationv1.UserInfo
	// Mutate runs the mutators before validation (pods on CREATE).
	Mutate bool
	// Drift also reports what the mutators would change (the drift
	// policies): audits of running pods set it, admission does not.
	Drift bool
}

// Violation is one finding with its resolved action.
type Violation struct {
	Policy   string        `json:"policy"`
	Severity string        `json:"severity"`
	Action   engine.Action `json:"action"`
	Message  string        `json:"message"`
	Path     string        `json:"path,omitempty"`
}

// Result is the verdict on one object.
type Result struct {
	Object     objects.Ref           `json:"object"`
	Allowed    bool                  `json:"allowed"`
	Violations []Violation           `json:"violations"`
	Warnings   []string              `json:"warnings"`
	Patch      []jsonpatch.Operation `json:"patch"`
	// AuditAnnotations are keyed by policy id; the API server prefixes
	// them with the webhook's name in audit events.
	AuditAnnotations map[string]string `json:"-"`
	// Exempt says why the object was not reviewed, when it was not.
	Exempt string `json:"-"`
	// Mutated is the object after mutation (the input object when nothing
	// changed), as JSON.
	Mutated []byte `json:"-"`
}

// Denied returns the violations whose action is deny.
func (r *Result) Denied() []Violation {
	var out []Violation
	for _, v := range r.Violations {
		if v.Action == engine.ActionDeny {
			out = append(out, v)
		}
	}
	return out
}

// Mutator changes a pod before validation. Implementations must be
// idempotent and leave what the user set.
type Mutator interface {
	Mutate(ctx context.Context, m *MutationRequest) error
}

// MutationRequest is a pod being mutated, with what mutators may read.
type MutationRequest struct {
	Pod       *corev1.Pod
	Namespace *corev1.Namespace
	State     state.Reader
	Operation string
	// Warnings collects messages for the client (for example a role ARN
	// that could not be parsed).
	Warnings []string
}

// Gatherer adds the cluster state one family of policies reads to the
// input document under input.state.<Key()>. Gatherers run before
// evaluation; Rego never calls out.
type Gatherer interface {
	Key() string
	// Gather returns the state for obj, or nil when the family does not
	// need any for this object. Returning an error fails the review. The
	// state is converted to a Rego value through JSON, unless it is one
	// (ast.Value) already. A returned ast.Value is shared, never changed.
	Gather(ctx context.Context, g *Gathering) (any, error)
}

// Gathering is what a Gatherer sees.
type Gathering struct {
	Object    *objects.Object
	Target    engine.Target
	Pod       *corev1.Pod // the pod, for Pods
	Template  *corev1.PodTemplateSpec
	Namespace *corev1.Namespace
	State     state.Reader
	// Warnings are added to the result (for example an IAM lookup that did
	// not answer in time).
	Warnings []string
}

// Reviewer reviews objects. It is safe for concurrent use.
type Reviewer struct {
	engines   *engine.Holder
	cfg       *config.Config
	state     state.Reader
	mutator   Mutator
	gatherers []Gatherer
	pssLevel  string
	pssVer    engine.Version
	// pssPrefilter skips the pss Rego for pods upstream's evaluator allows
	// (pss.go); off only to test that it changes nothing.
	pssPrefilter bool
}

// Option configures a Reviewer.
type Option func(*Reviewer)

// WithMutator sets the mutator chain.
func WithMutator(m Mutator) Option { return func(r *Reviewer) { r.mutator = m } }

// WithoutPSSPrefilter evaluates the pss Rego for every pod, also those
// upstream's evaluator allows (pss.go); for tests that compare the two.
func WithoutPSSPrefilter() Option { return func(r *Reviewer) { r.pssPrefilter = false } }

// WithGatherers adds state gatherers.
func WithGatherers(g ...Gatherer) Option {
	return func(r *Reviewer) { r.gatherers = append(r.gatherers, g...) }
}

// New returns a Reviewer.
func New(engines *engine.Holder, cfg *config.Config, st state.Reader, opts ...Option) (*Reviewer, error) {
	v, err := engine.ParseVersion(cfg.PSS.Version)
	if err != nil {
		return nil, err
	}
	r := &Reviewer{engines: engines, cfg: cfg, state: st, pssLevel: cfg.PSS.Level, pssVer: v, pssPrefilter: true}
	for _, o := range opts {
		o(r)
	}
	return r, nil
}

// Config returns the reviewer's configuration.
func (r *Reviewer) Config() *config.Config { return r.cfg }

// Engine returns the current engine.
func (r *Reviewer) Engine() *engine.Engine { return r.engines.Load() }

// TargetOf returns the policy target of an object, or "" when Tollgate does
// not review its kind.
func TargetOf(o *objects.Object) engine.Target {
	switch gk := o.GroupKind(); {
	case gk == objects.Pod:
		return engine.TargetPod
	case slices.Contains(objects.Workloads, gk):
		return engine.TargetTemplate
	case gk == objects.NodePool:
		return engine.TargetNodePool
	case gk == objects.ACKBucket:
		return engine.TargetS3Bucket
	case gk == objects.ACKRole:
		return engine.TargetIAMRole
	case gk == objects.ACKPolicy:
		return engine.TargetIAMPolicy
	}
	return ""
}

// Review runs the whole path for one object.
func (r *Reviewer) Review(ctx context.Context, req *Request) (*Result, error) {
	o := req.Object
	res := &Result{Object: o.Ref(), Allowed: true, Violations: []Violation{}, Warnings: []string{}, Patch: []jsonpatch.Operation{}, Mutated: o.Raw}
	target := TargetOf(o)
	if target == "" {
		res.Exempt = "kind not reviewed"
		return res, nil
	}
	if r.cfg.NamespaceExempt(o.Namespace) {
		res.Exempt = "namespace " + o.Namespace + " is exempt"
		return res, nil
	}
	if r.cfg.UserExempt(req.User.Username) {
		res.Exempt = "user " + req.User.Username + " is exempt"
		return res, nil
	}
	var ns *corev1.Namespace
	if o.Namespace != "" {
		var err error
		if ns, err = r.state.Namespace(ctx, o.Namespace); err != nil {
			return nil, fmt.Errorf("reading namespace %s: %w", o.Namespace, err)
		}
	}

	subject := o
	if req.Mutate && r.mutator != nil && target == engine.TargetPod {
		// Validates the mutated pod and reverts a mutation that causes a
		// denial (mutate.go).
		res, err := r.reviewMutation(ctx, req, ns)
		if err != nil || !req.Drift {
			return res, err
		}
		return res, r.drift(ctx, req, ns, res)
	}

	e := r.engines.Load()
	level, version := r.pss(ns)
	sel := engine.Selector{Target: target, Level: level, Version: version}
	objects.Default(subject)
	sel.NoPSS = r.pssPrefilter && pssClean(subject, target, level, version)
	if empty, err := e.Empty(ctx, sel); err != nil || empty {
		return res, err
	}
	input, g, err := r.input(ctx, e, req, subject, target, ns)
	if err != nil {
		return nil, err
	}
	res.Warnings = append(res.Warnings, g.Warnings...)
	findings, err := e.Evaluate(ctx, sel, input)
	if err != nil {
		return nil, err
	}
	r.record(res, findings, req, subject, ns, target)
	return res, nil
}

// record adds findings to a result with their resolved actions.
func (r *Reviewer) record(res *Result, findings []engine.Finding, req *Request, subject *objects.Object, ns *corev1.Namespace, target engine.Target) {
	exempted := r.exemptedByAnnotation(req, subject)
	_, templatePath := subject.Template()
	for _, f := range findings {
		p := f.Policy
		act := r.action(p, ns, target)
		if act == engine.ActionOff {
			continue
		}
		if exempted(p) {
			res.addAudit("exempted."+p.ID, f.Message)
			continue
		}
		path := f.Path
		if templatePath != "" && path != "" {
			path = templatePath + "." + path
		}
		res.Violations = append(res.Violations, Violation{Policy: p.ID, Severity: p.Severity, Action: act, Message: f.Message, Path: path})
		switch act {
		case engine.ActionDeny:
			res.Allowed = false
		case engine.ActionWarn:
			res.Warnings = append(res.Warnings, p.ID+": "+f.Message)
		case engine.ActionAudit:
			res.addAudit(p.ID, f.Message)
		}
	}
}

func (res *Result) addAudit(key, msg string) {
	if res.AuditAnnotations == nil {
		res.AuditAnnotations = map[string]string{}
	}
	if prev, ok := res.AuditAnnotations[key]; ok {
		msg = prev + "; " + msg
	}
	res.AuditAnnotations[key] = msg
}

// pss returns the Pod Security Standards level and version for a namespace:
// its tollgate.dev/pss-level and tollgate.dev/pss-version labels, else the
// configuration. Invalid labels fall back to the configuration.
func (r *Reviewer) pss(ns *corev1.Namespace) (string, engine.Version) {
	level, version := r.pssLevel, r.pssVer
	if ns == nil {
		return level, version
	}
	switch l := ns.Labels[config.LabelPSSLevel]; l {
	case "baseline", "restricted", "privileged":
		level = l
	}
	if v, ok := ns.Labels[config.LabelPSSVersion]; ok {
		if pv, err := engine.ParseVersion(v); err == nil {
			version = pv
		}
	}
	return level, version
}

// action resolves a policy's action: the namespace label
// tollgate.dev/<family>, else the configuration for the policy id, else for
// its family, else the METADATA default; templates are capped at
// templateAction, since their pods are checked again when created.
func (r *Reviewer) action(p *engine.Policy, ns *corev1.Namespace, target engine.Target) engine.Action {
	act := p.Action
	if a, ok := r.cfg.Actions[p.Family]; ok {
		act = a
	}
	if a, ok := r.cfg.Actions[p.ID]; ok {
		act = a
	}
	if ns != nil {
		if l, ok := ns.Labels[config.LabelPrefix+p.Family]; ok {
			if a, err := engine.ParseAction(l); err == nil {
				act = a
			}
		}
	}
	if target == engine.TargetTemplate {
		act = engine.Weaker(act, r.cfg.TemplateAction)
	}
	return act
}

// exemptedByAnnotation returns a predicate for the policies an object's
// tollgate.dev/exempt annotation skips: a comma-separated list of families
// and policy ids, honoured only for users the configuration allows.
func (r *Reviewer) exemptedByAnnotation(req *Request, o *objects.Object) func(*engine.Policy) bool {
	none := func(*engine.Policy) bool { return false }
	var ann map[string]string
	if p := o.Pod(); p != nil {
		ann = p.Annotations
	} else if t, _ := o.Template(); t != nil {
		ann = t.Annotations
	}
	v, ok := ann[config.AnnotationExempt]
	if !ok || !r.cfg.MayUseExemptAnnotation(req.User.Username, req.User.Groups) {
		return none
	}
	names := map[string]bool{}
	for _, s := range strings.Split(v, ",") {
		names[strings.TrimSpace(s)] = true
	}
	return func(p *engine.Policy) bool { return names[p.ID] || names[p.Family] }
}
