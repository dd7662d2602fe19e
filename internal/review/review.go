// Package review is the one path every object takes through Tollgate, for
// admission, `eval`, `audit` and `test` alike. pipeline.go reads top to
// bottom: admit the object (kind, exemptions), read the namespace, mutate
// (pods on CREATE), validate the object as it will be admitted (defaults,
// input, state gatherers, one policy evaluation), resolve each finding's
// enforcement action, and answer.
package review

import (
	"context"
	"slices"
	"time"

	"gomodules.xyz/jsonpatch/v2"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/exception"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/state"
)

// Request is one object to review.
type Request struct {
	Object *kubeobjects.Object
	// OldObject is the previous version on UPDATE.
	OldObject *kubeobjects.Object
	// Operation is CREATE, UPDATE or DELETE.
	Operation string
	User      authenticationv1.UserInfo
	// Mutate runs the mutators before validation (pods on CREATE).
	Mutate bool
	// Drift also reports what the mutators would change (the drift
	// policies): audits of running pods set it, admission does not.
	Drift bool
	// Now, when set, is the time PolicyExceptions are judged at instead of
	// the reviewer's clock (a PolicyTest suite's now:).
	Now time.Time
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
	Object     kubeobjects.Ref       `json:"object"`
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
	// Excepted are the findings a PolicyException excepted (exceptions.go):
	// not violations, listed with the exception.
	Excepted []Excepted `json:"excepted,omitempty"`
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

// PodMutator changes a pod before validation (mutators.Chain). Implementations
// must be idempotent and leave what the user set.
type PodMutator interface {
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
	Object    *kubeobjects.Object
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
	mutator   PodMutator
	gatherers []Gatherer
	// evaluated, when set, is called once per policy evaluation (tests
	// count them: one per review, two only to tell whether a mutation
	// caused a denial).
	evaluated func(engine.Selector)
	pssLevel  string
	pssVer    engine.Version
	// pssPrefilter skips the pss Rego for pods upstream's evaluator allows
	// (pss.go); off only to test that it changes nothing.
	pssPrefilter bool
	// gpus tells which resources are GPUs, for the input checks
	// (badinput.go); the catalog's MIG fractions are not needed there.
	gpus state.GPUCounter
	// now is the clock PolicyExceptions are judged by (exceptions.go).
	now func() time.Time
	// exceptions decides which PolicyException excepts a finding.
	exceptions exception.Decider
}

// Option configures a Reviewer.
type Option func(*Reviewer)

// WithMutator sets the mutator chain.
func WithMutator(m PodMutator) Option { return func(r *Reviewer) { r.mutator = m } }

// WithEvaluationHook calls f before each policy evaluation, with its selector.
func WithEvaluationHook(f func(engine.Selector)) Option {
	return func(r *Reviewer) { r.evaluated = f }
}

// WithoutPSSPrefilter evaluates the pss Rego for every pod, also those
// upstream's evaluator allows (pss.go); for tests that compare the two.
func WithoutPSSPrefilter() Option { return func(r *Reviewer) { r.pssPrefilter = false } }

// WithClock sets the clock PolicyExceptions are judged by (eval and test
// --now); the default is the system clock.
func WithClock(now func() time.Time) Option { return func(r *Reviewer) { r.now = now } }

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
	r := &Reviewer{engines: engines, cfg: cfg, state: st, pssLevel: cfg.PSS.Level, pssVer: v, pssPrefilter: true,
		gpus: state.NewGPUCounter(nil, cfg.Validators.GPUResources), now: time.Now,
		exceptions: exception.Decider{Home: cfg.ExceptionNamespace(), MaxDuration: cfg.Exceptions.MaxDuration.Duration}}
	for _, o := range opts {
		o(r)
	}
	return r, nil
}

// Config returns the reviewer's configuration.
func (r *Reviewer) Config() *config.Config { return r.cfg }

// State returns the state the reviewer reads (audit lists the
// PolicyExceptions through it).
func (r *Reviewer) State() state.Reader { return r.state }

// Engine returns the current engine.
func (r *Reviewer) Engine() *engine.Engine { return r.engines.Load() }

// TargetOf returns the policy target of an object, or "" when Tollgate does
// not review its kind.
func TargetOf(o *kubeobjects.Object) engine.Target {
	switch gk := o.GroupKind(); {
	case gk == kubeobjects.Pod:
		return engine.TargetPod
	case slices.Contains(kubeobjects.Workloads, gk):
		return engine.TargetTemplate
	case gk == kubeobjects.NodePool:
		return engine.TargetNodePool
	case gk == kubeobjects.EC2NodeClass || gk == kubeobjects.AutoNodeClass:
		return engine.TargetNodeClass
	case gk == kubeobjects.ACKBucket:
		return engine.TargetS3Bucket
	case gk == kubeobjects.ACKRole:
		return engine.TargetIAMRole
	case gk == kubeobjects.ACKPolicy:
		return engine.TargetIAMPolicy
	case gk == kubeobjects.PolicyException:
		return engine.TargetException
	}
	return ""
}
