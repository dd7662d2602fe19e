package placement

import (
	"reflect"
	"sync"

	corev1 "k8s.io/api/core/v1"
)

// Source keeps the Cluster built from the last NodePools and Nodes it was
// given and rebuilds it only when they change. State readers hand out the
// same objects until one changes (informers replace an object on update;
// state.NodeSet keeps its list until a Node changes what placement reads),
// so identity is the test. It is safe for concurrent use.
type Source struct {
	opts Options

	mu      sync.Mutex
	pools   []map[string]any
	nodes   []*corev1.Node
	cluster *Cluster
}

// NewSource returns a Source building Clusters with opts.
func NewSource(opts Options) *Source { return &Source{opts: opts} }

// Cluster returns the Cluster of pools and nodes.
func (s *Source) Cluster(pools []map[string]any, nodes []*corev1.Node) (*Cluster, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cluster != nil && SamePools(s.pools, pools) && sameNodes(s.nodes, nodes) {
		return s.cluster, nil
	}
	c, err := NewCluster(pools, nodes, s.opts)
	if err != nil {
		return nil, err
	}
	s.pools, s.nodes, s.cluster = pools, nodes, c
	return c, nil
}

// SamePools reports whether a and b hold the same NodePool maps, in order.
func SamePools(a, b []map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if reflect.ValueOf(a[i]).UnsafePointer() != reflect.ValueOf(b[i]).UnsafePointer() {
			return false
		}
	}
	return true
}

func sameNodes(a, b []*corev1.Node) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
