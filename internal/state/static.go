package state

import (
	"context"
	"sort"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"

	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
)

// Static is cluster state built from objects given as input.
type Static struct {
	namespaces      map[string]*corev1.Namespace
	serviceAccounts map[[2]string]*corev1.ServiceAccount
	quotas          map[string][]*corev1.ResourceQuota
	pdbs            map[string][]*policyv1.PodDisruptionBudget
	pods            map[string][]*corev1.Pod
	nodePools       []map[string]any
	nodes           []*corev1.Node
	exceptions      []map[string]any
}

var _ Reader = (*Static)(nil)

// NewStatic returns empty state.
func NewStatic() *Static {
	return &Static{
		namespaces:      map[string]*corev1.Namespace{},
		serviceAccounts: map[[2]string]*corev1.ServiceAccount{},
		quotas:          map[string][]*corev1.ResourceQuota{},
		pdbs:            map[string][]*policyv1.PodDisruptionBudget{},
		pods:            map[string][]*corev1.Pod{},
	}
}

// IsState reports whether an object given with -f is cluster state.
func IsState(o *kubeobjects.Object) bool {
	for _, gk := range kubeobjects.StateKinds {
		if o.GroupKind() == gk {
			return true
		}
	}
	return false
}

// Add records an object; kinds that are not state are ignored, except Pods,
// which count as running workload. Objects without a namespace are placed
// in "default", as kubectl would.
func (s *Static) Add(o *kubeobjects.Object) {
	ns := o.Namespace
	if ns == "" {
		ns = "default"
	}
	switch t := o.Typed.(type) {
	case *corev1.Namespace:
		s.namespaces[t.Name] = t
	case *corev1.ServiceAccount:
		s.serviceAccounts[[2]string{ns, t.Name}] = t
	case *corev1.ResourceQuota:
		s.quotas[ns] = append(s.quotas[ns], t)
	case *policyv1.PodDisruptionBudget:
		s.pdbs[ns] = append(s.pdbs[ns], t)
	case *corev1.Node:
		n, _ := StripNode(t)
		s.nodes = append(s.nodes, n.(*corev1.Node))
		sort.SliceStable(s.nodes, func(i, j int) bool { return s.nodes[i].Name < s.nodes[j].Name })
	case *corev1.Pod:
		if t.Status.Phase != corev1.PodSucceeded && t.Status.Phase != corev1.PodFailed {
			s.pods[ns] = append(s.pods[ns], t)
		}
	}
	if o.GroupKind() == kubeobjects.PolicyException && o.Map != nil {
		if md, ok := o.Map["metadata"].(map[string]any); ok && md["namespace"] == nil {
			md["namespace"] = ns
		}
		s.exceptions = append(s.exceptions, o.Map)
	}
	if o.GroupKind() == kubeobjects.NodePool && o.Map != nil {
		s.nodePools = append(s.nodePools, o.Map)
		sort.SliceStable(s.nodePools, func(i, j int) bool { return name(s.nodePools[i]) < name(s.nodePools[j]) })
	}
}

func name(m map[string]any) string {
	md, _ := m["metadata"].(map[string]any)
	n, _ := md["name"].(string)
	return n
}

func (s *Static) Namespace(_ context.Context, name string) (*corev1.Namespace, error) {
	return s.namespaces[name], nil
}

func (s *Static) ServiceAccount(_ context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
	return s.serviceAccounts[[2]string{namespace, name}], nil
}

func (s *Static) ResourceQuotas(_ context.Context, namespace string) ([]*corev1.ResourceQuota, error) {
	return s.quotas[namespace], nil
}

func (s *Static) PodDisruptionBudgets(_ context.Context, namespace string) ([]*policyv1.PodDisruptionBudget, error) {
	return s.pdbs[namespace], nil
}

func (s *Static) Pods(_ context.Context, namespace string) ([]*corev1.Pod, error) {
	return s.pods[namespace], nil
}

func (s *Static) GPUUsage(_ context.Context, counter GPUCounter, namespace, exclude string) (Usage, error) {
	return UsageOf(s.pods[namespace], counter, exclude), nil
}

func (s *Static) NodePools(context.Context) ([]map[string]any, error) {
	return s.nodePools, nil
}

func (s *Static) Nodes(context.Context) ([]*corev1.Node, error) {
	return s.nodes, nil
}

func (s *Static) PolicyExceptions(context.Context) ([]map[string]any, error) {
	return s.exceptions, nil
}
