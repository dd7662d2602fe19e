package state

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Informers sets up, in `serve`, the informer caches of the cluster state
// policies and mutators read, each stripped by a transform to what they use.
// kinds() lists them: a new kind of state is one line there (and its
// methods on Reader).
type Informers struct {
	counter GPUCounter
	usage   *GPUUsage
	nodes   *NodeSet
	// denied are the optional kinds Tollgate may not read (optional).
	denied map[string]bool
	// served says, for each kind that comes from a CRD, whether the API
	// server serves it; kinds it does not serve get no informer.
	served map[schema.GroupVersionKind]bool

	mu        sync.Mutex
	informers map[string]cache.Informer
	podEvents toolscache.ResourceEventHandlerRegistration
}

// informed is one kind of state served from an informer.
type informed struct {
	obj       client.Object
	transform toolscache.TransformFunc
	// crd is set for kinds that exist only when a CRD is installed.
	crd *schema.GroupVersionKind
	// optional is set for kinds Tollgate can judge without (Nodes,
	// NodePools, PolicyExceptions): when its ServiceAccount may not list
	// and watch them (a ClusterRole older than the binary, a custom one),
	// they get no informer and read as none, instead of a cache that never
	// syncs and a Tollgate that never becomes ready.
	optional *schema.GroupResource
}

// kinds are the informer-backed kinds of state, in start order.
func (i *Informers) kinds() []informed {
	return []informed{
		{obj: &corev1.Namespace{}, transform: StripNamespace},
		{obj: &corev1.ServiceAccount{}, transform: StripServiceAccount},
		{obj: &corev1.Pod{}, transform: i.counter.StripPod},
		{obj: &corev1.ResourceQuota{}, transform: i.counter.StripResourceQuota},
		{obj: &policyv1.PodDisruptionBudget{}, transform: StripPodDisruptionBudget},
		{obj: &corev1.Node{}, transform: StripNode, optional: &schema.GroupResource{Resource: "nodes"}},
		{obj: NodePoolObject(), transform: StripNodePool, crd: &NodePoolGVK, optional: &schema.GroupResource{Group: NodePoolGVK.Group, Resource: "nodepools"}},
		{obj: PolicyExceptionObject(), transform: StripPolicyException, crd: &PolicyExceptionGVK, optional: &schema.GroupResource{Group: PolicyExceptionGVK.Group, Resource: "policyexceptions"}},
	}
}

// NewInformers asks the API server which of the CRD-backed kinds it
// serves; a cluster that installs Karpenter later needs Tollgate restarted
// to see them.
func NewInformers(ctx context.Context, rc *rest.Config, counter GPUCounter) (*Informers, error) {
	d, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	return newInformers(d, counter, func(gr schema.GroupResource) (bool, error) { return mayListAndWatch(ctx, cs, gr) })
}

// mayListAndWatch asks the API server whether Tollgate may list and watch
// a resource cluster-wide (SelfSubjectAccessReview).
func mayListAndWatch(ctx context.Context, cs kubernetes.Interface, gr schema.GroupResource) (bool, error) {
	for _, verb := range []string{"list", "watch"} {
		r, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Group: gr.Group, Resource: gr.Resource}},
		}, metav1.CreateOptions{})
		if err != nil {
			return false, fmt.Errorf("asking whether Tollgate may %s %s: %w", verb, gr, err)
		}
		if !r.Status.Allowed {
			return false, nil
		}
	}
	return true, nil
}

func newInformers(d discovery.DiscoveryInterface, counter GPUCounter, allowed func(schema.GroupResource) (bool, error)) (*Informers, error) {
	i := &Informers{counter: counter, usage: NewGPUUsage(counter), nodes: &NodeSet{}, served: map[schema.GroupVersionKind]bool{}, denied: map[string]bool{}}
	for _, k := range i.kinds() {
		if k.crd != nil {
			ok, err := hasKind(d, *k.crd)
			if err != nil {
				return nil, err
			}
			i.served[*k.crd] = ok
			if !ok {
				continue
			}
		}
		if k.optional != nil && allowed != nil {
			ok, err := allowed(*k.optional)
			if err != nil {
				return nil, err
			}
			if !ok {
				i.denied[k.optional.String()] = true
			}
		}
	}
	return i, nil
}

// Denied lists the optional kinds Tollgate may not list and watch, which
// therefore read as none ("nodes", "policyexceptions.tollgate.dev").
func (i *Informers) Denied() []string {
	return slices.Sorted(maps.Keys(i.denied))
}

func (i *Informers) isDenied(k informed) bool {
	return k.optional != nil && i.denied[k.optional.String()]
}

// active are the kinds this cluster serves and Tollgate may read.
func (i *Informers) active() []informed {
	return slices.DeleteFunc(i.kinds(), func(k informed) bool { return (k.crd != nil && !i.served[*k.crd]) || i.isDenied(k) })
}

// NodePools reports whether the cluster serves NodePools.
func (i *Informers) NodePools() bool { return i.served[NodePoolGVK] }

// CacheOptions adds the transforms to a cache's options; every object also
// loses its managedFields.
func (i *Informers) CacheOptions(o cache.Options) cache.Options {
	o.ByObject = maps.Clone(o.ByObject)
	if o.ByObject == nil {
		o.ByObject = map[client.Object]cache.ByObject{}
	}
	if o.DefaultTransform == nil {
		o.DefaultTransform = cache.TransformStripManagedFields()
	}
	for _, k := range i.active() {
		o.ByObject[k.obj] = cache.ByObject{Transform: k.transform}
	}
	return o
}

// Start starts an informer for every kind the cluster serves, so that
// readiness waits for them, and feeds pod events to the GPU usage
// aggregator.
func (i *Informers) Start(ctx context.Context, c cache.Cache) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.informers = map[string]cache.Informer{}
	for _, k := range i.active() {
		inf, err := c.GetInformer(ctx, k.obj)
		if err != nil {
			return fmt.Errorf("starting the %s informer: %w", kindOf(k.obj), err)
		}
		i.informers[kindOf(k.obj)] = inf
		if _, ok := k.obj.(*corev1.Node); ok {
			if _, err = inf.AddEventHandler(i.nodes); err != nil {
				return fmt.Errorf("feeding the Node informer to the node set: %w", err)
			}
		}
		if _, ok := k.obj.(*corev1.Pod); ok {
			if i.podEvents, err = inf.AddEventHandler(i.usage); err != nil {
				return fmt.Errorf("feeding the pod informer to the GPU usage aggregator: %w", err)
			}
		}
	}
	return nil
}

// Unsynced lists the kinds whose informer has not finished its initial
// list, for the log line that says why Tollgate is not ready yet.
func (i *Informers) Unsynced() []string {
	i.mu.Lock()
	defer i.mu.Unlock()
	var out []string
	for name, inf := range i.informers {
		if !inf.HasSynced() {
			out = append(out, name)
		}
	}
	if i.podEvents != nil && !i.podEvents.HasSynced() {
		out = append(out, "GPU usage")
	}
	slices.Sort(out)
	return out
}

// Synced is a readiness check: the aggregator has seen every pod of the
// pod informer's initial list.
func (i *Informers) Synced(*http.Request) error {
	if i.podEvents == nil || !i.podEvents.HasSynced() {
		return errors.New("GPU usage has not seen every pod yet")
	}
	return nil
}

// Cached returns the cluster state reader over the cache.
func (i *Informers) Cached(r client.Reader) *Cached {
	c := &Cached{Reader: r, Usage: i.usage, NodeSet: i.nodes,
		NoNodePools:        !i.served[NodePoolGVK] || i.denied["nodepools.karpenter.sh"],
		NoPolicyExceptions: !i.served[PolicyExceptionGVK] || i.denied["policyexceptions.tollgate.dev"]}
	if i.denied["nodes"] {
		c.NodeSet = nil
	}
	return c
}

func kindOf(obj client.Object) string {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return u.GetKind()
	}
	return fmt.Sprintf("%T", obj)
}
