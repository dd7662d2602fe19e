package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/tollgate-dev/tollgate/internal/state"
)

// APIState is the cluster state of a command-line audit, read from the API
// server in chunks. Namespaces, ServiceAccounts, ResourceQuotas,
// PodDisruptionBudgets and NodePools are listed once (cluster-wide, or per
// audited namespace) and kept stripped to what policies read, as serve's
// informers keep them. Pods are not kept: GPU use per namespace is summed
// in one streaming pass over the pods, on first need. It is safe for
// concurrent use.
type APIState struct {
	cs kubernetes.Interface
	// rest lists NodePools; nil when the cluster serves none.
	rest      rest.Interface
	nodePools *Kind
	// exceptions lists PolicyExceptions; nil when the cluster serves none.
	exceptions *Kind
	// namespaces limits the lists; empty lists cluster-wide.
	namespaces []string
	chunk      int64

	mu    sync.Mutex
	cache map[string]*lazy // "namespaces", "serviceaccounts/<ns>", ...
}

var _ state.Reader = (*APIState)(nil)

// lazy is a value loaded once; concurrent readers wait for the first load.
type lazy struct {
	once sync.Once
	val  any
	err  error
}

// NewAPIState returns the state reader of an audit. kinds are the kinds
// the audit lists (DiscoverKinds), from which it learns whether the
// cluster serves NodePools; namespaces limits it as the audit is limited.
func NewAPIState(cs kubernetes.Interface, rc rest.Interface, kinds []Kind, namespaces []string, chunkSize int64) *APIState {
	s := &APIState{cs: cs, rest: rc, namespaces: namespaces, chunk: chunkSize, cache: map[string]*lazy{}}
	if s.chunk <= 0 {
		s.chunk = defaultChunkSize
	}
	for i := range kinds {
		switch kinds[i].Kind {
		case "NodePool":
			s.nodePools = &kinds[i]
		case "PolicyException":
			s.exceptions = &kinds[i]
		}
	}
	return s
}

// load returns the value under key, loading it once with f.
func (s *APIState) load(key string, f func() (any, error)) (any, error) {
	s.mu.Lock()
	l, ok := s.cache[key]
	if !ok {
		l = &lazy{}
		s.cache[key] = l
	}
	s.mu.Unlock()
	l.once.Do(func() { l.val, l.err = f() })
	return l.val, l.err
}

// scope is the namespace a list of namespaced state is made in: "" (every
// namespace) when the audit covers the whole cluster.
func (s *APIState) scope(ns string) string {
	if len(s.namespaces) == 0 {
		return ""
	}
	return ns
}

// pages calls list with successive continue tokens until the list ends.
func pages(ctx context.Context, chunk int64, list func(metav1.ListOptions) (metav1.ListInterface, error)) error {
	opts := metav1.ListOptions{Limit: chunk}
	for {
		l, err := list(opts)
		if err != nil {
			return err
		}
		if opts.Continue = l.GetContinue(); opts.Continue == "" {
			return ctx.Err()
		}
	}
}

// Namespace implements state.Reader.
func (s *APIState) Namespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	key := "namespaces"
	if len(s.namespaces) > 0 {
		key += "/" + name
	}
	v, err := s.load(key, func() (any, error) {
		out := map[string]*corev1.Namespace{}
		add := func(ns *corev1.Namespace) {
			stripped, _ := state.StripNamespace(ns)
			out[ns.Name] = stripped.(*corev1.Namespace)
		}
		if len(s.namespaces) > 0 {
			ns, err := s.cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return out, nil
			}
			if err != nil {
				return nil, err
			}
			add(ns)
			return out, nil
		}
		err := pages(ctx, s.chunk, func(o metav1.ListOptions) (metav1.ListInterface, error) {
			l, err := s.cs.CoreV1().Namespaces().List(ctx, o)
			if err != nil {
				return nil, err
			}
			for i := range l.Items {
				add(&l.Items[i])
			}
			return l, nil
		})
		return out, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	return v.(map[string]*corev1.Namespace)[name], nil
}

// ServiceAccount implements state.Reader.
func (s *APIState) ServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
	scope := s.scope(namespace)
	v, err := s.load("serviceaccounts/"+scope, func() (any, error) {
		out := map[[2]string]*corev1.ServiceAccount{}
		err := pages(ctx, s.chunk, func(o metav1.ListOptions) (metav1.ListInterface, error) {
			l, err := s.cs.CoreV1().ServiceAccounts(scope).List(ctx, o)
			if err != nil {
				return nil, err
			}
			for i := range l.Items {
				sa, _ := state.StripServiceAccount(&l.Items[i])
				out[[2]string{l.Items[i].Namespace, l.Items[i].Name}] = sa.(*corev1.ServiceAccount)
			}
			return l, nil
		})
		return out, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing ServiceAccounts: %w", err)
	}
	return v.(map[[2]string]*corev1.ServiceAccount)[[2]string{namespace, name}], nil
}

// ResourceQuotas implements state.Reader.
func (s *APIState) ResourceQuotas(ctx context.Context, namespace string) ([]*corev1.ResourceQuota, error) {
	scope := s.scope(namespace)
	v, err := s.load("resourcequotas/"+scope, func() (any, error) {
		out := map[string][]*corev1.ResourceQuota{}
		err := pages(ctx, s.chunk, func(o metav1.ListOptions) (metav1.ListInterface, error) {
			l, err := s.cs.CoreV1().ResourceQuotas(scope).List(ctx, o)
			if err != nil {
				return nil, err
			}
			for i := range l.Items {
				q := l.Items[i]
				q.ManagedFields = nil
				out[q.Namespace] = append(out[q.Namespace], &q)
			}
			return l, nil
		})
		return out, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing ResourceQuotas: %w", err)
	}
	return v.(map[string][]*corev1.ResourceQuota)[namespace], nil
}

// PodDisruptionBudgets implements state.Reader.
func (s *APIState) PodDisruptionBudgets(ctx context.Context, namespace string) ([]*policyv1.PodDisruptionBudget, error) {
	scope := s.scope(namespace)
	v, err := s.load("poddisruptionbudgets/"+scope, func() (any, error) {
		out := map[string][]*policyv1.PodDisruptionBudget{}
		err := pages(ctx, s.chunk, func(o metav1.ListOptions) (metav1.ListInterface, error) {
			l, err := s.cs.PolicyV1().PodDisruptionBudgets(scope).List(ctx, o)
			if err != nil {
				return nil, err
			}
			for i := range l.Items {
				p, _ := state.StripPodDisruptionBudget(&l.Items[i])
				pdb := p.(*policyv1.PodDisruptionBudget)
				out[pdb.Namespace] = append(out[pdb.Namespace], pdb)
			}
			return l, nil
		})
		return out, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing PodDisruptionBudgets: %w", err)
	}
	return v.(map[string][]*policyv1.PodDisruptionBudget)[namespace], nil
}

// Pods implements state.Reader: the namespace's non-terminal pods, listed
// in chunks and not kept.
func (s *APIState) Pods(ctx context.Context, namespace string) ([]*corev1.Pod, error) {
	var out []*corev1.Pod
	err := pages(ctx, s.chunk, func(o metav1.ListOptions) (metav1.ListInterface, error) {
		l, err := s.cs.CoreV1().Pods(namespace).List(ctx, o)
		if err != nil {
			return nil, err
		}
		for i := range l.Items {
			if p := &l.Items[i]; p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
				out = append(out, p)
			}
		}
		return l, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing pods in %s: %w", namespace, err)
	}
	return out, nil
}

// GPUUsage implements state.Reader. The first call streams every audited
// namespace's pods, chunk by chunk, into an aggregator that keeps only
// the pods that request GPUs (state.GPUUsage); later calls read it.
func (s *APIState) GPUUsage(ctx context.Context, counter state.GPUCounter, namespace, exclude string) (state.Usage, error) {
	v, err := s.load("gpuusage", func() (any, error) {
		agg := state.NewGPUUsage(counter)
		scopes := s.namespaces
		if len(scopes) == 0 {
			scopes = []string{""}
		}
		for _, ns := range scopes {
			err := pages(ctx, s.chunk, func(o metav1.ListOptions) (metav1.ListInterface, error) {
				l, err := s.cs.CoreV1().Pods(ns).List(ctx, o)
				if err != nil {
					return nil, err
				}
				for i := range l.Items {
					stripped, _ := counter.StripPod(&l.Items[i])
					agg.OnAdd(stripped, true)
				}
				return l, nil
			})
			if err != nil {
				return nil, err
			}
		}
		return agg, nil
	})
	if err != nil {
		return state.Usage{}, fmt.Errorf("summing GPU use: %w", err)
	}
	return v.(*state.GPUUsage).Usage(namespace, exclude), nil
}

// Nodes implements state.Reader: every Node, listed in chunks once per
// audit and stripped to what placement reads.
func (s *APIState) Nodes(ctx context.Context) ([]*corev1.Node, error) {
	v, err := s.load("nodes", func() (any, error) {
		var out []*corev1.Node
		err := pages(ctx, s.chunk, func(o metav1.ListOptions) (metav1.ListInterface, error) {
			l, err := s.cs.CoreV1().Nodes().List(ctx, o)
			if err != nil {
				return nil, err
			}
			for i := range l.Items {
				n, _ := state.StripNode(&l.Items[i])
				out = append(out, n.(*corev1.Node))
			}
			return l, nil
		})
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return out, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing Nodes: %w", err)
	}
	return v.([]*corev1.Node), nil
}

// NodePools implements state.Reader.
func (s *APIState) NodePools(ctx context.Context) ([]map[string]any, error) {
	v, err := s.listGeneric(ctx, s.nodePools, "nodepools", state.StripNodePool)
	if err != nil {
		return nil, fmt.Errorf("listing NodePools: %w", err)
	}
	return v, nil
}

// PolicyExceptions implements state.Reader: every namespace's, since the
// exceptions of cluster-scoped objects live in Tollgate's namespace.
func (s *APIState) PolicyExceptions(ctx context.Context) ([]map[string]any, error) {
	v, err := s.listGeneric(ctx, s.exceptions, "policyexceptions", state.StripPolicyException)
	if err != nil {
		return nil, fmt.Errorf("listing PolicyExceptions: %w", err)
	}
	return v, nil
}

// listGeneric lists a CRD-backed kind cluster-wide in chunks, once,
// stripped, sorted by name.
func (s *APIState) listGeneric(ctx context.Context, k *Kind, key string, strip func(any) (any, error)) ([]map[string]any, error) {
	if k == nil || s.rest == nil {
		return nil, nil
	}
	v, err := s.load(key, func() (any, error) {
		var out []map[string]any
		cont := ""
		for {
			req := s.rest.Get().AbsPath("/apis", k.Group, k.Version, k.Resource).Param("limit", fmt.Sprint(s.chunk))
			if cont != "" {
				req = req.Param("continue", cont)
			}
			b, err := req.DoRaw(ctx)
			if err != nil {
				return nil, err
			}
			var l unstructured.UnstructuredList
			if err := json.Unmarshal(b, &l.Object); err != nil {
				return nil, err
			}
			items, _ := l.Object["items"].([]any)
			for _, it := range items {
				m, _ := it.(map[string]any)
				stripped, _ := strip(&unstructured.Unstructured{Object: m})
				out = append(out, stripped.(*unstructured.Unstructured).Object)
			}
			md, _ := l.Object["metadata"].(map[string]any)
			if cont, _ = md["continue"].(string); cont == "" {
				break
			}
		}
		sort.Slice(out, func(i, j int) bool { return nodePoolName(out[i]) < nodePoolName(out[j]) })
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return slices.Clone(v.([]map[string]any)), nil
}

func nodePoolName(m map[string]any) string {
	md, _ := m["metadata"].(map[string]any)
	n, _ := md["name"].(string)
	return n
}
