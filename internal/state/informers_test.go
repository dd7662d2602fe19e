package state

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	discoveryfake "k8s.io/client-go/discovery/fake"
	clienttesting "k8s.io/client-go/testing"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func fakeDiscovery(lists ...*metav1.APIResourceList) *discoveryfake.FakeDiscovery {
	return &discoveryfake.FakeDiscovery{Fake: &clienttesting.Fake{Resources: lists}}
}

func TestHasNodePools(t *testing.T) {
	karpenter := &metav1.APIResourceList{GroupVersion: "karpenter.sh/v1", APIResources: []metav1.APIResource{{Name: "nodeclaims", Kind: "NodeClaim"}, {Name: "nodepools", Kind: "NodePool"}}}
	claimsOnly := &metav1.APIResourceList{GroupVersion: "karpenter.sh/v1", APIResources: []metav1.APIResource{{Name: "nodeclaims", Kind: "NodeClaim"}}}
	for _, tc := range []struct {
		name string
		d    *discoveryfake.FakeDiscovery
		want bool
	}{
		{"served", fakeDiscovery(karpenter), true},
		{"group without NodePools", fakeDiscovery(claimsOnly), false},
		{"no karpenter", fakeDiscovery(&metav1.APIResourceList{GroupVersion: "v1"}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := HasNodePools(tc.d)
			if err != nil || got != tc.want {
				t.Errorf("HasNodePools = %v, %v; want %v", got, err, tc.want)
			}
			inf, err := newInformers(tc.d, counter(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			opts := inf.CacheOptions(cache.Options{})
			if n := len(opts.ByObject); n != 6+map[bool]int{true: 1, false: 0}[tc.want] {
				t.Errorf("CacheOptions set %d objects", n)
			}
			for obj, by := range opts.ByObject {
				if by.Transform == nil {
					t.Errorf("%T has no transform", obj)
				}
			}
			if opts.DefaultTransform == nil {
				t.Error("no default transform: managedFields would be cached")
			}
			if c := inf.Cached(nil); c.NoNodePools == tc.want || c.Usage == nil {
				t.Errorf("Cached %+v", c)
			}
		})
	}
}

func TestHasNodePoolsDiscoveryError(t *testing.T) {
	d := fakeDiscovery()
	d.PrependReactor("get", "resource", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, context.DeadlineExceeded
	})
	if _, err := HasNodePools(d); err == nil {
		t.Fatal("a discovery failure must be an error, not 'no NodePools'")
	}
}

func TestSyncedBeforeStart(t *testing.T) {
	inf, err := newInformers(fakeDiscovery(), counter(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if inf.Synced(nil) == nil {
		t.Error("readiness must wait for the pod informer")
	}
}

func TestCachedWithoutNodePoolsDoesNotAsk(t *testing.T) {
	c := &Cached{Reader: failingReader{}, NoNodePools: true}
	pools, err := c.NodePools(context.Background())
	if err != nil || pools != nil {
		t.Errorf("NodePools = %v, %v", pools, err)
	}
}

func TestCachedGPUUsage(t *testing.T) {
	g := counter(t)
	u := NewGPUUsage(g)
	u.OnAdd(gpuPod("a", "x", "2", corev1.PodRunning, nil), true)
	c := &Cached{Reader: failingReader{}, Usage: u}
	got, err := c.GPUUsage(context.Background(), g, "a", "")
	if err != nil || got.GPUs != 2 {
		t.Errorf("GPUUsage = %+v, %v (the aggregator must answer, not the cache)", got, err)
	}
	if _, err := (&Cached{Reader: failingReader{}}).GPUUsage(context.Background(), g, "a", ""); err == nil {
		t.Error("without an aggregator the pods are listed, and the list error returned")
	}
}

// failingReader fails every read.
type failingReader struct{}

func (failingReader) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	return context.Canceled
}

func (failingReader) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return context.Canceled
}

// TestOptionalKindsTollgateMayNotRead: Nodes and PolicyExceptions that
// Tollgate's ServiceAccount may not list and watch get no informer (the
// cache would never sync, and Tollgate never become ready) and read as
// none; the kinds it needs get their informers whatever the answer.
func TestOptionalKindsTollgateMayNotRead(t *testing.T) {
	asked := map[string]bool{}
	inf, err := newInformers(fakeDiscovery(), counter(t), func(gr schema.GroupResource) (bool, error) {
		asked[gr.String()] = true
		return gr.Resource != "nodes", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := inf.Denied(); len(got) != 1 || got[0] != "nodes" {
		t.Errorf("denied %v, want [nodes]", got)
	}
	if asked["pods"] || asked["namespaces"] || !asked["nodes"] {
		t.Errorf("asked about %v: only the optional kinds are asked about", asked)
	}
	for _, k := range inf.active() {
		if _, ok := k.obj.(*corev1.Node); ok {
			t.Error("the Node informer is started though Tollgate may not read Nodes")
		}
	}
	c := inf.Cached(failingReader{})
	if nodes, err := c.Nodes(context.Background()); err != nil || nodes != nil {
		t.Errorf("Nodes = %v, %v; want none, without asking the cache", nodes, err)
	}
}
