// Package mutators holds Tollgate's pod mutators and the chain that runs
// them at admission (pods, CREATE). Each mutator is pure: a function of the
// pod and an Env (namespace, ServiceAccount, Pod Identity association,
// NodePools, configuration, catalog) that changes the pod in place, reports
// whether it changed anything, is idempotent, and leaves what the user set.
// Input a mutator cannot act on (an unknown MIG profile, say) leaves the pod
// unchanged; the gpu policies in Rego report it, so that eval, audit and
// admission deny it alike.
package mutators

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/gpucatalog"
	"github.com/tollgate-dev/tollgate/internal/placement"
	"github.com/tollgate-dev/tollgate/internal/podidentity"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
)

// ErrNotConverging is wrapped when the mutators keep changing a pod after
// MaxPasses passes: a bug in a mutator, never the user's input.
var ErrNotConverging = errors.New("mutators not converging")

// MaxPasses caps the passes of the chain. Every mutator settles in one
// pass and the next pass confirms it, so a third pass means a bug.
const MaxPasses = 3

// DefaultKubernetesMinor is the Kubernetes minor version assumed when
// neither the configuration nor the API server says (the version of the
// Kubernetes libraries Tollgate is built with).
const DefaultKubernetesMinor = 37

// Env is what the mutators read besides the pod, gathered once per request
// by the chain.
type Env struct {
	Config  *config.Mutators
	Catalog *gpucatalog.Catalog
	// Namespace is the pod's namespace, nil when unknown.
	Namespace *corev1.Namespace
	// ServiceAccount is the pod's ServiceAccount, nil when it does not
	// exist or credentials are off.
	ServiceAccount *corev1.ServiceAccount
	// Association is the Pod Identity association of the pod's
	// ServiceAccount, nil when there is none.
	Association *podidentity.Association
	// NodePools are read only for pods that select a NodePool and either
	// name a MIG profile and request GPUs (MIG) or may need a drain.
	NodePools []map[string]any
	// KubernetesMinor decides the drain action.
	KubernetesMinor int
	// Cluster is the placement state (NodePools and Nodes), nil when the
	// state holds neither or was not read.
	Cluster *placement.Cluster

	warnings []string
	// changes counts the chain's changes to the pod, so that Placement
	// recomputes only after one.
	changes  int
	placed   *placement.Result
	placedAt int
}

// Placement returns where pod can run, as the pod is now; nil when
// placement is not known (no NodePools, no Nodes).
func (e *Env) Placement(pod *corev1.Pod) *placement.Result {
	if e.Cluster == nil {
		return nil
	}
	if e.placed == nil || e.placedAt != e.changes {
		e.placed, e.placedAt = e.Cluster.Place(pod), e.changes
	}
	return e.placed
}

// decides reports whether a placement decides for the pod: it is known
// and something can host the pod. A pod that fits nowhere keeps the
// judgement of its own selectors (schedule.fit reports it).
func decides(res *placement.Result) bool {
	return res != nil && res.Known && res.Fits
}

// Warn records a message for the client once, however many passes repeat it.
func (e *Env) Warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	for _, w := range e.warnings {
		if w == msg {
			return
		}
	}
	e.warnings = append(e.warnings, msg)
}

// Warnings returns what the mutators asked to tell the client.
func (e *Env) Warnings() []string { return e.warnings }

// Mutator is one named pod mutator.
type Mutator struct {
	Name string
	// Mutate changes pod in place and reports whether it changed anything.
	Mutate func(pod *corev1.Pod, env *Env) bool
}

// Mutators lists every mutator in the chain's fixed order: tolerations and
// credentials do not depend on the others; the drain reads tolerations (a
// Spot toleration makes a pod Spot-capable); MIG comes last and changes
// only resource names, which the tolerations mutator matches either way.
func Mutators() []Mutator {
	return []Mutator{
		{Name: "gpu-tolerations", Mutate: GPUTolerations},
		{Name: "credentials", Mutate: Credentials},
		{Name: "prestop-drain", Mutate: PreStopDrain},
		{Name: "mig", Mutate: MIGResources},
	}
}

// Options configure a Chain.
type Options struct {
	Config  config.Mutators
	Catalog *gpucatalog.Catalog
	// Associations are the Pod Identity associations (configuration and,
	// when enabled, the EKS API); nil means none.
	Associations podidentity.Associations
	// ServerVersion is the API server's version ("1.31"), when known; the
	// configuration's drain.kubernetesVersion wins over it.
	ServerVersion string
	// Placement builds the placement of pods from NodePools and Nodes
	// (shared with the placement gatherer); nil: the mutators judge a pod
	// by its own selectors only.
	Placement *placement.Source
}

// Chain runs the mutators in order until a pass changes nothing. It
// implements review.PodMutator and is safe for concurrent use.
type Chain struct {
	cfg          config.Mutators
	catalog      *gpucatalog.Catalog
	associations podidentity.Associations
	minor        int
	mutators     []Mutator
	places       *placement.Source
}

var _ review.PodMutator = (*Chain)(nil)

// NewChain validates the configuration and returns the chain.
func NewChain(opts Options) (*Chain, error) {
	if err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	if opts.Catalog == nil {
		return nil, errors.New("mutators: no catalog")
	}
	minor := DefaultKubernetesMinor
	for _, v := range []string{opts.Config.Drain.KubernetesVersion, opts.ServerVersion} {
		if v == "" {
			continue
		}
		n, err := config.ParseKubernetesVersion(v)
		if err != nil {
			return nil, err
		}
		minor = n
		break
	}
	return &Chain{cfg: opts.Config, catalog: opts.Catalog, associations: opts.Associations, minor: minor, mutators: Mutators(), places: opts.Placement}, nil
}

// Mutate implements review.PodMutator: it gathers the Env and runs the chain.
// When the state the mutators need cannot be read in time, the pod is left
// as it is and the error wraps review.ErrStateUnavailable, which the
// reviewer turns into a warning.
func (c *Chain) Mutate(ctx context.Context, m *review.MutationRequest) error {
	if m.Operation != "" && m.Operation != "CREATE" {
		return nil
	}
	env, err := c.Env(ctx, m.Pod, m.Namespace, m.State)
	if err != nil {
		return err
	}
	err = c.Run(m.Pod, env)
	m.Warnings = append(m.Warnings, env.Warnings()...)
	return err
}

// Env gathers what the mutators read for one pod.
func (c *Chain) Env(ctx context.Context, pod *corev1.Pod, ns *corev1.Namespace, st state.Reader) (*Env, error) {
	env := &Env{Config: &c.cfg, Catalog: c.catalog, Namespace: ns, KubernetesMinor: c.minor}
	if c.cfg.Credentials.Enabled && st != nil {
		name := podidentity.ServiceAccountName(pod)
		sa, err := st.ServiceAccount(ctx, pod.Namespace, name)
		if err != nil {
			return nil, fmt.Errorf("%w: ServiceAccount %s/%s: %w", review.ErrStateUnavailable, pod.Namespace, name, err)
		}
		env.ServiceAccount = sa
		if c.associations != nil {
			a, found, err := c.associations.Association(ctx, pod.Namespace, name)
			if err != nil {
				return nil, fmt.Errorf("%w: Pod Identity association of ServiceAccount %s/%s: %w", review.ErrStateUnavailable, pod.Namespace, name, err)
			}
			if found {
				env.Association = &a
			}
		}
	}
	_, selectsPool := pod.Spec.NodeSelector[LabelNodePool]
	// The drain and the MIG mutator judge every pod's placement (a pool
	// that allows Spot makes it Spot-capable; the GPUs it can reach decide
	// its MIG profile), so with a placement source the NodePools and Nodes
	// are read whenever one of them is on.
	placed := c.places != nil && (c.cfg.Drain.Enabled || c.cfg.MIG.Enabled)
	if st != nil && (placed || (c.cfg.MIG.Enabled && needsNodePools(pod, ns)) || (c.cfg.Drain.Enabled && selectsPool)) {
		nps, err := st.NodePools(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: NodePools: %w", review.ErrStateUnavailable, err)
		}
		env.NodePools = nps
	}
	if st != nil && placed {
		nodes, err := st.Nodes(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: Nodes: %w", review.ErrStateUnavailable, err)
		}
		if len(env.NodePools) > 0 || len(nodes) > 0 {
			cl, err := c.places.Cluster(env.NodePools, nodes)
			if err != nil {
				return nil, err
			}
			env.Cluster = cl
		}
	}
	return env, nil
}

// Run applies the mutators to pod until a pass changes nothing.
func (c *Chain) Run(pod *corev1.Pod, env *Env) error {
	var changed []string
	for range MaxPasses {
		changed = changed[:0]
		for _, m := range c.mutators {
			if m.Mutate(pod, env) {
				changed = append(changed, m.Name)
				env.changes++
			}
		}
		if len(changed) == 0 {
			return nil
		}
	}
	return fmt.Errorf("%w: pod %s/%s still changed by %s after %d passes", ErrNotConverging, pod.Namespace, pod.Name, strings.Join(changed, ", "), MaxPasses)
}

// containers returns pointers to the init and app containers, the ones
// whose resources and environment the mutators read and write.
func containers(pod *corev1.Pod) []*corev1.Container {
	out := make([]*corev1.Container, 0, len(pod.Spec.InitContainers)+len(pod.Spec.Containers))
	for i := range pod.Spec.InitContainers {
		out = append(out, &pod.Spec.InitContainers[i])
	}
	for i := range pod.Spec.Containers {
		out = append(out, &pod.Spec.Containers[i])
	}
	return out
}

// hasResource reports whether a container requests or limits a resource
// whose name matches: exactly, or by prefix when the pattern ends in *.
func hasResource(c *corev1.Container, pattern string) bool {
	for _, rl := range []corev1.ResourceList{c.Resources.Requests, c.Resources.Limits} {
		for name := range rl {
			if matchName(string(name), pattern) {
				return true
			}
		}
	}
	return false
}

func matchName(name, pattern string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(name, p)
	}
	return name == pattern
}
