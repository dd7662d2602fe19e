package state

import (
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// NodePoolObject returns an empty NodePool of the kind Tollgate reads, to
// name it to a controller-runtime cache (informers, transforms).
func NodePoolObject() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(NodePoolGVK)
	return u
}

// PolicyExceptionObject returns an empty PolicyException, to name the kind
// to a controller-runtime cache.
func PolicyExceptionObject() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(PolicyExceptionGVK)
	return u
}

// HasNodePools reports whether the API server serves karpenter.sh/v1
// NodePools. Without Karpenter's CRD there is nothing to cache, and a cache
// asked for the kind would fail to start.
func HasNodePools(d discovery.DiscoveryInterface) (bool, error) { return hasKind(d, NodePoolGVK) }

// hasKind reports whether the API server serves a kind.
func hasKind(d discovery.DiscoveryInterface, gvk schema.GroupVersionKind) (bool, error) {
	rs, err := d.ServerResourcesForGroupVersion(gvk.GroupVersion().String())
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("discovering %s: %w", gvk.GroupVersion(), err)
	}
	for _, r := range rs.APIResources {
		if r.Kind == gvk.Kind {
			return true, nil
		}
	}
	return false, nil
}
