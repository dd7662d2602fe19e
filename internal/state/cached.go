package state

import (
	"context"
	"sort"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// NodePoolGVK is the Karpenter NodePool kind Tollgate reads.
var NodePoolGVK = schema.GroupVersionKind{Group: "karpenter.sh", Version: "v1", Kind: "NodePool"}

// PolicyExceptionGVK is Tollgate's own exception kind (internal/exception).
var PolicyExceptionGVK = schema.GroupVersionKind{Group: "tollgate.dev", Version: "v1alpha1", Kind: "PolicyException"}

// Cached answers from a controller-runtime cache (informers) in `serve`.
type Cached struct {
	Reader client.Reader
	// Usage, when set, answers GPU use from an aggregator fed by the pod
	// informer instead of listing a namespace's pods on every admission.
	Usage *GPUUsage
	// NoNodePools is set when the cluster serves no NodePool CRD: there is
	// no informer to ask, and asking the cache would query discovery on
	// every admission.
	NoNodePools bool
	// NodeSet answers Nodes; nil (Tollgate may not read Nodes) means none.
	NodeSet *NodeSet
	// NoPolicyExceptions is set when the cluster serves no PolicyException
	// CRD (the chart installs it; a bare `serve` may run without).
	NoPolicyExceptions bool
}

var _ Reader = (*Cached)(nil)

// GPUUsage answers from the aggregator (whose counter serve builds from the
// same configuration), or counts the cached pods without one.
func (c *Cached) GPUUsage(ctx context.Context, counter GPUCounter, namespace, exclude string) (Usage, error) {
	if c.Usage != nil {
		return c.Usage.Usage(namespace, exclude), nil
	}
	pods, err := c.Pods(ctx, namespace)
	if err != nil {
		return Usage{}, err
	}
	return UsageOf(pods, counter, exclude), nil
}

func (c *Cached) Namespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	var ns corev1.Namespace
	if err := c.Reader.Get(ctx, client.ObjectKey{Name: name}, &ns); err != nil {
		return nil, ignoreNotFound(err)
	}
	return &ns, nil
}

func (c *Cached) ServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
	var sa corev1.ServiceAccount
	if err := c.Reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &sa); err != nil {
		return nil, ignoreNotFound(err)
	}
	return &sa, nil
}

func (c *Cached) ResourceQuotas(ctx context.Context, namespace string) ([]*corev1.ResourceQuota, error) {
	var l corev1.ResourceQuotaList
	if err := c.Reader.List(ctx, &l, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	out := make([]*corev1.ResourceQuota, len(l.Items))
	for i := range l.Items {
		out[i] = &l.Items[i]
	}
	return out, nil
}

func (c *Cached) PodDisruptionBudgets(ctx context.Context, namespace string) ([]*policyv1.PodDisruptionBudget, error) {
	var l policyv1.PodDisruptionBudgetList
	if err := c.Reader.List(ctx, &l, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	out := make([]*policyv1.PodDisruptionBudget, len(l.Items))
	for i := range l.Items {
		out[i] = &l.Items[i]
	}
	return out, nil
}

func (c *Cached) Pods(ctx context.Context, namespace string) ([]*corev1.Pod, error) {
	var l corev1.PodList
	if err := c.Reader.List(ctx, &l, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	var out []*corev1.Pod
	for i := range l.Items {
		if p := &l.Items[i]; p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			out = append(out, p)
		}
	}
	return out, nil
}

// NodePools lists NodePools; a cluster without Karpenter's CRD has none.
func (c *Cached) NodePools(ctx context.Context) ([]map[string]any, error) {
	if c.NoNodePools {
		return nil, nil
	}
	out, err := c.listCRD(ctx, NodePoolGVK)
	// The cache lists in no particular order; policies see NodePools by name.
	sort.Slice(out, func(i, j int) bool { return name(out[i]) < name(out[j]) })
	return out, err
}

// listCRD lists the cached objects of a CRD-backed kind as generic maps,
// read-only (they are converted or parsed, never changed); a kind the API
// server does not know lists as none.
func (c *Cached) listCRD(ctx context.Context, gvk schema.GroupVersionKind) ([]map[string]any, error) {
	var l unstructured.UnstructuredList
	l.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := c.Reader.List(ctx, &l, client.UnsafeDisableDeepCopy); err != nil {
		if meta.IsNoMatchError(err) {
			return nil, nil
		}
		return nil, err
	}
	out := make([]map[string]any, len(l.Items))
	for i := range l.Items {
		out[i] = l.Items[i].Object
	}
	return out, nil
}

// Nodes lists the Nodes by name from the node set the Node informer
// feeds: the same slice until a Node changes, so that placement is
// rebuilt only then. Without a node set (Tollgate may not read Nodes)
// there are none.
func (c *Cached) Nodes(context.Context) ([]*corev1.Node, error) {
	if c.NodeSet == nil {
		return nil, nil
	}
	return c.NodeSet.List(), nil
}

// PolicyExceptions lists the PolicyExceptions of every namespace; a
// cluster without Tollgate's CRD has none.
func (c *Cached) PolicyExceptions(ctx context.Context) ([]map[string]any, error) {
	if c.NoPolicyExceptions {
		return nil, nil
	}
	return c.listCRD(ctx, PolicyExceptionGVK)
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
