package review

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"

	"github.com/tollgate-dev/tollgate/internal/state"
)

// snapshot is one request's view of the cluster state: each answer of the
// underlying reader is read once and reused by every later step (the
// mutators, each gatherer, the validation of the submitted pod when a
// mutation is checked for a denial), so that a review reads the namespace,
// a ServiceAccount or the NodePools once, and all its steps see the same
// state. Errors are not kept: a step that retries reads again.
type snapshot struct {
	state.Reader

	mu   sync.Mutex
	memo map[snapshotKey]any
	// The review's own namespace, read by every review, is kept outside
	// memo so that a review that reads nothing else allocates nothing.
	nsName string
	ns     *corev1.Namespace
	nsRead bool
}

type snapshotKey struct {
	kind, namespace, name string
}

var _ state.Reader = (*snapshot)(nil)

// once returns the kept answer for k, or reads it.
func once[T any](s *snapshot, k snapshotKey, read func() (T, error)) (T, error) {
	s.mu.Lock()
	if v, ok := s.memo[k]; ok {
		s.mu.Unlock()
		return v.(T), nil
	}
	s.mu.Unlock()
	v, err := read()
	if err != nil {
		return v, err
	}
	s.mu.Lock()
	if s.memo == nil {
		s.memo = map[snapshotKey]any{}
	}
	s.memo[k] = v
	s.mu.Unlock()
	return v, nil
}

func (s *snapshot) Namespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	s.mu.Lock()
	if s.nsRead && s.nsName == name {
		defer s.mu.Unlock()
		return s.ns, nil
	}
	first := !s.nsRead
	s.mu.Unlock()
	if !first {
		return once(s, snapshotKey{"Namespace", "", name}, func() (*corev1.Namespace, error) { return s.Reader.Namespace(ctx, name) })
	}
	ns, err := s.Reader.Namespace(ctx, name)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.nsName, s.ns, s.nsRead = name, ns, true
	s.mu.Unlock()
	return ns, nil
}

func (s *snapshot) ServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
	return once(s, snapshotKey{"ServiceAccount", namespace, name}, func() (*corev1.ServiceAccount, error) {
		return s.Reader.ServiceAccount(ctx, namespace, name)
	})
}

func (s *snapshot) ResourceQuotas(ctx context.Context, namespace string) ([]*corev1.ResourceQuota, error) {
	return once(s, snapshotKey{"ResourceQuota", namespace, ""}, func() ([]*corev1.ResourceQuota, error) {
		return s.Reader.ResourceQuotas(ctx, namespace)
	})
}

func (s *snapshot) PodDisruptionBudgets(ctx context.Context, namespace string) ([]*policyv1.PodDisruptionBudget, error) {
	return once(s, snapshotKey{"PodDisruptionBudget", namespace, ""}, func() ([]*policyv1.PodDisruptionBudget, error) {
		return s.Reader.PodDisruptionBudgets(ctx, namespace)
	})
}

func (s *snapshot) Pods(ctx context.Context, namespace string) ([]*corev1.Pod, error) {
	return once(s, snapshotKey{"Pod", namespace, ""}, func() ([]*corev1.Pod, error) { return s.Reader.Pods(ctx, namespace) })
}

func (s *snapshot) NodePools(ctx context.Context) ([]map[string]any, error) {
	return once(s, snapshotKey{"NodePool", "", ""}, func() ([]map[string]any, error) { return s.Reader.NodePools(ctx) })
}

func (s *snapshot) Nodes(ctx context.Context) ([]*corev1.Node, error) {
	return once(s, snapshotKey{"Node", "", ""}, func() ([]*corev1.Node, error) { return s.Reader.Nodes(ctx) })
}

func (s *snapshot) PolicyExceptions(ctx context.Context) ([]map[string]any, error) {
	return once(s, snapshotKey{"PolicyException", "", ""}, func() ([]map[string]any, error) { return s.Reader.PolicyExceptions(ctx) })
}

// GPUUsage is not kept: its answer depends on the counter, and the
// aggregator behind it answers from an index without listing.
