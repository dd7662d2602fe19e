package state

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Informers sets up, in `serve`, the informer caches of the state the
// quota, spot and nodepool policies read: Pods (feeding a GPU usage
// aggregator), ResourceQuotas and PodDisruptionBudgets, each stripped by a
// transform, and NodePools when the cluster serves Karpenter's CRD.
type Informers struct {
	counter   GPUCounter
	usage     *GPUUsage
	nodePools bool
	podEvents toolscache.ResourceEventHandlerRegistration
}

// NewInformers asks the API server whether it serves NodePools; a cluster
// that installs Karpenter later needs Tollgate restarted to see them.
func NewInformers(rc *rest.Config, counter GPUCounter) (*Informers, error) {
	d, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	return newInformers(d, counter)
}

func newInformers(d discovery.DiscoveryInterface, counter GPUCounter) (*Informers, error) {
	np, err := HasNodePools(d)
	if err != nil {
		return nil, err
	}
	return &Informers{counter: counter, usage: NewGPUUsage(counter), nodePools: np}, nil
}

// NodePools reports whether the cluster serves NodePools.
func (i *Informers) NodePools() bool { return i.nodePools }

// CacheOptions adds the transforms to a cache's options.
func (i *Informers) CacheOptions(o cache.Options) cache.Options {
	o.ByObject = maps.Clone(o.ByObject)
	if o.ByObject == nil {
		o.ByObject = map[client.Object]cache.ByObject{}
	}
	o.ByObject[&corev1.Pod{}] = cache.ByObject{Transform: i.counter.StripPod}
	o.ByObject[&corev1.ResourceQuota{}] = cache.ByObject{Transform: i.counter.StripResourceQuota}
	o.ByObject[&policyv1.PodDisruptionBudget{}] = cache.ByObject{Transform: StripPodDisruptionBudget}
	if i.nodePools {
		o.ByObject[NodePoolObject()] = cache.ByObject{Transform: StripNodePool}
	}
	return o
}

// Start starts the informers and feeds the pod informer's events to the
// GPU usage aggregator.
func (i *Informers) Start(ctx context.Context, c cache.Cache) error {
	objs := []client.Object{&corev1.Pod{}, &corev1.ResourceQuota{}, &policyv1.PodDisruptionBudget{}}
	if i.nodePools {
		objs = append(objs, NodePoolObject())
	}
	for _, obj := range objs {
		inf, err := c.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("starting the %s informer: %w", kindOf(obj), err)
		}
		if _, ok := obj.(*corev1.Pod); ok {
			if i.podEvents, err = inf.AddEventHandler(i.usage); err != nil {
				return fmt.Errorf("feeding the pod informer to the GPU usage aggregator: %w", err)
			}
		}
	}
	return nil
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
	return &Cached{Reader: r, Usage: i.usage, NoNodePools: !i.nodePools}
}

func kindOf(obj client.Object) string {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return u.GetKind()
	}
	return fmt.Sprintf("%T", obj)
}
